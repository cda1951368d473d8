/* amqp_side.c - the AMQP 1.0 side (qpid-proton proactor, one event thread):
 * connection lifecycle, credit, sending and receiving. Links are
 * amqp_links.c, the message mapping amqp_codec.c.
 *
 * Consuming: deliveries read in one proactor batch are routed by the crypto
 * workers, spooled in one fsync'd transaction, and only then accepted and
 * settled. Credit is granted only while the spool has room (backpressure).
 * Producing: a spooled message leaves the spool when the peer settles it as
 * accepted. The delivery tag is the spool id.
 * Any connection failure closes the connection; it is re-opened with
 * exponential backoff plus jitter, all links re-attached, and every message
 * still in the spool re-sent (in-doubt deliveries included).
 *
 * Other threads only wake the connection (pn_connection_wake): the hub when
 * AMQP-bound messages were spooled, main for a reload or the stop.
 */
#include <openssl/crypto.h>
#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/message.h>
#include <proton/proactor.h>
#include <proton/sasl.h>
#include <proton/session.h>
#include <proton/ssl.h>
#include <proton/transport.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp_codec.h"
#include "amqp_links.h"
#include "amqp_side.h"
#include "counters.h"
#include "hub.h"
#include "log.h"
#include "routes.h"
#include "spool.h"
#include "util.h"
#include "workers.h"

#define CREDIT_WINDOW 500
#define MAX_INFLIGHT 1000
#define SEND_BATCH 64
#define TICK_MS 1000

/* A delivery read but not yet settled. Until the end of its batch it holds
 * its decoded message (in); then its results outs[first..first+count) wait
 * to be spooled (at once, or later while the spool is full in block mode). */
typedef struct pending {
    pn_delivery_t *delivery;
    bmsg *in;           /* NULL once routed */
    const char *source; /* borrowed from the links: the address it came from */
    int matched;
    size_t first, count;
} pending;

struct amqp_side {
    bridge *b;
    pn_proactor_t *proactor;
    pthread_t thread;
    pthread_mutex_t lock; /* guards conn for wake-ups from other threads */
    pn_connection_t *conn;
    int opened;           /* the connection is initialised (links can be made) */
    amqp_links links;
    uint64_t cursor;      /* highest spool id sent on this connection */
    size_t inflight;
    int backoff_ms;
    int stopping, stopped, force_closed;
    int drain_ms;
    atomic_int relink;    /* set by SIGHUP reload: re-attach with the new routes */
    /* configuration, copied at start (owned) */
    char *host, *port, *mechanism, *username, *password;
    pn_ssl_domain_t *ssl;
    /* batch state */
    uint64_t *done; size_t n_done, cap_done; /* accepted at the destination: leave the spool */
    pending *pend; size_t n_pend, cap_pend, n_routed;
    bmsg **outs; size_t n_outs, cap_outs;
    route_job *jobs; size_t cap_jobs;
    pn_message_t *msg;
    pn_rwbytes_t buf;
};

/* ------------------------------------------------------------ sending */

static void dispatch(amqp_side *a)
{
    if (!a->conn || !a->opened || a->stopping)
        return;
    bmsg *batch[SEND_BATCH];
    while (a->inflight < MAX_INFLIGHT) {
        size_t n = spool_next(a->b->spool, SIDE_AMQP, a->cursor, batch, SEND_BATCH);
        if (n == 0)
            return;
        size_t i = 0;
        for (; i < n; i++) {
            int blocked;
            pn_link_t *l = amqp_links_sender(&a->links, a->conn, batch[i]->dest, &blocked);
            if (blocked) { /* passed over now, sent again when the link is retried */
                amqp_links_skip(&a->links, batch[i]->id);
                a->cursor = batch[i]->id;
                continue;
            }
            if (!l || pn_link_credit(l) <= 0)
                break; /* resumes on PN_LINK_FLOW */
            uint64_t tag = batch[i]->id;
            pn_delivery(l, pn_dtag((const char *)&tag, sizeof tag));
            amqp_encode(batch[i], a->msg);
            if (pn_message_send(a->msg, l, &a->buf) < 0) {
                blog(LOG_ERROR, "amqp_encode", "id=%llu error=\"%s\"", (unsigned long long)tag,
                     pn_error_text(pn_message_error(a->msg)));
                break;
            }
            a->cursor = batch[i]->id;
            a->inflight++;
        }
        for (size_t j = 0; j < n; j++)
            bmsg_free(batch[j]);
        if (i < n)
            return;
    }
}

