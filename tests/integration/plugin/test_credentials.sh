#!/usr/bin/env bash
# security.credentials selects which credential types an enforce rule accepts,
# and the broker checks what it can per type (no service key): issued =
# issuer signature, conditions and message signature; username and windows =
# structure only. [issued, username]: valid issued and username envelopes
# pass; certificate 8, tampered assertion 4, expired assertion 5, untrusted
# STS 4. [windows] (envelopes from a real MIT KDC): a valid one passes, a
# malformed AP-REQ 3, username 8.
source "$(dirname "$0")/common.sh"
# shellcheck source=../../lib/kdc.sh
source "$PLUGIN_TESTS/../../lib/kdc.sh"
# shellcheck disable=SC2154 # rc is set inside the trap
trap 'rc=$?; kdc_stop; set +e; (exit $rc); cleanup' EXIT
cp "$PKI/sts.pem" "$CONF/"
to=urn:example:orders

# plugin_start CREDENTIALS: (re)starts the broker with one enforce rule on orders/#
plugin_start() {
    mosq_stop || true
    cat > "$CONF/msgsec.yaml" <<YAML
trust:
  ca: [$CONF/ca.pem]
  issuers: [$CONF/sts.pem]
security:
  credentials: [$1]
  clock_skew: 0
rules:
  - topic: "orders/#"
    action: enforce
YAML
    plugin_conf
    mosq_start "$CONF"
    mosq_wait_log "msgsec: loaded $CONF/msgsec.yaml: 1 rule\\(s\\)"
}
# sts OUT STS [sts issue options]: an assertion for shop1 (client-rsa) issued by STS
sts() {
    local out=$1 issuer=$2
    shift 2
    "$MSGSEC_CLI" sts issue --cert "$PKI/$issuer.pem" --key "$PKI/$issuer.key" --subject bob \
        --subject-cert "$PKI/client-rsa.pem" --audience "$to" --out "$WORK/$out" "$@"
}
# wrap_cred OUT [msgsec wrap options]: an envelope without a client certificate
wrap_cred() {
    local out=$1
    shift
    printf 'order %s %s' "$out" "$RANDOM$RANDOM" | "$MSGSEC_CLI" wrap \
        --service-cert "$PKI/service.pem" --to "$to" --out "$WORK/$out" "$@"
}

sts a-valid.xml sts
sts a-short.xml sts --lifetime 1
sts a-rogue.xml rogue
wrap issued.xml client-rsa --credential issued --token "$WORK/a-valid.xml"
wrap issued-short.xml client-rsa --credential issued --token "$WORK/a-short.xml"
short_wrapped=$(date +%s)
wrap issued-rogue.xml client-rsa --credential issued --token "$WORK/a-rogue.xml"
wrap issued-tamper.xml client-rsa --credential issued --token "$WORK/a-valid.xml"
sed -i 's|>bob</saml2:NameID>|>admin</saml2:NameID>|' "$WORK/issued-tamper.xml"
grep -q '>admin</saml2:NameID>' "$WORK/issued-tamper.xml" || fail "tampering changed nothing"
wrap certificate.xml client-rsa
printf 'secret-pw-%s' "$RANDOM" > "$WORK/alice.pw"
chmod 600 "$WORK/alice.pw"
wrap_cred username.xml --credential username --username alice --password-file "$WORK/alice.pw"
wrap_cred username2.xml --credential username --username alice --password-file "$WORK/alice.pw"

kdc_start "$WORK/kdc" EXAMPLE.COM || fail "KDC did not start"
kdc_adduser alice@EXAMPLE.COM alice-pw
kdc_addprinc msgsec/orders@EXAMPLE.COM
kdc_kinit alice@EXAMPLE.COM alice-pw
wrap_cred windows.xml --credential windows --service-principal msgsec/orders@EXAMPLE.COM
wrap_cred windows-bad.xml --credential windows --service-principal msgsec/orders@EXAMPLE.COM
"$PY" - "$WORK/windows-bad.xml" <<'PY'
import base64, re, sys
env = open(sys.argv[1]).read()
m = re.search(r'(<wsse:BinarySecurityToken[^>]*>)([^<]*)(<)', env)
tok = bytearray(base64.b64decode(m.group(2)))
tok[0] ^= 0xff  # breaks the GSS-API framing (0x60 application tag)
open(sys.argv[1], "w").write(env[:m.start(2)] + base64.b64encode(bytes(tok)).decode() + env[m.end(2):])
PY

plugin_start "issued, username"
start_collector "orders/#"
expect_accepted "$WORK/issued.xml" orders/new c-issued
ok "[issued, username]: valid issued envelope accepted"
expect_accepted "$WORK/username.xml" orders/new c-username
ok "[issued, username]: valid username envelope accepted (structure only)"
expect_denied "$WORK/certificate.xml" orders/new c-cert 8
ok "[issued, username]: certificate credential denied (8)"
expect_denied "$WORK/windows.xml" orders/new c-windows 8
ok "[issued, username]: windows credential denied (8)"
expect_denied "$WORK/issued-tamper.xml" orders/new c-tampered 4
ok "[issued, username]: tampered assertion denied (4)"
expect_denied "$WORK/issued-rogue.xml" orders/new c-rogue 4
grep -q "is not trusted" "$MOSQ_LOG" || fail "no 'not trusted' reason in the log"
ok "[issued, username]: assertion from an untrusted STS denied (4)"
sleep $((short_wrapped + 3 - $(date +%s)))
expect_denied "$WORK/issued-short.xml" orders/new c-expired 5
ok "[issued, username]: expired assertion denied (5)"
sync_collector
[ "$(delivered_count "$WORK/issued.xml")" = 1 ] || fail "issued envelope not delivered once"
[ "$(delivered_count "$WORK/username.xml")" = 1 ] || fail "username envelope not delivered once"
for f in certificate windows issued-tamper issued-rogue issued-short; do
    [ "$(delivered_count "$WORK/$f.xml")" = 0 ] || fail "$f delivered"
done
ok "[issued, username]: only the accepted envelopes reached the subscriber, byte-identical"
kill "$COLLECTOR_PID" 2>/dev/null || true
wait "$COLLECTOR_PID" 2>/dev/null || true
COLLECTOR_PID=

plugin_start windows
expect_accepted "$WORK/windows.xml" orders/new w-windows
ok "[windows]: valid windows envelope accepted (structure only)"
expect_denied "$WORK/windows-bad.xml" orders/new w-bad-apreq 3
ok "[windows]: malformed AP-REQ denied (3)"
expect_denied "$WORK/username2.xml" orders/new w-username 8
ok "[windows]: username credential denied (8)"
echo "plugin credentials: all checks passed"
