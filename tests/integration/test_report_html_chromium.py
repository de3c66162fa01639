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
import json
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


PROFILE = {'proxy_mode': 'iptables', 'proxy_mode_source': '/etc/rancher/k3s/config.yaml', 'distribution': 'k3s',
           'distribution_source': '/usr/local/bin/k3s --version', 'distribution_version': 'v1.31.4+k3s1',
           'cni': 'flannel', 'cni_source': 'default', 'ipv6': False, 'ipv6_source': 'default', 'assumed': ['cni']}


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
            'worker-2.prod.example.net': dict(host([statistic, bridge], failed_by='1 error, 1 warning'),
                                              profile=PROFILE),
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
    assert 'judged against: iptables, k3s v1.31.4+k3s1, flannel' in dom.details
    target = os.environ.get('KUBENODE_FLEET_SCREENSHOT')
    if target:
        shutil.copyfile(shot, target)


# --------------------------------------------------------------------------------------------------------------------
# 3,000 hosts, driven through the Chrome DevTools protocol: load, console, screenshot, scroll, a real mouse click


FLEET_SIZE = 3000


def big_report(n: int = FLEET_SIZE) -> dict:
    """n hosts from the sample's real-shaped checks: every 10th with an error, every 20th a warning, 1 % unreachable."""
    sample = sample_report()
    base = sample['hosts']['cp-1.prod.example.net']['checks']
    broken = sample['hosts']['worker-2.prod.example.net']['checks']
    warned = sample['hosts']['worker-4.prod.example.net']['checks']
    hosts = {}
    for i in range(n):
        name = 'node-%04d.dc%d.example.net' % (i, i % 3)
        if i % 100 == 42:
            hosts[name] = {'status': 'unreachable', 'error': 'ssh: connect to host %s port 22: timed out' % name,
                           'checks': []}
        elif i % 10 == 3:
            hosts[name] = {'status': 'failed', 'error': '1 error', 'checks': broken}
        elif i % 20 == 5:
            hosts[name] = {'status': 'ok', 'error': None, 'checks': warned}
        else:
            hosts[name] = {'status': 'ok', 'error': None, 'checks': base}
    return dict(sample, hosts=hosts)


