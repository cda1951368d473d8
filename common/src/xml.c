/* xml.c - hardened XML parsing and the ID registry. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <libxml/c14n.h>
#include <libxml/dict.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>

#include "xml.h"

/* Never NOENT (entity substitution), DTDLOAD, XINCLUDE or HUGE. */
#define XML_SAFE_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

/* What is parsed: an envelope (or another document of the wire), or
 * plaintext (an XML payload), whose error details name it and never quote it
 * (libxml2's messages quote names and text of the document). */
typedef struct doc_kind {
    const char *what;  /* "message", "XML payload" */
    int plaintext;
    int max_ancestors; /* an element with more ancestors stops the parser */
} doc_kind;

static const doc_kind wire_doc = {"message", 0, XML_MAX_DEPTH};
/* Its content goes into the Body (XML_BODY_DEPTH ancestors) once decrypted:
 * as deep as xml_replace_with_content accepts there. */
static const doc_kind payload_doc = {"XML payload", 1, XML_MAX_DEPTH - XML_BODY_DEPTH - 1};

typedef struct parse_guard {
    const char *refused; /* static reason when a hook stopped the parser */
    int max_ancestors;
} parse_guard;

static void refuse(void *ctx, const char *why)
{
    xmlParserCtxtPtr ctxt = ctx;
    parse_guard *guard = ctxt->_private;
    if (!guard->refused)
        guard->refused = why;
    xmlStopParser(ctxt);
}

static void refuse_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id,
                           const xmlChar *system_id)
{
    refuse(ctx, "DOCTYPE declarations are not allowed");
}

static void refuse_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
                               const xmlChar *system_id, xmlChar *content)
{
    refuse(ctx, "entity declarations are not allowed");
}

static void start_element_bounded(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                                  const xmlChar *uri, int nb_namespaces,
                                  const xmlChar **namespaces, int nb_attributes,
                                  int nb_defaulted, const xmlChar **attributes)
{
    xmlParserCtxtPtr ctxt = ctx;
    const parse_guard *guard = ctxt->_private;
    if (ctxt->nameNr > guard->max_ancestors) {
        refuse(ctx, "XML nesting deeper than the limit");
        return;
    }
    xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes,
                          nb_defaulted, attributes);
}

/* libxml2's message quotes the document: only for documents of the wire,
 * never for plaintext (which must not reach logs). */
static msgsec_err parse_error(msgsec_error *err, const char *what, int plaintext,
                              const xmlError *e)
{
    if (e && plaintext)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED,
                             "%s is not well-formed XML (line %d, column %d, libxml2 error %d)",
                             what, e->line, e->int2, e->code);
    if (e && e->message) {
        char msg[160];
        size_t n = strlen(e->message);
        if (n >= sizeof msg)
            n = sizeof msg - 1;
        memcpy(msg, e->message, n);
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            n--;
        msg[n] = '\0';
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "%s is not well-formed XML (line %d): %s",
                             what, e->line, msg);
    }
    return msgsec_seterr(err, MSGSEC_E_MALFORMED, "%s is not well-formed XML", what);
}

/* A refusal of the document's form: plaintext names what was refused. */
static msgsec_err refusal(msgsec_error *err, const doc_kind *kind, const char *reason)
{
    if (kind->plaintext)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "%s refused: %s", kind->what, reason);
    return msgsec_seterr(err, MSGSEC_E_MALFORMED, "%s", reason);
}

/* A parser context with the hooks above; NULL when out of memory. */
static xmlParserCtxtPtr hardened_ctxt(void)
{
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt)
        return NULL;
    ctxt->sax->internalSubset = refuse_doctype;
    ctxt->sax->externalSubset = refuse_doctype;
    ctxt->sax->entityDecl = refuse_entity_decl;
    ctxt->sax->startElementNs = start_element_bounded;
    return ctxt;
}

/* Parses with ctxt (reset by libxml2 first), which keeps its hooks. text:
 * NULL, or buf[0, len) followed by a NUL (see in_place), parsed where it is. */
static msgsec_err parse_with(xmlParserCtxtPtr ctxt, const doc_kind *kind, const uint8_t *buf,
                             size_t len, size_t max_bytes, const char *text, xmlDocPtr *out,
                             msgsec_error *err)
{
    parse_guard guard = {NULL, kind->max_ancestors};
    msgsec_err rc = MSGSEC_OK;
    *out = NULL;
    if (len > max_bytes || len > INT_MAX)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "%s of %zu bytes exceeds the limit of %zu",
                             kind->what, len, max_bytes);
    if (len == 0)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "empty %s", kind->what);
    ctxt->_private = &guard;
    /* frees the document itself when it is not well-formed */
    xmlDocPtr doc = text ? xmlCtxtReadDoc(ctxt, (const xmlChar *)text, NULL, NULL, XML_SAFE_OPTIONS)
                         : xmlCtxtReadMemory(ctxt, (const char *)buf, (int)len, NULL, NULL,
                                             XML_SAFE_OPTIONS);
    ctxt->_private = NULL;
    if (guard.refused)
        rc = refusal(err, kind, guard.refused);
    else if (!ctxt->wellFormed || !doc)
        rc = parse_error(err, kind->what, kind->plaintext, &ctxt->lastError);
    else if (doc->intSubset || doc->extSubset)
        rc = refusal(err, kind, "DOCTYPE declarations are not allowed");
    else if (!xmlDocGetRootElement(doc))
        rc = refusal(err, kind, "no root element");
    if (rc != MSGSEC_OK) {
        xmlFreeDoc(doc);
        return rc;
    }
    *out = doc;
    return MSGSEC_OK;
}

