#!/usr/bin/env bash
# Sourceable harness: runs a real RabbitMQ 3.10 node with the AMQP 1.0 plugin
# on free loopback ports, everything under one directory, for tests,
# benchmarks and the demo.
#
#   source tests/lib/rabbitmq.sh
#   rmq_start DIR                 # starts a node (data, logs, cookie under DIR); ~5 s
#   rmq_declare_queue NAME        # declares a durable classic queue NAME
#                                 # (AMQP 1.0 address /amq/queue/NAME then targets it)
#   rmq_queue_depth NAME [COL]    # prints the number of ready messages in NAME
#                                 # (COL: messages = ready + unacknowledged)
#   rmq_ctl ARGS...               # rabbitmqctl against this node
#   rmq_stop                      # stops the node (rabbitmqctl stop, then KILL)
#   rmq_restart                   # stop + start on the same ports and data (persistent queues survive)
#
# Sets RMQ_PORT (AMQP 0-9-1 and 1.0), RMQ_DIR, RMQ_PID, RMQ_NODE, RMQ_LOG.
# RMQ_TLS_PORT + RMQ_TLS_CA/CERT/KEY (set before rmq_start) add a TLS listener
# (AMQP 1.0 over TLS: amqps://127.0.0.1:$RMQ_TLS_PORT), verify_peer on so a
# client certificate enables SASL EXTERNAL (rabbitmq_auth_mechanism_ssl).
# RMQ_EXTRA_CONF lines are appended to rabbitmq.conf.
# RabbitMQ drops to the `rabbitmq` user: DIR is handed to it (run as root).

RMQ_SERVER=/usr/lib/rabbitmq/bin/rabbitmq-server
RMQ_CTL=/usr/lib/rabbitmq/bin/rabbitmqctl

rmq_free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

rmq_port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Runs a command as the rabbitmq user with this node's environment.
_rmq_as() {
    local -a env=(HOME="$RMQ_DIR/home" RABBITMQ_NODENAME="$RMQ_NODE"
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$RMQ_PORT"
        RABBITMQ_DIST_PORT="$RMQ_DIST_PORT" ERL_EPMD_PORT="$RMQ_EPMD_PORT"
        ERL_EPMD_ADDRESS=127.0.0.1
        RABBITMQ_MNESIA_BASE="$RMQ_DIR/mnesia" RABBITMQ_LOG_BASE="$RMQ_DIR/log"
        RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_DIR/enabled_plugins"
        RABBITMQ_CONFIG_FILE="$RMQ_DIR/rabbitmq.conf"
        RABBITMQ_ADVANCED_CONFIG_FILE="$RMQ_DIR/advanced.config"
        RABBITMQ_PID_FILE="$RMQ_DIR/rabbit.pid" RABBITMQ_LOGS="$RMQ_LOG"
        PATH=/usr/lib/rabbitmq/bin:/usr/bin:/bin)
    if [ "$(id -u)" -eq 0 ]; then
        env -i "${env[@]}" setpriv --reuid rabbitmq --regid rabbitmq --init-groups "$@"
    else
        env -i "${env[@]}" "$@"
    fi
}

rmq_ctl() {
    _rmq_as "$RMQ_CTL" -q "$@"
}

_rmq_write_config() {
    {
        echo "loopback_users = none"
        echo "listeners.tcp.default = 127.0.0.1:$RMQ_PORT"
        echo "log.console = false"
        echo "log.file.level = info"
        if [ -n "${RMQ_TLS_PORT:-}" ]; then
            echo "listeners.ssl.default = 127.0.0.1:$RMQ_TLS_PORT"
            echo "ssl_options.cacertfile = $RMQ_DIR/tls-ca.pem"
            echo "ssl_options.certfile = $RMQ_DIR/tls-cert.pem"
            echo "ssl_options.keyfile = $RMQ_DIR/tls-key.pem"
            echo "ssl_options.verify = verify_peer"
            echo "ssl_options.fail_if_no_peer_cert = false"
            echo "auth_mechanisms.1 = PLAIN"
            echo "auth_mechanisms.2 = AMQPLAIN"
            echo "auth_mechanisms.3 = EXTERNAL"
            echo "ssl_cert_login_from = common_name"
        fi
        if [ -n "${RMQ_EXTRA_CONF:-}" ]; then echo "$RMQ_EXTRA_CONF"; fi
    } > "$RMQ_DIR/rabbitmq.conf"
    echo "[]." > "$RMQ_DIR/advanced.config"
    if [ -n "${RMQ_TLS_PORT:-}" ]; then
        echo "[rabbitmq_amqp1_0,rabbitmq_auth_mechanism_ssl]." > "$RMQ_DIR/enabled_plugins"
        cp "$RMQ_TLS_CA" "$RMQ_DIR/tls-ca.pem"
        cp "$RMQ_TLS_CERT" "$RMQ_DIR/tls-cert.pem"
        cp "$RMQ_TLS_KEY" "$RMQ_DIR/tls-key.pem"
    else
        echo "[rabbitmq_amqp1_0]." > "$RMQ_DIR/enabled_plugins"
    fi
}