class DevTools:
    """A headless Chromium with one page, spoken to over the DevTools protocol (websocket-client)."""

    def __init__(self, tmp_path: Path):
        try:
            import websocket  # websocket-client, installed with the kubernetes client (requirements.txt)
        except ImportError:
            pytest.fail('websocket-client is missing from the test venv: pip install websocket-client')
        import json as _json
        import time as _time
        import urllib.request
        self._json, self._time = _json, _time
        import tempfile
        profile = Path(tempfile.mkdtemp(prefix='profile-cdp-', dir=str(tmp_path)))  # fresh: no stale port file
        argv = [_chromium(), '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
                '--disable-background-networking', '--disable-component-update', '--disable-sync',
                '--remote-debugging-port=0', '--remote-debugging-address=127.0.0.1', '--user-data-dir=%s' % profile,
                '--force-device-scale-factor=1', '--hide-scrollbars', '--window-size=%d,%d' % WINDOW, 'about:blank']
        self.ws = None
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / 'DevToolsActivePort'
        deadline = _time.monotonic() + 60
        while not port_file.is_file() or not port_file.read_text().strip():
            if _time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                pytest.fail('chromium did not open its DevTools port (exit %r)' % self.proc.poll())
            _time.sleep(0.1)
        self.ws = None
        try:
            port = int(port_file.read_text().split()[0])
            targets = _json.loads(urllib.request.urlopen('http://127.0.0.1:%d/json/list' % port, timeout=30).read())
            page = next(t for t in targets if t.get('type') == 'page')
            self.ws = websocket.create_connection(page['webSocketDebuggerUrl'], timeout=120, suppress_origin=True)
        except Exception:
            self.close()  # never leave a browser behind
            raise
        self._id = 0
        self.console = []
        self.send('Runtime.enable')
        self.send('Log.enable')
        self.send('Page.enable')
        self.send('Emulation.setDeviceMetricsOverride', width=WINDOW[0], height=WINDOW[1], deviceScaleFactor=1,
                  mobile=False)

    def _event(self, msg):
        method = msg.get('method')
        if method == 'Runtime.consoleAPICalled':
            self.console.append('console.%s: %s' % (msg['params']['type'], [
                a.get('value', a.get('description')) for a in msg['params']['args']]))
        elif method == 'Runtime.exceptionThrown':
            self.console.append('exception: %s' % msg['params']['exceptionDetails'])
        elif method == 'Log.entryAdded' and msg['params']['entry']['level'] in ('error', 'warning'):
            self.console.append('log: %s' % msg['params']['entry'])

    def send(self, method, **params):
        self._id += 1
        self.ws.send(self._json.dumps({'id': self._id, 'method': method, 'params': params}))
        while True:
            msg = self._json.loads(self.ws.recv())
            if msg.get('id') == self._id:
                if 'error' in msg:
                    raise AssertionError('%s failed: %s' % (method, msg['error']))
                return msg.get('result', {})
            self._event(msg)

    def eval(self, expression):
        result = self.send('Runtime.evaluate', expression=expression, returnByValue=True, awaitPromise=True)
        if 'exceptionDetails' in result:
            raise AssertionError('%s raised %s' % (expression, result['exceptionDetails']))
        return result['result'].get('value')

    def wait_for(self, expression, timeout=120.0):
        deadline = self._time.monotonic() + timeout
        while self._time.monotonic() < deadline:
            try:
                if self.eval(expression):
                    return
            except AssertionError:  # the document is being replaced (navigation)
                pass
            self._time.sleep(0.05)
        raise AssertionError('timed out waiting for %s' % expression)

    def frame(self):
        """Wait until the page has rendered the next two animation frames."""
        self.eval('new Promise(function (r) { requestAnimationFrame(function () { requestAnimationFrame(r); }); })')

    def screenshot(self, path: Path):
        import base64
        path.write_bytes(base64.b64decode(self.send('Page.captureScreenshot', format='png')['data']))
        return path

    def click(self, x, y):
        for kind in ('mouseMoved', 'mousePressed', 'mouseReleased'):
            self.send('Input.dispatchMouseEvent', type=kind, x=x, y=y, button='left', clickCount=1)

    def close(self):
        try:
            if self.ws is not None:
                self.ws.close()
        except Exception:  # pylint: disable=broad-except
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope='module')
def big_page(module_tmp):
    _chromium()
    report = big_report()
    page = module_tmp / 'fleet-3000.html'
    page.write_text(_report.to_html(report), encoding='utf-8')
    browser = DevTools(module_tmp)
    try:
        import time
        start = time.monotonic()
        browser.send('Page.navigate', url=page.as_uri())
        browser.wait_for('document.documentElement.getAttribute("data-ready") === "1"')
        load_seconds = time.monotonic() - start
        yield browser, report, page, load_seconds
    finally:
        browser.close()


def test_3000_hosts_load_without_console_errors_and_render_only_visible_rows(big_page):
    browser, report, page, load_seconds = big_page
    assert page.stat().st_size < 5 * 1024 * 1024, 'the 3,000-host page is %d bytes' % page.stat().st_size
    assert browser.console == [], browser.console
    rendered = int(browser.eval('document.documentElement.getAttribute("data-rows-rendered")'))
    # Only the rows in view plus a few: the DOM does not grow with the fleet.
    assert 0 < rendered < 100, rendered
    assert browser.eval('document.querySelectorAll("#grid *").length') < 6000
    assert browser.eval('document.querySelector("#grid thead th.corner").textContent') == '3000 hosts'
    print('3,000-host page: %d bytes, ready after %.1f s, %d rows rendered'
          % (page.stat().st_size, load_seconds, rendered))


def test_3000_hosts_screenshot_shows_the_grid(big_page, module_tmp):
    browser, _report_x, _page, _s = big_page
    shot = browser.screenshot(module_tmp / 'fleet-3000.png')
    box = _rect(browser.eval('document.documentElement.getAttribute("data-cells-rect")'))
    width, height = _pillow().open(shot).size
    counts = colour_counts(shot, (box[0], box[1], min(box[2], width), min(box[3], height)))
    # A screenful of rows: mostly passed cells, the sample's errors every 10th host, its warnings, info cells.
    assert counts['ok'] > 100 * CELL_MIN_PIXELS, counts
    assert counts['error'] >= CELL_MIN_PIXELS and counts['info'] >= CELL_MIN_PIXELS, counts
    target = os.environ.get('KUBENODE_FLEET_SCREENSHOT_3000')
    if target:
        shutil.copyfile(shot, target)


