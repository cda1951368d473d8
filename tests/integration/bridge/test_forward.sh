#!/usr/bin/env bash
# forward in both directions: MQTT -> AMQP queue and AMQP queue -> MQTT,
# payload bytes untouched, original topic restored through the AMQP subject,
# metrics, health, SIGTERM drain.
source "$(dirname "$0")/common.sh"
bt_init forward
bt_rabbit
bt_mosquitto
Q_IN=$(bt_queue fwd-in)
Q_BACK=$(bt_queue fwd-back)
bt_config <<EOF
routes:
  - {from: "mqtt:shop/+/orders", to: "amqp:/amq/queue/$Q_IN", action: forward, qos: 1}
  - {from: "amqp:/amq/queue/$Q_BACK", to: "mqtt:{subject}", action: forward, qos: 1}
EOF
bt_bridge_start

# MQTT -> AMQP: 200 messages through a wildcard route
$CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic shop/7/orders --count 200 --prefix f --size 100 > "$T/pub.json"
$CLIENTS amqp-recv --url "$AMQP_URL" --address "/amq/queue/$Q_IN" --expect 200 --prefix f --timeout 30 --dump > "$T/recv.json"
[ "$(bt_json "$T/recv.json" missing_count)" = 0 ] || fail "mqtt->amqp lost messages: $(head -c 300 "$T/recv.json")"
[ "$(bt_json "$T/recv.json" messages.0.subject)" = shop/7/orders ] || fail "subject is not the MQTT topic"
[ "$(bt_json "$T/recv.json" messages.0.body | cut -c1-8)" = "f-000000" ] || fail "payload changed"
[ -n "$(bt_json "$T/recv.json" messages.0.properties.msgsec-bridge-id)" ] || fail "no msgsec-bridge-id"

# a topic no route matches is not forwarded
$CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic shop/7/other --count 1 --prefix z > /dev/null
sleep 1
[ "$(rmq_queue_depth "$Q_IN")" = 0 ] || fail "unrouted topic was forwarded"

# AMQP -> MQTT: the subject carries the topic back
$CLIENTS mqtt-sub --port "$MOSQ_PORT" --topic 'back/#' --expect 50 --prefix b --timeout 30 \
    --ready-file "$T/sub.ready" > "$T/sub.json" &
SUB=$!
bt_wait_file "$T/sub.ready"
$CLIENTS amqp-send --url "$AMQP_URL" --address "/amq/queue/$Q_BACK" --count 50 --prefix b --subject back/x/y > "$T/send.json"
wait $SUB
[ "$(bt_json "$T/sub.json" missing_count)" = 0 ] || fail "amqp->mqtt lost messages: $(head -c 300 "$T/sub.json")"

# a message without subject on the {subject} route is rejected and counted
$CLIENTS amqp-send --url "$AMQP_URL" --address "/amq/queue/$Q_BACK" --count 1 --prefix n > /dev/null
sleep 1
curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" > "$T/metrics.txt"
grep -q '^msgsec_bridge_rejects_total{reason="no_topic"} 1$' "$T/metrics.txt" || fail "no_topic reject not counted"
grep -q '^msgsec_bridge_messages_total{route="0",.*} 200$' "$T/metrics.txt" ||
    fail "route 0 count wrong: $(grep messages_total "$T/metrics.txt")"
grep -q '^msgsec_bridge_spool_depth 0$' "$T/metrics.txt" || fail "spool not drained"
curl -sf "http://127.0.0.1:$METRICS_PORT/healthz" | grep -q "^ok" || fail "healthz not ok"

bt_bridge_term || fail "SIGTERM exit code $?"
grep -q "event=stopped spool_depth=0" "$T/bridge.log" || fail "spool not empty at stop"
echo PASS
