#!/usr/bin/python3
"""Regenerates the committed hostile corpus (tests/fuzz/corpus) from two
envelopes made with `msgsec wrap` under ANY test PKI (not the build's):
    make_corpus.py CERT_ENVELOPE NONE_ENVELOPE OUT_DIR
Every file is named cN-<what>.xml where N is the class msgsec_unwrap must
return under the build's PKI: the edits are caught before any check that
depends on the PKI, except c4-foreign-ca / c7-foreign-service, which are the
untouched envelopes (signer from an untrusted CA; key for another service)."""
import re
import sys

cert, none, out = open(sys.argv[1]).read(), open(sys.argv[2]).read(), sys.argv[3]
suffix = re.search(r'wsu:Id="body-([0-9a-f]+)"', cert).group(1)
cases = {}


def edit(name, env, old, new):
    assert old in env, (name, old)
    cases[name] = env.replace(old, new, 1)


cases["c4-foreign-ca"] = cert
cases["c7-foreign-service"] = none
cases["c3-not-xml"] = "not xml <at all"
cases["c3-not-soap"] = "<a><b/></a>"
cases["c3-doctype"] = "<!DOCTYPE s:Envelope>" + cert
cases["c3-internal-entity"] = '<!DOCTYPE s:Envelope [<!ENTITY e "x">]>' + cert
cases["c3-external-entity"] = '<!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + cert
cases["c3-parameter-entity"] = '<!DOCTYPE s:Envelope [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p"> %p;]>' + cert
cases["c3-billion-laughs"] = ('<!DOCTYPE s:Envelope [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
                              '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>' + cert.replace("urn:msgsec:message", "&c;", 1))
edit("c3-deep-nesting", cert, "<s:Header>", "<s:Header>" + "<a>" * 80 + "</a>" * 80)
edit("c3-duplicate-id", cert, "<s:Header>", f'<s:Header><x:D xmlns:x="urn:x" wsu:Id="body-{suffix}"/>')
edit("c3-second-security", cert, "<s:Header>", "<s:Header><wsse:Security></wsse:Security>")
edit("c3-undeclared-entity", cert, "urn:msgsec:message", "&e;")
body = re.search(r"<s:Body .*</s:Body>", cert, re.S).group(0)
edit("c8-wrapping-body-in-header", cert.replace(body, "<s:Body><forged/></s:Body>"),
     "<s:Header>", "<s:Header><Wrapper>" + body + "</Wrapper>")
edit("c8-wrapping-body-in-object", cert.replace(body, "<s:Body><forged/></s:Body>"),
     "</ds:Signature>", "<ds:Object>" + body + "</ds:Object></ds:Signature>")
edit("c8-external-reference", cert, 'URI="#to-', 'URI="http://127.0.0.1:9/#to-')
edit("c8-xpointer", cert, f'URI="#to-{suffix}"', f"URI=\"#xpointer(id('to-{suffix}'))\"")
edit("c8-empty-reference", cert, f'URI="#to-{suffix}"', 'URI=""')
edit("c8-rsa-sha1", cert, "xmldsig-more#rsa-sha256", "xmldsig#rsa-sha1")
edit("c8-sha1-digest", cert, "xmlenc#sha256", "xmldsig#sha1")
edit("c8-md5-digest", cert, "xmlenc#sha256", "xmldsig-more#md5")
edit("c8-hmac-for-certificate", cert, "xmldsig-more#rsa-sha256", "xmldsig-more#hmac-sha256")
edit("c8-hmac-output-length", none, 'hmac-sha256"></ds:SignatureMethod>',
     'hmac-sha256"><ds:HMACOutputLength>128</ds:HMACOutputLength></ds:SignatureMethod>')
edit("c8-key-value", cert, "<ds:KeyInfo>", "<ds:KeyInfo><ds:KeyValue><ds:RSAKeyValue><ds:Modulus>AQAB"
     "</ds:Modulus><ds:Exponent>AQAB</ds:Exponent></ds:RSAKeyValue></ds:KeyValue>")
edit("c8-inclusive-c14n", cert, 'CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"',
     'CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"')
sig = re.search(r"<ds:Signature .*</ds:Signature>", cert, re.S).group(0)
cases["c8-unsigned"] = cert.replace(sig, "")
sv = re.search(r"<ds:SignatureValue>(.)", cert)
cases["c4-tampered-signature"] = cert[:sv.start(1)] + ("B" if sv.group(1) == "A" else "A") + cert[sv.end(1):]
for name, text in cases.items():
    with open(f"{out}/{name}.xml", "w") as f:
        f.write(text)
print(len(cases), "files")
