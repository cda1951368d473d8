#!/usr/bin/env bash
# Python binding benchmark: msgsec.Receiver.unwrap against the C library in process and
# against `msgsec unwrap` run once per message, in the same run (tests/bench/bench_python.py).
#   tests/bench/bench_python.sh [BUILD_DIR] [ROUNDS] [ENVELOPES]
# Default BUILD_DIR: build-bench (RelWithDebInfo, -O2, as run_core_bench.sh); 5 rounds of
# 2000 envelopes. Uses /usr/bin/python3 (Debian's).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-bench}
rounds=${2:-5}
count=${3:-2000}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMSGSEC_INTEGRATION_TESTS=OFF >/dev/null
fi
cmake --build "$build" --target msgsec msgsec_cli msgsec_bench_unwrap -j2 >/dev/null
build=$(cd "$build" && pwd)
pki=$build/bench-pki
bash "$root/tests/lib/pki.sh" "$pki" >/dev/null
MSGSEC_LIBRARY=$build/common/libmsgsec.so PYTHONPATH=$root/common/python \
  /usr/bin/python3 "$root/tests/bench/bench_python.py" "$build" "$pki" "$rounds" "$count"
