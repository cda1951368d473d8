/* fuzz_xml_fast.c - differential fuzzing of the direct XML parser
 * (common/src/xml_fast.c) against libxml2 (xml_parse in common/src/xml.c).
 *
 * Input: a document. When it may go to the direct parser (at least 2 bytes,
 * no NUL, opens with '<' not followed by '?' or '!', under 64 KiB), whatever
 * xml_fast_parse builds must be what xml_parse builds (xml_tree_equal.h),
 * and xml_parse must accept it. For every input, xml_parser_parse (a reused
 * parser, the direct parser first) must give the outcome of xml_parse: the
 * same class and detail, the same tree. Any difference prints the input,
 * escaped, and the reason, then aborts.
 *  - with -DMSGSEC_LIBFUZZER (cmake -DMSGSEC_FUZZ=ON, clang): a libFuzzer
 *    target, `fuzz_xml_fast [CORPUS_DIR]`;
 *  - otherwise: `fuzz_xml_fast_smoke` for ctest: hand-written plain XML
 *    documents (namespaces, prefixed attributes, default namespaces,
 *    nesting, whitespace), documents at the limits (depth, attributes,
 *    declarations, long names and values, 64 KiB), then 200,000 seeded
 *    random mutations of the hand-written ones (byte flips, tokens of the
 *    XML syntax inserted, deletions, splices), each checked (run under
 *    ASan+UBSan in CI). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "xml.h"
#include "xml_plain_samples.h"
#include "xml_tree_equal.h"

#define MAX_FAST_LEN (64u * 1024) /* xml_parser_parse's in-place limit */
#define MAX_BYTES (1u << 20)

static xmlDictPtr dict;       /* for xml_fast_parse, renewed once it grows */
static xmlDictPtr known_uris; /* its namespace names found to be URIs, across inputs */
static xml_parser *parser; /* reused across inputs, as a receiver does */
static char *text;         /* MAX_FAST_LEN + 1 bytes */
static unsigned long fast_built, libxml2_ok;

static void teardown(void)
{
    xml_parser_free(parser);
    parser = NULL;
    if (dict)
        xmlDictFree(dict);
    if (known_uris)
        xmlDictFree(known_uris);
    dict = known_uris = NULL;
    free(text);
    text = NULL;
}

/* Once per process; everything is freed at exit (LeakSanitizer). */
static void setup(void)
{
    if (parser)
        return;
    xmlInitParser();
    atexit(teardown);
    parser = xml_parser_new();
    text = malloc(MAX_FAST_LEN + 1);
    if (!parser || !text) {
        fprintf(stderr, "fuzz_xml_fast: out of memory\n");
        abort();
    }
}

/* Prints the input as a C string literal and the reason, then aborts. */
static void fail(const uint8_t *data, size_t size, const char *reason)
{
    fprintf(stderr, "fuzz_xml_fast: %s\ninput (%zu bytes): \"", reason, size);
    for (size_t i = 0; i < size; i++) {
        uint8_t c = data[i];
        if (c == '"' || c == '\\')
            fprintf(stderr, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", stderr);
        else if (c == '\t')
            fputs("\\t", stderr);
        else if (c == '\r')
            fputs("\\r", stderr);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(stderr, "\\x%02x\"\"", c); /* "" ends the escape */
        else
            fputc(c, stderr);
    }
    fputs("\"\n", stderr);
    abort();
}

/* Fails unless doc is the tree xml_parse built (ref); who built doc. */
static void expect_same_tree(const uint8_t *data, size_t size, const xmlDoc *doc,
                             const xmlDoc *ref, const char *who)
{
    const char *why = xml_tree_equal(doc, ref);
    if (why) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s and xml_parse differ: %s", who, why);
        fail(data, size, msg);
    }
}

/* 1 when xml_parser_parse may hand the input to the direct parser. */
static int fast_eligible(const uint8_t *data, size_t size)
{
    return size >= 2 && size < MAX_FAST_LEN && data[0] == '<' && data[1] != '?' &&
           data[1] != '!' && !memchr(data, '\0', size);
}

