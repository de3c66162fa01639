# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""netfilter_backend_facts without root: the real gathering, fed the host answers captured in real namespaces.

tests/fixtures/netfilter/<state>.replay.json holds every command (argv, rc, stdout, stderr), file read and path lookup
of one real run (capture.py ``--replays``) and the facts that run returned. ``ReplayRunner`` answers the gathering
from it and fails the test on any question the capture does not hold, as community.general's module tests answer
``run_command`` from a table. The module itself (argument_spec, fail_json, exit_json) runs through ``main()`` with
the runner swapped in.
"""
from __future__ import annotations

import copy
import json

import pytest

import kntest
from ansible_collections.kubenode.netfilter.plugins.module_utils import _netfilter_gather as g
from ansible_collections.kubenode.netfilter.plugins.module_utils._stream import OutputLimitError, StreamResult
from ansible_collections.kubenode.netfilter.plugins.modules import netfilter_backend_facts as module

FIX = kntest.FIXTURES / 'netfilter'
STATES = sorted(p.name[:-len('.replay.json')] for p in FIX.glob('*.replay.json'))


def load(state):
    return json.loads((FIX / ('%s.replay.json' % state)).read_text())


class ReplayRunner(object):
    """Answers the gathering from a capture; ``chunk`` bytes at a time (stream boundaries anywhere)."""

    def __init__(self, rec, chunk=4096):
        self.rec = rec
        self.chunk = chunk
        self.asked = []

    def _get(self, kind, key):
        table = self.rec[kind]
        assert key in table, 'the gathering asked %s(%r), which the capture does not hold' % (kind, key)
        return table[key]

    def which(self, name):
        return self._get('which', name)

    def stream(self, argv, on_chunk, max_bytes):
        self.asked.append(list(argv))
        found = [c for c in self.rec['commands'] if c['argv'] == list(argv)]
        assert found, 'the gathering ran %r, which the capture does not hold' % (argv,)
        cmd = found[0]
        data = cmd['stdout'].encode('utf-8')
        over = False
        if cmd['rc'] is not None or cmd.get('timed_out'):
            for start in range(0, len(data), self.chunk):
                if start + self.chunk > max_bytes:
                    over = True
                    break
                try:
                    on_chunk(data[start:start + self.chunk])
                except OutputLimitError:
                    over = True
                    break
        return StreamResult(list(argv), None if over else cmd['rc'], cmd['stderr'],
                            error=cmd.get('error') or ('%s printed too much (stopped)' % ' '.join(argv) if over else None),
                            timed_out=bool(cmd.get('timed_out')), over_cap=over, size=len(data),
                            start_errno=cmd.get('start_errno'))

    def read_file(self, path, max_bytes=g.MAX_FILE_BYTES):
        got = self._get('files', path)
        return g.FileRead(path, got['text'], got['error'], got['cause'])

    def exists(self, path):
        return self._get('exists', path)

    def isdir(self, path):
        return self._get('isdir', path)

    def islink(self, path):
        return self._get('islink', path)

    def readlink(self, path):
        return self._get('readlink', path)

    def realpath(self, path):
        return self._get('realpath', path)

    def is_executable(self, path):
        return self._get('is_executable', path)


def replay(rec, chunk=4096, **overrides):
    options = dict(rec['options'])
    options.update(overrides)
    return g.gather(ReplayRunner(rec, chunk), g.GatherOptions(**options))


def command(rec, *words):
    """The captured command ``words`` (tool name, then its arguments); mutable: hostile tests rewrite its output."""
    for cmd in rec['commands']:
        if cmd['argv'][0].rsplit('/', 1)[-1] == words[0] and tuple(cmd['argv'][1:]) == words[1:]:
            return cmd
    raise AssertionError('no captured command %r' % (words,))


# ---------------------------------------------------------------------------------------------------------------------
# Fidelity: the replayed gathering gives exactly the facts of the real run

def test_every_state_has_a_capture():
    assert {'empty', 'legacy-rules', 'legacy-hint', 'nft-hint', 'nft-incompatible', 'nft-aborted', 'nft-base-chain',
            'kube-proxy-nft', 'iptables-own', 'nft-incompatible.nonroot'} <= set(STATES)


@pytest.mark.parametrize('state', STATES)
def test_replay_gives_the_captured_facts(state):
    rec = load(state)
    assert replay(rec) == rec['facts']


@pytest.mark.parametrize('state', ['nft-incompatible', 'kube-proxy-nft', 'iptables-own', 'nft-aborted'])
def test_stream_boundaries_do_not_matter(state):
    rec = load(state)
    assert replay(rec, chunk=1) == replay(rec, chunk=7) == rec['facts']


# ---------------------------------------------------------------------------------------------------------------------
# What each captured state means (the same assertions as the namespace tests, without root)

@pytest.mark.parametrize('state, mode, by_count, legacy_rules, nft_rules', [
    ('empty', 'nft', None, 0, 0),
    ('legacy-rules', 'nft', 'legacy', 3, 0),
    ('legacy-hint', 'legacy', None, 0, 0),
    ('nft-hint', 'nft', None, 0, 1),
    ('nft-incompatible', 'nft', None, 0, 2),
    ('nft-aborted', 'nft', None, 0, 4),
    ('iptables-own', 'nft', None, 0, 20),
])
def test_decision_per_state(state, mode, by_count, legacy_rules, nft_rules):
    facts = replay(load(state))
    assert facts['detected_mode'] == mode
    assert facts['detected_mode_by_rule_count'] == by_count
    assert facts['rule_counts']['legacy'] == legacy_rules and facts['rule_counts']['nft'] == nft_rules
    # an aborted dump is an error of iptables-nft (in errors), not something the facts could not read
    assert bool(facts['errors']) is (state == 'nft-aborted') and facts['unreadable'] == []


def test_incompatible_rule_reported_with_text_and_error():
    facts = replay(load('nft-incompatible'))
    (entry,) = facts['iptables_nft_parse_errors']
    assert (entry['family'], entry['table'], entry['chain']) == ('ip', 'filter', 'FORWARD')
    assert entry['rule'] == 'ct state established accept' and entry['expected_error'] == 'cmp sreg undef'
    assert 'cmp sreg undef' in entry['error'] and entry['expressions'] == [{'class': 'ct', 'expression': 'ct state'}]
    table = facts['backends']['nft']['ipv4']['tables']['filter']
    assert table['incompatible'] is True and table['rules'] == 2 and facts['rule_counts']['nft_unreadable'] == 2
    assert facts['kube_chains']['KUBE-IPTABLES-HINT'] == ['nft']


def test_foreign_and_kube_proxy_tables():
    facts = replay(load('kube-proxy-nft'))
    owners = dict(((t['family'], t['name']), (t['owner'], t['rules'])) for t in facts['nft_tables'])
    assert owners == {('ip', 'kube-proxy'): ('kube-proxy', 1), ('ip6', 'kube-proxy'): ('kube-proxy', 0),
                      ('inet', 'netbird'): ('foreign', 1)}


def test_aborted_dump_rereads_the_other_tables():
    rec = load('nft-aborted')
    facts = replay(rec)
    tables = facts['backends']['nft']['ipv4']['tables']
    assert tables['filter']['incompatible_reason'] == 'aborted' and tables['nat']['rules'] == 1
    assert any(c['argv'][-2:] == ['-t', 'nat'] for c in rec['commands'])


def test_only_what_matters_is_listed():
    """Legacy tables are never dumped when the kernel holds none; iptables' own readable tables never go to nft."""
    rec = load('iptables-own')
    runner = ReplayRunner(rec)
    g.gather(runner, g.GatherOptions(**rec['options']))
    words = [' '.join(a[1:]) for a in runner.asked]
    assert not any(a[0].endswith('legacy-save') for a in runner.asked)
    assert not any(w.startswith('-j list table') for w in words)


