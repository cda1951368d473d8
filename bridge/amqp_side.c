/* amqp_side.c - the AMQP 1.0 side (qpid-proton proactor, one event thread).
 *
 * Consuming: one receiver link per `from: amqp:ADDRESS`. Deliveries read in
 * one proactor batch are routed, spooled in one fsync'd transaction, and only
 * then accepted and settled. Credit is granted only while the spool has room
 * (backpressure).
 * Producing: one sender link per destination address, opened on demand; a
 * spooled message leaves the spool when the peer settles it as accepted. The
 * delivery tag is the spool id.
 * Any connection or link failure closes the connection; it is re-opened with
 * exponential backoff plus jitter, all links re-attached, and every message
 * still in the spool re-sent (in-doubt deliveries included).
 */
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
#include <proton/terminus.h>
#include <proton/transport.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "internal.h"

#define CREDIT_WINDOW 500
#define MAX_INFLIGHT 1000
#define SEND_BATCH 64
#define TICK_MS 1000
#define LINK_RETRY_MS 10000

typedef struct link_entry {
    char *address;
    pn_link_t *link;         /* NULL while blocked */
    struct timespec retry;   /* blocked (refused by the peer, or held) until then */
    int held;                /* receiver: a delivery was released for later; pause the link */
} link_entry;

/* A delivery read but not yet settled: its outputs outs[first..first+count)
 * wait to be spooled (at the end of the batch, or later while the spool is
 * full in block mode). */
typedef struct pending {
    pn_delivery_t *delivery;
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
    link_entry *senders; size_t n_senders;
    link_entry *receivers; size_t n_receivers;
    uint64_t cursor;      /* highest spool id sent on this connection */
    uint64_t skipped;     /* lowest id passed over for a blocked address; 0 = none */
    int blocked;          /* links refused by the peer, waiting for their retry time */
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
    pending *pend; size_t n_pend, cap_pend;
    bmsg **outs; size_t n_outs;
    pn_message_t *msg;
    pn_rwbytes_t buf;
};

/* ------------------------------------------------------------ message mapping */

static char *atom_to_string(pn_atom_t a, size_t *len)
{
    char tmp[64];
    if (a.type == PN_STRING || a.type == PN_BINARY || a.type == PN_SYMBOL) {
        char *s = malloc(a.u.as_bytes.size + 1);
        if (s) {
            memcpy(s, a.u.as_bytes.start, a.u.as_bytes.size);
            s[a.u.as_bytes.size] = 0;
            *len = a.u.as_bytes.size;
        }
        return s;
    }
    if (a.type == PN_ULONG)
        snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)a.u.as_ulong);
    else if (a.type == PN_LONG)
        snprintf(tmp, sizeof tmp, "%lld", (long long)a.u.as_long);
    else if (a.type == PN_UUID) {
        const unsigned char *u = (const unsigned char *)a.u.as_uuid.bytes;
        snprintf(tmp, sizeof tmp,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
                 u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
                 u[14], u[15]);
    } else
        return NULL;
    *len = strlen(tmp);
    return strdup(tmp);
}

/* Reads one scalar of d as text (application property values). */
static char *data_to_string(pn_data_t *d)
{
    char tmp[64];
    size_t len;
    switch (pn_data_type(d)) {
    case PN_STRING: case PN_SYMBOL: case PN_BINARY:
        return atom_to_string(pn_data_get_atom(d), &len);
    case PN_BOOL: return strdup(pn_data_get_bool(d) ? "true" : "false");
    case PN_INT: snprintf(tmp, sizeof tmp, "%d", pn_data_get_int(d)); break;
    case PN_UINT: snprintf(tmp, sizeof tmp, "%u", pn_data_get_uint(d)); break;
    case PN_LONG: snprintf(tmp, sizeof tmp, "%lld", (long long)pn_data_get_long(d)); break;
    case PN_ULONG: snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)pn_data_get_ulong(d)); break;
    case PN_DOUBLE: snprintf(tmp, sizeof tmp, "%g", pn_data_get_double(d)); break;
    default: return NULL;
    }
    return strdup(tmp);
}

/* pn_message -> bmsg (subject = original MQTT topic, application properties
 * -> user properties, msgsec-bridge-id kept as the bridge id). NULL if the
 * body is neither binary nor a string. */
