#!/usr/bin/env bash
# verify, protect and unprotect in both directions, senders globs and dead
# letters (original message + msgsec-reject-reason, never plaintext); a verify
# route refuses the four EncryptedKey variants of tests/lib/ek_variants.py.
source "$(dirname "$0")/common.sh"
: "${MSGSEC_BIN:?the msgsec command is needed}"
bt_init actions
bt_pki
bt_rabbit
bt_mosquitto
QV=$(bt_queue verified)
QV2=$(bt_queue verify-in)
QP=$(bt_queue protected)
QP2=$(bt_queue protect-in)
QU=$(bt_queue unprotect-in)
QU2=$(bt_queue unprotected)
QDL=$(bt_queue dead)
bt_config <<EOF
identity: {cert: $PKI/service.pem, key: $PKI/service.key}
trust: {ca: [$PKI/ca.pem]}
security: {credentials: [certificate]}
routes:
  - {from: "mqtt:v/in", to: "amqp:/amq/queue/$QV", action: verify, senders: ["CN=shop*"], dead_letter: "amqp:/amq/queue/$QDL"}
  - {from: "amqp:/amq/queue/$QV2", to: "mqtt:v/out", action: verify, senders: ["CN=shop*"], dead_letter: "mqtt:dead/v"}
  - {from: "mqtt:p/in", to: "amqp:/amq/queue/$QP", action: protect, service_cert: $PKI/service.pem, wsa_to: "urn:example:orders"}
  - {from: "amqp:/amq/queue/$QP2", to: "mqtt:p/out", action: protect, service_cert: $PKI/service.pem}
  - {from: "amqp:/amq/queue/$QU", to: "mqtt:u/out", action: unprotect, senders: ["CN=shop*"], dead_letter: "mqtt:dead/u"}
  - {from: "mqtt:u/in", to: "amqp:/amq/queue/$QU2", action: unprotect, dead_letter: "amqp:/amq/queue/$QDL"}
EOF
"$BRIDGE_BIN" --config "$T/bridge.yaml" --check-config 2>/dev/null || fail "--check-config refused a valid file"
bt_bridge_start

wrap() { # wrap NAME CLIENT [extra msgsec wrap options]
    local name=$1 client=$2
    shift 2
    printf 'order %s for the service' "$name" > "$T/$name.txt"
    "$MSGSEC_BIN" wrap --cert "$PKI/$client.pem" --key "$PKI/$client.key" --service-cert "$PKI/service.pem" \
        --to urn:example:orders --in "$T/$name.txt" --out "$T/$name.xml" "$@" || fail "msgsec wrap $name"
}
wrap good1 client-rsa
wrap good2 client-ec
wrap good3 client-rsa --content-type text/plain
wrap good4 client-ec
wrap intruder client3
wrap ekbase client-rsa
"$PY" "$TESTS_DIR/lib/ek_variants.py" "$T/ekbase.xml" "$T/ek"
EK_VARIANTS="bitflip:4 truncated:4 rsa15:4 removed:3"
echo "not an envelope" > "$T/garbage.xml"
"$MSGSEC_BIN" wrap --cert "$PKI/client-rsa.pem" --key "$PKI/client-rsa.key" --service-cert "$PKI/other-service.pem" \
    --in "$T/good1.txt" --out "$T/other.xml" || fail "wrap for the other service"
sed 's#\(<wsa:Action[^>]*>\)[^<]*<#\1urn:tampered<#' "$T/good2.xml" > "$T/tampered.xml"
cmp -s "$T/good2.xml" "$T/tampered.xml" && fail "tampering did not change the envelope"
PLAIN="PLAINTEXT-SECRET-$RANDOM$RANDOM"

$CLIENTS mqtt-sub --port "$MOSQ_PORT" --topic 'v/out,p/out,u/out,dead/#' --expect 6 --timeout 40 --idle 2 --dump \
    --ready-file "$T/sub.ready" > "$T/mqtt.json" &
