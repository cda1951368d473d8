#!/usr/bin/env bash
# protect routes with XML plaintext (content type application/xml): the
# payload is parsed by the receiver's hardened parser. Billion laughs, an
# external entity, deep nesting and an oversized document are each refused
# (dead letter with msgsec-reject-reason "protect_failed: <reason>", class 3,
# no body: the input is plaintext), in both directions; the bridge's memory
# stays bounded, and no plaintext reaches a destination, a dead letter, or a
# subscriber of MQTT '#' (other than on the input topic itself).
source "$(dirname "$0")/common.sh"
: "${MSGSEC_BIN:?the msgsec command is needed}"
bt_init protect_xml
bt_pki
bt_rabbit
bt_mosquitto
QP=$(bt_queue xml-protected)
QP2=$(bt_queue xml-protect-in)
QDL=$(bt_queue xml-dead)
bt_config <<EOF
identity: {cert: $PKI/service.pem, key: $PKI/service.key}
routes:
  - {from: "mqtt:px/in", to: "amqp:/amq/queue/$QP", action: protect, service_cert: $PKI/service.pem, wsa_to: "urn:example:orders", dead_letter: "amqp:/amq/queue/$QDL"}
  - {from: "amqp:/amq/queue/$QP2", to: "mqtt:px/out", action: protect, service_cert: $PKI/service.pem, dead_letter: "mqtt:dead/px"}
EOF
bt_bridge_start

MARKER="XML-PLAINTEXT-$RANDOM$RANDOM"
mkdir -p "$T/xml"
"$PY" "$TESTS_DIR/lib/hostile_xml.py" "$T/xml" "$MARKER" > "$T/reasons"
mapfile -t HOSTILE < <(awk '$1 != "valid" {print $1}' "$T/reasons")
[ ${#HOSTILE[@]} = 4 ] || fail "expected 4 hostile cases: $(cat "$T/reasons")"

# inputs (5 distinct), one envelope on px/out, the (empty) dead letters on dead/px
$CLIENTS mqtt-sub --port "$MOSQ_PORT" --topic '#' --expect 7 --timeout 60 --idle 3 --dump \
    --ready-file "$T/sub.ready" > "$T/mqtt.json" &
SUB=$!
bt_wait_file "$T/sub.ready"
peak() { awk '/VmHWM/ {print $2}' "/proc/$BRIDGE_PID/status"; }
peak_before=$(peak)
for name in "${HOSTILE[@]}" valid; do
    $CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic px/in --file "$T/xml/$name" --content-type application/xml > /dev/null ||
        fail "mqtt-pub $name"
    $CLIENTS amqp-send --url "$AMQP_URL" --address "/amq/queue/$QP2" --file "$T/xml/$name" --content-type application/xml > /dev/null ||
        fail "amqp-send $name"
done
$CLIENTS amqp-recv --url "$AMQP_URL" --address "/amq/queue/$QP" --expect 1 --timeout 30 --idle 2 --dump > "$T/qp.json"
$CLIENTS amqp-recv --url "$AMQP_URL" --address "/amq/queue/$QDL" --expect 1 --timeout 30 --idle 3 --dump > "$T/qdl.json"
wait $SUB
peak_after=$(peak)
kill -0 "$BRIDGE_PID" || fail "bridge died"
echo "bridge peak RSS: ${peak_before} kB before, ${peak_after} kB after the hostile XML payloads"
[ $((peak_after - peak_before)) -lt 65536 ] || fail "bridge peak RSS grew by $((peak_after - peak_before)) kB"

# each hostile case: one dead letter per direction, with its reason, class 3, no body
bt_check "$T/qdl.json" "len(msgs) == 4" "MQTT->AMQP: expected 4 dead letters"
bt_check "$T/mqtt.json" "len([m for m in msgs if m['topic'] == 'dead/px']) == 4" "AMQP->MQTT: expected 4 dead letters"
while read -r name reason; do
    [ "$name" = valid ] && continue
    want="protect_failed: $reason"
    n=$(grep -cF " $reason" "$T/reasons") # cases refused for the same reason
    bt_check "$T/qdl.json" "sum(m['properties']['msgsec-reject-reason'].startswith('$want') and m['properties']['msgsec-reject-class'] == '3' and m['body'] == '' for m in msgs) == $n" \
        "$name (MQTT->AMQP): no dead letter '$want' with class 3 and no body"
    bt_check "$T/mqtt.json" "sum(m['topic'] == 'dead/px' and m['UserProperty']['msgsec-reject-reason'].startswith('$want') and m['UserProperty']['msgsec-reject-class'] == '3' and m['body'] == '' for m in msgs) == $n" \
        "$name (AMQP->MQTT): no dead letter '$want' with class 3 and no body"
done < "$T/reasons"
echo "ok: billion laughs, external entity, deep nesting, oversize refused with their reason in both directions, memory bounded"

# only the valid document was protected: one envelope each way, unwrapping to it
bt_check "$T/qp.json" "len(msgs) == 1 and msgs[0]['content_type'] == 'application/soap+xml' and '$MARKER' not in msgs[0]['body']" \
    "MQTT->AMQP: expected exactly the valid document's envelope"
bt_check "$T/mqtt.json" "len([m for m in msgs if m['topic'] == 'px/out']) == 1" "AMQP->MQTT: expected exactly one envelope on px/out"
"$PY" -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))["messages"][0]["body"])' "$T/qp.json" > "$T/qp.env"
"$PY" -c 'import json,sys; sys.stdout.write([m for m in json.load(open(sys.argv[1]))["messages"] if m["topic"] == "px/out"][0]["body"])' "$T/mqtt.json" > "$T/pout.env"
for env in qp pout; do
    "$MSGSEC_BIN" unwrap --cert "$PKI/service.pem" --key "$PKI/service.key" --ca "$PKI/ca.pem" \
        --in "$T/$env.env" --context "$T/$env.ctx" > "$T/$env.plain" || fail "$env: the envelope does not unwrap"
    cmp -s "$T/$env.plain" "$T/xml/valid" || fail "$env: unwrapped XML differs"
    grep -q '"content_type":"application/xml"' "$T/$env.ctx" || fail "$env: content type lost: $(cat "$T/$env.ctx")"
done
# no plaintext anywhere but on the input topic
bt_check "$T/mqtt.json" "not any('$MARKER' in m['body'] or 'root:x:0:' in m['body'] for m in msgs if m['topic'] != 'px/in')" \
    "a subscriber of # saw XML plaintext outside the input topic"
bt_check "$T/qdl.json" "not any('$MARKER' in m['body'] for m in msgs)" "plaintext in an AMQP dead letter"
if grep -qaF "$MARKER" "$T/bridge.log"; then fail "XML plaintext logged"; fi
echo "ok: the valid document is protected both ways; no plaintext outside the input"

curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" > "$T/metrics.txt"
grep -q '^msgsec_bridge_rejects_total{reason="protect_failed"} 8$' "$T/metrics.txt" ||
    fail "protect_failed counter: $(grep rejects_total "$T/metrics.txt")"
echo PASS
