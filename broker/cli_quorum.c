/* `rill quorum status [--bootstrap-server HOST:PORT]`: the metadata quorum
 * as one node sees it, asked with the Kafka DescribeQuorum API (the same
 * request kafka-metadata-quorum.sh sends), printed as a table: leader,
 * epoch (the Raft term), high watermark (the commit point, as a log
 * offset), and per voter and observer its log end offset, its lag behind
 * the leader and how long ago it last fetched. Ask the active controller
 * (another node answers that it does not lead, and names the leader). */
#include "broker/cli_quorum.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/clock.h"
#include "proto/kafka_codec.h"
#include "proto/kafka_errors.h"
#include "proto/kafka_messages.h"

#define CLI_QUORUM_VERSION 1
#define CLI_QUORUM_MAX_FRAME (1u << 20)

static int cli_connect(const char *hostport)
{
    char host[256];
    snprintf(host, sizeof(host), "%s", hostport);
    char *colon = strrchr(host, ':');
    if (colon == NULL) {
        fprintf(stderr, "rill quorum: expected HOST:PORT, got %s\n", hostport);
        return -1;
    }
    *colon = '\0';
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int gai = getaddrinfo(host, colon + 1, &hints, &res);
    if (gai != 0) {
        fprintf(stderr, "rill quorum: cannot resolve %s: %s\n", hostport, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        struct timeval tv = {10, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "rill quorum: cannot connect to %s\n", hostport);
    return fd;
}

static bool cli_io(int fd, void *buf, size_t len, bool out)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = out ? write(fd, p, len) : read(fd, p, len);
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Sends one request (api_key at version; flexible: header v2) and decodes
 * the answer into resp (memory from arena). Returns 0 or -1 after printing
 * why. */
static int cli_call(int fd, struct arena *arena, int16_t api_key, int16_t version, bool flexible,
                    const void *req, void *resp)
{
    const struct kafka_message_desc *msg = kafka_message_find(api_key);
    struct kafka_writer w;
    kafka_writer_init(&w);
    kafka_write_i32(&w, 0); /* the size, patched below */
    kafka_write_i16(&w, api_key);
    kafka_write_i16(&w, version);
    kafka_write_i32(&w, 1);
    kafka_write_str(&w, kafka_str_from("rill-cli"), false);
    if (flexible)
        kafka_write_uvarint(&w, 0); /* header v2: no tags */
    int rc = kafka_encode(msg->request, version, flexible, req, &w);
    if (rc == 0 && w.err == 0) {
        kafka_writer_patch_i32(&w, 0, (int32_t)(w.len - 4));
        rc = cli_io(fd, w.buf, w.len, true) ? 0 : -1;
    }
    kafka_writer_free(&w);
    uint8_t size_be[4];
    if (rc != 0 || !cli_io(fd, size_be, 4, false)) {
        fprintf(stderr, "rill quorum: the broker did not answer\n");
        return -1;
    }
    uint32_t size = (uint32_t)size_be[0] << 24 | (uint32_t)size_be[1] << 16 |
                    (uint32_t)size_be[2] << 8 | size_be[3];
    uint8_t *frame = size <= CLI_QUORUM_MAX_FRAME ? arena_alloc(arena, size ? size : 1) : NULL;
    if (frame == NULL || !cli_io(fd, frame, size, false)) {
        fprintf(stderr, "rill quorum: a broken answer\n");
        return -1;
    }
    struct kafka_reader r;
    kafka_reader_init(&r, frame, size);
    (void)kafka_read_i32(&r); /* correlation id */
    if (flexible)
        kafka_skip_tags(&r); /* response header v1 */
    if (r.err != 0 || kafka_decode(msg->response, version, flexible, &r, arena, resp) != 0) {
        fprintf(stderr, "rill quorum: the answer does not decode (is this a Rill or Kafka "
                        "broker that serves DescribeQuorum?)\n");
        return -1;
    }
    return 0;
}

static void cli_print_replicas(const char *kind, int32_t leader, int64_t leader_end,
                               const struct kafka_describe_quorum_response_replica_state *rs,
                               int32_t n, int64_t now)
{
    for (int32_t i = 0; i < n; i++) {
        char fetched[32] = "-";
        if (rs[i].LastFetchTimestamp >= 0)
            snprintf(fetched, sizeof(fetched), "%lld ms ago",
                     (long long)(now - rs[i].LastFetchTimestamp));
        printf("%-8s %-6d %-14lld %-8lld %-14s %s\n", kind, rs[i].ReplicaId,
               (long long)rs[i].LogEndOffset, (long long)(leader_end - rs[i].LogEndOffset),
               fetched, rs[i].ReplicaId == leader ? "leader" : "");
    }
}

int cli_quorum_main(int argc, char **argv)
{
    const char *bootstrap = "localhost:9092";
    if (argc < 2 || strcmp(argv[1], "status") != 0) {
        fprintf(stderr, "usage: rill quorum status [--bootstrap-server HOST:PORT]\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--bootstrap-server") == 0 && i + 1 < argc) {
            bootstrap = argv[++i];
        } else if (strncmp(argv[i], "--bootstrap-server=", 19) == 0) {
            bootstrap = argv[i] + 19;
        } else {
            fprintf(stderr, "usage: rill quorum status [--bootstrap-server HOST:PORT]\n");
            return 2;
        }
    }
    int fd = cli_connect(bootstrap);
    if (fd < 0)
        return 1;
    struct arena arena;
    arena_init(&arena);
    struct kafka_describe_quorum_request_partition_data part = {.PartitionIndex = 0};
    struct kafka_describe_quorum_request_topic_data topic = {
        .TopicName = kafka_str_from("__cluster_metadata"), .Partitions = {1, &part}};
    struct kafka_describe_quorum_request req = {.Topics = {1, &topic}};
    struct kafka_describe_quorum_response resp;
    int rc = cli_call(fd, &arena, KAFKA_API_DESCRIBE_QUORUM, CLI_QUORUM_VERSION, true, &req,
                      &resp);
    /* And the brokers this node's image lists (Metadata v1, no topics). */
    struct kafka_metadata_request mreq = {.Topics = {0, NULL}};
    struct kafka_metadata_response mresp;
    int mrc = rc == 0 ? cli_call(fd, &arena, KAFKA_API_METADATA, 1, false, &mreq, &mresp) : -1;
    close(fd);
    if (rc == 0 && (resp.ErrorCode != 0 || resp.Topics.count != 1 ||
                    resp.Topics.items[0].Partitions.count != 1)) {
        fprintf(stderr, "rill quorum: error %d (%s)\n", resp.ErrorCode,
                kafka_error_name(resp.ErrorCode));
        rc = -1;
    }
    if (rc == 0) {
        const struct kafka_describe_quorum_response_partition_data *p =
            &resp.Topics.items[0].Partitions.items[0];
        if (p->ErrorCode != 0) {
            fprintf(stderr, "rill quorum: %s answers %s", bootstrap,
                    kafka_error_name(p->ErrorCode));
            if (p->ErrorCode == KAFKA_ERR_NOT_LEADER_OR_FOLLOWER)
                fprintf(stderr, "; ask the leader, node %d (epoch %d)", p->LeaderId,
                        p->LeaderEpoch);
            fprintf(stderr, "\n");
            rc = -1;
        } else {
            int64_t leader_end = p->HighWatermark;
            for (int32_t i = 0; i < p->CurrentVoters.count; i++)
                if (p->CurrentVoters.items[i].ReplicaId == p->LeaderId)
                    leader_end = p->CurrentVoters.items[i].LogEndOffset;
            printf("leader %d, epoch %d, high watermark %lld, %d voters, %d observers\n",
                   p->LeaderId, p->LeaderEpoch, (long long)p->HighWatermark,
                   p->CurrentVoters.count, p->Observers.count);
            printf("%-8s %-6s %-14s %-8s %-14s %s\n", "role", "node", "log end", "lag",
                   "last fetch", "");
            int64_t now = clock_wall_ms();
            cli_print_replicas("voter", p->LeaderId, leader_end, p->CurrentVoters.items,
                               p->CurrentVoters.count, now);
            cli_print_replicas("observer", p->LeaderId, leader_end, p->Observers.items,
                               p->Observers.count, now);
            if (mrc == 0) {
                printf("brokers: %d:", mresp.Brokers.count);
                for (int32_t i = 0; i < mresp.Brokers.count; i++)
                    printf(" %d@%.*s:%d", mresp.Brokers.items[i].NodeId,
                           mresp.Brokers.items[i].Host.len, mresp.Brokers.items[i].Host.ptr,
                           mresp.Brokers.items[i].Port);
                printf("\n");
            }
        }
    }
    arena_free(&arena);
    return rc == 0 ? 0 : 1;
}
