/* mqtt_ingress.c - MQTT -> bridge: a small MQTT 5 / 3.1.1 subscriber of our
 * own, the session half: CONNECT/CONNACK, subscriptions, keepalive and the
 * receive loop. Its transport is mqtt_conn.c, its group commit
 * mqtt_batch.c, its packet codec mqtt_packet.c.
 *
 * Why not a library for this half: nothing may be acknowledged before it is
 * on disk, and one fsync per message bounds the bridge to the disk's fsync
 * rate (~0.4 ms here). libmosquitto 2.0.11 sends the PUBACK before on_message
 * runs; Paho 1.3.12 (which publishes, mqtt_side.c) sends it when
 * messageArrived returns, one message at a time. This connection instead
 * reads whatever has arrived (the broker's in-flight window), routes it,
 * spools every result in ONE transaction with one fsync (group commit) and
 * only then writes the PUBACKs, in arrival order.
 *
 * The session is persistent (clean start off, session expiry one day, the
 * configured client id): what is published while the bridge is down, or not
 * yet acknowledged when it dies, is (re)delivered by the broker. Subscriptions
 * are made at QoS <= 1 (at-least-once; receivers de-duplicate by
 * wsa:MessageID). The publishing half is a separate connection, so a route
 * may not publish into a filter the bridge consumes (bridge_check_config).
 *
 * One thread owns the socket; other threads only set a flag and write to the
 * wake pipe (resubscribe after a reload, stop).
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mqtt_batch.h"
#include "mqtt_conn.h"
#include "mqtt_ingress.h"
#include "mqtt_packet.h"
#include "routes.h"
#include "util.h"

#define KEEPALIVE_S 20
#define RECEIVE_MAXIMUM 1000           /* the broker caps it by its max_inflight_messages */
#define BATCH_MAX_BYTES (8u << 20)     /* read no further before committing */
#define CONNECT_TIMEOUT_MS 10000
#define ROOM_POLL_MS 200               /* block mode: retry a full spool this often */
#define SESSION_EXPIRY 86400

typedef enum { CONN_NONE, CONN_CONNECTING, CONN_UP } conn_state;

struct mqtt_ingress {
    bridge *b;
    pthread_t thread;
    int wake[2];
    atomic_int stop, resubscribe;
    /* settings */
    char *host, *client_id, *username, *password;
    int port, version;
    SSL_CTX *tls;
    /* connection */
    mqtt_conn conn;
    conn_state state;
    struct timespec deadline;   /* CONNACK due */
    struct timespec ping_sent;
    int ping_outstanding, keepalive, subscribed_once, backoff_ms;
    uint16_t next_packet_id;
    uint8_t *rx;
    size_t rx_len, rx_cap;
    char **subscribed;
    size_t n_subscribed;
    mqtt_batch batch;
};

/* ------------------------------------------------------------ time */

static long ms_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static void stamp(struct timespec *t) { clock_gettime(CLOCK_MONOTONIC, t); }

/* ------------------------------------------------------------ sending */

static int send_obuf(mqtt_ingress *in, mqtt_obuf *o)
{
    int rc = o->failed ? -1 : mqtt_conn_write(&in->conn, o->p, o->len);
    mqtt_obuf_free(o);
    return rc;
}

/* A packet without a body (PINGREQ, DISCONNECT). */
static int send_bare(mqtt_ingress *in, int type)
{
    const uint8_t pkt[2] = {(uint8_t)(type << 4), 0};
    return mqtt_conn_write(&in->conn, pkt, sizeof pkt);
}

/* Sends one packet of a type and body. */
static int send_packet(mqtt_ingress *in, unsigned type_flags, mqtt_obuf *body)
{
    mqtt_obuf pkt = {0};
    mqtt_put_packet(&pkt, type_flags, body);
    mqtt_obuf_free(body);
    return send_obuf(in, &pkt);
}

static int send_connect(mqtt_ingress *in)
{
    mqtt_obuf pkt = {0};
    mqtt_put_connect(&pkt, in->version, in->client_id, in->username, in->password, KEEPALIVE_S,
                     SESSION_EXPIRY, RECEIVE_MAXIMUM);
    int rc = pkt.failed ? -1 : mqtt_conn_write(&in->conn, pkt.p, pkt.len);
    if (pkt.p) /* it holds the password */
        msgsec_free_secret(pkt.p, pkt.len);
    return rc;
}

