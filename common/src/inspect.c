/* inspect.c - unverified JSON summary of an envelope (skeleton). */
#include "recv_internal.h"

msgsec_err msgsec_inspect(const uint8_t *envelope, size_t len, size_t max_bytes, char **json,
                          msgsec_error *err)
{
    (void)envelope, (void)len, (void)max_bytes;
    *json = NULL;
    return msgsec_seterr(err, MSGSEC_E_INTERNAL, "inspect not implemented yet");
}
