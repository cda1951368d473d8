#!/usr/bin/env bash
# A route whose AMQP source queue does not exist (RabbitMQ refuses the link
# and ends its session) does not stop the other routes; the link is retried on
# its own (the connection stays up) and flows once the queue exists.
# (A missing *destination* queue cannot be detected: RabbitMQ 3.10 accepts
# and drops messages sent to /amq/queue/NAME when NAME does not exist -
# destinations must be pre-declared, see bridge/README.md.)
source "$(dirname "$0")/common.sh"
bt_init baddest
bt_rabbit
bt_mosquitto
QOK=$(bt_queue ok)
QSRC="missing-src-$$-$RANDOM"
bt_config <<EOF
routes:
  - {from: "mqtt:bd/ok", to: "amqp:/amq/queue/$QOK", action: forward}
  - {from: "amqp:/amq/queue/$QSRC", to: "mqtt:bd/back", action: forward}
EOF
bt_bridge_start
$CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic bd/ok --count 20 --prefix ok > /dev/null
$CLIENTS amqp-recv --url "$AMQP_URL" --address "/amq/queue/$QOK" --expect 20 --prefix ok --timeout 20 > "$T/ok.json"
[ "$(bt_json "$T/ok.json" missing_count)" = 0 ] || fail "a refused source link blocked another route"
grep -q "event=amqp_link_closed.*not-found\|event=amqp_link_closed.*not_found" "$T/bridge.log" ||
    fail "refused link not logged: $(grep amqp_ "$T/bridge.log" | tail -3)"
grep -q "event=amqp_disconnected" "$T/bridge.log" && fail "the connection was dropped for one bad link"

# the queue appears: the source link is re-attached on its own
rmq_declare_queue "$QSRC"
$CLIENTS mqtt-sub --port "$MOSQ_PORT" --topic bd/back --expect 1 --prefix src --timeout 40 --ready-file "$T/sub.ready" > "$T/back.json" &
SUB=$!
bt_wait_file "$T/sub.ready"
$CLIENTS amqp-send --url "$AMQP_URL" --address "/amq/queue/$QSRC" --prefix src > /dev/null
wait $SUB
[ "$(bt_json "$T/back.json" missing_count)" = 0 ] || fail "source link not re-attached"
echo PASS
