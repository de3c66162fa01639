# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Integrity of the requirement catalog (data side)."""
from __future__ import annotations

import itertools
import re

import pytest

from kntest import kernel_roots as kr

from ansible_collections.kubenode.netfilter.plugins.module_utils import _kernel_config as kc
from ansible_collections.kubenode.netfilter.plugins.module_utils import _catalog as req
from ansible_collections.kubenode.netfilter.plugins.module_utils._version import version_tuple

CAT = req.CATALOG
COMBOS = list(itertools.product(req.MODES, req.BACKENDS, req.FAMILIES))


def _overlap(a, b):
    return bool(set(a) & set(b))


def test_no_duplicate_entries():
    for a, b in itertools.combinations(CAT, 2):
        same = (a.symbol, a.component, a.any_of) == (b.symbol, b.component, b.any_of)
        dists = _overlap(a.distributions or req.DISTRIBUTIONS, b.distributions or req.DISTRIBUTIONS)
        assert not (same and dists and _overlap(a.modes, b.modes) and _overlap(a.backends, b.backends)
                    and _overlap(a.families, b.families)), (a, b)


@pytest.mark.parametrize("entry", CAT, ids=lambda e: "%s@%s" % (e.symbol, e.component))
def test_entry_fields(entry):
    assert re.match(r"^[A-Z0-9_]+$", entry.symbol) and not entry.symbol.startswith("CONFIG_")
    assert entry.component in req.COMPONENTS
    assert entry.modes and set(entry.modes) <= set(req.MODES)
    assert entry.backends and set(entry.backends) <= set(req.BACKENDS)
    assert entry.families and set(entry.families) <= set(req.FAMILIES)
    assert entry.source.strip(), "every entry cites its upstream source"
    if entry.component == "kube-proxy":
        assert "none" not in entry.modes
    for kind, name in entry.xtables:
        assert kind in ("match", "target") and name
        assert (name.isupper()) == (kind == "target"), "targets are upper case, matches lower case"
    if entry.kernel_min and entry.kernel_before:
        assert version_tuple(entry.kernel_min) < version_tuple(entry.kernel_before)
    if entry.module_before:
        assert entry.module


# symbol prefix -> plausible module name prefix
MODULE_RULES = [
    (r"^NETFILTER_XT_(MATCH|TARGET)_(\w+)$", lambda m, s: m.lower().startswith("xt_")),
    (r"^NETFILTER_XT_(MARK|NAT|SET)$", lambda m, s: m == "xt_" + s.rsplit("_", 1)[1].lower()),
    (r"^IP_NF_(FILTER|NAT|MANGLE)$", lambda m, s: m == "iptable_" + s.rsplit("_", 1)[1].lower()),
    (r"^IP6_NF_(FILTER|NAT|MANGLE)$", lambda m, s: m == "ip6table_" + s.rsplit("_", 1)[1].lower()),
    (r"^IP_NF_(TARGET|MATCH)_", lambda m, s: m.startswith("ipt_")),
    (r"^IP6_NF_(TARGET|MATCH)_", lambda m, s: m.startswith("ip6t_")),
    (r"^IP_VS", lambda m, s: m.startswith("ip_vs")),
    (r"^IP_SET", lambda m, s: m.startswith("ip_set")),
    (r"^NFT_", lambda m, s: m.startswith("nft_")),
    (r"^NF_", lambda m, s: m.startswith("nf_")),
]


@pytest.mark.parametrize("symbol, module", sorted({(e.symbol, e.module) for e in CAT if e.module}))
def test_module_mapping_plausible(symbol, module):
    assert re.match(r"^[a-z0-9_]+$", module.replace("MASQUERADE", "masquerade").replace("REJECT", "reject")
                    .replace("REDIRECT", "redirect").replace("NFLOG", "nflog").replace("TPROXY", "tproxy")
                    .replace("CT", "ct"))
    for pattern, check in MODULE_RULES:
        if re.match(pattern, symbol):
            assert check(module, symbol), (symbol, module)
            break


def test_module_map_consistent_per_version():
    """On any one kernel version a module is built by one symbol, except the documented shared ones."""
    shared_ok = {"ip_tables", "ip6_tables", "xt_MASQUERADE", "xt_mark"}
    for version in ("4.14.0", "5.0.0", "5.10.52", "6.8.0", "6.12.0", "6.18.45", None):
        by_module = {}
        for symbol, module in req.module_pairs(version):
            by_module.setdefault(module, set()).add(symbol)
        for module, symbols in by_module.items():
            assert len(symbols) == 1 or module in shared_ok, (version, module, symbols)
    mapping = req.option_module_map("6.18.45")
    assert mapping["NETFILTER_XT_MATCH_STATISTIC"] == "xt_statistic"
    assert "IP_NF_IPTABLES" not in mapping and mapping["IP_NF_IPTABLES_LEGACY"] == "ip_tables"
    assert req.option_module_map("5.0.0")["IP_NF_TARGET_MASQUERADE"] == "ipt_MASQUERADE"
    assert "IP_NF_TARGET_MASQUERADE" not in req.option_module_map("5.10.0")