static bmsg *from_amqp(pn_message_t *pm)
{
    bmsg *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pn_data_t *body = pn_message_body(pm);
    pn_data_rewind(body);
    int ok = 0;
    if (pn_data_next(body) && (pn_data_type(body) == PN_BINARY || pn_data_type(body) == PN_STRING)) {
        pn_bytes_t bytes = pn_data_type(body) == PN_BINARY ? pn_data_get_binary(body)
                                                           : pn_data_get_string(body);
        ok = bmsg_set_payload(m, (const uint8_t *)bytes.start, bytes.size) == 0;
    }
    const char *s;
    if (ok && (s = pn_message_get_subject(pm)))
        ok = (m->subject = strdup(s)) != NULL;
    if (ok && (s = pn_message_get_content_type(pm)))
        ok = (m->content_type = strdup(s)) != NULL;
    if (ok && (s = pn_message_get_reply_to(pm)))
        ok = (m->reply_to = strdup(s)) != NULL;
    pn_msgid_t corr = pn_message_get_correlation_id(pm);
    if (ok && corr.type != PN_NULL)
        ok = (m->correlation = (uint8_t *)atom_to_string(corr, &m->correlation_len)) != NULL;
    m->ttl_ms = (int64_t)pn_message_get_ttl(pm);
    pn_data_t *props = pn_message_properties(pm);
    pn_data_rewind(props);
    if (ok && pn_data_next(props) && pn_data_type(props) == PN_MAP) {
        size_t n = pn_data_get_map(props);
        pn_data_enter(props);
        for (size_t i = 0; ok && i + 1 < n + 1 && i < n; i += 2) {
            pn_data_next(props);
            char *key = data_to_string(props);
            pn_data_next(props);
            char *val = data_to_string(props);
            if (key && val) {
                if (strcmp(key, "msgsec-bridge-id") == 0 && !m->bridge_id) {
                    m->bridge_id = val;
                    val = NULL;
                } else
                    ok = bmsg_add_prop(m, key, val) == 0;
            }
            free(key);
            free(val);
        }
        pn_data_exit(props);
    }
    if (!ok) {
        bmsg_free(m);
        return NULL;
    }
    return m;
}

static void to_amqp(const bmsg *m, pn_message_t *pm)
{
    pn_message_clear(pm);
    pn_message_set_durable(pm, true);
    pn_message_set_inferred(pm, true); /* body as a data section */
    if (m->bridge_id) {
        pn_atom_t id = {.type = PN_STRING};
        id.u.as_bytes = pn_bytes(strlen(m->bridge_id), m->bridge_id);
        pn_message_set_id(pm, id);
    }
    if (m->subject)
        pn_message_set_subject(pm, m->subject);
    if (m->content_type)
        pn_message_set_content_type(pm, m->content_type);
    if (m->reply_to)
        pn_message_set_reply_to(pm, m->reply_to);
    if (m->correlation) {
        pn_atom_t c = {.type = PN_BINARY};
        c.u.as_bytes = pn_bytes(m->correlation_len, (const char *)m->correlation);
        pn_message_set_correlation_id(pm, c);
    }
    if (m->ttl_ms > 0)
        pn_message_set_ttl(pm, (pn_millis_t)m->ttl_ms);
    pn_data_t *props = pn_message_properties(pm);
    pn_data_put_map(props);
    pn_data_enter(props);
    for (size_t i = 0; i < m->n_props; i++) {
        pn_data_put_string(props, pn_bytes(strlen(m->props[i].key), m->props[i].key));
        pn_data_put_string(props, pn_bytes(strlen(m->props[i].value), m->props[i].value));
    }
    if (m->bridge_id) {
        pn_data_put_string(props, pn_bytes(strlen("msgsec-bridge-id"), "msgsec-bridge-id"));
        pn_data_put_string(props, pn_bytes(strlen(m->bridge_id), m->bridge_id));
    }
    pn_data_exit(props);
    pn_data_put_binary(pn_message_body(pm), pn_bytes(m->payload_len, (const char *)m->payload));
}

/* ------------------------------------------------------------ links */

static void free_links(link_entry **links, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free((*links)[i].address);
    free(*links);
    *links = NULL;
    *n = 0;
}

