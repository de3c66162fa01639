# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the node is: distribution, kube-proxy mode (configured and running), CNI and IP families.

Everything here is pure over files below a ``root`` directory plus the text of a few commands the module runs and
hands in (``LiveRules``, ``version_output``). Nothing starts a process or writes anything. Every file looked at is
recorded in ``Searched`` with a status; a file that cannot be read or parsed is a status, never an exception.

Upstream facts used (repository + path; facts only, no code copied):

- k3s / RKE2 config file: k3s-io/k3s pkg/configfilearg/parser.go -- ``config.yaml`` is read first, then every
  ``*.yaml`` / ``*.yml`` (suffix case-insensitive, directories skipped) of ``config.yaml.d`` in directory order (Go's
  ``os.ReadDir`` sorts by name); a later file replaces a key, a key ending in ``+`` appends to the list; the flattened
  file arguments are inserted before the command line's own flags, so command-line flags win (scalars: the last one
  counts; lists such as ``--kube-proxy-arg`` accumulate, config first). RKE2 uses the same parser
  (rancher/rke2 cmd/rke2/main.go) with ``/etc/rancher/rke2/config.yaml``.
- k3s kube-proxy arguments: k3s-io/k3s pkg/daemons/agent/agent_linux.go (``kubeProxyArgs``: ``proxy-mode`` is
  ``iptables`` unless an ``--kube-proxy-arg`` overrides it); ``--disable-kube-proxy`` skips kube-proxy.
- k3s CNI: flannel (backend ``vxlan``) unless ``--flannel-backend=none``; with flannel the CNI config lives in
  ``<data-dir>/agent/etc/cni/net.d`` (k3s-io/k3s pkg/agent/config/config.go), otherwise ``/etc/cni/net.d``.
  Default CIDRs 10.42.0.0/16 (cluster) and 10.43.0.0/16 (service) (k3s docs, cli-flags: ``--cluster-cidr``).
- RKE2: ``cni`` (list; ``canal`` by default, also ``calico``, ``cilium``, ``flannel``, ``multus`` in front of one,
  ``none``) (rancher/rke2 docs/install/network_options.md, pkg/cli/cmds/server.go); kube-proxy runs as a static pod
  with the k3s argument set.
- k0s: k0sproject/k0s pkg/apis/k0s/v1beta1/network.go (``spec.network.provider``: ``kuberouter`` (default) |
  ``calico`` | ``custom``; ``podCIDR`` 10.244.0.0/16, ``serviceCIDR`` 10.96.0.0/12), kubeproxy.go
  (``spec.network.kubeProxy.mode`` default ``iptables``, also ``ipvs``, ``nftables``, ``userspace``; ``disabled``),
  dualstack.go (``spec.network.dualStack.enabled``, ``IPv6podCIDR``, ``IPv6serviceCIDR``).
- kube-proxy: with ``--config`` the other flags are ignored (kubernetes/kubernetes cmd/kube-proxy/app/server.go flag
  help "This parameter is ignored if a config file is specified by --config"); ``mode: ""`` means iptables on Linux
  (cmd/kube-proxy/app/server_linux.go); the nftables mode owns the tables ``ip kube-proxy`` and ``ip6 kube-proxy``
  (pkg/proxy/nftables/proxier.go) and runs the ``nft`` binary (sigs.k8s.io/knftables); the IPVS mode binds service
  addresses to the dummy device ``kube-ipvs0`` (pkg/proxy/ipvs/proxier.go) and also keeps ``KUBE-SERVICES`` in the
  nat table, so IPVS evidence decides before the iptables chain.
- CNI: containernetworking/cni libcni/conf.go ``ConfFiles`` (extensions ``.conf``, ``.conflist``, ``.json``), the
  runtime sorts them by name and uses the first loadable one (containerd/go-cni, cri-o/ocicni).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

try:  # PyYAML is optional on managed nodes; the subset parser below covers the formats read here
    import yaml as _yaml  # type: ignore
    _YAML_LOADER = getattr(_yaml, 'CSafeLoader', None) or _yaml.SafeLoader
except Exception:  # pragma: no cover - depends on the node  # pylint: disable=broad-except
    _yaml = None
    _YAML_LOADER = None

MAX_FILE_BYTES = 1024 * 1024
MAX_DIR_ENTRIES = 4096
MAX_PROCS = 65536

# Values
K3S, RKE2, K0S, KUBEADM, GENERIC, UNKNOWN = 'k3s', 'rke2', 'k0s', 'kubeadm', 'generic', 'unknown'
IPTABLES, NFTABLES, IPVS, NONE = 'iptables', 'nftables', 'ipvs', 'none'
KUBE_ROUTER, FLANNEL, CALICO, CILIUM, CANAL, OTHER = 'kube-router', 'flannel', 'calico', 'cilium', 'canal', 'other'
PROXY_MODES = (IPTABLES, NFTABLES, IPVS)

# Statuses in `searched`
FOUND, ABSENT, USED, IGNORED, UNREADABLE, INVALID = 'found', 'absent', 'used', 'ignored', 'unreadable', 'invalid'

K3S_CNI_DIR = '/var/lib/rancher/k3s/agent/etc/cni/net.d'
CNI_DIR = '/etc/cni/net.d'
CNI_EXTENSIONS = ('.conf', '.conflist', '.json')

DEFAULTS = {
    K3S: {'cni': FLANNEL, 'proxy_mode': IPTABLES, 'cidrs': ('10.42.0.0/16', '10.43.0.0/16'),
          'why': 'k3s defaults to flannel (vxlan) + kube-proxy iptables, cluster 10.42.0.0/16, service 10.43.0.0/16'},
    RKE2: {'cni': CANAL, 'proxy_mode': IPTABLES, 'cidrs': ('10.42.0.0/16', '10.43.0.0/16'),
           'why': 'RKE2 defaults to canal + kube-proxy iptables, cluster 10.42.0.0/16, service 10.43.0.0/16'},
    K0S: {'cni': KUBE_ROUTER, 'proxy_mode': IPTABLES, 'cidrs': ('10.244.0.0/16', '10.96.0.0/12'),
          'why': 'k0s defaults to kube-router + kube-proxy iptables, pod 10.244.0.0/16, service 10.96.0.0/12'},
}

