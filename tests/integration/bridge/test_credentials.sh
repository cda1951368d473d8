#!/usr/bin/env bash
# security.credentials on an unprotect route (the full check, with the service
# key, the password store, the trusted STS and the keytab of a real MIT KDC):
# [username, issued, windows] delivers the plaintext of valid username, issued
# and windows envelopes with msgsec-identity / msgsec-credential-type, and
# dead-letters a wrong password (class 4, the original envelope) and a
# certificate envelope (class 8). security.ticket_grace (10 s): a Kerberos
# ticket that expired while the message was queued is accepted within the
# grace and refused after it (class 5, the ticket-rule reason).
source "$(dirname "$0")/common.sh"
# shellcheck source=/dev/null
source "$TESTS_DIR/lib/kdc.sh"
: "${MSGSEC_BIN:?the msgsec command is needed}"
bt_init credentials
# shellcheck disable=SC2154 # rc is set inside the trap
trap 'rc=$?; kdc_stop; set +e; (exit $rc); _bt_cleanup' EXIT
kdc_start "$T/kdc" EXAMPLE.COM || fail "KDC did not start"
kdc_adduser alice@EXAMPLE.COM alice-pw
kdc_addprinc msgsec/orders@EXAMPLE.COM
kdc_keytab "$T/orders.kt" msgsec/orders@EXAMPLE.COM
kdc_kinit alice@EXAMPLE.COM alice-pw
bt_pki
bt_rabbit
bt_mosquitto
QU=$(bt_queue cred-unprotected)
QDL=$(bt_queue cred-dead)
PW="bridge-pw-$RANDOM$RANDOM"
printf '%s\n' "$PW" | "$MSGSEC_BIN" passwd "$T/users" alice 2>/dev/null || fail "msgsec passwd"
bt_config <<EOF
identity: {cert: $PKI/service.pem, key: $PKI/service.key}
trust: {issuers: [$PKI/sts.pem], users: $T/users, keytab: $T/orders.kt}
security: {credentials: [username, issued, windows], ticket_grace: 10}
routes:
  - {from: "mqtt:c/in", to: "amqp:/amq/queue/$QU", action: unprotect, dead_letter: "amqp:/amq/queue/$QDL"}
EOF
"$BRIDGE_BIN" --config "$T/bridge.yaml" --check-config 2>/dev/null || fail "--check-config refused a valid file"
bt_bridge_start

# wrap NAME [msgsec wrap options]: $T/NAME.txt secured as $T/NAME.xml
wrap() {
    local name=$1
    shift
    printf 'order %s %s' "$name" "$RANDOM$RANDOM" > "$T/$name.txt"
    "$MSGSEC_BIN" wrap --service-cert "$PKI/service.pem" --to urn:example:orders \
        --in "$T/$name.txt" --out "$T/$name.xml" "$@" || fail "msgsec wrap $name"
}
printf '%s' "$PW" > "$T/alice.pw"
printf 'not-%s' "$PW" > "$T/wrong.pw"
chmod 600 "$T/alice.pw" "$T/wrong.pw"
"$MSGSEC_BIN" sts issue --cert "$PKI/sts.pem" --key "$PKI/sts.key" --subject bob \
    --subject-cert "$PKI/client-rsa.pem" --audience urn:example:orders --attr role=buyer \
    --out "$T/assertion.xml" || fail "msgsec sts issue"
wrap username --credential username --username alice --password-file "$T/alice.pw"
wrap issued --credential issued --token "$T/assertion.xml" --cert "$PKI/client-rsa.pem" \
    --key "$PKI/client-rsa.key"
wrap wrongpw --credential username --username alice --password-file "$T/wrong.pw"
wrap certificate --cert "$PKI/client-rsa.pem" --key "$PKI/client-rsa.key"
grep -qF "$PW" "$T"/*.xml && fail "the password occurs in an envelope"
wrap windows --credential windows --service-principal msgsec/orders@EXAMPLE.COM
# a 3-second ticket: ends at about t0 + 3
t0=$(date +%s)
KRB5CCNAME=FILE:$T/short-cache kdc_kinit alice@EXAMPLE.COM alice-pw -l 3s
for f in grace late; do
    KRB5CCNAME=FILE:$T/short-cache wrap "$f" --credential windows \
        --service-principal msgsec/orders@EXAMPLE.COM
done

publish() { $CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic c/in --file "$T/$1.xml" > /dev/null; }
sleep_until() { # sleep_until EPOCH-SECONDS (no-op once past: a loaded machine may be late)
    local d=$(($1 - $(date +%s)))
    if [ "$d" -gt 0 ]; then sleep "$d"; fi
}
for f in username issued wrongpw certificate windows; do publish "$f"; done
sleep_until $((t0 + 5))
publish grace   # expired 1-2 s ago: within the 10 s grace
sleep_until $((t0 + 16))
publish late    # expired 12-13 s ago
recv() { # recv QUEUE COUNT OUT
    $CLIENTS amqp-recv --url "$AMQP_URL" --address "/amq/queue/$1" --expect "$2" --timeout 30 \
        --idle 1 --dump > "$3"
}
recv "$QU" 4 "$T/qu.json"
recv "$QDL" 3 "$T/qdl.json"

bt_check "$T/qu.json" "len(msgs) == 4" "unprotect: expected exactly the 4 valid messages"
bt_check "$T/qu.json" "any(m['body'] == open('$T/username.txt').read() and m['properties']['msgsec-identity'] == 'alice' and m['properties']['msgsec-credential-type'] == 'username' for m in msgs)" "username envelope not delivered as plaintext with its identity"
bt_check "$T/qu.json" "any(m['body'] == open('$T/issued.txt').read() and m['properties']['msgsec-identity'] == 'bob' and m['properties']['msgsec-credential-type'] == 'issued' and m['properties']['msgsec-issuer'] == 'CN=msgsec-sts,O=Example' for m in msgs)" "issued envelope not delivered as plaintext with its identity"
for f in windows grace; do
    bt_check "$T/qu.json" "any(m['body'] == open('$T/$f.txt').read() and m['properties']['msgsec-identity'] == 'alice@EXAMPLE.COM' and m['properties']['msgsec-credential-type'] == 'windows' for m in msgs)" "windows envelope $f not delivered as plaintext with its identity"
done
bt_check "$T/qdl.json" "len(msgs) == 3" "dead letters: expected 3"
bt_check "$T/qdl.json" "any(m['body'] == open('$T/late.xml').read() and m['properties']['msgsec-reject-reason'] == 'unprotect_failed: Kerberos ticket expired before the message was consumed' and m['properties']['msgsec-reject-class'] == '5' for m in msgs)" "ticket expired beyond the grace not dead-lettered (5)"
bt_check "$T/qdl.json" "any(m['body'] == open('$T/wrongpw.xml').read() and m['properties']['msgsec-reject-reason'] == 'unprotect_failed: unknown user or wrong password' and m['properties']['msgsec-reject-class'] == '4' for m in msgs)" "wrong password not dead-lettered as authentication failure (4)"
bt_check "$T/qdl.json" "any(m['body'] == open('$T/certificate.xml').read() and m['properties']['msgsec-reject-class'] == '8' for m in msgs)" "certificate credential not dead-lettered as a policy violation (8)"
bt_check "$T/qdl.json" "not any('order wrongpw' in m['body'] for m in msgs)" "plaintext in a dead letter"
echo PASS
