# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Removing named foreign rules from iptables-nft's tables: fingerprints, the plan, the undo file, the transaction.

Pure functions and small dataclasses; the ``nft_conflicts`` module runs ``nft`` and feeds its output in here.
Classification of what iptables-nft cannot read is ``_netfilter.classify_expressions`` (the measured table); this
file only decides what to do with the rules a user listed.

Measured with nftables 1.0.6 (Debian 12), see docs/nft_conflicts.md:
- nft prints a rule's comment unescaped (``comment "x"; delete table ..."``) and its text syntax cannot quote a
  ``"`` at all, so a rule's text is never fed back to nft: the undo file is ``nft -j`` input built from the rule's
  JSON, parsed back before use (``check_undo``) and validated with ``nft -c -j -f``.
- In JSON, ``insert`` with a ``handle`` lands right before that rule; ``add`` ignores its ``handle`` and appends.
- ``nft -c -f FILE`` validates a file against the kernel without committing (a missing anchor handle fails it).
- ``nft -f`` applies a file as one transaction: either every command or none; ``nft -f`` without ``-j`` refuses a
  JSON file with a syntax error.
- Chain names outside nft's identifier syntax (e.g. starting with a digit) cannot be written in nft's command
  syntax at all (quoting is refused for chain names in 1.0.6); the deletion transaction is text, so they are refused.
"""

from __future__ import annotations

import codecs
import copy
import hashlib
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.kubenode.netfilter.plugins.module_utils._stream import kill_group

from ansible_collections.kubenode.netfilter.plugins.module_utils import _netfilter as nf

FINGERPRINT_PREFIX = 'sha256:'
ACTION_REMOVE = 'remove'
ACTION_ABSENT = 'absent'
ACTION_CONFLICT = 'conflict'

_IDENTIFIER_RE = re.compile(r'^[A-Za-z_.][A-Za-z0-9/\\_.-]*$')
_FINGERPRINT_RE = re.compile(r'^sha256:[0-9a-f]{64}$')
# keys whose values change while the ruleset is in use, ignored when comparing rules and rulesets
_VOLATILE_KEYS = frozenset(('expires', 'used'))

# What a rule of each listing behaviour breaks (COMPAT table of _netfilter), and for whom.
HURT_CHECK = ('iptables -C of any rule iptables-nft has to read past this one fails (exit 3), which breaks '
              'kube-proxy in iptables mode, kube-router and k3s\'s network policy controller (crash loop), kubelet\'s '
              'KUBE-IPTABLES-HINT / canary checks and anything else calling iptables -C')
HURT_LISTING = {
    nf.LISTING_INCOMPATIBLE: ('iptables-save exits 0 but prints "# Table ... is incompatible" instead of the table and '
                              'iptables -S of the chain exits 1, so kube-proxy (iptables mode) and kube-router, which '
                              'read the rules back with iptables-save, see an empty table'),
    nf.LISTING_ABORTS: ('iptables-save and iptables -S exit 3 and stop at this rule: the rest of the table and every '
                        'later table are missing from the dump, so kube-proxy (iptables mode) and kube-router fail '
                        'their sync'),
    nf.LISTING_LOSSY: ('iptables-save prints this rule without the native match (no error): whoever restores that '
                       'dump changes what the rule means'),
}

# iptables 1.8.11 (Debian trixie's), measured: run from a debootstrapped trixie root with chroot in the same network
# namespace (tests/images/trixie-root.sh, tests/fixtures/netfilter/compat-iptables-1.8.11.json,
# tests/integration/test_compat_iptables_1_8_11.py). It still fails on every class below marked False, exactly as
# 1.8.9 does; of the measured expressions it reads only `meta mark set`.
NEWER_IPTABLES_VERSION = '1.8.11'
NEWER_IPTABLES_READS = {
    'ct': False, 'fib': False, 'rt': False, 'numgen': False, 'payload': False, 'meta_key': False,
    'meta_set': False, 'th': False, 'statement': False,
    'meta mark set': True,
}


class ConflictError(ValueError):
    """Input or tool output the plan cannot be built from (the message names what and why)."""


# ---------------------------------------------------------------------------------------------------------------------
# Fingerprints

def _strip_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in _VOLATILE_KEYS:
                continue
            if key == 'counter' and isinstance(item, dict):
                out[key] = None  # an anonymous counter: its presence counts, its values do not
                continue
            out[key] = _strip_volatile(item)
        return out
    if isinstance(value, list):
        return [_strip_volatile(item) for item in value]
    return value


def normalize_expr(expr: Sequence[Any]) -> List[Any]:
    """A rule's ``nft -j`` ``expr`` list without counter values (packets, bytes) and other run-time state."""
    return _strip_volatile(copy.deepcopy(list(expr or [])))


def rule_fingerprint(expr: Sequence[Any]) -> str:
    """``sha256:<hex>`` of the rule's expressions (counters excluded), stable across runs, handles and key order."""
    text = json.dumps(normalize_expr(expr), sort_keys=True, separators=(',', ':'))
    return FINGERPRINT_PREFIX + hashlib.sha256(text.encode('utf-8')).hexdigest()


# ---------------------------------------------------------------------------------------------------------------------
# Input

@dataclass(frozen=True)
class RuleRef:
    family: str
    table: str
    chain: str
    handle: int
    fingerprint: Optional[str] = None

    @property
    def chain_key(self) -> Tuple[str, str, str]:
        return (self.family, self.table, self.chain)

    @property
    def key(self) -> Tuple[str, str, str, int]:
        return (self.family, self.table, self.chain, self.handle)

    def label(self) -> str:
        return '%s %s %s handle %d' % (self.family, self.table, self.chain, self.handle)