static void check(const uint8_t *data, size_t size)
{
    msgsec_error ea = {0}, eb = {0};
    xmlDocPtr ref = NULL, fast = NULL, reused = NULL;
    msgsec_err rc = xml_parse(data, size, MAX_BYTES, &ref, &ea);
    if ((rc == MSGSEC_OK) != (ref != NULL))
        fail(data, size, "xml_parse: result and document disagree");
    if (rc == MSGSEC_OK)
        libxml2_ok++;

    if (fast_eligible(data, size)) {
        if (dict && xmlDictSize(dict) > 4 * XML_PARSER_MAX_NAMES) {
            xmlDictFree(dict); /* documents still using it hold a reference */
            xmlDictFree(known_uris);
            dict = known_uris = NULL;
        }
        if (!dict && (!(dict = xmlDictCreate()) || !(known_uris = xmlDictCreate()))) {
            fprintf(stderr, "fuzz_xml_fast: out of memory\n");
            abort();
        }
        memcpy(text, data, size);
        text[size] = '\0';
        int built = xml_fast_parse(text, size, dict, known_uris, &fast);
        if (built != (fast != NULL))
            fail(data, size, "xml_fast_parse: result and document disagree");
        if (built) {
            fast_built++;
            if (rc != MSGSEC_OK) {
                char why[sizeof ea.detail + 64];
                snprintf(why, sizeof why, "direct parser built what xml_parse refuses (%d: %s)",
                         (int)rc, ea.detail);
                fail(data, size, why);
            }
            expect_same_tree(data, size, fast, ref, "direct parser");
        }
        xmlFreeDoc(fast);
    }

    msgsec_err rb = xml_parser_parse(parser, data, size, MAX_BYTES, &reused, &eb);
    if (rb != rc) {
        char why[2 * sizeof ea.detail + 96];
        snprintf(why, sizeof why, "xml_parser_parse gives %d (%s), xml_parse %d (%s)", (int)rb,
                 rb == MSGSEC_OK ? "" : eb.detail, (int)rc, rc == MSGSEC_OK ? "" : ea.detail);
        fail(data, size, why);
    }
    if ((rb == MSGSEC_OK) != (reused != NULL))
        fail(data, size, "xml_parser_parse: result and document disagree");
    if (rc != MSGSEC_OK && strcmp(ea.detail, eb.detail) != 0) {
        char why[2 * sizeof ea.detail + 96];
        snprintf(why, sizeof why, "xml_parser_parse refuses with \"%s\", xml_parse with \"%s\"",
                 eb.detail, ea.detail);
        fail(data, size, why);
    }
    if (rc == MSGSEC_OK)
        expect_same_tree(data, size, reused, ref, "xml_parser_parse");
    xmlFreeDoc(reused);
    xmlFreeDoc(ref);
}

#ifdef MSGSEC_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    check(data, size);
    return 0;
}
#else
/* Near misses and an envelope (with xml_plain_samples, the seeds). */
static const char *const more_seeds[] = {
    "<r xmlns:a='urn:a' xmlns:b='urn:b' a:x='1' b:x='2' x='3'/>",
    "<r xmlns='urn:d' x='1'><c xmlns=''/><d xmlns:d='urn:d' d:y='2'/></r>",
    "<r xmlns:a='urn:a'><a:c xmlns:a='urn:b'><a:d/></a:c><a:e/></r>",
    "<a><b><c><d><e><f><g>deep</g></f></e></d></c></b></a>",
    "<r>a<b/>c<d>e</d>f</r>",
    "<r> <c/> <c/> </r >",
    "<r xmlns:p='http://example.com/a?b=c#d' p:v='x' />",
    "<r xmlns:x='urn:x' xmlns:y='urn:x' x:a='1' y:b='2'/>",
    "<r a='&amp;' b='&#x41;'>&lt;&#65;</r>",
    "<r><![CDATA[x]]><!-- c --><?pi x?></r>",
    "<r>\r\n\xc3\xa9</r>",
    "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" "
    "xmlns:a=\"http://www.w3.org/2005/08/addressing\" "
    "xmlns:u=\"http://docs.oasis-open.org/wss/2004/01/"
    "oasis-200401-wss-wssecurity-utility-1.0.xsd\">"
    "<s:Header><a:Action s:mustUnderstand=\"1\">urn:example:order</a:Action>"
    "<a:To s:mustUnderstand=\"1\" u:Id=\"_1\">urn:example:orders</a:To>"
    "<o:Security xmlns:o=\"http://docs.oasis-open.org/wss/2004/01/"
    "oasis-200401-wss-wssecurity-secext-1.0.xsd\" s:mustUnderstand=\"1\">"
    "<u:Timestamp u:Id=\"_0\"><u:Created>2026-01-01T00:00:00.000Z</u:Created>"
    "<u:Expires>2026-01-01T00:05:00.000Z</u:Expires></u:Timestamp>"
    "<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\"><SignedInfo>"
    "<CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>"
    "<Reference URI=\"#_0\"><DigestValue>q83vEjRWeJA=</DigestValue></Reference>"
    "</SignedInfo><SignatureValue>AAAA\nBBBB</SignatureValue></Signature>"
    "</o:Security></s:Header>"
    "<s:Body u:Id=\"_2\"><e:EncryptedData xmlns:e=\"http://www.w3.org/2001/04/xmlenc#\" "
    "Type=\"http://www.w3.org/2001/04/xmlenc#Content\"><e:CipherData>"
    "<e:CipherValue>3q2+7w==</e:CipherValue></e:CipherData></e:EncryptedData>"
    "</s:Body></s:Envelope>",
};

