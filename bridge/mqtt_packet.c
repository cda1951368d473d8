/* mqtt_packet.c - MQTT 5 / 3.1.1 packet encoding and decoding (see
 * mqtt_packet.h). Every read is bounds-checked through a cursor whose bad
 * flag sticks, so a decoder checks once at the end. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt_packet.h"

/* MQTT 5 property identifiers used here */
enum { PROP_EXPIRY = 0x02, PROP_CONTENT_TYPE = 0x03, PROP_RESPONSE_TOPIC = 0x08,
       PROP_CORRELATION = 0x09, PROP_SESSION_EXPIRY = 0x11, PROP_SERVER_KEEPALIVE = 0x13,
       PROP_RECEIVE_MAXIMUM = 0x21, PROP_USER = 0x26 };

/* ------------------------------------------------------------ encoding */

void mqtt_put(mqtt_obuf *o, const void *data, size_t n)
{
    if (o->failed)
        return;
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n)
            cap *= 2;
        uint8_t *p = realloc(o->p, cap);
        if (!p) {
            o->failed = 1;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    if (n)
        memcpy(o->p + o->len, data, n);
    o->len += n;
}

void mqtt_put_u8(mqtt_obuf *o, unsigned v)
{
    uint8_t b = (uint8_t)v;
    mqtt_put(o, &b, 1);
}

void mqtt_put_u16(mqtt_obuf *o, unsigned v)
{
    mqtt_put_u8(o, (v >> 8) & 0xff);
    mqtt_put_u8(o, v & 0xff);
}

void mqtt_put_u32(mqtt_obuf *o, uint32_t v)
{
    mqtt_put_u16(o, v >> 16);
    mqtt_put_u16(o, v & 0xffff);
}

void mqtt_put_varint(mqtt_obuf *o, size_t v)
{
    do {
        unsigned digit = v % 128;
        v /= 128;
        mqtt_put_u8(o, digit | (v ? 0x80 : 0));
    } while (v);
}

void mqtt_put_str(mqtt_obuf *o, const char *s)
{
    size_t n = strlen(s);
    if (n > 0xffff) {
        o->failed = 1;
        return;
    }
    mqtt_put_u16(o, (unsigned)n);
    mqtt_put(o, s, n);
}

void mqtt_put_packet(mqtt_obuf *out, unsigned type_flags, const mqtt_obuf *body)
{
    if (body->failed || body->len > 268435455u) {
        out->failed = 1;
        return;
    }
    mqtt_put_u8(out, type_flags);
    mqtt_put_varint(out, body->len);
    mqtt_put(out, body->p, body->len);
}

void mqtt_obuf_free(mqtt_obuf *o)
{
    free(o->p);
    *o = (mqtt_obuf){0};
}

void mqtt_put_connect(mqtt_obuf *out, int version, const char *client_id, const char *username,
                      const char *password, unsigned keepalive, uint32_t session_expiry,
                      unsigned receive_maximum)
{
    mqtt_obuf body = {0};
    mqtt_put_str(&body, "MQTT");
    mqtt_put_u8(&body, (unsigned)version);
    mqtt_put_u8(&body, (username ? 0x80u : 0) | (password ? 0x40u : 0)); /* clean start off */
    mqtt_put_u16(&body, keepalive);
    if (version == 5) {
        mqtt_obuf props = {0};
        mqtt_put_u8(&props, PROP_SESSION_EXPIRY);
        mqtt_put_u32(&props, session_expiry);
        mqtt_put_u8(&props, PROP_RECEIVE_MAXIMUM);
        mqtt_put_u16(&props, receive_maximum);
        mqtt_put_varint(&body, props.len);
        mqtt_put(&body, props.p, props.len);
        body.failed |= props.failed;
        mqtt_obuf_free(&props);
    }
    mqtt_put_str(&body, client_id);
    if (username)
        mqtt_put_str(&body, username);
    if (password)
        mqtt_put_str(&body, password);
    mqtt_put_packet(out, MQTT_CONNECT << 4, &body);
    if (body.p) /* it held the password */
        OPENSSL_cleanse(body.p, body.len);
    mqtt_obuf_free(&body);
}

