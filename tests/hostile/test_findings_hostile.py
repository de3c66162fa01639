# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile input to the decision layer's filters (issue 17): wrong-typed facts raise an AnsibleFilterError naming the
key, never a traceback; random JSON shapes (hypothesis) give a list of findings or that error, nothing else."""
from __future__ import annotations

import copy

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kntest import facts as kf

from ansible_collections.kubenode.netfilter.plugins.filter.kernel_modules_plan import kernel_modules_plan
from ansible_collections.kubenode.netfilter.plugins.filter.netfilter_tools_plan import netfilter_tools_plan
from ansible_collections.kubenode.netfilter.plugins.filter.node_findings import node_findings
from ansible_collections.kubenode.netfilter.plugins.filter.node_profile import node_profile

KERNEL = {"found": True, "version": "6.1.0", "release": "6.1.0-18-amd64", "modules_enabled": True,
          "options": {"NETFILTER_XT_MATCH_STATISTIC": "y", "NF_TABLES": "y"}, "modules": {},
          "xtables": {"available": True, "ipv4": {"matches": ["statistic"], "targets": []}}, "searched": []}


def host():
    return {"kernel_config": copy.deepcopy(KERNEL), "netfilter": kf.netfilter_facts()}


def put(facts, path, value):
    cur = facts
    for key in path[:-1]:
        cur = cur[key]
    cur[path[-1]] = value
    return facts


@pytest.mark.parametrize("path, value, named", [
    (("kernel_config", "version"), 6, "['kernel_config']['version']"),
    (("kernel_config", "options", "NF_TABLES"), ["y"], "['options']['NF_TABLES']"),
    (("kernel_config", "xtables", "ipv4", "matches"), 1, "['xtables']['ipv4']['matches']"),
    (("kernel_config", "modules"), ["xt_statistic"], "['kernel_config']['modules']"),
    (("netfilter", "errors"), 1, "['netfilter']['errors']"),
    (("netfilter", "kube_chains", "KUBE-IPTABLES-HINT"), 1, "['kube_chains']['KUBE-IPTABLES-HINT']"),
    (("netfilter", "nft_tables"), [{"family": "inet", "name": "fw", "owner": "foreign", "hooks": 1}], "['hooks']"),
    (("netfilter", "iptables"), "iptables", "['netfilter']['iptables']"),
    (("netfilter", "unreadable"), [{"what": 3}], "['unreadable'][0]['what']"),
    (("netfilter", "sysctl", "net.ipv4.ip_forward"), [1], "['sysctl']['net.ipv4.ip_forward']"),
])
def test_wrong_typed_facts_name_the_key(path, value, named):
    facts = put(host(), path, value)
    with pytest.raises(AnsibleFilterError) as info:
        node_findings(facts, proxy_mode="iptables", include_passed=True)
    assert "kubenode.netfilter.node_findings" in str(info.value) and named in str(info.value)


def test_plans_refuse_wrong_shapes_with_a_clear_message():
    with pytest.raises(AnsibleFilterError, match="findings must be a list"):
        kernel_modules_plan("nope", kernel_config=KERNEL)
    with pytest.raises(AnsibleFilterError, match="each finding must be a dict with an id"):
        kernel_modules_plan([{"severity": "error"}], kernel_config=KERNEL)
    with pytest.raises(AnsibleFilterError, match="kernel_config must be"):
        kernel_modules_plan([], kernel_config=[])
    with pytest.raises(AnsibleFilterError, match="netfilter must be"):
        netfilter_tools_plan([], netfilter="x")
    with pytest.raises(AnsibleFilterError, match="ipv6 must be auto, true or false"):
        node_profile({}, ipv6="maybe")


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda children: (st.lists(children, max_size=4)
                                      | st.dictionaries(st.text(max_size=8), children, max_size=4)),
                    max_leaves=20)
KEYS = st.sampled_from(["found", "version", "release", "options", "modules", "xtables", "installed", "next_boot",
                        "iptables", "nft", "ipset", "bundled", "kube_chains", "detected_mode", "nft_tables",
                        "iptables_nft_parse_errors", "errors", "unreadable", "sysctl", "rule_counts", "mixed",
                        "alternatives", "backends"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(side=st.sampled_from(["kernel_config", "netfilter"]), key=KEYS, value=JSON,
       mode=st.sampled_from(["iptables", "nftables", "ipvs", "none"]),
       kernels=st.sampled_from(["running", "all", "auto"]))
def test_random_shapes_give_findings_or_a_filter_error(side, key, value, mode, kernels):
    facts = host()
    facts[side][key] = value
    try:
        findings = node_findings(facts, proxy_mode=mode, cni="flannel", include_passed=True, kernels=kernels)
    except AnsibleFilterError:
        return
    assert isinstance(findings, list) and all(isinstance(f, dict) and f["id"] for f in findings)
    plan = kernel_modules_plan(findings, kernel_config=facts["kernel_config"], mode=mode)
    assert isinstance(plan["load"], list)
    tools = netfilter_tools_plan(findings, netfilter=facts["netfilter"], os_family="Debian")
    assert tools["backend"]["action"] in ("none", "switch", "refuse", "unsupported")


@settings(max_examples=200, deadline=None)
@given(findings=JSON)
def test_random_findings_for_the_plans(findings):
    for call in (lambda: kernel_modules_plan(findings, kernel_config=KERNEL),
                 lambda: netfilter_tools_plan(findings, netfilter=kf.netfilter_facts(), os_family="Debian")):
        try:
            call()
        except AnsibleFilterError:
            pass


@settings(max_examples=200, deadline=None)
@given(profile=JSON, mode=st.one_of(st.none(), st.text(max_size=6), st.sampled_from(["auto", "nftables"])),
       ipv6=JSON)
def test_random_profiles(profile, mode, ipv6):
    try:
        out = node_profile({"node_profile": profile}, proxy_mode=mode, ipv6=ipv6)
    except AnsibleFilterError:
        return
    assert out["proxy_mode"] in ("iptables", "nftables", "ipvs", "none")
