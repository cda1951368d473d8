#!/usr/bin/env bash
# enforce rules and SOAP mustUnderstand: a header block for the receiver
# (no role) with mustUnderstand="true" that msgsec does not process is
# denied (8, the log names the header); the same block for another role, or
# optional, is accepted and delivered byte-identical.
source "$(dirname "$0")/common.sh"
EDIT="$PY $PLUGIN_TESTS/../../lib/soap_edit.py"

cat > "$CONF/msgsec.yaml" <<YAML
trust:
  ca: [$CONF/ca.pem]
rules:
  - topic: "orders/#"
    action: enforce
    senders: ["CN=shop*"]
YAML
plugin_conf
mosq_start "$CONF"
mosq_wait_log "msgsec: loaded $CONF/msgsec.yaml: 1 rule\\(s\\)"
start_collector "#"

audit() { # audit NAME ATTRIBUTES: a fresh envelope with an unsigned Audit header block
    wrap "$1.base" client-rsa
    $EDIT add-header "$WORK/$1.base" "$WORK/$1.xml" \
        "<a:Audit xmlns:a=\"urn:example:audit\" $2>shop 7</a:Audit>" || fail "soap_edit $1"
}
audit refused 's:mustUnderstand="true"'
audit other-role 's:mustUnderstand="true" s:role="http://www.w3.org/2003/05/soap-envelope/role/none"'
audit optional 's:mustUnderstand="false"'
audit invalid 's:mustUnderstand="yes"'

expect_denied "$WORK/refused.xml" orders/new pub-mu 8
grep -q "mustUnderstand header {urn:example:audit}Audit is not understood" "$MOSQ_LOG" ||
    fail "the log does not name the header"
ok "mustUnderstand header for the receiver denied (8), named in the log"
expect_denied "$WORK/invalid.xml" orders/new pub-mu-invalid 3
ok "invalid mustUnderstand value denied (3)"
expect_accepted "$WORK/other-role.xml" orders/new pub-other-role
expect_accepted "$WORK/optional.xml" orders/new pub-optional
ok "header for another role and optional header accepted"
sync_collector
[ "$(delivered_count "$WORK/other-role.xml")" = 1 ] || fail "other-role envelope not delivered once"
[ "$(delivered_count "$WORK/optional.xml")" = 1 ] || fail "optional-header envelope not delivered once"
for f in refused invalid; do
    [ "$(delivered_count "$WORK/$f.xml")" = 0 ] || fail "$f delivered"
done
ok "accepted envelopes delivered byte-identical, refused ones never"
echo "PASS"