def nft_name(name: str, what: str = 'chain') -> str:
    """``name`` as nft's command syntax needs it; ConflictError when nft 1.0.6 cannot address it in text at all."""
    if not _IDENTIFIER_RE.match(name or ''):
        raise ConflictError('%s name %r cannot be written in nft\'s command syntax (nft 1.0.6 accepts only names '
                            'starting with a letter, "_" or "."): remove such a rule by hand' % (what, name))
    return name


def parse_refs(items: Sequence[Any]) -> List[RuleRef]:
    """Validate the module's ``rules`` option; duplicates collapse. ConflictError names every bad entry."""
    refs = []  # type: List[RuleRef]
    errors = []  # type: List[str]
    seen = {}  # type: Dict[Tuple[str, str, str, int], RuleRef]
    for index, item in enumerate(items or []):
        where = 'rules[%d]' % index
        if not isinstance(item, dict):
            errors.append('%s: expected a mapping with family, table, chain, handle, got %r' % (where, item))
            continue
        family, table, chain = item.get('family'), item.get('table'), item.get('chain')
        handle, fingerprint = item.get('handle'), item.get('fingerprint') or None
        bad = []
        if not isinstance(family, str) or family not in nf.IPTABLES_FAMILIES:
            bad.append('family must be one of %s (iptables-nft\'s families), got %r'
                       % (', '.join(sorted(nf.IPTABLES_FAMILIES)), family))
        if not isinstance(table, str) or table not in nf.IPTABLES_TABLES:
            bad.append('table must be one of iptables-nft\'s tables (%s), got %r'
                       % (', '.join(nf.IPTABLES_TABLES), table))
        if not isinstance(chain, str) or not chain:
            bad.append('chain must be a non-empty string, got %r' % (chain,))
        else:
            try:
                nft_name(chain)
            except ConflictError as exc:
                bad.append(str(exc))
        if isinstance(handle, str) and handle.isdigit():
            handle = int(handle)
        if isinstance(handle, bool) or not isinstance(handle, int) or handle <= 0:
            bad.append('handle must be a positive integer (the rule handle nft -a prints), got %r' % (handle,))
        if fingerprint is not None and (not isinstance(fingerprint, str) or not _FINGERPRINT_RE.match(fingerprint)):
            bad.append('fingerprint must look like sha256:<64 hex digits>, got %r' % (fingerprint,))
        if bad:
            errors.append('%s: %s' % (where, '; '.join(bad)))
            continue
        ref = RuleRef(str(family), str(table), str(chain), int(handle), fingerprint)
        other = seen.get(ref.key)
        if other is not None:
            if other.fingerprint and ref.fingerprint and other.fingerprint != ref.fingerprint:
                errors.append('%s: %s is listed twice with different fingerprints' % (where, ref.label()))
            continue
        seen[ref.key] = ref
        refs.append(ref)
    if errors:
        raise ConflictError('invalid rules: ' + ' | '.join(errors))
    return refs


# ---------------------------------------------------------------------------------------------------------------------
# nft -j output, read one object at a time

_READ_CHUNK = 1024 * 1024
_HEAD_RE = re.compile(r'\s*\{\s*"nftables"\s*:\s*\[')
_WS = ' \t\r\n'


class _TextSource(object):
    """A str, or a binary file read in chunks: what ``iter_nft_items`` decodes from."""

    def __init__(self, source: Any) -> None:
        if isinstance(source, str):
            self.text, self.handle, self.eof = source, None, True
        else:
            self.text, self.handle, self.eof = '', source, False
            self._decoder = codecs.getincrementaldecoder('utf-8')('replace')

    def more(self, at_least: int = _READ_CHUNK) -> bool:
        """Append at least ``at_least`` more characters (fewer at the end of the file); False at its end."""
        if self.eof:
            return False
        chunk = self.handle.read(max(at_least, _READ_CHUNK))
        if not chunk:
            self.eof = True
            self.text += self._decoder.decode(b'', final=True)
            return False
        self.text += self._decoder.decode(chunk)
        return True

    def skip_ws(self, pos: int) -> int:
        while True:
            while pos < len(self.text) and self.text[pos] in _WS:
                pos += 1
            if pos < len(self.text) or not self.more():
                return pos

    def compact(self, pos: int) -> int:
        """Drop what was decoded (files only: a str source is held by the caller anyway)."""
        if self.handle is not None and pos > _READ_CHUNK:
            self.text = self.text[pos:]
            return 0
        return pos


def _item(item: Any) -> Optional[Tuple[str, Dict[str, Any]]]:
    if isinstance(item, dict) and len(item) == 1:
        kind, body = next(iter(item.items()))
        if isinstance(body, dict):
            return str(kind), body
    return None


