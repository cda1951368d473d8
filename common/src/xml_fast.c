/* xml_fast.c - the direct parser for plain XML (xml_fast_parse in xml.h).
 *
 * Envelopes are plain XML: ASCII, no DTD, no entity or character references,
 * no comments, PIs or CDATA, a handful of prefixed namespaces. For such a
 * document this builds the tree libxml2's parser builds (same nodes, names
 * interned in the same dictionary, namespace declarations and references,
 * one text child per attribute) without libxml2's general machinery, which
 * took half of the time of verifying an envelope. Everything else, including
 * every malformed document, is declined before anything is returned, and
 * libxml2 parses it as before: the direct parser never accepts a document
 * libxml2 refuses. tests/fuzz/fuzz_xml_fast.c checks that both build equal
 * trees for whatever the direct parser accepts. */
#include <limits.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <libxml/tree.h> /* before dict.h, which needs xmlChar */
#include <libxml/uri.h>
#include <libxml/dict.h>
#include <libxml/parser.h>

#include "xml.h"

enum {
    C_NAME_START = 1, /* first byte of an ASCII NCName */
    C_NAME = 2,       /* any other byte of it */
    C_SPACE = 4,      /* space, tab, newline: a CR would be normalized by libxml2 */
    C_TEXT_STOP = 8,  /* ends plain text: markup, a reference, ']' (of "]]>"), other bytes */
    C_VALUE_STOP = 16 /* ends a plain attribute value: markup, a reference, a byte
                       * libxml2 would normalize (tab, newline) or other bytes */
};

/* Bytes outside 0x20..0x7e, tab and newline stop text and values: control
 * characters, CR and UTF-8 are left to libxml2 (the terminating NUL too). */
#define OUTSIDE (C_TEXT_STOP | C_VALUE_STOP)
static const unsigned char byte_class[256] = {
    [0x00 ... 0x08] = OUTSIDE,
    ['\t'] = C_SPACE | C_VALUE_STOP,
    ['\n'] = C_SPACE | C_VALUE_STOP,
    [0x0b ... 0x1f] = OUTSIDE,
    [' '] = C_SPACE,
    ['<'] = C_TEXT_STOP | C_VALUE_STOP,
    ['&'] = C_TEXT_STOP | C_VALUE_STOP,
    [']'] = C_TEXT_STOP,
    ['-'] = C_NAME,
    ['.'] = C_NAME,
    ['0' ... '9'] = C_NAME,
    ['A' ... 'Z'] = C_NAME_START | C_NAME,
    ['_'] = C_NAME_START | C_NAME,
    ['a' ... 'z'] = C_NAME_START | C_NAME,
    [0x80 ... 0xff] = OUTSIDE,
};
#define IS(c, what) (byte_class[(unsigned char)(c)] & (what))

#define FAST_MAX_ATTRS 32    /* per element */
#define FAST_MAX_BINDINGS 64 /* namespace declarations in scope */
#define FAST_MAX_KNOWN_URIS 64 /* namespace names remembered as valid */

typedef struct span {
    const char *p;
    size_t n;
} span;

typedef struct qname {
    span prefix; /* n == 0: none */
    span local;
} qname;

typedef struct binding {
    span prefix; /* n == 0: the default namespace */
    xmlNsPtr ns; /* in the nsDef list of the declaring element */
} binding;

typedef struct open_elem {
    xmlNodePtr node;
    span qname;           /* as written in the start tag */
    size_t bindings_mark; /* n_bindings before its declarations */
} open_elem;

typedef struct fast_parser {
    const char *p;   /* NUL-terminated input */
    const char *end; /* its NUL */
    xmlDocPtr doc;
    xmlDictPtr dict;
    xmlDictPtr known_uris; /* may be NULL */
    binding bindings[FAST_MAX_BINDINGS];
    size_t n_bindings;
    open_elem open[XML_MAX_DEPTH];
    int depth;
} fast_parser;

