/* mqtt_side.c - the MQTT side (Eclipse Paho MQTT C, MQTTAsync, MQTT 5).
 *
 * Why Paho and not libmosquitto: libmosquitto 2.0.11 sends the PUBACK of a
 * QoS 1 message before on_message runs, so a bridge killed in between loses
 * the message. Paho's MQTTAsync (1.3.12, src/MQTTProtocolClient.c
 * MQTTProtocol_handlePublishes + src/MQTTAsyncUtils.c
 * Protocol_processPublication) calls messageArrived inline, on its receive
 * thread, *before* it writes the PUBACK; a message it cannot hand over at once
 * (callback returned 0, or older messages still queued) is first written to
 * Paho's persistence store (enabled here, under spool.path) and only then
 * acknowledged, and restored into the queue on restart. Our messageArrived
 * returns 1 only after the routed result is fsync'd in the spool, so no
 * acknowledged message exists only in memory.
 *
 * QoS 2 in: Paho sends PUBREC (MQTT 5) before delivering, which reopens the
 * window, so subscriptions are made at most at QoS 1: the bridge guarantees
 * at-least-once and receivers de-duplicate by wsa:MessageID. QoS 2 out is
 * honoured (the spool keeps the message until PUBCOMP).
 *
 * The session is persistent (clean start off, session expiry one day, fixed
 * client id): messages published while the bridge is down wait in Mosquitto.
 * Subscriptions use No Local so a topic the bridge both publishes and
 * subscribes cannot loop.
 */
#include <MQTTAsync.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"
#include "internal.h"

#define MAX_INFLIGHT 20 /* Mosquitto's default max_inflight_messages */
#define SEND_BATCH 20
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 10000
#define SESSION_EXPIRY 86400

