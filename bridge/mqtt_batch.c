/* mqtt_batch.c - group commit of received MQTT messages (see mqtt_batch.h). */
#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "log.h"
#include "mqtt_batch.h"
#include "routes.h"
#include "spool.h"
#include "util.h"
#include "workers.h"

int mqtt_batch_add(mqtt_batch *bt, const mqtt_publish *pub)
{
    if (array_reserve(&bt->msgs, &bt->cap_msgs, bt->n_msgs + 1, sizeof *bt->msgs)) {
        bmsg_free(pub->msg);
        return -1;
    }
    bt->msgs[bt->n_msgs++] = (mqtt_batch_msg){.in = pub->msg, .packet_id = pub->packet_id,
                                              .qos = pub->qos};
    bt->bytes += pub->msg->payload_len;
    return 0;
}

/* Every message's results, in arrival order, into outs; a message whose
 * routing failed gets none and matched -1. */
static void route_all(mqtt_batch *bt, bridge *b)
{
    size_t n = bt->n_msgs;
    int routed = array_reserve(&bt->jobs, &bt->cap_jobs, n, sizeof *bt->jobs) == 0;
    if (routed) {
        for (size_t i = 0; i < n; i++)
            bt->jobs[i] = (route_job){.in = bt->msgs[i].in, .source = bt->msgs[i].in->subject};
        route_table *t = bridge_routes(b);
        workers_route_append(b->workers, t, SIDE_MQTT, bt->jobs, n, &bt->outs, &bt->n_outs,
                             &bt->cap_outs);
        routes_release(t);
    }
    for (size_t i = 0; i < n; i++) {
        mqtt_batch_msg *m = &bt->msgs[i];
        m->matched = routed ? bt->jobs[i].matched : -1;
        m->first_out = routed ? bt->jobs[i].first : bt->n_outs;
        m->n_out = routed ? bt->jobs[i].n_outs : 0;
    }
}

/* Spools the results of msgs [from, to) in one transaction (never waits):
 * MSGSEC_OK, or the spool's refusal. */
static msgsec_err spool_range(mqtt_batch *bt, bridge *b, size_t from, size_t to, msgsec_error *err)
{
    size_t first = bt->msgs[from].first_out;
    size_t last = bt->msgs[to - 1].first_out + bt->msgs[to - 1].n_out;
    if (last == first)
        return MSGSEC_OK;
    msgsec_err rc = spool_put(b->spool, bt->outs + first, last - first, 0, err);
    if (rc == MSGSEC_OK)
        bridge_notify(b, bt->outs + first, last - first);
    return rc;
}

static void put_ack(mqtt_obuf *acks, const mqtt_batch_msg *m)
{
    if (m->qos == 0)
        return;
    mqtt_put_u8(acks, (m->qos == 1 ? MQTT_PUBACK : MQTT_PUBREC) << 4);
    mqtt_put_u8(acks, 2);
    mqtt_put_u16(acks, m->packet_id);
}

/* Message by message, with the when_full policy: how many may be
 * acknowledged (all of them, or up to the first one that cannot be). */
static size_t spool_each(mqtt_batch *bt, bridge *b, mqtt_wait_room_fn wait_room, void *ctx)
{
    msgsec_error err = {0};
    int reject_when_full = spool_rejects_when_full(b->spool);
    size_t acked = 0;
    for (; acked < bt->n_msgs; acked++) {
        const char *topic = bt->msgs[acked].in->subject;
        if (bt->msgs[acked].matched < 0) {
            /* not acknowledged, nor anything after it: redelivered on the next connection */
            bt->held = 1;
            blog(LOG_WARN, "mqtt_message", "reason=held topic=%s retry_ms=%d", topic,
                 RETRY_LATER_MS);
            break;
        }
        msgsec_err rc;
        while ((rc = spool_range(bt, b, acked, acked + 1, &err)) == SPOOL_FULL && !reject_when_full &&
               wait_room(ctx) == 0)
            ;
        if (rc == MSGSEC_OK)
            continue;
        if ((rc == SPOOL_FULL && reject_when_full) || rc == SPOOL_TOO_BIG) {
            /* when_full: reject. MQTT has no negative acknowledgement for a
               subscriber: the message is dropped, counted and logged. */
            atomic_fetch_add(&b->metrics.rejects[REJECT_SPOOL_FULL], 1);
            blog(LOG_WARN, "reject", "side=mqtt topic=%s reason=spool_full detail=\"%s\"", topic,
                 err.detail);
            continue;
        }
        blog(LOG_ERROR, "spool_refused", "side=mqtt topic=%s reason=\"%s\"", topic, err.detail);
        break;
    }
    return acked;
}

int mqtt_batch_commit(mqtt_batch *bt, bridge *b, mqtt_obuf *acks, mqtt_wait_room_fn wait_room,
                      void *ctx)
{
    bt->held = 0;
    if (bt->n_msgs == 0)
        return 0;
    route_all(bt, b);
    int routed = 1;
    for (size_t i = 0; i < bt->n_msgs; i++)
        routed &= bt->msgs[i].matched >= 0;
    msgsec_error err = {0};
    size_t acked;
    if (routed && spool_range(bt, b, 0, bt->n_msgs, &err) == MSGSEC_OK)
        acked = bt->n_msgs;
    else
        acked = spool_each(bt, b, wait_room, ctx);
    for (size_t i = 0; i < acked; i++)
        put_ack(acks, &bt->msgs[i]);
    int complete = acked == bt->n_msgs;
    mqtt_batch_clear(bt);
    return complete ? 0 : -1;
}

void mqtt_batch_clear(mqtt_batch *bt)
{
    for (size_t i = 0; i < bt->n_outs; i++)
        bmsg_free(bt->outs[i]);
    for (size_t i = 0; i < bt->n_msgs; i++)
        bmsg_free(bt->msgs[i].in);
    bt->n_outs = bt->n_msgs = bt->bytes = 0;
}

void mqtt_batch_free(mqtt_batch *bt)
{
    mqtt_batch_clear(bt);
    free(bt->msgs);
    free(bt->outs);
    free(bt->jobs);
}
