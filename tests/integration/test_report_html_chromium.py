# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Open the HTML fleet report in headless Chromium: no script errors, every host row, every severity colour.

Two Chromium runs per page at the same window size: ``--dump-dom`` (the DOM after the page's script ran: the script
marks ``<html data-ready="1">`` and writes the on-screen rectangle of each grid row and of the cell area) and
``--screenshot``. The test crops the screenshot to each host's row of cells and counts pixels of the exact colours
in ``_report.COLOURS``. Needs the Debian package ``chromium`` and Pillow.

Set ``KUBENODE_FLEET_SCREENSHOT=PATH`` to keep the sample screenshot (docs/images/fleet-report.png is made so).
"""
from __future__ import annotations

import copy
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest

from ansible_collections.kubenode.netfilter.plugins.module_utils import _report

WINDOW = (1400, 900)
CELL_MIN_PIXELS = 300  # of a 24 x 24 cell's 576 pixels, at least this many keep the exact fill colour
HOSTILE_HOST = '<img src=x onerror="document.title=\'pwned\'">node-evil'
HOSTILE_MESSAGE = '</script><script>document.title="pwned"</script> & <b>bold</b>'


def _chromium() -> str:
    found = shutil.which('chromium') or shutil.which('chromium-browser')
    if not found:
        pytest.skip('chromium is not installed (Debian package "chromium"; scripts/bootstrap.sh installs it)')
    return found


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        pytest.fail('Pillow is missing from the test venv (requirements-dev.txt lists it): pip install pillow')
    return Image


def _check(cid, sev, msg, fix=None):
    return {'id': cid, 'severity': sev, 'message': msg, 'fix': fix}


def sample_report() -> dict:
    """A fleet of realistic hosts: clean, broken kernel, mixed backends, warnings only, unreachable, failed, hostile."""
    base = [
        _check('kernel.option_missing.NETFILTER_XT_MATCH_COMMENT', 'ok', 'CONFIG_NETFILTER_XT_MATCH_COMMENT=m, loadable'),
        _check('kernel.option_missing.NETFILTER_XT_MATCH_STATISTIC', 'ok', 'CONFIG_NETFILTER_XT_MATCH_STATISTIC=m'),
        _check('kernel.option_missing.NF_CONNTRACK', 'ok', 'CONFIG_NF_CONNTRACK=y'),
        _check('kernel.option_missing.NF_NAT', 'ok', 'CONFIG_NF_NAT=y'),
        _check('kernel.option_missing.BRIDGE_NETFILTER', 'ok', 'CONFIG_BRIDGE_NETFILTER=m, module loaded'),
        _check('kernel.option_missing.NETFILTER_XT_MARK', 'ok', 'CONFIG_NETFILTER_XT_MARK=m'),
        _check('tool.missing.iptables', 'ok', 'iptables v1.8.9 (nf_tables) at /usr/sbin/iptables'),
        _check('tool.missing.nft', 'ok', 'nft v1.0.6 at /usr/sbin/nft'),
        _check('tool.missing.ipset', 'ok', 'ipset v7.17 at /usr/sbin/ipset'),
        _check('sysctl.net.ipv4.ip_forward', 'ok', 'net.ipv4.ip_forward = 1'),
        _check('sysctl.net.bridge.bridge-nf-call-iptables', 'ok', 'net.bridge.bridge-nf-call-iptables = 1'),
        _check('netfilter.mixed_backends', 'ok', 'rules only in nf_tables'),
        _check('netfilter.hint_backend', 'ok', 'no KUBE-IPTABLES-HINT yet; iptables resolves to nf_tables'),
        _check('netfilter.foreign_tables', 'ok', 'no foreign nft tables in the ip/ip6 families'),
        _check('cni.flannel.vxlan', 'ok', 'CONFIG_VXLAN=m'),
        _check('kube_proxy.route_localnet', 'info', 'kube-proxy sets net.ipv4.conf.all.route_localnet=1 itself in '
               'iptables mode (NodePorts on localhost).', None),
    ]

    def host(changes=(), drop=(), failed_by=None):
        checks = [dict(c) for c in base if c['id'] not in drop]
        by_id = {c['id']: c for c in checks}
        for cid, sev, msg, fix in changes:
            if cid in by_id:
                by_id[cid].update(severity=sev, message=msg, fix=fix)
            else:
                checks.append(_check(cid, sev, msg, fix))
        if failed_by:  # what the role's assert does on a host with errors (kubenode_preflight_fail_on: error)
            return {'status': 'failed', 'error': failed_by, 'checks': checks}
        return {'status': 'ok', 'error': None, 'checks': checks}

    statistic = ('kernel.option_missing.NETFILTER_XT_MATCH_STATISTIC', 'error',
                 'CONFIG_NETFILTER_XT_MATCH_STATISTIC is not set: kube-proxy in iptables mode balances Services with '
                 'the statistic match; without it every Service with more than one endpoint fails.',
                 'Use a kernel with CONFIG_NETFILTER_XT_MATCH_STATISTIC=m (or =y).')
    mixed = ('netfilter.mixed_backends', 'error',
             'Rules in both iptables-legacy (filter: 12) and iptables-nft (nat: 40): kube-proxy and the CNI will '
             'program different backends and traffic bypasses one of them.',
             'Flush the legacy tables or set kubenode_nft_conflicts_remediate: true after a backup.')
    forward = ('sysctl.net.ipv4.ip_forward', 'warning', 'net.ipv4.ip_forward = 0: pods cannot reach other nodes '
               'until kubelet or the CNI enables it.', 'Set net.ipv4.ip_forward=1 in /etc/sysctl.d/.')
    bridge = ('kernel.option_missing.BRIDGE_NETFILTER', 'warning', 'br_netfilter is loadable but nothing loads it on '
              'demand: bridged pod traffic skips iptables until it is loaded.',
              'Set kubenode_kernel_modules_remediate: true (loads and persists br_netfilter).')
    hostile = host([('tool.missing.nft', 'error', HOSTILE_MESSAGE, '<i>rm -rf /</i>')], failed_by='1 error')
    failed = {'status': 'failed', 'error': 'kernel_config_facts: /proc/config.gz: Permission denied', 'checks': []}
    return {
        'generated_at': '2026-03-01T10:15:00+00:00', 'collection_version': '0.1.0', 'proxy_mode': 'iptables',
        'distribution': 'k3s', 'cni': 'flannel',
        'hosts': {
            'cp-1.prod.example.net': host(),
            'worker-1.prod.example.net': host(),
            'worker-2.prod.example.net': host([statistic, bridge], failed_by='1 error, 1 warning'),
            'worker-3.prod.example.net': host([mixed, forward], failed_by='1 error, 1 warning'),
            'worker-4.prod.example.net': host([forward], drop=('cni.flannel.vxlan', 'tool.missing.ipset')),
            'worker-10.prod.example.net': host([('tool.missing.ipset', 'info', 'ipset is not installed; only ipvs '
                                                 'mode and Calico need it.', None)]),
            'worker-5.prod.example.net': {'status': 'unreachable', 'checks': [],
                                          'error': 'Failed to connect to the host via ssh: Connection timed out'},
            'worker-6.prod.example.net': failed,
            HOSTILE_HOST: hostile,
        },
    }


class _Dom(HTMLParser):
    """Collects the grid rows (data-host, data-rect), the <html> attributes, the title, <img> tags, details text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.html_attrs = {}
        self.rows = {}
        self.imgs = 0
        self.title = ''
        self.details = ''
        self._in_title = False
        self._aside_depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'html':
            self.html_attrs = a
        elif tag == 'tr' and 'data-host' in a:
            self.rows[a['data-host']] = a.get('data-rect')
        elif tag == 'img':
            self.imgs += 1
        elif tag == 'title':
            self._in_title = True
        if self._aside_depth or (tag == 'aside' and a.get('id') == 'details'):
            self._aside_depth += 1

    def handle_endtag(self, tag):
        if tag == 'title':
            self._in_title = False
        if self._aside_depth:
            self._aside_depth -= 1

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        elif self._aside_depth:
            self.details += data + ' '


