# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The preflight fleet report: one object per run, rendered as JSON, JUnit XML and a self-contained HTML page.

Controller-side only (the preflight role's report task, the fleet_report_* filters), stdlib only.

Input (:func:`normalize`) is either of two shapes:

* schema 1, the report object of collection 0.1.0 (and what playbooks may still build themselves)::

    {"generated_at", "collection_version", "proxy_mode", "distribution", "cni": str,
     "hosts": {HOST: {"status": "ok" | "failed" | "unreachable" | "no_data", "error": str | None,
                      "checks": [{"id", "severity", "message", "fix", ["remedy", "kernel_release"]}],
                      ["checked_at": str, "profile": dict]}}}

* schema 2 (``"schema_version": 2``, what :func:`to_json` writes): the same meta keys, a table ``findings`` holding
  each distinct result once (keyed by check id and its parameters: severity, message, fix, remedy, kernel release)
  and per host ``checks``, a list of indexes into that table. See docs/fleet_report.md for the schema.

The normalized form is schema 2 (plain dicts/lists/strings, hosts in natural order, the table sorted by id, each
host's indexes sorted), built in one pass: time and memory are linear in hosts x checks, and every renderer works
from that one object. Unknown keys are dropped; :func:`merge` joins reports of several runs or job slices (newest
result per host wins), :func:`diff` compares a report with a previous one (new errors, fixed).

Host names, messages and fixes come from managed machines and are treated as hostile: the HTML escapes all of them
(the page's script writes text only, the embedded JSON cannot close its ``<script>``), the XML strips characters
XML 1.0 cannot carry.
"""

from __future__ import annotations

import gc
import html
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Dict, List, Optional, Tuple

SCHEMA_VERSION = 2
"""Version of the JSON layout :func:`to_json` writes (1: per host a list of check dicts, collection 0.1.0)."""
SEVERITIES = ('error', 'warning', 'info', 'ok')
"""Check severities, worst first."""
HOST_STATUSES = ('ok', 'failed', 'unreachable', 'no_data')
META_KEYS = ('generated_at', 'collection_version', 'proxy_mode', 'distribution', 'cni')
PROFILE_KEYS = ('proxy_mode', 'distribution', 'distribution_version', 'cni', 'ipv6')
"""What a host was judged against (each with a ``<key>_source``), in the order the report shows them."""
WARNING_MODES = ('skipped', 'pass', 'failure')
"""How :func:`to_junit` renders ``warning`` checks (see there)."""
MIXED = 'mixed'
"""A meta value of a merged report whose parts disagree (e.g. slices run with different kube-proxy modes)."""

HOST_TESTCASE = 'host.status'
"""JUnit test case name for a host that has no checks (unreachable, failed before facts, no data)."""

# Colours of the HTML grid cells. The Chromium test counts these exact pixels: change both together.
COLOURS = {
    'error': '#d1242f',
    'warning': '#e8a317',
    'info': '#4f8fd6',
    'ok': '#2da44e',
    'missing': '#c9ced6',
}

_RANK = {sev: i for i, sev in enumerate(SEVERITIES)}
_XML_ILLEGAL = re.compile('[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]')
_NATURAL = re.compile(r'(\d+)')

Report = Dict[str, Any]


# --------------------------------------------------------------------------------------------------------------------
# validation


def _want_str(value: Any, where: str, allow_none: bool = False, allow_empty: bool = True) -> Optional[str]:
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        kind = 'a string or null' if allow_none else 'a string'
        raise ValueError('%s must be %s, got %s' % (where, kind, type(value).__name__))
    if not allow_empty and not value.strip():
        raise ValueError('%s must not be empty' % where)
    return str(value)


def _want_key(data: Mapping, key: str, where: str) -> Any:
    if key not in data:
        raise ValueError('%s is missing the key %r' % (where, key))
    return data[key]


def _plain(value: Any, where: str) -> Any:
    """A JSON-plain copy (dicts, lists, str, numbers, bools, None) of a remedy or profile value."""
    try:
        return json.loads(json.dumps(value, sort_keys=True))
    except (TypeError, ValueError) as exc:
        raise ValueError('%s must be plain data (JSON): %s' % (where, exc)) from None


def _want_list(value: Any, where: str) -> Sequence:
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError('%s must be a list, got %s' % (where, type(value).__name__))
    return value


class _Table(object):
    """The distinct check results of a report, each once: key (id, severity, message, fix, remedy, kernel) -> index."""

    def __init__(self) -> None:
        self.rows: List[Dict[str, Any]] = []
        self.index: Dict[Tuple, int] = {}

    def add_raw(self, raw: Any, where: str) -> int:
        """The table index of one check result (added when new); ``ValueError`` naming ``where`` when malformed."""
        try:  # fast path: a well-formed check (the common case), validated with a few isinstance tests
            check_id, severity, message, fix = raw['id'], raw['severity'], raw['message'], raw['fix']
            kernel, remedy = raw.get('kernel_release'), raw.get('remedy')
        except (KeyError, TypeError, AttributeError):
            return self._add_checked(raw, where)
        if not (isinstance(check_id, str) and isinstance(severity, str) and severity in _RANK
                and isinstance(message, str) and (fix is None or isinstance(fix, str))
                and (kernel is None or isinstance(kernel, str)) and (remedy is None or isinstance(remedy, Mapping))
                and check_id.strip()):
            return self._add_checked(raw, where)
        remedy_key = None if remedy is None else json.dumps(remedy, sort_keys=True, default=str)
        key = (check_id, severity, message, fix, kernel, remedy_key)
        found = self.index.get(key)
        if found is None:
            found = self._new(key)
        return found

    def _new(self, key: Tuple) -> int:
        check_id, severity, message, fix, kernel, remedy_key = key
        self.index[key] = len(self.rows)
        self.rows.append({'id': str(check_id), 'severity': str(severity), 'message': str(message),
                          'fix': None if fix is None else str(fix),
                          'kernel_release': None if kernel is None else str(kernel),
                          'remedy': None if remedy_key is None else json.loads(remedy_key)})
        return self.index[key]

    def _add_checked(self, raw: Any, where: str) -> int:
        """The slow path: full validation, so that the error names the bad key."""
        if not isinstance(raw, Mapping):
            raise ValueError('%s must be a mapping with id, severity, message, fix; got %s'
                             % (where, type(raw).__name__))
        check_id = _want_str(_want_key(raw, 'id', where), where + '.id', allow_empty=False)
        severity = _want_str(_want_key(raw, 'severity', where), where + '.severity')
        if severity not in _RANK:
            raise ValueError('%s.severity must be one of %s, got %r' % (where, ', '.join(SEVERITIES), severity))
        message = _want_str(_want_key(raw, 'message', where), where + '.message')
        fix = _want_str(_want_key(raw, 'fix', where), where + '.fix', allow_none=True)
        kernel = _want_str(raw.get('kernel_release'), where + '.kernel_release', allow_none=True)
        remedy = raw.get('remedy')
        remedy_key = None
        if remedy is not None:
            if not isinstance(remedy, Mapping):
                raise ValueError('%s.remedy must be a mapping or null, got %s' % (where, type(remedy).__name__))
            remedy_key = json.dumps(remedy, sort_keys=True, default=str)
        key = (check_id, severity, message, fix, kernel, remedy_key)
        found = self.index.get(key)
        return self._new(key) if found is None else found

    def sorted(self) -> Tuple[List[Dict[str, Any]], List[int]]:
        """The rows by id, worst first, then text; and old index -> new index."""
        order = sorted(range(len(self.rows)), key=lambda i: _row_key(self.rows[i]))
        remap = [0] * len(order)
        for new, old in enumerate(order):
            remap[old] = new
        return [self.rows[i] for i in order], remap


def _row_key(row: Mapping) -> Tuple:
    return (row['id'], _RANK[row['severity']], row['message'], row['fix'] or '', row['kernel_release'] or '',
            json.dumps(row['remedy'], sort_keys=True) if row['remedy'] is not None else '')


def _normalize_profile(raw: Any, where: str) -> Optional[Dict[str, Any]]:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ValueError('%s must be a mapping or null, got %s' % (where, type(raw).__name__))
    return _plain(dict(raw), where)


def _host_common(name: str, raw: Any, default_time: Optional[str]) -> Tuple[str, Dict[str, Any]]:
    where = 'hosts[%r]' % name
    if not isinstance(raw, Mapping):
        raise ValueError('%s must be a mapping with status, error, checks; got %s' % (where, type(raw).__name__))
    status = _want_str(_want_key(raw, 'status', where), where + '.status')
    if status not in HOST_STATUSES:
        raise ValueError('%s.status must be one of %s, got %r' % (where, ', '.join(HOST_STATUSES), status))
    error = _want_str(_want_key(raw, 'error', where), where + '.error', allow_none=True)
    checked_at = _want_str(raw.get('checked_at', default_time), where + '.checked_at', allow_none=True)
    profile = _normalize_profile(raw.get('profile'), where + '.profile')
    return where, {'status': status, 'error': error, 'checked_at': checked_at, 'profile': profile}


def normalize(report: Any) -> Report:
    """Validate a fleet report (schema 1 or 2) and return it normalized as schema 2, in one linear pass.

    Raises ``ValueError`` with a message naming the offending key. A normalized report is returned as is (a cheap
    check of its marker), so renderers can be chained without paying twice.
    """
    if isinstance(report, Mapping) and report.get('_normalized') is _MARK:
        return report  # type: ignore[return-value]
    # Building ~100k small objects: the cyclic garbage collector would rescan them over and over (half the time at
    # 3,000 hosts) and none of them forms a cycle; pause it for this pass only.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _normalize(report)
    finally:
        if paused:
            gc.enable()


def _normalize(report: Any) -> Report:
    if not isinstance(report, Mapping):
        raise ValueError('the fleet report must be a mapping with the keys %s, hosts; got %s'
                         % (', '.join(META_KEYS), type(report).__name__))
    out: Report = {'schema_version': SCHEMA_VERSION}
    for key in META_KEYS:
        out[key] = _want_str(_want_key(report, key, 'the fleet report'), key)
    version = report.get('schema_version', 1)
    if version not in (1, 2):
        raise ValueError('schema_version must be 1 or 2, got %r (a report of a newer collection?)' % (version,))
    hosts_raw = _want_key(report, 'hosts', 'the fleet report')
    if not isinstance(hosts_raw, Mapping):
        raise ValueError('hosts must be a mapping of host name to host result, got %s' % type(hosts_raw).__name__)
    table = _Table()
    given: List[int] = []
    if version == 2:
        rows = _want_list(_want_key(report, 'findings', 'the fleet report'), 'findings')
        given = [table.add_raw(row, 'findings[%d]' % i) for i, row in enumerate(rows)]
    hosts: Dict[str, Any] = {}
    for name in hosts_raw:
        if not isinstance(name, str) or not name.strip():
            raise ValueError('hosts: every host name must be a non-empty string, got %r' % (name,))
        raw = hosts_raw[name]
        where, host = _host_common(name, raw, out['generated_at'])
        checks = _want_list(_want_key(raw, 'checks', where), where + '.checks')
        if version == 2:
            refs = []
            for i, ref in enumerate(checks):
                if isinstance(ref, bool) or not isinstance(ref, int) or not 0 <= ref < len(given):
                    raise ValueError('%s.checks[%d] must be an index into findings (0..%d), got %r'
                                     % (where, i, len(given) - 1, ref))
                refs.append(given[ref])
        else:
            refs = [table.add_raw(item, '%s.checks[%d]' % (where, i)) for i, item in enumerate(checks)]
        host['checks'] = refs
        hosts[str(name)] = host
    rows, remap = table.sorted()
    for host in hosts.values():
        host['checks'] = sorted(remap[i] for i in host['checks'])
    out['findings'] = rows
    out['hosts'] = {name: hosts[name] for name in sorted(hosts, key=host_sort_key)}
    out['_normalized'] = _MARK
    return out


class _Marker(object):
    """Identity marker of a normalized report (never serialized: :func:`to_json` drops keys starting with _)."""

    def __repr__(self) -> str:
        return '<normalized>'

    def __deepcopy__(self, memo: Any) -> '_Marker':
        return self


_MARK = _Marker()


def host_sort_key(name: str) -> Tuple:
    """Natural order: ``node2`` before ``node10``."""
    return tuple((0, int(part), '') if part.isdigit() else (1, 0, part.lower())
                 for part in _NATURAL.split(name) if part) + ((1, 0, name),)


def expand(report: Any) -> Report:
    """The schema 1 view of a report: per host the list of check dicts (for scripts and older consumers)."""
    data = normalize(report)
    rows = data['findings']
    out = {key: data[key] for key in META_KEYS}
    out['hosts'] = {}
    for name, host in data['hosts'].items():
        entry = {key: value for key, value in host.items() if key != 'checks'}
        entry['checks'] = [dict(rows[i]) for i in host['checks']]
        out['hosts'][name] = entry
    return out


# --------------------------------------------------------------------------------------------------------------------
# shared views


def merged_checks(report: Report, host: Mapping) -> Dict[str, Dict[str, Any]]:
    """One entry per check id of a normalized host: the worst severity, its table rows (``items``) and indexes."""
    rows = report['findings']
    cells: Dict[str, Dict[str, Any]] = {}
    for ref in host['checks']:
        row = rows[ref]
        cell = cells.get(row['id'])
        if cell is None:
            cells[row['id']] = {'severity': row['severity'], 'items': [row], 'refs': [ref]}
            continue
        if _RANK[row['severity']] < _RANK[cell['severity']]:
            cell['severity'] = row['severity']
        cell['items'].append(row)
        cell['refs'].append(ref)
    return cells


def host_verdict(report: Report, host: Mapping) -> str:
    """``error`` / ``warning`` / ``info`` / ``ok`` from the worst check, ``unverified`` when the host has none."""
    if not host['checks']:
        return 'unverified'
    rows = report['findings']
    return SEVERITIES[min(_RANK[rows[i]['severity']] for i in host['checks'])]


def host_reason(name: str, host: Mapping) -> str:
    """Why a host has no checks, for the grid row and the JUnit error."""
    text = {
        'unreachable': 'host unreachable',
        'failed': 'preflight failed on the host before findings were computed',
        'no_data': 'no preflight data for this host',
        'ok': 'no checks were evaluated for this host',
    }[host['status']]
    if host['error']:
        text += ': ' + host['error']
    return text


def host_profile(report: Report, host: Mapping) -> Dict[str, Any]:
    """What the host was judged against: its own profile, else the report's (run-wide variables) values."""
    profile = host.get('profile')
    if profile:
        return profile
    return {'proxy_mode': report['proxy_mode'], 'proxy_mode_source': 'variable', 'distribution': report['distribution'],
            'distribution_source': 'variable', 'cni': report['cni'], 'cni_source': 'variable'}


def profile_label(profile: Mapping) -> str:
    """``iptables, k3s v1.31.2+k3s1, flannel, IPv6`` (what the host was judged against, short)."""
    parts = [str(profile.get('proxy_mode') or '?')]
    dist = str(profile.get('distribution') or '?')
    if profile.get('distribution_version'):
        dist += ' ' + str(profile['distribution_version'])
    parts.append(dist)
    parts.append(str(profile.get('cni') or '?'))
    if profile.get('ipv6') is True:
        parts.append('IPv6')
    return ', '.join(parts)


def profile_sources(profile: Mapping) -> str:
    """``proxy_mode from /etc/rancher/k3s/config.yaml; cni assumed (default)`` for the details panel / JUnit."""
    assumed = set(profile.get('assumed') or ())
    parts = []
    for key in PROFILE_KEYS:
        if key not in profile:
            continue
        value = profile[key]
        text = '%s=%s' % (key, json.dumps(value) if not isinstance(value, str) else value)
        source = profile.get(key + '_source')
        if source:
            text += ' (from %s)' % source
        if key in assumed:
            text += ' [assumed: default]'
        parts.append(text)
    if profile.get('mismatch'):  # the explicit choice differs from what the node itself says
        parts.append('differs from the node: %s' % json.dumps(profile['mismatch'], sort_keys=True))
    return '; '.join(parts)


def columns(report: Report) -> List[str]:
    """The union of the check ids over all hosts, sorted (the table is sorted by id)."""
    out: List[str] = []
    for row in report['findings']:
        if not out or out[-1] != row['id']:
            out.append(row['id'])
    return out


def summarize(report: Report) -> Dict[str, Any]:
    """Counts of a normalized report: checks per severity (per check id and host), hosts per status, per host."""
    rows = report['findings']
    totals = {sev: 0 for sev in SEVERITIES}
    statuses = {st: 0 for st in HOST_STATUSES}
    per_host: Dict[str, Dict[str, Any]] = {}
    for name, host in report['hosts'].items():
        statuses[host['status']] += 1
        counts = {sev: 0 for sev in SEVERITIES}
        last_id, worst = None, None
        for ref in host['checks']:  # sorted by id: one pass, worst severity per id
            row = rows[ref]
            if row['id'] != last_id:
                if worst is not None:
                    counts[worst] += 1
                last_id, worst = row['id'], row['severity']
            elif _RANK[row['severity']] < _RANK[worst]:
                worst = row['severity']
        if worst is not None:
            counts[worst] += 1
        for sev in SEVERITIES:
            totals[sev] += counts[sev]
        verdict = 'unverified' if not host['checks'] else next(s for s in SEVERITIES if counts[s])
        per_host[name] = dict(counts, status=host['status'], verdict=verdict)
    return {'hosts': len(report['hosts']), 'host_status': statuses, 'checks': totals, 'per_host': per_host,
            'distinct_results': len(rows)}


# --------------------------------------------------------------------------------------------------------------------
# merge and diff


def _timestamp_key(value: Optional[str]) -> Tuple:
    """Sort key of an ISO 8601 time; unparsable or missing times sort first (oldest)."""
    from datetime import datetime, timezone  # local: only merge needs it
    if not value:
        return (0, 0.0)
    try:
        parsed = datetime.fromisoformat(value.replace('Z', '+00:00'))
    except ValueError:
        return (0, 0.0)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return (1, parsed.timestamp())


def load(report: Any, where: str = 'the report') -> Report:
    """A report given as a dict or as the text of a JSON report file -> normalized."""
    if isinstance(report, (str, bytes)):
        try:
            report = json.loads(report)
        except ValueError as exc:
            raise ValueError('%s is not valid JSON: %s' % (where, exc)) from None
    try:
        return normalize(report)
    except ValueError as exc:
        raise ValueError('%s: %s' % (where, exc)) from None


def merge(reports: Any) -> Report:
    """Several reports (dicts or JSON texts; runs, serial batches, AWX job slices) -> one normalized report.

    Per host the newest result wins (its ``checked_at``, else its report's ``generated_at``; on a tie the later
    report in the list), except that a checked host (any status but ``no_data``) always beats ``no_data`` (a later
    serial batch's placeholder, a slice that never reached the host). Each host keeps its own ``checked_at``.
    The merged meta values are the reports' common value, or ``mixed``; ``generated_at`` is the newest. A host
    without its own ``profile`` gets one from its report's meta when the meta values are mixed, so what it was
    judged against is not lost.
    """
    if isinstance(reports, (str, bytes, Mapping)) or not isinstance(reports, Sequence):
        raise ValueError('the input must be a list of reports (dicts or JSON texts), got %s' % type(reports).__name__)
    if not reports:
        raise ValueError('the list of reports is empty')
    loaded = [load(item, 'reports[%d]' % i) for i, item in enumerate(reports)]
    meta: Dict[str, Any] = {}
    for key in META_KEYS[1:]:
        values = {data[key] for data in loaded}
        meta[key] = values.pop() if len(values) == 1 else MIXED
    meta['generated_at'] = max((data['generated_at'] for data in loaded), key=_timestamp_key)
    best: Dict[str, Tuple[Tuple, int, Mapping]] = {}
    for i, data in enumerate(loaded):
        for name, host in data['hosts'].items():
            key = (host['status'] != 'no_data', _timestamp_key(host['checked_at']), i)
            if name not in best or key >= best[name][0]:
                best[name] = (key, i, host)
    mixed = any(meta[key] == MIXED for key in ('proxy_mode', 'distribution', 'cni'))
    hosts = {}
    for name, (_key, i, host) in best.items():
        rows = loaded[i]['findings']
        entry = {k: v for k, v in host.items() if k != 'checks'}
        if mixed and not entry.get('profile'):
            entry['profile'] = host_profile(loaded[i], host)
            for key in ('proxy_mode', 'distribution', 'cni'):
                entry['profile'][key + '_source'] = 'report of %s' % loaded[i]['generated_at']
        entry['checks'] = [rows[ref] for ref in host['checks']]
        hosts[name] = entry
    return normalize(dict(meta, hosts=hosts))


def _errors(report: Report, host: Mapping) -> Dict[str, str]:
    """check id -> worst severity, of one host."""
    rows = report['findings']
    out: Dict[str, str] = {}
    for ref in host['checks']:
        row = rows[ref]
        sev = out.get(row['id'])
        if sev is None or _RANK[row['severity']] < _RANK[sev]:
            out[row['id']] = row['severity']
    return out


def diff(current: Any, previous: Any) -> Dict[str, Any]:
    """What changed since ``previous`` (a report: dict or JSON text): new errors and fixed errors, per host and check.

    A check is a *new error* when it is an error now and was not one in the previous report (another severity,
    not evaluated, or the host was not in it or not verified); *fixed* when it was an error then and is evaluated now
    with another severity. A host is *new_error* when its verdict is error now and was not, *fixed* when it was
    error then and is verified now without errors. Hosts whose errors stay the same are not listed.
    """
    cur = normalize(current)
    prev = load(previous, 'the previous report')
    hosts: Dict[str, Dict[str, Any]] = {}
    totals = {'new_errors': 0, 'fixed': 0, 'hosts_new_error': 0, 'hosts_fixed': 0}
    for name, host in cur['hosts'].items():
        before_host = prev['hosts'].get(name)
        now = _errors(cur, host)
        before = _errors(prev, before_host) if before_host is not None else {}
        new = sorted(cid for cid, sev in now.items() if sev == 'error' and before.get(cid) != 'error')
        fixed = sorted(cid for cid, sev in before.items() if sev == 'error' and cid in now and now[cid] != 'error')
        verdict = host_verdict(cur, host)
        was = host_verdict(prev, before_host) if before_host is not None else 'absent'
        change = None
        if verdict == 'error' and was != 'error':
            change = 'new_error'
        elif was == 'error' and verdict not in ('error', 'unverified'):
            change = 'fixed'
        if new or fixed or change:
            hosts[name] = {'previous_verdict': was, 'verdict': verdict, 'change': change, 'new_errors': new,
                           'fixed': fixed}
            totals['new_errors'] += len(new)
            totals['fixed'] += len(fixed)
            totals['hosts_new_error'] += change == 'new_error'
            totals['hosts_fixed'] += change == 'fixed'
    removed = sorted((name for name in prev['hosts'] if name not in cur['hosts']), key=host_sort_key)
    added = [name for name in cur['hosts'] if name not in prev['hosts']]
    return dict(totals, previous_generated_at=prev['generated_at'], hosts=hosts, added=added, removed=removed)


# --------------------------------------------------------------------------------------------------------------------
# JSON


def _json_block(value: Any, indent: str, depth: int) -> str:
    """Indented JSON down to ``depth`` levels, each deeper value on one line (a host, a table row, per line)."""
    if depth <= 0 or not isinstance(value, (dict, list)) or not value:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    inner = indent + '  '
    if isinstance(value, dict):
        items = ['%s%s: %s' % (inner, json.dumps(k, ensure_ascii=False), _json_block(value[k], inner, depth - 1))
                 for k in sorted(value)]
        return '{\n' + ',\n'.join(items) + '\n' + indent + '}'
    items = [inner + _json_block(v, inner, depth - 1) for v in value]
    return '[\n' + ',\n'.join(items) + '\n' + indent + ']'


def to_dict(report: Any, previous: Any = None) -> Report:
    """The report as written to JSON: normalized (schema 2), its ``summary``, and ``diff`` when given a previous."""
    data = normalize(report)
    out = {key: value for key, value in data.items() if not key.startswith('_')}
    out['summary'] = summarize(data)
    if previous is not None:
        out['diff'] = diff(data, previous)
    return out


def to_json(report: Any, previous: Any = None) -> str:
    """The report as JSON (schema 2): keys sorted, one line per host and per table row; ends with a newline.

    ``summary`` and ``diff`` are ignored when the JSON is read back, so the output is valid input to every renderer.
    """
    out = to_dict(report, previous)
    depth = {'summary': 2, 'diff': 2}
    parts = ['  %s: %s' % (json.dumps(key), _json_block(out[key], '  ', depth.get(key, 1))) for key in sorted(out)]
    return '{\n' + ',\n'.join(parts) + '\n}\n'


# --------------------------------------------------------------------------------------------------------------------
# JUnit


def _xml_text(value: Optional[str]) -> str:
    return _XML_ILLEGAL.sub('\ufffd', value or '')


def _xml_body(value: Optional[str]) -> str:
    """Element text: characters XML 1.0 cannot carry replaced, markup escaped."""
    return _xml_text(value).replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')


def _xml_attr(value: Optional[str]) -> str:
    """A double-quoted attribute value (line breaks and tabs kept as character references)."""
    return (_xml_body(value).replace('"', '&quot;').replace('\n', '&#10;').replace('\r', '&#13;')
            .replace('\t', '&#09;'))


def _item_text(item: Mapping) -> str:
    text = '%s: %s' % (item['severity'].upper(), item['message'])
    if item.get('kernel_release'):
        text += '\nkernel: %s (installed, not the running one)' % item['kernel_release']
    if item['fix']:
        text += '\nfix: %s' % item['fix']
    return text


def _detail(items: List[Mapping]) -> str:
    return '\n\n'.join(_item_text(item) for item in items)


def to_junit(report: Any, warnings: str = 'skipped') -> str:
    """JUnit XML: one ``<testsuite>`` per host, one ``<testcase classname=HOST name=CHECK_ID>`` per requirement.

    Layout. A ``<testsuites>`` root with one ``<testsuite name=HOST>`` per host, and every test case also carries
    ``classname=HOST``. GitLab's parser takes the suite column from the ``<testsuite>`` name and shows the class name
    beside the test name; Jenkins' JUnit plugin ignores suite names and groups by ``classname``; the GitHub Actions
    reporters (dorny/test-reporter, EnricoMi/publish-unit-test-result-action, mikepenz/action-junit-report) group by
    suite and name tests by ``classname`` + ``name``. Setting both keeps the host visible, and one group per host, in
    all of them. The test case name is the check id, plus ``[PROFILE]`` (``[iptables, k3s, flannel]``) when the host
    carries its own profile: the identity of a test is stable while the host is judged against the same thing, so
    GitLab's "newly failed / fixed" comparison works. Caveat: Jenkins splits ``classname`` at its last dot into
    package and class, so an FQDN ``web1.example.com`` shows as package ``web1.example``, class ``com``.

    Severities. ``error`` -> ``<failure type="error">`` (the message and fix as text, the message as attribute);
    ``ok`` -> a passing test case; ``info`` -> passing, message and fix in ``<system-out>``. ``warning`` depends on
    ``warnings``:

    - ``skipped`` (default): ``<skipped message=...>`` with message and fix. Warnings must be visible without failing
      CI, and a passing test case does not show its ``<system-out>`` in GitLab (its parser keeps output only for
      failed, errored and skipped cases); every reporter counts and lists skipped tests, none fails a build on them.
    - ``pass``: a passing test case with the text in ``<system-out>`` (Jenkins and the GitHub reporters show it).
    - ``failure``: ``<failure type="warning">``, for pipelines that gate on warnings (``kubenode_preflight_fail_on:
      warning``).

    Every non-ok test case also has ``<properties><property name="severity" value=.../></properties>``.
    A host without checks (unreachable, failed before facts, no data) becomes one test case named ``host.status``
    with ``<error type=STATUS>`` saying why: the requirements of that host were not verified.
    """
    if warnings not in WARNING_MODES:
        raise ValueError('warnings must be one of %s, got %r' % (', '.join(WARNING_MODES), warnings))
    data = normalize(report)
    rows = data['findings']
    # Written as text, not through ElementTree: 100k test cases in a few hundred ms. Every text is escaped once
    # per distinct value (host names, check ids, the table's texts are cached), so the cost stays linear.
    attr_cache: Dict[str, str] = {}

    def attr(value: str) -> str:
        got = attr_cache.get(value)
        if got is None:
            got = attr_cache[value] = _xml_attr(value)
        return got

    details: Dict[Tuple[int, ...], Tuple[str, str]] = {}
    totals = {'tests': 0, 'failures': 0, 'errors': 0, 'skipped': 0}
    suites: List[str] = []
    for name, host in data['hosts'].items():
        xname = attr(name)
        profile = host_profile(data, host)
        props = ['      <property name="collection_version" value="%s" />\n' % attr(data['collection_version'])]
        for key in ('proxy_mode', 'distribution', 'cni'):
            props.append('      <property name="%s" value="%s" />\n' % (key, attr(str(profile.get(key) or ''))))
        props.append('      <property name="host_status" value="%s" />\n' % host['status'])
        if host.get('profile'):
            props.append('      <property name="profile" value="%s" />\n' % attr(profile_sources(profile)))
        suffix = ' [%s]' % profile_label(profile) if host.get('profile') else ''
        counts = {'tests': 0, 'failures': 0, 'errors': 0, 'skipped': 0}
        cases: List[str] = []
        if not host['checks']:
            reason = host_reason(name, host)
            cases.append('    <testcase classname="%s" name="%s" time="0">\n'
                         '      <error type="%s" message="%s">%s</error>\n    </testcase>\n'
                         % (xname, HOST_TESTCASE, host['status'], attr(reason), _xml_body(reason)))
            counts['tests'] += 1
            counts['errors'] += 1
        for check_id, cell in merged_checks(data, host).items():
            counts['tests'] += 1
            xid = attr(check_id + suffix)
            severity = cell['severity']
            if severity == 'ok':
                cases.append('    <testcase classname="%s" name="%s" time="0" />\n' % (xname, xid))
                continue
            key = tuple(cell['refs'])
            text = details.get(key)
            if text is None:
                text = details[key] = (_xml_body(_detail(cell['items'])), attr(cell['items'][0]['message']))
            detail, first = text
            head = ('    <testcase classname="%s" name="%s" time="0">\n      <properties>\n'
                    '        <property name="severity" value="%s" />\n      </properties>\n' % (xname, xid, severity))
            if severity == 'error' or (severity == 'warning' and warnings == 'failure'):
                body = '      <failure type="%s" message="%s">%s</failure>\n' % (severity, first, detail)
                counts['failures'] += 1
            elif severity == 'warning' and warnings == 'skipped':
                body = '      <skipped message="WARNING: %s">%s</skipped>\n' % (first, detail)
                counts['skipped'] += 1
            else:
                body = '      <system-out>%s</system-out>\n' % detail
            cases.append(head + body + '    </testcase>\n')
        timestamp = attr(host['checked_at'] or data['generated_at'])
        suites.append('  <testsuite name="%s" hostname="%s" timestamp="%s" tests="%d" failures="%d" errors="%d" '
                      'skipped="%d" time="0">\n    <properties>\n%s    </properties>\n%s  </testsuite>\n'
                      % (xname, xname, timestamp, counts['tests'], counts['failures'], counts['errors'],
                         counts['skipped'], ''.join(props), ''.join(cases)))
        for key, value in counts.items():
            totals[key] += value
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="kubenode.netfilter preflight" tests="%d" '
            'failures="%d" errors="%d" skipped="%d" time="0">\n%s</testsuites>\n'
            % (totals['tests'], totals['failures'], totals['errors'], totals['skipped'], ''.join(suites)))


# --------------------------------------------------------------------------------------------------------------------
# HTML

_CSS = """
:root { --error: %(error)s; --warning: %(warning)s; --info: %(info)s; --ok: %(ok)s; --missing: %(missing)s;
        --fg: #1f2328; --muted: #59636e; --line: #d8dee4; --bg: #f6f8fa; --new: #1f2328; --fixed: #8250df; }
* { box-sizing: border-box; }
html, body { height: 100%%; }
body { margin: 0; font: 14px/1.45 "DejaVu Sans", system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
       background: #fff; display: flex; flex-direction: column; }
header { flex: none; padding: 12px 24px 10px; border-bottom: 1px solid var(--line); background: var(--bg); }
h1 { font-size: 20px; margin: 0 0 4px; }
.meta { color: var(--muted); font-size: 13px; }
.meta b { color: var(--fg); font-weight: 600; }
.tiles { display: flex; flex-wrap: wrap; gap: 10px; margin-top: 10px; }
.tile { border: 1px solid var(--line); border-radius: 6px; background: #fff; padding: 4px 12px; min-width: 92px; }
.tile .n { font-size: 20px; font-weight: 700; display: block; }
.tile .l { color: var(--muted); font-size: 12px; }
.tile.sev { border-left: 6px solid var(--c); }
.tile.bad .n { color: var(--error); }
.toolbar { margin-top: 8px; font-size: 13px; color: var(--muted); display: flex; gap: 16px; align-items: center;
           flex-wrap: wrap; }
.toolbar input[type=search] { font: inherit; padding: 1px 6px; width: 180px; }
.legend span { display: inline-flex; align-items: center; gap: 4px; margin-right: 10px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; position: relative; }
main { flex: 1 1 auto; min-height: 0; display: flex; gap: 16px; padding: 10px 24px 8px; }
.gridwrap { flex: 1 1 auto; overflow: auto; min-width: 0; position: relative; }
table.grid { border-collapse: separate; border-spacing: 0; }
.grid th { font-weight: normal; }
.grid thead th { position: sticky; top: 0; z-index: 2; background: #fff; }
.grid thead th.corner { left: 0; z-index: 4; text-align: left; vertical-align: bottom; font-size: 12px;
                        color: var(--muted); padding: 0 0 4px; }
.grid thead th.corner2 { left: 240px; z-index: 4; }
.grid thead th.col { vertical-align: bottom; padding: 0 2px 4px; width: 28px; }
.grid thead th.col div { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; font-size: 11px;
                         color: var(--muted); margin: 0 auto; max-height: 300px; overflow: hidden; }
.grid thead th.col div span { display: inline-block; max-inline-size: 72px; overflow: hidden; text-overflow: ellipsis;
                              vertical-align: top; }
.grid thead th.col div b { color: var(--fg); font-weight: 600; }
.grid thead th.col.gs, .grid td.c.gs { border-left: 2px solid var(--line); }
.grid tbody tr { height: 28px; }
.grid tbody tr.sp { height: auto; }
.grid tbody tr.sp td { padding: 0; border: 0; }
.grid th.host { position: sticky; left: 0; z-index: 1; background: #fff; text-align: left; padding: 0 10px 0 0;
                white-space: nowrap; width: 240px; min-width: 240px; max-width: 240px; overflow: hidden;
                text-overflow: ellipsis; }
.grid th.host button { all: unset; cursor: pointer; font-family: "DejaVu Sans Mono", monospace; font-size: 13px; }
.grid th.host button:hover, .grid th.host button:focus-visible { text-decoration: underline; }
.chg { font-size: 10px; font-weight: 700; padding: 1px 4px; margin-right: 4px; border-radius: 3px; color: #fff;
       background: var(--new); }
.chg.fixed { background: var(--fixed); }
.grid td.counts { position: sticky; left: 240px; z-index: 1; background: #fff; white-space: nowrap; font-size: 12px;
                  color: var(--muted); padding: 0 8px 0 0; min-width: 150px; }
.badge { display: inline-block; min-width: 18px; padding: 0 5px; border-radius: 9px; color: #fff; text-align: center;
         font-size: 11px; font-weight: 700; margin-right: 2px; }
.badge.z { background: #eaeef2 !important; color: #8c959f; }
.st { font-size: 11px; padding: 1px 6px; border-radius: 4px; border: 1px solid var(--line); margin-right: 6px; }
.st.bad { color: var(--error); border-color: var(--error); font-weight: 700; }
.grid td.c { padding: 2px; }
.cell { display: block; position: relative; width: 24px; height: 24px; border: 0; border-radius: 3px; padding: 0;
        cursor: pointer; color: #fff; font: 700 13px/24px "DejaVu Sans", sans-serif; text-align: center; }
.cell.error { background: var(--error); }
.cell.warning { background: var(--warning); color: #1f2328; }
.cell.info { background: var(--info); }
.cell.ok { background: var(--ok); }
.cell.missing { background: var(--missing); color: #59636e; cursor: default; }
.cell.mn::after, .cell.mf::after, .legend i.mn::after, .legend i.mf::after {
  content: ""; position: absolute; top: 0; right: 0; border-style: solid; border-width: 0 11px 11px 0;
  border-color: transparent var(--new) transparent transparent; }
.cell.mf::after, .legend i.mf::after { border-color: transparent var(--fixed) transparent transparent; }
.cell:focus-visible, .cell.sel { outline: 3px solid #1f2328; outline-offset: 1px; }
tr.sel th.host button { font-weight: 700; }
td.why { padding: 0 10px; height: 24px; border-radius: 3px; font-size: 13px; line-height: 22px;
         background: repeating-linear-gradient(135deg, #fff3f3, #fff3f3 8px, #fde2e2 8px, #fde2e2 16px);
         color: #82071e; border: 1px solid #f5b8bd; }
td.why div { width: 0; min-width: 100%%; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
td.why.no_data { background: repeating-linear-gradient(135deg, #f6f8fa, #f6f8fa 8px, #eaeef2 8px, #eaeef2 16px);
                 color: #424a53; border-color: var(--line); }
.empty { color: var(--muted); padding: 12px 0; }
aside { flex: 0 0 380px; border: 1px solid var(--line); border-radius: 6px; background: #fff; padding: 12px 14px;
        overflow: auto; }
aside h2 { font-size: 15px; margin: 0 0 6px; word-break: break-all; }
aside .hint { color: var(--muted); }
aside .prof { color: var(--muted); font-size: 12px; margin: 2px 0 6px; word-break: break-word; }
aside .item { border-left: 5px solid var(--missing); padding: 4px 0 4px 10px; margin: 10px 0; }
aside .item.error { border-color: var(--error); } aside .item.warning { border-color: var(--warning); }
aside .item.info { border-color: var(--info); } aside .item.ok { border-color: var(--ok); }
aside .sevl { font-size: 11px; font-weight: 700; text-transform: uppercase; color: var(--muted); }
aside .cid { font-family: "DejaVu Sans Mono", monospace; font-size: 12px; word-break: break-all; }
aside .msg, aside .fix, aside .kern, aside .rem { white-space: pre-wrap; word-break: break-word; margin: 4px 0 0; }
aside .kern { font-weight: 700; }
aside .fix, aside .rem { background: var(--bg); border-radius: 4px; padding: 6px 8px;
                         font-family: "DejaVu Sans Mono", monospace; font-size: 12px; }
aside .fix::before { content: "fix: "; font-weight: 700; }
aside .rem::before { content: "remedy: "; font-weight: 700; }
aside .chgl { font-weight: 700; color: var(--new); } aside .chgl.fixed { color: var(--fixed); }
footer { flex: none; color: var(--muted); font-size: 12px; padding: 0 24px 8px; }
"""

_JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("fleet-data").textContent);
  var RANK = {error: 0, warning: 1, info: 2, ok: 3};
  var GLYPH = {error: "\u2715", warning: "!", info: "i", ok: "\u2713", missing: ""};
  var ROWH = 28, OVERSCAN = 8;
  var cols = data.columns, rows = data.rows, hosts = data.hosts;
  var wrap = document.getElementById("gridwrap"), grid = document.getElementById("grid");
  var thead = grid.tHead, tbody = grid.tBodies[0], panel = document.getElementById("details");
  var onlyCols = document.getElementById("only-problems"), onlyBad = document.getElementById("only-bad-hosts");
  var onlyChanged = document.getElementById("only-changed"), search = document.getElementById("host-filter");
  var group = [], problem = [], vcols = [], vhosts = [], first = -1, last = -1, selected = null, pending = false;
  var c, h, i;
  for (c = 0; c < cols.length; c++) {
    group.push(cols[c].indexOf(".") < 0 ? "" : cols[c].split(".")[0]);
    problem.push(false);
  }
  function refsOf(v) { return !v ? null : (typeof v === "number" ? [v - 1] : v); }
  for (h = 0; h < hosts.length; h++) {
    var host = hosts[h], cnt = {error: 0, warning: 0, info: 0, ok: 0}, sev = [];
    if (host.c) {
      for (c = 0; c < cols.length; c++) {
        var refs = refsOf(host.c[c]);
        if (!refs) { sev.push("missing"); continue; }
        var worst = rows[refs[0]][0];
        for (i = 1; i < refs.length; i++) { if (RANK[rows[refs[i]][0]] < RANK[worst]) { worst = rows[refs[i]][0]; } }
        sev.push(worst);
        cnt[worst]++;
        if (worst === "error" || worst === "warning") { problem[c] = true; }
      }
    }
    host.sev = sev;
    host.cnt = cnt;
    host.bad = !host.c || cnt.error > 0 || cnt.warning > 0;
    host.marks = {};
    for (i = 0; host.d && i < host.d.length; i++) { host.marks[host.d[i][0]] = host.d[i][1]; }
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }
  function renderHead() {
    var tr = el("tr"), corner = el("th", "corner", hosts.length === vhosts.length ? hosts.length + " hosts" :
      vhosts.length + " of " + hosts.length + " hosts");
    tr.appendChild(corner);
    tr.appendChild(el("th", "corner corner2"));
    for (var k = 0; k < vcols.length; k++) {
      var id = cols[vcols[k]], dot = id.lastIndexOf(".");
      var th = el("th", "col" + (k && group[vcols[k]] !== group[vcols[k - 1]] ? " gs" : ""));
      th.scope = "col";
      th.title = id;
      var div = el("div");
      if (dot >= 0) { div.appendChild(el("span", null, id.slice(0, dot + 1))); }
      div.appendChild(el("b", null, dot < 0 ? id : id.slice(dot + 1)));
      th.appendChild(div);
      tr.appendChild(th);
    }
    thead.textContent = "";
    thead.appendChild(tr);
  }
  function spacer(px) {
    var tr = el("tr", "sp"), td = el("td");
    td.colSpan = vcols.length + 2;
    td.style.height = px + "px";
    tr.appendChild(td);
    return tr;
  }
  function makeRow(h) {
    var host = hosts[h], tr = el("tr", selected && selected.h === h ? "sel" : null);
    tr.setAttribute("data-h", h);
    tr.setAttribute("data-host", host.n);
    var th = el("th", "host");
    th.scope = "row";
    th.title = host.n;
    var b = el("button", null, host.n);
    b.type = "button";
    b.setAttribute("data-hostbtn", "1");
    th.appendChild(b);
    tr.appendChild(th);
    var counts = el("td", "counts");
    if (host.x) { counts.appendChild(el("span", "chg " + host.x, host.x === "fixed" ? "fixed" : "new error")); }
    counts.appendChild(el("span", host.s === "ok" ? "st" : "st bad", host.s.replace("_", " ")));
    var order = ["error", "warning", "info"];
    for (var s = 0; s < order.length; s++) {
      var n = host.cnt[order[s]], badge = el("span", "badge" + (n ? "" : " z"), String(n));
      badge.style.background = "var(--" + order[s] + ")";
      badge.title = n + " " + order[s];
      counts.appendChild(badge);
    }
    tr.appendChild(counts);
    if (!host.c) {
      var why = el("td", "why " + host.s);
      why.colSpan = Math.max(vcols.length, 1);
      why.appendChild(el("div", null, host.w));
      tr.appendChild(why);
      return tr;
    }
    for (var k = 0; k < vcols.length; k++) {
      var c = vcols[k], sev = host.sev[c], mark = host.marks[c];
      var td = el("td", "c" + (k && group[c] !== group[vcols[k - 1]] ? " gs" : ""));
      var btn = el("button", "cell " + sev + (mark ? " m" + mark : "") +
        (selected && selected.h === h && selected.c === c ? " sel" : ""), GLYPH[sev]);
      var label = host.n + ": " + cols[c] + " " + (sev === "missing" ? "not evaluated" : sev) +
        (mark === "n" ? " (new error)" : mark === "f" ? " (fixed)" : "");
      var refs = refsOf(host.c[c]);
      for (var j = 0; refs && j < refs.length; j++) {
        if (rows[refs[j]][3]) { label += " (kernel " + rows[refs[j]][3] + ")"; break; }
      }
      btn.type = "button";
      btn.setAttribute("data-c", c);
      btn.title = label;
      btn.setAttribute("aria-label", label);
      td.appendChild(btn);
      tr.appendChild(td);
    }
    return tr;
  }
  function rect(r) {
    return [Math.round(r.left), Math.round(r.top), Math.round(r.width), Math.round(r.height)].join(",");
  }
  function layoutFacts() {
    // On-screen rectangles "left,top,width,height" of the rendered rows and the visible cell area (for tests).
    var trs = tbody.querySelectorAll("tr[data-h]"), box = null, view = wrap.getBoundingClientRect();
    for (var i = 0; i < trs.length; i++) { trs[i].setAttribute("data-rect", rect(trs[i].getBoundingClientRect())); }
    var cells = tbody.querySelectorAll(".cell, td.why");
    for (var j = 0; j < cells.length; j++) {
      var b = cells[j].getBoundingClientRect();
      if (!b.width || b.bottom < view.top || b.top > view.bottom) { continue; }
      box = box ? {left: Math.min(box.left, b.left), top: Math.min(box.top, b.top),
                   right: Math.max(box.right, b.right), bottom: Math.max(box.bottom, b.bottom)} :
                  {left: b.left, top: b.top, right: b.right, bottom: b.bottom};
    }
    if (box) {
      document.documentElement.setAttribute("data-cells-rect",
        rect({left: box.left, top: box.top, width: box.right - box.left, height: box.bottom - box.top}));
    }
    document.documentElement.setAttribute("data-grid-rect", rect(wrap.getBoundingClientRect()));
    document.documentElement.setAttribute("data-rows-rendered", String(trs.length));
  }
  function renderRows(force) {
    pending = false;
    var top = Math.max(0, wrap.scrollTop - thead.offsetHeight);
    var f = Math.max(0, Math.floor(top / ROWH) - OVERSCAN);
    var l = Math.min(vhosts.length, Math.ceil((top + wrap.clientHeight) / ROWH) + OVERSCAN);
    if (!force && f === first && l === last) { return; }
    first = f;
    last = l;
    var frag = document.createDocumentFragment();
    frag.appendChild(spacer(f * ROWH));
    for (var k = f; k < l; k++) { frag.appendChild(makeRow(vhosts[k])); }
    frag.appendChild(spacer((vhosts.length - l) * ROWH));
    if (!vhosts.length) {
      var tr = el("tr"), td = el("td", "empty", "No host matches the filters.");
      td.colSpan = vcols.length + 2;
      tr.appendChild(td);
      frag.appendChild(tr);
    }
    tbody.textContent = "";
    tbody.appendChild(frag);
    layoutFacts();
  }
  function computeView() {
    vcols = [];
    for (var c = 0; c < cols.length; c++) { if (!onlyCols.checked || problem[c]) { vcols.push(c); } }
    var q = search.value.trim().toLowerCase();
    vhosts = [];
    for (var h = 0; h < hosts.length; h++) {
      var host = hosts[h];
      if (onlyBad.checked && !host.bad) { continue; }
      if (onlyChanged && onlyChanged.checked && !host.x && !(host.d && host.d.length)) { continue; }
      if (q && host.n.toLowerCase().indexOf(q) < 0) { continue; }
      vhosts.push(h);
    }
    renderHead();
    renderRows(true);
  }
  function item(sev, id, it, mark) {
    var box = el("div", "item " + sev);
    box.appendChild(el("div", "sevl", sev === "missing" ? "not evaluated" : sev));
    if (mark) {
      box.appendChild(el("div", "chgl" + (mark === "f" ? " fixed" : ""), (mark === "f" ? "fixed" : "new error") +
        " since the previous report (" + data.previous + ")"));
    }
    if (id) { box.appendChild(el("div", "cid", id)); }
    if (it.k) { box.appendChild(el("p", "kern", "kernel " + it.k + " (installed, not the running one)")); }
    box.appendChild(el("p", "msg", it.m));
    if (it.f) { box.appendChild(el("p", "fix", it.f)); }
    if (it.r) { box.appendChild(el("p", "rem", it.r)); }
    return box;
  }
  function row(ref) { var r = rows[ref]; return {s: r[0], m: r[1], f: r[2], k: r[3], r: r[4]}; }
  function heading(host) {
    panel.appendChild(el("h2", null, host.n));
    if (host.p) { panel.appendChild(el("div", "prof", "judged against: " + host.p)); }
    if (host.t) { panel.appendChild(el("div", "prof", "checked " + host.t)); }
  }
  function clear() {
    while (panel.firstChild) { panel.removeChild(panel.firstChild); }
    var old = grid.querySelectorAll(".sel");
    for (var i = 0; i < old.length; i++) { old[i].classList.remove("sel"); }
  }
  function remember(h, c) {
    var hash = "#host=" + encodeURIComponent(hosts[h].n) + (c === null ? "" : "&check=" + encodeURIComponent(cols[c]));
    try { history.replaceState(null, "", hash); } catch (e) { /* file:// in some browsers */ }
  }
  function markSelected() {
    if (!selected) { return; }
    var tr = tbody.querySelector('tr[data-h="' + selected.h + '"]');
    if (!tr) { return; }
    if (selected.c === null) { tr.classList.add("sel"); return; }
    var btn = tr.querySelector('[data-c="' + selected.c + '"]');
    if (btn) { btn.classList.add("sel"); }
  }
  function showCell(h, c) {
    clear();
    selected = {h: h, c: c};
    var host = hosts[h], id = cols[c], refs = host.c ? refsOf(host.c[c]) : null;
    heading(host);
    if (!refs) {
      panel.appendChild(item("missing", id, {m: host.c ? "Not evaluated on this host: the requirement does not " +
        "apply to its mode, distribution or CNI, or was not reported." : host.w}, host.marks[c]));
    } else {
      for (var i = 0; i < refs.length; i++) {
        var it = row(refs[i]);
        panel.appendChild(item(it.s, i === 0 ? id : null, it, i === 0 ? host.marks[c] : null));
      }
    }
    markSelected();
    remember(h, c);
  }
  function showHost(h) {
    clear();
    selected = {h: h, c: null};
    var host = hosts[h];
    heading(host);
    panel.appendChild(el("div", "hint", "status: " + host.s + " \u2014 " + host.cnt.error + " error, " +
      host.cnt.warning + " warning, " + host.cnt.info + " info, " + host.cnt.ok + " ok"));
    if (host.ps) { panel.appendChild(el("div", "prof", host.ps)); }
    if (!host.c) { panel.appendChild(item("error", null, {m: host.w})); }
    var order = ["error", "warning", "info"], shown = 0;
    for (var s = 0; s < order.length; s++) {
      for (var c = 0; c < cols.length; c++) {
        if (host.sev[c] !== order[s]) { continue; }
        var refs = refsOf(host.c[c]);
        for (var i = 0; i < refs.length; i++) {
          var it = row(refs[i]);
          if (it.s === "ok") { continue; }
          panel.appendChild(item(it.s, cols[c], it, host.marks[c]));
          shown++;
        }
      }
    }
    for (c = 0; c < cols.length; c++) {
      if (host.marks[c] === "f") {
        var fr = refsOf(host.c[c]);
        panel.appendChild(item(host.sev[c], cols[c], fr ? row(fr[0]) : {m: ""}, "f"));
      }
    }
    if (host.c && !shown) { panel.appendChild(el("p", "hint", "Every evaluated requirement passed.")); }
    markSelected();
    remember(h, null);
  }
  tbody.addEventListener("click", function (ev) {
    var t = ev.target.closest ? ev.target.closest("[data-c],[data-hostbtn]") : null;
    if (!t) { return; }
    var h = parseInt(t.closest("tr").getAttribute("data-h"), 10);
    if (t.hasAttribute("data-hostbtn")) { showHost(h); } else { showCell(h, parseInt(t.getAttribute("data-c"), 10)); }
  });
  wrap.addEventListener("scroll", function () {
    if (!pending) { pending = true; window.requestAnimationFrame(function () { renderRows(false); }); }
  });
  window.addEventListener("resize", function () { renderRows(true); });
  var controls = [onlyCols, onlyBad, onlyChanged];
  for (i = 0; i < controls.length; i++) { if (controls[i]) { controls[i].addEventListener("change", computeView); } }
  search.addEventListener("input", computeView);
  function reveal(h, c) {
    // Make host h (and column c) part of the view, and scroll its row into the middle of the grid.
    if (vhosts.indexOf(h) < 0) {
      onlyBad.checked = false;
      if (onlyChanged) { onlyChanged.checked = false; }
      search.value = "";
    }
    if (c !== null && vcols.indexOf(c) < 0) { onlyCols.checked = false; }
    computeView();
    var k = vhosts.indexOf(h);
    wrap.scrollTop = Math.max(0, k * ROWH + thead.offsetHeight - Math.floor(wrap.clientHeight / 2));
    renderRows(true);
  }
  function fromHash() {
    var params = {}, parts = location.hash.replace(/^#/, "").split("&");
    for (var i = 0; i < parts.length; i++) {
      var kv = parts[i].split("=");
      if (kv.length === 2) { try { params[kv[0]] = decodeURIComponent(kv[1]); } catch (e) { /* ignore */ } }
    }
    if (!params.host) { return; }
    for (var h = 0; h < hosts.length; h++) {
      if (hosts[h].n !== params.host) { continue; }
      var c = params.check === undefined ? -1 : cols.indexOf(params.check);
      reveal(h, c < 0 ? null : c);
      if (c < 0) { showHost(h); } else { showCell(h, c); }
      return;
    }
  }
  computeView();
  fromHash();
  document.documentElement.setAttribute("data-ready", "1");
}());
"""


def _e(value: Any) -> str:
    """HTML-escape text for element content and quoted attributes."""
    return html.escape(str(value), quote=True)


def _script_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``<``, ``>``, ``&`` can end or confuse it."""
    text = json.dumps(value, ensure_ascii=True, separators=(',', ':'))
    return text.replace('<', '\\u003c').replace('>', '\\u003e').replace('&', '\\u0026')


