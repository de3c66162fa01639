# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cost of netfilter_backend_facts against the bare dumps it cannot avoid (root; not a test).

For each size (1k, 10k, 100k rules; `--quick`: 1k) a fresh network namespace gets that many kube-proxy-style rules
through `iptables-nft-restore` AND as many through `iptables-legacy-restore`. Then, best of `--repeat` runs:
- bare: iptables-nft-save, ip6tables-nft-save, iptables-legacy-save, ip6tables-legacy-save, nft -j list chains
  (outputs read to /dev/null), one after the other;
- module: the module file run in the namespace (what `ansible` executes, minus the transport).
Reports the ratio (target <= 1.5) and the module process's peak RSS (target < 100 MB at 100k rules).

Issue 17's two 100k cases (``--cases foreign-inet iptables-native``, or ``--all``):
- ``foreign-inet``: one foreign ``inet`` table of 100k rules (one chain). The module must list it once with nft (to
  count its rules); before the streaming reader it cost 42 s and most of it in the module itself.
- ``iptables-native``: the kube-proxy nat table of 100k rules written by iptables-nft-restore, plus ONE native nft
  rule (``ct state established accept``) in KUBE-SERVICES, which makes iptables-nft refuse the whole table. Before:
  34 s and 805 MB.
For both, ``bare`` is the commands the module cannot avoid in that state (listed in CASES), run one after the other;
targets: module CPU (its own + its commands') <= 1.5 x the bare commands' CPU, module CPU of its own <= 3 s, module
peak RSS < 100 MB. CPU, not wall time, is compared: on a shared machine the wall time of one nft listing varied from
10 s to 45 s between runs, its CPU time did not. Wall times are printed too. nft's own listing dominates (nft 1.0.6:
~10 s CPU for 100k rules). The module runs with command_timeout 600 here so that a busy machine measures time
instead of reporting a timeout.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'tests'))

from kntest import COLLECTIONS_ROOT, ensure_collection_link  # noqa: E402
from kntest.netns import missing_requirements, netns  # noqa: E402

MODULE = 'ansible_collections.kubenode.netfilter.plugins.modules.netfilter_backend_facts'
RUNNER = r'''
import resource, runpy, sys
sys.argv = ["netfilter_backend_facts", sys.argv[1]]
try:
    runpy.run_module(%r, run_name="__main__")
except SystemExit:
    pass
usage = resource.getrusage(resource.RUSAGE_SELF)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork + exec, so it would report the (large) bench process
with open("/proc/self/status") as status:
    hwm = [int(line.split()[1]) for line in status if line.startswith("VmHWM:")]
sys.stderr.write("MAXRSS_KB=%%d\n" %% (hwm[0] if hwm else usage.ru_maxrss))
sys.stderr.write("SELF_CPU_S=%%.3f\n" %% (usage.ru_utime + usage.ru_stime))
children = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stderr.write("CHILDREN_CPU_S=%%.3f\n" %% (children.ru_utime + children.ru_stime))
''' % MODULE
TARGET_RATIO = 1.5
TARGET_RSS_MB = 100.0
TARGET_SELF_CPU_S = 3.0
NATIVE_RULE = 'nft add rule ip nat KUBE-SERVICES ct state established accept'
PROBE = ['-s', '192.0.2.254/32', '-d', '192.0.2.254/32', '-j', 'ACCEPT']
CASES = {
    'foreign-inet': [['nft', '-j', 'list', 'chains'], ['nft', '-j', 'list', 'table', 'inet', 'foreign'],
                     ['iptables-nft-save'], ['ip6tables-nft-save']],
    'iptables-native': [['nft', '-j', 'list', 'chains'], ['iptables-nft-save'], ['ip6tables-nft-save'],
                        ['nft', '-j', 'list', 'table', 'ip', 'nat'],
                        ['iptables-nft', '-t', 'nat', '-C', 'KUBE-SERVICES'] + PROBE,
                        ['nft', '-a', 'list', 'chain', 'ip', 'nat', 'KUBE-SERVICES']],
}


