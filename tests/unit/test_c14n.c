/* test_c14n.c - the receiver's direct exclusive-c14n writer
 * (xml_c14n_subtree) against libxml2's xmlC14NExecute
 * (xml_c14n_subtree_libxml2), byte for byte, on every element of:
 *   - hand-written documents with the namespace corner cases of exc-c14n
 *     (redeclared and shadowed prefixes, default namespace and xmlns="",
 *     namespaces used only by attributes, declared but unused ones, xml:*
 *     attributes, attribute order across namespaces, escaping in text,
 *     attributes and PIs, CDATA, comments);
 *   - 3000 random documents built from the same ingredients;
 *   - envelopes of every credential msgsec_wrap writes.
 * Subtrees the writer does not take (InclusiveNamespaces PrefixList, unknown
 * namespace URIs, entity references) must be reported ineligible, so that
 * libxml2 handles them. */
#include "recv_test_util.h"

/* Canonical bytes of node by the direct writer (fast = 1) or libxml2. */
static char *canon(xmlNodePtr node, xmlChar **prefixes, int fast)
{
    strbuf sb;
    sb_init(&sb, 1024, 0);
    int rc = fast ? xml_c14n_subtree(node, prefixes, sink_sb, &sb)
                  : xml_c14n_subtree_libxml2(node, prefixes, sink_sb, &sb);
    assert_int_equal(rc, 0);
    assert_false(sb.failed);
    sb_puts(&sb, "");
    return sb_steal(&sb, NULL);
}

static int compared; /* elements compared so far */

/* Compares both on every element of doc; returns how many the writer took. */
static int compare_all(xmlDocPtr doc, const char *label)
{
    int eligible = 0;
    xmlNodePtr node = xmlDocGetRootElement(doc);
    while (node) {
        if (node->type == XML_ELEMENT_NODE) {
            char *fast = canon(node, NULL, 1), *ref = canon(node, NULL, 0);
            if (strcmp(fast, ref) != 0)
                fail_msg("%s: <%s> differs\n  writer: %s\n  libxml2: %s", label, node->name, fast,
                         ref);
            eligible += xml_c14n_fast_eligible(node, NULL);
            compared++;
            free(fast);
            free(ref);
        }
        node = xml_next_in_doc(node);
    }
    return eligible;
}

static xmlDocPtr parse(const char *xml)
{
    xmlDocPtr doc = NULL;
    msgsec_error e;
    if (xml_parse((const uint8_t *)xml, strlen(xml), 1u << 20, &doc, &e) != MSGSEC_OK)
        fail_msg("parse: %s\n%s", e.detail, xml);
    return doc;
}

#define A NS_WSU
#define B NS_WSSE
#define D NS_DS

static const char *const corner_cases[] = {
    /* unused declarations dropped; used ones declared where first used */
    "<r xmlns:a=\"" A "\" xmlns:b=\"" B "\"><a:x><b:y a:id=\"1\"/></a:x></r>",
    /* prefix redeclared to another URI inside; back to the first one */
    "<a:r xmlns:a=\"" A "\"><a:x xmlns:a=\"" B "\"><a:y xmlns:a=\"" A "\"/></a:x></a:r>",
    /* default namespace, undeclared with xmlns="", declared again */
    "<r xmlns=\"" A "\"><x xmlns=\"\"><y xmlns=\"" B "\"><z xmlns=\"\"/></y></x></r>",
    /* no default namespace anywhere, prefixed parent */
    "<a:r xmlns:a=\"" A "\"><x><a:y><z/></a:y></x></a:r>",
    /* namespace only used by an attribute; attribute order across namespaces */
    "<r xmlns:b=\"" B "\" xmlns:a=\"" A "\" z=\"1\" b:m=\"2\" a:m=\"3\" a=\"4\" b:a=\"5\"/>",
    /* the same URI under two prefixes */
    "<a:r xmlns:a=\"" A "\" xmlns:c=\"" A "\" c:k=\"v\" a:k2=\"w\"><c:x/></a:r>",
    /* xml:* attributes are not namespace-declared and not inherited */
    "<r xml:lang=\"en\" xml:space=\"preserve\"><x xml:id=\"i\" a=\"b\"/></r>",
    /* escaping: text & < > \" ' CR tab LF; attribute & < > \" tab LF CR */
    "<r a=\"&amp;&lt;&gt;&quot;'&#9;&#10;&#13;x\">&amp;&lt;&gt;\"'&#13;&#9;&#10;y</r>",
    /* CDATA as escaped text, comments dropped, PIs kept (with CR) */
    "<r><![CDATA[a<b&c>]]><!-- gone --><?pi data &#13;?><?empty?>t</r>",
    /* whitespace and mixed content */
    "<r>\n  <x> a </x>\n\t<y/>\n</r>",
    /* deep prefixes reused with a default namespace around them */
    "<r xmlns=\"" D "\" xmlns:d=\"" D "\"><d:x><y d:a=\"1\"><d:z xmlns=\"\"/></y></d:x></r>",
    /* an attribute in the default element namespace's URI, prefixed */
    "<r xmlns=\"" A "\" xmlns:p=\"" A "\" p:a=\"1\"><x p:b=\"2\"/></r>",
    /* empty elements and empty attribute values */
    "<r a=\"\"><x/><y></y></r>",
    /* UTF-8 text and names */
    "<r\xc3\xa9 a\xc3\xa9=\"\xe2\x82\xac\">\xf0\x9f\x98\x80</r\xc3\xa9>",
};

