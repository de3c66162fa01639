"""The preflight playbook, run for real with ansible-playbook against throwaway network namespaces.

Each host of the inventory is one namespace in a state from the netfilter facts issue (real iptables-legacy,
iptables-nft and nft state); Ansible runs the modules inside it through an interpreter wrapper
(``ip netns exec NAME /usr/bin/python3``). The kernel is this machine's own (everything built in). What is asserted:
the finding ids each host gets, which hosts the play fails, that check mode gives the same verdicts, and that the
fleet report (JSON, JUnit XML, HTML) lists every host.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from contextlib import ExitStack

import pytest

import kntest
from kntest.netns import netns, require_netns

from ansible_collections.kubenode.netfilter.plugins.module_utils import _report

pytestmark = [pytest.mark.root, pytest.mark.netns]

FORWARD = "sysctl -qw net.ipv4.ip_forward=1"

# host -> (shell set-up inside its namespace, extra host vars, error ids that must be reported, ids that must not)
STATES = {
    "clean-iptables": (FORWARD, {"kubenode_proxy_mode": "iptables"}, [], ["netfilter.mixed_backends"]),
    "clean-nftables": (FORWARD, {"kubenode_proxy_mode": "nftables"}, [], ["tool.missing.nft"]),
    "mixed": (
        FORWARD + "; iptables-legacy -A INPUT -s 10.0.0.1 -j ACCEPT; iptables-nft -A INPUT -s 10.0.0.2 -j ACCEPT",
        {"kubenode_proxy_mode": "iptables"}, ["netfilter.mixed_backends"], []),
    "hint-in-legacy": (
        FORWARD + "; iptables-legacy -t mangle -N KUBE-IPTABLES-HINT",
        {"kubenode_proxy_mode": "iptables"}, ["netfilter.hint_in_other_backend"], []),
    "netbird-rule": (
        FORWARD + "; iptables-nft -A FORWARD -s 10.0.0.1 -j ACCEPT;"
        " nft add rule ip filter FORWARD ct state established accept",
        {"kubenode_proxy_mode": "iptables", "kubenode_distribution": "k3s"},
        ["netfilter.iptables_nft_unreadable"], []),
    "no-forwarding": ("true", {"kubenode_proxy_mode": "iptables"}, ["sysctl.net.ipv4.ip_forward"], []),
}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    require_netns("iptables-legacy", "iptables-nft", "nft")
    tmp = tmp_path_factory.mktemp("preflight")
    with ExitStack() as stack:
        hosts = {}
        for name, (setup, hostvars, _errors, _absent) in STATES.items():
            ns = stack.enter_context(netns("kn-pf"))
            ns.sh(setup)
            hosts[name] = dict(hostvars, ansible_connection="local",
                               ansible_python_interpreter=str(ns.interpreter(tmp)))
        inventory = tmp / "inventory.json"
        inventory.write_text(json.dumps({"all": {"hosts": hosts}}))
        yield tmp, inventory


def run_preflight(fleet, ansible_env, *extra):
    tmp, inventory = fleet
    report_dir = tmp / ("report" + "".join(e.strip("-") for e in extra))
    proc, result = kntest.run_ansible_json(
        [kntest.ansible_bin("ansible-playbook"), "-i", str(inventory), "kubenode.netfilter.preflight",
         "-e", "kubenode_preflight_report_dir=%s" % report_dir, *extra], ansible_env)
    # schema 2 holds each distinct result once; expand() gives per host the list of check dicts (schema 1 view)
    report = _report.expand(json.loads((report_dir / "kubenode-preflight.json").read_text()))
    return proc, result, report, report_dir


@pytest.fixture(scope="module")
def real_run(fleet, ansible_env):
    return run_preflight(fleet, ansible_env)


def _ids(report, host, severity=None):
    """Ids of the host's findings of `severity` (None: every finding, i.e. every check that did not pass)."""
    checks = report["hosts"][host]["checks"]
    if severity is None:
        return [c["id"] for c in checks if c["severity"] != "ok"]
    return [c["id"] for c in checks if c["severity"] == severity]


@pytest.mark.parametrize("host", sorted(STATES))
def test_findings_per_state(real_run, host):
    _proc, _result, report, _dir = real_run
    _setup, _vars, errors, absent = STATES[host]
    got_errors = _ids(report, host, "error")
    assert sorted(got_errors) == sorted(errors), report["hosts"][host]["checks"]
    for finding in absent:
        assert finding not in _ids(report, host), finding


def test_play_fails_exactly_the_hosts_with_errors(real_run):
    proc, result, _report, _dir = real_run
    failed = sorted(h for h, s in result["stats"].items() if s["failures"])
    assert failed == sorted(h for h, state in STATES.items() if state[2])
    assert proc.returncode == 2
    assert all(s["changed"] == 0 for s in result["stats"].values())


def test_check_mode_gives_the_same_verdicts(fleet, ansible_env, real_run):
    _proc, _result, report, _dir = real_run
    proc, result, check_report, _check_dir = run_preflight(fleet, ansible_env, "--check")
    assert proc.returncode == 2
    for host in STATES:
        assert _ids(check_report, host, "error") == _ids(report, host, "error")
    assert all(s["changed"] == 0 for s in result["stats"].values())


def test_fleet_report_lists_every_host(real_run):
    _proc, _result, report, report_dir = real_run
    assert sorted(report["hosts"]) == sorted(STATES)
    suites = ET.parse(str(report_dir / "kubenode-preflight.junit.xml")).getroot()
    text = ET.tostring(suites, encoding="unicode")
    html = (report_dir / "kubenode-preflight.html").read_text()
    for host in STATES:
        assert host in text
        assert host in html


@pytest.mark.parametrize("fail_on", ["never", "warning"])
def test_fail_on_threshold(fleet, ansible_env, fail_on):
    proc, result, report, _dir = run_preflight(fleet, ansible_env, "-e", "kubenode_preflight_fail_on=" + fail_on)
    failed = sorted(h for h, s in result["stats"].items() if s["failures"])
    if fail_on == "never":
        assert failed == [] and proc.returncode == 0
    else:
        blocking = sorted(h for h in STATES if _ids(report, h, "error") or _ids(report, h, "warning"))
        assert failed == blocking
        assert set(failed) >= {h for h, state in STATES.items() if state[2]}
