# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Findings: the catalog evaluated against real kernel facts (the kernel_config code on the shared configs and
derived copies) and netfilter facts of the documented shape, for every mode, distribution and CNI."""
from __future__ import annotations

import itertools
import re

import pytest

import kntest
from kntest import facts as kf
from kntest import kernel_roots as kr

from ansible_collections.kubenode.netfilter.plugins.module_utils import _kernel_config as kc
from ansible_collections.kubenode.netfilter.plugins.module_utils import _catalog as cat
from ansible_collections.kubenode.netfilter.plugins.module_utils import _findings as req

MODES = cat.MODES
DISTS = cat.DISTRIBUTIONS
CNIS = cat.CNI_CHOICES
STAT = "kernel.option_missing.NETFILTER_XT_MATCH_STATISTIC"


def loadable_paths(config_name, overrides=None):
    """modules.dep paths for every catalog module the (derived) config builds as =m: all of them loadable."""
    text = kf.fixture_text(config_name)
    if overrides:
        text = kr.derive_config(text, overrides)
    options = kc.parse_config_text(text)
    version = kc.header_version(text)
    return sorted({"kernel/net/%s.ko" % module for symbol, module in cat.module_pairs(version)
                   if options.get(symbol) == "m"})


@pytest.fixture(scope="module")
def kbase(tmp_path_factory):
    return tmp_path_factory.mktemp("kernel")


@pytest.fixture(scope="module")
def K(kbase):
    """Kernel fact sets by name, built once per module from the real code."""
    def loadable(name, overrides=None, **kw):
        return kf.kernel_facts(kbase, name, overrides, modules_dep=loadable_paths(name, overrides), **kw)

    return {
        "talos": loadable("talos-amd64.config"),
        "talos_no_stat": loadable("talos-amd64.config", {"NETFILTER_XT_MATCH_STATISTIC": None}),
        "talos_stat_n": loadable("talos-amd64.config", {"NETFILTER_XT_MATCH_STATISTIC": "n"}),
        "talos_stat_n_xt": loadable("talos-amd64.config", {"NETFILTER_XT_MATCH_STATISTIC": "n"},
                                    xtables={"ip_tables_matches": ["statistic", "comment"]}),
        "talos_stat_m_missing": kf.kernel_facts(kbase, "talos-amd64.config",
                                                {"NETFILTER_XT_MATCH_STATISTIC": "m"}),
        "talos_stat_m_loadable": loadable("talos-amd64.config", {"NETFILTER_XT_MATCH_STATISTIC": "m"}),
        "talos_stat_m_loaded": kf.kernel_facts(kbase, "talos-amd64.config", {"NETFILTER_XT_MATCH_STATISTIC": "m"},
                                               proc_modules=["xt_statistic"]),
        "talos_brnf_m": loadable("talos-amd64.config", {"BRIDGE_NETFILTER": "m"}),
        "talos_brnf_m_loaded": kf.kernel_facts(kbase, "talos-amd64.config", {"BRIDGE_NETFILTER": "m"},
                                               proc_modules=["br_netfilter"]),
        "talos_no_ipvs_match": loadable("talos-amd64.config", {"NETFILTER_XT_MATCH_IPVS": None}),
        "talos_no_numgen": loadable("talos-amd64.config", {"NFT_NUMGEN": None}),
        "talos_no_ipset": loadable("talos-amd64.config", {"IP_SET": None, "NETFILTER_XT_SET": None}),
        "talos_no_ip_vs": loadable("talos-amd64.config", {"IP_VS": None}),
        "talos_with_legacy": loadable("talos-amd64.config", {"NETFILTER_XTABLES_LEGACY": "y", "IP_NF_FILTER": "y",
                                                             "IP_NF_NAT": "y", "IP_NF_MANGLE": "y",
                                                             "IP6_NF_FILTER": "y", "IP6_NF_NAT": "y",
                                                             "IP6_NF_MANGLE": "y", "IP6_NF_IPTABLES": "y"}),
        "wsl2": loadable("wsl2-x86_64.config"),
        "wsl2_bare": kf.kernel_facts(kbase, "wsl2-x86_64.config"),  # =m everywhere, no module files installed
        "alpine_lts": loadable("alpine-lts-x86_64.config"),
        "alpine_virt": loadable("alpine-virt-x86_64.config"),
        "noconfig": kf.kernel_facts(kbase, None, xtables={"ip_tables_matches": ["statistic"]},
                                    modules_builtin=["kernel/net/netfilter/xt_comment.ko"]),
    }


def run(kernel, netfilter, mode="iptables", dist="generic", cni="other", **kw):
    return req.evaluate(kf.host(kernel, netfilter), mode, dist, cni, **kw)


def sev(findings):
    """id -> severity; ids are unique."""
    out = {}
    for f in findings:
        assert f.id not in out, "duplicate id %s" % f.id
        out[f.id] = f.severity
    return out


def by_id(findings, fid):
    hits = [f for f in findings if f.id == fid]
    assert hits, "no finding %s in %s" % (fid, [f.id for f in findings])
    return hits[0]


NF = kf.netfilter_facts()


# ---------------------------------------------------------------------------------------------------------------
# iptables mode kernel options: STATISTIC, =m, loadable, xtables, IPVS match

@pytest.mark.parametrize("dist, cni", list(itertools.product(DISTS, CNIS)))
def test_no_statistic_is_an_error_in_iptables_mode_everywhere(K, dist, cni):
    """No false pass: a kernel without STATISTIC fails iptables mode for every distribution and CNI."""
    for kernel in ("talos_no_stat", "talos_stat_n"):
        findings = run(K[kernel], NF, "iptables", dist, cni)
        assert sev(findings)[STAT] == "error"
        msg = by_id(findings, STAT).message
        assert "statistic revision 0" in msg and "kube-proxy" in msg


@pytest.mark.parametrize("mode", ["ipvs", "nftables", "none"])
def test_statistic_only_required_in_iptables_mode(K, mode):
    assert STAT not in sev(run(K["talos_no_stat"], NF, mode))


@pytest.mark.parametrize("kernel, dist, expected", [
    ("talos_stat_m_missing", "generic", {"kernel.module_missing.xt_statistic": "error"}),
    ("talos_stat_m_missing", "kubeadm", {"kernel.module_missing.xt_statistic": "error"}),
    ("talos_stat_m_loadable", "generic", {}),          # xtables extensions load on demand
    ("talos_stat_m_loaded", "generic", {}),
    ("talos_brnf_m", "generic", {"kernel.module_not_autoloaded.br_netfilter": "warning"}),
    ("talos_brnf_m", "kubeadm", {"kernel.module_not_autoloaded.br_netfilter": "warning"}),
    ("talos_brnf_m", "k3s", {"kernel.module_not_autoloaded.br_netfilter": "info"}),  # k3s modprobes it
    ("talos_brnf_m_loaded", "generic", {}),
    ("talos_stat_n_xt", "generic", {"kernel.option_via_xtables.NETFILTER_XT_MATCH_STATISTIC": "info"}),
])
def test_module_states(K, kernel, dist, expected):
    got = sev(run(K[kernel], NF, "iptables", dist, "flannel"))
    kernelish = dict((i, s) for i, s in got.items() if i.startswith("kernel."))
    assert kernelish == expected
    assert STAT not in got


def test_modules_disabled_turns_loadable_into_warnings(K):
    nf = kf.netfilter_facts(sysctl={"kernel.modules_disabled": 1})
    got = sev(run(K["talos_stat_m_loadable"], nf, "iptables"))
    assert got["kernel.module_not_autoloaded.xt_statistic"] == "warning"
    assert got["sysctl.kernel.modules_disabled"] == "warning"
    f = by_id(run(K["talos_stat_m_loadable"], nf), "kernel.module_not_autoloaded.xt_statistic")
    assert "modules_disabled=1" in f.message


def test_real_modular_kernel_without_module_files(K):
    """WSL2's config builds the xtables extensions as modules; with no module files they are errors by module."""
    got = sev(run(K["wsl2_bare"], NF, "iptables"))
    for module in ("xt_statistic", "xt_comment", "xt_conntrack", "xt_addrtype", "nft_compat"):
        assert got["kernel.module_missing." + module] == "error"
    assert not [i for i in got if i.startswith("kernel.option_missing.")]
    assert sev(run(K["wsl2"], NF, "iptables")).get("kernel.module_missing.xt_statistic") is None


