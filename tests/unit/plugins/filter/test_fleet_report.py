# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet report filters: through FilterModule, and through a real ansible-playbook run writing the three files."""
from __future__ import annotations

import importlib
import json
import xml.etree.ElementTree as ET

import pytest
from ansible.errors import AnsibleFilterError

import kntest

from ansible_collections.kubenode.netfilter.plugins.module_utils import _report

HOSTILE = '<script>document.title="pwned"</script> & "quotes"'

REPORT = {
    'generated_at': '2026-03-01T10:00:00Z', 'collection_version': '0.1.0', 'proxy_mode': 'nftables',
    'distribution': 'kubeadm', 'cni': 'calico',
    'hosts': {
        'web1.example.com': {'status': 'failed', 'error': '1 error', 'checks': [
            {'id': 'tool.missing.nft', 'severity': 'error', 'message': 'nft is not installed', 'fix': 'install nft'},
            {'id': 'kernel.option_missing.NF_TABLES', 'severity': 'ok', 'message': 'CONFIG_NF_TABLES=m', 'fix': None},
            {'id': 'sysctl.net.ipv4.ip_forward', 'severity': 'warning', 'message': HOSTILE, 'fix': None},
        ]},
        'web2': {'status': 'ok', 'error': None, 'checks': [
            {'id': 'tool.missing.nft', 'severity': 'ok', 'message': 'nft 1.0.6', 'fix': None},
        ]},
        'db1': {'status': 'unreachable', 'error': 'ssh: Connection timed out', 'checks': []},
    },
}

FILTERS = ('fleet_report_json', 'fleet_report_junit', 'fleet_report_html')


def _filters():
    """Every fleet_report_* filter, each from its own file (one filter per file: ansible-doc finds each one)."""
    out = {}
    for name in FILTERS + ('fleet_report_merge',):
        module = importlib.import_module('ansible_collections.kubenode.netfilter.plugins.filter.' + name)
        exported = module.FilterModule().filters()
        assert list(exported) == [name]
        out.update(exported)
    return out


def test_one_filter_per_file():
    filters = _filters()
    assert filters['fleet_report_json'](REPORT) == _report.to_json(REPORT)
    assert filters['fleet_report_junit'](REPORT, warnings='failure') == _report.to_junit(REPORT, warnings='failure')
    assert filters['fleet_report_html'](REPORT, title='t') == _report.to_html(REPORT, title='t')


@pytest.mark.parametrize('name', FILTERS)
def test_filter_bad_input_is_a_filter_error(name):
    bad = dict(REPORT, hosts={'web2': {'status': 'ok', 'error': None, 'checks': [{'id': 'x', 'severity': 'bad'}]}})
    with pytest.raises(AnsibleFilterError) as err:
        _filters()[name](bad)
    assert 'kubenode.netfilter.%s: bad fleet report:' % name in str(err.value)
    assert "hosts['web2'].checks[0].severity must be one of error, warning, info, ok, got 'bad'" in str(err.value)


def test_filter_bad_options():
    with pytest.raises(AnsibleFilterError, match='warnings must be one of'):
        _filters()['fleet_report_junit'](REPORT, warnings='maybe')
    with pytest.raises(AnsibleFilterError, match='title must be a string'):
        _filters()['fleet_report_html'](REPORT, title=3)


def test_merge_filter_takes_dicts_and_json_texts():
    merge = _filters()['fleet_report_merge']
    one = dict(REPORT, hosts={'web2': REPORT['hosts']['web2']})
    two = dict(REPORT, hosts={'db1': REPORT['hosts']['db1']})
    merged = merge([_report.to_json(one), two])
    assert sorted(merged['hosts']) == ['db1', 'web2'] and merged['summary']['hosts'] == 2
    assert _filters()['fleet_report_json'](merged) == _report.to_json(dict(REPORT, hosts={
        'db1': REPORT['hosts']['db1'], 'web2': REPORT['hosts']['web2']}))
    with pytest.raises(AnsibleFilterError, match=r"kubenode.netfilter.fleet_report_merge: reports\[1\]: "):
        merge([one, {'hosts': {}}])


