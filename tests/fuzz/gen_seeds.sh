#!/usr/bin/env bash
# Valid envelopes for the fuzz corpus, made with the build's msgsec command
# and the build's test PKI (they must verify there): c0-*.xml.
#   gen_seeds.sh MSGSEC_BIN PKI_DIR OUT_DIR
set -euo pipefail
bin=$1 pki=$2 out=$3
mkdir -p "$out"
rm -f "$out"/c0-*.xml
printf 'order 42' | "$bin" wrap --cert "$pki/client-rsa.pem" --key "$pki/client-rsa.key" \
  --service-cert "$pki/service.pem" --out "$out/c0-rsa.xml"
printf 'order 43' | "$bin" wrap --cert "$pki/client-ec.pem" --key "$pki/client-ec.key" \
  --service-cert "$pki/service.pem" --out "$out/c0-ecdsa.xml"
printf 'anonymous' | "$bin" wrap --credential none --service-cert "$pki/service.pem" \
  --out "$out/c0-none.xml"
printf '<order xmlns="urn:o"><id>44</id><note>a &amp; b</note></order>' | "$bin" wrap \
  --cert "$pki/client-rsa.pem" --key "$pki/client-rsa.key" --service-cert "$pki/service.pem" \
  --content-type application/xml --out "$out/c0-xml.xml"