/* ------------------------------------------------------------ decoding */

typedef struct cursor {
    const uint8_t *p, *end;
    int bad;
} cursor;

static int get_u8(cursor *c)
{
    if (c->p >= c->end) {
        c->bad = 1;
        return 0;
    }
    return *c->p++;
}

static unsigned get_u16(cursor *c)
{
    unsigned hi = (unsigned)get_u8(c);
    return hi << 8 | (unsigned)get_u8(c);
}

static uint32_t get_u32(cursor *c)
{
    uint32_t hi = get_u16(c);
    return hi << 16 | get_u16(c);
}

static size_t get_varint(cursor *c)
{
    size_t v = 0;
    for (int i = 0; i < 4; i++) {
        int b = get_u8(c);
        v |= (size_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80))
            return v;
    }
    c->bad = 1;
    return 0;
}

/* A length-prefixed string or binary value, borrowed from the packet. */
static const uint8_t *get_bin(cursor *c, size_t *len)
{
    *len = get_u16(c);
    if (c->bad || (size_t)(c->end - c->p) < *len) {
        c->bad = 1;
        *len = 0;
        return NULL;
    }
    const uint8_t *v = c->p;
    c->p += *len;
    return v;
}

/* Skips a property value of the given identifier; 0 if unknown. */
static int skip_property(cursor *c, int id)
{
    size_t len;
    switch (id) {
    case 0x01: case 0x17: case 0x19: case 0x24: case 0x25: case 0x28: case 0x29: case 0x2A:
        get_u8(c);
        return 1;
    case 0x13: case 0x21: case 0x22: case 0x23:
        get_u16(c);
        return 1;
    case 0x02: case 0x11: case 0x18: case 0x27:
        get_u32(c);
        return 1;
    case 0x0B:
        get_varint(c);
        return 1;
    case 0x03: case 0x08: case 0x09: case 0x12: case 0x15: case 0x16: case 0x1A: case 0x1C: case 0x1F:
        get_bin(c, &len);
        return 1;
    case PROP_USER:
        get_bin(c, &len);
        get_bin(c, &len);
        return 1;
    default:
        return 0;
    }
}

/* The MQTT 5 property block at c as its own cursor; c moves past it. */
static cursor properties(cursor *c)
{
    size_t len = get_varint(c);
    if (c->bad || (size_t)(c->end - c->p) < len) {
        c->bad = 1;
        return (cursor){c->p, c->p, 1};
    }
    cursor props = {c->p, c->p + len, 0};
    c->p += len;
    return props;
}

int mqtt_frame(const uint8_t *buf, size_t len, size_t *header_len, size_t *body_len)
{
    size_t v = 0;
    for (size_t i = 1; i < 5; i++) {
        if (i >= len)
            return 0;
        v |= (size_t)(buf[i] & 0x7f) << (7 * (i - 1));
        if (!(buf[i] & 0x80)) {
            *header_len = i + 1;
            *body_len = v;
            return len - *header_len >= v ? 1 : 0;
        }
    }
    return -1; /* a fifth length byte */
}

/* Owned NUL-terminated copy of a string/binary value into *dst (replacing
 * it); NUL inside a string (binary = 0) is malformed. 0, -1 malformed, -2 memory. */
static int take(cursor *c, char **dst, size_t *len_out, int binary)
{
    size_t len;
    const uint8_t *v = get_bin(c, &len);
    if (c->bad || (!binary && memchr(v, 0, len)))
        return -1;
    char *s = malloc(len + 1);
    if (!s)
        return -2;
    if (len)
        memcpy(s, v, len);
    s[len] = 0;
    free(*dst);
    *dst = s;
    if (len_out)
        *len_out = len;
    return 0;
}

