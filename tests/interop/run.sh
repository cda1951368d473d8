#!/usr/bin/env bash
# Interop test driver (ctest label `interop`, registered by CMakeLists.txt here).
#   run.sh CASE
# CASE: javac | keystores | wss4j-selftest | msgsec-to-wss4j | wss4j-to-msgsec | xmlsec |
#       xmlsec-to-msgsec | none-to-wss4j | username | wss4j-signer-defaults
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
XENC=http://www.w3.org/2001/04/xmlenc#
TO=urn:example:orders

die() { echo "FAIL: $*" >&2; exit 1; }

# The XML payload both directions carry: a default namespace, attributes, an entity,
# non-ASCII text.
write_payload() {
  printf '%s' '<order xmlns="urn:example:orders" id="42"><item sku="A-1" qty="2">Widget &amp; bolt</item><note>caf&#233; &#252;</note></order>' > order.xml
}

# matrix produce|consume: one WSS4J job per sender x protection order x SOAP version,
# on the file SIGNER-ORDER-SOAP.xml.
matrix() {
  local signer order soap who
  for signer in client-rsa client-ec; do
    who=CN=shop1,O=Example
    [ $signer = client-rsa ] || who=CN=shop2,O=Example
    for order in encrypt-then-sign sign-then-encrypt; do
      for soap in 1.1 1.2; do
        if [ "$1" = produce ]; then
          echo "produce out=$signer-$order-$soap.xml signer=$signer order=$order soap=$soap body=order.xml"
        else
          echo "consume in=$signer-$order-$soap.xml body=order.xml identity=$who"
        fi
      done
    done
  done
}

# wss4j JOBFILE: one JVM runs every job of the file (WssInterop.java).
wss4j() {
  "${JAVA:?}" -Dorg.apache.commons.logging.Log=org.apache.commons.logging.impl.NoOpLog \
    -cp "$top/classes:${INTEROP_CLASSPATH:?}" WssInterop "$top/keys" "$1"
}

xmltool() { "${PYTHON:?}" "$here/xmltool.py" "$@"; }
# ek_variants ENVELOPE DIR: the hostile EncryptedKey variants (tests/lib/ek_variants.py)
ek_variants() { "${PYTHON:?}" "$here/../lib/ek_variants.py" "$@"; }

# expect_exit CODE CMD...: run CMD, require exit CODE, print its stderr line.
expect_exit() {
  local want=$1 got=0; shift
  "$@" 2> err.txt || got=$?
  [ "$got" -eq "$want" ] || die "exit $got (expected $want): $* : $(cat err.txt)"
  echo "  exit $got as expected: $(head -c 300 err.txt)"
}

# msgsec_wrap SENDER OUT: secures $PAYLOAD (default order.xml) of type $CT (default
# application/xml) for $SERVICE (default service).
msgsec_wrap() {
  "${MSGSEC:?}" wrap --cert "$pki/$1.pem" --key "$pki/$1.key" \
    --service-cert "$pki/${SERVICE:-service}.pem" --to "$TO" --action urn:example:orders:new \
    --content-type "${CT:-application/xml}" --in "${PAYLOAD:-order.xml}" --out "$2"
}

msgsec_unwrap() { # IN OUT CONTEXT [extra args]: as $SERVICE (default service), trusting the CA
  local in=$1 out=$2 ctx=$3 me=${SERVICE:-service}; shift 3
  "${MSGSEC:?}" unwrap --cert "$pki/$me.pem" --key "$pki/$me.key" --ca "$pki/ca.pem" \
    --to "$TO" --in "$in" --out "$out" --context "$ctx" "$@"
}

# unwrap_ok IN IDENTITY SIGALG: unwrap must yield order.xml and this security context.
unwrap_ok() {
  msgsec_unwrap "$1" "$1.out" "$1.json" || die "msgsec unwrap refused $1 (exit $?)"
  xmltool same-xml "$1.out" order.xml
  xmltool context "$1.json" credential_type=certificate "identity=$2" to=$TO \
    action=urn:example:orders:new "signature_algorithm=http://www.w3.org/2001/04/xmldsig-more#$3"
  echo "  msgsec unwrapped $1: identity $2, $3, payload $(cat "$1.out")"
}

