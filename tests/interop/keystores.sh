#!/usr/bin/env bash
# Converts the test PKI (tests/lib/pki.sh) into the PKCS#12 keystores WSS4J's Merlin
# crypto reads (see WssInterop.java). Password "interop" (test only).
#   keystores.sh PKI_DIR OUT_DIR
set -euo pipefail
pki=${1:?usage: keystores.sh PKI_DIR OUT_DIR}
out=${2:?usage: keystores.sh PKI_DIR OUT_DIR}
pass=interop
rm -rf "$out"
mkdir -p "$out"
umask 077

trust() { # keystore alias pem: add a trusted certificate entry (Java only trusts keytool's)
  local msg
  if ! msg=$(keytool -importcert -noprompt -storetype pkcs12 -keystore "$out/$1.p12" \
      -storepass "$pass" -alias "$2" -file "$pki/$3" 2>&1); then
    echo "keystores.sh: keytool: $msg" >&2
    exit 1
  fi
}

for id in service client-rsa client-ec; do
  openssl pkcs12 -export -in "$pki/$id.pem" -inkey "$pki/$id.key" -name "$id" \
    -out "$out/$id.p12" -passout "pass:$pass"
done
# senders encrypt for the service
trust client-rsa service service.pem
trust client-ec service service.pem
trust trust ca ca.pem
