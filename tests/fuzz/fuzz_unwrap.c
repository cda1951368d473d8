/* fuzz_unwrap.c - feeds arbitrary bytes to msgsec_unwrap (service receiver),
 * msgsec_verify (verify-only broker receiver), msgsec_inspect, and to the
 * hardened re-parse of decrypted content (xml_replace_with_content), which
 * random envelopes would only reach with a valid key.
 *
 * Built two ways from this one source:
 *  - with -DMSGSEC_LIBFUZZER (cmake -DMSGSEC_FUZZ=ON, clang): a libFuzzer
 *    target, `fuzz_unwrap CORPUS_DIR...`;
 *  - otherwise: a replay driver for ctest, `fuzz_unwrap_replay DIR...`, that
 *    runs every file once. A file named cN-*.xml must unwrap with class N,
 *    so the corpus doubles as a regression suite.
 * Receivers use the test PKI in $MSGSEC_PKI (tests/lib/pki.sh). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "xml.h"

static msgsec_receiver *service, *broker;

static msgsec_receiver *make_receiver(int with_key)
{
    static char cert[512], key[512], ca[512], crl[512];
    const char *dir = getenv("MSGSEC_PKI");
    if (!dir) {
        fprintf(stderr, "fuzz_unwrap: set MSGSEC_PKI to a tests/lib/pki.sh directory\n");
        exit(2);
    }
    snprintf(cert, sizeof cert, "%s/service.pem", dir);
    snprintf(key, sizeof key, "%s/service.key", dir);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(crl, sizeof crl, "%s/crl.pem", dir);
    const char *cas[] = {ca}, *crls[] = {crl};
    msgsec_receiver_opts o = {.cert_file = cert, .key_file = with_key ? key : NULL,
                              .ca_files = cas, .n_ca_files = 1, .crl_files = crls,
                              .n_crl_files = 1, .max_message_bytes = 65536};
    msgsec_receiver *r = NULL;
    msgsec_error e;
    if (msgsec_global_init(&e) != MSGSEC_OK || msgsec_receiver_new(&o, &r, &e) != MSGSEC_OK) {
        fprintf(stderr, "fuzz_unwrap: %s\n", e.detail);
        exit(2);
    }
    return r;
}

/* The input as decrypted Body content, put back in place of an EncryptedData. */
static void reparse_as_content(const uint8_t *data, size_t size)
{
    static const char context[] =
        "<s:Envelope xmlns:s=\"" NS_SOAP12 "\" xmlns:wsu=\"" NS_WSU "\"><s:Header/>"
        "<s:Body wsu:Id=\"b\"><xenc:EncryptedData xmlns:xenc=\"" NS_XENC "\"/></s:Body></s:Envelope>";
    xmlDocPtr doc = NULL;
    xml_ids ids = {0};
    if (xml_parse((const uint8_t *)context, sizeof context - 1, sizeof context, &doc, NULL) != MSGSEC_OK)
        abort();
    xmlNodePtr body = xml_next_elem(xml_first_elem(xmlDocGetRootElement(doc)));
    if (xml_replace_with_content(xml_first_elem(body), data, size, NULL) == MSGSEC_OK &&
        xml_ids_build(&ids, doc, NULL) == MSGSEC_OK)
        xml_wipe_subtree(body);
    xml_ids_free(&ids);
    xmlFreeDoc(doc);
}

/* Runs one input through everything; returns the unwrap class. */
static msgsec_err run_one(const uint8_t *data, size_t size)
{
    uint8_t *payload = NULL;
    size_t len = 0;
    msgsec_context *ctx = NULL;
    char *json = NULL;
    if (!service) {
        service = make_receiver(1);
        broker = make_receiver(0);
    }
    msgsec_err rc = msgsec_unwrap(service, data, size, &payload, &len, &ctx, NULL);
    if (rc == MSGSEC_OK && msgsec_context_json(ctx, &json, NULL) == MSGSEC_OK)
        msgsec_free(json);
    msgsec_context_free(ctx);
    msgsec_free_secret(payload, len);
    msgsec_verify(broker, data, size, NULL, NULL);
    if (msgsec_inspect(data, size, 65536, &json, NULL) == MSGSEC_OK)
        msgsec_free(json);
    reparse_as_content(data, size);
    return rc;
}

#ifdef MSGSEC_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_one(data, size);
    return 0;
}
#else
static int replay_file(const char *dir, const char *name)
{
    char path[1024];
    uint8_t *data = NULL;
    size_t len = 0;
    msgsec_error e;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (read_file_bounded(path, 1u << 20, &data, &len, &e) != MSGSEC_OK) {
        fprintf(stderr, "%s: %s\n", path, e.detail);
        return 1;
    }
    msgsec_err rc = run_one(data, len);
    free(data);
    if (name[0] == 'c' && name[1] >= '0' && name[1] <= '8' && name[2] == '-' &&
        rc != (msgsec_err)(name[1] - '0')) {
        fprintf(stderr, "%s: unwrap class %d, expected %c\n", path, rc, name[1]);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int failures = 0, files = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        struct dirent *ent;
        if (!d) {
            fprintf(stderr, "cannot open %s\n", argv[i]);
            return 2;
        }
        while ((ent = readdir(d)) != NULL) {
            if (ent->d_name[0] == '.')
                continue;
            failures += replay_file(argv[i], ent->d_name);
            files++;
        }
        closedir(d);
    }
    msgsec_receiver_free(service);
    msgsec_receiver_free(broker);
    msgsec_global_cleanup();
    printf("replayed %d inputs, %d failed\n", files, failures);
    return failures || files == 0 ? 1 : 0;
}
#endif
