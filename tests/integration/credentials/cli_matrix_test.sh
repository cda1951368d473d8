#!/usr/bin/env bash
# The username, windows and issued credentials end to end through the real
# `msgsec` command (a real MIT KDC for windows): for each, a valid message is
# accepted with its identity, and the exit code of every refusal is asserted:
# tampered 4, expired 5, replayed across two processes 6, wrong issuer/realm,
# wrong audience/service, malformed 3; plus the username secrecy and password
# checks, the Kerberos ticket-lifetime rule with --ticket-grace, and the
# holder-of-key binding of an assertion; an assertion issued by pysaml2 goes
# through wrap and unwrap.
#   cli_matrix_test.sh MSGSEC TESTS_DIR      (env: MSGSEC_PKI)
set -uo pipefail
msgsec=${1:?usage: cli_matrix_test.sh MSGSEC TESTS_DIR}
tests=$(cd "${2:?}" && pwd)
. "$tests/lib/kdc.sh"
. "$tests/lib/check.sh"
pki=${MSGSEC_PKI:?}
work=$(mktemp -d)
trap 'kdc_stop; rm -rf "$work"' EXIT
to=urn:example:orders

# unwrap_as NAME EXIT PATTERN IN [unwrap options]: the service unwraps IN
unwrap_as() {
  local name=$1 want=$2 pattern=$3 in=$4
  shift 4
  rm -f "$work/payload"
  check "$name" "$want" "$pattern" "$msgsec" unwrap --cert "$pki/service.pem" \
    --key "$pki/service.key" --to "$to" --in "$in" --out "$work/payload" "$@"
  if [ "$want" -ne 0 ] && [ -s "$work/payload" ]; then
    echo "FAIL $name: payload written although refused"
    CHECK_FAILURES=$((CHECK_FAILURES + 1))
  fi
}
# edit IN OUT SED-EXPR: a copy of IN changed by SED-EXPR (fails if unchanged)
edit() {
  sed "$3" "$1" > "$2"
  if cmp -s "$1" "$2"; then echo "FAIL edit $3 changed nothing"; CHECK_FAILURES=$((CHECK_FAILURES + 1)); fi
}
# truncated IN OUT: the first half of IN
truncated() { head -c $(( $(stat -c %s "$1") / 2 )) "$1" > "$2"; }

