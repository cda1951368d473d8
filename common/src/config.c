/* config.c - the shared YAML configuration (msgsec_config.h).
 * Skeleton: the loader is being implemented; the helpers below are final. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "msgsec_config.h"

msgsec_err msgsec_config_load(const char *path, msgsec_config **out, msgsec_error *err)
{
    *out = NULL;
    return msgsec_seterr(err, MSGSEC_E_INTERNAL, "%s: configuration loader not implemented yet",
                         path);
}

void msgsec_config_free(msgsec_config *cfg) { free(cfg); }

void msgsec_config_receiver_opts(const msgsec_config *cfg, int with_key,
                                 msgsec_receiver_opts *opts)
{
    memset(opts, 0, sizeof *opts);
    (void)cfg;
    (void)with_key;
}

int msgsec_topic_match(const char *filter, const char *topic)
{
    (void)filter;
    (void)topic;
    return 0;
}

int msgsec_glob_match(const char *pattern, const char *text)
{
    (void)pattern;
    (void)text;
    return 0;
}

int msgsec_senders_allow(char *const *globs, size_t n, const char *identity)
{
    for (size_t i = 0; i < n; i++)
        if (msgsec_glob_match(globs[i], identity))
            return 1;
    return n == 0;
}