# ---------------------------------------------------------------------------------------------------------------------
# unreadable: what could not be read, and why (issue 16 item 1)

def test_unprivileged_run_lists_permission_items():
    rec = load('nft-incompatible.nonroot')
    facts = replay(rec)
    assert facts == rec['facts']
    items = dict(((u['what'], u['command'].rsplit('/', 1)[-1]), u) for u in facts['unreadable'])
    for what, cmd in [('backends.nft.ipv4', 'iptables-nft-save'), ('backends.nft.ipv6', 'ip6tables-nft-save'),
                      ('nft_tables', 'nft -j list chains'), ('backends.legacy.ipv4', 'ip_tables_names'),
                      ('backends.legacy.ipv6', 'ip6_tables_names'), ('kube_chains', 'iptables-nft-save'),
                      ('iptables_nft_parse_errors', 'iptables-nft-save')]:
        item = items[(what, cmd)]
        assert item['cause'] == 'permission', item
        assert 'ermission denied' in item['reason'] or 'not permitted' in item['reason'], item
    # the root run of the same state reads everything
    assert replay(load('nft-incompatible'))['unreadable'] == []


def test_every_unreadable_item_has_the_documented_shape():
    for state in STATES:
        for item in replay(load(state))['unreadable']:
            assert set(item) == {'what', 'command', 'reason', 'cause'}
            assert item['cause'] in ('permission', 'timeout', 'failed', 'absent')