def test_catalog_symbols_sorted_unique():
    symbols = req.catalog_symbols()
    assert symbols == sorted(set(symbols)) and set(symbols) == {e.symbol for e in CAT}


def test_any_of_groups_consistent():
    groups = req.any_of_groups()
    assert groups
    for name, members in groups.items():
        assert len(members) >= 2, name
        assert len({m.component for m in members}) == 1, name
        assert len({m.families for m in members}) == 1, name
        assert name.startswith(members[0].component + ":"), name
        assert len({m.symbol for m in members}) == len(members), name
        # for every kernel version at least one alternative exists
        for version in ("4.14.0", "4.19.0", "5.0.0", "5.1.0", "5.10.0", "6.9.0", "6.18.0"):
            assert any(m.applies_to_kernel(version) for m in members), (name, version)


@pytest.mark.parametrize("mode, backend, family", COMBOS)
def test_every_combination_selects_entries(mode, backend, family):
    for cni in req.CNIS + ("other", None):
        entries = req.options_for(mode, backend, family, cni=cni)
        assert entries
        comps = {e.component for e in entries}
        assert ("kube-proxy" in comps) == (mode != "none")
        assert "kubelet" in comps
        if cni in req.CNIS:
            assert "cni:" + cni in comps


@pytest.mark.parametrize("backend", req.BACKENDS)
@pytest.mark.parametrize("family", req.FAMILIES)
def test_iptables_mode_essentials(backend, family):
    symbols = {e.symbol for e in req.options_for("iptables", backend, family, component="kube-proxy",
                                                 required_only=True)}
    for sym in ("NETFILTER_XT_MATCH_STATISTIC", "NETFILTER_XT_MATCH_COMMENT", "NETFILTER_XT_MATCH_ADDRTYPE",
                "NETFILTER_XT_MATCH_CONNTRACK", "NETFILTER_XT_MATCH_RECENT", "NETFILTER_XT_NAT", "NF_NAT",
                "NF_CONNTRACK", "NETFILTER_XT_TARGET_MASQUERADE", "NETFILTER_XTABLES"):
        assert sym in symbols, sym
    assert ("IP_NF_TARGET_REJECT" if family == "ipv4" else "IP6_NF_TARGET_REJECT") in symbols
    assert "NETFILTER_XT_MATCH_IPVS" not in symbols
    legacy = {"IP_NF_IPTABLES", "IP_NF_FILTER", "IP_NF_NAT"} if family == "ipv4" else {"IP6_NF_IPTABLES",
                                                                                       "IP6_NF_FILTER", "IP6_NF_NAT"}
    nft = {"NF_TABLES", "NFT_COMPAT", "NFT_NAT", "NFT_CT", "NF_TABLES_IPV4" if family == "ipv4" else "NF_TABLES_IPV6"}
    if backend == "legacy":
        assert legacy <= symbols and not (nft & symbols)
    else:
        assert nft <= symbols and not (legacy & symbols)


def test_xt_match_ipvs_only_where_a_source_uses_it():
    users = {(e.component, e.modes) for e in CAT if e.symbol == "NETFILTER_XT_MATCH_IPVS"}
    # kube-proxy's own ipvs proxier writes -m ipvs too (KUBE-IPVS-OUT-FILTER, kubernetes/kubernetes#119791)
    assert users == {("cni:kube-router", ("none",)), ("cni:calico", ("ipvs",)), ("cni:canal", ("ipvs",)),
                     ("kube-proxy", ("ipvs",))}
    for mode in ("iptables", "nftables"):
        for backend, family in itertools.product(req.BACKENDS, req.FAMILIES):
            for cni in ("kube-router", "flannel", "cilium", None):
                assert "NETFILTER_XT_MATCH_IPVS" not in {
                    e.symbol for e in req.options_for(mode, backend, family, cni=cni)}


def test_nftables_mode():
    symbols = {e.symbol for e in req.options_for("nftables", "nft", "ipv4", component="kube-proxy")}
    assert {"NF_TABLES", "NF_TABLES_IPV4", "NFT_CT", "NFT_NAT", "NFT_MASQ", "NFT_NUMGEN", "NFT_FIB_IPV4",
            "NF_TABLES_INET"} <= symbols
    assert "NETFILTER_XT_MATCH_STATISTIC" not in symbols
    reqs = {(r.what, r.minimum) for r in req.version_requirements_for("nftables")}
    assert reqs == {("kernel", "5.13"), ("nft", "1.0.1")}
    assert req.version_requirements_for("iptables") == []


def test_ipvs_mode():
    symbols = {e.symbol for e in req.options_for("ipvs", "legacy", "ipv4", component="kube-proxy")}
    assert {"IP_VS", "IP_VS_RR", "IP_VS_NFCT", "IP_SET", "NETFILTER_XT_SET", "IP_SET_HASH_IPPORT"} <= symbols
    assert "NETFILTER_XT_MATCH_STATISTIC" not in symbols


