# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The report's schema 2 (table of distinct results), reading schema 1, merge of several reports, diff to a previous."""
from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.kubenode.netfilter.plugins.module_utils import _report


def check(cid, severity, message='m', fix=None, **extra):
    return dict({'id': cid, 'severity': severity, 'message': message, 'fix': fix}, **extra)


def host(*checks, status='ok', error=None, **extra):
    return dict({'status': status, 'error': error, 'checks': list(checks)}, **extra)


def report(at='2026-03-01T10:00:00Z', mode='iptables', **hosts):
    return {'generated_at': at, 'collection_version': '0.1.0', 'proxy_mode': mode, 'distribution': 'k3s',
            'cni': 'flannel', 'hosts': hosts}


REMEDY = {'kind': 'load_modules', 'modules': ['br_netfilter'], 'allowed_by': 'kubenode_kernel_modules_remediate'}
PROFILE = {'proxy_mode': 'nftables', 'proxy_mode_source': '/etc/rancher/k3s/config.yaml: kube-proxy-arg',
           'distribution': 'k3s', 'distribution_source': '/usr/local/bin/k3s', 'distribution_version': 'v1.31.2+k3s1',
           'cni': 'flannel', 'cni_source': 'default', 'ipv6': False, 'ipv6_source': 'default',
           'assumed': ['cni', 'ipv6']}


def _ids(data, name, severity=None):
    rows = data['findings']
    return [rows[i]['id'] for i in data['hosts'][name]['checks'] if severity in (None, rows[i]['severity'])]


# --------------------------------------------------------------------------------------------------------------------
# schema 2


def test_schema_1_and_its_json_normalize_the_same():
    old = report(a=host(check('k.x', 'error', 'bad', 'fix it', remedy=REMEDY, kernel_release='6.12.1-amd64'),
                        check('t.nft', 'ok', 'nft 1.0.6'), profile=PROFILE),
                 b=host(check('t.nft', 'ok', 'nft 1.0.6')))
    text = _report.to_json(old)
    data = json.loads(text)
    assert data['schema_version'] == 2
    assert _report.normalize(data) == _report.normalize(old)
    row = data['findings'][data['hosts']['a']['checks'][0]]
    assert row['remedy'] == REMEDY and row['kernel_release'] == '6.12.1-amd64'
    assert data['hosts']['a']['profile'] == PROFILE
    assert data['hosts']['a']['checked_at'] == '2026-03-01T10:00:00Z'  # from generated_at
    assert data['hosts']['a']['checks'][1] == data['hosts']['b']['checks'][0]  # the same result, one row
    assert len(data['findings']) == 2
    assert _report.expand(data)['hosts']['a']['checks'][0]['remedy'] == REMEDY


@pytest.mark.parametrize('mutate, message', [
    (lambda d: d.update(schema_version=3), 'schema_version must be 1 or 2, got 3'),
    (lambda d: d['hosts']['a'].update(checks=[5]), "hosts['a'].checks[0] must be an index into findings (0..0)"),
    (lambda d: d['hosts']['a'].update(checks=['0']), "hosts['a'].checks[0] must be an index into findings"),
    (lambda d: d['findings'][0].update(remedy='x'), 'findings[0].remedy must be a mapping or null, got str'),
    (lambda d: d['hosts']['a'].update(profile=['x']), "hosts['a'].profile must be a mapping or null, got list"),
    (lambda d: d.pop('findings'), "the fleet report is missing the key 'findings'"),
])
def test_schema_2_errors_name_the_key(mutate, message):
    data = json.loads(_report.to_json(report(a=host(check('k.x', 'ok')))))
    mutate(data)
    with pytest.raises(ValueError) as err:
        _report.normalize(data)
    assert message in str(err.value)


def test_kernel_release_and_profile_in_junit():
    data = report(a=host(check('k.x', 'error', 'CONFIG_X missing', 'rebuild', kernel_release='6.12.1-amd64'),
                         profile=PROFILE))
    xml = _report.to_junit(data)
    assert 'name="k.x [nftables, k3s v1.31.2+k3s1, flannel]"' in xml
    assert 'kernel: 6.12.1-amd64 (installed, not the running one)' in xml
    assert 'proxy_mode=nftables (from /etc/rancher/k3s/config.yaml: kube-proxy-arg)' in xml
    assert 'cni=flannel (from default) [assumed: default]' in xml


# --------------------------------------------------------------------------------------------------------------------
# merge


def test_merge_slices_is_the_union_and_keeps_each_hosts_time():
    one = report('2026-03-01T10:00:00Z', a=host(check('x', 'ok')))
    two = report('2026-03-01T11:00:00Z', b=host(check('x', 'error', 'bad')))
    merged = _report.merge([_report.to_json(one), two])
    assert list(merged['hosts']) == ['a', 'b']
    assert merged['hosts']['a']['checked_at'] == '2026-03-01T10:00:00Z'
    assert merged['hosts']['b']['checked_at'] == '2026-03-01T11:00:00Z'
    assert merged['generated_at'] == '2026-03-01T11:00:00Z'
    assert _ids(merged, 'b', 'error') == ['x']


