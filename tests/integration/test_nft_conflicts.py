# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nft_conflicts (module and role) against real iptables-nft / nft state in throwaway network namespaces (root).

The foreign rules are every native expression of the measured compatibility table
(tests/fixtures/netfilter/compat-iptables-1.8.9.json, rows nft accepted), written with `nft add rule` between rules
iptables-nft wrote itself, in ip and ip6, filter/FORWARD and nat/POSTROUTING, beside a harmless foreign inet table.
The handles to remove come from netfilter_backend_facts (`iptables_nft_parse_errors`) and, for the silently lossy
classes the facts cannot see, from `nft -a`.
"""
from __future__ import annotations

import json
import os
import stat
import sys

import pytest

import kntest
from kntest.netns import missing_requirements, netns

pytestmark = [pytest.mark.root, pytest.mark.netns]
REASON = missing_requirements('iptables-nft', 'ip6tables-nft', 'nft')
if REASON:
    pytestmark.append(pytest.mark.skip(reason=REASON))

MODULE = 'ansible_collections.kubenode.netfilter.plugins.modules.nft_conflicts'
FACTS = 'ansible_collections.kubenode.netfilter.plugins.modules.netfilter_backend_facts'
COMPAT = json.loads((kntest.FIXTURES / 'netfilter' / 'compat-iptables-1.8.9.json').read_text())
PLACES = {'filter': 'FORWARD', 'nat': 'POSTROUTING'}
IPT = {'ip': 'iptables-nft', 'ip6': 'ip6tables-nft'}
ADDR = {'ip': ('10.0.0.%d', '10.9.9.9'), 'ip6': ('2001:db8::%d', '2001:db8::99')}
INET = ("add table inet netbird\n"
        "add chain inet netbird input { type filter hook input priority 0 ; policy accept ; }\n"
        "add rule inet netbird input iifname \"wt0\" ct state established,related accept\n")
NETBIRD = ['iptables-nft -A FORWARD -s 10.0.0.1 -j ACCEPT', 'nft add rule ip filter FORWARD ct state established accept',
           'iptables-nft -A FORWARD -s 10.0.0.2 -j ACCEPT']


# ---------------------------------------------------------------------------------------------------------------------
# helpers

def run_py_module(ns, tmp_path, module, args, check=False, diff=False):
    argsfile = tmp_path / ('args-%s.json' % os.urandom(4).hex())
    payload = dict(args)
    payload.update({'_ansible_check_mode': check, '_ansible_diff': diff})
    argsfile.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': payload}))
    env = dict(os.environ)
    env['PYTHONPATH'] = str(kntest.COLLECTIONS_ROOT)
    proc = ns.run([sys.executable, '-m', module, str(argsfile)], check=False, env=env)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        pytest.fail('module printed no JSON: rc %d\n%s\n%s' % (proc.returncode, proc.stdout, proc.stderr))


def remove(ns, tmp_path, rules, check=False, diff=False, backup_dir=None):
    return run_py_module(ns, tmp_path, MODULE, {'rules': rules, 'backup_dir': str(backup_dir or tmp_path / 'backup')},
                         check=check, diff=diff)


def facts(ns, tmp_path):
    result = run_py_module(ns, tmp_path, FACTS, {})
    assert not result.get('failed'), result
    return result['ansible_facts']['netfilter']


def _normalize(items):
    out = []
    for item in items:
        kind, body = next(iter(item.items()))
        if kind == 'metainfo':
            continue
        body = dict(body)
        body.pop('handle', None)
        if 'expr' in body:
            body['expr'] = [{'counter': None} if 'counter' in s else s for s in body['expr']]
        out.append({kind: body})
    return out


def ruleset(ns):
    """`nft -j list ruleset` as a list, handles and counter values aside (rules keep their order)."""
    return _normalize(json.loads(ns.run(['nft', '-j', 'list', 'ruleset']).stdout)['nftables'])


def ruleset_without(ns, handles):
    """ruleset() of now, minus the rules (family, table, chain, handle) in `handles`."""
    items = json.loads(ns.run(['nft', '-j', 'list', 'ruleset']).stdout)['nftables']
    return _normalize([o for o in items if not ('rule' in o and (o['rule']['family'], o['rule']['table'],
                                                                 o['rule']['chain'], o['rule']['handle']) in handles)])


def chain_rules(ns, family, table, chain):
    """[(handle, expr)] of a chain, in order."""
    data = json.loads(ns.run(['nft', '-j', 'list', 'chain', family, table, chain]).stdout)['nftables']
    return [(o['rule']['handle'], o['rule']['expr']) for o in data if 'rule' in o]


def foreign_cases(family, table):
    """Every native expression measured in this family and table that nft accepted: (class, nft rule text)."""
    rows = [r for r in COMPAT['rows'] if r['family'] == family and r['table'] == table and r['added'] and r['class']]
    assert rows, 'no measured rows for %s %s' % (family, table)
    return [(r['class'], r['rule']) for r in rows]


def build_mixed_chain(ns, family, table):
    """A foreign rule at the head, then iptables rules and foreign rules interleaved, a foreign rule at the tail.
    Returns the handles of the foreign rules by (class, rule text)."""
    chain = PLACES[table]
    ipt = IPT[family]
    cases = foreign_cases(family, table)
    ns.run([ipt, '-t', table, '-A', chain, '-s', ADDR[family][0] % 1, '-j', 'ACCEPT'])  # creates table and chain
    first = chain_rules(ns, family, table, chain)[0][0]
    ns.run(['nft', 'delete', 'rule', family, table, chain, 'handle', str(first)])  # head of the chain: foreign
    foreign = {}
    for index, (cls, rule) in enumerate(cases):
        ns.sh('nft add rule %s %s %s %s' % (family, table, chain, rule))
        foreign[(cls, rule)] = chain_rules(ns, family, table, chain)[-1][0]
        if index % 3 == 0:
            ns.run([ipt, '-t', table, '-A', chain, '-s', ADDR[family][0] % (index + 10), '-j', 'ACCEPT'])
    ns.run(['nft', '-f', '-'], input=INET)
    return foreign


def assert_iptables_reads(ns, family, table):
    ipt = IPT[family]
    check = ns.run([ipt, '-t', table, '-C', PLACES[table], '-s', ADDR[family][1], '-j', 'ACCEPT'], check=False)
    assert check.returncode == 1, check.stderr  # "Bad rule": it parsed the whole chain
    dump = ns.run([ipt + '-save', '-t', table], check=False)
    assert dump.returncode == 0 and 'incompatible' not in dump.stdout and 'COMMIT' in dump.stdout, dump
    return dump.stdout


# ---------------------------------------------------------------------------------------------------------------------
# module

@pytest.mark.parametrize('family', ['ip', 'ip6'])
@pytest.mark.parametrize('table', ['filter', 'nat'])
def test_every_class_removed_and_undone(tmp_path, family, table):
    with netns() as ns:
        foreign = build_mixed_chain(ns, family, table)
        chain = PLACES[table]
        ipt = IPT[family]
        # the facts name the blocking rules; the lossy ones (set lookups, icmp code, ip6 nexthdr) only nft shows
        found = facts(ns, tmp_path)['iptables_nft_parse_errors']
        blocking = dict(((c, r), h) for (c, r), h in foreign.items() if c not in ('set_lookup', 'lossy_field'))
        assert sorted(e['handle'] for e in found) == sorted(blocking.values())
        assert ns.run([ipt, '-t', table, '-C', chain, '-s', ADDR[family][1], '-j', 'ACCEPT'],
                      check=False).returncode != 1
        listed = [{'family': family, 'table': table, 'chain': chain, 'handle': h} for h in foreign.values()]
        original = ruleset(ns)
        expected_after = ruleset_without(ns, set((family, table, chain, h) for h in foreign.values()))

        # check mode: the plan, the fingerprints, the backup it would write; nothing changes
        preview = remove(ns, tmp_path, listed, check=True, diff=True)
        assert preview['changed'] is True and not preview.get('failed'), preview
        assert ruleset(ns) == original and not (tmp_path / 'backup').exists()
        assert preview['backup']['written'] is False and preview['verification'] is None
        assert [r['action'] for r in preview['rules']] == ['remove'] * len(listed)
        assert preview['commands'] == ['delete rule %s %s %s handle %d' % (family, table, chain, h)
                                       for h in foreign.values()]
        for handle in foreign.values():
            line = '# handle %d\n' % handle
            assert line in preview['diff']['before'] and line not in preview['diff']['after']
        for item in preview['rules']:
            assert item['fingerprint'].startswith('sha256:') and item['expressions'], item

        # removal with the fingerprints from the preview
        for item, rule in zip(listed, preview['rules']):
            item['fingerprint'] = rule['fingerprint']
        result = remove(ns, tmp_path, listed)
        assert result['changed'] is True and not result.get('failed'), result
        assert result['verification'] == {'removed': ['%s %s %s handle %d' % (family, table, chain, h)
                                                      for h in foreign.values()], 'affected': [], 'elsewhere': []}
        assert ruleset(ns) == expected_after  # everything else identical, order included
        dump = assert_iptables_reads(ns, family, table)
        assert dump.count('-A %s' % chain) == len([r for r in expected_after if 'rule' in r
                                                   and r['rule']['table'] == table])
        assert facts(ns, tmp_path)['iptables_nft_parse_errors'] == []

        # second run: already done, changed=false, no new backup
        again = remove(ns, tmp_path, listed)
        assert again['changed'] is False and [r['action'] for r in again['rules']] == ['absent'] * len(listed)
        assert again['backup'] is None and len(list((tmp_path / 'backup').iterdir())) == 1

        # the undo file puts every rule back where it was, with identical expressions
        undo = result['backup']['undo']
        ns.run(['nft', '-j', '-f', undo])
        assert ruleset(ns) == original


def test_backup_files_and_modes(tmp_path):
    with netns() as ns:
        for cmd in NETBIRD:
            ns.sh(cmd)
        ns.run(['nft', '-f', '-'], input=INET)
        before_text = ns.run(['nft', '-a', 'list', 'table', 'ip', 'filter']).stdout
        backup_dir = tmp_path / 'deep' / 'backups'
        result = remove(ns, tmp_path, [{'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': 3}],
                        backup_dir=backup_dir)
        assert result['changed'] is True, result
        paths = result['backup']
        assert paths['written'] is True and os.path.dirname(paths['directory']) == str(backup_dir)
        assert os.path.basename(paths['directory']).startswith('nft-conflicts-')
        assert stat.S_IMODE(os.stat(paths['directory']).st_mode) == 0o700
        # only the affected table is saved (and read): the removal touches no other
        assert [(t['family'], t['table']) for t in paths['tables']] == [('ip', 'filter')]
        files = [paths[key] for key in ('undo', 'transaction', 'readme')]
        files += [paths['tables'][0]['text'], paths['tables'][0]['json']]
        assert sorted(os.listdir(paths['directory'])) == sorted(os.path.basename(f) for f in files)
        for path in files:
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
        with open(paths['tables'][0]['text']) as handle:
            assert handle.read() == before_text
        with open(paths['tables'][0]['json']) as handle:
            assert any('rule' in o and o['rule']['handle'] == 3 for o in json.load(handle)['nftables'])
        with open(paths['transaction']) as handle:
            assert handle.read() == 'delete rule ip filter FORWARD handle 3\n'
        with open(paths['undo']) as handle:
            undo = json.load(handle)
        command = {'insert': {'rule': {'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': 4, 'expr': [
            {'match': {'op': 'in', 'left': {'ct': {'key': 'state'}}, 'right': 'established'}}, {'accept': None}]}}}
        assert undo['nftables'][1:] == [command] and result['undo'] == [command]
        with open(paths['readme']) as handle:
            readme = handle.read()
        assert 'ip filter FORWARD handle 3 (sha256:' in readme and 'nft -j -f undo.json' in readme
        # nft -f without -j refuses the JSON as a whole: a wrong command line never half-runs it
        assert ns.run(['nft', '-c', '-f', paths['undo']], check=False).returncode != 0
        assert_iptables_reads(ns, 'ip', 'filter')


HOSTILE_COMMENT = 'x"; delete table inet host_fw; add rule ip filter FORWARD counter comment "y'
HOST_FW = ("add table inet host_fw\n"
           "add chain inet host_fw input { type filter hook input priority 0 ; policy accept ; }\n"
           "add rule inet host_fw input tcp dport 22 accept\n")


def add_json_rule(ns, expr, comment, family='ip', table='filter', chain='FORWARD'):
    """A rule with any comment: nft's text syntax cannot even write a quote inside a comment, its JSON can."""
    rule = {'family': family, 'table': table, 'chain': chain, 'expr': expr, 'comment': comment}
    ns.run(['nft', '-j', '-f', '-'], input=json.dumps({'nftables': [{'add': {'rule': rule}}]}))
    return chain_rules(ns, family, table, chain)[-1][0]