def iter_nft_items(source: Any, what: str) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """(kind, body) of every object in the top-level ``nftables`` list of ``nft -j`` output, decoded one at a time.

    ``source`` is the text or a binary file. ``nft -j`` prints one line; decoding item by item with ``raw_decode``
    from a buffer refilled in 1 MiB chunks keeps about one object in memory instead of the whole tree (100k rules:
    a few MB, not the text plus 100k dicts). Objects that are not ``{kind: {...}}`` are skipped; anything that is not
    the documented shape is a ConflictError naming ``what``.
    """
    src = _TextSource(source)
    src.more()
    match = _HEAD_RE.match(src.text)
    if match is None:  # not nft's own layout: decode it whole (the caller capped its size) for the exact error
        while src.more():
            pass
        try:
            data = json.loads(src.text)
        except ValueError as exc:
            raise ConflictError('%s: not JSON (%s): %r' % (what, exc, src.text[:200]))
        if not isinstance(data, dict) or not isinstance(data.get('nftables'), list):
            raise ConflictError('%s: JSON without a top-level "nftables" list: %r' % (what, src.text[:200]))
        for raw in data['nftables']:
            found = _item(raw)
            if found is not None:
                yield found
        return
    decoder = json.JSONDecoder()
    pos = match.end()
    first = True
    while True:
        pos = src.skip_ws(src.compact(pos))
        if pos >= len(src.text):
            raise ConflictError('%s: not JSON (the "nftables" list is not closed)' % what)
        if src.text[pos] == ']':
            pos += 1
            break
        if not first:
            if src.text[pos] != ',':
                raise ConflictError('%s: not JSON (expected "," or "]", got %r)' % (what, src.text[pos:pos + 20]))
            pos = src.skip_ws(pos + 1)
        first = False
        while True:
            try:
                raw, end = decoder.raw_decode(src.text, pos)
            except ValueError as exc:
                if src.more(len(src.text)):
                    continue
                raise ConflictError('%s: not JSON (%s)' % (what, exc))
            if end == len(src.text) and src.more():
                continue  # a number at the very end of the buffer may go on in the next chunk
            break
        pos = end
        found = _item(raw)
        if found is not None:
            yield found
    while src.more():
        pass
    if src.text[pos:].strip(_WS) != '}':
        raise ConflictError('%s: not JSON (trailing data after the "nftables" list)' % what)


def _rule_key(body: Mapping[str, Any]) -> Optional[Tuple[str, str, str, int]]:
    family, table, chain, handle = (body.get('family'), body.get('table'), body.get('chain'), body.get('handle'))
    if not (isinstance(family, str) and isinstance(table, str) and isinstance(chain, str)):
        return None
    if isinstance(handle, bool) or not isinstance(handle, int):
        return None
    return (family, table, chain, handle)


# ---------------------------------------------------------------------------------------------------------------------
# Chains as nft lists them

@dataclass
class ChainRule:
    """One rule of ``nft -j list chain``: where it is, its expressions and its comment, as nft printed them."""

    family: str
    table: str
    chain: str
    handle: int
    expr: List[Any]
    comment: Optional[str] = None


@dataclass
class ChainState:
    """One chain: its rules in order (``nft -j list chain``) and the text of each (``nft -a list chain``, for the
    report only: the undo file is built from the JSON)."""

    family: str
    table: str
    chain: str
    exists: bool
    rules: List[ChainRule] = field(default_factory=list)
    texts: Dict[int, str] = field(default_factory=dict)

    @property
    def key(self) -> Tuple[str, str, str]:
        return (self.family, self.table, self.chain)

    def rule(self, handle: int) -> Optional[ChainRule]:
        for rule in self.rules:
            if rule.handle == handle:
                return rule
        return None


def chain_state(family: str, table: str, chain: str, json_text: Any, text: Optional[str],
                keep: Optional[Sequence[int]] = None) -> ChainState:
    """Build a ChainState from ``nft -j list chain`` (text or binary file) and ``nft -a list chain`` output; None
    output: no such chain.

    Every rule object must carry family, table, chain, an integer handle and an ``expr`` list (and a string comment
    if any): nft 1.0.6 always prints them so; any other shape is a ConflictError, never a guess. With ``keep``, only
    the rules with those handles keep their expressions and text (the others are positions: a chain of 14k
    kube-proxy rules then costs their handles, not their expression trees).
    """
    if json_text is None:
        return ChainState(family, table, chain, False)
    what = 'nft -j list chain %s %s %s' % (family, table, chain)
    found = False
    rules = []  # type: List[ChainRule]
    for kind, body in iter_nft_items(json_text, what):
        if kind == 'chain':
            if body.get('family') == family and body.get('table') == table and body.get('name') == chain:
                found = True
            continue
        if kind != 'rule':
            continue
        key = _rule_key(body)
        expr = body.get('expr')
        comment = body.get('comment')
        if key is None or not isinstance(expr, list) or not (comment is None or isinstance(comment, str)):
            raise ConflictError('%s: a rule object without family/table/chain strings, an integer handle, an expr '
                                'list and a string comment: %r' % (what, json.dumps(body, sort_keys=True)[:300]))
        if key[:3] != (family, table, chain):
            continue
        if keep is not None and key[3] not in keep:
            expr, comment = [], None
        rules.append(ChainRule(family, table, chain, key[3], expr, comment))
    if not found:
        raise ConflictError('%s: the output holds no chain %r' % (what, chain))
    try:
        texts = nf.parse_nft_text_handles(text or '')
    except (TypeError, ValueError, AttributeError):
        texts = {}
    if keep is not None:
        texts = dict((h, t) for h, t in texts.items() if h in keep)
    return ChainState(family, table, chain, True, rules, texts)


# ---------------------------------------------------------------------------------------------------------------------
# Plan

@dataclass
class Decision:
    ref: RuleRef
    action: str                    # remove | absent | conflict
    reason: str
    fingerprint: Optional[str] = None
    rule_text: Optional[str] = None
    hits: List[nf.ExprHit] = field(default_factory=list)
    expr: List[Any] = field(default_factory=list)
    comment: Optional[str] = None

    def as_dict(self) -> Dict[str, Any]:
        return {
            'family': self.ref.family, 'table': self.ref.table, 'chain': self.ref.chain, 'handle': self.ref.handle,
            'action': self.action, 'reason': self.reason, 'fingerprint': self.fingerprint, 'rule': self.rule_text,
            'expressions': [h.as_dict() for h in self.hits], 'effects': effects(self.hits),
            'newer_iptables': newer_iptables(self.hits),
        }


