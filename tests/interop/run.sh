#!/usr/bin/env bash
# Interop test driver (ctest label `interop`, registered by CMakeLists.txt here).
#   run.sh CASE
# CASE: javac | keystores | wss4j-selftest | msgsec-to-wss4j | wss4j-to-msgsec | xmlsec1
# Environment (set by CMake): MSGSEC_PKI (tests/lib/pki.sh output), INTEROP_DIR (build dir),
# INTEROP_CLASSPATH (WSS4J jars), JAVA, JAVAC, PYTHON (/usr/bin/python3), MSGSEC (the
# command; the cases that run it).
# Every case works in $INTEROP_DIR/CASE (emptied first) and prints what it checked.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
case_name=${1:?usage: run.sh CASE}
pki=${MSGSEC_PKI:?}
top=${INTEROP_DIR:?}
work=$top/$case_name
rm -rf "$work"
mkdir -p "$work"
cd "$work"

WSU=http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd
WSSE=http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd
WSA=http://www.w3.org/2005/08/addressing
SOAP12=http://www.w3.org/2003/05/soap-envelope
TO=urn:example:orders

die() { echo "FAIL: $*" >&2; exit 1; }

# The XML payload both directions carry: a default namespace, attributes, an entity,
# non-ASCII text.
write_payload() {
  printf '%s' '<order xmlns="urn:example:orders" id="42"><item sku="A-1" qty="2">Widget &amp; bolt</item><note>caf&#233; &#252;</note></order>' > order.xml
}

# wss4j JOBFILE: one JVM runs every job of the file (WssInterop.java).
wss4j() {
  "${JAVA:?}" -Dorg.apache.commons.logging.Log=org.apache.commons.logging.impl.NoOpLog \
    -cp "$top/classes:${INTEROP_CLASSPATH:?}" WssInterop "$top/keys" "$1"
}

xmltool() { "${PYTHON:?}" "$here/xmltool.py" "$@"; }

# expect_exit CODE CMD...: run CMD, require exit CODE, print its stderr line.
expect_exit() {
  local want=$1 got=0; shift
  "$@" 2> err.txt || got=$?
  [ "$got" -eq "$want" ] || die "exit $got (expected $want): $* : $(cat err.txt)"
  echo "  exit $got as expected: $(head -c 300 err.txt)"
}

msgsec_wrap() { # sender OUT [extra args]: XML payload for the service
  local sender=$1 out=$2; shift 2
  "${MSGSEC:?}" wrap --cert "$pki/$sender.pem" --key "$pki/$sender.key" \
    --service-cert "$pki/service.pem" --to "$TO" --action urn:example:orders:new \
    --content-type application/xml --in order.xml --out "$out" "$@"
}

msgsec_unwrap() { # IN OUT CONTEXT [extra args]: as the service, trusting the test CA
  local in=$1 out=$2 ctx=$3; shift 3
  "${MSGSEC:?}" unwrap --cert "$pki/service.pem" --key "$pki/service.key" --ca "$pki/ca.pem" \
    --to "$TO" --in "$in" --out "$out" --context "$ctx" "$@"
}

case $case_name in
javac)
  mkdir -p "$top/classes"
  "${JAVAC:?}" -Xlint:all,-path -Werror -d "$top/classes" -cp "${INTEROP_CLASSPATH:?}" \
    "$here/WssInterop.java"
  echo "compiled WssInterop into $top/classes"
  ;;

keystores)
  bash "$here/keystores.sh" "$pki" "$top/keys"
  echo "keystores in $top/keys"
  ;;

wss4j-selftest)
  # WSS4J alone: both protection orders, RSA and ECDSA senders, SOAP 1.1 and 1.2; then
  # tampered copies must be refused (so the consume checks can fail).
  write_payload
  : > jobs
  for signer in client-rsa client-ec; do
    for order in encrypt-then-sign sign-then-encrypt; do
      for soap in 1.1 1.2; do
        f=$signer-$order-$soap.xml
        echo "produce out=$f signer=$signer order=$order soap=$soap oaep=sha1 body=order.xml" >> jobs
      done
    done
  done
  echo "produce out=oaep256.xml signer=client-rsa order=encrypt-then-sign soap=1.2 oaep=sha256 body=order.xml" >> jobs
  wss4j jobs
  : > jobs2
  for f in client-rsa-*.xml oaep256.xml; do
    echo "consume in=$f body=order.xml identity=CN=shop1,O=Example" >> jobs2
  done
  for f in client-ec-*.xml; do
    echo "consume in=$f body=order.xml identity=CN=shop2,O=Example" >> jobs2
  done
  for order in encrypt-then-sign sign-then-encrypt; do
    xmltool tamper body-cipher client-rsa-$order-1.2.xml bad-cipher-$order.xml
    xmltool tamper to client-rsa-$order-1.2.xml bad-to-$order.xml
    echo "reject in=bad-cipher-$order.xml" >> jobs2
    echo "reject in=bad-to-$order.xml" >> jobs2
  done
  # the harness itself must notice a wrong principal
  echo "consume in=client-ec-encrypt-then-sign-1.2.xml body=order.xml identity=CN=shop1,O=Example" > jobs3
  wss4j jobs2
  if wss4j jobs3 > out3.txt; then
    die "WSS4J harness accepted a wrong expected principal"
  fi
  grep -q "principal CN=shop2,O=Example, expected CN=shop1,O=Example" out3.txt \
    || die "unexpected harness output: $(cat out3.txt)"
  echo "wrong expected principal detected"
  ;;

*)
  die "unknown case $case_name"
  ;;
esac
