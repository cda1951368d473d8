#!/usr/bin/env bash
# Creates the test PKI in DIR (idempotent: skips when DIR/.done exists).
#   ca.pem ca.key                 test CA (RSA-2048)
#   service.pem service.key       the receiving service, RSA-2048, CN=orders-service
#   other-service.pem/.key        another service (messages for it must not decrypt here)
#   client-rsa.pem/.key           CN=shop1,O=Example  RSA-2048 sender
#   client-ec.pem/.key            CN=shop2,O=Example  ECDSA P-256 sender
#   client3.pem/.key              CN=intruder,O=Example (trusted chain, not an allowed sender)
#   expired.pem/.key              CN=shop-expired  (validity ended 2020)
#   revoked.pem/.key              CN=shop-revoked  (listed in crl.pem)
#   crl.pem                       CRL of the test CA
#   selfsigned.pem/.key           CN=shop1,O=Example self-signed (attacker)
#   rogue-ca.pem, rogue.pem/.key  CN=shop1,O=Example issued by an untrusted CA
#   server.pem/.key               TLS server, CN=localhost, SAN 127.0.0.1
#   sts.pem sts.key               token issuer (SAML STS), CN=msgsec-sts
# Keys are mode 0600 (libmsgsec refuses keys readable by group or others).
set -euo pipefail
dir=${1:?usage: pki.sh DIR}
mkdir -p "$dir"
cd "$dir"
[ -f .done ] && exit 0
umask 077

ca_conf() { # $1 = ca name
  cat > "$1.cnf" <<CNF
[ca]
default_ca = d
[d]
dir = .
database = $1.index
new_certs_dir = $1.newcerts
serial = $1.serial
crlnumber = $1.crlnumber
certificate = $1.pem
private_key = $1.key
default_md = sha256
default_days = 3650
default_crl_days = 3650
policy = p
unique_subject = no
copy_extensions = copy
[p]
organizationName = optional
commonName = supplied
[leaf]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment, dataEncipherment
extendedKeyUsage = clientAuth, serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
  : > "$1.index"; mkdir -p "$1.newcerts"; echo 1000 > "$1.serial"; echo 1000 > "$1.crlnumber"
}

make_ca() { # name subject
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -days 3650 \
    -subj "$2" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  ca_conf "$1"
}

# issue CA NAME SUBJECT KEYSPEC [extra ca args...]
issue() {
  local ca=$1 name=$2 subj=$3 keyspec=$4; shift 4
  if [ "$keyspec" = ec ]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name.key" 2>/dev/null
  else
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$name.key" 2>/dev/null
  fi
  openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr" \
    ${SAN:+-addext "subjectAltName=$SAN"} 2>/dev/null
  openssl ca -batch -config "$ca.cnf" -extensions leaf -in "$name.csr" -out "$name.pem" \
    -notext "$@" 2>/dev/null
  rm -f "$name.csr"
}

make_ca ca "/O=Example/CN=msgsec Test CA"
issue ca service "/O=Example/CN=orders-service" rsa
issue ca other-service "/O=Example/CN=other-service" rsa
issue ca client-rsa "/O=Example/CN=shop1" rsa
issue ca client-ec "/O=Example/CN=shop2" ec
issue ca client3 "/O=Example/CN=intruder" rsa
issue ca expired "/O=Example/CN=shop-expired" rsa -startdate 20190101000000Z -enddate 20200101000000Z
issue ca revoked "/O=Example/CN=shop-revoked" rsa
SAN="DNS:localhost,IP:127.0.0.1" issue ca server "/O=Example/CN=localhost" rsa
issue ca sts "/O=Example/CN=msgsec-sts" rsa
openssl ca -batch -config ca.cnf -revoke revoked.pem 2>/dev/null
openssl ca -batch -config ca.cnf -gencrl -out crl.pem 2>/dev/null

openssl req -x509 -newkey rsa:2048 -nodes -keyout selfsigned.key -out selfsigned.pem -days 3650 \
  -subj "/O=Example/CN=shop1" 2>/dev/null
make_ca rogue-ca "/O=Example/CN=msgsec Test CA"
issue rogue-ca rogue "/O=Example/CN=shop1" rsa

chmod 600 ./*.key
chmod 644 ./*.pem
touch .done
