#!/usr/bin/env bash
# security.credentials on an unprotect route (the full check, with the service
# key, the password store and the trusted STS): [username, issued] delivers the
# plaintext of a valid username and a valid issued envelope with
# msgsec-identity / msgsec-credential-type, and dead-letters a wrong password
# (class 4, the original envelope) and a certificate envelope (class 8).
source "$(dirname "$0")/common.sh"
: "${MSGSEC_BIN:?the msgsec command is needed}"
bt_init credentials
bt_pki
bt_rabbit
bt_mosquitto
QU=$(bt_queue cred-unprotected)
QDL=$(bt_queue cred-dead)
PW="bridge-pw-$RANDOM$RANDOM"
printf '%s\n' "$PW" | "$MSGSEC_BIN" passwd "$T/users" alice 2>/dev/null || fail "msgsec passwd"
bt_config <<EOF
identity: {cert: $PKI/service.pem, key: $PKI/service.key}
trust: {issuers: [$PKI/sts.pem], users: $T/users}
security: {credentials: [username, issued]}
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

for f in username issued wrongpw certificate; do
    $CLIENTS mqtt-pub --port "$MOSQ_PORT" --topic c/in --file "$T/$f.xml" > /dev/null
done
recv() { # recv QUEUE COUNT OUT
    $CLIENTS amqp-recv --url "$AMQP_URL" --address "/amq/queue/$1" --expect "$2" --timeout 30 \
        --idle 1 --dump > "$3"
}
recv "$QU" 2 "$T/qu.json"
recv "$QDL" 2 "$T/qdl.json"

bt_check "$T/qu.json" "len(msgs) == 2" "unprotect: expected exactly the 2 valid messages"
bt_check "$T/qu.json" "any(m['body'] == open('$T/username.txt').read() and m['properties']['msgsec-identity'] == 'alice' and m['properties']['msgsec-credential-type'] == 'username' for m in msgs)" "username envelope not delivered as plaintext with its identity"
bt_check "$T/qu.json" "any(m['body'] == open('$T/issued.txt').read() and m['properties']['msgsec-identity'] == 'bob' and m['properties']['msgsec-credential-type'] == 'issued' and m['properties']['msgsec-issuer'] == 'CN=msgsec-sts,O=Example' for m in msgs)" "issued envelope not delivered as plaintext with its identity"
bt_check "$T/qdl.json" "len(msgs) == 2" "dead letters: expected 2"
bt_check "$T/qdl.json" "any(m['body'] == open('$T/wrongpw.xml').read() and m['properties']['msgsec-reject-reason'] == 'unprotect_failed: unknown user or wrong password' and m['properties']['msgsec-reject-class'] == '4' for m in msgs)" "wrong password not dead-lettered as authentication failure (4)"
bt_check "$T/qdl.json" "any(m['body'] == open('$T/certificate.xml').read() and m['properties']['msgsec-reject-class'] == '8' for m in msgs)" "certificate credential not dead-lettered as a policy violation (8)"
bt_check "$T/qdl.json" "not any('order wrongpw' in m['body'] for m in msgs)" "plaintext in a dead letter"
echo PASS
