/* cmd_wrap.c - `msgsec wrap`: secure a payload for one service. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "internal.h"

static const char usage[] =
    "usage: msgsec wrap [--credential certificate|username|windows|issued|none]\n"
    "                   [--cert FILE --key FILE] [--username NAME --password-file FILE]\n"
    "                   [--service-principal SPN] [--token FILE]\n"
    "                   --service-cert FILE [--to URI] [--action URI] [--ttl SECONDS]\n"
    "                   [--content-type TYPE] [--suite NAME] [--in FILE|-] [--out FILE|-]\n"
    "\n"
    "Encrypts the payload (--in, default stdin) for the service whose certificate is\n"
    "--service-cert and signs it with the credential; writes the SOAP envelope to --out\n"
    "(default stdout). Defaults: --credential certificate, --ttl 86400,\n"
    "--content-type application/octet-stream (application/xml, text/xml and */*+xml\n"
    "payloads travel as XML and must be one well-formed element).\n";

enum {
    OPT_CREDENTIAL = 256, OPT_CERT, OPT_KEY, OPT_USERNAME, OPT_PASSWORD_FILE,
    OPT_SERVICE_PRINCIPAL, OPT_TOKEN, OPT_SERVICE_CERT, OPT_TO, OPT_ACTION, OPT_TTL,
    OPT_CONTENT_TYPE, OPT_SUITE, OPT_IN, OPT_OUT
};

static const struct option options[] = {
    {"credential", required_argument, NULL, OPT_CREDENTIAL},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"username", required_argument, NULL, OPT_USERNAME},
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
    {"service-principal", required_argument, NULL, OPT_SERVICE_PRINCIPAL},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"service-cert", required_argument, NULL, OPT_SERVICE_CERT},
    {"to", required_argument, NULL, OPT_TO},
    {"action", required_argument, NULL, OPT_ACTION},
    {"ttl", required_argument, NULL, OPT_TTL},
    {"content-type", required_argument, NULL, OPT_CONTENT_TYPE},
    {"suite", required_argument, NULL, OPT_SUITE},
    {"in", required_argument, NULL, OPT_IN},
    {"out", required_argument, NULL, OPT_OUT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int cmd_wrap(int argc, char **argv)
{
    msgsec_sender_opts opts = {.credential = MSGSEC_CRED_CERTIFICATE};
    msgsec_wrap_params params = {0};
    const char *in = "-", *out = "-", *password_file = NULL;
    char *password = NULL;
    msgsec_sender *sender = NULL;
    uint8_t *payload = NULL, *envelope = NULL;
    size_t payload_len = 0, envelope_len = 0;
    msgsec_error err = {0};
    int c, rc = MSGSEC_OK;

    while ((c = cli_next_option(argc, argv, "wrap", options)) != -1) {
        switch (c) {
        case 'h': fputs(usage, stdout); return MSGSEC_OK;
        case OPT_CREDENTIAL:
            if (msgsec_credential_parse(optarg, &opts.credential) != MSGSEC_OK)
                return cli_fail(MSGSEC_E_USAGE,
                                "wrap: unknown credential '%s' (certificate, username, windows, "
                                "issued, none)", optarg);
            break;
        case OPT_CERT: opts.cert_file = optarg; break;
        case OPT_KEY: opts.key_file = optarg; break;
        case OPT_USERNAME: opts.username = optarg; break;
        case OPT_PASSWORD_FILE: password_file = optarg; break;
        case OPT_SERVICE_PRINCIPAL: opts.service_principal = optarg; break;
        case OPT_TOKEN: opts.token_file = optarg; break;
        case OPT_SERVICE_CERT: opts.service_cert_file = optarg; break;
        case OPT_TO: params.to = optarg; break;
        case OPT_ACTION: params.action = optarg; break;
        case OPT_TTL:
            if (cli_parse_long("wrap", "--ttl", "seconds", optarg, 1, LONG_MAX, &opts.ttl_seconds))
                return MSGSEC_E_USAGE;
            break;
        case OPT_CONTENT_TYPE: params.content_type = optarg; break;
        case OPT_SUITE: opts.suite = optarg; break;
        case OPT_IN: in = optarg; break;
        case OPT_OUT: out = optarg; break;
        default: return MSGSEC_E_USAGE;
        }
    }
    if (cli_no_operands(argc, argv, "wrap"))
        return MSGSEC_E_USAGE;
    if (!opts.service_cert_file)
        return cli_fail(MSGSEC_E_USAGE, "wrap: --service-cert is required");

    if (password_file && cli_read_password(password_file, &password, &err) != MSGSEC_OK)
        goto fail;
    opts.password = password;
    if (msgsec_sender_new(&opts, &sender, &err) != MSGSEC_OK ||
        read_file_bounded(in, CLI_MAX_INPUT, &payload, &payload_len, &err) != MSGSEC_OK ||
        msgsec_wrap(sender, &params, payload, payload_len, &envelope, &envelope_len, &err) !=
            MSGSEC_OK ||
        cli_write_output(out, envelope, envelope_len, &err) != MSGSEC_OK)
        goto fail;
    goto cleanup;
fail:
    rc = cli_fail_err(&err);
cleanup:
    msgsec_free(envelope);
    msgsec_free_secret(payload, payload_len);
    msgsec_sender_free(sender);
    if (password)
        msgsec_free_secret(password, strlen(password));
    return rc;
}