@pytest.mark.parametrize("mode, dist, cni", list(itertools.product(("iptables", "nftables"), DISTS, CNIS)))
def test_ipvs_match_never_required_outside_ipvs(K, mode, dist, cni):
    got = sev(run(K["talos_no_ipvs_match"], NF, mode, dist, cni))
    assert not [i for i in got if "IPVS" in i or "xt_ipvs" in i], got
    # same with the module merely missing (=m, no file), as on the bare fixture root
    got = sev(run(K["wsl2_bare"], NF, mode, dist, cni))
    assert not [i for i in got if "IPVS" in i or "xt_ipvs" in i]


def test_ipvs_match_required_where_a_component_uses_it(K):
    assert sev(run(K["talos_no_ipvs_match"], NF, "ipvs", "generic", "calico"))[
        "kernel.option_missing.NETFILTER_XT_MATCH_IPVS"] == "error"


# ---------------------------------------------------------------------------------------------------------------
# Backend in use decides the backend options

LEGACY_ERRORS = {"kernel.option_missing.NETFILTER_XTABLES_LEGACY", "kernel.option_missing.IP_NF_FILTER",
                 "kernel.option_missing.IP_NF_NAT", "kernel.option_missing.IP_NF_MANGLE"}


@pytest.mark.parametrize("dist", DISTS)
def test_nft_only_kernel_fine_on_nft_backend(K, dist):
    got = sev(run(K["talos"], kf.netfilter_facts(iptables="nft"), "iptables", dist, "flannel"))
    assert not [i for i, s in got.items() if i.startswith("kernel.") and s in ("error", "warning")], got


@pytest.mark.parametrize("dist", ["generic", "kubeadm", "k3s"])
def test_before_join_judged_against_host_iptables_not_wrapper_default(K, dist):
    """Empty host, host iptables -> legacy, wrapper default nft: kubelet will make it legacy; judge legacy."""
    nf = kf.netfilter_facts(iptables="legacy", detected_mode="nft")
    findings = run(K["talos"], nf, "iptables", dist, "other")
    got = sev(findings)
    assert {i for i in LEGACY_ERRORS if got.get(i) == "error"} == LEGACY_ERRORS
    assert got["netfilter.backend_before_join"] == "info"
    assert "legacy" in by_id(findings, "kernel.option_missing.NETFILTER_XTABLES_LEGACY").message
    # with the legacy options present the same host passes
    got = sev(run(K["talos_with_legacy"], nf, "iptables", dist, "other"))
    assert not LEGACY_ERRORS & set(got)


def test_joined_node_follows_the_hint(K):
    nf = kf.netfilter_facts(iptables="nft", detected_mode="legacy", hint={"KUBE-IPTABLES-HINT": ["legacy"]})
    findings = run(K["talos"], nf, "iptables")
    got = sev(findings)
    assert got["netfilter.hint_in_other_backend"] == "error"
    assert LEGACY_ERRORS <= set(got)
    fix = by_id(findings, "netfilter.hint_in_other_backend").fix
    assert "kubenode_iptables_backend: legacy" in fix


@pytest.mark.parametrize("hint, host, expected", [
    ({"KUBE-IPTABLES-HINT": ["nft"]}, "nft", None),
    ({"KUBE-IPTABLES-HINT": ["nft"]}, "legacy", "error"),
    ({"KUBE-KUBELET-CANARY": ["legacy"]}, "nft", "error"),
    ({"KUBE-PROXY-CANARY": ["legacy"], "KUBE-IPTABLES-HINT": ["nft"]}, "nft", "error"),
    ({}, "legacy", None),
])
def test_hint_and_canaries(K, hint, host, expected):
    got = sev(run(K["talos_with_legacy"], kf.netfilter_facts(iptables=host, hint=hint), "iptables"))
    assert got.get("netfilter.hint_in_other_backend") == expected