def _plural(n: int, word: str) -> str:
    return '%d %s%s' % (n, word, '' if n == 1 else 's')


def _html_data(data: Report, changes: Optional[Mapping]) -> Dict[str, Any]:
    """The page's data: the table once, per host only a reference per column (what the script renders from)."""
    cols = columns(data)
    col_of = {cid: i for i, cid in enumerate(cols)}
    table = [[row['severity'], row['message'], row['fix'], row['kernel_release'],
              json.dumps(row['remedy'], sort_keys=True) if row['remedy'] is not None else None]
             for row in data['findings']]
    row_col = [col_of[row['id']] for row in data['findings']]
    diff_hosts = changes['hosts'] if changes else {}
    hosts_js = []
    for name, host in data['hosts'].items():
        entry: Dict[str, Any] = {'n': name, 's': host['status'], 't': host['checked_at']}
        if host.get('profile'):
            entry['p'] = profile_label(host['profile'])
            entry['ps'] = profile_sources(host['profile'])
        if host['checks']:
            cells: List[Any] = [0] * len(cols)
            for ref in host['checks']:
                c = row_col[ref]
                have = cells[c]
                if not have:
                    cells[c] = ref + 1
                elif isinstance(have, list):
                    have.append(ref)
                else:
                    cells[c] = [have - 1, ref]
            entry['c'] = cells
            entry['w'] = host['error'] or ''
        else:
            entry['c'] = None
            entry['w'] = host_reason(name, host)
        change = diff_hosts.get(name)
        if change:
            marks = [[col_of[cid], 'n'] for cid in change['new_errors'] if cid in col_of]
            marks += [[col_of[cid], 'f'] for cid in change['fixed'] if cid in col_of]
            if marks:
                entry['d'] = marks
            if change['change']:
                entry['x'] = change['change']
        hosts_js.append(entry)
    out = {'columns': cols, 'rows': table, 'hosts': hosts_js}
    if changes:
        out['previous'] = changes['previous_generated_at']
    return out


