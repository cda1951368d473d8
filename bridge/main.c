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

#include "amqp_side.h"
#include "config_check.h"
#include "hub.h"
#include "log.h"
#include "metrics.h"
#include "mqtt_side.h"

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

/* bridge.workers, or one worker per online CPU (as many as the loader allows). */
#define MAX_DEFAULT_WORKERS 256
static size_t worker_count(const msgsec_config *cfg)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cfg->bridge.workers > 0)
        return (size_t)cfg->bridge.workers;
    return cpus < 1 ? 1 : cpus > MAX_DEFAULT_WORKERS ? MAX_DEFAULT_WORKERS : (size_t)cpus;
}

static void reload(bridge *b, const char *path, mqtt_side *mqtt, amqp_side *amqp)
{
    msgsec_config *cfg;
    msgsec_error err = {0};
    if (load(path, &cfg, &err)) {
        blog(LOG_ERROR, "reload_failed", "class=%d detail=\"%s\" keeping=previous", (int)err.code, err.detail);
        return;
    }
    route_table *old = bridge_routes(b);
    unsigned generation = old->generation + 1;
    routes_release(old);
    size_t n_routes = cfg->n_routes;
    route_table *t = routes_table_new(cfg, generation);
    if (!t)
        return;
    bridge_swap_routes(b, t);
    blog(LOG_INFO, "reloaded", "routes=%zu generation=%u", n_routes, generation);
    mqtt_side_resubscribe(mqtt);
    amqp_side_relink(amqp);
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
    metrics_http *http = NULL;
    mqtt_side *mqtt = NULL;
    amqp_side *amqp = NULL;
    size_t n_workers = worker_count(cfg);
    int reject = cfg->spool.when_full && strcmp(cfg->spool.when_full, "reject") == 0;
    if ((rc = spool_open(cfg->spool.path, cfg->spool.max_messages, cfg->spool.max_bytes, reject,
                         &b.spool, &err))) {
        fprintf(stderr, "msgsec-bridge: %s\n", err.detail);
        msgsec_config_free(cfg);
        return rc;
    }
    route_table *table = routes_table_new(cfg, 1);
    if (!table) {
        fprintf(stderr, "msgsec-bridge: out of memory\n");
        spool_close(b.spool);
        return MSGSEC_E_INTERNAL;
    }
    bridge_init(&b, table);
    if ((rc = workers_start(n_workers, &b.metrics, &b.workers, &err)) ||
        (cfg->metrics.listen && (rc = metrics_start(&b, cfg, &http, &err))) ||
        (rc = amqp_side_start(&b, &amqp, &err)) || (rc = mqtt_side_start(&b, &mqtt, &err))) {
        fprintf(stderr, "msgsec-bridge: %s\n", err.detail);
        amqp_side_stop(amqp, 0);
        metrics_stop(http);
        workers_stop(b.workers);
        spool_close(b.spool);
        bridge_destroy(&b);
        return rc;
    }
    blog(LOG_INFO, "started", "config=%s routes=%zu workers=%zu spool_depth=%zu", path, cfg->n_routes,
         n_workers, spool_depth(b.spool));

    for (;;) {
        int sig = 0;
        sigwait(&sigs, &sig);
        if (sig == SIGHUP) {
            reload(&b, path, mqtt, amqp);
            continue;
        }
        blog(LOG_INFO, "stopping", "signal=%d drain_ms=%d spool_depth=%zu", sig, DRAIN_MS,
             spool_depth(b.spool));
        break;
    }
    atomic_store(&b.stopping, 1);
    mqtt_side_stop(mqtt, DRAIN_MS);
    spool_shutdown(b.spool);
    amqp_side_stop(amqp, DRAIN_MS);
    metrics_stop(http);
    workers_stop(b.workers);
    blog(LOG_INFO, "stopped", "spool_depth=%zu", spool_depth(b.spool));
    spool_close(b.spool);
    bridge_destroy(&b);
    msgsec_global_cleanup();
    return 0;
}
