/* log.h - structured key=value log lines on stderr (log.c). Callers pass
 * identifiers, counts and reasons only: never payloads or secrets. */
#ifndef MSGSEC_BRIDGE_LOG_H
#define MSGSEC_BRIDGE_LOG_H

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } bridge_log_level;

/* One line "ts=... level=... event=EVENT " + fmt (key=value pairs). */
void blog(bridge_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
