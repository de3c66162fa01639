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
import stat
import zlib
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from ansible_collections.kubenode.netfilter.plugins.module_utils._version import version_tuple

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

# Bounds: every file is read at most this far (issue 17: FIFOs, /dev/zero behind a node file, giant files).
MAX_CONFIG_BYTES = 64 * 1024 * 1024       # a config, plain or after gunzip (real ones: 100-400 KiB)
MAX_CONFIG_SYMBOLS = 50000                 # distinct symbols; Linux has ~20k Kconfig symbols over all arches
MAX_MODULES_FILE_BYTES = 32 * 1024 * 1024  # modules.dep / modules.builtin (real ones: < 2 MiB)
MAX_PROC_FILE_BYTES = 4 * 1024 * 1024      # /proc/modules, /proc/net/ip_tables_* (real ones: < 100 KiB)
MAX_SMALL_FILE_BYTES = 4096                # osrelease, initstate
MAX_DISK_SCAN_FILES = 200000               # files walked under lib/modules/<release> (real trees: ~6-10k)
MAX_SYMLINKS = 40                          # as the kernel's own limit for one path lookup

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
    root: str = '/'
    modules_node_dir: Optional[str] = None  # modules_dir as a path on the node (before root), for reading below it
    _disk: Dict[str, str] = field(default_factory=dict)
    _disk_scanned: List[bool] = field(default_factory=lambda: [False])
    _disk_truncated: List[bool] = field(default_factory=lambda: [False])


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
    idx = base.rfind('.ko')
    if idx <= 0 or base[idx:] not in MODULE_SUFFIXES:
        return None
    return normalize_module(base[:idx])


def parse_version(text: Optional[str]) -> Optional[str]:
    """``6.18.44-fc-v1098`` -> ``6.18.44``; ``6.1`` -> ``6.1.0``; None when no version is recognisable.

    Needs at least ``major.minor`` at the start; the numbers come from the collection's one parser
    (``_version.version_tuple``).
    """
    if not text or not _RELEASE_RE.match(text.strip()):
        return None
    parsed = version_tuple(text.strip())
    if parsed is None:
        return None
    return '%d.%d.%d' % parsed


def header_version(text: str) -> Optional[str]:
    """The version in the generated header ``# Linux/x86 6.18.45 Kernel Configuration``."""
    match = _HEADER_RE.search(text[:4096])
    return parse_version(match.group(1)) if match else None


# --------------------------------------------------------------------------------------------------------------
# Reading files below a root: confined, regular files only, bounded

def valid_release(release: Optional[str]) -> bool:
    """A kernel release usable as one path component: no ``/``, no ``..``, no NUL, no whitespace or control
    characters, at most 255 characters. Everything built from a release (``lib/modules/<release>``) relies on it."""
    if not isinstance(release, str) or not release or len(release) > 255:
        return False
    if '/' in release or '..' in release or release == '.':
        return False
    return not any(ord(ch) < 33 or ord(ch) == 127 for ch in release)


def resolve_in_root(root: str, path: str) -> str:
    """``path`` (absolute, as on the node) resolved below ``root`` the way a chroot would: an absolute symlink
    target starts again at ``root`` and ``..`` stops at ``root`` (as Linux's openat2 RESOLVE_IN_ROOT). The result
    never leaves ``root``; with ``root`` ``/`` it is the real path. Raises ConfigError (unreadable) on a symlink loop.
    """
    base = os.path.realpath(root or '/')
    prefix = '' if base == '/' else base
    pending = [p for p in path.split('/') if p not in ('', '.')]
    done = []  # type: List[str]
    hops = 0
    exists = True
    while pending:
        part = pending.pop(0)
        if part == '..':
            if done:
                done.pop()
            continue
        done.append(part)
        if not exists:
            continue
        current = prefix + '/' + '/'.join(done)
        try:
            mode = os.lstat(current).st_mode
        except OSError:
            exists = False  # the rest cannot exist either; keep resolving '..' lexically
            continue
        if stat.S_ISLNK(mode):
            hops += 1
            if hops > MAX_SYMLINKS:
                raise ConfigError(prefix + '/' + path.lstrip('/'), UNREADABLE, 'too many levels of symbolic links')
            try:
                target = os.readlink(current)
            except OSError as exc:
                raise ConfigError(current, UNREADABLE, 'cannot read symlink: %s' % (exc.strerror or exc))
            done.pop()
            if target.startswith('/'):
                done = []
            pending = [p for p in target.split('/') if p not in ('', '.')] + pending
    return prefix + '/' + '/'.join(done) if done else (prefix or '/')


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, 'a FIFO'), (stat.S_ISCHR, 'a character device'),
                       (stat.S_ISBLK, 'a block device'), (stat.S_ISSOCK, 'a socket')):
        if test(mode):
            return name
    return 'not a regular file'


