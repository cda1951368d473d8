/* mqtt_side.c - the MQTT side. Receiving is mqtt_ingress.c (our own
 * subscriber connection, group commit before PUBACK); publishing what the
 * spool holds for MQTT is Eclipse Paho MQTT C (MQTTAsync, MQTT 5 or 3.1.1)
 * on a second connection, client id "<mqtt.client_id>-pub".
 *
 * A message leaves the spool only when Paho reports it complete (PUBACK for
 * QoS 1, PUBCOMP for QoS 2); on reconnect everything still spooled is sent
 * again (at-least-once). The spool is the only store: this connection starts
 * clean, without Paho persistence. (With a persistent session Paho re-sent
 * its own in-flight publishes on reconnect on top of the pump's, more than
 * Mosquitto's receive maximum, and Mosquitto closed the connection every
 * time: the MQTT-bound stream stalled after a Mosquitto restart.)
 */
#include <MQTTAsync.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counters.h"
#include "hub.h"
#include "log.h"
#include "mqtt_ingress.h"
#include "mqtt_side.h"
#include "spool.h"
#include "util.h"

#define MAX_INFLIGHT 20 /* Mosquitto's default max_inflight_messages */
#define SEND_BATCH 20

struct mqtt_side {
    bridge *b;
    MQTTAsync client;
    pthread_t pump;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    mqtt_ingress *ingress;
    int notified;
    int connected, connecting, stopping, stop_pump;
    unsigned session;       /* connection generation: callbacks of older ones are ignored */
    uint64_t cursor;
    size_t inflight;
    uint64_t *done; size_t n_done, cap_done; /* acknowledged: leave the spool (pump batches) */
    int backoff_ms;
    struct timespec next_attempt;
    char *uri, *client_id, *username, *password;
    char *ca, *cert, *key;
    int version;
};

typedef struct send_ctx {
    mqtt_side *m;
    uint64_t id;
    unsigned session;
} send_ctx;

/* ------------------------------------------------------------ helpers */

static void now_plus(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static int due(const struct timespec *ts)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > ts->tv_sec || (now.tv_sec == ts->tv_sec && now.tv_nsec >= ts->tv_nsec);
}

/* ------------------------------------------------------------ connection */

/* This connection subscribes to nothing (mqtt_ingress.c receives), but Paho
 * requires a messageArrived callback. */
static int on_unexpected_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
    (void)ctx;
    (void)topic_len;
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1;
}

static void on_connected(void *ctx, char *cause)
{
    mqtt_side *ms = ctx;
    (void)cause;
    pthread_mutex_lock(&ms->lock);
    ms->connected = 1;
    ms->connecting = 0;
    ms->session++;
    ms->cursor = 0; /* re-send whatever is still spooled (in doubt) */
    ms->inflight = 0;
    ms->backoff_ms = BACKOFF_MIN_MS;
    ms->notified = 1;
    pthread_cond_signal(&ms->wake);
    pthread_mutex_unlock(&ms->lock);
    atomic_fetch_or(&ms->b->metrics.connected[SIDE_MQTT], MQTT_LINK_PUBLISH);
    blog(LOG_INFO, "mqtt_out_connected", "uri=%s client_id=%s", ms->uri, ms->client_id);
}

static void schedule_reconnect(mqtt_side *ms)
{
    /* called with ms->lock held */
    now_plus(&ms->next_attempt, backoff_next(&ms->backoff_ms));
    ms->connecting = 0;
}

/* The connection is down (lost, refused, or closed by the broker right
 * after it was made): callbacks of the old session are ignored, the pump
 * reconnects after the backoff and then re-sends what is still spooled. */
static void mark_down(mqtt_side *ms)
{
    pthread_mutex_lock(&ms->lock);
    ms->connected = 0;
    ms->session++;
    schedule_reconnect(ms);
    pthread_mutex_unlock(&ms->lock);
    atomic_fetch_and(&ms->b->metrics.connected[SIDE_MQTT], ~MQTT_LINK_PUBLISH);
}

