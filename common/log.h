/* Line-oriented logging to stderr: "2026-11-25T17:05:41.123Z INFO  area: text".
 *
 * The minimum level is set once at start-up (log_set_level) before any
 * thread starts; after that it is only read, so it is the one piece of
 * process-wide state outside the broker context (a logger that needs a
 * context argument everywhere would not be used where it matters). */
#ifndef RILL_COMMON_LOG_H
#define RILL_COMMON_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);

/* Parses "debug", "info", "warn", "error"; returns -1 when unknown. */
int log_level_parse(const char *text);

void log_write(enum log_level level, const char *area, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Logs at ERROR and ends the process at once (exit status 70), without
 * unwinding: for states the node must not run on, such as a committed
 * record it cannot apply. Acknowledged data is already fsynced. */
_Noreturn void rill_fatal(const char *area, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(area, ...) log_write(LOG_DEBUG, area, __VA_ARGS__)
#define log_info(area, ...) log_write(LOG_INFO, area, __VA_ARGS__)
#define log_warn(area, ...) log_write(LOG_WARN, area, __VA_ARGS__)
#define log_error(area, ...) log_write(LOG_ERROR, area, __VA_ARGS__)

#endif