/* Tokens of the XML syntax, and bytes either parser must leave to libxml2. */
static const char *const tokens[] = {
    "<", ">", "/", ":", "=", "'", "\"", "&", "]]>", "]", " ", "\t", "\n", "\r", "\r\n",
    "\x80", "\xc3\xa9", "\xff", "\xef\xbb\xbf", "\x01", "\x0b", "\x7f", "xmlns", "xmlns:",
    "xmlns:a='urn:a'", "xmlns='urn:d'", "xmlns=''", "xml:", "a:", "b:", "</", "/>", "</r>",
    "<c>", "<a:c>", "</a:c>", " x='1'", " a:x='2'", "&amp;", "&#65;", "<!--", "-->", "<?",
    "?>", "<![CDATA[", "<!DOCTYPE r>", "urn:", "http://", "#", "%", "%20", "..", "\\",
    " xmlns:xml='http://www.w3.org/XML/1998/namespace'", "http://www.w3.org/2000/xmlns/",
};

#define NSEEDS (XML_PLAIN_SAMPLES + sizeof more_seeds / sizeof more_seeds[0])

static const char *seed_at(size_t i)
{
    return i < XML_PLAIN_SAMPLES ? xml_plain_samples[i] : more_seeds[i - XML_PLAIN_SAMPLES];
}
#define NTOKENS (sizeof tokens / sizeof tokens[0])
#define BUF_MAX 8192

/* Inserts n bytes at `at` (dropped when the buffer is full). */
static void insert(uint8_t *buf, size_t *len, size_t at, const void *p, size_t n)
{
    if (*len + n > BUF_MAX)
        return;
    memmove(buf + at + n, buf + at, *len - at);
    memcpy(buf + at, p, n);
    *len += n;
}

static void mutate(uint8_t *buf, size_t *len)
{
    /* mostly one or two changes: near misses of documents the direct parser takes */
    int k = rand() % 4;
    for (k = k < 2 ? 1 : k == 2 ? 2 : rand() % 6 + 1; k > 0; k--) {
        size_t at = *len ? (size_t)rand() % (*len + 1) : 0, n;
        const char *other;
        switch (rand() % 9) {
        case 0: /* flip a bit */
            if (at < *len)
                buf[at] ^= (uint8_t)(1u << (rand() % 8));
            break;
        case 1: /* any byte */
            if (at < *len)
                buf[at] = (uint8_t)rand();
            break;
        case 2: /* a byte that matters to XML */
            if (at < *len)
                buf[at] = (uint8_t)"<>/:='\"& \t\n\r]!?-x\x80"[rand() % 19];
            break;
        case 3:
        case 4: /* a token */
            other = tokens[rand() % NTOKENS];
            insert(buf, len, at, other, strlen(other));
            break;
        case 5: /* delete up to 8 bytes */
            n = (size_t)rand() % 8 + 1;
            if (at + n > *len)
                n = *len - at;
            memmove(buf + at, buf + at + n, *len - at - n);
            *len -= n;
            break;
        case 6: /* duplicate a run (repeats tags, attributes, declarations) */
            if (at < *len) {
                n = (size_t)rand() % 32 + 1;
                if (at + n > *len)
                    n = *len - at;
                uint8_t run[32];
                memcpy(run, buf + at, n);
                insert(buf, len, (size_t)rand() % (*len + 1), run, n);
            }
            break;
        case 7: /* splice in a run of another seed */
            other = seed_at((size_t)rand() % NSEEDS);
            n = strlen(other);
            {
                size_t from = (size_t)rand() % n, m = (size_t)rand() % 48 + 1;
                if (from + m > n)
                    m = n - from;
                insert(buf, len, at, other + from, m);
            }
            break;
        default: /* truncate */
            if (rand() % 4 == 0)
                *len = at;
            break;
        }
    }
}

/* Documents at the limits random mutations do not reach: depth, attributes
 * and declarations per element or in scope, long names (libxml2 refuses
 * names over 50,000 bytes), long values, text and namespace names, and the
 * 64 KiB bound of xml_parser_parse's direct path. */
#define GEN_MAX (2 * MAX_FAST_LEN + 1024)
static char gen[GEN_MAX];
static size_t gen_len;

static void put(const char *s)
{
    size_t n = strlen(s);
    if (gen_len + n < GEN_MAX) {
        memcpy(gen + gen_len, s, n);
        gen_len += n;
    }
}