static void on_connection_lost(void *ctx, char *cause)
{
    mqtt_side *ms = ctx;
    mark_down(ms);
    atomic_fetch_add(&ms->b->metrics.reconnects[SIDE_MQTT], 1);
    blog(LOG_WARN, "mqtt_out_disconnected", "uri=%s cause=\"%s\"", ms->uri, cause ? cause : "");
}

static void connect_failed(mqtt_side *ms, int code, int reason, const char *message)
{
    /* also after on_connected: a broker may close the session at once
       (seen with Mosquitto just restarted), with no connectionLost */
    mark_down(ms);
    blog(LOG_WARN, "mqtt_out_connect_failed", "uri=%s code=%d reason=%d message=\"%s\"", ms->uri, code,
         reason, message ? message : "");
}

/* Paho has one callback signature per protocol version. */
static void on_connect_failure5(void *ctx, MQTTAsync_failureData5 *r)
{
    connect_failed(ctx, r ? r->code : 0, r ? (int)r->reasonCode : 0, r ? r->message : NULL);
}

static void on_connect_failure(void *ctx, MQTTAsync_failureData *r)
{
    connect_failed(ctx, r ? r->code : 0, 0, r ? r->message : NULL);
}

static void start_connect(mqtt_side *ms)
{
    MQTTAsync_connectOptions v5 = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_connectOptions v311 = MQTTAsync_connectOptions_initializer;
    MQTTAsync_connectOptions o = ms->version == 5 ? v5 : v311;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    if (ms->version == 5)
        o.cleanstart = 1;
    else
        o.cleansession = 1;
    o.keepAliveInterval = 20;
    o.username = ms->username;
    o.password = ms->password;
    o.context = ms;
    if (ms->version == 5)
        o.onFailure5 = on_connect_failure5;
    else
        o.onFailure = on_connect_failure;
    if (ms->ca || ms->cert) {
        ssl.trustStore = ms->ca;
        ssl.keyStore = ms->cert;
        ssl.privateKey = ms->key;
        ssl.enableServerCertAuth = ms->ca != NULL;
        ssl.verify = ms->ca != NULL;
        o.ssl = &ssl;
    }
    int rc = MQTTAsync_connect(ms->client, &o);
    if (rc != MQTTASYNC_SUCCESS) {
        pthread_mutex_lock(&ms->lock);
        schedule_reconnect(ms);
        pthread_mutex_unlock(&ms->lock);
        blog(LOG_WARN, "mqtt_out_connect_failed", "uri=%s code=%d", ms->uri, rc);
    }
}

/* ------------------------------------------------------------ publish */

static void sent(send_ctx *sc, int ok)
{
    mqtt_side *ms = sc->m;
    pthread_mutex_lock(&ms->lock);
    if (ok) {
        atomic_fetch_add(&ms->b->metrics.delivered[SIDE_MQTT], 1);
        /* without room it stays spooled: one duplicate after a restart */
        if (array_reserve(&ms->done, &ms->cap_done, ms->n_done + 1, sizeof *ms->done) == 0)
            ms->done[ms->n_done++] = sc->id;
    }
    if (sc->session == ms->session) {
        if (ms->inflight)
            ms->inflight--;
        if (!ok && sc->id <= ms->cursor)
            ms->cursor = sc->id - 1;
        ms->notified = 1;
        pthread_cond_signal(&ms->wake);
    }
    pthread_mutex_unlock(&ms->lock);
    free(sc);
}

static void on_sent5(void *ctx, MQTTAsync_successData5 *r)
{
    (void)r;
    sent(ctx, 1);
}

static void on_sent(void *ctx, MQTTAsync_successData *r)
{
    (void)r;
    sent(ctx, 1);
}

static void send_failed(send_ctx *sc, int code, int reason)
{
    blog(LOG_WARN, "mqtt_publish_failed", "id=%llu code=%d reason=%d", (unsigned long long)sc->id,
         code, reason);
    sent(sc, 0);
}

