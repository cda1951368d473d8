#!/usr/bin/env bash
# msgsec-bridge benchmark (a command, not a test):
#
#   tests/bench/bench_bridge.sh [BUILD_DIR]              (default: build)
#   tests/bench/bench_bridge.sh --workers [BUILD_DIR]    (crypto worker scaling)
#
# Default mode: end to end MQTT -> bridge -> RabbitMQ -> AMQP consumer, QoS 1,
# consumer-side msgs/s (first to last message), median of RUNS:
#   direct   : a direct AMQP sender of N envelopes (1 KiB payloads, RSA-2048
#              sender, made by bench_plugin_load gen) into a queue (baseline,
#              same consumer)
#   forward  : MQTT publisher of the same envelopes -> bridge (forward) -> queue
#   protect  : MQTT publisher of 1 KiB plaintexts -> bridge (protect: wrap for
#              the service) -> queue
#   unprotect: queue of envelopes -> bridge (unprotect) -> MQTT subscriber
#
# --workers: `protect` with bridge.workers 1 and 2, alternately, RUNS times
# each. Every run drains a backlog: N plaintexts are published while the
# bridge is down (its persistent session queues them at Mosquitto), then the
# bridge starts and is timed by tests/bench/bench_drain.py from the first
# message routed to the last one settled (accepted) by RabbitMQ, so no
# publisher or consumer runs during the measurement. Prints the medians,
# their ratio, and the CPU per message of the bridge, Mosquitto and RabbitMQ
# (where the limit is).
# Env: N (messages per run, default 3000), RUNS (default 3; --workers: 5).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MODE=default
if [ "${1:-}" = --workers ]; then
    MODE=workers
    shift
fi
BUILD=${1:-$ROOT/build}
export TESTS_DIR=$ROOT/tests PY=/usr/bin/python3
export BRIDGE_BIN=${BRIDGE_BIN:-$BUILD/bridge/msgsec-bridge}
LOAD=$BUILD/tests/bench/bench_plugin_load
for f in "$BRIDGE_BIN" "$LOAD"; do
    [ -x "$f" ] || { echo "bench_bridge: build first ($f missing)" >&2; exit 2; }
done
N=${N:-3000}
source "$ROOT/tests/integration/bridge/common.sh"
bt_init bench
bt_pki
bt_rabbit private
bt_mosquitto

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
med() { echo "$1" | tr ' ' '\n' | grep . | median; }

# --workers: the configuration of a protect route with bridge.workers $1
# ("" = the default).
scaling_config() {
    bt_config <<EOF
identity: {cert: $PKI/service.pem, key: $PKI/service.key}
${1:+bridge: {workers: $1\}}
routes:
  - {from: "mqtt:bench/scale", to: "amqp:/amq/queue/$QS", action: protect, service_cert: $PKI/service.pem}
EOF
}

# --workers: one drain of N queued plaintexts with bridge.workers $1
# (message prefix $2); prints the JSON of bench_drain.py.
drain_run() {
    scaling_config "$1"
    $CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic bench/scale --count "$N" --prefix "s$2" --size 1024 \
        --timeout 600 > /dev/null
    "$BRIDGE_BIN" --config "$T/bridge.yaml" >>"$T/bridge.log" 2>&1 &
    BRIDGE_PID=$!
    $PY "$ROOT/tests/bench/bench_drain.py" --metrics "http://127.0.0.1:$METRICS_PORT/metrics" \
        --count "$N" --pid "$BRIDGE_PID" --proc "mosquitto=$MOSQ_DIR" --proc "rabbitmq=RABBITMQ_NODENAME=$RMQ_NODE" \
        > "$T/drain.json" || fail "drain with $1 worker(s) did not complete"
    bt_bridge_term || fail "bridge exited with an error"
    local depth
    depth=$(rmq_queue_depth "$QS")
    [ "$depth" = "$N" ] || fail "lost messages: $depth of $N in the queue"
    rmq_ctl purge_queue "$QS" > /dev/null
    cat "$T/drain.json"
}

