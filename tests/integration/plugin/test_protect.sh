#!/usr/bin/env bash
# protect rules: plaintext from a local publisher is wrapped by the node
# identity for the service and published to publish_to (same QoS/retain,
# content type application/soap+xml); no subscriber ever sees the plaintext.
# The publisher gets 0x87: the plaintext itself is dropped (documented).
# Hostile XML plaintexts are refused with their reason (issue 11, item 2).
source "$(dirname "$0")/common.sh"

cat > "$CONF/msgsec.yaml" <<YAML
identity: {cert: $CONF/server.pem, key: $CONF/server.key}
trust:
  ca: [$CONF/ca.pem]
rules:
  - topic: "legacy/+/in"
    action: protect
    service_cert: $CONF/service.pem
    publish_to: "orders/legacy"
  - topic: "legacy/urn"
    action: protect
    service_cert: $CONF/service.pem
    publish_to: "orders/by-urn"
    to: "urn:example:orders"
  - topic: "orders/#"
    action: enforce
    senders: ["CN=shop*"]
YAML
plugin_conf
mosq_start "$CONF"
start_collector "#"

secret="SECRET-PLAINTEXT-$RANDOM$RANDOM"
printf '%s' "$secret" > "$WORK/plain.txt"
rc=$(publish "$WORK/plain.txt" legacy/a/in pub-legacy)
[ "$rc" = 135 ] || fail "protected publish: expected 0x87 for the dropped plaintext, got '$rc'"
mosq_wait_log "msgsec: protected PUBLISH from 'pub-legacy' on 'legacy/a/in' -> 'orders/legacy'"
sync_collector