@pytest.mark.parametrize('comment', [HOSTILE_COMMENT, 'x" ; flush ruleset ; add rule ip filter FORWARD accept comment "',
                                     'line one\nflush ruleset\n# handle 2'])
def test_hostile_comment_cannot_inject_through_the_undo_file(tmp_path, comment):
    """Issue 17 #1: the foreign rule's comment holds nft commands. Removing it and applying the undo file as the
    docs say leaves the host's own table alone and restores identical expressions and comment."""
    with netns() as ns:
        ns.sh('iptables-nft -A FORWARD -s 10.0.0.1 -j ACCEPT')
        ns.run(['nft', '-f', '-'], input=HOST_FW)
        ct_est = [{'match': {'op': 'in', 'left': {'ct': {'key': 'state'}}, 'right': 'established'}}, {'accept': None}]
        handle = add_json_rule(ns, ct_est, comment)
        ns.sh('iptables-nft -A FORWARD -s 10.0.0.2 -j ACCEPT')
        text = ns.run(['nft', '-a', 'list', 'chain', 'ip', 'filter', 'FORWARD']).stdout
        if comment == HOSTILE_COMMENT:  # the reproduction: nft prints the comment unescaped ...
            assert 'comment "x"; delete table inet host_fw; add rule' in text
        original = ruleset(ns)
        result = remove(ns, tmp_path, [{'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': handle}])
        assert result['changed'] is True and not result.get('failed'), result
        assert result['undo'][0]['insert']['rule']['comment'] == comment
        assert 'host_fw' in ns.run(['nft', 'list', 'tables']).stdout
        ns.run(['nft', '-j', '-f', result['backup']['undo']])
        # ... and the table survives, the rule is back with identical expressions and comment, nothing else changed
        assert 'table inet host_fw' in ns.run(['nft', 'list', 'tables']).stdout
        assert ruleset(ns) == original
        listing = ns.run(['nft', '-j', 'list', 'chain', 'ip', 'filter', 'FORWARD']).stdout
        restored = [o['rule'] for o in json.loads(listing)['nftables'] if 'rule' in o]
        assert restored[1]['comment'] == comment and restored[1]['expr'] == ct_est