@dataclass
class Plan:
    decisions: List[Decision]

    @property
    def remove(self) -> List[Decision]:
        return [d for d in self.decisions if d.action == ACTION_REMOVE]

    @property
    def absent(self) -> List[Decision]:
        return [d for d in self.decisions if d.action == ACTION_ABSENT]

    @property
    def conflicts(self) -> List[Decision]:
        return [d for d in self.decisions if d.action == ACTION_CONFLICT]

    def affected_chains(self) -> List[Tuple[str, str, str]]:
        out = []  # type: List[Tuple[str, str, str]]
        for decision in self.remove:
            if decision.ref.chain_key not in out:
                out.append(decision.ref.chain_key)
        return out

    def affected_tables(self) -> List[Tuple[str, str]]:
        out = []  # type: List[Tuple[str, str]]
        for family, table, _chain in self.affected_chains():
            if (family, table) not in out:
                out.append((family, table))
        return out


def _classify(expr: Sequence[Any]) -> List[nf.ExprHit]:
    """The measured classifier; an expression shape it cannot take counts as one unclassified hit (never a
    traceback, never "readable")."""
    try:
        return list(nf.classify_expressions(expr))
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return [nf.ExprHit(nf.UNCLASSIFIED, 'unexpected expression shape (%s)' % exc)]


def build_plan(refs: Sequence[RuleRef], chains: Dict[Tuple[str, str, str], ChainState]) -> Plan:
    """Decide per listed rule: remove it, it is already gone, or its handle now holds something else (conflict).

    A rule is removed only when iptables-nft cannot read it faithfully (any hit of the classifier, blocking or
    lossy) and, with a fingerprint, its expressions are still the fingerprinted ones.
    """
    decisions = []
    for ref in refs:
        state = chains.get(ref.chain_key)
        if state is None or not state.exists:
            decisions.append(Decision(ref, ACTION_ABSENT, 'chain %s %s %s does not exist (any more): nothing to remove'
                                      % ref.chain_key))
            continue
        rule = state.rule(ref.handle)
        if rule is None:
            decisions.append(Decision(ref, ACTION_ABSENT, 'no rule with handle %d in chain %s %s %s (any more): '
                                      'already removed' % ((ref.handle,) + ref.chain_key)))
            continue
        fingerprint = rule_fingerprint(rule.expr)
        hits = _classify(rule.expr)
        text = state.texts.get(ref.handle)
        if not hits:
            decisions.append(Decision(ref, ACTION_CONFLICT, 'handle %d now holds a rule iptables-nft can read (%s): it '
                                      'is not the foreign rule that was listed' % (ref.handle, text or fingerprint),
                                      fingerprint, text, hits, rule.expr, rule.comment))
            continue
        if ref.fingerprint and ref.fingerprint != fingerprint:
            decisions.append(Decision(ref, ACTION_CONFLICT, 'handle %d now holds other expressions (%s, fingerprint %s, '
                                      'listed %s)' % (ref.handle, text or '?', fingerprint, ref.fingerprint),
                                      fingerprint, text, hits, rule.expr, rule.comment))
            continue
        decisions.append(Decision(ref, ACTION_REMOVE, 'iptables-nft cannot read it: %s'
                                  % ', '.join('%s (%s)' % (h.what, h.cls) for h in hits),
                                  fingerprint, text, hits, rule.expr, rule.comment))
    return Plan(decisions)


def effects(hits: Sequence[nf.ExprHit]) -> List[str]:
    """What a rule with these hits breaks, and for whom (from the measured table)."""
    out = []  # type: List[str]
    classes = [nf.COMPAT_BY_ID.get(h.cls) for h in hits]
    if any(c is not None and c.check_error is not None for c in classes) or any(c is None for c in classes):
        out.append(HURT_CHECK)
    for listing in (nf.LISTING_ABORTS, nf.LISTING_INCOMPATIBLE, nf.LISTING_LOSSY):
        if any(c is not None and c.listing == listing for c in classes):
            out.append(HURT_LISTING[listing])
            if listing != nf.LISTING_LOSSY:
                break
    return out


def newer_iptables(hits: Sequence[nf.ExprHit]) -> Dict[str, Any]:
    """Whether iptables 1.8.11 reads a rule with these hits: True, False, or None when it was not measured."""
    verdicts = []
    for hit in nf.blocking_hits(hits):
        if hit.what in NEWER_IPTABLES_READS:
            verdicts.append(NEWER_IPTABLES_READS[hit.what])
        else:
            verdicts.append(NEWER_IPTABLES_READS.get(hit.cls))
    if any(v is False for v in verdicts):
        reads = False  # type: Optional[bool]
    elif verdicts and all(v is True for v in verdicts):
        reads = True
    else:
        reads = None
    if reads is True:
        text = 'iptables %s reads it (measured): upgrading the iptables of every component would do' % (
            NEWER_IPTABLES_VERSION)
    elif reads is False:
        text = ('iptables %s still cannot read it (measured): upgrading iptables does not help'
                % NEWER_IPTABLES_VERSION)
    else:
        text = 'not measured with iptables %s: assume upgrading iptables does not help' % NEWER_IPTABLES_VERSION
    return {'version': NEWER_IPTABLES_VERSION, 'reads': reads, 'summary': text}


# ---------------------------------------------------------------------------------------------------------------------
# Texts: transaction, undo, backup names

def transaction_text(plan: Plan) -> str:
    """One ``nft -f`` file deleting every rule to remove (empty when there is none)."""
    lines = ['delete rule %s %s %s handle %d' % (d.ref.family, d.ref.table, nft_name(d.ref.chain), d.ref.handle)
             for d in plan.remove]
    return ''.join(line + '\n' for line in lines)


