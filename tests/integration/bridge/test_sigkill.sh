#!/usr/bin/env bash
# No loss under SIGKILL: 10,000 QoS 1 messages MQTT -> AMQP and 10,000 AMQP ->
# MQTT stream through the bridge while it is killed with SIGKILL 3 times (and
# restarted). Every message id must arrive; duplicates are allowed
# (at-least-once) and printed.
source "$(dirname "$0")/common.sh"
N=${BT_KILL_COUNT:-10000}
RATE=${BT_KILL_RATE:-800}
KILLS=${BT_KILLS:-3}
bt_init sigkill
bt_rabbit
bt_mosquitto
Q_IN=$(bt_queue kill-in)
Q_OUT=$(bt_queue kill-out)
bt_config <<EOF
routes:
  - {from: "mqtt:kill/in", to: "amqp:/amq/queue/$Q_IN", action: forward, qos: 1}
  - {from: "amqp:/amq/queue/$Q_OUT", to: "mqtt:kill/out", action: forward, qos: 1}
EOF
bt_bridge_start

TIMEOUT=$((N / RATE + 120))
$CLIENTS amqp-recv --url "$AMQP_URL" --address "/amq/queue/$Q_IN" --expect "$N" --prefix k \
    --timeout "$TIMEOUT" --idle 3 > "$T/recv.json" &
RECV=$!
$CLIENTS mqtt-sub --port "$MOSQ_PORT" --topic kill/out --expect "$N" --prefix r --timeout "$TIMEOUT" \
    --idle 3 --ready-file "$T/sub.ready" > "$T/sub.json" &
SUB=$!
bt_wait_file "$T/sub.ready"

$CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic kill/in --count "$N" --prefix k --size 200 --rate "$RATE" \
    --timeout "$TIMEOUT" > "$T/pub.json" &
PUB=$!
$CLIENTS amqp-send --url "$AMQP_URL" --address "/amq/queue/$Q_OUT" --count "$N" --prefix r --size 200 \
    --rate "$RATE" > "$T/send.json" &
SEND=$!

# kill at evenly spaced moments inside the stream
STREAM_MS=$((N * 1000 / RATE))
for k in $(seq 1 "$KILLS"); do
    sleep "$(awk -v ms="$STREAM_MS" -v k="$KILLS" 'BEGIN { printf "%.2f", ms / (k + 1) / 1000 }')"
    depth=$(curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | awk '/^msgsec_bridge_spool_depth/ { print $2 }')
    bt_bridge_kill
    echo "kill $k: SIGKILL sent (spool depth before: ${depth:-?})"
    sleep 0.3
    bt_bridge_start
done
wait $PUB || fail "publisher failed: $(cat "$T/pub.json")"
wait $SEND || fail "AMQP sender failed: $(cat "$T/send.json")"
wait $RECV
wait $SUB
in_missing=$(bt_json "$T/recv.json" missing_count)
out_missing=$(bt_json "$T/sub.json" missing_count)
echo "mqtt->amqp: received $(bt_json "$T/recv.json" received) distinct $(bt_json "$T/recv.json" distinct)" \
    "duplicates $(bt_json "$T/recv.json" duplicates) missing $in_missing"
echo "amqp->mqtt: received $(bt_json "$T/sub.json" received) distinct $(bt_json "$T/sub.json" distinct)" \
    "duplicates $(bt_json "$T/sub.json" duplicates) missing $out_missing"
[ "$(grep -c 'event=started' "$T/bridge.log")" -eq $((KILLS + 1)) ] || fail "bridge was not restarted $KILLS times"
[ "$in_missing" = 0 ] || fail "mqtt->amqp lost $in_missing: $(bt_json "$T/recv.json" missing)"
[ "$out_missing" = 0 ] || fail "amqp->mqtt lost $out_missing: $(bt_json "$T/sub.json" missing)"
echo PASS