def test_3000_hosts_headers_and_host_names_stay_visible_while_scrolling(big_page):
    browser, _r, _p, _s = big_page
    browser.eval('document.getElementById("gridwrap").scrollTop = 1500 * 28')
    browser.frame()
    facts = browser.eval('''(function () {
      var wrap = document.getElementById("gridwrap").getBoundingClientRect();
      var head = document.querySelector("#grid thead th.col").getBoundingClientRect();
      var rows = document.querySelectorAll("#grid tbody tr[data-h]"), inview = [];
      for (var i = 0; i < rows.length; i++) {
        var r = rows[i].getBoundingClientRect();
        if (r.top >= wrap.top && r.bottom <= wrap.bottom) { inview.push(parseInt(rows[i].getAttribute("data-h"), 10)); }
      }
      return {wrapTop: wrap.top, headTop: head.top, headBottom: head.bottom, inview: inview};
    }())''')
    assert abs(facts['headTop'] - facts['wrapTop']) <= 1, facts  # the column headers stuck to the top
    assert min(facts['inview']) > 1400 and max(facts['inview']) < 1600, facts['inview'][:5]
    browser.eval('document.getElementById("gridwrap").scrollLeft = 400')
    browser.frame()
    left = browser.eval('''(function () {
      var wrap = document.getElementById("gridwrap").getBoundingClientRect();
      var host = document.querySelector("#grid tbody th.host").getBoundingClientRect();
      return [wrap.left, host.left];
    }())''')
    assert abs(left[0] - left[1]) <= 1, left  # the host names stuck to the left
    browser.eval('document.getElementById("gridwrap").scrollLeft = 0')
    browser.frame()


def test_3000_hosts_click_on_a_cell_shows_its_message(big_page):
    browser, report, _p, _s = big_page
    host = 'node-2503.dc1.example.net'  # i % 10 == 3: the broken sample host's checks
    cid = 'kernel.option_missing.NETFILTER_XT_MATCH_STATISTIC'
    message = next(c['message'] for c in report['hosts'][host]['checks'] if c['id'] == cid)
    browser.eval('document.getElementById("gridwrap").scrollTop = 2496 * 28')
    browser.frame()
    where = browser.eval('''(function () {
      var row = document.querySelector('#grid tbody tr[data-host="%s"]');
      var cols = JSON.parse(document.getElementById("fleet-data").textContent).columns;
      var cell = row && row.querySelector('[data-c="' + cols.indexOf("%s") + '"]');
      if (!cell) { return null; }
      var r = cell.getBoundingClientRect();
      return {x: r.left + r.width / 2, y: r.top + r.height / 2, cls: cell.className};
    }())''' % (host, cid))
    assert where, 'the row of %s is not rendered after scrolling to it' % host
    assert where['cls'].split()[:2] == ['cell', 'error']
    hit = browser.eval('(function (e) { return e ? e.outerHTML.slice(0, 200) : null; }'
                       '(document.elementFromPoint(%f, %f)))' % (where['x'], where['y']))
    assert hit and 'cell error' in hit, (hit, where, browser.eval('[innerWidth, innerHeight]'))
    import time
    start = time.monotonic()
    browser.click(where['x'], where['y'])
    browser.wait_for('document.getElementById("details").textContent.indexOf(%s) >= 0' % json.dumps(host))
    click_seconds = time.monotonic() - start
    details = browser.eval('document.getElementById("details").textContent')
    assert message in details and cid in details
    assert browser.eval('location.hash') == '#host=%s&check=%s' % (quote(host, safe=''), quote(cid, safe=''))
    assert browser.eval('document.querySelectorAll("#grid .cell.sel").length') == 1
    assert browser.console == [], browser.console
    print('click -> details in %.3f s' % click_seconds)


