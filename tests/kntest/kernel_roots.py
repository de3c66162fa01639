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
