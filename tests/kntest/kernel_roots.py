"""Builders for fake node roots (kernel configs, /lib/modules, /proc, /sys) used by the kernel_config tests."""
from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Dict, Iterable, Mapping, Optional

import kntest

KERNEL_CONFIGS = kntest.SHARED_FIXTURES / "kernel-configs"

# Header versions of the shared fixtures (see SOURCES.md there).
FIXTURE_VERSIONS = {
    "alpine-lts-x86_64.config": "5.10.52",
    "alpine-virt-x86_64.config": "5.10.43",
    "talos-amd64.config": "6.18.45",
    "wsl2-x86_64.config": "6.18.20",
}


def fixture_configs() -> list:
    return sorted(KERNEL_CONFIGS.glob("*.config"))


def largest_fixture() -> Path:
    return max(fixture_configs(), key=lambda p: p.stat().st_size)


def derive_config(text: str, overrides: Mapping[str, Optional[str]]) -> str:
    """Copy of a config's text with symbols changed: a value (``y``, ``m``, ``"str"``, ``42``), ``n`` (written as
    ``# CONFIG_X is not set``) or None (every line of the symbol removed). Symbols not in the text are appended."""
    done = set()
    out = []
    for line in text.splitlines():
        hit = None
        for sym in overrides:
            if line.startswith("CONFIG_%s=" % sym) or line.strip() == "# CONFIG_%s is not set" % sym:
                hit = sym
                break
        if hit is None:
            out.append(line)
            continue
        if hit in done:
            continue
        done.add(hit)
        out.extend(_lines(hit, overrides[hit]))
    for sym, value in overrides.items():
        if sym not in done:
            out.extend(_lines(sym, value))
    return "\n".join(out) + "\n"


def _lines(sym: str, value: Optional[str]) -> list:
    if value is None:
        return []
    if value == "n":
        return ["# CONFIG_%s is not set" % sym]
    return ["CONFIG_%s=%s" % (sym, value)]