def read_bounded(path: str, limit: int) -> bytes:
    """At most ``limit`` + 1 bytes of a regular file (procfs and sysfs files are regular files of size 0: they are
    read the same way, never trusted for their size). Opening never blocks (O_NONBLOCK: a FIFO is refused, not
    waited on). Raises ConfigError with status not_found / unreadable; callers decide what ``limit`` + 1 bytes mean.
    """
    flags = os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_NOCTTY', 0) | getattr(os, 'O_CLOEXEC', 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ConfigError(path, NOT_FOUND, 'no such file')
    except NotADirectoryError:
        raise ConfigError(path, NOT_FOUND, 'no such file (a parent is not a directory)')
    except PermissionError as exc:
        raise ConfigError(path, UNREADABLE, 'permission denied (%s)' % (exc.strerror or exc))
    except OSError as exc:
        raise ConfigError(path, UNREADABLE, 'cannot open: %s' % (exc.strerror or exc))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ConfigError(path, UNREADABLE, 'is a directory, not a file')
        if not stat.S_ISREG(mode):
            raise ConfigError(path, UNREADABLE, 'is %s, not a regular file' % _file_kind(mode))
        chunks = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b''.join(chunks)
    except IsADirectoryError:
        raise ConfigError(path, UNREADABLE, 'is a directory, not a file')
    except OSError as exc:
        raise ConfigError(path, UNREADABLE, 'cannot read: %s' % (exc.strerror or exc))
    finally:
        os.close(fd)


def read_node_text(root: str, path: str, limit: int) -> Optional[str]:
    """Text of ``path`` below ``root`` (confined, regular, at most ``limit`` bytes); None when it does not exist,
    cannot be read, is not a regular file or is larger than ``limit`` (a truncated read would be a guess)."""
    try:
        data = read_bounded(resolve_in_root(root, path), limit)
    except ConfigError:
        return None
    if len(data) > limit:
        return None
    return data.decode('utf-8', 'replace')


def is_dir_in_root(root: str, path: str) -> Optional[str]:
    """The resolved (confined) directory for ``path`` below ``root``, or None when it is not a directory."""
    try:
        resolved = resolve_in_root(root, path)
    except ConfigError:
        return None
    return resolved if os.path.isdir(resolved) else None


# --------------------------------------------------------------------------------------------------------------
# Parsing

class TooManySymbols(ValueError):
    """The text defines more distinct symbols than ``max_symbols``."""


_PARSE_CHUNK = 1024 * 1024


def _lines(text: str) -> Iterable[str]:
    """``text.splitlines()`` a chunk at a time (cut right after a newline), so a 60 MB text never becomes one list
    of millions of strings."""
    start = 0
    size = len(text)
    while start < size:
        end = text.find('\n', start + _PARSE_CHUNK)
        end = size if end < 0 else end + 1
        yield from text[start:end].splitlines()
        start = end


def parse_config_text(text: str, max_symbols: Optional[int] = None) -> Dict[str, str]:
    """Symbol (without ``CONFIG_``) -> ``y`` | ``m`` | ``n`` | value. CRLF tolerated; the last assignment wins.

    String values lose their surrounding quotes (and ``\\"`` / ``\\\\`` escapes); numbers stay strings. Raises
    TooManySymbols when more than ``max_symbols`` distinct symbols appear.
    """
    options = {}  # type: Dict[str, str]
    for raw in _lines(text):
        line = raw.strip()
        if not line:
            continue
        if line.startswith('#'):
            match = _NOT_SET_RE.match(line)
            if match:
                options[match.group(1)] = STATE_N
            else:
                continue
        else:
            match = _ASSIGN_RE.match(line)
            if not match:
                continue
            value = match.group(2).strip()
            if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
                value = value[1:-1].replace('\\"', '"').replace('\\\\', '\\')
            options[match.group(1)] = value
        if max_symbols is not None and len(options) > max_symbols:
            raise TooManySymbols('more than %d distinct CONFIG_ symbols' % max_symbols)
    return options