# Where each distribution leaves a trace (first distribution with any marker wins, in this order).
UNIT_DIRS = ('/etc/systemd/system', '/usr/local/lib/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system')
MARKERS = (
    (K3S, ('/etc/rancher/k3s/config.yaml', '/etc/rancher/k3s/config.yaml.d', '/etc/systemd/system/k3s.service',
           '/etc/systemd/system/k3s-agent.service', '/etc/init.d/k3s', '/etc/init.d/k3s-agent', '/usr/local/bin/k3s',
           '/usr/bin/k3s', '/var/lib/rancher/k3s')),
    (RKE2, ('/etc/rancher/rke2/config.yaml', '/etc/rancher/rke2/config.yaml.d',
            '/etc/systemd/system/rke2-server.service', '/etc/systemd/system/rke2-agent.service',
            '/usr/local/lib/systemd/system/rke2-server.service',
            '/usr/local/lib/systemd/system/rke2-agent.service', '/usr/lib/systemd/system/rke2-server.service',
            '/usr/lib/systemd/system/rke2-agent.service', '/usr/local/bin/rke2', '/usr/bin/rke2', '/opt/rke2/bin/rke2',
            '/var/lib/rancher/rke2')),
    (K0S, ('/etc/k0s/k0s.yaml', '/etc/systemd/system/k0scontroller.service', '/etc/systemd/system/k0sworker.service',
           '/etc/init.d/k0scontroller', '/etc/init.d/k0sworker', '/usr/local/bin/k0s', '/usr/bin/k0s', '/var/lib/k0s')),
    (KUBEADM, ('/var/lib/kubelet/kubeadm-flags.env', '/etc/kubernetes/manifests/kube-apiserver.yaml',
               '/usr/bin/kubeadm', '/usr/local/bin/kubeadm')),
    (GENERIC, ('/var/lib/kubelet/config.yaml', '/etc/kubernetes/kubelet.conf', '/usr/bin/kubelet',
               '/usr/local/bin/kubelet')),
)
BINARIES = {
    K3S: ('/usr/local/bin/k3s', '/usr/bin/k3s'),
    RKE2: ('/usr/local/bin/rke2', '/usr/bin/rke2', '/opt/rke2/bin/rke2'),
    K0S: ('/usr/local/bin/k0s', '/usr/bin/k0s'),
    KUBEADM: ('/usr/bin/kubeadm', '/usr/local/bin/kubeadm'),
    GENERIC: ('/usr/bin/kubelet', '/usr/local/bin/kubelet'),
}
# The version argument each binary takes (k0s and kubeadm have a version subcommand, not a flag).
VERSION_ARGS = {K3S: ['--version'], RKE2: ['--version'], K0S: ['version'], KUBEADM: ['version', '-o', 'short'],
                GENERIC: ['--version']}
UNITS = {
    K3S: ('k3s.service', 'k3s-agent.service'),
    RKE2: ('rke2-server.service', 'rke2-agent.service'),
    K0S: ('k0scontroller.service', 'k0sworker.service'),
}
OPENRC = {K3S: ('/etc/init.d/k3s', '/etc/init.d/k3s-agent'),
          K0S: ('/etc/init.d/k0scontroller', '/etc/init.d/k0sworker')}

# k3s/RKE2 flags read here (urfave/cli): boolean flags take no separate value.
BOOL_FLAGS = frozenset(('disable-kube-proxy', 'prefer-bundled-bin'))
SLICE_FLAGS = frozenset(('kube-proxy-arg', 'cni', 'cluster-cidr', 'service-cidr'))
FLAG_ALIASES = {'c': 'config'}
# kubeadm's kubeconfigs in /etc/kubernetes: never a KubeProxyConfiguration
KUBECONFIGS = ('kubelet.conf', 'admin.conf', 'super-admin.conf', 'controller-manager.conf', 'scheduler.conf')


# --------------------------------------------------------------------------------------------------------------
# Records

@dataclass
class Searched:
    path: str
    status: str

    def as_dict(self) -> Dict[str, str]:
        return {'path': self.path, 'status': self.status}


class Log(object):
    """The ordered `searched` list; one entry per path (a later look at the same path updates it)."""

    def __init__(self) -> None:
        self.items = []  # type: List[Searched]
        self._index = {}  # type: Dict[str, Searched]

    def add(self, path: str, status: str) -> None:
        item = self._index.get(path)
        if item is None:
            item = Searched(path, status)
            self._index[path] = item
            self.items.append(item)
        else:
            item.status = status

    def mark_used(self, source: Optional[str]) -> None:
        """Mark every path named in a source (``a: k, b: k2``) as used."""
        for part in (source or '').split(', '):
            item = self._index.get(part.split(': ', 1)[0])
            if item is not None and item.status == FOUND:
                item.status = USED

    def as_list(self) -> List[Dict[str, str]]:
        return [item.as_dict() for item in self.items]


@dataclass(frozen=True)
class Value:
    """A detected value and where it came from."""

    value: Any
    source: str


@dataclass
class LiveRules:
    """What the module's commands showed about the live rules (None: not looked at / could not be read)."""

    kube_services: List[str] = field(default_factory=list)   # e.g. ["iptables-nft nat KUBE-SERVICES"]
    nft_tables: List[str] = field(default_factory=list)      # e.g. ["ip kube-proxy"]


@dataclass
class Profile:
    distribution: Value
    distribution_version: Value
    proxy_mode: Value
    proxy_mode_running: Value
    cni: Value
    ipv6: Value
    k3s_prefer_bundled_bin: bool
    searched: List[Dict[str, str]]

    def as_dict(self) -> Dict[str, Any]:
        out = {}  # type: Dict[str, Any]
        for key in ('distribution', 'distribution_version', 'proxy_mode', 'proxy_mode_running', 'cni', 'ipv6'):
            item = getattr(self, key)
            out[key] = item.value
            out[key + '_source'] = item.source
        out['k3s_prefer_bundled_bin'] = self.k3s_prefer_bundled_bin
        out['searched'] = self.searched
        return out


class ReadError(Exception):
    def __init__(self, status: str) -> None:
        super(ReadError, self).__init__(status)
        self.status = status


# --------------------------------------------------------------------------------------------------------------
# Paths and bounded reads

def join_root(root: str, path: str) -> str:
    root = root or '/'
    if root == '/':
        return path
    return os.path.join(root, path.lstrip('/'))


def display(root: str, full: str) -> str:
    """The node-side path of ``full`` (``/host/etc/x`` -> ``/etc/x`` for root ``/host``)."""
    root = (root or '/').rstrip('/')
    if root and full.startswith(root + '/'):
        return full[len(root):]
    return full


def inside_root(root: str, full: str) -> bool:
    """Whether ``full`` (symlinks resolved) stays below ``root``; no ``..`` or symlink escape."""
    if (root or '/') == '/':
        return True
    real_root = os.path.realpath(root)
    real = os.path.realpath(full)
    return real == real_root or real.startswith(real_root.rstrip('/') + '/')


def _strerror(exc: OSError) -> str:
    return exc.strerror or str(exc)


