#!/usr/bin/env bash
# Installs every Debian 12 package the build, the tests and the demo need.
# Idempotent: does nothing when all are present.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libssl-dev libxml2-dev libxmlsec1-dev xmlsec1 libyaml-dev liblmdb-dev lmdb-utils
  libcmocka-dev libmicrohttpd-dev libkrb5-dev libpaho-mqtt-dev
  mosquitto mosquitto-dev libmosquitto-dev mosquitto-clients
  libqpid-proton11-dev rabbitmq-server
  krb5-kdc krb5-admin-server krb5-user
  default-jdk-headless libwss4j-java libxml-security-java
  python3 python3-paho-mqtt python3-qpid-proton python3-lxml python3-xmlsec python3-pysaml2
  openssl curl procps iproute2 tshark valgrind util-linux clang-format
  redis-server libhiredis-dev python3-redis
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# services must not be started by the package scripts: tests start their own
echo 'exit 101' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
$SUDO chmod +x /usr/sbin/policy-rc.d
trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
