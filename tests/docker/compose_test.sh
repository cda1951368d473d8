#!/usr/bin/env bash
# End-to-end deployment test of docker/compose.yaml with rootful podman + podman-compose.
#
#   tests/docker/compose_test.sh [REPO_DIR]
#
# 1. installs/configures podman (docker/setup-podman.sh) and builds the debootstrap base image
#    unless it exists (docker/build-base-image.sh);
# 2. builds the msgsec images from a clean copy of the work tree (tracked + untracked, not
#    ignored files: no host build trees);
# 3. brings the stack up under its own compose project, waits for the healthchecks, runs the
#    demo sender for DEMO_COUNT messages carrying a random marker, plus one plaintext publish
#    that the broker plugin must drop;
# 4. asserts the demo service printed every message with identity CN=shop1 and the right
#    payload, and nothing else; then stops the stack and asserts that neither marker appears
#    in the logs of Mosquitto, RabbitMQ or the bridge, nor in their volumes (persistence,
#    replay cache, spool);
# 5. tears everything down (containers, network, volumes) whatever happened.
#
# Env: DEMO_COUNT (5), MSGSEC_TEST_SOURCE=worktree|head (what goes into the image: the work
#      tree, default, or the committed HEAD), MSGSEC_SKIP_BUILD=1 (reuse existing images),
#      MSGSEC_REQUIRE (override the Dockerfile's list of required binaries), MSGSEC_TEST_KEEP=1 (leave the stack up on failure, for debugging),
#      MSGSEC_TEST_TIMEOUT (seconds to wait for delivery, 120),
#      MSGSEC_BENCH_E2E=N (after the checks, measure the chain's end-to-end rate with N more
#      messages: tests/bench/bench_stack.sh).
set -euo pipefail

repo=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
COUNT=${DEMO_COUNT:-5}
TIMEOUT=${MSGSEC_TEST_TIMEOUT:-120}
export MSGSEC_TAG=${MSGSEC_TAG:-latest}
project=msgsec-test-$$
compose_file=$repo/docker/compose.yaml
marker="msgsec-docker-test-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
plain_marker="msgsec-plaintext-probe-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
t0=$(date +%s)