def _undo_rule(decision: Decision, anchor: Optional[int]) -> Dict[str, Any]:
    body = {'family': decision.ref.family, 'table': decision.ref.table, 'chain': decision.ref.chain}  # type: Dict[str, Any]
    if anchor is not None:
        body['handle'] = anchor
    body['expr'] = copy.deepcopy(decision.expr)
    if decision.comment is not None:
        body['comment'] = decision.comment
    return body


def undo_commands(plan: Plan, chains: Dict[Tuple[str, str, str], ChainState]) -> List[Dict[str, Any]]:
    """The ``nft -j`` commands that put every removed rule back where it was, anchored on the handles of kept rules.

    Built from the rules' JSON (``nft -j list chain``), never from their text: nft prints a comment unescaped, so a
    rule text is not safe to feed back to ``nft -f`` (a comment holding ``"; delete table ...`` would run as a
    command).

    Measured with nftables 1.0.6: in JSON an ``insert`` of a rule with a ``handle`` lands right before that rule,
    but an ``add`` ignores its ``handle`` (and ``position``) and appends to the chain, although libnftables-json(5)
    (nftables doc/libnftables-json.adoc, "RULE") documents both as anchors. So a run of removed rules followed by a
    kept rule B is re-inserted before B, in order; a run at the tail of a chain (no kept rule after it) is appended
    in order with a plain ``add``.
    """
    by_key = dict((d.ref.key, d) for d in plan.remove)
    commands = []  # type: List[Dict[str, Any]]
    for key in plan.affected_chains():
        state = chains[key]
        family, table, chain = key
        rules = state.rules
        index = 0
        while index < len(rules):
            if (family, table, chain, rules[index].handle) not in by_key:
                index += 1
                continue
            start = index
            while index < len(rules) and (family, table, chain, rules[index].handle) in by_key:
                index += 1
            run = [by_key[(family, table, chain, r.handle)] for r in rules[start:index]]
            after = rules[index].handle if index < len(rules) else None
            for decision in run:
                if after is not None:
                    commands.append({'insert': {'rule': _undo_rule(decision, after)}})
                else:
                    commands.append({'add': {'rule': _undo_rule(decision, None)}})
    return commands


UNDO_METAINFO = {'metainfo': {'json_schema_version': 1}}


def undo_text(plan: Plan, chains: Dict[Tuple[str, str, str], ChainState]) -> str:
    """The undo file: ``nft -j -f`` input (one transaction). JSON has no comments: README.txt beside it says what
    it restores. ``nft -f`` without ``-j`` refuses it with a syntax error (it never half-runs)."""
    document = {'nftables': [UNDO_METAINFO] + undo_commands(plan, chains)}
    return json.dumps(document, indent=1, sort_keys=True) + '\n'


def validation_text(plan: Plan) -> str:
    """What ``nft -c -j -f`` checks before anything is removed: every rule of the undo file as a plain ``add``
    (no anchor), so that nft and the kernel check each rule's expressions and comment.

    The anchors are left out on purpose: ``check_undo`` proves each is a kept rule of the chain just read, and an
    anchored insert makes nft 1.0.6 load every rule of every table into its cache first (measured with 100k
    iptables-nft rules in another table: 67 to 137 s for ``nft -c`` of one anchored insert, 0.5 s unanchored).
    """
    commands = [{'add': {'rule': _undo_rule(decision, None)}} for decision in plan.remove]
    return json.dumps({'nftables': [UNDO_METAINFO] + commands}, sort_keys=True) + '\n'


def check_undo(text: str, plan: Plan, chains: Dict[Tuple[str, str, str], ChainState]) -> None:
    """Parse the undo file back and prove it restores exactly the removed rules and does nothing else.

    Every command must be an ``add``/``insert`` of one rule into a chain a rule is removed from, anchored (if at all)
    on a kept rule of that chain, with the expressions and comment of a removed rule; every removed rule must come
    back exactly once. ConflictError names the first difference (nothing is then removed).
    """
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ConflictError('the undo file is not JSON (%s): nothing was removed' % exc)
    items = document.get('nftables') if isinstance(document, dict) else None
    if not isinstance(items, list) or not items or items[0] != UNDO_METAINFO:
        raise ConflictError('the undo file does not start with its metainfo object: nothing was removed')
    wanted = {}  # type: Dict[str, List[RuleRef]]
    for decision in plan.remove:
        body = _undo_rule(decision, None)
        wanted.setdefault(json.dumps(body, sort_keys=True), []).append(decision.ref)
    removed_keys = set(d.ref.key for d in plan.remove)
    kept = {}  # type: Dict[Tuple[str, str, str], set]
    for key in plan.affected_chains():
        kept[key] = set(r.handle for r in chains[key].rules if key + (r.handle,) not in removed_keys)
    for position, item in enumerate(items[1:], 1):
        where = 'undo command %d' % position
        if not isinstance(item, dict) or len(item) != 1 or next(iter(item)) not in ('add', 'insert'):
            raise ConflictError('%s is not one add/insert: nothing was removed' % where)
        verb, inner = next(iter(item.items()))
        if not isinstance(inner, dict) or list(inner) != ['rule'] or not isinstance(inner['rule'], dict):
            raise ConflictError('%s: %s of something else than one rule: nothing was removed' % (where, verb))
        body = dict(inner['rule'])
        if set(body) - set(('family', 'table', 'chain', 'handle', 'expr', 'comment')):
            raise ConflictError('%s: unexpected keys %s: nothing was removed' % (
                where, ', '.join(sorted(set(body) - set(('family', 'table', 'chain', 'handle', 'expr', 'comment'))))))
        chain_key = (body.get('family'), body.get('table'), body.get('chain'))
        if chain_key not in kept:
            raise ConflictError('%s: into %r, not a chain a rule is removed from: nothing was removed' % (
                where, chain_key))
        anchor = body.pop('handle', None)
        if anchor is not None and anchor not in kept[chain_key]:
            raise ConflictError('%s: anchored on handle %r, not a kept rule of %s %s %s: nothing was removed'
                                % ((where, anchor) + chain_key))
        if (anchor is None) != (verb == 'add'):
            raise ConflictError('%s: %s %s an anchor (nft 1.0.6 ignores the anchor of an add): nothing was removed'
                                % (where, verb, 'with' if verb == 'add' else 'without'))
        refs = wanted.get(json.dumps(body, sort_keys=True))
        if not refs:
            raise ConflictError('%s does not give back a removed rule exactly: nothing was removed' % where)
        refs.pop()
    left = [r.label() for refs in wanted.values() for r in refs]
    if left:
        raise ConflictError('the undo file does not restore %s: nothing was removed' % ', '.join(left))


