#include "broker/quorum/quorum_state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/rill_error.h"
#include "storage/store.h"

#define QUORUM_STATE_MAX_BYTES 512

/* Parses one "key: value" line into *v; false when the line is not that. */
static bool quorum_state_field(const char *line, const char *key, int64_t *v)
{
    size_t k = strlen(key);
    if (strncmp(line, key, k) != 0 || line[k] != ':' || line[k + 1] != ' ')
        return false;
    char *end;
    errno = 0;
    long long x = strtoll(line + k + 2, &end, 10);
    if (errno != 0 || end == line + k + 2 || (*end != '\n' && *end != '\0'))
        return false;
    *v = x;
    return true;
}

int quorum_state_read(const char *dir, struct raft_hard_state *hs)
{
    *hs = (struct raft_hard_state){0, RAFT_NONE, 0};
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, QUORUM_STATE_FILE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? RILL_ERR_NOT_FOUND : rill_err_from_errno(errno);
    char text[QUORUM_STATE_MAX_BYTES + 1];
    ssize_t n = read(fd, text, sizeof(text));
    int err = errno;
    close(fd);
    if (n < 0)
        return rill_err_from_errno(err);
    if ((size_t)n > QUORUM_STATE_MAX_BYTES)
        return RILL_ERR_CORRUPT;
    text[n] = '\0';
    int64_t version = -1, term = -1, voted = -2, commit = -1;
    for (char *line = text; *line != '\0';) {
        char *nl = strchr(line, '\n');
        int64_t v;
        if (quorum_state_field(line, "version", &v))
            version = v;
        else if (quorum_state_field(line, "term", &v))
            term = v;
        else if (quorum_state_field(line, "voted_for", &v))
            voted = v;
        else if (quorum_state_field(line, "commit", &v))
            commit = v;
        else
            return RILL_ERR_CORRUPT;
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    if (version != 1 || term < 0 || voted < -1 || voted > INT32_MAX || commit < 0)
        return RILL_ERR_CORRUPT;
    *hs = (struct raft_hard_state){(uint64_t)term, (int32_t)voted, (uint64_t)commit};
    return RILL_OK;
}

int quorum_state_write(const char *dir, const struct raft_hard_state *hs)
{
    char text[QUORUM_STATE_MAX_BYTES];
    int n = snprintf(text, sizeof(text),
                     "version: 1\nterm: %" PRIu64 "\nvoted_for: %d\ncommit: %" PRIu64 "\n",
                     hs->term, hs->voted_for, hs->commit);
    return storage_write_file_durably(dir, QUORUM_STATE_FILE, text, (size_t)n);
}
