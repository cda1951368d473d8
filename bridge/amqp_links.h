/* amqp_links.h - the AMQP side's links on its connection (amqp_links.c):
 * one receiver link per `from: amqp:ADDRESS`, one sender link per
 * destination address (opened on first use), each in its own session, and
 * the retry of a link the peer refused. Used from the proactor thread only,
 * within the connection's own event batches. */
#ifndef MSGSEC_BRIDGE_AMQP_LINKS_H
#define MSGSEC_BRIDGE_AMQP_LINKS_H

#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/link.h>
#include <proton/session.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "msgsec_config.h"

/* A link refused by the peer is re-opened after this long. */
#define AMQP_LINK_RETRY_MS 10000

typedef struct amqp_link {
    char *address;
    pn_link_t *link;       /* NULL while blocked */
    struct timespec retry; /* blocked (refused by the peer, or held) until then */
    int held;              /* receiver: a delivery was released for later; pause the link */
} amqp_link;

typedef struct amqp_links {
    amqp_link *senders;
    size_t n_senders;
    amqp_link *receivers;
    size_t n_receivers;
    int blocked;      /* links refused by the peer, waiting for their retry time */
    uint64_t skipped; /* lowest spool id passed over for a blocked address; 0 = none */
} amqp_links;

/* One receiver link on conn for each distinct `from: amqp:X` of cfg
 * (borrowed) that has none yet. */
void amqp_links_open_receivers(amqp_links *l, pn_connection_t *conn, const msgsec_config *cfg);
/* The sender link for address (borrowed) on conn, opened on first use.
 * NULL: blocked (*blocked = 1; the caller passes the message over and notes
 * its id with amqp_links_skip) or out of memory. */
pn_link_t *amqp_links_sender(amqp_links *l, pn_connection_t *conn, const char *address, int *blocked);
/* Notes a spool id passed over for a blocked address (sent again on retry). */
void amqp_links_skip(amqp_links *l, uint64_t id);
/* The address a receiver link consumes; NULL if it is not one of ours. */
const char *amqp_links_source(const amqp_links *l, pn_link_t *link);
/* The peer refused link (cond: its reason, borrowed; logged): it is closed
 * with its session and retried on its own later, the other routes keep
 * running. Returns how many deliveries sent on it lose their outcome (their
 * lowest id is noted as skipped, to be sent again). */
size_t amqp_links_refused(amqp_links *l, pn_link_t *link, pn_condition_t *cond);
/* The same for every link of a session the peer ended. */
size_t amqp_links_session_ended(amqp_links *l, pn_session_t *ssn, pn_condition_t *cond);
/* A delivery read on receiver link was released for later (the routes could
 * not handle it now): the link pauses once nothing read on it waits. */
void amqp_links_hold(amqp_links *l, pn_link_t *link);
/* Closes every held receiver link for which busy(ctx, link) is 0, to be
 * re-opened after AMQP_LINK_RETRY_MS: RabbitMQ would redeliver a released
 * message at once, again and again. */
void amqp_links_pause_held(amqp_links *l, int (*busy)(void *ctx, pn_link_t *link), void *ctx);
/* Re-opens the blocked links whose time has come (receivers with credit).
 * Returns the lowest id skipped since the last call (0 = none): everything
 * from there is to be sent again. */
uint64_t amqp_links_retry(amqp_links *l, pn_connection_t *conn, int credit);
/* Tops up the credit of every open receiver link to window (when below half). */
void amqp_links_credit(amqp_links *l, int window);
/* Closes the receiver links (stop consuming). */
void amqp_links_close_receivers(amqp_links *l);
/* Forgets every link (the connection is gone or being freed). */
void amqp_links_clear(amqp_links *l);

#endif
