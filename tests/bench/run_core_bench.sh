#!/usr/bin/env bash
# Builds msgsec_bench_core if needed and prints the core benchmark table.
#   tests/bench/run_core_bench.sh [BUILD_DIR] [RUNS] [SECONDS_PER_RUN]
# Default BUILD_DIR: build-bench (RelWithDebInfo, -O2 as scripts/build.sh).
# Single thread; the figures are medians of RUNS timed runs (default 5 x 0.5 s
# of CPU time) with ratios against OpenSSL primitives measured in the same run.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-bench}
runs=${2:-5}
seconds=${3:-0.5}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMSGSEC_INTEGRATION_TESTS=OFF >/dev/null
fi
cmake --build "$build" --target msgsec_bench_core -j2 >/dev/null
bash "$root/tests/lib/pki.sh" "$build/bench-pki" >/dev/null
exec "$build/tests/bench/msgsec_bench_core" "$build/bench-pki" "$runs" "$seconds"