/* Queues a settled message for removal from the spool at the end of the batch. */
static void forget(amqp_side *a, uint64_t id)
{
    if (array_reserve(&a->done, &a->cap_done, a->n_done + 1, sizeof *a->done)) {
        spool_del(a->b->spool, SIDE_AMQP, &id, 1);
        return;
    }
    a->done[a->n_done++] = id;
}

static void on_outcome(amqp_side *a, pn_delivery_t *d)
{
    pn_delivery_tag_t tag = pn_delivery_tag(d);
    uint64_t id = 0;
    if (tag.size == sizeof id)
        memcpy(&id, tag.start, sizeof id);
    uint64_t state = pn_delivery_remote_state(d);
    if (state == PN_ACCEPTED) {
        forget(a, id);
        atomic_fetch_add(&a->b->metrics.delivered[SIDE_AMQP], 1);
    } else if (state == PN_REJECTED) {
        pn_condition_t *c = pn_disposition_condition(pn_delivery_remote(d));
        blog(LOG_WARN, "amqp_rejected", "id=%llu condition=\"%s\" description=\"%s\"",
             (unsigned long long)id, pn_condition_get_name(c) ? pn_condition_get_name(c) : "",
             pn_condition_get_description(c) ? pn_condition_get_description(c) : "");
        atomic_fetch_add(&a->b->metrics.rejects[REJECT_UNDELIVERABLE], 1);
        forget(a, id);
    } else if (id <= a->cursor) {
        /* released / modified: send it again */
        a->cursor = id - 1;
    }
    pn_delivery_settle(d);
    if (a->inflight)
        a->inflight--;
}

/* The deliveries sent on a link the peer refused lose their outcome. */
static void lost_outcomes(amqp_side *a, size_t lost)
{
    a->inflight = lost > a->inflight ? 0 : a->inflight - lost;
    pn_proactor_set_timeout(a->proactor, TICK_MS); /* retry the link */
}

/* ------------------------------------------------------------ receiving */

/* Reads one complete delivery; it is routed and spooled with its batch. */
static void on_incoming(amqp_side *a, pn_delivery_t *d)
{
    pn_link_t *l = pn_delivery_link(d);
    if (!pn_delivery_readable(d) || pn_delivery_partial(d))
        return;
    size_t size = pn_delivery_pending(d);
    char *data = malloc(size ? size : 1);
    ssize_t got = data ? pn_link_recv(l, data, size) : -1;
    pn_link_advance(l);
    bmsg *m = got >= 0 ? amqp_decode(a->msg, data, (size_t)got) : NULL;
    if (data) {
        OPENSSL_cleanse(data, size);
        free(data);
    }
    const char *address = amqp_links_source(&a->links, l);
    if (!m || !address) {
        blog(LOG_WARN, "amqp_bad_message", "address=%s reason=%s", address ? address : "?",
             m ? "unknown link" : "undecodable or non-binary body");
        pn_delivery_update(d, PN_REJECTED);
        pn_delivery_settle(d);
        bmsg_free(m);
        return;
    }
    m->qos = 1;
    if (array_reserve(&a->pend, &a->cap_pend, a->n_pend + 1, sizeof *a->pend)) {
        pn_delivery_update(d, PN_RELEASED);
        pn_delivery_settle(d);
        bmsg_free(m);
        return;
    }
    a->pend[a->n_pend++] = (pending){.delivery = d, .in = m, .source = address};
}