def test_on_demand_flags():
    flags = {(e.symbol, e.component): e.on_demand for e in CAT}
    assert flags[("BRIDGE_NETFILTER", "cni:flannel")] is False and ("BRIDGE_NETFILTER", "kube-proxy") not in flags
    assert flags[("NETFILTER_XT_MATCH_STATISTIC", "kube-proxy")] is True
    assert flags[("IP_VS_RR", "kube-proxy")] is True
    assert all(e.on_demand for e in CAT if e.xtables and e.module)


def test_kernel_version_filter():
    old = {e.symbol for e in req.options_for("iptables", "legacy", "ipv4", component="kube-proxy",
                                             kernel_version="4.14.0")}
    new = {e.symbol for e in req.options_for("iptables", "legacy", "ipv4", component="kube-proxy",
                                             kernel_version="6.18.0")}
    assert {"NF_NAT_IPV4", "NF_CONNTRACK_IPV4", "NF_NAT_MASQUERADE_IPV4"} <= old
    assert "NETFILTER_XT_TARGET_MASQUERADE" not in old and "IP_NF_TARGET_MASQUERADE" in old
    assert {"NETFILTER_XTABLES_LEGACY", "IP_NF_IPTABLES_LEGACY", "NETFILTER_XT_TARGET_MASQUERADE"} <= new
    assert not ({"NF_NAT_IPV4", "NF_NAT_MASQUERADE_IPV4"} & new)
    legacy_toggles = [e for e in CAT if e.symbol in ("NETFILTER_XTABLES_LEGACY", "IP_NF_IPTABLES_LEGACY")]
    assert legacy_toggles and all(e.if_defined for e in legacy_toggles)


def test_bad_selection_arguments():
    for args in (("bogus", "nft", "ipv4"), ("iptables", "bogus", "ipv4"), ("iptables", "nft", "ipv5")):
        with pytest.raises(ValueError):
            req.options_for(*args)


@pytest.mark.parametrize("path", kr.fixture_configs(), ids=lambda p: p.name)
def test_catalog_symbols_known_to_real_kernels(path):
    """Most catalog symbols that exist on a fixture's kernel version are spelled as that kernel spells them."""
    config = kc.read_config(str(path))
    applicable = {e.symbol for e in CAT if e.applies_to_kernel(config.header_version) and not e.if_defined}
    unknown = sorted(s for s in applicable if config.state(s) == "absent")
    # the few absent ones are options a kernel may legitimately lack (dependencies off), never typos
    assert len(unknown) <= 12, unknown


# ---- every mode, CNI and distribution has a row in every table ----------------------------------------------------

def test_every_mode_cni_and_distribution_has_a_row_in_every_table():
    assert set(req.MODE_ROWS) == set(req.MODES)
    assert set(req.CNI_ROWS) == set(req.CNIS) | {"other"} and req.CNI_CHOICES == tuple(req.CNI_ROWS)
    assert set(req.DISTRIBUTION_ROWS) == set(req.DISTRIBUTIONS)
    components = {entry.component for entry in req.CATALOG}
    for cni in req.CNIS:
        assert "cni:" + cni in components, cni  # a CNI of the catalog has kernel rows
    for mode, row in req.MODE_ROWS.items():
        assert set(row.kube_proxy_tools + row.ipv6_tools) <= set(req.TOOLS), mode
        assert row.hint_severity in req.SEVERITIES and row.source, mode
        assert any(mode in entry.modes for entry in req.CATALOG), mode
    for cni, row in req.CNI_ROWS.items():
        assert row.host_iptables in req.SEVERITIES and row.host_iptables_why and row.source, cni
        assert row.bridge in (True, False, None), cni
    for name, row in req.DISTRIBUTION_ROWS.items():
        assert row.kube_proxy_runs in ("host", "k3s", "image"), name
        assert set(row.bundled_tools) <= set(req.TOOLS) and all(d.startswith("/") for d in row.bundled_dirs), name
        assert not row.bundled_tools or row.bundled_dirs, name  # bundled tools are looked for somewhere
    for os_name, packages in req.TOOL_PACKAGES.items():
        assert set(packages) == set(req.TOOLS), os_name
    assert set(req.REMEDY_FLAGS.values()) and all(v.startswith("kubenode_") for v in req.REMEDY_FLAGS.values())


def test_bundled_dirs_and_packages_lookups():
    assert req.bundled_dirs("k3s") == ["/var/lib/rancher/k3s/data/current/bin",
                                       "/var/lib/rancher/k3s/data/current/bin/aux"]
    assert req.bundled_dirs("generic") == [] and req.bundled_dirs("nonsense") == [] and req.bundled_dirs(None) == []
    assert req.tool_packages("RedHat", "RedHat", "8")["iptables"] == "iptables"
    assert req.tool_packages("Rocky", "RedHat", "9")["iptables"] == "iptables-nft"
    assert req.tool_packages("Gentoo", "Gentoo", "2") is None
    assert req.extra_modules_package("Ubuntu", "Debian", "6.8.0-1-generic") == "linux-modules-extra-6.8.0-1-generic"
    assert req.extra_modules_package("Debian", "Debian", "6.1.0-18-amd64") is None
