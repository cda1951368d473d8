#!/usr/bin/env bash
# bind_transport ("both" mode): on a require_certificate TLS listener, an
# envelope is accepted only when its signing certificate is the client's TLS
# certificate (DER-identical).
source "$(dirname "$0")/common.sh"

tls_port=$(mosq_free_port)
cat > "$CONF/msgsec.yaml" <<YAML
trust:
  ca: [$CONF/ca.pem]
rules:
  - topic: "orders/#"
    action: enforce
    senders: ["CN=shop*"]
    bind_transport: true
YAML
plugin_conf "listener $tls_port 127.0.0.1" "cafile $CONF/ca.pem" "certfile $CONF/server.pem" \
    "keyfile $CONF/server.key" "require_certificate true"
mosq_start "$CONF"
start_collector "orders/#"
tls_as_shop1=(--cafile "$PKI/ca.pem" --cert "$PKI/client-rsa.pem" --key "$PKI/client-rsa.key")

wrap shop1.xml client-rsa
wrap shop2.xml client-ec
wrap shop1-plain.xml client-rsa
PUB_PORT=$tls_port expect_accepted "$WORK/shop1.xml" orders/new tls-shop1 "${tls_as_shop1[@]}"
ok "TLS cert == signer: accepted"
PUB_PORT=$tls_port expect_denied "$WORK/shop2.xml" orders/new tls-mismatch 8 "${tls_as_shop1[@]}"
grep -q "not signed with the required certificate" "$MOSQ_LOG" || fail "reason not logged"
ok "TLS cert != signer: denied (8)"
expect_denied "$WORK/shop1-plain.xml" orders/new plain-listener 8
grep -q "presented no TLS certificate" "$MOSQ_LOG" || fail "reason not logged"
ok "no TLS certificate: denied (8)"
# refused before verification, so the captured envelope's replay entry is not
# used up: its real sender can still deliver it
PUB_PORT=$tls_port expect_accepted "$WORK/shop1-plain.xml" orders/new tls-shop1-late "${tls_as_shop1[@]}"
ok "an envelope refused for lack of a TLS certificate is not recorded as seen"
sync_collector
[ "$(delivered_count "$WORK/shop1.xml")" = 1 ] || fail "accepted envelope not delivered"
[ "$(delivered_count "$WORK/shop2.xml")" = 0 ] || fail "mismatched envelope delivered"
[ "$(delivered_count "$WORK/shop1-plain.xml")" = 1 ] || fail "late envelope not delivered once"
echo PASS