if [ "$MODE" = workers ]; then
    RUNS=${RUNS:-5}
    QS=$(bt_queue scaling)
    # a first start makes the bridge's persistent session and its subscription
    scaling_config ""
    bt_bridge_start
    bt_bridge_term
    declare -A rate cpu mosq rabbit busy others
    for run in $(seq 1 "$RUNS"); do
        for w in 1 2; do
            out=$(drain_run "$w" "$run-$w")
            echo "run $run workers=$w: $out" >&2
            echo "$out" > "$T/out.json"
            rate[$w]+="$(bt_json "$T/out.json" rate) "
            cpu[$w]+="$(bt_json "$T/out.json" cpu_per_msg.bridge) "
            mosq[$w]+="$(bt_json "$T/out.json" cpu_per_msg.mosquitto) "
            rabbit[$w]+="$(bt_json "$T/out.json" cpu_per_msg.rabbitmq) "
            busy[$w]+="$(bt_json "$T/out.json" busy) "
            others[$w]+="$(bt_json "$T/out.json" others) "
        done
    done
    echo "bench_bridge --workers: N=$N per run, RUNS=$RUNS, protect of 1 KiB plaintexts" \
        "(RSA-2048 identity), backlog drained MQTT -> bridge -> RabbitMQ, medians, $(nproc) CPUs"
    for w in 1 2; do
        printf '  workers=%s %8s msgs/s; CPU ms/msg: bridge %s, mosquitto %s, rabbitmq %s; machine busy %s, other jobs %s CPUs\n' \
            "$w" "$(med "${rate[$w]}")" "$(med "${cpu[$w]}")" "$(med "${mosq[$w]}")" \
            "$(med "${rabbit[$w]}")" "$(med "${busy[$w]}")" "$(med "${others[$w]}")"
        printf '            runs (msgs/s): %s\n' "${rate[$w]}"
    done
    # the runs alternate, so a run's two drains saw about the same machine
    pairs=$(paste <(echo "${rate[1]}" | tr ' ' '\n' | grep .) <(echo "${rate[2]}" | tr ' ' '\n' | grep .) |
        awk '{ printf "%.2f ", $2 / $1 }')
    awk -v a="$(med "${rate[1]}")" -v b="$(med "${rate[2]}")" -v p="$(med "$pairs")" -v runs="$pairs" \
        'BEGIN { printf "  workers=2 / workers=1 = %.2f (target >= 1.60); median of the runs'"'"' ratios %.2f (%s)\n",
                 b / a, p, runs }'
    # where the limit is: with every CPU busy for these processes and nothing
    # else, no number of workers drains faster than CPUs / (CPU per message)
    awk -v cpus="$(nproc)" -v a="$(med "${rate[1]}")" -v br="$(med "${cpu[2]}")" \
        -v mq="$(med "${mosq[2]}")" -v rb="$(med "${rabbit[2]}")" 'BEGIN {
        ceiling = 1000 * cpus / (br + mq + rb)
        printf "  CPU ceiling (workers=2 CPU/msg, all %d CPUs ours): %.0f msgs/s = %.2f x workers=1\n",
            cpus, ceiling, ceiling / a }'
    exit 0
fi

RUNS=${RUNS:-3}
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

direct=$(med "${rates[direct]}")
fwd=$(med "${rates[fwd]}")
prot=$(med "${rates[prot]}")
chain=$(med "${rates[chain]}")
echo "bench_bridge: N=$N per run, RUNS=$RUNS, 1 KiB payloads, QoS 1, medians (msgs/s at the consumer)"
printf '  %-34s %10s   runs: %s\n' "direct AMQP sender of envelopes" "$direct" "${rates[direct]}"
printf '  %-34s %10s   runs: %s\n' "MQTT -> bridge forward -> AMQP" "$fwd" "${rates[fwd]}"
printf '  %-34s %10s   runs: %s\n' "MQTT -> bridge protect -> AMQP" "$prot" "${rates[prot]}"
printf '  %-34s %10s   runs: %s\n' "MQTT -> protect -> AMQP -> unprotect -> MQTT" "$chain" "${rates[chain]}"
awk -v f="$fwd" -v d="$direct" -v p="$prot" 'BEGIN {
    printf "  forward / direct = %.2f (target >= 0.70)\n  protect / direct = %.2f\n", f / d, p / d }'
