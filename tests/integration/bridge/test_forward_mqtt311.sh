#!/usr/bin/env bash
# The forward test with the bridge speaking MQTT 3.1.1 (mqtt.version: 4).
BT_MQTT_VERSION=4 exec bash "$(dirname "$0")/test_forward.sh"
