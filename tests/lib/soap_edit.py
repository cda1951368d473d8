#!/usr/bin/python3
"""Edits of msgsec envelopes for tests (run with /usr/bin/python3: needs
python3-lxml and python3-cryptography).

  soap_edit.py add-header IN OUT BLOCK   write IN with the XML text BLOCK as the first
                                         SOAP header block (unsigned: no signed node
                                         changes, the signature still verifies)
  soap_edit.py soap11 IN OUT KEY         write IN (a certificate-credential envelope of
                                         `msgsec wrap`, SOAP 1.2) as SOAP 1.1, re-signed
                                         with the sender's PEM private key KEY, as a
                                         SOAP 1.1 sender would have signed it

As a module: add_header(envelope, block) and to_soap11(envelope, key_pem).
"""
import base64
import hashlib
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from lxml import etree

SOAP12 = b"http://www.w3.org/2003/05/soap-envelope"
SOAP11 = b"http://schemas.xmlsoap.org/soap/envelope/"
DS = "http://www.w3.org/2000/09/xmldsig#"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)


def add_header(envelope: bytes, block: bytes) -> bytes:
    """envelope with block inserted as the first child of its s:Header."""
    if b"<s:Header>" not in envelope:
        raise ValueError("no <s:Header> in the envelope")
    return envelope.replace(b"<s:Header>", b"<s:Header>" + block, 1)


def _exc_c14n(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True)


def _sign(key_pem: bytes, data: bytes) -> bytes:
    """XML-DSig SignatureValue bytes: RSA PKCS#1 v1.5 or ECDSA r||s, SHA-256."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    raise ValueError("unsupported key type")


def resign(envelope: bytes, key_pem: bytes) -> bytes:
    """Recomputes every Reference digest and the SignatureValue (exc-c14n)."""
    root = etree.fromstring(envelope, PARSER)
    by_id = {}
    for el in root.iter(etree.Element):
        for attr in ("{%s}Id" % WSU, "Id"):
            if el.get(attr):
                by_id[el.get(attr)] = el
    signed_info = root.find(".//{%s}SignedInfo" % DS)
    for ref in signed_info.iter("{%s}Reference" % DS):
        target = by_id[ref.get("URI")[1:]]
        digest = hashlib.sha256(_exc_c14n(target)).digest()
        ref.find("{%s}DigestValue" % DS).text = base64.b64encode(digest).decode()
    value = _sign(key_pem, _exc_c14n(signed_info))
    root.find(".//{%s}SignatureValue" % DS).text = base64.b64encode(value).decode()
    return etree.tostring(root)


def to_soap11(envelope: bytes, key_pem: bytes) -> bytes:
    """The SOAP 1.2 envelope as SOAP 1.1 (namespace, mustUnderstand="1"), re-signed."""
    moved = envelope.replace(SOAP12, SOAP11).replace(b's:mustUnderstand="true"',
                                                     b's:mustUnderstand="1"')
    return resign(moved, key_pem)


def main(argv: list[str]) -> int:
    if len(argv) != 5 or argv[1] not in ("add-header", "soap11"):
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[2], "rb") as f:
        envelope = f.read()
    if argv[1] == "add-header":
        out = add_header(envelope, argv[4].encode())
    else:
        with open(argv[4], "rb") as f:
            out = to_soap11(envelope, f.read())
    with open(argv[3], "wb") as f:
        f.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
