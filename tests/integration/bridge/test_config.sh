#!/usr/bin/env bash
# Configuration handling: --check-config accepts a good file and refuses bad
# ones with exit 2 and "FILE:LINE: reason"; start-up errors exit 2; with no
# broker reachable the bridge keeps retrying and /healthz says 503.
source "$(dirname "$0")/common.sh"
bt_init config
bt_pki
MOSQ_PORT=$(mosq_free_port)
AMQP_URL=amqp://127.0.0.1:$(mosq_free_port)   # nothing listens: brokers down

expect_refused() { # expect_refused WHAT PATTERN
    local rc=0
    "$BRIDGE_BIN" --config "$T/bridge.yaml" --check-config 2> "$T/err.txt" || rc=$?
    [ $rc -eq 2 ] || fail "$1: exit $rc, expected 2 ($(cat "$T/err.txt"))"
    [ "$(wc -l < "$T/err.txt")" -eq 1 ] || fail "$1: error is not one line: $(cat "$T/err.txt")"
    grep -Eq -- "$2" "$T/err.txt" || fail "$1: message '$(cat "$T/err.txt")' does not match '$2'"
}

# valid
bt_config <<EOF
routes:
  - {from: "mqtt:a/#", to: "amqp:/amq/queue/a", action: forward}
EOF
"$BRIDGE_BIN" --config "$T/bridge.yaml" --check-config 2> "$T/err.txt" || fail "valid config refused: $(cat "$T/err.txt")"
grep -q "configuration ok (1 routes)" "$T/err.txt" || fail "no ok message"

# usage
rc=0; "$BRIDGE_BIN" 2>/dev/null || rc=$?; [ $rc -eq 2 ] || fail "no arguments: exit $rc"
rc=0; "$BRIDGE_BIN" --config "$T/none.yaml" --check-config 2>/dev/null || rc=$?; [ $rc -eq 2 ] || fail "missing file: exit $rc"

# unknown key, with its line
bt_config <<EOF
routes:
  - {from: "mqtt:a/#", to: "amqp:/amq/queue/a", action: forward, colour: red}
EOF
expect_refused "unknown key" "bridge.yaml:6:.*colour"

# bad endpoint
bt_config <<EOF
routes:
  - {from: "kafka:a", to: "amqp:/amq/queue/a", action: forward}
EOF
expect_refused "bad endpoint" "bridge.yaml:6:.*mqtt: or amqp:"

# wildcard in a destination topic
bt_config <<EOF
routes:
  - {from: "amqp:/amq/queue/a", to: "mqtt:a/#", action: forward}
EOF
expect_refused "wildcard destination" "bridge.yaml:6:.*(wildcard|topic name)"

# a route publishing into a filter the bridge consumes (separate MQTT
# connections for the two directions: No Local cannot break the loop)
bt_config <<EOF
routes:
  - {from: "mqtt:a/#", to: "amqp:/amq/queue/a", action: forward}
  - {from: "amqp:/amq/queue/b", to: "mqtt:a/back", action: forward}
EOF
expect_refused "mqtt loop" "bridge.yaml:7:.*consume its own output.*mqtt:a/back.*line 6"
bt_config <<EOF
routes:
  - {from: "mqtt:a/#", to: "amqp:/amq/queue/a", action: forward, dead_letter: "mqtt:a/dead"}
EOF
expect_refused "dead letters into a source" "bridge.yaml:6:.*consume its own output.*mqtt:a/dead"

# protect without service_cert
bt_config <<EOF
identity: {cert: $PKI/service.pem, key: $PKI/service.key}
routes:
  - {from: "mqtt:a", to: "amqp:/amq/queue/a", action: protect}
EOF
expect_refused "protect without service_cert" "bridge.yaml:[0-9]+:.*service_cert"

# no routes
bt_config <<EOF
rules: []
EOF
expect_refused "no routes" "no routes"