static pn_link_t *open_link(amqp_side *a, int sender, const char *address)
{
    char name[300];
    snprintf(name, sizeof name, "msgsec-bridge-%s-%s", sender ? "to" : "from", address);
    /* one session per link: RabbitMQ ends the whole session when it refuses
       a link (e.g. amqp:not-found), which must not take the other routes */
    pn_session_t *ssn = pn_session(a->conn);
    pn_session_open(ssn);
    pn_link_t *link = sender ? pn_sender(ssn, name) : pn_receiver(ssn, name);
    pn_terminus_t *t = sender ? pn_link_target(link) : pn_link_source(link);
    pn_terminus_set_address(t, address);
    if (sender)
        pn_link_set_snd_settle_mode(link, PN_SND_UNSETTLED);
    else
        pn_link_set_rcv_settle_mode(link, PN_RCV_FIRST);
    pn_link_open(link);
    return link;
}

static pn_link_t *add_link(amqp_side *a, int sender, const char *address)
{
    link_entry **links = sender ? &a->senders : &a->receivers;
    size_t *n = sender ? &a->n_senders : &a->n_receivers;
    link_entry *l = realloc(*links, (*n + 1) * sizeof *l);
    if (!l)
        return NULL;
    *links = l;
    l[*n] = (link_entry){.address = strdup(address), .link = open_link(a, sender, address)};
    (*n)++;
    return l[*n - 1].link;
}