# rmq_start DIR: first start picks ports; a restart (same DIR) reuses them.
rmq_start() {
    local dir=${1:?usage: rmq_start DIR}
    mkdir -p "$dir"
    RMQ_DIR=$(cd "$dir" && pwd)
    if [ -z "${RMQ_PORT:-}" ] || [ "${RMQ_PORTS_DIR:-}" != "$RMQ_DIR" ]; then
        RMQ_PORT=$(rmq_free_port)
        RMQ_DIST_PORT=$(rmq_free_port)
        RMQ_EPMD_PORT=$(rmq_free_port)
        RMQ_NODE="msgsec-test-$RMQ_PORT@localhost"
        RMQ_PORTS_DIR=$RMQ_DIR
    fi
    RMQ_LOG=$RMQ_DIR/log/rabbit.log
    mkdir -p "$RMQ_DIR/home" "$RMQ_DIR/mnesia" "$RMQ_DIR/log"
    _rmq_write_config
    if [ "$(id -u)" -eq 0 ]; then
        chown -R rabbitmq:rabbitmq "$RMQ_DIR"
        chmod 755 "$RMQ_DIR"
    fi
    _rmq_as "$RMQ_SERVER" >"$RMQ_DIR/server.out" 2>&1 &
    RMQ_PID=$!
    local i
    for i in $(seq 1 600); do
        if ! kill -0 "$RMQ_PID" 2>/dev/null; then
            echo "rmq_start: rabbitmq-server exited during start-up:" >&2
            tail -n 30 "$RMQ_DIR/server.out" "$RMQ_LOG" >&2 2>/dev/null
            RMQ_PID=
            return 1
        fi
        # the AMQP listener opens once the node has booted its plugins
        if rmq_port_open "$RMQ_PORT" && rmq_ctl await_startup >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    echo "rmq_start: RabbitMQ did not start within 60 s" >&2
    rmq_stop
    return 1
}

rmq_declare_queue() {
    local name=${1:?usage: rmq_declare_queue NAME}
    rmq_ctl eval "rabbit_amqqueue:declare(rabbit_misc:r(<<\"/\">>, queue, <<\"$name\">>), true, false, [], none, <<\"msgsec-test\">>)." >/dev/null
}

rmq_queue_depth() {
    local name=${1:?usage: rmq_queue_depth NAME [COLUMN]}
    rmq_ctl list_queues name "${2:-messages_ready}" --no-table-headers 2>/dev/null |
        awk -v q="$name" '$1 == q { print $2; found = 1 } END { if (!found) print 0 }'
}

rmq_stop() {
    [ -n "${RMQ_PID:-}" ] || return 0
    rmq_ctl stop >/dev/null 2>&1 || true
    local i
    for i in $(seq 1 100); do
        kill -0 "$RMQ_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$RMQ_PID" 2>/dev/null || true
    wait "$RMQ_PID" 2>/dev/null || true
    # the epmd this node started (found by its private port, killed by pid)
    local epmd
    for epmd in $(pgrep -f "epmd" 2>/dev/null); do
        if tr '\0' ' ' < "/proc/$epmd/environ" 2>/dev/null | grep -q "ERL_EPMD_PORT=$RMQ_EPMD_PORT "; then
            kill -KILL "$epmd" 2>/dev/null || true
        fi
    done
    RMQ_PID=
}

rmq_restart() {
    local dir=$RMQ_DIR
    rmq_stop
    rmq_start "$dir"
}
