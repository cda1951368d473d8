#!/usr/bin/env bash
# enforce with a persistent replay store that is full (replay.max_bytes
# reached, nothing expired): a valid envelope is denied (0x87, class 1, the
# log line names replay.max_bytes), never passed unchecked; once the store's
# entries expire, the same envelope is accepted, once.
source "$(dirname "$0")/common.sh"
: "${MSGSEC_REPLAY_FILL:?}"

cat > "$CONF/msgsec.yaml" <<YAML
trust:
  ca: [$CONF/ca.pem]
replay: {path: $CONF/replay, max_bytes: 1048576}
rules:
  - topic: "orders/#"
    action: enforce
YAML
# other messages, accepted until UNTIL, fill the store (2048 entries)
UNTIL=$(($(date +%s) + 8))
"$MSGSEC_REPLAY_FILL" "$CONF/replay" 1048576 2048 $UNTIL || fail "cannot fill the replay store"
plugin_conf
mosq_start "$CONF"
start_collector "orders/#"
wrap order.xml client-rsa

expect_denied "$WORK/order.xml" orders/new pub-full 1
mosq_wait_log "msgsec: denied PUBLISH from 'pub-full' .*replay store .* is full .*raise replay.max_bytes" 1 ||
    fail "the log line does not name replay.max_bytes"
[ "$(date +%s)" -lt "$UNTIL" ] || fail "the test machine is too slow: the store expired before the check"
ok "a valid envelope is denied while the store is full (1, replay.max_bytes named)"

while [ "$(date +%s)" -le "$UNTIL" ]; do sleep 0.5; done
expect_accepted "$WORK/order.xml" orders/new pub-later
expect_denied "$WORK/order.xml" orders/new pub-again 6
sync_collector
[ "$(delivered_count "$WORK/order.xml")" = 1 ] || fail "delivered $(delivered_count "$WORK/order.xml") times, want 1"
ok "accepted once the store's entries expired, then a replay (6)"
kill -0 "$MOSQ_PID" || fail "broker died"
echo PASS
