#!/usr/bin/env bash
# Shared set-up for the msgsec-bridge integration tests (sourced).
#
# Environment (from CMake): BRIDGE_BIN, MSGSEC_BIN (may be empty), PY, TESTS_DIR,
# RMQ_SHARED (directory of the shared RabbitMQ fixture, see rmq_fixture.sh).
#
#   bt_init NAME             temp dir $T, cleanup trap
#   bt_pki                   test PKI in $PKI
#   bt_rabbit                use the shared RabbitMQ (or start a private one: bt_rabbit private)
#   bt_mosquitto             start a private mosquitto (persistent, so restarts keep sessions)
#   bt_config <<EOF ... EOF  writes $T/bridge.yaml: header (brokers, spool, metrics) + stdin (routes)
#   bt_bridge_start / bt_bridge_kill / bt_bridge_term
#   bt_json FILE KEY         prints a top-level JSON field of a clients.py result
#   fail MSG                 prints MSG and exits 1
set -euo pipefail

: "${PY:=/usr/bin/python3}"
: "${TESTS_DIR:?}"
: "${BRIDGE_BIN:?}"
CLIENTS="$PY $TESTS_DIR/integration/bridge/clients.py"
# shellcheck source=/dev/null
source "$TESTS_DIR/lib/rabbitmq.sh"
# shellcheck source=/dev/null
source "$TESTS_DIR/lib/mosquitto.sh"

BRIDGE_PID=
_bt_cleanup() {
    local rc=$?
    if [ -n "$BRIDGE_PID" ]; then kill -KILL "$BRIDGE_PID" 2>/dev/null || true; fi
    if [ -n "${MOSQ_PID:-}" ]; then mosq_stop >/dev/null 2>&1 || true; fi
    if [ "${BT_PRIVATE_RMQ:-0}" = 1 ]; then rmq_stop >/dev/null 2>&1 || true; fi
    if [ $rc -ne 0 ]; then
        echo "---- bridge log (tail) ----" >&2
        tail -n 40 "$T/bridge.log" >&2 2>/dev/null || true
    fi
    if [ "${BT_KEEP:-0}" != 1 ]; then rm -rf "$T"; fi
    exit $rc
}

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

bt_init() {
    T=$(mktemp -d "/tmp/msgsec-bridge-${1:?}.XXXXXX")
    chmod 755 "$T"
    trap _bt_cleanup EXIT
}

# Test PKI in $PKI (copied: keys must stay 0600 and owned by us).
bt_pki() {
    PKI=$T/pki
    bash "$TESTS_DIR/lib/pki.sh" "$PKI" >/dev/null
}

bt_rabbit() {
    if [ "${1:-}" = private ] || [ -z "${RMQ_SHARED:-}" ]; then
        BT_PRIVATE_RMQ=1
        rmq_start "$T/rabbit"
    else
        # shellcheck source=/dev/null
        source "$RMQ_SHARED/env.sh"
    fi
    AMQP_URL=amqp://127.0.0.1:$RMQ_PORT
}

bt_mosquitto() {
    mkdir -p "$T/mosq"
    {
        echo "persistence true"
        echo "persistence_location $T/mosq/"
        echo "autosave_interval 1"
        echo "max_queued_messages 0"
    } > "$T/mosq/extra.conf"
    MOSQ_LOG_TYPES="error warning notice" mosq_start "$T/mosq"
}

# A queue name unique to this test (the shared RabbitMQ serves several).
bt_queue() {
    local q="${1}-$$-$RANDOM"
    rmq_declare_queue "$q"
    echo "$q"
}

bt_config() {
    METRICS_PORT=$(mosq_free_port)
    {
        cat <<EOF
mqtt: {host: 127.0.0.1, port: $MOSQ_PORT, client_id: bridge-$$, version: ${BT_MQTT_VERSION:-5}}
amqp: {url: "$AMQP_URL"}
spool: {path: $T/spool${BT_SPOOL_EXTRA:-}}
metrics: {listen: "127.0.0.1:$METRICS_PORT"}
EOF
        cat
    } > "$T/bridge.yaml"
}

bt_bridge_start() {
    "$BRIDGE_BIN" --config "$T/bridge.yaml" >>"$T/bridge.log" 2>&1 &
    BRIDGE_PID=$!
    local i
    for i in $(seq 1 100); do
        if grep -q "event=mqtt_connected" "$T/bridge.log" 2>/dev/null &&
            grep -q "event=amqp_connected" "$T/bridge.log" 2>/dev/null &&
            grep -q "event=mqtt_subscribe\|routes=" "$T/bridge.log"; then
            return 0
        fi
        kill -0 "$BRIDGE_PID" 2>/dev/null || fail "bridge exited at start: $(tail -n 5 "$T/bridge.log")"
        sleep 0.1
    done
    fail "bridge did not connect within 10 s"
}

bt_bridge_kill() {
    kill -KILL "$BRIDGE_PID" 2>/dev/null || true
    wait "$BRIDGE_PID" 2>/dev/null || true
    BRIDGE_PID=
}

bt_bridge_term() {
    kill -TERM "$BRIDGE_PID"
    local rc=0
    wait "$BRIDGE_PID" || rc=$?
    BRIDGE_PID=
    return $rc
}

bt_json() {
    "$PY" -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else v.get(k)
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$1" "$2"
}

# Waits (up to $2 seconds, default 20) until FILE exists.
bt_wait_file() {
    local i
    for i in $(seq 1 $((${2:-20} * 10))); do
        [ -s "$1" ] && return 0
        sleep 0.1
    done
    fail "timeout waiting for $1"
}

# bt_check FILE PY-EXPR WHAT: asserts PY-EXPR over msgs (the dumped messages
# of a clients.py result) is true.
bt_check() {
    "$PY" -c 'import json,sys
msgs = json.load(open(sys.argv[1])).get("messages", [])
sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" || fail "$3 ($(head -c 600 "$1"))"
}
