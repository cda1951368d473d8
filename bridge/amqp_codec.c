/* amqp_codec.c - AMQP 1.0 message <-> bmsg (see amqp_codec.h). */
#include <proton/codec.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp_codec.h"

static char *atom_to_string(pn_atom_t a, size_t *len)
{
    char tmp[64];
    if (a.type == PN_STRING || a.type == PN_BINARY || a.type == PN_SYMBOL) {
        char *s = malloc(a.u.as_bytes.size + 1);
        if (s) {
            memcpy(s, a.u.as_bytes.start, a.u.as_bytes.size);
            s[a.u.as_bytes.size] = 0;
            *len = a.u.as_bytes.size;
        }
        return s;
    }
    if (a.type == PN_ULONG)
        snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)a.u.as_ulong);
    else if (a.type == PN_LONG)
        snprintf(tmp, sizeof tmp, "%lld", (long long)a.u.as_long);
    else if (a.type == PN_UUID) {
        const unsigned char *u = (const unsigned char *)a.u.as_uuid.bytes;
        snprintf(tmp, sizeof tmp,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
                 u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
                 u[14], u[15]);
    } else
        return NULL;
    *len = strlen(tmp);
    return strdup(tmp);
}

/* Reads one scalar of d as text (application property values). */
static char *data_to_string(pn_data_t *d)
{
    char tmp[64];
    size_t len;
    switch (pn_data_type(d)) {
    case PN_STRING: case PN_SYMBOL: case PN_BINARY:
        return atom_to_string(pn_data_get_atom(d), &len);
    case PN_BOOL: return strdup(pn_data_get_bool(d) ? "true" : "false");
    case PN_INT: snprintf(tmp, sizeof tmp, "%d", pn_data_get_int(d)); break;
    case PN_UINT: snprintf(tmp, sizeof tmp, "%u", pn_data_get_uint(d)); break;
    case PN_LONG: snprintf(tmp, sizeof tmp, "%lld", (long long)pn_data_get_long(d)); break;
    case PN_ULONG: snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)pn_data_get_ulong(d)); break;
    case PN_DOUBLE: snprintf(tmp, sizeof tmp, "%g", pn_data_get_double(d)); break;
    default: return NULL;
    }
    return strdup(tmp);
}

/* pn_message -> bmsg (subject = original MQTT topic, application properties
 * -> user properties, msgsec-bridge-id kept as the bridge id). NULL if the
 * body is neither binary nor a string. */
bmsg *amqp_from_message(pn_message_t *pm)
{
    bmsg *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pn_data_t *body = pn_message_body(pm);
    pn_data_rewind(body);
    int ok = 0;
    if (pn_data_next(body) && (pn_data_type(body) == PN_BINARY || pn_data_type(body) == PN_STRING)) {
        pn_bytes_t bytes = pn_data_type(body) == PN_BINARY ? pn_data_get_binary(body)
                                                           : pn_data_get_string(body);
        ok = bmsg_set_payload(m, (const uint8_t *)bytes.start, bytes.size) == 0;
    }
    const char *s;
    if (ok && (s = pn_message_get_subject(pm)))
        ok = (m->subject = strdup(s)) != NULL;
    if (ok && (s = pn_message_get_content_type(pm)))
        ok = (m->content_type = strdup(s)) != NULL;
    if (ok && (s = pn_message_get_reply_to(pm)))
        ok = (m->reply_to = strdup(s)) != NULL;
    pn_msgid_t corr = pn_message_get_correlation_id(pm);
    if (ok && corr.type != PN_NULL)
        ok = (m->correlation = (uint8_t *)atom_to_string(corr, &m->correlation_len)) != NULL;
    m->ttl_ms = (int64_t)pn_message_get_ttl(pm);
    pn_data_t *props = pn_message_properties(pm);
    pn_data_rewind(props);
    if (ok && pn_data_next(props) && pn_data_type(props) == PN_MAP) {
        size_t n = pn_data_get_map(props);
        pn_data_enter(props);
        for (size_t i = 0; ok && i + 1 < n + 1 && i < n; i += 2) {
            pn_data_next(props);
            char *key = data_to_string(props);
            pn_data_next(props);
            char *val = data_to_string(props);
            if (key && val) {
                if (strcmp(key, BMSG_BRIDGE_ID_PROP) == 0 && !m->bridge_id) {
                    m->bridge_id = val;
                    val = NULL;
                } else
                    ok = bmsg_add_prop(m, key, val) == 0;
            }
            free(key);
            free(val);
        }
        pn_data_exit(props);
    }
    if (!ok) {
        bmsg_free(m);
        return NULL;
    }
    return m;
}

void amqp_encode(const bmsg *m, pn_message_t *pm)
{
    pn_message_clear(pm);
    pn_message_set_durable(pm, true);
    pn_message_set_inferred(pm, true); /* body as a data section */
    if (m->bridge_id) {
        pn_atom_t id = {.type = PN_STRING};
        id.u.as_bytes = pn_bytes(strlen(m->bridge_id), m->bridge_id);
        pn_message_set_id(pm, id);
    }
    if (m->subject)
        pn_message_set_subject(pm, m->subject);
    if (m->content_type)
        pn_message_set_content_type(pm, m->content_type);
    if (m->reply_to)
        pn_message_set_reply_to(pm, m->reply_to);
    if (m->correlation) {
        pn_atom_t c = {.type = PN_BINARY};
        c.u.as_bytes = pn_bytes(m->correlation_len, (const char *)m->correlation);
        pn_message_set_correlation_id(pm, c);
    }
    if (m->ttl_ms > 0)
        pn_message_set_ttl(pm, (pn_millis_t)m->ttl_ms);
    pn_data_t *props = pn_message_properties(pm);
    pn_data_put_map(props);
    pn_data_enter(props);
    for (size_t i = 0; i < m->n_props; i++) {
        pn_data_put_string(props, pn_bytes(strlen(m->props[i].key), m->props[i].key));
        pn_data_put_string(props, pn_bytes(strlen(m->props[i].value), m->props[i].value));
    }
    if (m->bridge_id) {
        pn_data_put_string(props, pn_bytes(strlen(BMSG_BRIDGE_ID_PROP), BMSG_BRIDGE_ID_PROP));
        pn_data_put_string(props, pn_bytes(strlen(m->bridge_id), m->bridge_id));
    }
    pn_data_exit(props);
    pn_data_put_binary(pn_message_body(pm), pn_bytes(m->payload_len, (const char *)m->payload));
}

bmsg *amqp_decode(pn_message_t *scratch, const char *data, size_t len)
{
    pn_message_clear(scratch);
    /* proton asserts on an empty buffer (an empty transfer from the peer) */
    if (len == 0 || pn_message_decode(scratch, data, len) != 0)
        return NULL;
    return amqp_from_message(scratch);
}
