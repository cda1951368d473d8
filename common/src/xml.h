/* xml.h - hardened XML parsing and the ID registry (internal).
 *
 * This is the one XML parser of libmsgsec: every byte it parses as XML
 * (envelopes, tokens and assertions, decrypted content, XML payloads to
 * protect) goes through xml_parse, xml_parse_payload, xml_parser_parse or
 * xml_replace_with_content, and nothing else calls libxml2's parser: size
 * checked before parsing, no network, no DTD, no entity declarations (a
 * DOCTYPE or an entity declaration stops the parser: MSGSEC_E_MALFORMED),
 * bounded depth, never XML_PARSE_HUGE. IDs are registered by us
 * (namespace-aware), never by libxml2's DTD/xml:id machinery. */
#ifndef MSGSEC_XML_H
#define MSGSEC_XML_H

#include <libxml/tree.h> /* before dict.h, which needs xmlChar */
#include <libxml/dict.h>

#include "internal.h"

#define XML_MAX_DEPTH 64
/* Ancestors of Body content: s:Envelope and s:Body. */
#define XML_BODY_DEPTH 2

/* Parses buf[0..len) (len <= max_bytes). *out: caller frees with xmlFreeDoc. */
msgsec_err xml_parse(const uint8_t *buf, size_t len, size_t max_bytes, xmlDocPtr *out,
                     msgsec_error *err);
/* As xml_parse, for an XML payload (plaintext to protect): its depth is
 * bounded so that it stays within XML_MAX_DEPTH in the Body, and error
 * details say "XML payload" and never quote it. */
msgsec_err xml_parse_payload(const uint8_t *buf, size_t len, size_t max_bytes, xmlDocPtr *out,
                             msgsec_error *err);

/* A reusable parser for a stream of documents (one per receiver, not
 * thread-safe): keeping libxml2's context and its name dictionary saves
 * their set-up per message. The context is recreated after
 * XML_PARSER_MAX_USES documents, once its dictionary holds more than
 * XML_PARSER_MAX_NAMES strings (names are attacker-chosen) and after any
 * failed parse; the hooks and options are those of xml_parse. A document
 * under 64 KiB that opens with an element tag and holds no NUL byte is
 * parsed in place from a copy in the parser's buffer (no libxml2 input
 * buffer per document), with the outcome xml_parse would give. */
typedef struct xml_parser xml_parser;
#define XML_PARSER_MAX_USES 1000
#define XML_PARSER_MAX_NAMES 2000
/* NULL when out of memory; free with xml_parser_free. */
xml_parser *xml_parser_new(void);
void xml_parser_free(xml_parser *p);
/* As xml_parse. Documents stay valid after the parser is dropped or freed. */
msgsec_err xml_parser_parse(xml_parser *p, const uint8_t *buf, size_t len, size_t max_bytes,
                            xmlDocPtr *out, msgsec_error *err);
/* Forgets the context and its dictionary now, e.g. after plaintext was
 * parsed into a document that shares it (short strings are interned). */
void xml_parser_drop(xml_parser *p);

/* The direct parser behind xml_parser_parse (xml_fast.c). text[0, len) is
 * a document without NUL bytes, NUL-terminated at len. When it lies within
 * plain XML (ASCII without control characters or CR; elements, attributes,
 * namespace declarations and text only: no DTD, reference, comment, PI or
 * CDATA; depth below XML_MAX_DEPTH) builds in *out the tree libxml2 builds,
 * names interned in dict, and returns 1.
 * Otherwise, malformed documents included, returns 0 with nothing built:
 * libxml2 is to parse it. known_uris (borrowed, may be NULL) remembers the
 * namespace names found to be URI references, across documents. */
int xml_fast_parse(const char *text, size_t len, xmlDictPtr dict, xmlDictPtr known_uris,
                   xmlDocPtr *out);

/* Parses data as element content in the context of parent (in-scope
 * namespaces), with the same restrictions, and inserts the nodes in place of
 * `replaced` (which is unlinked and freed). Depth is bounded as for xml_parse. */
msgsec_err xml_replace_with_content(xmlNodePtr replaced, const uint8_t *data, size_t len,
                                    msgsec_error *err);

/* Wipes (OPENSSL_cleanse) the text and attribute values of the subtree:
 * decrypted plaintext that was put back into the tree. */
void xml_wipe_subtree(xmlNodePtr node);

/* 1 when node is an element named `name` in namespace `ns`. */
int xml_is(const xmlNode *node, const char *ns, const char *name);
/* First / next element sibling (skipping text, comments, PIs); NULL at the end. */
xmlNodePtr xml_first_elem(const xmlNode *parent);
xmlNodePtr xml_next_elem(const xmlNode *node);
/* The node after node in document order (pre-order, children first), within
 * its document; NULL after the last. */
