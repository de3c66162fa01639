# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark node_profile_facts: the profile decision on a large root, the live-rule commands, and the module run.

Usage: bench/bench_node_profile.py [--quick] [--repeat N]
Target (issue 13): the module's own work on a root with 200 files in /etc/cni/net.d and 50 config.yaml.d drop-ins
under 100 ms. Prints a table; no pass/fail.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import kntest  # noqa: E402

kntest.ensure_collection_link()
sys.path.insert(0, str(kntest.COLLECTIONS_ROOT))

from kntest import profile_roots as pr  # noqa: E402
from ansible_collections.kubenode.netfilter.plugins.module_utils import _node_profile as np  # noqa: E402

MODULE_FILE = REPO / "plugins" / "modules" / "node_profile_facts.py"


def timed(fn, repeat):
    samples = []
    for _sample in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(samples), min(samples)


def gather(root, use_pyyaml):
    def run():
        facts = np.Gatherer(root, use_pyyaml=use_pyyaml).gather()
        if facts.cni.value != np.CILIUM:
            raise SystemExit("unexpected profile: %r" % facts.as_dict())
    return run


def module_run(args):
    env = dict(os.environ, PYTHONPATH=str(kntest.COLLECTIONS_ROOT))
    args_file = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump({"ANSIBLE_MODULE_ARGS": args}, args_file)
    args_file.close()

    def run():
        proc = subprocess.run([sys.executable, str(MODULE_FILE), args_file.name], capture_output=True, text=True,
                              check=False, env=env)
        if '"node_profile"' not in proc.stdout:
            raise SystemExit("module run failed: %s %s" % (proc.stdout[-500:], proc.stderr[-500:]))
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few repetitions only (smoke run)")
    parser.add_argument("--repeat", type=int, default=0, help="repetitions for the in-process timings")
    opts = parser.parse_args()
    repeat = opts.repeat or (3 if opts.quick else 50)
    proc_repeat = 2 if opts.quick else 10

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = str(pr.bench_root(Path(tmp) / "root", cni_files=200, dropins=50))
        rows.append(("profile: 200 CNI files + 50 drop-ins (PyYAML)", repeat) + timed(gather(root, True), repeat))
        rows.append(("profile: 200 CNI files + 50 drop-ins (subset parser)", repeat)
                    + timed(gather(root, False), repeat))
        worst = str(pr.bench_root(Path(tmp) / "worst", cni_files=200, dropins=50, unusable=True))
        rows.append(("profile: worst case, 199 unusable CNI files read first", repeat)
                    + timed(gather(worst, True), repeat))
        rows.append(("module run, files only (live_rules=false)", proc_repeat)
                    + timed(module_run({"root": root, "live_rules": False}), proc_repeat))
        rows.append(("module run with live rules (this host's namespace)", proc_repeat)
                    + timed(module_run({"root": root}), proc_repeat))
        baseline = Path(tmp) / "noop.py"
        baseline.write_text("import ansible.module_utils.basic\n")
        rows.append(("  for scale: python3 importing AnsibleModule only", proc_repeat)
                    + timed(lambda: subprocess.run([sys.executable, str(baseline)], check=True), proc_repeat))

    width = max(len(r[0]) for r in rows)
    print("%-*s %6s %10s %10s" % (width, "what", "runs", "median ms", "min ms"))
    for name, runs, median, best in rows:
        print("%-*s %6d %10.1f %10.1f" % (width, name, runs, median, best))
    own = max(rows[0][2], rows[1][2], rows[2][2])
    print("\nmodule's own work (files read + decision, slower parser): %.1f ms median (target < 100 ms)" % own)
    return 0


if __name__ == "__main__":
    sys.exit(main())