/* Routes the deliveries read in this batch (pend[n_routed..n_pend)) on the
 * crypto workers, appending their results to outs in delivery order. */
static void route_incoming(amqp_side *a)
{
    size_t n = a->n_pend - a->n_routed;
    pending *p = a->pend + a->n_routed;
    if (n == 0)
        return;
    int routed = array_reserve(&a->jobs, &a->cap_jobs, n, sizeof *a->jobs) == 0;
    if (routed) {
        for (size_t i = 0; i < n; i++)
            a->jobs[i] = (route_job){.in = p[i].in, .source = p[i].source};
        route_table *t = bridge_routes(a->b);
        workers_route_append(a->b->workers, t, SIDE_AMQP, a->jobs, n, &a->outs, &a->n_outs,
                             &a->cap_outs);
        routes_release(t);
    }
    for (size_t i = 0; i < n; i++) {
        /* matched -1: released below, the broker redelivers (after a pause) */
        p[i].matched = routed ? a->jobs[i].matched : -1;
        if (p[i].matched < 0)
            amqp_links_hold(&a->links, pn_delivery_link(p[i].delivery));
        p[i].first = routed ? a->jobs[i].first : a->n_outs;
        p[i].count = routed ? a->jobs[i].n_outs : 0;
        bmsg_free(p[i].in);
        p[i].in = NULL;
    }
    a->n_routed = a->n_pend;
}

/* Settles one delivery after its outputs were spooled (rc = spool_put's). */
static void settle(amqp_side *a, const pending *p, msgsec_err rc, const msgsec_error *err)
{
    pn_delivery_t *d = p->delivery;
    if (rc == MSGSEC_OK && p->matched > 0) {
        pn_delivery_update(d, PN_ACCEPTED);
    } else if (rc == MSGSEC_OK && p->matched == 0) {
        blog(LOG_WARN, "reject", "side=amqp reason=no_route");
        pn_delivery_update(d, PN_REJECTED);
    } else if (rc == MSGSEC_OK && p->matched < 0) {
        /* not handled now (routes_apply): the broker keeps it; its link pauses */
        pn_delivery_update(d, PN_RELEASED);
    } else if (rc == SPOOL_FULL || rc == SPOOL_TOO_BIG) {
        /* when_full: reject (or a message that can never fit) */
        atomic_fetch_add(&a->b->metrics.rejects[REJECT_SPOOL_FULL], 1);
        blog(LOG_WARN, "spool_refused", "side=amqp reason=\"%s\"", err->detail);
        pn_condition_set_name(pn_disposition_condition(pn_delivery_local(d)),
                              "amqp:resource-limit-exceeded");
        pn_condition_set_description(pn_disposition_condition(pn_delivery_local(d)), err->detail);
        pn_delivery_update(d, PN_REJECTED);
    } else {
        blog(LOG_ERROR, "spool_refused", "side=amqp reason=\"%s\"",
             rc ? err->detail : "out of memory while routing");
        pn_delivery_update(d, PN_RELEASED); /* the broker keeps it for later */
    }
    pn_delivery_settle(d);
}

/* End of a batch: route what was read, spool it (one transaction when it all
 * fits), then settle it. In block mode what does not fit stays unsettled
 * (RabbitMQ holds it for us, no new credit is granted) and is retried on the
 * next tick. */
