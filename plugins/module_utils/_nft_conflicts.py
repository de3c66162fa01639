# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Removing named foreign rules from iptables-nft's tables: fingerprints, the plan, the undo file, the transaction.

Pure functions and small dataclasses; the ``nft_conflicts`` module runs ``nft`` and feeds its output in here.
Classification of what iptables-nft cannot read is ``_netfilter.classify_expressions`` (the measured table); this
file only decides what to do with the rules a user listed.

Measured with nftables 1.0.6 (Debian 12), see docs/nft_conflicts.md:
- ``add rule F T C position H RULE`` puts RULE right after the rule with handle H; ``insert rule F T C position H
  RULE`` right before it; ``index N`` also exists but counts rules, which shifts as soon as anything else changes, so
  the undo file uses handles.
- ``nft -c -f FILE`` validates a file against the kernel without committing (a missing position handle fails it).
- ``nft -f`` applies a file as one transaction: either every command or none.
- Chain names outside nft's identifier syntax (e.g. starting with a digit) cannot be written in nft's command
  syntax at all (quoting is refused for chain names in 1.0.6).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

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
        if family not in nf.IPTABLES_FAMILIES:
            bad.append('family must be one of %s (iptables-nft\'s families), got %r'
                       % (', '.join(sorted(nf.IPTABLES_FAMILIES)), family))
        if table not in nf.IPTABLES_TABLES:
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
# Chains as nft lists them

@dataclass
class ChainState:
    """One chain: its rules in order (``nft -j list chain``) and the text of each (``nft -a list chain``)."""

    family: str
    table: str
    chain: str
    exists: bool
    rules: List[nf.NftRule] = field(default_factory=list)
    texts: Dict[int, str] = field(default_factory=dict)

    @property
    def key(self) -> Tuple[str, str, str]:
        return (self.family, self.table, self.chain)

    def rule(self, handle: int) -> Optional[nf.NftRule]:
        for rule in self.rules:
            if rule.handle == handle:
                return rule
        return None


def chain_state(family: str, table: str, chain: str, json_text: Optional[str], text: Optional[str]) -> ChainState:
    """Build a ChainState from ``nft -j list chain`` and ``nft -a list chain`` output; None output: no such chain."""
    if json_text is None:
        return ChainState(family, table, chain, False)
    what = 'nft -j list chain %s %s %s' % (family, table, chain)
    try:
        chains, rules = nf.parse_nft_rules(json_text, what)
    except nf.NetfilterParseError as exc:
        raise ConflictError(str(exc))
    if not any(c.name == chain for c in chains):
        raise ConflictError('%s: the output holds no chain %r' % (what, chain))
    rules = [r for r in rules if r.chain == chain]
    texts = nf.parse_nft_text_handles(text or '')
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
        hits = nf.classify_expressions(rule.expr)
        text = state.texts.get(ref.handle)
        if not hits:
            decisions.append(Decision(ref, ACTION_CONFLICT, 'handle %d now holds a rule iptables-nft can read (%s): it '
                                      'is not the foreign rule that was listed' % (ref.handle, text or fingerprint),
                                      fingerprint, text, hits, rule.expr))
            continue
        if ref.fingerprint and ref.fingerprint != fingerprint:
            decisions.append(Decision(ref, ACTION_CONFLICT, 'handle %d now holds other expressions (%s, fingerprint %s, '
                                      'listed %s)' % (ref.handle, text or '?', fingerprint, ref.fingerprint),
                                      fingerprint, text, hits, rule.expr))
            continue
        if text is None:
            decisions.append(Decision(ref, ACTION_CONFLICT, 'nft -a list chain %s %s %s did not print the rule with '
                                      'handle %d: no undo text for it' % (ref.chain_key + (ref.handle,)),
                                      fingerprint, text, hits, rule.expr))
            continue
        decisions.append(Decision(ref, ACTION_REMOVE, 'iptables-nft cannot read it: %s'
                                  % ', '.join('%s (%s)' % (h.what, h.cls) for h in hits),
                                  fingerprint, text, hits, rule.expr))
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


