"""An independent WS-Security sender built on python3-xmlsec (libxmlsec1) and lxml.

  xmlsec_sender.py PAYLOAD SIGNER_CERT SIGNER_KEY SERVICE_CERT TO OUT

Writes a SOAP 1.2 envelope like msgsec's (encrypt-then-sign): WS-Addressing To/Action/
MessageID, Security header with BST, Signature (RSA-SHA256 or ECDSA-SHA256 by key type,
exc-c14n, SHA-256, over To, Action, MessageID, Timestamp, Body and the BST), EncryptedKey
(rsa-oaep-mgf1p, service cert by ThumbprintSHA1) and Timestamp; the XML element in PAYLOAD
is the Body content, encrypted with AES-256-GCM. Unlike msgsec it serializes ordinarily
(namespace declarations on the Envelope only), so the receiver must canonicalize.
"""
import base64
import datetime
import hashlib
import os
import sys
import uuid

import xmlsec
from lxml import etree

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://www.w3.org/2005/08/addressing"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
XENC = "http://www.w3.org/2001/04/xmlenc#"
DS = "http://www.w3.org/2000/09/xmldsig#"
X509V3 = ("http://docs.oasis-open.org/wss/2004/01/"
          "oasis-200401-wss-x509-token-profile-1.0#X509v3")
B64 = ("http://docs.oasis-open.org/wss/2004/01/"
       "oasis-200401-wss-soap-message-security-1.0#Base64Binary")
THUMBPRINT = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1"
EC_PUBLIC_KEY_OID = bytes.fromhex("2a8648ce3d0201")  # 1.2.840.10045.2.1, DER body
NSMAP = {"s": SOAP, "wsa": WSA, "wsse": WSSE, "wsu": WSU, "xenc": XENC, "ds": DS}


def q(ns, name):
    return "{%s}%s" % (NSMAP[ns], name)


def der(pem_path):
    with open(pem_path, encoding="ascii") as f:
        lines = f.read().split("-----")[2]
    return base64.b64decode("".join(lines.split()))


def main(payload, signer_cert, signer_key, service_cert, to, out):
    sfx = uuid.uuid4().hex[:12]
    root = etree.Element(q("s", "Envelope"), nsmap=NSMAP)
    header = etree.SubElement(root, q("s", "Header"))
    ids = []
    for name, value in (("To", to), ("Action", "urn:example:orders:new"),
                        ("MessageID", "urn:uuid:" + str(uuid.uuid4()))):
        e = etree.SubElement(header, q("wsa", name), {q("wsu", "Id"): "%s-%s" % (name, sfx)})
        e.text = value
        ids.append(e.get(q("wsu", "Id")))
    security = etree.SubElement(header, q("wsse", "Security"), {q("s", "mustUnderstand"): "true"})
    bst = etree.SubElement(security, q("wsse", "BinarySecurityToken"),
                           {"EncodingType": B64, "ValueType": X509V3,
                            q("wsu", "Id"): "X509-" + sfx})
    bst.text = base64.b64encode(der(signer_cert)).decode()

    ek = etree.SubElement(security, q("xenc", "EncryptedKey"), {"Id": "EK-" + sfx})

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    ts = etree.SubElement(security, q("wsu", "Timestamp"), {q("wsu", "Id"): "TS-" + sfx})
    etree.SubElement(ts, q("wsu", "Created")).text = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    etree.SubElement(ts, q("wsu", "Expires")).text = (
        now + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = etree.SubElement(root, q("s", "Body"), {q("wsu", "Id"): "Body-" + sfx})
    body.append(etree.parse(payload).getroot())

    content_key = os.urandom(32)
    ed = xmlsec.template.encrypted_data_create(root, xmlsec.constants.TransformAes256Gcm,
                                               type=xmlsec.constants.TypeEncContent,
                                               ns="xenc", id="ED-" + sfx)
    xmlsec.template.encrypted_data_ensure_cipher_value(ed)
    ctx = xmlsec.EncryptionContext()
    ctx.key = xmlsec.Key.from_binary_data(xmlsec.constants.KeyDataAes, content_key)
    ctx.encrypt_xml(ed, body)
    transport_key(ek, content_key, service_cert, "#ED-" + sfx)

    ec = EC_PUBLIC_KEY_OID in der(signer_cert)
    sign(root, bst, ids + ["TS-" + sfx, "Body-" + sfx, "X509-" + sfx], signer_key, ec)
    etree.ElementTree(root).write(out, xml_declaration=False)


def transport_key(ek, content_key, service_cert, data_ref):
    """Fills EncryptedKey ek: content_key under RSA-OAEP to service_cert. python3-xmlsec only
    encrypts into EncryptedData templates, so it encrypts into one with the same
    EncryptionMethod and the result's EncryptionMethod and CipherData move into ek."""
    tmpl = etree.Element(q("xenc", "EncryptedData"), nsmap=NSMAP)
    method = etree.SubElement(tmpl, q("xenc", "EncryptionMethod"),
                              {"Algorithm": XENC + "rsa-oaep-mgf1p"})
    etree.SubElement(method, q("ds", "DigestMethod"), {"Algorithm": DS + "sha1"})
    etree.SubElement(etree.SubElement(tmpl, q("xenc", "CipherData")), q("xenc", "CipherValue"))
    ctx = xmlsec.EncryptionContext()
    ctx.key = xmlsec.Key.from_file(service_cert, xmlsec.constants.KeyDataFormatCertPem)
    done = ctx.encrypt_binary(tmpl, content_key)
    ek.append(done.find(q("xenc", "EncryptionMethod")))
    str_ = etree.SubElement(etree.SubElement(ek, q("ds", "KeyInfo")),
                            q("wsse", "SecurityTokenReference"))
    kid = etree.SubElement(str_, q("wsse", "KeyIdentifier"),
                           {"EncodingType": B64, "ValueType": THUMBPRINT})
    kid.text = base64.b64encode(hashlib.sha1(der(service_cert)).digest()).decode()
    ek.append(done.find(q("xenc", "CipherData")))
    etree.SubElement(etree.SubElement(ek, q("xenc", "ReferenceList")),
                     q("xenc", "DataReference"), {"URI": data_ref})


def sign(root, bst, ids, key_file, ec):
    key = xmlsec.Key.from_file(key_file, xmlsec.constants.KeyDataFormatPem)
    method = xmlsec.constants.TransformEcdsaSha256 if ec else xmlsec.constants.TransformRsaSha256
    sig = xmlsec.template.create(root, xmlsec.constants.TransformExclC14N, method, ns="ds")
    bst.addnext(sig)
    for ref_id in ids:
        ref = xmlsec.template.add_reference(sig, xmlsec.constants.TransformSha256,
                                            uri="#" + ref_id)
        xmlsec.template.add_transform(ref, xmlsec.constants.TransformExclC14N)
    str_ = etree.SubElement(xmlsec.template.ensure_key_info(sig),
                            q("wsse", "SecurityTokenReference"))
    etree.SubElement(str_, q("wsse", "Reference"),
                     {"URI": "#" + bst.get(q("wsu", "Id")), "ValueType": X509V3})
    xmlsec.tree.add_ids(root, ["Id"])
    ctx = xmlsec.SignatureContext()
    ctx.key = key
    ctx.sign(sig)


if __name__ == "__main__":
    if len(sys.argv) != 7:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(*sys.argv[1:])
