#!/usr/bin/env bash
# Prepare this machine (Debian 12, root) to run the collection and its tests. Idempotent; fast when already done.
#   - Debian packages: the real netfilter tools, podman + runc for molecule, debootstrap for the test image,
#     qemu + e2fsprogs + openssh-client for the VM tier (scripts/vm.sh)
#   - .build/venv: ansible 12.x (ansible-core 2.19 + kubernetes.core, community.general, containers.podman), test tools
#   - .build/collections/ansible_collections/kubenode/netfilter: a link tree onto this checkout (ansible-playbook, molecule)
#   - .build/env.sh: the environment the other scripts source
# Usage: scripts/bootstrap.sh            (sourcing .build/env.sh afterwards gives the same environment by hand)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$REPO/.build"
VENV="$BUILD/venv"
PYTHON="${KUBENODE_PYTHON:-python3}"
mkdir -p "$BUILD"

log() { printf '[bootstrap] %s\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------------------------------------------------
APT_PACKAGES=(iptables nftables ipset podman runc debootstrap kmod procps iproute2 util-linux rsync
  chromium fonts-dejavu-core busybox-static dpkg-dev qemu-system-x86 qemu-utils e2fsprogs openssh-client)
if [ -n "${KUBENODE_EXTRA_APT:-}" ]; then
  read -r -a extra <<<"$KUBENODE_EXTRA_APT"
  APT_PACKAGES+=("${extra[@]}")
fi
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Debian packages: ${missing[*]}; run this script as root (it uses apt-get)"
    exit 1
  fi
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$BUILD/apt.log" 2>&1 \
    || { log "apt-get install failed, see $BUILD/apt.log"; tail -n 20 "$BUILD/apt.log" >&2; exit 1; }
fi

# --- virtualenv ------------------------------------------------------------------------------------------------------
stamp_want="$(cat "$REPO/requirements-dev.txt" | sha256sum | cut -c1-16) $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
stamp_file="$VENV/.kubenode-stamp"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp_file" 2>/dev/null)" != "$stamp_want" ]; then
  log "creating $VENV (ansible 12.x from PyPI; about a minute)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REPO/requirements-dev.txt" >"$BUILD/pip.log" 2>&1 \
    || { log "pip install failed, see $BUILD/pip.log"; tail -n 20 "$BUILD/pip.log" >&2; exit 1; }
  echo "$stamp_want" >"$stamp_file"
fi
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

# --- collection link tree --------------------------------------------------------------------------------------------
# One symlink per top-level entry of the checkout (not one link to the root), so that tools walking the collection
# never descend into .build itself.
LINK="$BUILD/collections/ansible_collections/kubenode/netfilter"
rm -rf "$LINK"
mkdir -p "$LINK"
for entry in "$REPO"/* "$REPO"/.[!.]*; do
  name="$(basename "$entry")"
  case "$name" in .build|.git|.pytest_cache|'.[!.]*'|'*') continue ;; esac
  ln -s "$entry" "$LINK/$name"
done

# --- get-pip stand-in for ansible-test (offline) ---------------------------------------------------------------------
# ansible-test bootstraps pip in its virtualenvs from a downloaded get-pip script; it accepts a cached one.
pip_pin="$("$VENV/bin/python" - <<'PY'
import pathlib, re, ansible_test
src = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
m = re.search(r"\bpip='([0-9.]+)'", src.read_text()) if src.exists() else None
print(m.group(1) if m else "")
PY
)"
if [ -n "$pip_pin" ]; then
  cache="$HOME/.ansible/test/cache"
  mkdir -p "$cache"
  install -m 0644 "$REPO/scripts/get_pip_standin.py" "$cache/get_pip_${pip_pin//./_}.py"
fi

# --- podman configuration for molecule (machine-wide, so images survive fresh clones) -----------------------------
# Kept out of /etc: root podman reads CONTAINERS_CONF / CONTAINERS_STORAGE_CONF, which env.sh exports.
PODMAN_STATE="${KUBENODE_PODMAN_STATE:-/var/lib/kubenode-netfilter-test}"
mkdir -p "$PODMAN_STATE/storage" "$PODMAN_STATE/run"
cat >"$PODMAN_STATE/containers.conf" <<CONF
# Written by kubenode.netfilter scripts/bootstrap.sh (measured settings for this machine kind: docs/testing.md)
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
stop_timeout = 1
CONF
cat >"$PODMAN_STATE/storage.conf" <<CONF
# Written by kubenode.netfilter scripts/bootstrap.sh
[storage]
driver = "overlay"
graphroot = "$PODMAN_STATE/storage"
runroot = "$PODMAN_STATE/run"
CONF

# --- environment for the other scripts -------------------------------------------------------------------------------
cat >"$BUILD/env.sh" <<ENV
# Generated by scripts/bootstrap.sh: source it to use this checkout's Ansible by hand.
export KUBENODE_REPO="$REPO"
export VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:\$PATH"
export ANSIBLE_COLLECTIONS_PATH="$BUILD/collections:$SITE"
export ANSIBLE_INVENTORY="$REPO/inventory/local.yml"
export ANSIBLE_NOCOLOR=1
export ANSIBLE_RETRY_FILES_ENABLED=0
export ANSIBLE_LOCALHOST_WARNING=0
export ANSIBLE_HOST_KEY_CHECKING=0
export CONTAINERS_CONF="$PODMAN_STATE/containers.conf"
export CONTAINERS_STORAGE_CONF="$PODMAN_STATE/storage.conf"
ENV
log "ready: source $BUILD/env.sh"