static void put_run(char c, size_t n)
{
    if (gen_len + n < GEN_MAX) {
        memset(gen + gen_len, c, n);
        gen_len += n;
    }
}

static void put_num(const char *before, unsigned long n, const char *after)
{
    char num[32];
    snprintf(num, sizeof num, "%lu", n);
    put(before);
    put(num);
    put(after);
}

static void check_gen(void)
{
    check((const uint8_t *)gen, gen_len);
    gen_len = 0;
}

static void check_limits(void)
{
    static const size_t counts[] = {31, 32, 33, 62, 63, 64, 65, 66, 70};
    static const size_t lengths[] = {999, 1000, 1001, 1002, 49999, 50000, 50001, 60000};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        size_t n = counts[i];
        for (size_t d = 0; d < n; d++) /* depth */
            put("<a>");
        put("x");
        for (size_t d = 0; d < n; d++)
            put("</a>");
        check_gen();
        for (size_t d = 0; d < n; d++) /* depth, a default namespace on each */
            put_num("<a xmlns='urn:", d, "'> ");
        for (size_t d = 0; d < n; d++)
            put("</a> ");
        check_gen();
        put("<r"); /* attributes */
        for (size_t k = 0; k < n; k++)
            put_num(" a", k, "='v'");
        put("/>");
        check_gen();
        put("<r"); /* declarations on one element, all used */
        for (size_t k = 0; k < n; k++)
            put_num(" xmlns:p", k, "='urn:x'");
        put(">");
        for (size_t k = 0; k < n; k++)
            put_num("<p", k, ":c/>");
        put("</r>");
        check_gen();
        for (size_t k = 0; k < n / 2; k++) /* declarations in scope, nested */
            put_num("<e xmlns:p", k, "='urn:x' xmlns:q='urn:y'>");
        put_num("<p", n / 2 - 1, ":c q:a='1'/>");
        for (size_t k = 0; k < n / 2; k++)
            put("</e>");
        check_gen();
    }
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        size_t n = lengths[i];
        put("<"); /* element name */
        put_run('n', n);
        put("/>");
        check_gen();
        put("<");
        put_run('n', n);
        put("></");
        put_run('n', n);
        put(" >");
        check_gen();
        put("<r "); /* attribute name */
        put_run('a', n);
        put("='1'/>");
        check_gen();
        put("<"); /* prefix, in a declaration and in use */
        put_run('p', n);
        put(":r xmlns:");
        put_run('p', n);
        put("='urn:p'/>");
        check_gen();
        put("<r xmlns:p='urn:p' p:"); /* local part of a prefixed attribute */
        put_run('a', n);
        put("='1'/>");
        check_gen();
        put("<r a='"); /* attribute value */
        put_run('v', n);
        put("'/>");
        check_gen();
        put("<r xmlns='urn:"); /* namespace name */
        put_run('u', n);
        put("'/>");
        check_gen();
        put("<r>"); /* text */
        put_run('t', n);
        put("</r>");
        check_gen();
    }
    for (size_t total = MAX_FAST_LEN - 2; total <= MAX_FAST_LEN + 1; total++) {
        put("<r>"); /* the bound of the direct path */
        put_run('t', total - 7);
        put("</r>");
        check_gen();
        put("<r a='"); /* ... with trailing whitespace */
        put_run('v', total - 11);
        put("'/>");
        put_run(' ', 2);
        check_gen();
    }
}

int main(void)
{
    setup();
    unsigned long seed_built = 0;
    for (size_t i = 0; i < NSEEDS; i++) {
        unsigned long before = fast_built;
        check((const uint8_t *)seed_at(i), strlen(seed_at(i)));
        seed_built += fast_built - before;
    }
    if (seed_built < NSEEDS / 2) {
        fprintf(stderr, "fuzz_xml_fast: the direct parser built only %lu of %zu seeds\n",
                seed_built, NSEEDS);
        return 1;
    }
    check_limits();
    uint8_t *buf = malloc(BUF_MAX);
    if (!buf)
        return 1;
    srand(20261127);
    const int runs = 200000;
    for (int i = 0; i < runs; i++) {
        const char *s = seed_at((size_t)rand() % NSEEDS);
        size_t len = strlen(s);
        memcpy(buf, s, len);
        mutate(buf, &len);
        if (rand() % 8 == 0) /* and again: mutations of mutations */
            mutate(buf, &len);
        check(buf, len);
    }
    free(buf);
    printf("fuzz_xml_fast: %lu seeds, documents at the limits and %d mutated documents: the "
           "direct parser built %lu, libxml2 accepted %lu, no difference\n",
           (unsigned long)NSEEDS, runs, fast_built, libxml2_ok);
    return 0;
}
#endif
