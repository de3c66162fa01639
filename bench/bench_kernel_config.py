# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark kernel_config_facts: parse + module-state evaluation, the module run, and `ansible localhost -m`.

Usage: bench/bench_kernel_config.py [--quick] [--repeat N]
Target (issue 3): the module's own work under 50 ms. Prints a table; no pass/fail.
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

from kntest import kernel_roots as kr  # noqa: E402
from ansible_collections.kubenode.netfilter.plugins.module_utils import _kernel_config as kc  # noqa: E402
from ansible_collections.kubenode.netfilter.plugins.module_utils import _catalog as req  # noqa: E402

MODULE_FILE = REPO / "plugins" / "modules" / "kernel_config_facts.py"


def timed(fn, repeat):
    samples = []
    for _sample in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(samples), min(samples)


def parse_and_evaluate(path, root, release):
    def run():
        config = kc.read_config(path)
        evidence = kc.gather_evidence(root, release)
        kc.module_states(config, req.module_pairs(config.header_version), evidence)
        kc.read_xtables(root)
    return run


def module_run(args_json):
    env = dict(os.environ, PYTHONPATH=str(kntest.COLLECTIONS_ROOT))

    def run():
        proc = subprocess.run([sys.executable, str(MODULE_FILE), args_json], capture_output=True, text=True, check=False,
                              env=env)
        if '"kernel_config"' not in proc.stdout:
            raise SystemExit("module run failed: %s %s" % (proc.stdout[-500:], proc.stderr[-500:]))
    return run


def ansible_run(inventory):
    env = kntest.ansible_environment()
    argv = [kntest.ansible_bin("ansible"), "localhost", "-i", inventory, "-m", "kubenode.netfilter.kernel_config_facts"]

    def run():
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            raise SystemExit("ansible failed: %s %s" % (proc.stdout[-500:], proc.stderr[-500:]))
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few repetitions only (smoke run)")
    parser.add_argument("--repeat", type=int, default=0, help="repetitions for the in-process timings")
    opts = parser.parse_args()
    repeat = opts.repeat or (3 if opts.quick else 200)
    proc_repeat = 2 if opts.quick else 20
    ansible_repeat = 1 if opts.quick else 5

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        largest = kr.largest_fixture()
        rel = "6.1.0-bench-amd64"
        root = kr.build_root(Path(tmp) / "root", release=rel,
                             modules_dep=["kernel/net/netfilter/xt_statistic.ko.xz"], proc_modules=["xt_comment"])
        rows.append(("parse + module states: %s (%d KiB)" % (largest.name, largest.stat().st_size // 1024),
                     repeat) + timed(parse_and_evaluate(str(largest), str(root), rel), repeat))
        if os.path.exists("/proc/config.gz"):
            rows.append(("parse + module states: /proc/config.gz", repeat)
                        + timed(parse_and_evaluate("/proc/config.gz", "/", os.uname().release), repeat))
        args_file = Path(tmp) / "args.json"
        args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {}}))
        rows.append(("module run: python3 %s (this host)" % MODULE_FILE.name, proc_repeat)
                    + timed(module_run(str(args_file)), proc_repeat))
        baseline = Path(tmp) / "noop.py"
        baseline.write_text("import ansible.module_utils.basic\n")
        rows.append(("  for scale: python3 importing AnsibleModule only", proc_repeat)
                    + timed(lambda: subprocess.run([sys.executable, str(baseline)], check=True), proc_repeat))
        inventory = Path(tmp) / "hosts"
        inventory.write_text("localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n")
        rows.append(("ansible localhost -m kernel_config_facts (total)", ansible_repeat)
                    + timed(ansible_run(str(inventory)), ansible_repeat))

    width = max(len(r[0]) for r in rows)
    print("%-*s %6s %10s %10s" % (width, "what", "runs", "median ms", "min ms"))
    for name, runs, median, best in rows:
        print("%-*s %6d %10.1f %10.1f" % (width, name, runs, median, best))
    own = rows[1][2] if len(rows) > 1 and "proc" in rows[1][0] else rows[0][2]
    print("\nmodule's own work (parse + evaluation): %.1f ms median (target < 50 ms)" % own)
    return 0


if __name__ == "__main__":
    sys.exit(main())
