#!/usr/bin/env bash
# Hostile payloads on an enforced topic (random bytes, DOCTYPE / billion
# laughs, external entities, deep nesting, oversize, truncated, tampered, the
# four EncryptedKey variants of tests/lib/ek_variants.py) are
# denied with their error class; the broker keeps running, keeps serving other
# clients, and its memory stays bounded through a burst of garbage.
# HOSTILE_VALGRIND=1 runs the broker under valgrind (test_hostile_valgrind.sh).
source "$(dirname "$0")/common.sh"

cat > "$CONF/msgsec.yaml" <<YAML
trust:
  ca: [$CONF/ca.pem]
security:
  max_message_bytes: 1048576
rules:
  - topic: "orders/#"
    action: enforce
YAML
plugin_conf
if [ "${HOSTILE_VALGRIND:-0}" = 1 ]; then
    export MOSQ_WRAPPER="valgrind --vgdb=no --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --log-file=$CONF/valgrind.log"
fi
mosq_start "$CONF"
start_collector "orders/#"
wrap valid.xml client-rsa
"$PY" "$PLUGIN_TESTS/hostile.py" files "$WORK/hostile" "$WORK/valid.xml"

rss() { awk '/VmRSS/ {print $2}' "/proc/$MOSQ_PID/status"; }
# class per case: 3 malformed/over limits, 4 authentication failed
for c in random:3 billion-laughs:3 external-entity:3 deep-nesting:3 oversize:3 truncated:3 \
         not-xml:3 wrong-root:3 two-bodies:3 tampered-signature:4; do
    expect_denied "$WORK/hostile/${c%%:*}" orders/new "h-${c%%:*}" "${c##*:}"
done
ok "every hostile payload denied with its class"
# The EncryptedKey of a valid envelope bit-flipped, truncated, moved to rsa-1_5 or
# removed: msgsec wrap signs it, so the broker refuses each (issue 11 item 6)
"$PY" "$PLUGIN_TESTS/../../lib/ek_variants.py" "$WORK/valid.xml" "$WORK/ek"
for c in bitflip:4 truncated:4 rsa15:4 removed:3; do
    expect_denied "$WORK/ek/ek-${c%%:*}.xml" orders/new "h-ek-${c%%:*}" "${c##*:}"
done
ok "every EncryptedKey variant denied with its class"
# The same signed message re-encoded in UTF-16 verifies (the signature covers
# the canonical form), so once the original is accepted it is a replay.
wrap valid-utf8.xml client-ec
"$PY" "$PLUGIN_TESTS/hostile.py" files "$WORK/hostile-utf16" "$WORK/valid-utf8.xml"
expect_accepted "$WORK/valid-utf8.xml" orders/new h-utf8
expect_denied "$WORK/hostile-utf16/utf16" orders/new h-utf16 6
ok "UTF-16 re-encoding of an accepted envelope denied as a replay (6)"

rss_before=$(rss)
# Random bytes and random mutations of one valid envelope. A mutation that
# only touches unsigned markup (e.g. the Envelope's own namespace
# declarations) still verifies; the replay cache then refuses every later
# copy: at most one burst message may pass.
burst=${HOSTILE_BURST:-2000}
wrap burst-base.xml client-rsa
"$PY" "$PLUGIN_TESTS/hostile.py" burst "$MOSQ_PORT" orders/burst "$WORK/burst-base.xml" "$burst" h-burst
denied=$(grep -ac "msgsec: denied PUBLISH from 'h-burst' " "$MOSQ_LOG" || true)
[ "$denied" -ge $((burst - 1)) ] || fail "only $denied of $burst burst publishes denied"
if grep -a "msgsec: denied PUBLISH" "$MOSQ_LOG" | LC_ALL=C grep -q '[^[:print:]]'; then
    fail "non-printable bytes in the plugin's log lines"
fi
rss_after=$(rss)
echo "broker RSS: ${rss_before} kB before, ${rss_after} kB after $burst hostile publishes ($denied denied)"
if [ "${HOSTILE_VALGRIND:-0}" != 1 ]; then # (valgrind's own memory would count)
    [ $((rss_after - rss_before)) -lt 16384 ] || fail "RSS grew by $((rss_after - rss_before)) kB"
fi

expect_accepted "$WORK/valid.xml" orders/new h-valid
sync_collector
[ "$(delivered_count "$WORK/valid.xml")" = 1 ] || fail "valid envelope not delivered after the burst"
n=$(ls "$WORK"/msgs/*.msg | wc -l)
[ "$n" = $((3 + burst - denied)) ] || fail "$n messages delivered, want $((3 + burst - denied))"
ok "broker alive, memory bounded, log printable, valid envelope still delivered"

kill "$COLLECTOR_PID"; wait "$COLLECTOR_PID" 2>/dev/null || true; COLLECTOR_PID=
rc=0
mosq_stop || rc=$?
if [ "${HOSTILE_VALGRIND:-0}" = 1 ]; then
    grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost" "$CONF/valgrind.log" || true
    [ $rc = 0 ] || { cat "$CONF/valgrind.log" >&2; fail "valgrind reported errors (exit $rc)"; }
    ok "valgrind: no memory errors, no definite leaks"
else
    [ $rc = 0 ] || fail "broker exit status $rc"
fi
echo PASS
