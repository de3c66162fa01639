# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Installed kernels and the one the node boots next, read from files below ``root`` (never written, no command run).

Formats, and where they are defined:

- GRUB 2: ``grub.cfg`` (``menuentry`` / ``submenu`` blocks, ``set default=``; a default is a number, a title or a
  ``--id``, with ``>`` between submenu levels) and the environment block ``grubenv`` (``next_entry`` written by
  ``grub-reboot``, ``saved_entry`` by ``grub-set-default``) -- GNU GRUB manual, sections "default", "Environment
  block", "Simple configuration handling" (GRUB_DEFAULT in ``/etc/default/grub``, applied by ``grub-mkconfig``).
  GRUB falls back to the first entry when the default names none (grub-core/normal/menu.c).
- Boot Loader Specification type #1 entries (``loader/entries/*.conf``: ``title``, ``version``, ``linux``,
  ``sort-key``, ``machine-id``) -- UAPI group "Boot Loader Specification" (systemd docs/BOOT_LOADER_SPECIFICATION.md),
  read by GRUB's ``blscfg`` on Fedora/RHEL 8+ (``grubby --set-default`` writes ``saved_entry`` to
  ``/boot/grub2/grubenv``) and by systemd-boot.
- systemd-boot: ``loader/loader.conf`` ``default`` (a glob over entry ids; ``@saved``), overridden by the EFI
  variables ``LoaderEntryOneShot`` and ``LoaderEntryDefault`` (vendor GUID 4a67b082-0a4c-41cf-b6c7-440b29bb8c4f)
  -- systemd man pages loader.conf(5), systemd-boot(7) and the Boot Loader Interface.
- Debian/Ubuntu ``/boot/vmlinuz`` (or ``/vmlinuz``) symlink to the newest image, kept by linux-base's
  ``linux-update-symlinks``: used only when no boot loader configuration is found.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from ansible_collections.kubenode.netfilter.plugins.module_utils import _kernel_config as kc

MAX_INSTALLED = 32          # releases reported (newest first); a node has 1-5
MAX_DIR_ENTRIES = 4096      # names looked at per listed directory
MAX_BOOT_FILE_BYTES = 4 * 1024 * 1024   # grub.cfg (real ones: 5-50 KiB)
MAX_SMALL_BYTES = 64 * 1024             # grubenv (1 KiB), loader.conf, one entry, /etc/default/grub
MAX_ENTRIES = 512

IMAGE_PREFIXES = ('vmlinuz-', 'vmlinux-', 'Image-', 'bzImage-', 'kernel-')
EFI_VENDOR = '4a67b082-0a4c-41cf-b6c7-440b29bb8c4f'
ESP_DIRS = ('/efi', '/boot', '/boot/efi')   # ESP or XBOOTLDR mount points (loader.conf(5), bootctl(1))
GRUB_DIRS = ('/boot/grub', '/boot/grub2')   # Debian/Ubuntu, Fedora/RHEL/SUSE

SRC_SYSTEMD_BOOT = 'systemd-boot'
SRC_GRUB_BLS = 'grub-bls'
SRC_GRUB = 'grub'
SRC_VMLINUZ = 'vmlinuz-symlink'


@dataclass(frozen=True)
class NextBoot:
    release: Optional[str]
    source: Optional[str]
    reason: str


@dataclass
class Entry:
    """One boot menu entry: a GRUB menuentry/submenu or a BLS entry."""

    title: str
    id: Optional[str] = None
    linux: Optional[str] = None
    version: Optional[str] = None
    sort_key: Optional[str] = None
    machine_id: Optional[str] = None
    submenu: bool = False
    children: List['Entry'] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------------------
# Installed releases

def _listdir(root: str, path: str) -> List[str]:
    real = kc.is_dir_in_root(root, path)
    if not real:
        return []
    try:
        names = []
        with os.scandir(real) as it:
            for entry in it:
                names.append(entry.name)
                if len(names) >= MAX_DIR_ENTRIES:
                    break
        return names
    except OSError:
        return []


def version_key(text: str) -> Tuple:
    """Sort key comparing digit runs as numbers (``6.10`` after ``6.9``), as strverscmp/rpmvercmp do."""
    key = []
    for num, alpha in re.findall(r'(\d+)|([^\d]+)', text or ''):
        key.append((1, int(num), '') if num else (0, 0, alpha))
    return tuple(key)