def gunzip_all(data: bytes, path: str, limit: int = MAX_CONFIG_BYTES) -> bytes:
    """Every member of a gzip file (RFC 1952 allows several concatenated; ``zcat`` reads them all), at most
    ``limit`` bytes in total. Raises ConfigError (invalid) on corrupt or truncated data or when over ``limit``."""
    out = []
    total = 0
    rest = data
    while True:
        decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = decomp.decompress(rest, limit - total + 1)
            if decomp.unconsumed_tail or total + len(raw) > limit:
                raise ConfigError(path, INVALID, 'gzip data expands beyond %d bytes' % limit)
            raw += decomp.flush()
        except zlib.error as exc:
            raise ConfigError(path, INVALID, 'corrupt gzip: %s' % exc)
        if not decomp.eof:
            raise ConfigError(path, INVALID, 'corrupt gzip: compressed stream is truncated')
        total += len(raw)
        if total > limit:
            raise ConfigError(path, INVALID, 'gzip data expands beyond %d bytes' % limit)
        out.append(raw)
        rest = decomp.unused_data
        # gzip(1) ignores trailing zero padding (tape blocks); anything else after a member must be another member
        if not rest or not rest.strip(b'\x00'):
            break
        if rest[:2] != GZIP_MAGIC:
            raise ConfigError(path, INVALID, 'corrupt gzip: trailing garbage after member %d' % len(out))
    return b''.join(out)


def decode_config_bytes(data: bytes, path: str) -> Tuple[str, bool]:
    """Bytes of a config file (gzip told by content, not name) -> (text, was_compressed). Raises ConfigError."""
    compressed = data[:2] == GZIP_MAGIC
    raw = gunzip_all(data, path) if compressed else data
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


def read_config(path: str, root: Optional[str] = None) -> KernelConfig:
    """Read and parse one file. Raises ConfigError(status=not_found|unreadable|invalid).

    With ``root``, ``path`` is a path on the node: it is resolved below ``root`` (never outside it) and reported
    as ``root`` + ``path``. Without, ``path`` is opened as it is.
    """
    shown = join_root(root, path) if root is not None else path
    try:
        real = resolve_in_root(root, path) if root is not None else path
        data = read_bounded(real, MAX_CONFIG_BYTES)
    except ConfigError as exc:
        raise ConfigError(shown, exc.status, exc.reason)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(shown, INVALID, 'larger than %d bytes, not a kernel config' % MAX_CONFIG_BYTES)
    text, compressed = decode_config_bytes(data, shown)
    del data
    try:
        options = parse_config_text(text, MAX_CONFIG_SYMBOLS)
    except TooManySymbols as exc:
        raise ConfigError(shown, INVALID, '%s: not a kernel config' % exc)
    if not options:
        raise ConfigError(shown, INVALID, 'no CONFIG_ lines: not a kernel config')
    return KernelConfig(path=shown, options=options, header_version=header_version(text), compressed=compressed)


# --------------------------------------------------------------------------------------------------------------
# Search

def join_root(root: str, path: str) -> str:
    """``root`` + absolute ``path`` (``/host`` + ``/proc/config.gz`` -> ``/host/proc/config.gz``)."""
    root = root or '/'
    if root in ('/', ''):
        return path if path.startswith('/') else '/' + path
    return root.rstrip('/') + '/' + path.lstrip('/')


def candidate_paths(release: Optional[str], running: bool = True) -> List[str]:
    """The search order (absolute, before ``root`` is applied). ``running=False`` (an installed, not running kernel)
    leaves out the running kernel's ``/proc/config.gz`` and the release-less ``/usr/src/linux/.config``."""
    paths = ['/proc/config.gz'] if running else []
    if release and valid_release(release):
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
    if running:
        paths.append('/usr/src/linux/.config')
    return paths


def find_config(root: str, release: Optional[str], running: bool = True,
                cache: Optional[Dict[str, KernelConfig]] = None) -> Tuple[Optional[KernelConfig], List[PathStatus]]:
    """First usable config in the search order; every path tried is reported with its status and reason.

    Every candidate is resolved below ``root`` (symlinks included), so no release or link leads outside it.
    ``cache`` (path -> config, filled here) saves parsing one file twice in one run (the running kernel's config
    is also an installed kernel's).
    """
    searched = []  # type: List[PathStatus]
    seen = set()  # type: Set[str]
    for candidate in candidate_paths(release, running):
        path = join_root(root, candidate)
        if path in seen:
            continue
        seen.add(path)
        try:
            config = cache.get(path) if cache is not None else None
            if config is None:
                config = read_config(candidate, root or '/')
                if cache is not None:
                    cache[path] = config
        except ConfigError as exc:
            searched.append(PathStatus(path, exc.status, exc.reason))
            continue
        searched.append(PathStatus(path, USED, '%s, %d options' % (
            'gzip' if config.compressed else 'plain text', len(config.options))))
        return config, searched
    return None, searched


