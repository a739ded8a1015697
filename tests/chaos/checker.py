"""The chaos checker: from what producers were told (acknowledgements),
what consumers saw, and what every replica holds after healing, it counts,
Jepsen-style:

  lost        acknowledged records not at their acknowledged offset;
  divergent   offsets that hold different values on different reads
              (an acknowledged offset now holding another value counts as
              lost too);
  duplicated  values stored at more than one offset (the idempotent
              producer must have none; a plain one retries, so it may);
  reordered   a producer's values out of their send order within a
              partition (idempotent producers only);
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


def check(acked, stored, consumed=(), replicas=None, ordered=True):
    """acked: [(partition, offset, value)] as acknowledged, in ack order per
    producer; stored: {(partition, offset): value} read back after healing;
    consumed: [(partition, offset, value)] in delivery order; replicas:
    {partition: {node: [(base_offset, epoch, crc)]}} up to the high
    watermark, or None. Returns a dict of counts and the first examples."""
    lost = [a for a in acked if stored.get((a[0], a[1])) != a[2]]
    by_value = {}
    for (p, o), v in stored.items():
        by_value.setdefault(v, []).append((p, o))
    acked_values = {a[2] for a in acked}
    duplicated = sum(len(places) - 1 for v, places in by_value.items() if v in acked_values)
    reordered = 0
    if ordered:
        for p in sorted({p for p, _ in stored}):
            seqs = [value_seq(v) for (pp, o), v in sorted(stored.items())
                    if pp == p and v in acked_values]
            reordered += sum(1 for a, b in zip(seqs, seqs[1:]) if b <= a)
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
            "reordered": reordered, "divergent": divergent, "skipped": skipped,
            "unconsumed": len(unconsumed), "replica_faults": replica_faults,
            "first_lost": lost[:3]}