log()  { echo "[compose_test +$(( $(date +%s) - t0 ))s] $*"; }
fail() { echo "[compose_test] FAIL: $*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
    echo "[compose_test] SKIP: needs root for rootful podman" >&2
    exit 77
fi

work=$(mktemp -d /var/tmp/msgsec-compose-test.XXXXXX)
stack_up=0
# podman-compose prints every podman command it runs; keep that in a file and show it on failure.
pc() { podman-compose -p "$project" -f "$compose_file" "$@" >>"$work/podman-compose.log" 2>&1; }
cname() {   # container of a compose service (by label; podman-compose 1.0.3 names it PROJECT_SVC_1)
    local n
    n=$(podman ps -a --filter "label=io.podman.compose.project=$project" \
            --filter "label=com.docker.compose.service=$1" --format '{{.Names}}' 2>/dev/null | head -1)
    echo "${n:-${project}_$1_1}"
}

bridge_sampler= queue_sampler=
cleanup() {
    local rc=$?
    set +e
    [ -n "$bridge_sampler$queue_sampler" ] && kill $bridge_sampler $queue_sampler 2>/dev/null
    if [ "$rc" -ne 0 ] && [ "$stack_up" -eq 1 ]; then
        echo "---- podman-compose (last 40 lines)"; tail -40 "$work/podman-compose.log"
        for s in pki mosquitto rabbitmq bridge service sender; do
            echo "---- logs: $s"; podman logs --tail 40 "$(cname "$s")" 2>&1
        done
    fi
    if [ "$stack_up" -eq 1 ]; then
        if [ "$rc" -ne 0 ] && [ "${MSGSEC_TEST_KEEP:-0}" = 1 ]; then
            echo "[compose_test] MSGSEC_TEST_KEEP=1: leaving project $project up" >&2
        else
            podman-compose -p "$project" -f "$compose_file" down -v >/dev/null 2>&1
            # down -v in podman-compose 1.0.3 may leave the project's volumes/network behind
            podman ps -aq --filter "label=io.podman.compose.project=$project" | xargs -r podman rm -f >/dev/null 2>&1
            podman volume ls -q --filter "label=io.podman.compose.project=$project" | xargs -r podman volume rm -f >/dev/null 2>&1
            podman network ls -q --filter "label=io.podman.compose.project=$project" | xargs -r podman network rm -f >/dev/null 2>&1
        fi
    fi
    rm -rf "$work"
    log "exit $rc"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- 1. podman + base image
log "setting up podman"
"$repo/docker/setup-podman.sh" >"$work/setup.log" 2>&1 || { cat "$work/setup.log"; fail "setup-podman.sh"; }
log "base image"
"$repo/docker/build-base-image.sh" 2>&1 | sed 's/^/    /'

# ---------------------------------------------------------------- 2. images
if [ "${MSGSEC_SKIP_BUILD:-0}" = 1 ]; then
    log "MSGSEC_SKIP_BUILD=1: using the existing images"
else
log "preparing a clean build context (${MSGSEC_TEST_SOURCE:-worktree})"
mkdir -p "$work/ctx"
if [ "${MSGSEC_TEST_SOURCE:-worktree}" = head ]; then
    # The committed tree only (others' half-edited files stay out of the image).
    git -C "$repo" archive HEAD | tar -C "$work/ctx" -xf -
elif git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Tracked and untracked files, without ignored ones (host build trees).
    (cd "$repo" && git ls-files -z --cached --others --exclude-standard \
        | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
        | tar --null -T - -cf -) | tar -C "$work/ctx" -xf -
else
    tar -C "$repo" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$work/ctx" -xf -
fi
log "building images (localhost/msgsec:$MSGSEC_TAG, msgsec-demo, msgsec-rabbitmq)"
# The build stage is tagged too, so that pruning untagged leftovers keeps its cached layers.
for spec in "build:localhost/msgsec-build" "runtime:localhost/msgsec" "demo:localhost/msgsec-demo"; do
    target=${spec%%:*}; image=${spec#*:}
    podman build --layers -f "$work/ctx/docker/Dockerfile" --target "$target" \
        ${MSGSEC_REQUIRE+--build-arg "MSGSEC_REQUIRE=$MSGSEC_REQUIRE"} \
        -t "$image:$MSGSEC_TAG" "$work/ctx" >"$work/build-$target.log" 2>&1 \
        || { tail -60 "$work/build-$target.log"; fail "podman build --target $target"; }
done
podman build --layers -f "$work/ctx/docker/Dockerfile.rabbitmq" -t "localhost/msgsec-rabbitmq:$MSGSEC_TAG" \
    "$work/ctx/docker" >"$work/build-rabbitmq.log" 2>&1 \
    || { tail -60 "$work/build-rabbitmq.log"; fail "podman build rabbitmq"; }
# Earlier builds' images that lost their tags: drop them (ours only), keep the layer cache.
podman image prune -f --filter label=org.msgsec.stack=1 >/dev/null 2>&1 || true
log "images built"
fi

# ---------------------------------------------------------------- 3. stack up
# A free loopback port for the published MQTT/TLS listener (only port the stack publishes).
MSGSEC_MQTT_PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export MSGSEC_MQTT_PORT MSGSEC_DEMO_COUNT=$COUNT MSGSEC_DEMO_TEXT="order for 3 widgets $marker"
unset MSGSEC_PKI

log "starting stack $project (MQTT/TLS published on 127.0.0.1:$MSGSEC_MQTT_PORT)"
stack_up=1
pc up -d pki mosquitto rabbitmq bridge service || fail "podman-compose up"

wait_for() {  # wait_for SECONDS DESCRIPTION CMD...
    local secs=$1 what=$2; shift 2
    local end=$(( $(date +%s) + secs ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || fail "timed out after ${secs}s waiting for $what"
        sleep 2
    done
    log "$what: ok"
}
pki_done() { [ "$(podman inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$(cname pki)")" = "exited 0" ]; }
healthy()  { podman healthcheck run "$(cname "$1")"; }

wait_for 120 "pki job" pki_done
wait_for 90 "mosquitto healthcheck" healthy mosquitto
wait_for 120 "rabbitmq healthcheck" healthy rabbitmq
wait_for 90 "bridge healthcheck (/healthz)" healthy bridge
podman inspect -f '{{.State.Running}}' "$(cname service)" | grep -qx true || fail "demo service is not running"

# The MQTT/TLS port is published on loopback only.
podman port "$(cname mosquitto)" | grep -q "127.0.0.1:$MSGSEC_MQTT_PORT" || fail "mosquitto port not published on loopback"
for s in rabbitmq bridge service; do
    [ -z "$(podman port "$(cname "$s")")" ] || fail "$s publishes a port"
done

# ---------------------------------------------------------------- 4. traffic
log "plaintext probe: an unsecured publish on orders/new must be dropped by the plugin"
podman run --rm --network "${project}_msgsec" --user 10003:10000 \
    -v "${project}_pki:/pki:ro" "localhost/msgsec-demo:$MSGSEC_TAG" \
    sh -c 'printf %s "$1" | mosquitto_pub -h mosquitto -p 8883 -V mqttv5 -q 1 --cafile /pki/ca.crt \
             --cert /pki/certs/shop1.crt --key /pki/private/shop1.key -i probe -t orders/new -s; echo "mosquitto_pub exit $?"' \
    sh "$plain_marker" >"$work/probe.log" 2>&1 || true
sed 's/^/    /' "$work/probe.log"
grep -q "Not authorized" "$work/probe.log" || fail "the plaintext publish was not refused with 'Not authorized' (0x87)"

log "demo sender: $COUNT secured messages"
pc up -d sender || fail "podman-compose up sender"
sender=$(cname sender)
wait_for 180 "demo sender finished" sh -c "[ \"\$(podman inspect -f '{{.State.Status}}' $sender)\" = exited ]"
podman logs "$sender" 2>&1 | sed 's/^/    sender| /'
[ "$(podman inspect -f '{{.State.ExitCode}}' "$sender")" = 0 ] || fail "demo sender failed"

received() { podman logs "$(cname service)" 2>/dev/null | grep -c '^RECEIVED ' || true; }
end=$(( $(date +%s) + TIMEOUT ))
while [ "$(received)" -lt "$COUNT" ] && [ "$(date +%s)" -lt "$end" ]; do sleep 2; done
sleep 3   # anything beyond COUNT (a duplicate, the probe) would show up now
podman logs "$(cname service)" >"$work/service.log" 2>&1
sed 's/^/    service| /' "$work/service.log"

/usr/bin/python3 - "$work/service.log" "$COUNT" "$marker" "$plain_marker" <<'PY' || fail "demo service output"
import json, sys
path, count, marker, plain = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
got, problems = [], []
for line in open(path, encoding="utf-8", errors="replace"):
    kind, _, rest = line.rstrip("\n").partition(" ")
    if kind == "RECEIVED":
        got.append(json.loads(rest))
    elif kind in ("REJECTED", "DUPLICATE"):
        problems.append(line.strip())
    if plain in line:
        problems.append("plaintext probe reached the service: " + line.strip())
want = {"order for 3 widgets %s #%d" % (marker, i) for i in range(1, count + 1)}
payloads = [g["payload"] for g in got]
errors = []
if sorted(payloads) != sorted(want):
    errors.append("payloads: want %s, got %s" % (sorted(want), sorted(payloads)))
for g in got:
    ident = g.get("identity") or ""
    if "CN=shop1" not in ident.split(",") and not ident.startswith("CN=shop1"):
        errors.append("identity %r is not CN=shop1" % ident)
    if g.get("credential_type") != "certificate":
        errors.append("credential_type %r" % g.get("credential_type"))
ids = [g.get("message_id") for g in got]
if len(set(ids)) != len(ids):
    errors.append("duplicate message ids %s" % ids)
errors += problems
if errors:
    print("\n".join(errors)); sys.exit(1)
print("    all %d messages received once, from %s" % (count, got[0]["identity"]))
PY
log "service received all $COUNT messages from CN=shop1"

# ---------------------------------------------------------------- 4b. end-to-end rate (opt-in)
if [ -n "${MSGSEC_BENCH_E2E:-}" ]; then
    n=$MSGSEC_BENCH_E2E bench=$work/bench bench_marker="msgsec-bench-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
    mkdir -p "$bench" && chmod 777 "$bench"
    log "end-to-end benchmark: $n messages (tests/bench/stack_publish.py, stack_report.py)"
    ( while :; do   # the bridge's delivered counter
        m=$(podman exec "$(cname bridge)" curl -s 127.0.0.1:9464/metrics 2>/dev/null) || true
        echo "$(date +%s.%N) $(echo "$m" | awk '/^msgsec_bridge_delivered_total\{side="amqp"\}/ {print $2}')"
        sleep 0.2
      done >"$bench/bridge.samples" ) &
    bridge_sampler=$!
    ( while :; do   # RabbitMQ's queue depth (each rabbitmqctl call takes a second or two)
        q=$(podman exec "$(cname rabbitmq)" rabbitmqctl -q list_queues name messages_ready \
              messages_unacknowledged --no-table-headers 2>/dev/null | awk '$1 == "orders" {print $2, $3}') || true
        echo "$(date +%s.%N) $q"
      done >"$bench/queue.samples" ) &
    queue_sampler=$!
    sleep 1
    podman run --rm --network "${project}_msgsec" --user 10003:10000 \
        -v "${project}_pki:/pki:ro" -v "$repo/tests/bench/stack_publish.py:/bench/stack_publish.py:ro" \
        -v "$bench:/out" "localhost/msgsec-demo:$MSGSEC_TAG" \
        /usr/bin/python3 /bench/stack_publish.py "$n" "$bench_marker" /out/publish.json 2>&1 \
        | sed 's/^/    /' || fail "benchmark publisher"
    bench_received() { podman logs "$(cname service)" 2>/dev/null | grep -c "^RECEIVED .*$bench_marker" || true; }
    end=$(( $(date +%s) + 120 + n / 10 ))
    while [ "$(bench_received)" -lt "$n" ] && [ "$(date +%s)" -lt "$end" ]; do sleep 1; done
    sleep 2
    kill "$bridge_sampler" "$queue_sampler" 2>/dev/null; wait "$bridge_sampler" "$queue_sampler" 2>/dev/null || true
    bridge_sampler= queue_sampler=
    podman logs -t "$(cname service)" >"$bench/service.log" 2>&1
    /usr/bin/python3 "$repo/tests/bench/stack_report.py" "$bench/publish.json" "$bench/bridge.samples" \
        "$bench/queue.samples" "$bench/service.log" "$bench_marker" | sed 's/^/    /' \
        || fail "end-to-end benchmark incomplete"
    # the service alone: N more wait in RabbitMQ's queue while it is stopped, then it drains them
    drain_marker=$bench_marker-drain
    podman stop -t 10 "$(cname service)" >/dev/null
    podman run --rm --network "${project}_msgsec" --user 10003:10000 \
        -v "${project}_pki:/pki:ro" -v "$repo/tests/bench/stack_publish.py:/bench/stack_publish.py:ro" \
        -v "$bench:/out" "localhost/msgsec-demo:$MSGSEC_TAG" \
        /usr/bin/python3 /bench/stack_publish.py "$n" "$drain_marker" /out/drain.json >/dev/null 2>&1 \
        || fail "benchmark publisher (drain)"
    queued() { podman exec "$(cname rabbitmq)" rabbitmqctl -q list_queues name messages_ready \
                 --no-table-headers 2>/dev/null | awk '$1 == "orders" {print $2}'; }
    end=$(( $(date +%s) + 120 + n / 10 ))
    while [ "$(queued)" != "$n" ] && [ "$(date +%s)" -lt "$end" ]; do sleep 1; done
    podman start "$(cname service)" >/dev/null
    drained() { podman logs "$(cname service)" 2>/dev/null | grep -c "^RECEIVED .*$drain_marker" || true; }
    while [ "$(drained)" -lt "$n" ] && [ "$(date +%s)" -lt "$end" ]; do sleep 1; done
    podman logs -t "$(cname service)" >"$bench/service.log" 2>&1
    /usr/bin/python3 "$repo/tests/bench/stack_report.py" drain "$bench/service.log" "$drain_marker" \
        "$n" | sed 's/^/    /' || fail "drain benchmark incomplete"
fi

# ---------------------------------------------------------------- 5. no plaintext at brokers
# Stop the brokers and the bridge cleanly first, so Mosquitto writes its persistence file and
# RabbitMQ flushes its message store.
pc stop -t 30 || true
for s in mosquitto rabbitmq bridge; do
    podman logs "$(cname "$s")" >"$work/$s.log" 2>&1 || true
done
grep -q "$marker" "$work/service.log" || fail "control: marker not found in service output"
echo "    what the plugin logged:"
grep -a 'msgsec:' "$work/mosquitto.log" | head -5 | sed 's/^/    mosquitto| /' || true
grep -a -q "msgsec:.*'probe'.*orders/new" "$work/mosquitto.log" \
    || fail "mosquitto's log has no msgsec line about the refused plaintext publish"
found=0
for s in mosquitto rabbitmq bridge; do
    for m in "$marker" "$plain_marker"; do
        if grep -a -q -F "$m" "$work/$s.log"; then
            echo "    plaintext marker $m found in $s logs:"; grep -a -F "$m" "$work/$s.log" | head -3
            found=1
        fi
    done
done
for v in mosquitto-data rabbitmq-data bridge-data; do
    mp=$(podman volume inspect -f '{{.Mountpoint}}' "${project}_$v") || fail "volume $v"
    nfiles=$(find "$mp" -type f | wc -l)
    log "volume $v: $nfiles files, $(du -sh "$mp" | cut -f1)"
    for m in "$marker" "$plain_marker"; do
        if grep -r -a -l -F "$m" "$mp" >"$work/hits" 2>/dev/null; then
            echo "    plaintext marker $m found in volume $v:"; sed 's/^/      /' "$work/hits"
            found=1
        fi
    done
done
[ "$found" -eq 0 ] || fail "payload plaintext found at a broker or the bridge"
log "no payload plaintext in Mosquitto/RabbitMQ/bridge logs or volumes"

log "PASS ($COUNT messages)"
