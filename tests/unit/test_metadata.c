/* The metadata image: applying records builds topics and partitions, and
 * contradictory records are refused without changing anything. */
#include <stdio.h>
#include <string.h>

#include "common/rill_error.h"
#include "metadata/image.h"
#include "proto/metadata.pb-c.h"
#include "tests/unit/unit.h"

static void topic_id(uint8_t id[16], uint16_t n)
{
    memset(id, 0x77, 16);
    id[0] = (uint8_t)n;
    id[1] = (uint8_t)(n >> 8);
}

static int apply_topic(struct metadata_image *img, const char *name, uint16_t n)
{
    uint8_t id[16];
    topic_id(id, n);
    Rill__Metadata__TopicRecord t = RILL__METADATA__TOPIC_RECORD__INIT;
    t.name = (char *)name;
    t.topic_id.data = id;
    t.topic_id.len = 16;
    Rill__Metadata__MetadataRecord r = RILL__METADATA__METADATA_RECORD__INIT;
    r.record_case = RILL__METADATA__METADATA_RECORD__RECORD_TOPIC;
    r.topic = &t;
    return metadata_image_apply(img, &r);
}

static int apply_partition(struct metadata_image *img, uint16_t n, int32_t p, int32_t epoch)
{
    uint8_t id[16];
    topic_id(id, n);
    int32_t node = 1;
    Rill__Metadata__PartitionRecord pr = RILL__METADATA__PARTITION_RECORD__INIT;
    pr.topic_id.data = id;
    pr.topic_id.len = 16;
    pr.partition = p;
    pr.n_replicas = 1;
    pr.replicas = &node;
    pr.n_isr = 1;
    pr.isr = &node;
    pr.leader = 1;
    pr.leader_epoch = epoch;
    Rill__Metadata__MetadataRecord r = RILL__METADATA__METADATA_RECORD__INIT;
    r.record_case = RILL__METADATA__METADATA_RECORD__RECORD_PARTITION;
    r.partition = &pr;
    return metadata_image_apply(img, &r);
}

START_TEST(topics_partitions_and_removal)
{
    struct metadata_image img;
    ck_assert_int_eq(metadata_image_init(&img), 0);
    for (int i = 0; i < 300; i++) {
        char name[32];
        snprintf(name, sizeof(name), "topic-%d", i);
        ck_assert_int_eq(apply_topic(&img, name, (uint16_t)i), 0);
    }
    ck_assert_uint_eq(img.ntopics, 300);
    ck_assert_int_eq(apply_topic(&img, "topic-3", 1000), RILL_ERR_INVALID); /* name taken */
    ck_assert_int_eq(apply_topic(&img, "other", 5), RILL_ERR_INVALID);      /* id taken */
    ck_assert_int_eq(apply_partition(&img, 3, 0, 0), 0);
    ck_assert_int_eq(apply_partition(&img, 3, 2, 0), RILL_ERR_INVALID); /* gap */
    ck_assert_int_eq(apply_partition(&img, 3, 1, 0), 0);
    ck_assert_int_eq(apply_partition(&img, 3, 0, 5), 0);                 /* new leader epoch */
    ck_assert_int_eq(apply_partition(&img, 3, 0, 4), RILL_ERR_INVALID); /* epoch going back */
    const struct metadata_topic *t = metadata_image_topic(&img, "topic-3", 7);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->npartitions, 2);
    ck_assert_int_eq(t->partitions[0].leader_epoch, 5);

    uint8_t id[16];
    topic_id(id, 3);
    Rill__Metadata__RemoveTopicRecord rm = RILL__METADATA__REMOVE_TOPIC_RECORD__INIT;
    rm.topic_id.data = id;
    rm.topic_id.len = 16;
    Rill__Metadata__MetadataRecord r = RILL__METADATA__METADATA_RECORD__INIT;
    r.record_case = RILL__METADATA__METADATA_RECORD__RECORD_REMOVE_TOPIC;
    r.remove_topic = &rm;
    ck_assert_int_eq(metadata_image_apply(&img, &r), 0);
    ck_assert_ptr_null(metadata_image_topic(&img, "topic-3", 7));
    ck_assert_ptr_null(metadata_image_topic_by_id(&img, id));
    ck_assert_int_eq(metadata_image_apply(&img, &r), 0); /* a raced deletion: no-op */
    ck_assert_uint_eq(img.ntopics, 299);
    /* The name can be used again with a new id. */
    ck_assert_int_eq(apply_topic(&img, "topic-3", 1001), 0);
    metadata_image_free(&img);
}
END_TEST

START_TEST(config_overrides)
{
    struct metadata_image img;
    ck_assert_int_eq(metadata_image_init(&img), 0);
    ck_assert_int_eq(apply_topic(&img, "t", 1), 0);
    Rill__Metadata__ConfigRecord c = RILL__METADATA__CONFIG_RECORD__INIT;
    c.resource_type = METADATA_RESOURCE_TOPIC;
    c.resource_name = "t";
    c.name = "retention.ms";
    c.value = "1000";
    Rill__Metadata__MetadataRecord r = RILL__METADATA__METADATA_RECORD__INIT;
    r.record_case = RILL__METADATA__METADATA_RECORD__RECORD_CONFIG;
    r.config = &c;
    ck_assert_int_eq(metadata_image_apply(&img, &r), 0);
    const struct metadata_topic *t = metadata_image_topic(&img, "t", 1);
    ck_assert_str_eq(metadata_topic_config(t, "retention.ms"), "1000");
    c.value = NULL;
    ck_assert_int_eq(metadata_image_apply(&img, &r), 0);
    ck_assert_ptr_null(metadata_topic_config(t, "retention.ms"));
    c.resource_name = "missing";
    c.value = "1";
    ck_assert_int_eq(metadata_image_apply(&img, &r), RILL_ERR_INVALID);
    metadata_image_free(&img);
}
END_TEST

START_TEST(producer_id_blocks_only_move_forward)
{
    struct metadata_image img;
    ck_assert_int_eq(metadata_image_init(&img), 0);
    ck_assert_int_eq(img.next_producer_id, 0);
    Rill__Metadata__ProducerIdsRecord p = RILL__METADATA__PRODUCER_IDS_RECORD__INIT;
    p.broker_id = 1;
    p.next_producer_id = 1000;
    Rill__Metadata__MetadataRecord r = RILL__METADATA__METADATA_RECORD__INIT;
    r.record_case = RILL__METADATA__METADATA_RECORD__RECORD_PRODUCER_IDS;
    r.producer_ids = &p;
    ck_assert_int_eq(metadata_image_apply(&img, &r), 0);
    ck_assert_int_eq(img.next_producer_id, 1000);
    /* A block decided on an older image is not granted (a no-op). */
    ck_assert_int_eq(metadata_image_apply(&img, &r), 0);
    p.next_producer_id = 500;
    ck_assert_int_eq(metadata_image_apply(&img, &r), 0);
    ck_assert_int_eq(img.next_producer_id, 1000);
    metadata_image_free(&img);
}
END_TEST

Suite *suite_metadata(void)
{
    Suite *s = suite_create("metadata");
    TCase *tc = tcase_create("image");
    tcase_add_test(tc, topics_partitions_and_removal);
    tcase_add_test(tc, config_overrides);
    tcase_add_test(tc, producer_id_blocks_only_move_forward);
    suite_add_tcase(s, tc);
    return s;
}