def undo_commands(plan: Plan, chains: Dict[Tuple[str, str, str], ChainState]) -> List[str]:
    """The ``nft`` commands that put every removed rule back where it was, anchored on the handles of kept rules.

    A run of removed rules after kept rule A is re-added with ``add rule ... position A``, last rule first (each lands
    right after A); a run at the head of a chain with ``insert rule ... position B`` before the first kept rule B, in
    order; a chain left empty with plain ``add rule`` in order.
    """
    removing = set(d.ref.key for d in plan.remove)
    commands = []  # type: List[str]
    for key in plan.affected_chains():
        state = chains[key]
        family, table, chain = key
        name = nft_name(chain)
        rules = state.rules
        index = 0
        while index < len(rules):
            if (family, table, chain, rules[index].handle) not in removing:
                index += 1
                continue
            start = index
            while index < len(rules) and (family, table, chain, rules[index].handle) in removing:
                index += 1
            run = rules[start:index]
            before = rules[start - 1].handle if start > 0 else None
            after = rules[index].handle if index < len(rules) else None
            if before is not None:
                for rule in reversed(run):
                    commands.append('add rule %s %s %s position %d %s' % (family, table, name, before,
                                                                          state.texts[rule.handle]))
            elif after is not None:
                for rule in run:
                    commands.append('insert rule %s %s %s position %d %s' % (family, table, name, after,
                                                                             state.texts[rule.handle]))
            else:
                for rule in run:
                    commands.append('add rule %s %s %s %s' % (family, table, name, state.texts[rule.handle]))
    return commands


def undo_text(plan: Plan, chains: Dict[Tuple[str, str, str], ChainState], stamp: str) -> str:
    """The undo file: an ``nft -f`` file (one transaction) with a header saying what it restores and how."""
    header = [
        '#!/usr/sbin/nft -f',
        '# kubenode.netfilter.nft_conflicts undo file, written %s before removing:' % stamp,
    ]
    for decision in plan.remove:
        header.append('#   %s: %s (%s)' % (decision.ref.label(), decision.rule_text, decision.fingerprint))
    header.extend([
        '# Apply with: nft -f THIS_FILE (one transaction; it fails as a whole if a rule it anchors on is gone).',
        '# The rules come back with new handles, at the same place relative to the rules that were kept.',
    ])
    return '\n'.join(header + undo_commands(plan, chains)) + '\n'


def backup_names(stamp: str) -> Dict[str, str]:
    """File names inside the per-run backup directory ``nft-conflicts-<stamp>``."""
    return {'directory': 'nft-conflicts-%s' % stamp, 'ruleset': 'ruleset.nft', 'ruleset_json': 'ruleset.json',
            'undo': 'undo.nft', 'transaction': 'delete.nft'}


# ---------------------------------------------------------------------------------------------------------------------
# Verification

def ruleset_index(json_text: str, what: str = 'nft -j list ruleset') -> Dict[Tuple[Any, ...], Any]:
    """Every object of an ``nft -j list ruleset`` keyed by identity, values normalised (counters and run-time
    state aside). Rules are keyed by family, table, chain and handle."""
    try:
        data = json.loads(json_text)
    except ValueError as exc:
        raise ConflictError('%s: not JSON (%s)' % (what, exc))
    if not isinstance(data, dict) or not isinstance(data.get('nftables'), list):
        raise ConflictError('%s: JSON without a top-level "nftables" list' % what)
    out = {}  # type: Dict[Tuple[Any, ...], Any]
    for item in data['nftables']:
        if not isinstance(item, dict) or len(item) != 1:
            continue
        kind, body = next(iter(item.items()))
        if kind == 'metainfo' or not isinstance(body, dict):
            continue
        if kind == 'rule':
            key = ('rule', body.get('family'), body.get('table'), body.get('chain'), body.get('handle'))
        else:
            key = (kind, body.get('family'), body.get('table'), body.get('name'), body.get('handle'))
        out[key] = _strip_volatile(body)
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