@pytest.mark.parametrize('case', ['readable_rule', 'other_fingerprint', 'one_bad_of_two'])
def test_handle_with_another_rule_fails_and_changes_nothing(tmp_path, case):
    with netns() as ns:
        for cmd in NETBIRD + ['nft add rule ip filter FORWARD ip length 100 accept']:
            ns.sh(cmd)
        ns.run(['nft', '-f', '-'], input=INET)
        base = {'family': 'ip', 'table': 'filter', 'chain': 'FORWARD'}
        if case == 'readable_rule':  # handle 2 is the iptables rule
            rules = [dict(base, handle=2)]
        elif case == 'other_fingerprint':  # handle 3 listed with the fingerprint of handle 5 (ip length)
            other = remove(ns, tmp_path, [dict(base, handle=5)], check=True)['rules'][0]['fingerprint']
            rules = [dict(base, handle=3, fingerprint=other)]
        else:
            rules = [dict(base, handle=5), dict(base, handle=4)]
        before = ruleset(ns)
        result = remove(ns, tmp_path, rules)
        assert result.get('failed') is True and 'nothing was removed' in result['msg'], result
        assert 'conflict' in [r['action'] for r in result['rules']]
        assert ruleset(ns) == before and not (tmp_path / 'backup').exists()


def test_missing_handle_and_chain_are_already_done(tmp_path):
    with netns() as ns:
        for cmd in NETBIRD:
            ns.sh(cmd)
        before = ruleset(ns)
        result = remove(ns, tmp_path, [{'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': 99},
                                       {'family': 'ip', 'table': 'filter', 'chain': 'NOPE', 'handle': 3},
                                       {'family': 'ip6', 'table': 'nat', 'chain': 'POSTROUTING', 'handle': 3}])
        assert result['changed'] is False and not result.get('failed'), result
        assert [r['action'] for r in result['rules']] == ['absent'] * 3
        assert result['backup'] is None and ruleset(ns) == before