def foreign_input(rules):
    lines = ['add table inet foreign',
             'add chain inet foreign input { type filter hook input priority 0 ; policy accept ; }']
    for i in range(rules):
        lines.append('add rule inet foreign input ip saddr 10.%d.%d.%d tcp dport %d counter accept comment "r%d"'
                     % (i // 65536, (i // 256) % 256, i % 256, 1000 + i % 5000, i))
    return '\n'.join(lines) + '\n'


BARE = (['iptables-nft-save'], ['ip6tables-nft-save'], ['iptables-legacy-save'], ['ip6tables-legacy-save'],
        ['nft', '-j', 'list', 'chains'])


def restore_input(rules):
    """kube-proxy-like nat table: per service 1 KUBE-SERVICES rule, 2 KUBE-SVC rules, 2 x 2 KUBE-SEP rules."""
    services = rules // 7 + 1
    chains = [':KUBE-SERVICES - [0:0]', ':KUBE-MARK-MASQ - [0:0]']
    body = ['-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
            '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
            '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000']
    count = len(body)
    for i in range(services):
        if count >= rules:
            break
        svc = 'KUBE-SVC-%016X' % i
        ip = '10.%d.%d.%d' % (96 + i // 65536, (i // 256) % 256, i % 256)
        chains.append(':%s - [0:0]' % svc)
        body.append('-A KUBE-SERVICES -d %s/32 -p tcp -m comment --comment "ns%d/svc%d:http cluster IP" -m tcp '
                    '--dport 80 -j %s' % (ip, i, i, svc))
        for j in range(2):
            sep = 'KUBE-SEP-%015X%d' % (i, j)
            chains.append(':%s - [0:0]' % sep)
            body.append('-A %s -m comment --comment "ns%d/svc%d:http -> 10.244.%d.%d:8080" -m statistic --mode random '
                        '--probability 0.50000000000 -j %s' % (svc, i, i, j, i % 256, sep) if j == 0 else
                        '-A %s -m comment --comment "ns%d/svc%d:http" -j %s' % (svc, i, i, sep))
            body.append('-A %s -s 10.244.%d.%d/32 -m comment --comment "ns%d/svc%d:http" -j KUBE-MARK-MASQ'
                        % (sep, j, i % 256, i, i))
            body.append('-A %s -p tcp -m comment --comment "ns%d/svc%d:http" -m tcp -j DNAT --to-destination '
                        '10.244.%d.%d:8080' % (sep, i, i, j, i % 256))
        count = len(body)
    return '*nat\n' + '\n'.join(chains) + '\n' + '\n'.join(body[:rules]) + '\nCOMMIT\n', min(rules, len(body))


def timed(fn, repeat):
    best = None
    out = None
    for _sample in range(repeat):
        start = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, out


def bench(size, repeat):
    text, rules = restore_input(size)
    with netns('kn-bench') as ns, tempfile.TemporaryDirectory() as tmp:
        for tool in ('iptables-nft-restore', 'iptables-legacy-restore'):
            ns.run([tool], input=text)
        args = Path(tmp) / 'args.json'
        args.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {}}))
        env = dict(os.environ, PYTHONPATH=str(COLLECTIONS_ROOT))

        def bare():
            for argv in BARE:
                subprocess.run(ns.argv(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)

        def module():
            proc = subprocess.run(ns.argv([sys.executable, '-c', RUNNER, str(args)]), capture_output=True, text=True,
                                  env=env, check=False)
            if proc.returncode != 0:
                raise SystemExit('the module failed in %s (rc %d): %s' % (ns.name, proc.returncode, proc.stderr[-2000:]))
            facts = json.loads(proc.stdout)['ansible_facts']['netfilter']
            rss = [int(line.split('=')[1]) for line in proc.stderr.splitlines() if line.startswith('MAXRSS_KB=')]
            return facts, rss[0] if rss else None

        t_bare, _bare_out = timed(bare, repeat)
        t_mod, (facts, rss_kb) = timed(module, repeat)
    counted = facts['rule_counts']
    assert counted['nft'] == rules and counted['legacy'] == rules, (counted, rules)
    ratio = t_mod / t_bare if t_bare else float('inf')
    return {'rules': rules, 'bare_s': t_bare, 'module_s': t_mod, 'ratio': ratio, 'module_peak_rss_mb': (rss_kb or 0) / 1024.0,
            'children_peak_rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0}


def run_module(ns, args_path, env):
    proc = subprocess.run(ns.argv([sys.executable, '-c', RUNNER, str(args_path)]), capture_output=True, text=True,
                          env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit('the module failed in %s (rc %d): %s' % (ns.name, proc.returncode, proc.stderr[-2000:]))
    facts = json.loads(proc.stdout)['ansible_facts']['netfilter']
    found = dict(line.split('=', 1) for line in proc.stderr.splitlines() if '=' in line and line[:1].isupper())
    return (facts, float(found.get('MAXRSS_KB', 0)) / 1024.0, float(found.get('SELF_CPU_S', 0)),
            float(found.get('CHILDREN_CPU_S', 0)))


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_case(case, rules, repeat):
    """One of issue 17's 100k states; returns the row and asserts the facts are right (not only fast)."""
    with netns('kn-bench') as ns, tempfile.TemporaryDirectory() as tmp:
        if case == 'foreign-inet':
            ns.run(['nft', '-f', '-'], input=foreign_input(rules))
        else:
            text, rules = restore_input(rules)
            ns.run(['iptables-nft-restore'], input=text)
            ns.sh(NATIVE_RULE)
        args = Path(tmp) / 'args.json'
        args.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {'command_timeout': 600}}))
        env = dict(os.environ, PYTHONPATH=str(COLLECTIONS_ROOT))

        def bare():
            for argv in CASES[case]:
                subprocess.run(ns.argv(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)

        before = children_cpu()
        t_bare, _unused = timed(bare, repeat)
        cpu_bare = (children_cpu() - before) / repeat
        t_mod, (facts, rss_mb, self_cpu, kids_cpu) = timed(lambda: run_module(ns, args, env), repeat)
    assert facts['unreadable'] == [], facts['unreadable']
    if case == 'foreign-inet':
        assert [t['rules'] for t in facts['nft_tables']] == [rules], facts['nft_tables']
    else:
        assert facts['backends']['nft']['ipv4']['tables']['nat']['rules'] == rules + 1, facts['backends']['nft']
        assert [(e['chain'], e['rule']) for e in facts['iptables_nft_parse_errors']] == [
            ('KUBE-SERVICES', 'ct state established accept')], facts['iptables_nft_parse_errors']
    cpu_mod = self_cpu + kids_cpu
    ratio = cpu_mod / cpu_bare if cpu_bare else float('inf')
    ok = ratio <= TARGET_RATIO and rss_mb < TARGET_RSS_MB and self_cpu <= TARGET_SELF_CPU_S
    return {'case': case, 'rules': rules, 'bare_s': t_bare, 'module_s': t_mod, 'ratio': ratio, 'rss_mb': rss_mb,
            'self_cpu_s': self_cpu, 'bare_cpu_s': cpu_bare, 'module_cpu_s': cpu_mod, 'ok': ok}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='1k rules only, one run (smoke)')
    parser.add_argument('--sizes', type=int, nargs='*', default=[1000, 10000, 100000])
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--cases', nargs='*', choices=sorted(CASES), default=[],
                        help="issue 17's 100k states (see the module docstring)")
    parser.add_argument('--case-rules', type=int, default=100000)
    parser.add_argument('--all', action='store_true', help='the sizes and every case')
    opts = parser.parse_args()
    reason = missing_requirements('iptables-nft-restore', 'iptables-legacy-restore', 'nft')
    if reason:
        print('skipped: %s' % reason)
        return 0
    try:
        import ansible  # noqa: F401  (the module runs with this interpreter)
    except ImportError:
        print('error: run with a Python that has ansible-core, e.g. .build/venv/bin/python or /tmp/venvtest/bin/python')
        return 2
    ensure_collection_link()
    sizes = [1000] if opts.quick else ([] if opts.cases and not opts.all else opts.sizes)
    repeat = 1 if opts.quick else opts.repeat
    failed = False
    for case in (sorted(CASES) if opts.all else opts.cases):
        row = bench_case(case, opts.case_rules, repeat)
        failed = failed or not row['ok']
        print('case=%s rules=%d bare_cpu=%.2fs module_cpu=%.2fs cpu_ratio=%.2f (target <= %.1f) module_self_cpu=%.2fs '
              '(target <= %.1f) module_peak_rss=%.1fMB (target < %.0f) wall: bare=%.1fs module=%.1fs %s'
              % (row['case'], row['rules'], row['bare_cpu_s'], row['module_cpu_s'], row['ratio'], TARGET_RATIO,
                 row['self_cpu_s'], TARGET_SELF_CPU_S, row['rss_mb'], TARGET_RSS_MB, row['bare_s'], row['module_s'],
                 'OK' if row['ok'] else 'MISSED'))
        sys.stdout.flush()
    for size in sizes:
        row = bench(size, repeat)
        print('rules=%d bare=%.3fs module=%.3fs ratio=%.2f module_peak_rss=%.1fMB (per backend; %d in each)'
              % (row['rules'], row['bare_s'], row['module_s'], row['ratio'], row['module_peak_rss_mb'], row['rules']))
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
