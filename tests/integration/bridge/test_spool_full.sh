#!/usr/bin/env bash
# Bounded spool while the MQTT broker is down (AMQP -> MQTT route):
#  when_full: block  -> the bridge stops taking from RabbitMQ (credit withheld),
#                       the rest waits in the queue; all arrive once MQTT is back;
#  when_full: reject -> deliveries beyond the bound are rejected and counted.
source "$(dirname "$0")/common.sh"
bt_init spoolfull
bt_rabbit
# a persistent session for the test's subscriber, saved by mosquitto; the
# broker is then down until the spool is full
bt_mosquitto
$CLIENTS mqtt-sub --port "$MOSQ_PORT" --topic full/block --session "full-sub-$$" --expect 0 --timeout 1 > /dev/null
mosq_stop
LIMIT=5
N=30

run_bridge() { # run_bridge WHEN_FULL QUEUE SPOOL
    METRICS_PORT=$(mosq_free_port)
    cat > "$T/bridge.yaml" <<EOF
mqtt: {host: 127.0.0.1, port: $MOSQ_PORT, client_id: full-$1-$$, version: 5}
amqp: {url: "$AMQP_URL"}
spool: {path: $3, max_messages: $LIMIT, when_full: $1}
metrics: {listen: "127.0.0.1:$METRICS_PORT"}
routes:
  - {from: "amqp:/amq/queue/$2", to: "mqtt:full/$1", action: forward}
EOF
    "$BRIDGE_BIN" --config "$T/bridge.yaml" >> "$T/bridge.log" 2>&1 &
    BRIDGE_PID=$!
}
metric() { curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# block
QB=$(bt_queue full-block)
$CLIENTS amqp-send --url "$AMQP_URL" --address "/amq/queue/$QB" --count "$N" --prefix blk > /dev/null
run_bridge block "$QB" "$T/spool-block"
sleep 3
[ "$(metric msgsec_bridge_spool_depth)" = "$LIMIT" ] || fail "block: spool depth $(metric msgsec_bridge_spool_depth), expected $LIMIT"
# the rest is still RabbitMQ's: delivered under credit but not accepted
held=$(rmq_queue_depth "$QB" messages)
[ "$held" = $((N - LIMIT)) ] || fail "block: RabbitMQ holds $held, expected $((N - LIMIT)) (the bridge accepted more than its spool holds)"
[ "$(metric 'msgsec_bridge_rejects_total{reason="spool_full"}')" = 0 ] || fail "block mode rejected messages"
# SIGTERM while full: the deliveries the spool could not take go back to
# RabbitMQ (released, not rejected), so the restarted bridge loses none
bt_bridge_term || fail "block: SIGTERM while full: exit $?"
sleep 1
held=$(rmq_queue_depth "$QB" messages)
[ "$held" = $((N - LIMIT)) ] || fail "block: after SIGTERM RabbitMQ holds $held, expected $((N - LIMIT))"
run_bridge block "$QB" "$T/spool-block"
sleep 3
[ "$(metric msgsec_bridge_spool_depth)" = "$LIMIT" ] || fail "block: spool depth after restart $(metric msgsec_bridge_spool_depth)"
MOSQ_PORT_WANTED=$MOSQ_PORT MOSQ_LOG_TYPES="error warning notice" mosq_start "$T/mosq"
$CLIENTS mqtt-sub --port "$MOSQ_PORT" --topic full/block --session "full-sub-$$" --expect "$N" --prefix blk \
    --timeout 60 --idle 1 > "$T/block.json"
[ "$(bt_json "$T/block.json" missing_count)" = 0 ] || fail "block: lost $(bt_json "$T/block.json" missing)"
bt_bridge_term || fail "SIGTERM exit $?"
mosq_stop

# reject
QR=$(bt_queue full-reject)
$CLIENTS amqp-send --url "$AMQP_URL" --address "/amq/queue/$QR" --count "$N" --prefix rej > /dev/null
MOSQ_PORT=$(mosq_free_port)
run_bridge reject "$QR" "$T/spool-reject"
sleep 3
[ "$(metric msgsec_bridge_spool_depth)" = "$LIMIT" ] || fail "reject: spool depth $(metric msgsec_bridge_spool_depth)"
rejected=$(metric 'msgsec_bridge_rejects_total{reason="spool_full"}')
[ "$rejected" = $((N - LIMIT)) ] || fail "reject: $rejected rejected, expected $((N - LIMIT))"
[ "$(rmq_queue_depth "$QR")" = 0 ] || fail "reject: rejected messages still in the queue"
grep -q "reason=\"spool full\"" "$T/bridge.log" || fail "reject: not logged"
bt_bridge_term || fail "SIGTERM exit $?"
echo PASS