def _run_chromium(tmp_path: Path, name: str, url: str, mode: str) -> subprocess.CompletedProcess:
    profile = tmp_path / ('profile-' + name)
    argv = [_chromium(), '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync',
            '--user-data-dir=%s' % profile, '--force-device-scale-factor=1', '--hide-scrollbars',
            '--enable-logging=stderr', '--v=0', '--window-size=%d,%d' % WINDOW]
    argv += [mode, url]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
    if proc.returncode != 0:
        pytest.fail('%r exited %d\nstderr:\n%s' % (argv, proc.returncode, proc.stderr[-4000:]))
    console = [line for line in proc.stderr.splitlines() if ':CONSOLE' in line]
    assert not console, 'the page wrote to the console (script errors?):\n' + '\n'.join(console)
    return proc


def render(tmp_path: Path, report: dict, name: str, fragment: str = ''):
    """Write the page, dump its DOM and take a screenshot; return (dom, screenshot path, html text)."""
    page = tmp_path / (name + '.html')
    text = _report.to_html(report)
    page.write_text(text, encoding='utf-8')
    url = page.as_uri() + fragment
    dom = _Dom()
    dom.feed(_run_chromium(tmp_path, name + '-dom', url, '--dump-dom').stdout)
    shot = tmp_path / (name + '.png')
    _run_chromium(tmp_path, name + '-shot', url, '--screenshot=%s' % shot)
    assert shot.is_file(), 'chromium wrote no screenshot'
    return dom, shot, text