static int due_now(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

/* A link the peer refused (e.g. no such queue) is retried after a delay on
 * its own; the connection and the other routes keep running. */
static void block_link(amqp_side *a, pn_link_t *link)
{
    link_entry *links = pn_link_is_sender(link) ? a->senders : a->receivers;
    size_t n = pn_link_is_sender(link) ? a->n_senders : a->n_receivers;
    for (size_t i = 0; i < n; i++) {
        if (links[i].link != link)
            continue;
        links[i].link = NULL;
        /* outcomes of what was sent on it will not come: send again later */
        for (pn_delivery_t *d = pn_unsettled_head(link); d; d = pn_unsettled_next(d)) {
            pn_delivery_tag_t tag = pn_delivery_tag(d);
            uint64_t id = 0;
            if (pn_link_is_sender(link) && tag.size == sizeof id) {
                memcpy(&id, tag.start, sizeof id);
                if (!a->skipped || id < a->skipped)
                    a->skipped = id;
                if (a->inflight)
                    a->inflight--;
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &links[i].retry);
        links[i].retry.tv_sec += LINK_RETRY_MS / 1000;
        a->blocked++;
    }
    pn_link_close(link);
    if (!(pn_session_state(pn_link_session(link)) & PN_LOCAL_CLOSED))
        pn_session_close(pn_link_session(link));
    pn_proactor_set_timeout(a->proactor, TICK_MS);
}

/* Re-opens blocked links whose time has come; sends again what was skipped. */
static void retry_links(amqp_side *a)
{
    for (int sender = 0; sender < 2 && a->blocked; sender++) {
        link_entry *links = sender ? a->senders : a->receivers;
        size_t n = sender ? a->n_senders : a->n_receivers;
        for (size_t i = 0; i < n; i++) {
            if (links[i].link || !due_now(&links[i].retry))
                continue;
            links[i].link = open_link(a, sender, links[i].address);
            a->blocked--;
            if (!sender)
                pn_link_flow(links[i].link, CREDIT_WINDOW);
        }
    }
    if (a->skipped && a->cursor >= a->skipped)
        a->cursor = a->skipped - 1;
    a->skipped = 0;
    if (a->blocked)
        pn_proactor_set_timeout(a->proactor, TICK_MS);
}

/* The sender link for address (opened on first use); NULL while blocked. */
static pn_link_t *sender_for(amqp_side *a, const char *address, int *blocked)
{
    *blocked = 0;
    for (size_t i = 0; i < a->n_senders; i++)
        if (strcmp(a->senders[i].address, address) == 0) {
            *blocked = a->senders[i].link == NULL;
            return a->senders[i].link;
        }
    return add_link(a, 1, address);
}

static const char *receiver_address(amqp_side *a, pn_link_t *link)
{
    for (size_t i = 0; i < a->n_receivers; i++)
        if (a->receivers[i].link == link)
            return a->receivers[i].address;
    return NULL;
}

/* One receiver per distinct `from: amqp:X` of the current table. */
static void open_receivers(amqp_side *a)
{
    route_table *t = routes_acquire(a->b);
    for (size_t i = 0; i < t->cfg->n_routes; i++) {
        bridge_side side;
        const char *name;
        if (route_endpoint(t->cfg->routes[i].from, &side, &name) || side != SIDE_AMQP)
            continue;
        int have = 0;
        for (size_t j = 0; j < a->n_receivers; j++)
            have |= strcmp(a->receivers[j].address, name) == 0;
        if (!have)
            add_link(a, 0, name);
    }
    routes_release(t);
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
    for (size_t i = 0; i < a->n_receivers; i++) {
        pn_link_t *l = a->receivers[i].link;
        if (!l)
            continue; /* blocked */
        int credit = pn_link_credit(l);
        if (credit < CREDIT_WINDOW / 2)
            pn_link_flow(l, CREDIT_WINDOW - credit);
    }
}

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
            pn_link_t *l = sender_for(a, batch[i]->dest, &blocked);
            if (blocked) { /* passed over now, sent again when the link is retried */
                if (!a->skipped)
                    a->skipped = batch[i]->id;
                a->cursor = batch[i]->id;
                continue;
            }
            if (!l || pn_link_credit(l) <= 0)
                break; /* resumes on PN_LINK_FLOW */
            uint64_t tag = batch[i]->id;
            pn_delivery(l, pn_dtag((const char *)&tag, sizeof tag));
            to_amqp(batch[i], a->msg);
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
    if (a->n_done == a->cap_done) {
        size_t cap = a->cap_done ? a->cap_done * 2 : 256;
        uint64_t *p = realloc(a->done, cap * sizeof *p);
        if (!p) { /* keep it: a duplicate after restart is harmless */
            spool_del(a->b->spool, SIDE_AMQP, &id, 1);
            return;
        }
        a->done = p;
        a->cap_done = cap;
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

/* ------------------------------------------------------------ receiving */

static void on_incoming(amqp_side *a, pn_delivery_t *d)
{
    pn_link_t *l = pn_delivery_link(d);
    if (!pn_delivery_readable(d) || pn_delivery_partial(d))
        return;
    size_t size = pn_delivery_pending(d);
    char *data = malloc(size ? size : 1);
    ssize_t got = data ? pn_link_recv(l, data, size) : -1;
    pn_link_advance(l);
    pn_message_clear(a->msg);
    bmsg *m = NULL;
    if (got >= 0 && pn_message_decode(a->msg, data, (size_t)got) == 0)
        m = from_amqp(a->msg);
    if (data) {
        OPENSSL_cleanse(data, size);
        free(data);
    }
    const char *address = receiver_address(a, l);
    if (!m || !address) {
        blog(LOG_WARN, "amqp_bad_message", "address=%s reason=%s", address ? address : "?",
             m ? "unknown link" : "undecodable or non-binary body");
        pn_delivery_update(d, PN_REJECTED);
        pn_delivery_settle(d);
        bmsg_free(m);
        return;
    }
    m->qos = 1;
    size_t first = a->n_outs;
    route_table *t = routes_acquire(a->b);
    int matched = routes_apply(a->b, t, SIDE_AMQP, address, m, &a->outs, &a->n_outs);
    routes_release(t);
    bmsg_free(m);
    if (matched < 0)
        for (size_t i = 0; i < a->n_receivers; i++)
            a->receivers[i].held |= a->receivers[i].link == l;
    if (a->n_pend == a->cap_pend) {
        size_t cap = a->cap_pend ? a->cap_pend * 2 : 64;
        pending *p = realloc(a->pend, cap * sizeof *p);
        if (!p) {
            pn_delivery_update(d, PN_RELEASED);
            pn_delivery_settle(d);
            return;
        }
        a->pend = p;
        a->cap_pend = cap;
    }
    a->pend[a->n_pend++] = (pending){d, matched, first, a->n_outs - first};
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
        blog(LOG_ERROR, "spool_refused", "side=amqp reason=\"%s\"", err->detail);
        pn_delivery_update(d, PN_RELEASED); /* the broker keeps it for later */
    }
    pn_delivery_settle(d);
}

/* End of a batch: spool what was read (one transaction when it all fits),
 * then settle it. In block mode what does not fit stays unsettled (RabbitMQ
 * holds it for us, no new credit is granted) and is retried on the next tick. */
static void flush_incoming(amqp_side *a)
{
    if (a->n_pend == 0)
        return;
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
    for (size_t j = 0; j < a->n_pend; j++)
        a->pend[j].first -= keep_from;
    if (a->n_pend)
        pn_proactor_set_timeout(a->proactor, TICK_MS);
}

/* A receiver whose delivery was released for later (routes_apply could not
 * handle it now) is closed and re-attached after LINK_RETRY_MS, once nothing
 * read on it waits to be settled: RabbitMQ would redeliver a released
 * message at once, again and again. */
static void pause_held(amqp_side *a)
{
    for (size_t i = 0; i < a->n_receivers; i++) {
        pn_link_t *l = a->receivers[i].link;
        int waiting = 0;
        for (size_t j = 0; l && j < a->n_pend; j++)
            waiting |= pn_delivery_link(a->pend[j].delivery) == l;
        if (!a->receivers[i].held || !l || waiting)
            continue;
        a->receivers[i].held = 0;
        blog(LOG_WARN, "amqp_link_held", "link=%s address=%s retry_ms=%d", pn_link_name(l),
             a->receivers[i].address, LINK_RETRY_MS);
        block_link(a, l);
    }
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
    /* deliveries read but not yet spooled: the broker redelivers them */
    for (size_t i = 0; i < a->n_outs; i++)
        bmsg_free(a->outs[i]);
    free(a->outs);
    a->outs = NULL;
    a->n_outs = a->n_pend = 0;
    free_links(&a->senders, &a->n_senders);
    free_links(&a->receivers, &a->n_receivers);
    a->inflight = 0;
    a->cursor = 0; /* everything still spooled is in doubt: send again */
    a->skipped = 0;
    a->blocked = 0;
    atomic_store(&a->b->metrics.connected[SIDE_AMQP], 0);
    if (a->stopping) {
        a->stopped = 1;
        return;
    }
    atomic_fetch_add(&a->b->metrics.reconnects[SIDE_AMQP], 1);
    pn_proactor_set_timeout(a->proactor, (pn_millis_t)backoff_next(&a->backoff_ms));
}

static void handle(amqp_side *a, pn_event_t *e)
{
    switch (pn_event_type(e)) {
    case PN_CONNECTION_INIT: {
        pn_connection_t *c = pn_event_connection(e);
        pn_connection_open(c);
        a->opened = 1;
        open_receivers(a);
        grant_credit(a);
        break;
    }
    case PN_CONNECTION_REMOTE_OPEN:
        blog(LOG_INFO, "amqp_connected", "host=%s port=%s", a->host, a->port);
        a->backoff_ms = BACKOFF_MIN_MS;
        atomic_store(&a->b->metrics.connected[SIDE_AMQP], 1);
        dispatch(a);
        break;
    case PN_CONNECTION_WAKE:
        if (a->stopping) {
            /* stop requested (see PN_PROACTOR_INTERRUPT): stop consuming, and
               close once the outcomes of what we sent are in (or time is up) */
            for (size_t i = 0; i < a->n_receivers; i++)
                if (a->receivers[i].link && !(pn_link_state(a->receivers[i].link) & PN_LOCAL_CLOSED))
                    pn_link_close(a->receivers[i].link);
            if (a->inflight == 0 || a->force_closed)
                pn_connection_close(a->conn);
            break;
        }
        if (atomic_exchange(&a->relink, 0) && a->conn) {
            blog(LOG_INFO, "amqp_relink", "reason=reload");
            pn_connection_close(a->conn);
            break;
        }
        retry_links(a);
        dispatch(a);
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
        pn_condition_t *c = pn_link_remote_condition(l);
        blog(LOG_WARN, "amqp_link_closed", "link=%s condition=\"%s\" description=\"%s\" retry_ms=%d",
             pn_link_name(l), pn_condition_get_name(c) ? pn_condition_get_name(c) : "",
             pn_condition_get_description(c) ? pn_condition_get_description(c) : "", LINK_RETRY_MS);
        /* RabbitMQ has no link recovery: this address is retried on its own
           later; its messages stay spooled */
        block_link(a, l);
        dispatch(a);
        break;
    }
    case PN_SESSION_REMOTE_CLOSE: {
        pn_session_t *ssn = pn_event_session(e);
        if (pn_session_state(ssn) & PN_LOCAL_CLOSED)
            break;
        pn_condition_t *c = pn_session_remote_condition(ssn);
        for (int sender = 0; sender < 2; sender++) {
            link_entry *links = sender ? a->senders : a->receivers;
            size_t n = sender ? a->n_senders : a->n_receivers;
            for (size_t i = 0; i < n; i++) {
                pn_link_t *l = links[i].link;
                if (!l || pn_link_session(l) != ssn)
                    continue;
                blog(LOG_WARN, "amqp_link_closed", "link=%s condition=\"%s\" description=\"%s\" retry_ms=%d",
                     pn_link_name(l), pn_condition_get_name(c) ? pn_condition_get_name(c) : "",
                     pn_condition_get_description(c) ? pn_condition_get_description(c) : "",
                     LINK_RETRY_MS);
                block_link(a, l);
            }
        }
        if (!(pn_session_state(ssn) & PN_LOCAL_CLOSED))
            pn_session_close(ssn);
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
            pause_held(a);
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
    if (a->password) {
        OPENSSL_cleanse(a->password, strlen(a->password));
        free(a->password);
    }
    free(a->pend);
    free(a->done);
    for (size_t i = 0; i < a->n_outs; i++)
        bmsg_free(a->outs[i]);
    free(a->outs);
    free_links(&a->senders, &a->n_senders);
    free_links(&a->receivers, &a->n_receivers);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

msgsec_err amqp_side_start(bridge *b, amqp_side **out, msgsec_error *err)
{
    *out = NULL;
    amqp_side *a = calloc(1, sizeof *a);
    if (!a)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    pthread_mutex_init(&a->lock, NULL);
    a->b = b;
    a->backoff_ms = BACKOFF_MIN_MS;
    route_table *t = routes_acquire(b);
    const msgsec_config *cfg = t->cfg;
    msgsec_err rc = MSGSEC_OK;
    int tls = 0;
    const char *url = cfg->amqp.url ? cfg->amqp.url : "amqp://127.0.0.1:5672";
    if (split_url(url, a, &tls)) {
        rc = msgsec_seterr(err, MSGSEC_E_USAGE, "%s: amqp.url: expected amqp://HOST:PORT or amqps://HOST:PORT", cfg->path);
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
            rc = msgsec_seterr(err, MSGSEC_E_USAGE, "%s: amqp.tls.ca: cannot load %s", cfg->path, cfg->amqp.tls.ca);
            goto done;
        }
        if (cfg->amqp.tls.cert &&
            pn_ssl_domain_set_credentials(a->ssl, cfg->amqp.tls.cert, cfg->amqp.tls.key, NULL)) {
            rc = msgsec_seterr(err, MSGSEC_E_USAGE, "%s: amqp.tls: cannot load certificate %s",
                               cfg->path, cfg->amqp.tls.cert);
            goto done;
        }
    }
    a->msg = pn_message();
    a->proactor = pn_proactor();
    if (!a->msg || !a->proactor || !a->mechanism) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        goto done;
    }
    if (pthread_create(&a->thread, NULL, amqp_thread, a))
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "cannot start the AMQP thread");
done:
    routes_release(t);
    if (rc) {
        side_free(a);
        return rc;
    }
    *out = a;
    return MSGSEC_OK;
}

void amqp_side_notify(amqp_side *a)
{
    pthread_mutex_lock(&a->lock);
    if (a->conn)
        pn_connection_wake(a->conn);
    pthread_mutex_unlock(&a->lock);
}

void amqp_side_relink(amqp_side *a)
{
    /* new routes: close the connection; the reconnect attaches the new set */
    atomic_store(&a->relink, 1);
    pthread_mutex_lock(&a->lock);
    if (a->conn)
        pn_connection_wake(a->conn);
    pthread_mutex_unlock(&a->lock);
}

void amqp_side_stop(amqp_side *a, int timeout_ms)
{
    if (!a)
        return;
    a->drain_ms = timeout_ms;
    pn_proactor_interrupt(a->proactor);
    pthread_join(a->thread, NULL);
    side_free(a);
}
