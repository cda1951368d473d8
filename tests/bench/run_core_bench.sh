#!/usr/bin/env bash
# Builds msgsec_bench_core if needed and prints the core benchmark table.
#   tests/bench/run_core_bench.sh [BUILD_DIR] [RUNS] [SECONDS_PER_RUN]
# Default BUILD_DIR: build-bench (RelWithDebInfo, -O2 as scripts/build.sh).
# Single thread; the figures are medians of RUNS timed runs (default 5 x 0.5 s
# of CPU time) with ratios against OpenSSL primitives measured in the same run.
# The username, issued and windows credentials are measured too: this script
# makes their password store and assertion with the msgsec command and starts a
# throwaway MIT KDC (tests/lib/kdc.sh) for windows; MSGSEC_BENCH_NO_KDC=1 skips it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-bench}
runs=${2:-5}
seconds=${3:-0.5}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMSGSEC_INTEGRATION_TESTS=OFF >/dev/null
fi
cmake --build "$build" --target msgsec_bench_core msgsec_cli -j2 >/dev/null
pki=$build/bench-pki
bash "$root/tests/lib/pki.sh" "$pki" >/dev/null
msgsec=$(find "$build/common" -maxdepth 1 -name msgsec -type f)

creds=$(mktemp -d)
# shellcheck source=../lib/kdc.sh
. "$root/tests/lib/kdc.sh"
trap 'kdc_stop; rm -rf "$creds"' EXIT
umask 077
head -c 18 /dev/urandom | base64 > "$creds/password"
"$msgsec" passwd "$creds/users" alice < "$creds/password" 2>/dev/null
"$msgsec" sts issue --cert "$pki/sts.pem" --key "$pki/sts.key" --subject alice \
  --subject-cert "$pki/client-rsa.pem" --audience urn:msgsec:service --lifetime 36000 \
  --out "$creds/assertion.xml"
if [ "${MSGSEC_BENCH_NO_KDC:-0}" != 1 ]; then
  kdc_start "$creds/kdc" EXAMPLE.COM
  kdc_adduser alice@EXAMPLE.COM alice-pw
  kdc_addprinc msgsec/orders@EXAMPLE.COM
  kdc_keytab "$creds/service.keytab" msgsec/orders@EXAMPLE.COM
  kdc_kinit alice@EXAMPLE.COM alice-pw
  echo msgsec/orders@EXAMPLE.COM > "$creds/spn"
fi
"$build/tests/bench/msgsec_bench_core" "$pki" "$runs" "$seconds" "$creds"
