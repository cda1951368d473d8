#!/usr/bin/env bash
# bench_plugin.sh - publish rate mosquitto sustains with an enforce rule
# (mosquitto_msgsec.so verifying every message) against the same mosquitto
# without the plugin, measured in the same run.
#
# usage: tests/bench/bench_plugin.sh [BUILD_DIR] [COUNT] [RUNS]
#   QoS 1, COUNT distinct envelopes (default 5000) of 1 KiB random payloads
#   signed by an RSA-2048 sender, one MQTT 5 publisher (100 in flight) and one
#   subscriber counting deliveries; RUNS alternating runs (default 3), medians.
#   Also prints the broker's CPU time per message (utime+stime), which other
#   load on the machine disturbs less than the rates.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
count=${2:-5000}
runs=${3:-3}
load=$build/tests/bench/bench_plugin_load
plugin=$build/plugin/mosquitto_msgsec.so
pki=$build/pki
# shellcheck source=../lib/mosquitto.sh
source "$root/tests/lib/mosquitto.sh"
for f in "$load" "$plugin"; do
    [ -x "$f" ] || [ -f "$f" ] || { echo "bench_plugin: missing $f (build first)" >&2; exit 2; }
done
bash "$root/tests/lib/pki.sh" "$pki"

work=$(mktemp -d /tmp/msgsec-bench-plugin.XXXXXX)
chmod 711 "$work"  # the broker user must traverse it
trap 'mosq_stop || true; rm -rf "$work"' EXIT

echo "generating $count envelopes (1 KiB payload, RSA-2048 sender)..." >&2
"$load" gen "$pki/client-rsa.pem" "$pki/client-rsa.key" "$pki/service.pem" "$count" 1024 \
    "$work/envelopes.bin"

export MOSQ_LOG_TYPES="error warning"
# utime + stime of the broker (robust to other load on the machine)
broker_cpu_ticks() { awk '{print $14 + $15}' "/proc/$MOSQ_PID/stat"; }
run_once() { # MODE RUN -> prints the rate
    local mode=$1 dir=$work/$1-$2 result
    mkdir -p "$dir"
    cp "$pki/ca.pem" "$dir/"
    {
        echo "max_queued_messages 0"
        echo "max_inflight_messages 0"
        if [ "$mode" = plugin ]; then
            echo "plugin $plugin"
            echo "plugin_opt_config $dir/msgsec.yaml"
        fi
    } > "$dir/extra.conf"
    printf 'trust: {ca: [%s]}\nrules:\n  - {topic: "orders/#", action: enforce, senders: ["CN=shop*"]}\n' \
        "$dir/ca.pem" > "$dir/msgsec.yaml"
    mosq_start "$dir"
    local cpu_before cpu_after
    cpu_before=$(broker_cpu_ticks)
    result=$("$load" run "$MOSQ_PORT" orders/bench "$work/envelopes.bin" 100)
    cpu_after=$(broker_cpu_ticks)
    mosq_stop
    read -r sent acked denied received seconds rate <<<"$result"
    local cpu_us=$(( (cpu_after - cpu_before) * 1000000 / $(getconf CLK_TCK) / sent ))
    echo "  $mode run $2: sent=$sent acked=$acked denied=$denied received=$received" \
         "seconds=$seconds rate=$rate msg/s broker_cpu=${cpu_us} us/msg" >&2
    if [ "$denied" != 0 ] || [ "$received" != "$sent" ]; then
        echo "bench_plugin: $mode run $2 lost or denied messages" >&2
        exit 1
    fi
    echo "$rate"
}

plain=() with=()
for r in $(seq 1 "$runs"); do
    plain+=("$(run_once plain "$r")")
    with+=("$(run_once plugin "$r")")
done
# the same verifications in one process, without a broker
read -r _ _ _ verify_us < <("$load" verify "$work/plugin-1/msgsec.yaml" "$work/envelopes.bin")
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
p=$(median "${plain[@]}")
w=$(median "${with[@]}")
awk -v p="$p" -v w="$w" -v n="$count" -v r="$runs" -v v="$verify_us" 'BEGIN {
    printf "bench_plugin: %d msgs x %d runs, QoS 1, 1 KiB payload, RSA-2048\n", n, r
    printf "  without plugin: %d msg/s (median)\n", p
    printf "  with enforce rule: %d verified msg/s (median)\n", w
    printf "  ratio: %.2f (target >= 0.25; absolute target >= 5000 msg/s)\n", w / p
    printf "  msgsec_verify alone, in process: %.0f us CPU per message\n", v
}'