def read_release(root: str) -> Optional[str]:
    """The running kernel's release from ``<root>/proc/sys/kernel/osrelease``, else os.uname() when root is /.

    A value that is not a valid release (``valid_release``: no ``/``, ``..``, NUL, ...) is treated as unreadable.
    """
    text = read_node_text(root, '/proc/sys/kernel/osrelease', MAX_SMALL_FILE_BYTES)
    if text is not None:
        value = text.strip()
        if value:
            return value if valid_release(value) else None
    if (root or '/') == '/':
        try:
            value = os.uname()[2]
        except (AttributeError, OSError):
            return None
        return value if valid_release(value) else None
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

def read_proc_modules(root: str) -> Optional[Set[str]]:
    text = read_node_text(root, '/proc/modules', MAX_PROC_FILE_BYTES)
    if text is None:
        return None
    names = set()
    for line in text.splitlines():
        parts = line.split()
        if parts:
            names.add(normalize_module(parts[0]))
    return names


def find_modules_dir(root: str, release: Optional[str]) -> Optional[str]:
    """The resolved ``lib/modules/<release>`` (or ``usr/lib/...``) below ``root``; None for an invalid release."""
    found = _find_modules_dir(root, release)
    return found[0] if found else None


def _find_modules_dir(root: str, release: Optional[str]) -> Optional[Tuple[str, str]]:
    """(resolved path, path on the node) of the release's modules directory."""
    if not release or not valid_release(release):
        return None
    for base in ('/lib/modules/', '/usr/lib/modules/'):
        path = is_dir_in_root(root, base + release)
        if path:
            return path, base + release
    return None


def gather_evidence(root: str, release: Optional[str], running: bool = True) -> ModuleEvidence:
    """What ``root`` says about the modules of ``release``. ``running=False`` (an installed kernel that is not
    running) reads no ``/proc/modules`` and no ``/sys/module``: only the running kernel can have loaded modules."""
    found = _find_modules_dir(root, release)
    modules_dir, node_dir = found if found else (None, None)
    builtin = set()  # type: Set[str]
    dep = {}  # type: Dict[str, str]
    builtin_read = dep_read = False
    if node_dir:
        text = read_node_text(root, node_dir + '/modules.builtin', MAX_MODULES_FILE_BYTES)
        if text is not None:
            builtin_read = True
            for line in text.splitlines():
                name = module_name_from_path(line.strip())
                if name:
                    builtin.add(name)
        text = read_node_text(root, node_dir + '/modules.dep', MAX_MODULES_FILE_BYTES)
        if text is not None:
            dep_read = True
            for line in text.splitlines():
                target = line.split(':', 1)[0].strip()
                name = module_name_from_path(target)
                if name:
                    dep[name] = target
    sys_module_dir = is_dir_in_root(root, '/sys/module') if running else None
    return ModuleEvidence(
        proc_modules=read_proc_modules(root) if running else None, modules_dir=modules_dir, builtin=builtin,
        builtin_read=builtin_read, dep=dep, dep_read=dep_read, sys_module_dir=sys_module_dir, root=root or '/',
        modules_node_dir=node_dir)


def _disk_modules(evidence: ModuleEvidence) -> Dict[str, str]:
    """Module files on disk under the modules directory, scanned once and only when needed, at most
    MAX_DISK_SCAN_FILES files (``_disk_truncated`` then says the scan stopped). Directory symlinks are not followed."""
    if not evidence._disk_scanned[0]:
        evidence._disk_scanned[0] = True
        if evidence.modules_dir:
            seen = 0
            for dirpath, _dirnames, filenames in os.walk(evidence.modules_dir):
                seen += len(filenames)
                for filename in filenames:
                    name = module_name_from_path(filename)
                    if name and name not in evidence._disk:
                        evidence._disk[name] = os.path.join(dirpath, filename)
                if seen > MAX_DISK_SCAN_FILES:
                    evidence._disk_truncated[0] = True
                    break
    return evidence._disk


def _sys_initstate(evidence: ModuleEvidence, module: str) -> Optional[str]:
    if not evidence.sys_module_dir or '/' in module or module in ('', '.', '..'):
        return None
    for name in sorted({module, module.replace('_', '-')}):
        text = read_node_text(evidence.root, '/sys/module/%s/initstate' % name, MAX_SMALL_FILE_BYTES)
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
        if evidence._disk_truncated[0]:
            return ModuleState(symbol, UNKNOWN, '%s=m, %s is not in modules.dep, and the scan of %s stopped after '
                               '%d files' % (cfg, module, evidence.modules_dir, MAX_DISK_SCAN_FILES))
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
        text = read_node_text(root, path, MAX_PROC_FILE_BYTES)
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
