/* metrics.h - the exposition of the bridge's counters (counters.h):
 * /metrics (Prometheus text) and /healthz over HTTP with libmicrohttpd
 * (metrics.c). */
#ifndef MSGSEC_BRIDGE_METRICS_H
#define MSGSEC_BRIDGE_METRICS_H

#include "msgsec.h"

typedef struct bridge bridge;
typedef struct metrics_http metrics_http;
struct sockaddr_in;
/* Parses metrics.listen ("IPV4:PORT"). */
msgsec_err metrics_parse_listen(const char *listen, struct sockaddr_in *sa, msgsec_error *err);
/* Serves the counters, spool and routes of b (borrowed: outlives the server). */
msgsec_err metrics_start(bridge *b, const char *listen, metrics_http **out, msgsec_error *err);
void metrics_stop(metrics_http *h);

#endif
