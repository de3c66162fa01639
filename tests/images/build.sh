#!/usr/bin/env bash
# Build the podman images the molecule scenarios use, once per machine, and reuse them afterwards.
#   localhost/kubenode-debian12:base     debootstrap (minbase) of Debian 12 with python3 and the netfilter tools
#   localhost/kubenode-debian12:<name>   variants derived from base by tests/images/<name>.Containerfile
# An image is rebuilt only when its recipe changed (a hash label on the image). No container gets a network:
# packages come from the host's configured Debian archive at debootstrap time only, and, for the package tests
# (molecule kernel_modules / netfilter_tools), from the local file:// apt repository that aptrepo.sh builds
# (/var/lib/kubenode-netfilter-test/aptrepo, mounted read-only into the containers).
# Needs root and the podman configuration that scripts/bootstrap.sh writes (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
IMAGE="localhost/kubenode-debian12"
PACKAGES="python3,iptables,nftables,kmod,procps,iproute2,ipset"
SUITE="bookworm"
log() { printf '[images] %s\n' "$*" >&2; }
# shellcheck source=tests/images/lib.sh
. "$HERE/lib.sh"

label_of() { podman image inspect --format '{{ index .Labels "kubenode.recipe" }}' "$1" 2>/dev/null || true; }

build_base() {
  local recipe dir mirror
  recipe="$(printf '%s %s minbase v1' "$SUITE" "$PACKAGES" | sha256sum | cut -c1-16)"
  if [ "$(label_of "$IMAGE:base")" = "$recipe" ]; then
    log "$IMAGE:base is up to date"
    return 0
  fi
  mirror="$(debian_mirror)"
  dir="$(mktemp -d /var/tmp/kubenode-debootstrap.XXXXXX)"
  trap 'rm -rf "$dir"' RETURN
  log "debootstrap $SUITE into $dir (about a minute)"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$dir" "$mirror" >"$dir.log" 2>&1 \
    || { tail -n 30 "$dir.log" >&2; rm -f "$dir.log"; return 1; }
  rm -f "$dir.log"
  # Keep the image small and free of host-specific state.
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar -C "$dir" -c . | podman import \
    --change 'CMD ["sleep", "infinity"]' \
    --change "LABEL kubenode.recipe=$recipe" \
    - "$IMAGE:base" >/dev/null
  log "built $IMAGE:base"
}

build_variant() {
  local file="$1" name recipe
  name="$(basename "$file" .Containerfile)"
  recipe="$( (label_of "$IMAGE:base"; cat "$file") | sha256sum | cut -c1-16)"
  if [ "$(label_of "$IMAGE:$name")" = "$recipe" ]; then
    log "$IMAGE:$name is up to date"
    return 0
  fi
  podman build --quiet --network none --pull=never --label "kubenode.recipe=$recipe" \
    -f "$file" -t "$IMAGE:$name" "$HERE" >/dev/null
  log "built $IMAGE:$name"
}

build_base
for file in "$HERE"/*.Containerfile; do
  [ -e "$file" ] && build_variant "$file"
done
"$HERE/aptrepo.sh"