# ---------------------------------------------------------------------------------------------------------------
# Where kube-proxy runs decides which tools the host needs

NO_IPT = dict(iptables=None)
K3S_BUNDLE = {"/var/lib/rancher/k3s/data/current/bin/aux": {
    "iptables": kf.tool("/var/lib/rancher/k3s/data/current/bin/aux/iptables", "1.8.9", "nft"),
    "nft": kf.tool("/var/lib/rancher/k3s/data/current/bin/aux/nft", "1.1.1"),
    "ipset": kf.tool("/var/lib/rancher/k3s/data/current/bin/aux/ipset", "7.22")}}
K3S_EMPTY_BUNDLE = {"/var/lib/rancher/k3s/data/current/bin/aux": {}}


@pytest.mark.parametrize("mode, dist, cni, nf_kwargs, version, expected", [
    # iptables mode, no host iptables
    ("iptables", "generic", "other", NO_IPT, None, "error"),
    ("iptables", "generic", "cilium", NO_IPT, None, "error"),
    ("iptables", "k3s", "flannel", NO_IPT, None, "info"),
    ("iptables", "k3s", "flannel", dict(NO_IPT, bundled=K3S_BUNDLE), None, "info"),
    ("iptables", "k3s", "flannel", dict(NO_IPT, bundled=K3S_EMPTY_BUNDLE), None, "error"),
    ("iptables", "kubeadm", "other", NO_IPT, None, "warning"),
    ("iptables", "kubeadm", "cilium", NO_IPT, None, "warning"),
    ("iptables", "kubeadm", "flannel", NO_IPT, None, "error"),
    ("iptables", "rke2", "calico", NO_IPT, None, "error"),
    ("iptables", "k0s", "kube-router", NO_IPT, None, "info"),
    # nftables mode: kube-proxy itself needs no iptables; the CNI decides
    ("nftables", "generic", "cilium", NO_IPT, None, "info"),
    ("nftables", "generic", "other", NO_IPT, None, "warning"),
    ("nftables", "generic", "flannel", NO_IPT, None, "error"),
    ("nftables", "generic", "kube-router", NO_IPT, None, "error"),
    ("nftables", "generic", "calico", NO_IPT, None, "error"),
    ("nftables", "kubeadm", "cilium", NO_IPT, None, "info"),
    ("nftables", "rke2", "flannel", NO_IPT, None, "error"),
    # none mode: kubelet and the CNI
    ("none", "generic", "cilium", NO_IPT, None, "info"),
    ("none", "kubeadm", "flannel", NO_IPT, None, "error"),
    # host iptables present
    ("iptables", "generic", "other", {}, None, None),
])
def test_iptables_presence(K, mode, dist, cni, nf_kwargs, version, expected):
    findings = run(K["talos"], kf.netfilter_facts(**nf_kwargs), mode, dist, cni, distribution_version=version)
    got = sev(findings)
    assert got.get("tool.missing.iptables") == expected
    if expected in ("error", "warning"):
        f = by_id(findings, "tool.missing.iptables")
        assert "kubenode_netfilter_tools_remediate" in f.fix


@pytest.mark.parametrize("dist, version, nf_kwargs, expected", [
    ("generic", None, dict(nft=None), {"tool.missing.nft": "error"}),
    ("kubeadm", None, dict(nft=None), {}),
    ("rke2", None, dict(nft=None), {}),
    ("k0s", None, dict(nft=None), {}),
    ("k3s", "v1.31.2+k3s1", dict(nft=None), {"tool.missing.nft": "error", "k3s.nft_not_bundled": "info"}),
    ("k3s", "v1.30.6+k3s1", dict(nft=None), {"tool.missing.nft": "error", "k3s.nft_not_bundled": "info"}),
    ("k3s", "v1.28.15+k3s1", dict(nft=None), {"tool.missing.nft": "error", "k3s.nft_not_bundled": "info"}),
    ("k3s", "v1.31.3+k3s1", dict(nft=None), {"tool.missing.nft": "info"}),
    ("k3s", "v1.29.11+k3s1", dict(nft=None), {"tool.missing.nft": "info"}),
    ("k3s", "v1.32.0+k3s1", dict(nft=None), {"tool.missing.nft": "info"}),
    ("k3s", None, dict(nft=None), {"tool.missing.nft": "error"}),  # could not be told: not known to pass
    ("k3s", None, dict(nft=None, bundled=K3S_BUNDLE), {"tool.missing.nft": "info"}),
    ("generic", None, dict(nft="0.9.8"), {"tool.version_too_old.nft": "error"}),
    ("generic", None, dict(nft="1.0.0"), {"tool.version_too_old.nft": "error"}),
    ("generic", None, dict(nft="1.0.1"), {}),
    ("k3s", "v1.33.1+k3s1", dict(nft="0.9.8"), {"tool.version_too_old.nft": "error"}),
    ("kubeadm", None, dict(nft="0.9.8"), {}),
    ("generic", None, dict(nft="1.1.3"), {"tool.known_bad.nft": "warning"}),
    ("generic", None, dict(broken=["nft"]), {"tool.broken.nft": "error"}),  # kube-proxy would run it the same way
])
def test_nftables_mode_tools(K, dist, version, nf_kwargs, expected):
    got = sev(run(K["talos"], kf.netfilter_facts(**nf_kwargs), "nftables", dist, "cilium",
                  distribution_version=version))
    tools = dict((i, s) for i, s in got.items() if i.startswith(("tool.", "k3s.nft")))
    assert tools == expected


def test_k3s_prefer_bundled_bin_checks_the_bundled_nft(K):
    bundle = {"/b": {"nft": kf.tool("/b/nft", "0.9.9")}}
    got = sev(run(K["talos"], kf.netfilter_facts(bundled=bundle), "nftables", "k3s", "flannel",
                  k3s_prefer_bundled_bin=True))
    assert got["tool.version_too_old.nft"] == "error"
    bundled = run(K["talos"], kf.netfilter_facts(bundled=bundle), "nftables", "k3s", "flannel")
    assert "tool.version_too_old.nft" not in sev(bundled)


