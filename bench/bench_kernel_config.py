# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark kernel_config_facts: parse + module-state evaluation, the module run, and `ansible localhost -m`.

Usage: bench/bench_kernel_config.py [--quick] [--repeat N] [--no-huge]
Targets (printed with the measurement; no pass/fail):
- issue 3: the module's own work under 50 ms;
- issue 14: kernels=all with 5 installed kernels under 150 ms of module work on top of kernels=running;
- issue 17: all_options on the largest config the module accepts (~60 MB) under 10 s CPU and 600 MB peak RSS of the
  module process, with a bounded result (at most ALL_OPTIONS_MAX symbols plus the catalog's); before: 53 s, 595 MB,
  147 MB of result.
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
from ansible_collections.kubenode.netfilter.plugins.modules import kernel_config_facts as kcf  # noqa: E402

MODULE_FILE = REPO / "plugins" / "modules" / "kernel_config_facts.py"


def timed(fn, repeat, clock=time.perf_counter):
    samples = []
    for _sample in range(repeat):
        start = clock()
        fn()
        samples.append((clock() - start) * 1000.0)
    return statistics.median(samples), min(samples)


def parse_and_evaluate(path, root, release):
    def run():
        config = kc.read_config(path)
        evidence = kc.gather_evidence(root, release)
        kc.module_states(config, req.module_pairs(config.header_version), evidence)
        kc.read_xtables(root)
    return run


INSTALLED_TARGET_MS = 150.0
HUGE_TARGET_S = 10.0
HUGE_TARGET_MB = 600.0


def installed_root(base, count=5, dep_lines=5000):
    """A node with ``count`` installed kernels: the largest fixture config each, modules.dep of ``dep_lines`` lines
    (a Debian kernel has ~4,000-6,000) with the files on disk, one kernel whose -extra modules are missing (its
    module states need the disk scan), GRUB files naming the next boot."""
    text = kr.largest_fixture().read_text()
    pairs = req.module_pairs(kc.header_version(text))
    releases = ["6.1.0-%d-amd64" % (30 - i) for i in range(count)]
    kernels = [kr.Kernel(rel, text, extra=(i != 1)) for i, rel in enumerate(releases)]
    root = kr.build_installed_root(base, kernels, running=releases[-1], pairs=pairs)
    for rel in releases:
        mdir = root / "lib/modules" / rel
        filler = ["kernel/drivers/bench/mod%05d.ko.xz" % i for i in range(dep_lines)]
        with open(mdir / "modules.dep", "a") as handle:
            handle.write("".join(p + ":\n" for p in filler))
        (mdir / "kernel/drivers/bench").mkdir(parents=True)
        for path in filler:
            (mdir / path).write_bytes(b"")
    kr.write_grub_debian(root, releases, default="0")
    return root, releases


def huge_config(path, target_bytes=60 * 1024 * 1024, distinct=40000):
    """The largest config the module reads: ~60 MB (under the 64 MiB cap), a real config first, then ``distinct``
    more symbols (40,000: under the 50,000 limit, over the 20,000 all_options cap) assigned again and again. With
    ``distinct`` in the millions it is issue 17's 2.2M-option file, which the module refuses as not a config."""
    base = kr.largest_fixture().read_text()
    with open(path, "w") as handle:
        handle.write(base)
        size = len(base)
        i = 0
        while size < target_bytes:
            line = "CONFIG_BENCH_%07d=%s\n" % (i % distinct, "ym"[i % 2])
            handle.write(line)
            size += len(line)
            i += 1
    return path


def run_child(argv, env, expect=b'"kernel_config"'):
    """(wall s, CPU s, peak RSS MB, stdout bytes) of one process, its own rusage (os.wait4), not all children's."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _pid, _status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = 0  # reaped by wait4
        out.seek(0)
        stdout = out.read()
    if expect not in stdout:
        raise SystemExit("module run failed: %s" % stdout[-500:])
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, len(stdout)


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
    parser.add_argument("--no-huge", action="store_true", help="skip the ~60 MB all_options run")
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

        # issue 14: kernels=all, 5 installed kernels
        iroot, releases = installed_root(Path(tmp) / "installed")
        inst_repeat = 3 if opts.quick else 30
        # CPU time of this process: the module's own work, whatever else the machine runs at the same time
        running_ms = timed(lambda: kcf.gather(str(iroot)), inst_repeat, time.process_time)
        all_ms = timed(lambda: kcf.gather(str(iroot), kernels="all"), inst_repeat, time.process_time)
        facts, _err = kcf.gather(str(iroot), kernels="all")
        assert len(facts["installed"]) == len(releases) and facts["next_boot"] == releases[0]
        rows.append(("gather kernels=running (same node), CPU ms", inst_repeat) + running_ms)
        rows.append(("gather kernels=all, %d installed kernels, CPU ms" % len(releases), inst_repeat) + all_ms)
        installed_cost = all_ms[0] - running_ms[0]

        huge = None
        if not opts.no_huge:
            path = huge_config(Path(tmp) / "huge.config")
            args = Path(tmp) / "huge.json"
            args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {"config_path": str(path), "all_options": True}}))
            env = dict(os.environ, PYTHONPATH=str(kntest.COLLECTIONS_ROOT))
            huge = (path.stat().st_size / 1e6,) + run_child([sys.executable, str(MODULE_FILE), str(args)], env)
            path = huge_config(Path(tmp) / "huge.config", distinct=10 ** 7)
            refused = (path.stat().st_size / 1e6,) + run_child([sys.executable, str(MODULE_FILE), str(args)], env,
                                                               expect=b"distinct CONFIG_ symbols")

    width = max(len(r[0]) for r in rows)
    print("%-*s %6s %10s %10s" % (width, "what", "runs", "median ms", "min ms"))
    for name, runs, median, best in rows:
        print("%-*s %6d %10.1f %10.1f" % (width, name, runs, median, best))
    own = rows[1][2] if len(rows) > 1 and "proc" in rows[1][0] else rows[0][2]
    print("\nmodule's own work (parse + evaluation): %.1f ms median (target < 50 ms)" % own)
    print("kernels=all, 5 installed kernels: %.1f ms of module CPU time on top of kernels=running (target < %.0f ms)"
          % (installed_cost, INSTALLED_TARGET_MS))
    if huge:
        print("all_options on a %.1f MB config (module process): %.1f s wall, %.1f s CPU, peak RSS %.0f MB, result "
              "%.2f MB (targets: < %.0f s CPU, < %.0f MB)" % (huge[0], huge[1], huge[2], huge[3], huge[4] / 1e6,
                                                              HUGE_TARGET_S, HUGE_TARGET_MB))
        print("a %.1f MB config of one symbol per line (issue 17's 2.2M options): refused as not a kernel config "
              "in %.1f s wall, %.1f s CPU, peak RSS %.0f MB (before: 53 s, 595 MB)" % refused[:4])
    return 0


if __name__ == "__main__":
    sys.exit(main())