def _rgb(colour: str):
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def colour_counts(shot: Path, box):
    """Pixels of each _report.COLOURS colour inside box=(left, top, right, bottom) of the screenshot."""
    image = _pillow().open(shot).convert('RGB').crop(box)
    wanted = {_rgb(c): sev for sev, c in _report.COLOURS.items()}
    counts = {sev: 0 for sev in _report.COLOURS}
    for n, rgb in image.getcolors(maxcolors=image.width * image.height + 1):
        if rgb in wanted:
            counts[wanted[rgb]] += n
    return counts


def _rect(value):
    x, y, w, h = (int(v) for v in value.split(','))
    return x, y, x + w, y + h


def expected_cells(host: dict, columns):
    """Cells of a host's row per colour, as the page must draw them."""
    data = _report.normalize({'generated_at': '', 'collection_version': '', 'proxy_mode': '', 'distribution': '',
                              'cni': '', 'hosts': {'h': host}})
    merged = _report.merged_checks(data, data['hosts']['h'])
    counts = {sev: 0 for sev in _report.COLOURS}
    if not host['checks']:
        return counts
    for cid in columns:
        counts[merged[cid]['severity'] if cid in merged else 'missing'] += 1
    return counts


def assert_grid(report: dict, dom: _Dom, shot: Path):
    assert dom.html_attrs.get('data-ready') == '1', 'the page script did not finish (data-ready missing)'
    assert dom.title != 'pwned' and 'pwned' not in dom.title
    assert dom.imgs == 0, 'an <img> element was injected from report text'
    assert set(dom.rows) == set(report['hosts']), 'grid rows %r != hosts %r' % (
        sorted(dom.rows), sorted(report['hosts']))
    cells_left, _x, cells_right, _x = _rect(dom.html_attrs['data-cells-rect'])
    width, height = _pillow().open(shot).size
    columns = _report.columns(_report.normalize(report))
    seen = {sev: 0 for sev in _report.COLOURS}
    for name, host in report['hosts'].items():
        _x, top, _x, bottom = _rect(dom.rows[name])
        assert bottom <= height, 'row of %s is below the %dpx window: enlarge WINDOW or shrink the sample' % (
            name, height)
        got = colour_counts(shot, (cells_left, top, min(cells_right, width), bottom))
        want = expected_cells(host, columns)
        for sev, n in want.items():
            seen[sev] += n
            if n:
                assert got[sev] >= n * CELL_MIN_PIXELS, '%s: %d %s cells but %d %s pixels' % (
                    name, n, sev, got[sev], _report.COLOURS[sev])
            else:
                assert got[sev] == 0, '%s: no %s cell expected, found %d %s pixels' % (
                    name, sev, got[sev], _report.COLOURS[sev])
    return seen


