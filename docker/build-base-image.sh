#!/usr/bin/env bash
# Build the localhost/debian:bookworm-slim base image without a registry:
# debootstrap --variant=minbase bookworm into a temp dir, then `podman import`.
# Skips the work when the image already exists (pass --force to rebuild).
set -euo pipefail

IMAGE=${MSGSEC_BASE_IMAGE:-localhost/debian:bookworm-slim}
force=0
[ "${1:-}" = "--force" ] && force=1

if [ "$force" -eq 0 ] && podman image exists "$IMAGE"; then
    echo "build-base-image.sh: $IMAGE exists, skipping (use --force to rebuild)"
    exit 0
fi

# Mirror: the first Debian main archive URI configured for apt on this host.
mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
    mirror=$( { cat /etc/apt/sources.list 2>/dev/null || true; cat /etc/apt/sources.list.d/*.list 2>/dev/null || true; } \
        | awk '$1=="deb" { for (i=2;i<=NF;i++) if ($i ~ /^https?:\/\//) { print $i; exit } }' | grep -v security | head -1 || true)
fi
if [ -z "$mirror" ]; then
    mirror=$(awk '/^URIs:/ { print $2 }' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1 || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}

dir=$(mktemp -d /var/tmp/msgsec-rootfs.XXXXXX)
cleanup() { rm -rf --one-file-system "$dir"; }
trap cleanup EXIT

echo "build-base-image.sh: debootstrap bookworm from $mirror into $dir"
debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$dir.log" 2>&1 || {
    tail -30 "$dir.log" >&2; rm -f "$dir.log"; exit 1; }
rm -f "$dir.log"

# Make it look like the official slim image: apt sources, no caches, no docs.
cat > "$dir/etc/apt/sources.list" <<SRC
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
SRC
cat > "$dir/etc/dpkg/dpkg.cfg.d/docker-slim" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
DPKG
cat > "$dir/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
APT
rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/archives/*.deb "$dir"/usr/share/doc/*/changelog* \
       "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/var/log/*.log
mkdir -p "$dir/var/lib/apt/lists/partial"

tar --numeric-owner -C "$dir" -c . | podman import \
    --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - "$IMAGE" >/dev/null
echo "build-base-image.sh: imported $IMAGE"
podman image ls "$IMAGE"
