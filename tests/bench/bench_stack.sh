#!/usr/bin/env bash
# End-to-end rate of the docker stack's chain: MQTT -> Mosquitto + plugin -> msgsec-bridge ->
# RabbitMQ -> Python service (msgsec.amqp), and the stage that limits it.
#   tests/bench/bench_stack.sh [N]       (as root: rootful podman; N messages, default 2000)
# Runs tests/docker/compose_test.sh (images, stack, its checks) with MSGSEC_BENCH_E2E=N: then N
# orders of 1 KiB wrapped in process by tests/bench/stack_publish.py go out over one MQTT 5/TLS
# connection, the bridge's counters and RabbitMQ's queue depth are sampled, and
# tests/bench/stack_report.py prints each stage's finish time and rate.
# MSGSEC_SKIP_BUILD=1 reuses the images.
set -euo pipefail
MSGSEC_BENCH_E2E=${1:-2000} exec "$(dirname "$0")/../docker/compose_test.sh" "$(cd "$(dirname "$0")/../.." && pwd)"
