# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Diff and merge on real reports: the preflight playbook run twice against network namespaces whose state changed.

Run 1 on three namespaces; then one namespace gets rules in both iptables backends (a new error), one gets IP
forwarding (its error fixed), one stays. Run 2 gets run 1's JSON as kubenode_preflight_previous_report and must mark
exactly those changes. Run 2 is also made as two "job slices" (--limit), merged with the fleet_report_merge playbook:
the merge holds the same results as the unsliced run; merging run 1 and run 2 keeps the newer result per host.
"""
from __future__ import annotations

import json
from contextlib import ExitStack

import pytest

import kntest
from kntest.netns import netns, require_netns

from ansible_collections.kubenode.netfilter.plugins.module_utils import _report

pytestmark = [pytest.mark.root, pytest.mark.netns]

FORWARD = "sysctl -qw net.ipv4.ip_forward=1"
MIXED = "iptables-legacy -A INPUT -s 10.0.0.1 -j ACCEPT; iptables-nft -A INPUT -s 10.0.0.2 -j ACCEPT"
# host -> (state for run 1, change before run 2)
HOSTS = {
    "stays": (FORWARD, "true"),
    "breaks": (FORWARD, MIXED),
    "heals": ("sysctl -qw net.ipv4.ip_forward=0", FORWARD),
}


def _run(tmp, inventory, env, report_dir, *extra):
    proc, result = kntest.run_ansible_json(
        [kntest.ansible_bin("ansible-playbook"), "-i", str(inventory), "kubenode.netfilter.preflight",
         "-e", "kubenode_preflight_report_dir=%s" % report_dir, "-e", "kubenode_preflight_fail_on=never", *extra], env)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return json.loads((report_dir / "kubenode-preflight.json").read_text())


def _errors(data, host):
    return sorted({data["findings"][i]["id"] for i in data["hosts"][host]["checks"]
                   if data["findings"][i]["severity"] == "error"})


def _results(data):
    """host -> sorted (id, severity, message) of its checks: what a report says, whatever its times."""
    return {name: sorted((data["findings"][i]["id"], data["findings"][i]["severity"], data["findings"][i]["message"])
                         for i in host["checks"]) for name, host in data["hosts"].items()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, ansible_env):
    require_netns("iptables-legacy", "iptables-nft", "nft")
    tmp = tmp_path_factory.mktemp("report-diff")
    with ExitStack() as stack:
        spaces, hosts = {}, {}
        for name, (setup, _change) in HOSTS.items():
            ns = spaces[name] = stack.enter_context(netns("kn-report"))
            ns.sh(setup)
            hosts[name] = {"kubenode_proxy_mode": "iptables", "ansible_connection": "local",
                           "ansible_python_interpreter": str(ns.interpreter(tmp))}
        inventory = tmp / "inventory.json"
        inventory.write_text(json.dumps({"all": {"hosts": hosts}}))
        first = _run(tmp, inventory, ansible_env, tmp / "run1")
        for name, (_setup, change) in HOSTS.items():
            spaces[name].sh(change)
        previous = tmp / "run1" / "kubenode-preflight.json"
        second = _run(tmp, inventory, ansible_env, tmp / "run2",
                      "-e", "kubenode_preflight_previous_report=%s" % previous)
        slice_a = _run(tmp, inventory, ansible_env, tmp / "slice-a", "--limit", "breaks")
        slice_b = _run(tmp, inventory, ansible_env, tmp / "slice-b", "--limit", "stays,heals")
        yield {"tmp": tmp, "first": first, "second": second, "slices": (slice_a, slice_b)}


def test_the_states_really_changed(runs):
    first, second = runs["first"], runs["second"]
    assert _errors(first, "breaks") == [] and _errors(second, "breaks") == ["netfilter.mixed_backends"]
    assert _errors(first, "heals") == ["sysctl.net.ipv4.ip_forward"] and _errors(second, "heals") == []
    assert _errors(first, "stays") == _errors(second, "stays") == []
    for name in HOSTS:  # what each host was judged against: the role's profile fact, or the variables it ran with
        assert second["hosts"][name]["profile"]["proxy_mode"] == "iptables", second["hosts"][name]["profile"]


def test_diff_marks_new_errors_and_fixed(runs):
    diff = runs["second"]["diff"]
    assert diff["previous_generated_at"] == runs["first"]["generated_at"]
    assert diff["hosts"]["breaks"]["new_errors"] == ["netfilter.mixed_backends"]
    assert diff["hosts"]["breaks"]["change"] == "new_error"
    assert diff["hosts"]["heals"]["fixed"] == ["sysctl.net.ipv4.ip_forward"]
    assert diff["hosts"]["heals"]["change"] == "fixed"
    assert "stays" not in diff["hosts"]
    assert (diff["new_errors"], diff["fixed"]) == (1, 1)


def test_diff_marks_in_the_html(runs):
    html = (runs["tmp"] / "run2" / "kubenode-preflight.html").read_text()
    marker = '<script type="application/json" id="fleet-data">'
    start = html.index(marker) + len(marker)
    data = json.loads(html[start:html.index("</script>", start)])
    hosts = {h["n"]: h for h in data["hosts"]}
    assert hosts["breaks"]["d"] == [[data["columns"].index("netfilter.mixed_backends"), "n"]]
    assert hosts["heals"]["d"] == [[data["columns"].index("sysctl.net.ipv4.ip_forward"), "f"]]
    assert "d" not in hosts["stays"]


def test_merge_of_slices_equals_the_unsliced_run(runs, ansible_env):
    tmp = runs["tmp"]
    out = tmp / "merged"
    proc, result = kntest.run_ansible_json(
        [kntest.ansible_bin("ansible-playbook"), "kubenode.netfilter.fleet_report_merge",
         "-e", json.dumps({"kubenode_fleet_report_merge": [str(tmp / "slice-*" / "kubenode-preflight.json")],
                           "kubenode_fleet_report_merge_dir": str(out)})], ansible_env)
    assert proc.returncode == 0, proc.stdout[-3000:]
    merged = json.loads((out / "kubenode-preflight.json").read_text())
    assert _results(merged) == _results(runs["second"])
    slice_a, slice_b = runs["slices"]
    assert merged["hosts"]["breaks"]["checked_at"] == slice_a["hosts"]["breaks"]["checked_at"]
    assert merged["hosts"]["heals"]["checked_at"] == slice_b["hosts"]["heals"]["checked_at"]
    assert (out / "kubenode-preflight.junit.xml").is_file() and (out / "kubenode-preflight.html").is_file()
    assert all(s["changed"] == 0 for s in result["stats"].values())


def test_merge_of_two_runs_keeps_the_newer_result(runs):
    first, second = runs["first"], runs["second"]
    for order in ((first, second), (second, first)):
        merged = _report.merge(list(order))
        assert _results(merged) == _results(second)
        assert merged["generated_at"] == second["generated_at"]


def test_merge_filter_reads_the_files_text(runs):
    texts = [(runs["tmp"] / d / "kubenode-preflight.json").read_text() for d in ("slice-a", "slice-b")]
    assert _results(_report.merge(texts)) == _results(runs["second"])