def readme_text(plan: Plan, stamp: str, undo_name: str) -> str:
    """README.txt of a backup directory: what was removed, how to undo. Labels and fingerprints only (a rule text
    or comment can hold anything, so none is copied here)."""
    lines = ['kubenode.netfilter.nft_conflicts backup, written %s before removing:' % stamp]
    for decision in plan.remove:
        lines.append('  %s (%s)' % (decision.ref.label(), decision.fingerprint))
    lines.extend([
        '',
        'Undo: nft -j -f %s   (JSON, one transaction: it fails as a whole if a rule it anchors on is gone)' % undo_name,
        'The rules come back with new handles, at the same place relative to the rules that were kept.',
        '<family>-<table>.nft / .json: each table a rule was removed from, before the removal (nft -a list table,',
        'nft -j list table; the only tables the removal touches). For reading: nft cannot load iptables-nft\'s own',
        'xtables expressions back, so these are no restore files.',
    ])
    return '\n'.join(lines) + '\n'


def backup_names(stamp: str) -> Dict[str, str]:
    """File names inside the per-run backup directory ``nft-conflicts-<stamp>``."""
    return {'directory': 'nft-conflicts-%s' % stamp, 'undo': 'undo.json', 'transaction': 'delete.nft',
            'readme': 'README.txt'}


def table_backup_names(family: str, table: str) -> Dict[str, str]:
    """The backup of one affected table: ``<family>-<table>.nft`` (``nft -a list table``) and ``.json``
    (``nft -j list table``). Family and table are validated names (ip/ip6, iptables' tables)."""
    return {'text': '%s-%s.nft' % (family, table), 'json': '%s-%s.json' % (family, table)}


# ---------------------------------------------------------------------------------------------------------------------
# Verification

def ruleset_index(json_text: Any, what: str = 'nft -j list ruleset') -> Dict[Tuple[Any, ...], Any]:
    """Every object of an ``nft -j list ruleset`` keyed by identity, valued by a digest of its normalised body
    (counters and run-time state aside). Rules are keyed by family, table, chain and handle. Read one object at a
    time and kept as digests, so 100k rules cost a few MB, not the whole tree twice."""
    out = {}  # type: Dict[Tuple[Any, ...], Any]
    for kind, body in iter_nft_items(json_text, what):
        if kind == 'metainfo':
            continue
        if kind == 'rule':
            key = ('rule', body.get('family'), body.get('table'), body.get('chain'), body.get('handle'))
        else:
            key = (kind, body.get('family'), body.get('table'), body.get('name'), body.get('handle'))
        key = tuple(k if isinstance(k, (str, int)) or k is None else repr(k) for k in key)
        text = json.dumps(_strip_volatile(body), sort_keys=True, separators=(',', ':'))
        out[key] = hashlib.sha256(text.encode('utf-8')).digest()
    return out


def describe_key(key: Tuple[Any, ...]) -> str:
    if key[0] == 'rule':
        return 'rule %s %s %s handle %s' % key[1:]
    return '%s %s' % (key[0], ' '.join(str(k) for k in key[1:4] if k is not None))


def ruleset_changes(before: Dict[Tuple[Any, ...], Any], after: Dict[Tuple[Any, ...], Any],
                    removed: Sequence[RuleRef]) -> List[str]:
    """Differences between two ruleset indexes other than the removal of exactly ``removed`` (empty: as planned)."""
    gone = set(('rule',) + r.key for r in removed)
    problems = []
    for key in before:
        if key in gone:
            if key in after:
                problems.append('%s is still there' % describe_key(key))
            continue
        if key not in after:
            problems.append('%s disappeared' % describe_key(key))
        elif after[key] != before[key]:
            problems.append('%s changed' % describe_key(key))
    for key in after:
        if key not in before:
            problems.append('%s appeared' % describe_key(key))
    return problems


def diff_after(text: str, removed_handles: Sequence[int]) -> str:
    """``nft -a list table`` text without the lines of the rules to remove (check mode's predicted "after")."""
    drop = set(removed_handles)
    out = []
    for line in text.splitlines(True):
        match = re.search(r'# handle (\d+)\s*$', line)
        if match and int(match.group(1)) in drop and not line.lstrip().startswith(('chain ', 'table ')):
            continue
        out.append(line)
    return ''.join(out)


# ---------------------------------------------------------------------------------------------------------------------
# Commands: a deadline for each, output to a file (never concatenated in memory), a cap on what is read back

# nft -j list table of 100k iptables-nft rules took 37 s on a loaded 2-core test machine (bench_nft_conflicts.py)
DEFAULT_TIMEOUT = 300
# the most of one command's output read into memory (nft -j of 100k iptables-nft rules: about 40 MB)
MAX_OUTPUT_BYTES = 512 * 1024 * 1024
MAX_STDERR_BYTES = 64 * 1024


