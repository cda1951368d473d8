#!/usr/bin/env bash
# The msgsec queue consumers (msgsec.amqp, msgsec.mqtt) against the test harness's real broker:
# starts RabbitMQ 3.10 with AMQP 1.0 (tests/lib/rabbitmq.sh) or Mosquitto 2.0
# (tests/lib/mosquitto.sh) on loopback, declares the queues, runs consumer_test.py.
#   run_consumer_test.sh amqp|mqtt      (env: TESTS_DIR, PY, MSGSEC_PKI, MSGSEC_LIBRARY, PYTHONPATH)
set -euo pipefail
kind=${1:?usage: run_consumer_test.sh amqp|mqtt}
: "${TESTS_DIR:?}" "${PY:=/usr/bin/python3}"
source "$TESTS_DIR/lib/rabbitmq.sh"
source "$TESTS_DIR/lib/mosquitto.sh"
T=$(mktemp -d "/tmp/msgsec-consumer-$kind.XXXXXX")
chmod 755 "$T"
cleanup() {
    local rc=$?
    [ -n "${MOSQ_PID:-}" ] && mosq_stop >/dev/null 2>&1
    [ -n "${RMQ_PID:-}" ] && rmq_stop >/dev/null 2>&1
    if [ $rc -ne 0 ] && [ "${MSGSEC_TEST_KEEP:-0}" = 1 ]; then
        echo "run_consumer_test: logs kept in $T" >&2
    else
        rm -rf "$T"
    fi
    exit $rc
}
trap cleanup EXIT
export WORK=$T/work
mkdir -p "$WORK"
case $kind in
amqp)
    rmq_start "$T/rabbit" >/dev/null
    export AMQP_URL=amqp://127.0.0.1:$RMQ_PORT AMQP_QUEUE_PREFIX=svc
    for q in stream poison poison.poison count count.poison reject.dlq; do
        rmq_declare_queue "svc-$q"
    done
    # svc-reject dead-letters what its consumers reject into svc-reject.dlq
    rmq_ctl eval 'rabbit_amqqueue:declare(rabbit_misc:r(<<"/">>, queue, <<"svc-reject">>), true,
        false, [{<<"x-dead-letter-exchange">>, longstr, <<"">>},
                {<<"x-dead-letter-routing-key">>, longstr, <<"svc-reject.dlq">>}],
        none, <<"msgsec-test">>).' >/dev/null
    ;;
mqtt)
    mkdir -p "$T/mosq"
    MOSQ_LOG_TYPES="error warning notice" mosq_start "$T/mosq"
    export MQTT_HOST=127.0.0.1 MQTT_PORT=$MOSQ_PORT
    ;;
*) echo "usage: run_consumer_test.sh amqp|mqtt" >&2; exit 2 ;;
esac
"$PY" "$TESTS_DIR/integration/service/consumer_test.py" "$kind"
