#!/usr/bin/env bash
# Apache Kafka's kafka-metadata-quorum tool (MetadataQuorumCommand) against
# Rill: describe --status and --replication must show the quorum.
# usage: check.sh CLASSPATH BOOTSTRAP TOPIC GROUP
set -uo pipefail
cp=$1 bootstrap=$2
tool() { java -cp "$cp" org.apache.kafka.tools.MetadataQuorumCommand --bootstrap-server "$bootstrap" "$@"; }
status=$(tool describe --status 2>&1) || { echo "describe --status failed:"; echo "$status"; exit 1; }
echo "$status"
replication=$(tool describe --replication 2>&1) || { echo "describe --replication failed:"; echo "$replication"; exit 1; }
echo "$replication"
for want in "LeaderId:" "LeaderEpoch:" "HighWatermark:" "CurrentVoters:"; do
  grep -q "$want" <<<"$status" || { echo "no $want in --status"; exit 1; }
done
grep -q "Leader" <<<"$replication" || { echo "no Leader row in --replication"; exit 1; }
echo PASS
