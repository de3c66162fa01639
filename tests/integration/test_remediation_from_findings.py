# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One decision layer: the remediate playbook in check mode changes exactly what the preflight's findings name.

The node is a throwaway network namespace (real iptables/nft state: Kubernetes' hint chain in the legacy backend
while the host's iptables uses nft, IPv4 forwarding off) with a fixture root for the kernel (alpine-lts, everything
``=m``; some modules loaded, the rest loadable). Every module the kernel_modules role
would load or persist, every sysctl it would set or write, every package netfilter_tools would install and the
iptables alternative it would switch must be the remedy of a finding that the first preflight of the same run
reported, and every such remedy must be planned.
"""
from __future__ import annotations

import json

import pytest

import kntest
from kntest import kernel_roots as kr
from kntest.netns import netns, require_netns

pytestmark = [pytest.mark.root, pytest.mark.netns]

RELEASE = "6.1.0-test-amd64"
NEEDED = ["br_netfilter", "ipt_REJECT", "nf_conntrack", "nf_nat", "nf_tables", "nft_compat", "nft_ct", "nft_nat",
          "x_tables", "xt_addrtype", "xt_comment", "xt_conntrack", "xt_mark", "xt_MASQUERADE", "xt_nat", "xt_recent",
          "xt_REDIRECT", "xt_statistic", "xt_multiport", "vxlan", "bridge", "veth", "ip_tables", "iptable_filter",
          "iptable_nat", "iptable_mangle"]


def ko(name):
    return "kernel/net/netfilter/%s.ko" % name


def tasks_by_name(out):
    tasks = {}
    for play in out["plays"]:
        for task in play["tasks"]:
            result = task["hosts"].get("node")
            if result is not None:
                tasks.setdefault(task["task"]["name"].split(" : ", 1)[-1], []).append(result)
    return tasks


def test_every_planned_change_is_the_remedy_of_a_reported_finding(tmp_path):
    require_netns("iptables-legacy", "iptables-nft", "nft")
    kntest.ensure_collection_link()
    text = kr.derive_config((kr.KERNEL_CONFIGS / "alpine-lts-x86_64.config").read_text(), {})
    root = kr.build_root(tmp_path / "root", RELEASE, text,
                         modules_dep=[ko(m) for m in NEEDED],
                         proc_modules=["nf_conntrack", "x_tables"])
    # the namespace's own netfilter state below the fixture root (the facts read /proc/net under kubenode_host_root)
    (root / "proc/net").symlink_to("/proc/net")
    (root / "etc").mkdir()
    (root / "etc/alternatives").symlink_to("/etc/alternatives")
    with netns("kn-remfind") as ns:
        ns.sh("sysctl -qw net.ipv4.ip_forward=0; iptables-legacy -t mangle -N KUBE-IPTABLES-HINT")
        inventory = tmp_path / "inventory.json"
        inventory.write_text(json.dumps({"all": {"hosts": {"node": {
            "ansible_connection": "local", "ansible_python_interpreter": str(ns.interpreter(tmp_path)),
            "kubenode_host_root": str(root), "kubenode_proxy_mode": "iptables", "kubenode_cni": "flannel",
            "kubenode_kernel_modules_remediate": True, "kubenode_sysctl_remediate": True,
            "kubenode_netfilter_tools_remediate": True, "ansible_become": False}}}}))
        argv = [kntest.ansible_bin("ansible-playbook"), "-i", str(inventory), "kubenode.netfilter.remediate",
                "--check", "--diff"]
        proc, out = kntest.run_ansible_json(argv, kntest.ansible_environment())
    tasks = tasks_by_name(out)
    first = tasks["Evaluate the requirements for the host's mode, distribution and CNI"][0]["ansible_facts"]
    checks = first["__kubenode_preflight_checks"]
    reported = {c["id"] for c in checks if c["severity"] != "ok"}
    remedies = [c["remedy"] for c in checks if c["remedy"]]
    for c in checks:
        if c["remedy"]:
            assert c["remedy"]["flag"].startswith("kubenode_"), c

    def kind(name):
        return [r for r in remedies if r["kind"] == name]

    # the cases this node was built for are reported, each with its remedy
    by_id = {c["id"]: c for c in checks}
    assert by_id["kernel.option_ok.NETFILTER_XT_MATCH_STATISTIC"]["remedy"]["kind"] == "load_module"
    assert by_id["kernel.module_not_autoloaded.br_netfilter"]["remedy"]["kind"] == "load_module"
    # sysctls are read below kubenode_host_root (the fixture root has no proc/sys): unreadable, still a remedy
    assert by_id["sysctl.net.ipv4.ip_forward"]["remedy"] == {
        "kind": "sysctl", "key": "net.ipv4.ip_forward", "value": 1, "current": None, "requires_module": None,
        "flag": "kubenode_sysctl_remediate"}
    assert "netfilter.hint_in_other_backend" in by_id, sorted(reported)
    assert by_id["netfilter.hint_in_other_backend"]["remedy"]["backend"] == "legacy"
    assert "netfilter.hint_in_other_backend" in reported

    # kernel_modules: load now = loadable load_module remedies; persist = every load_module remedy
    plan = tasks["Report the kernel module plan"][0]["msg"]
    assert plan["would_load"] == sorted({r["module"] for r in kind("load_module") if r["now"]}, key=str.lower)
    write = tasks["Write the modules-load.d file this role owns"][0]
    after = write["diff"][0]["after"] if isinstance(write["diff"], list) else write["diff"]["after"]
    persisted = [line for line in after.splitlines() if not line.startswith("#")]
    assert persisted == sorted({r["module"] for r in kind("load_module")}, key=str.lower)
    assert "xt_statistic" in persisted and "br_netfilter" in persisted
    assert set(plan["would_load"]) >= {"br_netfilter", "xt_recent"} and "nf_conntrack" not in plan["would_load"]

    # sysctls: the file holds exactly the sysctl remedies; what would be set now differs from its current value
    sysctl = tasks["Write the sysctl.d file this role owns"][0]
    after = sysctl["diff"][0]["after"] if isinstance(sysctl["diff"], list) else sysctl["diff"]["after"]
    written = dict(line.split(" = ") for line in after.splitlines() if not line.startswith("#"))
    assert written == {r["key"]: str(r["value"]) for r in kind("sysctl")}
    assert "net.ipv4.ip_forward" in written and "net.bridge.bridge-nf-call-iptables" in written

    # netfilter_tools: nothing is missing on this host, so no package; the alternative follows the finding
    tools = tasks["Report the netfilter tools plan"][0]["msg"]
    assert tools["would_install"] == sorted({r["package"] for r in kind("install_tool")
                                             if r["package"] and not r["optional"]})
    alternative = tools["iptables_alternative"]
    assert alternative.startswith("switch") and "netfilter.hint_in_other_backend" in alternative
    # (the switch itself then stops: update-alternatives would change this machine, not the fixture root)
    assert tasks["Stop if the alternatives would be switched in another root"][0]["failed"]

    # and nothing else: check mode wrote nothing below the root
    assert not (root / "etc/modules-load.d").exists() and not (root / "etc/sysctl.d").exists()
    assert proc.returncode == 2