static void flush_incoming(amqp_side *a)
{
    if (a->n_pend == 0)
        return;
    route_incoming(a);
    msgsec_error err = {0};
    size_t i = 0;
    msgsec_err rc = spool_put(a->b->spool, a->outs, a->n_outs, 0, &err);
    if (rc == MSGSEC_OK) {
        bridge_notify(a->b, a->outs, a->n_outs);
        for (; i < a->n_pend; i++)
            settle(a, &a->pend[i], rc, &err);
    } else if (rc != SPOOL_FULL) {
        for (; i < a->n_pend; i++)
            settle(a, &a->pend[i], rc, &err);
    } else {
        /* one delivery at a time, in order, as far as room allows */
        for (; i < a->n_pend; i++) {
            pending *p = &a->pend[i];
            rc = spool_put(a->b->spool, a->outs + p->first, p->count, 0, &err);
            if (rc == SPOOL_FULL && !spool_rejects_when_full(a->b->spool) && !a->stopping)
                break;
            if (rc == MSGSEC_OK)
                bridge_notify(a->b, a->outs + p->first, p->count);
            settle(a, p, rc, &err);
        }
    }
    /* drop what was settled, keep the rest (with its outputs) in order */
    size_t keep_from = i < a->n_pend ? a->pend[i].first : a->n_outs;
    for (size_t j = 0; j < keep_from; j++)
        bmsg_free(a->outs[j]);
    if (a->n_outs > keep_from)
        memmove(a->outs, a->outs + keep_from, (a->n_outs - keep_from) * sizeof *a->outs);
    a->n_outs -= keep_from;
    if (a->n_pend > i)
        memmove(a->pend, a->pend + i, (a->n_pend - i) * sizeof *a->pend);
    a->n_pend -= i;
    a->n_routed = a->n_pend;
    for (size_t j = 0; j < a->n_pend; j++)
        a->pend[j].first -= keep_from;
    if (a->n_pend)
        pn_proactor_set_timeout(a->proactor, TICK_MS);
}

/* 1 while a delivery read on link waits to be settled (amqp_links_pause_held). */
static int link_busy(void *ctx, pn_link_t *link)
{
    const amqp_side *a = ctx;
    for (size_t j = 0; j < a->n_pend; j++)
        if (pn_delivery_link(a->pend[j].delivery) == link)
            return 1;
    return 0;
}

/* Drops what was read and not settled: the broker redelivers it. */
static void drop_incoming(amqp_side *a)
{
    for (size_t i = 0; i < a->n_pend; i++)
        bmsg_free(a->pend[i].in);
    for (size_t i = 0; i < a->n_outs; i++)
        bmsg_free(a->outs[i]);
    a->n_outs = a->n_pend = a->n_routed = 0;
}

/* Tops up receiver credit while the spool has room; when it is full the
 * broker keeps the messages (backpressure) and a 1 s tick re-checks. */
static void grant_credit(amqp_side *a)
{
    if (!a->conn || a->stopping)
        return;
    if (!spool_has_room(a->b->spool)) {
        pn_proactor_set_timeout(a->proactor, TICK_MS);
        return;
    }
    amqp_links_credit(&a->links, CREDIT_WINDOW);
}

/* ------------------------------------------------------------ connection */

static void connect_now(amqp_side *a)
{
    pn_connection_t *c = pn_connection();
    pn_connection_set_container(c, "msgsec-bridge");
    pn_connection_set_hostname(c, a->host);
    if (a->username)
        pn_connection_set_user(c, a->username);
    if (a->password)
        pn_connection_set_password(c, a->password);
    pn_transport_t *t = pn_transport();
    pn_sasl_t *sasl = pn_sasl(t);
    pn_sasl_allowed_mechs(sasl, a->mechanism);
    if (!a->ssl)
        pn_sasl_set_allow_insecure_mechs(sasl, true);
    else {
        pn_ssl_t *ssl = pn_ssl(t);
        pn_ssl_init(ssl, a->ssl, NULL);
        pn_ssl_set_peer_hostname(ssl, a->host);
    }
    char addr[512];
    snprintf(addr, sizeof addr, "%s:%s", a->host, a->port);
    pthread_mutex_lock(&a->lock);
    a->conn = c;
    pthread_mutex_unlock(&a->lock);
    pn_proactor_connect2(a->proactor, c, t, addr);
}