@pytest.mark.parametrize("dist, nf_kwargs, expected", [
    ("generic", dict(ipset=None), {"tool.missing.ipset": "error"}),
    ("k3s", dict(ipset=None), {"tool.missing.ipset": "info"}),
    ("kubeadm", dict(ipset=None), {}),
    ("generic", NO_IPT, {"tool.missing.iptables": "error"}),
    ("generic", dict(broken=["iptables"]), {"tool.broken.iptables": "error"}),
    ("generic", {}, {}),
])
def test_ipvs_mode_tools(K, dist, nf_kwargs, expected):
    got = sev(run(K["talos"], kf.netfilter_facts(**nf_kwargs), "ipvs", dist, "other"))
    assert dict((i, s) for i, s in got.items() if i.startswith("tool.")) == expected
    assert got["mode.ipvs_deprecated"] == "info"
    assert "v1.35" in by_id(run(K["talos"], NF, "ipvs"), "mode.ipvs_deprecated").message


@pytest.mark.parametrize("kernel, overrides_id", [
    ("talos_no_ip_vs", "kernel.option_missing.IP_VS"),
    ("talos_no_ipset", "kernel.option_missing.IP_SET"),
    ("talos_no_ipset", "kernel.option_missing.NETFILTER_XT_SET"),
])
@pytest.mark.parametrize("dist", DISTS)
def test_ipvs_mode_kernel(K, kernel, overrides_id, dist):
    assert sev(run(K[kernel], NF, "ipvs", dist, "other"))[overrides_id] == "error"
    assert overrides_id not in sev(run(K[kernel], NF, "iptables", dist, "other"))


def test_ipvs_scheduler_modules_missing(K):
    got = sev(run(K["wsl2_bare"], NF, "ipvs"))
    assert got["kernel.module_missing.ip_vs"] == "error"
    assert got["kernel.module_missing.ip_vs_rr"] == "error"
    assert got["kernel.module_missing.ip_vs_wrr"] == "info"   # only with ipvs.scheduler: wrr (=m, file absent)


@pytest.mark.parametrize("mode", ["iptables", "nftables", "ipvs"])
@pytest.mark.parametrize("dist", ["generic", "kubeadm", "rke2"])
def test_no_userspace_at_all(K, mode, dist):
    nf = kf.netfilter_facts(iptables=None, nft=None, ipset=None)
    assert sev(run(K["talos"], nf, mode, dist, "cilium"))["tool.missing.netfilter_userspace"] == "error"
    assert "tool.missing.netfilter_userspace" not in sev(run(K["talos"], nf, "none", dist, "cilium"))


@pytest.mark.parametrize("dist, bundled, expected", [
    ("k3s", None, None), ("k0s", None, None), ("k3s", K3S_BUNDLE, None), ("k3s", K3S_EMPTY_BUNDLE, "error"),
])
def test_no_userspace_bundling_distributions(K, dist, bundled, expected):
    nf = kf.netfilter_facts(iptables=None, nft=None, ipset=None, bundled=bundled)
    assert sev(run(K["talos"], nf, "iptables", dist, "flannel")).get("tool.missing.netfilter_userspace") == expected


# ---------------------------------------------------------------------------------------------------------------
# nftables mode kernel

@pytest.mark.parametrize("kernel, expected", [("alpine_lts", "error"), ("alpine_virt", "error"), ("talos", None),
                                              ("wsl2", None)])
def test_nftables_kernel_version(K, kernel, expected):
    findings = run(K[kernel], NF, "nftables", "generic", "cilium")
    assert sev(findings).get("kernel.version_too_old") == expected
    if expected:
        assert "5.13" in by_id(findings, "kernel.version_too_old").message
    assert "kernel.version_too_old" not in sev(run(K[kernel], NF, "iptables", "generic", "other"))


def test_nftables_options(K):
    assert sev(run(K["talos_no_numgen"], NF, "nftables"))["kernel.option_missing.NFT_NUMGEN"] == "error"
    assert "kernel.option_missing.NFT_NUMGEN" not in sev(run(K["talos_no_numgen"], NF, "iptables"))


def test_nftables_kernel_version_unknown(K):
    kernel = dict(K["noconfig"], version=None)
    assert sev(run(kernel, NF, "nftables"))["kernel.version_unknown"] == "error"


# ---------------------------------------------------------------------------------------------------------------
# Sysctls

@pytest.mark.parametrize("dist, value, expected", [
    ("generic", 0, "error"), ("kubeadm", 0, "error"), ("rke2", 0, "error"), ("k0s", 0, "error"),
    ("k3s", 0, "info"), ("generic", None, "error"), ("generic", 1, None),
])
def test_ip_forward(K, dist, value, expected):
    nf = kf.netfilter_facts(sysctl={"net.ipv4.ip_forward": value})
    findings = run(K["talos"], nf, "iptables", dist, "flannel")
    assert sev(findings).get("sysctl.net.ipv4.ip_forward") == expected
    if expected == "error" and value is not None:  # unreadable: the fix is to read it (root, the node itself)
        assert "kubenode_sysctl_remediate" in by_id(findings, "sysctl.net.ipv4.ip_forward").fix


def test_ipv6_forwarding_only_with_ipv6(K):
    nf = kf.netfilter_facts(sysctl={"net.ipv6.conf.all.forwarding": 0, "net.bridge.bridge-nf-call-ip6tables": 0})
    assert not [i for i in sev(run(K["talos"], nf, cni="flannel")) if "ipv6" in i or "ip6tables" in i]
    got = sev(run(K["talos"], nf, cni="flannel", ipv6=True))
    assert got["sysctl.net.ipv6.conf.all.forwarding"] == "error"
    assert got["sysctl.net.bridge.bridge-nf-call-ip6tables"] == "error"