@pytest.fixture(scope='module')
def module_tmp(tmp_path_factory):
    return tmp_path_factory.mktemp('fleet-html')


def test_sample_fleet_grid(module_tmp):
    report = sample_report()
    dom, shot, text = render(module_tmp, report, 'sample')
    seen = assert_grid(report, dom, shot)
    for sev in ('error', 'warning', 'info', 'ok', 'missing'):
        assert seen[sev], 'the sample must exercise %s cells' % sev
    assert '<script>document.title' not in text
    assert 'worker-5.prod.example.net' in dom.rows


def test_unverified_hosts_say_why(module_tmp):
    report = sample_report()
    dom, _x, _x = render(module_tmp, report, 'why', '#host=' + quote('worker-5.prod.example.net'))
    assert dom.html_attrs.get('data-ready') == '1'
    assert 'Connection timed out' in dom.details
    dom6, _x, _x = render(module_tmp, report, 'why6', '#host=' + quote('worker-6.prod.example.net'))
    assert '/proc/config.gz: Permission denied' in dom6.details


def test_all_green_fleet_has_no_problem_colours(module_tmp):
    """Guards the pixel test: a fleet without problems must show no red, amber or blue cell."""
    report = sample_report()
    clean = copy.deepcopy(report)
    clean['hosts'] = {name: host for name, host in clean['hosts'].items() if host['checks']}
    for host in clean['hosts'].values():
        for check in host['checks']:
            check['severity'] = 'ok'
    dom, shot, _x = render(module_tmp, clean, 'green')
    seen = assert_grid(clean, dom, shot)
    assert seen['error'] == seen['warning'] == seen['info'] == 0 and seen['ok']


def test_hash_selects_cell_and_details_escape_hostile_text(module_tmp):
    report = sample_report()
    fragment = '#host=%s&check=%s' % (quote(HOSTILE_HOST, safe=''), quote('tool.missing.nft', safe=''))
    dom, _x, _x = render(module_tmp, report, 'select', fragment)
    assert dom.html_attrs.get('data-ready') == '1'
    assert dom.title != 'pwned'
    assert dom.imgs == 0
    # The hostile message is shown as text in the details panel, with its fix.
    assert HOSTILE_MESSAGE in dom.details
    assert '<i>rm -rf /</i>' in dom.details
    assert HOSTILE_HOST in dom.details


def test_selecting_a_passing_cell(module_tmp):
    report = sample_report()
    fragment = '#host=%s&check=%s' % (quote('cp-1.prod.example.net'), quote('kernel.option_missing.NF_NAT'))
    dom, _x, _x = render(module_tmp, report, 'okcell', fragment)
    assert 'CONFIG_NF_NAT=y' in dom.details


def test_docs_screenshot(module_tmp):
    """The picture in docs/fleet_report.md: the sample fleet (no hostile host) with a failing cell selected."""
    report = sample_report()
    del report['hosts'][HOSTILE_HOST]
    cid = 'kernel.option_missing.NETFILTER_XT_MATCH_STATISTIC'
    fragment = '#host=%s&check=%s' % (quote('worker-2.prod.example.net'), quote(cid))
    dom, shot, _x = render(module_tmp, report, 'docs', fragment)
    assert_grid(report, dom, shot)
    assert 'statistic match' in dom.details and 'CONFIG_NETFILTER_XT_MATCH_STATISTIC=m' in dom.details
    target = os.environ.get('KUBENODE_FLEET_SCREENSHOT')
    if target:
        shutil.copyfile(shot, target)