static msgsec_err parse_once(const doc_kind *kind, const uint8_t *buf, size_t len,
                             size_t max_bytes, xmlDocPtr *out, msgsec_error *err)
{
    xmlParserCtxtPtr ctxt = hardened_ctxt();
    *out = NULL;
    if (!ctxt)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    msgsec_err rc = parse_with(ctxt, kind, buf, len, max_bytes, NULL, out, err);
    xmlFreeParserCtxt(ctxt); /* the document keeps its reference to the dictionary */
    return rc;
}

msgsec_err xml_parse(const uint8_t *buf, size_t len, size_t max_bytes, xmlDocPtr *out,
                     msgsec_error *err)
{
    return parse_once(&wire_doc, buf, len, max_bytes, out, err);
}

msgsec_err xml_parse_payload(const uint8_t *buf, size_t len, size_t max_bytes, xmlDocPtr *out,
                             msgsec_error *err)
{
    return parse_once(&payload_doc, buf, len, max_bytes, out, err);
}

struct xml_parser {
    xmlParserCtxtPtr ctxt; /* NULL until the next parse */
    unsigned uses;
    char *text;            /* XML_PARSER_TEXT_MAX bytes: a copy of the document (in_place) */
    xmlDictPtr known_uris; /* of xml_fast_parse; NULL when out of memory */
};

/* Documents under this size are copied into the parser's own buffer. */
#define XML_PARSER_TEXT_MAX (64u * 1024)

/* 1 when buf may be parsed as a NUL-terminated string (xmlCtxtReadDoc: no
 * input buffer to allocate, fill and free per document) with exactly the
 * outcome of xmlCtxtReadMemory: no NUL byte (a string would end there), and
 * it opens with an element tag, so there is no byte-order mark and no XML
 * declaration (libxml2 2.9 ignores a declared encoding for a string input). */
static int in_place(const uint8_t *buf, size_t len)
{
    return len >= 2 && buf[0] == '<' && buf[1] != '?' && buf[1] != '!' &&
           !memchr(buf, '\0', len);
}

xml_parser *xml_parser_new(void)
{
    xml_parser *p = calloc(1, sizeof(xml_parser));
    if (p)
        p->known_uris = xmlDictCreate(); /* without memory: nothing remembered */
    return p;
}

void xml_parser_drop(xml_parser *p)
{
    xmlFreeParserCtxt(p->ctxt); /* NULL-safe; documents keep their dictionary */
    p->ctxt = NULL;
    p->uses = 0;
}

void xml_parser_free(xml_parser *p)
{
    if (!p)
        return;
    xml_parser_drop(p);
    xmlDictFree(p->known_uris); /* NULL-safe */
    free(p->text);
    free(p);
}

msgsec_err xml_parser_parse(xml_parser *p, const uint8_t *buf, size_t len, size_t max_bytes,
                            xmlDocPtr *out, msgsec_error *err)
{
    /* The dictionary keeps every name (and short text) of every document
     * parsed with it: bounded by entries and by documents. */
    if (p->ctxt && (p->uses >= XML_PARSER_MAX_USES ||
                    xmlDictSize(p->ctxt->dict) > XML_PARSER_MAX_NAMES))
        xml_parser_drop(p);
    *out = NULL;
    if (!p->ctxt && !(p->ctxt = hardened_ctxt()))
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    char *text = NULL; /* without memory for the copy, xmlCtxtReadMemory as always */
    if (len < XML_PARSER_TEXT_MAX && in_place(buf, len) &&
        (p->text || (p->text = malloc(XML_PARSER_TEXT_MAX)))) {
        memcpy(p->text, buf, len);
        p->text[len] = '\0';
        text = p->text;
        if (len <= max_bytes && xml_fast_parse(text, len, p->ctxt->dict, p->known_uris, out)) {
            p->uses++;
            return MSGSEC_OK;
        }
    }
    msgsec_err rc = parse_with(p->ctxt, &wire_doc, buf, len, max_bytes, text, out, err);
    p->uses++;
    if (rc != MSGSEC_OK) /* a failed or stopped parse leaves no state behind */
        xml_parser_drop(p);
    return rc;
}

static int subtree_depth(const xmlNode *node)
{
    int max = 0;
    for (const xmlNode *c = node; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        int d = 1 + subtree_depth(c->children);
        if (d > max)
            max = d;
        if (max > XML_MAX_DEPTH)
            break;
    }
    return max;
}