def test_diff_marks_and_filters(module_tmp):
    """With a previous report: the changed cells carry their marks, and the filters cut rows and columns."""
    _chromium()
    current = sample_report()
    previous = copy.deepcopy(current)
    mixed_id = 'netfilter.mixed_backends'
    for check in previous['hosts']['worker-3.prod.example.net']['checks']:
        if check['id'] == mixed_id:  # was fine before: now a new error
            check.update(severity='ok', message='rules only in nf_tables', fix=None)
    previous['hosts']['worker-1.prod.example.net'] = copy.deepcopy(current['hosts']['worker-2.prod.example.net'])
    page = module_tmp / 'diff.html'
    page.write_text(_report.to_html(current, previous=previous), encoding='utf-8')
    browser = DevTools(module_tmp)
    try:
        browser.send('Page.navigate', url=page.as_uri())
        browser.wait_for('document.documentElement && document.documentElement.getAttribute("data-ready") === "1"')
        marks = browser.eval('''Array.prototype.map.call(document.querySelectorAll("#grid .cell.mn, #grid .cell.mf"),
          function (b) { return [b.closest("tr").getAttribute("data-host"), b.getAttribute("aria-label")]; })''')
        assert sorted(marks) == sorted([
            ['worker-3.prod.example.net', 'worker-3.prod.example.net: %s error (new error)' % mixed_id],
            ['worker-1.prod.example.net', 'worker-1.prod.example.net: '
             'kernel.option_missing.NETFILTER_XT_MATCH_STATISTIC ok (fixed)'],
        ]), marks
        labels = browser.eval('Array.prototype.map.call(document.querySelectorAll("#grid .chg"), '
                              'function (e) { return e.closest("tr").getAttribute("data-host") + " " + e.textContent; })')
        assert sorted(labels) == ['worker-1.prod.example.net fixed', 'worker-3.prod.example.net new error'], labels
        rows = 'Array.prototype.map.call(document.querySelectorAll("#grid tbody tr[data-host]"), ' \
               'function (r) { return r.getAttribute("data-host"); })'
        browser.eval('(function (c) { c.checked = true; c.dispatchEvent(new Event("change")); }'
                     '(document.getElementById("only-changed")))')
        assert sorted(browser.eval(rows)) == ['worker-1.prod.example.net', 'worker-3.prod.example.net']
        browser.eval('(function (c) { c.checked = false; c.dispatchEvent(new Event("change")); }'
                     '(document.getElementById("only-changed")))')
        browser.eval('(function (c) { c.checked = true; c.dispatchEvent(new Event("change")); }'
                     '(document.getElementById("only-bad-hosts")))')
        bad = sorted(browser.eval(rows))
        assert 'cp-1.prod.example.net' not in bad and 'worker-5.prod.example.net' in bad  # unverified stays
        browser.eval('(function (c) { c.checked = true; c.dispatchEvent(new Event("change")); }'
                     '(document.getElementById("only-problems")))')
        heads = browser.eval('Array.prototype.map.call(document.querySelectorAll("#grid thead th.col"), '
                             'function (th) { return th.title; })')
        assert mixed_id in heads and 'tool.missing.iptables' not in heads, heads
        browser.eval('(function (s) { s.value = "worker-1"; s.dispatchEvent(new Event("input")); }'
                     '(document.getElementById("host-filter")))')
        assert browser.eval(rows) == []  # worker-1 has no problem now: filtered out by only-bad-hosts
        browser.eval('(function (c) { c.checked = false; c.dispatchEvent(new Event("change")); }'
                     '(document.getElementById("only-bad-hosts")))')
        assert sorted(browser.eval(rows)) == ['worker-1.prod.example.net', 'worker-10.prod.example.net']
        assert browser.console == [], browser.console
    finally:
        browser.close()


def test_kernel_release_of_a_finding_shows_in_the_cell_and_the_details(module_tmp):
    report = sample_report()
    del report['hosts'][HOSTILE_HOST]
    for check in report['hosts']['worker-2.prod.example.net']['checks']:
        if check['id'] == 'kernel.option_missing.NETFILTER_XT_MATCH_STATISTIC':
            check['kernel_release'] = '6.12.9-amd64'
    fragment = '#host=%s&check=%s' % (quote('worker-2.prod.example.net'),
                                      quote('kernel.option_missing.NETFILTER_XT_MATCH_STATISTIC'))
    dom, _x, _text = render(module_tmp, report, 'kernel', fragment)
    assert 'kernel 6.12.9-amd64 (installed, not the running one)' in dom.details
    dumped = _run_chromium(module_tmp, 'kernel-cells', (module_tmp / 'kernel.html').as_uri(), '--dump-dom').stdout
    assert ('title="worker-2.prod.example.net: kernel.option_missing.NETFILTER_XT_MATCH_STATISTIC error '
            '(kernel 6.12.9-amd64)"') in dumped
