#!/usr/bin/env bash
# A bad configuration at start makes mosquitto refuse to start, with a log
# line naming the file, line and reason.
source "$(dirname "$0")/common.sh"

# refused NAME REGEX: mosquitto must exit during start-up and log REGEX.
refused() {
    if mosq_start "$CONF"; then fail "$1: mosquitto started"; fi
    grep -Eq -- "msgsec: refusing to start: $2" "$MOSQ_LOG" "$CONF/mosquitto.stderr" ||
        fail "$1: no log line matching '$2'"
    ok "$1 refused"
}
good_rules='rules:
  - topic: "orders/#"
    action: enforce'

plugin_conf
printf 'trust:\n  ca: [%s]\nrules:\n  - topic: "orders/#"\n    action: [oops\n' "$CONF/ca.pem" \
    > "$CONF/msgsec.yaml"
refused "YAML syntax error" ".*msgsec.yaml:[0-9]+"
printf 'trust:\n  ca: [%s]\nrules:\n  - topic: "orders/#"\n    action: allow\n' "$CONF/ca.pem" \
    > "$CONF/msgsec.yaml"
refused "unknown action" ".*msgsec.yaml:5"
printf 'trust:\n  ca: [%s]\nrules:\n  - topic: "orders/#/x"\n    action: enforce\n' "$CONF/ca.pem" \
    > "$CONF/msgsec.yaml"
refused "invalid topic filter" ".*msgsec.yaml:4: .*'orders/#/x' is not a valid MQTT topic filter"
cp "$PKI/client-rsa.pem" "$PKI/client-rsa.key" "$CONF/"
cat > "$CONF/msgsec.yaml" <<YAML
identity: {cert: $CONF/client-rsa.pem, key: $CONF/client-rsa.key}
trust:
  ca: [$CONF/ca.pem]
rules:
  - topic: "a/in"
    action: protect
    service_cert: $CONF/service.pem
    publish_to: "b/in"
  - topic: "b/#"
    action: protect
    service_cert: $CONF/service.pem
    publish_to: "a/in"
YAML
refused "protect loop" ".*msgsec.yaml:5: publish_to 'b/in' is itself protected by the rule at line 9"
sed -i '9,$d' "$CONF/msgsec.yaml"
chmod 644 "$CONF/client-rsa.key"
refused "private key readable by others" ".*client-rsa.key"
chmod 600 "$CONF/client-rsa.key"
printf 'trust:\n  ca: [%s]\n%s\n' "$CONF/nonexistent-ca.pem" "$good_rules" > "$CONF/msgsec.yaml"
refused "missing CA file" ".*nonexistent-ca.pem"
echo "plugin $MSGSEC_PLUGIN" > "$CONF/extra.conf"
refused "no plugin_opt_config" "missing 'plugin_opt_config PATH'"

# and the same directory starts once the configuration is right
printf 'trust:\n  ca: [%s]\n%s\n' "$CONF/ca.pem" "$good_rules" > "$CONF/msgsec.yaml"
plugin_conf
mosq_start "$CONF" || fail "a good configuration did not start"
mosq_wait_log "msgsec: loaded"
ok "good configuration starts"
echo PASS