def write_config(path: Path, text: str, compress: bool = False, crlf: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.replace("\r\n", "\n")
    if crlf:
        data = data.replace("\n", "\r\n")
    raw = data.encode("utf-8")
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def build_root(base: Path, release: str = "6.1.0-test-amd64", config_text: Optional[str] = None,
               config_at: Optional[str] = None, compress: bool = False, modules_dir: bool = True,
               modules_builtin: Iterable[str] = (), modules_dep: Iterable[str] = (), ko_files: Iterable[str] = (),
               proc_modules: Optional[Iterable[str]] = None, sys_modules: Optional[Mapping[str, Optional[str]]] = None,
               xtables: Optional[Dict[str, Iterable[str]]] = None, osrelease: bool = True) -> Path:
    """A node root under ``base``.

    - config_text at ``config_at`` (default ``/boot/config-<release>``; ``/proc/config.gz`` is gzipped)
    - ``lib/modules/<release>/`` with ``modules.builtin`` (paths), ``modules.dep`` (paths), module files (paths)
    - ``proc/modules`` (names; None: no such file), ``proc/sys/kernel/osrelease``
    - ``sys/module/<name>/initstate`` (value; None: the directory without initstate, as for many built-ins)
    - ``proc/net/ip_tables_matches`` etc. from ``xtables`` keys ``ip_tables_matches`` ...
    """
    base.mkdir(parents=True, exist_ok=True)
    if osrelease:
        _write(base / "proc/sys/kernel/osrelease", release + "\n")
    if config_text is not None:
        where = config_at or "/boot/config-%s" % release
        write_config(base / where.lstrip("/"), config_text, compress=compress or where.endswith(".gz"))
    if modules_dir:
        mdir = base / "lib/modules" / release
        mdir.mkdir(parents=True, exist_ok=True)
        builtin = list(modules_builtin)
        if builtin:
            _write(mdir / "modules.builtin", "".join(p + "\n" for p in builtin))
        dep = list(modules_dep)
        if dep:
            _write(mdir / "modules.dep", "".join(p + ":\n" for p in dep))
        for rel in ko_files:
            target = mdir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"\x7fELF fake module")
    if proc_modules is not None:
        _write(base / "proc/modules", "".join(
            "%s 16384 0 - Live 0x0000000000000000\n" % name for name in proc_modules))
    for name, state in (sys_modules or {}).items():
        d = base / "sys/module" / name
        d.mkdir(parents=True, exist_ok=True)
        if state is not None:
            _write(d / "initstate", state + "\n")
    for fname, names in (xtables or {}).items():
        _write(base / "proc/net" / fname, "".join(n + "\n" for n in names))
    return base


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def world_traversable_tmpdir(prefix: str = "kntest-") -> Path:
    """A temporary directory an unprivileged user can enter (pytest's tmp_path is root-only)."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o755)
    return path


# ---------------------------------------------------------------------------------------------- installed kernels
# Nodes with several kernels installed (issue 14): each kernel a config in /boot, a lib/modules/<release> tree with
# modules.dep / modules.builtin / .ko files, a /boot/vmlinuz-<release> image; plus the boot loader files that say
# which one boots next (GRUB on Debian/Ubuntu, GRUB + BLS entries on RHEL-likes, systemd-boot, the vmlinuz link).

# nf_tables expressions kube-proxy's nftables mode (and iptables-nft) load
NFT_EXPRESSIONS = ("NFT_CT", "NFT_NAT", "NFT_MASQ", "NFT_NUMGEN", "NFT_FIB_IPV4", "NFT_FIB_IPV6", "NFT_REJECT",
                   "NFT_COMPAT")
# modules a "-extra" package carries in these fixtures (the split Ubuntu's linux-modules-extra-<release> makes:
# the base linux-modules package leaves them out, the extra one installs them into the same tree)
EXTRA_MODULES = ("xt_statistic", "ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "xt_ipvs", "ip_set_hash_ipportnet")
MACHINE_ID = "0f3c9a4e5b6d4e1f8a7b6c5d4e3f2a1b"
EFI_VENDOR = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"


class Kernel:
    """One installed kernel of a fixture root.

    ``config``: text (None: no config in /boot); ``modules_dir``: whether lib/modules/<release> exists; ``extra``:
    whether the extra package's modules (EXTRA_MODULES) are installed; ``image``: whether /boot/vmlinuz-<release>
    exists; ``usr_lib``: the tree under usr/lib/modules instead of lib/modules.
    """

    def __init__(self, release: str, config: Optional[str], modules_dir: bool = True, extra: bool = True,
                 image: bool = True, usr_lib: bool = False) -> None:
        self.release = release
        self.config = config
        self.modules_dir = modules_dir
        self.extra = extra
        self.image = image
        self.usr_lib = usr_lib


def module_files(config_text: str, pairs) -> Dict[str, list]:
    """{"dep": paths of the =m modules (for modules.dep and .ko files), "builtin": paths of the =y ones}."""
    options = {}
    for line in config_text.splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            sym, value = line[7:].split("=", 1)
            options[sym] = value
    dep, builtin = [], []
    seen = set()
    for sym, module in pairs:
        if module in seen or sym not in options:
            continue
        seen.add(module)
        path = "kernel/net/netfilter/%s.ko" % module
        if options[sym] == "m":
            dep.append(path + ".xz")
        elif options[sym] == "y":
            builtin.append(path)
    return {"dep": dep, "builtin": builtin}


def build_installed_root(base: Path, kernels, running: Optional[str] = None, pairs=()) -> Path:
    """A node root with ``kernels`` installed; ``running`` goes to proc/sys/kernel/osrelease. ``pairs`` are the
    catalog's (symbol, module) pairs deciding which .ko files and modules.dep lines each kernel gets."""
    base.mkdir(parents=True, exist_ok=True)
    if running:
        _write(base / "proc/sys/kernel/osrelease", running + "\n")
    for k in kernels:
        if k.config is not None:
            write_config(base / "boot" / ("config-" + k.release), k.config)
        if k.image:
            (base / "boot").mkdir(parents=True, exist_ok=True)
            (base / "boot" / ("vmlinuz-" + k.release)).write_bytes(b"MZ fake bzImage " + k.release.encode())
        if not k.modules_dir:
            continue
        mdir = base / ("usr/lib/modules" if k.usr_lib else "lib/modules") / k.release
        mdir.mkdir(parents=True, exist_ok=True)
        files = module_files(k.config or "", pairs)
        dep = [p for p in files["dep"] if k.extra or p.rsplit("/", 1)[-1].split(".")[0] not in EXTRA_MODULES]
        _write(mdir / "modules.dep", "".join(p + ":\n" for p in dep))
        _write(mdir / "modules.builtin", "".join(p + "\n" for p in files["builtin"]))
        for rel in dep:
            target = mdir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"\x7fELF fake module")
    return base


