/* receiver.c - msgsec_unwrap / msgsec_verify (skeleton). */
#include <stdlib.h>

#include "recv_internal.h"

struct msgsec_receiver {
    time_t fixed_now;
};

msgsec_err msgsec_receiver_new(const msgsec_receiver_opts *opts, msgsec_receiver **out,
                               msgsec_error *err)
{
    (void)opts;
    *out = NULL;
    return msgsec_seterr(err, MSGSEC_E_INTERNAL, "receiver not implemented yet");
}

void msgsec_receiver_free(msgsec_receiver *receiver) { free(receiver); }

void msgsec_receiver_set_time(msgsec_receiver *receiver, time_t now) { receiver->fixed_now = now; }

msgsec_err msgsec_unwrap(msgsec_receiver *receiver, const uint8_t *envelope, size_t len,
                         uint8_t **payload, size_t *payload_len, msgsec_context **ctx,
                         msgsec_error *err)
{
    (void)receiver, (void)envelope, (void)len;
    *payload = NULL;
    *payload_len = 0;
    if (ctx)
        *ctx = NULL;
    return msgsec_seterr(err, MSGSEC_E_INTERNAL, "unwrap not implemented yet");
}

msgsec_err msgsec_verify(msgsec_receiver *receiver, const uint8_t *envelope, size_t len,
                         msgsec_context **ctx, msgsec_error *err)
{
    (void)receiver, (void)envelope, (void)len;
    if (ctx)
        *ctx = NULL;
    return msgsec_seterr(err, MSGSEC_E_INTERNAL, "verify not implemented yet");
}