static void on_send_failed5(void *ctx, MQTTAsync_failureData5 *r)
{
    send_failed(ctx, r ? r->code : 0, r ? (int)r->reasonCode : 0);
}

static void on_send_failed(void *ctx, MQTTAsync_failureData *r)
{
    send_failed(ctx, r ? r->code : 0, 0);
}

static void add_str_prop(MQTTProperties *props, enum MQTTPropertyCodes code, const char *data,
                         size_t len, const char *value)
{
    MQTTProperty p = {.identifier = code};
    p.value.data.data = (char *)data;
    p.value.data.len = (int)len;
    if (value) {
        p.value.value.data = (char *)value;
        p.value.value.len = (int)strlen(value);
    }
    MQTTProperties_add(props, &p);
}

/* Publishes one spooled message; 0 if handed to Paho. */
static int publish(mqtt_side *ms, const bmsg *m, unsigned session)
{
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    MQTTProperties props = MQTTProperties_initializer;
    msg.payload = m->payload;
    msg.payloadlen = (int)m->payload_len;
    msg.qos = m->qos;
    if (m->content_type)
        add_str_prop(&props, MQTTPROPERTY_CODE_CONTENT_TYPE, m->content_type, strlen(m->content_type), NULL);
    if (m->correlation)
        add_str_prop(&props, MQTTPROPERTY_CODE_CORRELATION_DATA, (const char *)m->correlation,
                     m->correlation_len, NULL);
    if (m->reply_to)
        add_str_prop(&props, MQTTPROPERTY_CODE_RESPONSE_TOPIC, m->reply_to, strlen(m->reply_to), NULL);
    if (m->ttl_ms > 0) {
        MQTTProperty p = {.identifier = MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL,
                          .value.integer4 = (unsigned)((m->ttl_ms + 999) / 1000)};
        MQTTProperties_add(&props, &p);
    }
    for (size_t i = 0; i < m->n_props; i++)
        add_str_prop(&props, MQTTPROPERTY_CODE_USER_PROPERTY, m->props[i].key,
                     strlen(m->props[i].key), m->props[i].value);
    if (m->bridge_id)
        add_str_prop(&props, MQTTPROPERTY_CODE_USER_PROPERTY, BMSG_BRIDGE_ID_PROP,
                     strlen(BMSG_BRIDGE_ID_PROP), m->bridge_id);
    if (ms->version == 5)
        msg.properties = props; /* MQTT 3.1.1 carries the payload only */
    send_ctx *sc = malloc(sizeof *sc);
    if (!sc) {
        MQTTProperties_free(&props);
        return -1;
    }
    *sc = (send_ctx){ms, m->id, session};
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    if (ms->version == 5) {
        ro.onSuccess5 = on_sent5;
        ro.onFailure5 = on_send_failed5;
    } else {
        ro.onSuccess = on_sent;
        ro.onFailure = on_send_failed;
    }
    ro.context = sc;
    int rc = MQTTAsync_sendMessage(ms->client, m->dest, &msg, &ro);
    MQTTProperties_free(&props);
    if (rc != MQTTASYNC_SUCCESS) {
        blog(LOG_WARN, "mqtt_publish_failed", "id=%llu code=%d", (unsigned long long)m->id, rc);
        free(sc);
        return -1;
    }
    return 0;
}

/* Removes the acknowledged messages from the spool, in one transaction. */
static void forget_done(mqtt_side *ms)
{
    pthread_mutex_lock(&ms->lock);
    uint64_t *ids = ms->done;
    size_t n = ms->n_done;
    ms->done = NULL;
    ms->n_done = ms->cap_done = 0;
    pthread_mutex_unlock(&ms->lock);
    spool_del(ms->b->spool, SIDE_MQTT, ids, n);
    free(ids);
}