PLAYBOOK = """
- name: Render the fleet report
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Write JSON
      ansible.builtin.copy:
        content: "{{ fleet | kubenode.netfilter.fleet_report_json }}"
        dest: "{{ out_dir }}/preflight.json"
        mode: "0644"
    - name: Write JUnit
      ansible.builtin.copy:
        content: "{{ fleet | kubenode.netfilter.fleet_report_junit(warnings='pass') }}"
        dest: "{{ out_dir }}/preflight.junit.xml"
        mode: "0644"
    - name: Write HTML
      ansible.builtin.copy:
        content: "{{ fleet | kubenode.netfilter.fleet_report_html(title='CI fleet') }}"
        dest: "{{ out_dir }}/preflight.html"
        mode: "0644"
    - name: Re-render from the JSON file (what merging slices does)
      ansible.builtin.copy:
        content: "{{ lookup('ansible.builtin.file', out_dir ~ '/preflight.json') | from_json
                     | kubenode.netfilter.fleet_report_json }}"
        dest: "{{ out_dir }}/again.json"
        mode: "0644"
"""

BAD_PLAYBOOK = """
- name: Render a broken fleet report
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Write HTML
      ansible.builtin.copy:
        content: "{{ fleet | kubenode.netfilter.fleet_report_html }}"
        dest: "{{ out_dir }}/preflight.html"
        mode: "0644"
"""


def _run_playbook(ansible_env, tmp_path, playbook, fleet, check=True):
    inventory = tmp_path / 'hosts'
    inventory.write_text('localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n')
    book = tmp_path / 'report.yml'
    book.write_text(playbook)
    extra = tmp_path / 'vars.json'
    extra.write_text(json.dumps({'fleet': fleet, 'out_dir': str(tmp_path / 'out')}))
    (tmp_path / 'out').mkdir()
    argv = [kntest.ansible_bin('ansible-playbook'), '-i', str(inventory), str(book), '-e', '@%s' % extra]
    return kntest.run(argv, env=ansible_env, check=check)


def test_playbook_writes_the_three_files(ansible_env, tmp_path):
    _run_playbook(ansible_env, tmp_path, PLAYBOOK, REPORT)
    out = tmp_path / 'out'

    text = (out / 'preflight.json').read_text()
    assert text == _report.to_json(REPORT)  # the filter output reaches the file unchanged
    assert (out / 'again.json').read_text() == text
    data = json.loads(text)
    checks = {data['findings'][i]['id']: data['findings'][i] for i in data['hosts']['web1.example.com']['checks']}
    assert checks['sysctl.net.ipv4.ip_forward']['message'] == HOSTILE

    root = ET.parse(str(out / 'preflight.junit.xml')).getroot()
    cases = {(tc.get('classname'), tc.get('name')): tc for tc in root.iter('testcase')}
    assert sorted(cases) == [('db1', 'host.status'), ('web1.example.com', 'kernel.option_missing.NF_TABLES'),
                             ('web1.example.com', 'sysctl.net.ipv4.ip_forward'),
                             ('web1.example.com', 'tool.missing.nft'), ('web2', 'tool.missing.nft')]
    assert cases[('web1.example.com', 'tool.missing.nft')].find('failure') is not None
    assert cases[('db1', 'host.status')].find('error').get('type') == 'unreachable'
    warn = cases[('web1.example.com', 'sysctl.net.ipv4.ip_forward')]
    assert warn.find('skipped') is None and warn.find('system-out').text == 'WARNING: ' + HOSTILE  # warnings='pass'

    page = (out / 'preflight.html').read_text()
    assert page == _report.to_html(REPORT, title='CI fleet')
    assert '<script>document.title' not in page
    assert '"n":"db1"' in page and 'ssh: Connection timed out' in page


