/* xml_plain_samples.h - plain XML documents the direct parser
 * (xml_fast_parse) builds: the cases of test_xml_parser's test_direct_parser
 * and seeds of fuzz_xml_fast. Everything is static. */
#ifndef XML_PLAIN_SAMPLES_H
#define XML_PLAIN_SAMPLES_H

static const char *const xml_plain_samples[] = {
    "<r/>",
    "<r></r>",
    "<r></r \n>",
    "<r>text</r>",
    "<r a='1' b=\"2\"/>",
    "<r a = '1'\n\tb='x>y' c=\"it's\" d='say \"no\"' e=''/>",
    "<r/>\n \t",
    ("<a:r xmlns:a='urn:a' xmlns='urn:d'><b a:x='1' y=''><a:c xmlns:a='urn:a2' a:z='2'/>"
     "</b>t ]x]] ]></a:r>"),
    "<r xmlns='urn:d'><c xmlns='urn:e'><d/></c><e/></r>",
    "<r xmlns:p='urn:p'><p:c xmlns:q='urn:q' q:a='1' p:a='2' a='3'/><p:d/></r>",
    "<r xmlns:p='urn:p' xmlns:q='relative/uri'><p:c/></r>",
    "<r>\n  <c>x</c>\n  <c>y</c>\n</r>",
    "<_a.b-c9 x_.-1='v'>~!@#$%^*()</_a.b-c9>",
    "<xmlr a=']]>' b='\x7f'>\x7f</xmlr>",
};
#define XML_PLAIN_SAMPLES (sizeof xml_plain_samples / sizeof xml_plain_samples[0])

#endif