def test_bad_input_is_a_clear_failure(tmp_path):
    with netns() as ns:
        for cmd in NETBIRD:
            ns.sh(cmd)
        result = remove(ns, tmp_path, [{'family': 'ip', 'table': 'filter', 'chain': '1weird', 'handle': 3}])
        assert result.get('failed') is True and "cannot be written in nft's command syntax" in result['msg']
        result = remove(ns, tmp_path, [{'family': 'inet', 'table': 'filter', 'chain': 'FORWARD', 'handle': 3}])
        assert result.get('failed') is True and 'family' in result['msg'] and 'Traceback' not in json.dumps(result)


MINE = ('plugins/module_utils/_nft_conflicts.py', 'plugins/modules/nft_conflicts.py', 'roles/nft_conflicts',
        'playbooks/nft_conflicts.yml', 'docs/nft_conflicts.md', 'molecule/nft_conflicts',
        'tests/unit/plugins/module_utils/test__nft_conflicts.py', 'tests/integration/test_nft_conflicts.py')


def flush_hits(tops):
    needle = 'nft ' + 'flush ruleset'
    hits = []
    for top in tops:
        path = kntest.REPO / top
        files = [path] if path.is_file() else sorted(p for p in path.rglob('*') if p.is_file()) if path.exists() else []
        for item in files:
            if '__pycache__' in item.parts or item.suffix == '.pyc':
                continue
            try:
                if needle in item.read_text(errors='replace'):
                    hits.append(str(item.relative_to(kntest.REPO)))
            except OSError:
                continue
    return hits


