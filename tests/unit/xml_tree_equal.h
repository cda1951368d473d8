/* xml_tree_equal.h - structural equality of two libxml2 documents, for the
 * tests of the direct parser (unit test and differential fuzz target).
 *
 * Compares the document's own fields, then every node: type, name (and
 * whether it is interned or the static "text"), content (of text, CDATA,
 * comment and PI nodes), namespace (href,
 * prefix and which declaration it refers to), declarations, attributes with
 * their text children, and the links (parent, doc, prev, last) of each tree.
 * Returns NULL when equal, else a static description of the first
 * difference. Everything is static. */
#ifndef XML_TREE_EQUAL_H
#define XML_TREE_EQUAL_H

#include <string.h>

#include <libxml/tree.h> /* before dict.h, which needs xmlChar */
#include <libxml/dict.h>
#include <libxml/parserInternals.h> /* xmlStringText */

static inline int xte_str_eq(const xmlChar *a, const xmlChar *b)
{
    return a == b || (a && b && strcmp((const char *)a, (const char *)b) == 0);
}

/* Where ns is declared, seen from node: (ancestor distance, index in its
 * nsDef); {-1, -1} when not declared in the tree. */
static inline void xte_ns_origin(const xmlNode *node, const xmlNs *ns, int *up, int *index)
{
    *up = *index = -1;
    if (!ns)
        return;
    int d = 0;
    for (const xmlNode *n = node; n && n->type == XML_ELEMENT_NODE; n = n->parent, d++) {
        int i = 0;
        for (const xmlNs *def = n->nsDef; def; def = def->next, i++) {
            if (def == ns) {
                *up = d, *index = i;
                return;
            }
        }
    }
}

static inline const char *xte_ns_equal(const xmlNode *na, const xmlNs *a, const xmlNode *nb,
                                       const xmlNs *b)
{
    if (!a != !b)
        return "one has a namespace, the other not";
    if (!a)
        return NULL;
    if (!xte_str_eq(a->href, b->href) || !xte_str_eq(a->prefix, b->prefix) || a->type != b->type)
        return "namespace differs";
    int ua, ia, ub, ib;
    xte_ns_origin(na, a, &ua, &ia);
    xte_ns_origin(nb, b, &ub, &ib);
    if (ua != ub || ia != ib)
        return "namespace refers to another declaration";
    return NULL;
}

static inline const char *xte_nodes_equal(const xmlDoc *da, const xmlNode *a, const xmlDoc *db,
                                          const xmlNode *b, const xmlNode *parent_a,
                                          const xmlNode *parent_b);

static inline const char *xte_list_equal(const xmlDoc *da, const xmlNode *a, const xmlNode *last_a,
                                         const xmlDoc *db, const xmlNode *b,
                                         const xmlNode *last_b, const xmlNode *pa,
                                         const xmlNode *pb)
{
    const xmlNode *prev_a = NULL, *prev_b = NULL;
    for (; a && b; prev_a = a, prev_b = b, a = a->next, b = b->next) {
        if (a->prev != prev_a || b->prev != prev_b)
            return "broken prev link";
        const char *why = xte_nodes_equal(da, a, db, b, pa, pb);
        if (why)
            return why;
    }
    if (a || b)
        return "different number of children";
    if (last_a != prev_a || last_b != prev_b)
        return "broken last link";
    return NULL;
}

static inline const char *xte_nodes_equal(const xmlDoc *da, const xmlNode *a, const xmlDoc *db,
                                          const xmlNode *b, const xmlNode *pa, const xmlNode *pb)
{
    if (a->type != b->type)
        return "node types differ";
    if (a->parent != pa || b->parent != pb || a->doc != da || b->doc != db)
        return "broken parent or doc link";
    if (!xte_str_eq(a->name, b->name))
        return "names differ";
    if ((a->name == xmlStringText) != (b->name == xmlStringText) ||
        (a->name && xmlDictOwns(da->dict, a->name)) != (b->name && xmlDictOwns(db->dict, b->name)))
        return "a name is interned in one tree only";
    if (a->type == XML_TEXT_NODE || a->type == XML_CDATA_SECTION_NODE ||
        a->type == XML_COMMENT_NODE || a->type == XML_PI_NODE)
        return xte_str_eq(a->content, b->content) ? NULL : "text differs";
    if (a->type == XML_ATTRIBUTE_NODE) {
        const xmlAttr *x = (const xmlAttr *)a, *y = (const xmlAttr *)b;
        if (x->atype != y->atype)
            return "attribute types differ";
        const char *why = xte_ns_equal(pa, x->ns, pb, y->ns);
        return why ? why
                   : xte_list_equal(da, x->children, x->last, db, y->children, y->last, a, b);
    }
    if (a->type != XML_ELEMENT_NODE)
        return "unexpected node type";
    if (a->content || b->content || a->extra != b->extra)
        return "element fields differ";
    const char *why = xte_ns_equal(a, a->ns, b, b->ns);
    if (why)
        return why;
    const xmlNs *x = a->nsDef, *y = b->nsDef;
    for (; x && y; x = x->next, y = y->next)
        if (!xte_str_eq(x->href, y->href) || !xte_str_eq(x->prefix, y->prefix) ||
            x->type != y->type || x->context != y->context)
            return "namespace declarations differ";
    if (x || y)
        return "different number of namespace declarations";
    const xmlAttr *p = a->properties, *q = b->properties, *pp = NULL, *pq = NULL;
    for (; p && q; pp = p, pq = q, p = p->next, q = q->next) {
        if (p->prev != pp || q->prev != pq)
            return "broken attribute prev link";
        if ((why = xte_nodes_equal(da, (const xmlNode *)p, db, (const xmlNode *)q, a, b)))
            return why;
    }
    if (p || q)
        return "different number of attributes";
    return xte_list_equal(da, a->children, a->last, db, b->children, b->last, a, b);
}

static inline const char *xml_tree_equal(const xmlDoc *a, const xmlDoc *b)
{
    if (a->type != b->type || !xte_str_eq(a->version, b->version) ||
        !xte_str_eq(a->encoding, b->encoding) || !xte_str_eq(a->URL, b->URL) ||
        a->standalone != b->standalone || a->charset != b->charset ||
        a->properties != b->properties || a->parseFlags != b->parseFlags ||
        a->compression != b->compression)
        return "document fields differ";
    if (a->intSubset || b->intSubset || a->extSubset || b->extSubset || a->ids || b->ids ||
        a->refs || b->refs)
        return "a DTD or an ID table";
    if (!a->oldNs != !b->oldNs || (a->oldNs && !xte_str_eq(a->oldNs->href, b->oldNs->href)))
        return "the xml namespace is in one document only";
    if (!a->dict || !b->dict)
        return "a document without a dictionary";
    return xte_list_equal(a, a->children, a->last, b, b->children, b->last,
                          (const xmlNode *)a, (const xmlNode *)b);
}

#endif
