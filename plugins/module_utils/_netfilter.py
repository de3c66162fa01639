# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Netfilter userspace knowledge: tool versions, ruleset parsing, table ownership, backend decision, and what
iptables-nft can read.

Pure functions and small dataclasses; the facts module runs the commands and feeds their output in here. The
``*-save`` parser is incremental (``SaveParser.feed`` one line at a time) so a module can stream a dump of any size.

Sources for the decisions (see docs/netfilter_backend_facts.md):
- kubernetes-sigs/iptables-wrappers ``pkg/xtables/detect.go`` (current Go wrapper) and the shell wrapper written by
  ``iptables-wrapper-installer.sh`` up to commit 680003b (rule-count fallback).
- kubernetes ``pkg/proxy/nftables/proxier.go``: ``kubeProxyTable = "kube-proxy"`` in families ``ip`` and ``ip6``.
- ``COMPAT_IPTABLES_NFT_1_8_9``: measured with iptables 1.8.9 / nftables 1.0.6 (Debian 12) in network namespaces,
  reproduced by tests/fixtures/netfilter/capture.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from ansible_collections.kubenode.netfilter.plugins.module_utils._version import version_tuple

NFT = 'nft'
LEGACY = 'legacy'
BACKENDS = (LEGACY, NFT)
IPV4 = 'ipv4'
IPV6 = 'ipv6'

OWNER_KUBE_PROXY = 'kube-proxy'
OWNER_IPTABLES = 'iptables'
OWNER_FOREIGN = 'foreign'

IPTABLES_TABLES = ('filter', 'nat', 'mangle', 'raw', 'security')
IPTABLES_FAMILIES = {'ip': IPV4, 'ip6': IPV6}
FAMILY_OF_IPVER = {IPV4: 'ip', IPV6: 'ip6'}
# kubernetes pkg/proxy/nftables/proxier.go: kubeProxyTable = "kube-proxy", knftables.IPv4Family / IPv6Family.
KUBE_PROXY_TABLES = (('ip', 'kube-proxy'), ('ip6', 'kube-proxy'))

HINT_CHAIN = 'KUBE-IPTABLES-HINT'
KUBELET_CANARY = 'KUBE-KUBELET-CANARY'
PROXY_CANARY = 'KUBE-PROXY-CANARY'
KUBE_CHAINS = (HINT_CHAIN, KUBELET_CANARY, PROXY_CANARY)
# detect.go: regexp `(?m)^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY)` -- a prefix match on chain declarations.
WRAPPER_CHAINS = (HINT_CHAIN, KUBELET_CANARY)

BUILTIN_CHAINS = {
    'filter': ('INPUT', 'FORWARD', 'OUTPUT'),
    'nat': ('PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'),
    'mangle': ('PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'),
    'raw': ('PREROUTING', 'OUTPUT'),
    'security': ('INPUT', 'FORWARD', 'OUTPUT'),
}


class NetfilterParseError(ValueError):
    """Output of a netfilter tool that does not have the expected shape."""


# ---------------------------------------------------------------------------------------------------------------------
# Versions

@dataclass(frozen=True)
class ToolVersion:
    tool: str
    version: str
    backend: Optional[str] = None  # nft | legacy (xtables tools only)
    detail: Optional[str] = None   # nft release name, ipset protocol version

    def as_dict(self) -> Dict[str, Any]:
        return {'tool': self.tool, 'version': self.version, 'backend': self.backend, 'detail': self.detail}


_XTABLES_VERSION_RE = re.compile(
    r'^(?P<tool>(?:ip6?tables|ip6?tables-(?:legacy|nft)|ip6?tables-(?:nft-|legacy-)?(?:save|restore)|xtables-[a-z-]+)'
    r')\s+v(?P<version>\d+(?:\.\d+)+)(?:\s+\((?P<backend>[^)]*)\))?')
_NFT_VERSION_RE = re.compile(r'^nftables\s+v(?P<version>\d+(?:\.\d+)+\S*)(?:\s+\((?P<detail>[^)]*)\))?')
_IPSET_VERSION_RE = re.compile(r'^ipset\s+v(?P<version>\d+(?:\.\d+)*)(?:,\s*protocol version:\s*(?P<proto>\d+))?')


def parse_version_output(text: str) -> ToolVersion:
    """Parse the first meaningful line of ``iptables -V``, ``nft --version`` or ``ipset --version``.

    Raises NetfilterParseError naming the output when it matches none of them.
    """
    for line in (text or '').splitlines():
        line = line.strip()
        if not line:
            continue
        match = _XTABLES_VERSION_RE.match(line)
        if match:
            raw = (match.group('backend') or '').strip()
            if raw == 'nf_tables':
                backend = NFT  # type: Optional[str]
            elif raw == 'legacy':
                backend = LEGACY
            elif not raw and (version_tuple(match.group('version')) or (1, 8, 0)) < (1, 8, 0):
                backend = LEGACY  # before 1.8 there was only the legacy backend, and no suffix
            else:
                backend = None
            return ToolVersion(match.group('tool'), match.group('version'), backend, raw or None)
        match = _NFT_VERSION_RE.match(line)
        if match:
            return ToolVersion('nftables', match.group('version'), None, match.group('detail'))
        match = _IPSET_VERSION_RE.match(line)
        if match:
            proto = match.group('proto')
            return ToolVersion('ipset', match.group('version'), None, ('protocol %s' % proto) if proto else None)
        break
    raise NetfilterParseError('unrecognised version output: %r' % (text or '')[:200])