msgsec_err xml_replace_with_content(xmlNodePtr replaced, const uint8_t *data, size_t len,
                                    msgsec_error *err)
{
    xmlNodePtr list = NULL;
    int depth = 0;
    if (len > INT_MAX)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "decrypted content too large");
    for (xmlNodePtr p = replaced->parent; p && p->type == XML_ELEMENT_NODE; p = p->parent)
        depth++;
    xmlResetLastError();
    xmlParserErrors perr = len == 0 ? XML_ERR_OK
                                    : xmlParseInNodeContext(replaced->parent, (const char *)data,
                                                            (int)len, XML_SAFE_OPTIONS, &list);
    if (perr != XML_ERR_OK) {
        xmlFreeNodeList(list);
        return parse_error(err, "decrypted content", 1, xmlGetLastError());
    }
    for (xmlNodePtr n = list; n; n = n->next) {
        if (n->type == XML_DTD_NODE || n->type == XML_ENTITY_REF_NODE ||
            n->type == XML_ENTITY_DECL) {
            xmlFreeNodeList(list);
            return msgsec_seterr(err, MSGSEC_E_MALFORMED,
                                 "entities are not allowed in decrypted content");
        }
    }
    if (depth + subtree_depth(list) > XML_MAX_DEPTH) {
        xmlFreeNodeList(list);
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "XML nesting deeper than the limit");
    }
    while (list) {
        xmlNodePtr next = list->next;
        xmlUnlinkNode(list);
        xmlAddPrevSibling(replaced, list); /* may merge (and free) adjacent text */
        list = next;
    }
    xmlUnlinkNode(replaced);
    xmlFreeNode(replaced);
    return MSGSEC_OK;
}

static void wipe_content(xmlNodePtr n)
{
    if (n->content && (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE ||
                       n->type == XML_COMMENT_NODE || n->type == XML_PI_NODE) &&
        !(n->doc && n->doc->dict && xmlDictOwns(n->doc->dict, n->content)))
        OPENSSL_cleanse(n->content, strlen((const char *)n->content));
}

void xml_wipe_subtree(xmlNodePtr node)
{
    for (xmlNodePtr n = node ? node->children : NULL; n; n = n->next) {
        wipe_content(n);
        if (n->type != XML_ELEMENT_NODE)
            continue;
        for (xmlAttrPtr a = n->properties; a; a = a->next)
            xml_wipe_subtree((xmlNodePtr)a);
        xml_wipe_subtree(n);
    }
}

/* ------------------------------------------------------------ navigation */

int xml_is(const xmlNode *node, const char *ns, const char *name)
{
    return node && node->type == XML_ELEMENT_NODE && node->ns && node->ns->href &&
           strcmp((const char *)node->name, name) == 0 &&
           strcmp((const char *)node->ns->href, ns) == 0;
}

xmlNodePtr xml_next_elem(const xmlNode *node)
{
    for (xmlNodePtr n = node ? node->next : NULL; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE)
            return n;
    return NULL;
}

xmlNodePtr xml_first_elem(const xmlNode *parent)
{
    for (xmlNodePtr n = parent ? parent->children : NULL; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE)
            return n;
    return NULL;
}

int xml_has_text(const xmlNode *parent)
{
    for (const xmlNode *n = parent->children; n; n = n->next) {
        if (n->type == XML_CDATA_SECTION_NODE || n->type == XML_ENTITY_REF_NODE)
            return 1;
        if (n->type == XML_TEXT_NODE && n->content)
            for (const xmlChar *p = n->content; *p; p++)
                if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
                    return 1;
    }
    return 0;
}

xmlNodePtr xml_child(const xmlNode *parent, const char *ns, const char *name, int *dup)
{
    xmlNodePtr found = NULL;
    if (dup)
        *dup = 0;
    for (xmlNodePtr n = xml_first_elem(parent); n; n = xml_next_elem(n)) {
        if (!xml_is(n, ns, name))
            continue;
        if (found) {
            if (dup)
                *dup = 1;
            break;
        }
        found = n;
    }
    return found;
}

const char *xml_attr(const xmlNode *node, const char *ns, const char *name)
{
    for (xmlAttrPtr a = node->properties; a; a = a->next) {
        if (strcmp((const char *)a->name, name) != 0)
            continue;
        if (ns ? !(a->ns && strcmp((const char *)a->ns->href, ns) == 0) : a->ns != NULL)
            continue;
        /* attribute values are one text child in a tree without entities */
        if (a->children && a->children->type == XML_TEXT_NODE && !a->children->next)
            return (const char *)a->children->content;
        return "";
    }
    return NULL;
}

