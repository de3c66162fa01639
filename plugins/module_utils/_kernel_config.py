# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Find and parse a kernel configuration; derive module states and registered xtables extensions.

Pure functions over files below a ``root`` directory: nothing here loads a module or writes anything.
"""

from __future__ import annotations

import os
import re
import zlib
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

# Option states other than a literal value.
STATE_Y = 'y'
STATE_M = 'm'
STATE_N = 'n'
STATE_ABSENT = 'absent'

# Module states.
BUILTIN = 'builtin'
LOADED = 'loaded'
LOADABLE = 'loadable'
MISSING = 'missing'
UNKNOWN = 'unknown'

# Per-path search statuses.
USED = 'used'
NOT_FOUND = 'not_found'
UNREADABLE = 'unreadable'
INVALID = 'invalid'

MODULE_SUFFIXES = ('.ko', '.ko.gz', '.ko.xz', '.ko.zst')
GZIP_MAGIC = b'\x1f\x8b'
MAX_CONFIG_BYTES = 64 * 1024 * 1024

_ASSIGN_RE = re.compile(r'^CONFIG_([A-Za-z0-9_]+)=(.*)$')
_NOT_SET_RE = re.compile(r'^# CONFIG_([A-Za-z0-9_]+) is not set\s*$')
_HEADER_RE = re.compile(r'^# Linux/\S+ (\d+\.\d+(?:\.\d+)?)\S* Kernel Configuration\s*$', re.MULTILINE)
_RELEASE_RE = re.compile(r'^(\d+)\.(\d+)(?:\.(\d+))?')


class ConfigError(Exception):
    """A candidate kernel config exists but cannot be used; ``status`` is ``unreadable`` or ``invalid``."""

    def __init__(self, path: str, status: str, reason: str) -> None:
        super(ConfigError, self).__init__('%s: %s' % (path, reason))
        self.path = path
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class PathStatus:
    path: str
    status: str
    reason: str

    def as_dict(self) -> Dict[str, str]:
        return {'path': self.path, 'status': self.status, 'reason': self.reason}


@dataclass(frozen=True)
class KernelConfig:
    path: str
    options: Dict[str, str]
    header_version: Optional[str] = None
    compressed: bool = False

    def state(self, symbol: str) -> str:
        return self.options.get(normalize_symbol(symbol), STATE_ABSENT)


@dataclass(frozen=True)
class ModuleState:
    option: str
    state: str
    reason: str

    def as_dict(self) -> Dict[str, str]:
        return {'option': self.option, 'state': self.state, 'reason': self.reason}


@dataclass(frozen=True)
class ModuleEvidence:
    """What the running system says about modules, read once per run (all paths below ``root``)."""

    proc_modules: Optional[Set[str]]      # None: /proc/modules does not exist
    modules_dir: Optional[str]            # lib/modules/<release> (or usr/lib/...) when it exists
    builtin: Set[str] = field(default_factory=set)
    builtin_read: bool = False            # modules.builtin existed and was read
    dep: Dict[str, str] = field(default_factory=dict)
    dep_read: bool = False
    sys_module_dir: Optional[str] = None
    _disk: Dict[str, str] = field(default_factory=dict)
    _disk_scanned: List[bool] = field(default_factory=lambda: [False])


# --------------------------------------------------------------------------------------------------------------
# Names and versions

def normalize_symbol(symbol: str) -> str:
    """``CONFIG_FOO`` or ``foo`` -> ``FOO``."""
    sym = symbol.strip()
    if sym.upper().startswith('CONFIG_'):
        sym = sym[len('CONFIG_'):]
    return sym.upper()


def normalize_module(name: str) -> str:
    """Module names treat ``-`` and ``_`` alike; the kernel reports underscores."""
    return name.strip().replace('-', '_')


def module_name_from_path(path: str) -> Optional[str]:
    base = path.rsplit('/', 1)[-1]
    for suffix in MODULE_SUFFIXES:
        if base.endswith(suffix):
            return normalize_module(base[:-len(suffix)])
    return None


def parse_version(text: Optional[str]) -> Optional[str]:
    """``6.18.44-fc-v1098`` -> ``6.18.44``; ``6.1`` -> ``6.1.0``; None when no version is recognisable."""
    if not text:
        return None
    match = _RELEASE_RE.match(text.strip())
    if not match:
        return None
    return '%s.%s.%s' % (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def version_tuple(version: Optional[str]) -> Optional[Tuple[int, int, int]]:
    parsed = parse_version(version)
    if parsed is None:
        return None
    major, minor, patch = parsed.split('.')
    return (int(major), int(minor), int(patch))


def header_version(text: str) -> Optional[str]:
    """The version in the generated header ``# Linux/x86 6.18.45 Kernel Configuration``."""
    match = _HEADER_RE.search(text[:4096])
    return parse_version(match.group(1)) if match else None


