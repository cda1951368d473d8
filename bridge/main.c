/* main.c - msgsec-bridge start-up and signals.
 *
 *   msgsec-bridge --config FILE [--check-config]
 *
 * Exit codes: 0 ok, 1 internal error, 2 usage or configuration error.
 * SIGHUP reloads the configuration (routes swap; the old one stays on error),
 * SIGTERM/SIGINT stop consuming, drain in-flight messages and exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge.h"

#define DRAIN_MS 5000

static void usage(void)
{
    fprintf(stderr, "usage: msgsec-bridge --config FILE [--check-config]\n");
}

static msgsec_err load(const char *path, msgsec_config **cfg, msgsec_error *err)
{
    msgsec_err rc = msgsec_config_load(path, cfg, err);
    if (!rc && (rc = bridge_check_config(*cfg, err))) {
        msgsec_config_free(*cfg);
        *cfg = NULL;
    }
    return rc;
}

static route_table *table_new(msgsec_config *cfg, unsigned generation)
{
    route_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    atomic_init(&t->refs, 1);
    t->cfg = cfg;
    t->generation = generation;
    return t;
}

static void reload(bridge *b, const char *path)
{
    msgsec_config *cfg;
    msgsec_error err = {0};
    if (load(path, &cfg, &err)) {
        blog(LOG_ERROR, "reload_failed", "class=%d detail=\"%s\" keeping=previous", (int)err.code, err.detail);
        return;
    }
    pthread_mutex_lock(&b->lock);
    route_table *t = table_new(cfg, b->table->generation + 1), *old = b->table;
    if (t)
        b->table = t;
    pthread_mutex_unlock(&b->lock);
    if (!t) {
        msgsec_config_free(cfg);
        return;
    }
    routes_release(old);
    blog(LOG_INFO, "reloaded", "routes=%zu generation=%u", cfg->n_routes, t->generation);
    mqtt_side_resubscribe(b->mqtt);
    amqp_side_relink(b->amqp);
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int check_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--check-config") == 0)
            check_only = 1;
        else {
            usage();
            return MSGSEC_E_USAGE;
        }
    }
    if (!path) {
        usage();
        return MSGSEC_E_USAGE;
    }
    msgsec_error err = {0};
    if (msgsec_global_init(&err)) {
        fprintf(stderr, "msgsec-bridge: %s\n", err.detail);
        return MSGSEC_E_INTERNAL;
    }
    msgsec_config *cfg;
    msgsec_err rc = load(path, &cfg, &err);
    if (rc || check_only) {
        if (rc)
            fprintf(stderr, "msgsec-bridge: %s\n", err.detail);
        else
            fprintf(stderr, "msgsec-bridge: %s: configuration ok (%zu routes)\n", path, cfg->n_routes);
        msgsec_config_free(cfg);
        msgsec_global_cleanup();
        return rc;
    }
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());

    /* signals are taken synchronously by this thread only */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    bridge b = {0};
    pthread_mutex_init(&b.lock, NULL);
    metrics_http *http = NULL;
    b.table = table_new(cfg, 1);
    b.actions = action_ctx_new();
    if (!b.table || !b.actions) {
        fprintf(stderr, "msgsec-bridge: out of memory\n");
        return MSGSEC_E_INTERNAL;
    }
    int reject = cfg->spool.when_full && strcmp(cfg->spool.when_full, "reject") == 0;
    if ((rc = spool_open(cfg->spool.path, cfg->spool.max_messages, cfg->spool.max_bytes, reject,
                         &b.spool, &err)) ||
        (cfg->metrics.listen && (rc = metrics_start(&b, cfg, &http, &err))) ||
        (rc = amqp_side_start(&b, &b.amqp, &err)) || (rc = mqtt_side_start(&b, &b.mqtt, &err))) {
        fprintf(stderr, "msgsec-bridge: %s\n", err.detail);
        amqp_side_stop(b.amqp, 0);
        metrics_stop(http);
        spool_close(b.spool);
        return rc;
    }
    blog(LOG_INFO, "started", "config=%s routes=%zu spool_depth=%zu", path, cfg->n_routes,
         spool_depth(b.spool));

    for (;;) {
        int sig = 0;
        sigwait(&sigs, &sig);
        if (sig == SIGHUP) {
            reload(&b, path);
            continue;
        }
        blog(LOG_INFO, "stopping", "signal=%d drain_ms=%d spool_depth=%zu", sig, DRAIN_MS,
             spool_depth(b.spool));
        break;
    }
    atomic_store(&b.stopping, 1);
    pthread_mutex_lock(&b.lock);
    mqtt_side *mqtt = b.mqtt;
    b.mqtt = NULL;
    pthread_mutex_unlock(&b.lock);
    mqtt_side_stop(mqtt, DRAIN_MS);
    spool_shutdown(b.spool);
    pthread_mutex_lock(&b.lock);
    amqp_side *amqp = b.amqp;
    b.amqp = NULL;
    pthread_mutex_unlock(&b.lock);
    amqp_side_stop(amqp, DRAIN_MS);
    metrics_stop(http);
    blog(LOG_INFO, "stopped", "spool_depth=%zu", spool_depth(b.spool));
    spool_close(b.spool);
    action_ctx_free(b.actions);
    routes_release(b.table);
    pthread_mutex_destroy(&b.lock);
    msgsec_global_cleanup();
    return 0;
}