def backend_from_path(resolved: Optional[str]) -> Optional[str]:
    """xtables-nft-multi -> nft, xtables-legacy-multi -> legacy, iptables-nft -> nft..., else None."""
    if not resolved:
        return None
    base = resolved.rsplit('/', 1)[-1]
    if 'nft' in base:
        return NFT
    if 'legacy' in base:
        return LEGACY
    return None


# ---------------------------------------------------------------------------------------------------------------------
# *-save output

_INCOMPATIBLE_TABLE_RE = re.compile(r"^# Table `(?P<table>[^']+)' is incompatible, use 'nft' tool\.")
_INCOMPATIBLE_BASE_RE = re.compile(r"^# Table `(?P<table>[^']+)' contains incompatible base-chains")


@dataclass
class SaveTable:
    """One table of a ``*-save`` dump.

    ``incompatible``: iptables-nft printed the incompatible-table comment instead of the table (it exits 0 and drops
    every rule: the counts are NOT the table's), or the dump stopped inside this table (``truncated``: a parse error
    aborted iptables-nft-save), or the table has base chains iptables-nft cannot show (``incompatible_base_chains``).
    """

    name: str
    chains: int = 0
    rules: int = 0
    incompatible: bool = False
    truncated: bool = False
    incompatible_base_chains: bool = False
    committed: bool = False
    kube_chains: List[str] = field(default_factory=list)
    wrapper_chains: bool = False  # a chain the iptables-wrapper regexp matches (prefix of HINT / KUBELET-CANARY)

    def as_dict(self) -> Dict[str, Any]:
        return {'chains': self.chains, 'rules': self.rules, 'incompatible': self.incompatible}


class SaveParser:
    """Incremental parser of ``iptables-save`` / ``ip6tables-save`` output (legacy or nft). Feed lines, then finish()."""

    def __init__(self) -> None:
        self.tables = {}  # type: Dict[str, SaveTable]
        self.order = []  # type: List[str]
        self.dash_lines = 0  # lines starting with '-' (what the shell wrapper's `grep '^-' | wc -l` counts)
        self.errors = []  # type: List[str]
        self._current = None  # type: Optional[SaveTable]
        self._finished = False

    def _table(self, name: str) -> SaveTable:
        table = self.tables.get(name)
        if table is None:
            table = SaveTable(name)
            self.tables[name] = table
            self.order.append(name)
        return table

    def feed(self, line: str) -> None:
        if not line:
            return
        first = line[0]
        if first == '-':
            self.dash_lines += 1
            if self._current is not None and line.startswith('-A '):
                self._current.rules += 1
            return
        if first == ':':
            if self._current is not None:
                name = line[1:].split(' ', 1)[0]
                self._current.chains += 1
                if name in KUBE_CHAINS:
                    self._current.kube_chains.append(name)
                if name.startswith(WRAPPER_CHAINS):
                    self._current.wrapper_chains = True
            return
        if first == '*':
            self._current = self._table(line[1:].strip())
            return
        if line.startswith('COMMIT'):
            if self._current is not None:
                self._current.committed = True
            self._current = None
            return
        if first == '#':
            match = _INCOMPATIBLE_TABLE_RE.match(line)
            if match:
                table = self._table(match.group('table'))
                table.incompatible = True
                return
            match = _INCOMPATIBLE_BASE_RE.match(line)
            if match:
                table = self._table(match.group('table'))
                table.incompatible = True
                table.incompatible_base_chains = True
            return

    def finish(self) -> 'SaveParser':
        if not self._finished:
            if self._current is not None and not self._current.committed:
                self._current.truncated = True
                self._current.incompatible = True
            self._current = None
            self._finished = True
        return self

    @classmethod
    def parse(cls, text: str) -> 'SaveParser':
        parser = cls()
        for line in text.splitlines():
            parser.feed(line)
        return parser.finish()

    @property
    def rules(self) -> int:
        return sum(t.rules for t in self.tables.values())

    def chain_names(self) -> List[str]:
        found = set()
        for table in self.tables.values():
            found.update(table.kube_chains)
        return sorted(found)

    def wrapper_sees_kubelet_chains(self, table: Optional[str] = None) -> bool:
        """What detect.go's regexp finds in this dump (only in `table` when given, as with ``-t mangle``)."""
        if table is not None:
            entry = self.tables.get(table)
            return bool(entry and entry.wrapper_chains)
        return any(t.wrapper_chains for t in self.tables.values())


