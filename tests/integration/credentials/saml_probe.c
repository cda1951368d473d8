/* saml_probe - verifies one SAML 2.0 assertion file with common/src/saml.c,
 * for saml_interop_test.sh.
 *
 *   saml_probe FILE ISSUER_CERT AUDIENCE [NOW]
 *
 * Prints id=, issuer=, subject=, holder= (subject DN of the holder-of-key
 * certificate), not_on_or_after= and one claim=NAME=VALUE line per attribute
 * value. NOW (epoch) overrides the clock. Exit status: the msgsec error class;
 * a failure prints "saml_probe: detail". */
#include <stdio.h>
#include <stdlib.h>

#include "saml.h"
#include "xml.h"

int main(int argc, char **argv)
{
    msgsec_error e = {0};
    uint8_t *text = NULL;
    size_t len = 0;
    xmlDocPtr doc = NULL;
    STACK_OF(X509) *issuers = NULL;
    saml_assertion *a = NULL;
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: saml_probe FILE ISSUER_CERT AUDIENCE [NOW]\n");
        return MSGSEC_E_USAGE;
    }
    saml_trust t = {NULL, argv[3], argc == 5 ? (time_t)atoll(argv[4]) : 0, MSGSEC_DEFAULT_SKEW};
    if (msgsec_global_init(&e) == MSGSEC_OK &&
        read_file_bounded(argv[1], MSGSEC_DEFAULT_MAX_BYTES, &text, &len, &e) == MSGSEC_OK &&
        xml_parse(text, len, MSGSEC_DEFAULT_MAX_BYTES, &doc, &e) == MSGSEC_OK &&
        load_certs(argv[2], &issuers, &e) == MSGSEC_OK) {
        t.issuers = issuers;
        if (saml_verify(xmlDocGetRootElement(doc), &t, &a, &e) == MSGSEC_OK) {
            char *holder = cert_subject_dn(a->holder_cert);
            printf("id=%s\nissuer=%s\nsubject=%s\nholder=%s\nnot_on_or_after=%lld\n", a->id,
                   a->issuer, a->subject, holder ? holder : "?", (long long)a->not_on_or_after);
            for (size_t i = 0; i < a->n_claims; i++)
                printf("claim=%s=%s\n", a->claims[i].name, a->claims[i].value);
            free(holder);
        }
    }
    saml_assertion_free(a);
    sk_X509_pop_free(issuers, X509_free);
    xmlFreeDoc(doc);
    free(text);
    msgsec_global_cleanup();
    if (e.code != MSGSEC_OK)
        fprintf(stderr, "saml_probe: %s\n", e.detail);
    return (int)e.code;
}