def to_html(report: Any, title: str = 'kubenode.netfilter preflight', previous: Any = None) -> str:
    """One self-contained HTML page: summary, hosts x checks grid, a details panel (click a cell or a host name).

    No external resources: CSS and JS inline. The page embeds each distinct message once and per host one reference
    per column; its script renders only the rows in view (plus a few), so thousands of hosts stay responsive. The
    column headers and the host names stay in view while scrolling (sticky). Every string from the report is
    escaped; the script writes text only. A cell or host can be linked as ``report.html#host=NAME&check=ID``.
    With ``previous`` (a report: dict or JSON text) cells and hosts with new errors or fixed ones are marked.
    """
    data = normalize(report)
    summary = summarize(data)
    changes = diff(data, previous) if previous is not None else None
    page = _html_data(data, changes)
    cols = page['columns']

    out: List[str] = []
    w = out.append
    w('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n')
    w('<meta name="viewport" content="width=device-width, initial-scale=1">\n')
    w('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; '
      'script-src \'unsafe-inline\'; img-src data:">\n')
    w('<title>%s \u2014 %s</title>\n' % (_e(title), _e(_plural(summary['hosts'], 'host'))))
    w('<style>%s</style>\n</head>\n<body>\n' % (_CSS % COLOURS))

    w('<header>\n<h1>%s: fleet report</h1>\n' % _e(title))
    w('<div class="meta">kube-proxy mode <b>%s</b> &middot; distribution <b>%s</b> &middot; CNI <b>%s</b> &middot; '
      'generated <b>%s</b> &middot; collection <b>%s</b>%s</div>\n'
      % (_e(data['proxy_mode']), _e(data['distribution']), _e(data['cni']), _e(data['generated_at']),
         _e(data['collection_version']),
         ' &middot; compared with the report of <b>%s</b>' % _e(changes['previous_generated_at']) if changes else ''))
    w('<div class="tiles" id="summary">\n')
    st = summary['host_status']
    per_host = summary['per_host'].values()
    unverified = sum(1 for p in per_host if p['verdict'] == 'unverified')
    failing = sum(1 for p in per_host if p['verdict'] == 'error')
    w('<div class="tile"><span class="n">%d</span><span class="l">hosts</span></div>\n' % summary['hosts'])
    w('<div class="tile%s" data-count="hosts-error"><span class="n">%d</span><span class="l">hosts with errors'
      '</span></div>\n' % (' bad' if failing else '', failing))
    w('<div class="tile%s" data-count="hosts-unverified"><span class="n">%d</span><span class="l">hosts not verified'
      '</span></div>\n' % (' bad' if unverified else '', unverified))
    labels = {'error': 'errors', 'warning': 'warnings', 'info': 'info', 'ok': 'passed'}
    for sev in SEVERITIES:
        w('<div class="tile sev" style="--c: var(--%s)" data-count="%s"><span class="n">%d</span>'
          '<span class="l">%s</span></div>\n' % (sev, sev, summary['checks'][sev], labels[sev]))
    if changes:
        w('<div class="tile%s" data-count="new-errors"><span class="n">%d</span><span class="l">new errors '
          '(%s)</span></div>\n' % (' bad' if changes['new_errors'] else '', changes['new_errors'],
                                   _e(_plural(changes['hosts_new_error'], 'host'))))
        w('<div class="tile" data-count="fixed"><span class="n">%d</span><span class="l">fixed (%s)</span></div>\n'
          % (changes['fixed'], _e(_plural(changes['hosts_fixed'], 'host'))))
    w('</div>\n<div class="toolbar">\n<span class="legend">')
    for sev, label in (('error', 'error'), ('warning', 'warning'), ('info', 'info'), ('ok', 'passed'),
                       ('missing', 'not evaluated')):
        w('<span><i style="background: var(--%s)"></i>%s</span>' % (sev, label))
    if changes:
        w('<span><i class="mn" style="background: var(--missing)"></i>new error</span>'
          '<span><i class="mf" style="background: var(--missing)"></i>fixed</span>')
    w('</span>\n<label><input type="checkbox" id="only-problems"> only columns with an error or warning</label>\n')
    w('<label><input type="checkbox" id="only-bad-hosts"> only hosts with an error, warning or no data</label>\n')
    if changes:
        w('<label><input type="checkbox" id="only-changed"> only hosts that changed</label>\n')
    w('<input type="search" id="host-filter" placeholder="filter host names" aria-label="filter host names">\n')
    w('<span>run status: %s</span>\n</div>\n</header>\n'
      % _e(', '.join('%d %s' % (st[s], s.replace('_', ' ')) for s in HOST_STATUSES if st[s])))
    w('<main>\n<div class="gridwrap" id="gridwrap">\n<table class="grid" id="grid"><thead></thead><tbody></tbody>'
      '</table>\n</div>\n')
    w('<aside id="details" aria-live="polite"><h2>Details</h2><p class="hint">Click a cell for its message and fix, '
      'or a host name for all of that host\'s findings.</p></aside>\n</main>\n')
    w('<footer>%s, %s, %s &middot; JSON schema %d &middot; kubenode.netfilter %s</footer>\n'
      % (_e(_plural(summary['hosts'], 'host')), _e(_plural(len(cols), 'check')),
         _e(_plural(len(data['findings']), 'distinct result')), SCHEMA_VERSION, _e(data['collection_version'])))
    w('<script type="application/json" id="fleet-data">%s</script>\n' % _script_json(page))
    w('<script>%s</script>\n</body>\n</html>\n' % _JS)
    return ''.join(out)
