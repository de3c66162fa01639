# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Privilege escalation of the playbooks, run for real: the managed node escalates by default, with ``-b`` and with
AWX's ``ansible_become=true``; ``ansible_become=false`` turns it off; tasks that run on the controller never become.

The managed node is a throwaway network namespace holding a Netbird-like rule that only root can see through
iptables-nft. Its interpreter wrapper runs Python as uid 65534 unless the become method said ``KN_BECAME=1``; the
become method is the test STAND-IN ``tests/fixtures/become_plugins/failing_on_controller.py`` (ANSIBLE_BECOME_PLUGINS):
it escalates only on the host with ``kn_become_allowed: true`` and fails any task that uses become on the controller.
``ANSIBLE_BECOME_ALLOW_SAME_USER`` makes Ansible use it although this test runs as root (Ansible skips become when the
become user is the connection user).
"""
from __future__ import annotations

import json

import pytest

import kntest
from kntest import k8s_standin as standin
from kntest.netns import netns, require_netns

pytestmark = [pytest.mark.root, pytest.mark.netns]

BECOME_PLUGINS = kntest.FIXTURES / "become_plugins"
NETBIRD = ["sysctl -qw net.ipv4.ip_forward=1", "iptables-nft -A FORWARD -s 10.0.0.1 -j ACCEPT",
           "nft add rule ip filter FORWARD ct state established accept"]
UNREADABLE = "netfilter.iptables_nft_unreadable"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    require_netns("iptables-nft", "nft", "setpriv")
    tmp = tmp_path_factory.mktemp("privilege")
    with netns("kn-prod") as ns:
        for cmd in NETBIRD:
            ns.sh(cmd)
        wrapper = tmp / "python-node"
        wrapper.write_text(
            "#!/bin/sh\n"
            "# root only when the stand-in become method escalated, uid 65534 otherwise\n"
            'if [ "${KN_BECAME:-}" = 1 ]; then exec ip netns exec %s /usr/bin/python3 "$@"; fi\n'
            'exec ip netns exec %s setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 "$@"\n'
            % (ns.name, ns.name))
        wrapper.chmod(0o755)
        yield tmp, wrapper


def run(node, name, playbook, *extra):
    """Run a playbook by FQCN on the node; return (rc, json output, escalations logged, report or None)."""
    tmp, wrapper = node
    log = tmp / ("become-%s.log" % name)
    report_dir = tmp / ("report-%s" % name)
    inventory = tmp / ("inventory-%s.json" % name)
    inventory.write_text(json.dumps({"all": {"hosts": {"node": {
        "ansible_connection": "local", "ansible_python_interpreter": str(wrapper),
        "kn_become_allowed": True, "kn_become_log": str(log)}}}}))
    env = dict(kntest.ansible_environment(), ANSIBLE_BECOME_PLUGINS=str(BECOME_PLUGINS),
               ANSIBLE_BECOME_ALLOW_SAME_USER="1", ANSIBLE_PIPELINING="1")
    argv = [kntest.ansible_bin("ansible-playbook"), "-i", str(inventory), "--become-method", "failing_on_controller",
            "-e", "kubenode_preflight_report_dir=%s" % report_dir, playbook, *extra]
    proc, out = kntest.run_ansible_json(argv, env)
    escalations = len(log.read_text().splitlines()) if log.exists() else 0
    report_file = report_dir / "kubenode-preflight.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else None
    return proc.returncode, out, escalations, report


def failures(out):
    """{task name: [msg]} of every failed (not rescued) host result, to show in assertion messages."""
    found = {}
    for play in out["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if result.get("failed") and not result.get("rescued"):
                    found.setdefault(task["task"]["name"], []).append("%s: %s" % (host, result.get("msg")))
    return found


def error_ids(out):
    """The node's error findings, from the preflight's kubenode_findings fact (the last preflight of the run)."""
    found = None
    for play in out["plays"]:
        for task in play["tasks"]:
            facts = task["hosts"].get("node", {}).get("ansible_facts", {})
            if "kubenode_findings" in facts:
                found = [f["id"] for f in facts["kubenode_findings"] if f["severity"] == "error"]
    assert found is not None, "no kubenode_findings fact in the output"
    return found


@pytest.mark.parametrize("extra", [
    pytest.param([], id="default"),
    pytest.param(["-b"], id="dash-b"),
    pytest.param(["-e", "ansible_become=true"], id="awx-extra-var"),
    pytest.param(["-e", '{"ansible_become": "True"}'], id="awx-extra-var-string"),
])
def test_preflight_escalates_on_the_node_and_not_on_the_controller(node, extra):
    rc, out, escalations, report = run(node, "pf-%d" % len(" ".join(extra)), "kubenode.netfilter.preflight",
                                       "-e", "kubenode_preflight_fail_on=never", *extra)
    assert rc == 0, failures(out)
    assert escalations >= 2  # kernel_config_facts and netfilter_backend_facts at least
    # root sees the foreign rule in iptables-nft's table; the report was written on the controller without become
    assert UNREADABLE in error_ids(out)
    assert report is not None and report["hosts"]


def test_preflight_without_escalation(node):
    rc, out, escalations, report = run(node, "pf-nobecome", "kubenode.netfilter.preflight",
                                       "-e", "kubenode_preflight_fail_on=never", "-e", "ansible_become=false")
    assert rc == 0, failures(out)
    assert escalations == 0
    # uid 65534 cannot read the rules: whatever the findings say about that (the preflight role's business),
    # they must not claim to have read them
    assert UNREADABLE not in error_ids(out)


def test_preflight_without_privilege_fails_the_node_with_the_privilege_finding(node):
    """Issue 16: the same namespace as uid 65534 must not pass: the rules could not be read, which is an error
    whose fix is privilege escalation (the default fail_on: error)."""
    rc, out, escalations, _report = run(node, "pf-nobecome-fail", "kubenode.netfilter.preflight",
                                        "-e", "ansible_become=false")
    assert escalations == 0 and rc == 2
    assert "netfilter.unreadable" in error_ids(out)
    findings = None
    for play in out["plays"]:
        for task in play["tasks"]:
            facts = task["hosts"].get("node", {}).get("ansible_facts", {})
            if "kubenode_findings" in facts:
                findings = {f["id"]: f for f in facts["kubenode_findings"]}
    unreadable = findings["netfilter.unreadable"]
    assert "permission" in unreadable["message"] and "privilege escalation" in unreadable["fix"]
    assert "ansible-playbook -b" in unreadable["fix"]


def test_cluster_check_runs_on_the_controller_without_become(node, tmp_path):
    """The kube-router check of the preflight talks to the API from the controller: with -b it must not become."""
    with standin.StandIn(lifetime=300) as server:
        server.add(standin.daemonset("k0s-bad"))
        kubeconfig = server.kubeconfig(tmp_path / "kubeconfig")
        rc, out, escalations, _report = run(
            node, "pf-cluster", "kubenode.netfilter.preflight", "-b", "-e", "kubenode_preflight_fail_on=never",
            "-e", "kubenode_cni=kube-router", "-e", "kubenode_preflight_check_cluster=true",
            "-e", "kubenode_kube_router_kubeconfig=%s" % kubeconfig)
    found = failures(out)
    assert not [m for ms in found.values() for m in ms if "failing_on_controller" in m], found
    assert escalations >= 2
    # the API was read, on the controller, without become (the stand-in would have failed the task)
    reads = [t["hosts"]["node"] for p in out["plays"] for t in p["tasks"]
             if "Read the kube-router DaemonSet" in t["task"]["name"] and "node" in t["hosts"]]
    assert reads and not reads[0].get("failed") and not reads[0].get("skipped"), reads
    assert [r["metadata"]["name"] for r in reads[0]["resources"]] == ["kube-router"]


def test_remediate_escalates_on_the_node(node):
    rc, out, escalations, _report = run(node, "rem", "kubenode.netfilter.remediate", "--check",
                                        "-e", "kubenode_preflight_fail_on=never")
    assert rc == 0, failures(out)
    assert escalations >= 4  # two preflights and the remediation roles' facts