static int span_is(span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

static int span_eq(span a, span b)
{
    /* an absent prefix is {NULL, 0}: no memcmp with NULL */
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* Skips whole 16-byte blocks of p holding none of a, b, c and nothing
 * outside 0x20..0x7f (so also no tab or newline): the long base64 texts and
 * URIs of an envelope. The caller's byte loop then finds the exact stop. */
static const char *skip_plain(const char *p, const char *end, char a, char b, char c)
{
#ifdef __SSE2__
    const __m128i va = _mm_set1_epi8(a), vb = _mm_set1_epi8(b), vc = _mm_set1_epi8(c),
                  v20 = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* signed: bytes >= 0x80 are negative, so below 0x20 as well */
        __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(x, vb)),
                                    _mm_or_si128(_mm_cmpeq_epi8(x, vc), _mm_cmpgt_epi8(v20, x)));
        if (_mm_movemask_epi8(stop))
            break;
        p += 16;
    }
#else
    (void)end, (void)a, (void)b, (void)c;
#endif
    return p;
}

/* 1 when whitespace was skipped. */
static int skip_space(fast_parser *fp)
{
    const char *s = fp->p;
    while (IS(*fp->p, C_SPACE))
        fp->p++;
    return fp->p != s;
}

/* libxml2 refuses names over XML_MAX_NAME_LENGTH (50,000) bytes; far
 * shorter ones are left to it as well. */
#define FAST_MAX_NAME 1000

static int scan_ncname(fast_parser *fp, span *out)
{
    const char *s = fp->p;
    if (!IS(*fp->p, C_NAME_START))
        return -1;
    while (IS(*++fp->p, C_NAME))
        ;
    *out = (span){s, (size_t)(fp->p - s)};
    return out->n > FAST_MAX_NAME ? -1 : 0;
}

/* NCName or NCName:NCName, and nothing name-like after it. */
static int scan_qname(fast_parser *fp, qname *q)
{
    q->prefix = (span){NULL, 0};
    if (scan_ncname(fp, &q->local) != 0)
        return -1;
    if (*fp->p == ':') {
        fp->p++;
        q->prefix = q->local;
        if (scan_ncname(fp, &q->local) != 0)
            return -1;
    }
    return *fp->p == ':' || (unsigned char)*fp->p >= 0x80 ? -1 : 0;
}

/* The namespace bound to prefix (n == 0: the default one); 0 when found
 * (*ns NULL for no default namespace), -1 for an undeclared prefix. */
static int lookup(const fast_parser *fp, span prefix, xmlNsPtr *ns)
{
    for (size_t i = fp->n_bindings; i-- > 0;) {
        if (span_eq(fp->bindings[i].prefix, prefix)) {
            *ns = fp->bindings[i].ns;
            return 0;
        }
    }
    *ns = NULL;
    return prefix.n == 0 ? 0 : -1;
}

static void append_child(xmlNodePtr parent, xmlNodePtr node)
{
    node->parent = parent;
    if (parent->last) {
        parent->last->next = node;
        node->prev = parent->last;
    } else {
        parent->children = node;
    }
    parent->last = node;
}

typedef struct fast_attr {
    qname name;
    span value;
} fast_attr;

/* A namespace declaration (xmlns="…" or xmlns:p="…"): the declared prefix
 * in *declared. */
static int is_declaration(const fast_attr *a, span *declared)
{
    if (a->name.prefix.n == 0 && span_is(a->name.local, "xmlns")) {
        *declared = (span){NULL, 0};
        return 1;
    }
    if (span_is(a->name.prefix, "xmlns")) {
        *declared = a->name.local;
        return 1;
    }
    return 0;
}

/* Adds the declaration to node->nsDef and to the bindings in scope. Empty
 * (undeclaring) and reserved ones, and a prefix declared twice on one
 * element, are libxml2's to judge. */
