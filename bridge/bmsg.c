/* bmsg.c - the protocol-neutral message (see bmsg.h). */
#include <stdlib.h>
#include <string.h>

#include "bmsg.h"
#include "msgsec.h"

void bmsg_free(bmsg *m)
{
    if (!m)
        return;
    free(m->dest);
    free(m->subject);
    free(m->content_type);
    free(m->correlation);
    free(m->reply_to);
    free(m->bridge_id);
    for (size_t i = 0; i < m->n_props; i++) {
        free(m->props[i].key);
        free(m->props[i].value);
    }
    free(m->props);
    /* the payload may be plaintext of an unprotect route */
    msgsec_free_secret(m->payload, m->payload_len);
    free(m);
}

int bmsg_add_prop(bmsg *m, const char *key, const char *value)
{
    bmsg_prop *p = realloc(m->props, (m->n_props + 1) * sizeof *p);
    if (!p)
        return -1;
    m->props = p;
    p[m->n_props].key = strdup(key);
    p[m->n_props].value = strdup(value ? value : "");
    if (!p[m->n_props].key || !p[m->n_props].value) {
        free(p[m->n_props].key);
        free(p[m->n_props].value);
        return -1;
    }
    m->n_props++;
    return 0;
}

const char *bmsg_get_prop(const bmsg *m, const char *key)
{
    for (size_t i = 0; i < m->n_props; i++)
        if (strcmp(m->props[i].key, key) == 0)
            return m->props[i].value;
    return NULL;
}

static int dup_str(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return src && !*dst ? -1 : 0;
}

bmsg *bmsg_clone_meta(const bmsg *m)
{
    bmsg *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->qos = m->qos;
    c->route = m->route;
    c->ttl_ms = m->ttl_ms;
    c->dest_side = m->dest_side;
    int bad = dup_str(&c->dest, m->dest) | dup_str(&c->subject, m->subject) |
              dup_str(&c->content_type, m->content_type) | dup_str(&c->reply_to, m->reply_to) |
              dup_str(&c->bridge_id, m->bridge_id);
    if (m->correlation) {
        c->correlation = malloc(m->correlation_len ? m->correlation_len : 1);
        if (c->correlation)
            memcpy(c->correlation, m->correlation, m->correlation_len);
        c->correlation_len = m->correlation_len;
        bad |= !c->correlation;
    }
    for (size_t i = 0; i < m->n_props && !bad; i++)
        bad |= bmsg_add_prop(c, m->props[i].key, m->props[i].value);
    if (bad) {
        bmsg_free(c);
        return NULL;
    }
    return c;
}

int bmsg_set_payload(bmsg *m, const uint8_t *data, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    if (!p)
        return -1;
    memcpy(p, data, len);
    msgsec_free_secret(m->payload, m->payload_len);
    m->payload = p;
    m->payload_len = len;
    return 0;
}
