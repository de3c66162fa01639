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
sys.stderr.write("MAXRSS_KB=%%d\n" %% resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
''' % MODULE
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='1k rules only, one run (smoke)')
    parser.add_argument('--sizes', type=int, nargs='*', default=[1000, 10000, 100000])
    parser.add_argument('--repeat', type=int, default=3)
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
    sizes = [1000] if opts.quick else opts.sizes
    repeat = 1 if opts.quick else opts.repeat
    for size in sizes:
        row = bench(size, repeat)
        print('rules=%d bare=%.3fs module=%.3fs ratio=%.2f module_peak_rss=%.1fMB (per backend; %d in each)'
              % (row['rules'], row['bare_s'], row['module_s'], row['ratio'], row['module_peak_rss_mb'], row['rules']))
        sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