char *xml_text(const xmlNode *node)
{
    size_t len = 0;
    for (const xmlNode *n = node->children; n; n = n->next)
        if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content)
            len += strlen((const char *)n->content);
    char *s = xmlMalloc(len + 1);
    if (!s)
        return NULL;
    len = 0;
    for (const xmlNode *n = node->children; n; n = n->next) {
        if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content) {
            size_t l = strlen((const char *)n->content);
            memcpy(s + len, n->content, l);
            len += l;
        }
    }
    s[len] = '\0';
    return s;
}

const char *xml_text_ref(const xmlNode *node, char **copy)
{
    const xmlNode *only = node->children;
    *copy = NULL;
    if (only && !only->next && only->type == XML_TEXT_NODE && only->content)
        return (const char *)only->content;
    return *copy = xml_text(node);
}

/* ------------------------------------------------------------ ID registry */

static int id_cmp(const void *a, const void *b)
{
    return strcmp(((const xml_id *)a)->name, ((const xml_id *)b)->name);
}

/* 1 when node has an attribute named Id or ID in any namespace: most
 * elements have none, and then need no namespace comparison at all. */
static int has_id_attr(const xmlNode *node)
{
    for (const xmlAttr *a = node->properties; a; a = a->next)
        if (a->name[0] == 'I' && (a->name[1] == 'd' || a->name[1] == 'D') && !a->name[2])
            return 1;
    return 0;
}

static const char *element_id(const xmlNode *node, const char **second)
{
    *second = NULL;
    if (!has_id_attr(node))
        return NULL;
    const char *wsu = xml_attr(node, NS_WSU, "Id");
    const char *local = NULL;
    const char *ns = node->ns ? (const char *)node->ns->href : NULL;
    if (ns && (strcmp(ns, NS_DS) == 0 || strcmp(ns, NS_XENC) == 0 || strcmp(ns, NS_XENC11) == 0))
        local = xml_attr(node, NULL, "Id");
    else if (xml_is(node, NS_SAML2, "Assertion"))
        local = xml_attr(node, NULL, "ID");
    *second = wsu ? local : NULL;
    return wsu ? wsu : local;
}

static int ids_push(xml_ids *ids, const char *name, xmlNodePtr node)
{
    if (grow_array(&ids->items, &ids->cap, ids->n + 1, sizeof *ids->items, 16))
        return -1;
    ids->items[ids->n].name = name;
    ids->items[ids->n].node = node;
    ids->n++;
    return 0;
}

xmlNodePtr xml_next_in_doc(xmlNodePtr node)
{
    if (node->type == XML_ELEMENT_NODE && node->children)
        return node->children;
    while (node && !node->next)
        node = node->parent && node->parent->type != XML_DOCUMENT_NODE ? node->parent : NULL;
    return node ? node->next : NULL;
}

msgsec_err xml_ids_build(xml_ids *ids, xmlDocPtr doc, msgsec_error *err)
{
    ids->n = 0;
    xmlNodePtr node = xmlDocGetRootElement(doc);
    while (node) {
        if (node->type == XML_ELEMENT_NODE) {
            const char *second, *id = element_id(node, &second);
            for (int i = 0; i < 2 && id; i++, id = second) {
                if (!*id)
                    return msgsec_seterr(err, MSGSEC_E_MALFORMED, "empty Id attribute on <%s>",
                                         (const char *)node->name);
                if (ids_push(ids, id, node) != 0)
                    return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
            }
        }
        node = xml_next_in_doc(node);
    }
    if (ids->n > 16) {
        qsort(ids->items, ids->n, sizeof *ids->items, id_cmp);
    } else { /* the usual handful: insertion sort costs less than qsort's set-up */
        for (size_t i = 1; i < ids->n; i++) {
            xml_id item = ids->items[i];
            size_t j = i;
            for (; j > 0 && id_cmp(&ids->items[j - 1], &item) > 0; j--)
                ids->items[j] = ids->items[j - 1];
            ids->items[j] = item;
        }
    }
    for (size_t i = 1; i < ids->n; i++)
        if (strcmp(ids->items[i - 1].name, ids->items[i].name) == 0 &&
            ids->items[i - 1].node != ids->items[i].node)
            return msgsec_seterr(err, MSGSEC_E_MALFORMED, "duplicate Id \"%.64s\"",
                                 ids->items[i].name);
    return MSGSEC_OK;
}

void xml_ids_free(xml_ids *ids)
{
    free(ids->items);
    memset(ids, 0, sizeof *ids);
}

static int is_bare_name(const char *s)
{
    if (!*s)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x80 || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.')
            continue;
        return 0;
    }
    return 1;
}

msgsec_err xml_ids_resolve(const xml_ids *ids, const char *uri, xmlNodePtr *out,
                           msgsec_error *err)
{
    *out = NULL;
    if (!uri || !*uri)
        return msgsec_seterr(err, MSGSEC_E_POLICY, "reference without a same-document #id");
    if (uri[0] != '#')
        return msgsec_seterr(err, MSGSEC_E_POLICY, "external reference \"%.64s\" refused", uri);
    if (!is_bare_name(uri + 1))
        return msgsec_seterr(err, MSGSEC_E_POLICY,
                             "reference \"%.64s\" refused: only #id references are allowed", uri);
    xml_id key = {uri + 1, NULL};
    const xml_id *hit = ids->n ? bsearch(&key, ids->items, ids->n, sizeof key, id_cmp) : NULL;
    if (!hit)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "reference to unknown Id \"%.64s\"", uri);
    *out = hit->node;
    return MSGSEC_OK;
}

