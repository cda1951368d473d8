/* bench_plugin_load - load generator for bench_plugin.sh.
 *
 *   bench_plugin_load gen CERT KEY SERVICE_CERT COUNT PAYLOAD_BYTES OUT
 *       wraps COUNT distinct envelopes (fresh MessageIDs, random payloads) and
 *       writes them to OUT as (4-byte big-endian length, bytes) records;
 *   bench_plugin_load run PORT TOPIC FILE WINDOW
 *       one subscriber (QoS 1) and one MQTT 5 publisher (QoS 1, at most WINDOW
 *       unacknowledged) on 127.0.0.1:PORT; publishes every record of FILE and
 *       prints "sent acked denied received seconds rate", where rate counts
 *       messages received by the subscriber per second from the first publish
 *       to the last delivery;
 *   bench_plugin_load verify CONFIG FILE
 *       what the plugin does per message, without a broker: msgsec_verify of
 *       every record with the verify-only receiver of CONFIG (the plugin's
 *       YAML); prints "count accepted cpu_seconds cpu_us_per_verify".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <openssl/rand.h>

#include "msgsec.h"
#include "msgsec_config.h"

typedef struct records {
    uint8_t **data;
    size_t *len;
    size_t n;
} records;

typedef struct progress {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    long acked, denied, received;
    double last_received; /* time of the last delivery */
    int subscribed;
} progress;

static double clock_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_seconds(void) { return clock_seconds(CLOCK_MONOTONIC); }

static int generate(char **argv)
{
    msgsec_error err = {0};
    msgsec_sender *sender = NULL;
    msgsec_sender_opts opts = {.credential = MSGSEC_CRED_CERTIFICATE,
                               .cert_file = argv[0],
                               .key_file = argv[1],
                               .service_cert_file = argv[2]};
    long count = atol(argv[3]);
    size_t payload_len = (size_t)atol(argv[4]);
    uint8_t *payload = malloc(payload_len ? payload_len : 1);
    FILE *out = fopen(argv[5], "wb");
    msgsec_err rc = MSGSEC_E_INTERNAL;

    if (!payload || !out || count <= 0) {
        fprintf(stderr, "bench_plugin_load: bad arguments or cannot write %s\n", argv[5]);
        goto cleanup;
    }
    rc = msgsec_global_init(&err);
    if (rc == MSGSEC_OK)
        rc = msgsec_sender_new(&opts, &sender, &err);
    for (long i = 0; rc == MSGSEC_OK && i < count; i++) {
        uint8_t *envelope = NULL, be[4];
        size_t envelope_len = 0;
        msgsec_wrap_params params = {.to = "urn:example:orders"};

        RAND_bytes(payload, (int)payload_len);
        rc = msgsec_wrap(sender, &params, payload, payload_len, &envelope, &envelope_len, &err);
        if (rc != MSGSEC_OK)
            break;
        be[0] = (uint8_t)(envelope_len >> 24), be[1] = (uint8_t)(envelope_len >> 16);
        be[2] = (uint8_t)(envelope_len >> 8), be[3] = (uint8_t)envelope_len;
        if (fwrite(be, 1, 4, out) != 4 || fwrite(envelope, 1, envelope_len, out) != envelope_len) {
            snprintf(err.detail, sizeof(err.detail), "cannot write %s", argv[5]);
            rc = MSGSEC_E_INTERNAL;
        }
        msgsec_free(envelope);
    }
    if (rc != MSGSEC_OK)
        fprintf(stderr, "bench_plugin_load: %s\n", err.detail);
cleanup:
    if (out && fclose(out) != 0 && rc == MSGSEC_OK)
        rc = MSGSEC_E_INTERNAL;
    msgsec_sender_free(sender);
    free(payload);
    return rc;
}

static int load_records(const char *path, records *recs)
{
    FILE *in = fopen(path, "rb");
    uint8_t be[4];
    size_t cap = 0;

    memset(recs, 0, sizeof(*recs));
    if (!in)
        return -1;
    while (fread(be, 1, 4, in) == 4) {
        size_t len = (size_t)be[0] << 24 | (size_t)be[1] << 16 | (size_t)be[2] << 8 | be[3];
        if (recs->n == cap) {
            cap = cap ? cap * 2 : 1024;
            recs->data = realloc(recs->data, cap * sizeof(*recs->data));
            recs->len = realloc(recs->len, cap * sizeof(*recs->len));
            if (!recs->data || !recs->len)
                abort();
        }
        recs->data[recs->n] = malloc(len);
        if (!recs->data[recs->n] || fread(recs->data[recs->n], 1, len, in) != len)
            break;
        recs->len[recs->n++] = len;
    }
    fclose(in);
    return recs->n ? 0 : -1;
}