envelopes=()
for t in "$WORK"/msgs/*.topic; do
    [ "$(cat "$t")" = orders/legacy ] && envelopes+=("${t%.topic}.msg")
done
[ ${#envelopes[@]} = 1 ] || fail "expected 1 envelope on orders/legacy, got ${#envelopes[@]}"
if grep -rlF "$secret" "$WORK/msgs"; then fail "a subscriber saw the plaintext"; fi
if grep -qF "$secret" "$MOSQ_LOG"; then fail "plaintext logged"; fi
# orders/# is enforced for CN=shop* only: the envelope signed by the node
# (CN=localhost) arrives because the plugin's own publish does not come back
# through MOSQ_EVT_MESSAGE (no loop, no self-denial).
if grep -q "denied PUBLISH .* on 'orders/legacy'" "$MOSQ_LOG"; then fail "own publish re-entered"; fi
ok "one envelope on orders/legacy, plaintext seen by no subscriber of #"

"$MSGSEC_CLI" unwrap --cert "$PKI/service.pem" --key "$PKI/service.key" --ca "$PKI/ca.pem" \
    --to mqtt:orders/legacy --context "$WORK/ctx.json" < "${envelopes[0]}" > "$WORK/opened.txt"
cmp -s "$WORK/opened.txt" "$WORK/plain.txt" || fail "unwrapped payload differs"
grep -q '"identity": *"CN=localhost,O=Example"' "$WORK/ctx.json" || fail "not signed by the node identity"
rc=0
"$MSGSEC_CLI" unwrap --cert "$PKI/other-service.pem" --key "$PKI/other-service.key" \
    --ca "$PKI/ca.pem" < "${envelopes[0]}" > /dev/null 2>&1 || rc=$?
[ $rc = 7 ] || fail "another service opened the envelope (exit $rc, want 7)"
ok "the service unwraps it (signer CN=localhost), another service cannot (7)"

# retain and content type carried over to the envelope
rc=$(publish "$WORK/plain.txt" legacy/b/in pub-retain -r)
[ "$rc" = 135 ] || fail "retained protected publish: got '$rc'"
meta=$(mosquitto_sub -V 5 -p "$MOSQ_PORT" -t orders/legacy -C 1 -W 5 -F '%r %C')
[ "$meta" = "1 application/soap+xml" ] || fail "retained envelope: got '$meta'"
ok "retain flag kept, content type application/soap+xml"
# the rule's `to` is the envelope's wsa:To
mosquitto_sub -V 5 -p "$MOSQ_PORT" -t orders/by-urn -C 1 -W 5 > "$WORK/by-urn.xml" &
sub=$!
sleep 0.5
rc=$(publish "$WORK/plain.txt" legacy/urn pub-urn)
[ "$rc" = 135 ] || fail "protected publish (to): got '$rc'"
wait $sub || fail "no envelope on orders/by-urn"
head -c -1 "$WORK/by-urn.xml" > "$WORK/by-urn.env"   # mosquitto_sub adds a newline
"$MSGSEC_CLI" unwrap --cert "$PKI/service.pem" --key "$PKI/service.key" --ca "$PKI/ca.pem" \
    --to urn:example:orders < "$WORK/by-urn.env" | cmp -s - "$WORK/plain.txt" ||
    fail "envelope with wsa:To urn:example:orders did not unwrap to the plaintext"
rc=0
"$MSGSEC_CLI" unwrap --cert "$PKI/service.pem" --key "$PKI/service.key" --ca "$PKI/ca.pem" \
    --to mqtt:orders/by-urn < "$WORK/by-urn.env" > /dev/null 2>&1 || rc=$?
[ $rc = 8 ] || fail "unwrap expecting another wsa:To: exit $rc, want 8"
ok "rule 'to' sets wsa:To (another expected address is refused with 8)"

# XML plaintext (MQTT 5 content type application/xml) is parsed by the
# receiver's hardened parser: billion laughs, an external entity, deep nesting
# and an oversized document (security.max_message_bytes, 1 MiB by default) are
# each refused with their reason; the broker's memory stays bounded, and
# nothing of them is published (a subscriber of # sees no plaintext marker).
marker="XML-PLAINTEXT-$RANDOM$RANDOM"
mkdir -p "$WORK/xml"
"$PY" "$PLUGIN_TESTS/../../lib/hostile_xml.py" "$WORK/xml" "$marker" > "$WORK/xml-reasons"
legacy_envelopes() {
    local t n=0
    for t in "$WORK"/msgs/*.topic; do [ "$(cat "$t")" = orders/legacy ] && n=$((n + 1)); done
    echo $n
}
sync_collector
envelopes_before=$(legacy_envelopes)
peak() { awk '/VmHWM/ {print $2}' "/proc/$MOSQ_PID/status"; }
peak_before=$(peak)
while read -r name reason; do
    [ "$name" = valid ] && continue
    rc=$(publish "$WORK/xml/$name" legacy/x/in "xml-$name" -D publish content-type application/xml)
    [ "$rc" = 135 ] || fail "$name: expected 0x87, got '$rc'"
    mosq_wait_log "msgsec: denied PUBLISH from 'xml-$name' on 'legacy/x/in' \(protect rule at [^)]*\): $reason.*\[error 3: " 5 ||
        fail "$name: no log line with the reason '$reason'"
    kill -0 "$MOSQ_PID" || fail "broker died on $name"
done < "$WORK/xml-reasons"
peak_after=$(peak)
echo "broker peak RSS: ${peak_before} kB before, ${peak_after} kB after the hostile XML payloads"
[ $((peak_after - peak_before)) -lt 65536 ] || fail "broker peak RSS grew by $((peak_after - peak_before)) kB"
ok "billion laughs, external entity, deep nesting, oversize: each refused with its reason (class 3), memory bounded"
# the control: a well-formed XML payload is protected and unwraps to itself
rc=$(publish "$WORK/xml/valid" legacy/x/in xml-valid -D publish content-type application/xml)
[ "$rc" = 135 ] || fail "valid XML: got '$rc'"
mosq_wait_log "msgsec: protected PUBLISH from 'xml-valid' on 'legacy/x/in'"
sync_collector
[ "$(legacy_envelopes)" = $((envelopes_before + 1)) ] ||
    fail "expected only the valid XML payload's envelope on orders/legacy ($(legacy_envelopes) after $envelopes_before)"
if grep -rlaF "$marker" "$WORK/msgs"; then fail "a subscriber of # saw XML plaintext"; fi
if grep -rlaF "root:x:0:" "$WORK/msgs"; then fail "a subscriber saw /etc/passwd"; fi
if grep -qaF "$marker" "$MOSQ_LOG"; then fail "XML plaintext logged"; fi
for t in "$WORK"/msgs/*.topic; do
    [ "$(cat "$t")" = orders/legacy ] && last="${t%.topic}.msg"
done
"$MSGSEC_CLI" unwrap --cert "$PKI/service.pem" --key "$PKI/service.key" --ca "$PKI/ca.pem" \
    --context "$WORK/xml-ctx.json" < "$last" > "$WORK/xml-opened" || fail "the XML envelope does not unwrap"
cmp -s "$WORK/xml-opened" "$WORK/xml/valid" || fail "unwrapped XML payload differs"
grep -q '"content_type": *"application/xml"' "$WORK/xml-ctx.json" ||
    fail "XML payload: content type lost: $(cat "$WORK/xml-ctx.json")"
ok "a valid XML payload is protected (unwraps to itself); no plaintext seen by any subscriber or in the log"
kill -0 "$MOSQ_PID" || fail "broker died"
echo PASS