def installed_releases(root: str) -> List[str]:
    """Releases with a ``/boot/config-<release>`` or a ``lib/modules/<release>`` / ``usr/lib/modules/<release>``
    directory below ``root``, newest first, at most MAX_INSTALLED. Names that are not valid releases are skipped,
    and so are ``/boot/config-<name>`` files whose name does not start with a digit (Alpine's ``config-virt`` is the
    config of a flavour, found for its release through the flavour fallback of the search)."""
    found = set()
    for name in _listdir(root, '/boot'):
        if name.startswith('config-'):
            rel = name[len('config-'):]
            if kc.valid_release(rel) and rel[:1] in '0123456789':
                found.add(rel)
    for base in ('/lib/modules', '/usr/lib/modules'):
        for name in _listdir(root, base):
            if kc.valid_release(name) and kc.is_dir_in_root(root, '%s/%s' % (base, name)):
                found.add(name)
    return sorted(found, key=version_key, reverse=True)[:MAX_INSTALLED]


def find_image(root: str, release: str) -> Optional[str]:
    """The kernel image of ``release`` (a path on the node) in ``/boot`` (``vmlinuz-<release>`` and the other
    usual names) or in a BLS type #1 layout (``<ESP>/<entry-token>/<release>/linux``); None when there is none."""
    if not kc.valid_release(release):
        return None
    for prefix in IMAGE_PREFIXES:
        path = '/boot/%s%s' % (prefix, release)
        if _is_file(root, path):
            return path
    for esp in ESP_DIRS:
        for token in _listdir(root, esp):
            if token in ('loader', 'EFI', 'efi', 'grub', 'grub2') or not kc.valid_release(token):
                continue
            path = '%s/%s/%s/linux' % (esp, token, release)
            if _is_file(root, path):
                return path
    return None


def _is_file(root: str, path: str) -> bool:
    try:
        return os.path.isfile(kc.resolve_in_root(root, path))
    except kc.ConfigError:
        return False


def bootable(root: str, release: str, modules_dir: Optional[str], modules_enabled: Optional[bool]
             ) -> Tuple[bool, str, Optional[str]]:
    """(bootable, reason, image). Bootable means: a kernel image for the release exists (a boot loader can start
    it) and so does its modules directory (or the kernel is built without module support). A config in ``/boot``
    alone -- what removing a kernel package can leave behind -- is not a bootable kernel."""
    image = find_image(root, release)
    modules_ok = modules_dir is not None or modules_enabled is False
    if image and modules_ok:
        if modules_dir is None:
            return True, 'kernel image %s; built without module support (CONFIG_MODULES unset)' % image, image
        return True, 'kernel image %s and modules directory %s' % (image, modules_dir), image
    if not image and not modules_ok:
        return False, ('no kernel image (/boot/vmlinuz-%s or similar) and no modules directory '
                       '(lib/modules/%s): leftovers of a removed kernel' % (release, release)), None
    if not image:
        return False, ('no kernel image (/boot/vmlinuz-%s or similar, or a boot loader entry directory): no boot '
                       'loader can start it' % release), None
    return False, ('kernel image %s but no modules directory (lib/modules/%s): removed or broken install, it '
                   'would boot without its modules' % (image, release)), image


def release_from_image(root: str, path: Optional[str], known: Sequence[str]) -> Optional[str]:
    """The release a kernel image path names: ``vmlinuz-<release>``, a ``/vmlinuz`` symlink to one, or a path
    component that is a known release (BLS ``/<token>/<release>/linux``)."""
    words = (path or '').split()
    if not words:
        return None
    path = words[0]
    if path.startswith('(') and ')' in path:   # GRUB device prefix: (hd0,gpt2)/vmlinuz-...
        path = path[path.index(')') + 1:]
    base = path.rstrip('/').rsplit('/', 1)[-1]
    for prefix in IMAGE_PREFIXES:
        rel = base[len(prefix):]
        if base.startswith(prefix) and kc.valid_release(rel):
            if rel in known:
                return rel
            # Ubuntu's signed images: vmlinuz-<release>.efi.signed; the release is the longest known prefix
            longer = [k for k in known if rel.startswith(k + '.')]
            return max(longer, key=len) if longer else rel
    for part in path.split('/'):
        if part in known:
            return part
    if base in ('vmlinuz', 'vmlinux'):
        # a symlink such as /vmlinuz or /boot/vmlinuz -> vmlinuz-<release>; the path may be relative to /boot
        for candidate in (path, '/boot/' + path.lstrip('/')):
            target = _link_target(root, candidate)
            if target:
                return release_from_image(root, target, known)
    return None