# expect_refused CODE IN [extra unwrap args]: unwrap must exit CODE and write no payload.
expect_refused() {
  local code=$1 in=$2; shift 2
  rm -f refused.out
  expect_exit "$code" msgsec_unwrap "$in" refused.out refused.json "$@"
  [ ! -s refused.out ] || die "refused $in but wrote a payload"
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
  # WSS4J alone: both protection orders, RSA and ECDSA senders, SOAP 1.1 and 1.2, and the
  # UsernameToken profile (a wrong password is refused); then tampered copies must be
  # refused and the harness's own checks must fail where they should.
  write_payload
  ut="cred=username user=alice order=encrypt-then-sign body=order.xml"
  { matrix produce
    echo "produce out=oaep256.xml signer=client-rsa order=encrypt-then-sign soap=1.2 oaep=sha256 body=order.xml"
    echo "produce out=ut-1.1.xml $ut password=s3cret soap=1.1"
    echo "produce out=ut-1.2.xml $ut password=s3cret soap=1.2"
    matrix consume
    echo "consume in=oaep256.xml body=order.xml identity=CN=shop1,O=Example"
    echo "consume in=ut-1.1.xml body=order.xml identity=username:alice password=s3cret"
    echo "consume in=ut-1.2.xml body=order.xml identity=username:alice password=s3cret"
    echo "reject in=ut-1.2.xml password=wrong"
  } > jobs.txt
  wss4j jobs.txt
  : > jobs2.txt
  for order in encrypt-then-sign sign-then-encrypt; do
    xmltool tamper body-cipher client-rsa-$order-1.2.xml bad-cipher-$order.xml
    xmltool tamper to client-rsa-$order-1.2.xml bad-to-$order.xml
    echo "reject in=bad-cipher-$order.xml" >> jobs2.txt
    echo "reject in=bad-to-$order.xml" >> jobs2.txt
  done
  wss4j jobs2.txt
  # the harness's own checks must fail on a wrong principal and on signature wrapping
  # (which WSS4J's processSecurityHeader alone accepts)
  xmltool tamper xsw-move client-rsa-encrypt-then-sign-1.2.xml xsw-move.xml
  printf '%s\n' \
    "consume in=client-ec-encrypt-then-sign-1.2.xml body=order.xml identity=CN=shop1,O=Example" \
    "consume in=xsw-move.xml body=order.xml identity=CN=shop1,O=Example" \
    "consume in=ut-1.2.xml body=order.xml identity=username:bob password=s3cret" > jobs3.txt
  if wss4j jobs3.txt > out3.txt; then
    die "WSS4J harness accepted a wrong principal or a wrapped signature: $(cat out3.txt)"
  fi
  for why in "principal CN=shop2,O=Example, expected CN=shop1,O=Example" \
             "signature does not cover the envelope's Body" \
             "UsernameToken of alice, expected username:bob"; do
    grep -q "$why" out3.txt || die "harness did not report '$why': $(cat out3.txt)"
    echo "  harness failed as expected: $why"
  done
  ;;

msgsec-to-wss4j)
  # msgsec wrap (XML payload) -> WSS4J verifies, decrypts and names the sender.
  write_payload
  msgsec_wrap client-rsa rsa.xml
  msgsec_wrap client-ec ec.xml
  for order in rsa ec; do
    xmltool tamper body-cipher $order.xml bad-cipher-$order.xml
    xmltool tamper to $order.xml bad-to-$order.xml
  done
  # other XML media types; a payload file with an XML declaration, a comment and ISO-8859-1
  printf '<?xml version="1.0" encoding="ISO-8859-1"?>\n<!-- order -->\n<order xmlns="urn:example:orders">caf\xe9</order>\n' > latin1.xml
  CT=text/xml PAYLOAD=latin1.xml msgsec_wrap client-ec latin1-ec.xml
  CT=application/vnd.example+xml msgsec_wrap client-rsa plus-xml.xml
  msgsec_wrap rogue rogue.xml                 # CN=shop1,O=Example from an untrusted CA
  SERVICE=other-service msgsec_wrap client-rsa other.xml  # WSS4J has no key for it
  ek_variants rsa.xml ek                      # msgsec signs its EncryptedKey: WSS4J checks it
  cat > jobs.txt <<EOF