# --------------------------------------------------------------------------------------------------------------
# Parsing

def parse_config_text(text: str) -> Dict[str, str]:
    """Symbol (without ``CONFIG_``) -> ``y`` | ``m`` | ``n`` | value. CRLF tolerated; the last assignment wins.

    String values lose their surrounding quotes (and ``\\"`` / ``\\\\`` escapes); numbers stay strings.
    """
    options = {}  # type: Dict[str, str]
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith('#'):
            match = _NOT_SET_RE.match(line)
            if match:
                options[match.group(1)] = STATE_N
            continue
        match = _ASSIGN_RE.match(line)
        if not match:
            continue
        value = match.group(2).strip()
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1].replace('\\"', '"').replace('\\\\', '\\')
        options[match.group(1)] = value
    return options


def decode_config_bytes(data: bytes, path: str) -> Tuple[str, bool]:
    """Bytes of a config file (gzip told by content, not name) -> (text, was_compressed). Raises ConfigError."""
    compressed = data[:2] == GZIP_MAGIC
    if compressed:
        try:
            decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = decomp.decompress(data, MAX_CONFIG_BYTES)
            if decomp.unconsumed_tail:
                raise ConfigError(path, INVALID, 'gzip data expands beyond %d bytes' % MAX_CONFIG_BYTES)
            raw += decomp.flush()
            if not decomp.eof:
                raise ConfigError(path, INVALID, 'corrupt gzip: compressed stream is truncated')
        except zlib.error as exc:
            raise ConfigError(path, INVALID, 'corrupt gzip: %s' % exc)
    else:
        raw = data
    if not raw.strip():
        raise ConfigError(path, INVALID, 'empty file' if not compressed else 'gzip holds an empty file')
    if b'\x00' in raw:
        raise ConfigError(path, INVALID, 'binary data (NUL bytes), not a kernel config')
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError:
        # Kconfig strings are ASCII in practice; tolerate odd bytes in comments but not a binary blob.
        text = raw.decode('latin-1')
        if sum(1 for ch in text[:65536] if ord(ch) < 9 or 13 < ord(ch) < 32) > 16:
            raise ConfigError(path, INVALID, 'binary data, not a kernel config')
    return text, compressed


def read_config(path: str) -> KernelConfig:
    """Read and parse one file. Raises ConfigError(status=not_found|unreadable|invalid)."""
    try:
        with open(path, 'rb') as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(path, NOT_FOUND, 'no such file')
    except IsADirectoryError:
        raise ConfigError(path, UNREADABLE, 'is a directory, not a file')
    except PermissionError as exc:
        raise ConfigError(path, UNREADABLE, 'permission denied (%s)' % (exc.strerror or exc))
    except OSError as exc:
        raise ConfigError(path, UNREADABLE, 'cannot read: %s' % (exc.strerror or exc))
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(path, INVALID, 'larger than %d bytes, not a kernel config' % MAX_CONFIG_BYTES)
    text, compressed = decode_config_bytes(data, path)
    options = parse_config_text(text)
    if not options:
        raise ConfigError(path, INVALID, 'no CONFIG_ lines: not a kernel config')
    return KernelConfig(path=path, options=options, header_version=header_version(text), compressed=compressed)


# --------------------------------------------------------------------------------------------------------------
# Search

def join_root(root: str, path: str) -> str:
    """``root`` + absolute ``path`` (``/host`` + ``/proc/config.gz`` -> ``/host/proc/config.gz``)."""
    root = root or '/'
    if root in ('/', ''):
        return path if path.startswith('/') else '/' + path
    return root.rstrip('/') + '/' + path.lstrip('/')


def candidate_paths(release: Optional[str]) -> List[str]:
    """The search order (absolute, before ``root`` is applied)."""
    paths = ['/proc/config.gz']
    if release:
        flavour = release.rsplit('-', 1)[-1]
        paths.append('/boot/config-%s' % release)
        if flavour != release:
            paths.append('/boot/config-%s' % flavour)
        paths.extend([
            '/lib/modules/%s/config' % release,
            '/usr/lib/modules/%s/config' % release,
            '/usr/lib/ostree-boot/config-%s' % release,
            '/usr/lib/kernel/config-%s' % release,
            '/usr/src/linux-%s/.config' % release,
            '/usr/src/linux-headers-%s/.config' % release,
            '/lib/modules/%s/build/.config' % release,
        ])
    paths.append('/usr/src/linux/.config')
    return paths


