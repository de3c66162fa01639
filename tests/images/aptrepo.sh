#!/usr/bin/env bash
# A local apt repository (file://, flat layout) for the molecule package tests: the netfilter tools, python3-apt and their
# dependencies, downloaded on this host with `apt-get download` from the Debian archive the host's apt uses, indexed
# with dpkg-scanpackages (Debian package dpkg-dev). The containers have no network: molecule mounts this directory
# read-only and points apt at it (`deb [trusted=yes] file:///srv/kubenode-apt ./`).
# Built once per machine: rebuilt only when the recipe (package list + candidate versions) changed.
#   tests/images/aptrepo.sh [DIR]      (default /var/lib/kubenode-netfilter-test/aptrepo)
# Needs root (apt-get update when the package lists are missing) and dpkg-scanpackages.
set -euo pipefail
REPO_DIR="${1:-${KUBENODE_APTREPO:-/var/lib/kubenode-netfilter-test/aptrepo}}"
# python3-apt: the apt module (ansible.builtin.package on Debian) needs it, also for check mode
PACKAGES=(nftables iptables ipset python3-apt)
log() { printf '[aptrepo] %s\n' "$*" >&2; }

command -v dpkg-scanpackages >/dev/null \
  || { log "dpkg-scanpackages not found: apt-get install dpkg-dev"; exit 1; }

closure() {
  # The packages and their dependencies (no recommends/suggests), one per line, sorted; virtual ones (<...>) dropped.
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
    --no-enhances "${PACKAGES[@]}" 2>/dev/null | grep -v '^ ' | grep -v '^<' | sort -u
}

names="$(closure)"
policy="$(apt-cache policy nftables 2>/dev/null || true)"
if [ -z "$names" ] || ! grep -q 'Candidate: [0-9]' <<<"$policy"; then
  log "apt has no package lists: apt-get update"
  apt-get update -qq
  names="$(closure)"
fi
[ -n "$names" ] || { log "apt-cache knows none of ${PACKAGES[*]}"; exit 1; }

# name=candidate-version for every package: the recipe, and what apt-get download fetches.
specs="$(for name in $names; do
  version="$(apt-cache policy "$name" | awk '/Candidate:/ { print $2; exit }')"
  [ -n "$version" ] && [ "$version" != "(none)" ] && printf '%s=%s\n' "$name" "$version"
done)"
recipe="$(printf '%s\nflat v1\n' "$specs" | sha256sum | cut -c1-16)"
if [ "$(cat "$REPO_DIR/.recipe" 2>/dev/null)" = "$recipe" ] && [ -s "$REPO_DIR/Packages" ]; then
  log "$REPO_DIR is up to date ($(wc -l <<<"$specs") packages)"
  exit 0
fi

tmp="$(mktemp -d "${REPO_DIR%/}.new.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"
log "apt-get download of $(wc -l <<<"$specs") packages into $tmp"
# shellcheck disable=SC2086
(cd "$tmp" && apt-get download -qq $specs) 2>"$tmp/.download.log" \
  || { grep -v 'unsandboxed' "$tmp/.download.log" >&2 || true; exit 1; }
rm -f "$tmp/.download.log"
(cd "$tmp" && dpkg-scanpackages --multiversion . /dev/null 2>/dev/null >Packages)
gzip -9nk "$tmp/Packages"
printf '%s\n' "$recipe" >"$tmp/.recipe"
printf '%s\n' "$specs" >"$tmp/.packages"
chmod -R a+rX "$tmp"
rm -rf "$REPO_DIR"
mv "$tmp" "$REPO_DIR"
trap - EXIT
log "built $REPO_DIR ($(grep -c '^Package:' "$REPO_DIR/Packages") packages)"
