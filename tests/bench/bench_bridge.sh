#!/usr/bin/env bash
# msgsec-bridge benchmark (a command, not a test):
#
#   tests/bench/bench_bridge.sh [BUILD_DIR]        (default: build)
#
# End to end MQTT -> bridge -> RabbitMQ -> AMQP consumer, QoS 1,
# consumer-side msgs/s (first to last message), median of RUNS:
#   direct   : a direct AMQP sender of N envelopes (1 KiB payloads, RSA-2048
#              sender, made by bench_plugin_load gen) into a queue (baseline,
#              same consumer)
#   forward  : MQTT publisher of the same envelopes -> bridge (forward) -> queue
#   protect  : MQTT publisher of 1 KiB plaintexts -> bridge (protect: wrap for
#              the service) -> queue
#   unprotect: queue of envelopes -> bridge (unprotect) -> MQTT subscriber
# Env: N (messages per run, default 3000), RUNS (default 3).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
export TESTS_DIR=$ROOT/tests PY=/usr/bin/python3
export BRIDGE_BIN=${BRIDGE_BIN:-$BUILD/bridge/msgsec-bridge}
LOAD=$BUILD/tests/bench/bench_plugin_load
for f in "$BRIDGE_BIN" "$LOAD"; do
    [ -x "$f" ] || { echo "bench_bridge: build first ($f missing)" >&2; exit 2; }
done
N=${N:-3000}
RUNS=${RUNS:-3}
source "$ROOT/tests/integration/bridge/common.sh"
bt_init bench
bt_pki
bt_rabbit private
bt_mosquitto
QD=$(bt_queue direct)
QF=$(bt_queue forward)
QP=$(bt_queue protect)
QE=$(bt_queue envelopes)
bt_config <<EOF
identity: {cert: $PKI/service.pem, key: $PKI/service.key}
trust: {ca: [$PKI/ca.pem]}
security: {credentials: [certificate]}
routes:
  - {from: "mqtt:bench/fwd", to: "amqp:/amq/queue/$QF", action: forward}
  - {from: "mqtt:bench/prot", to: "amqp:/amq/queue/$QP", action: protect, service_cert: $PKI/service.pem}
  - {from: "mqtt:bench/env", to: "amqp:/amq/queue/$QE", action: protect, service_cert: $PKI/service.pem}
  - {from: "amqp:/amq/queue/$QE", to: "mqtt:bench/plain", action: unprotect}
EOF
bt_bridge_start
echo "generating $N envelopes (1 KiB payloads, RSA-2048 sender)..." >&2
"$LOAD" gen "$PKI/client-rsa.pem" "$PKI/client-rsa.key" "$PKI/service.pem" "$N" 1024 "$T/envelopes.bin"

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

consume_rate() { # consume_rate QUEUE PREFIX -> msgs/s seen by the AMQP consumer
    # (PREFIX "" for envelopes: their ids are encrypted, count distinct bodies)
    $CLIENTS amqp-recv --url "$AMQP_URL" --address "/amq/queue/$1" --expect "$N" --prefix "$2" \
        --timeout 600 --idle 1 > "$T/recv.json"
    [ "$(bt_json "$T/recv.json" missing_count)" = 0 ] && [ "$(bt_json "$T/recv.json" distinct)" -ge "$N" ] ||
        { echo "lost messages: $(head -c 200 "$T/recv.json")" >&2; exit 1; }
    bt_json "$T/recv.json" rate
}

declare -A rates
for run in $(seq 1 "$RUNS"); do
    # baseline: direct AMQP sender, consumer attached while it sends
    $CLIENTS amqp-send --url "$AMQP_URL" --address "/amq/queue/$QD" --count "$N" --records "$T/envelopes.bin" \
        > /dev/null &
    producer=$!
    rates[direct]+="$(consume_rate "$QD" "") "
    wait $producer
    $CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic bench/fwd --count "$N" --records "$T/envelopes.bin" \
        --timeout 600 > /dev/null &
    producer=$!
    rates[fwd]+="$(consume_rate "$QF" "") "
    wait $producer
    $CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic bench/prot --count "$N" --prefix "prot$run" --size 1024 \
        --timeout 600 > /dev/null &
    producer=$!
    rates[prot]+="$(consume_rate "$QP" "") "
    wait $producer
    # unprotect: the envelopes made by a protect route stream back to MQTT as plaintext
    $CLIENTS mqtt-sub --port "$MOSQ_PORT" --topic bench/plain --expect "$N" --prefix "u$run" --timeout 600 --idle 1 \
        --ready-file "$T/u$run.ready" > "$T/u.json" &
    sub=$!
    bt_wait_file "$T/u$run.ready"
    start=$(date +%s.%N)
    $CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic bench/env --count "$N" --prefix "u$run" --size 1024 --timeout 600 > /dev/null
    wait $sub
    end=$(date +%s.%N)
    [ "$(bt_json "$T/u.json" missing_count)" = 0 ] || { echo "unprotect lost messages" >&2; exit 1; }
    # protect + unprotect in sequence through the bridge: per-message cost of both
    rates[chain]+="$(awk -v n="$N" -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", n / (e - s) }') "
done

direct=$(echo "${rates[direct]}" | tr ' ' '\n' | grep . | median)
fwd=$(echo "${rates[fwd]}" | tr ' ' '\n' | grep . | median)
prot=$(echo "${rates[prot]}" | tr ' ' '\n' | grep . | median)
chain=$(echo "${rates[chain]}" | tr ' ' '\n' | grep . | median)
echo "bench_bridge: N=$N per run, RUNS=$RUNS, 1 KiB payloads, QoS 1, medians (msgs/s at the consumer)"
printf '  %-34s %10s   runs: %s\n' "direct AMQP sender of envelopes" "$direct" "${rates[direct]}"
printf '  %-34s %10s   runs: %s\n' "MQTT -> bridge forward -> AMQP" "$fwd" "${rates[fwd]}"
printf '  %-34s %10s   runs: %s\n' "MQTT -> bridge protect -> AMQP" "$prot" "${rates[prot]}"
printf '  %-34s %10s   runs: %s\n' "MQTT -> protect -> AMQP -> unprotect -> MQTT" "$chain" "${rates[chain]}"
awk -v f="$fwd" -v d="$direct" -v p="$prot" 'BEGIN {
    printf "  forward / direct = %.2f (target >= 0.70)\n  protect / direct = %.2f\n", f / d, p / d }'
