/* recv_envelope.c - the receiver's leaf: envelope shape, mustUnderstand and
 * the element readers of recv_envelope.h. */
#include <stdlib.h>
#include <string.h>

#include "recv_envelope.h"

#define XML_SPACE " \t\r\n"

msgsec_err recv_check_envelope(xmlDocPtr doc, recv_envelope *out, msgsec_error *err)
{
    xmlNodePtr env = xmlDocGetRootElement(doc);
    const char *soap = NULL;
    if (xml_is(env, NS_SOAP12, "Envelope"))
        soap = NS_SOAP12;
    else if (xml_is(env, NS_SOAP11, "Envelope"))
        soap = NS_SOAP11;
    else
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "not a SOAP envelope");
    out->envelope = env;
    out->header = xml_first_elem(env);
    out->body = xml_next_elem(out->header);
    if (!xml_is(out->header, soap, "Header") || !xml_is(out->body, soap, "Body") ||
        xml_next_elem(out->body) || xml_has_text(env))
        return msgsec_seterr(err, MSGSEC_E_MALFORMED,
                             "SOAP envelope must hold exactly one Header and one Body");
    for (xmlNodePtr h = xml_first_elem(out->header); h; h = xml_next_elem(h)) {
        xmlNodePtr *slot = xml_is(h, NS_WSSE, "Security")    ? &out->security
                           : xml_is(h, NS_WSA, "To")          ? &out->to
                           : xml_is(h, NS_WSA, "Action")      ? &out->action
                           : xml_is(h, NS_WSA, "MessageID")   ? &out->message_id
                                                              : NULL;
        if (slot && *slot)
            return msgsec_seterr(err, MSGSEC_E_MALFORMED, "more than one %s header",
                                 (const char *)h->name);
        if (slot)
            *slot = h;
    }
    if (!out->security)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "no wsse:Security header");
    return MSGSEC_OK;
}

/* 1 when value, without the surrounding whitespace that xs:boolean and
 * xs:anyURI collapse, is word. */
static int collapsed_is(const char *value, const char *word)
{
    size_t start = strspn(value, XML_SPACE), len = strlen(word);
    return strncmp(value + start, word, len) == 0 &&
           value[start + len + strspn(value + start + len, XML_SPACE)] == '\0';
}

/* SOAP 1.2 Part 1 5.2.2 / SOAP 1.1 4.2.2: a block without a role (actor), or
 * for "next" or the ultimate receiver, is for this node. A broker's verify
 * takes the ultimate receiver's part too: it vouches for what the service,
 * a msgsec receiver, will accept. */
static int header_targets_us(const xmlNode *h, const char *soap)
{
    const int soap12 = strcmp(soap, NS_SOAP12) == 0;
    const char *role = xml_attr(h, soap, soap12 ? "role" : "actor");
    if (!role || role[strspn(role, XML_SPACE)] == '\0')
        return 1;
    return soap12 ? collapsed_is(role, SOAP12_ROLE_NEXT) || collapsed_is(role, SOAP12_ROLE_ULTIMATE)
                  : collapsed_is(role, SOAP11_ACTOR_NEXT);
}

/* SOAP 1.2 Part 1 5.2.3 / SOAP 1.1 4.2.3: a header block for this node with
 * mustUnderstand true that msgsec does not process refuses the message (the
 * MustUnderstand fault). msgsec processes wsse:Security, wsa:To, wsa:Action
 * and wsa:MessageID; it does nothing with wsa:ReplyTo, FaultTo, From or
 * RelatesTo (nor hands them to the service), so it cannot claim to
 * understand them. mustUnderstand is an xs:boolean for either version
 * (SOAP 1.1 writes "1"/"0"; "true"/"false" are taken as meant); any other
 * value is malformed. */
msgsec_err recv_check_must_understand(const recv_envelope *env, msgsec_error *err)
{
    const char *soap = (const char *)env->envelope->ns->href;
    for (xmlNodePtr h = xml_first_elem(env->header); h; h = xml_next_elem(h)) {
        const char *mu = xml_attr(h, soap, "mustUnderstand");
        const int understood = h == env->security || h == env->to || h == env->action ||
                               h == env->message_id;
        if (!mu || collapsed_is(mu, "0") || collapsed_is(mu, "false"))
            continue;
        if (!collapsed_is(mu, "1") && !collapsed_is(mu, "true"))
            return msgsec_seterr(err, MSGSEC_E_MALFORMED,
                                 "invalid mustUnderstand value '%.20s' on header %.60s", mu,
                                 (const char *)h->name);
        if (!understood && header_targets_us(h, soap))
            return msgsec_seterr(err, MSGSEC_E_POLICY,
                                 "mustUnderstand header {%.120s}%.60s is not understood by msgsec",
                                 h->ns ? (const char *)h->ns->href : "", (const char *)h->name);
    }
    return MSGSEC_OK;
}

char *recv_text(xmlNodePtr node)
{
    char *copy = NULL;
    const char *t = node ? xml_text_ref(node, &copy) : NULL;
    if (!t)
        return NULL;
    size_t start = strspn(t, XML_SPACE), end = strlen(t);
    while (end > start && strchr(XML_SPACE, t[end - 1]))
        end--;
    char *s = strndup(t + start, end - start);
    xmlFree(copy);
    return s;
}

msgsec_err recv_created(xmlNodePtr timestamp, time_t *created, msgsec_error *err)
{
    xmlNodePtr c = timestamp ? xml_child(timestamp, NS_WSU, "Created", NULL) : NULL;
    char *text = recv_text(c);
    int bad = !text || xsd_time_parse(text, created) != 0;
    free(text);
    if (!timestamp)
        return msgsec_seterr(err, MSGSEC_E_POLICY, "no wsu:Timestamp in the Security header");
    return bad ? msgsec_seterr(err, MSGSEC_E_MALFORMED, "Timestamp without a valid Created")
               : MSGSEC_OK;
}

msgsec_err recv_b64_child(xmlNodePtr node, const char *what, uint8_t **out, size_t *len,
                          msgsec_error *err)
{
    return recv_b64_child_buf(node, what, NULL, 0, out, len, err);
}

msgsec_err recv_b64_child_buf(xmlNodePtr node, const char *what, uint8_t *buf, size_t cap,
                              uint8_t **out, size_t *len, msgsec_error *err)
{
    char *copy = NULL;
    const char *text = node ? xml_text_ref(node, &copy) : NULL;
    *out = NULL;
    *len = 0;
    if (!node)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "missing %s", what);
    if (!text)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    size_t text_len = strlen(text);
    int bad = buf ? b64_decode_small(text, text_len, buf, cap, len) : 1;
    if (bad == 0)
        *out = buf;
    else if (bad == 1)
        bad = b64_decode(text, text_len, out, len);
    xmlFree(copy);
    if (bad)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "%s is not valid base64", what);
    return MSGSEC_OK;
}
