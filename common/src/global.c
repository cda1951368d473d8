/* global.c - process-wide set-up: libxml2 must never print or fetch. */
#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include "internal.h"

static void silent_generic_error(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

msgsec_err msgsec_global_init(msgsec_error *err)
{
    (void)err;
    xmlInitParser();
    /* errors are reported through msgsec_error, never on stderr */
    xmlSetGenericErrorFunc(NULL, silent_generic_error);
    xmlSetStructuredErrorFunc(NULL, NULL);
    /* no entity substitution, no network, no DTD loading by default */
    xmlSubstituteEntitiesDefault(0);
    xmlLoadExtDtdDefaultValue = 0;
    return MSGSEC_OK;
}

void msgsec_global_cleanup(void) { xmlCleanupParser(); }
