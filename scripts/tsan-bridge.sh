#!/usr/bin/env bash
# Builds msgsec-bridge (and libmsgsec, the msgsec command) with
# ThreadSanitizer (clang) into build-tsan/ and runs the bridge's tests there
# once. qpid-proton, Paho, libmicrohttpd, LMDB and OpenSSL are not
# instrumented: TSan sees their locks (it intercepts pthread) but not their
# memory accesses, so no suppressions are needed for them. Reports go to
# build-tsan/tsan/report.PID; the script fails if there is any.
#
#   scripts/tsan-bridge.sh [CTEST-REGEX]      (default: 'bridge_')
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-tsan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMSGSEC_WERROR=ON \
  -DMSGSEC_BUILD_PLUGIN=OFF "-DCMAKE_C_FLAGS=-fsanitize=thread -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread >/dev/null
cmake --build build-tsan -j"$(nproc)" --target msgsec-bridge msgsec_cli test_bridge_spool
rm -rf build-tsan/tsan && mkdir -p build-tsan/tsan
# exitcode=0: a report must not change what a test sees; it is counted below
export TSAN_OPTIONS="log_path=$PWD/build-tsan/tsan/report exitcode=0 second_deadlock_stack=1"
rc=0
(cd build-tsan && ctest --output-on-failure -R "${1:-bridge_}") || rc=$?
reports=$(find build-tsan/tsan -name 'report.*' | wc -l)
echo "tsan-bridge: $reports report(s) in build-tsan/tsan"
[ "$reports" -eq 0 ] || { cat build-tsan/tsan/report.* | head -n 80; rc=1; }
exit $rc