/* Moves spooled MQTT-bound messages to Paho, MAX_INFLIGHT at a time. */
static void pump_once(mqtt_side *ms)
{
    bmsg *batch[SEND_BATCH];
    forget_done(ms);
    for (;;) {
        pthread_mutex_lock(&ms->lock);
        int ok = ms->connected && ms->inflight < MAX_INFLIGHT;
        uint64_t cursor = ms->cursor;
        size_t room = MAX_INFLIGHT - ms->inflight;
        unsigned session = ms->session;
        pthread_mutex_unlock(&ms->lock);
        if (!ok)
            return;
        size_t n = spool_next(ms->b->spool, SIDE_MQTT, cursor, batch, room < SEND_BATCH ? room : SEND_BATCH);
        size_t i = 0;
        for (; i < n; i++) {
            pthread_mutex_lock(&ms->lock);
            int same = session == ms->session;
            if (same) {
                ms->inflight++;
                ms->cursor = batch[i]->id;
            }
            pthread_mutex_unlock(&ms->lock);
            if (!same || publish(ms, batch[i], session)) {
                pthread_mutex_lock(&ms->lock);
                if (same && session == ms->session) {
                    ms->inflight--;
                    ms->cursor = batch[i]->id - 1;
                }
                pthread_mutex_unlock(&ms->lock);
                break;
            }
        }
        for (size_t j = 0; j < n; j++)
            bmsg_free(batch[j]);
        if (n == 0 || i < n)
            return;
    }
}

static void *pump_thread(void *arg)
{
    mqtt_side *ms = arg;
    for (;;) {
        pthread_mutex_lock(&ms->lock);
        if (!ms->notified && !ms->stop_pump) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 200 * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&ms->wake, &ms->lock, &until);
        }
        ms->notified = 0;
        int stop = ms->stop_pump;
        int reconnect = !ms->connected && !ms->connecting && !ms->stopping && due(&ms->next_attempt);
        if (reconnect)
            ms->connecting = 1;
        pthread_mutex_unlock(&ms->lock);
        if (stop)
            return NULL;
        if (reconnect)
            start_connect(ms);
        pump_once(ms);
    }
}

/* ------------------------------------------------------------ public */

static void mqtt_side_stop_pump(mqtt_side *ms)
{
    pthread_mutex_lock(&ms->lock);
    ms->stop_pump = 1;
    pthread_cond_signal(&ms->wake);
    pthread_mutex_unlock(&ms->lock);
    pthread_join(ms->pump, NULL);
}