SUB=$!
bt_wait_file "$T/sub.ready"

# MQTT -> AMQP
$CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic v/in --file "$T/good1.xml" --content-type application/soap+xml > /dev/null
$CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic v/in --file "$T/intruder.xml" > /dev/null
$CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic v/in --file "$T/garbage.xml" > /dev/null
for c in $EK_VARIANTS; do
    $CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic v/in --file "$T/ek/ek-${c%%:*}.xml" > /dev/null
done
printf '%s' "$PLAIN" > "$T/plain.txt"
$CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic p/in --file "$T/plain.txt" --content-type text/plain > /dev/null
$CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic u/in --file "$T/good3.xml" > /dev/null
$CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic u/in --file "$T/other.xml" > /dev/null
# AMQP -> MQTT
$CLIENTS amqp-send --url "$AMQP_URL" --address "/amq/queue/$QV2" --file "$T/good2.xml" > /dev/null
$CLIENTS amqp-send --url "$AMQP_URL" --address "/amq/queue/$QV2" --file "$T/tampered.xml" > /dev/null
$CLIENTS amqp-send --url "$AMQP_URL" --address "/amq/queue/$QP2" --file "$T/plain.txt" > /dev/null
$CLIENTS amqp-send --url "$AMQP_URL" --address "/amq/queue/$QU" --file "$T/good4.xml" > /dev/null
$CLIENTS amqp-send --url "$AMQP_URL" --address "/amq/queue/$QU" --file "$T/other.xml" > /dev/null

recv() { # recv QUEUE COUNT OUT
    $CLIENTS amqp-recv --url "$AMQP_URL" --address "/amq/queue/$1" --expect "$2" --timeout 30 --idle 1 --dump > "$3"
}
recv "$QV" 1 "$T/qv.json"
recv "$QP" 1 "$T/qp.json"
recv "$QU2" 1 "$T/qu2.json"
recv "$QDL" 7 "$T/qdl.json"
wait $SUB

# verify: the envelope passes untouched; wrong sender / garbage are dead letters
GOOD1=$(cat "$T/good1.xml")
bt_check "$T/qv.json" "len(msgs) == 1 and msgs[0]['body'] == open('$T/good1.xml').read()" "verify mqtt->amqp: envelope not forwarded untouched"
bt_check "$T/qdl.json" "len(msgs) == 7" "dead letters: expected 7 on the AMQP dead-letter queue"
bt_check "$T/qdl.json" "any(m['body'] == open('$T/intruder.xml').read() and m['properties']['msgsec-reject-reason'].startswith('sender_not_allowed') and 'CN=intruder' in m['properties']['msgsec-reject-reason'] and m['properties']['msgsec-reject-class'] == '8' for m in msgs)" "intruder not dead-lettered with sender_not_allowed"
bt_check "$T/qdl.json" "any(m['body'].startswith('not an envelope') and m['properties']['msgsec-reject-reason'].startswith('verify_failed') and m['properties']['msgsec-reject-class'] == '3' for m in msgs)" "garbage not dead-lettered with verify_failed"
for c in $EK_VARIANTS; do
    bt_check "$T/qdl.json" "any(m['body'] == open('$T/ek/ek-${c%%:*}.xml').read() and m['properties']['msgsec-reject-reason'].startswith('verify_failed') and m['properties']['msgsec-reject-class'] == '${c##*:}' for m in msgs)" "EncryptedKey ${c%%:*} not dead-lettered with class ${c##*:}"
done
bt_check "$T/mqtt.json" "any(m['topic'] == 'v/out' and m['body'] == open('$T/good2.xml').read() for m in msgs)" "verify amqp->mqtt: envelope not forwarded"
bt_check "$T/mqtt.json" "any(m['topic'] == 'dead/v' and m['body'] == open('$T/tampered.xml').read() and m['UserProperty']['msgsec-reject-reason'].startswith('verify_failed') and m['UserProperty']['msgsec-reject-class'] == '4' for m in msgs)" "tampered envelope not dead-lettered"