/* ------------------------------------------------------------------- c14n */

void xml_free_prefixes(xmlChar **list)
{
    if (!list)
        return;
    for (xmlChar **p = list; *p; p++)
        xmlFree(*p);
    free(list);
}

/* More prefixes than any real signer lists: a bound on hostile input. */
#define XML_MAX_PREFIXES 16

/* Splits an InclusiveNamespaces PrefixList into a NULL-terminated array. */
static msgsec_err parse_prefix_list(const char *list, xmlChar ***out, msgsec_error *err)
{
    size_t n = 0, cap = 4;
    xmlChar **v = calloc(cap + 1, sizeof *v);
    if (!v)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        const char *start = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            p++;
        if (p == start)
            break;
        if (n == XML_MAX_PREFIXES) {
            xml_free_prefixes(v);
            return msgsec_seterr(err, MSGSEC_E_MALFORMED, "PrefixList has more than %d prefixes",
                                 XML_MAX_PREFIXES);
        }
        if (n == cap) {
            xmlChar **w = realloc(v, (cap * 2 + 1) * sizeof *v);
            if (!w) {
                xml_free_prefixes(v);
                return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
            }
            v = w;
            cap *= 2;
        }
        v[n] = xmlStrndup((const xmlChar *)start, (int)(p - start));
        if (!v[n]) {
            xml_free_prefixes(v);
            return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        }
        v[++n] = NULL;
    }
    *out = v;
    return MSGSEC_OK;
}

msgsec_err xml_exc_c14n_method(xmlNodePtr method, const char *what, xmlChar ***prefixes,
                                    msgsec_error *err)
{
    const char *alg = xml_attr(method, NULL, "Algorithm");
    *prefixes = NULL;
    if (!alg || strcmp(alg, ALG_EXC_C14N) != 0)
        return msgsec_seterr(err, MSGSEC_E_POLICY, "%s algorithm %.80s is not allowed (exc-c14n only)",
                             what, alg ? alg : "(none)");
    for (xmlNodePtr c = xml_first_elem(method); c; c = xml_next_elem(c)) {
        const char *list = xml_attr(c, NULL, "PrefixList");
        if (!xml_is(c, ALG_EXC_C14N, "InclusiveNamespaces") || !list || *prefixes)
            return msgsec_seterr(err, MSGSEC_E_POLICY, "unexpected <%s> in %s",
                                 (const char *)c->name, what);
        msgsec_err rc = parse_prefix_list(list, prefixes, err);
        if (rc)
            return rc;
    }
    return MSGSEC_OK;
}


int xml_c14n_subtree_libxml2(xmlNodePtr node, xmlChar **prefixes, xml_sink sink, void *sink_ctx)
{
    /* xmlC14NExecute walks from doc->children and asks a visibility callback
     * for every node of the document. Presenting the subtree as the
     * document's only child while it runs gives the same output (ancestors
     * are invisible in both; in-scope namespaces are still found through
     * the untouched parent pointers) at the cost of the subtree alone. */
    xmlDocPtr doc = node->doc;
    xmlNodePtr saved_children = doc->children, saved_next = node->next;
    xmlOutputBufferPtr buf = xmlOutputBufferCreateIO(sink, NULL, sink_ctx, NULL);
    if (!buf)
        return -1;
    doc->children = node;
    node->next = NULL;
    int rc = xmlC14NExecute(doc, NULL, NULL, XML_C14N_EXCLUSIVE_1_0, prefixes, 0, buf);
    doc->children = saved_children;
    node->next = saved_next;
    if (xmlOutputBufferClose(buf) < 0)
        rc = -1;
    return rc < 0 ? -1 : 0;
}

typedef struct c14n_scope {
    xmlNodePtr root;     /* the signed element */
    xmlNodePtr excluded; /* its ds:Signature (enveloped-signature transform); may be NULL */
} c14n_scope;

static int in_scope(void *ctx, xmlNodePtr node, xmlNodePtr parent)
{
    const c14n_scope *scope = ctx;
    /* namespace nodes (xmlNs) carry no parent pointer: use the element */
    xmlNodePtr n = node->type == XML_NAMESPACE_DECL ? parent : node;
    for (; n; n = n->parent) {
        if (n == scope->excluded)
            return 0;
        if (n == scope->root)
            return 1;
    }
    return 0;
}

