# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark the fleet report step over N synthetic hosts built from real checks (issue 18).

Usage: bench/bench_fleet_report.py [--quick] [--sizes 100,1000,3000,10000] [--playbook-sizes 100,1000,3000]
                                    [--keep DIR]

The checks are real: node_findings on the real kernel_config_facts of a fixture kernel config (tests/kntest/facts.py)
for iptables mode (30 checks) and ipvs mode (its errors). Each synthetic host gets them with realistic variation: one
of four kernel releases in the messages, 10 % of hosts with one or two real ipvs errors, 5 % with a warning whose
message is unique to the host (a count), 1 % unreachable, 0.5 % failed, and a node profile.

Two measurements, each size in a fresh process (peak RSS is the process's own ``ru_maxrss``):

- ``report step``: what the kubenode.netfilter.fleet_report action does after reading hostvars: normalize, render
  JSON, JUnit XML and HTML from the one object, write the three files. Peak RSS includes the input (which lives in
  the controller anyway); "input" is the RSS before the step.
- ``playbook`` (``--playbook-sizes``): ansible-playbook with N inventory hosts carrying the checks as host variables,
  running the preflight role's report.yml (the real task): the task's own duration from the json callback, the whole
  run's wall time, and the controller's peak RSS (largest process of the run).

Targets at 3,000 hosts: < 10 s, < 300 MB, HTML < 5 MB; 10,000 hosts < 40 s. Prints a table and the growth ratio
per host between sizes (linear: about 1). No pass/fail.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
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

RELEASES = ("6.1.0-18-amd64", "6.1.0-21-amd64", "6.1.0-25-amd64", "6.12.9-amd64")
FAKE_RELEASE = "6.1.0-test-amd64"


def real_checks(workdir: Path):
    """(iptables checks with passed ones, ipvs errors) from node_findings on real facts of a fixture kernel."""
    from kntest import facts as F
    from ansible_collections.kubenode.netfilter.plugins.filter.node_findings import node_findings
    kernel = F.kernel_facts(workdir, "talos-amd64.config", release=FAKE_RELEASE)
    host = F.host(kernel, F.netfilter_facts())
    base = node_findings(host, proxy_mode="iptables", distribution="k3s", cni="flannel", include_passed=True)
    ipvs = node_findings(host, proxy_mode="ipvs", distribution="k3s", cni="flannel", include_passed=True)
    errors = [c for c in ipvs if c["severity"] == "error"]
    root = str(workdir)

    def clean(checks):
        out = []
        for c in checks:
            c = dict(c)
            for key in ("message", "fix"):
                if c.get(key):
                    c[key] = c[key].replace(root, "").replace("/root0", "")
            out.append(c)
        return out
    return clean(base), clean(errors)


def synthetic_hosts(n: int, base, errors):
    """N hosts as the action reads them from hostvars: status, error, checks, profile (shared real dicts)."""
    variants = []
    for release in RELEASES:
        variants.append([dict(c, message=c["message"].replace(FAKE_RELEASE, release)) for c in base])
    profile = {"proxy_mode": "iptables", "proxy_mode_source": "variable kubenode_proxy_mode", "distribution": "k3s",
               "distribution_source": "/usr/local/bin/k3s", "cni": "flannel", "cni_source": "default",
               "ipv6": False, "ipv6_source": "default", "assumed": ["cni", "ipv6"]}
    hosts = {}
    for i in range(n):
        name = "node-%05d.dc%d.example.net" % (i, i % 3)
        if i % 100 == 7:
            hosts[name] = {"status": "unreachable", "error": "Failed to connect to the host via ssh: timed out",
                           "checks": [], "profile": None}
            continue
        if i % 200 == 13:
            hosts[name] = {"status": "failed", "error": "kernel_config_facts: /proc/config.gz: Permission denied",
                           "checks": [], "profile": None}
            continue
        checks = list(variants[i % len(RELEASES)])
        if i % 10 == 3:
            checks.extend(errors[(i // 10) % len(errors):(i // 10) % len(errors) + 1 + i % 2])
        if i % 20 == 5:
            warn = dict(checks[0], severity="warning",
                        message=checks[0]["message"] + " (on this host: %d rules in the other backend)" % i)
            checks[0] = warn
        hosts[name] = {"status": "ok", "error": None, "checks": checks, "profile": profile}
    return hosts


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def one_step(n: int, out_dir: Path, repeat: int = 3) -> dict:
    """Child process: build the input, then time the report step (best of ``repeat``); print one JSON line."""
    from ansible_collections.kubenode.netfilter.plugins.action.fleet_report import FILES, _write
    from ansible_collections.kubenode.netfilter.plugins.module_utils import _report
    work = Path(tempfile.mkdtemp(prefix="facts-", dir=str(out_dir)))
    base, errors = real_checks(work)
    report = {"generated_at": "2026-03-01T10:00:00Z", "collection_version": "0.1.0", "proxy_mode": "iptables",
              "distribution": "k3s", "cni": "flannel", "hosts": synthetic_hosts(n, base, errors)}
    input_mb = _rss_mb()
    best = None
    for _run in range(repeat):
        cpu = time.process_time()
        start = time.perf_counter()
        data = _report.normalize(report)
        t_norm = time.perf_counter()
        texts = {"json": _report.to_json(data), "junit": _report.to_junit(data), "html": _report.to_html(data)}
        t_render = time.perf_counter()
        sizes = {}
        for kind, name in FILES.items():
            path = str(out_dir / name)
            _write(path, texts[kind])
            sizes[kind] = os.path.getsize(path)
        end = time.perf_counter()
        run = {"seconds": end - start, "normalize": t_norm - start, "render": t_render - t_norm,
               "cpu": time.process_time() - cpu}
        if best is None or run["seconds"] < best["seconds"]:
            best = run
        del data, texts
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    return dict(best, n=n, checks=sum(len(h["checks"]) for h in report["hosts"].values()),
                distinct=len(report_distinct(report)), input_mb=input_mb, peak_mb=peak, sizes=sizes)


def report_distinct(report):
    from ansible_collections.kubenode.netfilter.plugins.module_utils import _report
    return _report.normalize(report)["findings"]


PLAY = """
- name: The preflight role's report task over N hosts
  hosts: all
  gather_facts: false
  tasks:
    - name: Fleet report
      ansible.builtin.import_role:
        name: kubenode.netfilter.preflight
        tasks_from: report.yml
      vars:
        kubenode_preflight_report_dir: "{{ report_dir }}"
"""

BASELINE = """
- name: The same inventory, a run_once task that does nothing (what Ansible itself costs)
  hosts: all
  gather_facts: false
  tasks:
    - name: Nothing
      ansible.builtin.debug:
        msg: baseline
      run_once: true
"""


def one_playbook(n: int, out_dir: Path) -> dict:
    """Child process: an inventory of N hosts with their checks as host variables, then the real report task."""
    work = Path(tempfile.mkdtemp(prefix="facts-", dir=str(out_dir)))
    base, errors = real_checks(work)
    hosts = synthetic_hosts(n, base, errors)
    inventory = {"all": {"vars": {"ansible_connection": "local",
                                  "ansible_python_interpreter": sys.executable},
                         "hosts": {}}}
    for name, host in hosts.items():
        entry = {"__kubenode_profile": host["profile"]} if host["profile"] else {}
        if host["checks"]:
            entry["__kubenode_preflight_checks"] = host["checks"]
        inventory["all"]["hosts"][name] = entry
    inv = out_dir / "inventory.json"
    inv.write_text(json.dumps(inventory))
    base_wall, _x, base_peak = _playbook(out_dir, inv, BASELINE)
    wall, seconds, peak = _playbook(out_dir, inv, PLAY)
    sizes = {kind: os.path.getsize(out_dir / name) for kind, name in
             (("json", "kubenode-preflight.json"), ("junit", "kubenode-preflight.junit.xml"),
              ("html", "kubenode-preflight.html"))}
    return {"n": n, "seconds": seconds, "wall": wall, "peak_mb": peak, "sizes": sizes, "base_wall": base_wall,
            "base_peak_mb": base_peak}


def _playbook(out_dir: Path, inv: Path, text: str):
    """(wall s, the last task's own s, peak RSS MB of the run's largest process), each run in its own child."""
    play = out_dir / "play.yml"
    play.write_text(text)
    env = dict(kntest.ansible_environment(), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_FORKS="5")
    argv = [kntest.ansible_bin("ansible-playbook"), "-i", str(inv), str(play), "-e", "report_dir=%s" % out_dir]
    code = ("import json, resource, subprocess, sys, time; start = time.perf_counter(); "
            "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
            "print(json.dumps({'rc': p.returncode, 'out': p.stdout, 'err': p.stderr[-3000:], "
            "'wall': time.perf_counter() - start, "
            "'peak': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e3}))")
    wrapper = subprocess.run([sys.executable, "-c", code] + argv, env=env, capture_output=True, text=True, check=True)
    run = json.loads(wrapper.stdout)
    if run["rc"] != 0:
        raise SystemExit("ansible-playbook exited %d\n%s\n%s" % (run["rc"], run["out"][-3000:], run["err"]))
    task = json.loads(run["out"])["plays"][0]["tasks"][-1]["task"]["duration"]
    from datetime import datetime
    seconds = (datetime.fromisoformat(task["end"].replace("Z", "+00:00"))
               - datetime.fromisoformat(task["start"].replace("Z", "+00:00"))).total_seconds()
    return run["wall"], seconds, run["peak"]


def run_child(kind: str, n: int, keep: Path) -> dict:
    out = keep / ("%s-%d" % (kind, n))
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, __file__, "--child", kind, "--n", str(n), "--out", str(out)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit("%s N=%d failed:\n%s\n%s" % (kind, n, proc.stdout[-3000:], proc.stderr[-3000:]))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _mb(n: int) -> str:
    return "%.2f" % (n / 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes 100 and 300 only, no playbook (smoke run)")
    parser.add_argument("--sizes", default="100,1000,3000,10000")
    parser.add_argument("--playbook-sizes", default="", help="e.g. 100,1000,3000 (real ansible-playbook runs)")
    parser.add_argument("--keep", default="", help="keep the reports under this directory")
    parser.add_argument("--child", choices=["step", "playbook"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        fn = one_step if args.child == "step" else one_playbook
        print(json.dumps(fn(args.n, Path(args.out))))
        return
    sizes = [100, 300] if args.quick else [int(s) for s in args.sizes.split(",") if s]
    pb_sizes = [] if args.quick else [int(s) for s in args.playbook_sizes.split(",") if s]
    keep = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="kn-bench-fleet-"))
    try:
        print("report step (normalize + JSON + JUnit + HTML + write), one process per size")
        print("(best of 3 runs per size; cpu s = the process's CPU time, steadier than wall time on a busy machine)")
        print("%7s %8s %8s %8s %7s %9s %8s %9s %9s %8s %8s %8s %10s" % (
            "hosts", "checks", "distinct", "total s", "cpu s", "normalize", "render", "input MB", "peak MB",
            "json MB", "junit MB", "html MB", "us/check"))
        rows = []
        for n in sizes:
            r = run_child("step", n, keep)
            rows.append(r)
            print("%7d %8d %8d %8.2f %7.2f %9.2f %8.2f %9.0f %9.0f %8s %8s %8s %10.2f" % (
                n, r["checks"], r["distinct"], r["seconds"], r["cpu"], r["normalize"], r["render"], r["input_mb"],
                r["peak_mb"], _mb(r["sizes"]["json"]), _mb(r["sizes"]["junit"]), _mb(r["sizes"]["html"]),
                r["seconds"] / max(r["checks"], 1) * 1e6))
            sys.stdout.flush()
        for a, b in zip(rows, rows[1:]):
            print("growth %d -> %d hosts: checks x%.2f, time x%.2f (per check x%.2f), cpu per check x%.2f, "
                  "html x%.2f" % (a["n"], b["n"], b["checks"] / a["checks"], b["seconds"] / a["seconds"],
                                  (b["seconds"] / b["checks"]) / (a["seconds"] / a["checks"]),
                                  (b["cpu"] / b["checks"]) / (a["cpu"] / a["checks"]),
                                  b["sizes"]["html"] / a["sizes"]["html"]))
        if pb_sizes:
            print("\nplaybook: ansible-playbook running roles/preflight/tasks/report.yml over N inventory hosts")
            print("(baseline: the same inventory with a run_once debug task instead: what Ansible itself costs)")
            print("%7s %10s %9s %9s %12s %15s %8s %8s %8s" % (
                "hosts", "task s", "wall s", "peak MB", "base wall s", "base peak MB", "json MB", "junit MB",
                "html MB"))
            prow = []
            for n in pb_sizes:
                r = run_child("playbook", n, keep)
                prow.append(r)
                print("%7d %10.2f %9.2f %9.0f %12.2f %15.0f %8s %8s %8s" % (
                    n, r["seconds"], r["wall"], r["peak_mb"], r["base_wall"], r["base_peak_mb"],
                    _mb(r["sizes"]["json"]), _mb(r["sizes"]["junit"]), _mb(r["sizes"]["html"])))
                sys.stdout.flush()
            for a, b in zip(prow, prow[1:]):
                print("growth %d -> %d hosts: task time x%.2f for hosts x%.2f" % (
                    a["n"], b["n"], b["seconds"] / a["seconds"], b["n"] / a["n"]))
    finally:
        if not args.keep:
            shutil.rmtree(keep, ignore_errors=True)


if __name__ == "__main__":
    main()