def grub_cfg_debian(releases, root_uuid: str = "5d9c1b2a-7e4f-4a1b-9c3d-2e1f0a9b8c7d",
                    default: str = "${saved_entry}", os_name: str = "Debian GNU/Linux", boot_prefix: str = "/boot",
                    image_suffix: str = "") -> str:
    """A grub.cfg in the shape grub-mkconfig writes on Debian/Ubuntu: the newest kernel as the first top-level entry,
    an "Advanced options" submenu with one entry per kernel (newest first), and the next_entry / default header.
    Ubuntu's shape: ``os_name="Ubuntu"``, ``boot_prefix=""`` (a separate /boot partition: paths start at its root),
    ``image_suffix=".efi.signed"`` (signed images of older Ubuntu releases), plus its initrdfail / prev_saved_entry
    header blocks and a UEFI firmware entry inside an ``if``."""
    kernel = boot_prefix + "/vmlinuz-%s" + image_suffix
    out = [
        "#",
        "# DO NOT EDIT THIS FILE (fixture in the shape of grub-mkconfig's output)",
        "#",
        "### BEGIN /etc/grub.d/00_header ###",
        "if [ -s $prefix/grubenv ]; then",
        "  set have_grubenv=true",
        "  load_env",
        "fi",
        'if [ "${initrdfail}" = 2 ]; then',
        "   set initrdfail=",
        'elif [ "${initrdfail}" = 1 ]; then',
        '   set next_entry="${prev_entry}"',
        "   set prev_entry=",
        "   save_env prev_entry",
        "fi",
        'if [ "${next_entry}" ] ; then',
        '   set default="${next_entry}"',
        "   set next_entry=",
        "   save_env next_entry",
        "   set boot_once=true",
        "else",
        '   set default="%s"' % default,
        "fi",
        "",
        'if [ x"${feature_menuentry_id}" = xy ]; then',
        '  menuentry_id_option="--id"',
        "else",
        '  menuentry_id_option=""',
        "fi",
        'if [ "${prev_saved_entry}" ]; then',
        '  set saved_entry="${prev_saved_entry}"',
        "  save_env saved_entry",
        "  set prev_saved_entry=",
        "  save_env prev_saved_entry",
        "  set boot_once=true",
        "fi",
        "function savedefault {",
        '  if [ -z "${boot_once}" ]; then',
        '    saved_entry="${chosen}"',
        "    save_env saved_entry",
        "  fi",
        "}",
        "function recordfail {",
        "  set recordfail=1",
        '  if [ -n "${have_grubenv}" ]; then if [ -z "${boot_once}" ]; then save_env recordfail; fi; fi',
        "}",
        "function load_video {",
        "  if [ x$feature_all_video_module = xy ]; then",
        "    insmod all_video",
        "  fi",
        "}",
        "### BEGIN /etc/grub.d/10_linux ###",
    ]
    first = releases[0]
    out += [
        "menuentry '%s' --class debian --class gnu-linux --class gnu --class os "
        "$menuentry_id_option 'gnulinux-simple-%s' {" % (os_name, root_uuid),
        "\trecordfail",
        "\tload_video",
        "\tinsmod ext2",
        "\tif [ x$grub_platform = xxen ]; then insmod xzio; insmod lzopio; fi",
        "\techo\t'Loading Linux %s ...'" % first,
        "\tlinux\t%s root=UUID=%s ro quiet splash $vt_handoff" % (kernel % first, root_uuid),
        "\tinitrd\t%s/initrd.img-%s" % (boot_prefix, first),
        "}",
        "submenu 'Advanced options for %s' $menuentry_id_option 'gnulinux-advanced-%s' {" % (os_name, root_uuid),
    ]
    for rel in releases:
        out += [
            "\tmenuentry '%s, with Linux %s' --class debian $menuentry_id_option "
            "'gnulinux-%s-advanced-%s' {" % (os_name, rel, rel, root_uuid),
            "\t\tlinux\t%s root=UUID=%s ro quiet" % (kernel % rel, root_uuid),
            "\t\tinitrd\t%s/initrd.img-%s" % (boot_prefix, rel),
            "\t}",
            "\tmenuentry '%s, with Linux %s (recovery mode)' --class debian $menuentry_id_option "
            "'gnulinux-%s-recovery-%s' {" % (os_name, rel, rel, root_uuid),
            "\t\tlinux\t%s root=UUID=%s ro recovery nomodeset" % (kernel % rel, root_uuid),
            "\t}",
        ]
    out += ["}", "### END /etc/grub.d/10_linux ###",
            'if [ "$grub_platform" = "efi" ]; then',
            "\tmenuentry 'UEFI Firmware Settings' $menuentry_id_option 'uefi-firmware' {", "\t\tfwsetup", "\t}",
            "fi", ""]
    return "\n".join(out)


