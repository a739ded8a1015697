#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"

static enum log_level log_level_min = LOG_INFO;

static const char *const log_level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void log_set_level(enum log_level level)
{
    log_level_min = level;
}

int log_level_parse(const char *text)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(text, names[i]) == 0)
            return i;
    return -1;
}

static void log_vwrite(enum log_level level, const char *area, const char *fmt, va_list ap)
{
    int64_t now_ms = clock_wall_ms();
    time_t secs = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char line[2048];
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %-5s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(now_ms % 1000), log_level_names[level], area);
    if (n < 0)
        return;
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    /* One write per line keeps lines whole when threads log at once. */
    fwrite(line, 1, len, stderr);
}

void log_write(enum log_level level, const char *area, const char *fmt, ...)
{
    if (level < log_level_min)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, area, fmt, ap);
    va_end(ap);
}

_Noreturn void rill_fatal(const char *area, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(LOG_ERROR, area, fmt, ap);
    va_end(ap);
    fflush(stderr);
    _exit(70);
}