static void connection_lost(amqp_side *a, pn_condition_t *cond)
{
    blog(LOG_WARN, "amqp_disconnected", "host=%s port=%s condition=\"%s\" description=\"%s\" retry_ms=%d",
         a->host, a->port, cond && pn_condition_get_name(cond) ? pn_condition_get_name(cond) : "",
         cond && pn_condition_get_description(cond) ? pn_condition_get_description(cond) : "",
         a->backoff_ms);
    pthread_mutex_lock(&a->lock);
    a->conn = NULL;
    pthread_mutex_unlock(&a->lock);
    a->opened = 0;
    drop_incoming(a);
    amqp_links_clear(&a->links);
    a->inflight = 0;
    a->cursor = 0; /* everything still spooled is in doubt: send again */
    atomic_store(&a->b->metrics.connected[SIDE_AMQP], 0);
    if (a->stopping) {
        a->stopped = 1;
        return;
    }
    atomic_fetch_add(&a->b->metrics.reconnects[SIDE_AMQP], 1);
    pn_proactor_set_timeout(a->proactor, (pn_millis_t)backoff_next(&a->backoff_ms));
}

static void on_connection_init(amqp_side *a, pn_connection_t *c)
{
    pn_connection_open(c);
    a->opened = 1;
    route_table *t = bridge_routes(a->b);
    amqp_links_open_receivers(&a->links, c, t->cfg);
    routes_release(t);
    grant_credit(a);
}

/* A wake-up from another thread (see amqp_side_notify / _relink / _stop). */
static void on_wake(amqp_side *a)
{
    if (a->stopping) {
        /* stop requested (see PN_PROACTOR_INTERRUPT): stop consuming, and
           close once the outcomes of what we sent are in (or time is up) */
        amqp_links_close_receivers(&a->links);
        if (a->inflight == 0 || a->force_closed)
            pn_connection_close(a->conn);
        return;
    }
    if (atomic_exchange(&a->relink, 0) && a->conn) {
        blog(LOG_INFO, "amqp_relink", "reason=reload");
        pn_connection_close(a->conn);
        return;
    }
    uint64_t skipped = amqp_links_retry(&a->links, a->conn, CREDIT_WINDOW);
    if (skipped && a->cursor >= skipped)
        a->cursor = skipped - 1;
    if (a->links.blocked)
        pn_proactor_set_timeout(a->proactor, TICK_MS);
    dispatch(a);
}

static void on_proactor_timeout(amqp_side *a)
{
    if (!a->stopping) {
        if (!a->conn)
            connect_now(a);
        else
            pn_connection_wake(a->conn); /* credit re-check */
    } else if (a->conn && !a->force_closed) {
        /* drain time is over: close even with outcomes outstanding (those
           messages stay spooled and are sent again on the next start) */
        a->force_closed = 1;
        pn_connection_wake(a->conn);
        pn_proactor_set_timeout(a->proactor, 1000);
    } else {
        a->stopped = 1;
    }
}