def find_config(root: str, release: Optional[str]) -> Tuple[Optional[KernelConfig], List[PathStatus]]:
    """First usable config in the search order; every path tried is reported with its status and reason."""
    searched = []  # type: List[PathStatus]
    seen = set()  # type: Set[str]
    for candidate in candidate_paths(release):
        path = join_root(root, candidate)
        if path in seen:
            continue
        seen.add(path)
        try:
            config = read_config(path)
        except ConfigError as exc:
            searched.append(PathStatus(path, exc.status, exc.reason))
            continue
        searched.append(PathStatus(path, USED, '%s, %d options' % (
            'gzip' if config.compressed else 'plain text', len(config.options))))
        return config, searched
    return None, searched


def read_release(root: str) -> Optional[str]:
    """The running kernel's release from ``<root>/proc/sys/kernel/osrelease``, else os.uname() when root is /."""
    try:
        with open(join_root(root, '/proc/sys/kernel/osrelease'), 'r') as handle:
            value = handle.read().strip()
            if value:
                return value
    except (OSError, UnicodeDecodeError):
        pass
    if (root or '/') == '/':
        try:
            return os.uname()[2]
        except (AttributeError, OSError):
            return None
    return None


def modules_enabled(config: Optional[KernelConfig]) -> Optional[bool]:
    if config is None:
        return None
    value = config.state('MODULES')
    if value == STATE_Y:
        return True
    if value == STATE_N:
        return False
    return None  # absent (a fragment, not a generated .config) or an odd value: unknown


# --------------------------------------------------------------------------------------------------------------
# Module evidence

def _read_text(path: str) -> Optional[str]:
    try:
        with open(path, 'rb') as handle:
            return handle.read().decode('utf-8', 'replace')
    except OSError:
        return None


def read_proc_modules(root: str) -> Optional[Set[str]]:
    text = _read_text(join_root(root, '/proc/modules'))
    if text is None:
        return None
    names = set()
    for line in text.splitlines():
        parts = line.split()
        if parts:
            names.add(normalize_module(parts[0]))
    return names


def find_modules_dir(root: str, release: Optional[str]) -> Optional[str]:
    if not release:
        return None
    for base in ('/lib/modules/', '/usr/lib/modules/'):
        path = join_root(root, base + release)
        if os.path.isdir(path):
            return path
    return None


def gather_evidence(root: str, release: Optional[str]) -> ModuleEvidence:
    modules_dir = find_modules_dir(root, release)
    builtin = set()  # type: Set[str]
    dep = {}  # type: Dict[str, str]
    builtin_read = dep_read = False
    if modules_dir:
        text = _read_text(os.path.join(modules_dir, 'modules.builtin'))
        if text is not None:
            builtin_read = True
            for line in text.splitlines():
                name = module_name_from_path(line.strip())
                if name:
                    builtin.add(name)
        text = _read_text(os.path.join(modules_dir, 'modules.dep'))
        if text is not None:
            dep_read = True
            for line in text.splitlines():
                target = line.split(':', 1)[0].strip()
                name = module_name_from_path(target)
                if name:
                    dep[name] = target
    sys_module_dir = join_root(root, '/sys/module')
    return ModuleEvidence(
        proc_modules=read_proc_modules(root), modules_dir=modules_dir, builtin=builtin, builtin_read=builtin_read,
        dep=dep, dep_read=dep_read, sys_module_dir=sys_module_dir if os.path.isdir(sys_module_dir) else None)


def _disk_modules(evidence: ModuleEvidence) -> Dict[str, str]:
    """Module files on disk under the modules directory, scanned once and only when needed."""
    if not evidence._disk_scanned[0]:
        evidence._disk_scanned[0] = True
        if evidence.modules_dir:
            for dirpath, _dirnames, filenames in os.walk(evidence.modules_dir):
                for filename in filenames:
                    name = module_name_from_path(filename)
                    if name and name not in evidence._disk:
                        evidence._disk[name] = os.path.join(dirpath, filename)
    return evidence._disk


def _sys_initstate(evidence: ModuleEvidence, module: str) -> Optional[str]:
    if not evidence.sys_module_dir:
        return None
    for name in sorted({module, module.replace('_', '-')}):
        text = _read_text(os.path.join(evidence.sys_module_dir, name, 'initstate'))
        if text is not None:
            return text.strip()
    return None


