"""Issues a SAML 2.0 holder-of-key Assertion with pysaml2 (an independent
implementation; it signs through the xmlsec1 CLI), for saml_interop_test.sh.

usage: pysaml2_issue.py STS_CERT STS_KEY HOLDER_CERT AUDIENCE SUBJECT LIFETIME OUT [DELAY]

DELAY: NotBefore is DELAY seconds after IssueInstant (default 0).
"""
import datetime
import sys

from saml2 import element_to_extension_element, saml, sigver
from saml2.saml import NAMEID_FORMAT_UNSPECIFIED
from saml2.s_utils import sid
from saml2.xmldsig import (DIGEST_SHA256, SIG_RSA_SHA256, KeyInfo, X509Certificate,
                           X509Data)


def pem_body(path):
    lines = open(path).read().strip().splitlines()
    return "".join(line for line in lines if not line.startswith("-----"))


def xsd(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def main(sts_cert, sts_key, holder_cert, audience, subject, lifetime, out, delay="0"):
    now = datetime.datetime.utcnow().replace(microsecond=0)
    start = now + datetime.timedelta(seconds=int(delay))
    end = start + datetime.timedelta(seconds=int(lifetime))
    ident = sid()
    holder_key_info = KeyInfo(x509_data=[X509Data(x509_certificate=X509Certificate(
        text=pem_body(holder_cert)))])
    confirmation_data = saml.SubjectConfirmationData(
        not_on_or_after=xsd(end),
        extension_elements=[element_to_extension_element(holder_key_info)])
    assertion = saml.Assertion(
        id=ident, version="2.0", issue_instant=xsd(now),
        issuer=saml.Issuer(text="https://sts.example.com/pysaml2"),
        subject=saml.Subject(
            name_id=saml.NameID(format=NAMEID_FORMAT_UNSPECIFIED, text=subject),
            subject_confirmation=[saml.SubjectConfirmation(
                method=saml.SCM_HOLDER_OF_KEY,
                subject_confirmation_data=confirmation_data)]),
        conditions=saml.Conditions(
            not_before=xsd(start), not_on_or_after=xsd(end),
            audience_restriction=[saml.AudienceRestriction(
                audience=[saml.Audience(text=audience)])]),
        attribute_statement=[saml.AttributeStatement(attribute=[
            saml.Attribute(name="role", attribute_value=[
                saml.AttributeValue(text="buyer"), saml.AttributeValue(text="approver")]),
            saml.Attribute(name="email", attribute_value=[
                saml.AttributeValue(text=subject + "@example.com")]),
        ])])
    assertion.signature = sigver.pre_signature_part(
        ident, pem_body(sts_cert), digest_alg=DIGEST_SHA256, sign_alg=SIG_RSA_SHA256)
    crypto = sigver.CryptoBackendXmlSec1("/usr/bin/xmlsec1")
    signed = crypto.sign_statement(str(assertion), saml.Assertion.c_namespace + ":Assertion",
                                   sts_key, ident)
    with open(out, "w") as f:
        f.write(signed if isinstance(signed, str) else signed.decode())


if __name__ == "__main__":
    if len(sys.argv) not in (8, 9):
        sys.exit(__doc__)
    main(*sys.argv[1:])
