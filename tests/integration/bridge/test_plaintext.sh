#!/usr/bin/env bash
# No plaintext at the broker on a protect route: neither RabbitMQ's message
# store (its mnesia directory) nor a loopback capture of the AMQP traffic
# holds the payload. Control: the same checks find the marker of a forward
# route, so they can fail.
source "$(dirname "$0")/common.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: packet capture needs root"; exit 0; }
command -v tshark >/dev/null || fail "tshark is not installed"
bt_init plaintext
bt_pki
bt_rabbit
bt_mosquitto
QP=$(bt_queue protected)
QF=$(bt_queue forwarded)
bt_config <<EOF
identity: {cert: $PKI/service.pem, key: $PKI/service.key}
routes:
  - {from: "mqtt:secret/in", to: "amqp:/amq/queue/$QP", action: protect, service_cert: $PKI/service.pem}
  - {from: "mqtt:open/in", to: "amqp:/amq/queue/$QF", action: forward}
EOF
SECRET="TOPSECRET-$RANDOM$RANDOM$RANDOM"
CONTROL="CONTROL-$RANDOM$RANDOM$RANDOM"

tshark -i lo -f "tcp port $RMQ_PORT" -w "$T/amqp.pcap" > "$T/tshark.out" 2>&1 &
TSHARK=$!
for i in $(seq 1 100); do grep -q "Capturing on" "$T/tshark.out" && break; sleep 0.1; done
grep -q "Capturing on" "$T/tshark.out" || fail "tshark did not start: $(cat "$T/tshark.out")"
bt_bridge_start

for i in 0 1 2; do
    printf '%s payload %d %s' "$SECRET" "$i" "$(head -c 600 /dev/zero | tr '\0' s)" > "$T/secret$i.txt"
    $CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic secret/in --file "$T/secret$i.txt" > /dev/null
done
printf '%s payload' "$CONTROL" > "$T/control.txt"
$CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic open/in --file "$T/control.txt" > /dev/null
for i in $(seq 1 100); do
    [ "$(rmq_queue_depth "$QP")" = 3 ] && [ "$(rmq_queue_depth "$QF")" = 1 ] && break
    sleep 0.2
done
[ "$(rmq_queue_depth "$QP")" = 3 ] || fail "protected messages did not reach the queue"
sleep 1
kill -INT "$TSHARK"
wait "$TSHARK" || true

# RabbitMQ confirmed (accepted) the durable messages: they are on disk now
grep -rqa "$CONTROL" "$RMQ_DIR/mnesia" || fail "control: the forward marker is not in the message store (check is blind)"
if grep -rla "$SECRET" "$RMQ_DIR/mnesia"; then fail "plaintext of the protect route in RabbitMQ's message store"; fi
grep -qa "$CONTROL" "$T/amqp.pcap" || fail "control: the forward marker is not in the capture (capture is blind)"
if grep -qa "$SECRET" "$T/amqp.pcap"; then fail "plaintext of the protect route on the AMQP wire"; fi
grep -qa "EncryptedData" "$T/amqp.pcap" || fail "no envelope seen on the AMQP wire"
echo "capture: $(stat -c %s "$T/amqp.pcap") bytes; mnesia: $(du -sk "$RMQ_DIR/mnesia" | cut -f1) KiB; no plaintext"
echo PASS
