#!/usr/bin/env bash
# No loss across broker restarts (QoS 1, both directions each time):
#  (b) RabbitMQ restarted mid-stream (its own node: the shared one must not restart);
#  (c) Mosquitto restarted mid-stream (persistent sessions: the bridge's fixed
#      client id with clean start off, and a persistent test subscriber).
source "$(dirname "$0")/common.sh"
N=${BT_RESTART_COUNT:-2000}
RATE=${BT_RESTART_RATE:-400}
bt_init restart
bt_rabbit private
bt_mosquitto
QB_IN=$(bt_queue rb-in)
QB_OUT=$(bt_queue rb-out)
QC_IN=$(bt_queue rc-in)
QC_OUT=$(bt_queue rc-out)
bt_config <<EOF
routes:
  - {from: "mqtt:rb/in", to: "amqp:/amq/queue/$QB_IN", action: forward, qos: 1}
  - {from: "amqp:/amq/queue/$QB_OUT", to: "mqtt:rb/out", action: forward, qos: 1}
  - {from: "mqtt:rc/in", to: "amqp:/amq/queue/$QC_IN", action: forward, qos: 1}
  - {from: "amqp:/amq/queue/$QC_OUT", to: "mqtt:rc/out", action: forward, qos: 1}
EOF
TIMEOUT=$((N / RATE + 150))

# stream_with NAME RESTART-COMMAND QIN QOUT: N messages each way (MQTT->AMQP
# published at RATE, AMQP->MQTT) while the broker restarts mid-stream.
stream_with() {
    local p=$1 restart=$2 qin=$3 qout=$4
    $CLIENTS mqtt-sub --port "$MOSQ_PORT" --topic "$p/out" --session "sub-$p-$$" --expect "$N" --prefix "${p}o" \
        --timeout "$TIMEOUT" --idle 3 --ready-file "$T/$p-sub.ready" > "$T/$p-sub.json" &
    local sub=$!
    bt_wait_file "$T/$p-sub.ready"
    # RabbitMQ restart: the AMQP source is loaded before (the test's sender has
    # no reconnect logic); Mosquitto restart: it streams at RATE meanwhile
    local send_rate=0
    [ "$restart" = rmq_restart ] || send_rate=$RATE
    $CLIENTS amqp-send --url "$AMQP_URL" --address "/amq/queue/$qout" --count "$N" --prefix "${p}o" --size 200 \
        --rate "$send_rate" > "$T/$p-send.json" &
    local send=$!
    [ "$restart" != rmq_restart ] || wait $send || fail "$p: preload failed"
    # the bridge subscribes before the first publish: Mosquitto keeps nothing
    # for a client id that never had a session
    [ -n "$BRIDGE_PID" ] || bt_bridge_start
    $CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic "$p/in" --count "$N" --prefix "${p}i" --size 200 --rate "$RATE" \
        --timeout "$TIMEOUT" > "$T/$p-pub.json" &
    local pub=$!
    sleep 1.5
    echo "$p: restarting the broker mid-stream"
    $restart
    echo "$p: broker back"
    wait $pub || fail "$p: publisher failed: $(cat "$T/$p-pub.json")"
    wait $send || fail "$p: AMQP sender failed: $(cat "$T/$p-send.json")"
    wait $sub
    $CLIENTS amqp-recv --url "$AMQP_URL" --address "/amq/queue/$qin" --expect "$N" --prefix "${p}i" \
        --timeout "$TIMEOUT" --idle 3 > "$T/$p-recv.json"
    local in_missing out_missing
    in_missing=$(bt_json "$T/$p-recv.json" missing_count)
    out_missing=$(bt_json "$T/$p-sub.json" missing_count)
    echo "$p mqtt->amqp: received $(bt_json "$T/$p-recv.json" received) duplicates $(bt_json "$T/$p-recv.json" duplicates) missing $in_missing"
    echo "$p amqp->mqtt: received $(bt_json "$T/$p-sub.json" received) duplicates $(bt_json "$T/$p-sub.json" duplicates) missing $out_missing"
    [ "$in_missing" = 0 ] || fail "$p: mqtt->amqp lost $in_missing: $(bt_json "$T/$p-recv.json" missing)"
    [ "$out_missing" = 0 ] || fail "$p: amqp->mqtt lost $out_missing: $(bt_json "$T/$p-sub.json" missing)"
}

restart_mosquitto() {
    mosq_stop
    MOSQ_PORT_WANTED=$MOSQ_PORT MOSQ_LOG_TYPES="error warning notice" mosq_start "$T/mosq"
}

stream_with rb rmq_restart "$QB_IN" "$QB_OUT"
grep -q "event=amqp_disconnected" "$T/bridge.log" || fail "the bridge did not see the RabbitMQ restart"
stream_with rc restart_mosquitto "$QC_IN" "$QC_OUT"
grep -q "event=mqtt_disconnected" "$T/bridge.log" || fail "the bridge did not see the Mosquitto restart"
curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" | grep -E '^msgsec_bridge_reconnects_total' 
echo PASS