def module_state(symbol: str, value: str, module: str, evidence: ModuleEvidence,
                 mods_enabled: Optional[bool], config_found: bool) -> ModuleState:
    """Decide one module's state from the option's value and the system's evidence; the reason names the evidence."""
    module = normalize_module(module)
    cfg = 'CONFIG_%s' % symbol
    in_proc = evidence.proc_modules is not None and module in evidence.proc_modules
    initstate = _sys_initstate(evidence, module)
    live = initstate == 'live'
    in_builtin = module in evidence.builtin

    def loaded_reason() -> str:
        if in_proc:
            return '%s is listed in /proc/modules' % module
        return '/sys/module/%s/initstate is live' % module

    if not config_found:
        if in_builtin:
            return ModuleState(symbol, BUILTIN, 'no kernel config; %s is listed in modules.builtin' % module)
        if in_proc or live:
            return ModuleState(symbol, LOADED, 'no kernel config; ' + loaded_reason())
        return ModuleState(symbol, UNKNOWN, 'no kernel config found, and no loaded or built-in evidence for %s'
                           % module)
    if value == STATE_Y:
        return ModuleState(symbol, BUILTIN, '%s=y (built into the kernel)' % cfg)
    if value == STATE_M:
        if in_proc or live:
            return ModuleState(symbol, LOADED, '%s=m and %s' % (cfg, loaded_reason()))
        if mods_enabled is False:
            return ModuleState(symbol, MISSING, '%s=m but CONFIG_MODULES is not set: modules cannot be loaded'
                               % cfg)
        if module in evidence.dep:
            return ModuleState(symbol, LOADABLE, '%s=m and modules.dep lists %s' % (cfg, evidence.dep[module]))
        if evidence.modules_dir is None:
            return ModuleState(symbol, MISSING, '%s=m but no modules directory (lib/modules/<release>) exists'
                               % cfg)
        disk = _disk_modules(evidence)
        if module in disk:
            return ModuleState(symbol, LOADABLE, '%s=m and %s exists' % (cfg, disk[module]))
        if in_builtin:
            return ModuleState(symbol, BUILTIN, '%s=m but modules.builtin lists %s' % (cfg, module))
        return ModuleState(symbol, MISSING, '%s=m but no %s.ko* in modules.dep or under %s'
                           % (cfg, module, evidence.modules_dir))
    # n, absent, or an unexpected value
    shown = {STATE_N: '%s is not set' % cfg, STATE_ABSENT: '%s is absent from the config' % cfg}.get(
        value, '%s=%s (not a tristate)' % (cfg, value))
    if in_builtin:
        return ModuleState(symbol, BUILTIN, '%s, but modules.builtin lists %s' % (shown, module))
    if in_proc or live:
        return ModuleState(symbol, LOADED, '%s, but %s' % (shown, loaded_reason()))
    return ModuleState(symbol, MISSING, shown)


def module_states(config: Optional[KernelConfig], module_map: Sequence[Tuple[str, str]], evidence: ModuleEvidence
                  ) -> Dict[str, ModuleState]:
    """Module -> state for ``module_map`` ((symbol, module) pairs). When several symbols build one module, the
    first pair whose symbol the config defines (any state but absent) decides; otherwise the first pair."""
    chosen = {}  # type: Dict[str, str]
    for symbol, module in module_map:
        module = normalize_module(module)
        symbol = normalize_symbol(symbol)
        if module not in chosen:
            chosen[module] = symbol
        elif config is not None and config.state(chosen[module]) == STATE_ABSENT \
                and config.state(symbol) != STATE_ABSENT:
            chosen[module] = symbol
    mods_enabled = modules_enabled(config)
    result = {}
    for module in sorted(chosen):
        symbol = chosen[module]
        value = config.state(symbol) if config is not None else STATE_ABSENT
        result[module] = module_state(symbol, value, module, evidence, mods_enabled, config is not None)
    return result


# --------------------------------------------------------------------------------------------------------------
# xtables

XTABLES_FILES = (
    ('ipv4', 'matches', '/proc/net/ip_tables_matches'),
    ('ipv4', 'targets', '/proc/net/ip_tables_targets'),
    ('ipv6', 'matches', '/proc/net/ip6_tables_matches'),
    ('ipv6', 'targets', '/proc/net/ip6_tables_targets'),
)


def read_xtables(root: str) -> Dict[str, object]:
    """Registered xtables extensions. ``available`` is true when at least one of the four files could be read.

    Presence proves support; absence proves nothing (extensions register when first loaded).
    """
    result = {'available': False, 'ipv4': {'matches': [], 'targets': []},
              'ipv6': {'matches': [], 'targets': []}}  # type: Dict[str, object]
    for family, kind, path in XTABLES_FILES:
        text = _read_text(join_root(root, path))
        if text is None:
            continue
        result['available'] = True
        names = sorted({line.strip() for line in text.splitlines() if line.strip()})
        result[family][kind] = names  # type: ignore[index]
    return result


def iter_all_symbols(configs: Iterable[KernelConfig]) -> List[str]:
    symbols = set()  # type: Set[str]
    for config in configs:
        symbols.update(config.options)
    return sorted(symbols)