def read_text(root: str, path: str, proc_root: bool = False) -> str:
    """Read a regular file below root, at most MAX_FILE_BYTES, as UTF-8; raise ReadError(status) otherwise.

    ``proc_root``: the path runs through ``/proc/<pid>/root`` (a process's own root): the kernel resolves it, so no
    realpath check (realpath would name the host's file); ``..`` components are refused instead."""
    full = join_root(root, path)
    if proc_root:
        if '/../' in path or path.endswith('/..'):
            raise ReadError(IGNORED + ': path has ".." components')
    elif not inside_root(root, full):
        raise ReadError(IGNORED + ': resolves outside root (symlink or "..")')
    try:
        st = os.stat(full)
    except OSError as exc:
        if exc.errno in (2, 20):  # ENOENT, ENOTDIR
            raise ReadError(ABSENT)
        raise ReadError(UNREADABLE + ': ' + _strerror(exc))
    if not stat.S_ISREG(st.st_mode):
        kind = 'directory' if stat.S_ISDIR(st.st_mode) else 'fifo' if stat.S_ISFIFO(st.st_mode) else 'special file'
        raise ReadError(IGNORED + ': not a regular file (%s)' % kind)
    if st.st_size > MAX_FILE_BYTES:
        raise ReadError(IGNORED + ': larger than %d bytes (%d)' % (MAX_FILE_BYTES, st.st_size))
    try:
        fd = os.open(full, os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_NOCTTY', 0))
    except OSError as exc:
        raise ReadError(UNREADABLE + ': ' + _strerror(exc))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ReadError(IGNORED + ': not a regular file')
        chunks = []
        total = 0
        while total <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise ReadError(UNREADABLE + ': ' + _strerror(exc))
    finally:
        os.close(fd)
    data = b''.join(chunks)
    if len(data) > MAX_FILE_BYTES:
        raise ReadError(IGNORED + ': larger than %d bytes' % MAX_FILE_BYTES)
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise ReadError(INVALID + ': not UTF-8 text (byte %d)' % exc.start)


def path_kind(root: str, path: str) -> str:
    """``absent``, ``file``, ``dir``, ``other`` or an ``ignored: ...`` status for an escaping path."""
    full = join_root(root, path)
    if not os.path.lexists(full):
        return ABSENT
    if not inside_root(root, full):
        return IGNORED + ': resolves outside root (symlink or "..")'
    if os.path.isdir(full):
        return 'dir'
    if os.path.isfile(full):
        return 'file'
    return 'other'


def list_dir(root: str, path: str, log: Log, suffixes: Sequence[str]) -> List[str]:
    """Sorted node paths of the entries of a directory whose names end in one of ``suffixes`` (case-insensitive)."""
    full = join_root(root, path)
    kind = path_kind(root, path)
    if kind != 'dir':
        log.add(path, ABSENT if kind == ABSENT else kind if kind.startswith(IGNORED) else IGNORED + ': not a directory')
        return []
    try:
        names = sorted(os.listdir(full))
    except OSError as exc:
        log.add(path, UNREADABLE + ': ' + _strerror(exc))
        return []
    picked = [n for n in names if n.lower().endswith(tuple(suffixes))]
    log.add(path, FOUND + ': %d entries, %d config files' % (len(names), len(picked)))
    if len(picked) > MAX_DIR_ENTRIES:
        picked = picked[:MAX_DIR_ENTRIES]
    return [path.rstrip('/') + '/' + n for n in picked]


# --------------------------------------------------------------------------------------------------------------
# YAML: PyYAML when the node has it, else a strict parser of the subset these files use

class YamlError(ValueError):
    pass


# YAML 1.1 booleans as PyYAML resolves them (yaml.v2, which k3s uses, also takes y/n; no file read here uses them)
_SCALAR_TRUE = frozenset(('true', 'True', 'TRUE', 'yes', 'Yes', 'YES', 'on', 'On', 'ON'))
_SCALAR_FALSE = frozenset(('false', 'False', 'FALSE', 'no', 'No', 'NO', 'off', 'Off', 'OFF'))
_SCALAR_NULL = frozenset(('', '~', 'null', 'Null', 'NULL'))
_INT_RE = re.compile(r'^[-+]?(0|[1-9][0-9_]*)$')
_FLOAT_RE = re.compile(r'^[-+]?([0-9][0-9_]*)?\.[0-9]+([eE][-+]?[0-9]+)?$')
_BLOCK_RE = re.compile(r'^[|>][-+]?[0-9]?$')
MAX_DEPTH = 64


def _plain(text: str) -> Any:
    if text in _SCALAR_NULL:
        return None
    if text in _SCALAR_TRUE:
        return True
    if text in _SCALAR_FALSE:
        return False
    if _INT_RE.match(text):
        return int(text.replace('_', ''))
    if _FLOAT_RE.match(text):
        return float(text.replace('_', ''))
    if text[0] in '&*!|>%@`':
        raise YamlError('unsupported YAML construct %r (anchor, alias, tag or reserved indicator)' % text[:20])
    return text


_ESCAPES = {'n': '\n', 't': '\t', '"': '"', '\\': '\\', '/': '/', '0': '\0', 'r': '\r', ' ': ' '}


def _quoted(text: str, pos: int) -> Tuple[str, int]:
    """Parse a quoted scalar starting at text[pos]; return (value, index after the closing quote)."""
    quote = text[pos]
    out = []
    i = pos + 1
    while i < len(text):
        ch = text[i]
        if quote == "'" and ch == "'":
            if text[i + 1:i + 2] == "'":
                out.append("'")
                i += 2
                continue
            return ''.join(out), i + 1
        if quote == '"' and ch == '\\':
            nxt = text[i + 1:i + 2]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            if nxt == 'u' and re.match(r'^[0-9a-fA-F]{4}$', text[i + 2:i + 6]):
                out.append(chr(int(text[i + 2:i + 6], 16)))
                i += 6
                continue
            raise YamlError('unsupported escape \\%s' % nxt)
        if quote == '"' and ch == '"':
            return ''.join(out), i + 1
        out.append(ch)
        i += 1
    raise YamlError('unterminated quoted string')


def _strip_comment(line: str) -> str:
    """Drop a trailing ``# comment`` that is outside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
            elif ch == '\\' and quote == '"':
                continue
        elif ch in '\'"' and (i == 0 or line[i - 1] in ' \t:-[{,'):
            quote = ch
        elif ch == '#' and (i == 0 or line[i - 1] in ' \t'):
            return line[:i].rstrip()
    return line.rstrip()


def _flow(text: str, pos: int, depth: int) -> Tuple[Any, int]:
    """Parse a flow node at text[pos] (``[...]``, ``{...}``, quoted or plain scalar)."""
    if depth > MAX_DEPTH:
        raise YamlError('nested deeper than %d levels' % MAX_DEPTH)
    while pos < len(text) and text[pos] == ' ':
        pos += 1
    if pos >= len(text):
        raise YamlError('unexpected end of flow collection')
    ch = text[pos]
    if ch in '[{':
        closing = ']' if ch == '[' else '}'
        seq = []  # type: List[Any]
        mapping = {}  # type: Dict[Any, Any]
        pos += 1
        while True:
            while pos < len(text) and text[pos] in ' ,':
                pos += 1
            if pos >= len(text):
                raise YamlError('unterminated flow collection (multi-line flow collections are not supported)')
            if text[pos] == closing:
                return (seq if ch == '[' else mapping), pos + 1
            item, pos = _flow(text, pos, depth + 1)
            while pos < len(text) and text[pos] == ' ':
                pos += 1
            if ch == '{':
                if pos >= len(text) or text[pos] != ':':
                    raise YamlError('flow mapping entry without ":"')
                value, pos = _flow(text, pos + 1, depth + 1)
                mapping[item] = value
            else:
                seq.append(item)
            while pos < len(text) and text[pos] == ' ':
                pos += 1
            if pos < len(text) and text[pos] not in ',' + closing:
                raise YamlError('unexpected %r in flow collection' % text[pos])
    if ch in '\'"':
        return _quoted(text, pos)
    end = pos
    while end < len(text) and text[end] not in ',]}' and not (text[end] == ':' and text[end + 1:end + 2] in (' ', '')):
        end += 1
    return _plain(text[pos:end].strip()), end


def _inline(text: str, depth: int) -> Any:
    """A value written on the key's line."""
    if text[0] in '[{\'"':
        value, end = _flow(text, 0, depth)
        if text[end:].strip():
            raise YamlError('unexpected text after value: %r' % text[end:].strip()[:20])
        return value
    return _plain(text)


def _split_key(content: str) -> Optional[Tuple[Any, str]]:
    """``key: value`` -> (key, value text); None when the line is not a mapping entry."""
    if content[0] in '\'"':
        key, end = _quoted(content, 0)
        rest = content[end:]
        if rest.startswith(':') and (len(rest) == 1 or rest[1] == ' '):
            return key, rest[1:].strip()
        return None
    if content[0] in '[{':
        return None
    idx = content.find(': ')
    if content.endswith(':') and (idx < 0 or idx > len(content) - 1):
        idx = len(content) - 1
    if idx <= 0:
        return None
    key = content[:idx].strip()
    return _plain(key), content[idx + 1:].strip()


class _Subset(object):
    """Block mappings and sequences by indentation, flow collections on one line, quoted and plain scalars,
    literal/folded block scalars, comments and ``---`` documents. Anchors, aliases, tags and multi-line plain
    scalars are refused (YamlError), never guessed."""

    def __init__(self, text: str) -> None:
        self.docs = []  # type: List[List[Tuple[int, str, int]]]
        self.lines = []  # type: List[Tuple[int, str, int]]
        self.raw = text.split('\n')
        current = []  # type: List[Tuple[int, str, int]]
        started = False
        for lineno, raw in enumerate(self.raw):
            if raw.startswith('---') and raw[3:4] in ('', ' ', '\t'):
                if started or current:
                    self.docs.append(current)
                current = []
                started = True  # an explicit document, even if empty
                rest = _strip_comment(raw[3:]).strip()
                if rest:
                    current.append((0, rest, lineno))
                continue
            if raw.startswith('...') and raw[3:].strip() == '':
                continue
            if raw.startswith('%'):
                continue
            stripped = raw.lstrip(' ')
            if stripped.startswith('\t'):
                raise YamlError('line %d: tab in indentation' % (lineno + 1))
            content = _strip_comment(stripped)
            if not content:
                continue
            current.append((len(raw) - len(stripped), content, lineno))
        if current or started:
            self.docs.append(current)

    def documents(self) -> List[Any]:
        out = []
        for lines in self.docs:
            self.lines = lines
            if not lines:
                out.append(None)
                continue
            value, idx = self._node(0, lines[0][0], 0)
            if idx != len(lines):
                raise YamlError('line %d: unexpected indentation' % (lines[idx][2] + 1))
            out.append(value)
        return out

    def _node(self, idx: int, indent: int, depth: int) -> Tuple[Any, int]:
        if depth > MAX_DEPTH:
            raise YamlError('nested deeper than %d levels' % MAX_DEPTH)
        _ind, content, lineno = self.lines[idx]
        if content == '-' or content.startswith('- '):
            return self._seq(idx, indent, depth)
        if _split_key(content) is not None:
            return self._map(idx, indent, depth)
        value = _inline(content, depth)
        if idx + 1 < len(self.lines) and self.lines[idx + 1][0] > indent:
            raise YamlError('line %d: multi-line plain scalars are not supported' % (lineno + 2))
        return value, idx + 1

    def _value(self, idx: int, indent: int, text: str, lineno: int, depth: int, seq_ok: bool) -> Tuple[Any, int]:
        """The value of an entry whose own line is ``idx - 1`` and whose inline text is ``text``."""
        if text:
            if _BLOCK_RE.match(text):
                return self._block(idx, indent, text, lineno)
            return _inline(text, depth), idx
        if idx < len(self.lines):
            nxt = self.lines[idx]
            if nxt[0] > indent:
                return self._node(idx, nxt[0], depth + 1)
            if seq_ok and nxt[0] == indent and (nxt[1] == '-' or nxt[1].startswith('- ')):
                return self._seq(idx, indent, depth + 1)
        return None, idx

    def _block(self, idx: int, indent: int, header: str, lineno: int) -> Tuple[str, int]:
        # literal/folded block: the raw lines after `lineno` indented deeper than `indent`
        body = []
        raw_no = lineno + 1
        while raw_no < len(self.raw):
            raw = self.raw[raw_no]
            if raw.strip() and len(raw) - len(raw.lstrip(' ')) <= indent:
                break
            body.append(raw)
            raw_no += 1
        while idx < len(self.lines) and self.lines[idx][2] < raw_no:
            idx += 1
        while body and not body[-1].strip():
            body.pop()
        strip = min((len(b) - len(b.lstrip(' ')) for b in body if b.strip()), default=0)
        lines = [b[strip:] for b in body]
        text = '\n'.join(lines) if header[0] == '|' else ' '.join(l.strip() for l in lines)
        if '-' not in header:
            text += '\n'
        return text, idx

    def _map(self, idx: int, indent: int, depth: int) -> Tuple[Dict[Any, Any], int]:
        out = {}  # type: Dict[Any, Any]
        while idx < len(self.lines):
            ind, content, lineno = self.lines[idx]
            if ind < indent:
                break
            if ind > indent:
                raise YamlError('line %d: unexpected indentation' % (lineno + 1))
            split = _split_key(content)
            if split is None:
                if content == '-' or content.startswith('- '):
                    break
                raise YamlError('line %d: expected "key: value"' % (lineno + 1))
            key, text = split
            value, idx = self._value(idx + 1, indent, text, lineno, depth, seq_ok=True)
            out[key] = value
        return out, idx

    def _seq(self, idx: int, indent: int, depth: int) -> Tuple[List[Any], int]:
        out = []  # type: List[Any]
        while idx < len(self.lines):
            ind, content, lineno = self.lines[idx]
            if ind != indent or not (content == '-' or content.startswith('- ')):
                if ind > indent:
                    raise YamlError('line %d: unexpected indentation' % (lineno + 1))
                break
            rest = content[1:].lstrip(' ')
            if not rest:
                value, idx = self._value(idx + 1, indent, '', lineno, depth, seq_ok=False)
                out.append(value)
                continue
            inner = indent + len(content) - len(rest)
            if rest == '-' or rest.startswith('- ') or _split_key(rest) is not None:
                self.lines[idx] = (inner, rest, lineno)  # the item's node starts on this line, further right
                value, idx = self._node(idx, inner, depth + 1)
                out.append(value)
                continue
            if _BLOCK_RE.match(rest):
                value, idx = self._block(idx + 1, indent, rest, lineno)
            else:
                value = _inline(rest, depth)
                idx += 1
            out.append(value)
        return out, idx


def parse_yaml_subset(text: str) -> List[Any]:
    """All documents of ``text`` with the subset parser (raises YamlError)."""
    try:
        return _Subset(text).documents()
    except YamlError:
        raise
    except (IndexError, ValueError, RecursionError) as exc:
        raise YamlError('cannot parse: %s' % exc)


def parse_yaml(text: str, use_pyyaml: bool = True) -> List[Any]:
    """All documents of ``text``; PyYAML's safe loader when available, else the subset parser."""
    if use_pyyaml and _yaml is not None:
        try:
            return list(_yaml.load_all(text, Loader=_YAML_LOADER))  # nosec: safe loader
        except Exception as exc:  # pylint: disable=broad-except  # YAMLError, RecursionError, ...
            first = str(exc).strip().split('\n', 1)[0]
            raise YamlError(first or exc.__class__.__name__)
    return parse_yaml_subset(text)


# --------------------------------------------------------------------------------------------------------------
# Small helpers

def to_text(value: Any) -> Optional[str]:
    """A scalar as k3s's convert.ToString would print it; None for collections."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if value is None:
        return ''
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def truthy(text: Optional[str]) -> bool:
    return (text or '').strip().lower() in ('true', '1', 'yes', 'on', 't')


def cidr_family(cidrs: Iterable[str]) -> Optional[bool]:
    """True when any CIDR is IPv6, False when all are IPv4, None when there is none."""
    items = [c.strip() for c in cidrs if c and c.strip()]
    if not items:
        return None
    return any(':' in c for c in items)


def split_list(text: str) -> List[str]:
    return [p.strip() for p in text.split(',') if p.strip()]


def get_path(doc: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


# --------------------------------------------------------------------------------------------------------------
# k3s / RKE2: config.yaml + drop-ins + unit flags -> ordered (flag, value, source) settings

@dataclass(frozen=True)
class Setting:
    flag: str
    value: str
    source: str


def config_settings(path: str, doc: Any, log: Log) -> List[Tuple[str, List[Setting], bool]]:
    """One file's keys as (flag, settings, append) in file order; a non-scalar value is skipped."""
    out = []
    if doc is None:
        return out
    if not isinstance(doc, dict):
        raise YamlError('top level is not a mapping')
    for key, value in doc.items():
        name = to_text(key) or ''
        append = name.endswith('+')
        name = name[:-1] if append else name
        items = value if isinstance(value, list) else [value]
        texts = [to_text(v) for v in items]
        if any(t is None for t in texts):
            continue
        source = '%s: %s' % (path, name + ('+' if append else ''))
        out.append((name, [Setting(name, t or '', source) for t in texts if t is not None], append))
    return out


def merge_config_files(files: Sequence[Tuple[str, Any]], log: Log) -> List[Setting]:
    """k3s configfilearg semantics: later files replace a key, ``key+`` appends; keys keep first-seen order."""
    order = []  # type: List[str]
    values = {}  # type: Dict[str, List[Setting]]
    for path, doc in files:
        try:
            entries = config_settings(path, doc, log)
        except YamlError as exc:
            log.add(path, INVALID + ': ' + str(exc))
            continue
        for name, settings, append in entries:
            if name not in values:
                order.append(name)
                values[name] = []
            if append:
                values[name] = values[name] + settings
            else:
                values[name] = list(settings)
    out = []
    for name in order:
        out.extend(values[name])
    return out


def parse_flags(argv: Sequence[str], source_prefix: str) -> List[Setting]:
    """urfave/cli style flags after the subcommand: ``--f=v``, ``--f v``, ``-c v``, boolean ``--f``."""
    out = []
    i = 0
    args = list(argv)
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith('-') or arg in ('-', '--'):
            continue
        name = arg.lstrip('-')
        value = None  # type: Optional[str]
        if '=' in name:
            name, value = name.split('=', 1)
        name = FLAG_ALIASES.get(name, name)
        if value is None:
            if name in BOOL_FLAGS:
                value = 'true'
            elif i < len(args) and not args[i].startswith('-'):
                value = args[i]
                i += 1
            else:
                value = 'true'
        out.append(Setting(name, value, '%s: --%s' % (source_prefix, name)))
    return out


def _exec_start(text: str) -> Optional[List[str]]:
    """The argv of the last ``ExecStart=`` of a unit text (continuation lines joined); ``[]`` for a reset."""
    joined = re.sub(r'\\\r?\n', ' ', text)
    found = None  # type: Optional[List[str]]
    for line in joined.split('\n'):
        line = line.strip()
        if line.startswith('ExecStart='):
            cmd = line[len('ExecStart='):].strip().lstrip('@-:+!')
            found = shlex.split(cmd, comments=False) if cmd else []
    return found


def _openrc_args(text: str) -> Optional[List[str]]:
    match = None
    for match in re.finditer(r'^\s*command_args=(["\'])(.*?)\1', text, re.MULTILINE | re.DOTALL):
        pass
    if match is None:
        return None
    tokens = shlex.split(match.group(2).replace('\\\n', ' '))
    return [t for t in tokens if not re.match(r'^[0-9]*[<>]', t)]


def _read_parsed(path: str, read: Callable[[str], str], parse: Callable[[str], Any], what: str,
                 log: Log) -> Tuple[bool, Any]:
    """(True, parse(text of path)), or (False, None) with the read or parse failure logged as the file's status."""
    try:
        text = read(path)
    except ReadError as exc:
        log.add(path, exc.status)
        return False, None
    try:
        value = parse(text)
    except ValueError as exc:
        log.add(path, INVALID + ': %s: %s' % (what, exc))
        return False, None
    log.add(path, FOUND)
    return True, value


def unit_argv(root: str, distro: str, log: Log, read: Callable[[str], str]) -> Tuple[Optional[List[str]], str]:
    """The service's argv and the file it came from: the first existing systemd unit (+ its ``.d`` drop-ins, where a
    later ``ExecStart=`` replaces), else the OpenRC script's ``command_args``."""
    for name in UNITS.get(distro, ()):
        for unit_dir in UNIT_DIRS:
            path = '%s/%s' % (unit_dir, name)
            ok, argv = _read_parsed(path, read, _exec_start, 'ExecStart', log)
            if not ok:
                continue
            source = path
            for drop in list_dir(root, '/etc/systemd/system/%s.d' % name, log, ('.conf',)):
                ok, dargv = _read_parsed(drop, read, _exec_start, 'ExecStart', log)
                if ok and dargv is not None:
                    argv, source = dargv, drop
            if argv:
                return argv, source
    for path in OPENRC.get(distro, ()):
        ok, args = _read_parsed(path, read, _openrc_args, 'command_args', log)
        if not ok:
            continue
        if args is not None:
            return [path] + args, path
    return None, ''


def last(settings: Sequence[Setting], flag: str) -> Optional[Setting]:
    found = None
    for item in settings:
        if item.flag == flag:
            found = item
    return found


def every(settings: Sequence[Setting], flag: str) -> List[Setting]:
    return [item for item in settings if item.flag == flag]


def kube_proxy_mode_arg(settings: Sequence[Setting]) -> Optional[Setting]:
    """The last ``proxy-mode=`` among ``--kube-proxy-arg`` values (later args override earlier ones)."""
    found = None
    for item in every(settings, 'kube-proxy-arg'):
        for part in [item.value]:
            key, _sep, value = part.lstrip('-').partition('=')
            if key == 'proxy-mode':
                found = Setting('proxy-mode', value.strip(), item.source)
    return found


def proxy_mode_value(text: str) -> str:
    text = (text or '').strip().lower()
    if text == '':
        return IPTABLES  # kube-proxy: "" is iptables on Linux
    if text in PROXY_MODES:
        return text
    if text in ('nft',):
        return NFTABLES
    return UNKNOWN


def rke2_cni(values: Sequence[str]) -> Optional[str]:
    """RKE2 ``cni``: the first entry that is not multus; ``none`` -> None (look at the CNI files)."""
    for item in values:
        name = item.strip().lower()
        if not name or name == 'multus':
            continue
        if name == 'none':
            return None
        return {'canal': CANAL, 'calico': CALICO, 'cilium': CILIUM, 'flannel': FLANNEL}.get(name, OTHER)
    return None


# --------------------------------------------------------------------------------------------------------------
# CNI config files

def classify_cni(doc: Any, name: str) -> Optional[str]:
    """The CNI a config (``.conf`` or ``.conflist``) belongs to; None when the document is not a CNI config."""
    if not isinstance(doc, dict):
        return None
    plugins = doc.get('plugins') if isinstance(doc.get('plugins'), list) else [doc]
    plugins = [p for p in plugins if isinstance(p, dict)]
    types = [str(p.get('type', '')) for p in plugins]
    if not any(types):
        return None
    if 'multus' in types or 'multus-shim' in types:
        for plugin in plugins:
            for delegate in plugin.get('delegates') or []:
                found = classify_cni(delegate, name)
                if found:
                    return found
        return OTHER
    label = ' '.join([name.lower(), str(doc.get('name', '')).lower()])
    if 'cilium-cni' in types:
        return CILIUM
    if 'calico' in types:
        ipam = [p.get('ipam') for p in plugins if p.get('type') == 'calico']
        flannel_ipam = any(isinstance(i, dict) and i.get('subnet') == 'usePodCidr' for i in ipam)
        if 'flannel' in types or 'canal' in label or flannel_ipam:
            return CANAL
        return CALICO
    if 'flannel' in types:
        return FLANNEL
    for plugin in plugins:
        if plugin.get('type') == 'bridge' and (plugin.get('bridge') == 'kube-bridge' or 'kube-router' in label
                                               or 'kuberouter' in label):
            return KUBE_ROUTER
    return OTHER


def cni_from_dirs(root: str, dirs: Sequence[str], log: Log, read: Callable[[str], str]) -> Optional[Value]:
    """The first loadable CNI config (sorted by name) of the first directory that has one."""
    for directory in dirs:
        for path in list_dir(root, directory, log, CNI_EXTENSIONS):
            try:
                text = read(path)
                doc = json.loads(text)
            except ReadError as exc:
                log.add(path, exc.status)
                continue
            except ValueError as exc:
                log.add(path, INVALID + ': JSON: %s' % exc)
                continue
            found = classify_cni(doc, path.rsplit('/', 1)[-1])
            if found is None:
                log.add(path, INVALID + ': no plugin type')
                continue
            log.add(path, FOUND)
            plugin_types = doc.get('plugins') if isinstance(doc.get('plugins'), list) else [doc]
            first_type = next((str(p.get('type')) for p in plugin_types if isinstance(p, dict) and p.get('type')), '')
            return Value(found, '%s: type %s' % (path, first_type))
    return None


# --------------------------------------------------------------------------------------------------------------
# kube-proxy: processes and KubeProxyConfiguration files

@dataclass(frozen=True)
class Process:
    pid: str
    argv: Tuple[str, ...]


def parse_cmdline(data: str) -> Tuple[str, ...]:
    return tuple(p for p in data.split('\0') if p != '')


def is_kube_proxy(argv: Sequence[str]) -> bool:
    if not argv:
        return False
    if argv[0].rsplit('/', 1)[-1] == 'kube-proxy':
        return True
    return argv[0].rsplit('/', 1)[-1] == 'hyperkube' and len(argv) > 1 and argv[1] in ('kube-proxy', 'proxy')


def find_kube_proxy(root: str, log: Log) -> Optional[Process]:
    proc = join_root(root, '/proc')
    try:
        pids = [p for p in os.listdir(proc) if p.isdigit()]
    except OSError as exc:
        log.add('/proc/*/cmdline', UNREADABLE + ': ' + _strerror(exc)
                if exc.errno != 2 else ABSENT)
        return None
    pids.sort(key=int)
    for pid in pids[:MAX_PROCS]:
        path = os.path.join(proc, pid, 'cmdline')
        try:
            with open(path, 'rb') as handle:
                data = handle.read(64 * 1024)
        except OSError:
            continue  # a process that ended meanwhile, or one we may not see
        argv = parse_cmdline(data.decode('utf-8', 'replace'))
        if is_kube_proxy(argv):
            log.add('/proc/%s/cmdline' % pid, FOUND + ': ' + ' '.join(argv)[:200])
            return Process(pid, argv)
    log.add('/proc/*/cmdline', ABSENT + ': no kube-proxy among %d processes' % len(pids))
    return None


def process_flag(argv: Sequence[str], name: str) -> Optional[str]:
    """A pflag-style flag value (``--name=v`` or ``--name v``); the last one counts."""
    found = None
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == '--' + name and i + 1 < len(argv):
            found = argv[i + 1]
            i += 2
            continue
        if arg.startswith('--' + name + '='):
            found = arg[len(name) + 3:]
        i += 1
    return found


def kube_proxy_configuration(docs: Sequence[Any]) -> Optional[Dict[str, Any]]:
    for doc in docs:
        if isinstance(doc, dict) and doc.get('kind') == 'KubeProxyConfiguration':
            return doc
    return None


# --------------------------------------------------------------------------------------------------------------
# Live state

def parse_proc_net_dev(text: str) -> List[str]:
    names = []
    for line in text.split('\n')[2:]:
        if ':' in line:
            names.append(line.split(':', 1)[0].strip())
    return names


def parse_ip_vs(text: str) -> int:
    """Number of IPVS virtual services in /proc/net/ip_vs."""
    return sum(1 for line in text.split('\n') if re.match(r'^(TCP|UDP|SCTP|FWM)\s', line))


def parse_nft_tables(text: str) -> List[str]:
    """``nft list tables`` (or ``nft list chains``) output -> ["ip kube-proxy", ...]."""
    out = []
    for line in text.split('\n'):
        parts = line.split()
        if len(parts) in (3, 4) and parts[0] == 'table' and (len(parts) == 3 or parts[3] == '{'):
            out.append('%s %s' % (parts[1], parts[2]))
    return out


def parse_nft_chains(text: str) -> Tuple[List[str], List[Tuple[str, str, str]]]:
    """``nft list chains`` output -> (tables as "family name", chains as (family, table, chain)). Empty tables are
    listed too, so this one command answers both questions."""
    tables = []  # type: List[str]
    chains = []  # type: List[Tuple[str, str, str]]
    current = None  # type: Optional[Tuple[str, str]]
    for line in text.split('\n'):
        parts = line.split()
        if len(parts) == 4 and parts[0] == 'table' and parts[3] == '{':
            current = (parts[1], parts[2])
            tables.append('%s %s' % current)
        elif len(parts) >= 3 and parts[0] == 'chain' and parts[-1] == '{' and current is not None:
            chains.append((current[0], current[1], parts[1]))
    return tables, chains


def decide_running(ipvs_sources: Sequence[str], nft_tables: Sequence[str], kube_services: Sequence[str]) -> Value:
    """IPVS first (that mode also keeps KUBE-SERVICES in the nat table), then the nftables tables, then iptables."""
    kube_tables = [t for t in nft_tables if t in ('ip kube-proxy', 'ip6 kube-proxy')]
    found = []
    if ipvs_sources:
        found.append((IPVS, ', '.join(ipvs_sources)))
    if kube_tables:
        found.append((NFTABLES, ', '.join('nft table %s' % t for t in kube_tables)))
    if kube_services:
        found.append((IPTABLES, ', '.join(kube_services)))
    if not found:
        return Value(None, UNKNOWN)
    mode, source = found[0]
    if len(found) > 1:
        source += ' (also found: %s)' % '; '.join(s for _m, s in found[1:])
    return Value(mode, source)


# --------------------------------------------------------------------------------------------------------------
# The whole decision

VERSION_RE = re.compile(r'v?(\d+\.\d+\.\d+[0-9A-Za-z.+\-]*)')


def parse_version_output(text: str) -> Optional[str]:
    """``k3s version v1.31.4+k3s1 (a562d090)`` -> ``v1.31.4+k3s1``; ``Kubernetes v1.31.0`` -> ``v1.31.0``."""
    match = VERSION_RE.search(text or '')
    if not match:
        return None
    return 'v' + match.group(1)


class Gatherer(object):
    """Reads the node's files below ``root`` and decides the profile.

    ``run_version(path, args) -> (text or None, status)`` and ``live`` (LiveRules, or a callable taking the Log and
    returning LiveRules, called after the files were read) come from the module, which runs the commands; everything
    else is file reads."""

    def __init__(self, root: str, run_version: Optional[Callable[[str, List[str]], Tuple[Optional[str], str]]] = None,
                 live: Any = None, use_pyyaml: bool = True) -> None:
        self.root = root or '/'
        self.log = Log()
        self.run_version = run_version
        self.live = live
        self.use_pyyaml = use_pyyaml

    # -- reading
    def read(self, path: str) -> str:
        return read_text(self.root, path)

    def read_yaml(self, path: str, proc_root: bool = False) -> Optional[List[Any]]:
        """Documents of a YAML file; None (and a status) when it is absent, unreadable or invalid."""
        try:
            text = read_text(self.root, path, proc_root=proc_root)
        except ReadError as exc:
            self.log.add(path, exc.status)
            return None
        try:
            docs = parse_yaml(text, self.use_pyyaml)
        except YamlError as exc:
            self.log.add(path, INVALID + ': YAML: %s' % exc)
            return None
        self.log.add(path, FOUND)
        return docs

    # -- distribution
    def distribution(self) -> Value:
        for distro, markers in MARKERS:
            for path in markers:
                kind = path_kind(self.root, path)
                if kind in ('file', 'dir', 'other'):
                    self.log.add(path, FOUND)
                    return Value(distro, path)
                self.log.add(path, kind)  # absent, or ignored: resolves outside root
        return Value(UNKNOWN, UNKNOWN)

    def version(self, distro: str) -> Value:
        for path in BINARIES.get(distro, ()):
            full = join_root(self.root, path)
            if not os.path.lexists(full):
                continue
            if not inside_root(self.root, full):
                self.log.add(path, IGNORED + ': resolves outside root (symlink or "..")')
                continue
            if not (os.path.isfile(full) and os.access(full, os.X_OK)):
                self.log.add(path, IGNORED + ': not an executable file')
                continue
            argv = [full] + VERSION_ARGS[distro]
            label = ' '.join([path] + VERSION_ARGS[distro])
            if self.run_version is None:
                self.log.add(label, IGNORED + ': no command runner')
                return Value(None, UNKNOWN)
            text, status = self.run_version(full, VERSION_ARGS[distro])
            version = parse_version_output(text) if text is not None else None
            if version is None:
                self.log.add(label, status if text is None else INVALID + ': no version in %r' % (text or '')[:80])
                return Value(None, UNKNOWN)
            self.log.add(label, USED)
            return Value(version, label)
        return Value(None, UNKNOWN)

    # -- k3s / RKE2
    def rancher_settings(self, distro: str) -> List[Setting]:
        unit, _unit_source = unit_argv(self.root, distro, self.log, self.read)
        cli = []  # type: List[Setting]
        if unit:
            # flags after the subcommand (server / agent); the unit or script path names the source
            start = next((i for i, a in enumerate(unit) if a in ('server', 'agent')), 0)
            cli = parse_flags(unit[start + 1:], _unit_source)
        config = '/etc/rancher/%s/config.yaml' % distro
        explicit = last(cli, 'config')
        if explicit is not None:
            config = explicit.value
        files = []  # type: List[Tuple[str, Any]]
        docs = self.read_yaml(config)
        if docs is not None:
            files.append((config, docs[0] if docs else None))
        for path in list_dir(self.root, config + '.d', self.log, ('.yaml', '.yml')):
            if path_kind(self.root, path) == 'dir':
                self.log.add(path, IGNORED + ': directory')
                continue
            docs = self.read_yaml(path)
            if docs is not None:
                files.append((path, docs[0] if docs else None))
        return merge_config_files(files, self.log) + cli

    # -- kube-proxy configuration files (kubeadm and others)
    def kube_proxy_file(self, path: str, proc_root: bool = False) -> Optional[Value]:
        docs = self.read_yaml(path, proc_root=proc_root)
        if docs is None:
            return None
        conf = kube_proxy_configuration(docs)
        if conf is None:
            self.log.add(path, IGNORED + ': no KubeProxyConfiguration')
            return None
        mode = conf.get('mode')
        return Value(proxy_mode_value(to_text(mode) or ''), '%s: mode%s' % (
            path, '' if mode not in (None, '') else ' (empty: iptables on Linux)'))

    def kubelet_volume_files(self) -> List[str]:
        base = '/var/lib/kubelet/pods'
        full = join_root(self.root, base)
        if not os.path.isdir(full) or not inside_root(self.root, full):
            self.log.add(base, ABSENT)
            return []
        try:
            uids = sorted(os.listdir(full))[:MAX_DIR_ENTRIES]
        except OSError as exc:
            self.log.add(base, UNREADABLE + ': ' + _strerror(exc))
            return []
        found = []
        for uid in uids:
            path = '%s/%s/volumes/kubernetes.io~configmap/kube-proxy/config.conf' % (base, uid)
            if os.path.lexists(join_root(self.root, path)):
                found.append(path)
        self.log.add(base, FOUND + ': %d pods, %d kube-proxy config volumes' % (len(uids), len(found)))
        return found

    def kube_proxy_from_process(self, proc: Process) -> Optional[Value]:
        conf = process_flag(proc.argv, 'config')
        if conf:
            for path in ('/proc/%s/root%s' % (proc.pid, conf), conf):
                found = self.kube_proxy_file(path, proc_root=path.startswith('/proc/'))
                if found is not None:
                    return found
            return None
        mode = process_flag(proc.argv, 'proxy-mode')
        if mode is not None:
            return Value(proxy_mode_value(mode), '/proc/%s/cmdline: --proxy-mode=%s' % (proc.pid, mode))
        return Value(IPTABLES, '/proc/%s/cmdline: no --proxy-mode, no --config (default: iptables on Linux)' % proc.pid)

    def kubeadm_proxy_mode(self, proc: Optional[Process]) -> Optional[Value]:
        if proc is not None:
            found = self.kube_proxy_from_process(proc)
            if found is not None:
                return found
        for path in self.kubelet_volume_files() + ['/var/lib/kube-proxy/config.conf']:
            found = self.kube_proxy_file(path)
            if found is not None:
                return found
        for path in list_dir(self.root, '/etc/kubernetes', self.log, ('.yaml', '.yml', '.conf')):
            if path_kind(self.root, path) != 'file' or path.endswith(KUBECONFIGS):
                continue
            found = self.kube_proxy_file(path)
            if found is not None:
                return found
        return None

    def kubeadm_cidrs(self) -> Tuple[List[str], str]:
        """Cluster and service CIDRs from the control-plane manifests (flags) or a kubeadm ClusterConfiguration."""
        manifests = (
            ('/etc/kubernetes/manifests/kube-controller-manager.yaml', ('cluster-cidr', 'service-cluster-ip-range')),
            ('/etc/kubernetes/manifests/kube-apiserver.yaml', ('service-cluster-ip-range',)))
        for path, flags in manifests:
            try:
                text = self.read(path)
            except ReadError as exc:
                self.log.add(path, exc.status)
                continue
            self.log.add(path, FOUND)
            cidrs = []
            used = []
            for flag in flags:
                for match in re.finditer(r'--%s=([^\s"\']+)' % re.escape(flag), text):
                    cidrs.extend(split_list(match.group(1)))
                    used.append('--' + flag)
            if cidrs:
                return cidrs, '%s: %s' % (path, ', '.join(sorted(set(used))))
        for path in list_dir(self.root, '/etc/kubernetes', self.log, ('.yaml', '.yml')):
            docs = self.read_yaml(path) if path_kind(self.root, path) == 'file' else None
            for doc in docs or []:
                if isinstance(doc, dict) and doc.get('kind') == 'ClusterConfiguration':
                    net = doc.get('networking') or {}
                    cidrs = [to_text(net.get(k)) or '' for k in ('podSubnet', 'serviceSubnet')] if isinstance(
                        net, dict) else []
                    cidrs = [c for item in cidrs for c in split_list(item)]
                    if cidrs:
                        return cidrs, '%s: networking.podSubnet/serviceSubnet' % path
        return [], ''

    # -- live rules
    def running(self) -> Value:
        ipvs = []
        try:
            names = parse_proc_net_dev(self.read('/proc/net/dev'))
            self.log.add('/proc/net/dev', FOUND)
            if 'kube-ipvs0' in names:
                ipvs.append('kube-ipvs0 in /proc/net/dev')
        except ReadError as exc:
            self.log.add('/proc/net/dev', exc.status)
        try:
            count = parse_ip_vs(self.read('/proc/net/ip_vs'))
            self.log.add('/proc/net/ip_vs', FOUND + ': %d virtual services' % count)
            if count:
                ipvs.append('%d IPVS virtual services in /proc/net/ip_vs' % count)
        except ReadError as exc:
            self.log.add('/proc/net/ip_vs', exc.status)
        live = self.live(self.log) if callable(self.live) else self.live
        live = live or LiveRules()
        return decide_running(ipvs, live.nft_tables, live.kube_services)

    # -- everything
    def gather(self) -> Profile:
        distro = self.distribution()
        dist = distro.value
        version = self.version(dist) if dist != UNKNOWN else Value(None, UNKNOWN)
        proxy = None  # type: Optional[Value]
        cni = None  # type: Optional[Value]
        ipv6 = None  # type: Optional[Value]
        prefer_bundled = False
        cni_dirs = [CNI_DIR]
        proc = None  # type: Optional[Process]
        no_default = ''

        if dist in (K3S, RKE2):
            settings = self.rancher_settings(dist)
            prefer = last(settings, 'prefer-bundled-bin')
            prefer_bundled = dist == K3S and prefer is not None and truthy(prefer.value)
            disabled = last(settings, 'disable-kube-proxy')
            if disabled is not None and truthy(disabled.value):
                proxy = Value(NONE, disabled.source)
            else:
                arg = kube_proxy_mode_arg(settings)
                if arg is not None:
                    proxy = Value(proxy_mode_value(arg.value), '%s=proxy-mode=%s' % (arg.source, arg.value))
            if dist == K3S:
                backend = last(settings, 'flannel-backend')
                cni_dirs = []
                if backend is None:
                    cni = Value(FLANNEL, 'default: ' + DEFAULTS[K3S]['why'])
                elif backend.value.strip().lower() != 'none':
                    cni = Value(FLANNEL, '%s=%s' % (backend.source, backend.value))
                else:
                    # flannel disabled: k3s leaves the CNI to whatever was installed into /etc/cni/net.d
                    cni_dirs = [CNI_DIR]
                    no_default = '%s=none and no CNI config in %s' % (backend.source, CNI_DIR)
            else:
                values = every(settings, 'cni')
                names = [v for item in values for v in split_list(item.value)]
                if values:
                    picked = rke2_cni(names)
                    if picked is not None:
                        cni = Value(picked, values[-1].source)
                        cni_dirs = []
                    else:
                        no_default = '%s=%s and no CNI config in %s' % (values[-1].source, ','.join(names), CNI_DIR)
            cidrs = [v for flag in ('cluster-cidr', 'service-cidr') for item in every(settings, flag)
                     for v in split_list(item.value)]
            if cidrs:
                sources = sorted(set(item.source for flag in ('cluster-cidr', 'service-cidr')
                                     for item in every(settings, flag)))
                ipv6 = Value(cidr_family(cidrs), ', '.join(sources))
        elif dist == K0S:
            docs = self.read_yaml('/etc/k0s/k0s.yaml')
            doc = docs[0] if docs else None
            if docs is not None and not isinstance(doc, dict):
                self.log.add('/etc/k0s/k0s.yaml', INVALID + ': top level is not a mapping')
                doc = None
            net = get_path(doc, 'spec', 'network')
            if isinstance(net, dict):
                src = '/etc/k0s/k0s.yaml: spec.network.'
                if truthy(to_text(get_path(net, 'kubeProxy', 'disabled'))):
                    proxy = Value(NONE, src + 'kubeProxy.disabled')
                elif get_path(net, 'kubeProxy', 'mode') not in (None, ''):
                    proxy = Value(proxy_mode_value(to_text(get_path(net, 'kubeProxy', 'mode')) or ''),
                                  src + 'kubeProxy.mode')
                provider = to_text(net.get('provider'))
                if provider:
                    mapped = {'kuberouter': KUBE_ROUTER, 'calico': CALICO}.get(provider.strip().lower())
                    if mapped:
                        cni = Value(mapped, src + 'provider')
                    elif provider.strip().lower() == 'custom':
                        no_default = src + 'provider=custom and no CNI config in ' + CNI_DIR
                    else:
                        cni = Value(UNKNOWN, src + 'provider (%s: not kuberouter, calico or custom)' % provider)
                dual = net.get('dualStack') if isinstance(net.get('dualStack'), dict) else {}
                cidrs = [to_text(net.get(k)) or '' for k in ('podCIDR', 'serviceCIDR')]
                keys = [k for k in ('podCIDR', 'serviceCIDR') if net.get(k)]
                if truthy(to_text(dual.get('enabled'))):
                    cidrs += [to_text(dual.get(k)) or '' for k in ('IPv6podCIDR', 'IPv6serviceCIDR')]
                    keys.append('dualStack')
                family = cidr_family(cidrs)
                if family is not None:
                    ipv6 = Value(family, src + ', '.join(keys))
        if dist in (KUBEADM, GENERIC, UNKNOWN) or proxy is None:
            proc = find_kube_proxy(self.root, self.log)
        if dist in (KUBEADM, GENERIC, UNKNOWN):
            proxy = self.kubeadm_proxy_mode(proc)
            cidrs, source = self.kubeadm_cidrs()
            if cidrs:
                ipv6 = Value(cidr_family(cidrs), source)
        elif proxy is None and proc is not None:
            proxy = self.kube_proxy_from_process(proc)

        if cni is None and cni_dirs:
            cni = cni_from_dirs(self.root, cni_dirs, self.log, self.read)

        default = DEFAULTS.get(dist)
        if proxy is None:
            proxy = Value(default['proxy_mode'], 'default: ' + default['why']) if default else Value(UNKNOWN, UNKNOWN)
        if cni is None:
            if no_default:
                cni = Value(UNKNOWN, no_default)
            elif default:
                cni = Value(default['cni'], 'default: ' + default['why'])
            else:
                cni = Value(UNKNOWN, UNKNOWN)
        if ipv6 is None:
            ipv6 = Value(False, 'default: ' + default['why']) if default else Value(None, UNKNOWN)

        running = self.running()
        for item in (distro, version, proxy, running, cni, ipv6):
            self.log.mark_used(item.source)
        return Profile(distro, version, proxy, running, cni, ipv6, prefer_bundled, self.log.as_list())