int xml_c14n_enveloped(xmlNodePtr root, xmlNodePtr excluded, xmlChar **prefixes, xml_sink sink,
                       void *sink_ctx)
{
    c14n_scope scope = {root, excluded};
    xmlOutputBufferPtr buf = xmlOutputBufferCreateIO(sink, NULL, sink_ctx, NULL);
    if (!buf)
        return -1;
    int rc = xmlC14NExecute(root->doc, in_scope, &scope, XML_C14N_EXCLUSIVE_1_0, prefixes, 0, buf);
    if (xmlOutputBufferClose(buf) < 0)
        rc = -1;
    return rc < 0 ? -1 : 0;
}

int xml_sink_strbuf(void *ctx, const char *buf, int len)
{
    strbuf *sb = ctx;
    sb_append(sb, buf, (size_t)len);
    return sb->failed ? -1 : len;
}

int xml_sink_digest(void *ctx, const char *buf, int len)
{
    return EVP_DigestUpdate(ctx, buf, (size_t)len) == 1 ? len : -1;
}

int xml_c14n_sha256(xmlNodePtr node, xmlChar **prefixes, EVP_MD_CTX *md, const EVP_MD *sha256,
                    uint8_t out[32])
{
    unsigned int len = 0;
    return EVP_DigestInit_ex(md, sha256, NULL) == 1 &&
                   xml_c14n_subtree(node, prefixes, xml_sink_digest, md) == 0 &&
                   EVP_DigestFinal_ex(md, out, &len) == 1 && len == 32
               ? 0
               : -1;
}

/* ---- the direct writer: libxml2's exclusive c14n (c14n.c of 2.9), node by
 * node, for the subtrees that xml_c14n_fast_eligible accepts. */

#define C14N_MAX_DEPTH 256
#define C14N_MAX_ATTRS 64

/* Namespaces libxml2 accepts without a relative-URI failure (absolute, with
 * a server or urn:); c14n of any other declaration is left to libxml2. */
static const char *const known_namespaces[] = {
    NS_SOAP12, NS_SOAP11, NS_WSA,   NS_WSSE,  NS_WSSE11, NS_WSU,
    NS_DS,     NS_XENC,   NS_XENC11, NS_SAML2, ALG_EXC_C14N,
    "http://www.w3.org/2001/XMLSchema", "http://www.w3.org/2001/XMLSchema-instance",
};

static int known_namespace(const xmlChar *href)
{
    for (size_t i = 0; i < sizeof known_namespaces / sizeof known_namespaces[0]; i++)
        if (strcmp((const char *)href, known_namespaces[i]) == 0)
            return 1;
    return 0;
}

/* A namespace the writer may print as libxml2 does: ="href" verbatim
 * (libxml2 switches quotes when the URI holds one). */
static int printable_ns(const xmlNs *ns)
{
    return !ns || !ns->href || !strchr((const char *)ns->href, '"');
}

/* parent_ns: the parent's namespace, already found printable */
static int eligible_element(const xmlNode *el, int depth, const xmlNs *parent_ns)
{
    int n_attrs = 0;
    if (depth > C14N_MAX_DEPTH || (el->ns != parent_ns && !printable_ns(el->ns)))
        return 0;
    if (!el->ns && !printable_ns(xmlSearchNs(el->doc, (xmlNodePtr)el, NULL)))
        return 0;
    for (const xmlNs *ns = el->nsDef; ns; ns = ns->next)
        if (ns->href && *ns->href && !known_namespace(ns->href))
            return 0;
    for (const xmlAttr *a = el->properties; a; a = a->next) {
        if (++n_attrs > C14N_MAX_ATTRS || !printable_ns(a->ns))
            return 0;
        for (const xmlNode *t = a->children; t; t = t->next)
            if (t->type != XML_TEXT_NODE)
                return 0;
    }
    for (const xmlNode *c = el->children; c; c = c->next) {
        switch (c->type) {
        case XML_ELEMENT_NODE:
            if (!eligible_element(c, depth + 1, el->ns))
                return 0;
            break;
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
        case XML_COMMENT_NODE:
        case XML_PI_NODE:
            break;
        default: /* entity references, XInclude markers, ... */
            return 0;
        }
    }
    return 1;
}

int xml_c14n_fast_eligible(const xmlNode *node, xmlChar **prefixes)
{
    return (!prefixes || !prefixes[0]) && node && node->type == XML_ELEMENT_NODE && node->doc &&
           eligible_element(node, 0, NULL);
}

typedef struct c14n_writer {
    xml_sink sink;
    void *sink_ctx;
    int failed;
    size_t len;
    char buf[4096];
    const xmlNs **rendered; /* libxml2's ns_rendered stack */
    size_t n_rendered, cap_rendered;
    const xmlNs *rendered_local[64];
} c14n_writer;

static void w_flush(c14n_writer *w)
{
    if (w->len && !w->failed && w->sink(w->sink_ctx, w->buf, (int)w->len) < 0)
        w->failed = 1;
    w->len = 0;
}

static void w_put_spill(c14n_writer *w, const char *s, size_t n)
{
    while (n > 0) {
        if (w->len == sizeof w->buf)
            w_flush(w);
        size_t k = sizeof w->buf - w->len < n ? sizeof w->buf - w->len : n;
        memcpy(w->buf + w->len, s, k);
        w->len += k;
        s += k;
        n -= k;
    }
}