@pytest.mark.parametrize("mode, dist, cni, value, expected", [
    ("iptables", "generic", "flannel", None, "error"),
    ("iptables", "generic", "kube-router", 0, "error"),
    ("nftables", "kubeadm", "flannel", None, "error"),
    ("iptables", "generic", "other", None, "info"),   # not known to be bridge-based (kubernetes/kubernetes#123464)
    ("iptables", "generic", "cilium", None, None),
    ("iptables", "generic", "calico", 0, None),
    ("iptables", "k3s", "flannel", None, "info"),
    ("none", "generic", "flannel", None, None),
    ("iptables", "generic", "flannel", 1, None),
])
def test_bridge_nf_call(K, mode, dist, cni, value, expected):
    nf = kf.netfilter_facts(sysctl={"net.bridge.bridge-nf-call-iptables": value})
    findings = run(K["talos"], nf, mode, dist, cni)
    assert sev(findings).get("sysctl.net.bridge.bridge-nf-call-iptables") == expected
    if expected == "error" and value is None:
        assert "br_netfilter" in by_id(findings, "sysctl.net.bridge.bridge-nf-call-iptables").message


def test_sysctls_kube_proxy_sets_itself_are_info(K):
    got = sev(run(K["talos"], NF, "iptables"))
    assert got["sysctl.net.ipv4.conf.all.route_localnet"] == "info"
    got = sev(run(K["talos"], NF, "ipvs"))
    assert got["sysctl.net.ipv4.vs.conntrack"] == "info"
    assert "sysctl.net.ipv4.conf.all.route_localnet" not in got
    nf = kf.netfilter_facts(sysctl={"net.ipv4.conf.all.route_localnet": 1})
    assert "sysctl.net.ipv4.conf.all.route_localnet" not in sev(run(K["talos"], nf, "iptables"))


# ---------------------------------------------------------------------------------------------------------------
# Backends, kube-router, unreadable rules, foreign tables

@pytest.mark.parametrize("mode", MODES)
def test_mixed_backends(K, mode):
    findings = run(K["talos_with_legacy"], kf.netfilter_facts(mixed=True), mode)
    assert sev(findings)["netfilter.mixed_backends"] == "error"
    f = by_id(findings, "netfilter.mixed_backends")
    assert "legacy: 5" in f.message and "nf_tables: 7" in f.message
    assert "kubenode_iptables_backend" in f.fix


def test_wrapper_disagreement(K):
    got = sev(run(K["talos"], kf.netfilter_facts(by_rule_count="legacy"), "iptables"))
    assert got["netfilter.wrapper_disagreement"] == "warning"


@pytest.mark.parametrize("image, host, hint, expected", [
    ("legacy", "nft", {}, "error"),
    ("legacy", "nft", {"KUBE-IPTABLES-HINT": ["nft"]}, "error"),
    ("nft", "nft", {}, None),
    ("nft", "legacy", {}, "error"),
    ("legacy", "legacy", {}, None),
])
@pytest.mark.parametrize("dist", ["k0s", "generic"])
def test_kube_router_image_backend(K, image, host, hint, expected, dist):
    findings = run(K["talos_with_legacy"], kf.netfilter_facts(iptables=host, hint=hint), "iptables", dist,
                   "kube-router", kube_router_image_backend=image)
    assert sev(findings).get("netfilter.kube_router_backend_mismatch") == expected
    if expected:
        fix = by_id(findings, "netfilter.kube_router_backend_mismatch").fix
        assert "kubenode_kube_router_remediate: true" in fix
        assert ("ClusterConfig" in fix) == (dist == "k0s")


def test_kube_router_backend_unchecked_and_other_cnis(K):
    assert sev(run(K["talos"], NF, cni="kube-router"))["netfilter.kube_router_backend_unchecked"] == "info"
    got = sev(run(K["talos"], NF, cni="flannel", kube_router_image_backend="legacy"))
    assert not [i for i in got if "kube_router" in i]


@pytest.mark.parametrize("mode", MODES)
def test_iptables_nft_unreadable(K, mode):
    nf = kf.netfilter_facts(parse_errors=[kf.parse_error()], incompatible=["filter"])
    findings = run(K["talos"], nf, mode)
    f = by_id(findings, "netfilter.iptables_nft_unreadable")
    assert f.severity == "error"
    assert "ip filter chain FORWARD handle 3" in f.message and "ct state established accept" in f.message
    assert "cmp sreg undef" in f.message and "netbird" in f.message
    assert "kubenode_nft_conflicts_rules" in f.fix and "never" in f.fix.lower()
    # an incompatible table without a named rule is still an error, naming the table
    f = by_id(run(K["talos"], kf.netfilter_facts(incompatible=["nat"]), mode), "netfilter.iptables_nft_unreadable")
    assert f.severity == "error" and "ip nat" in f.message


@pytest.mark.parametrize("mode, table, expected", [
    ("iptables", kf.foreign_table("ip", "nat-docker"), "error"),
    ("nftables", kf.foreign_table("ip6", "fw", [{"chain": "c", "hook": "output", "priority": 0, "policy": "accept"}]),
     "error"),
    ("iptables", kf.foreign_table("inet", "netbird", [{"chain": "input", "hook": "input", "priority": 0,
                                                       "policy": "drop", "type": "filter"}]), "warning"),
    ("nftables", kf.foreign_table("inet", "netbird", [{"chain": "input", "hook": "input", "priority": 0,
                                                       "policy": "drop", "type": "filter"}]), "info"),
    ("nftables", kf.foreign_table("inet", "fw", [{"chain": "fwd", "hook": "forward", "priority": -200,
                                                  "policy": "drop"}]), "warning"),
    ("iptables", kf.foreign_table("inet", "fw", [{"chain": "fwd", "hook": "forward", "priority": "filter - 5",
                                                  "policy": "drop"}]), "warning"),
    ("iptables", kf.foreign_table("inet", "fw", [{"chain": "in", "hook": "input", "priority": 10,
                                                  "policy": "drop"}]), "info"),
    ("iptables", kf.foreign_table("inet", "fw", [{"chain": "out", "hook": "output", "priority": -300,
                                                  "policy": "drop"}]), "info"),
    ("iptables", kf.foreign_table("inet", "fw", [{"chain": "in", "hook": "input", "priority": -10,
                                                  "policy": "accept"}]), "info"),
])
def test_foreign_tables(K, mode, table, expected):
    fid = "netfilter.foreign_table.%s.%s" % (table["family"], table["name"])
    findings = run(K["talos"], kf.netfilter_facts(nft_tables=[table]), mode)
    assert sev(findings)[fid] == expected
    assert table["name"] in by_id(findings, fid).message


