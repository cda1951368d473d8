#!/usr/bin/env bash
# Quick start, second command: install what is missing, build, run every test.
#   scripts/test.sh            whole suite (unit, fuzz corpus, interop, integration, docker)
#   scripts/test.sh -L unit    any ctest arguments select a subset
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The deployment test (podman-compose stack) needs root; it skips itself otherwise.
# MSGSEC_DOCKER_TESTS=0 leaves it out.
scripts/build.sh -DMSGSEC_DOCKER_TESTS="${MSGSEC_DOCKER_TESTS:-1}"

echo "== ctest (build/)"
(cd build && ctest --output-on-failure --timeout 900 "$@")

# The unit tests and the fuzz corpus once more under AddressSanitizer+UBSan
# (clang, with the libFuzzer target built), then a short libFuzzer run.
if [ $# -eq 0 ]; then
  echo "== ctest under ASan+UBSan (build-asan/)"
  cmake -S . -B build-asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
    -DMSGSEC_SANITIZE=ON -DMSGSEC_FUZZ=ON -DMSGSEC_INTEGRATION_TESTS=OFF \
    -DMSGSEC_BUILD_BRIDGE=OFF -DMSGSEC_BUILD_PLUGIN=OFF >/dev/null
  cmake --build build-asan -j"$(nproc)"
  export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
  (cd build-asan && ctest --output-on-failure --timeout 900 -L 'unit|fuzz')
  echo "== libFuzzer smoke run of fuzz_unwrap (30 s)"
  rm -rf build-asan/fuzz-corpus && mkdir -p build-asan/fuzz-corpus
  MSGSEC_PKI=build-asan/test-pki build-asan/tests/fuzz/fuzz_unwrap -max_total_time=30 \
    -max_len=65536 -print_final_stats=1 build-asan/fuzz-corpus tests/fuzz/corpus 2>&1 | tail -n 12
  echo "== libFuzzer smoke run of fuzz_mqtt_packet (15 s)"
  rm -rf build-asan/fuzz-mqtt-corpus && mkdir -p build-asan/fuzz-mqtt-corpus
  build-asan/tests/fuzz/fuzz_mqtt_packet -max_total_time=15 -max_len=4096 -print_final_stats=1 \
    build-asan/fuzz-mqtt-corpus 2>&1 | tail -n 12
  echo "== libFuzzer smoke run of fuzz_xml_fast (15 s)"
  rm -rf build-asan/fuzz-xml-corpus && mkdir -p build-asan/fuzz-xml-corpus
  build-asan/tests/fuzz/fuzz_xml_fast -max_total_time=15 -max_len=16384 -print_final_stats=1 \
    build-asan/fuzz-xml-corpus tests/fuzz/corpus 2>&1 | tail -n 12
fi