@pytest.mark.parametrize('order', [(0, 1), (1, 0)])
def test_merge_newest_result_per_host_wins_in_any_order(order):
    old = report('2026-03-01T10:00:00Z', a=host(check('x', 'error', 'bad')))
    new = report('2026-03-02T10:00:00+00:00', a=host(check('x', 'ok', 'fine')))
    merged = _report.merge([(old, new)[i] for i in order])
    assert _ids(merged, 'a', 'ok') == ['x'] and merged['hosts']['a']['checked_at'] == '2026-03-02T10:00:00+00:00'


def test_merge_no_data_never_beats_a_checked_host_and_ties_go_to_the_later_report():
    checked = report('2026-03-01T10:00:00Z', a=host(check('x', 'error', 'bad')))
    later_placeholder = report('2026-03-01T12:00:00Z', a=host(status='no_data', error='later batch'))
    assert _ids(_report.merge([checked, later_placeholder]), 'a') == ['x']
    first = report('2026-03-01T10:00:00Z', a=host(check('x', 'error')))
    second = report('2026-03-01T10:00:00Z', a=host(check('x', 'ok')))
    assert _ids(_report.merge([first, second]), 'a', 'ok') == ['x']
    assert _ids(_report.merge([second, first]), 'a', 'error') == ['x']


def test_merge_mixed_meta_keeps_what_each_host_was_judged_against():
    one = report(mode='iptables', a=host(check('x', 'ok')))
    two = report(mode='nftables', b=host(check('x', 'ok'), profile=PROFILE))
    merged = _report.merge([one, two])
    assert merged['proxy_mode'] == _report.MIXED and merged['cni'] == 'flannel'
    assert merged['hosts']['a']['profile']['proxy_mode'] == 'iptables'
    assert merged['hosts']['b']['profile'] == PROFILE


@pytest.mark.parametrize('reports, message', [
    ([], 'the list of reports is empty'),
    ({'hosts': {}}, 'the input must be a list of reports'),
    (['{not json'], 'reports[0] is not valid JSON'),
    ([report(), {'hosts': {}}], "reports[1]: the fleet report is missing the key 'generated_at'"),
])
def test_merge_bad_input(reports, message):
    with pytest.raises(ValueError) as err:
        _report.merge(reports)
    assert message in str(err.value)


# --------------------------------------------------------------------------------------------------------------------
# diff


PREVIOUS = report('2026-03-01T10:00:00Z',
                  stays=host(check('a', 'error'), check('b', 'ok')),
                  fixed=host(check('a', 'error'), check('b', 'ok')),
                  broke=host(check('a', 'ok'), check('b', 'warning')),
                  down=host(check('a', 'ok')),
                  gone=host(check('a', 'ok')))
CURRENT = report('2026-03-02T10:00:00Z',
                 stays=host(check('a', 'error', 'other text'), check('b', 'ok')),
                 fixed=host(check('a', 'ok'), check('b', 'ok')),
                 broke=host(check('a', 'ok'), check('b', 'error')),
                 down=host(status='unreachable', error='ssh'),
                 new=host(check('a', 'error')))


def test_diff_new_errors_and_fixed():
    got = _report.diff(CURRENT, _report.to_json(PREVIOUS))
    assert got['previous_generated_at'] == '2026-03-01T10:00:00Z'
    assert got['hosts'] == {
        'broke': {'previous_verdict': 'warning', 'verdict': 'error', 'change': 'new_error', 'new_errors': ['b'],
                  'fixed': []},
        'fixed': {'previous_verdict': 'error', 'verdict': 'ok', 'change': 'fixed', 'new_errors': [], 'fixed': ['a']},
        'new': {'previous_verdict': 'absent', 'verdict': 'error', 'change': 'new_error', 'new_errors': ['a'],
                'fixed': []},
    }
    assert (got['new_errors'], got['fixed'], got['hosts_new_error'], got['hosts_fixed']) == (2, 1, 2, 1)
    assert got['added'] == ['new'] and got['removed'] == ['gone']


def test_diff_in_json_and_html():
    out = json.loads(_report.to_json(CURRENT, previous=PREVIOUS))
    assert out['diff']['hosts']['broke']['new_errors'] == ['b']
    assert 'diff' not in _report.normalize(out)  # a diffed report is still valid input
    html = _report.to_html(CURRENT, previous=PREVIOUS)
    start = html.index('<script type="application/json" id="fleet-data">') + len(
        '<script type="application/json" id="fleet-data">')
    data = json.loads(html[start:html.index('</script>', start)])
    by_name = {h['n']: h for h in data['hosts']}
    col = data['columns'].index
    assert by_name['broke']['d'] == [[col('b'), 'n']] and by_name['broke']['x'] == 'new_error'
    assert by_name['fixed']['d'] == [[col('a'), 'f']] and by_name['fixed']['x'] == 'fixed'
    assert 'd' not in by_name['stays'] and 'x' not in by_name['stays']
    assert data['previous'] == '2026-03-01T10:00:00Z'
    assert 'data-count="new-errors"><span class="n">2</span>' in html


def test_diff_against_itself_is_empty():
    got = _report.diff(CURRENT, copy.deepcopy(CURRENT))
    assert got['hosts'] == {} and got['new_errors'] == got['fixed'] == 0
