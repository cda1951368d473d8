#!/usr/bin/env bash
# unprotect routes with a persistent replay store that is full (replay.max_bytes
# reached, nothing expired): the message is refused for now (transient class 1,
# naming replay.max_bytes), neither acknowledged nor dead-lettered: MQTT gets
# no PUBACK (redelivered on the next connection, RETRY_LATER_MS later), AMQP
# gets `released` and the link pauses. Once the store's entries expire, both
# messages are delivered: nothing lost, nothing accepted unchecked.
source "$(dirname "$0")/common.sh"
: "${MSGSEC_BIN:?the msgsec command is needed}" "${REPLAY_FILL_BIN:?}"
bt_init replay_full
bt_pki
bt_rabbit
bt_mosquitto
QU=$(bt_queue full-unprotect-in)
QU2=$(bt_queue full-unprotected)
QDL=$(bt_queue full-dead)
STORE_BYTES=1048576 # the smallest store: 2048 entries (one per 512 bytes)
# other messages, accepted until UNTIL, fill the store
UNTIL=$(($(date +%s) + 25))
"$REPLAY_FILL_BIN" "$T/replay" $STORE_BYTES 2048 $UNTIL || fail "cannot fill the replay store"
bt_config <<EOF
identity: {cert: $PKI/service.pem, key: $PKI/service.key}
trust: {ca: [$PKI/ca.pem]}
security: {credentials: [certificate]}
replay: {path: $T/replay, max_bytes: $STORE_BYTES}
routes:
  - {from: "mqtt:u/in", to: "amqp:/amq/queue/$QU2", action: unprotect, dead_letter: "amqp:/amq/queue/$QDL"}
  - {from: "amqp:/amq/queue/$QU", to: "mqtt:u/out", action: unprotect, dead_letter: "mqtt:dead/u"}
EOF
bt_bridge_start

for name in m2a a2m; do
    printf 'order %s while the store is full' "$name" > "$T/$name.txt"
    "$MSGSEC_BIN" wrap --cert "$PKI/client-rsa.pem" --key "$PKI/client-rsa.key" --service-cert "$PKI/service.pem" \
        --in "$T/$name.txt" --out "$T/$name.xml" || fail "msgsec wrap $name"
done
$CLIENTS mqtt-sub --port "$MOSQ_PORT" --topic 'u/out,dead/#' --expect 1 --timeout 90 --idle 3 --dump \
    --ready-file "$T/sub.ready" > "$T/mqtt.json" &
SUB=$!
bt_wait_file "$T/sub.ready"
$CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic u/in --file "$T/m2a.xml" > /dev/null
$CLIENTS amqp-send --url "$AMQP_URL" --address "/amq/queue/$QU" --file "$T/a2m.xml" > /dev/null

# refused for now on both sides, with the reason, and held
for i in $(seq 1 100); do
    [ "$(grep -c 'event=held' "$T/bridge.log")" -ge 2 ] && break
    sleep 0.1
done
grep 'event=held' "$T/bridge.log" | grep -q 'class=1 detail="replay store .* is full .*raise replay.max_bytes' ||
    fail "no held event naming replay.max_bytes: $(grep -E 'event=(held|reject)' "$T/bridge.log")"
grep -q 'event=mqtt_message reason=held' "$T/bridge.log" || fail "MQTT side: the message was not held"
grep -q 'event=amqp_link_held' "$T/bridge.log" || fail "AMQP side: the link did not pause"
if grep -q 'event=reject' "$T/bridge.log"; then fail "a held message was rejected: $(grep 'event=reject' "$T/bridge.log")"; fi
[ "$(date +%s)" -lt "$UNTIL" ] || fail "the test machine is too slow: the store expired before the checks"
echo "ok: both messages refused for now (class 1, replay.max_bytes named), held at their source"

# once the store's entries expired, both are delivered (re-tried every 10 s)
$CLIENTS amqp-recv --url "$AMQP_URL" --address "/amq/queue/$QU2" --expect 1 --timeout 90 --idle 1 --dump > "$T/qu2.json"
wait $SUB
[ "$(date +%s)" -ge "$UNTIL" ] || fail "delivered before the store had room"
bt_check "$T/qu2.json" "len(msgs) == 1 and msgs[0]['body'] == open('$T/m2a.txt').read()" "MQTT->AMQP: the held message was not delivered"
bt_check "$T/mqtt.json" "[m['topic'] for m in msgs] == ['u/out'] and msgs[0]['body'] == open('$T/a2m.txt').read()" \
    "AMQP->MQTT: the held message was not delivered (or something went to a dead letter)"
$CLIENTS amqp-recv --url "$AMQP_URL" --address "/amq/queue/$QDL" --expect 0 --timeout 3 --idle 1 --dump > "$T/qdl.json"
bt_check "$T/qdl.json" "len(msgs) == 0" "a held message was dead-lettered"
curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" > "$T/metrics.txt"
held=$(awk '$1 == "msgsec_bridge_held_total" {print $2}' "$T/metrics.txt")
[ "${held:-0}" -ge 2 ] || fail "msgsec_bridge_held_total = '${held}'"
grep -q '^msgsec_bridge_rejects_total{reason="unprotect_failed"} 0$' "$T/metrics.txt" ||
    fail "unprotect_failed counted: $(grep rejects_total "$T/metrics.txt")"
echo "ok: delivered once the store had room (held $held times), no dead letter: nothing lost"
echo PASS
