#!/usr/bin/env bash
# enforce rules: only valid, fresh, trusted, allowed, non-replayed envelopes
# of an accepted credential type reach subscribers, byte-identical; every
# other publish gets PUBACK 0x87 and a log line with the reason class.
source "$(dirname "$0")/common.sh"

cat > "$CONF/msgsec.yaml" <<YAML
trust:
  ca: [$CONF/ca.pem]
security:
  credentials: [certificate]
rules:
  - topic: "orders/public"
    action: pass
  - topic: "orders/#"
    action: enforce
    senders: ["CN=shop*"]
YAML
plugin_conf
mosq_start "$CONF"
mosq_wait_log "msgsec: loaded $CONF/msgsec.yaml: 2 rule\\(s\\)"
start_collector "#"

wrap shop1.xml client-rsa
wrap shop2.xml client-ec
wrap intruder.xml client3
wrap rogue.xml rogue
wrap anonymous.xml client-rsa --credential none
"$MSGSEC_WRAP_AGED" "$PKI/client-rsa.pem" "$PKI/client-rsa.key" "$PKI/service.pem" \
    $((3 * 86400)) urn:example:orders < /dev/null > "$WORK/old.xml"
printf 'plain order' > "$WORK/plain.txt"
# one byte of the signed ciphertext flipped
wrap tamper-base.xml client-ec
/usr/bin/python3 - "$WORK/tamper-base.xml" "$WORK/tampered.xml" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read()
m = list(re.finditer(rb"<xenc:CipherValue>([A-Za-z0-9+/]{8})", data))[-1]
i = m.start(1) + 4
flipped = b"B" if data[i:i+1] != b"B" else b"C"
open(sys.argv[2], "wb").write(data[:i] + flipped + data[i+1:])
PY
cmp -s "$WORK/tamper-base.xml" "$WORK/tampered.xml" && fail "tampering changed nothing"

expect_accepted "$WORK/shop1.xml" orders/new pub-shop1
expect_accepted "$WORK/shop2.xml" orders/eu/new pub-shop2
ok "valid RSA and ECDSA envelopes accepted"
expect_denied "$WORK/plain.txt" orders/new pub-plain 3
ok "plaintext denied (3)"
expect_denied "$WORK/tampered.xml" orders/new pub-tampered 4
ok "tampered envelope denied (4)"
expect_denied "$WORK/rogue.xml" orders/new pub-rogue 4
ok "untrusted signer denied (4)"
expect_denied "$WORK/old.xml" orders/new pub-expired 5
ok "expired envelope denied (5)"
expect_denied "$WORK/shop1.xml" orders/new pub-replay 6
ok "replay denied (6)"
expect_denied "$WORK/intruder.xml" orders/new pub-intruder 8
grep -q "sender 'CN=intruder,O=Example' is not allowed" "$MOSQ_LOG" || fail "no sender in log"
ok "unauthorized sender denied (8)"
expect_denied "$WORK/anonymous.xml" orders/new pub-anon 8
ok "credential type none denied (8)"

# QoS 2: refused at PUBREC; MQTT 3.1.1 has no reason codes: plain PUBACK
out=$(mosquitto_pub -V 5 -q 2 -d -p "$MOSQ_PORT" -i pub-qos2 -t orders/new -f "$WORK/plain.txt" 2>&1) || true
grep -q "Publish 1 failed: Not authorized" <<<"$out" || fail "QoS 2: publisher not told: $out"
mosq_wait_log "Sending PUBREC to pub-qos2 \(m1, rc135\)" 5
mosquitto_pub -V 311 -q 1 -p "$MOSQ_PORT" -i pub-v311 -t orders/new -f "$WORK/plain.txt" ||
    fail "MQTT 3.1.1 publisher saw an error"
mosq_wait_log "msgsec: denied PUBLISH from 'pub-v311' on 'orders/new' .*\[error 3: " 5
ok "QoS 2 refused with PUBREC 0x87, MQTT 3.1.1 dropped with a plain PUBACK"

# pass rule (first match wins) and topics without a rule are untouched
expect_accepted "$WORK/plain.txt" orders/public pub-pass
expect_accepted "$WORK/plain.txt" elsewhere/x pub-norule
sync_collector

[ "$(delivered_count "$WORK/shop1.xml")" = 1 ] || fail "shop1 envelope not delivered exactly once"
[ "$(delivered_count "$WORK/shop2.xml")" = 1 ] || fail "shop2 envelope not delivered exactly once"
[ "$(delivered_count "$WORK/plain.txt")" = 2 ] || fail "plaintext delivered other than on the 2 free topics"
for f in tampered rogue old intruder anonymous; do
    [ "$(delivered_count "$WORK/$f.xml")" = 0 ] || fail "$f delivered"
done
ok "accepted envelopes delivered byte-identical, rejected ones never"
if grep -q "plain order" "$MOSQ_LOG"; then fail "payload logged"; fi
# without replay.path a reload starts an empty cache: said in the log
mosq_reload
mosq_wait_log "msgsec: the in-memory replay cache restarted empty"
ok "reload with an in-memory replay cache warns"
kill -0 "$MOSQ_PID" || fail "broker died"
echo "PASS"
