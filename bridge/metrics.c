/* metrics.c - Prometheus text metrics (/metrics) and a health check
 * (/healthz: 200 when both brokers are connected, else 503) over HTTP with
 * libmicrohttpd, on metrics.listen ("HOST:PORT"). */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "hub.h"
#include "metrics.h"
#include "routes.h"
#include "spool.h"
#include "util.h"

#define BODY_MAX (1 << 20)

struct metrics_http {
    struct MHD_Daemon *daemon;
};

static const char *const action_names[] = {"forward", "verify", "protect", "unprotect"};
static const char *const side_names[] = {"mqtt", "amqp"};

/* A label value with Prometheus escaping (backslash, double quote, newline). */
static void put_label(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\' || *s == '"')
            fputc('\\', out);
        if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
}

/* 1 when the side's broker connections are up (MQTT: receiving and publishing). */
static int side_up(const bridge_metrics *mt, int side)
{
    int v = atomic_load(&mt->connected[side]);
    return side == SIDE_MQTT ? v == (MQTT_LINK_PUBLISH | MQTT_LINK_RECEIVE) : v != 0;
}

static void render(bridge *b, FILE *out)
{
    bridge_metrics *mt = &b->metrics;
    route_table *t = bridge_routes(b);
    fputs("# HELP msgsec_bridge_messages_total Messages a route processed successfully.\n"
          "# TYPE msgsec_bridge_messages_total counter\n", out);
    for (size_t i = 0; i < t->cfg->n_routes && i < METRIC_MAX_ROUTES; i++) {
        const msgsec_route *r = &t->cfg->routes[i];
        fprintf(out, "msgsec_bridge_messages_total{route=\"%zu\",from=\"", i);
        put_label(out, r->from);
        fputs("\",to=\"", out);
        put_label(out, r->to);
        fprintf(out, "\",action=\"%s\"} %lu\n", action_names[r->action], atomic_load(&mt->messages[i]));
    }
    routes_release(t);
    fputs("# HELP msgsec_bridge_rejects_total Rejected messages by reason.\n"
          "# TYPE msgsec_bridge_rejects_total counter\n", out);
    for (int i = 0; i < REJECT_COUNT; i++)
        fprintf(out, "msgsec_bridge_rejects_total{reason=\"%s\"} %lu\n", reject_reason_name(i),
                atomic_load(&mt->rejects[i]));
    fprintf(out,
            "# HELP msgsec_bridge_spool_depth Messages in the spool.\n"
            "# TYPE msgsec_bridge_spool_depth gauge\nmsgsec_bridge_spool_depth %zu\n"
            "# HELP msgsec_bridge_spool_bytes Bytes in the spool.\n"
            "# TYPE msgsec_bridge_spool_bytes gauge\nmsgsec_bridge_spool_bytes %zu\n",
            spool_depth(b->spool), spool_bytes(b->spool));
    fputs("# HELP msgsec_bridge_reconnects_total Broker reconnections.\n"
          "# TYPE msgsec_bridge_reconnects_total counter\n", out);
    for (int s = 0; s < 2; s++)
        fprintf(out, "msgsec_bridge_reconnects_total{side=\"%s\"} %lu\n", side_names[s],
                atomic_load(&mt->reconnects[s]));
    fputs("# HELP msgsec_bridge_delivered_total Messages settled at the destination.\n"
          "# TYPE msgsec_bridge_delivered_total counter\n", out);
    for (int s = 0; s < 2; s++)
        fprintf(out, "msgsec_bridge_delivered_total{side=\"%s\"} %lu\n", side_names[s],
                atomic_load(&mt->delivered[s]));
    fputs("# HELP msgsec_bridge_connected 1 while connected to the broker.\n"
          "# TYPE msgsec_bridge_connected gauge\n", out);
    for (int s = 0; s < 2; s++)
        fprintf(out, "msgsec_bridge_connected{side=\"%s\"} %d\n", side_names[s], side_up(mt, s));
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **state)
{
    bridge *b = cls;
    char *body = NULL;
    size_t len = 0;
    unsigned status = MHD_HTTP_OK;
    const char *type = "text/plain; version=0.0.4";
    FILE *out = open_memstream(&body, &len);
    if (!out)
        return MHD_NO;
    if (strcmp(method, "GET") != 0) {
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        fputs("method not allowed\n", out);
    } else if (strcmp(url, "/metrics") == 0) {
        render(b, out);
    } else if (strcmp(url, "/healthz") == 0) {
        int mqtt = side_up(&b->metrics, SIDE_MQTT);
        int amqp = side_up(&b->metrics, SIDE_AMQP);
        status = mqtt && amqp ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
        fprintf(out, "%s mqtt=%s amqp=%s spool_depth=%zu\n", status == MHD_HTTP_OK ? "ok" : "degraded",
                mqtt ? "up" : "down", amqp ? "up" : "down", spool_depth(b->spool));
        type = "text/plain";
    } else {
        status = MHD_HTTP_NOT_FOUND;
        fputs("not found\n", out);
    }
    /* body and len are valid once the stream is closed */
    if (fclose(out) != 0 || len > BODY_MAX) {
        free(body);
        return MHD_NO;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

msgsec_err metrics_parse_listen(const char *listen, struct sockaddr_in *sa, msgsec_error *err)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    if (!colon || (size_t)(colon - listen) >= sizeof host || !end || *end || port <= 0 || port > 65535)
        return bridge_err(err, MSGSEC_E_USAGE, "metrics.listen: expected IPV4:PORT, got \"%s\"", listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = 0;
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return bridge_err(err, MSGSEC_E_USAGE, "metrics.listen: \"%s\" is not an IPv4 address", host);
    sa->sin_port = htons((uint16_t)port);
    return MSGSEC_OK;
}

msgsec_err metrics_start(bridge *b, const char *listen, metrics_http **out, msgsec_error *err)
{
    *out = NULL;
    struct sockaddr_in sa;
    msgsec_err rc = metrics_parse_listen(listen, &sa, err);
    if (rc)
        return rc;
    metrics_http *h = calloc(1, sizeof *h);
    if (!h)
        return bridge_err(err, MSGSEC_E_INTERNAL, "out of memory");
    h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, ntohs(sa.sin_port),
                                 NULL, NULL, answer, b, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
    if (!h->daemon) {
        free(h);
        return bridge_err(err, MSGSEC_E_USAGE, "metrics.listen: cannot listen on %s", listen);
    }
    *out = h;
    return MSGSEC_OK;
}

void metrics_stop(metrics_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
