#!/usr/bin/env bash
# metrics.listen on IPv6: "[::1]:PORT" is accepted by --check-config, the
# bridge serves /healthz (200, both brokers up) and /metrics on [::1] only
# (nothing on 127.0.0.1:PORT). Skipped (exit 77) when the machine has no IPv6
# loopback address.
source "$(dirname "$0")/common.sh"
if ! ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128'; then
    echo "SKIP: no IPv6 loopback (::1) on this machine (ip -6 addr show lo)"
    exit 77
fi
bt_init metrics-ipv6
bt_rabbit
bt_mosquitto
Q=$(bt_queue metrics6)
bt_config <<EOF
routes:
  - {from: "mqtt:m6/in", to: "amqp:/amq/queue/$Q", action: forward}
EOF
sed -i "s#^metrics: .*#metrics: {listen: \"[::1]:$METRICS_PORT\"}#" "$T/bridge.yaml"
"$BRIDGE_BIN" --config "$T/bridge.yaml" --check-config 2> "$T/err.txt" ||
    fail "[::1]:$METRICS_PORT refused: $(cat "$T/err.txt")"
bt_bridge_start

code=000
for _ in $(seq 1 50); do
    code=$(curl -g -s -o "$T/health.txt" -w '%{http_code}' "http://[::1]:$METRICS_PORT/healthz") || true
    [ "$code" = 200 ] && break
    sleep 0.2
done
[ "$code" = 200 ] || fail "/healthz over IPv6: HTTP $code ($(cat "$T/health.txt" 2>/dev/null))"
grep -q "^ok mqtt=up amqp=up" "$T/health.txt" || fail "/healthz body: $(cat "$T/health.txt")"
curl -g -sf "http://[::1]:$METRICS_PORT/metrics" > "$T/metrics.txt" || fail "/metrics over IPv6"
grep -q '^msgsec_bridge_connected{side="amqp"} 1$' "$T/metrics.txt" || fail "metrics: $(head -c 300 "$T/metrics.txt")"
if curl -s -o /dev/null "http://127.0.0.1:$METRICS_PORT/healthz"; then
    fail "the bridge also answers on 127.0.0.1:$METRICS_PORT"
fi
bt_bridge_term || fail "SIGTERM: exit $?"
echo PASS
