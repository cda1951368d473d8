/* amqp_links.c - the AMQP side's links (see amqp_links.h). */
#include <proton/delivery.h>
#include <proton/terminus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp_links.h"
#include "bmsg.h"
#include "log.h"
#include "routes.h"

static void free_list(amqp_link **links, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free((*links)[i].address);
    free(*links);
    *links = NULL;
    *n = 0;
}

void amqp_links_clear(amqp_links *l)
{
    free_list(&l->senders, &l->n_senders);
    free_list(&l->receivers, &l->n_receivers);
    l->blocked = 0;
    l->skipped = 0;
}

static pn_link_t *open_link(pn_connection_t *conn, int sender, const char *address)
{
    char name[300];
    snprintf(name, sizeof name, "msgsec-bridge-%s-%s", sender ? "to" : "from", address);
    /* one session per link: RabbitMQ ends the whole session when it refuses
       a link (e.g. amqp:not-found), which must not take the other routes */
    pn_session_t *ssn = pn_session(conn);
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

static pn_link_t *add_link(amqp_links *l, pn_connection_t *conn, int sender, const char *address)
{
    amqp_link **links = sender ? &l->senders : &l->receivers;
    size_t *n = sender ? &l->n_senders : &l->n_receivers;
    amqp_link *grown = realloc(*links, (*n + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    *links = grown;
    char *copy = strdup(address);
    if (!copy)
        return NULL;
    grown[*n] = (amqp_link){.address = copy, .link = open_link(conn, sender, address)};
    return grown[(*n)++].link;
}

void amqp_links_open_receivers(amqp_links *l, pn_connection_t *conn, const msgsec_config *cfg)
{
    for (size_t i = 0; i < cfg->n_routes; i++) {
        bridge_side side;
        const char *name;
        if (route_endpoint(cfg->routes[i].from, &side, &name) || side != SIDE_AMQP)
            continue;
        int have = 0;
        for (size_t j = 0; j < l->n_receivers; j++)
            have |= strcmp(l->receivers[j].address, name) == 0;
        if (!have)
            add_link(l, conn, 0, name);
    }
}

pn_link_t *amqp_links_sender(amqp_links *l, pn_connection_t *conn, const char *address, int *blocked)
{
    *blocked = 0;
    for (size_t i = 0; i < l->n_senders; i++)
        if (strcmp(l->senders[i].address, address) == 0) {
            *blocked = l->senders[i].link == NULL;
            return l->senders[i].link;
        }
    return add_link(l, conn, 1, address);
}

void amqp_links_skip(amqp_links *l, uint64_t id)
{
    if (!l->skipped || id < l->skipped)
        l->skipped = id;
}

const char *amqp_links_source(const amqp_links *l, pn_link_t *link)
{
    for (size_t i = 0; i < l->n_receivers; i++)
        if (l->receivers[i].link == link)
            return l->receivers[i].address;
    return NULL;
}

static int due_now(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

/* Closes link (entry e) with its session until its retry time. */
static void block(amqp_links *l, amqp_link *e, pn_link_t *link)
{
    e->link = NULL;
    clock_gettime(CLOCK_MONOTONIC, &e->retry);
    e->retry.tv_sec += AMQP_LINK_RETRY_MS / 1000;
    l->blocked++;
    pn_link_close(link);
    if (!(pn_session_state(pn_link_session(link)) & PN_LOCAL_CLOSED))
        pn_session_close(pn_link_session(link));
}

size_t amqp_links_refused(amqp_links *l, pn_link_t *link, pn_condition_t *cond)
{
    blog(LOG_WARN, "amqp_link_closed", "link=%s condition=\"%s\" description=\"%s\" retry_ms=%d",
         pn_link_name(link), pn_condition_get_name(cond) ? pn_condition_get_name(cond) : "",
         pn_condition_get_description(cond) ? pn_condition_get_description(cond) : "",
         AMQP_LINK_RETRY_MS);
    int sender = pn_link_is_sender(link);
    amqp_link *links = sender ? l->senders : l->receivers;
    size_t n = sender ? l->n_senders : l->n_receivers, lost = 0;
    for (size_t i = 0; i < n; i++) {
        if (links[i].link != link)
            continue;
        /* outcomes of what was sent on it will not come: send again later */
        for (pn_delivery_t *d = pn_unsettled_head(link); sender && d; d = pn_unsettled_next(d)) {
            pn_delivery_tag_t tag = pn_delivery_tag(d);
            uint64_t id = 0;
            if (tag.size == sizeof id) {
                memcpy(&id, tag.start, sizeof id);
                amqp_links_skip(l, id);
                lost++;
            }
        }
        block(l, &links[i], link);
        return lost;
    }
    pn_link_close(link);
    if (!(pn_session_state(pn_link_session(link)) & PN_LOCAL_CLOSED))
        pn_session_close(pn_link_session(link));
    return lost;
}

void amqp_links_hold(amqp_links *l, pn_link_t *link)
{
    for (size_t i = 0; i < l->n_receivers; i++)
        l->receivers[i].held |= l->receivers[i].link == link;
}

void amqp_links_pause_held(amqp_links *l, int (*busy)(void *ctx, pn_link_t *link), void *ctx)
{
    for (size_t i = 0; i < l->n_receivers; i++) {
        pn_link_t *link = l->receivers[i].link;
        if (!l->receivers[i].held || !link || busy(ctx, link))
            continue;
        l->receivers[i].held = 0;
        blog(LOG_WARN, "amqp_link_held", "link=%s address=%s retry_ms=%d", pn_link_name(link),
             l->receivers[i].address, AMQP_LINK_RETRY_MS);
        block(l, &l->receivers[i], link);
    }
}

size_t amqp_links_session_ended(amqp_links *l, pn_session_t *ssn, pn_condition_t *cond)
{
    size_t lost = 0;
    for (int sender = 0; sender < 2; sender++) {
        amqp_link *links = sender ? l->senders : l->receivers;
        size_t n = sender ? l->n_senders : l->n_receivers;
        for (size_t i = 0; i < n; i++)
            if (links[i].link && pn_link_session(links[i].link) == ssn)
                lost += amqp_links_refused(l, links[i].link, cond);
    }
    if (!(pn_session_state(ssn) & PN_LOCAL_CLOSED))
        pn_session_close(ssn);
    return lost;
}

uint64_t amqp_links_retry(amqp_links *l, pn_connection_t *conn, int credit)
{
    for (int sender = 0; sender < 2 && l->blocked; sender++) {
        amqp_link *links = sender ? l->senders : l->receivers;
        size_t n = sender ? l->n_senders : l->n_receivers;
        for (size_t i = 0; i < n; i++) {
            if (links[i].link || !due_now(&links[i].retry))
                continue;
            links[i].link = open_link(conn, sender, links[i].address);
            l->blocked--;
            if (!sender)
                pn_link_flow(links[i].link, credit);
        }
    }
    uint64_t skipped = l->skipped;
    l->skipped = 0;
    return skipped;
}

void amqp_links_credit(amqp_links *l, int window)
{
    for (size_t i = 0; i < l->n_receivers; i++) {
        pn_link_t *link = l->receivers[i].link;
        if (!link)
            continue; /* blocked */
        int credit = pn_link_credit(link);
        if (credit < window / 2)
            pn_link_flow(link, window - credit);
    }
}

void amqp_links_close_receivers(amqp_links *l)
{
    for (size_t i = 0; i < l->n_receivers; i++)
        if (l->receivers[i].link && !(pn_link_state(l->receivers[i].link) & PN_LOCAL_CLOSED))
            pn_link_close(l->receivers[i].link);
}