def test_no_flush_in_the_nft_conflicts_files():
    assert all((kntest.REPO / top).exists() for top in MINE)
    assert flush_hits(MINE) == []


def test_no_flush_anywhere_in_the_collection():
    """Issue 8: the string appears nowhere in the collection, not even in docs."""
    assert flush_hits(('plugins', 'roles', 'playbooks', 'docs', 'molecule', 'tests', 'meta', 'README.md',
                       'galaxy.yml', 'changelogs')) == []


# ---------------------------------------------------------------------------------------------------------------------
# role through ansible-playbook

def playbook(ns, tmp_path, ansible_env, extra, check=False, diff=False, tags=None):
    python = ns.interpreter(tmp_path)
    play = tmp_path / 'play.yml'
    play.write_text('- hosts: all\n  gather_facts: false\n  roles:\n    - role: kubenode.netfilter.nft_conflicts\n')
    varsfile = tmp_path / ('vars-%s.json' % os.urandom(4).hex())
    varsfile.write_text(json.dumps(extra))
    argv = [kntest.ansible_bin('ansible-playbook'), '-i', 'localhost,', '-c', 'local',
            '-e', 'ansible_python_interpreter=%s' % python, '-e', '@%s' % varsfile, str(play)]
    if check:
        argv.append('--check')
    if diff:
        argv.append('--diff')
    if tags:
        argv += ['--tags', tags]
    proc, out = kntest.run_ansible_json(argv, ansible_env)
    tasks = dict((t['task']['name'].split(' : ', 1)[-1], t['hosts'].get('localhost', {})) for t in out['plays'][0]['tasks'])
    return proc.returncode, out['stats']['localhost'], tasks


def test_role_check_remove_idempotent(tmp_path, ansible_env):
    with netns() as ns:
        for cmd in NETBIRD:
            ns.sh(cmd)
        ns.run(['nft', '-f', '-'], input=INET)
        original = ruleset(ns)
        expected = ruleset_without(ns, {('ip', 'filter', 'FORWARD', 3)})
        extra = {'kubenode_nft_conflicts_remediate': True, 'kubenode_nft_conflicts_backup_dir': str(tmp_path / 'bk'),
                 'kubenode_nft_conflicts_kube_router_image': 'docker.io/cloudnativelabs/kube-router:v2.5.0-iptables1.8.11-x',
                 'kubenode_nft_conflicts_rules': [{'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': 3}]}

        rc, stats, tasks = playbook(ns, tmp_path, ansible_env, extra, check=True, diff=True)
        assert rc == 0 and stats['failures'] == 0, tasks
        assert ruleset(ns) == original and not (tmp_path / 'bk').exists()
        report = tasks['Report the rules iptables-nft cannot read, who is hurt, and the fixes in order']['msg']
        assert report[0].startswith('UNREADABLE ip filter chain FORWARD handle 3: "ct state established accept"')
        assert any('cmp sreg undef' in line for line in report)
        assert any(line.startswith('  hurts: iptables -C') for line in report)
        assert [line[:9] for line in report if line.startswith('  fix (')] == ['  fix (1)', '  fix (2)', '  fix (3)']
        assert any('"fingerprint": "sha256:' in line and '(listed)' in line for line in report)
        assert any('1.8.11 still cannot read it' in line for line in report)
        versions = tasks['Report the iptables versions of the host and of the components side by side when they differ']
        assert versions['msg'][1:] == ['host iptables-nft (/usr/sbin/iptables-nft): 1.8.9',
                                       'kube-router image docker.io/cloudnativelabs/kube-router:v2.5.0-iptables1.8.11-x'
                                       ': 1.8.11']
        would = tasks['Remove exactly the listed rules (backup and undo file first; check mode only reports)']
        assert would['changed'] is True and would['commands'] == ['delete rule ip filter FORWARD handle 3']
        assert would['backup']['written'] is False

        rc, stats, tasks = playbook(ns, tmp_path, ansible_env, extra)
        assert rc == 0 and stats['failures'] == 0 and stats['changed'] == 1, tasks
        assert ruleset(ns) == expected
        assert_iptables_reads(ns, 'ip', 'filter')
        assert 'Stop if a listed rule is still unreadable or anything else changed' in tasks

        rc, stats, tasks = playbook(ns, tmp_path, ansible_env, extra)
        assert rc == 0 and stats['changed'] == 0 and stats['failures'] == 0, tasks
        assert ruleset(ns) == expected and len(list((tmp_path / 'bk').iterdir())) == 1


