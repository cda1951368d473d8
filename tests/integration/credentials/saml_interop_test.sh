#!/usr/bin/env bash
# The issued credential against independent SAML 2.0 / XML-DSig code:
#  - an assertion issued by pysaml2 (signed through the xmlsec1 CLI) is
#    accepted by saml_verify, with its claims and holder-of-key certificate;
#  - an assertion from `msgsec sts issue` verifies with the xmlsec1 CLI and
#    reads back in pysaml2 with the same subject, audience, confirmation, claims;
#  - refusals (audience, issuer, tampering, expiry) and `msgsec sts` usage errors.
#   saml_interop_test.sh SAML_PROBE MSGSEC TESTS_DIR PYTHON
set -uo pipefail
probe=${1:?usage: saml_interop_test.sh SAML_PROBE MSGSEC TESTS_DIR PYTHON}
msgsec=${2:?}
tests=$(cd "${3:?}" && pwd)
python=${4:?}
. "$tests/lib/check.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bash "$tests/lib/pki.sh" "$work/pki" > /dev/null || exit 1
pki=$work/pki
aud=urn:example:orders

# ---- pysaml2 -> msgsec
(cd "$work" && "$python" "$tests/integration/credentials/pysaml2_issue.py" "$pki/sts.pem" \
  "$pki/sts.key" "$pki/client-rsa.pem" "$aud" bob 600 "$work/pysaml2.xml") || {
  echo "FAIL pysaml2 could not issue an assertion"; exit 1; }
check "pysaml2 assertion accepted" 0 \
  'issuer=https://sts.example.com/pysaml2 subject=bob holder=CN=shop1,O=Example .*claim=role=buyer claim=role=approver claim=email=bob@example.com' \
  bash -c "'$probe' '$work/pysaml2.xml' '$pki/sts.pem' '$aud' | tr '\n' ' '"
check "pysaml2 assertion, other audience" 8 'not for audience urn:example:billing' \
  "$probe" "$work/pysaml2.xml" "$pki/sts.pem" urn:example:billing
check "pysaml2 assertion, issuer not trusted" 4 'CN=msgsec-sts,O=Example is not trusted' \
  "$probe" "$work/pysaml2.xml" "$pki/ca.pem" "$aud"
sed 's|>bob</|>eve</|' "$work/pysaml2.xml" > "$work/pysaml2-eve.xml"
check "pysaml2 assertion, NameID changed" 4 'digest does not match' \
  "$probe" "$work/pysaml2-eve.xml" "$pki/sts.pem" "$aud"
check "pysaml2 assertion, after NotOnOrAfter" 5 'expired' \
  "$probe" "$work/pysaml2.xml" "$pki/sts.pem" "$aud" $(( $(date +%s) + 600 + 400 ))
(cd "$work" && "$python" "$tests/integration/credentials/pysaml2_issue.py" "$pki/sts.pem" \
  "$pki/sts.key" "$pki/client-rsa.pem" "$aud" bob 600 "$work/pysaml2-later.xml" 3600)
check "pysaml2 assertion, before NotBefore" 5 'not yet valid' \
  "$probe" "$work/pysaml2-later.xml" "$pki/sts.pem" "$aud"
check "pysaml2 assertion, once NotBefore is reached" 0 'subject=bob' \
  "$probe" "$work/pysaml2-later.xml" "$pki/sts.pem" "$aud" $(( $(date +%s) + 3600 ))

# ---- msgsec sts issue -> xmlsec1 CLI and back
check "sts issue" 0 '^$' "$msgsec" sts issue --cert "$pki/sts.pem" --key "$pki/sts.key" \
  --subject alice --audience "$aud" --subject-cert "$pki/client-ec.pem" --lifetime 120 \
  --attr role=buyer --attr 'note=a=b & <c>' --out "$work/sts.xml"
check "sts assertion verifies with xmlsec1" 0 '^OK' xmlsec1 --verify \
  --id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion \
  --pubkey-cert-pem "$pki/sts.pem" --enabled-key-data rsa "$work/sts.xml"
check "sts assertion does not verify with another key (xmlsec1)" 1 'FAIL' xmlsec1 --verify \
  --id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion \
  --pubkey-cert-pem "$pki/service.pem" --enabled-key-data rsa "$work/sts.xml"
check "sts assertion read by pysaml2" 0 \
  '^CN=msgsec-sts,O=Example alice urn:example:orders urn:oasis:names:tc:SAML:2.0:cm:holder-of-key KeyInfo role=buyer note=a=b & <c>$' \
  "$python" -c 'import sys
from saml2 import saml
a = saml.assertion_from_string(open(sys.argv[1]).read())
sc = a.subject.subject_confirmation[0]
print(a.issuer.text, a.subject.name_id.text, a.conditions.audience_restriction[0].audience[0].text,
      sc.method, sc.subject_confirmation_data.extension_elements[0].tag,
      " ".join(x.name + "=" + x.attribute_value[0].text for x in a.attribute_statement[0].attribute))' \
  "$work/sts.xml"
check "sts assertion accepted" 0 \
  'issuer=CN=msgsec-sts,O=Example subject=alice holder=CN=shop2,O=Example .*claim=role=buyer claim=note=a=b & <c>' \
  bash -c "'$probe' '$work/sts.xml' '$pki/sts.pem' '$aud' | tr '\n' ' '"
check "sts assertion expires after --lifetime" 5 'expired' \
  "$probe" "$work/sts.xml" "$pki/sts.pem" "$aud" $(( $(date +%s) + 120 + 301 ))
"$msgsec" sts issue --cert "$pki/sts.pem" --key "$pki/sts.key" --subject alice \
  --audience "$aud" --out "$work/bearer.xml"
check "bearer assertion (no --subject-cert) refused" 8 'not holder-of-key' \
  "$probe" "$work/bearer.xml" "$pki/sts.pem" "$aud"

# ---- usage errors: exit 2, one line
sts=("$msgsec" sts issue --cert "$pki/sts.pem" --key "$pki/sts.key" --subject alice)
check "missing --audience" 2 '^msgsec: sts issue: --cert, --key, --subject and --audience are required$' \
  "${sts[@]}"
check "bad --attr" 2 '^msgsec: sts issue: --attr needs NAME=VALUE' "${sts[@]}" --audience "$aud" --attr novalue
check "bad --lifetime" 2 'lifetime' "${sts[@]}" --audience "$aud" --lifetime 0
check "unknown option" 2 'unknown option' "${sts[@]}" --audience "$aud" --bogus
check "no subcommand" 2 "^msgsec: sts: expected 'issue'" "$msgsec" sts
check "key does not match the certificate" 2 'does not match its certificate' \
  "$msgsec" sts issue --cert "$pki/service.pem" --key "$pki/sts.key" --subject a --audience "$aud"
check "EC STS key refused" 2 'must be an RSA key' \
  "$msgsec" sts issue --cert "$pki/client-ec.pem" --key "$pki/client-ec.key" --subject a --audience "$aud"
cp "$pki/sts.key" "$work/open.key"
chmod 644 "$work/open.key"
check "STS key readable by others" 2 'chmod 600' \
  "$msgsec" sts issue --cert "$pki/sts.pem" --key "$work/open.key" --subject a --audience "$aud"
check "missing subject certificate file" 2 'cannot open' "${sts[@]}" --audience "$aud" \
  --subject-cert "$work/nonexistent.pem"
check_done
