#!/usr/bin/env bash
# msgsec unwrap/verify of the windows credential against a real MIT KDC:
# a message wrapped for msgsec/orders is accepted with the service keytab
# (identity = the client principal), a tampered one is refused (4), another
# service's keytab cannot accept it (7), a broker checks structure only (0),
# and a second delivery is a replay (6).
#   windows_unwrap_test.sh MSGSEC TESTS_DIR      (env: MSGSEC_PKI)
set -uo pipefail
msgsec=${1:?usage: windows_unwrap_test.sh MSGSEC TESTS_DIR}
. "${2:?}/lib/kdc.sh"
work=$(mktemp -d)
trap 'kdc_stop; rm -rf "$work"' EXIT
kdc_start "$work/kdc" EXAMPLE.COM || exit 1
kdc_orders_billing "$work" || exit 1
pki=$MSGSEC_PKI
failed=0
fail() { echo "FAIL: $*"; failed=1; }
unwrap() { # KEYTAB IN [args]
  local kt=$1 in=$2; shift 2
  "$msgsec" unwrap --cert "$pki/service.pem" --key "$pki/service.key" --keytab "$kt" \
    --to urn:example:orders --in "$in" "$@"
}

printf 'k\0rb payload' | "$msgsec" wrap --credential windows \
  --service-principal msgsec/orders@EXAMPLE.COM --service-cert "$pki/service.pem" \
  --to urn:example:orders --out "$work/env.xml" || fail "wrap"

echo "-- accepted with the service keytab"
unwrap "$work/orders.kt" "$work/env.xml" --out "$work/out.bin" --context "$work/ctx.json" \
  || fail "unwrap exit $?"
printf 'k\0rb payload' | cmp -s - "$work/out.bin" || fail "payload differs"
grep -q '"credential_type":"windows"' "$work/ctx.json" || fail "credential: $(cat "$work/ctx.json")"
grep -q '"identity":"alice@EXAMPLE.COM"' "$work/ctx.json" || fail "identity: $(cat "$work/ctx.json")"
grep -q '"issuer":"EXAMPLE.COM"' "$work/ctx.json" || fail "issuer: $(cat "$work/ctx.json")"

expect() { # CODE KEYTAB IN
  local code=$1; shift
  unwrap "$@" --out "$work/refused.bin" 2> "$work/err.txt"
  local rc=$?
  [ "$rc" -eq "$code" ] || fail "expected exit $code, got $rc: $(cat "$work/err.txt")"
  [ ! -s "$work/refused.bin" ] || fail "payload written on failure"
  echo "  exit $rc: $(cat "$work/err.txt")"
}
echo "-- tampered To (signed under the Kerberos-derived key): 4"
sed 's|urn:example:orders</wsa:To>|urn:example:orderz</wsa:To>|' "$work/env.xml" > "$work/bad.xml"
cmp -s "$work/env.xml" "$work/bad.xml" && fail "tamper edit did nothing"
expect 4 "$work/orders.kt" "$work/bad.xml"
echo "-- another service's keytab: 7"
printf 'x' | "$msgsec" wrap --credential windows --service-principal msgsec/orders@EXAMPLE.COM \
  --service-cert "$pki/service.pem" --to urn:example:orders --out "$work/env2.xml" || fail "wrap 2"
expect 7 "$work/billing.kt" "$work/env2.xml"
echo "-- replay of the accepted message: 6"
unwrap "$work/orders.kt" "$work/env2.xml" --replay-db "$work/replay" --out /dev/null || fail "env2"
expect 6 "$work/orders.kt" "$work/env2.xml" --replay-db "$work/replay"
echo "-- broker (no keytab, no key): structure only"
"$msgsec" verify --cert "$pki/service.pem" --in "$work/env.xml" || fail "verify exit $?"

[ $failed -eq 0 ] && echo "windows receiver: all checks passed"
exit $failed