# no spool
cat > "$T/bridge.yaml" <<EOF
mqtt: {port: $MOSQ_PORT}
routes:
  - {from: "mqtt:a", to: "amqp:/amq/queue/a", action: forward}
EOF
expect_refused "no spool" "spool.path is required"

# a private key group/others can read
cp "$PKI/service.key" "$T/loose.key"
chmod 0644 "$T/loose.key"
bt_config <<EOF
identity: {cert: $PKI/service.pem, key: $T/loose.key}
trust: {ca: [$PKI/ca.pem]}
routes:
  - {from: "amqp:/amq/queue/a", to: "mqtt:a", action: unprotect}
EOF
expect_refused "readable key" "loose.key.*(group|others|readable)"

# start-up errors: unusable spool path and metrics address -> exit 2
bt_config <<EOF
routes:
  - {from: "mqtt:a", to: "amqp:/amq/queue/a", action: forward}
EOF
sed -i "s#^spool: .*#spool: {path: /proc/msgsec-no-such-dir/spool}#" "$T/bridge.yaml"
rc=0; "$BRIDGE_BIN" --config "$T/bridge.yaml" 2> "$T/err.txt" || rc=$?
[ $rc -eq 2 ] && grep -q "spool" "$T/err.txt" || fail "bad spool path: exit $rc ($(cat "$T/err.txt"))"
bt_config <<EOF
routes:
  - {from: "mqtt:a", to: "amqp:/amq/queue/a", action: forward}
EOF
sed -i "s#^metrics: .*#metrics: {listen: \"localhost:$METRICS_PORT\"}#" "$T/bridge.yaml"
expect_refused "metrics address not numeric" \
    "bridge.yaml:4: metrics.listen: .localhost:$METRICS_PORT. must be IPV4:PORT or \\[IPV6\\]:PORT"
rc=0; "$BRIDGE_BIN" --config "$T/bridge.yaml" 2> "$T/err.txt" || rc=$?
[ $rc -eq 2 ] && grep -q "metrics.listen" "$T/err.txt" || fail "bad metrics address at start: exit $rc ($(cat "$T/err.txt"))"
# an address of this machine it cannot bind: refused at start
sed -i "s#^metrics: .*#metrics: {listen: \"192.0.2.1:$METRICS_PORT\"}#" "$T/bridge.yaml"
"$BRIDGE_BIN" --config "$T/bridge.yaml" --check-config 2> "$T/err.txt" || fail "valid metrics address refused: $(cat "$T/err.txt")"
rc=0; "$BRIDGE_BIN" --config "$T/bridge.yaml" 2> "$T/err.txt" || rc=$?
[ $rc -eq 2 ] && grep -q "metrics.listen: cannot listen on 192.0.2.1:$METRICS_PORT" "$T/err.txt" ||
    fail "unbindable metrics address at start: exit $rc ($(cat "$T/err.txt"))"

# brokers down: the bridge runs, retries with backoff, and reports 503
bt_config <<EOF
routes:
  - {from: "mqtt:a", to: "amqp:/amq/queue/a", action: forward}
EOF
"$BRIDGE_BIN" --config "$T/bridge.yaml" >> "$T/bridge.log" 2>&1 &
BRIDGE_PID=$!
sleep 3
kill -0 "$BRIDGE_PID" || fail "bridge exited with brokers down"
code=$(curl -s -o "$T/health.txt" -w '%{http_code}' "http://127.0.0.1:$METRICS_PORT/healthz")
[ "$code" = 503 ] || fail "healthz with brokers down: HTTP $code"
grep -q "mqtt=down amqp=down" "$T/health.txt" || fail "healthz body: $(cat "$T/health.txt")"
[ "$(grep -c 'event=amqp_disconnected' "$T/bridge.log")" -ge 2 ] || fail "no AMQP retries"
grep -q "retry_ms=" "$T/bridge.log" || fail "no backoff logged"
bt_bridge_term || fail "SIGTERM with brokers down: exit $?"
echo PASS
