# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""netfilter_backend_facts against real iptables/nft state built in throwaway network namespaces (root).

Every state runs twice: the module file executed in the namespace (fast), and
`ansible localhost -m kubenode.netfilter.netfilter_backend_facts` with an interpreter wrapper into the namespace.
"""
from __future__ import annotations

import json
import os
import sys

import pytest

import kntest
from kntest.netns import missing_requirements, netns

pytestmark = [pytest.mark.root, pytest.mark.netns]

TOOLS = ('iptables-nft', 'ip6tables-nft', 'iptables-legacy', 'ip6tables-legacy', 'nft', 'unshare', 'mount')
REASON = missing_requirements(*TOOLS)
if REASON:
    pytestmark.append(pytest.mark.skip(reason=REASON))

MODULE = 'ansible_collections.kubenode.netfilter.plugins.modules.netfilter_backend_facts'
HIDE_IPTABLES = ('iptables', 'ip6tables', 'xtables', 'arptables', 'ebtables')


def run_module(ns, tmp_path, args=None, env_extra=None, hide=None):
    """Execute the module file inside the namespace; optionally hide /usr/sbin tools (private mount namespace)."""
    argsfile = tmp_path / 'args.json'
    argsfile.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': args or {}}))
    env = dict(os.environ)
    env['PYTHONPATH'] = str(kntest.COLLECTIONS_ROOT)
    env.update(env_extra or {})
    argv = [sys.executable, '-m', MODULE, str(argsfile)]
    if hide:
        # a private mount namespace: the real /usr/sbin stays reachable at ORIG, /usr/sbin shows symlinks into it
        # for every entry but the hidden ones (/sbin is a symlink to usr/sbin here)
        orig = tmp_path / 'orig-sbin'
        shadow = tmp_path / 'sbin'
        orig.mkdir()
        shadow.mkdir()
        for entry in os.listdir('/usr/sbin'):
            if not entry.startswith(tuple(hide)):
                (shadow / entry).symlink_to(orig / entry)
        argv = ['unshare', '-m', '--propagation', 'private', '/bin/sh', '-ec',
                'mount --bind /usr/sbin "$0"; mount --bind "$1" /usr/sbin; shift; exec "$@"',
                str(orig), str(shadow)] + argv
    proc = ns.run(argv, check=False, env=env)
    assert proc.returncode == 0, 'module failed: rc %d\n%s\n%s' % (proc.returncode, proc.stdout, proc.stderr)
    result = json.loads(proc.stdout)
    assert not result.get('failed'), result
    return result['ansible_facts']['netfilter']


def run_ansible(ns, tmp_path, ansible_env, args=None):
    python = ns.interpreter(tmp_path)
    argv = [kntest.ansible_bin('ansible'), 'localhost', '-i', 'localhost,', '-c', 'local',
            '-e', 'ansible_python_interpreter=%s' % python, '-m', 'kubenode.netfilter.netfilter_backend_facts']
    if args:
        argv += ['-a', json.dumps(args)]
    proc, output = kntest.run_ansible_json(argv, ansible_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    host = output['plays'][0]['tasks'][0]['hosts']['localhost']
    return host['ansible_facts']['netfilter']


@pytest.fixture(params=['module', 'ansible'])
def gather(request, tmp_path, ansible_env):
    def _gather(ns, args=None):
        if request.param == 'module':
            return run_module(ns, tmp_path, args)
        return run_ansible(ns, tmp_path, ansible_env, args)
    return _gather


def snapshot(ns):
    """Everything the module must not change: the nft ruleset (counters aside) and the legacy table names."""
    ruleset = json.loads(ns.run(['nft', '-j', 'list', 'ruleset']).stdout)['nftables']
    for item in ruleset:
        for stmt in (item.get('rule') or {}).get('expr', []):
            if isinstance(stmt, dict) and 'counter' in stmt:
                stmt['counter'] = None
    names = ns.run(['cat', '/proc/net/ip_tables_names', '/proc/net/ip6_tables_names']).stdout
    return ruleset, names


def setup(ns, *commands):
    for cmd in commands:
        ns.sh(cmd)


def tables(facts, backend, ipver):
    return facts['backends'][backend][ipver]['tables']


# ---------------------------------------------------------------------------------------------------------------------
# States of issue 4's "Done means"

def test_empty_host(gather):
    with netns() as ns:
        before = snapshot(ns)
        facts = gather(ns)
        assert snapshot(ns) == before
    assert facts['iptables']['backend'] == 'nft' and facts['iptables']['version'] == '1.8.9'
    assert facts['nft']['version'] == '1.0.6' and facts['ipset']['version'] == '7.17'
    assert facts['detected_mode'] == 'nft' and 'defaults to nft' in facts['mode_reason']
    assert facts['detected_mode_by_rule_count'] is None and facts['mixed'] is False
    assert facts['backends']['legacy']['ipv4'] == {'tables': {}, 'kernel_tables': [], 'read': False}
    assert tables(facts, 'nft', 'ipv4') == {} and facts['nft_tables'] == []
    assert facts['iptables_nft_parse_errors'] == [] and facts['errors'] == []
    assert facts['kube_chains'] == {'KUBE-IPTABLES-HINT': [], 'KUBE-KUBELET-CANARY': [], 'KUBE-PROXY-CANARY': []}


def test_legacy_only_rules(gather):
    with netns() as ns:
        setup(ns, 'iptables-legacy -A INPUT -s 10.0.0.1 -j ACCEPT', 'iptables-legacy -A INPUT -s 10.0.0.2 -j DROP',
              'ip6tables-legacy -A INPUT -j ACCEPT')
        facts = gather(ns)
    want = {'chains': 3, 'rules': 2, 'incompatible': False, 'incompatible_reason': None}
    assert tables(facts, 'legacy', 'ipv4')['filter'] == want
    assert tables(facts, 'legacy', 'ipv6')['filter']['rules'] == 1
    assert facts['backends']['legacy']['ipv4']['kernel_tables'] == ['filter']
    assert tables(facts, 'nft', 'ipv4') == {}
    # no hint: the Go wrapper defaults to nft, the shell wrapper picks legacy (3 > 0)
    assert facts['detected_mode'] == 'nft' and facts['detected_mode_by_rule_count'] == 'legacy'
    assert facts['rule_counts'] == {'legacy': 3, 'nft': 0, 'nft_unreadable': 0} and facts['mixed'] is False


def test_nft_only_rules_never_touch_legacy(gather):
    with netns() as ns:
        setup(ns, 'iptables-nft -A FORWARD -s 10.0.0.1 -j ACCEPT', 'iptables-nft -t nat -A POSTROUTING -j MASQUERADE')
        before = snapshot(ns)
        facts = gather(ns)
        assert snapshot(ns) == before  # /proc/net/ip_tables_names still empty: legacy-save never ran
    assert facts['backends']['legacy']['ipv4']['read'] is False
    assert tables(facts, 'nft', 'ipv4')['filter']['rules'] == 1 and tables(facts, 'nft', 'ipv4')['nat']['rules'] == 1
    assert facts['detected_mode'] == 'nft' and facts['detected_mode_by_rule_count'] is None
    assert {(t['family'], t['name'], t['owner']) for t in facts['nft_tables']} == {('ip', 'filter', 'iptables'),
                                                                                   ('ip', 'nat', 'iptables')}


def test_mixed(gather):
    with netns() as ns:
        setup(ns, 'iptables-nft -A FORWARD -j ACCEPT', 'iptables-legacy -A INPUT -j ACCEPT')
        facts = gather(ns)
    assert facts['mixed'] is True and facts['rule_counts']['legacy'] == 1 and facts['rule_counts']['nft'] == 1


def test_hint_in_nft_wins_over_more_legacy_rules(gather):
    with netns() as ns:
        setup(ns, 'iptables-nft -t mangle -N KUBE-IPTABLES-HINT',
              *['iptables-legacy -A INPUT -s 10.0.0.%d -j ACCEPT' % i for i in range(1, 6)])
        facts = gather(ns)
    assert facts['detected_mode'] == 'nft' and 'iptables-nft-save -t mangle' in facts['mode_reason']
    assert facts['detected_mode_by_rule_count'] is None  # the shell wrapper checks the hint first too
    assert facts['kube_chains']['KUBE-IPTABLES-HINT'] == ['nft']


def test_hint_only_in_legacy(gather):
    with netns() as ns:
        setup(ns, 'iptables-legacy -t mangle -N KUBE-IPTABLES-HINT', 'iptables-nft -A FORWARD -j ACCEPT',
              'iptables-nft -A FORWARD -j DROP')
        facts = gather(ns)
    assert facts['detected_mode'] == 'legacy' and 'iptables-legacy-save' in facts['mode_reason']
    assert facts['kube_chains']['KUBE-IPTABLES-HINT'] == ['legacy']


def test_no_hint_more_legacy_rules(gather):
    with netns() as ns:
        setup(ns, 'iptables-nft -A FORWARD -j ACCEPT', 'iptables-legacy -A INPUT -j ACCEPT',
              'iptables-legacy -A INPUT -j DROP')
        facts = gather(ns)
    assert facts['detected_mode'] == 'nft' and facts['detected_mode_by_rule_count'] == 'legacy'
    assert '2 > 1' in facts['rule_count_reason'] and facts['mixed'] is True


def test_ipv6_variants(gather):
    with netns() as ns:
        setup(ns, 'ip6tables-nft -t mangle -N KUBE-KUBELET-CANARY', 'ip6tables-nft -t nat -N KUBE-PROXY-CANARY',
              'ip6tables-legacy -t filter -N KUBE-PROXY-CANARY', 'ip6tables-legacy -A INPUT -j ACCEPT')
        facts = gather(ns)
    assert facts['detected_mode'] == 'nft' and 'ip6tables-nft-save -t mangle' in facts['mode_reason']
    assert facts['kube_chains']['KUBE-KUBELET-CANARY'] == ['nft']
    assert facts['kube_chains']['KUBE-PROXY-CANARY'] == ['legacy', 'nft']
    assert tables(facts, 'legacy', 'ipv6')['filter']['rules'] == 1 and tables(facts, 'legacy', 'ipv4') == {}
    assert set(tables(facts, 'nft', 'ipv6')) == {'mangle', 'nat'}


def test_ipv6_legacy_hint(gather):
    with netns() as ns:
        setup(ns, 'ip6tables-legacy -t mangle -N KUBE-IPTABLES-HINT')
        facts = gather(ns)
    assert facts['detected_mode'] == 'legacy' and 'ip6tables-legacy-save' in facts['mode_reason']


def test_kube_proxy_and_foreign_tables(gather):
    with netns() as ns:
        setup(ns, "nft 'add table ip kube-proxy { comment \"rules for kube-proxy\" ; }'",
              "nft 'add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }'",
              "nft 'add chain ip kube-proxy services'", 'nft add rule ip kube-proxy nat-prerouting jump services',
              "nft 'add table ip6 kube-proxy'",
              "nft 'add chain ip6 kube-proxy filter-input { type filter hook input priority -110 ; }'",
              "nft 'add table inet netbird'",
              "nft 'add chain inet netbird input { type filter hook input priority 0 ; policy drop ; }'",
              'nft add rule inet netbird input iifname wt0 accept', 'nft add rule inet netbird input ct state new accept')
        facts = gather(ns)
    by = dict(((t['family'], t['name']), t) for t in facts['nft_tables'])
    assert by[('ip', 'kube-proxy')]['owner'] == 'kube-proxy' and by[('ip', 'kube-proxy')]['rules'] == 1
    assert by[('ip', 'kube-proxy')]['hooks'] == [{'chain': 'nat-prerouting', 'hook': 'prerouting', 'priority': -100,
                                                  'policy': 'accept', 'type': 'nat'}]
    assert by[('ip6', 'kube-proxy')]['owner'] == 'kube-proxy' and by[('ip6', 'kube-proxy')]['chains'] == 1
    assert by[('inet', 'netbird')] == {'family': 'inet', 'name': 'netbird', 'owner': 'foreign', 'chains': 1,
                                       'rules': 2, 'hooks': [{'chain': 'input', 'hook': 'input', 'priority': 0,
                                                              'policy': 'drop', 'type': 'filter'}]}
    # foreign native rules in their own table are harmless to iptables-nft
    assert facts['iptables_nft_parse_errors'] == []


def test_unreadable_rule(gather):
    with netns() as ns:
        setup(ns, 'iptables-nft -A FORWARD -s 10.0.0.1 -j ACCEPT',
              'nft add rule ip filter FORWARD ct state established accept',
              'iptables-nft -t mangle -N KUBE-IPTABLES-HINT', "nft 'add table inet netbird'",
              "nft 'add chain inet netbird input { type filter hook input priority 0 ; }'")
        check = ns.run(['iptables-nft', '-C', 'FORWARD', '-s', '10.9.9.9', '-j', 'ACCEPT'], check=False)
        assert check.returncode == 3 and 'Error: cmp sreg undef' in check.stderr  # the real incident
        before = snapshot(ns)
        facts = gather(ns)
        assert snapshot(ns) == before
    table = tables(facts, 'nft', 'ipv4')['filter']
    assert table == {'chains': 1, 'rules': 2, 'incompatible': True, 'incompatible_reason': 'incompatible'}
    assert facts['rule_counts']['nft'] == 2 and facts['rule_counts']['nft_unreadable'] == 2
    [err] = facts['iptables_nft_parse_errors']
    want = ('ip', 'filter', 'FORWARD', 'ct state established accept')
    assert (err['family'], err['table'], err['chain'], err['rule']) == want
    assert isinstance(err['handle'], int)
    assert err['error'].startswith('Error: cmp sreg undef\niptables v1.8.9 (nf_tables): Parsing nftables rule failed')
    assert err['expected_error'] == 'cmp sreg undef' and err['iptables_nft_version'] == '1.8.9'
    assert err['writer'] == 'netbird' and err['writer_evidence']['other_tables'] == ['inet netbird']
    assert facts['detected_mode'] == 'nft'


def test_aborted_dump_rereads_other_tables(gather):
    with netns() as ns:
        setup(ns, 'iptables-nft -t nat -A POSTROUTING -j MASQUERADE', 'iptables-nft -A FORWARD -s 10.0.0.1 -j ACCEPT',
              'nft add rule ip filter FORWARD ip length 100 accept', 'iptables-nft -A FORWARD -s 10.0.0.2 -j ACCEPT',
              'iptables-nft -t mangle -N KUBE-IPTABLES-HINT')
        facts = gather(ns)
    v4 = tables(facts, 'nft', 'ipv4')
    assert v4['filter'] == {'chains': 1, 'rules': 3, 'incompatible': True, 'incompatible_reason': 'aborted'}
    assert v4['nat']['rules'] == 1 and v4['mangle']['incompatible'] is False
    assert 'unknown payload offset' in facts['backends']['nft']['error']
    [err] = facts['iptables_nft_parse_errors']
    assert err['rule'] == 'ip length 100 accept' and err['error'].startswith('Error: unknown payload offset')


def test_foreign_base_chain_in_iptables_table(gather):
    with netns() as ns:
        setup(ns, 'iptables-nft -A FORWARD -s 10.0.0.1 -j ACCEPT',
              "nft 'add chain ip filter nbchain { type filter hook input priority 10 ; }'",
              'nft add rule ip filter nbchain accept')
        facts = gather(ns)
    want = {'chains': 2, 'rules': 2, 'incompatible': True, 'incompatible_reason': 'base_chains'}
    assert tables(facts, 'nft', 'ipv4')['filter'] == want
    [err] = facts['iptables_nft_parse_errors']
    assert err['chain'] == 'nbchain' and err['handle'] is None and "incompatible, use 'nft' tool" in err['error']


# ---------------------------------------------------------------------------------------------------------------------
# Each class of the measured table, ip and ip6, filter and nat (module run only: these are many)

CLASS_CASES = []
for _cls, _expr, _fams in [('ct', 'ct state established accept', ('ip', 'ip6')),
                           ('fib', 'fib daddr type local accept', ('ip', 'ip6')),
                           ('rt', 'rt mtu 1500 accept', ('ip', 'ip6')), ('numgen', 'numgen random mod 2 0 accept',
                                                                         ('ip', 'ip6')),
                           ('payload', '{ip} length 100 accept', ('ip', 'ip6')),
                           ('meta_key', 'meta skuid 0 accept', ('ip', 'ip6')),
                           ('meta_set', 'meta mark set 0x1', ('ip', 'ip6')), ('th', 'th dport 53 accept', ('ip', 'ip6')),
                           ('statement', 'log', ('ip', 'ip6'))]:
    for _fam in _fams:
        for _table, _chain in (('filter', 'FORWARD'), ('nat', 'POSTROUTING')):
            CLASS_CASES.append((_cls, _expr.replace('{ip}', _fam), _fam, _table, _chain))


@pytest.mark.parametrize('cls, expr, family, table, chain', CLASS_CASES,
                         ids=['%s-%s-%s' % (c[0], c[2], c[3]) for c in CLASS_CASES])
def test_expression_class(tmp_path, cls, expr, family, table, chain):
    from ansible_collections.kubenode.netfilter.plugins.module_utils import _netfilter as nf
    ipt = 'iptables-nft' if family == 'ip' else 'ip6tables-nft'
    src = '10.0.0.1' if family == 'ip' else '2001:db8::1'
    with netns() as ns:
        setup(ns, '%s -t %s -A %s -s %s -j ACCEPT' % (ipt, table, chain, src),
              'nft add rule %s %s %s %s' % (family, table, chain, expr))
        facts = run_module(ns, tmp_path)
    ipver = 'ipv4' if family == 'ip' else 'ipv6'
    entry = tables(facts, 'nft', ipver)[table]
    assert entry['incompatible'] is True and entry['rules'] == 2
    [err] = facts['iptables_nft_parse_errors']
    assert (err['family'], err['table'], err['chain']) == (family, table, chain)
    assert [e['class'] for e in err['expressions']] == [cls]
    expected = nf.COMPAT_BY_ID[cls].error_for(family)
    if expected:
        assert err['expected_error'] == expected and err['error'].startswith('Error: ' + expected)
    else:
        assert "is incompatible, use 'nft' tool" in err['error']


# ---------------------------------------------------------------------------------------------------------------------
# Missing and broken tools

def test_iptables_absent(tmp_path):
    with netns() as ns:
        setup(ns, 'nft add table inet t', "nft 'add chain inet t c { type filter hook input priority 0 ; }'")
        facts = run_module(ns, tmp_path, hide=HIDE_IPTABLES)
    for key in ('iptables', 'ip6tables', 'iptables_nft', 'iptables_legacy', 'ip6tables_legacy', 'ip6tables_nft'):
        assert facts[key] is None
    assert facts['nft']['version'] == '1.0.6'
    assert facts['backends']['nft']['available'] is False and facts['backends']['legacy']['available'] is False
    assert facts['detected_mode'] == 'nft' and facts['nft_tables'][0]['owner'] == 'foreign'


def test_nft_absent(tmp_path):
    with netns() as ns:
        setup(ns, 'iptables-nft -A FORWARD -j ACCEPT')
        facts = run_module(ns, tmp_path, hide=('nft',))
    assert facts['nft'] is None and facts['nft_tables'] == []
    assert tables(facts, 'nft', 'ipv4')['filter']['rules'] == 1 and facts['iptables']['backend'] == 'nft'


def test_fake_tools_report_errors(tmp_path):
    fake = tmp_path / 'fakebin'
    fake.mkdir()
    (fake / 'iptables').write_text('#!/bin/sh\necho "this is not iptables"\n')
    (fake / 'ip6tables').write_text('#!/bin/sh\necho "ip6tables: boom" >&2\nexit 2\n')
    (fake / 'iptables-nft-save').write_text('#!/bin/sh\necho "*filter"\necho "garbage" \necho "nope" >&2\nexit 1\n')
    bundle = tmp_path / 'bundle'
    bundle.mkdir()
    (bundle / 'iptables').symlink_to('/usr/sbin/xtables-nft-multi')
    (bundle / 'nft').write_text('#!/bin/sh\nexit 42\n')
    for path in list(fake.iterdir()) + [bundle / 'nft']:
        path.chmod(0o755)
    env = {'PATH': '%s:%s' % (fake, os.environ.get('PATH', '/usr/sbin:/usr/bin'))}
    with netns() as ns:
        setup(ns, 'iptables-nft -A FORWARD -j ACCEPT')
        facts = run_module(ns, tmp_path, args={'search_paths': [str(bundle), str(tmp_path / 'nowhere')]},
                           env_extra=env)
    assert facts['iptables']['path'] == str(fake / 'iptables')
    assert 'unrecognised version output' in facts['iptables']['error'] and facts['iptables']['version'] is None
    assert 'exited 2' in facts['ip6tables']['error'] and 'boom' in facts['ip6tables']['error']
    assert 'exited 1' in facts['backends']['nft']['error'] and 'nope' in facts['backends']['nft']['error']
    assert facts['bundled'][str(tmp_path / 'nowhere')] is None
    bundled = facts['bundled'][str(bundle)]
    assert bundled['iptables']['backend'] == 'nft' and bundled['iptables']['version'] == '1.8.9'
    assert 'exited 42' in bundled['nft']['error']
    assert len(facts['errors']) >= 3


def test_check_mode_identical(tmp_path, ansible_env):
    with netns() as ns:
        setup(ns, 'iptables-nft -A FORWARD -j ACCEPT', 'iptables-legacy -A INPUT -j ACCEPT')
        python = ns.interpreter(tmp_path)
        outs = []
        for extra in ([], ['--check']):
            proc, output = kntest.run_ansible_json(
                [kntest.ansible_bin('ansible'), 'localhost', '-i', 'localhost,', '-c', 'local', '-e',
                 'ansible_python_interpreter=%s' % python, '-m', 'kubenode.netfilter.netfilter_backend_facts'] + extra,
                ansible_env)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            host = output['plays'][0]['tasks'][0]['hosts']['localhost']
            assert host['changed'] is False
            outs.append(host['ansible_facts']['netfilter'])
    assert outs[0] == outs[1]


def test_bench_quick_smoke():
    bench = kntest.REPO / 'bench' / 'bench_netfilter_backend.py'
    proc = kntest.run([sys.executable, str(bench), '--quick'])
    assert 'rules=1000' in proc.stdout


def test_root_option_reads_proc_below_root(tmp_path):
    root = tmp_path / 'root'
    (root / 'proc/sys/net/ipv4').mkdir(parents=True)
    (root / 'proc/sys/net/ipv4/ip_forward').write_text('1\n')
    (root / 'proc/net').mkdir(parents=True)
    (root / 'proc/net/ip_tables_names').write_text('')
    (root / 'etc/alternatives').mkdir(parents=True)
    (root / 'etc/alternatives/iptables').symlink_to('/usr/sbin/iptables-legacy')
    with netns() as ns:
        facts = run_module(ns, tmp_path, args={'root': str(root)})
    assert facts['sysctl']['net.ipv4.ip_forward'] == 1 and facts['sysctl']['net.netfilter.nf_conntrack_max'] is None
    assert facts['alternatives'] == {'iptables': '/usr/sbin/iptables-legacy'}
    assert facts['backends']['legacy']['ipv4']['kernel_tables'] == []
    assert facts['backends']['legacy']['ipv6']['kernel_tables'] is None  # no ip6_tables_names below root


# ---------------------------------------------------------------------------------------------------------------------
# unreadable (issue 16 item 1): an unprivileged run says what it could not read, and why

NONROOT = ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups']


def test_unprivileged_run_reports_permission_items():
    import shutil
    import subprocess
    import tempfile
    if shutil.which('setpriv') is None:
        pytest.skip('needs setpriv (util-linux)')
    with tempfile.TemporaryDirectory(prefix='kn-nfgather-') as tmp, netns('kn-nfgather') as ns:
        os.chmod(tmp, 0o755)
        args = os.path.join(tmp, 'args.json')
        with open(args, 'w') as handle:
            json.dump({'ANSIBLE_MODULE_ARGS': {}}, handle)
        os.chmod(args, 0o644)
        setup(ns, 'iptables-nft -A FORWARD -s 10.0.0.1 -j ACCEPT', 'iptables-legacy -A INPUT -j ACCEPT',
              'nft add rule ip filter FORWARD ct state established accept')
        env = dict(os.environ, PYTHONPATH=str(kntest.COLLECTIONS_ROOT), HOME=tmp)
        proc = subprocess.run(ns.argv(NONROOT + [sys.executable, '-m', MODULE, args]), capture_output=True, text=True,
                              env=env, timeout=300, check=False)
        root_facts = run_module(ns, __import__('pathlib').Path(tmp))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    facts = json.loads(proc.stdout)['ansible_facts']['netfilter']
    items = dict(((u['what'], u['command'].rsplit('/', 1)[-1]), u) for u in facts['unreadable'])
    expected = [('backends.nft.ipv4', 'iptables-nft-save'), ('backends.nft.ipv6', 'ip6tables-nft-save'),
                ('nft_tables', 'nft -j list chains'), ('backends.legacy.ipv4', 'ip_tables_names'),
                ('kube_chains', 'iptables-nft-save'), ('iptables_nft_parse_errors', 'iptables-nft-save')]
    for key in expected:
        assert key in items, (key, facts['unreadable'])
        assert items[key]['cause'] == 'permission', items[key]
    assert 'Permission denied' in items[('backends.nft.ipv4', 'iptables-nft-save')]['reason']
    # as root, the same namespace is read completely: legacy rules, the unreadable rule, no unreadable item
    assert root_facts['unreadable'] == [] and root_facts['rule_counts']['legacy'] == 1
    assert len(root_facts['iptables_nft_parse_errors']) == 1
