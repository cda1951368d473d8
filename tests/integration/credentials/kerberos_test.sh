#!/usr/bin/env bash
# Kerberos (`windows` credential) against a real MIT KDC: krb_init -> krb_accept
# round trip, wrong service, wrong realm, tampered and truncated tokens, missing
# credentials, keytab permissions, and the ticket-lifetime rule with a ticket
# that really expires while the "message" waits.
#   kerberos_test.sh KRB_PROBE TESTS_DIR
set -uo pipefail
probe=${1:?usage: kerberos_test.sh KRB_PROBE TESTS_DIR}
. "${2:?}/lib/kdc.sh"
. "$2/lib/check.sh"
work=$(mktemp -d)
trap 'kdc_stop; rm -rf "$work"' EXIT
kdc_start "$work/kdc" EXAMPLE.COM OTHER.COM || exit 1
kdc_adduser alice@EXAMPLE.COM alice-pw
kdc_adduser bob@OTHER.COM bob-pw
kdc_addprinc msgsec/orders@EXAMPLE.COM
kdc_addprinc msgsec/billing@EXAMPLE.COM
kdc_addprinc msgsec/orders@OTHER.COM
kdc_keytab "$work/orders.kt" msgsec/orders@EXAMPLE.COM
kdc_keytab "$work/billing.kt" msgsec/billing@EXAMPLE.COM
kdc_kinit alice@EXAMPLE.COM alice-pw

check "init; the token passes the broker structure check" 0 'structure=ok ticket_end=[0-9]+ $' \
  bash -c "'$probe' init msgsec/orders@EXAMPLE.COM '$work/tok' '$work/key' | tr '\n' ' '"
check "round trip: identity, equal session and derived keys" 0 \
  'client=alice@EXAMPLE.COM.*service=msgsec/orders@EXAMPLE.COM.*key=equal.*derived=equal' \
  bash -c "'$probe' accept '$work/orders.kt' '$work/tok' 0 0 '$work/key' | tr '\n' ' '"
kdc_keytab "$work/both.kt" msgsec/billing@EXAMPLE.COM msgsec/orders@EXAMPLE.COM
check "keytab with several services: the ticket's one is used" 0 \
  'client=alice@EXAMPLE.COM service=msgsec/orders@EXAMPLE.COM' \
  bash -c "'$probe' accept '$work/both.kt' '$work/tok' 0 0 | tr '\n' ' '"
check "service principal without realm: default realm" 0 'client=alice@EXAMPLE.COM' bash -c \
  "'$probe' init msgsec/billing '$work/tok.billing' '$work/key.billing' >/dev/null &&
   '$probe' accept '$work/billing.kt' '$work/tok.billing' 0 0"
check "ticket for another service: cannot decrypt" 7 'not found in keytab' \
  "$probe" accept "$work/billing.kt" "$work/tok" 0 0
check "Created an hour after the authenticator: skew" 4 'Clock skew too great' \
  "$probe" accept "$work/orders.kt" "$work/tok" $(( $(date +%s) + 3600 )) 0
check "Created before the ticket start: not yet valid" 5 'not yet valid' \
  "$probe" accept "$work/orders.kt" "$work/tok" $(( $(date +%s) - 400 )) 0
/usr/bin/python3 - "$work/tok" "$work/tok.tampered" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[-20] ^= 1  # inside the encrypted authenticator
open(sys.argv[2], "wb").write(b)
PY
check "tampered token" 4 'integrity' "$probe" accept "$work/orders.kt" "$work/tok.tampered" 0 0
head -c 100 "$work/tok" > "$work/tok.short"
check "truncated token" 3 'not a GSS-API initial context token' \
  "$probe" accept "$work/orders.kt" "$work/tok.short" 0 0
printf 'not a token' > "$work/tok.junk"
check "junk token" 3 'not a GSS-API' "$probe" accept "$work/orders.kt" "$work/tok.junk" 0 0
check "unknown service principal" 2 'not found in Kerberos database' \
  "$probe" init msgsec/nosuch@EXAMPLE.COM "$work/x" "$work/y"
check "no credential cache" 2 'No Kerberos credentials' \
  env KRB5CCNAME="FILE:$work/empty-cache" "$probe" init msgsec/orders@EXAMPLE.COM "$work/x" "$work/y"

# wrong realm: bob@OTHER.COM gets a ticket for msgsec/orders@OTHER.COM
KRB5CCNAME=FILE:$work/bob-cache kdc_kinit bob@OTHER.COM bob-pw
check "wrong realm" 7 'msgsec/orders@OTHER.COM not found in keytab' bash -c \
  "KRB5CCNAME=FILE:$work/bob-cache '$probe' init msgsec/orders@OTHER.COM '$work/tokb' '$work/keyb' >/dev/null &&
   '$probe' accept '$work/orders.kt' '$work/tokb' 0 0"

cp "$work/orders.kt" "$work/open.kt"
chmod 644 "$work/open.kt"
check "keytab readable by others" 2 'chmod 600' "$probe" accept "$work/open.kt" "$work/tok" 0 0

# ticket lifetime vs queue latency: a 3-second ticket, token built now
# (Created = now), consumed after the ticket expired
KRB5CCNAME=FILE:$work/short-cache kdc_kinit alice@EXAMPLE.COM alice-pw -l 3s
created=$(date +%s)
check "short ticket: init" 0 'ticket_end=' env KRB5CCNAME="FILE:$work/short-cache" \
  "$probe" init msgsec/orders@EXAMPLE.COM "$work/tok.short-lived" "$work/key.short-lived"
sleep 5
check "expired while queued, no grace" 5 \
  '^krb_probe: Kerberos ticket expired before the message was consumed$' \
  bash -c "'$probe' accept '$work/orders.kt' '$work/tok.short-lived' $created 0 2>&1 >/dev/null"
check "expired while queued, within grace" 0 'client=alice@EXAMPLE.COM' \
  "$probe" accept "$work/orders.kt" "$work/tok.short-lived" "$created" 60
check "expired while queued, grace too short" 5 'expired before the message was consumed' \
  "$probe" accept "$work/orders.kt" "$work/tok.short-lived" "$created" 1
check "sender with an expired TGT" 2 'expired' env KRB5CCNAME="FILE:$work/short-cache" \
  "$probe" init msgsec/billing@EXAMPLE.COM "$work/x" "$work/y"

check_done
