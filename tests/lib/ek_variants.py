"""Hostile variants of a valid envelope's xenc:EncryptedKey: what someone without
any key can do to it on its way through a broker (issue 11, item 6). A broker's
`msgsec verify` must refuse each of them for an envelope from `msgsec wrap`, which
signs its EncryptedKey.

  ek_variants.py ENVELOPE OUTDIR
      writes OUTDIR/ek-NAME.xml for each NAME of VARIANTS

Run with /usr/bin/python3 (python3-lxml). Importable: variants(bytes) -> dict.
"""
import base64
import os
import sys
from typing import Callable, Dict

from lxml import etree

XENC = "http://www.w3.org/2001/04/xmlenc#"
RSA_1_5 = XENC + "rsa-1_5"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)


def _cipher_value(key: etree._Element) -> etree._Element:
    node = key.find("{%s}CipherData/{%s}CipherValue" % (XENC, XENC))
    if node is None or not node.text:
        raise ValueError("EncryptedKey without CipherValue")
    return node


def _bitflip(key: etree._Element) -> None:
    node = _cipher_value(key)
    raw = bytearray(base64.b64decode("".join(node.text.split())))
    raw[len(raw) // 2] ^= 0x01
    node.text = base64.b64encode(bytes(raw)).decode()


def _truncated(key: etree._Element) -> None:
    node = _cipher_value(key)
    text = "".join(node.text.split())
    node.text = text[: len(text) // 8 * 4]  # half, still well-formed base64


def _rsa15(key: etree._Element) -> None:
    method = key.find("{%s}EncryptionMethod" % XENC)
    if method is None:
        raise ValueError("EncryptedKey without EncryptionMethod")
    method.set("Algorithm", RSA_1_5)


def _removed(key: etree._Element) -> None:
    key.getparent().remove(key)


VARIANTS: Dict[str, Callable[[etree._Element], None]] = {
    "bitflip": _bitflip,
    "truncated": _truncated,
    "rsa15": _rsa15,
    "removed": _removed,
}


def variants(envelope: bytes) -> Dict[str, bytes]:
    """Each variant of the envelope's one EncryptedKey, by name."""
    out = {}
    for name, edit in VARIANTS.items():
        root = etree.fromstring(envelope, PARSER)
        keys = root.findall(".//{%s}EncryptedKey" % XENC)
        if len(keys) != 1:
            raise ValueError("expected one EncryptedKey, found %d" % len(keys))
        edit(keys[0])
        out[name] = etree.tostring(root)
        if out[name] == envelope:
            raise ValueError("variant %s left the envelope unchanged" % name)
    return out


def main(argv: list) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0], "rb") as f:
        envelope = f.read()
    os.makedirs(argv[1], exist_ok=True)
    for name, data in variants(envelope).items():
        with open(os.path.join(argv[1], "ek-%s.xml" % name), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
