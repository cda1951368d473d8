#!/usr/bin/env bash
# SIGHUP reload: new routes take effect on both sides without a restart; a
# broken file is refused (logged) and the running routes stay.
source "$(dirname "$0")/common.sh"
bt_init reload
bt_rabbit
bt_mosquitto
QA=$(bt_queue reload-a)
QB=$(bt_queue reload-b)
QC=$(bt_queue reload-c)
bt_config <<EOF
routes:
  - {from: "mqtt:r/a", to: "amqp:/amq/queue/$QA", action: forward}
EOF
bt_bridge_start
PID=$BRIDGE_PID

$CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic r/b --prefix before > /dev/null
sleep 1
[ "$(rmq_queue_depth "$QB")" = 0 ] || fail "r/b routed before the reload"

bt_config <<EOF
routes:
  - {from: "mqtt:r/a", to: "amqp:/amq/queue/$QA", action: forward}
  - {from: "mqtt:r/b", to: "amqp:/amq/queue/$QB", action: forward}
  - {from: "amqp:/amq/queue/$QC", to: "mqtt:r/c", action: forward}
EOF
kill -HUP "$PID"
for i in $(seq 1 50); do grep -q "event=reloaded routes=3" "$T/bridge.log" && break; sleep 0.1; done
grep -q "event=reloaded routes=3" "$T/bridge.log" || fail "no reload logged"
sleep 1.5   # the AMQP side re-attaches its links

$CLIENTS mqtt-sub --port "$MOSQ_PORT" --topic r/c --expect 1 --prefix c --timeout 20 --ready-file "$T/sub.ready" > "$T/c.json" &
SUB=$!
bt_wait_file "$T/sub.ready"
$CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic r/b --prefix b > /dev/null
$CLIENTS amqp-send --url "$AMQP_URL" --address "/amq/queue/$QC" --prefix c > /dev/null
wait $SUB
[ "$(bt_json "$T/c.json" missing_count)" = 0 ] || fail "new amqp->mqtt route inactive after reload"
$CLIENTS amqp-recv --url "$AMQP_URL" --address "/amq/queue/$QB" --expect 1 --prefix b --timeout 20 > "$T/b.json"
[ "$(bt_json "$T/b.json" missing_count)" = 0 ] || fail "new mqtt->amqp route inactive after reload"

# a route removed: its filter is unsubscribed, its messages no longer flow
bt_config <<EOF
routes:
  - {from: "mqtt:r/b", to: "amqp:/amq/queue/$QB", action: forward}
  - {from: "amqp:/amq/queue/$QC", to: "mqtt:r/c", action: forward}
EOF
kill -HUP "$PID"
for i in $(seq 1 50); do grep -q "event=mqtt_unsubscribe filters=1 rc=0" "$T/bridge.log" && break; sleep 0.1; done
grep -q "event=mqtt_unsubscribe filters=1 rc=0" "$T/bridge.log" || fail "removed filter not unsubscribed"
$CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic r/a --prefix gone > /dev/null
sleep 1
[ "$(rmq_queue_depth "$QA")" = 0 ] || fail "a removed route still forwards"

# a broken file: refused with its line, the routes in force stay
printf 'routes:\n  - {from: "mqtt:r/b", to: "nowhere", action: forward}\n' > "$T/bridge.yaml"
kill -HUP "$PID"
for i in $(seq 1 50); do grep -q "event=reload_failed" "$T/bridge.log" && break; sleep 0.1; done
grep -q 'event=reload_failed class=2 detail=".*bridge.yaml:2:' "$T/bridge.log" || fail "broken reload not refused with FILE:LINE"
kill -0 "$PID" || fail "bridge died on a broken reload"
$CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic r/b --prefix b2 > /dev/null
$CLIENTS amqp-recv --url "$AMQP_URL" --address "/amq/queue/$QB" --expect 1 --prefix b2 --timeout 20 > "$T/b2.json"
[ "$(bt_json "$T/b2.json" missing_count)" = 0 ] || fail "routes lost after a refused reload"
bt_bridge_term || fail "SIGTERM exit code $?"
echo PASS