def test_playbook_bad_report_fails_with_the_key(ansible_env, tmp_path):
    broken = dict(REPORT, hosts={'web2': {'status': 'maybe', 'error': None, 'checks': []}})
    proc = _run_playbook(ansible_env, tmp_path, BAD_PLAYBOOK, broken, check=False)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert 'kubenode.netfilter.fleet_report_html: bad fleet report:' in output
    assert "hosts['web2'].status must be one of ok, failed, unreachable, no_data, got 'maybe'" in output
    assert 'Traceback' not in output
    assert not (tmp_path / 'out' / 'preflight.html').exists()


# --------------------------------------------------------------------------------------------------------------------
# the fleet_report action (what the preflight role's report task runs), in a real ansible-playbook run

ACTION_PLAYBOOK = """
- name: Results of three hosts, as the preflight role leaves them
  hosts: all
  gather_facts: false
  tasks:
    - name: One host fails before its checks
      ansible.builtin.fail:
        msg: kernel_config_facts failed
      when: inventory_hostname == 'c-broken'
    - name: The checks (and, on one host, the profile fact)
      ansible.builtin.set_fact:
        __kubenode_preflight_checks: "{{ checks }}"
        __kubenode_profile: "{{ profile if inventory_hostname == 'a-profiled' else omit }}"
    - name: The report
      kubenode.netfilter.fleet_report:
        dest: "{{ out_dir }}"
        previous: "{{ previous | default('') }}"
      run_once: true
      register: written
    - name: Keep the action's result
      ansible.builtin.copy:
        content: "{{ written | to_json }}"
        dest: "{{ out_dir }}/result.json"
        mode: "0644"
      run_once: true
      delegate_to: localhost
"""

PROFILE = {'proxy_mode': 'nftables', 'proxy_mode_source': '/etc/rancher/k3s/config.yaml', 'distribution': 'k3s',
           'distribution_source': '/usr/local/bin/k3s', 'cni': 'flannel', 'cni_source': 'default', 'ipv6': False,
           'ipv6_source': 'default', 'assumed': ['cni', 'ipv6']}
CHECKS = [{'id': 'tool.missing.nft', 'severity': 'error', 'message': 'nft is not installed', 'fix': 'install nft',
           'remedy': {'kind': 'packages', 'packages': ['nftables']}},
          {'id': 'kernel.option_missing.NF_TABLES', 'severity': 'ok', 'message': 'CONFIG_NF_TABLES=m', 'fix': None,
           'remedy': None, 'kernel_release': '6.12.9-amd64'}]


def _run_action(ansible_env, tmp_path, extra=None):
    inventory = tmp_path / 'hosts.json'
    local = {'ansible_connection': 'local', 'ansible_python_interpreter': '/usr/bin/python3'}
    inventory.write_text(json.dumps({'all': {'hosts': {
        'a-profiled': local, 'b-variables': dict(local, kubenode_proxy_mode='iptables'), 'c-broken': local}}}))
    book = tmp_path / 'action.yml'
    book.write_text(ACTION_PLAYBOOK)
    out = tmp_path / 'out'
    variables = dict({'checks': CHECKS, 'profile': PROFILE, 'out_dir': str(out)}, **(extra or {}))
    (tmp_path / 'vars.json').write_text(json.dumps(variables))
    argv = [kntest.ansible_bin('ansible-playbook'), '-i', str(inventory), str(book),
            '-e', '@%s' % (tmp_path / 'vars.json')]
    proc = kntest.run(argv, env=ansible_env, check=False)
    assert proc.returncode == 2, proc.stdout[-3000:]  # c-broken failed on purpose
    return out