static void test_corner_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof corner_cases / sizeof corner_cases[0]; i++) {
        xmlDocPtr doc = parse(corner_cases[i]);
        char label[32];
        snprintf(label, sizeof label, "case %zu", i);
        int eligible = compare_all(doc, label);
        if (eligible == 0)
            fail_msg("%s: the writer took no element", label);
        xmlFreeDoc(doc);
    }
}

/* A tree edited through the API (not reachable by parsing): an element in no
 * namespace, with no default namespace in scope, under a parent whose
 * attribute was put in a default (unprefixed) namespace: both write
 * xmlns="" on the child. */
static void test_edited_tree(void **state)
{
    (void)state;
    xmlDocPtr doc = parse("<a:r xmlns:a=\"" A "\" xmlns=\"" B "\" k=\"v\"><x/></a:r>");
    xmlNodePtr root = xmlDocGetRootElement(doc), x = xml_first_elem(root);
    xmlNsPtr a_decl = root->nsDef, default_decl = a_decl->next;
    assert_null(default_decl->prefix);
    a_decl->next = NULL; /* the default declaration leaves the tree... */
    root->properties->ns = default_decl; /* ...but the attribute uses it */
    x->ns = NULL;
    char *fast = canon(root, NULL, 1), *ref = canon(root, NULL, 0);
    assert_non_null(strstr(ref, "<x xmlns=\"\">"));
    assert_string_equal(fast, ref);
    free(fast);
    free(ref);
    root->properties->ns = NULL;
    a_decl->next = default_decl;
    xmlFreeDoc(doc);
}

/* ---- random documents ---- */

static unsigned rnd_state = 12345;
static unsigned rnd(unsigned n)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 16) % n;
}

static const char *const uris[] = {A, B, D, NS_XENC};
static const char *const prefixes_used[] = {"a", "b", "c"};
static const char *const texts[] = {"x", " ", "&amp;", "&lt;", "&gt;", "\"", "'", "&#13;",
                                    "&#9;", "\n", "<![CDATA[<&>]]>", "<!--c-->", "<?p d?>",
                                    "\xc3\xa9"};
static const char *const attr_values[] = {"", "v", "&amp;", "&lt;", ">", "&quot;", "'",
                                          "&#9;", "&#10;", "&#13;", "\xe2\x82\xac"};

static void random_element(strbuf *sb, int depth)
{
    const char *prefix = rnd(3) ? prefixes_used[rnd(3)] : NULL;
    char name[32];
    snprintf(name, sizeof name, "%s%se%u", prefix ? prefix : "", prefix ? ":" : "", rnd(3));
    sb_printf(sb, "<%s", name);
    /* declarations: maybe the element's own prefix, maybe others, maybe default */
    int declared[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (rnd(4) == 0 || (depth == 0 && rnd(2))) {
            sb_printf(sb, " xmlns:%s=\"%s\"", prefixes_used[i], uris[rnd(4)]);
            declared[i] = 1;
        }
    }
    if (rnd(4) == 0)
        sb_printf(sb, " xmlns=\"%s\"", rnd(3) ? uris[rnd(4)] : "");
    /* attributes, unprefixed and prefixed (distinct expanded names) */
    int n_attrs = (int)rnd(4);
    for (int i = 0; i < n_attrs; i++) {
        const char *v = attr_values[rnd(sizeof attr_values / sizeof attr_values[0])];
        unsigned k = rnd(4);
        if (k < 3 && declared[k] && i < 3)
            sb_printf(sb, " %s:at%d=\"%s\"", prefixes_used[k], i, v);
        else if (k == 3 && i == 0)
            sb_printf(sb, " xml:lang=\"%s\"", v);
        else
            sb_printf(sb, " at%d=\"%s\"", i, v);
    }
    sb_puts(sb, ">");
    int n_children = depth < 5 ? (int)rnd(5) : 0;
    for (int i = 0; i < n_children; i++) {
        if (rnd(2))
            random_element(sb, depth + 1);
        else
            sb_puts(sb, texts[rnd(sizeof texts / sizeof texts[0])]);
    }
    sb_printf(sb, "</%s>", name);
}

