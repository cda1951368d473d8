"""Hostile XML plaintexts for protect rules and routes (they wrap what
publishers send, parsed as XML when the content type says XML).

usage: hostile_xml.py DIR MARKER [OVERSIZE_BYTES]

Writes into DIR one file per case, each holding MARKER (so a test can prove
that no plaintext got through), and prints "NAME REASON" lines: the reason
msgsec gives when it refuses the case.

  billion-laughs   nested internal entities (10^9 expansions of MARKER)
  external-entity  an external entity SYSTEM "file:///etc/passwd"
  deep-nesting     100,000 nested elements (700 kB: under the size limit)
  oversize         one well-formed element of OVERSIZE_BYTES (default 2 MiB)
  valid            a well-formed order (accepted: the control case)
"""
import os
import sys
from typing import Dict, Tuple

DOCTYPE_REFUSED = "XML payload refused: DOCTYPE declarations are not allowed"


def cases(marker: bytes, oversize: int) -> Dict[str, Tuple[bytes, str]]:
    """Each case: (payload, the reason msgsec gives when it refuses it)."""
    laughs = b'<!ENTITY lol "' + marker + b'">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10))
    head, tail = b"<big>" + marker, b"</big>"
    return {
        "billion-laughs": (b'<?xml version="1.0"?><!DOCTYPE lolz [' + laughs + b"]>"
                           b"<lolz>&lol9;</lolz>", DOCTYPE_REFUSED),
        "external-entity": (b'<?xml version="1.0"?><!DOCTYPE order [<!ENTITY xxe SYSTEM '
                            b'"file:///etc/passwd">]><order>' + marker + b"&xxe;</order>",
                            DOCTYPE_REFUSED),
        "deep-nesting": (b"<a>" * 100000 + marker + b"</a>" * 100000,
                         "XML payload refused: XML nesting deeper than the limit"),
        "oversize": (head + b"x" * (oversize - len(head) - len(tail)) + tail,
                     "XML payload of %d bytes exceeds the limit of" % oversize),
        "valid": (b'<order xmlns="urn:example:orders"><id>42</id><note>' + marker
                  + b"</note></order>", ""),
    }


def main(argv: list) -> int:
    if len(argv) not in (3, 4):
        sys.stderr.write(__doc__)
        return 2
    out, marker = argv[1], argv[2].encode()
    oversize = int(argv[3]) if len(argv) == 4 else 2 * 1024 * 1024
    os.makedirs(out, exist_ok=True)
    for name, (data, reason) in cases(marker, oversize).items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        print(name, reason)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
