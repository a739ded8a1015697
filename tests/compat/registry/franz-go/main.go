// franz-go against Rill: create a topic (kadm), produce keyed records with
// headers using the client's defaults (idempotent, acks=all), consume them
// in a group, commit, and read the committed offsets back.
// Prints "PASS franz-go".
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const count = 300

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	bootstrap, topic, group := os.Args[1], os.Args[2], os.Args[3]
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	admin, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		fail("client: %v", err)
	}
	adm := kadm.NewClient(admin)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil {
		fail("create topic: %v", err)
	}

	producer, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		fail("producer: %v", err)
	}
	var records []*kgo.Record
	for i := 0; i < count; i++ {
		records = append(records, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("k-%d", i)),
			Value: []byte(fmt.Sprintf("v-%d", i)),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte(fmt.Sprint(i))}}})
	}
	if err := producer.ProduceSync(ctx, records...).FirstErr(); err != nil {
		fail("produce: %v", err)
	}
	producer.Close()

	consumer, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit())
	if err != nil {
		fail("consumer: %v", err)
	}
	seen := map[string]string{}
	for len(seen) < count {
		fetches := consumer.PollFetches(ctx)
		if errs := fetches.Errors(); len(errs) > 0 {
			fail("fetch: %v", errs)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			seen[string(r.Key)] = string(r.Value) + "/" + string(r.Headers[0].Value)
		})
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		fail("commit: %v", err)
	}
	consumer.Close()
	for i := 0; i < count; i++ {
		if got := seen[fmt.Sprintf("k-%d", i)]; got != fmt.Sprintf("v-%d/%d", i, i) {
			fail("record %d wrong: %q", i, got)
		}
	}
	offsets, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		fail("fetch offsets: %v", err)
	}
	total := int64(0)
	offsets.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != count {
		fail("committed offsets sum to %d, not %d", total, count)
	}
	admin.Close()
	fmt.Println("PASS franz-go")
}
