# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Render the preflight fleet report: JSON, JUnit XML and a self-contained HTML page.

Controller-side only (the preflight role's final play on localhost), stdlib only. Input is the report dict of the
preflight role::

    {"generated_at": str, "collection_version": str, "proxy_mode": str, "distribution": str, "cni": str,
     "hosts": {HOSTNAME: {"status": "ok" | "failed" | "unreachable" | "no_data", "error": str | None,
                          "checks": [{"id": str, "severity": "ok" | "info" | "warning" | "error",
                                      "message": str, "fix": str | None}]}}}

:func:`normalize` validates it (``ValueError`` naming the bad key, e.g. ``hosts['web1'].checks[2].severity``) and
returns plain dicts/lists/strings with hosts and checks in a stable order; unknown keys are dropped. Every renderer
normalizes first, so the output of :func:`to_json` is itself valid input (merge reports by merging their ``hosts``).

Host names, messages and fixes come from managed machines and are treated as hostile: the HTML escapes all of them
(text nodes and attributes; the embedded JSON cannot close its ``<script>``), the XML strips characters XML 1.0
cannot carry.
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any, Dict, List, Optional, Tuple

SEVERITIES = ('error', 'warning', 'info', 'ok')
"""Check severities, worst first."""
HOST_STATUSES = ('ok', 'failed', 'unreachable', 'no_data')
META_KEYS = ('generated_at', 'collection_version', 'proxy_mode', 'distribution', 'cni')
WARNING_MODES = ('skipped', 'pass', 'failure')
"""How :func:`to_junit` renders ``warning`` checks (see there)."""

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


def _normalize_check(raw: Any, where: str) -> Dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValueError('%s must be a mapping with id, severity, message, fix; got %s' % (where, type(raw).__name__))
    check_id = _want_str(_want_key(raw, 'id', where), where + '.id', allow_empty=False)
    severity = _want_str(_want_key(raw, 'severity', where), where + '.severity')
    if severity not in SEVERITIES:
        raise ValueError('%s.severity must be one of %s, got %r' % (where, ', '.join(SEVERITIES), severity))
    message = _want_str(_want_key(raw, 'message', where), where + '.message')
    fix = _want_str(_want_key(raw, 'fix', where), where + '.fix', allow_none=True)
    return {'id': check_id, 'severity': severity, 'message': message, 'fix': fix}


def _normalize_host(name: str, raw: Any) -> Dict[str, Any]:
    where = 'hosts[%r]' % name
    if not isinstance(raw, Mapping):
        raise ValueError('%s must be a mapping with status, error, checks; got %s' % (where, type(raw).__name__))
    status = _want_str(_want_key(raw, 'status', where), where + '.status')
    if status not in HOST_STATUSES:
        raise ValueError('%s.status must be one of %s, got %r' % (where, ', '.join(HOST_STATUSES), status))
    error = _want_str(_want_key(raw, 'error', where), where + '.error', allow_none=True)
    checks_raw = _want_key(raw, 'checks', where)
    if checks_raw is None:
        checks_raw = []
    if isinstance(checks_raw, (str, bytes)) or not isinstance(checks_raw, Sequence):
        raise ValueError('%s.checks must be a list, got %s' % (where, type(checks_raw).__name__))
    checks = [_normalize_check(item, '%s.checks[%d]' % (where, i)) for i, item in enumerate(checks_raw)]
    # Stable order: by id, then worst first, then text (duplicates of one id stay, in a fixed order).
    checks.sort(key=lambda c: (c['id'], _RANK[c['severity']], c['message'], c['fix'] or ''))
    return {'status': status, 'error': error, 'checks': checks}


def normalize(report: Any) -> Report:
    """Validate a fleet report and return a normalized copy (plain types, sorted checks, unknown keys dropped).

    Raises ``ValueError`` with a message naming the offending key.
    """
    if not isinstance(report, Mapping):
        raise ValueError('the fleet report must be a mapping with the keys %s, hosts; got %s'
                         % (', '.join(META_KEYS), type(report).__name__))
    out: Report = {}
    for key in META_KEYS:
        out[key] = _want_str(_want_key(report, key, 'the fleet report'), key)
    hosts_raw = _want_key(report, 'hosts', 'the fleet report')
    if not isinstance(hosts_raw, Mapping):
        raise ValueError('hosts must be a mapping of host name to host result, got %s' % type(hosts_raw).__name__)
    hosts: Dict[str, Any] = {}
    for name in hosts_raw:
        if not isinstance(name, str) or not name.strip():
            raise ValueError('hosts: every host name must be a non-empty string, got %r' % (name,))
        hosts[str(name)] = _normalize_host(name, hosts_raw[name])
    out['hosts'] = {name: hosts[name] for name in sorted(hosts, key=host_sort_key)}
    return out


def host_sort_key(name: str) -> Tuple:
    """Natural order: ``node2`` before ``node10``."""
    return tuple((0, int(part), '') if part.isdigit() else (1, 0, part.lower())
                 for part in _NATURAL.split(name) if part) + ((1, 0, name),)


# --------------------------------------------------------------------------------------------------------------------
# shared views


def merged_checks(host: Mapping) -> Dict[str, Dict[str, Any]]:
    """One entry per check id of a normalized host: the worst severity and every (severity, message, fix)."""
    cells: Dict[str, Dict[str, Any]] = {}
    for check in host['checks']:
        cell = cells.setdefault(check['id'], {'severity': check['severity'], 'items': []})
        if _RANK[check['severity']] < _RANK[cell['severity']]:
            cell['severity'] = check['severity']
        cell['items'].append({'severity': check['severity'], 'message': check['message'], 'fix': check['fix']})
    return cells


def summarize(report: Report) -> Dict[str, Any]:
    """Counts of a normalized report: checks per severity (per check id and host), hosts per status, per host."""
    totals = {sev: 0 for sev in SEVERITIES}
    statuses = {st: 0 for st in HOST_STATUSES}
    per_host: Dict[str, Dict[str, Any]] = {}
    for name, host in report['hosts'].items():
        statuses[host['status']] += 1
        counts = {sev: 0 for sev in SEVERITIES}
        for cell in merged_checks(host).values():
            counts[cell['severity']] += 1
            totals[cell['severity']] += 1
        per_host[name] = dict(counts, status=host['status'], verdict=host_verdict(host))
    return {'hosts': len(report['hosts']), 'host_status': statuses, 'checks': totals, 'per_host': per_host}


def host_verdict(host: Mapping) -> str:
    """``error`` / ``warning`` / ``info`` / ``ok`` from the worst check, ``unverified`` when the host has none."""
    if not host['checks']:
        return 'unverified'
    return min((c['severity'] for c in host['checks']), key=_RANK.__getitem__)


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


def columns(report: Report) -> List[str]:
    """The union of the check ids over all hosts, sorted."""
    ids = set()
    for host in report['hosts'].values():
        ids.update(check['id'] for check in host['checks'])
    return sorted(ids)


# --------------------------------------------------------------------------------------------------------------------
# JSON


def to_json(report: Any) -> str:
    """The normalized report plus a ``summary`` (counts), as indented JSON with sorted keys; ends with a newline.

    ``summary`` is ignored when the JSON is read back, so JSON output is valid input to every renderer here.
    """
    data = normalize(report)
    data['summary'] = summarize(data)
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + '\n'


# --------------------------------------------------------------------------------------------------------------------
# JUnit


def _xml_text(value: Optional[str]) -> str:
    return _XML_ILLEGAL.sub('\ufffd', value or '')


def _detail(items: List[Mapping]) -> str:
    parts = []
    for item in items:
        text = '%s: %s' % (item['severity'].upper(), item['message'])
        if item['fix']:
            text += '\nfix: %s' % item['fix']
        parts.append(text)
    return '\n\n'.join(parts)


def to_junit(report: Any, warnings: str = 'skipped') -> str:
    """JUnit XML: one ``<testsuite>`` per host, one ``<testcase classname=HOST name=CHECK_ID>`` per requirement.

    Layout. A ``<testsuites>`` root with one ``<testsuite name=HOST>`` per host, and every test case also carries
    ``classname=HOST``. GitLab's parser takes the suite column from the ``<testsuite>`` name and shows the class name
    beside the test name; Jenkins' JUnit plugin ignores suite names and groups by ``classname``; the GitHub Actions
    reporters (dorny/test-reporter, EnricoMi/publish-unit-test-result-action, mikepenz/action-junit-report) group by
    suite and name tests by ``classname`` + ``name``. Setting both keeps the host visible, and one group per host, in
    all of them. The test case name is the check id alone, so the identity of a test (``host`` + ``id``) is stable
    from run to run and GitLab's "newly failed / fixed" comparison works. Caveat: Jenkins splits ``classname`` at its
    last dot into package and class, so an FQDN ``web1.example.com`` shows as package ``web1.example``, class
    ``com``; the full name is still searchable.

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
    root = ET.Element('testsuites', {'name': 'kubenode.netfilter preflight'})
    totals = {'tests': 0, 'failures': 0, 'errors': 0, 'skipped': 0}
    for name, host in data['hosts'].items():
        xname = _xml_text(name)
        suite = ET.SubElement(root, 'testsuite', {'name': xname, 'hostname': xname,
                                                  'timestamp': _xml_text(data['generated_at'])})
        props = ET.SubElement(suite, 'properties')
        for key in META_KEYS[1:]:
            ET.SubElement(props, 'property', {'name': key, 'value': _xml_text(data[key])})
        ET.SubElement(props, 'property', {'name': 'host_status', 'value': host['status']})
        counts = {'tests': 0, 'failures': 0, 'errors': 0, 'skipped': 0}
        cells = merged_checks(host)
        if not cells:
            case = ET.SubElement(suite, 'testcase', {'classname': xname, 'name': HOST_TESTCASE, 'time': '0'})
            reason = _xml_text(host_reason(name, host))
            err = ET.SubElement(case, 'error', {'type': host['status'], 'message': reason})
            err.text = reason
            counts['tests'] += 1
            counts['errors'] += 1
        for check_id, cell in cells.items():
            counts['tests'] += 1
            case = ET.SubElement(suite, 'testcase', {'classname': xname, 'name': _xml_text(check_id), 'time': '0'})
            severity = cell['severity']
            if severity == 'ok':
                continue
            case_props = ET.SubElement(case, 'properties')
            ET.SubElement(case_props, 'property', {'name': 'severity', 'value': severity})
            detail = _xml_text(_detail(cell['items']))
            first = _xml_text(cell['items'][0]['message'])
            if severity == 'error' or (severity == 'warning' and warnings == 'failure'):
                elem = ET.SubElement(case, 'failure', {'type': severity, 'message': first})
                elem.text = detail
                counts['failures'] += 1
            elif severity == 'warning' and warnings == 'skipped':
                elem = ET.SubElement(case, 'skipped', {'message': 'WARNING: ' + first})
                elem.text = detail
                counts['skipped'] += 1
            else:
                out = ET.SubElement(case, 'system-out')
                out.text = detail
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set('time', '0')
    for key, value in totals.items():
        root.set(key, str(value))
    root.set('time', '0')
    ET.indent(root, space='  ')
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding='unicode') + '\n'


# --------------------------------------------------------------------------------------------------------------------
# HTML

_CSS = """
:root { --error: %(error)s; --warning: %(warning)s; --info: %(info)s; --ok: %(ok)s; --missing: %(missing)s;
        --fg: #1f2328; --muted: #59636e; --line: #d8dee4; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 "DejaVu Sans", system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
       background: #fff; }
header { padding: 16px 24px 12px; border-bottom: 1px solid var(--line); background: var(--bg); }
h1 { font-size: 20px; margin: 0 0 4px; }
.meta { color: var(--muted); font-size: 13px; }
.meta b { color: var(--fg); font-weight: 600; }
.tiles { display: flex; flex-wrap: wrap; gap: 10px; margin-top: 12px; }
.tile { border: 1px solid var(--line); border-radius: 6px; background: #fff; padding: 6px 12px; min-width: 92px; }
.tile .n { font-size: 22px; font-weight: 700; display: block; }
.tile .l { color: var(--muted); font-size: 12px; }
.tile.sev { border-left: 6px solid var(--c); }
.tile.bad .n { color: var(--error); }
.toolbar { margin-top: 10px; font-size: 13px; color: var(--muted); display: flex; gap: 18px; align-items: center;
           flex-wrap: wrap; }
.legend span { display: inline-flex; align-items: center; gap: 4px; margin-right: 10px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; }
main { display: flex; align-items: flex-start; gap: 16px; padding: 12px 24px 24px; }
.gridwrap { flex: 1 1 auto; overflow: auto; min-width: 0; }
table.grid { border-collapse: separate; border-spacing: 2px; }
.grid th { font-weight: normal; }
.grid thead th.col { vertical-align: bottom; padding: 0 0 4px; height: 1px; }
.grid thead th.col div { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; font-size: 11px;
                         color: var(--muted); margin: 0 auto; }
.grid thead th.col div b { color: var(--fg); font-weight: 600; }
.grid thead th.col.gs { border-left: 2px solid var(--line); }
.grid th.host { text-align: left; padding: 0 10px 0 0; white-space: nowrap; max-width: 260px; overflow: hidden;
                text-overflow: ellipsis; }
.grid th.host button { all: unset; cursor: pointer; font-family: "DejaVu Sans Mono", monospace; font-size: 13px; }
.grid th.host button:hover, .grid th.host button:focus-visible { text-decoration: underline; }
.grid td.counts { white-space: nowrap; font-size: 12px; color: var(--muted); padding: 0 8px 0 0; }
.badge { display: inline-block; min-width: 18px; padding: 0 5px; border-radius: 9px; color: #fff; text-align: center;
         font-size: 11px; font-weight: 700; margin-right: 2px; }
.badge.z { background: #eaeef2 !important; color: #8c959f; }
.st { font-size: 11px; padding: 1px 6px; border-radius: 4px; border: 1px solid var(--line); margin-right: 6px; }
.st.bad { color: var(--error); border-color: var(--error); font-weight: 700; }
.grid td.c { padding: 0; }
.grid td.c.gs { border-left: 2px solid var(--line); padding-left: 2px; }
.cell { display: block; width: 24px; height: 24px; border: 0; border-radius: 3px; padding: 0; cursor: pointer;
        color: #fff; font: 700 13px/24px "DejaVu Sans", sans-serif; text-align: center; }
.cell.error { background: var(--error); }
.cell.warning { background: var(--warning); color: #1f2328; }
.cell.info { background: var(--info); }
.cell.ok { background: var(--ok); }
.cell.missing { background: var(--missing); color: #59636e; cursor: default; }
.cell:focus-visible, .cell.sel { outline: 3px solid #1f2328; outline-offset: 1px; }
tr.sel th.host button { font-weight: 700; }
td.why { padding: 3px 10px; border-radius: 3px; font-size: 13px;
         background: repeating-linear-gradient(135deg, #fff3f3, #fff3f3 8px, #fde2e2 8px, #fde2e2 16px);
         color: #82071e; border: 1px solid #f5b8bd; }
td.why div { width: 0; min-width: 100%%; white-space: pre-wrap; word-break: break-word; }
td.why.no_data { background: repeating-linear-gradient(135deg, #f6f8fa, #f6f8fa 8px, #eaeef2 8px, #eaeef2 16px);
                 color: #424a53; border-color: var(--line); }
.only-problems .allok { display: none; }
aside { flex: 0 0 380px; position: sticky; top: 12px; border: 1px solid var(--line); border-radius: 6px;
        background: #fff; padding: 12px 14px; max-height: calc(100vh - 24px); overflow: auto; }
aside h2 { font-size: 15px; margin: 0 0 6px; word-break: break-all; }
aside .hint { color: var(--muted); }
aside .item { border-left: 5px solid var(--missing); padding: 4px 0 4px 10px; margin: 10px 0; }
aside .item.error { border-color: var(--error); } aside .item.warning { border-color: var(--warning); }
aside .item.info { border-color: var(--info); } aside .item.ok { border-color: var(--ok); }
aside .sevl { font-size: 11px; font-weight: 700; text-transform: uppercase; color: var(--muted); }
aside .cid { font-family: "DejaVu Sans Mono", monospace; font-size: 12px; word-break: break-all; }
aside .msg, aside .fix { white-space: pre-wrap; word-break: break-word; margin: 4px 0 0; }
aside .fix { background: var(--bg); border-radius: 4px; padding: 6px 8px; font-family: "DejaVu Sans Mono", monospace;
             font-size: 12px; }
aside .fix::before { content: "fix: "; font-weight: 700; }
footer { color: var(--muted); font-size: 12px; padding: 0 24px 16px; }
@media (max-width: 1000px) { main { flex-direction: column; } aside { position: static; flex-basis: auto;
                                                                      width: 100%%; } }
"""

_JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("fleet-data").textContent);
  var panel = document.getElementById("details");
  var selected = null;
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }
  function item(sev, id, message, fix) {
    var box = el("div", "item " + sev);
    box.appendChild(el("div", "sevl", sev));
    if (id) { box.appendChild(el("div", "cid", id)); }
    box.appendChild(el("p", "msg", message));
    if (fix) { box.appendChild(el("p", "fix", fix)); }
    return box;
  }
  function clear() {
    while (panel.firstChild) { panel.removeChild(panel.firstChild); }
    if (selected) { selected.classList.remove("sel"); selected = null; }
    var rows = document.querySelectorAll("tr.sel");
    for (var i = 0; i < rows.length; i++) { rows[i].classList.remove("sel"); }
  }
  function remember(h, c) {
    var hash = "#host=" + encodeURIComponent(data.hosts[h].name) +
               (c === null ? "" : "&check=" + encodeURIComponent(data.columns[c]));
    try { history.replaceState(null, "", hash); } catch (e) { /* file:// in some browsers */ }
  }
  function showCell(h, c, button) {
    clear();
    var host = data.hosts[h], id = data.columns[c], cell = host.cells[id];
    panel.appendChild(el("h2", null, host.name));
    if (!cell) {
      panel.appendChild(item("missing", id, host.checks ? "Not evaluated on this host: the requirement does not " +
        "apply to its mode, distribution or CNI, or was not reported." : host.reason, null));
    } else {
      for (var i = 0; i < cell.items.length; i++) {
        var it = cell.items[i];
        panel.appendChild(item(it.severity, i === 0 ? id : null, it.message, it.fix));
      }
    }
    if (button) { button.classList.add("sel"); selected = button; }
    remember(h, c);
  }
  function showHost(h) {
    clear();
    var host = data.hosts[h];
    panel.appendChild(el("h2", null, host.name));
    panel.appendChild(el("div", "hint", "status: " + host.status + " \u2014 " + host.summary));
    if (!host.checks) { panel.appendChild(item("error", null, host.reason, null)); }
    var order = ["error", "warning", "info"], shown = 0;
    for (var s = 0; s < order.length; s++) {
      for (var c = 0; c < data.columns.length; c++) {
        var cell = host.cells[data.columns[c]];
        if (!cell || cell.severity !== order[s]) { continue; }
        for (var i = 0; i < cell.items.length; i++) {
          var it = cell.items[i];
          if (it.severity === "ok") { continue; }
          panel.appendChild(item(it.severity, data.columns[c], it.message, it.fix));
          shown++;
        }
      }
    }
    if (host.checks && !shown) { panel.appendChild(el("p", "hint", "Every evaluated requirement passed.")); }
    var row = document.querySelector('tr[data-h="' + h + '"]');
    if (row) { row.classList.add("sel"); }
    remember(h, null);
  }
  document.getElementById("grid").addEventListener("click", function (ev) {
    var t = ev.target.closest ? ev.target.closest("[data-c],[data-hostbtn]") : null;
    if (!t) { return; }
    var h = parseInt(t.closest("tr").getAttribute("data-h"), 10);
    if (t.hasAttribute("data-hostbtn")) { showHost(h); } else { showCell(h, parseInt(t.getAttribute("data-c"), 10), t); }
  });
  var toggle = document.getElementById("only-problems");
  function applyToggle() { document.getElementById("grid").classList.toggle("only-problems", toggle.checked); }
  toggle.addEventListener("change", applyToggle);
  applyToggle();
  function fromHash() {
    var params = {}, parts = location.hash.replace(/^#/, "").split("&");
    for (var i = 0; i < parts.length; i++) {
      var kv = parts[i].split("=");
      if (kv.length === 2) { try { params[kv[0]] = decodeURIComponent(kv[1]); } catch (e) { /* ignore */ } }
    }
    if (!params.host) { return; }
    for (var h = 0; h < data.hosts.length; h++) {
      if (data.hosts[h].name !== params.host) { continue; }
      var c = params.check === undefined ? -1 : data.columns.indexOf(params.check);
      if (c < 0) { showHost(h); return; }
      var btn = document.querySelector('tr[data-h="' + h + '"] [data-c="' + c + '"]');
      if (btn && btn.closest("td").offsetParent === null) { toggle.checked = false; applyToggle(); }
      showCell(h, c, btn);
      return;
    }
  }
  fromHash();
  // Layout facts for tests and tooling: on-screen rectangles "left,top,width,height" of the rows and the cell area.
  function rect(r) { return [Math.round(r.left), Math.round(r.top), Math.round(r.width), Math.round(r.height)].join(","); }
  var rows = document.querySelectorAll("#grid tbody tr");
  for (var i = 0; i < rows.length; i++) { rows[i].setAttribute("data-rect", rect(rows[i].getBoundingClientRect())); }
  var cells = document.querySelectorAll("#grid .cell, #grid td.why"), box = null;
  for (var j = 0; j < cells.length; j++) {
    var b = cells[j].getBoundingClientRect();
    if (!b.width) { continue; }
    box = box ? {left: Math.min(box.left, b.left), top: Math.min(box.top, b.top),
                 right: Math.max(box.right, b.right), bottom: Math.max(box.bottom, b.bottom)} :
                {left: b.left, top: b.top, right: b.right, bottom: b.bottom};
  }
  if (box) {
    document.documentElement.setAttribute("data-cells-rect",
      rect({left: box.left, top: box.top, width: box.right - box.left, height: box.bottom - box.top}));
  }
  document.documentElement.setAttribute("data-grid-rect", rect(document.getElementById("grid").getBoundingClientRect()));
  document.documentElement.setAttribute("data-ready", "1");
}());
"""

_GLYPH = {'error': '\u2715', 'warning': '!', 'info': 'i', 'ok': '\u2713', 'missing': ''}


def _e(value: Any) -> str:
    """HTML-escape text for element content and quoted attributes."""
    return html.escape(str(value), quote=True)


def _script_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``<``, ``>``, ``&`` can end or confuse it."""
    text = json.dumps(value, ensure_ascii=True, sort_keys=True)
    return text.replace('<', '\\u003c').replace('>', '\\u003e').replace('&', '\\u0026')


def _split_id(check_id: str) -> Tuple[str, str]:
    head, dot, tail = check_id.rpartition('.')
    return (head + dot, tail) if dot else ('', check_id)


def _plural(n: int, word: str) -> str:
    return '%d %s%s' % (n, word, '' if n == 1 else 's')


def to_html(report: Any, title: str = 'kubenode.netfilter preflight') -> str:
    """One self-contained HTML page: summary, hosts x checks grid, a details panel (click a cell or a host name).

    No external resources: CSS and JS inline. Every string from the report is escaped; the page's script reads the
    details from an embedded JSON block and writes them with ``textContent`` only. A cell or host can be linked as
    ``report.html#host=NAME&check=ID`` (the page keeps the address bar in step with the selection).
    """
    data = normalize(report)
    summary = summarize(data)
    cols = columns(data)
    groups = [_split_id(c)[0].split('.')[0] for c in cols]
    problems = set()
    hosts_js = []
    for name, host in data['hosts'].items():
        cells = merged_checks(host)
        for check_id, cell in cells.items():
            if cell['severity'] in ('error', 'warning'):
                problems.add(check_id)
        counts = summary['per_host'][name]
        hosts_js.append({
            'name': name, 'status': host['status'], 'checks': bool(host['checks']),
            'reason': host_reason(name, host) if not host['checks'] else (host['error'] or ''),
            'summary': ', '.join('%d %s' % (counts[s], s) for s in SEVERITIES),
            'cells': cells,
        })

    out: List[str] = []
    w = out.append
    w('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n')
    w('<meta name="viewport" content="width=device-width, initial-scale=1">\n')
    w('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; '
      'script-src \'unsafe-inline\'; img-src data:">\n')
    w('<title>%s \u2014 %s</title>\n' % (_e(title), _e(_plural(summary['hosts'], 'host'))))
    w('<style>%s</style>\n</head>\n<body>\n' % (_CSS % COLOURS))

    # header + summary
    w('<header>\n<h1>%s: fleet report</h1>\n' % _e(title))
    w('<div class="meta">kube-proxy mode <b>%s</b> &middot; distribution <b>%s</b> &middot; CNI <b>%s</b> &middot; '
      'generated <b>%s</b> &middot; collection <b>%s</b></div>\n'
      % (_e(data['proxy_mode']), _e(data['distribution']), _e(data['cni']), _e(data['generated_at']),
         _e(data['collection_version'])))
    w('<div class="tiles" id="summary">\n')
    st = summary['host_status']
    unverified = sum(1 for h in data['hosts'].values() if not h['checks'])
    w('<div class="tile"><span class="n">%d</span><span class="l">hosts</span></div>\n' % summary['hosts'])
    failing = sum(1 for p in summary['per_host'].values() if p['verdict'] == 'error')
    w('<div class="tile%s" data-count="hosts-error"><span class="n">%d</span><span class="l">hosts with errors'
      '</span></div>\n' % (' bad' if failing else '', failing))
    w('<div class="tile%s" data-count="hosts-unverified"><span class="n">%d</span><span class="l">hosts not verified'
      '</span></div>\n' % (' bad' if unverified else '', unverified))
    labels = {'error': 'errors', 'warning': 'warnings', 'info': 'info', 'ok': 'passed'}
    for sev in SEVERITIES:
        w('<div class="tile sev" style="--c: var(--%s)" data-count="%s"><span class="n">%d</span>'
          '<span class="l">%s</span></div>\n' % (sev, sev, summary['checks'][sev], labels[sev]))
    w('</div>\n<div class="toolbar">\n<span class="legend">')
    for sev, label in (('error', 'error'), ('warning', 'warning'), ('info', 'info'), ('ok', 'passed'),
                       ('missing', 'not evaluated')):
        w('<span><i style="background: var(--%s)"></i>%s</span>' % (sev, label))
    w('</span>\n<label><input type="checkbox" id="only-problems"> only columns with an error or warning</label>\n')
    w('<span>run status: %s</span>\n</div>\n</header>\n'
      % _e(', '.join('%d %s' % (st[s], s.replace('_', ' ')) for s in HOST_STATUSES if st[s])))

    # grid
    w('<main>\n<div class="gridwrap">\n<table class="grid" id="grid">\n<thead><tr><th></th><th></th>')
    prev = None
    for i, check_id in enumerate(cols):
        head, tail = _split_id(check_id)
        classes = ['col']
        if groups[i] != prev and i:
            classes.append('gs')
        prev = groups[i]
        if check_id not in problems:
            classes.append('allok')
        w('<th class="%s" scope="col" title="%s"><div>%s<b>%s</b></div></th>'
          % (' '.join(classes), _e(check_id), _e(head), _e(tail)))
    w('</tr></thead>\n<tbody>\n')
    for h, host_js in enumerate(hosts_js):
        name = host_js['name']
        counts = summary['per_host'][name]
        w('<tr data-h="%d" data-host="%s">' % (h, _e(name)))
        w('<th class="host" scope="row" title="%s"><button type="button" data-hostbtn="1">%s</button></th>'
          % (_e(name), _e(name)))
        status_cls = 'st bad' if host_js['status'] != 'ok' else 'st'
        w('<td class="counts"><span class="%s">%s</span>' % (status_cls, _e(host_js['status'].replace('_', ' '))))
        for sev in ('error', 'warning', 'info'):
            n = counts[sev]
            w('<span class="badge%s" style="background: var(--%s)" title="%s">%d</span>'
              % ('' if n else ' z', sev, _e(_plural(n, sev)), n))
        w('</td>')
        if not host_js['checks']:
            w('<td class="why %s" colspan="%d"><div>%s</div></td>'
              % (_e(host_js['status']), max(len(cols), 1), _e(host_js['reason'])))
        for i, check_id in enumerate(cols if host_js['checks'] else []):
            cell = host_js['cells'].get(check_id)
            sev = cell['severity'] if cell else 'missing'
            classes = ['c']
            if i and groups[i] != groups[i - 1]:
                classes.append('gs')
            if check_id not in problems:
                classes.append('allok')
            label = '%s: %s %s' % (name, check_id, sev if cell else 'not evaluated')
            w('<td class="%s"><button type="button" class="cell %s" data-c="%d" title="%s" aria-label="%s">%s'
              '</button></td>' % (' '.join(classes), sev, i, _e(label), _e(label), _GLYPH[sev]))
        w('</tr>\n')
    w('</tbody>\n</table>\n</div>\n')
    w('<aside id="details" aria-live="polite"><h2>Details</h2><p class="hint">Click a cell for its message and fix, '
      'or a host name for all of that host\'s findings.</p></aside>\n</main>\n')
    w('<footer>%s, %s &middot; kubenode.netfilter %s</footer>\n'
      % (_e(_plural(summary['hosts'], 'host')), _e(_plural(len(cols), 'check')), _e(data['collection_version'])))
    w('<script type="application/json" id="fleet-data">%s</script>\n'
      % _script_json({'columns': cols, 'hosts': hosts_js}))
    w('<script>%s</script>\n</body>\n</html>\n' % _JS)
    return ''.join(out)
