#!/usr/bin/env bash
# verify routes and SOAP mustUnderstand: a header block for the receiver
# with mustUnderstand that msgsec does not process is a dead letter (class 8,
# the reason names the header); an invalid mustUnderstand is one too (3); the
# same block for another role, or optional, passes untouched.
source "$(dirname "$0")/common.sh"
: "${MSGSEC_BIN:?the msgsec command is needed}"
bt_init must-understand
bt_pki
bt_rabbit
bt_mosquitto
QV=$(bt_queue mu-verified)
QDL=$(bt_queue mu-dead)
bt_config <<EOF
trust: {ca: [$PKI/ca.pem]}
routes:
  - {from: "mqtt:mu/in", to: "amqp:/amq/queue/$QV", action: verify, senders: ["CN=shop*"], dead_letter: "amqp:/amq/queue/$QDL"}
EOF
bt_bridge_start

audit() { # audit NAME ATTRIBUTES: a fresh envelope with an unsigned Audit header block
    printf 'order %s for the service' "$1" |
        "$MSGSEC_BIN" wrap --cert "$PKI/client-rsa.pem" --key "$PKI/client-rsa.key" \
            --service-cert "$PKI/service.pem" --to urn:example:orders --out "$T/$1.base" || fail "wrap $1"
    "$PY" "$TESTS_DIR/lib/soap_edit.py" add-header "$T/$1.base" "$T/$1.xml" \
        "<a:Audit xmlns:a=\"urn:example:audit\" $2>shop 7</a:Audit>" || fail "soap_edit $1"
}
audit refused 's:mustUnderstand="true"'
audit invalid 's:mustUnderstand="yes"'
audit other-role 's:mustUnderstand="true" s:role="http://www.w3.org/2003/05/soap-envelope/role/none"'
audit optional 's:mustUnderstand="0"'
for f in refused invalid other-role optional; do
    $CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic mu/in --file "$T/$f.xml" --content-type application/soap+xml > /dev/null
done
$CLIENTS amqp-recv --url "$AMQP_URL" --address "/amq/queue/$QV" --expect 2 --timeout 30 --idle 1 --dump > "$T/qv.json"
$CLIENTS amqp-recv --url "$AMQP_URL" --address "/amq/queue/$QDL" --expect 2 --timeout 30 --idle 1 --dump > "$T/qdl.json"

bt_check "$T/qv.json" "sorted(m['body'] for m in msgs) == sorted(open('$T/' + f + '.xml').read() for f in ('other-role', 'optional'))" \
    "header for another role / optional header not forwarded untouched"
bt_check "$T/qdl.json" "len(msgs) == 2" "expected 2 dead letters"
bt_check "$T/qdl.json" "any(m['body'] == open('$T/refused.xml').read() and m['properties']['msgsec-reject-reason'].startswith('verify_failed') and '{urn:example:audit}Audit' in m['properties']['msgsec-reject-reason'] and m['properties']['msgsec-reject-class'] == '8' for m in msgs)" \
    "mustUnderstand header not dead-lettered with class 8 and its name"
bt_check "$T/qdl.json" "any(m['body'] == open('$T/invalid.xml').read() and m['properties']['msgsec-reject-class'] == '3' for m in msgs)" \
    "invalid mustUnderstand not dead-lettered with class 3"
echo PASS