def test_kube_proxy_and_iptables_tables_are_not_foreign(K):
    tables = [{"family": "ip", "name": "kube-proxy", "owner": "kube-proxy", "chains": 2, "rules": 1, "hooks": []},
              {"family": "ip", "name": "filter", "owner": "iptables", "chains": 3, "rules": 1, "hooks": []}]
    assert not [i for i in sev(run(K["talos"], kf.netfilter_facts(nft_tables=tables))) if "foreign" in i]


# ---------------------------------------------------------------------------------------------------------------
# Unknowns are errors under the default threshold, never silent passes (what could not be checked never passes)

def test_no_kernel_config(K):
    findings = run(K["noconfig"], NF, "iptables", include_passed=True)
    got = sev(findings)
    assert got["kernel.config_unknown"] == "error"
    f = by_id(findings, "kernel.config_unknown")
    assert "CONFIG_NETFILTER_XT_MATCH_CONNTRACK" in f.message and "config_path" in f.fix
    # evidence without a config still counts: registered statistic, built-in xt_comment
    assert got["kernel.option_via_xtables.NETFILTER_XT_MATCH_STATISTIC"] == "info"
    assert got["kernel.option_ok.NETFILTER_XT_MATCH_COMMENT"] == "ok"
    assert not [i for i in got if i.startswith(("kernel.option_missing", "kernel.module_missing"))]


def test_missing_fact_sets_and_gathering_errors(K):
    got = sev(req.evaluate({"netfilter": NF}, "iptables"))
    assert got["kernel.facts_missing"] == "error"
    got = sev(req.evaluate({"kernel_config": K["talos"]}, "iptables"))
    assert got["netfilter.facts_missing"] == "error"
    nf = dict(NF)
    del nf["kube_chains"]
    nf["errors"] = ["iptables-nft-save exited 4: Permission denied (you must be root)"]
    findings = run(K["talos"], nf)
    assert sev(findings)["netfilter.facts_incomplete"] == "error"
    assert "Permission denied" in by_id(findings, "netfilter.facts_errors").message
    nf = dict(NF)
    del nf["sysctl"]
    assert sev(run(K["talos"], nf))["sysctl.unknown"] == "error"
    nf = dict(NF)
    del nf["nft"]
    assert sev(run(K["talos"], nf, "nftables"))["tool.missing.nft"] == "error"


@pytest.mark.parametrize("cause", ["permission", "timeout", "failed"])
def test_unreadable_rules_are_an_error_with_the_fix(K, cause):
    """Issue 16: the same namespace checked without privilege must not pass (netfilter_backend_facts `unreadable`)."""
    nf = kf.netfilter_facts(unreadable=[
        {"what": "backends.nft.ipv4", "command": "/usr/sbin/iptables-nft-save", "cause": cause,
         "reason": "iptables-nft-save v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied "
                   "(you must be root)"},
        {"what": "tool.ipset", "command": "/usr/sbin/ipset --version", "cause": cause, "reason": "denied"}])
    for mode in ("iptables", "nftables", "none"):
        findings = run(K["talos"], nf, mode, "generic", "cilium")
        finding = by_id(findings, "netfilter.unreadable")
        assert finding.severity == "error" and "/usr/sbin/iptables-nft-save" in finding.message
        assert ("privilege escalation" in finding.fix) == (cause == "permission")
    absent = kf.netfilter_facts(unreadable=[{"what": "nft_tables", "command": "nft", "cause": "absent",
                                             "reason": "nft is not installed"}])
    assert "netfilter.unreadable" not in sev(run(K["talos"], absent, "iptables"))
    assert sev(run(K["talos"], kf.netfilter_facts(), "iptables", include_passed=True))["netfilter.unreadable"] == "ok"


# ---------------------------------------------------------------------------------------------------------------
# k3s release facts

@pytest.mark.parametrize("version, gap, nft_bundled", [
    ("v1.28.15+k3s1", True, False), ("v1.29.14+k3s1", True, True), ("v1.29.15+k3s1", False, True),
    ("v1.31.2+k3s1", True, False), ("v1.31.6+k3s1", True, True), ("v1.31.7+k3s1", False, True),
    ("v1.32.2+k3s1", True, True), ("v1.32.3+k3s1", False, True), ("v1.33.0+k3s1", False, True),
    ("1.30.10", True, True), ("v1.30.6+k3s1", True, False),
])
def test_k3s_release_facts(K, version, gap, nft_bundled):
    got = sev(run(K["talos"], NF, "iptables", "k3s", "flannel", distribution_version=version))
    assert (got.get("k3s.check_config_statistic_gap") == "info") is gap
    assert ("k3s.nft_not_bundled" in got) is (not nft_bundled)
    other = sev(run(K["talos"], NF, "iptables", "kubeadm", "flannel", distribution_version=version))
    assert not [i for i in other if i.startswith("k3s.")]


# ---------------------------------------------------------------------------------------------------------------
# A fact set captured from the real module

@pytest.mark.parametrize("dist", DISTS)
def test_captured_netbird_incident(K, dist):
    nf = kf.captured_netbird()
    findings = run(K["talos"], nf, "iptables", dist, "flannel")
    got = sev(findings)
    assert got["netfilter.iptables_nft_unreadable"] == "error"
    assert "ct state established accept" in by_id(findings, "netfilter.iptables_nft_unreadable").message
    assert got["netfilter.foreign_table.inet.netbird"] == "warning"
    assert got["sysctl.net.ipv4.ip_forward"] == ("info" if dist == "k3s" else "error")
    assert "netfilter.hint_in_other_backend" not in got


