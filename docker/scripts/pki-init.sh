#!/usr/bin/env bash
# One-shot PKI job for the msgsec demo stack. Runs as root (it must hand each role's private
# key to that role's uid) and writes into /pki (a volume, or your own directory mounted there).
#
# Every item is created only when missing, so a PKI you supply is kept: put your own files at
# the paths below and only what is absent is generated (certificates only if /pki/private/ca.key
# is there to sign them). Ownership and modes of private keys are always enforced, because
# msgsec refuses a private key that group or others can read.
#
#   /pki/ca.crt                              trust anchor (0644)
#   /pki/certs/{mosquitto,bridge,shop1,orders-service}.crt   (0644)
#   /pki/private/ca.key                      root, 0600
#   /pki/private/mosquitto.key               uid 10001, 0600  (broker TLS server certificate)
#   /pki/private/bridge.key                  uid 10002, 0600  (bridge's TLS client certificate)
#   /pki/private/shop1.key                   uid 10003, 0600  (demo sender: CN=shop1,O=msgsec demo)
#   /pki/private/orders-service.key          uid 10004, 0600  (demo service: CN=orders-service)
#   /pki/amqp/{bridge,orders-service}.password  RabbitMQ passwords, owner as above, 0600
#   /pki/rabbitmq/definitions.json           users/permissions/queue "orders" (salted hashes only)
#   /pki/.ready                              written last; the other containers wait for it
set -euo pipefail
umask 077

PKI=${PKI_DIR:-/pki}
DAYS=${PKI_DAYS:-825}
KEYBITS=${PKI_KEYBITS:-2048}
GID=10000
declare -A UID_OF=( [mosquitto]=10001 [bridge]=10002 [shop1]=10003 [orders-service]=10004 )
RABBITMQ_UID=10005

log() { echo "pki-init: $*"; }

rm -f "$PKI/.ready"
install -d -m 0755 "$PKI" "$PKI/certs" "$PKI/rabbitmq"
install -d -m 0711 "$PKI/private" "$PKI/amqp"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ ! -f "$PKI/ca.crt" ]; then
    log "creating demo CA"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:"$KEYBITS" -out "$PKI/private/ca.key" 2>/dev/null
    openssl req -x509 -new -key "$PKI/private/ca.key" -sha256 -days "$DAYS" \
        -subj "/O=msgsec demo/CN=msgsec demo CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" \
        -out "$PKI/ca.crt"
else
    log "using existing $PKI/ca.crt"
fi
chmod 0644 "$PKI/ca.crt"
[ -f "$PKI/private/ca.key" ] && chown 0:0 "$PKI/private/ca.key" && chmod 0600 "$PKI/private/ca.key"

# issue NAME SUBJECT KEYUSAGE EKU [SAN]
issue() {
    local name=$1 subj=$2 ku=$3 eku=$4 san=${5:-}
    local key="$PKI/private/$name.key" crt="$PKI/certs/$name.crt"
    if [ ! -f "$crt" ]; then
        if [ ! -f "$PKI/private/ca.key" ]; then
            log "ERROR: $crt is missing and there is no CA key to issue it" >&2
            exit 1
        fi
        log "issuing $name ($subj)"
        [ -f "$key" ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:"$KEYBITS" -out "$key" 2>/dev/null
        {
            echo "basicConstraints=critical,CA:FALSE"
            echo "keyUsage=critical,$ku"
            echo "extendedKeyUsage=$eku"
            echo "subjectKeyIdentifier=hash"
            echo "authorityKeyIdentifier=keyid"
            [ -n "$san" ] && echo "subjectAltName=$san"
        } > "$tmp/$name.ext"
        openssl req -new -key "$key" -subj "$subj" -out "$tmp/$name.csr"
        openssl x509 -req -in "$tmp/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/private/ca.key" \
            -CAcreateserial -CAserial "$tmp/ca.srl" -set_serial "0x$(openssl rand -hex 12)" \
            -sha256 -days "$DAYS" -extfile "$tmp/$name.ext" -out "$crt" 2>/dev/null
    fi
    [ -f "$key" ] || { log "ERROR: $key is missing" >&2; exit 1; }
    openssl verify -CAfile "$PKI/ca.crt" "$crt" >/dev/null
    chmod 0644 "$crt"
    chown "${UID_OF[$name]}:$GID" "$key"
    chmod 0600 "$key"
}

# Same profile as the project's test PKI (tests/lib/pki.sh): every leaf may sign, carry keys and
# authenticate TLS either way. Subjects read as identities "CN=shop1,O=msgsec demo" etc.
LEAF_KU="digitalSignature,keyEncipherment,dataEncipherment"
LEAF_EKU="clientAuth,serverAuth"
issue mosquitto      "/O=msgsec demo/CN=mosquitto"      "$LEAF_KU" "$LEAF_EKU" "DNS:mosquitto,DNS:localhost,IP:127.0.0.1"
issue bridge         "/O=msgsec demo/CN=msgsec-bridge"  "$LEAF_KU" "$LEAF_EKU"
issue shop1          "/O=msgsec demo/CN=shop1"          "$LEAF_KU" "$LEAF_EKU"
issue orders-service "/O=msgsec demo/CN=orders-service" "$LEAF_KU" "$LEAF_EKU"

# AMQP (RabbitMQ) accounts: a random password per account, and RabbitMQ definitions holding
# only salted SHA-256 hashes (rabbit_password_hashing_sha256: base64(salt4 || sha256(salt4 || pw))).
hash_password() {
    local pwfile=$1
    openssl rand 4 > "$tmp/salt"
    cat "$tmp/salt" "$pwfile" | openssl dgst -sha256 -binary > "$tmp/digest"
    cat "$tmp/salt" "$tmp/digest" | openssl base64 -A
}
for acct in bridge orders-service; do
    pw="$PKI/amqp/$acct.password"
    if [ ! -f "$pw" ]; then
        log "creating AMQP password for $acct"
        openssl rand -hex 24 | tr -d '\n' > "$pw"
    fi
    chown "${UID_OF[$acct]}:$GID" "$pw"
    chmod 0600 "$pw"
done
if [ ! -f "$PKI/rabbitmq/definitions.json" ] || [ "${PKI_REFRESH_DEFINITIONS:-1}" = 1 ]; then
    hb=$(hash_password "$PKI/amqp/bridge.password")
    hs=$(hash_password "$PKI/amqp/orders-service.password")
    cat > "$PKI/rabbitmq/definitions.json" <<JSON
{
  "users": [
    {"name": "bridge", "password_hash": "$hb",
     "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ""},
    {"name": "orders-service", "password_hash": "$hs",
     "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ""}
  ],
  "vhosts": [{"name": "/"}],
  "permissions": [
    {"user": "bridge", "vhost": "/", "configure": "^$", "write": "^(amq\\\\.default|orders)$", "read": "^$"},
    {"user": "orders-service", "vhost": "/", "configure": "^$", "write": "^$", "read": "^orders$"}
  ],
  "queues": [
    {"name": "orders", "vhost": "/", "durable": true, "auto_delete": false, "arguments": {}}
  ],
  "exchanges": [], "bindings": [], "policies": [], "parameters": [], "global_parameters": []
}
JSON
fi
chown "$RABBITMQ_UID:$RABBITMQ_UID" "$PKI/rabbitmq/definitions.json"
chmod 0640 "$PKI/rabbitmq/definitions.json"

date -u +%FT%TZ > "$PKI/.ready"
chmod 0644 "$PKI/.ready"
log "ready: $(cd "$PKI" && find . -type f ! -name '.ready' | sort | tr '\n' ' ')"