/* ------------------------------------------------------------ connection */

static void close_connection(mqtt_ingress *in)
{
    mqtt_conn_close(&in->conn);
    in->state = CONN_NONE;
    in->rx_len = 0;
    atomic_fetch_and(&in->b->metrics.connected[SIDE_MQTT], ~MQTT_LINK_RECEIVE);
}

static void drop_connection(mqtt_ingress *in, const char *why)
{
    if (in->conn.fd < 0)
        return;
    int was_up = in->state == CONN_UP;
    close_connection(in);
    if (was_up) {
        atomic_fetch_add(&in->b->metrics.reconnects[SIDE_MQTT], 1);
        blog(LOG_WARN, "mqtt_disconnected", "host=%s port=%d cause=\"%s\"", in->host, in->port, why);
    } else {
        blog(LOG_WARN, "mqtt_connect_failed", "host=%s port=%d cause=\"%s\"", in->host, in->port, why);
    }
}

static int open_connection(mqtt_ingress *in)
{
    const char *why;
    if (mqtt_conn_open(&in->conn, in->host, in->port, in->tls, &why) != 0) {
        blog(LOG_WARN, "mqtt_connect_failed", "host=%s port=%d cause=\"%s\"", in->host, in->port, why);
        return -1;
    }
    in->state = CONN_CONNECTING;
    stamp(&in->deadline);
    in->ping_outstanding = 0;
    in->keepalive = KEEPALIVE_S;
    in->subscribed_once = 0;
    if (send_connect(in) != 0) {
        drop_connection(in, "cannot send CONNECT");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ subscriptions */

/* Subscriptions in place (or none to make): from here on nothing published
 * is missed, so the receiving half counts as connected. */
static void receiving(mqtt_ingress *in, size_t filters)
{
    if (in->subscribed_once)
        return;
    in->subscribed_once = 1;
    atomic_fetch_or(&in->b->metrics.connected[SIDE_MQTT], MQTT_LINK_RECEIVE);
    blog(LOG_INFO, "mqtt_connected", "host=%s port=%d client_id=%s filters=%zu", in->host, in->port,
         in->client_id, filters);
}

static int in_list(char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

static uint16_t packet_id(mqtt_ingress *in)
{
    if (++in->next_packet_id == 0)
        in->next_packet_id = 1;
    return in->next_packet_id;
}

/* Subscribes the filters of the current routing table and unsubscribes those
 * a reload removed (the session is persistent: they would stay). */
static int subscribe_all(mqtt_ingress *in)
{
    route_table *t = bridge_routes(in->b);
    const msgsec_config *cfg = t->cfg;
    char **filters = calloc(cfg->n_routes + 1, sizeof *filters);
    mqtt_obuf sub = {0}, unsub = {0};
    size_t n = 0, n_gone = 0;
    mqtt_put_u16(&sub, packet_id(in));
    if (in->version == 5)
        mqtt_put_u8(&sub, 0); /* no properties */
    for (size_t i = 0; filters && i < cfg->n_routes; i++) {
        bridge_side side;
        const char *name;
        if (route_endpoint(cfg->routes[i].from, &side, &name) || side != SIDE_MQTT ||
            in_list(filters, n, name) || !(filters[n] = strdup(name)))
            continue;
        mqtt_put_str(&sub, name);
        mqtt_put_u8(&sub, cfg->routes[i].qos > 1 ? 1u : (unsigned)cfg->routes[i].qos);
        n++;
    }
    routes_release(t);
    if (!filters) {
        mqtt_obuf_free(&sub);
        return -1;
    }
    mqtt_put_u16(&unsub, packet_id(in));
    if (in->version == 5)
        mqtt_put_u8(&unsub, 0);
    for (size_t i = 0; i < in->n_subscribed; i++)
        if (!in_list(filters, n, in->subscribed[i])) {
            mqtt_put_str(&unsub, in->subscribed[i]);
            n_gone++;
        }
    int rc = 0;
    if (n_gone > 0) {
        rc = send_packet(in, MQTT_UNSUBSCRIBE << 4 | 0x2, &unsub);
        blog(rc ? LOG_ERROR : LOG_INFO, "mqtt_unsubscribe", "filters=%zu rc=%d", n_gone, rc);
    }
    if (rc == 0 && n > 0)
        rc = send_packet(in, MQTT_SUBSCRIBE << 4 | 0x2, &sub);
    mqtt_obuf_free(&sub);
    mqtt_obuf_free(&unsub);
    free_list(in->subscribed, in->n_subscribed);
    in->subscribed = filters;
    in->n_subscribed = n;
    if (rc == 0 && n == 0) /* no SUBACK to wait for */
        receiving(in, 0);
    return rc;
}

/* ------------------------------------------------------------ receive */

/* One PUBLISH: routed, spooled and acknowledged with its batch. */
static int on_publish(mqtt_ingress *in, unsigned flags, const uint8_t *body, size_t len)
{
    mqtt_publish pub;
    int rc = mqtt_decode_publish(in->version, flags, body, len, &pub);
    if (rc == 0 && (rc = mqtt_batch_add(&in->batch, &pub)) != 0)
        rc = -2;
    if (rc != 0)
        blog(LOG_ERROR, "mqtt_message", "reason=%s", rc == -1 ? "malformed_publish" : "out_of_memory");
    return rc == 0 ? 0 : -1;
}

static int on_connack(mqtt_ingress *in, const uint8_t *body, size_t len)
{
    int session_present, reason;
    if (in->state != CONN_CONNECTING ||
        mqtt_decode_connack(in->version, body, len, &session_present, &reason, &in->keepalive) != 0)
        return -1;
    if (reason != 0) {
        blog(LOG_WARN, "mqtt_connect_failed", "host=%s port=%d reason=%d", in->host, in->port, reason);
        return -1;
    }
    in->state = CONN_UP;
    in->backoff_ms = BACKOFF_MIN_MS;
    blog(LOG_INFO, "mqtt_session", "host=%s port=%d client_id=%s session_present=%d keepalive=%d",
         in->host, in->port, in->client_id, session_present, in->keepalive);
    return subscribe_all(in);
}

static int on_suback(mqtt_ingress *in, int type, const uint8_t *body, size_t len)
{
    size_t n, refused;
    if (mqtt_decode_suback(in->version, body, len, &n, &refused) != 0)
        return -1;
    if (type == MQTT_UNSUBACK)
        return 0;
    if (refused)
        blog(LOG_ERROR, "mqtt_subscribe_refused", "filters=%zu refused=%zu", n, refused);
    blog(LOG_INFO, "mqtt_subscribe", "filters=%zu", n);
    receiving(in, n);
    return 0;
}

static int send_ack(mqtt_ingress *in, int type, uint16_t id)
{
    mqtt_obuf body = {0};
    mqtt_put_u16(&body, id);
    return send_packet(in, (unsigned)type << 4 | (type == MQTT_PUBREL ? 0x2u : 0u), &body);
}

/* Handles one complete packet. -1: drop the connection. */
static int on_packet(mqtt_ingress *in, unsigned header, const uint8_t *body, size_t len)
{
    int type = (int)(header >> 4);
    if (in->state == CONN_CONNECTING && type != MQTT_CONNACK)
        return -1;
    switch (type) {
    case MQTT_CONNACK: return on_connack(in, body, len);
    case MQTT_PUBLISH: return on_publish(in, header & 0xf, body, len);
    case MQTT_SUBACK:
    case MQTT_UNSUBACK: return on_suback(in, type, body, len);
    case MQTT_PUBREL: /* QoS 2 (only if the broker upgrades): its PUBREC followed the commit */
        return len >= 2 ? send_ack(in, MQTT_PUBCOMP, (uint16_t)(body[0] << 8 | body[1])) : -1;
    case MQTT_PINGRESP:
        in->ping_outstanding = 0;
        return 0;
    case MQTT_DISCONNECT:
        blog(LOG_WARN, "mqtt_server_disconnect", "reason=%d", len ? body[0] : 0);
        return -1;
    default:
        return -1;
    }
}

/* Parses every complete packet in the receive buffer; makes room for the
 * whole of a packet that has only begun to arrive. */
static int parse_packets(mqtt_ingress *in)
{
    size_t off = 0, header_len = 0, body_len = 0;
    int rc = 0, framed;
    while ((framed = mqtt_frame(in->rx + off, in->rx_len - off, &header_len, &body_len)) == 1) {
        rc = on_packet(in, in->rx[off], in->rx + off + header_len, body_len);
        off += header_len + body_len;
        header_len = body_len = 0;
        if (rc != 0)
            break;
    }
    if (rc == 0 && framed < 0)
        rc = -1;
    memmove(in->rx, in->rx + off, in->rx_len - off);
    in->rx_len -= off;
    if (rc == 0 && array_reserve(&in->rx, &in->rx_cap, header_len + body_len, 1) != 0)
        return -1;
    return rc;
}

/* Reads what has arrived (up to a batch's worth) and parses it. */
static int receive(mqtt_ingress *in)
{
    for (;;) {
        if (array_reserve(&in->rx, &in->rx_cap, in->rx_len + 16384, 1))
            return -1;
        ssize_t k = mqtt_conn_read(&in->conn, in->rx + in->rx_len, in->rx_cap - in->rx_len);
        if (k < 0)
            return -1;
        in->rx_len += (size_t)k;
        if (parse_packets(in) != 0)
            return -1;
        if (in->batch.n_msgs >= RECEIVE_MAXIMUM || in->batch.bytes >= BATCH_MAX_BYTES ||
            !mqtt_conn_readable(&in->conn))
            return 0;
    }
}

/* ------------------------------------------------------------ waiting */

static void drain_wake(mqtt_ingress *in)
{
    char buf[64];
    while (read(in->wake[0], buf, sizeof buf) > 0)
        ;
}

/* Sleeps up to ms, woken early by a stop or resubscribe request (their flags
 * stay set for the loop). */
static void pause_ms(mqtt_ingress *in, long ms)
{
    struct pollfd p = {in->wake[0], POLLIN, 0};
    if (poll(&p, 1, (int)ms) > 0)
        drain_wake(in);
}

static void wait_backoff(mqtt_ingress *in) { pause_ms(in, backoff_next(&in->backoff_ms)); }

/* when_full: block. Nothing more is read meanwhile, so the broker holds the
 * rest of its window; PINGREQs keep the session up (their PINGRESPs are read
 * later). */
static int wait_room(void *arg)
{
    mqtt_ingress *in = arg;
    if (atomic_load(&in->stop) || atomic_load(&in->b->stopping))
        return -1;
    pause_ms(in, ROOM_POLL_MS);
    if (in->keepalive && ms_since(&in->conn.last_sent) >= in->keepalive * 500L)
        send_bare(in, MQTT_PINGREQ);
    return 0;
}

/* Group commit of what was read, then the acknowledgements (see mqtt_batch.h). */
static int commit(mqtt_ingress *in)
{
    mqtt_obuf acks = {0};
    int complete = mqtt_batch_commit(&in->batch, in->b, &acks, wait_room, in);
    int rc = acks.len ? send_obuf(in, &acks) : 0;
    mqtt_obuf_free(&acks);
    return complete == 0 && rc == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ thread */

/* ms until the next keepalive action (PINGREQ, or giving up on PINGRESP /
 * CONNACK); -1 = none */
static int next_timeout(mqtt_ingress *in)
{
    long t;
    if (in->state == CONN_CONNECTING)
        t = CONNECT_TIMEOUT_MS - ms_since(&in->deadline);
    else if (in->keepalive == 0)
        return -1;
    else if (in->ping_outstanding)
        t = in->keepalive * 1000L - ms_since(&in->ping_sent);
    else
        t = in->keepalive * 500L - ms_since(&in->conn.last_sent);
    return t < 0 ? 0 : t > 60000 ? 60000 : (int)t;
}

/* Keepalive due now: PINGREQ, or the connection dropped when the broker went
 * silent (no CONNACK / PINGRESP in time). */
static void keepalive(mqtt_ingress *in)
{
    if (in->state == CONN_CONNECTING) {
        if (ms_since(&in->deadline) >= CONNECT_TIMEOUT_MS)
            drop_connection(in, "no CONNACK");
    } else if (in->keepalive == 0) {
        return;
    } else if (in->ping_outstanding) {
        if (ms_since(&in->ping_sent) >= in->keepalive * 1000L)
            drop_connection(in, "no PINGRESP");
    } else if (ms_since(&in->conn.last_sent) >= in->keepalive * 500L) {
        if (send_bare(in, MQTT_PINGREQ) != 0) {
            drop_connection(in, "cannot send PINGREQ");
            return;
        }
        in->ping_outstanding = 1;
        stamp(&in->ping_sent);
    }
}

static void *ingress_thread(void *arg)
{
    mqtt_ingress *in = arg;
    while (!atomic_load(&in->stop)) {
        if (in->conn.fd < 0) {
            if (open_connection(in) != 0)
                wait_backoff(in);
            continue;
        }
        int pending_tls = mqtt_conn_buffered(&in->conn);
        struct pollfd p[2] = {{in->conn.fd, POLLIN, 0}, {in->wake[0], POLLIN, 0}};
        int timeout = next_timeout(in);
        if (poll(p, 2, pending_tls ? 0 : timeout) < 0 && errno != EINTR)
            break;
        if (p[1].revents)
            drain_wake(in);
        if (atomic_exchange(&in->resubscribe, 0) && in->state == CONN_UP && subscribe_all(in) != 0) {
            drop_connection(in, "cannot subscribe");
            continue;
        }
        if (!p[0].revents && !pending_tls) {
            keepalive(in);
            continue;
        }
        /* what was parsed before a failure is still spooled (not acknowledged
           if the connection is gone: the broker redelivers it) */
        int received = receive(in);
        if (commit(in) != 0 || received != 0) {
            const int held = in->batch.held;
            drop_connection(in, held ? "a message is held" : "connection lost or protocol error");
            if (atomic_load(&in->stop))
                continue;
            if (held)
                pause_ms(in, RETRY_LATER_MS);
            else
                wait_backoff(in);
            continue;
        }
        keepalive(in);
    }
    if (in->conn.fd >= 0 && in->state == CONN_UP)
        send_bare(in, MQTT_DISCONNECT);
    close_connection(in);
    return NULL;
}

/* ------------------------------------------------------------ public */

static void ingress_free(mqtt_ingress *in)
{
    if (!in)
        return;
    mqtt_batch_free(&in->batch);
    free(in->rx);
    free_list(in->subscribed, in->n_subscribed);
    free(in->host);
    free(in->client_id);
    free(in->username);
    if (in->password)
        msgsec_free_secret(in->password, strlen(in->password));
    SSL_CTX_free(in->tls);
    if (in->wake[0] >= 0)
        close(in->wake[0]);
    if (in->wake[1] >= 0)
        close(in->wake[1]);
    free(in);
}

msgsec_err mqtt_ingress_start(bridge *b, const msgsec_config *cfg, const char *password,
                              mqtt_ingress **out, msgsec_error *err)
{
    *out = NULL;
    mqtt_ingress *in = calloc(1, sizeof *in);
    if (!in)
        return bridge_err(err, MSGSEC_E_INTERNAL, "out of memory");
    in->b = b;
    in->conn = (mqtt_conn)MQTT_CONN_CLOSED;
    in->wake[0] = in->wake[1] = -1;
    in->backoff_ms = BACKOFF_MIN_MS;
    in->version = cfg->mqtt.version == 4 ? 4 : 5;
    in->port = cfg->mqtt.port; /* host, port and client id have defaults in the loader */
    in->host = strdup(cfg->mqtt.host);
    in->client_id = strdup(cfg->mqtt.client_id);
    in->username = cfg->mqtt.username ? strdup(cfg->mqtt.username) : NULL;
    in->password = password ? strdup(password) : NULL;
    msgsec_err rc = MSGSEC_OK;
    if (!in->host || !in->client_id || (cfg->mqtt.username && !in->username) || (password && !in->password) ||
        pipe2(in->wake, O_CLOEXEC | O_NONBLOCK) != 0)
        rc = bridge_err(err, MSGSEC_E_INTERNAL, "out of memory");
    else if ((cfg->mqtt.tls.ca || cfg->mqtt.tls.cert) && (rc = mqtt_tls_context(cfg, &in->tls, err)))
        ;
    else if (pthread_create(&in->thread, NULL, ingress_thread, in))
        rc = bridge_err(err, MSGSEC_E_INTERNAL, "cannot start the MQTT receive thread");
    if (rc) {
        ingress_free(in);
        return rc;
    }
    *out = in;
    return MSGSEC_OK;
}

static void wake(mqtt_ingress *in)
{
    ssize_t k = write(in->wake[1], "w", 1);
    (void)k; /* a full pipe already wakes the thread */
}

void mqtt_ingress_resubscribe(mqtt_ingress *in)
{
    atomic_store(&in->resubscribe, 1);
    wake(in);
}

void mqtt_ingress_stop(mqtt_ingress *in)
{
    if (!in)
        return;
    atomic_store(&in->stop, 1);
    wake(in);
    pthread_join(in->thread, NULL);
    ingress_free(in);
}