def _link_target(root: str, path: str) -> Optional[str]:
    try:
        real = kc.resolve_in_root(root, path)
    except kc.ConfigError:
        return None
    if not os.path.isfile(real):
        return None
    base = os.path.basename(real)
    return base if base != os.path.basename(path) else None


# --------------------------------------------------------------------------------------------------------------
# File helpers

def read_keyvalues(text: str, sep: Optional[str] = None) -> Dict[str, str]:
    """``key value`` (BLS, loader.conf: first whitespace) or ``key=value`` (grubenv, ``sep='='``) lines; ``#``
    comments; the first occurrence of a key wins for BLS (the spec allows repeated ``initrd``, not ``linux``)."""
    out = {}  # type: Dict[str, str]
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        if sep:
            key, found, value = line.partition(sep)
            if not found:
                continue
        else:
            parts = line.split(None, 1)
            key, value = parts[0], parts[1] if len(parts) > 1 else ''
        out.setdefault(key.strip(), value.strip())
    return out


def read_grubenv(root: str, dirs: Sequence[str] = GRUB_DIRS) -> Tuple[Dict[str, str], Optional[str]]:
    for directory in dirs:
        path = directory + '/grubenv'
        text = kc.read_node_text(root, path, MAX_SMALL_BYTES)
        if text is not None:
            return read_keyvalues(text, '='), path
    return {}, None


def read_efivar(root: str, name: str) -> Optional[str]:
    """A systemd-boot EFI variable from efivarfs: 4 bytes of attributes, then a NUL-terminated UTF-16LE string."""
    text = None
    try:
        data = kc.read_bounded(kc.resolve_in_root(root, '/sys/firmware/efi/efivars/%s-%s' % (name, EFI_VENDOR)),
                               4096)
    except kc.ConfigError:
        return None
    if len(data) <= 4 or len(data) > 4096:
        return None
    try:
        text = data[4:].decode('utf-16-le', 'strict').split('\x00', 1)[0].strip()
    except UnicodeDecodeError:
        return None
    return text or None


def read_bls_entries(root: str, directory: str) -> List[Entry]:
    entries = []
    for name in sorted(_listdir(root, directory)):
        if not name.endswith('.conf') or name.startswith('.'):
            continue
        text = kc.read_node_text(root, '%s/%s' % (directory, name), MAX_SMALL_BYTES)
        if text is None:
            continue
        keys = read_keyvalues(text)
        entries.append(Entry(title=keys.get('title', name[:-5]), id=name[:-5], linux=keys.get('linux'),
                             version=keys.get('version'), sort_key=keys.get('sort-key'),
                             machine_id=keys.get('machine-id')))
        if len(entries) >= MAX_ENTRIES:
            break
    return entries


def entry_release(root: str, entry: Entry, known: Sequence[str]) -> Optional[str]:
    if entry.version and kc.valid_release(entry.version) and entry.version in known:
        return entry.version
    found = release_from_image(root, entry.linux, known)
    if found:
        return found
    if entry.version and kc.valid_release(entry.version):
        return entry.version
    return None


# --------------------------------------------------------------------------------------------------------------
# GRUB

def parse_grub_cfg(text: str) -> Tuple[List[Entry], List[str], bool]:
    """(top-level entries with their submenus, every ``set default=`` value in order, whether ``blscfg`` runs)."""
    top = []  # type: List[Entry]
    stack = []  # type: List[Optional[Entry]]   # None: a block that is not an entry (function ... {)
    defaults = []  # type: List[str]
    blscfg = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        if line == '}':
            if stack:
                stack.pop()
            continue
        try:
            words = shlex.split(line, comments=True, posix=True)
        except ValueError:
            continue
        if not words:
            continue
        head = words[0]
        current = next((e for e in reversed(stack) if e is not None), None)
        if head in ('menuentry', 'submenu') and words[-1] == '{':
            entry = Entry(title=words[1] if len(words) > 2 else '', submenu=head == 'submenu')
            for i, word in enumerate(words[:-1]):
                if word in ('--id', '$menuentry_id_option', '${menuentry_id_option}') and i + 1 < len(words) - 1:
                    entry.id = words[i + 1]
            (current.children if current is not None else top).append(entry)
            stack.append(entry)
            continue
        if words[-1] == '{':
            stack.append(None)
            continue
        if head in ('linux', 'linuxefi', 'linux16') and current is not None and len(words) > 1 \
                and current.linux is None:
            current.linux = words[1]
        elif head == 'set' and len(words) > 1 and words[1].startswith('default=') and current is None:
            defaults.append(words[1][len('default='):])
        elif head == 'blscfg':
            blscfg = True
    return top, defaults, blscfg