static int declare(fast_parser *fp, xmlNodePtr node, size_t mark, span prefix, span href)
{
    if (href.n == 0 || span_is(prefix, "xml") || span_is(prefix, "xmlns") ||
        span_is(href, "http://www.w3.org/XML/1998/namespace") ||
        span_is(href, "http://www.w3.org/2000/xmlns/") || fp->n_bindings == FAST_MAX_BINDINGS)
        return -1;
    for (size_t i = mark; i < fp->n_bindings; i++)
        if (span_eq(fp->bindings[i].prefix, prefix))
            return -1;
    xmlNsPtr ns = xmlMalloc(sizeof(xmlNs));
    if (!ns)
        return -1;
    memset(ns, 0, sizeof(xmlNs));
    ns->type = XML_LOCAL_NAMESPACE;
    ns->href = xmlStrndup((const xmlChar *)href.p, (int)href.n);
    ns->prefix = prefix.n ? xmlStrndup((const xmlChar *)prefix.p, (int)prefix.n) : NULL;
    /* linked first, so that the document frees it whatever happens next */
    xmlNsPtr *tail = &node->nsDef;
    while (*tail)
        tail = &(*tail)->next;
    *tail = ns;
    if (!ns->href || (prefix.n && !ns->prefix))
        return -1;
    /* libxml2 marks a document whose namespace names are no URI references */
    const xmlChar *h = ns->href;
    if (!fp->known_uris || !xmlDictExists(fp->known_uris, h, (int)href.n)) {
        xmlURIPtr uri = xmlParseURI((const char *)h);
        if (!uri)
            return -1;
        xmlFreeURI(uri);
        if (fp->known_uris && xmlDictSize(fp->known_uris) < FAST_MAX_KNOWN_URIS)
            xmlDictLookup(fp->known_uris, h, (int)href.n); /* without memory: not kept */
    }
    fp->bindings[fp->n_bindings++] = (binding){prefix, ns};
    return 0;
}

/* Reads the attributes of a start tag up to '>' or "/>" (not consumed). */
static int scan_attrs(fast_parser *fp, fast_attr *attrs, size_t *n_attrs)
{
    *n_attrs = 0;
    for (;;) {
        int spaced = skip_space(fp);
        if (*fp->p == '>' || *fp->p == '/')
            return 0;
        if (!spaced || *n_attrs == FAST_MAX_ATTRS)
            return -1;
        fast_attr *a = &attrs[(*n_attrs)++];
        if (scan_qname(fp, &a->name) != 0)
            return -1;
        skip_space(fp);
        if (*fp->p != '=')
            return -1;
        fp->p++;
        skip_space(fp);
        char quote = *fp->p;
        if (quote != '"' && quote != '\'')
            return -1;
        const char *v = ++fp->p;
        fp->p = skip_plain(fp->p, fp->end, quote, '<', '&');
        while (*fp->p != quote && !IS(*fp->p, C_VALUE_STOP))
            fp->p++;
        if (*fp->p != quote)
            return -1;
        a->value = (span){v, (size_t)(fp->p - v)};
        fp->p++;
    }
}

/* The namespace of an attribute: none without a prefix. */
static int attr_ns(const fast_parser *fp, const fast_attr *a, xmlNsPtr *ns)
{
    *ns = NULL;
    return a->name.prefix.n && (lookup(fp, a->name.prefix, ns) != 0 || !*ns) ? -1 : 0;
}

/* The attributes other than declarations, in document order. Two with the
 * same QName or the same expanded name, and the reserved prefixes, are
 * libxml2's to judge. */
static int add_attrs(fast_parser *fp, xmlNodePtr node, const fast_attr *attrs, size_t n_attrs)
{
    span declared;
    for (size_t i = 0; i < n_attrs; i++) {
        const fast_attr *a = &attrs[i];
        xmlNsPtr ns, other;
        if (is_declaration(a, &declared))
            continue;
        if (span_is(a->name.local, "xmlns") || span_is(a->name.prefix, "xml") ||
            attr_ns(fp, a, &ns) != 0)
            return -1;
        for (size_t j = 0; j < i; j++) {
            if (is_declaration(&attrs[j], &declared) ||
                !span_eq(attrs[j].name.local, a->name.local))
                continue;
            if (span_eq(attrs[j].name.prefix, a->name.prefix) ||
                (attr_ns(fp, &attrs[j], &other) == 0 && ns && other &&
                 xmlStrEqual(ns->href, other->href)))
                return -1;
        }
        const xmlChar *name =
            xmlDictLookup(fp->dict, (const xmlChar *)a->name.local.p, (int)a->name.local.n);
        xmlAttrPtr attr = name ? xmlNewNsPropEatName(node, ns, (xmlChar *)name, NULL) : NULL;
        if (!attr)
            return -1;
        xmlNodePtr text = xmlNewDocTextLen(fp->doc, (const xmlChar *)a->value.p, (int)a->value.n);
        if (!text)
            return -1;
        attr->children = attr->last = text;
        text->parent = (xmlNodePtr)attr;
    }
    return 0;
}

