#!/usr/bin/env bash
# Replay detection with several crypto workers: one envelope published many
# times reaches the bridge in ONE batch (queued at Mosquitto while the bridge
# is down), so its copies are spread over the workers; exactly one copy is
# accepted per route (verify: in-memory window; unprotect: in-memory cache,
# no replay.path), every other one is dead-lettered as a replay (class 6).
# Fails if each worker kept a replay memory of its own.
source "$(dirname "$0")/common.sh"
: "${MSGSEC_BIN:?the msgsec command is needed}"
COPIES=40
bt_init workers_replay
bt_pki
bt_rabbit
bt_mosquitto
QV=$(bt_queue verified)
QU=$(bt_queue unprotected)
QDL=$(bt_queue dead)
bt_config <<EOF
identity: {cert: $PKI/service.pem, key: $PKI/service.key}
trust: {ca: [$PKI/ca.pem]}
security: {credentials: [certificate]}
bridge: {workers: 4}
routes:
  - {from: "mqtt:w/verify", to: "amqp:/amq/queue/$QV", action: verify, dead_letter: "amqp:/amq/queue/$QDL"}
  - {from: "mqtt:w/unprotect", to: "amqp:/amq/queue/$QU", action: unprotect, dead_letter: "amqp:/amq/queue/$QDL"}
EOF
# a first start makes the persistent session and its subscriptions
bt_bridge_start
grep -q "workers=4" "$T/bridge.log" || fail "bridge.workers not applied: $(grep event=started "$T/bridge.log")"
bt_bridge_term || fail "bridge did not stop cleanly"

printf 'one order, sent again and again' > "$T/order.txt"
"$MSGSEC_BIN" wrap --cert "$PKI/client-rsa.pem" --key "$PKI/client-rsa.key" --service-cert "$PKI/service.pem" \
    --in "$T/order.txt" --out "$T/order.xml" || fail "msgsec wrap"
"$MSGSEC_BIN" wrap --cert "$PKI/client-ec.pem" --key "$PKI/client-ec.key" --service-cert "$PKI/service.pem" \
    --in "$T/order.txt" --out "$T/order2.xml" || fail "msgsec wrap"
for route in verify:order unprotect:order2; do
    $CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic "w/${route%%:*}" --file "$T/${route#*:}.xml" --count "$COPIES" \
        > /dev/null || fail "publish ${route%%:*}"
done
bt_bridge_start

recv() { # recv QUEUE DISTINCT-BODIES OUT (then 2 s without more)
    $CLIENTS amqp-recv --url "$AMQP_URL" --address "/amq/queue/$1" --expect "$2" --timeout 60 --idle 2 \
        --dump > "$3"
}
recv "$QV" 1 "$T/qv.json"
recv "$QU" 1 "$T/qu.json"
recv "$QDL" 2 "$T/qdl.json" # the copies of the two envelopes
bt_check "$T/qv.json" "len(msgs) == 1" "verify: exactly one copy accepted"
bt_check "$T/qu.json" "len(msgs) == 1 and msgs[0]['body'] == open('$T/order.txt').read()" \
    "unprotect: exactly one copy accepted, as plaintext"
bt_check "$T/qdl.json" "len(msgs) == 2 * ($COPIES - 1)" "dead letters: every other copy"
bt_check "$T/qdl.json" "all(m['properties']['msgsec-reject-class'] == '6' for m in msgs)" \
    "dead letters: all refused as replays (class 6)"
bt_check "$T/qdl.json" "sum(m['properties']['msgsec-reject-reason'].startswith('verify_failed') for m in msgs) == $COPIES - 1" \
    "dead letters: $((COPIES - 1)) from the verify route"
bt_bridge_term || fail "bridge did not stop cleanly"
echo "PASS: workers_replay"
