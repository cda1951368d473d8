/* test_xml_parser.c - the reusable parser of a receiver (xml_parser_*): a
 * context reused across documents keeps every defense of xml_parse (DOCTYPE,
 * entity declarations and depth refused with class 3, also right after
 * accepted documents and after a refusal), documents outlive it, and its
 * name dictionary is bounded: shared while small, replaced once it holds
 * more than XML_PARSER_MAX_NAMES names or after XML_PARSER_MAX_USES
 * documents. */
#include "recv_test_util.h"
#include "xml_plain_samples.h"
#include "xml_tree_equal.h"

static msgsec_err parse_with(xml_parser *p, const char *xml, xmlDocPtr *doc, msgsec_error *e)
{
    return xml_parser_parse(p, (const uint8_t *)xml, strlen(xml), 1u << 20, doc, e);
}

static xmlDocPtr parse_ok(xml_parser *p, const char *xml)
{
    xmlDocPtr doc = NULL;
    msgsec_error e;
    if (parse_with(p, xml, &doc, &e) != MSGSEC_OK)
        fail_msg("parse: %s", e.detail);
    return doc;
}

static void assert_refused(xml_parser *p, const char *xml, const char *reason)
{
    xmlDocPtr doc = NULL;
    msgsec_error e;
    assert_int_equal(parse_with(p, xml, &doc, &e), MSGSEC_E_MALFORMED);
    assert_null(doc);
    if (!strstr(e.detail, reason))
        fail_msg("expected \"%s\" in \"%s\"", reason, e.detail);
}

static char *deep_document(int depth)
{
    strbuf sb;
    sb_init(&sb, 1024, 0);
    for (int i = 0; i < depth; i++)
        sb_puts(&sb, "<a>");
    for (int i = 0; i < depth; i++)
        sb_puts(&sb, "</a>");
    return sb_steal(&sb, NULL);
}

static void test_defenses_survive_reuse(void **state)
{
    (void)state;
    xml_parser *p = xml_parser_new();
    assert_non_null(p);
    char *deep = deep_document(XML_MAX_DEPTH + 2), *ok_depth = deep_document(XML_MAX_DEPTH);
    for (int round = 0; round < 3; round++) {
        xmlFreeDoc(parse_ok(p, "<r><x a=\"1\">t</x></r>"));
        assert_refused(p, "<!DOCTYPE r><r/>", "DOCTYPE");
        assert_refused(p, "<!DOCTYPE r [<!ENTITY e \"x\">]><r>&e;</r>", "DOCTYPE");
        assert_refused(p, deep, "nesting");
        xmlFreeDoc(parse_ok(p, ok_depth));
        assert_refused(p, "<r><x></r>", "not well-formed");
        assert_refused(p, "", "empty");
    }
    free(deep);
    free(ok_depth);
    xml_parser_free(p);
}

static void test_documents_outlive_the_parser(void **state)
{
    (void)state;
    xml_parser *p = xml_parser_new();
    xmlDocPtr a = parse_ok(p, "<r><one/></r>"), b = parse_ok(p, "<r><two/></r>");
    assert_ptr_equal(a->dict, b->dict); /* one context, one dictionary */
    xml_parser_free(p);
    assert_string_equal((const char *)xml_first_elem(xmlDocGetRootElement(a))->name, "one");
    assert_string_equal((const char *)xml_first_elem(xmlDocGetRootElement(b))->name, "two");
    xmlFreeDoc(a);
    xmlFreeDoc(b);
}

/* A document with n element names never seen before (prefix tag). */
static char *many_names(const char *tag, int n)
{
    strbuf sb;
    sb_init(&sb, 1024, 0);
    sb_puts(&sb, "<r>");
    for (int i = 0; i < n; i++)
        sb_printf(&sb, "<%s%d/>", tag, i);
    sb_puts(&sb, "</r>");
    return sb_steal(&sb, NULL);
}