static void test_random_documents(void **state)
{
    (void)state;
    int documents = 0, eligible = 0;
    compared = 0;
    for (int i = 0; i < 3000; i++) {
        strbuf sb;
        xmlDocPtr doc = NULL;
        sb_init(&sb, 1024, 0);
        /* the root binds every prefix so that random children are well-formed */
        sb_printf(&sb, "<root xmlns:a=\"%s\" xmlns:b=\"%s\" xmlns:c=\"%s\">", uris[rnd(4)],
                  uris[rnd(4)], uris[rnd(4)]);
        random_element(&sb, 0);
        sb_puts(&sb, "</root>");
        assert_false(sb.failed);
        if (xml_parse((const uint8_t *)sb.data, sb.len, 1u << 20, &doc, NULL) == MSGSEC_OK) {
            char label[32];
            snprintf(label, sizeof label, "random %d", i);
            eligible += compare_all(doc, label);
            documents++;
            xmlFreeDoc(doc);
        }
        sb_free(&sb, 0);
    }
    /* the generator only makes namespace-well-formed documents */
    assert_int_equal(documents, 3000);
    /* every element of them is the writer's (known URIs, no entities) */
    assert_int_equal(eligible, compared);
    assert_true(compared > 20000);
}

/* ---- envelopes ---- */

static void test_envelopes(void **state)
{
    (void)state;
    const char *clients[] = {"client-rsa", "client-ec", NULL};
    for (size_t i = 0; i < sizeof clients / sizeof clients[0]; i++) {
        msgsec_sender *s = sender_for(clients[i]);
        char *bin = wrap_with(s, "payload <&> bytes", NULL, 0);
        char *xml = wrap_with(s, "<order xmlns=\"urn:example:orders\" n=\"1\">two &amp; "
                                 "three</order>", "application/xml", 0);
        xmlDocPtr d1 = dom(bin), d2 = dom(xml);
        /* our own envelopes go through the writer entirely */
        xmlNodePtr n = xmlDocGetRootElement(d1);
        assert_true(xml_c14n_fast_eligible(n, NULL));
        compare_all(d1, clients[i] ? clients[i] : "none");
        compare_all(d2, clients[i] ? clients[i] : "none");
        xmlFreeDoc(d1);
        xmlFreeDoc(d2);
        free(bin);
        free(xml);
        msgsec_sender_free(s);
    }
}

/* ---- what is left to libxml2 ---- */

static void test_ineligible(void **state)
{
    (void)state;
    xmlChar *wsu_prefix[] = {(xmlChar *)"a", NULL}, *no_prefix[] = {NULL};
    xmlDocPtr doc = parse("<a:r xmlns:a=\"" A "\"><x/></a:r>");
    xmlNodePtr root = xmlDocGetRootElement(doc);
    assert_true(xml_c14n_fast_eligible(root, NULL));
    assert_true(xml_c14n_fast_eligible(root, no_prefix)); /* empty PrefixList */
    assert_false(xml_c14n_fast_eligible(root, wsu_prefix));
    char *fast = canon(root, wsu_prefix, 1), *ref = canon(root, wsu_prefix, 0);
    assert_string_equal(fast, ref);
    free(fast);
    free(ref);
    xmlFreeDoc(doc);

    /* an unknown (here relative) namespace URI: libxml2 refuses it */
    doc = parse("<r><x xmlns:p=\"rel/ative\"><p:y/></x></r>");
    root = xmlDocGetRootElement(doc);
    assert_false(xml_c14n_fast_eligible(root, NULL));
    strbuf sb;
    sb_init(&sb, 64, 0);
    assert_int_equal(xml_c14n_subtree(root, NULL, sink_sb, &sb), -1);
    sb_free(&sb, 0);
    xmlFreeDoc(doc);

    /* a namespace URI with a quote is written by libxml2 ('...') */
    doc = parse("<r xmlns:p='" A "\"x'><p:x/></r>");
    assert_false(xml_c14n_fast_eligible(xmlDocGetRootElement(doc), NULL));
    xmlFreeDoc(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corner_cases),
        cmocka_unit_test(test_edited_tree),
        cmocka_unit_test(test_random_documents),
        cmocka_unit_test(test_envelopes),
        cmocka_unit_test(test_ineligible),
    };
    return cmocka_run_group_tests(tests, test_global_setup, NULL);
}
