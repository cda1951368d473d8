#!/usr/bin/env bash
# ctest fixture: one RabbitMQ node shared by the bridge tests (its start is slow).
#   rmq_fixture.sh start DIR   starts it and writes DIR/env.sh (sourced by the tests)
#   rmq_fixture.sh stop DIR    stops it and removes DIR
set -euo pipefail
: "${TESTS_DIR:?}"
source "$TESTS_DIR/lib/rabbitmq.sh"
cmd=${1:?start|stop}
dir=${2:?DIR}
case $cmd in
start)
    rm -rf "$dir"
    mkdir -p "$dir"
    rmq_start "$dir/node"
    declare -p RMQ_PORT RMQ_DIST_PORT RMQ_EPMD_PORT RMQ_NODE RMQ_PORTS_DIR RMQ_DIR RMQ_LOG RMQ_PID \
        | sed 's/^declare -- /export /; s/^declare -x /export /' > "$dir/env.sh"
    # the node outlives this script: the stop fixture ends it by pid
    disown -a
    ;;
stop)
    if [ -f "$dir/env.sh" ]; then
        source "$dir/env.sh"
        rmq_stop
    fi
    rm -rf "$dir"
    ;;
esac
