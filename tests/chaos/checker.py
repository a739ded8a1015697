"""The chaos checker: from what producers were told (acknowledgements),
what consumers saw, and what every replica holds after healing, it counts,
Jepsen-style:

  lost        acknowledged records not at their acknowledged offset;
  divergent   offsets that hold different values on different reads
              (an acknowledged offset now holding another value counts as
              lost too);
  duplicated  values stored at more than one offset (the idempotent
              producer must have none; a plain one retries, so it may);
              given the producer epoch of every stored record, copies
              under different epochs are counted apart, as `rebumped`:
              librdkafka bumps its epoch by itself after a sequence error
              and sends again what it was never told was written (a batch
              answered NOT_ENOUGH_REPLICAS_AFTER_APPEND, say), which no
              broker can recognise; copies under one epoch stay
              duplicates, which a broker must never let through;
  reordered   a producer's values out of their send order within a
              partition and a producer epoch (idempotent producers only);
  skipped     offsets below the high watermark that the consumer group
              never delivered although it consumed past them;
  unconsumed  acknowledged records the group never delivered;
  replicas    partitions whose replicas differ below the high watermark
              (compared batch by batch: base offset, epoch, CRC).

Pure: it takes histories and returns counts, so that its own test can feed
it planted faults (test_checker.py)."""


def value_seq(value):
    """'v-123' -> 123 (the producers number their values)."""
    return int(value.rsplit("-", 1)[1])


def check(acked, stored, consumed=(), replicas=None, ordered=True, producer_epochs=None):
    """acked: [(partition, offset, value)] as acknowledged, in ack order per
    producer; stored: {(partition, offset): value} read back after healing;
    consumed: [(partition, offset, value)] in delivery order; replicas:
    {partition: {node: [(base_offset, epoch, crc)]}} up to the high
    watermark, or None; producer_epochs: {(partition, offset): the
    producer epoch of its batch}, or None (all one epoch). Returns a dict
    of counts and the first examples."""
    epoch_of = (lambda place: producer_epochs.get(place, -1)) if producer_epochs else (
        lambda place: -1)
    lost = [a for a in acked if stored.get((a[0], a[1])) != a[2]]
    by_value = {}
    for (p, o), v in stored.items():
        by_value.setdefault(v, []).append((p, o))
    acked_values = {a[2] for a in acked}
    duplicated = rebumped = 0
    for v, places in by_value.items():
        if v in acked_values:
            epochs = len({epoch_of(place) for place in places})
            duplicated += len(places) - epochs
            rebumped += epochs - 1
    reordered = 0
    if ordered:
        for p in sorted({p for p, _ in stored}):
            seqs = [(epoch_of((pp, o)), value_seq(v)) for (pp, o), v in sorted(stored.items())
                    if pp == p and v in acked_values]
            reordered += sum(1 for a, b in zip(seqs, seqs[1:]) if a[0] == b[0] and b[1] <= a[1])
    divergent = 0
    seen = {}
    for p, o, v in consumed:
        if seen.setdefault((p, o), v) != v or stored.get((p, o), v) != v:
            divergent += 1
    delivered = {(p, o) for p, o, _ in consumed}
    skipped = 0
    for p in sorted({p for p, _, _ in consumed}):
        top = max(o for pp, o in delivered if pp == p)
        skipped += sum(1 for (pp, o) in stored if pp == p and o < top
                       and (pp, o) not in delivered)
    unconsumed = [a for a in acked if (a[0], a[1]) not in delivered] if consumed else []
    replica_faults = []
    for p, nodes in sorted((replicas or {}).items()):
        seqs = list(nodes.values())
        if any(s != seqs[0] for s in seqs[1:]):
            replica_faults.append(p)
    return {"acked": len(acked), "lost": len(lost), "duplicated": duplicated,
            "rebumped": rebumped,
            "reordered": reordered, "divergent": divergent, "skipped": skipped,
            "unconsumed": len(unconsumed), "replica_faults": replica_faults,
            "first_lost": lost[:3]}