static void handle(amqp_side *a, pn_event_t *e)
{
    switch (pn_event_type(e)) {
    case PN_CONNECTION_INIT:
        on_connection_init(a, pn_event_connection(e));
        break;
    case PN_CONNECTION_REMOTE_OPEN:
        blog(LOG_INFO, "amqp_connected", "host=%s port=%s", a->host, a->port);
        a->backoff_ms = BACKOFF_MIN_MS;
        atomic_store(&a->b->metrics.connected[SIDE_AMQP], 1);
        dispatch(a);
        break;
    case PN_CONNECTION_WAKE:
        on_wake(a);
        break;
    case PN_LINK_FLOW:
        if (pn_link_is_sender(pn_event_link(e)))
            dispatch(a);
        break;
    case PN_DELIVERY: {
        pn_delivery_t *d = pn_event_delivery(e);
        if (pn_link_is_sender(pn_delivery_link(d))) {
            if (pn_delivery_updated(d)) {
                on_outcome(a, d);
                dispatch(a);
                if (a->stopping && a->inflight == 0)
                    pn_connection_close(pn_event_connection(e));
            }
        } else {
            on_incoming(a, d);
        }
        break;
    }
    case PN_LINK_REMOTE_CLOSE:
    case PN_LINK_REMOTE_DETACH: {
        pn_link_t *l = pn_event_link(e);
        if (pn_link_state(l) & PN_LOCAL_CLOSED)
            break; /* our own close (stopping, or already blocked) */
        /* RabbitMQ has no link recovery: this address is retried on its own
           later; its messages stay spooled */
        lost_outcomes(a, amqp_links_refused(&a->links, l, pn_link_remote_condition(l)));
        dispatch(a);
        break;
    }
    case PN_SESSION_REMOTE_CLOSE: {
        pn_session_t *ssn = pn_event_session(e);
        if (pn_session_state(ssn) & PN_LOCAL_CLOSED)
            break;
        lost_outcomes(a, amqp_links_session_ended(&a->links, ssn, pn_session_remote_condition(ssn)));
        dispatch(a);
        break;
    }
    case PN_CONNECTION_REMOTE_CLOSE:
        pn_connection_close(pn_event_connection(e));
        break;
    case PN_TRANSPORT_CLOSED:
        connection_lost(a, pn_transport_condition(pn_event_transport(e)));
        break;
    case PN_PROACTOR_TIMEOUT:
        on_proactor_timeout(a);
        break;
    case PN_PROACTOR_INTERRUPT:
        /* stop request from amqp_side_stop; connection state is only touched
           from the connection's own events, so hand over through a wake */
        a->stopping = 1;
        if (!a->conn)
            a->stopped = 1;
        else
            pn_connection_wake(a->conn);
        pn_proactor_set_timeout(a->proactor, (pn_millis_t)a->drain_ms);
        break;
    default:
        break;
    }
}

static void *amqp_thread(void *arg)
{
    amqp_side *a = arg;
    connect_now(a);
    while (!a->stopped) {
        pn_event_batch_t *events = pn_proactor_wait(a->proactor);
        pn_event_t *e;
        int own = 0; /* a batch of our connection's events (not a proactor one) */
        while ((e = pn_event_batch_next(events))) {
            own |= a->conn && pn_event_connection(e) == a->conn;
            handle(a, e);
        }
        spool_del(a->b->spool, SIDE_AMQP, a->done, a->n_done);
        a->n_done = 0;
        /* links are touched only from their connection's own batch */
        if (own && a->conn) {
            flush_incoming(a);
            amqp_links_pause_held(&a->links, link_busy, a);
            grant_credit(a);
        }
        pn_proactor_done(a->proactor, events);
    }
    return NULL;
}

/* ------------------------------------------------------------ public */

static int split_url(const char *url, amqp_side *a, int *tls)
{
    const char *rest;
    if (strncmp(url, "amqps://", 8) == 0) {
        *tls = 1;
        rest = url + 8;
    } else if (strncmp(url, "amqp://", 7) == 0) {
        *tls = 0;
        rest = url + 7;
    } else
        return -1;
    const char *colon = strrchr(rest, ':');
    const char *slash = strchr(rest, '/');
    size_t host_len = colon ? (size_t)(colon - rest) : slash ? (size_t)(slash - rest) : strlen(rest);
    a->host = strndup(rest, host_len);
    if (colon)
        a->port = strndup(colon + 1, slash && slash > colon ? (size_t)(slash - colon - 1) : strlen(colon + 1));
    else
        a->port = strdup(*tls ? "5671" : "5672");
    return a->host && a->port && *a->host && *a->port ? 0 : -1;
}