@dataclass
class CommandResult:
    """``rc`` is None when the command did not run to its end: ``error`` says why (not started, deadline)."""

    argv: List[str]
    rc: Optional[int]
    stdout: str
    stderr: str
    error: Optional[str] = None
    stdout_file: Any = None

    @property
    def ok(self) -> bool:
        return self.rc == 0 and self.error is None

    def describe(self) -> str:
        if self.error:
            return '%s: %s' % (' '.join(self.argv), self.error)
        return '%s exited %s: %s' % (' '.join(self.argv), self.rc, (self.stderr or self.stdout or '').strip()[:2000])


def run_command(argv: Sequence[str], timeout: float, data: Optional[str] = None, stdout_path: Optional[str] = None,
                max_output: int = MAX_OUTPUT_BYTES, keep_file: bool = False) -> CommandResult:
    """Run ``argv`` (no shell, LC_ALL=C) with a deadline of ``timeout`` seconds for the process and its children.

    Standard output goes to ``stdout_path`` when given (created 0600 with O_EXCL: the caller's backup file, streamed,
    nothing of it read back into memory) or to an anonymous temporary file read back up to ``max_output`` bytes
    (more is an error, never a truncated parse); with ``keep_file`` that file is returned open at its start in
    ``stdout_file`` (the caller closes it) instead of being read. A process still running at the deadline, or a grandchild keeping
    its output open, is killed with its whole process group.
    """
    argv = [str(a) for a in argv]
    env = dict(os.environ)
    env.update({'LC_ALL': 'C', 'LANG': 'C', 'LANGUAGE': 'C'})
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as inp:
        if data is not None:
            inp.write(data.encode('utf-8'))
            inp.seek(0)
        if stdout_path is not None:
            try:
                out_fd = os.open(stdout_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except OSError as exc:
                return CommandResult(argv, None, '', '', error='cannot create %s: %s' % (stdout_path, exc))
            out = os.fdopen(out_fd, 'w+b')  # type: Any
        else:
            out = tempfile.TemporaryFile()
        keep = None
        with out:
            try:
                proc = subprocess.Popen(argv, stdin=inp if data is not None else subprocess.DEVNULL, stdout=out,
                                        stderr=err, env=env, close_fds=True, start_new_session=True)
            except OSError as exc:
                return CommandResult(argv, None, '', '', error='cannot run %s: %s' % (argv[0], exc.strerror or exc))
            error = None
            try:
                rc = proc.wait(timeout=timeout)  # type: Optional[int]
            except subprocess.TimeoutExpired:
                rc = None
                error = 'no answer within the deadline of %s s (timeout): killed' % timeout
            finally:
                kill_group(proc)
            err.seek(0)
            stderr = err.read(MAX_STDERR_BYTES).decode('utf-8', 'replace')
            if stdout_path is not None:
                return CommandResult(argv, rc, '', stderr, error)
            size = out.seek(0, os.SEEK_END)
            if size > max_output:
                return CommandResult(argv, rc, '', stderr, error or 'printed %d bytes, more than the cap of %d'
                                     % (size, max_output))
            out.seek(0)
            if keep_file:
                keep = os.fdopen(os.dup(out.fileno()), 'rb')
                stdout = ''
            else:
                stdout = out.read().decode('utf-8', 'replace')
    return CommandResult(argv, rc, stdout, stderr, error, keep)


# ---------------------------------------------------------------------------------------------------------------------
# The role's report and re-verification (called through the nft_conflicts_* filters; pure, unit-tested)

REF_KEYS = ('family', 'table', 'chain', 'handle')


FIX_OWN_TABLE = ('configure the tool that wrote it to keep its rules in a table of its own (for Netbird and similar '
                 'tools: a table of their own in family inet); moving the rule yourself is no fix, an accept in '
                 'another table does not override a drop here')
NEVER_FLUSH = 'never flush the whole ruleset: that deletes every firewall rule of the host'
_IMAGE_IPTABLES_RE = re.compile(r'-iptables([0-9]+(?:[.][0-9]+)+)(?:-|$)')


def _mapping_list(name: str, value: Any) -> List[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise ConflictError('%s must be a list, got %s' % (name, type(value).__name__))
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise ConflictError('%s[%d] must be a mapping, got %s' % (name, index, type(item).__name__))
    return list(value)


def ref_keys(items: Any, name: str = 'rules') -> List[Dict[str, Any]]:
    """Only family, table, chain and handle of each item (what the module's ``rules`` option takes)."""
    return [dict((k, item.get(k)) for k in REF_KEYS) for item in _mapping_list(name, items)]


def _key(item: Mapping[str, Any]) -> Tuple[Any, ...]:
    """family, table, chain, handle as a hashable key, whatever their types (compared, never trusted)."""
    return tuple(json.dumps(item.get(k), sort_keys=True, default=repr) for k in REF_KEYS)


def report_lines(parse_errors: Any, preview: Any = None, listed: Any = None,
                 preview_error: Optional[str] = None) -> List[str]:
    """The role's report: every rule iptables-nft cannot read (facts' ``iptables_nft_parse_errors``), who is hurt
    (from the module's check-mode ``rules``), and the fixes in order."""
    errors = _mapping_list('iptables_nft_parse_errors', parse_errors)
    previews = dict((_key(p), p) for p in _mapping_list('preview', preview))
    listed_keys = set(_key(item) for item in _mapping_list('listed', listed))
    lines = []  # type: List[str]
    if not errors:
        lines.append('iptables-nft can read all of its tables: no foreign rule in them.')
    for entry in errors:
        p = previews.get(_key(entry), {})
        lines.append('UNREADABLE %s %s chain %s handle %s: "%s" (writer: %s)' % (
            entry.get('family'), entry.get('table'), entry.get('chain'), entry.get('handle'),
            entry.get('rule') or '?', entry.get('writer') or 'unknown'))
        said = entry.get('error') or entry.get('expected_error') or 'incompatible'
        lines.append('  iptables-nft %s says: %s' % (entry.get('iptables_nft_version') or '?',
                                                     str(said).replace('\n', ' / ')))
        expressions = [str(e.get('expression')) for e in _mapping_list('expressions', entry.get('expressions'))]
        lines.append('  expressions: ' + (', '.join(expressions) or 'none named'))
        for hurt in p.get('effects') or []:
            lines.append('  hurts: %s' % hurt)
        lines.append('  fix (1): ' + FIX_OWN_TABLE)
        if entry.get('handle') is not None:
            key = dict((k, entry.get(k)) for k in REF_KEYS)
            if p.get('fingerprint'):
                key['fingerprint'] = p['fingerprint']
            lines.append('  fix (2): this role removes exactly the listed rules: kubenode_nft_conflicts_remediate: '
                         'true with kubenode_nft_conflicts_rules: [%s]%s' % (
                             json.dumps(key, sort_keys=True), ' (listed)' if _key(entry) in listed_keys else ''))
        else:
            lines.append('  fix (2): no rule handle is known for this chain: list the chain with nft -a and name the '
                         'rule')
        newer = p.get('newer_iptables')
        lines.append('  fix (3): ' + (newer.get('summary') if isinstance(newer, Mapping) and newer.get('summary') else
                                      'upgrading iptables is not the general fix (1.8.11 still fails on all but meta '
                                      'mark set)'))
    if preview_error:
        lines.append('could not preview the rules: %s' % preview_error)
    lines.append(NEVER_FLUSH)
    return lines


def version_rows(netfilter: Any, kube_router_image: Optional[str] = None) -> List[List[str]]:
    """[label, version] of the host's iptables-nft, each bundled iptables and the kube-router image's tag."""
    if not isinstance(netfilter, Mapping):
        raise ConflictError('netfilter facts must be a mapping, got %s' % type(netfilter).__name__)
    out = []  # type: List[List[str]]
    host = netfilter.get('iptables_nft')
    if isinstance(host, Mapping) and host.get('version'):
        out.append(['host iptables-nft (%s)' % host.get('path'), str(host['version'])])
    bundled = netfilter.get('bundled') or {}
    if not isinstance(bundled, Mapping):
        raise ConflictError('netfilter.bundled must be a mapping, got %s' % type(bundled).__name__)
    for directory, tools in bundled.items():
        if not isinstance(tools, Mapping):
            continue
        for name in ('iptables-nft', 'xtables-nft-multi', 'iptables'):
            info = tools.get(name)
            if isinstance(info, Mapping) and info.get('version'):
                out.append(['bundled %s/%s' % (directory, name), str(info['version'])])
                break
    if kube_router_image:
        if not isinstance(kube_router_image, str):
            raise ConflictError('kube_router_image must be a string, got %s' % type(kube_router_image).__name__)
        match = _IMAGE_IPTABLES_RE.search(kube_router_image)
        if match:
            out.append(['kube-router image %s' % kube_router_image, match.group(1)])
    return out


def _table_shapes(tables: Any, removed: Sequence[Mapping[str, Any]] = ()) -> List[List[Any]]:
    out = []
    for table in _mapping_list('nft_tables', tables):
        gone = len([r for r in removed if r.get('family') == table.get('family') and r.get('table') == table.get('name')])
        rules = table.get('rules')
        out.append([table.get('family'), table.get('name'), table.get('owner'), table.get('chains'),
                    table.get('hooks'), (rules - gone) if isinstance(rules, int) else None])
    return out


def verify_after(before: Any, after: Any, listed: Any, result: Any) -> Dict[str, Any]:
    """The role's re-verification from the facts before and after a removal and the module's result: no listed rule
    still unreadable, every table with the same chains, hooks and rule count (minus the removed rules), and no other
    change the module saw. ``ok`` and the ``message`` either way."""
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        raise ConflictError('before and after must be netfilter facts (mappings)')
    result = result if isinstance(result, Mapping) else {}
    listed_keys = set(_key(item) for item in _mapping_list('listed', listed))
    left = [e for e in _mapping_list('iptables_nft_parse_errors', after.get('iptables_nft_parse_errors'))
            if _key(e) in listed_keys]
    removed = [r for r in _mapping_list('result.rules', result.get('rules')) if r.get('action') == ACTION_REMOVE]
    shape_before = _table_shapes(before.get('nft_tables'), removed)
    shape_after = _table_shapes(after.get('nft_tables'))
    verification = result.get('verification')
    elsewhere = list(verification.get('elsewhere') or []) if isinstance(verification, Mapping) else []
    ok = not left and shape_before == shape_after and not elsewhere
    backup = result.get('backup') if isinstance(result.get('backup'), Mapping) else {}
    if ok:
        message = ('no listed rule is left unreadable and every other table, chain and rule is unchanged (%d '
                   'unreadable rule(s) remain, none listed)' % len(after.get('iptables_nft_parse_errors') or []))
    else:
        message = ('after the removal: listed rules still unreadable %s; tables before (minus the removed rules) %s; '
                   'tables now %s; other changes seen by the module %s. Undo: nft -j -f %s'
                   % (json.dumps(left, sort_keys=True), json.dumps(shape_before), json.dumps(shape_after),
                      json.dumps(elsewhere), backup.get('undo')))
    return {'ok': ok, 'left': left, 'shape_before': shape_before, 'shape_after': shape_after,
            'elsewhere': elsewhere, 'message': message}