def select_grub_entry(entries: List[Entry], selector: str) -> Optional[Entry]:
    """GRUB's ``default``: number, title or id per level, levels joined by ``>``."""
    level = entries
    chosen = None
    for part in selector.split('>'):
        chosen = None
        if re.match(r'[0-9]+\Z', part):
            index = int(part)
            chosen = level[index] if index < len(level) else None
        else:
            chosen = next((e for e in level if e.id == part), None) or next((e for e in level if e.title == part), None)
        if chosen is None:
            return None
        level = chosen.children
    return chosen


def read_default_grub(root: str) -> Optional[str]:
    """GRUB_DEFAULT from ``/etc/default/grub`` (a shell fragment; only a plain assignment is read)."""
    text = kc.read_node_text(root, '/etc/default/grub', MAX_SMALL_BYTES)
    if text is None:
        return None
    value = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith('GRUB_DEFAULT='):
            try:
                words = shlex.split(line[len('GRUB_DEFAULT='):], comments=True)
            except ValueError:
                continue
            value = words[0] if words else ''
    return value


def _grub_next(root: str, known: Sequence[str], entries: List[Entry], defaults: List[str], cfg: Optional[str],
               source: str, entries_from: str) -> NextBoot:
    env, env_path = read_grubenv(root)
    where = [p for p in (cfg, env_path) if p]
    literal = [d for d in defaults if '${next_entry}' not in d]
    default = literal[-1] if literal else None
    how = ''
    if default is None:
        grub_default = read_default_grub(root)
        if grub_default is not None:
            default = '${saved_entry}' if grub_default == 'saved' else grub_default
            how = ' (GRUB_DEFAULT=%s in /etc/default/grub)' % grub_default
            where.append('/etc/default/grub')
        elif source == SRC_GRUB_BLS and cfg is None:
            default = '${saved_entry}'
        else:
            default = '0'
    honours_next = cfg is None or any('${next_entry}' in d for d in defaults)
    if env.get('next_entry') and honours_next:
        selector, how = env['next_entry'], ' (next_entry in %s, set by grub-reboot)' % env_path
    elif default == '${saved_entry}':
        # set default="${saved_entry}" expands before 00_header restores saved_entry from prev_saved_entry (the
        # older grub-reboot's boot-once): the next boot is saved_entry either way
        selector = env.get('saved_entry') or '0'
        how = how + (' (saved_entry in %s)' % env_path if env.get('saved_entry') else ' (no saved_entry: entry 0)')
    elif '$' in default:
        return NextBoot(None, source, 'GRUB default %r in %s depends on a variable this module does not evaluate'
                        % (default, cfg))
    else:
        selector = default
        how = how or ' (set default in %s)' % cfg
    if not entries:
        return NextBoot(None, source, 'no boot entries in %s' % entries_from)
    entry = select_grub_entry(entries, selector)
    fallback = ''
    if entry is None:
        entry, fallback = entries[0], '; %r names no entry, so GRUB boots the first one' % selector
    if entry.submenu:
        return NextBoot(None, source, 'GRUB default %r%s is a submenu, not a kernel' % (selector, how))
    release = entry_release(root, entry, known)
    if release is None:
        return NextBoot(None, source, 'GRUB default entry %r%s boots no Linux kernel this module can name%s'
                        % (entry.title, how, fallback))
    return NextBoot(release, source, 'GRUB default entry %r%s -> %s (%s)%s; read from %s'
                    % (entry.title, how, entry.linux or entry.version, entries_from, fallback, ', '.join(where)))


def bls_sorted(entries: List[Entry]) -> List[Entry]:
    """Menu order of BLS entries (BLS spec "Sorting"): entries with ``sort-key`` first, by sort-key, then
    machine-id (both ascending), then version (newest first); entries without, by id, newest first."""
    keyed = [e for e in entries if e.sort_key]
    rest = [e for e in entries if not e.sort_key]
    keyed.sort(key=lambda e: version_key(e.version or ''), reverse=True)
    keyed.sort(key=lambda e: (e.sort_key, e.machine_id or ''))
    rest.sort(key=lambda e: version_key(e.id or ''), reverse=True)
    return keyed + rest


def bls_grub_sorted(entries: List[Entry]) -> List[Entry]:
    """GRUB blscfg's order (Fedora/RHEL): newest version first."""
    return sorted(entries, key=lambda e: version_key(e.version or e.id or ''), reverse=True)


