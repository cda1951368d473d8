/* wrap_aged - writes an envelope created AGE seconds ago (the msgsec command
 * always stamps the current time), for the plugin's freshness tests.
 *
 * usage: wrap_aged CERT KEY SERVICE_CERT AGE_SECONDS TO < payload > envelope
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "msgsec.h"

int main(int argc, char **argv)
{
    msgsec_error err = {0};
    msgsec_sender *sender = NULL;
    uint8_t payload[4096], *envelope = NULL;
    size_t len, envelope_len = 0;
    msgsec_err rc;

    if (argc != 6) {
        fprintf(stderr, "usage: wrap_aged CERT KEY SERVICE_CERT AGE_SECONDS TO\n");
        return MSGSEC_E_USAGE;
    }
    len = fread(payload, 1, sizeof(payload), stdin);
    msgsec_sender_opts opts = {.credential = MSGSEC_CRED_CERTIFICATE,
                               .cert_file = argv[1],
                               .key_file = argv[2],
                               .service_cert_file = argv[3],
                               .ttl_seconds = 60};
    msgsec_wrap_params params = {.to = argv[5], .now = time(NULL) - atol(argv[4])};
    rc = msgsec_global_init(&err);
    if (rc == MSGSEC_OK)
        rc = msgsec_sender_new(&opts, &sender, &err);
    if (rc == MSGSEC_OK)
        rc = msgsec_wrap(sender, &params, payload, len, &envelope, &envelope_len, &err);
    if (rc == MSGSEC_OK && fwrite(envelope, 1, envelope_len, stdout) != envelope_len)
        rc = MSGSEC_E_INTERNAL;
    if (rc != MSGSEC_OK)
        fprintf(stderr, "wrap_aged: %s\n", err.detail);
    msgsec_free(envelope);
    msgsec_sender_free(sender);
    msgsec_global_cleanup();
    return rc;
}
