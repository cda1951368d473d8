/* cmd_unwrap.c - `msgsec unwrap` and `msgsec verify`: they share the trust options. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "internal.h"

static const char unwrap_usage[] =
    "usage: msgsec unwrap --cert FILE --key FILE\n"
    "                     [--ca FILE]... [--crl FILE]... [--issuer-cert FILE]... [--users FILE]\n"
    "                     [--keytab FILE] [--ticket-grace SECONDS] [--to URI] [--max-age SECONDS]\n"
    "                     [--clock-skew SECONDS] [--replay-db PATH] [--replay-max-bytes N]\n"
    "                     [--require-signed-token]\n"
    "                     [--context FILE] [--in FILE|-] [--out FILE|-]\n"
    "\n"
    "Checks the envelope (--in, default stdin) completely with the service's own certificate\n"
    "and key and writes the payload to --out (default stdout) only when every check passed.\n"
    "--context FILE writes the security context as JSON. Defaults: --max-age 86400,\n"
    "--clock-skew 300, replay cache in memory (use --replay-db DIR across runs; its size\n"
    "--replay-max-bytes defaults to 67108864, one message per 512 bytes), --ticket-grace 0\n"
    "(a Kerberos ticket that expired while the message was queued is refused; with N > 0 it\n"
    "is accepted up to N seconds after its expiry; N <= --max-age). --require-signed-token:\n"
    "the signature must also cover the sender's token and EncryptedKey (sp:ProtectTokens);\n"
    "by default a certificate sender's unsigned BST and EncryptedKey are accepted.\n";

static const char verify_usage[] =
    "usage: msgsec verify [--cert FILE] [--ca FILE]... [--crl FILE]... [--issuer-cert FILE]...\n"
    "                     [--users FILE] [--keytab FILE] [--ticket-grace SECONDS] [--to URI]\n"
    "                     [--max-age SECONDS] [--clock-skew SECONDS] [--replay-db PATH]\n"
    "                     [--replay-max-bytes N] [--require-signed-token] [--context FILE]\n"
    "                     [--in FILE|-]\n"
    "\n"
    "Checks what a broker can check without the service key: structure, limits, freshness,\n"
    "replay and, for certificate and issued credentials, signature, chain and sender.\n"
    "--require-signed-token as for unwrap.\n";

enum {
    OPT_CERT = 256, OPT_KEY, OPT_CA, OPT_CRL, OPT_ISSUER_CERT, OPT_USERS, OPT_KEYTAB, OPT_TICKET_GRACE, OPT_TO,
    OPT_MAX_AGE, OPT_CLOCK_SKEW, OPT_REPLAY_DB, OPT_REPLAY_MAX_BYTES, OPT_REQUIRE_SIGNED_TOKEN,
    OPT_CONTEXT, OPT_IN, OPT_OUT
};

#define TRUST_OPTIONS                                                                       \
    {"cert", required_argument, NULL, OPT_CERT},                                            \
    {"ca", required_argument, NULL, OPT_CA},                                                \
    {"crl", required_argument, NULL, OPT_CRL},                                              \
    {"issuer-cert", required_argument, NULL, OPT_ISSUER_CERT},                              \
    {"users", required_argument, NULL, OPT_USERS},                                          \
    {"keytab", required_argument, NULL, OPT_KEYTAB},                                        \
    {"ticket-grace", required_argument, NULL, OPT_TICKET_GRACE},                            \
    {"to", required_argument, NULL, OPT_TO},                                                \
    {"max-age", required_argument, NULL, OPT_MAX_AGE},                                      \
    {"clock-skew", required_argument, NULL, OPT_CLOCK_SKEW},                                \
    {"replay-db", required_argument, NULL, OPT_REPLAY_DB},                                  \
    {"replay-max-bytes", required_argument, NULL, OPT_REPLAY_MAX_BYTES},                    \
    {"require-signed-token", no_argument, NULL, OPT_REQUIRE_SIGNED_TOKEN},                  \
    {"context", required_argument, NULL, OPT_CONTEXT},                                      \
    {"in", required_argument, NULL, OPT_IN},                                                \
    {"help", no_argument, NULL, 'h'}

static const struct option unwrap_options[] = {
    TRUST_OPTIONS,
    {"key", required_argument, NULL, OPT_KEY},
    {"out", required_argument, NULL, OPT_OUT},
    {NULL, 0, NULL, 0},
};

static const struct option verify_options[] = {
    TRUST_OPTIONS,
    {NULL, 0, NULL, 0},
};

static int run_receiver(int argc, char **argv, int unwrap)
{
    const char *cmd = unwrap ? "unwrap" : "verify";
    msgsec_receiver_opts opts = {0};
    const char *in = "-", *out = "-", *context_file = NULL;
    /* every repeated option can occur at most argc times */
    const char **ca = calloc((size_t)argc, sizeof *ca), **crl = calloc((size_t)argc, sizeof *crl),
               **issuers = calloc((size_t)argc, sizeof *issuers);
    msgsec_receiver *receiver = NULL;
    msgsec_context *ctx = NULL;
    uint8_t *envelope = NULL, *payload = NULL;
    size_t envelope_len = 0, payload_len = 0;
    char *json = NULL;
    cli_output payload_out = {.fd = -1}, context_out = {.fd = -1};
    msgsec_error err = {0};
    int c, rc = MSGSEC_OK;

    if (!ca || !crl || !issuers) {
        rc = cli_fail(MSGSEC_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    while ((c = cli_next_option(argc, argv, cmd, unwrap ? unwrap_options : verify_options)) !=
           -1) {
        switch (c) {
        case 'h': fputs(unwrap ? unwrap_usage : verify_usage, stdout); goto cleanup;
        case OPT_CERT: opts.cert_file = optarg; break;
        case OPT_KEY: opts.key_file = optarg; break;
        case OPT_CA: ca[opts.n_ca_files++] = optarg; break;
        case OPT_CRL: crl[opts.n_crl_files++] = optarg; break;
        case OPT_ISSUER_CERT: issuers[opts.n_issuer_files++] = optarg; break;
        case OPT_USERS: opts.users_file = optarg; break;
        case OPT_KEYTAB: opts.keytab_file = optarg; break;
        case OPT_TICKET_GRACE:
            if (cli_parse_long(cmd, "--ticket-grace", "seconds", optarg, 0, LONG_MAX,
                               &opts.ticket_grace))
                rc = MSGSEC_E_USAGE;
            break;
        case OPT_TO: opts.expected_to = optarg; break;
        case OPT_MAX_AGE:
            if (cli_parse_long(cmd, "--max-age", "seconds", optarg, 1, LONG_MAX, &opts.max_age))
                rc = MSGSEC_E_USAGE;
            break;
        case OPT_CLOCK_SKEW:
            if (cli_parse_long(cmd, "--clock-skew", "seconds", optarg, 0, LONG_MAX,
                               &opts.clock_skew))
                rc = MSGSEC_E_USAGE;
            else if (opts.clock_skew == 0)
                opts.clock_skew = -1; /* the library reads 0 as "default", < 0 as none */
            break;
        case OPT_REPLAY_DB: opts.replay_path = optarg; break;
        case OPT_REPLAY_MAX_BYTES: {
            long n;
            if (cli_parse_long(cmd, "--replay-max-bytes", "bytes", optarg,
                               (long)MSGSEC_REPLAY_MIN_BYTES, (long)MSGSEC_REPLAY_MAX_BYTES, &n))
                rc = MSGSEC_E_USAGE;
            opts.replay_max_bytes = (size_t)n;
            break;
        }
        case OPT_REQUIRE_SIGNED_TOKEN: opts.protect_tokens = 1; break;
        case OPT_CONTEXT: context_file = optarg; break;
        case OPT_IN: in = optarg; break;
        case OPT_OUT: out = optarg; break;
        default: rc = MSGSEC_E_USAGE; break;
        }
        if (rc != MSGSEC_OK)
            goto cleanup;
    }
    if ((rc = cli_no_operands(argc, argv, cmd)) != MSGSEC_OK)
        goto cleanup;
    if (unwrap && (!opts.cert_file || !opts.key_file)) {
        rc = cli_fail(MSGSEC_E_USAGE, "unwrap: --cert and --key (the service's own) are required");
        goto cleanup;
    }
    if (opts.ticket_grace > (opts.max_age ? opts.max_age : MSGSEC_DEFAULT_MAX_AGE)) {
        rc = cli_fail(MSGSEC_E_USAGE, "%s: --ticket-grace must not exceed --max-age", cmd);
        goto cleanup;
    }
    opts.ca_files = ca;
    opts.crl_files = crl;
    opts.issuer_files = issuers;

    /* outputs are created before the message is consumed (and recorded as seen) */
    if (msgsec_receiver_new(&opts, &receiver, &err) != MSGSEC_OK ||
        read_file_bounded(in, CLI_MAX_INPUT, &envelope, &envelope_len, &err) != MSGSEC_OK ||
        (context_file && cli_output_open(&context_out, context_file, &err) != MSGSEC_OK) ||
        (unwrap && cli_output_open(&payload_out, out, &err) != MSGSEC_OK))
        goto fail;
    if (unwrap ? msgsec_unwrap(receiver, envelope, envelope_len, &payload, &payload_len,
                               context_file ? &ctx : NULL, &err) != MSGSEC_OK
               : msgsec_verify(receiver, envelope, envelope_len, context_file ? &ctx : NULL,
                               &err) != MSGSEC_OK)
        goto fail;
    /* every check passed: only now does anything reach the outputs */
    if (context_file && (msgsec_context_json(ctx, &json, &err) != MSGSEC_OK ||
                         cli_output_commit(&context_out, json, strlen(json), &err) != MSGSEC_OK))
        goto fail;
    if (unwrap && cli_output_commit(&payload_out, payload, payload_len, &err) != MSGSEC_OK)
        goto fail;
    goto cleanup;
fail:
    rc = cli_fail_err(&err);
cleanup:
    cli_output_abort(&context_out);
    cli_output_abort(&payload_out);
    msgsec_free(json);
    msgsec_context_free(ctx);
    msgsec_free_secret(payload, payload_len);
    msgsec_free(envelope);
    msgsec_receiver_free(receiver);
    free(ca);
    free(crl);
    free(issuers);
    return rc;
}

int cmd_unwrap(int argc, char **argv) { return run_receiver(argc, argv, 1); }
int cmd_verify(int argc, char **argv) { return run_receiver(argc, argv, 0); }