struct mqtt_side {
    bridge *b;
    MQTTAsync client;
    pthread_t pump;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_mutex_t sub_lock; /* guards subscribed */
    char **subscribed; size_t n_subscribed;
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

static char *lenstr(const MQTTLenString *s, size_t *len)
{
    char *out = malloc((size_t)s->len + 1);
    if (out) {
        memcpy(out, s->data, (size_t)s->len);
        out[s->len] = 0;
        if (len)
            *len = (size_t)s->len;
    }
    return out;
}

/* ------------------------------------------------------------ receive */

/* MQTT 5 message -> bmsg (topic as subject; user properties as properties;
 * msgsec-bridge-id kept as the bridge id). */
static bmsg *from_mqtt(const char *topic, const MQTTAsync_message *msg)
{
    bmsg *m = calloc(1, sizeof *m);
    if (!m || bmsg_set_payload(m, msg->payload, (size_t)msg->payloadlen) ||
        !(m->subject = strdup(topic))) {
        bmsg_free(m);
        return NULL;
    }
    m->qos = msg->qos;
    int ok = 1;
    for (int i = 0; ok && i < msg->properties.count; i++) {
        const MQTTProperty *p = &msg->properties.array[i];
        switch (p->identifier) {
        case MQTTPROPERTY_CODE_CONTENT_TYPE:
            free(m->content_type);
            ok = (m->content_type = lenstr(&p->value.data, NULL)) != NULL;
            break;
        case MQTTPROPERTY_CODE_CORRELATION_DATA:
            free(m->correlation);
            ok = (m->correlation = (uint8_t *)lenstr(&p->value.data, &m->correlation_len)) != NULL;
            break;
        case MQTTPROPERTY_CODE_RESPONSE_TOPIC:
            free(m->reply_to);
            ok = (m->reply_to = lenstr(&p->value.data, NULL)) != NULL;
            break;
        case MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL:
            m->ttl_ms = (int64_t)p->value.integer4 * 1000;
            break;
        case MQTTPROPERTY_CODE_USER_PROPERTY: {
            char *k = lenstr(&p->value.data, NULL), *v = lenstr(&p->value.value, NULL);
            if (k && v && strcmp(k, "msgsec-bridge-id") == 0 && !m->bridge_id) {
                m->bridge_id = v;
                v = NULL;
            } else
                ok = k && v && bmsg_add_prop(m, k, v) == 0;
            free(k);
            free(v);
            break;
        }
        default:
            break;
        }
    }
    if (!ok) {
        bmsg_free(m);
        return NULL;
    }
    return m;
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
    mqtt_side *ms = ctx;
    char *t = topic_len > 0 ? strndup(topic, (size_t)topic_len) : strdup(topic);
    bmsg *in = t ? from_mqtt(t, msg) : NULL;
    bmsg **outs = NULL;
    size_t n = 0;
    int handled = 0;
    if (!in) {
        blog(LOG_ERROR, "mqtt_message", "reason=out_of_memory");
        goto done; /* returning 0: Paho keeps it queued and persisted */
    }
    route_table *rt = routes_acquire(ms->b);
    int matched = routes_apply(ms->b, rt, SIDE_MQTT, t, in, &outs, &n);
    routes_release(rt);
    if (matched < 0)
        goto done;
    msgsec_error err = {0};
    msgsec_err rc = spool_put(ms->b->spool, outs, n, 1, &err);
    if (rc == MSGSEC_OK) {
        bridge_notify(ms->b, outs, n);
        handled = 1;
    } else if ((rc == SPOOL_FULL && !atomic_load(&ms->b->stopping)) || rc == SPOOL_TOO_BIG) {
        /* when_full: reject. MQTT has no negative acknowledgement for a
           subscriber: the message is dropped, counted and logged. */
        atomic_fetch_add(&ms->b->metrics.rejects[REJECT_SPOOL_FULL], 1);
        blog(LOG_WARN, "reject", "side=mqtt topic=%s reason=spool_full detail=\"%s\"", t, err.detail);
        handled = 1;
    } else {
        blog(LOG_ERROR, "spool_refused", "side=mqtt topic=%s reason=\"%s\"", t, err.detail);
    }
done:
    for (size_t i = 0; i < n; i++)
        bmsg_free(outs[i]);
    free(outs);
    bmsg_free(in);
    free(t);
    if (handled) {
        MQTTAsync_freeMessage(&msg);
        MQTTAsync_free(topic);
    }
    return handled;
}

/* ------------------------------------------------------------ connection */

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

/* Subscribes the filters of the current routing table and unsubscribes
 * those a reload removed (the session is persistent: they would stay). */
static void subscribe_all(mqtt_side *ms)
{
    route_table *t = routes_acquire(ms->b);
    const msgsec_config *cfg = t->cfg;
    char **filters = calloc(cfg->n_routes + 1, sizeof *filters);
    int *qos = calloc(cfg->n_routes + 1, sizeof *qos);
    MQTTSubscribe_options *opts = calloc(cfg->n_routes + 1, sizeof *opts);
    size_t n = 0;
    for (size_t i = 0; filters && qos && opts && i < cfg->n_routes; i++) {
        bridge_side side;
        const char *name;
        if (route_endpoint(cfg->routes[i].from, &side, &name) || side != SIDE_MQTT ||
            in_list(filters, n, name) || !(filters[n] = strdup(name)))
            continue;
        qos[n] = cfg->routes[i].qos > 1 ? 1 : cfg->routes[i].qos;
        opts[n] = (MQTTSubscribe_options)MQTTSubscribe_options_initializer;
        opts[n].noLocal = 1;
        n++;
    }
    routes_release(t);
    pthread_mutex_lock(&ms->sub_lock);
    char **gone = calloc(ms->n_subscribed + 1, sizeof *gone);
    int n_gone = 0;
    for (size_t i = 0; gone && i < ms->n_subscribed; i++)
        if (!in_list(filters, n, ms->subscribed[i]))
            gone[n_gone++] = ms->subscribed[i];
    if (n_gone > 0) {
        int rc = MQTTAsync_unsubscribeMany(ms->client, n_gone, gone, NULL);
        blog(rc == MQTTASYNC_SUCCESS ? LOG_INFO : LOG_ERROR, "mqtt_unsubscribe", "filters=%d rc=%d", n_gone, rc);
    }
    free(gone);
    if (n > 0) {
        MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
        if (ms->version == 5) {
            ro.subscribeOptionsCount = (int)n;
            ro.subscribeOptionsList = opts;
        }
        int rc = MQTTAsync_subscribeMany(ms->client, (int)n, filters, qos, &ro);
        blog(rc == MQTTASYNC_SUCCESS ? LOG_INFO : LOG_ERROR, "mqtt_subscribe", "filters=%zu rc=%d", n, rc);
    }
    free_list(ms->subscribed, ms->n_subscribed);
    ms->subscribed = filters;
    ms->n_subscribed = n;
    pthread_mutex_unlock(&ms->sub_lock);
    free(qos);
    free(opts);
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
    atomic_store(&ms->b->metrics.connected[SIDE_MQTT], 1);
    blog(LOG_INFO, "mqtt_connected", "uri=%s client_id=%s", ms->uri, ms->client_id);
    subscribe_all(ms);
}

static void schedule_reconnect(mqtt_side *ms)
{
    /* exponential backoff with jitter; called with ms->lock held */
    long delay = ms->backoff_ms / 2 + random() % (ms->backoff_ms / 2 + 1);
    now_plus(&ms->next_attempt, delay);
    ms->backoff_ms = ms->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms->backoff_ms * 2;
    ms->connecting = 0;
}

static void on_connection_lost(void *ctx, char *cause)
{
    mqtt_side *ms = ctx;
    pthread_mutex_lock(&ms->lock);
    ms->connected = 0;
    ms->session++;
    schedule_reconnect(ms);
    pthread_mutex_unlock(&ms->lock);
    atomic_store(&ms->b->metrics.connected[SIDE_MQTT], 0);
    atomic_fetch_add(&ms->b->metrics.reconnects[SIDE_MQTT], 1);
    blog(LOG_WARN, "mqtt_disconnected", "uri=%s cause=\"%s\"", ms->uri, cause ? cause : "");
}

static void connect_failed(mqtt_side *ms, int code, int reason, const char *message)
{
    pthread_mutex_lock(&ms->lock);
    schedule_reconnect(ms);
    pthread_mutex_unlock(&ms->lock);
    blog(LOG_WARN, "mqtt_connect_failed", "uri=%s code=%d reason=%d message=\"%s\"", ms->uri, code,
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
    MQTTProperties props = MQTTProperties_initializer;
    MQTTProperty expiry = {.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL,
                           .value.integer4 = SESSION_EXPIRY};
    if (ms->version == 5) {
        MQTTProperties_add(&props, &expiry);
        o.cleanstart = 0;
        o.connectProperties = &props;
    } else {
        o.cleansession = 0; /* MQTT 3.1.1: persistent session */
    }
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
    MQTTProperties_free(&props);
    if (rc != MQTTASYNC_SUCCESS) {
        pthread_mutex_lock(&ms->lock);
        schedule_reconnect(ms);
        pthread_mutex_unlock(&ms->lock);
        blog(LOG_WARN, "mqtt_connect_failed", "uri=%s code=%d", ms->uri, rc);
    }
}

/* ------------------------------------------------------------ publish */

static void sent(send_ctx *sc, int ok)
{
    mqtt_side *ms = sc->m;
    pthread_mutex_lock(&ms->lock);
    if (ok) {
        atomic_fetch_add(&ms->b->metrics.delivered[SIDE_MQTT], 1);
        if (ms->n_done == ms->cap_done) {
            size_t cap = ms->cap_done ? ms->cap_done * 2 : 256;
            uint64_t *p = realloc(ms->done, cap * sizeof *p);
            if (p) {
                ms->done = p;
                ms->cap_done = cap;
            }
        }
        /* without room it stays spooled: one duplicate after a restart */
        if (ms->n_done < ms->cap_done)
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
        add_str_prop(&props, MQTTPROPERTY_CODE_USER_PROPERTY, "msgsec-bridge-id",
                     strlen("msgsec-bridge-id"), m->bridge_id);
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

static void side_free(mqtt_side *ms)
{
    if (!ms)
        return;
    if (ms->client)
        MQTTAsync_destroy(&ms->client);
    free(ms->uri);
    free(ms->client_id);
    free(ms->username);
    if (ms->password) {
        OPENSSL_cleanse(ms->password, strlen(ms->password));
        free(ms->password);
    }
    free(ms->ca);
    free(ms->cert);
    free(ms->key);
    free(ms->done);
    free_list(ms->subscribed, ms->n_subscribed);
    pthread_mutex_destroy(&ms->sub_lock);
    pthread_cond_destroy(&ms->wake);
    pthread_mutex_destroy(&ms->lock);
    free(ms);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

msgsec_err mqtt_side_start(bridge *b, mqtt_side **out, msgsec_error *err)
{
    *out = NULL;
    mqtt_side *ms = calloc(1, sizeof *ms);
    if (!ms)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    pthread_mutex_init(&ms->lock, NULL);
    pthread_mutex_init(&ms->sub_lock, NULL);
    pthread_cond_init(&ms->wake, NULL);
    ms->b = b;
    ms->backoff_ms = BACKOFF_MIN_MS;
    route_table *t = routes_acquire(b);
    const msgsec_config *cfg = t->cfg;
    msgsec_err rc = MSGSEC_OK;
    int tls = cfg->mqtt.tls.ca || cfg->mqtt.tls.cert;
    char uri[600], persist[4096];
    snprintf(uri, sizeof uri, "%s://%s:%d", tls ? "ssl" : "tcp",
             cfg->mqtt.host ? cfg->mqtt.host : "127.0.0.1", cfg->mqtt.port ? cfg->mqtt.port : 1883);
    /* Paho's own persistence (messages it acknowledged but could not hand
       over yet) lives next to the spool */
    snprintf(persist, sizeof persist, "%s/paho", cfg->spool.path);
    ms->uri = strdup(uri);
    ms->client_id = strdup(cfg->mqtt.client_id ? cfg->mqtt.client_id : "msgsec-bridge");
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
                                          MQTTCLIENT_PERSISTENCE_DEFAULT, persist, &co);
    if (prc != MQTTASYNC_SUCCESS) {
        rc = msgsec_seterr(err, MSGSEC_E_USAGE, "%s: mqtt: cannot create client for %s (code %d)",
                           cfg->path, ms->uri, prc);
        goto done;
    }
    MQTTAsync_setCallbacks(ms->client, ms, on_connection_lost, on_message, NULL);
    MQTTAsync_setConnected(ms->client, ms, on_connected);
    clock_gettime(CLOCK_MONOTONIC, &ms->next_attempt);
    if (pthread_create(&ms->pump, NULL, pump_thread, ms))
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "cannot start the MQTT thread");
done:
    routes_release(t);
    if (rc) {
        side_free(ms);
        return rc;
    }
    *out = ms;
    return MSGSEC_OK;
}

void mqtt_side_notify(mqtt_side *ms)
{
    pthread_mutex_lock(&ms->lock);
    ms->notified = 1;
    pthread_cond_signal(&ms->wake);
    pthread_mutex_unlock(&ms->lock);
}

void mqtt_side_resubscribe(mqtt_side *ms)
{
    pthread_mutex_lock(&ms->lock);
    int connected = ms->connected;
    pthread_mutex_unlock(&ms->lock);
    if (connected)
        subscribe_all(ms);
}

void mqtt_side_stop(mqtt_side *ms, int timeout_ms)
{
    if (!ms)
        return;
    struct timespec deadline;
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
    pthread_mutex_lock(&ms->lock);
    ms->stop_pump = 1;
    pthread_cond_signal(&ms->wake);
    pthread_mutex_unlock(&ms->lock);
    pthread_join(ms->pump, NULL);
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
