# common.sh - sourced by the plugin integration tests: a temp dir, the test
# PKI, a mosquitto with mosquitto_msgsec.so loaded, and assertions.
# Environment (set by CMake): MSGSEC_PLUGIN, MSGSEC_CLI, MSGSEC_WRAP_AGED,
# MSGSEC_TEST_PKI, MSGSEC_TEST_PYTHON.
set -euo pipefail
PLUGIN_TESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../lib/mosquitto.sh
source "$PLUGIN_TESTS/../../lib/mosquitto.sh"
: "${MSGSEC_PLUGIN:?}" "${MSGSEC_CLI:?}" "${MSGSEC_TEST_PKI:?}"
PY=${MSGSEC_TEST_PYTHON:-/usr/bin/python3}
PKI=$MSGSEC_TEST_PKI
bash "$PLUGIN_TESTS/../../lib/pki.sh" "$PKI"

WORK=$(mktemp -d /tmp/msgsec-plugin.XXXXXX)
chmod 711 "$WORK"          # the broker user must traverse it
CONF=$WORK/broker          # everything the broker and the plugin read
mkdir -p "$CONF" "$WORK/msgs"
COLLECTOR_PID=

cleanup() {
    local rc=$?
    if [ -n "$COLLECTOR_PID" ]; then kill "$COLLECTOR_PID" 2>/dev/null || true; wait "$COLLECTOR_PID" 2>/dev/null || true; fi
    mosq_stop || true
    if [ $rc -ne 0 ] && [ -f "$CONF/mosquitto.log" ]; then
        echo "--- mosquitto.log (tail)" >&2; tail -n 30 "$CONF/mosquitto.log" >&2
    fi
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

# Broker-side copies (mosquitto drops to its own user: see mosquitto.sh).
cp "$PKI"/{ca.pem,crl.pem,service.pem,server.pem,server.key} "$CONF/"

# plugin_conf [EXTRA MOSQUITTO LINES]: writes CONF/extra.conf loading the plugin.
plugin_conf() {
    { echo "plugin $MSGSEC_PLUGIN"; echo "plugin_opt_config $CONF/msgsec.yaml"; printf '%s\n' "$@"; } \
        > "$CONF/extra.conf"
}

# wrap OUT CLIENT [msgsec wrap options]: envelope from the PKI's CLIENT to the service.
wrap() {
    local name=$1 client=$2
    shift 2
    printf 'order %s from %s %s' "$name" "$client" "$RANDOM$RANDOM" |
        "$MSGSEC_CLI" wrap --cert "$PKI/$client.pem" --key "$PKI/$client.key" \
            --service-cert "$PKI/service.pem" --to urn:example:orders "$@" > "$WORK/$name"
}

# publish FILE TOPIC CLIENT_ID [mosquitto_pub options]: prints the PUBACK reason code.
publish() {
    local file=$1 topic=$2 id=$3 out
    shift 3
    out=$(mosquitto_pub -V 5 -q 1 -d -p "${PUB_PORT:-$MOSQ_PORT}" -i "$id" -t "$topic" -f "$file" "$@" 2>&1) || true
    sed -n 's/.*received PUBACK (Mid: [0-9]*, RC:\([0-9]*\)).*/\1/p' <<<"$out"
}

# expect_accepted FILE TOPIC CLIENT_ID [mosquitto_pub options]: PUBACK 0
# (success) or 16 (0x10, success without matching subscribers).
expect_accepted() {
    local rc
    rc=$(publish "$@")
    [ "$rc" = 0 ] || [ "$rc" = 16 ] ||
        fail "$3: expected PUBACK 0 or 16 for $(basename "$1") on $2, got '${rc}'"
}

# expect_denied FILE TOPIC CLIENT_ID CLASS [mosquitto_pub options]: PUBACK 0x87
# and the plugin's log line naming the client and the error class.
expect_denied() {
    local file=$1 topic=$2 id=$3 class=$4 rc
    shift 4
    rc=$(publish "$file" "$topic" "$id" "$@")
    [ "$rc" = 135 ] || fail "$id: expected PUBACK 135 (0x87) for $(basename "$file") on $topic, got '${rc}'"
    mosq_wait_log "msgsec: denied PUBLISH from '$id' on '$topic' .*\[error $class: " 5 ||
        fail "$id: no log line with error class $class"
}

# start_collector FILTER...: records every message on FILTERs under WORK/msgs.
start_collector() {
    "$PY" "$PLUGIN_TESTS/collect.py" "$MOSQ_PORT" "$WORK/msgs" "$@" msgsec-test/sentinel &
    COLLECTOR_PID=$!
    local i
    for i in $(seq 1 100); do [ -f "$WORK/msgs/ready" ] && return 0; sleep 0.1; done
    fail "collector did not subscribe"
}

# sync_collector: publishes a sentinel on an untouched topic and waits for it:
# every message published before it has then been routed to the collector.
sync_collector() {
    local sentinel=$WORK/sentinel.$RANDOM i
    echo "sentinel $RANDOM$RANDOM" > "$sentinel"
    mosquitto_pub -q 1 -p "$MOSQ_PORT" -t msgsec-test/sentinel -f "$sentinel"
    for i in $(seq 1 100); do
        for f in "$WORK"/msgs/*.msg; do
            [ -f "$f" ] && cmp -s "$f" "$sentinel" && return 0
        done
        sleep 0.1
    done
    fail "sentinel not delivered"
}

# delivered_count FILE: how many collected messages are byte-identical to FILE.
delivered_count() {
    local n=0 f
    for f in "$WORK"/msgs/*.msg; do [ -f "$f" ] && cmp -s "$f" "$1" && n=$((n + 1)); done
    echo $n
}
