#!/usr/bin/env bash
# The Python binding's windows credential against a throwaway MIT KDC (tests/lib/kdc.sh):
# runs test_binding.py WindowsTest with alice's credential cache and the service keytabs.
#   windows_test.sh      (env: TESTS_DIR, PY, MSGSEC_PKI, MSGSEC_BIN, MSGSEC_LIBRARY, PYTHONPATH)
set -euo pipefail
: "${TESTS_DIR:?}" "${PY:=/usr/bin/python3}"
. "$TESTS_DIR/lib/kdc.sh"
work=$(mktemp -d /tmp/msgsec-pywindows.XXXXXX)
trap 'kdc_stop; rm -rf "$work"' EXIT
kdc_start "$work/kdc" EXAMPLE.COM
kdc_orders_billing "$work"
MSGSEC_SPN=msgsec/orders@EXAMPLE.COM MSGSEC_KEYTAB=$work/orders.kt \
MSGSEC_OTHER_KEYTAB=$work/billing.kt \
    "$PY" "$TESTS_DIR/unit/python/test_binding.py" WindowsTest
