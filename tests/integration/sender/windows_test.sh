#!/usr/bin/env bash
# msgsec wrap --credential windows against a real MIT KDC. test_wrap's windows
# mode takes each envelope apart independently: the AP-REQ in the BST is
# accepted with the service keytab, the derived keys verify the HMAC signature
# (every reference against libxml2 exc-c14n) and decrypt the Body.
#   windows_test.sh TEST_WRAP MSGSEC TESTS_DIR      (env: MSGSEC_PKI)
set -uo pipefail
test_wrap=${1:?usage: windows_test.sh TEST_WRAP MSGSEC TESTS_DIR}
msgsec=${2:?}
. "${3:?}/lib/kdc.sh"
work=$(mktemp -d)
trap 'kdc_stop; rm -rf "$work"' EXIT
kdc_start "$work/kdc" EXAMPLE.COM || exit 1
kdc_adduser alice@EXAMPLE.COM alice-pw
kdc_addprinc msgsec/orders@EXAMPLE.COM
kdc_keytab "$work/orders.kt" msgsec/orders@EXAMPLE.COM
kdc_kinit alice@EXAMPLE.COM alice-pw
failed=0

echo "-- library: two messages, each with its own AP-REQ and keys; unknown service refused"
"$test_wrap" windows "$work/orders.kt" msgsec/orders@EXAMPLE.COM || failed=1

echo "-- msgsec wrap --credential windows"
printf 'k\0rb' | "$msgsec" wrap --credential windows --service-principal msgsec/orders@EXAMPLE.COM \
  --service-cert "$MSGSEC_PKI/service.pem" --to urn:example:orders --out "$work/env.xml" || failed=1
"$test_wrap" windows "$work/orders.kt" msgsec/orders@EXAMPLE.COM "$work/env.xml" || failed=1

echo "-- no credential cache: one-line usage error, exit 2"
err=$(KRB5CCNAME=FILE:$work/empty "$msgsec" wrap --credential windows \
  --service-principal msgsec/orders@EXAMPLE.COM --service-cert "$MSGSEC_PKI/service.pem" \
  </dev/null 2>&1 >/dev/null)
rc=$?
if [ $rc -ne 2 ] || [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] || [[ $err != "msgsec: "* ]]; then
  echo "FAIL: no credential cache: exit $rc, stderr: $err"; failed=1
fi
echo "-- no --service-principal: exit 2"
"$msgsec" wrap --credential windows --service-cert "$MSGSEC_PKI/service.pem" </dev/null 2>/dev/null
rc=$?
[ $rc -eq 2 ] || { echo "FAIL: missing --service-principal: exit $rc"; failed=1; }

[ $failed -eq 0 ] && echo "windows sender: all checks passed"
exit $failed
