#!/usr/bin/env bash
# A Debian 12 VM with Debian's own modular kernel (linux-image-amd64 from the apt archive), for the tests that need a
# kernel with module support (the test machines' kernels have CONFIG_MODULES unset). Software emulation (qemu TCG): no
# KVM needed (on the test machines /dev/kvm exists but KVM guests fail).
#   scripts/vm.sh up       build the image once per machine, boot it, wait until SSH answers (bounded), write
#                          .build/vm/inventory.yml (host `vm`); a no-op when this checkout's VM is already running
#   scripts/vm.sh down     stop the VM and drop its disk overlay (the next `up` starts from the clean image)
#   scripts/vm.sh ssh [CMD...]   a root shell (or CMD) in the VM
#   scripts/vm.sh status   running or not (exit 0 / 3), with the port and the kernel release
#   scripts/vm.sh image    only build (or find) the image
# The image (/var/lib/kubenode-netfilter-test/vm/<recipe>/: ext4 disk, the kernel + initrd it boots, an SSH key) is
# built without loop mounts: debootstrap a root with the kernel packages, then `mkfs.ext4 -d ROOT`. It is rebuilt only
# when its recipe (the suite, the package list and the functions below that build it) changes. Every `up` boots a
# fresh qcow2 overlay on it, so tests may change the VM freely. The guest's network is qemu's user-mode network with
# `restrict=on` (no traffic leaves the VM) and SSH forwarded to 127.0.0.1 only.
# Environment: KUBENODE_VM_BOOT_TIMEOUT (seconds until SSH must answer, default 420), KUBENODE_VM_MEMORY (MiB, 1024),
#              KUBENODE_VM_CPUS (2), KUBENODE_VM_CACHE (the image cache directory).
# Needs root, qemu-system-x86, qemu-utils, e2fsprogs, debootstrap and openssh-client (scripts/bootstrap.sh installs them).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$REPO/.build/vm"
CACHE="${KUBENODE_VM_CACHE:-/var/lib/kubenode-netfilter-test/vm}"
SUITE=bookworm
# The VM boots linux-image-amd64's kernel; linux-image-cloud-amd64 is a second installed kernel (other release string)
# for the every-installed-kernel checks. initramfs-tools: the boot needs an initrd (virtio_blk is a module). dbus:
# shutdown/reboot (systemctl) talk to systemd-logind through it ("Failed to connect to bus" without).
PACKAGES="systemd-sysv,udev,dbus,openssh-server,python3,iptables,nftables,ipset,kmod,procps,iproute2,initramfs-tools"
KERNELS="linux-image-amd64,linux-image-cloud-amd64"
BOOT_TIMEOUT="${KUBENODE_VM_BOOT_TIMEOUT:-420}"
MEMORY="${KUBENODE_VM_MEMORY:-1024}"
CPUS="${KUBENODE_VM_CPUS:-2}"
log() { printf '[vm] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
# shellcheck source=tests/images/lib.sh
. "$REPO/tests/images/lib.sh"

need_tools() {
  local tool missing=()
  for tool in qemu-system-x86_64 qemu-img mkfs.ext4 debootstrap ssh ssh-keygen; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  [ "${#missing[@]}" -eq 0 ] || die "cannot boot a VM on this machine: ${missing[*]} not found (run scripts/bootstrap.sh)"
  [ "$(id -u)" -eq 0 ] || die "cannot build the VM image: needs root (debootstrap)"
}

configure_root() {  # configure_root ROOT PUBKEY: what makes the debootstrapped root a bootable, reachable VM
  local root="$1" pubkey="$2" generic
  echo kubenode-vm >"$root/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 kubenode-vm\n' >"$root/etc/hosts"
  echo '/dev/vda / ext4 defaults,errors=remount-ro 0 1' >"$root/etc/fstab"
  # qemu's user-mode network hands out 10.0.2.15 by DHCP; net.ifnames=0 on the command line names the NIC eth0
  mkdir -p "$root/etc/systemd/network"
  printf '[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n' >"$root/etc/systemd/network/10-eth0.network"
  chroot "$root" systemctl enable systemd-networkd.service >/dev/null 2>&1
  # Nothing waits for "network online"; no time sync or timers to slow an emulated boot
  chroot "$root" systemctl mask systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer \
    e2scrub_reap.service e2scrub_all.timer fstrim.timer >/dev/null 2>&1
  install -d -m 0700 "$root/root/.ssh"
  install -m 0600 "$pubkey" "$root/root/.ssh/authorized_keys"
  printf 'PasswordAuthentication no\nUseDNS no\n' >"$root/etc/ssh/sshd_config.d/kubenode-vm.conf"
  # The bootloader's default stands for what qemu boots (-kernel): /vmlinuz and /initrd.img name the generic kernel
  # (linux-update-symlinks would point them at the cloud kernel, whose release string sorts higher).
  generic="$(generic_release "$root")"
  ln -sfn "boot/vmlinuz-$generic" "$root/vmlinuz"
  ln -sfn "boot/initrd.img-$generic" "$root/initrd.img"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
}

generic_release() {  # the release of the generic (not cloud) kernel in ROOT
  local dir
  for dir in "$1"/lib/modules/*-amd64; do
    case "$dir" in *-cloud-amd64) continue ;; esac
    basename "$dir"
    return 0
  done
  return 1
}

recipe() {
  { printf '%s\n%s\n%s\nv1\n' "$SUITE" "$PACKAGES" "$KERNELS"; declare -f configure_root generic_release build_image; } \
    | sha256sum | cut -c1-16
}

build_image() {  # build_image DIR: debootstrap -> configure -> ext4 image + kernel + initrd + key in DIR
  local dir="$1" root mirror release size
  mirror="$(debian_mirror)"
  root="$dir.root"
  rm -rf "$root"
  mkdir -p "$dir"
  ssh-keygen -q -t ed25519 -N '' -C kubenode-vm -f "$dir/id_ed25519"
  log "debootstrap $SUITE with the kernels into $root (a few minutes, once per machine)"
  debootstrap --variant=minbase --include="$PACKAGES,$KERNELS" "$SUITE" "$root" "$mirror" >"$dir.log" 2>&1 \
    || { tail -n 30 "$dir.log" >&2; die "debootstrap failed (log: $dir.log)"; }
  configure_root "$root" "$dir/id_ed25519.pub"
  release="$(generic_release "$root")" || die "no generic kernel in $root/lib/modules"
  [ -s "$root/boot/initrd.img-$release" ] || die "no initrd for $release in $root/boot"
  cp "$root/boot/vmlinuz-$release" "$dir/vmlinuz"
  cp "$root/boot/initrd.img-$release" "$dir/initrd.img"
  echo "$release" >"$dir/release"
  # ext4 image from the directory (no loop mount): the root's size plus 1 GiB for the tests
  size="$(( $(du -sm "$root" | cut -f1) + 1024 ))M"
  mkfs.ext4 -q -F -L kubenode-vm -d "$root" "$dir/disk.raw" "$size" >>"$dir.log" 2>&1 \
    || { tail -n 30 "$dir.log" >&2; die "mkfs.ext4 -d failed (log: $dir.log)"; }
  rm -rf "$root" "$dir.log"
}

ensure_image() {  # prints the image directory; builds it when the recipe changed (one builder at a time)
  local want dir
  need_tools
  want="$(recipe)"
  dir="$CACHE/$want"
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock 9
  if [ ! -s "$dir/disk.raw" ] || [ ! -s "$dir/release" ]; then
    rm -rf "$dir" "$dir.root"
    build_image "$dir.tmp"
    mv "$dir.tmp" "$dir"
    # older recipes' images
    find "$CACHE" -mindepth 1 -maxdepth 1 -type d ! -name "$want" -exec rm -rf {} +
    log "built the VM image $dir (kernel $(cat "$dir/release"))"
  fi
  exec 9>&-
  echo "$dir"
}

running() { [ -s "$STATE/qemu.pid" ] && kill -0 "$(cat "$STATE/qemu.pid")" 2>/dev/null; }

ssh_argv() {
  SSH=(ssh -i "$STATE/id_ed25519" -p "$(cat "$STATE/port")" -o BatchMode=yes -o StrictHostKeyChecking=no
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10 root@127.0.0.1)
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

write_inventory() {
  local release="$1"
  cat >"$STATE/inventory.yml" <<EOF
# Written by scripts/vm.sh up: the VM with Debian's modular kernel (stop it with scripts/vm.sh down)
all:
  hosts:
    vm:
      ansible_host: 127.0.0.1
      ansible_port: $(cat "$STATE/port")
      ansible_user: root
      ansible_ssh_private_key_file: $STATE/id_ed25519
      ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
      ansible_python_interpreter: /usr/bin/python3
      ansible_pipelining: true
      kubenode_vm_kernel_release: $release
EOF
}

cmd_up() {
  local image deadline start
  if running; then
    log "already running (port $(cat "$STATE/port")); inventory: $STATE/inventory.yml"
    return 0
  fi
  image="$(ensure_image)"
  mkdir -p "$STATE"
  rm -f "$STATE/overlay.qcow2" "$STATE/qemu.pid" "$STATE/inventory.yml"
  install -m 0600 "$image/id_ed25519" "$STATE/id_ed25519"
  qemu-img create -q -f qcow2 -F raw -b "$image/disk.raw" "$STATE/overlay.qcow2"
  free_port >"$STATE/port"
  : >"$STATE/console.log"
  start=$(date +%s)
  # -kernel/-initrd: qemu loads them again on a guest reboot, so `reboot` in the guest boots the same kernel
  qemu-system-x86_64 -accel tcg -machine q35 -m "$MEMORY" -smp "$CPUS" \
    -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet" \
    -drive "file=$STATE/overlay.qcow2,if=virtio,format=qcow2" \
    -netdev "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:$(cat "$STATE/port")-:22" \
    -device virtio-net-pci,netdev=net0 \
    -display none -serial "file:$STATE/console.log" -monitor none \
    -daemonize -pidfile "$STATE/qemu.pid" \
    || die "qemu-system-x86_64 could not start the VM (see above)"
  ssh_argv
  deadline=$((start + BOOT_TIMEOUT))
  log "booting $(cat "$image/release") under TCG; waiting up to ${BOOT_TIMEOUT}s for SSH on 127.0.0.1:$(cat "$STATE/port")"
  until "${SSH[@]}" true >/dev/null 2>&1; do
    if ! running; then
      tail -n 40 "$STATE/console.log" >&2
      die "the VM stopped while booting (console: $STATE/console.log)"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      tail -n 40 "$STATE/console.log" >&2
      cmd_down
      die "no SSH answer from the VM within ${BOOT_TIMEOUT}s (console above; KUBENODE_VM_BOOT_TIMEOUT raises the limit)"
    fi
    sleep 3
  done
  write_inventory "$(cat "$image/release")"
  log "up after $(($(date +%s) - start))s: ansible -i $STATE/inventory.yml vm -m ping"
}

cmd_down() {
  local pid i
  if running; then
    pid="$(cat "$STATE/qemu.pid")"
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 20); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    log "stopped"
  fi
  rm -f "$STATE/qemu.pid" "$STATE/overlay.qcow2" "$STATE/inventory.yml"
}

cmd_status() {
  if running; then
    echo "running: pid $(cat "$STATE/qemu.pid"), ssh 127.0.0.1:$(cat "$STATE/port"), inventory $STATE/inventory.yml"
    return 0
  fi
  echo "not running"
  return 3
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  image) ensure_image ;;
  ssh)
    shift
    running || die "the VM is not running: scripts/vm.sh up"
    ssh_argv
    exec "${SSH[@]}" "$@"
    ;;
  *) echo "usage: $0 up | down | ssh [CMD...] | status | image" >&2; exit 2 ;;
esac
