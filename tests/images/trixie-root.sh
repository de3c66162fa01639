#!/usr/bin/env bash
# A minimal Debian trixie root with trixie's iptables (1.8.11) and nftables, built once per machine, for measuring
# what a newer iptables-nft reads: tests run `chroot ROOT iptables-nft ...` inside a throwaway network namespace
# (the chroot shares the namespace; only the binaries and libraries come from the root).
#   tests/images/trixie-root.sh [DIR]     (default $KUBENODE_TRIXIE_ROOT or /var/lib/kubenode-netfilter-test/trixie-root)
# Packages come from the Debian archive this machine's apt already uses (read from /etc/apt/sources* at run time by
# debian_mirror() in tests/images/lib.sh). The Release file is checked with /usr/share/keyrings/debian-archive-keyring.gpg: the
# trixie keys are in bookworm's debian-archive-keyring since 2023.3+deb12u2. The root is rebuilt only when the recipe
# changed (DIR/.kubenode-recipe); a build goes to a temporary directory beside DIR and is renamed into place.
# Prints DIR on stdout when done; progress and errors on stderr (the debootstrap log tail on failure).
# Needs root and debootstrap.
set -euo pipefail
ROOT="${1:-${KUBENODE_TRIXIE_ROOT:-/var/lib/kubenode-netfilter-test/trixie-root}}"
SUITE="trixie"
PACKAGES="iptables,nftables"
VARIANT="minbase"
KEYRING="/usr/share/keyrings/debian-archive-keyring.gpg"
RECIPE_FILE=".kubenode-recipe"
log() { printf '[trixie-root] %s\n' "$*" >&2; }
# shellcheck source=tests/images/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

umount_below() {
  # debootstrap mounts proc/sys/dev/pts inside the target; a failed run may leave them: unmount before deleting.
  local dir="$1" mnt
  awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r mnt; do
    umount -l "$mnt" 2>/dev/null || true
  done
}

remove_tree() {
  [ -e "$1" ] || return 0
  umount_below "$1"
  rm -rf --one-file-system "$1"
}

[ "$(id -u)" = 0 ] || { log "needs root (debootstrap)"; exit 1; }
command -v debootstrap >/dev/null || { log "debootstrap not found: apt-get install debootstrap"; exit 1; }
recipe="$(printf '%s %s %s v1' "$SUITE" "$PACKAGES" "$VARIANT" | sha256sum | cut -c1-16)"

parent="$(dirname "$ROOT")"
mkdir -p "$parent"
exec 9>"$ROOT.lock"
flock 9  # one build at a time; a second caller waits and then finds the root up to date

if [ "$(cat "$ROOT/$RECIPE_FILE" 2>/dev/null)" = "$recipe" ] && [ -x "$ROOT/usr/sbin/xtables-nft-multi" ]; then
  log "$ROOT is up to date"
  echo "$ROOT"
  exit 0
fi

if [ ! -e /usr/share/keyrings/debian-archive-trixie-stable.gpg ]; then
  log "the Debian archive keyring here has no trixie keys: upgrade debian-archive-keyring (bookworm's" \
      "2023.3+deb12u2 or later carries them); not building without signature checks"
  exit 1
fi

mirror="$(debian_mirror)"
tmp="$(mktemp -d "$parent/.trixie-root.XXXXXX")"
logfile="$tmp.log"
trap 'remove_tree "$tmp"; rm -f "$logfile"' EXIT
log "debootstrap --variant=$VARIANT --include=$PACKAGES $SUITE into $tmp from $mirror (about a minute)"
if ! debootstrap --variant="$VARIANT" --keyring="$KEYRING" --include="$PACKAGES" "$SUITE" "$tmp" "$mirror" \
    >"$logfile" 2>&1; then
  log "debootstrap failed; last lines of its log:"
  tail -n 30 "$logfile" >&2
  if [ -f "$tmp/debootstrap/debootstrap.log" ]; then
    log "last lines of $tmp/debootstrap/debootstrap.log:"
    tail -n 15 "$tmp/debootstrap/debootstrap.log" >&2
  fi
  exit 1
fi
umount_below "$tmp"
# Nothing host-specific or bulky is needed: the tests run the iptables binaries only.
rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*
chmod 0755 "$tmp"
printf '%s\n' "$recipe" >"$tmp/$RECIPE_FILE"

old=""
if [ -e "$ROOT" ]; then
  old="$(mktemp -u "$parent/.trixie-root.old.XXXXXX")"
  mv -T "$ROOT" "$old"
fi
mv -T "$tmp" "$ROOT"
[ -z "$old" ] || remove_tree "$old"
log "built $ROOT ($(chroot "$ROOT" iptables-nft --version 2>&1 || true))"
echo "$ROOT"
