/* Metadata records as they come back from the metadata log: the input is a
 * sequence of records, each a 2-byte big-endian length and a protobuf
 * MetadataRecord, unpacked and applied in order to one image. After every
 * step the image must be consistent: each topic is found under its name
 * and its id, and its partitions are numbered 0..n-1. */
#include <stdbool.h>
#include <string.h>

#include "metadata/image.h"
#include "proto/metadata.pb-c.h"
#include "tests/fuzz/fuzz.h"

struct fuzz_census {
    const struct metadata_image *image;
    size_t topics;
};

static void fuzz_check_topic(void *ctx, const struct metadata_topic *t)
{
    struct fuzz_census *c = ctx;
    c->topics++;
    FUZZ_CHECK(metadata_image_topic(c->image, t->name, strlen(t->name)) == t);
    FUZZ_CHECK(metadata_image_topic_by_id(c->image, t->id) == t);
    FUZZ_CHECK(t->npartitions >= 0 && t->npartitions <= t->partitions_cap);
    for (int32_t i = 0; i < t->npartitions; i++) {
        const struct metadata_partition *p = &t->partitions[i];
        FUZZ_CHECK(p->partition == i);
        /* The ISR is a non-empty subset of the replicas holding the leader. */
        FUZZ_CHECK(p->nisr >= 1 && p->nisr <= p->nreplicas);
        bool leader_in = p->leader == -1;
        for (size_t k = 0; k < p->nisr; k++) {
            bool replica = false;
            for (size_t r = 0; r < p->nreplicas; r++)
                replica = replica || p->replicas[r] == p->isr[k];
            FUZZ_CHECK(replica);
            leader_in = leader_in || p->isr[k] == p->leader;
        }
        FUZZ_CHECK(leader_in);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct metadata_image image;
    FUZZ_CHECK(metadata_image_init(&image) == 0);
    size_t pos = 0;
    while (size - pos >= 2) {
        size_t len = (size_t)data[pos] << 8 | data[pos + 1];
        pos += 2;
        if (len > size - pos)
            break;
        Rill__Metadata__MetadataRecord *rec =
            rill__metadata__metadata_record__unpack(NULL, len, data + pos);
        pos += len;
        if (rec == NULL)
            continue;
        (void)metadata_image_apply(&image, rec);
        rill__metadata__metadata_record__free_unpacked(rec, NULL);
        struct fuzz_census census = {&image, 0};
        metadata_image_each_topic(&image, fuzz_check_topic, &census);
        FUZZ_CHECK(census.topics == image.ntopics);
    }
    metadata_image_free(&image);
    return 0;
}
