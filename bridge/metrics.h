/* metrics.h - the exposition of the bridge's counters (counters.h):
 * /metrics (Prometheus text) and /healthz over HTTP with libmicrohttpd
 * (metrics.c). */
#ifndef MSGSEC_BRIDGE_METRICS_H
#define MSGSEC_BRIDGE_METRICS_H

#include "msgsec.h"
#include "msgsec_config.h"

typedef struct bridge bridge;
typedef struct metrics_http metrics_http;
/* Serves the counters, spool and routes of b (borrowed: outlives the server)
 * on cfg's metrics.address (parsed and checked by msgsec_config_load; cfg:
 * borrowed). *out: stop with metrics_stop. */
msgsec_err metrics_start(bridge *b, const msgsec_config *cfg, metrics_http **out,
                         msgsec_error *err);
void metrics_stop(metrics_http *h);

#endif