static inline void w_put(c14n_writer *w, const char *s, size_t n)
{
    if (n <= sizeof w->buf - w->len) { /* nearly always: one copy */
        memcpy(w->buf + w->len, s, n);
        w->len += n;
    } else {
        w_put_spill(w, s, n);
    }
}

static void w_puts(c14n_writer *w, const char *s) { w_put(w, s, strlen(s)); }

/* Which bytes c14n replaces in text, attribute values and PIs
 * (xmlC11NNormalizeString of libxml2). strcspn scans the long runs without
 * any of them (base64 values) many bytes at a time. */
enum c14n_escape { ESC_TEXT, ESC_ATTR, ESC_PI };
static const char *const escaped_in[] = {
    [ESC_TEXT] = "&<>\r",
    [ESC_ATTR] = "&<\"\t\n\r",
    [ESC_PI] = "\r",
};

static void w_escaped(c14n_writer *w, const xmlChar *s, enum c14n_escape mode)
{
    for (;;) {
        size_t run = strcspn((const char *)s, escaped_in[mode]);
        w_put(w, (const char *)s, run);
        s += run;
        switch (*s++) {
        case '\0': return;
        case '<': w_put(w, "&lt;", 4); break;
        case '>': w_put(w, "&gt;", 4); break;
        case '&': w_put(w, "&amp;", 5); break;
        case '"': w_put(w, "&quot;", 6); break;
        case '\t': w_put(w, "&#x9;", 5); break;
        case '\n': w_put(w, "&#xA;", 5); break;
        default: w_put(w, "&#xD;", 5); break; /* '\r' */
        }
    }
}

static const xmlChar *str_or_empty(const xmlChar *s) { return s ? s : (const xmlChar *)""; }

/* xmlExcC14NVisibleNsStackFind (every node is visible) */
static int ns_already_rendered(const c14n_writer *w, const xmlNs *ns)
{
    const char *prefix = (const char *)str_or_empty(ns ? ns->prefix : NULL);
    const char *href = (const char *)str_or_empty(ns ? ns->href : NULL);
    for (size_t i = w->n_rendered; i-- > 0;) {
        const xmlNs *r = w->rendered[i];
        if (r == ns) /* the usual case (a child in its parent's namespace): same prefix and href */
            return 1;
        if (strcmp(prefix, (const char *)str_or_empty(r ? r->prefix : NULL)) == 0)
            return strcmp(href, (const char *)str_or_empty(r ? r->href : NULL)) == 0;
    }
    return !*prefix && !*href;
}

static void ns_push(c14n_writer *w, const xmlNs *ns)
{
    if (w->n_rendered == w->cap_rendered) {
        size_t cap = w->cap_rendered * 2;
        const xmlNs **grown = w->rendered == w->rendered_local
                                  ? malloc(cap * sizeof *grown)
                                  : realloc(w->rendered, cap * sizeof *grown);
        if (!grown) {
            w->failed = 1;
            return;
        }
        if (w->rendered == w->rendered_local)
            memcpy(grown, w->rendered_local, sizeof w->rendered_local);
        w->rendered = grown;
        w->cap_rendered = cap;
    }
    w->rendered[w->n_rendered++] = ns;
}

static int is_xml_ns(const xmlNs *ns)
{
    /* the first byte alone settles it for nearly every element */
    return ns && ns->prefix && ns->prefix[0] == 'x' &&
           strcmp((const char *)ns->prefix, "xml") == 0 && ns->href &&
           strcmp((const char *)ns->href, (const char *)XML_XML_NAMESPACE) == 0;
}

static int empty(const xmlChar *s) { return !s || !*s; }

/* xmlC14NNsCompare / xmlC14NAttrsCompare (xmlStrcmp: NULL first) */
static int ns_cmp(const xmlNs *a, const xmlNs *b) { return xmlStrcmp(a->prefix, b->prefix); }

static int attr_cmp(const xmlAttr *a, const xmlAttr *b)
{
    if (a->ns == b->ns)
        return xmlStrcmp(a->name, b->name);
    if (!a->ns || !a->ns->prefix)
        return -1;
    if (!b->ns || !b->ns->prefix)
        return 1;
    int rc = xmlStrcmp(a->ns->href, b->ns->href);
    return rc ? rc : xmlStrcmp(a->name, b->name);
}

/* prefix:name of an element or attribute, measured once (an element's is
 * written twice). */
typedef struct qname {
    const char *prefix, *name; /* prefix NULL: none */
    size_t prefix_len, name_len;
} qname;

static qname qname_of(const xmlNs *ns, const xmlChar *name)
{
    qname q = {NULL, (const char *)name, 0, strlen((const char *)name)};
    if (ns && !empty(ns->prefix)) {
        q.prefix = (const char *)ns->prefix;
        q.prefix_len = strlen(q.prefix);
    }
    return q;
}

