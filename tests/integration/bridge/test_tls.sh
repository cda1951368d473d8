#!/usr/bin/env bash
# Transport security on both sides: MQTT over mutual TLS with username +
# password_file; AMQP 1.0 over TLS (amqps://) with SASL EXTERNAL (client
# certificate) and with SASL PLAIN. Negative: wrong AMQP password, untrusted
# MQTT server CA -> nothing flows, the failure is logged, /healthz is 503.
source "$(dirname "$0")/common.sh"
bt_init tls
bt_pki
export RMQ_TLS_PORT
RMQ_TLS_PORT=$(rmq_free_port)
RMQ_TLS_CA=$PKI/ca.pem RMQ_TLS_CERT=$PKI/server.pem RMQ_TLS_KEY=$PKI/server.key
export RMQ_TLS_CA RMQ_TLS_CERT RMQ_TLS_KEY
bt_rabbit private
rmq_ctl add_user bridge "amqp-secret-1" >/dev/null
rmq_ctl set_permissions -p / bridge '.*' '.*' '.*' >/dev/null
rmq_ctl add_user shop1 "unused-$RANDOM$RANDOM" >/dev/null   # EXTERNAL: CN of client-rsa.pem
rmq_ctl set_permissions -p / shop1 '.*' '.*' '.*' >/dev/null
QA=$(bt_queue tls-a)
QB=$(bt_queue tls-b)

# mosquitto: mutual TLS + password file (its files live in its own dir)
mkdir -p "$T/mosq"
cp "$PKI/ca.pem" "$PKI/server.pem" "$PKI/server.key" "$T/mosq/"
mosquitto_passwd -c -b "$T/mosq/passwd" bridge "mqtt-secret-2" 2>/dev/null
mosquitto_passwd -b "$T/mosq/passwd" tester "tester-pw" 2>/dev/null
MQTTS_PORT=$(mosq_free_port)
cat > "$T/mosq/extra.conf" <<EOF
listener $MQTTS_PORT 127.0.0.1
cafile $T/mosq/ca.pem
certfile $T/mosq/server.pem
keyfile $T/mosq/server.key
require_certificate true
password_file $T/mosq/passwd
allow_anonymous false
EOF
MOSQ_LOG_TYPES="error warning notice" mosq_start "$T/mosq"
PLAIN_MQTT_PORT=$MOSQ_PORT   # the harness' plain listener, for the test's own clients
(umask 077; echo "mqtt-secret-2" > "$T/mqtt.pw"; echo "amqp-secret-1" > "$T/amqp.pw"; echo "wrong" > "$T/bad.pw")

write_config() { # write_config AMQP-SASL-YAML [MQTT-CA]
    cat > "$T/bridge.yaml" <<EOF
mqtt: {host: localhost, port: $MQTTS_PORT, client_id: tls-bridge-$$, version: 5, username: bridge,
       password_file: $T/mqtt.pw, tls: {ca: ${2:-$PKI/ca.pem}, cert: $PKI/client-rsa.pem, key: $PKI/client-rsa.key}}
amqp: {url: "amqps://localhost:$RMQ_TLS_PORT", sasl: $1,
       tls: {ca: $PKI/ca.pem, cert: $PKI/client-rsa.pem, key: $PKI/client-rsa.key}}
spool: {path: $T/spool}
metrics: {listen: "127.0.0.1:$METRICS_PORT"}
routes:
  - {from: "mqtt:tls/in", to: "amqp:/amq/queue/$QA", action: forward}
  - {from: "amqp:/amq/queue/$QB", to: "mqtt:tls/out", action: forward}
EOF
}
METRICS_PORT=$(mosq_free_port)

roundtrip() { # roundtrip PREFIX: one message each way through the TLS bridge
    $CLIENTS mqtt-sub --port "$PLAIN_MQTT_PORT" --auth tester:tester-pw --topic tls/out --expect 1 --prefix "$1o" --timeout 20 \
        --ready-file "$T/$1.ready" > "$T/$1-out.json" &
    local sub=$!
    bt_wait_file "$T/$1.ready"
    $CLIENTS mqtt-pub --port "$PLAIN_MQTT_PORT" --auth tester:tester-pw --topic tls/in --prefix "$1i" > /dev/null
    $CLIENTS amqp-send --url "amqp://bridge:amqp-secret-1@127.0.0.1:$RMQ_PORT" --address "/amq/queue/$QB" --prefix "$1o" > /dev/null
    $CLIENTS amqp-recv --url "amqp://bridge:amqp-secret-1@127.0.0.1:$RMQ_PORT" --address "/amq/queue/$QA" --expect 1 --prefix "$1i" \
        --timeout 20 > "$T/$1-in.json"
    wait $sub
    [ "$(bt_json "$T/$1-in.json" missing_count)" = 0 ] || fail "$1: mqtt->amqp over TLS failed"
    [ "$(bt_json "$T/$1-out.json" missing_count)" = 0 ] || fail "$1: amqp->mqtt over TLS failed"
}

# 1. EXTERNAL (client certificate) on AMQP, mTLS + password on MQTT
write_config "{mechanism: EXTERNAL}"
bt_bridge_start
roundtrip ext
grep -q "user 'shop1' authenticated" "$RMQ_LOG" || grep -q "shop1" "$RMQ_LOG" || fail "RabbitMQ did not log the EXTERNAL user"
bt_bridge_term || fail "SIGTERM exit $?"

# 2. PLAIN over TLS
write_config "{mechanism: PLAIN, username: bridge, password_file: $T/amqp.pw}"
bt_bridge_start
roundtrip plain
bt_bridge_term || fail "SIGTERM exit $?"
grep -q "amqp-secret-1\|mqtt-secret-2" "$T/bridge.log" && fail "a password is in the log"

# 3. wrong AMQP password and an untrusted MQTT server CA: refused, logged, unhealthy
write_config "{mechanism: PLAIN, username: bridge, password_file: $T/bad.pw}" "$PKI/rogue-ca.pem"
: > "$T/bridge.log"
"$BRIDGE_BIN" --config "$T/bridge.yaml" >> "$T/bridge.log" 2>&1 &
BRIDGE_PID=$!
sleep 4
grep -q "event=amqp_disconnected.*amqp:unauthorized-access" "$T/bridge.log" ||
    fail "AMQP authentication failure not logged: $(grep amqp_ "$T/bridge.log" | tail -2)"
grep -q "event=mqtt_connect_failed" "$T/bridge.log" || fail "untrusted MQTT server accepted"
grep -q "event=mqtt_connected\|event=amqp_connected" "$T/bridge.log" && fail "connected despite bad credentials"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$METRICS_PORT/healthz")
[ "$code" = 503 ] || fail "healthz $code with both sides refused"
bt_bridge_term || fail "SIGTERM exit $?"
echo PASS