def grubenv(**values) -> str:
    """A GRUB environment block: 1024 bytes, '#' padding (grub-editenv's format)."""
    body = "# GRUB Environment Block\n" + "".join("%s=%s\n" % kv for kv in values.items() if kv[1] is not None)
    return body + "#" * (1024 - len(body))


def write_grub_debian(base: Path, releases, default: str = "${saved_entry}", ubuntu: bool = False, **env) -> None:
    style = {"os_name": "Ubuntu", "boot_prefix": "", "image_suffix": ".efi.signed"} if ubuntu else {}
    _write(base / "boot/grub/grub.cfg", grub_cfg_debian(releases, default=default, **style))
    _write(base / "boot/grub/grubenv", grubenv(**env))


def write_bls_entries(base: Path, releases, directory: str = "boot/loader/entries", sort_key: Optional[str] = None,
                      os_name: str = "Rocky Linux") -> None:
    """One BLS type #1 entry per release, named <machine-id>-<release>.conf as kernel-install writes them."""
    for rel in releases:
        lines = ["title %s (%s)" % (os_name, rel), "version %s" % rel, "linux /vmlinuz-%s" % rel,
                 "initrd /initramfs-%s.img" % rel, "options root=/dev/mapper/rl-root ro"]
        if sort_key:
            lines += ["sort-key %s" % sort_key, "machine-id %s" % MACHINE_ID]
        _write(base / directory / ("%s-%s.conf" % (MACHINE_ID, rel)), "\n".join(lines) + "\n")


def write_grub_bls(base: Path, releases, saved: Optional[str] = None, next_entry: Optional[str] = None) -> None:
    """RHEL/Fedora: grub.cfg running blscfg with default ${saved_entry}, BLS entries, grub2/grubenv."""
    _write(base / "boot/grub2/grub.cfg", "\n".join([
        "### BEGIN /etc/grub.d/00_header ###", "set pager=1", "load_env -f ${config_directory}/grubenv",
        'if [ "${next_entry}" ] ; then', '   set default="${next_entry}"', "   set next_entry=",
        "   save_env next_entry", "   set boot_once=true", "else", '   set default="${saved_entry}"', "fi",
        "### BEGIN /etc/grub.d/10_linux ###", "insmod blscfg", "blscfg", "### END /etc/grub.d/10_linux ###", ""]))
    write_bls_entries(base, releases)
    env = {"saved_entry": "%s-%s" % (MACHINE_ID, saved) if saved else None,
           "next_entry": "%s-%s" % (MACHINE_ID, next_entry) if next_entry else None}
    _write(base / "boot/grub2/grubenv", grubenv(**env))


def efivar(value: str) -> bytes:
    """efivarfs content: 4 bytes of attributes (NV+BS+RT) + NUL-terminated UTF-16LE."""
    return b"\x07\x00\x00\x00" + (value + "\x00").encode("utf-16-le")


def write_systemd_boot(base: Path, releases, default: Optional[str] = None, esp: str = "efi",
                       efivars: Optional[Mapping[str, str]] = None, sort_key: Optional[str] = "debian") -> None:
    lines = ["timeout 3"] + (["default %s" % default] if default else [])
    _write(base / esp / "loader/loader.conf", "\n".join(lines) + "\n")
    write_bls_entries(base, releases, directory=esp + "/loader/entries", sort_key=sort_key, os_name="Debian")
    for name, value in (efivars or {}).items():
        path = base / "sys/firmware/efi/efivars" / ("%s-%s" % (name, EFI_VENDOR))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(efivar(value))


def link_vmlinuz(base: Path, release: str, where: str = "boot/vmlinuz", relative: bool = True) -> None:
    link = base / where
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(("vmlinuz-%s" % release) if relative and where == "boot/vmlinuz"
                    else "/boot/vmlinuz-%s" % release)