static void w_qname(c14n_writer *w, const qname *q)
{
    if (q->prefix) {
        w_put(w, q->prefix, q->prefix_len);
        w_put(w, ":", 1);
    }
    w_put(w, q->name, q->name_len);
}

static void w_ns_decl(c14n_writer *w, const xmlNs *ns)
{
    if (ns->prefix) {
        w_put(w, " xmlns:", 7);
        w_puts(w, (const char *)ns->prefix);
        w_put(w, "=\"", 2);
    } else {
        w_put(w, " xmlns=\"", 8);
    }
    if (ns->href)
        w_puts(w, (const char *)ns->href);
    w_put(w, "\"", 1);
}

/* xmlExcC14NProcessNamespacesAxis without an InclusiveNamespaces list */
static void w_namespaces(c14n_writer *w, const xmlNode *el)
{
    const xmlNs *list[C14N_MAX_ATTRS + 1];
    size_t n = 0;
    int has_empty_ns = 0, utilizes_empty_ns = !el->ns;
    const xmlNs *ns = el->ns ? el->ns : xmlSearchNs(el->doc, (xmlNodePtr)el, NULL);
    if (ns && !is_xml_ns(ns)) {
        if (!ns_already_rendered(w, ns))
            list[n++] = ns;
        ns_push(w, ns);
        has_empty_ns = empty(ns->prefix);
    }
    for (const xmlAttr *a = el->properties; a; a = a->next) {
        if (a->ns && !is_xml_ns(a->ns)) {
            int already = ns_already_rendered(w, a->ns);
            ns_push(w, a->ns);
            if (!already)
                list[n++] = a->ns;
            if (empty(a->ns->prefix))
                has_empty_ns = 1;
        } else if (a->ns && empty(a->ns->prefix) && empty(a->ns->href)) {
            utilizes_empty_ns = 1;
        }
    }
    if (utilizes_empty_ns && !has_empty_ns && !ns_already_rendered(w, NULL))
        w_put(w, " xmlns=\"\"", 9);
    for (size_t i = 1; i < n; i++) /* insertion sort: a handful of entries */
        for (size_t j = i; j > 0 && ns_cmp(list[j - 1], list[j]) > 0; j--) {
            const xmlNs *t = list[j];
            list[j] = list[j - 1];
            list[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++)
        w_ns_decl(w, list[i]);
}

static void w_attributes(c14n_writer *w, const xmlNode *el)
{
    const xmlAttr *list[C14N_MAX_ATTRS];
    size_t n = 0;
    for (const xmlAttr *a = el->properties; a; a = a->next) {
        size_t j = n++;
        for (; j > 0 && attr_cmp(list[j - 1], a) > 0; j--)
            list[j] = list[j - 1];
        list[j] = a;
    }
    for (size_t i = 0; i < n; i++) {
        w_put(w, " ", 1);
        qname q = qname_of(list[i]->ns, list[i]->name);
        w_qname(w, &q);
        w_put(w, "=\"", 2);
        for (const xmlNode *t = list[i]->children; t; t = t->next)
            if (t->content)
                w_escaped(w, t->content, ESC_ATTR);
        w_put(w, "\"", 1);
    }
}

static void w_element(c14n_writer *w, const xmlNode *el)
{
    size_t mark = w->n_rendered;
    w_put(w, "<", 1);
    qname q = qname_of(el->ns, el->name);
    w_qname(w, &q);
    w_namespaces(w, el);
    w_attributes(w, el);
    w_put(w, ">", 1);
    for (const xmlNode *c = el->children; c && !w->failed; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            w_element(w, c);
        } else if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content) {
            w_escaped(w, c->content, ESC_TEXT);
        } else if (c->type == XML_PI_NODE) {
            w_put(w, "<?", 2);
            w_puts(w, (const char *)c->name);
            if (!empty(c->content)) {
                w_put(w, " ", 1);
                w_escaped(w, c->content, ESC_PI);
            }
            w_put(w, "?>", 2);
        } /* comments are left out */
    }
    w_put(w, "</", 2);
    w_qname(w, &q);
    w_put(w, ">", 1);
    w->n_rendered = mark;
}

int xml_c14n_subtree(xmlNodePtr node, xmlChar **prefixes, xml_sink sink, void *sink_ctx)
{
    if (!xml_c14n_fast_eligible(node, prefixes))
        return xml_c14n_subtree_libxml2(node, prefixes, sink, sink_ctx);
    c14n_writer w;
    w.sink = sink;
    w.sink_ctx = sink_ctx;
    w.failed = 0;
    w.len = 0;
    w.rendered = w.rendered_local;
    w.n_rendered = 0;
    w.cap_rendered = sizeof w.rendered_local / sizeof w.rendered_local[0];
    w_element(&w, node);
    w_flush(&w);
    if (w.rendered != w.rendered_local)
        free(w.rendered);
    return w.failed ? -1 : 0;
}