def parse_table_names(text: str) -> List[str]:
    """Contents of /proc/net/ip_tables_names (one table per line)."""
    return [line.strip() for line in (text or '').splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------------------------------
# nft JSON

@dataclass(frozen=True)
class NftChain:
    family: str
    table: str
    name: str
    handle: Optional[int] = None
    type: Optional[str] = None
    hook: Optional[str] = None
    prio: Optional[Any] = None
    policy: Optional[str] = None

    @property
    def is_base(self) -> bool:
        return self.hook is not None

    def hook_dict(self) -> Dict[str, Any]:
        return {'chain': self.name, 'hook': self.hook, 'priority': self.prio, 'policy': self.policy, 'type': self.type}


@dataclass
class NftRule:
    family: str
    table: str
    chain: str
    handle: Optional[int]
    expr: List[Any]
    comment: Optional[str] = None


class NftJsonStream(object):
    """Incremental reader of ``nft -j`` output: feed bytes as they arrive, get each element of the top-level
    ``nftables`` list handed to ``on_item`` once it is complete; memory stays at one element plus one chunk.

    nft prints ``{"nftables": [ITEM, ITEM, ...]}`` on one line. Output that does not start that way is kept (up to
    ``max_whole`` bytes) and parsed whole at ``finish()``, so an odd but valid shape still gets a precise error.
    Non-dict elements are skipped, as the whole-document parser always did. Every shape problem raises
    NetfilterParseError naming ``what``.
    """

    _HEAD_RE = re.compile(r'\s*\{\s*"nftables"\s*:\s*\[')
    _WS = ' \t\r\n'

    def __init__(self, on_item: Callable[[Dict[str, Any]], None], what: str, max_item: int = 64 * 1024 * 1024,
                 max_whole: int = 64 * 1024 * 1024) -> None:
        import codecs
        self.on_item = on_item
        self.what = what
        self.max_item = max_item
        self.max_whole = max_whole
        self.items = 0
        self._decoder = codecs.getincrementaldecoder('utf-8')('replace')
        self._json = json.JSONDecoder()
        self._buf = ''
        self._pos = 0
        self._state = 'head'  # head | items | tail | whole
        self._retry_len = 0  # do not retry a failed element decode before the pending text is this long
        self._pending = []  # type: List[str]
        self._pending_len = 0
        self._after_item = False
        self._final = False
        self._whole = []  # type: List[str]
        self._whole_len = 0
        self._head = ''

    def feed(self, data: bytes) -> None:
        text = self._decoder.decode(data)
        if text:
            self._text(text)

    def _text(self, text: str) -> None:
        if self._state == 'whole':
            self._keep_whole(text)
            return
        if self._state == 'head':
            self._head += text
            match = self._HEAD_RE.match(self._head)
            if match is None:
                if len(self._head) >= 256:  # not nft's own layout: parse the whole document at finish()
                    self._state = 'whole'
                    head, self._head = self._head, ''
                    self._keep_whole(head)
                return
            self._buf = self._head[match.end():]
            self._head = ''
            self._pos = 0
            self._state = 'items'
            self._drain()
            return
        if self._state == 'tail':
            self._tail(text)
            return
        self._pending.append(text)
        self._pending_len += len(text)
        waiting = len(self._buf) - self._pos + self._pending_len
        if waiting > self.max_item:
            raise NetfilterParseError('%s: an element of the "nftables" list is longer than %d bytes: %r'
                                      % (self.what, self.max_item, (self._buf[self._pos:] or text)[:200]))
        if waiting < self._retry_len:
            return  # an element is still incomplete: join only when the pending part has doubled (linear overall)
        self._buf = self._buf[self._pos:] + ''.join(self._pending)
        self._pending = []
        self._pending_len = 0
        self._pos = 0
        self._drain()

    def _keep_whole(self, text: str) -> None:
        self._whole_len += len(text)
        if self._whole_len > self.max_whole:
            raise NetfilterParseError('%s: output is not an nft JSON document and longer than %d bytes'
                                      % (self.what, self.max_whole))
        self._whole.append(text)

    def _tail(self, text: str) -> None:
        rest = text.strip(self._WS)
        if rest and rest != '}':
            if not rest.startswith('}') or rest[1:].strip(self._WS):
                raise NetfilterParseError('%s: unexpected text after the "nftables" list: %r' % (self.what, rest[:200]))

    def _drain(self) -> None:
        buf = self._buf
        pos = self._pos
        end = len(buf)
        while True:
            while pos < end and buf[pos] in ' \t\r\n':
                pos += 1
            if pos >= end:
                break
            char = buf[pos]
            if self._after_item and char == ',':
                pos += 1
                self._after_item = False
                continue
            if char == ']' and (self._after_item or self.items == 0):
                self._state = 'tail'
                rest = buf[pos + 1:]
                self._buf = ''
                self._pos = 0
                self._tail(rest)
                return
            if self._after_item:
                raise NetfilterParseError('%s: expected "," or "]" in the "nftables" list, got %r'
                                          % (self.what, buf[pos:pos + 200]))
            try:
                item, nxt = self._json.raw_decode(buf, pos)
            except ValueError:
                self._retry_len = max(2 * (end - pos), 4096)  # amortised: retry after the pending part doubled
                break
            if nxt >= end and not self._final and isinstance(item, (int, float)) and not isinstance(item, bool):
                break  # a number at the end of a chunk may go on in the next one
            self._retry_len = 0
            self._after_item = True
            pos = nxt
            self.items += 1
            if isinstance(item, dict):
                self.on_item(item)
        # keep the unconsumed part only (a slice per chunk, not per element: linear overall)
        self._buf = buf[pos:]
        self._pos = 0

    def finish(self) -> 'NftJsonStream':
        tail = self._decoder.decode(b'', True)
        if tail:
            self._text(tail)
        if self._state == 'whole' or (self._state == 'head' and self._head.strip(self._WS)):
            text = ''.join(self._whole) + self._head
            for item in _nft_objects(text, self.what):
                self.on_item(item)
            return self
        if self._state == 'head':
            raise NetfilterParseError('%s: no output (expected nft JSON)' % self.what)
        if self._state == 'items':
            self._final = True
            self._buf = self._buf[self._pos:] + ''.join(self._pending)
            self._pending = []
            self._pending_len = 0
            self._pos = 0
            self._drain()
            if self._state == 'items':
                raise NetfilterParseError('%s: nft JSON ends inside the "nftables" list: %r'
                                          % (self.what, self._buf[:200]))
        return self


def _nft_objects(text: str, what: str) -> List[Dict[str, Any]]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise NetfilterParseError('%s: not JSON (%s): %r' % (what, exc, (text or '')[:200]))
    if not isinstance(data, dict) or not isinstance(data.get('nftables'), list):
        raise NetfilterParseError('%s: JSON without a top-level "nftables" list: %r' % (what, (text or '')[:200]))
    return [item for item in data['nftables'] if isinstance(item, dict)]


def _opt_str(obj: Dict[str, Any], key: str, what: str, kind: str) -> Optional[str]:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise NetfilterParseError('%s: %s object with a %s that is not a string: %r' % (what, kind, key, obj))


def _req_str(obj: Dict[str, Any], key: str, what: str, kind: str) -> str:
    if key not in obj:
        raise NetfilterParseError("%s: %s object without '%s': %r" % (what, kind, key, obj))
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise NetfilterParseError('%s: %s object with a %s that is not a string: %r' % (what, kind, key, obj))
    return str(value)


def _handle(obj: Dict[str, Any], what: str, kind: str) -> Optional[int]:
    value = obj.get('handle')
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise NetfilterParseError('%s: %s object with a handle that is not an integer: %r' % (what, kind, obj))


def chain_from_item(item: Dict[str, Any], what: str = 'nft -j list chains') -> Optional['NftChain']:
    """The NftChain of one ``{"chain": {...}}`` element, None for other elements; NetfilterParseError on bad shapes."""
    chain = item.get('chain')
    if chain is None:
        return None
    if not isinstance(chain, dict):
        raise NetfilterParseError('%s: a "chain" element that is not an object: %r' % (what, chain))
    prio = chain.get('prio')
    if prio is not None and (isinstance(prio, bool) or not isinstance(prio, (int, str, dict))):
        raise NetfilterParseError('%s: chain object with a prio that is not a number: %r' % (what, chain))
    return NftChain(_req_str(chain, 'family', what, 'chain'), _req_str(chain, 'table', what, 'chain'),
                    _req_str(chain, 'name', what, 'chain'), _handle(chain, what, 'chain'),
                    _opt_str(chain, 'type', what, 'chain'), _opt_str(chain, 'hook', what, 'chain'), prio,
                    _opt_str(chain, 'policy', what, 'chain'))


def rule_from_item(item: Dict[str, Any], what: str = 'nft -j list table') -> Optional['NftRule']:
    """The NftRule of one ``{"rule": {...}}`` element, None for other elements; NetfilterParseError on bad shapes."""
    rule = item.get('rule')
    if rule is None:
        return None
    if not isinstance(rule, dict):
        raise NetfilterParseError('%s: a "rule" element that is not an object: %r' % (what, rule))
    expr = rule.get('expr')
    if expr is not None and not isinstance(expr, list):
        raise NetfilterParseError('%s: rule object whose expr is not a list: %r' % (what, rule))
    comment = rule.get('comment')
    if comment is not None and not isinstance(comment, str):
        raise NetfilterParseError('%s: rule object whose comment is not a string: %r' % (what, rule))
    return NftRule(_req_str(rule, 'family', what, 'rule'), _req_str(rule, 'table', what, 'rule'),
                   _req_str(rule, 'chain', what, 'rule'), _handle(rule, what, 'rule'), expr or [], comment)


def parse_nft_chains(text: str, what: str = 'nft -j list chains') -> List[NftChain]:
    chains = []
    for item in _nft_objects(text, what):
        chain = chain_from_item(item, what)
        if chain is not None:
            chains.append(chain)
    return chains


def parse_nft_rules(text: str, what: str = 'nft -j list table') -> Tuple[List[NftChain], List[NftRule]]:
    """Chains and rules of ``nft -j list table|chain ...`` output."""
    chains = []
    rules = []
    for item in _nft_objects(text, what):
        chain = chain_from_item(item, what)
        if chain is not None:
            chains.append(chain)
        rule = rule_from_item(item, what)
        if rule is not None:
            rules.append(rule)
    return chains, rules


_HANDLE_RE = re.compile(r'^(?P<rule>.*?)\s*# handle (?P<handle>\d+)\s*$')


def parse_nft_text_handle_line(line: str) -> Optional[Tuple[int, str]]:
    """(handle, rule text) of one rule line of ``nft -a list chain ...``; None for any other line."""
    stripped = line.strip()
    if not stripped or stripped.startswith(('table ', 'chain ', 'type ', '}', 'policy ')):
        return None
    match = _HANDLE_RE.match(stripped)
    if match:
        return int(match.group('handle')), match.group('rule')
    return None


def parse_nft_text_handles(text: str) -> Dict[int, str]:
    """Rule handle -> rule text from ``nft -a list chain ...`` (the rule as nft prints it, without the handle)."""
    out = {}
    for line in (text or '').splitlines():
        found = parse_nft_text_handle_line(line)
        if found is not None:
            out[found[0]] = found[1]
    return out


def table_owner(family: str, name: str) -> str:
    if (family, name) in KUBE_PROXY_TABLES:
        return OWNER_KUBE_PROXY
    if family in IPTABLES_FAMILIES and name in IPTABLES_TABLES:
        return OWNER_IPTABLES
    return OWNER_FOREIGN


@dataclass
class NftTable:
    family: str
    name: str
    chains: List[NftChain] = field(default_factory=list)
    rules: Optional[int] = None

    @property
    def owner(self) -> str:
        return table_owner(self.family, self.name)

    def as_dict(self) -> Dict[str, Any]:
        return {
            'family': self.family, 'name': self.name, 'owner': self.owner, 'chains': len(self.chains),
            'rules': self.rules, 'hooks': [c.hook_dict() for c in self.chains if c.is_base],
        }


def group_tables(chains: Iterable[NftChain]) -> List[NftTable]:
    """Tables (in first-seen order) of ``nft -j list chains`` output. Tables with no chain are not in that output."""
    tables = {}  # type: Dict[Tuple[str, str], NftTable]
    for chain in chains:
        key = (chain.family, chain.table)
        if key not in tables:
            tables[key] = NftTable(chain.family, chain.table)
        tables[key].chains.append(chain)
    return list(tables.values())


def incompatible_base_chains(table: NftTable) -> List[NftChain]:
    """Base chains in an iptables table that are not that table's built-in chains (iptables-nft omits them)."""
    builtin = BUILTIN_CHAINS.get(table.name, ())
    return [c for c in table.chains if c.is_base and c.name not in builtin]


# ---------------------------------------------------------------------------------------------------------------------
# What iptables-nft 1.8.9 can read: a measured table (tests/fixtures/netfilter/compat-iptables-1.8.9.json)

LISTING_INCOMPATIBLE = 'incompatible'  # -save exits 0 and replaces the table by a comment; -S CHAIN exits 1
LISTING_ABORTS = 'aborts'              # -save and -S exit 3 with the error, output stops at the rule
LISTING_LOSSY = 'lossy'                # no error: -save prints the rule without the expression (wrong meaning)


@dataclass(frozen=True)
class CompatClass:
    """A class of native nft expressions and what iptables-nft does with a rule holding one.

    ``check_error``: the error after ``Error: `` that every command parsing the chain (``iptables -C``, ``-save``)
    prints, ``{ipv}`` standing for ipv4/ipv6; None when ``-C`` still works. ``examples``: the nft syntax measured.
    """

    id: str
    examples: Tuple[str, ...]
    check_error: Optional[str]
    listing: str
    description: str

    def error_for(self, family: str) -> Optional[str]:
        if self.check_error is None:
            return None
        return self.check_error.replace('{ipv}', 'ipv6' if family == 'ip6' else 'ipv4')

    def as_dict(self) -> Dict[str, Any]:
        return {'id': self.id, 'examples': list(self.examples), 'check_error': self.check_error,
                'listing': self.listing, 'description': self.description}


COMPAT_IPTABLES_NFT_1_8_9 = (
    CompatClass('ct', ('ct state established', 'ct mark 0x1', 'ct zone 1', 'ct direction original',
                       'ct status dnat'), 'cmp sreg undef', LISTING_INCOMPATIBLE,
                'native conntrack match (iptables-nft itself uses the xt match for -m conntrack / -m state)'),
    CompatClass('fib', ('fib daddr type local',), 'cmp sreg undef', LISTING_INCOMPATIBLE,
                'native fib match (iptables-nft itself uses the xt match for -m addrtype)'),
    CompatClass('rt', ('rt mtu 1500',), 'cmp sreg undef', LISTING_INCOMPATIBLE, 'routing expression'),
    CompatClass('numgen', ('numgen random mod 2 0',), 'cmp sreg undef', LISTING_INCOMPATIBLE,
                'number generator (iptables-nft itself uses the xt match for -m statistic)'),
    CompatClass('payload', ('ip length 100', 'ip dscp cs1', 'ip6 length 100', 'ip6 dscp cs1', 'ip6 flowlabel 1'),
                'unknown payload offset', LISTING_ABORTS, 'IP header field iptables-nft has no option for'),
    CompatClass('meta_key', ('meta skuid 0', 'meta skgid 0', 'meta cpu 0', 'meta iiftype ether', 'meta oiftype ether',
                             'meta length 100', 'meta iifgroup 1', 'ether saddr 00:11:22:33:44:55'),
                'unknown {ipv} meta key', LISTING_ABORTS,
                'meta key iptables-nft has no option for (ether matches carry an implicit meta iiftype)'),
    CompatClass('meta_set', ('meta mark set 0x1', 'meta priority set 1:1'), 'meta sreg key not supported',
                LISTING_ABORTS, 'native meta statement (iptables-nft itself uses the xt targets MARK / CLASSIFY)'),
    CompatClass('th', ('th dport 53',), 'unsupported layer 4 protocol value', LISTING_ABORTS,
                'transport header match without a protocol'),
    CompatClass('statement', ('log', 'reject', 'notrack', 'ct mark set 0x1', 'masquerade', 'snat to 10.0.0.5',
                              'ct state vmap { established : accept }'), None, LISTING_INCOMPATIBLE,
                'native statement (iptables-nft itself uses xt targets); -C works, -S and -save refuse the table'),
    CompatClass('set_lookup', ('ip saddr { 10.1.1.1, 10.2.2.2 }', 'ip saddr @s', 'tcp dport { 80, 443 }',
                               'ip saddr . ip daddr { 10.0.0.1 . 10.0.0.2 }'), None, LISTING_LOSSY,
                'set lookup: iptables-nft-save prints the rule WITHOUT the match'),
    CompatClass('lossy_field', ('icmp code 0', 'ip6 nexthdr tcp'), None, LISTING_LOSSY,
                'field iptables-nft-save prints wrongly or not at all'),
)
COMPAT_BY_ID = dict((c.id, c) for c in COMPAT_IPTABLES_NFT_1_8_9)
UNCLASSIFIED = 'unclassified'

# Expressions iptables-nft 1.8.9 writes itself and reads back (measured: tests/fixtures/netfilter/iptables-own-*.json)
_READABLE_STATEMENTS = frozenset(('counter', 'xt', 'accept', 'drop', 'return', 'jump', 'goto', 'limit', 'continue'))
_READABLE_META = frozenset(('mark', 'iifname', 'oifname', 'iif', 'oif', 'l4proto', 'pkttype'))
_UNKNOWN_META = frozenset(('skuid', 'skgid', 'cpu', 'iiftype', 'oiftype', 'length', 'iifgroup', 'oifgroup',
                           'priority', 'nfproto', 'cgroup', 'rtclassid', 'ibrname', 'obrname', 'iifkind', 'oifkind',
                           'secpath', 'secmark', 'time', 'day', 'hour', 'sdif', 'sdifname', 'random'))
_LOSSY_META = frozenset(('protocol',))
_READABLE_META_SET = frozenset(('nftrace',))  # -j TRACE is written natively
_READABLE_PAYLOAD = {
    'ip': frozenset(('saddr', 'daddr', 'protocol', 'ttl', 'frag-off')),
    'ip6': frozenset(('saddr', 'daddr', 'hoplimit')),
    'tcp': frozenset(('sport', 'dport', 'flags')),
    'udp': frozenset(('sport', 'dport')),
    'icmp': frozenset(('type',)),
}
_LOSSY_PAYLOAD = {'ip6': frozenset(('nexthdr',)), 'icmp': frozenset(('code',))}
_UNKNOWN_PAYLOAD = {'ip': frozenset(('length', 'dscp', 'ecn', 'id', 'checksum', 'version', 'hdrlength')),
                    'ip6': frozenset(('length', 'dscp', 'flowlabel', 'ecn', 'version'))}
_STATEMENT_CLASS = frozenset(('log', 'reject', 'notrack', 'masquerade', 'snat', 'dnat', 'vmap', 'redirect'))
_CMP_SREG_EXPRS = ('ct', 'fib', 'rt', 'numgen')


@dataclass(frozen=True)
class ExprHit:
    cls: str          # CompatClass id or 'unclassified'
    what: str         # e.g. 'ct state', 'payload ip length', 'statement log'

    def as_dict(self) -> Dict[str, str]:
        return {'class': self.cls, 'expression': self.what}


def _unwrap(left: Any) -> Any:
    # {"&": [X, mask]} / {"|": ...} / {"^": ...}: look at X
    while isinstance(left, dict) and len(left) == 1 and next(iter(left)) in ('&', '|', '^', '<<', '>>'):
        operands = next(iter(left.values()))
        if not isinstance(operands, list) or not operands:
            break
        left = operands[0]
    return left


def _text(value: Any) -> Optional[str]:
    """A string field of an expression as a string (None stays None; a list or object from a hostile or future nft
    becomes its JSON text, so it is reported, never hashed or called)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)[:80]


def _classify_value(value: Any) -> Optional[ExprHit]:
    value = _unwrap(value)
    if not isinstance(value, dict) or len(value) != 1:
        return None
    kind, body = next(iter(value.items()))
    body = body if isinstance(body, dict) else {}
    body = dict((k, _text(v)) for k, v in body.items())
    if kind in _CMP_SREG_EXPRS:
        return ExprHit(kind, ('%s %s' % (kind, body.get('key') or body.get('mode') or body.get('result') or '')).strip())
    if kind == 'meta':
        key = body.get('key')
        if key in _READABLE_META:
            return None
        if key in _UNKNOWN_META:
            return ExprHit('meta_key', 'meta %s' % key)
        if key in _LOSSY_META:
            return ExprHit('lossy_field', 'meta %s' % key)
        return ExprHit(UNCLASSIFIED, 'meta %s' % key)
    if kind == 'payload':
        proto = body.get('protocol')
        fld = body.get('field')
        if proto is None:  # raw payload (@nh,...)
            return ExprHit(UNCLASSIFIED, 'raw payload %s' % json.dumps(body, sort_keys=True))
        if proto == 'th':
            return ExprHit('th', 'th %s' % fld)
        if fld in _READABLE_PAYLOAD.get(proto, ()):
            return None
        if fld in _LOSSY_PAYLOAD.get(proto, ()):
            return ExprHit('lossy_field', '%s %s' % (proto, fld))
        if fld in _UNKNOWN_PAYLOAD.get(proto, ()):
            return ExprHit('payload', '%s %s' % (proto, fld))
        if proto == 'ether':
            return ExprHit('meta_key', 'ether %s' % fld)
        return ExprHit(UNCLASSIFIED, '%s %s' % (proto, fld))
    if kind == 'concat':
        return ExprHit('set_lookup', 'concatenation')
    return ExprHit(UNCLASSIFIED, kind)


def classify_expressions(expr: Sequence[Any]) -> List[ExprHit]:
    """Every expression of one rule (``nft -j`` ``expr`` list) that iptables-nft 1.8.9 cannot read faithfully.

    Empty for the rules iptables-nft writes itself (its matches are ``xt`` objects or payload/meta it knows).
    """
    hits = []  # type: List[ExprHit]
    if not isinstance(expr, (list, tuple)):
        return [ExprHit(UNCLASSIFIED, json.dumps(expr, sort_keys=True)[:80])] if expr else []
    for stmt in expr:
        if not isinstance(stmt, dict) or len(stmt) != 1:
            hits.append(ExprHit(UNCLASSIFIED, json.dumps(stmt, sort_keys=True)[:80]))
            continue
        kind, body = next(iter(stmt.items()))
        if kind in _READABLE_STATEMENTS:
            continue
        if kind == 'match':
            body = body if isinstance(body, dict) else {}
            hit = _classify_value(body.get('left'))
            right = body.get('right')
            if hit is None and (isinstance(right, dict) and 'set' in right
                                or isinstance(right, str) and right.startswith('@')):
                hit = ExprHit('set_lookup', 'set lookup')
            if hit is not None:
                hits.append(hit)
            continue
        if kind == 'mangle':
            key = body.get('key') if isinstance(body, dict) else None
            inner = None  # type: Any
            if isinstance(key, dict) and len(key) == 1:
                inner = next(iter(key.values()))
            sub = _text(inner.get('key')) if isinstance(inner, dict) else None
            if isinstance(key, dict) and 'meta' in key and sub in _READABLE_META_SET:
                continue
            if isinstance(key, dict) and 'meta' in key:
                hits.append(ExprHit('meta_set', 'meta %s set' % sub))
            elif isinstance(key, dict) and 'ct' in key:
                hits.append(ExprHit('statement', 'ct %s set' % sub))
            else:
                hits.append(ExprHit(UNCLASSIFIED, 'mangle'))
            continue
        if kind in _STATEMENT_CLASS:
            hits.append(ExprHit('statement', kind))
            continue
        hits.append(ExprHit(UNCLASSIFIED, kind))
    return hits


def blocking_hits(hits: Sequence[ExprHit]) -> List[ExprHit]:
    """Hits that make iptables-nft refuse the chain (everything but the silently lossy classes)."""
    return [h for h in hits if h.cls == UNCLASSIFIED or COMPAT_BY_ID[h.cls].listing != LISTING_LOSSY]


def expected_error(hits: Sequence[ExprHit], family: str) -> Optional[str]:
    """The error iptables-nft 1.8.9 gives for a rule with these hits: the first failing expression's, per the table."""
    for hit in hits:
        cls = COMPAT_BY_ID.get(hit.cls)
        if cls is not None and cls.check_error is not None:
            return cls.error_for(family)
    for hit in hits:
        cls = COMPAT_BY_ID.get(hit.cls)
        if cls is not None and cls.listing == LISTING_INCOMPATIBLE:
            return 'incompatible'
    return None


# ---------------------------------------------------------------------------------------------------------------------
# Writer hints

_INTERFACE_WRITERS = (
    ('wt', 'netbird'), ('tailscale', 'tailscale'), ('ts', 'tailscale'), ('wg', 'wireguard'), ('docker', 'docker'),
    ('br-', 'docker'), ('cali', 'calico'), ('vxlan.calico', 'calico'), ('flannel', 'flannel'), ('cni', 'cni'),
    ('cilium', 'cilium'), ('lxc', 'cilium'), ('kube-bridge', 'kube-router'), ('kube-dummy', 'kube-router'),
    ('zt', 'zerotier'), ('nebula', 'nebula'), ('virbr', 'libvirt'),
)
_TABLE_WRITERS = (
    ('netbird', 'netbird'), ('firewalld', 'firewalld'), ('tailscale', 'tailscale'), ('docker', 'docker'),
    ('cilium', 'cilium'), ('calico', 'calico'), ('kube-router', 'kube-router'), ('podman', 'podman'),
    ('netavark', 'podman'), ('libvirt', 'libvirt'), ('crowdsec', 'crowdsec'), ('fail2ban', 'fail2ban'),
    ('f2b', 'fail2ban'), ('ufw', 'ufw'), ('zerotier', 'zerotier'),
)


def _interfaces(expr: Sequence[Any]) -> List[str]:
    found = []  # type: List[str]
    if not isinstance(expr, (list, tuple)):
        return found
    for stmt in expr:
        body = stmt.get('match') if isinstance(stmt, dict) else None
        if not isinstance(body, dict):
            continue
        left = body.get('left')
        if isinstance(left, dict) and isinstance(left.get('meta'), dict) and \
                left['meta'].get('key') in ('iifname', 'oifname', 'iif', 'oif'):
            right = body.get('right')
            values = right.get('set') if isinstance(right, dict) else [right]
            if not isinstance(values, list):
                values = [values]
            for value in values:
                if isinstance(value, str) and value not in found:
                    found.append(value)
    return found


def writer_hint(rule: NftRule, other_tables: Sequence[Tuple[str, str]]) -> Tuple[str, Dict[str, Any]]:
    """A best-effort guess of which tool wrote a rule, and the evidence: ('netbird', {...}) or ('unknown', {...})."""
    interfaces = _interfaces(rule.expr)
    evidence = {'comment': rule.comment, 'interfaces': interfaces,
                'other_tables': ['%s %s' % t for t in other_tables]}  # type: Dict[str, Any]
    guesses = []  # type: List[str]
    text = (rule.comment if isinstance(rule.comment, str) else '').lower()
    for needle, writer in _TABLE_WRITERS:
        if needle in text and writer not in guesses:
            guesses.append(writer)
    for name in interfaces:
        for prefix, writer in _INTERFACE_WRITERS:
            if name.startswith(prefix) and writer not in guesses:
                guesses.append(writer)
    for _family, table in other_tables:
        for needle, writer in _TABLE_WRITERS:
            if needle in table.lower() and writer not in guesses:
                guesses.append(writer)
    return (', '.join(guesses) if guesses else 'unknown'), evidence


# ---------------------------------------------------------------------------------------------------------------------
# Backend decision

@dataclass(frozen=True)
class WrapperView:
    """What iptables-wrapper would see: kubelet chains in ``iptables-nft-save -t mangle`` (v4, v6) and in the full
    ``iptables-legacy-save`` (v4, v6); and the rule counts (``^-`` lines) the shell wrapper compares."""

    nft_v4_mangle: bool = False
    nft_v6_mangle: bool = False
    legacy_v4: bool = False
    legacy_v6: bool = False
    legacy_rules: int = 0
    nft_rules: int = 0
    nft_rules_unreadable: int = 0  # rules in incompatible tables, that the save output does not show


@dataclass(frozen=True)
class Decision:
    mode: str
    reason: str


def detect_mode_go(view: WrapperView) -> Decision:
    """kubernetes-sigs/iptables-wrappers pkg/xtables/detect.go DetectMode: first match wins, default nft."""
    if view.nft_v4_mangle:
        return Decision(NFT, 'KUBE-IPTABLES-HINT or KUBE-KUBELET-CANARY found by iptables-nft-save -t mangle')
    if view.nft_v6_mangle:
        return Decision(NFT, 'KUBE-IPTABLES-HINT or KUBE-KUBELET-CANARY found by ip6tables-nft-save -t mangle')
    if view.legacy_v4:
        return Decision(LEGACY, 'KUBE-IPTABLES-HINT or KUBE-KUBELET-CANARY found by iptables-legacy-save '
                                '(and not by iptables-nft-save / ip6tables-nft-save -t mangle)')
    if view.legacy_v6:
        return Decision(LEGACY, 'KUBE-IPTABLES-HINT or KUBE-KUBELET-CANARY found by ip6tables-legacy-save '
                                '(and not by any nft save or iptables-legacy-save)')
    return Decision(NFT, 'no KUBE-IPTABLES-HINT or KUBE-KUBELET-CANARY chain in either backend: the wrapper defaults '
                         'to nft')


def detect_mode_by_rule_count(view: WrapperView) -> Decision:
    """The shell wrapper of iptables-wrapper-installer.sh (before the Go rewrite): same kubelet-chain checks, then
    legacy only when legacy holds strictly more rules than nft (``grep '^-' | wc -l`` over both families).

    Rules of incompatible nft tables count on the nft side here, although the shell wrapper cannot see them: an
    unreadable table is never counted as empty. ``reason`` says when that changes the outcome.
    """
    if view.nft_v4_mangle or view.nft_v6_mangle or view.legacy_v4 or view.legacy_v6:
        go = detect_mode_go(view)
        return Decision(go.mode, go.reason)
    nft_total = view.nft_rules + view.nft_rules_unreadable
    if view.legacy_rules > nft_total:
        mode = LEGACY
        reason = 'no kubelet chain; legacy holds more rules than nft (%d > %d)' % (view.legacy_rules, nft_total)
    else:
        mode = NFT
        reason = 'no kubelet chain; legacy does not hold more rules than nft (%d <= %d)' % (
            view.legacy_rules, nft_total)
    if view.nft_rules_unreadable and (view.legacy_rules > view.nft_rules) != (mode == LEGACY):
        reason += ('; the shell wrapper itself sees only %d nft rules (%d are in tables iptables-nft cannot read) '
                   'and would pick legacy' % (view.nft_rules, view.nft_rules_unreadable))
    return Decision(mode, reason)


def kube_chains_by_backend(present: Dict[str, Iterable[str]]) -> Dict[str, List[str]]:
    """{backend: chain names} -> {chain: [backends holding it]} for the three kubelet/kube-proxy chains."""
    out = dict((name, []) for name in KUBE_CHAINS)  # type: Dict[str, List[str]]
    for backend in BACKENDS:
        names = set(present.get(backend) or ())
        for name in KUBE_CHAINS:
            if name in names:
                out[name].append(backend)
    return out


# ---------------------------------------------------------------------------------------------------------------------
# sysctl

SYSCTLS = (
    'net.ipv4.ip_forward',
    'net.ipv6.conf.all.forwarding',
    'net.bridge.bridge-nf-call-iptables',
    'net.bridge.bridge-nf-call-ip6tables',
    'net.ipv4.conf.all.route_localnet',
    'net.ipv4.vs.conntrack',
    'kernel.modules_disabled',
    'net.netfilter.nf_conntrack_max',
)


def sysctl_relpath(name: str) -> str:
    """net.ipv4.ip_forward -> proc/sys/net/ipv4/ip_forward (relative, to join under a root)."""
    return 'proc/sys/' + name.replace('.', '/')


def parse_sysctl_value(text: str) -> Any:
    value = (text or '').strip()
    if re.match(r'^-?\d+$', value):
        return int(value)
    return value
