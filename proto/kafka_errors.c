#include "proto/kafka_errors.h"

const char *kafka_error_name(int code)
{
    switch (code) {
#define KAFKA_ERROR_CASE(name, value) \
    case value:                       \
        return #name;
        KAFKA_ERRORS(KAFKA_ERROR_CASE)
#undef KAFKA_ERROR_CASE
    default:
        return "UNKNOWN";
    }
}
