#!/usr/bin/env bash
# End-to-end demo: a client secures messages for the `orders` service and
# publishes them to Mosquitto; the msgsec plugin checks who signed each one
# (it cannot read them); msgsec-bridge verifies again and moves them to a
# RabbitMQ queue over AMQP 1.0; the service (Python, msgsec.amqp with libmsgsec
# in process) unwraps them and prints who sent what. A forged message is
# refused at the broker on the way.
#
# usage: tests/demo/run_demo.sh BUILD_DIR      (scripts/demo.sh calls it)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
MSGSEC=$BUILD/common/msgsec
PLUGIN=$BUILD/plugin/mosquitto_msgsec.so
BRIDGE=$BUILD/bridge/msgsec-bridge
PY=/usr/bin/python3
source "$ROOT/tests/lib/mosquitto.sh"
source "$ROOT/tests/lib/rabbitmq.sh"

D=$(mktemp -d /tmp/msgsec-demo.XXXXXX)
chmod 755 "$D"
BRIDGE_PID= SERVICE_PID=
cleanup() {
    local rc=$?
    [ -n "$SERVICE_PID" ] && kill "$SERVICE_PID" 2>/dev/null
    [ -n "$BRIDGE_PID" ] && kill "$BRIDGE_PID" 2>/dev/null && wait "$BRIDGE_PID" 2>/dev/null
    [ -n "${MOSQ_PID:-}" ] && mosq_stop >/dev/null 2>&1
    [ -n "${RMQ_PID:-}" ] && rmq_stop >/dev/null 2>&1
    if [ $rc -ne 0 ]; then
        echo "demo: FAILED (logs kept in $D)" >&2
    else
        rm -rf "$D"
    fi
    exit $rc
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }

step "test PKI (CA, service certificate, client certificates)"
bash "$ROOT/tests/lib/pki.sh" "$D/pki" >/dev/null
P=$D/pki

step "RabbitMQ with AMQP 1.0, durable queue 'orders'"
rmq_start "$D/rabbit" >/dev/null
rmq_declare_queue orders 2>/dev/null
echo "rabbitmq on 127.0.0.1:$RMQ_PORT"

step "Mosquitto with the msgsec plugin: orders/# must be signed by CN=shop*"
mkdir -p "$D/mosq"
cp "$P/ca.pem" "$D/mosq/"
cat > "$D/mosq/msgsec.yaml" <<YAML
trust: {ca: [ca.pem]}
security: {credentials: [certificate], max_age: 86400}
rules:
  - {topic: "orders/#", action: enforce, senders: ["CN=shop*"]}
YAML
cat > "$D/mosq/extra.conf" <<CONF
plugin $PLUGIN
plugin_opt_config $D/mosq/msgsec.yaml
CONF
MOSQ_LOG_TYPES="error warning notice information" mosq_start "$D/mosq"
echo "mosquitto on 127.0.0.1:$MOSQ_PORT"

step "msgsec-bridge: mqtt:orders/# -> amqp:/amq/queue/orders (verify)"
mkdir -p "$D/bridge"
cat > "$D/bridge/bridge.yaml" <<YAML
trust: {ca: [$P/ca.pem]}
security: {credentials: [certificate]}
mqtt: {host: 127.0.0.1, port: $MOSQ_PORT, client_id: msgsec-demo-bridge, version: 5}
amqp: {url: "amqp://127.0.0.1:$RMQ_PORT"}
spool: {path: $D/bridge/spool}
routes:
  - {from: "mqtt:orders/#", to: "amqp:/amq/queue/orders", action: verify, qos: 1,
     senders: ["CN=shop*"]}
YAML
: > "$D/bridge/bridge.log"
"$BRIDGE" --config "$D/bridge/bridge.yaml" >>"$D/bridge/bridge.log" 2>&1 &
BRIDGE_PID=$!
for _ in $(seq 1 100); do
    grep -q "event=mqtt_connected" "$D/bridge/bridge.log" &&
        grep -q "event=amqp_connected" "$D/bridge/bridge.log" && break
    kill -0 "$BRIDGE_PID" 2>/dev/null || { cat "$D/bridge/bridge.log" >&2; exit 1; }
    sleep 0.1
done
sleep 0.5

step "the orders service listens on the queue (Python, libmsgsec in process)"
MSGSEC_LIBRARY=$BUILD/common/libmsgsec.so PYTHONPATH=$ROOT/common/python \
"$PY" "$ROOT/tests/demo/msgsec_service.py" --url "amqp://127.0.0.1:$RMQ_PORT" \
    --address /amq/queue/orders --cert "$P/service.pem" \
    --key "$P/service.key" --ca "$P/ca.pem" --to urn:example:orders \
    --replay-db "$D/service-replay" --count 2 --timeout 60 > "$D/service.out" 2>&1 &
SERVICE_PID=$!

step "shop1 (RSA) and shop2 (ECDSA) secure an order each for the service and publish"
send() { # cert payload
    printf '%s' "$2" | "$MSGSEC" wrap --cert "$P/$1.pem" --key "$P/$1.key" \
        --service-cert "$P/service.pem" --to urn:example:orders \
        --action urn:example:orders:new > "$D/$1.xml"
    echo "$1: envelope of $(wc -c < "$D/$1.xml") bytes; the broker sees only:"
    "$MSGSEC" inspect --in "$D/$1.xml" | "$PY" -c \
        'import json,sys; j=json.load(sys.stdin); print("   signer", j.get("signer"), "| to", j.get("to"), "| body encrypted")'
    mosquitto_pub -h 127.0.0.1 -p "$MOSQ_PORT" -V mqttv5 -q 1 -t orders/new -f "$D/$1.xml"
}
send client-rsa '{"order": 1, "item": "coffee", "qty": 2}'
send client-ec '{"order": 2, "item": "tea", "qty": 1}'

step "an intruder with a self-signed CN=shop1 certificate tries too"
printf 'forged order' | "$MSGSEC" wrap --cert "$P/selfsigned.pem" --key "$P/selfsigned.key" \
    --service-cert "$P/service.pem" --to urn:example:orders > "$D/forged.xml"
mosquitto_pub -h 127.0.0.1 -p "$MOSQ_PORT" -V mqttv5 -q 1 -t orders/new -f "$D/forged.xml" || true
mosq_wait_log "msgsec: denied" 10 || true
grep "msgsec: denied" "$MOSQ_LOG" | sed 's/^/   mosquitto: /' | tail -n 1

step "what the service printed"
wait "$SERVICE_PID"
SERVICE_PID=
cat "$D/service.out"
grep -q "from CN=shop1,O=Example (certificate).*coffee" "$D/service.out"
grep -q "from CN=shop2,O=Example (certificate).*tea" "$D/service.out"
if grep -q "forged" "$D/service.out"; then
    echo "demo: the forged message reached the service" >&2
    exit 1
fi
echo
echo "demo: OK"
