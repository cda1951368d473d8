#!/usr/bin/env bash
# SIGHUP re-reads the YAML: a valid one changes which senders are accepted; a
# broken one is refused with its reason and the running rules stay in force.
# The persistent replay store survives reloads and restarts.
source "$(dirname "$0")/common.sh"

write_config() { # SENDER_GLOB
    cat > "$CONF/msgsec.yaml" <<YAML
trust:
  ca: [$CONF/ca.pem]
replay: {path: $CONF/replay}
rules:
  - topic: "orders/#"
    action: enforce
    senders: ["$1"]
YAML
}
mkdir -p "$CONF/replay"
write_config "CN=shop1,*"
plugin_conf
mosq_start "$CONF"

wrap a1.xml client-rsa; wrap a2.xml client-ec
expect_accepted "$WORK/a1.xml" orders/new r-shop1-a
expect_denied "$WORK/a2.xml" orders/new r-shop2-a 8
ok "before reload: shop1 accepted, shop2 denied"

write_config "CN=shop2,*"
mosq_reload
mosq_wait_log "msgsec: reloaded $CONF/msgsec.yaml"
wrap b1.xml client-rsa; wrap b2.xml client-ec
expect_accepted "$WORK/b2.xml" orders/new r-shop2-b
expect_denied "$WORK/b1.xml" orders/new r-shop1-b 8
# refused before the reload by `senders`, which comes before the replay check:
# its replay entry was not used up, so it is accepted once now
expect_accepted "$WORK/a2.xml" orders/new r-shop2-late
expect_denied "$WORK/a2.xml" orders/new r-replay-b 6
ok "after reload: shop2 accepted (also a copy refused before), shop1 denied, replays refused"

printf 'rules:\n  - topic: "orders/#"\n    action: [broken\n' > "$CONF/msgsec.yaml"
mosq_reload
mosq_wait_log "msgsec: reload refused, keeping the running configuration: .*msgsec.yaml:[0-9]+"
write_config "CN=shop2,*"
printf 'security: {credentials: [certificate, kerberos]}\n' >> "$CONF/msgsec.yaml"
mosq_reload
mosq_wait_log "msgsec: reload refused, .*msgsec.yaml:[0-9]+: .*kerberos"
wrap c1.xml client-rsa; wrap c2.xml client-ec
expect_accepted "$WORK/c2.xml" orders/new r-shop2-c
expect_denied "$WORK/c1.xml" orders/new r-shop1-c 8
ok "broken configurations refused on reload, the running one kept"

mosq_stop || fail "broker did not stop cleanly"
write_config "CN=shop2,*"
mosq_start "$CONF"
expect_denied "$WORK/c2.xml" orders/new r-replay-restart 6
ok "replay store survives a restart"
echo PASS