static void side_free(mqtt_side *ms)
{
    if (!ms)
        return;
    if (ms->client)
        MQTTAsync_destroy(&ms->client);
    free(ms->uri);
    free(ms->client_id);
    free(ms->username);
    if (ms->password)
        msgsec_free_secret(ms->password, strlen(ms->password));
    free(ms->ca);
    free(ms->cert);
    free(ms->key);
    free(ms->done);
    pthread_cond_destroy(&ms->wake);
    pthread_mutex_destroy(&ms->lock);
    free(ms);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* Wake callback registered with the hub: MQTT-bound messages were spooled. */
static void wake(void *ctx)
{
    mqtt_side *ms = ctx;
    pthread_mutex_lock(&ms->lock);
    ms->notified = 1;
    pthread_cond_signal(&ms->wake);
    pthread_mutex_unlock(&ms->lock);
}

msgsec_err mqtt_side_start(bridge *b, mqtt_side **out, msgsec_error *err)
{
    *out = NULL;
    mqtt_side *ms = calloc(1, sizeof *ms);
    if (!ms)
        return bridge_err(err, MSGSEC_E_INTERNAL, "out of memory");
    pthread_mutex_init(&ms->lock, NULL);
    pthread_cond_init(&ms->wake, NULL);
    ms->b = b;
    ms->backoff_ms = BACKOFF_MIN_MS;
    route_table *t = bridge_routes(b);
    const msgsec_config *cfg = t->cfg;
    msgsec_err rc = MSGSEC_OK;
    int tls = cfg->mqtt.tls.ca || cfg->mqtt.tls.cert;
    char uri[600];
    snprintf(uri, sizeof uri, "%s://%s:%d", tls ? "ssl" : "tcp", cfg->mqtt.host, cfg->mqtt.port);
    ms->uri = strdup(uri);
    ms->client_id = malloc(strlen(cfg->mqtt.client_id) + sizeof "-pub");
    if (ms->client_id)
        sprintf(ms->client_id, "%s-pub", cfg->mqtt.client_id);
    ms->username = dup_or_null(cfg->mqtt.username);
    ms->ca = dup_or_null(cfg->mqtt.tls.ca);
    ms->cert = dup_or_null(cfg->mqtt.tls.cert);
    ms->key = dup_or_null(cfg->mqtt.tls.key);
    if (cfg->mqtt.password_file && (rc = bridge_read_secret(cfg->mqtt.password_file, &ms->password, err)))
        goto done;
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer5;
    ms->version = cfg->mqtt.version == 4 ? 4 : 5;
    co.MQTTVersion = ms->version == 4 ? MQTTVERSION_3_1_1 : MQTTVERSION_5;
    int prc = MQTTAsync_createWithOptions(&ms->client, ms->uri, ms->client_id,
                                          MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
    if (prc != MQTTASYNC_SUCCESS) {
        rc = bridge_err(err, MSGSEC_E_USAGE, "%s: mqtt: cannot create client for %s (code %d)",
                        cfg->path, ms->uri, prc);
        goto done;
    }
    MQTTAsync_setCallbacks(ms->client, ms, on_connection_lost, on_unexpected_message, NULL);
    MQTTAsync_setConnected(ms->client, ms, on_connected);
    clock_gettime(CLOCK_MONOTONIC, &ms->next_attempt);
    if (pthread_create(&ms->pump, NULL, pump_thread, ms)) {
        rc = bridge_err(err, MSGSEC_E_INTERNAL, "cannot start the MQTT thread");
        goto done;
    }
    if ((rc = mqtt_ingress_start(b, cfg, ms->password, &ms->ingress, err)))
        mqtt_side_stop_pump(ms);
    else
        bridge_set_wake(b, SIDE_MQTT, wake, ms);
done:
    routes_release(t);
    if (rc) {
        side_free(ms);
        return rc;
    }
    *out = ms;
    return MSGSEC_OK;
}

void mqtt_side_resubscribe(mqtt_side *ms) { mqtt_ingress_resubscribe(ms->ingress); }

void mqtt_side_stop(mqtt_side *ms, int timeout_ms)
{
    if (!ms)
        return;
    struct timespec deadline;
    bridge_set_wake(ms->b, SIDE_MQTT, NULL, NULL);
    mqtt_ingress_stop(ms->ingress); /* stop consuming first */
    ms->ingress = NULL;
    now_plus(&deadline, timeout_ms);
    pthread_mutex_lock(&ms->lock);
    ms->stopping = 1;
    pthread_mutex_unlock(&ms->lock);
    /* drain: wait for the publishes Paho holds to be acknowledged */
    for (;;) {
        pthread_mutex_lock(&ms->lock);
        int busy = ms->connected && ms->inflight > 0;
        pthread_mutex_unlock(&ms->lock);
        if (!busy || due(&deadline))
            break;
        struct timespec pause = {0, 20 * 1000000L};
        nanosleep(&pause, NULL);
    }
    mqtt_side_stop_pump(ms);
    forget_done(ms);
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer5;
    d.timeout = 1000;
    if (MQTTAsync_isConnected(ms->client))
        MQTTAsync_disconnect(ms->client, &d);
    for (int i = 0; i < 50 && MQTTAsync_isConnected(ms->client); i++) {
        struct timespec pause = {0, 20 * 1000000L};
        nanosleep(&pause, NULL);
    }
    side_free(ms);
}
