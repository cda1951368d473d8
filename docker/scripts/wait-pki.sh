#!/bin/sh
# wait-pki.sh CMD...: wait (up to PKI_WAIT seconds, default 120) for the PKI job's /pki/.ready,
# then exec CMD. Lets every service start in any order under compose implementations that
# do not wait for a one-shot job to complete.
set -eu
trap 'exit 143' TERM INT    # PID 1 ignores signals it does not handle
n=${PKI_WAIT:-120}
while [ ! -f "${PKI_DIR:-/pki}/.ready" ]; do
    n=$((n - 1))
    if [ "$n" -le 0 ]; then
        echo "wait-pki: ${PKI_DIR:-/pki}/.ready did not appear; did the pki job fail?" >&2
        exit 1
    fi
    sleep 1
done
exec "$@"