static void side_free(amqp_side *a)
{
    if (!a)
        return;
    if (a->proactor)
        pn_proactor_free(a->proactor);
    if (a->ssl)
        pn_ssl_domain_free(a->ssl);
    if (a->msg)
        pn_message_free(a->msg);
    free(a->buf.start);
    free(a->host);
    free(a->port);
    free(a->mechanism);
    free(a->username);
    if (a->password)
        msgsec_free_secret(a->password, strlen(a->password));
    drop_incoming(a);
    free(a->pend);
    free(a->outs);
    free(a->jobs);
    free(a->done);
    amqp_links_clear(&a->links);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

/* Wake callback registered with the hub: AMQP-bound messages were spooled. */
static void wake(void *ctx)
{
    amqp_side *a = ctx;
    pthread_mutex_lock(&a->lock);
    if (a->conn)
        pn_connection_wake(a->conn);
    pthread_mutex_unlock(&a->lock);
}

msgsec_err amqp_side_start(bridge *b, amqp_side **out, msgsec_error *err)
{
    *out = NULL;
    amqp_side *a = calloc(1, sizeof *a);
    if (!a)
        return bridge_err(err, MSGSEC_E_INTERNAL, "out of memory");
    pthread_mutex_init(&a->lock, NULL);
    a->b = b;
    a->backoff_ms = BACKOFF_MIN_MS;
    route_table *t = bridge_routes(b);
    const msgsec_config *cfg = t->cfg;
    msgsec_err rc = MSGSEC_OK;
    int tls = 0;
    const char *url = cfg->amqp.url ? cfg->amqp.url : "amqp://127.0.0.1:5672";
    if (split_url(url, a, &tls)) {
        rc = bridge_err(err, MSGSEC_E_USAGE, "%s: amqp.url: expected amqp://HOST:PORT or amqps://HOST:PORT", cfg->path);
        goto done;
    }
    a->mechanism = strdup(cfg->amqp.sasl.mechanism ? cfg->amqp.sasl.mechanism : "ANONYMOUS");
    if (cfg->amqp.sasl.username)
        a->username = strdup(cfg->amqp.sasl.username);
    if (cfg->amqp.sasl.password_file &&
        (rc = bridge_read_secret(cfg->amqp.sasl.password_file, &a->password, err)))
        goto done;
    if (tls || cfg->amqp.tls.ca || cfg->amqp.tls.cert) {
        a->ssl = pn_ssl_domain(PN_SSL_MODE_CLIENT);
        if (cfg->amqp.tls.ca &&
            (pn_ssl_domain_set_trusted_ca_db(a->ssl, cfg->amqp.tls.ca) ||
             pn_ssl_domain_set_peer_authentication(a->ssl, PN_SSL_VERIFY_PEER_NAME, NULL))) {
            rc = bridge_err(err, MSGSEC_E_USAGE, "%s: amqp.tls.ca: cannot load %s", cfg->path, cfg->amqp.tls.ca);
            goto done;
        }
        if (cfg->amqp.tls.cert &&
            pn_ssl_domain_set_credentials(a->ssl, cfg->amqp.tls.cert, cfg->amqp.tls.key, NULL)) {
            rc = bridge_err(err, MSGSEC_E_USAGE, "%s: amqp.tls: cannot load certificate %s",
                            cfg->path, cfg->amqp.tls.cert);
            goto done;
        }
    }
    a->msg = pn_message();
    a->proactor = pn_proactor();
    if (!a->msg || !a->proactor || !a->mechanism) {
        rc = bridge_err(err, MSGSEC_E_INTERNAL, "out of memory");
        goto done;
    }
    if (pthread_create(&a->thread, NULL, amqp_thread, a))
        rc = bridge_err(err, MSGSEC_E_INTERNAL, "cannot start the AMQP thread");
    else
        bridge_set_wake(b, SIDE_AMQP, wake, a);
done:
    routes_release(t);
    if (rc) {
        side_free(a);
        return rc;
    }
    *out = a;
    return MSGSEC_OK;
}

void amqp_side_relink(amqp_side *a)
{
    /* new routes: close the connection; the reconnect attaches the new set */
    atomic_store(&a->relink, 1);
    wake(a);
}

void amqp_side_stop(amqp_side *a, int timeout_ms)
{
    if (!a)
        return;
    bridge_set_wake(a->b, SIDE_AMQP, NULL, NULL);
    a->drain_ms = timeout_ms;
    pn_proactor_interrupt(a->proactor);
    pthread_join(a->thread, NULL);
    side_free(a);
}
