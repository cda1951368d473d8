/* cmd_sts.c - `msgsec sts issue`: a small SAML 2.0 token service for
 * development and tests (the `issued` credential). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "commands.h"
#include "internal.h"
#include "saml.h"

static const char usage[] =
    "usage: msgsec sts issue --cert FILE --key FILE --subject NAME --audience URI\n"
    "                        [--subject-cert FILE] [--lifetime SECONDS] [--attr K=V]...\n"
    "                        [--out FILE|-]\n"
    "\n"
    "Issues a SAML 2.0 Assertion for --subject, signed by the STS certificate --cert\n"
    "and its RSA key --key (enveloped signature, exc-c14n, rsa-sha256). The assertion\n"
    "is valid for --lifetime seconds (default 3600) for the service --audience (its\n"
    "wsa:To) and binds the subject to the key of --subject-cert (holder-of-key; without\n"
    "it the confirmation is bearer, which msgsec services refuse). Each --attr becomes\n"
    "an Attribute (a claim). Writes to --out (default stdout).\n";

enum { OPT_CERT = 256, OPT_KEY, OPT_SUBJECT, OPT_AUDIENCE, OPT_SUBJECT_CERT, OPT_LIFETIME,
       OPT_ATTR, OPT_OUT };

static const struct option options[] = {
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"subject", required_argument, NULL, OPT_SUBJECT},
    {"audience", required_argument, NULL, OPT_AUDIENCE},
    {"subject-cert", required_argument, NULL, OPT_SUBJECT_CERT},
    {"lifetime", required_argument, NULL, OPT_LIFETIME},
    {"attr", required_argument, NULL, OPT_ATTR},
    {"out", required_argument, NULL, OPT_OUT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Splits "K=V" (K non-empty) into attrs[n]; the strings stay in argv. */
static int add_attr(saml_attr **attrs, size_t *n, char *kv)
{
    char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return cli_fail(MSGSEC_E_USAGE, "sts issue: --attr needs NAME=VALUE, got '%s'", kv);
    saml_attr *grown = realloc(*attrs, (*n + 1) * sizeof *grown);
    if (!grown)
        return cli_fail(MSGSEC_E_INTERNAL, "out of memory");
    *attrs = grown;
    *eq = '\0';
    grown[*n].name = kv;
    grown[*n].value = eq + 1;
    (*n)++;
    return MSGSEC_OK;
}

static int issue(int argc, char **argv)
{
    const char *cert = NULL, *key = NULL, *subject_cert = NULL, *out = "-";
    saml_issue_params params = {0};
    saml_attr *attrs = NULL;
    size_t n_attrs = 0, xml_len = 0;
    char *xml = NULL;
    msgsec_error err = {0};
    int c, rc = MSGSEC_OK;

    while (rc == MSGSEC_OK && (c = cli_next_option(argc, argv, "sts issue", options)) != -1) {
        switch (c) {
        case 'h': fputs(usage, stdout); free(attrs); return MSGSEC_OK;
        case OPT_CERT: cert = optarg; break;
        case OPT_KEY: key = optarg; break;
        case OPT_SUBJECT: params.subject = optarg; break;
        case OPT_AUDIENCE: params.audience = optarg; break;
        case OPT_SUBJECT_CERT: subject_cert = optarg; break;
        case OPT_LIFETIME:
            rc = cli_parse_long("sts issue", "--lifetime", "seconds", optarg, 1, 10L * 365 * 86400,
                                &params.lifetime);
            break;
        case OPT_ATTR: rc = add_attr(&attrs, &n_attrs, optarg); break;
        case OPT_OUT: out = optarg; break;
        default: rc = MSGSEC_E_USAGE; break;
        }
    }
    if (rc != MSGSEC_OK || (rc = cli_no_operands(argc, argv, "sts issue")) != MSGSEC_OK)
        goto cleanup;
    if (!cert || !key || !params.subject || !params.audience) {
        rc = cli_fail(MSGSEC_E_USAGE,
                      "sts issue: --cert, --key, --subject and --audience are required");
        goto cleanup;
    }
    params.attrs = attrs;
    params.n_attrs = n_attrs;
    if (load_cert(cert, &params.sts_cert, &err) != MSGSEC_OK ||
        load_private_key(key, &params.sts_key, &err) != MSGSEC_OK ||
        (subject_cert && load_cert(subject_cert, &params.subject_cert, &err) != MSGSEC_OK) ||
        saml_issue(&params, &xml, &xml_len, &err) != MSGSEC_OK ||
        cli_write_output(out, xml, xml_len, &err) != MSGSEC_OK)
        rc = cli_fail_err(&err);
cleanup:
    free(xml);
    free(attrs);
    X509_free(params.sts_cert);
    X509_free(params.subject_cert);
    EVP_PKEY_free(params.sts_key);
    return rc;
}

int cmd_sts(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "issue") == 0) {
        optind = 1; /* argv + 1 starts at "issue" */
        return issue(argc - 1, argv + 1);
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return MSGSEC_OK;
    }
    return cli_fail(MSGSEC_E_USAGE, "sts: expected 'issue' (see msgsec sts --help)");
}