static void free_records(records *recs)
{
    for (size_t i = 0; i < recs->n; i++)
        free(recs->data[i]);
    free(recs->data);
    free(recs->len);
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count,
                         const int *granted_qos)
{
    progress *p = obj;
    pthread_mutex_lock(&p->lock);
    p->subscribed = 1;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
    progress *p = obj;
    pthread_mutex_lock(&p->lock);
    p->received++;
    p->last_received = now_seconds();
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid, int reason_code,
                       const mosquitto_property *props)
{
    progress *p = obj;
    pthread_mutex_lock(&p->lock);
    p->acked++;
    if (reason_code >= 0x80)
        p->denied++;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

static struct mosquitto *client(const char *id, progress *p, int port)
{
    struct mosquitto *mosq = mosquitto_new(id, true, p);

    if (!mosq)
        return NULL;
    mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    if (mosquitto_connect(mosq, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS ||
        mosquitto_loop_start(mosq) != MOSQ_ERR_SUCCESS) {
        mosquitto_destroy(mosq);
        return NULL;
    }
    return mosq;
}

/* Waits until cond holds or nothing changed for 10 s; lock held. */
#define WAIT_UNTIL(p, cond)                                                                \
    do {                                                                                   \
        while (!(cond)) {                                                                  \
            struct timespec until;                                                         \
            clock_gettime(CLOCK_REALTIME, &until);                                         \
            until.tv_sec += 10;                                                            \
            if (pthread_cond_timedwait(&(p)->changed, &(p)->lock, &until) != 0)            \
                break;                                                                     \
        }                                                                                  \
    } while (0)

static int run(char **argv)
{
    int port = atoi(argv[0]);
    const char *topic = argv[1];
    long window = atol(argv[3]);
    progress p = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};
    struct mosquitto *sub = NULL, *pub = NULL;
    records recs;
    double start, end;
    long expected;

    if (load_records(argv[2], &recs) != 0) {
        fprintf(stderr, "bench_plugin_load: cannot read records from %s\n", argv[2]);
        return 2;
    }
    mosquitto_lib_init();
    sub = client("bench-sub", &p, port);
    pub = client("bench-pub", &p, port);
    if (!sub || !pub) {
        fprintf(stderr, "bench_plugin_load: cannot connect to 127.0.0.1:%d\n", port);
        return 1;
    }
    mosquitto_subscribe_callback_set(sub, on_subscribe);
    mosquitto_message_callback_set(sub, on_message);
    mosquitto_publish_v5_callback_set(pub, on_publish);
    mosquitto_subscribe(sub, NULL, topic, 1);
    pthread_mutex_lock(&p.lock);
    WAIT_UNTIL(&p, p.subscribed);
    pthread_mutex_unlock(&p.lock);

    start = now_seconds();
    for (size_t i = 0; i < recs.n; i++) {
        pthread_mutex_lock(&p.lock);
        WAIT_UNTIL(&p, (long)i - p.acked < window);
        pthread_mutex_unlock(&p.lock);
        mosquitto_publish(pub, NULL, topic, (int)recs.len[i], recs.data[i], 1, false);
    }
    pthread_mutex_lock(&p.lock);
    WAIT_UNTIL(&p, p.acked == (long)recs.n);
    expected = (long)recs.n - p.denied;
    WAIT_UNTIL(&p, p.received >= expected);
    end = p.received ? p.last_received : now_seconds();
    printf("%zu %ld %ld %ld %.3f %.0f\n", recs.n, p.acked, p.denied, p.received, end - start,
           (double)p.received / (end - start));
    pthread_mutex_unlock(&p.lock);

    mosquitto_disconnect(pub);
    mosquitto_disconnect(sub);
    mosquitto_loop_stop(pub, false);
    mosquitto_loop_stop(sub, false);
    mosquitto_destroy(pub);
    mosquitto_destroy(sub);
    mosquitto_lib_cleanup();
    free_records(&recs);
    return 0;
}

static int verify_only(char **argv)
{
    msgsec_error err = {0};
    msgsec_config *cfg = NULL;
    msgsec_receiver *receiver = NULL;
    msgsec_receiver_opts opts;
    records recs;
    size_t accepted = 0;
    double start, seconds;

    if (load_records(argv[1], &recs) != 0) {
        fprintf(stderr, "bench_plugin_load: cannot read records from %s\n", argv[1]);
        return 2;
    }
    if (msgsec_global_init(&err) != MSGSEC_OK || msgsec_config_load(argv[0], &cfg, &err) != MSGSEC_OK)
        goto fail;
    msgsec_config_receiver_opts(cfg, 0, &opts);
    if (msgsec_receiver_new(&opts, &receiver, &err) != MSGSEC_OK)
        goto fail;
    start = clock_seconds(CLOCK_PROCESS_CPUTIME_ID); /* other load on the machine */
    for (size_t i = 0; i < recs.n; i++) {
        msgsec_context *ctx = NULL;
        if (msgsec_verify(receiver, recs.data[i], recs.len[i], &ctx, &err) == MSGSEC_OK)
            accepted++;
        msgsec_context_free(ctx);
    }
    seconds = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - start;
    printf("%zu %zu %.3f %.1f\n", recs.n, accepted, seconds, seconds * 1e6 / (double)recs.n);
    int rc = accepted == recs.n ? 0 : 1;
    msgsec_receiver_free(receiver);
    msgsec_config_free(cfg);
    free_records(&recs);
    return rc;
fail:
    fprintf(stderr, "bench_plugin_load: %s\n", err.detail);
    msgsec_config_free(cfg);
    free_records(&recs);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc == 8 && strcmp(argv[1], "gen") == 0)
        return generate(argv + 2);
    if (argc == 6 && strcmp(argv[1], "run") == 0)
        return run(argv + 2);
    if (argc == 4 && strcmp(argv[1], "verify") == 0)
        return verify_only(argv + 2);
    fprintf(stderr, "usage: bench_plugin_load gen CERT KEY SERVICE_CERT COUNT PAYLOAD_BYTES OUT\n"
                    "       bench_plugin_load run PORT TOPIC FILE WINDOW\n"
                    "       bench_plugin_load verify CONFIG FILE\n");
    return 2;
}
