# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Table tests for the fleet report renderers (_report): validation, JSON, JUnit, HTML."""
from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from ansible_collections.kubenode.netfilter.plugins.module_utils import _report

EVIL = '<script>alert("x")</script>&\x1b[31m\x00'


def check(cid, severity, message='m', fix=None):
    return {'id': cid, 'severity': severity, 'message': message, 'fix': fix}


def report(**hosts):
    return {'generated_at': '2026-03-01T10:00:00Z', 'collection_version': '0.1.0', 'proxy_mode': 'iptables',
            'distribution': 'k3s', 'cni': 'flannel', 'hosts': hosts}


def ok_host(*checks):
    return {'status': 'ok', 'error': None, 'checks': list(checks)}


FLEET = report(**{
    'node1': ok_host(check('kernel.option_missing.NETFILTER_XT_MATCH_STATISTIC', 'error', 'STATISTIC is n', 'rebuild'),
                     check('tool.missing.nft', 'ok', 'nft 1.0.6'),
                     check('sysctl.net.ipv4.ip_forward', 'warning', 'ip_forward=0', 'set it to 1'),
                     check('netfilter.mixed_backends', 'info', 'note')),
    'node2': ok_host(check('tool.missing.nft', 'ok', 'nft 1.0.6')),
    'node10': {'status': 'unreachable', 'error': 'ssh timed out', 'checks': []},
    'node3': {'status': 'failed', 'error': 'kernel_config_facts: permission denied', 'checks': []},
    'node4': {'status': 'no_data', 'error': None, 'checks': []},
})

# --------------------------------------------------------------------------------------------------------------------
# validation