/* At '<' of a start tag. */
static int start_tag(fast_parser *fp)
{
    fast_attr attrs[FAST_MAX_ATTRS];
    size_t n_attrs, mark = fp->n_bindings;
    qname q;
    span declared;

    if (fp->depth == XML_MAX_DEPTH) /* the depth refusal is libxml2's */
        return -1;
    const char *tag = ++fp->p;
    if (scan_qname(fp, &q) != 0)
        return -1;
    span written = {tag, (size_t)(fp->p - tag)};
    if (scan_attrs(fp, attrs, &n_attrs) != 0)
        return -1;
    int empty = *fp->p == '/';
    if (empty && fp->p[1] != '>')
        return -1;
    fp->p += empty ? 2 : 1;

    const xmlChar *name = xmlDictLookup(fp->dict, (const xmlChar *)q.local.p, (int)q.local.n);
    xmlNodePtr node = name ? xmlNewDocNodeEatName(fp->doc, NULL, (xmlChar *)name, NULL) : NULL;
    if (!node)
        return -1;
    append_child(fp->depth ? fp->open[fp->depth - 1].node : (xmlNodePtr)fp->doc, node);
    for (size_t i = 0; i < n_attrs; i++)
        if (is_declaration(&attrs[i], &declared) &&
            declare(fp, node, mark, declared, attrs[i].value) != 0)
            return -1;
    if (lookup(fp, q.prefix, &node->ns) != 0 || (q.prefix.n && !node->ns) ||
        add_attrs(fp, node, attrs, n_attrs) != 0)
        return -1;
    if (empty)
        fp->n_bindings = mark;
    else
        fp->open[fp->depth++] = (open_elem){node, written, mark};
    return 0;
}

/* At "</". */
static int end_tag(fast_parser *fp)
{
    const open_elem *e = &fp->open[fp->depth - 1];
    fp->p += 2;
    if (strncmp(fp->p, e->qname.p, e->qname.n) != 0)
        return -1;
    fp->p += e->qname.n;
    if (IS(*fp->p, C_NAME) || *fp->p == ':')
        return -1;
    skip_space(fp);
    if (*fp->p != '>')
        return -1;
    fp->p++;
    fp->n_bindings = e->bindings_mark;
    fp->depth--;
    return 0;
}

/* Text up to the next '<'. */
static int text_node(fast_parser *fp)
{
    const char *s = fp->p;
    for (;;) {
        fp->p = skip_plain(fp->p, fp->end, '<', '&', ']');
        while (!IS(*fp->p, C_TEXT_STOP))
            fp->p++;
        if (*fp->p != ']')
            break;
        if (fp->p[1] == ']' && fp->p[2] == '>')
            return -1;
        fp->p++;
    }
    if (*fp->p != '<')
        return -1;
    xmlNodePtr text = xmlNewDocTextLen(fp->doc, (const xmlChar *)s, (int)(fp->p - s));
    if (!text)
        return -1;
    append_child(fp->open[fp->depth - 1].node, text);
    return 0;
}

int xml_fast_parse(const char *text, size_t len, xmlDictPtr dict, xmlDictPtr known_uris,
                   xmlDocPtr *out)
{
    fast_parser fp = {.p = text, .end = text + len, .dict = dict, .known_uris = known_uris};
    *out = NULL;
    if (len > INT_MAX || text[0] != '<' || !(fp.doc = xmlNewDoc((const xmlChar *)"1.0")))
        return 0;
    fp.doc->dict = dict;
    xmlDictReference(dict);
    if (start_tag(&fp) != 0)
        goto decline;
    while (fp.depth > 0) {
        int rc = *fp.p != '<' ? text_node(&fp) : fp.p[1] == '/' ? end_tag(&fp) : start_tag(&fp);
        if (rc != 0)
            goto decline;
    }
    skip_space(&fp);
    if (fp.p != fp.end)
        goto decline;
    /* as libxml2 leaves a document read with xml.c's options */
    fp.doc->properties = XML_DOC_WELLFORMED | XML_DOC_NSVALID | XML_DOC_DTDVALID;
    fp.doc->parseFlags = XML_PARSE_NONET;
    *out = fp.doc;
    return 1;
decline:
    xmlFreeDoc(fp.doc);
    return 0;
}
