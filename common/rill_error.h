/* Rill's own error codes (not Kafka's wire codes, see proto/kafka_errors.h).
 *
 * Every fallible function returns int: 0 (RILL_OK) on success, a negative
 * RILL_ERR_* on failure. The list and the strings come from one X-macro so
 * that they can never drift apart. */
#ifndef RILL_COMMON_RILL_ERROR_H
#define RILL_COMMON_RILL_ERROR_H

#define RILL_ERRORS(X)                                                        \
    X(RILL_OK, 0, "ok")                                                       \
    X(RILL_ERR_NOMEM, -1, "out of memory")                                    \
    X(RILL_ERR_IO, -2, "I/O error")                                           \
    X(RILL_ERR_CORRUPT, -3, "corrupt data")                                   \
    X(RILL_ERR_PARSE, -4, "malformed input")                                  \
    X(RILL_ERR_INVALID, -5, "invalid argument")                               \
    X(RILL_ERR_NOT_FOUND, -6, "not found")                                    \
    X(RILL_ERR_EXISTS, -7, "already exists")                                  \
    X(RILL_ERR_RANGE, -8, "out of range")                                     \
    X(RILL_ERR_TOO_LARGE, -9, "too large")                                    \
    X(RILL_ERR_UNSUPPORTED, -10, "unsupported")                               \
    X(RILL_ERR_DB, -11, "index database error")                               \
    X(RILL_ERR_NOSPC, -12, "no space left on device")                         \
    X(RILL_ERR_CONFIG, -13, "invalid configuration")                          \
    X(RILL_ERR_CLOSED, -14, "closed")                                         \
    X(RILL_ERR_AGAIN, -15, "try again")                                       \
    X(RILL_ERR_MISMATCH, -16, "belongs to something else")

enum rill_err {
#define RILL_ERROR_ENUM(name, value, text) name = value,
    RILL_ERRORS(RILL_ERROR_ENUM)
#undef RILL_ERROR_ENUM
};

/* Returns a static string for a RILL_ERR_* code ("unknown error" otherwise). */
const char *rill_strerror(int err);

/* Maps an errno value to the closest RILL_ERR_* code. */
int rill_err_from_errno(int errnum);

#endif
