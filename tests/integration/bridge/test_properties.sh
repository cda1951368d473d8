#!/usr/bin/env bash
# MQTT 5 <-> AMQP 1.0 property mapping, both ways and round trip:
# content-type, correlation-data <-> correlation-id, response-topic <-> reply-to,
# user properties <-> application-properties, message expiry <-> ttl,
# topic -> subject -> topic ({subject} destination).
source "$(dirname "$0")/common.sh"
bt_init properties
bt_rabbit
bt_mosquitto
QA=$(bt_queue props-a)
QB=$(bt_queue props-b)
bt_config <<EOF
routes:
  - {from: "mqtt:props/#", to: "amqp:/amq/queue/$QA", action: forward, qos: 1}
  - {from: "amqp:/amq/queue/$QB", to: "mqtt:{subject}", action: forward, qos: 1}
EOF
bt_bridge_start

# MQTT -> AMQP
$CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic props/a/1 --prefix pa --content-type application/json \
    --correlation c0ffee01 --response-topic replies/a --expiry 600 --user tenant=blue --user "msgsec-x=y z" > /dev/null
$CLIENTS amqp-recv --url "$AMQP_URL" --address "/amq/queue/$QA" --expect 1 --prefix pa --timeout 20 --dump > "$T/a.json"
bt_check "$T/a.json" "len(msgs) == 1" "mqtt->amqp: message missing"
bt_check "$T/a.json" "msgs[0]['subject'] == 'props/a/1'" "topic -> subject"
bt_check "$T/a.json" "msgs[0]['content_type'] == 'application/json'" "content-type"
bt_check "$T/a.json" "msgs[0]['correlation_id'] == 'c0ffee01'" "correlation-data -> correlation-id"
bt_check "$T/a.json" "msgs[0]['reply_to'] == 'replies/a'" "response-topic -> reply-to"
bt_check "$T/a.json" "msgs[0]['properties'].get('tenant') == 'blue' and msgs[0]['properties'].get('msgsec-x') == 'y z'" "user properties -> application-properties"
bt_check "$T/a.json" "msgs[0]['ttl_ms'] == 600000" "message expiry -> ttl"

# AMQP -> MQTT
$CLIENTS mqtt-sub --port "$MOSQ_PORT" --topic 'props/#' --expect 1 --timeout 30 --idle 1 --dump \
    --ready-file "$T/sub.ready" > "$T/b.json" &
SUB=$!
bt_wait_file "$T/sub.ready"
$CLIENTS amqp-send --url "$AMQP_URL" --address "/amq/queue/$QB" --prefix pb --subject props/b/2 \
    --content-type text/plain --correlation 0a0b0c --reply-to replies/b --ttl 300000 --prop color=red > /dev/null
wait $SUB
bt_check "$T/b.json" "len(msgs) == 1 and msgs[0]['topic'] == 'props/b/2'" "subject -> topic"
bt_check "$T/b.json" "msgs[0].get('ContentType') == 'text/plain'" "content-type"
bt_check "$T/b.json" "msgs[0].get('CorrelationData') == '0a0b0c'" "correlation-id -> correlation-data"
bt_check "$T/b.json" "msgs[0].get('ResponseTopic') == 'replies/b'" "reply-to -> response-topic"
bt_check "$T/b.json" "msgs[0]['UserProperty'].get('color') == 'red'" "application-properties -> user properties"
bt_check "$T/b.json" "250 <= msgs[0].get('MessageExpiryInterval', 0) <= 300" "ttl -> message expiry"
bt_check "$T/b.json" "msgs[0]['UserProperty'].get('msgsec-bridge-id', '').startswith('urn:uuid:')" "bridge id"
echo PASS
