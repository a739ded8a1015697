#!/usr/bin/env bash
# Apache Kafka's own tools against Rill: kafka-metadata-quorum
# (MetadataQuorumCommand) describe --status and --replication show the
# quorum; kafka-topics (TopicCommand) creates a topic, grows it with
# --alter --partitions (CreatePartitions) and describes it; kafka-cluster
# (ClusterTool) prints the cluster id and lists the brokers
# (DescribeCluster).
# usage: check.sh CLASSPATH BOOTSTRAP TOPIC GROUP
set -uo pipefail
cp=$1 bootstrap=$2 topic=$3
run() { local cls=$1; shift; java -cp "$cp" "org.apache.kafka.tools.$cls" --bootstrap-server "$bootstrap" "$@"; }
tool() { java -cp "$cp" org.apache.kafka.tools.MetadataQuorumCommand --bootstrap-server "$bootstrap" "$@"; }
status=$(tool describe --status 2>&1) || { echo "describe --status failed:"; echo "$status"; exit 1; }
echo "$status"
replication=$(tool describe --replication 2>&1) || { echo "describe --replication failed:"; echo "$replication"; exit 1; }
echo "$replication"
for want in "LeaderId:" "LeaderEpoch:" "HighWatermark:" "CurrentVoters:"; do
  grep -q "$want" <<<"$status" || { echo "no $want in --status"; exit 1; }
done
grep -q "Leader" <<<"$replication" || { echo "no Leader row in --replication"; exit 1; }

t="$topic-tools"
out=$(run TopicCommand --create --topic "$t" --partitions 2 --replication-factor 1 2>&1) ||
  { echo "kafka-topics --create failed:"; echo "$out"; exit 1; }
out=$(run TopicCommand --alter --topic "$t" --partitions 4 2>&1) ||
  { echo "kafka-topics --alter --partitions failed:"; echo "$out"; exit 1; }
described=$(run TopicCommand --describe --topic "$t" 2>&1) ||
  { echo "kafka-topics --describe failed:"; echo "$described"; exit 1; }
echo "$described"
grep -q "PartitionCount: 4" <<<"$described" || { echo "no PartitionCount: 4"; exit 1; }
cluster() { java -cp "$cp" org.apache.kafka.tools.ClusterTool "$1" --bootstrap-server "$bootstrap"; }
id=$(cluster cluster-id 2>&1) || { echo "kafka-cluster cluster-id failed:"; echo "$id"; exit 1; }
echo "$id"
grep -q "^Cluster ID: " <<<"$id" || { echo "no Cluster ID"; exit 1; }
endpoints=$(cluster list-endpoints 2>&1) ||
  { echo "kafka-cluster list-endpoints failed:"; echo "$endpoints"; exit 1; }
echo "$endpoints"
grep -qE "unfenced +broker" <<<"$endpoints" || { echo "no unfenced broker listed"; exit 1; }
echo PASS