@pytest.mark.parametrize('words, what, cause', [
    (('iptables-nft-save',), 'backends.nft.ipv4', 'timeout'),
    (('nft', '-j', 'list', 'chains'), 'nft_tables', 'timeout'),
    (('iptables', '--version'), 'tool.iptables', 'timeout'),
    (('iptables-nft', '-t', 'filter', '-C', 'FORWARD', '-s', '192.0.2.254/32', '-d', '192.0.2.254/32', '-j',
      'ACCEPT'), 'iptables_nft_parse_errors', 'timeout'),
    (('nft', '-j', 'list', 'table', 'ip', 'filter'), 'iptables_nft_parse_errors', 'timeout'),
])
def test_a_command_past_its_deadline_is_reported(words, what, cause):
    rec = load('nft-incompatible')
    cmd = command(rec, *words)
    cmd.update({'rc': None, 'stdout': '', 'stderr': '', 'timed_out': True,
                'error': '%s did not finish within 30 s (killed)' % ' '.join(cmd['argv'])})
    facts = replay(rec)
    found = [u for u in facts['unreadable'] if u['what'] == what and u['command'] == ' '.join(cmd['argv'])]
    assert found and found[0]['cause'] == cause, facts['unreadable']
    assert 'did not finish within 30 s' in found[0]['reason']
    assert any('did not finish within 30 s' in e for e in facts['errors']) or what == 'iptables_nft_parse_errors'


def test_nft_absent_is_absent():
    rec = load('kube-proxy-nft')
    rec['which']['nft'] = None
    facts = replay(rec)
    assert facts['nft'] is None and facts['nft_tables'] == []
    assert {'what': 'nft_tables', 'command': 'nft', 'reason': 'nft was not found on PATH',
            'cause': 'absent'} in facts['unreadable']


def test_unreadable_sysctl_is_listed_missing_sysctl_is_not():
    rec = load('empty')
    path = '/proc/sys/net/ipv4/ip_forward'
    rec['files'][path] = {'text': None, 'error': 'cannot read %s: Permission denied' % path, 'cause': 'permission'}
    missing = '/proc/sys/net/ipv4/vs/conntrack'
    rec['files'][missing] = {'text': None, 'error': 'cannot read %s: No such file or directory' % missing,
                             'cause': 'absent'}
    facts = replay(rec)
    assert facts['sysctl']['net.ipv4.ip_forward'] is None and facts['sysctl']['net.ipv4.vs.conntrack'] is None
    assert [u['what'] for u in facts['unreadable']] == ['sysctl.net.ipv4.ip_forward']


# ---------------------------------------------------------------------------------------------------------------------
# Hostile nft -j shapes: a parse error naming the command, never a traceback