xmlNodePtr xml_next_in_doc(xmlNodePtr node);
/* 1 when parent has non-whitespace text children or a CDATA child. */
int xml_has_text(const xmlNode *parent);
/* The only element child named ns:name of parent; NULL if absent; *dup set when
 * there is more than one (dup may be NULL). */
xmlNodePtr xml_child(const xmlNode *parent, const char *ns, const char *name, int *dup);
/* Attribute value (borrowed from the tree, NULL if absent); ns NULL = no namespace. */
const char *xml_attr(const xmlNode *node, const char *ns, const char *name);
/* Text content of the direct text children; caller frees with xmlFree. */
char *xml_text(const xmlNode *node);
/* The same without a copy in the usual case of one text child (borrowed from
 * the tree); otherwise *copy holds it (caller frees with xmlFree). NULL when
 * out of memory. */
const char *xml_text_ref(const xmlNode *node, char **copy);

/* ---- ID registry: wsu:Id anywhere, Id on ds/xenc elements, ID on saml2:Assertion */
typedef struct xml_id {
    const char *name; /* borrowed from the tree */
    xmlNodePtr node;
} xml_id;

typedef struct xml_ids {
    xml_id *items;
    size_t n, cap;
} xml_ids;

/* (Re)builds the registry over the whole document; a duplicate ID or an empty
 * one is MSGSEC_E_MALFORMED. */
msgsec_err xml_ids_build(xml_ids *ids, xmlDocPtr doc, msgsec_error *err);
void xml_ids_free(xml_ids *ids);
/* Resolves a same-document reference. Only "#name" is accepted: empty
 * references, external URIs and XPointer are MSGSEC_E_POLICY; an unknown
 * name is MSGSEC_E_MALFORMED. */
msgsec_err xml_ids_resolve(const xml_ids *ids, const char *uri, xmlNodePtr *out,
                           msgsec_error *err);

/* A ds:CanonicalizationMethod or ds:Transform element that must be exclusive
 * c14n (else MSGSEC_E_POLICY naming `what`), with an optional
 * ec:InclusiveNamespaces PrefixList: *prefixes (NULL when absent) is freed
 * with xml_free_prefixes. */
msgsec_err xml_exc_c14n_method(xmlNodePtr method, const char *what, xmlChar ***prefixes,
                               msgsec_error *err);
void xml_free_prefixes(xmlChar **prefixes);

/* Receives canonical bytes; returns len, or -1 to abort. */
typedef int (*xml_sink)(void *ctx, const char *buf, int len);

/* Streams the exclusive XML c14n 1.0 (without comments) of the subtree rooted
 * at node into sink. prefixes: InclusiveNamespaces PrefixList
 * (NULL-terminated, may be NULL). 0 ok, -1 failure.
 * Writes directly from the tree, byte for byte what libxml2's xmlC14NExecute
 * writes, when xml_c14n_fast_eligible(node, prefixes); else runs libxml2. */
int xml_c14n_subtree(xmlNodePtr node, xmlChar **prefixes, xml_sink sink, void *sink_ctx);
/* 1 when the direct writer handles the subtree: an element, no PrefixList,
 * only element/text/CDATA/comment/PI nodes, attribute values of text only,
 * no namespace URI with a '"', namespace declarations only of well-known
 * absolute URIs (libxml2 fails c14n on relative ones), bounded depth and
 * attributes per element. */
int xml_c14n_fast_eligible(const xmlNode *node, xmlChar **prefixes);
/* The same through libxml2's xmlC14NExecute (the reference of the tests). */
int xml_c14n_subtree_libxml2(xmlNodePtr node, xmlChar **prefixes, xml_sink sink, void *sink_ctx);
/* The enveloped-signature transform then exclusive c14n: the subtree of
 * root without the subtree of excluded (its ds:Signature; NULL = none),
 * through libxml2. 0 ok, -1 failure. */
int xml_c14n_enveloped(xmlNodePtr root, xmlNodePtr excluded, xmlChar **prefixes, xml_sink sink,
                       void *sink_ctx);

/* The sinks of every c14n writer: xml_sink_strbuf appends to a strbuf
 * (ctx: strbuf *; -1 once it failed), xml_sink_digest feeds a digest
 * (ctx: an initialised EVP_MD_CTX *). */
int xml_sink_strbuf(void *ctx, const char *buf, int len);
int xml_sink_digest(void *ctx, const char *buf, int len);
/* SHA-256 of xml_c14n_subtree(node, prefixes) with the caller's context md
 * (reused, borrowed) and sha256 (fetched once, borrowed). 0 ok, -1 failure. */
int xml_c14n_sha256(xmlNodePtr node, xmlChar **prefixes, EVP_MD_CTX *md, const EVP_MD *sha256,
                    uint8_t out[32]);

#endif