def test_action_builds_the_report_of_every_host(ansible_env, tmp_path):
    import yaml
    out = _run_action(ansible_env, tmp_path)
    data = json.loads((out / 'kubenode-preflight.json').read_text())
    assert data['schema_version'] == 2
    galaxy = yaml.safe_load((kntest.REPO / 'galaxy.yml').read_text())
    assert data['collection_version'] == str(galaxy['version'])  # from galaxy.yml, not a literal
    hosts = data['hosts']
    assert [hosts[h]['status'] for h in ('a-profiled', 'b-variables', 'c-broken')] == ['ok', 'ok', 'failed']
    assert hosts['a-profiled']['profile'] == PROFILE
    assert hosts['b-variables']['profile']['proxy_mode'] == 'iptables'
    assert hosts['b-variables']['profile']['proxy_mode_source'] == 'variable kubenode_proxy_mode'
    assert hosts['c-broken']['checks'] == [] and 'failed or was unreachable' in hosts['c-broken']['error']
    assert hosts['a-profiled']['checks'] == hosts['b-variables']['checks']  # the same two rows, stored once
    assert len(data['findings']) == 2
    rows = {r['id']: r for r in data['findings']}
    assert rows['tool.missing.nft']['remedy'] == CHECKS[0]['remedy']
    assert rows['kernel.option_missing.NF_TABLES']['kernel_release'] == '6.12.9-amd64'
    junit = (out / 'kubenode-preflight.junit.xml').read_text()
    assert 'name="tool.missing.nft [nftables, k3s, flannel]"' in junit
    assert 'classname="b-variables" name="tool.missing.nft [iptables, ' in junit
    html = (out / 'kubenode-preflight.html').read_text()
    assert '6.12.9-amd64' in html and 'nftables, k3s, flannel' in html
    result = json.loads((out / 'result.json').read_text())
    assert result['changed'] is False and sorted(result['files']) == ['html', 'json', 'junit']
    assert result['summary']['hosts'] == 3 and result['summary']['checks']['error'] == 2


def test_action_diff_with_a_previous_report_and_its_errors(ansible_env, tmp_path):
    previous = tmp_path / 'previous.json'
    previous.write_text(_report.to_json(dict(REPORT, hosts={
        'a-profiled': {'status': 'ok', 'error': None, 'checks': [
            {'id': 'tool.missing.nft', 'severity': 'ok', 'message': 'nft 1.0.6', 'fix': None}]}})))
    out = _run_action(ansible_env, tmp_path, {'previous': str(previous)})
    diff = json.loads((out / 'kubenode-preflight.json').read_text())['diff']
    assert diff['hosts']['a-profiled']['new_errors'] == ['tool.missing.nft']
    assert diff['added'] == ['b-variables', 'c-broken']
    result = json.loads((out / 'result.json').read_text())
    assert result['diff']['new_errors'] == 2


def test_action_bad_previous_and_merge_inputs_fail_clearly(ansible_env, tmp_path):
    bad = tmp_path / 'bad.json'
    bad.write_text('{"hosts": ')
    book = tmp_path / 'bad.yml'
    book.write_text("""
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Previous report is not JSON
      kubenode.netfilter.fleet_report:
        dest: "{{ out }}/a"
        previous: "{{ bad }}"
      ignore_errors: true
      register: one
    - name: Nothing to merge
      kubenode.netfilter.fleet_report:
        dest: "{{ out }}/b"
        merge: ["{{ out }}/nothing-*.json"]
      ignore_errors: true
      register: two
    - name: A broken file to merge
      kubenode.netfilter.fleet_report:
        dest: "{{ out }}/c"
        merge: ["{{ bad }}"]
      ignore_errors: true
      register: three
    - name: Keep the messages
      ansible.builtin.copy:
        content: "{{ [one.msg, two.msg, three.msg] | to_json }}"
        dest: "{{ out }}/msgs.json"
        mode: "0644"
""")
    argv = [kntest.ansible_bin('ansible-playbook'), '-i', 'localhost,', '-c', 'local', str(book),
            '-e', 'ansible_python_interpreter=/usr/bin/python3', '-e', 'out=%s' % tmp_path, '-e', 'bad=%s' % bad]
    proc = kntest.run(argv, env=ansible_env)
    assert 'Traceback' not in proc.stdout + proc.stderr
    one, two, three = json.loads((tmp_path / 'msgs.json').read_text())
    assert one.startswith('fleet_report: the previous report %s is not valid JSON' % bad), one
    assert two == 'fleet_report: merge: no report file matches %s/nothing-*.json' % tmp_path
    assert three.startswith('fleet_report: merge: %s is not valid JSON' % bad), three
    assert not (tmp_path / 'a').exists() and not (tmp_path / 'c').exists()