HOSTILE_CHAINS = [
    '[]', '{"nftables": {}}', '{"nftables": [{"chain": []}]}', '{"nftables": [{"chain": "x"}]}',
    '{"nftables": [{"chain": {"family": [], "table": "t", "name": "c"}}]}',
    '{"nftables": [{"chain": {"family": "ip", "table": "t"}}]}',
    '{"nftables": [{"chain": {"family": "ip", "table": "t", "name": "c", "hook": ["input"]}}]}',
    '{"nftables": [{"chain": {"family": "ip", "table": "t", "name": "c", "handle": "x"}}]}',
    '{"nftables": [', '{"nftables": [{"chain": {}} {"x": 1}]}', 'null', '"string"', '{"nftables": [1, 2', '\x00\xff',
]


@pytest.mark.parametrize('text', HOSTILE_CHAINS)
def test_hostile_nft_chains_output(text):
    rec = load('kube-proxy-nft')
    command(rec, 'nft', '-j', 'list', 'chains')['stdout'] = text
    facts = replay(rec, chunk=3)
    assert facts['nft_tables'] == []
    items = [u for u in facts['unreadable'] if u['what'] == 'nft_tables']
    assert items and items[0]['cause'] == 'failed' and items[0]['command'].endswith('nft -j list chains'), items
    assert any('nft -j list chains' in e for e in facts['errors'])


HOSTILE_RULES = [
    '{"nftables": [{"rule": []}]}', '{"nftables": [{"rule": "x"}]}',
    '{"nftables": [{"rule": {"family": "ip", "table": "filter", "chain": "FORWARD", "expr": {"match": 1}}}]}',
    '{"nftables": [{"rule": {"family": "ip", "table": "filter", "chain": "FORWARD", "comment": ["x"]}}]}',
    '{"nftables": [{"rule": {"family": "ip", "table": "filter"}}]}',
]


@pytest.mark.parametrize('text', HOSTILE_RULES)
def test_hostile_nft_table_output(text):
    rec = load('nft-incompatible')
    command(rec, 'nft', '-j', 'list', 'table', 'ip', 'filter')['stdout'] = text
    facts = replay(rec)
    items = [u for u in facts['unreadable'] if u['what'] == 'iptables_nft_parse_errors']
    assert items and items[0]['cause'] == 'failed' and 'nft -j list table ip filter' in items[0]['reason'], items
    assert facts['iptables_nft_parse_errors'] == []


@pytest.mark.parametrize('expr', [
    [{'match': {'left': {'meta': {'key': ['skuid']}}, 'right': 0}}],
    [{'match': {'left': {'payload': {'protocol': ['ip'], 'field': {'x': 1}}}, 'right': 1}}],
    [{'match': {'left': {'meta': {'key': 'iifname'}}, 'right': {'set': 5}}}],
    [{'mangle': {'key': {'meta': ['mark']}, 'value': 1}}], [{'mangle': {'key': {'ct': 'x'}}}], [{'mangle': []}],
    [['accept']], ['accept'], [None], [{'match': []}], [{'match': {'left': [], 'right': '@'}}],
    [{'match': {'left': {'&': {}}, 'right': 1}}], [{'match': {'left': {'&': [[], 1]}, 'right': 1}}],
])
def test_hostile_expressions_are_flagged_not_raised(expr):
    rec = load('nft-incompatible')
    cmd = command(rec, 'nft', '-j', 'list', 'table', 'ip', 'filter')
    data = json.loads(cmd['stdout'])
    rule = next(i['rule'] for i in data['nftables'] if 'rule' in i and i['rule']['handle'] != 2)
    rule['expr'] = expr
    cmd['stdout'] = json.dumps(data)
    facts = replay(rec)
    assert facts['iptables_nft_parse_errors']  # the odd rule is reported, the gathering went on


# ---------------------------------------------------------------------------------------------------------------------
# The module: argument_spec, fail_json, exit_json (community.general style)

class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


@pytest.fixture
def run_main(monkeypatch):
    from ansible.module_utils import basic
    from ansible.module_utils.testing import patch_module_args

    def exit_json(_self, **kwargs):
        raise ExitJson(kwargs)

    def fail_json(_self, **kwargs):
        kwargs['failed'] = True
        raise FailJson(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)

    def _run(args, rec=None):
        seen = {}
        if rec is not None:
            def runner(timeout, which):
                seen['timeout'] = timeout
                return ReplayRunner(rec)
            monkeypatch.setattr(g, 'SystemRunner', runner)
        with patch_module_args(args):
            try:
                module.main()
            except ExitJson as exc:
                return exc.args[0], seen
            except FailJson as exc:
                return exc.args[0], seen
        raise AssertionError('the module neither exited nor failed')
    return _run