# ---------------------------------------------------------------------------------------------------------------
# Shape, order, arguments, docs

SWEEP_KERNELS = ("talos", "wsl2", "wsl2_bare", "alpine_lts", "alpine_virt", "noconfig", "talos_no_stat")
SWEEP_NF = {
    "default": NF, "legacy": kf.netfilter_facts(iptables="legacy"), "bare": kf.netfilter_facts(
        iptables=None, nft=None, ipset=None, sysctl={"net.ipv4.ip_forward": 0}),
    "incident": kf.captured_netbird(), "mixed": kf.netfilter_facts(mixed=True, hint={"KUBE-IPTABLES-HINT": ["legacy"]}),
}


def _sweep(K):
    for kname, nname, mode, dist, cni in itertools.product(SWEEP_KERNELS, SWEEP_NF, MODES, DISTS, CNIS):
        yield (kname, nname, mode, dist, cni), run(K[kname], SWEEP_NF[nname], mode, dist, cni,
                                                   distribution_version="v1.31.2+k3s1", include_passed=True)


def test_sweep_shape_and_order(K):
    rank = dict((s, i) for i, s in enumerate(cat.SEVERITIES))
    for case, findings in _sweep(K):
        sev(findings)  # unique ids
        keys = [(rank[f.severity], f.id) for f in findings]
        assert keys == sorted(keys), case
        for f in findings:
            assert set(f.as_dict()) == {"id", "severity", "message", "fix", "remedy"}
            assert f.message.strip() and f.fix.strip(), (case, f)
            assert re.match(r"^[a-z0-9]+(\.[A-Za-z0-9_.+-]+)+$", f.id), f.id
            if f.severity in ("error", "warning"):
                assert f.fix != "nothing to do", (case, f)


def test_include_passed(K):
    without = run(K["talos"], NF, "iptables")
    with_ok = run(K["talos"], NF, "iptables", include_passed=True)
    assert not [f for f in without if f.severity == "ok"]
    oks = [f for f in with_ok if f.severity == "ok"]
    assert "kernel.option_ok.NETFILTER_XT_MATCH_STATISTIC" in {f.id for f in oks}
    assert [f for f in with_ok if f.severity != "ok"] == without


def _documented_patterns():
    text = (kntest.REPO / "docs" / "findings.md").read_text()
    ids = re.findall(r"`((?:kernel|tool|netfilter|sysctl|mode|k3s)\.[^`\s]+)`", text)
    return [re.compile("^" + re.sub(r"<[^>]+>", "[^ ]+", re.escape(i).replace(r"\<", "<").replace(r"\>", ">"))
                       + "$") for i in ids]


def test_every_emitted_id_is_documented(K):
    patterns = _documented_patterns()
    assert patterns
    emitted = set()
    for _case, findings in _sweep(K):
        emitted.update(f.id for f in findings)
    undocumented = sorted(i for i in emitted if not any(p.match(i) for p in patterns))
    assert not undocumented


@pytest.mark.parametrize("kwargs, text", [
    (dict(proxy_mode="userspace"), "proxy_mode must be one of iptables, nftables, ipvs, none"),
    (dict(distribution="microk8s"), "distribution must be one of"),
    (dict(cni="weave"), "cni must be one of"),
    (dict(kube_router_image_backend="both"), "kube_router_image_backend must be one of legacy, nft"),
])
def test_bad_arguments(kwargs, text):
    args = dict(proxy_mode="iptables", distribution="generic", cni="other")
    args.update(kwargs)
    with pytest.raises(ValueError, match=re.escape(text)):
        req.evaluate({}, **args)


# ---------------------------------------------------------------------------------------------------------------
# Catalog corrections read against kube-proxy, kubelet and the peers' code (issue 12). Each: every shared real
# kernel config, then a derived config with one option changed that shows the new verdict.

REAL_CONFIGS = ("talos-amd64.config", "alpine-lts-x86_64.config", "alpine-virt-x86_64.config", "wsl2-x86_64.config")


def real(kbase, name, overrides=None):
    return kf.kernel_facts(kbase, name, overrides, modules_dep=loadable_paths(name, overrides))


def lacks(symbol):
    return {symbol: "n"}


@pytest.mark.parametrize("config", REAL_CONFIGS)
def test_ipvs_mode_needs_the_reject_target(kbase, config):
    """kube-proxy's ipvs proxier writes -j REJECT in KUBE-IPVS-FILTER on every sync (pkg/proxy/ipvs/proxier.go)."""
    ok = sev(run(real(kbase, config), NF, "ipvs", include_passed=True))
    assert ok.get("kernel.option_ok.IP_NF_TARGET_REJECT") == "ok"
    broken = sev(run(real(kbase, config, lacks("IP_NF_TARGET_REJECT")), NF, "ipvs"))
    assert broken["kernel.option_missing.IP_NF_TARGET_REJECT"] == "error"
    v6 = sev(run(real(kbase, config, lacks("IP6_NF_TARGET_REJECT")), NF, "ipvs", ipv6=True))
    assert v6["kernel.option_missing.IP6_NF_TARGET_REJECT"] == "error"


@pytest.mark.parametrize("config", REAL_CONFIGS)
def test_ipvs_mode_needs_the_dummy_device(kbase, config):
    """EnsureDummyDevice(kube-ipvs0) on every sync; on error nothing is programmed."""
    facts = real(kbase, config)
    passed = sev(run(facts, NF, "ipvs", include_passed=True))
    if facts["options"].get("DUMMY") in ("y", "m"):
        assert passed["kernel.option_ok.DUMMY"] == "ok"
    else:  # a real kernel without it (WSL2 builds none): the node cannot run ipvs mode
        assert passed["kernel.option_missing.DUMMY"] == "error"
    assert sev(run(real(kbase, config, lacks("DUMMY")), NF, "ipvs"))["kernel.option_missing.DUMMY"] == "error"
    # and kube-router's service proxy (kube-proxy replaced) uses its kube-dummy-if the same way
    kr_none = sev(run(real(kbase, config, lacks("DUMMY")), NF, "none", cni="kube-router"))
    assert kr_none["kernel.option_missing.DUMMY"] == "error"
    assert "kernel.option_missing.DUMMY" not in sev(run(real(kbase, config, lacks("DUMMY")), NF, "iptables"))