static void test_dictionary_bounded(void **state)
{
    (void)state;
    xml_parser *p = xml_parser_new();
    char *first = many_names("a", XML_PARSER_MAX_NAMES / 2),
         *second = many_names("b", XML_PARSER_MAX_NAMES / 2 + 10), *third = many_names("c", 5);
    xmlDocPtr d1 = parse_ok(p, first), d2 = parse_ok(p, second), d3 = parse_ok(p, third);
    assert_ptr_equal(d1->dict, d2->dict);
    assert_true(xmlDictSize(d2->dict) > XML_PARSER_MAX_NAMES);
    assert_ptr_not_equal(d2->dict, d3->dict); /* over the bound: a fresh context */
    assert_true(xmlDictSize(d3->dict) < 100);
    xmlFreeDoc(d1);
    xmlFreeDoc(d2);
    xmlFreeDoc(d3);
    free(first);
    free(second);
    free(third);
    xml_parser_free(p);
}

static void test_uses_bounded(void **state)
{
    (void)state;
    xml_parser *p = xml_parser_new();
    xmlDocPtr first = parse_ok(p, "<r/>"), last = NULL;
    for (int i = 1; i < XML_PARSER_MAX_USES; i++) {
        xmlDocPtr d = parse_ok(p, "<r/>");
        assert_ptr_equal(d->dict, first->dict);
        xmlFreeDoc(d);
    }
    last = parse_ok(p, "<r/>");
    assert_ptr_not_equal(last->dict, first->dict);
    xmlFreeDoc(first);
    xmlFreeDoc(last);
    xml_parser_free(p);
}

/* A refused parse drops the context: the next document starts afresh. */
static void test_refusal_drops_context(void **state)
{
    (void)state;
    xml_parser *p = xml_parser_new();
    xmlDocPtr a = parse_ok(p, "<r/>");
    assert_refused(p, "<!DOCTYPE r><r/>", "DOCTYPE");
    xmlDocPtr b = parse_ok(p, "<r/>");
    assert_ptr_not_equal(a->dict, b->dict);
    xmlFreeDoc(a);
    xmlFreeDoc(b);
    xml_parser_free(p);
}

/* A document parsed in place (from the parser's NUL-terminated copy) has
 * exactly the outcome of xml_parse (libxml2's memory input): same tree or
 * same refusal, also for the inputs in_place leaves to the memory input. */
static void test_in_place_same_as_memory(void **state)
{
    (void)state;
    static const struct { const char *xml; size_t len; } docs[] = {
        {"<r a='1' xmlns='urn:x'><c>t&amp;&#x41;</c><![CDATA[<d>]]><?pi x?></r>", 0},
        {"<r>\xc3\xa9</r>", 0},           /* UTF-8 */
        {"<r>\xe9</r>", 0},                /* Latin-1 byte: not UTF-8 */
        {"<r/>\0<x/>", 10},                /* a NUL byte inside */
        {"<r>a\0b</r>", 10},
        {"<r>&undeclared;</r>", 0},
        {"<r><c></r>", 0},
        {"<?xml version='1.0' encoding='UTF-16'?><r/>", 0},
        {"<?xml version='1.0' encoding='ISO-8859-1'?><r>\xe9</r>", 0},
        {"\xef\xbb\xbf<r/>", 0},         /* UTF-8 byte-order mark */
        {"<!-- c --><r/>", 0},
        {"<r/><r/>", 0},
        {"<r/>trailing", 0},
        {"<", 0},
        {"<r", 0},
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        size_t len = docs[i].len ? docs[i].len : strlen(docs[i].xml);
        xml_parser *p = xml_parser_new();
        xmlDocPtr a = NULL, b = NULL;
        msgsec_error ea = {0}, eb = {0};
        msgsec_err ra = xml_parser_parse(p, (const uint8_t *)docs[i].xml, len, 1u << 20, &a, &ea);
        msgsec_err rb = xml_parse((const uint8_t *)docs[i].xml, len, 1u << 20, &b, &eb);
        assert_int_equal(ra, rb);
        assert_string_equal(ea.detail, eb.detail);
        if (ra == MSGSEC_OK) {
            xmlChar *da = NULL, *db = NULL;
            int la = 0, lb = 0;
            xmlDocDumpMemory(a, &da, &la);
            xmlDocDumpMemory(b, &db, &lb);
            assert_int_equal(la, lb);
            assert_memory_equal(da, db, (size_t)la);
            xmlFree(da);
            xmlFree(db);
        }
        xmlFreeDoc(a);
        xmlFreeDoc(b);
        xml_parser_free(p);
    }
}

