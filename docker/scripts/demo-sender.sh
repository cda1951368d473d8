#!/usr/bin/env bash
# Demo sender ("shop1"): secures DEMO_COUNT orders for the orders service with `msgsec wrap`
# (certificate credential, encrypted for orders-service.crt, signed with shop1's key) and
# publishes each envelope with mosquitto_pub over TLS with the same client certificate.
set -euo pipefail

MQTT_HOST=${MQTT_HOST:-mosquitto}
MQTT_PORT=${MQTT_PORT:-8883}
TOPIC=${DEMO_TOPIC:-orders/new}
COUNT=${DEMO_COUNT:-5}
TEXT=${DEMO_TEXT:-order for 3 widgets}
TO=${DEMO_TO:-urn:example:orders}
ACTION=${DEMO_ACTION:-urn:example:orders/new}
WAIT_URL=${DEMO_WAIT_URL:-}        # e.g. http://bridge:9464/healthz
CERT=/pki/certs/shop1.crt KEY=/pki/private/shop1.key
SERVICE_CERT=/pki/certs/orders-service.crt CA=/pki/ca.crt

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -n "$WAIT_URL" ]; then
    for _ in $(seq 1 120); do
        curl -fsS -o /dev/null --max-time 2 "$WAIT_URL" && break
        sleep 1
    done
    curl -fsS -o /dev/null --max-time 2 "$WAIT_URL" || { echo "demo-sender: $WAIT_URL is not healthy" >&2; exit 1; }
fi

publish() {   # publish FILE: retry while the broker is not reachable yet
    local f=$1 try
    for try in $(seq 1 30); do
        if mosquitto_pub -h "$MQTT_HOST" -p "$MQTT_PORT" -V mqttv5 -q 1 \
               --cafile "$CA" --cert "$CERT" --key "$KEY" \
               -D publish content-type application/soap+xml \
               -i "shop1-$$" -t "$TOPIC" -f "$f"; then
            return 0
        fi
        sleep 1
    done
    return 1
}

for i in $(seq 1 "$COUNT"); do
    printf '%s #%d' "$TEXT" "$i" > "$work/payload"
    msgsec wrap --credential certificate --cert "$CERT" --key "$KEY" \
        --service-cert "$SERVICE_CERT" --to "$TO" --action "$ACTION" \
        --content-type text/plain --in "$work/payload" --out "$work/envelope.xml"
    publish "$work/envelope.xml"
    echo "demo-sender: published secured message $i/$COUNT to $TOPIC ($(wc -c < "$work/envelope.xml") bytes)"
done
rm -f "$work/payload"
echo "demo-sender: done"