def _set(path, value):
    def mutate(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return mutate


BAD = [
    ('not a mapping', lambda d: [], 'the fleet report must be a mapping'),
    ('missing meta', _set(['proxy_mode'], KeyError), "missing the key 'proxy_mode'"),
    ('meta type', _set(['cni'], 3), 'cni must be a string, got int'),
    ('hosts missing', _set(['hosts'], KeyError), "missing the key 'hosts'"),
    ('hosts list', _set(['hosts'], ['node1']), 'hosts must be a mapping'),
    ('host not mapping', _set(['hosts', 'node1'], 'ok'), "hosts['node1'] must be a mapping"),
    ('status bad', _set(['hosts', 'node1', 'status'], 'down'), "hosts['node1'].status must be one of ok, failed"),
    ('status missing', _set(['hosts', 'node1', 'status'], KeyError), "hosts['node1'] is missing the key 'status'"),
    ('error type', _set(['hosts', 'node3', 'error'], 1), "hosts['node3'].error must be a string or null"),
    ('checks dict', _set(['hosts', 'node1', 'checks'], {}), "hosts['node1'].checks must be a list, got dict"),
    ('checks str', _set(['hosts', 'node1', 'checks'], 'x'), "hosts['node1'].checks must be a list, got str"),
    ('check not mapping', _set(['hosts', 'node1', 'checks', 1], 'x'), "hosts['node1'].checks[1] must be a mapping"),
    ('severity bad', _set(['hosts', 'node1', 'checks', 2, 'severity'], 'fatal'),
     "hosts['node1'].checks[2].severity must be one of error, warning, info, ok, got 'fatal'"),
    ('id empty', _set(['hosts', 'node1', 'checks', 0, 'id'], ' '), "hosts['node1'].checks[0].id must not be empty"),
    ('id missing', _set(['hosts', 'node2', 'checks', 0, 'id'], KeyError),
     "hosts['node2'].checks[0] is missing the key 'id'"),
    ('fix type', _set(['hosts', 'node1', 'checks', 0, 'fix'], ['a']),
     "hosts['node1'].checks[0].fix must be a string or null, got list"),
    ('message none', _set(['hosts', 'node1', 'checks', 0, 'message'], None),
     "hosts['node1'].checks[0].message must be a string, got NoneType"),
    ('host name', _set(['hosts', 5], ok_host()), 'every host name must be a non-empty string, got 5'),
]


@pytest.mark.parametrize('mutate, message', [b[1:] for b in BAD], ids=[b[0] for b in BAD])
@pytest.mark.parametrize('render', [_report.normalize, _report.to_json, _report.to_junit, _report.to_html],
                         ids=['normalize', 'json', 'junit', 'html'])
def test_bad_input_names_the_key(render, mutate, message):
    data = copy.deepcopy(FLEET)
    replaced = mutate(data)
    data = data if replaced is None else replaced
    with pytest.raises(ValueError) as err:
        render(data)
    assert message in str(err.value)


def test_junit_rejects_unknown_warning_mode():
    with pytest.raises(ValueError, match="warnings must be one of skipped, pass, failure, got 'loud'"):
        _report.to_junit(FLEET, warnings='loud')


def test_normalize_sorts_drops_unknown_keys_and_accepts_null_checks():
    data = copy.deepcopy(FLEET)
    data['extra'] = 1
    data['hosts']['node2']['groups'] = ['workers']
    data['hosts']['node4']['checks'] = None
    out = _report.normalize(data)
    assert 'extra' not in out and 'groups' not in out['hosts']['node2']
    assert list(out['hosts']) == ['node1', 'node2', 'node3', 'node4', 'node10']  # natural order
    want = sorted(c['id'] for c in FLEET['hosts']['node1']['checks'])
    assert [out['findings'][i]['id'] for i in out['hosts']['node1']['checks']] == want
    assert out['hosts']['node4']['checks'] == []
    assert FLEET['hosts']['node4']['checks'] == []  # input untouched


def test_duplicate_ids_merge_to_the_worst():
    host = ok_host(check('a.b', 'ok', 'first'), check('a.b', 'warning', 'second', 'do x'))
    data = _report.normalize(report(h=host))
    cells = _report.merged_checks(data, data['hosts']['h'])
    assert cells['a.b']['severity'] == 'warning'
    assert [i['message'] for i in cells['a.b']['items']] == ['second', 'first']


# --------------------------------------------------------------------------------------------------------------------
# JSON


def test_json_round_trip_and_summary():
    text = _report.to_json(FLEET)
    data = json.loads(text)
    assert _report.normalize(data) == _report.normalize(FLEET)
    assert _report.to_json(data) == text  # its own output is valid input, byte for byte
    assert data['summary']['checks'] == {'error': 1, 'warning': 1, 'info': 1, 'ok': 2}
    assert data['summary']['host_status'] == {'ok': 2, 'failed': 1, 'unreachable': 1, 'no_data': 1}
    assert data['summary']['per_host']['node1']['verdict'] == 'error'
    assert data['summary']['per_host']['node10']['verdict'] == 'unverified'
    assert text.endswith('\n')


def test_json_is_stable_under_input_order():
    shuffled = copy.deepcopy(FLEET)
    shuffled['hosts'] = dict(reversed(list(shuffled['hosts'].items())))
    shuffled['hosts']['node1']['checks'].reverse()
    assert _report.to_json(shuffled) == _report.to_json(FLEET)


def test_merging_json_hosts_of_two_slices():
    slice1 = report(a=ok_host(check('x.y', 'ok')))
    slice2 = report(b=ok_host(check('x.y', 'error', 'bad')))
    merged = _report.merge([_report.to_json(slice1), slice2])
    assert json.loads(_report.to_json(merged))['summary']['checks'] == {'error': 1, 'warning': 0, 'info': 0, 'ok': 1}


# --------------------------------------------------------------------------------------------------------------------
# JUnit


def _cases(xml_text):
    root = ET.fromstring(xml_text.encode('utf-8'))
    return root, {(tc.get('classname'), tc.get('name')): tc for tc in root.iter('testcase')}


def _kind(tc):
    for tag in ('failure', 'error', 'skipped'):
        if tc.find(tag) is not None:
            return tag
    return 'pass'


EXPECT = {
    ('node1', 'kernel.option_missing.NETFILTER_XT_MATCH_STATISTIC'): 'failure',
    ('node1', 'tool.missing.nft'): 'pass',
    ('node1', 'sysctl.net.ipv4.ip_forward'): 'skipped',
    ('node1', 'netfilter.mixed_backends'): 'pass',
    ('node2', 'tool.missing.nft'): 'pass',
    ('node10', 'host.status'): 'error',
    ('node3', 'host.status'): 'error',
    ('node4', 'host.status'): 'error',
}


@pytest.mark.parametrize('warnings, warning_kind', [('skipped', 'skipped'), ('pass', 'pass'), ('failure', 'failure')])
def test_junit_one_testcase_per_host_and_check(warnings, warning_kind):
    root, cases = _cases(_report.to_junit(FLEET, warnings=warnings))
    want = dict(EXPECT)
    want[('node1', 'sysctl.net.ipv4.ip_forward')] = warning_kind
    assert {key: _kind(tc) for key, tc in cases.items()} == want
    assert len(list(root.iter('testcase'))) == len(want)
    assert [s.get('name') for s in root.findall('testsuite')] == ['node1', 'node2', 'node3', 'node4', 'node10']
    failures = sum(1 for k in want.values() if k == 'failure')
    assert (root.get('tests'), root.get('failures'), root.get('errors'), root.get('skipped')) == (
        str(len(want)), str(failures), '3', '1' if warning_kind == 'skipped' else '0')
    for suite in root.findall('testsuite'):
        kinds = [_kind(tc) for tc in suite.iter('testcase')]
        assert suite.get('tests') == str(len(kinds))
        assert suite.get('failures') == str(kinds.count('failure'))
        assert suite.get('errors') == str(kinds.count('error'))
        assert suite.get('skipped') == str(kinds.count('skipped'))
        assert all(tc.get('classname') == suite.get('name') for tc in suite.iter('testcase'))


def test_junit_texts_carry_message_fix_and_reason():
    _x, cases = _cases(_report.to_junit(FLEET))
    failure = cases[('node1', 'kernel.option_missing.NETFILTER_XT_MATCH_STATISTIC')].find('failure')
    assert failure.get('message') == 'STATISTIC is n' and 'fix: rebuild' in failure.text
    skipped = cases[('node1', 'sysctl.net.ipv4.ip_forward')].find('skipped')
    assert skipped.get('message') == 'WARNING: ip_forward=0' and 'fix: set it to 1' in skipped.text
    info = cases[('node1', 'netfilter.mixed_backends')]
    assert info.find('system-out').text == 'INFO: note'
    assert info.find('properties/property').attrib == {'name': 'severity', 'value': 'info'}
    error = cases[('node10', 'host.status')].find('error')
    assert error.get('type') == 'unreachable' and 'ssh timed out' in error.get('message')
    assert cases[('node4', 'host.status')].find('error').text == 'no preflight data for this host'


def test_junit_escapes_hostile_text():
    data = report(**{EVIL: ok_host(check('a.' + EVIL, 'error', EVIL, EVIL))})
    text = _report.to_junit(data)
    assert '\x00' not in text and '\x1b' not in text
    root, cases = _cases(text)  # parses: the control characters were replaced, markup escaped
    (key, tc), = cases.items()
    clean = EVIL.replace('\x1b', '\ufffd').replace('\x00', '\ufffd')
    assert key == (clean, 'a.' + clean)
    assert tc.find('failure').get('message') == clean
    assert root.find('testsuite').get('name') == clean


# --------------------------------------------------------------------------------------------------------------------
# HTML


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []
        self.rows = []
        self.text = []
        self.scripts = []
        self._script = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == 'tr' and 'data-host' in a:
            self.rows.append(a['data-host'])
        if tag == 'script':
            self._script = [a, '']

    def handle_endtag(self, tag):
        if tag == 'script' and self._script is not None:
            self.scripts.append(tuple(self._script))
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            self._script[1] += data
        else:
            self.text.append(data)


def _parse(text):
    p = _Collect()
    p.feed(text)
    p.close()
    return p


def _blob(text):
    """The page's embedded data (what its script renders the grid from)."""
    page = _parse(text)
    (blob,) = [b for a, b in page.scripts if a.get('type') == 'application/json']
    return json.loads(blob)


def _cell_severities(data, host):
    """Per column the severity the page draws for the host (the worst of the referenced rows), or missing."""
    out = []
    for value in host['c']:
        refs = [] if not value else [value - 1] if isinstance(value, int) else value
        out.append(min((data['rows'][r][0] for r in refs), key=_report.SEVERITIES.index) if refs else 'missing')
    return out


def test_html_data_rows_columns_and_cells():
    data = _blob(_report.to_html(FLEET))
    assert [h['n'] for h in data['hosts']] == ['node1', 'node2', 'node3', 'node4', 'node10']
    assert data['columns'] == sorted(data['columns']) == _report.columns(_report.normalize(FLEET))
    by_name = {h['n']: h for h in data['hosts']}
    # node1 has all four columns, node2 one check + three not evaluated; the unverified hosts have no cells.
    assert sorted(_cell_severities(data, by_name['node1'])) == ['error', 'info', 'ok', 'warning']
    assert sorted(_cell_severities(data, by_name['node2'])) == ['missing', 'missing', 'missing', 'ok']
    assert [by_name[n]['c'] for n in ('node3', 'node4', 'node10')] == [None, None, None]
    assert by_name['node10']['w'] == 'host unreachable: ssh timed out'
    assert 'kernel_config_facts: permission denied' in by_name['node3']['w']


def test_html_holds_each_distinct_message_once():
    """3 hosts with the same passing check and one differing message: two table rows, each text once."""
    host = ok_host(check('tool.missing.nft', 'ok', 'nft 1.0.6 at /usr/sbin/nft'))
    other = ok_host(check('tool.missing.nft', 'ok', 'nft 1.1.1 at /usr/sbin/nft'))
    text = _report.to_html(report(a=host, b=copy.deepcopy(host), c=copy.deepcopy(host), d=other))
    assert text.count('nft 1.0.6 at /usr/sbin/nft') == 1 and text.count('nft 1.1.1 at') == 1
    data = _blob(text)
    assert len(data['rows']) == 2
    assert [h['c'] for h in data['hosts']] == [[1], [1], [1], [2]]
    out = json.loads(_report.to_json(report(a=host, b=copy.deepcopy(host), d=other)))
    assert len(out['findings']) == 2 and [h['checks'] for h in out['hosts'].values()] == [[0], [0], [1]]


def test_html_is_self_contained():
    text = _report.to_html(FLEET)
    page = _parse(text)
    for tag, attrs in page.tags:
        assert 'src' not in attrs or tag == 'img', (tag, attrs)
        assert tag != 'link'
    assert not re.search(r'(?i)\b(?:https?:)?//[a-z0-9]', text.replace('http-equiv', ''))
    for colour in _report.COLOURS.values():
        assert colour in text


@pytest.mark.parametrize('where', ['host', 'message', 'fix', 'id', 'error', 'meta'])
def test_html_escapes_hostile_strings(where):
    payload = '</script><script>alert(1)</script><img src=x onerror=alert(2)>"\'&' + where
    host = ok_host(check('a.b', 'error', 'm', 'f'))
    data = report(node=host)
    if where == 'host':
        data['hosts'] = {payload: host}
    elif where == 'message':
        host['checks'][0]['message'] = payload
    elif where == 'fix':
        host['checks'][0]['fix'] = payload
    elif where == 'id':
        host['checks'][0]['id'] = 'a.' + payload
    elif where == 'error':
        data['hosts']['down'] = {'status': 'unreachable', 'error': payload, 'checks': []}
    else:
        data['cni'] = payload
    text = _report.to_html(data)
    page = _parse(text)
    assert not any(t == 'img' for t, _x in page.tags)
    inline = [body for attrs, body in page.scripts if 'type' not in attrs]
    assert len(page.scripts) == 2 and len(inline) == 1 and 'alert' not in inline[0]
    (blob,) = [b for a, b in page.scripts if a.get('type') == 'application/json']
    assert '<' not in blob and '>' not in blob
    embedded = list(_strings(json.loads(blob)))
    if where != 'meta':
        assert any(payload in s for s in embedded), 'the details data lost the text'
    if where == 'meta':
        assert any(payload in t for t in page.text), 'the page does not show the text, escaped'


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_html_empty_fleet_and_all_unreachable():
    assert _blob(_report.to_html(report()))['hosts'] == []
    data = _blob(_report.to_html(report(a={'status': 'unreachable', 'error': None, 'checks': []})))
    assert [(h['n'], h['c'], h['w']) for h in data['hosts']] == [('a', None, 'host unreachable')]
