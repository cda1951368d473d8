/* bridge.h - internals shared by the msgsec-bridge source files.
 *
 * Threads: main (signals, reload), the AMQP proactor thread (amqp_side.c),
 * the MQTT receive thread (mqtt_ingress.c), the MQTT publish pump thread and
 * Paho's threads (mqtt_side.c), and libmicrohttpd's thread (metrics.c).
 *
 * Every message that crosses the bridge is first written to the durable spool
 * (spool.c) and only then acknowledged to its source; it leaves the spool when
 * the destination has settled it (AMQP accepted / MQTT PUBACK or PUBCOMP).
 */
#ifndef MSGSEC_BRIDGE_H
#define MSGSEC_BRIDGE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "msgsec.h"
#include "msgsec_config.h"

/* ------------------------------------------------------------- logging */
typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } bridge_log_level;
/* One structured line on stderr: "ts=... level=... event=EVENT " + fmt.
 * fmt holds key=value pairs; never payloads or secrets. */
void blog(bridge_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------- messages */
typedef enum { SIDE_MQTT = 0, SIDE_AMQP = 1 } bridge_side;

typedef struct bmsg_prop {
    char *key, *value;
} bmsg_prop;

/* One message in flight through the bridge (protocol neutral). All strings
 * and buffers are owned; free with bmsg_free. */
typedef struct bmsg {
    uint64_t id;           /* spool key; 0 until spooled */
    bridge_side dest_side; /* where it goes */
    char *dest;            /* MQTT topic or AMQP address */
    int qos;
    int route;             /* index of the route that produced it (metrics), -1 = none */
    char *subject;         /* original MQTT topic (AMQP subject) */
    char *content_type;
    uint8_t *correlation; size_t correlation_len;
    char *reply_to;
    char *bridge_id;       /* msgsec-bridge-id: stable id of this bridged message */
    int64_t ttl_ms;        /* 0 = none */
    bmsg_prop *props; size_t n_props;
    uint8_t *payload; size_t payload_len;
} bmsg;

void bmsg_free(bmsg *m);
/* Adds (copies) a key/value property. 0 ok, -1 out of memory. */
int bmsg_add_prop(bmsg *m, const char *key, const char *value);
const char *bmsg_get_prop(const bmsg *m, const char *key);
/* Copy of everything but the payload (NULL). Caller frees with bmsg_free. */
bmsg *bmsg_clone_meta(const bmsg *m);
/* Replaces the payload with a copy of data. 0 ok, -1 out of memory. */
int bmsg_set_payload(bmsg *m, const uint8_t *data, size_t len);

/* ------------------------------------------------------------- spool */
typedef struct spool spool;

/* Opens (creating) the LMDB spool in directory path. */
msgsec_err spool_open(const char *path, size_t max_messages, size_t max_bytes, int reject_when_full,
                      spool **out, msgsec_error *err);
void spool_close(spool *s);
/* spool_put results besides MSGSEC_OK (MSGSEC_E_INTERNAL: LMDB failure) */
#define SPOOL_FULL MSGSEC_E_POLICY      /* no room now (or closing); may fit later */
#define SPOOL_TOO_BIG MSGSEC_E_MALFORMED /* can never fit the configured bounds */
/* Durably stores msgs[0..n) in one transaction (fsync'd) and sets their ids.
 * When full: with when_full "block" and may_wait set, waits until there is
 * room (or spool_shutdown); otherwise returns SPOOL_FULL and stores nothing. */
msgsec_err spool_put(spool *s, bmsg **msgs, size_t n, int may_wait, msgsec_error *err);
/* 1 if when_full is "reject". */
int spool_rejects_when_full(const spool *s);
/* 1 if one more message would fit (used to withhold AMQP credit). */
int spool_has_room(spool *s);
/* Removes messages delivered to their destination (one transaction, not
 * synced: a lost deletion only means a duplicate after a crash). Unknown ids
 * are ignored. */
void spool_del(spool *s, bridge_side side, const uint64_t *ids, size_t n);
/* Loads up to max messages for side with id > after, in id order.
 * Returns the count; *out[i] caller frees with bmsg_free. */
size_t spool_next(spool *s, bridge_side side, uint64_t after, bmsg **out, size_t max);
size_t spool_depth(spool *s);
size_t spool_bytes(spool *s);
/* Wakes any spool_put waiting for room (shutdown). */
void spool_shutdown(spool *s);

/* ------------------------------------------------------------- metrics */
#define METRIC_MAX_ROUTES 64
#define METRIC_MAX_REASONS 16
typedef struct bridge_metrics {
    atomic_ulong messages[METRIC_MAX_ROUTES];     /* per route index */
    atomic_ulong rejects[METRIC_MAX_REASONS];     /* per reject reason, see reason_names */
    atomic_ulong reconnects[2];                   /* per side */
    atomic_ulong delivered[2];                    /* settled at the destination, per side */
    atomic_ulong held;                            /* left at the source for now (transient) */
    atomic_int connected[2];                      /* AMQP: 0/1; MQTT: MQTT_LINK_* bits */
} bridge_metrics;

/* The MQTT side has two connections: it is up when both are. */
#define MQTT_LINK_PUBLISH 1
#define MQTT_LINK_RECEIVE 2

/* ------------------------------------------------------------- routes */
typedef struct bridge bridge;

/* The routing table: one configuration generation. Reference counted so a
 * SIGHUP reload can swap it while the sides still use the old one. */
typedef struct route_table {
    atomic_int refs;
    msgsec_config *cfg;
    unsigned generation;
} route_table;

route_table *routes_acquire(bridge *b);
void routes_release(route_table *t);

/* Crypto state shared by both sides (msgsec handles are single-threaded, and
 * one process must open the persistent replay cache only once): the handles
 * are built lazily per table generation and used under a mutex. */
typedef struct action_ctx action_ctx;
action_ctx *action_ctx_new(void);
void action_ctx_free(action_ctx *ax);

/* Runs every route whose `from` matches (side, source) on m (borrowed) and
 * appends the resulting messages (forwarded, verified, protected,
 * unprotected, or dead letters) to *out (caller frees each with bmsg_free and
 * the array with free). Returns the number of routes that matched, or -1 with
 * nothing appended when the message cannot be handled now: out of memory, or
 * a transient refusal (msgsec_error.transient: the replay store is full).
 * The caller must then not acknowledge it, and try it again no sooner than
 * RETRY_LATER_MS: it stays at its source (nothing is lost, nothing is
 * dead-lettered). */
int routes_apply(bridge *b, route_table *t, bridge_side side, const char *source, const bmsg *m,
                 bmsg ***out, size_t *n_out);
#define RETRY_LATER_MS 10000
/* Split "mqtt:X" / "amqp:X" into side and X (borrowed from spec). -1 if neither. */
int route_endpoint(const char *spec, bridge_side *side, const char **name);

/* Reject reasons (index into metrics.rejects). */
typedef enum {
    REJECT_VERIFY = 0, REJECT_UNPROTECT, REJECT_SENDER, REJECT_PROTECT, REJECT_SPOOL_FULL,
    REJECT_UNDELIVERABLE, REJECT_NO_ROUTE, REJECT_COUNT
} reject_reason;
extern const char *const reject_reason_names[REJECT_COUNT];

/* ------------------------------------------------------------- sides */
typedef struct mqtt_side mqtt_side;
typedef struct amqp_side amqp_side;

msgsec_err mqtt_side_start(bridge *b, mqtt_side **out, msgsec_error *err);
/* New messages for MQTT are in the spool. Thread-safe. */
void mqtt_side_notify(mqtt_side *m);
void mqtt_side_resubscribe(mqtt_side *m);
/* Stops consuming, waits up to timeout_ms for in-flight publishes, disconnects. */
void mqtt_side_stop(mqtt_side *m, int timeout_ms);

/* The receiving MQTT connection (mqtt_ingress.c), owned by the MQTT side.
 * cfg and password: borrowed (copied). */
typedef struct mqtt_ingress mqtt_ingress;
msgsec_err mqtt_ingress_start(bridge *b, const msgsec_config *cfg, const char *password,
                              mqtt_ingress **out, msgsec_error *err);
/* Subscriptions follow the current routing table. Thread-safe. */
void mqtt_ingress_resubscribe(mqtt_ingress *in);
/* Stops reading (what is not acknowledged is redelivered by the broker),
 * disconnects and frees. NULL-safe. */
void mqtt_ingress_stop(mqtt_ingress *in);

msgsec_err amqp_side_start(bridge *b, amqp_side **out, msgsec_error *err);
void amqp_side_notify(amqp_side *a);
void amqp_side_relink(amqp_side *a);
void amqp_side_stop(amqp_side *a, int timeout_ms);

/* ------------------------------------------------------------- http */
typedef struct metrics_http metrics_http;
/* Serves /metrics and /healthz on cfg's metrics.address (parsed and checked
 * by msgsec_config_load). cfg: borrowed. *out: stop with metrics_stop. */
msgsec_err metrics_start(bridge *b, const msgsec_config *cfg, metrics_http **out,
                         msgsec_error *err);
void metrics_stop(metrics_http *h);

/* ------------------------------------------------------------- bridge */
struct bridge {
    pthread_mutex_t lock;   /* guards table */
    route_table *table;
    spool *spool;
    bridge_metrics metrics;
    mqtt_side *mqtt;
    amqp_side *amqp;
    action_ctx *actions;
    atomic_int stopping;
};

/* Hands freshly spooled messages to the side(s) that deliver them. */
void bridge_notify(bridge *b, bmsg **msgs, size_t n);
/* Reconnect backoff of every broker connection: from BACKOFF_MIN_MS, doubling
 * up to BACKOFF_MAX_MS. Returns the delay before the next attempt (half of
 * it random: jitter) and doubles *backoff_ms. */
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 10000
int backoff_next(int *backoff_ms);

/* Reads a secret file (password_file), trailing newline stripped.
 * Caller wipes and frees with msgsec_free_secret(p, strlen(p)). */
msgsec_err bridge_read_secret(const char *path, char **out, msgsec_error *err);
/* Bridge-specific checks on top of msgsec_config_load ("FILE:LINE: reason"). */
msgsec_err bridge_check_config(const msgsec_config *cfg, msgsec_error *err);

#endif