/* xml_parser_parse (direct parser, else libxml2 in place or from memory)
 * gives exactly the outcome of xml_parse: the same tree or the same
 * refusal. */
static void assert_same_as_xml_parse(const char *xml, size_t len)
{
    xml_parser *p = xml_parser_new();
    xmlDocPtr a = NULL, b = NULL;
    msgsec_error ea = {0}, eb = {0};
    msgsec_err ra = xml_parser_parse(p, (const uint8_t *)xml, len, 1u << 20, &a, &ea);
    msgsec_err rb = xml_parse((const uint8_t *)xml, len, 1u << 20, &b, &eb);
    assert_int_equal(ra, rb);
    assert_string_equal(ea.detail, eb.detail);
    if (ra == MSGSEC_OK) {
        const char *why = xml_tree_equal(a, b);
        if (why)
            fail_msg("%.60s: %s", xml, why);
    }
    xmlFreeDoc(a);
    xmlFreeDoc(b);
    xml_parser_free(p);
}

/* 1 when the direct parser builds xml (NUL-terminated, no NUL inside). */
static int fast_builds(const char *xml)
{
    xmlDictPtr dict = xmlDictCreate();
    xmlDocPtr doc = NULL;
    int built = xml_fast_parse(xml, strlen(xml), dict, NULL, &doc);
    assert_int_equal(built, doc != NULL);
    xmlFreeDoc(doc);
    xmlDictFree(dict);
    return built;
}

/* The direct parser takes plain XML and builds libxml2's tree for it; it
 * declines everything else, malformed documents included, which libxml2
 * then refuses or builds as before. */
