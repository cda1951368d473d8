#!/bin/sh
# Mosquitto healthcheck: a TLS client (the broker's own certificate, which allows clientAuth)
# must receive the retained $SYS/broker/version within 3 seconds.
exec mosquitto_sub -h localhost -p "${MQTT_PORT:-8883}" --cafile /pki/ca.crt \
    --cert /pki/certs/mosquitto.crt --key /pki/private/mosquitto.key \
    -i "healthcheck-$$" -t '$SYS/broker/version' -C 1 -W 3
