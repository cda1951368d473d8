#!/usr/bin/env bash
# Sourceable harness: runs a real mosquitto (/usr/sbin/mosquitto) on a free
# loopback port for tests, benchmarks and the demo.
#
#   source tests/lib/mosquitto.sh
#   port=$(mosq_free_port)          # a free 127.0.0.1 TCP port (for extra listeners)
#   mosq_start DIR                  # starts mosquitto with DIR/mosquitto.conf, generated
#                                   # from a base (plain listener on $MOSQ_PORT, log to
#                                   # DIR/mosquitto.log) + DIR/extra.conf if present
#   mosq_reload                     # SIGHUP
#   mosq_wait_log REGEX [SECONDS]   # waits until the log matches (default 10 s)
#   mosq_stop                       # stops it (TERM, then KILL after 5 s)
#
# Sets MOSQ_PORT, MOSQ_PID, MOSQ_LOG, MOSQ_DIR. When run as root, DIR is handed
# to the `mosquitto` user (override with MOSQ_RUN_USER) because mosquitto drops
# to it before serving: every file the broker or a plugin reads or writes must
# live under DIR (keys stay mode 0600, owned by that user).
# MOSQ_WRAPPER (e.g. "valgrind --error-exitcode=99") prefixes the command;
# MOSQ_LOG_TYPES (default "all") lists the log_type values (benchmarks: "error").

MOSQ_BIN=${MOSQ_BIN:-/usr/sbin/mosquitto}

mosq_free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# mosq_port_open PORT: 0 when something accepts connections on 127.0.0.1:PORT.
mosq_port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

mosq_start() {
    local dir=${1:?usage: mosq_start DIR}
    MOSQ_DIR=$(cd "$dir" && pwd)
    MOSQ_PORT=${MOSQ_PORT_WANTED:-$(mosq_free_port)}
    MOSQ_LOG=$MOSQ_DIR/mosquitto.log
    local run_user=${MOSQ_RUN_USER:-mosquitto}
    {
        echo "per_listener_settings false"
        echo "persistence false"
        echo "log_dest file $MOSQ_LOG"
        local t
        for t in ${MOSQ_LOG_TYPES:-all}; do echo "log_type $t"; done
        echo "log_timestamp_format %Y-%m-%dT%H:%M:%S"
        if [ "$(id -u)" -eq 0 ]; then echo "user $run_user"; fi
        echo "listener $MOSQ_PORT 127.0.0.1"
        echo "allow_anonymous true"
        if [ -f "$MOSQ_DIR/extra.conf" ]; then cat "$MOSQ_DIR/extra.conf"; fi
    } > "$MOSQ_DIR/mosquitto.conf"
    : > "$MOSQ_LOG"
    if [ "$(id -u)" -eq 0 ] && [ "$run_user" != root ]; then
        chown -R "$run_user" "$MOSQ_DIR"
        chmod 755 "$MOSQ_DIR"
    fi
    # shellcheck disable=SC2086
    ${MOSQ_WRAPPER:-} "$MOSQ_BIN" -c "$MOSQ_DIR/mosquitto.conf" >"$MOSQ_DIR/mosquitto.stderr" 2>&1 &
    MOSQ_PID=$!
    local i
    for i in $(seq 1 300); do
        if ! kill -0 "$MOSQ_PID" 2>/dev/null; then
            echo "mosq_start: mosquitto exited during start-up; log:" >&2
            tail -n 20 "$MOSQ_LOG" "$MOSQ_DIR/mosquitto.stderr" >&2
            MOSQ_PID=
            return 1
        fi
        if mosq_port_open "$MOSQ_PORT"; then
            return 0
        fi
        sleep 0.1
    done
    echo "mosq_start: mosquitto did not open port $MOSQ_PORT within 30 s" >&2
    mosq_stop
    return 1
}

mosq_reload() {
    kill -HUP "$MOSQ_PID"
}

mosq_wait_log() {
    local regex=$1 secs=${2:-10} i
    for i in $(seq 1 $((secs * 10))); do
        grep -Eq -- "$regex" "$MOSQ_LOG" && return 0
        sleep 0.1
    done
    echo "mosq_wait_log: no log line matching '$regex' within $secs s" >&2
    return 1
}

# mosq_stop: returns mosquitto's exit status (0 after a clean TERM).
mosq_stop() {
    [ -n "${MOSQ_PID:-}" ] || return 0
    local pid=$MOSQ_PID i rc=0
    MOSQ_PID=
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "mosq_stop: mosquitto $pid ignored TERM; killing" >&2
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null || rc=$?
    return $rc
}
