/* metrics.c - Prometheus text metrics (/metrics) and a health check
 * (/healthz: 200 when both brokers are connected, else 503) over HTTP with
 * libmicrohttpd, on metrics.listen ("IPV4:PORT" or "[IPV6]:PORT", parsed by
 * the configuration loader). */
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
            "# HELP msgsec_bridge_held_total Messages left unacknowledged at their source for "
            "now (a transient refusal: the replay store is full).\n"
            "# TYPE msgsec_bridge_held_total counter\nmsgsec_bridge_held_total %lu\n",
            atomic_load(&mt->held));
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

msgsec_err metrics_start(bridge *b, const msgsec_config *cfg, metrics_http **out,
                         msgsec_error *err)
{
    const struct sockaddr *sa = (const struct sockaddr *)&cfg->metrics.address;
    const int v6 = sa->sa_family == AF_INET6;
    const uint16_t port = ntohs(v6 ? ((const struct sockaddr_in6 *)sa)->sin6_port
                                   : ((const struct sockaddr_in *)sa)->sin_port);
    *out = NULL;
    metrics_http *h = calloc(1, sizeof *h);
    if (!h)
        return bridge_err(err, MSGSEC_E_INTERNAL, "out of memory");
    /* MHD takes the address length from the family flag */
    h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
                                     (v6 ? MHD_USE_IPv6 : 0),
                                 port, NULL, NULL, answer, b, MHD_OPTION_SOCK_ADDR, sa,
                                 MHD_OPTION_END);
    if (!h->daemon) {
        free(h);
        return bridge_err(err, MSGSEC_E_USAGE, "metrics.listen: cannot listen on %s",
                          cfg->metrics.listen);
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