def test_module_main_replayed(run_main):
    rec = load('nft-incompatible')
    result, seen = run_main({'command_timeout': 7}, copy.deepcopy(rec))
    assert result['changed'] is False and result['ansible_facts']['netfilter'] == rec['facts']
    assert seen['timeout'] == 7


@pytest.mark.parametrize('args, msg', [
    ({'root': '/does/not/exist'}, 'root /does/not/exist does not exist'),
    ({'root': '/etc/passwd'}, 'root /etc/passwd is not a directory'),
    ({'root': '/tmp/a\x00b'}, 'root contains a NUL byte'),
    ({'search_paths': ['/usr/bin', '/x\x00y']}, 'search_paths contains a NUL byte'),
    ({'command_timeout': 0}, 'command_timeout must be more than 0'),
])
def test_module_fails_on_unusable_options(run_main, args, msg):
    result, _seen = run_main(args)
    assert result.get('failed') is True and msg in result['msg'], result


def test_incompatible_table_that_nft_cannot_list_has_unknown_counts():
    """Never 0 rules for a table nobody could read: the save tool's counts of an incompatible table are not its own."""
    rec = load('nft-incompatible')
    cmd = command(rec, 'nft', '-j', 'list', 'table', 'ip', 'filter')
    cmd.update({'rc': None, 'stdout': '', 'stderr': '', 'timed_out': True,
                'error': '%s did not finish within 60 s (killed)' % ' '.join(cmd['argv'])})
    facts = replay(rec)
    table = facts['backends']['nft']['ipv4']['tables']['filter']
    assert table['incompatible'] is True and table['rules'] is None and table['chains'] == 1  # FORWARD only
    whats = [(u['what'], u['cause']) for u in facts['unreadable']]
    assert ('backends.nft.ipv4', 'timeout') in whats and ('iptables_nft_parse_errors', 'timeout') in whats


def test_many_flagged_chains_one_table_listing_for_texts():
    rec = load('native-chains')
    runner = ReplayRunner(rec)
    facts = g.gather(runner, g.GatherOptions(**rec['options']))
    got = [(e['chain'], e['rule'], e['expected_error']) for e in facts['iptables_nft_parse_errors']]
    assert got == [('C%d' % i, 'ct state established accept', 'cmp sreg undef') for i in range(1, 7)]
    assert all('cmp sreg undef' in e['error'] for e in facts['iptables_nft_parse_errors'])
    words = [' '.join(a[1:]) for a in runner.asked]
    assert '-a list table ip filter' in words and not any(w.startswith('-a list chain') for w in words)


def test_probes_are_bounded(monkeypatch):
    monkeypatch.setattr(g, 'MAX_PROBED_CHAINS', 2)
    rec = load('native-chains')
    runner = ReplayRunner(rec)
    facts = g.gather(runner, g.GatherOptions(**rec['options']))
    assert [bool(e['error']) for e in facts['iptables_nft_parse_errors']] == [True, True, False, False, False, False]
    assert sum(1 for a in runner.asked if '-C' in a) == 2
    assert any('6 chains hold rules iptables-nft cannot read' in e for e in facts['errors'])


def test_replayed_root_without_proc():
    rec = load('legacy-rules')
    rec['isdir']['/proc/sys'] = False
    rec['exists']['/proc/net/ip_tables_names'] = False
    rec['exists']['/proc/net/ip6_tables_names'] = False
    rec['isdir']['/proc/net'] = False
    facts = replay(rec)
    assert facts['rule_counts']['legacy'] == 0  # nothing could be read ...
    causes = dict((u['what'], u['cause']) for u in facts['unreadable'])
    assert causes['backends.legacy.ipv4'] == causes['kube_chains'] == causes['sysctl.net.ipv4.ip_forward'] == 'absent'