# protect: the destination holds an envelope for the service, never the plaintext
for f in qp; do
    bt_check "$T/$f.json" "len(msgs) == 1 and '$PLAIN' not in msgs[0]['body'] and msgs[0]['content_type'] == 'application/soap+xml'" "protect mqtt->amqp: not an envelope"
done
"$PY" -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))["messages"][0]["body"])' "$T/qp.json" > "$T/qp.xml"
"$MSGSEC_BIN" unwrap --cert "$PKI/service.pem" --key "$PKI/service.key" --ca "$PKI/ca.pem" --to urn:example:orders \
    --in "$T/qp.xml" --context "$T/qp.ctx" > "$T/qp.plain" || fail "protected message does not unwrap"
[ "$(cat "$T/qp.plain")" = "$PLAIN" ] || fail "protect mqtt->amqp: payload changed"
grep -q '"identity":"CN=orders-service' "$T/qp.ctx" || fail "protect: not signed with the node identity: $(cat "$T/qp.ctx")"
bt_check "$T/mqtt.json" "any(m['topic'] == 'p/out' and '$PLAIN' not in m['body'] and '<s:Envelope' in m['body'] for m in msgs)" "protect amqp->mqtt: not an envelope"
"$PY" -c 'import json,sys; sys.stdout.write([m for m in json.load(open(sys.argv[1]))["messages"] if m["topic"] == "p/out"][0]["body"])' "$T/mqtt.json" > "$T/pout.xml"
"$MSGSEC_BIN" unwrap --cert "$PKI/service.pem" --key "$PKI/service.key" --ca "$PKI/ca.pem" --to mqtt:p/out \
    --in "$T/pout.xml" > "$T/pout.plain" || fail "protect amqp->mqtt: wsa:To is not the route's to"
[ "$(cat "$T/pout.plain")" = "$PLAIN" ] || fail "protect amqp->mqtt: payload changed"

# unprotect: plaintext plus the security context for the local consumer
bt_check "$T/qu2.json" "len(msgs) == 1 and msgs[0]['body'] == open('$T/good3.txt').read() and msgs[0]['properties']['msgsec-identity'] == 'CN=shop1,O=Example' and msgs[0]['properties']['msgsec-credential-type'] == 'certificate' and msgs[0]['properties']['msgsec-message-id'].startswith('urn:uuid:') and msgs[0]['content_type'] == 'text/plain'" "unprotect mqtt->amqp"
bt_check "$T/mqtt.json" "any(m['topic'] == 'u/out' and m['body'] == open('$T/good4.txt').read() and m['UserProperty']['msgsec-identity'] == 'CN=shop2,O=Example' and m['UserProperty']['msgsec-issuer'].startswith('CN=msgsec Test CA') for m in msgs)" "unprotect amqp->mqtt"
# not for us: dead letter holds the original envelope (never decrypted)
bt_check "$T/mqtt.json" "any(m['topic'] == 'dead/u' and m['body'] == open('$T/other.xml').read() and m['UserProperty']['msgsec-reject-reason'].startswith('unprotect_failed') and m['UserProperty']['msgsec-reject-class'] == '7' for m in msgs)" "unprotect failure not dead-lettered as the envelope"
bt_check "$T/mqtt.json" "not any('order good1' in m['body'] for m in msgs if m['topic'].startswith('dead/'))" "plaintext in a dead letter"

curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" > "$T/metrics.txt"
for r in sender_not_allowed:1 verify_failed:6 unprotect_failed:2; do
    grep -q "^msgsec_bridge_rejects_total{reason=\"${r%%:*}\"} ${r##*:}$" "$T/metrics.txt" ||
        fail "reject counter ${r%%:*} != ${r##*:}: $(grep rejects_total "$T/metrics.txt")"
done
echo PASS
