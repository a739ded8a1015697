#include "common/rill_error.h"

#include <errno.h>

const char *rill_strerror(int err)
{
    switch (err) {
#define RILL_ERROR_CASE(name, value, text) \
    case value:                            \
        return text;
        RILL_ERRORS(RILL_ERROR_CASE)
#undef RILL_ERROR_CASE
    default:
        return "unknown error";
    }
}

int rill_err_from_errno(int errnum)
{
    switch (errnum) {
    case 0:
        return RILL_OK;
    case ENOMEM:
        return RILL_ERR_NOMEM;
    case ENOSPC:
    case EDQUOT:
        return RILL_ERR_NOSPC;
    case ENOENT:
        return RILL_ERR_NOT_FOUND;
    case EEXIST:
        return RILL_ERR_EXISTS;
    case EINVAL:
        return RILL_ERR_INVALID;
    case EAGAIN:
        return RILL_ERR_AGAIN;
    default:
        return RILL_ERR_IO;
    }
}
