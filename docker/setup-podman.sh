#!/usr/bin/env bash
# Install and configure rootful podman + podman-compose for the msgsec compose stack.
#
# Idempotent; run as root. Used by tests/docker/compose_test.sh and by CI.
#   - installs podman, podman-compose, debootstrap, runc (Debian bookworm packages)
#   - writes /etc/containers/containers.conf.d/msgsec.conf:
#       runtime = "runc"        (crun fails to start containers in this kind of sandbox)
#       default_ulimits = []    (the default nofile ulimit cannot be raised here)
#       cgroup_manager/events_logger without systemd (no systemd runs here)
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "setup-podman.sh: must run as root (rootful podman)" >&2
    exit 2
fi

need=()
for cmd_pkg in podman:podman podman-compose:podman-compose debootstrap:debootstrap runc:runc; do
    cmd=${cmd_pkg%%:*}; pkg=${cmd_pkg##*:}
    if ! command -v "$cmd" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$cmd" ]; then
        need+=("$pkg")
    fi
done
if [ "${#need[@]}" -gt 0 ]; then
    echo "setup-podman.sh: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${need[@]}" \
        netavark aardvark-dns containernetworking-plugins uidmap iptables fuse-overlayfs
fi

mkdir -p /etc/containers/containers.conf.d
conf=/etc/containers/containers.conf.d/msgsec.conf
cat > "$conf.tmp" <<'CONF'
# Written by msgsec docker/setup-podman.sh
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
mv "$conf.tmp" "$conf"
echo "setup-podman.sh: wrote $conf"

podman --version
podman-compose --version 2>/dev/null | grep -i 'podman-compose version' || true
