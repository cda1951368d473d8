/* actions.h - the three crypto actions of a route (verify, protect,
 * unprotect) with one worker's msgsec handles (actions.c).
 *
 * msgsec handles are single-threaded: each crypto worker (workers.c) owns
 * one action_ctx, i.e. its own receivers and one sender per protect route,
 * built lazily for the routing table generation in use. Replay detection
 * must not weaken with the number of workers: the receivers of all workers
 * for one generation share one replay cache (action_shared, owned by the
 * routing table), in memory for verify and the configured one (replay.path
 * or memory) for unprotect, as one receiver had before. */
#ifndef MSGSEC_BRIDGE_ACTIONS_H
#define MSGSEC_BRIDGE_ACTIONS_H

#include <stddef.h>

#include "bmsg.h"
#include "counters.h"
#include "msgsec.h"
#include "msgsec_config.h"

/* What the workers of one routing table generation share: its replay caches. */
typedef struct action_shared action_shared;
/* cfg: borrowed, outlives the result (the routing table owns both). NULL:
 * out of memory. */
action_shared *action_shared_new(const msgsec_config *cfg, unsigned generation);
void action_shared_free(action_shared *sh);

/* One worker's handles. */
typedef struct action_ctx action_ctx;
action_ctx *action_ctx_new(void);
void action_ctx_free(action_ctx *ax);

/* Runs the action of route `route` of the generation sh (verify, protect or
 * unprotect; not forward) on in (borrowed) and sets the payload, content
 * type and properties of res (a copy of in's metadata). On failure *why and
 * err say why (the dead letter's reason). */
msgsec_err action_run(action_ctx *ax, action_shared *sh, size_t route, const bmsg *in, bmsg *res,
                      reject_reason *why, msgsec_error *err);

#endif
