#include "storage/partition_meta.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/rill_error.h"
#include "storage/log_internal.h"

/* Big enough for the two lines and some slack; anything longer is not a
 * partition.metadata Rill or Kafka wrote. */
#define PARTITION_META_MAX_BYTES 256

static const char partition_meta_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void storage_topic_id_format(const uint8_t id[STORAGE_TOPIC_ID_BYTES], char out[23])
{
    /* 128 bits are 21 whole sextets and 2 bits, which the 22nd character
     * carries in its high bits. */
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < STORAGE_TOPIC_ID_BYTES; i++) {
        acc = (acc << 8) | id[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = partition_meta_alphabet[(acc >> bits) & 63];
        }
    }
    out[o++] = partition_meta_alphabet[(acc << (6 - bits)) & 63];
    out[o] = '\0';
}

static int partition_meta_sextet(char c)
{
    const char *p = c != '\0' ? strchr(partition_meta_alphabet, c) : NULL;
    return p == NULL ? -1 : (int)(p - partition_meta_alphabet);
}

int storage_topic_id_parse(const char *text, size_t len, uint8_t id[STORAGE_TOPIC_ID_BYTES])
{
    if (len != 22)
        return RILL_ERR_PARSE;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int v = partition_meta_sextet(text[i]);
        if (v < 0)
            return RILL_ERR_PARSE;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o < STORAGE_TOPIC_ID_BYTES)
                id[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* The last character's 4 low bits are padding and must be zero, so
     * that every id has exactly one spelling. */
    if (o != STORAGE_TOPIC_ID_BYTES || (acc & ((1u << bits) - 1)) != 0)
        return RILL_ERR_PARSE;
    return RILL_OK;
}

/* Finds "key: value" on its own line in text; *value points into text. */
static bool partition_meta_field(const char *text, const char *key, const char **value,
                                 size_t *len)
{
    size_t klen = strlen(key);
    for (const char *line = text; *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t n = end != NULL ? (size_t)(end - line) : strlen(line);
        if (n > klen + 1 && memcmp(line, key, klen) == 0 && line[klen] == ':') {
            const char *v = line + klen + 1;
            while (v < line + n && *v == ' ')
                v++;
            *value = v;
            *len = (size_t)(line + n - v);
            return true;
        }
        line += n + (end != NULL);
    }
    return false;
}

int storage_partition_meta_read(const char *path, uint8_t id[STORAGE_TOPIC_ID_BYTES])
{
    char file[4200];
    snprintf(file, sizeof(file), "%s/%s", path, STORAGE_PARTITION_META_FILE);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? RILL_ERR_NOT_FOUND : rill_err_from_errno(errno);
    char text[PARTITION_META_MAX_BYTES + 1];
    ssize_t n = read(fd, text, sizeof(text));
    int err = errno;
    close(fd);
    if (n < 0)
        return rill_err_from_errno(err);
    if ((size_t)n > PARTITION_META_MAX_BYTES)
        return RILL_ERR_CORRUPT;
    text[n] = '\0';
    const char *v;
    size_t vlen;
    if (!partition_meta_field(text, "version", &v, &vlen) || vlen != 1 || v[0] != '0')
        return RILL_ERR_CORRUPT;
    if (!partition_meta_field(text, "topic_id", &v, &vlen) ||
        storage_topic_id_parse(v, vlen, id) != 0)
        return RILL_ERR_CORRUPT;
    return RILL_OK;
}

int storage_partition_meta_write(const char *path, const uint8_t id[STORAGE_TOPIC_ID_BYTES])
{
    char text[64], b64[23];
    storage_topic_id_format(id, b64);
    int n = snprintf(text, sizeof(text), "version: 0\ntopic_id: %s\n", b64);
    return storage_write_file_durably(path, STORAGE_PARTITION_META_FILE, text, (size_t)n);
}