consume in=rsa.xml body=order.xml identity=CN=shop1,O=Example
consume in=ec.xml body=order.xml identity=CN=shop2,O=Example
consume in=latin1-ec.xml body=latin1.xml identity=CN=shop2,O=Example
consume in=plus-xml.xml body=order.xml identity=CN=shop1,O=Example
reject in=bad-cipher-rsa.xml
reject in=bad-to-rsa.xml
reject in=bad-cipher-ec.xml
reject in=bad-to-ec.xml
reject in=rogue.xml
reject in=other.xml
reject in=ek/ek-bitflip.xml
EOF
  wss4j jobs.txt
  ;;

xmlsec)
  # Independent libxmlsec1 tools on msgsec envelopes: the xmlsec1 CLI verifies the
  # signature with the sender's certificate (its --id-attr:Id matches wsu:Id, see
  # README.md), python3-xmlsec decrypts the Body with the service key.
  write_payload
  msgsec_wrap client-rsa rsa.xml
  msgsec_wrap client-ec ec.xml
  xmltool tamper to rsa.xml bad-to-rsa.xml
  ids=(--id-attr:Id "$WSU:Timestamp" --id-attr:Id "$WSA:To" --id-attr:Id "$WSA:Action"
       --id-attr:Id "$WSA:MessageID" --id-attr:Id "$WSSE:BinarySecurityToken"
       --id-attr:Id "$SOAP12:Body" --id-attr:Id "$XENC:EncryptedKey")
  xmlsec1_verify() { # ENVELOPE CERT
    xmlsec1 --verify --pubkey-cert-pem "$pki/$2" "${ids[@]}" "$1" > xmlsec1.out 2>&1
  }
  for pair in rsa:client-rsa.pem ec:client-ec.pem; do
    f=${pair%%:*}.xml
    xmlsec1_verify "$f" "${pair#*:}" || die "xmlsec1 refused $f: $(tail -3 xmlsec1.out)"
    grep -q "SignedInfo References (ok/all): 7/7" xmlsec1.out \
      || die "xmlsec1 did not check 7 references in $f: $(cat xmlsec1.out)"
    echo "  xmlsec1 verified $f with ${pair#*:} (7/7 references)"
    xmltool decrypt "$f" "$pki/service.key" "$f.body"
    xmltool same-xml "$f.body" order.xml
    echo "  python3-xmlsec decrypted $f: $(cat "$f.body")"
  done
  # negative: another RSA key, a changed wsa:To, a key that is not the service's
  if xmlsec1_verify rsa.xml client3.pem; then die "xmlsec1 accepted rsa.xml with another key"; fi
  echo "  xmlsec1 refused rsa.xml with client3.pem: $(grep -m1 -o 'error=[^:]*:[^:]*' xmlsec1.out)"
  if xmlsec1_verify bad-to-rsa.xml client-rsa.pem; then die "xmlsec1 accepted a changed wsa:To"; fi
  echo "  xmlsec1 refused bad-to-rsa.xml: $(grep -m1 'References' xmlsec1.out)"
  if xmltool decrypt rsa.xml "$pki/other-service.key" other.body 2> err.txt; then
    die "python3-xmlsec decrypted with another service's key"
  fi
  echo "  $(cat err.txt)"
  ;;