@pytest.mark.parametrize("config", REAL_CONFIGS)
def test_ipvs_match_is_a_warning_for_kube_proxy_ipvs(kbase, config):
    """-m ipvs only for LoadBalancer Services whose source ranges exclude the node: a warning, never silent."""
    got = run(real(kbase, config, lacks("NETFILTER_XT_MATCH_IPVS")), NF, "ipvs")
    finding = by_id(got, "kernel.option_missing.NETFILTER_XT_MATCH_IPVS")
    assert finding.severity == "warning" and "loadBalancerSourceRanges" in finding.message
    # with Calico in ipvs mode it stays an error (Calico's own rules use it on every node)
    assert sev(run(real(kbase, config, lacks("NETFILTER_XT_MATCH_IPVS")), NF, "ipvs", cni="calico"))[
        "kernel.option_missing.NETFILTER_XT_MATCH_IPVS"] == "error"
    assert "kernel.option_missing.NETFILTER_XT_MATCH_IPVS" not in sev(
        run(real(kbase, config, lacks("NETFILTER_XT_MATCH_IPVS")), NF, "iptables"))


@pytest.mark.parametrize("config", REAL_CONFIGS)
@pytest.mark.parametrize("mode", ["iptables", "nftables", "ipvs"])
def test_bridge_netfilter_belongs_to_bridge_based_cnis(kbase, config, mode):
    """kubeadm dropped its bridge-nf check (kubernetes/kubernetes#123464): only bridge CNIs need br_netfilter."""
    nobr = real(kbase, config, lacks("BRIDGE_NETFILTER"))
    for cni in ("flannel", "kube-router"):
        assert sev(run(nobr, NF, mode, cni=cni))["kernel.option_missing.BRIDGE_NETFILTER"] == "error", cni
    for cni in ("calico", "cilium", "canal"):
        assert "kernel.option_missing.BRIDGE_NETFILTER" not in sev(run(nobr, NF, mode, cni=cni)), cni
    assert sev(run(nobr, NF, mode, cni="other"))["kernel.option_missing.BRIDGE_NETFILTER"] == "info"
    # a real kernel with br_netfilter as a loadable module: no warning for CNI other any more, an info
    loadable = sev(run(real(kbase, config, {"BRIDGE_NETFILTER": "m"}), NF, mode, cni="other"))
    assert loadable.get("kernel.module_not_autoloaded.br_netfilter") == "info"
    flannel = sev(run(real(kbase, config, {"BRIDGE_NETFILTER": "m"}), NF, mode, cni="flannel"))
    assert flannel["kernel.module_not_autoloaded.br_netfilter"] == "warning"


@pytest.mark.parametrize("config", REAL_CONFIGS)
@pytest.mark.parametrize("mode", ["nftables", "none"])
def test_kubelet_legacy_tables_are_a_warning_where_kube_proxy_does_not_need_them(kbase, config, mode):
    """kubelet logs "Failed to initialize iptables rules" and runs on (kubelet_network_linux.go initNetworkUtil)."""
    legacy = kf.netfilter_facts(iptables="legacy")
    facts = real(kbase, config, {"IP_NF_NAT": "n", "IP_NF_FILTER": "n", "IP_NF_MANGLE": "n"})
    got = sev(run(facts, legacy, mode, cni="cilium"))
    for symbol in ("IP_NF_NAT", "IP_NF_FILTER", "IP_NF_MANGLE"):
        assert got["kernel.option_missing." + symbol] == "warning", (symbol, got)
    # where kube-proxy itself writes them (iptables mode on the legacy backend) they stay errors
    kp = sev(run(facts, legacy, "iptables", cni="cilium"))
    assert kp["kernel.option_missing.IP_NF_NAT"] == "error" and kp["kernel.option_missing.IP_NF_FILTER"] == "error"


@pytest.mark.parametrize("config", REAL_CONFIGS)
def test_redirect_and_comment_only_for_kubeadm_and_k0s(kbase, config):
    """No kubelet or kube-proxy code uses REDIRECT; kubeadm's preflight refuses the node without it, k0s sysinfo
    flags it; COMMENT is kube-proxy's in iptables and ipvs mode."""
    facts = real(kbase, config, {"NETFILTER_XT_TARGET_REDIRECT": "n", "IP_NF_TARGET_REDIRECT": "n",
                                 "NETFILTER_XT_MATCH_COMMENT": "n"})
    for dist in ("generic", "k3s", "rke2"):
        got = sev(run(facts, NF, "nftables", dist, "cilium"))
        assert "kernel.option_missing.NETFILTER_XT_TARGET_REDIRECT" not in got, dist
        assert "kernel.option_missing.NETFILTER_XT_MATCH_COMMENT" not in got, dist
    kubeadm = sev(run(facts, NF, "nftables", "kubeadm", "cilium"))
    assert kubeadm["kernel.option_missing.NETFILTER_XT_TARGET_REDIRECT"] == "error"
    assert kubeadm["kernel.option_missing.NETFILTER_XT_MATCH_COMMENT"] == "error"
    k0s = sev(run(facts, NF, "nftables", "k0s", "cilium"))
    assert k0s["kernel.option_missing.NETFILTER_XT_TARGET_REDIRECT"] == "warning"
    # COMMENT where kube-proxy writes iptables rules: an error on every distribution
    assert sev(run(facts, NF, "iptables", "generic", "cilium"))["kernel.option_missing.NETFILTER_XT_MATCH_COMMENT"] \
        == "error"
    # the real config as shipped passes kubeadm's REDIRECT/COMMENT (every shared config has them)
    assert "kernel.option_missing.NETFILTER_XT_TARGET_REDIRECT" not in sev(
        run(real(kbase, config), NF, "nftables", "kubeadm", "cilium"))