static void test_direct_parser(void **state)
{
    (void)state;
    static const char *const declined[] = {
        "<r>&amp;</r>",
        "<r a='&#65;'/>",
        "<r><!-- c --></r>",
        "<r><![CDATA[x]]></r>",
        "<r><?pi x?></r>",
        "<r>\r\n</r>",
        "<r a='x\ty'/>",
        "<r a='x\ny'/>",
        "<r>\xc3\xa9</r>",
        "<r>\x01</r>",
        "<r>]]></r>",
        "<r xmlns:a=''/>",
        "<r xmlns:p='not a URI'/>",
        "<r xmlns='urn:a#b#c'/>",
        "<r xmlns=''/>",
        "<a:r/>",
        "<r a:x='1'/>",
        "<r xmlns='urn:d' :x='1'/>",
        "<r a='1' a='2'/>",
        "<r xmlns:a='urn:a' xmlns:b='urn:a' a:x='1' b:x='2'/>",
        "<r xmlns:a='urn:a' xmlns:a='urn:b'/>",
        "<r xmlns='urn:a' xmlns='urn:b'/>",
        "<r xml:lang='en'/>",
        "<r xmlns:xml='http://www.w3.org/XML/1998/namespace'/>",
        "<r xmlns:x='http://www.w3.org/2000/xmlns/'/>",
        "<r xmlns:xmlns='urn:x'/>",
        "<xmlns:r/>",
        "<a:b:c xmlns:a='urn:a'/>",
        "<r p:xmlns='1' xmlns:p='urn:p'/>",
        "<r><a></b></r>",
        "<r><a></ab></r>",
        "<r a='1'b='2'/>",
        "<r a=1/>",
        "<r a='1/>",
        "<r/ >",
        "< r/>",
        "<r/><r/>",
        "<r/>x",
        "<r",
        "<r>",
        "<r><c>",
        "<1r/>",
        "<r\x80/>",
    };
    for (size_t i = 0; i < XML_PLAIN_SAMPLES; i++) {
        if (!fast_builds(xml_plain_samples[i]))
            fail_msg("declined: %s", xml_plain_samples[i]);
        assert_same_as_xml_parse(xml_plain_samples[i], strlen(xml_plain_samples[i]));
    }
    for (size_t i = 0; i < sizeof declined / sizeof declined[0]; i++) {
        if (fast_builds(declined[i]))
            fail_msg("built: %s", declined[i]);
        assert_same_as_xml_parse(declined[i], strlen(declined[i]));
    }
    /* depth: libxml2 refuses deeper than XML_MAX_DEPTH */
    char *deep = deep_document(XML_MAX_DEPTH), *deeper = deep_document(XML_MAX_DEPTH + 2);
    assert_true(fast_builds(deep));
    assert_false(fast_builds(deeper));
    assert_same_as_xml_parse(deep, strlen(deep));
    assert_same_as_xml_parse(deeper, strlen(deeper));
    free(deep);
    free(deeper);
    /* names: libxml2 refuses those over 50,000 bytes, the direct parser
     * leaves all over 1,000 to it */
    for (size_t n = 1000; n <= 60000; n += 59000) {
        char *long_name = malloc(2 * n + 8);
        assert_non_null(long_name);
        long_name[0] = '<';
        memset(long_name + 1, 'n', n);
        memcpy(long_name + 1 + n, "></", 3);
        memset(long_name + 4 + n, 'n', n);
        memcpy(long_name + 4 + 2 * n, ">", 2);
        assert_int_equal(fast_builds(long_name), n == 1000);
        assert_same_as_xml_parse(long_name, strlen(long_name));
        free(long_name);
    }
    /* namespace names found valid are remembered (bounded), invalid ones never */
    xmlDictPtr dict = xmlDictCreate(), known = xmlDictCreate();
    xmlDocPtr doc = NULL;
    for (int round = 0; round < 2; round++) {
        assert_int_equal(xml_fast_parse("<r xmlns:p='not a URI'/>", 24, dict, known, &doc), 0);
        assert_int_equal(xml_fast_parse("<r xmlns:p='urn:p'/>", 20, dict, known, &doc), 1);
        xmlFreeDoc(doc);
    }
    assert_int_equal(xmlDictSize(known), 1);
    assert_non_null(xmlDictExists(known, (const xmlChar *)"urn:p", 5));
    for (int i = 0; i < 100; i++) {
        char xml[64];
        int n = snprintf(xml, sizeof xml, "<r xmlns='urn:n%d'/>", i);
        assert_int_equal(xml_fast_parse(xml, (size_t)n, dict, known, &doc), 1);
        xmlFreeDoc(doc);
    }
    assert_true(xmlDictSize(known) <= 64);
    xmlDictFree(known);
    xmlDictFree(dict);
    /* an envelope as our sender writes it */
    char *env = wrap_as("client-rsa", "<order id=\"1\">x</order>");
    assert_true(fast_builds(env));
    assert_same_as_xml_parse(env, strlen(env));
    free(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defenses_survive_reuse),
        cmocka_unit_test(test_documents_outlive_the_parser),
        cmocka_unit_test(test_dictionary_bounded),
        cmocka_unit_test(test_uses_bounded),
        cmocka_unit_test(test_refusal_drops_context),
        cmocka_unit_test(test_in_place_same_as_memory),
        cmocka_unit_test(test_direct_parser),
    };
    return cmocka_run_group_tests(tests, test_global_setup, NULL);
}