wss4j-to-msgsec)
  # WSS4J secures XML payloads (both orders, RSA+ECDSA, SOAP 1.1/1.2) -> msgsec unwrap.
  write_payload
  matrix produce > jobs.txt
  common="signer=client-rsa order=encrypt-then-sign soap=1.2 body=order.xml"
  cat >> jobs.txt <<EOF
produce out=ok-oaep256.xml $common oaep=sha256
produce out=ok-aes128gcm.xml $common data=aes128-gcm
produce out=ok-issuer-serial.xml $common ekref=issuer-serial
produce out=ok-ski.xml $common ekref=ski
produce out=ok-element.xml $common encpart=element
produce out=ok-element-ste.xml $common encpart=element order=sign-then-encrypt soap=1.1
produce out=ok-queued.xml $common age=600
produce out=wrong-to.xml $common to=urn:example:elsewhere
produce out=sha1.xml $common sig=sha1
produce out=cbc.xml $common data=aes256-cbc
produce out=rsa15.xml $common transport=rsa15
produce out=minimal.xml $common cover=minimal
produce out=old.xml $common age=172800
produce out=no-bst.xml $common sigref=issuer-serial
EOF
  # WSS4J itself accepts the envelopes msgsec must refuse on policy; a default WSS4J
  # receiver refuses a message queued for 10 minutes (Timestamp TTL 300 s), msgsec does not
  for f in sha1 cbc rsa15 minimal; do
    echo "consume in=$f.xml body=order.xml identity=CN=shop1,O=Example" >> jobs.txt
  done
  echo "reject in=ok-queued.xml" >> jobs.txt
  wss4j jobs.txt
  for f in client-*.xml ok-*.xml; do
    case $f in
    client-ec-*) unwrap_ok "$f" CN=shop2,O=Example ecdsa-sha256 ;;
    *) unwrap_ok "$f" CN=shop1,O=Example rsa-sha256 ;;
    esac
  done
  # a broker (msgsec verify, no service key) names the sender of encrypt-then-sign; it
  # cannot check sign-then-encrypt, whose signature covers the plaintext (8)
  "$MSGSEC" verify --cert "$pki/service.pem" --ca "$pki/ca.pem" --to "$TO" \
    --in client-ec-encrypt-then-sign-1.1.xml --context verify.json
  xmltool context verify.json identity=CN=shop2,O=Example
  echo "  msgsec verify named CN=shop2,O=Example"
  # WSS4J does not sign its BST: a receiver that requires signed tokens refuses (8)
  for f in client-rsa-encrypt-then-sign-1.2.xml client-ec-sign-then-encrypt-1.1.xml; do
    expect_refused 8 $f --require-signed-token
  done
  expect_exit 8 "$MSGSEC" verify --cert "$pki/service.pem" --ca "$pki/ca.pem" \
    --require-signed-token --in client-ec-encrypt-then-sign-1.1.xml
  expect_exit 8 "$MSGSEC" verify --cert "$pki/service.pem" --ca "$pki/ca.pem" \
    --in client-ec-sign-then-encrypt-1.1.xml
  # replay: the second acceptance of a WSS4J message (its MessageID) is refused (6)
  msgsec_unwrap ok-issuer-serial.xml replay.out replay.json --replay-db replay.db
  expect_refused 6 ok-issuer-serial.xml --replay-db replay.db
  # negative: tampered ciphertext and address (4), Created two days ago (5), wrong service
  # key (7), wrong To, SHA-1 signature, CBC content, RSA 1.5 key transport, unsigned wsa
  # headers, signer certificate not in the message (8); signature wrapping (3, 8)
  for order in encrypt-then-sign sign-then-encrypt; do
    xmltool tamper body-cipher client-rsa-$order-1.2.xml bad-cipher-$order.xml
    xmltool tamper to client-rsa-$order-1.2.xml bad-to-$order.xml
  done
  expect_refused 4 bad-cipher-encrypt-then-sign.xml
  expect_refused 4 bad-to-encrypt-then-sign.xml
  expect_refused 4 bad-to-sign-then-encrypt.xml
  # signature wrapping: duplicate Id (3), signed Body moved out of place (8)
  xmltool tamper xsw-dup client-rsa-encrypt-then-sign-1.2.xml xsw-dup.xml
  xmltool tamper xsw-move client-rsa-encrypt-then-sign-1.2.xml xsw-move.xml
  expect_refused 3 xsw-dup.xml
  expect_refused 8 xsw-move.xml
  # a Security header child the receiver does not process (mustUnderstand) (8)
  xmltool tamper foreign client-rsa-encrypt-then-sign-1.2.xml foreign.xml
  expect_refused 8 foreign.xml
  expect_refused 5 old.xml
  SERVICE=other-service expect_refused 7 client-rsa-encrypt-then-sign-1.2.xml
  for f in wrong-to sha1 cbc rsa15 minimal no-bst; do
    expect_refused 8 $f.xml
  done
  ;;