def test_role_report_only_changes_nothing(tmp_path, ansible_env):
    with netns() as ns:
        for cmd in NETBIRD:
            ns.sh(cmd)
        original = ruleset(ns)
        extra = {'kubenode_nft_conflicts_backup_dir': str(tmp_path / 'bk'),
                 'kubenode_nft_conflicts_rules': [{'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': 3}]}
        rc, stats, tasks = playbook(ns, tmp_path, ansible_env, extra)
        assert rc == 0 and stats['changed'] == 0, tasks
        assert ruleset(ns) == original and not (tmp_path / 'bk').exists()
        msg = tasks['Report the backup, the undo file and the nft commands']['msg']
        assert msg[-1] == 'set kubenode_nft_conflicts_remediate: true to remove them'


def test_role_fails_on_a_handle_with_another_rule(tmp_path, ansible_env):
    with netns() as ns:
        for cmd in NETBIRD:
            ns.sh(cmd)
        original = ruleset(ns)
        extra = {'kubenode_nft_conflicts_remediate': True, 'kubenode_nft_conflicts_backup_dir': str(tmp_path / 'bk'),
                 'kubenode_nft_conflicts_rules': [{'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': 4}]}
        rc, stats, tasks = playbook(ns, tmp_path, ansible_env, extra)
        assert rc != 0 and stats['failures'] == 1, tasks
        failed = tasks['Remove exactly the listed rules (backup and undo file first; check mode only reports)']
        assert 'nothing was removed' in failed['msg'] and 'iptables-nft can read' in failed['msg']
        assert ruleset(ns) == original and not (tmp_path / 'bk').exists()


@pytest.mark.parametrize('tags, present, absent', [
    ('report', ['Report the rules iptables-nft cannot read, who is hurt, and the fixes in order'],
     ['Remove exactly the listed rules (backup and undo file first; check mode only reports)',
      'Stop if a listed rule is still unreadable or anything else changed']),
    ('facts', ['Gather the netfilter backend facts'],
     ['Report the rules iptables-nft cannot read, who is hurt, and the fixes in order',
      'Remove exactly the listed rules (backup and undo file first; check mode only reports)']),
])
def test_role_tags_run_one_stage(tmp_path, ansible_env, tags, present, absent):
    """Issue 11: a stage runs alone by its tag; with remediate on, --tags report still removes nothing."""
    with netns() as ns:
        for cmd in NETBIRD:
            ns.sh(cmd)
        original = ruleset(ns)
        extra = {'kubenode_nft_conflicts_remediate': True, 'kubenode_nft_conflicts_backup_dir': str(tmp_path / 'bk'),
                 'kubenode_nft_conflicts_rules': [{'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': 3}]}
        rc, stats, tasks = playbook(ns, tmp_path, ansible_env, extra, tags=tags)
        assert rc == 0 and stats['failures'] == 0, tasks
        for name in present:
            assert name in tasks, sorted(tasks)
        for name in absent:
            assert name not in tasks, sorted(tasks)
        assert ruleset(ns) == original and not (tmp_path / 'bk').exists()