# --------------------------------------------------------------------------------------------------------------
# systemd-boot

def _systemd_boot(root: str, known: Sequence[str], loader_conf: str) -> NextBoot:
    text = kc.read_node_text(root, loader_conf, MAX_SMALL_BYTES) or ''
    conf = read_keyvalues(text)
    entries = []  # type: List[Entry]
    dirs = []
    for esp in ESP_DIRS:
        directory = esp + '/loader/entries'
        found = read_bls_entries(root, directory)
        if found:
            dirs.append(directory)
            entries.extend(found)
    if not entries:
        return NextBoot(None, SRC_SYSTEMD_BOOT, 'systemd-boot (%s) has no type #1 entries in %s/loader/entries; '
                        'unified kernel images (EFI/Linux/*.efi) are not read' % (loader_conf, '|'.join(ESP_DIRS)))
    ordered = bls_sorted(entries)
    pattern, how = None, ''
    for var in ('LoaderEntryOneShot', 'LoaderEntryDefault'):
        value = read_efivar(root, var)
        if value:
            pattern, how = value, 'EFI variable %s' % var
            break
    if pattern is None and conf.get('default'):
        pattern, how = conf['default'], 'default in %s' % loader_conf
        if pattern == '@saved':
            pattern = read_efivar(root, 'LoaderEntryLastBooted')
            how = 'default @saved in %s, EFI variable LoaderEntryLastBooted' % loader_conf
            if pattern is None:
                return NextBoot(None, SRC_SYSTEMD_BOOT, '%s: LoaderEntryLastBooted is not readable' % how)
    entry = None
    if pattern is not None:
        for candidate in ordered:
            ident = candidate.id or ''
            if fnmatch.fnmatchcase(ident + '.conf', pattern) or fnmatch.fnmatchcase(ident, pattern):
                entry = candidate
                break
        if entry is None:
            return NextBoot(None, SRC_SYSTEMD_BOOT, '%s %r matches no type #1 entry in %s (unified kernel images '
                            'are not read)' % (how, pattern, ', '.join(dirs)))
    else:
        entry, how = ordered[0], 'no default set: the first entry in menu order (BLS sorting)'
    release = entry_release(root, entry, known)
    if release is None:
        return NextBoot(None, SRC_SYSTEMD_BOOT, 'systemd-boot entry %s.conf (%s) names no kernel release'
                        % (entry.id, how))
    return NextBoot(release, SRC_SYSTEMD_BOOT, 'systemd-boot entry %s.conf in %s (%s)' % (
        entry.id, ', '.join(dirs), how))


# --------------------------------------------------------------------------------------------------------------
# The next boot

def next_boot(root: str, known: Sequence[str]) -> NextBoot:
    """The release the node boots next, from the first boot loader configuration found: systemd-boot, GRUB with
    BLS entries, GRUB, the ``/boot/vmlinuz`` symlink. ``release`` is None when it cannot be told; ``reason`` says
    what was read and why."""
    for esp in ESP_DIRS:
        path = esp + '/loader/loader.conf'
        if kc.read_node_text(root, path, MAX_SMALL_BYTES) is not None:
            return _systemd_boot(root, known, path)
    cfg, text = None, None
    for directory in GRUB_DIRS:
        text = kc.read_node_text(root, directory + '/grub.cfg', MAX_BOOT_FILE_BYTES)
        if text is not None:
            cfg = directory + '/grub.cfg'
            break
    entries, defaults, blscfg = parse_grub_cfg(text) if text is not None else ([], [], False)
    bls = read_bls_entries(root, '/boot/loader/entries')
    if bls and (blscfg or cfg is None):
        ordered = bls_grub_sorted(bls) + entries
        return _grub_next(root, known, ordered, defaults, cfg, SRC_GRUB_BLS, '/boot/loader/entries')
    if cfg is not None:
        return _grub_next(root, known, entries, defaults, cfg, SRC_GRUB, cfg)
    for link in ('/boot/vmlinuz', '/vmlinuz'):
        target = _link_target(root, link)
        if target:
            release = release_from_image(root, target, known)
            if release:
                return NextBoot(release, SRC_VMLINUZ, '%s -> %s (no boot loader configuration found)'
                                % (link, target))
    return NextBoot(None, None, 'no boot loader configuration found (%s, %s, /boot/loader/entries, '
                    '/boot/vmlinuz)' % (', '.join(e + '/loader/loader.conf' for e in ESP_DIRS),
                                        ', '.join(d + '/grub.cfg' for d in GRUB_DIRS)))