xmlsec-to-msgsec)
  # An independent sender (python3-xmlsec, xmlsec_sender.py) -> msgsec unwrap. WSS4J
  # accepting the same envelopes shows they are valid WS-Security.
  write_payload
  for signer in client-rsa client-ec; do
    "${PYTHON:?}" "$here/xmlsec_sender.py" order.xml "$pki/$signer.pem" "$pki/$signer.key" \
      "$pki/service.pem" "$TO" $signer.xml
  done
  cat > jobs.txt <<EOF
consume in=client-rsa.xml body=order.xml identity=CN=shop1,O=Example
consume in=client-ec.xml body=order.xml identity=CN=shop2,O=Example
EOF
  wss4j jobs.txt
  unwrap_ok client-rsa.xml CN=shop1,O=Example rsa-sha256
  unwrap_ok client-ec.xml CN=shop2,O=Example ecdsa-sha256
  xmltool tamper body-cipher client-ec.xml bad-cipher.xml
  xmltool tamper to client-ec.xml bad-to.xml
  expect_refused 4 bad-cipher.xml
  expect_refused 4 bad-to.xml
  ;;

none-to-wss4j)
  # msgsec wrap --credential none (HMAC-SHA256 under the content key) -> WSS4J, in the
  # layout README.md describes ("none credential").
  write_payload
  "$MSGSEC" wrap --credential none --service-cert "$pki/service.pem" --to "$TO" \
    --content-type application/xml --in order.xml --out none.xml
  xmltool tamper to none.xml bad-to.xml
  printf '%s\n' "consume in=none.xml body=order.xml identity=-" "reject in=bad-to.xml" > jobs.txt
  wss4j jobs.txt
  ;;

username)
  # The UsernameToken profile both ways (WSS4J interop is required for X.509 and UsernameToken):
  # WSS4J -> msgsec unwrap --users (identity alice; a wrong password is 4), msgsec wrap
  # --credential username -> WSS4J (identity alice; a wrong password is refused).
  write_payload
  printf '%s' s3cret > password.txt
  chmod 600 password.txt
  "$MSGSEC" passwd users.txt alice < password.txt
  ut="cred=username user=alice order=encrypt-then-sign body=order.xml"
  printf '%s\n' "produce out=wss4j-ut.xml $ut password=s3cret soap=1.2" \
    "produce out=wss4j-bad-password.xml $ut password=wrong soap=1.1" > jobs.txt
  wss4j jobs.txt
  msgsec_unwrap wss4j-ut.xml ut.out ut.json --users users.txt
  xmltool same-xml ut.out order.xml
  xmltool context ut.json credential_type=username identity=alice
  echo "  msgsec unwrapped WSS4J's UsernameToken envelope: identity alice"
  expect_refused 4 wss4j-bad-password.xml --users users.txt
  "$MSGSEC" wrap --credential username --username alice --password-file password.txt \
    --service-cert "$pki/service.pem" --to "$TO" --content-type application/xml \
    --in order.xml --out msgsec-ut.xml
  printf '%s\n' "consume in=msgsec-ut.xml body=order.xml identity=username:alice password=s3cret" \
    "reject in=msgsec-ut.xml password=wrong" > jobs2.txt
  wss4j jobs2.txt
  ;;