/* PUBLISH properties -> m. 0, -1 malformed, -2 out of memory. */
static int publish_properties(cursor *props, bmsg *m)
{
    while (props->p < props->end) {
        int id = get_u8(props), rc = 0;
        char *k = NULL, *v = NULL;
        switch (id) {
        case PROP_CONTENT_TYPE:
            rc = take(props, &m->content_type, NULL, 0);
            break;
        case PROP_CORRELATION:
            rc = take(props, (char **)&m->correlation, &m->correlation_len, 1);
            break;
        case PROP_RESPONSE_TOPIC:
            rc = take(props, &m->reply_to, NULL, 0);
            break;
        case PROP_EXPIRY:
            m->ttl_ms = (int64_t)get_u32(props) * 1000;
            break;
        case PROP_USER:
            if ((rc = take(props, &k, NULL, 0)) == 0 && (rc = take(props, &v, NULL, 0)) == 0) {
                if (strcmp(k, BMSG_BRIDGE_ID_PROP) == 0 && !m->bridge_id) {
                    m->bridge_id = v;
                    v = NULL;
                } else if (bmsg_add_prop(m, k, v) != 0) {
                    rc = -2;
                }
            }
            free(k);
            free(v);
            break;
        default:
            rc = skip_property(props, id) ? 0 : -1;
            break;
        }
        if (rc != 0)
            return rc;
        if (props->bad)
            return -1;
    }
    return 0;
}

int mqtt_decode_publish(int version, unsigned flags, const uint8_t *body, size_t len,
                        mqtt_publish *out)
{
    cursor c = {body, body + len, 0};
    int rc = -1;
    *out = (mqtt_publish){0};
    out->qos = (int)(flags >> 1) & 3;
    bmsg *m = calloc(1, sizeof *m);
    if (!m)
        return -2;
    if (out->qos == 3 || (rc = take(&c, &m->subject, NULL, 0)) != 0)
        goto fail;
    rc = -1;
    if (!m->subject[0]) /* a topic alias: we allow none */
        goto fail;
    if (out->qos && (out->packet_id = (uint16_t)get_u16(&c)) == 0)
        goto fail;
    if (version == 5) {
        cursor props = properties(&c);
        if (c.bad || (rc = publish_properties(&props, m)) != 0)
            goto fail;
    }
    if (c.bad)
        goto fail;
    m->qos = out->qos;
    if (bmsg_set_payload(m, c.p, (size_t)(c.end - c.p)) != 0) {
        rc = -2;
        goto fail;
    }
    out->msg = m;
    return 0;
fail:
    bmsg_free(m);
    return rc;
}

int mqtt_decode_connack(int version, const uint8_t *body, size_t len, int *session_present,
                        int *reason, int *server_keepalive)
{
    cursor c = {body, body + len, 0};
    *session_present = get_u8(&c) & 1;
    *reason = get_u8(&c);
    if (version == 5 && !c.bad) {
        cursor props = properties(&c);
        while (props.p < props.end && !props.bad) {
            int id = get_u8(&props);
            if (id == PROP_SERVER_KEEPALIVE)
                *server_keepalive = (int)get_u16(&props);
            else if (!skip_property(&props, id))
                props.bad = 1;
        }
        c.bad |= props.bad;
    }
    return c.bad ? -1 : 0;
}

int mqtt_decode_suback(int version, const uint8_t *body, size_t len, size_t *n, size_t *refused)
{
    cursor c = {body, body + len, 0};
    *n = *refused = 0;
    get_u16(&c);
    if (version == 5 && !c.bad)
        properties(&c);
    while (c.p < c.end && !c.bad) {
        (*n)++;
        if (get_u8(&c) >= 0x80)
            (*refused)++;
    }
    return c.bad ? -1 : 0;
}