# ------------------------------------------------------------------ username
password='correct horse battery staple 7f3e'
printf '%s\n' "$password" | "$msgsec" passwd "$work/users" alice || exit 1
printf '%s\n' 'another password' | "$msgsec" passwd "$work/users" bob || exit 1
printf '%s' "$password" > "$work/alice.pw"
printf '%s' 'wrong password' > "$work/wrong.pw"
chmod 600 "$work"/*.pw
uwrap() { # OUT [wrap options]
  local out=$1
  shift
  printf 'order for alice %s' "$RANDOM" | "$msgsec" wrap --credential username \
    --service-cert "$pki/service.pem" --to "$to" --out "$out" "$@"
}
uwrap "$work/u.xml" --username alice --password-file "$work/alice.pw" || exit 1
uwrap "$work/u-wrongpw.xml" --username alice --password-file "$work/wrong.pw" || exit 1
uwrap "$work/u-unknown.xml" --username mallory --password-file "$work/alice.pw" || exit 1
uwrap "$work/u-other.xml" --username alice --password-file "$work/alice.pw" \
  --service-cert "$pki/other-service.pem" || exit 1
uwrap "$work/u-replay.xml" --username alice --password-file "$work/alice.pw" || exit 1
uwrap "$work/u-old.xml" --username alice --password-file "$work/alice.pw" || exit 1
users=(--users "$work/users")

check "username: the password never occurs in the envelope" 0 '^0$' \
  bash -c "cat '$work'/u*.xml | grep -cF '$password'; true"
check "username: the token is encrypted (no UsernameToken in clear)" 0 '^0$' \
  bash -c "grep -c 'UsernameToken' '$work/u.xml'; true"
check "username: HMAC signature, key transported to the service cert" 0 'hmac-sha256.*rsa-oaep' \
  cat "$work/u.xml"
unwrap_as "username: accepted" 0 '^$' "$work/u.xml" "${users[@]}" --context "$work/u.json"
check "username: context" 0 '"credential_type":"username","verified":"full","identity":"alice"' \
  cat "$work/u.json"
check "username: verify (broker) checks structure only, names no identity" 0 \
  '^\{"credential_type":"username","verified":"structure","identity":null,"issuer":null,' \
  bash -c '"$1" verify --in "$2" --context "$3" && cat "$3"' _ "$msgsec" "$work/u.xml" "$work/uv.json"
unwrap_as "username: wrong password 4" 4 '^msgsec: unknown user or wrong password$' \
  "$work/u-wrongpw.xml" "${users[@]}"
unwrap_as "username: unknown user 4 (same line)" 4 '^msgsec: unknown user or wrong password$' \
  "$work/u-unknown.xml" "${users[@]}"
edit "$work/u.xml" "$work/u-tampered.xml" "s|$to</wsa:To>|urn:example:orderz</wsa:To>|"
unwrap_as "username: tampered (signed To changed) 4" 4 '^msgsec: ' "$work/u-tampered.xml" \
  "${users[@]}" --to urn:example:orderz
unwrap_as "username: encrypted for another service 7" 7 '^msgsec: ' "$work/u-other.xml" "${users[@]}"
truncated "$work/u.xml" "$work/u-trunc.xml"
unwrap_as "username: malformed 3" 3 '^msgsec: ' "$work/u-trunc.xml" "${users[@]}"
unwrap_as "username: no password store 8" 8 '^msgsec: username credential: no password store$' \
  "$work/u.xml"
unwrap_as "username: first delivery (process 1)" 0 '^$' "$work/u-replay.xml" "${users[@]}" \
  --replay-db "$work/replay-u"
unwrap_as "username: replay (process 2) 6" 6 '^msgsec: .*replay' "$work/u-replay.xml" \
  "${users[@]}" --replay-db "$work/replay-u"

# ------------------------------------------------------------------- issued
sts() { # OUT SUBJECT-CERT [sts issue options]
  local out=$1 holder=$2
  shift 2
  "$msgsec" sts issue --cert "$pki/sts.pem" --key "$pki/sts.key" --subject bob@evil.example \
    --subject-cert "$pki/$holder.pem" --attr role=buyer --attr region=eu --out "$out" "$@"
}
iwrap() { # OUT TOKEN CLIENT [wrap options]
  local out=$1 token=$2 client=$3
  shift 3
  printf 'order for bob %s' "$RANDOM" | "$msgsec" wrap --credential issued --token "$token" \
    --cert "$pki/$client.pem" --key "$pki/$client.key" --service-cert "$pki/service.pem" \
    --to "$to" --out "$out" "$@"
}
sts "$work/a1.xml" client-rsa --audience "$to" || exit 1
sts "$work/a1-short.xml" client-rsa --audience "$to" --lifetime 1 || exit 1
sts "$work/a1-billing.xml" client-rsa --audience urn:example:billing || exit 1
sts "$work/a2.xml" client-ec --audience "$to" || exit 1
sts "$work/a3.xml" client3 --audience "$to" || exit 1
iwrap "$work/i.xml" "$work/a1.xml" client-rsa || exit 1
iwrap "$work/i-replay.xml" "$work/a1.xml" client-rsa || exit 1
iwrap "$work/i-short.xml" "$work/a1-short.xml" client-rsa || exit 1
iwrap "$work/i-billing.xml" "$work/a1-billing.xml" client-rsa || exit 1
iwrap "$work/i2.xml" "$work/a2.xml" client-ec || exit 1
iwrap "$work/i3.xml" "$work/a3.xml" client3 || exit 1
iss=(--issuer-cert "$pki/sts.pem")

check "issued: wrap refuses an assertion bound to another key 2" 2 'msgsec: ' \
  iwrap "$work/i-bad.xml" "$work/a1.xml" client-ec
unwrap_as "issued: accepted" 0 '^$' "$work/i.xml" "${iss[@]}" --context "$work/i.json"
check "issued: context (identity, issuer, claims)" 0 \
  '"credential_type":"issued".*"identity":"bob@evil.example".*"issuer":"CN=msgsec-sts,O=Example".*"claims":\{.*"role":"buyer".*"region":"eu"' \
  cat "$work/i.json"
check "issued: verify (broker) checks issuer, conditions, signature" 0 '^$' \
  "$msgsec" verify --cert "$pki/service.pem" "${iss[@]}" --to "$to" --in "$work/i.xml"
check "issued: verify context: the signer is verified" 0 \
  '^\{"credential_type":"issued","verified":"signer","identity":"bob@evil.example",' \
  bash -c '"$1" verify "${@:4}" --in "$2" --context "$3" && cat "$3"' _ "$msgsec" "$work/i.xml" \
  "$work/iv.json" "${iss[@]}"
edit "$work/i.xml" "$work/i-tampered.xml" 's|>buyer<|>admin<|'
unwrap_as "issued: tampered assertion (claim changed) 4" 4 '^msgsec: .*digest' \
  "$work/i-tampered.xml" "${iss[@]}"
# same canonical form (c14n drops comments), so the digest still matches
edit "$work/i.xml" "$work/i-nameid.xml" 's|>bob@evil.example</saml2:NameID>|>bob<!---->@evil.example</saml2:NameID>|'
unwrap_as "issued: comment injected in NameID 3" 3 '^msgsec: .*NameID' "$work/i-nameid.xml" "${iss[@]}"
unwrap_as "issued: untrusted STS 4" 4 '^msgsec: .*not trusted' "$work/i.xml" \
  --issuer-cert "$pki/ca.pem"
unwrap_as "issued: audience is not --to 8" 8 '^msgsec: .*audience' "$work/i-billing.xml" "${iss[@]}"
# shop1's valid assertion put into another client's signed message: the message
# is not signed by the key the assertion confirms
swap_assertion() { # ENVELOPE ASSERTION OUT
/usr/bin/python3 - "$@" <<'PY'
import re, sys
env = open(sys.argv[1]).read()
a1 = open(sys.argv[2]).read().strip()
a1 = re.sub(r"^<\?xml[^>]*\?>\s*", "", a1)
old_id = re.search(r'<saml2:Assertion[^>]* ID="([^"]+)"', env).group(1)
new_id = re.search(r'<saml2:Assertion[^>]* ID="([^"]+)"', a1).group(1)
start = env.index("<saml2:Assertion")
end = env.index("</saml2:Assertion>") + len("</saml2:Assertion>")
env = env[:start] + a1 + env[end:]
open(sys.argv[3], "w").write(env.replace('"#' + old_id + '"', '"#' + new_id + '"')
                                  .replace(">" + old_id + "<", ">" + new_id + "<"))
PY
}
swap_assertion "$work/i3.xml" "$work/a1.xml" "$work/i-swapped.xml" || exit 1
unwrap_as "issued: shop1's assertion, message signed by CN=intruder (RSA) 4" 4 \
  '^msgsec: .*signature' "$work/i-swapped.xml" "${iss[@]}"
swap_assertion "$work/i2.xml" "$work/a1.xml" "$work/i-swapped-ec.xml" || exit 1
unwrap_as "issued: shop1's (RSA) assertion, message signed by shop2 (ECDSA) 8" 8 \
  '^msgsec: .*does not fit' "$work/i-swapped-ec.xml" "${iss[@]}"
# an assertion from an independent SAML 2.0 implementation, through wrap and unwrap
(cd "$work" && /usr/bin/python3 "$tests/integration/credentials/pysaml2_issue.py" \
  "$pki/sts.pem" "$pki/sts.key" "$pki/client-rsa.pem" "$to" carol 600 "$work/a-pysaml2.xml") ||
  exit 1
iwrap "$work/i-pysaml2.xml" "$work/a-pysaml2.xml" client-rsa || exit 1
unwrap_as "issued: pysaml2 assertion accepted" 0 '^$' "$work/i-pysaml2.xml" "${iss[@]}" \
  --context "$work/i-pysaml2.json"
check "issued: pysaml2 assertion context" 0 \
  '"identity":"carol".*"issuer":"https://sts.example.com/pysaml2".*"role":.*"buyer"' \
  cat "$work/i-pysaml2.json"
unwrap_as "issued: pysaml2 assertion, untrusted issuer 4" 4 '^msgsec: .*not trusted' \
  "$work/i-pysaml2.xml" --issuer-cert "$pki/ca.pem"
truncated "$work/i.xml" "$work/i-trunc.xml"
unwrap_as "issued: malformed 3" 3 '^msgsec: ' "$work/i-trunc.xml" "${iss[@]}"
unwrap_as "issued: first delivery (process 1)" 0 '^$' "$work/i-replay.xml" "${iss[@]}" \
  --replay-db "$work/replay-i"
unwrap_as "issued: replay (process 2) 6" 6 '^msgsec: .*replay' "$work/i-replay.xml" "${iss[@]}" \
  --replay-db "$work/replay-i"

# ------------------------------------------------------------------ windows
kdc_start "$work/kdc" EXAMPLE.COM OTHER.COM || exit 1
kdc_adduser alice@EXAMPLE.COM alice-pw
kdc_addprinc msgsec/orders@EXAMPLE.COM
kdc_addprinc msgsec/billing@EXAMPLE.COM
kdc_addprinc msgsec/orders@OTHER.COM
kdc_keytab "$work/orders.kt" msgsec/orders@EXAMPLE.COM
kdc_keytab "$work/other-realm.kt" msgsec/orders@OTHER.COM
kdc_kinit alice@EXAMPLE.COM alice-pw
wwrap() { # OUT [wrap options]
  local out=$1
  shift
  printf 'order for alice %s' "$RANDOM" | "$msgsec" wrap --credential windows \
    --service-principal msgsec/orders@EXAMPLE.COM --service-cert "$pki/service.pem" \
    --to "$to" --out "$out" "$@"
}
wwrap "$work/w.xml" || exit 1
wwrap "$work/w-replay.xml" || exit 1
wwrap "$work/w-old.xml" || exit 1
wwrap "$work/w-billing.xml" --service-principal msgsec/billing@EXAMPLE.COM || exit 1
# a ticket that expires while the message waits
KRB5CCNAME=FILE:$work/short-cache kdc_kinit alice@EXAMPLE.COM alice-pw -l 3s
KRB5CCNAME=FILE:$work/short-cache wwrap "$work/w-short.xml" || exit 1
short_wrapped=$(date +%s)
kt=(--keytab "$work/orders.kt")

unwrap_as "windows: accepted" 0 '^$' "$work/w.xml" "${kt[@]}" --context "$work/w.json"
check "windows: context" 0 \
  '"credential_type":"windows".*"identity":"alice@EXAMPLE.COM".*"issuer":"EXAMPLE.COM"' \
  cat "$work/w.json"
check "windows: verify (broker) checks structure only, names no identity" 0 \
  '^\{"credential_type":"windows","verified":"structure","identity":null,"issuer":null,' \
  bash -c '"$1" verify --in "$2" --context "$3" && cat "$3"' _ "$msgsec" "$work/w.xml" "$work/wv.json"
edit "$work/w.xml" "$work/w-tampered.xml" "s|$to</wsa:To>|urn:example:orderz</wsa:To>|"
unwrap_as "windows: tampered (signed To changed) 4" 4 '^msgsec: ' "$work/w-tampered.xml" \
  "${kt[@]}" --to urn:example:orderz
unwrap_as "windows: ticket for another service 7" 7 '^msgsec: ' "$work/w-billing.xml" "${kt[@]}"
unwrap_as "windows: keytab of another realm 7" 7 '^msgsec: ' "$work/w.xml" \
  --keytab "$work/other-realm.kt"
/usr/bin/python3 - "$work/w.xml" "$work/w-badapreq.xml" <<'PY' || exit 1
import base64, re, sys
env = open(sys.argv[1]).read()
m = re.search(r'(<wsse:BinarySecurityToken[^>]*>)([^<]*)(<)', env)
tok = bytearray(base64.b64decode(m.group(2)))
tok[0] ^= 0xff  # breaks the GSS-API framing (0x60 application tag)
env = env[:m.start(2)] + base64.b64encode(bytes(tok)).decode() + env[m.end(2):]
open(sys.argv[2], "w").write(env)
PY
unwrap_as "windows: malformed AP-REQ 3" 3 '^msgsec: ' "$work/w-badapreq.xml" "${kt[@]}"
truncated "$work/w.xml" "$work/w-trunc.xml"
unwrap_as "windows: malformed envelope 3" 3 '^msgsec: ' "$work/w-trunc.xml" "${kt[@]}"
unwrap_as "windows: first delivery (process 1)" 0 '^$' "$work/w-replay.xml" "${kt[@]}" \
  --replay-db "$work/replay-w"
unwrap_as "windows: replay (process 2) 6" 6 '^msgsec: .*replay' "$work/w-replay.xml" "${kt[@]}" \
  --replay-db "$work/replay-w"
unwrap_as "windows: --ticket-grace above --max-age 2" 2 \
  '^msgsec: unwrap: --ticket-grace must not exceed --max-age$' "$work/w.xml" "${kt[@]}" \
  --max-age 60 --ticket-grace 61
unwrap_as "windows: bad --ticket-grace 2" 2 'ticket-grace wants whole seconds' "$work/w.xml" \
  "${kt[@]}" --ticket-grace soon

# ------------------------------------------- time passes: expiry of each kind
sleep $(( short_wrapped + 5 - $(date +%s) ))
unwrap_as "windows: ticket expired while queued 5" 5 \
  '^msgsec: Kerberos ticket expired before the message was consumed$' "$work/w-short.xml" "${kt[@]}"
unwrap_as "windows: accepted within --ticket-grace" 0 '^$' "$work/w-short.xml" "${kt[@]}" \
  --ticket-grace 60
unwrap_as "windows: --ticket-grace too short 5" 5 \
  '^msgsec: Kerberos ticket expired before the message was consumed$' "$work/w-short.xml" "${kt[@]}" \
  --ticket-grace 1
unwrap_as "windows: message older than --max-age 5" 5 '^msgsec: ' "$work/w-old.xml" "${kt[@]}" \
  --max-age 2 --clock-skew 0
unwrap_as "username: message older than --max-age 5" 5 '^msgsec: ' "$work/u-old.xml" "${users[@]}" \
  --max-age 2 --clock-skew 0
unwrap_as "issued: assertion expired 5" 5 '^msgsec: .*expired' "$work/i-short.xml" "${iss[@]}" \
  --clock-skew 0
check_done