wss4j-signer-defaults)
  # WSS4J signing only the Timestamp and the Body (signature parts {}{wsu}Timestamp;
  # {}{soap}Body, no WS-Addressing headers; the BST and the EncryptedKey unsigned, as
  # WSS4J's and WCF's defaults leave them): RSA and ECDSA senders, both protection
  # orders. WSS4J accepts its own envelopes; msgsec unwrap accepts them with the sender's
  # identity, msgsec verify (broker) names the sender of encrypt-then-sign; with
  # --require-signed-token both refuse (8), and so does a service that expects a wsa:To
  # (--to: none was sent). The same signature with WS-Addressing headers in the envelope
  # leaves them unsigned: refused (8), with or without --to.
  write_payload
  : > jobs.txt
  for signer in client-rsa client-ec; do
    who=CN=shop1,O=Example
    [ $signer = client-rsa ] || who=CN=shop2,O=Example
    for order in encrypt-then-sign sign-then-encrypt; do
      common="signer=$signer order=$order soap=1.2 body=order.xml cover=minimal"
      echo "produce out=$signer-$order.xml $common addressing=no" >> jobs.txt
      echo "produce out=$signer-$order-wsa.xml $common" >> jobs.txt
      echo "consume in=$signer-$order.xml body=order.xml identity=$who" >> jobs.txt
    done
  done
  wss4j jobs.txt
  service=(--cert "$pki/service.pem" --key "$pki/service.key" --ca "$pki/ca.pem")
  broker=(--cert "$pki/service.pem" --ca "$pki/ca.pem")
  for signer in client-rsa client-ec; do
    who=CN=shop1,O=Example alg=rsa-sha256
    [ $signer = client-rsa ] || { who=CN=shop2,O=Example; alg=ecdsa-sha256; }
    for order in encrypt-then-sign sign-then-encrypt; do
      f=$signer-$order.xml
      # what WSS4J sent: a BST, two References (Timestamp, Body), no WS-Addressing header
      grep -q BinarySecurityToken "$f" || die "$f: no BST"
      ! grep -q '<wsa:To' "$f" || die "$f: has a wsa:To"
      [ "$(grep -o '<ds:Reference ' "$f" | wc -l)" = 2 ] || die "$f: not two References"
      "$MSGSEC" unwrap "${service[@]}" --in "$f" --out "$f.out" --context "$f.json" \
        || die "msgsec unwrap refused $f"
      xmltool same-xml "$f.out" order.xml
      xmltool context "$f.json" credential_type=certificate "identity=$who" \
        "signature_algorithm=http://www.w3.org/2001/04/xmldsig-more#$alg"
      echo "  msgsec unwrapped $f: identity $who, $alg"
      expect_exit 8 "$MSGSEC" unwrap "${service[@]}" --require-signed-token --in "$f"
      expect_exit 8 "$MSGSEC" unwrap "${service[@]}" --to "$TO" --in "$f"
      expect_exit 8 "$MSGSEC" unwrap "${service[@]}" --in "$signer-$order-wsa.xml"
      expect_exit 8 "$MSGSEC" unwrap "${service[@]}" --to "$TO" --in "$signer-$order-wsa.xml"
      if [ $order = encrypt-then-sign ]; then
        "$MSGSEC" verify "${broker[@]}" --in "$f" --context "$f.verify.json" \
          || die "msgsec verify refused $f"
        xmltool context "$f.verify.json" "identity=$who"
        echo "  msgsec verify named $who"
        expect_exit 8 "$MSGSEC" verify "${broker[@]}" --require-signed-token --in "$f"
        expect_exit 8 "$MSGSEC" verify "${broker[@]}" --in "$signer-$order-wsa.xml"
      fi
    done
  done
  ;;

*)
  die "unknown case $case_name"
  ;;
esac
