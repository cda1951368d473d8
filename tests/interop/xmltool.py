"""Small XML helpers for the interop tests (run with /usr/bin/python3: needs python3-lxml).

  xmltool.py same-xml A B          exit 0 when A and B hold the same element (exclusive c14n)
  xmltool.py tamper MODE IN OUT    write IN with one targeted change:
      body-cipher  flip one bit of the Body's EncryptedData ciphertext
      to           replace the wsa:To address
      foreign      add an element nobody processes to the (unsigned) Security header
      xsw-move     signature wrapping: the signed Body moves into a new header, a Body
                   without Id carries other content
      xsw-dup      as xsw-move, but the new Body keeps the signed Body's wsu:Id
  xmltool.py context FILE K=V...   exit 0 when the JSON object in FILE has every K equal to V
  xmltool.py decrypt ENV KEY OUT   decrypt ENV's Body with python3-xmlsec (libxmlsec1) and the
                                   service's PEM private key KEY; write the Body's element to OUT
"""
import base64
import copy
import json
import sys

from lxml import etree

WSA = "http://www.w3.org/2005/08/addressing"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
XENC = "http://www.w3.org/2001/04/xmlenc#"
SOAP = ("http://www.w3.org/2003/05/soap-envelope", "http://schemas.xmlsoap.org/soap/envelope/")
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)


def fail(msg):
    print("xmltool: " + msg, file=sys.stderr)
    sys.exit(1)


def c14n(root):
    return etree.tostring(root, method="c14n", exclusive=True)


def same_xml(a, b):
    ca = c14n(etree.parse(a, PARSER).getroot())
    cb = c14n(etree.parse(b, PARSER).getroot())
    if ca != cb:
        fail("XML differs:\n  %s\n  %s" % (ca.decode(errors="replace"), cb.decode(errors="replace")))


def only(nodes, what):
    if len(nodes) != 1:
        fail("expected one %s, found %d" % (what, len(nodes)))
    return nodes[0]


def envelope(path):
    """(tree, root, namespace map with s = the envelope's SOAP version)"""
    tree = etree.parse(path, PARSER)
    root = tree.getroot()
    soap = root.tag.split("}")[0][1:]
    if soap not in SOAP or etree.QName(root).localname != "Envelope":
        fail("not a SOAP envelope: " + root.tag)
    return tree, root, {"s": soap, "wsa": WSA, "wsse": WSSE, "xenc": XENC}


def tamper(mode, src, dst):
    tree, root, ns = envelope(src)
    if mode == "body-cipher":
        node = only(root.xpath("s:Body/xenc:EncryptedData/xenc:CipherData/xenc:CipherValue",
                               namespaces=ns), "Body CipherValue")
        raw = bytearray(base64.b64decode("".join(node.text.split())))
        raw[len(raw) // 2] ^= 0x01
        node.text = base64.b64encode(bytes(raw)).decode()
    elif mode == "to":
        only(root.xpath("s:Header/wsa:To", namespaces=ns), "wsa:To").text = "urn:example:attacker"
    elif mode == "foreign":
        security = only(root.xpath("s:Header/wsse:Security", namespaces=ns), "Security")
        etree.SubElement(security, "{urn:example:attacker}Claim").text = "admin"
    elif mode in ("xsw-move", "xsw-dup"):
        body = only(root.xpath("s:Body", namespaces=ns), "Body")
        header = only(root.xpath("s:Header", namespaces=ns), "Header")
        etree.SubElement(header, "{urn:example:attacker}Wrapper").append(copy.deepcopy(body))
        for child in list(body):
            body.remove(child)
        if mode == "xsw-move":
            del body.attrib["{%s}Id" % WSU]
        etree.SubElement(body, "{urn:example:orders}order").text = "forged"
    else:
        fail("unknown tamper mode " + mode)
    tree.write(dst, xml_declaration=False)


def decrypt(src, key_file, dst):
    import xmlsec

    _, root, ns = envelope(src)
    ek = only(root.xpath("s:Header/wsse:Security/xenc:EncryptedKey", namespaces=ns), "EncryptedKey")
    ed = only(root.xpath("s:Body/xenc:EncryptedData", namespaces=ns), "Body EncryptedData")
    refs = ek.xpath("xenc:ReferenceList/xenc:DataReference/@URI", namespaces=ns)
    if refs != ["#" + ed.get("Id")]:
        fail("EncryptedKey references %r, Body EncryptedData is %r" % (refs, ed.get("Id")))
    body = ed.getparent()
    try:
        ctx = xmlsec.EncryptionContext()
        ctx.key = xmlsec.Key.from_file(key_file, xmlsec.KeyFormat.PEM)
        content_key = ctx.decrypt(ek)
        ctx = xmlsec.EncryptionContext()
        ctx.key = xmlsec.Key.from_binary_data(xmlsec.KeyData.AES, content_key)
        ctx.decrypt(ed)
    except xmlsec.Error as e:
        fail("python3-xmlsec cannot decrypt: %s" % (e,))
    elements = [e for e in body if isinstance(e.tag, str)]
    with open(dst, "wb") as f:
        f.write(c14n(only(elements, "element in the decrypted Body")))


def context(path, pairs):
    with open(path, encoding="utf-8") as f:
        ctx = json.load(f)
    for pair in pairs:
        key, _, want = pair.partition("=")
        if str(ctx.get(key)) != want:
            fail("context %s is %r, expected %r" % (key, ctx.get(key), want))


def main(argv):
    if len(argv) == 3 and argv[0] == "same-xml":
        same_xml(argv[1], argv[2])
    elif len(argv) == 4 and argv[0] == "tamper":
        tamper(argv[1], argv[2], argv[3])
    elif len(argv) == 4 and argv[0] == "decrypt":
        decrypt(argv[1], argv[2], argv[3])
    elif len(argv) >= 2 and argv[0] == "context":
        context(argv[1], argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
