/* log.c - structured key=value log lines on stderr (see log.h). */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void blog(bridge_log_level level, const char *event, const char *fmt, ...)
{
    char ts[40], line[1024];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03ldZ", now.tv_nsec / 1000000);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* one fprintf per line so lines from different threads never interleave */
    fprintf(stderr, "ts=%s level=%s event=%s%s%s\n", ts, level_names[level], event,
            line[0] ? " " : "", line);
}
