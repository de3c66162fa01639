# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tables over _remediation: the plans are made from findings only.

Fixture roots (kntest.kernel_roots) and the shared real kernel configs (plus copies derived under tmp_path) go through
the real kernel_config_facts gathering; netfilter facts of the documented shape (kntest.facts.netfilter_facts) carry
the host backend the case wants; _findings.evaluate(..., include_passed=True) (with the OS keys of ansible_facts where
a case names a distribution) decides; the plan functions turn the findings (as dicts) into what the roles change.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import kntest
from kntest import facts as kf
from kntest import kernel_roots as kr

from ansible_collections.kubenode.netfilter.plugins.module_utils import _catalog as cat
from ansible_collections.kubenode.netfilter.plugins.module_utils import _findings as fnd
from ansible_collections.kubenode.netfilter.plugins.module_utils import _remediation as rem
from ansible_collections.kubenode.netfilter.plugins.modules.kernel_config_facts import gather

RELEASE = "6.1.0-test-amd64"
ROLES = kntest.REPO / "roles"
DEBIAN = kf.os_facts("Debian", "Debian", "12")

# What each mode x backend needs (IPv4, no CNI), on a 6.1 kernel: the catalog as the findings evaluate it.
MODE_MODULES = {
    # generic distribution, CNI other: br_netfilter belongs to the bridge-based CNIs and REDIRECT / COMMENT to kubeadm's
    # and k0s's own checks (issue 12); ipvs mode also needs the REJECT target, the dummy device and (for LoadBalancer
    # source ranges) the ipvs match
    ("iptables", "nft"): ["ipt_REJECT", "nf_conntrack", "nf_nat", "nf_tables", "nft_compat", "nft_ct", "nft_nat",
                          "x_tables", "xt_addrtype", "xt_comment", "xt_conntrack", "xt_mark", "xt_MASQUERADE", "xt_nat",
                          "xt_recent", "xt_statistic"],
    ("iptables", "legacy"): ["ip_tables", "ipt_REJECT", "iptable_filter", "iptable_mangle", "iptable_nat",
                             "nf_conntrack", "nf_nat", "x_tables", "xt_addrtype", "xt_comment", "xt_conntrack",
                             "xt_mark", "xt_MASQUERADE", "xt_nat", "xt_recent", "xt_statistic"],
    ("nftables", "nft"): ["nf_conntrack", "nf_nat", "nf_tables", "nft_ct", "nft_fib_ipv4", "nft_masq", "nft_nat",
                          "nft_numgen", "nft_reject"],
    ("ipvs", "nft"): ["dummy", "ip_set", "ip_set_bitmap_port", "ip_set_hash_ip", "ip_set_hash_ipport",
                      "ip_set_hash_ipportip", "ip_set_hash_ipportnet", "ip_vs", "ip_vs_rr", "ipt_REJECT",
                      "nf_conntrack", "nf_nat", "nf_tables", "nft_compat", "nft_ct", "nft_nat", "x_tables",
                      "xt_addrtype", "xt_comment", "xt_conntrack", "xt_ipvs", "xt_mark", "xt_MASQUERADE", "xt_set"],
    ("none", "nft"): ["nf_tables", "nft_nat"],
}
CATALOG_MODULES = sorted({module for _symbol, module in cat.module_pairs("6.1.0")})


def ko(name: str) -> str:
    return "kernel/net/netfilter/%s.ko" % name


def facts_of(root: Path, extra_options=()) -> dict:
    facts, error = gather(str(root), extra_options=list(extra_options) + list(cat.EXTRA_MODULE_OPTIONS.values()))
    assert error is None
    return facts


def config_text(name: str, overrides=None) -> str:
    text = (kr.KERNEL_CONFIGS / name).read_text()
    return kr.derive_config(text, overrides) if overrides else text


def alpine_root(base: Path, absent=(), loaded=(), name="alpine-lts-x86_64.config", overrides=None) -> dict:
    """alpine-lts (netfilter as =m): every catalog module installed (modules.dep) but ``absent``, ``loaded`` in
    /proc/modules."""
    return facts_of(kr.build_root(base, RELEASE, config_text(name, overrides),
                                  modules_dep=[ko(m) for m in CATALOG_MODULES if m not in absent],
                                  proc_modules=list(loaded)))


def module_plan(kernel, mode, backend="nft", os=None, netfilter=None, extra=(), load_configs=False, **kwargs):
    """Findings for ``kernel`` with a host whose iptables uses ``backend`` (no Kubernetes chains yet), then the
    kernel_modules plan. Returns (plan, findings)."""
    nf = kf.netfilter_facts(iptables=backend) if netfilter is None else netfilter
    findings = kf.finding_dicts(kernel, nf, mode, os=os, **kwargs)
    cni = kwargs.get("cni")
    return rem.kernel_modules_plan(findings, kernel, mode, cni=cni, extra=extra, load_configs=load_configs), findings


def lower(names):
    return sorted(names, key=str.lower)


def by_id(findings, fid):
    [found] = [f for f in findings if f["id"] == fid]
    return found


def remedies_of(findings, kind):
    return [f["remedy"] for f in findings if f.get("remedy") and f["remedy"]["kind"] == kind]


def content_lines(text):
    """The non-comment lines of a file the roles write."""
    return [line for line in text.splitlines() if line and not line.startswith("#")]


# ---- modules per mode and backend -------------------------------------------------------------------------------

@pytest.mark.parametrize("mode,backend", sorted(MODE_MODULES))
def test_mode_modules_follow_the_catalog(tmp_path, mode, backend):
    """Every catalog module installed, none loaded: the plan loads exactly what the mode x backend needs."""
    plan, findings = module_plan(alpine_root(tmp_path / "root"), mode, backend)
    assert plan["load"] == MODE_MODULES[(mode, backend)]
    assert plan["persist"] == MODE_MODULES[(mode, backend)]
    assert plan["untouched"] == [] and plan["missing"] == [] and plan["unknown"] == []
    assert {n["why"] for n in plan["needs"]} <= {f["id"] for f in findings}


def test_mode_modules_ipv6_and_cni_add_modules(tmp_path):
    kernel = alpine_root(tmp_path / "root")
    v4, _unused = module_plan(kernel, "iptables", "legacy")
    both, _unused = module_plan(kernel, "iptables", "legacy", ipv6=True, cni="kube-router")
    assert {"ip6_tables", "ip6table_filter", "ip6table_nat", "ip6t_REJECT", "ip_set", "xt_set", "xt_NFLOG"} <= (
        set(both["load"]) - set(v4["load"]))
    assert both["cni"] == "kube-router" and "CNI kube-router" in both["modules_load_content"]


@pytest.mark.parametrize("bad,match", [
    (dict(proxy_mode="userspace"), "proxy_mode must be one of"),
    (dict(cni="weave"), "cni must be one of"),
    (dict(distribution="openshift"), "distribution must be one of"),
    (dict(kube_router_image_backend="xtables"), "kube_router_image_backend must be one of"),
])
def test_unknown_choices_are_refused_by_the_evaluation(bad, match):
    args = dict(proxy_mode="iptables")
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        fnd.evaluate(kf.host(None, kf.netfilter_facts()), include_passed=True, **args)


# ---- states per mode from fixture roots -------------------------------------------------------------------------

@pytest.mark.parametrize("mode,backend,loaded,absent_files", [
    ("iptables", "nft", ["nf_conntrack", "xt_recent"], ["xt_statistic"]),
    ("iptables", "legacy", ["ip_tables"], ["iptable_mangle", "xt_recent"]),
    ("nftables", "nft", [], ["nft_numgen"]),
    ("ipvs", "nft", ["ip_vs"], []),
    # modules that an any-of group (or a transitional alias without a module) also names: still needed
    ("iptables", "nft", [], ["xt_MASQUERADE", "xt_mark"]),
])
def test_states_from_a_fixture_root(tmp_path, mode, backend, loaded, absent_files):
    """alpine-lts (everything =m): modules.dep lists every needed module but `absent_files`, /proc/modules lists
    `loaded`: those are loaded (untouched, persisted), the rest loadable (loaded + persisted), the absent missing."""
    needed = MODE_MODULES[(mode, backend)]
    plan, findings = module_plan(alpine_root(tmp_path / "root", absent_files, loaded), mode, backend,
                                 os=kf.os_facts("Alpine", "Alpine", "3"))
    loadable = [m for m in needed if m not in loaded and m not in absent_files]
    assert plan["load"] == lower(loadable)
    assert plan["persist"] == lower(loadable + loaded)
    assert plan["untouched"] == lower(loaded)
    assert lower(m["module"] for m in plan["missing"]) == lower(absent_files)
    for missing in plan["missing"]:
        finding = by_id(findings, missing["id"])
        assert missing["id"] == "kernel.module_missing." + missing["module"] and finding["severity"] == "error"
        assert missing["packages"] == [] and finding["remedy"] is None  # Alpine splits no modules out
        assert "=m" in missing["message"] and "CONFIG_" in missing["message"]
        assert "not installed" in missing["message"] and missing["module"] in missing["message"]
        # no package ships it: the fix must not send the user to kubenode_kernel_modules_install_extra
        assert "kubenode_kernel_modules_install_extra" not in missing["fix"], missing["fix"]
    assert plan["unfixable"] == plan["missing"] and plan["packages"] == []
    assert plan["unknown"] == []


def test_ko_files_on_disk_without_modules_dep_are_loadable(tmp_path):
    root = kr.build_root(tmp_path / "root", RELEASE, config_text("alpine-virt-x86_64.config"),
                         ko_files=[ko(m) + ".zst" for m in MODE_MODULES[("nftables", "nft")]], proc_modules=[])
    plan, _unused = module_plan(facts_of(root), "nftables", "nft")
    assert plan["load"] == lower(MODE_MODULES[("nftables", "nft")])
    assert plan["missing"] == []


def test_builtin_modules_are_never_loaded(tmp_path):
    """talos builds most of netfilter in (=y); modules.builtin lists another one that the config has as =m."""
    text = config_text("talos-amd64.config", {"NETFILTER_XT_MATCH_RECENT": "m"})
    root = kr.build_root(tmp_path / "root", "6.18.45-talos", text,
                         modules_builtin=["kernel/net/netfilter/xt_recent.ko"], proc_modules=[])
    plan, findings = module_plan(facts_of(root), "iptables", "nft")
    assert plan["load"] == [] and plan["persist"] == [] and plan["missing"] == []
    for symbol in ("NETFILTER_XT_MATCH_RECENT", "NETFILTER_XT_MATCH_STATISTIC"):
        assert by_id(findings, "kernel.option_ok." + symbol)["remedy"] is None  # nothing to load or persist
    # built-in modules need nothing: no remedy, so the plan names them nowhere (untouched = already loaded)
    assert plan["untouched"] == [] and plan["needs"] == []


@pytest.mark.parametrize("os,package", [
    (kf.os_facts("Ubuntu", "Debian", "24"), "linux-modules-extra-%s" % RELEASE),
    (kf.os_facts("Rocky", "RedHat", "9"), "kernel-modules-extra-%s" % RELEASE),
    (kf.os_facts("AlmaLinux", "RedHat", "10"), "kernel-modules-extra-%s" % RELEASE),
    (kf.os_facts("Debian", "Debian", "12"), None),
    (kf.os_facts("Alpine", "Alpine", "3"), None),
    ({}, None),  # the OS not gathered: no package can be named
])
def test_missing_module_file_and_the_extra_package(tmp_path, os, package):
    plan, findings = module_plan(alpine_root(tmp_path / "root", absent=["xt_statistic"]), "iptables", "nft", os=os)
    [missing] = plan["missing"]
    assert (missing["id"], missing["module"], missing["packages"]) == (
        "kernel.module_missing.xt_statistic", "xt_statistic", [package] if package else [])
    assert "CONFIG_NETFILTER_XT_MATCH_STATISTIC=m" in missing["message"]
    finding = by_id(findings, missing["id"])
    if package:
        assert finding["remedy"] == {"kind": "install_package", "packages": [package], "module": "xt_statistic",
                                     "release": RELEASE, "flag": "kubenode_kernel_modules_install_extra"}
        assert "kubenode_kernel_modules_install_extra" in missing["fix"]
    else:
        assert finding["remedy"] is None
        assert "kubenode_kernel_modules_install_extra" not in missing["fix"], missing["fix"]
    assert plan["packages"] == ([package] if package else [])
    assert (plan["unfixable"] == []) == (package is not None)


def test_option_not_set_is_missing_and_no_package_helps(tmp_path):
    """A cloud-style kernel without the option: even on Ubuntu no package adds it."""
    text = config_text("talos-amd64.config", {"NFT_NUMGEN": "n"})
    root = kr.build_root(tmp_path / "root", "6.18.45-talos", text, proc_modules=[])
    plan, findings = module_plan(facts_of(root), "nftables", "nft", os=kf.os_facts("Ubuntu", "Debian", "24"))
    [missing] = plan["missing"]
    assert (missing["id"], missing["module"], missing["packages"]) == (
        "kernel.option_missing.NFT_NUMGEN", "NFT_NUMGEN", [])
    assert by_id(findings, missing["id"])["remedy"] is None
    assert "CONFIG_NFT_NUMGEN is not set" in missing["message"]
    assert "no module can add" in missing["fix"] and "linux-lts" in missing["fix"]
    assert plan["unfixable"] == plan["missing"] and plan["packages"] == []


def test_kernel_without_module_support(tmp_path):
    """CONFIG_MODULES unset, =m options: missing, and no extra package can help (the fix says why)."""
    text = config_text("wsl2-x86_64.config", {"MODULES": "n"})
    root = kr.build_root(tmp_path / "root", "6.18.20-wsl2", text, modules_dir=False)
    plan, _unused = module_plan(facts_of(root), "iptables", "nft", os=kf.os_facts("Ubuntu", "Debian", "24"))
    assert plan["load"] == [] and plan["persist"] == [] and plan["modules_enabled"] is False
    assert "xt_statistic" in [m["module"] for m in plan["missing"]]
    assert plan["packages"] == [] and plan["unfixable"] == plan["missing"]
    for missing in plan["missing"]:
        assert "module support" in missing["fix"] or "CONFIG_MODULES" in missing["fix"], missing["fix"]


def test_this_hosts_kernel_has_everything_built_in():
    """The real kernel here (CONFIG_MODULES unset, netfilter built in): nothing to load, nothing missing."""
    facts, error = gather("/")
    assert error is None and facts["found"]
    if facts["modules_enabled"] is not False:
        pytest.skip("this kernel has module support; the test is about the built-in-only machine")
    for mode in ("iptables", "nftables"):
        for backend in ("nft", "legacy"):
            plan, findings = module_plan(facts, mode, backend, ipv6=True)
            assert plan["load"] == [] and plan["persist"] == [] and plan["missing"] == [], (mode, backend, plan)
            assert len([f for f in findings if f["id"].startswith("kernel.option_ok.")]) >= 10
            assert plan["untouched"] == [] and plan["needs"] == [], (mode, backend, plan["untouched"])


def test_modules_disabled_persists_but_loads_nothing(tmp_path):
    """kernel.modules_disabled=1: no modprobe can work until reboot; the modules are only written for the boot."""
    nf = kf.netfilter_facts(iptables="nft", sysctl={"kernel.modules_disabled": 1})
    plan, _unused = module_plan(alpine_root(tmp_path / "root"), "nftables", netfilter=nf)
    assert plan["load"] == [] and plan["persist"] == MODE_MODULES[("nftables", "nft")]


def test_second_run_after_loading_writes_the_same_file(tmp_path):
    first, _unused = module_plan(alpine_root(tmp_path / "a"), "iptables")
    second, _unused = module_plan(alpine_root(tmp_path / "b", loaded=first["load"]), "iptables")
    assert first["load"] and second["load"] == [] and second["untouched"] == first["load"]
    assert first["modules_load_content"] == second["modules_load_content"]
    assert first["modules_load_content"] == rem.modules_load_content(second["persist"], "iptables")


def test_modules_load_content():
    text = rem.modules_load_content(["xt_statistic", "br_netfilter", "xt_MASQUERADE", "br-netfilter", " "], "iptables",
                                    "flannel")
    lines = text.splitlines()
    assert lines[0].startswith("# Managed by Ansible: kubenode.netfilter.kernel_modules")
    assert "iptables mode, CNI flannel" in lines[1]
    assert [line for line in lines if not line.startswith("#")] == ["br_netfilter", "xt_MASQUERADE", "xt_statistic"]
    assert text.endswith("\n")


@pytest.mark.parametrize("extra,overrides,dep,state", [
    (["overlay"], {}, ["overlay"], "loadable"),          # a well-known extra module: the facts decide, as for the
    (["overlay"], {}, [], "missing"),                    # catalog's (OVERLAY_FS=m but no overlay.ko installed)
    (["overlay"], {"OVERLAY_FS": "y"}, [], "builtin"),
    (["overlay"], {"OVERLAY_FS": "n"}, [], "missing"),
    (["br-netfilter"], {}, [], "loadable"),              # in the catalog: the facts' state (modules.dep)
    (["some_vendor_mod"], {}, [], "loadable"),           # unknown to the collection: modprobe is the check
])
def test_extra_modules_go_the_same_path(tmp_path, extra, overrides, dep, state):
    root = kr.build_root(tmp_path / "root", RELEASE, config_text("alpine-lts-x86_64.config", overrides),
                         modules_dep=[ko("br_netfilter")] + [ko(m) for m in dep], proc_modules=[])
    plan, _unused = module_plan(facts_of(root), "none", "nft", extra=extra)
    name = extra[0].replace("-", "_")
    need = [n for n in plan["needs"] if n["module"] == name]
    assert need and need[0]["state"] == state and need[0]["why"] == "extra"
    assert (name in plan["load"]) == (state == "loadable")
    assert (name in plan["persist"]) == (state == "loadable")
    assert (name in [m["module"] for m in plan["missing"]]) == (state == "missing")
    if state == "missing":
        [missing] = [m for m in plan["missing"] if m["module"] == name]
        assert missing["id"] == "extra." + name and "kubenode_kernel_modules_extra" in missing["fix"]
        assert missing["packages"] == [] and missing in plan["unfixable"]


def test_extra_unknown_module_on_a_kernel_without_module_support(tmp_path):
    text = config_text("wsl2-x86_64.config", {"MODULES": "n"})
    root = kr.build_root(tmp_path / "root", RELEASE, text, modules_dir=False)
    plan, _unused = module_plan(facts_of(root), "none", "nft", extra=["some_vendor_mod"])
    assert plan["unknown"] == ["some_vendor_mod"] and "some_vendor_mod" not in plan["load"]


def test_no_config_found_unknown_and_configs(tmp_path):
    root = kr.build_root(tmp_path / "root", RELEASE, None, proc_modules=[])
    facts = facts_of(root)
    assert not facts["found"]
    plan, findings = module_plan(facts, "iptables", "nft", load_configs=True)
    remedy = by_id(findings, "kernel.config_unknown")["remedy"]
    assert (remedy["kind"], remedy["module"], remedy["flag"]) == (
        "load_configs", "configs", "kubenode_kernel_modules_load_configs")
    assert plan["load_configs"] and plan["load"] == [] and plan["missing"] == []
    assert not module_plan(facts, "iptables", "nft")[0]["load_configs"]
    # nothing could be checked: every module the mode needs is reported unknown (by name or by its option)
    for module in MODE_MODULES[("iptables", "nft")]:
        names = {module} | {"CONFIG_" + symbol for symbol, mod in cat.module_pairs(None) if mod == module}
        assert any(name in entry.replace(" or ", " ").split() for entry in plan["unknown"] for name in names), (
            module, plan["unknown"])


# ---- the iptables backend of the modules: the findings' decision --------------------------------------------------

def test_module_backend_follows_the_kubernetes_chains(tmp_path):
    """The host's iptables uses nft, the node's chains are in legacy: the findings pick legacy (and say so)."""
    nf = kf.netfilter_facts(iptables="nft", hint={"KUBE-IPTABLES-HINT": ["legacy"]}, detected_mode="legacy",
                            sysctl={"net.ipv4.ip_forward": 1, "net.bridge.bridge-nf-call-iptables": None})
    plan, findings = module_plan(alpine_root(tmp_path / "root"), "iptables", netfilter=nf, cni="flannel")
    assert set(MODE_MODULES[("iptables", "legacy")]) <= set(plan["load"]) and "nft_compat" not in plan["load"]
    assert by_id(findings, "netfilter.hint_in_other_backend")["severity"] == "error"
    assert plan["sysctl_changes"] == {"net.bridge.bridge-nf-call-iptables": {
        "current": None, "wanted": 1, "exists": False, "requires_module": "br_netfilter"}}


def test_module_backend_without_netfilter_facts_is_nft(tmp_path):
    kernel = alpine_root(tmp_path / "root")
    findings = kf.finding_dicts(kernel, None, "iptables")
    assert by_id(findings, "netfilter.facts_missing")["severity"] == "error"
    plan = rem.kernel_modules_plan(findings, kernel, "iptables")
    assert plan["load"] == MODE_MODULES[("iptables", "nft")] and plan["sysctl"] == {}


def test_module_backend_k3s_bundled_legacy_iptables(tmp_path):
    """k3s without host iptables: its bundled iptables (legacy here) is the backend, as the preflight judges it."""
    bundled = {"/var/lib/rancher/k3s/data/current/bin/aux": {
        "iptables": kf.tool("/var/lib/rancher/k3s/data/current/bin/aux/iptables", backend="legacy")}}
    nf = kf.netfilter_facts(iptables=None, bundled=bundled)
    plan, _unused = module_plan(alpine_root(tmp_path / "root"), "iptables", netfilter=nf, distribution="k3s")
    assert plan["load"] == MODE_MODULES[("iptables", "legacy")]


# ---- sysctls ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode,cni,ipv6,wanted", [
    ("iptables", "other", False, {"net.ipv4.ip_forward": 1}),  # bridge sysctls only for bridge-based CNIs
    ("iptables", "calico", False, {"net.ipv4.ip_forward": 1}),
    ("nftables", "flannel", True, {"net.bridge.bridge-nf-call-ip6tables": 1, "net.bridge.bridge-nf-call-iptables": 1,
                                   "net.ipv4.ip_forward": 1, "net.ipv6.conf.all.forwarding": 1}),
    ("none", "kube-router", True, {"net.ipv4.ip_forward": 1, "net.ipv6.conf.all.forwarding": 1}),
    ("ipvs", "cilium", False, {"net.ipv4.ip_forward": 1}),
])
def test_sysctl_wanted(tmp_path, mode, cni, ipv6, wanted):
    plan, _unused = module_plan(alpine_root(tmp_path / "root"), mode, cni=cni, ipv6=ipv6)
    assert plan["sysctl"] == wanted
    assert plan["sysctl_changes"] == {}  # netfilter_facts has them all at 1 already


def test_sysctl_content_and_changes(tmp_path):
    kernel = alpine_root(tmp_path / "root")
    nf = kf.netfilter_facts(sysctl={"net.ipv4.ip_forward": "0", "net.bridge.bridge-nf-call-iptables": None})
    plan, _unused = module_plan(kernel, "iptables", netfilter=nf, cni="flannel")
    text = plan["sysctl_content"]
    assert text == rem.sysctl_content(plan["sysctl"], "iptables")
    assert text.splitlines()[0].startswith("# Managed by Ansible: kubenode.netfilter.kernel_modules")
    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        "net.bridge.bridge-nf-call-iptables = 1", "net.ipv4.ip_forward = 1"]
    assert plan["sysctl_changes"] == {
        "net.bridge.bridge-nf-call-iptables": {"current": None, "wanted": 1, "exists": False,
                                               "requires_module": "br_netfilter"},
        "net.ipv4.ip_forward": {"current": 0, "wanted": 1, "exists": True, "requires_module": None}}
    done = kf.netfilter_facts(sysctl={"net.ipv4.ip_forward": 1, "net.bridge.bridge-nf-call-iptables": 1})
    again, _unused = module_plan(kernel, "iptables", netfilter=done, cni="flannel")
    assert again["sysctl_changes"] == {} and again["sysctl_content"] == text


# ---- tools ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("row", sorted(cat.TOOL_PACKAGES))
def test_every_os_row_names_a_package_for_every_tool(row):
    packages = cat.TOOL_PACKAGES[row]
    assert set(packages) == set(cat.TOOLS)
    assert all(isinstance(name, str) and name.strip() == name and name for name in packages.values())


@pytest.mark.parametrize("distribution,os_family,major,iptables", [
    ("RedHat", "RedHat", "9", "iptables-nft"),
    ("Rocky", "RedHat", "10", "iptables-nft"),
    ("AlmaLinux", "RedHat", "8", "iptables"),
    ("CentOS", "RedHat", "8", "iptables"),
    ("Ubuntu", "Debian", "24", "iptables"),
    ("Alpine", "Alpine", "3", "iptables"),
    ("openSUSE Tumbleweed", "Suse", None, "iptables"),
    ("Gentoo", "Gentoo", "2", None),
])
def test_tool_packages_per_os(distribution, os_family, major, iptables):
    """RHEL 9 and 10 ship only iptables-nft; RHEL 8's iptables package is it already."""
    packages = cat.tool_packages(distribution, os_family, major)
    assert (packages or {}).get("iptables") == iptables


def test_kernel_modules_role_reports_every_extra_symbol():
    data = yaml.safe_load((ROLES / "kernel_modules" / "vars" / "main.yml").read_text())
    assert data["__kubenode_km_extra_symbols"] == sorted(set(cat.EXTRA_MODULE_OPTIONS.values()))


def tools_for(nf, mode, os=DEBIAN, install_optional=False, **kwargs):
    findings = kf.finding_dicts(None, nf, mode, os=os, **kwargs)
    return rem.tools_plan(findings, install_optional=install_optional), findings


BARE = dict(iptables=None, nft=None, ipset=None)


@pytest.mark.parametrize("mode,cni,ipv6,needed,installs", [
    # needed: the tools the findings check on a host that has them all; installs: what a bare host gets (Debian)
    ("nftables", "other", False, ["iptables", "nft"], ["iptables", "nft"]),
    ("iptables", "other", False, ["iptables"], ["iptables"]),
    ("ipvs", "other", False, ["ipset", "iptables"], ["ipset", "iptables"]),
    ("iptables", "other", True, ["ip6tables", "iptables"], ["ip6tables", "iptables"]),
    ("none", "cilium", False, ["iptables"], []),          # Cilium: the host's iptables only informs
    ("none", "kube-router", False, ["iptables"], ["iptables"]),   # no ipset: nothing requires the host's
    ("nftables", "flannel", False, ["iptables", "nft"], ["iptables", "nft"]),
    ("nftables", "cilium", False, ["iptables", "nft"], ["nft"]),
])
def test_tools_needed(mode, cni, ipv6, needed, installs):
    full, _unused = tools_for(kf.netfilter_facts(), mode, cni=cni, ipv6=ipv6)
    assert full["needed"] == needed and full["present"] == needed
    assert full["absent"] == [] and full["packages"] == []
    bare, findings = tools_for(kf.netfilter_facts(**BARE), mode, cni=cni, ipv6=ipv6)
    assert sorted(bare["absent"]) == installs
    assert bare["present"] == []
    packages = cat.TOOL_PACKAGES["Debian"]
    assert sorted(bare["packages"]) == sorted({packages[t] for t in installs})
    for tool in installs:
        assert by_id(findings, "tool.missing." + tool)["remedy"] == {
            "kind": "install_tool", "tool": tool, "package": packages[tool], "optional": False, "minimum": None,
            "flag": "kubenode_netfilter_tools_remediate"}


K3S_BIN = "/var/lib/rancher/k3s/data/current/bin"


@pytest.mark.parametrize("case,nf_kwargs,mode,kwargs,expect", [
    ("nothing to do", dict(nft="1.0.6"), "nftables", {},
     dict(present=["iptables", "nft"], absent=[], packages=[], too_old=[])),
    ("no nft", dict(nft=None), "nftables", {}, dict(absent=["nft"], packages=["nftables"])),
    ("ipvs on a bare host", dict(iptables=None, ipset=None), "ipvs", {},
     dict(absent=["ipset", "iptables"], packages=["ipset", "iptables"])),
    ("broken tool counts as absent", dict(broken=["iptables"]), "iptables", {},
     dict(absent=["iptables"], packages=["iptables"])),
    ("nft too old", dict(nft="0.9.8"), "nftables", {},
     dict(present=["iptables", "nft"], absent=[], packages=["nftables"], too_old_tools=["nft"])),
    ("k3s bundles nft", dict(nft=None, bundled={K3S_BIN: {"nft": kf.tool(K3S_BIN + "/nft", "1.0.9")}}), "nftables",
     dict(distribution="k3s"), dict(bundled_only=["nft"], absent=[], packages=[], notes=1)),
    ("k3s bundles nft, install anyway", dict(nft=None, bundled={"/b": {"nft": kf.tool("/b/nft")}}), "nftables",
     dict(distribution="k3s", install_optional=True), dict(absent=["nft"], packages=["nftables"], bundled_only=[])),
    ("bundled ignored outside k3s", dict(nft=None, bundled={"/b": {"nft": kf.tool("/b/nft")}}), "nftables",
     dict(distribution="generic"), dict(absent=["nft"], packages=["nftables"], bundled_only=[])),
])
def test_tools_plan(case, nf_kwargs, mode, kwargs, expect):
    plan, _unused = tools_for(kf.netfilter_facts(**nf_kwargs), mode, **kwargs)
    for key, value in expect.items():
        if key == "too_old_tools":
            assert [t["tool"] for t in plan["too_old"]] == value, case
            assert "older than 1.0.1" in plan["too_old"][0]["message"]
            assert plan["too_old"][0]["minimum"] == "1.0.1" and plan["too_old"][0]["package"] == "nftables"
        elif key == "notes":
            assert len(plan["notes"]) == value and "kubenode_netfilter_tools_install_on_k3s" in plan["notes"][0]
        elif key in ("absent", "packages", "present"):
            assert sorted(plan[key]) == value, (case, plan)
        else:
            assert plan[key] == value, (case, plan)


def test_tools_plan_alpine_ip6tables_and_unpackaged():
    plan, _unused = tools_for(kf.netfilter_facts(iptables=None), "iptables", os=kf.os_facts("Alpine", "Alpine", "3"),
                              ipv6=True)
    assert sorted(plan["packages"]) == ["ip6tables", "iptables"]
    for os in (kf.os_facts("Gentoo", "Gentoo", "2"), {}):  # not in the package table, or not gathered
        plan, findings = tools_for(kf.netfilter_facts(ipset=None), "ipvs", os=os)
        assert plan["unpackaged"] == ["ipset"] and plan["absent"] == ["ipset"] and plan["packages"] == []
        assert by_id(findings, "tool.missing.ipset")["remedy"]["package"] is None


# ---- the iptables alternative -----------------------------------------------------------------------------------

LEGACY_ALT = {"iptables": "/usr/sbin/iptables-legacy", "ip6tables": "/usr/sbin/ip6tables-legacy"}
NFT_ALT = {"iptables": "/usr/sbin/iptables-nft", "ip6tables": "/usr/sbin/ip6tables-nft"}


def nf_facts(host, alternatives, hint=None, legacy_rules=0, nft_rules=0, nft_tables=(), variants=True):
    """The host's iptables uses ``host``; the alternatives point at ``alternatives``; KUBE-IPTABLES-HINT sits in
    ``hint`` (None: the node has not joined)."""
    facts = kf.netfilter_facts(iptables=host, hint={"KUBE-IPTABLES-HINT": [hint]} if hint else None,
                               detected_mode=hint or host or "nft",
                               rule_counts={"legacy": legacy_rules, "nft": nft_rules, "nft_unreadable": 0},
                               nft_tables=list(nft_tables))
    facts["alternatives"] = dict(alternatives)
    if not variants:
        facts["iptables_legacy"] = facts["ip6tables_legacy"] = None
    return facts


FIREWALLD = {"family": "inet", "name": "firewalld", "owner": "foreign", "chains": 40, "rules": 12, "hooks": []}


def backend_plan(nf, **kwargs):
    findings = kf.finding_dicts(None, nf, "iptables", os=DEBIAN)
    args = dict(choice="auto", os_family="Debian", findings=findings)
    args.update(kwargs)
    return rem.iptables_backend_plan(nf, **args), findings


@pytest.mark.parametrize("case,nf,kwargs,action,target,reason_has", [
    ("keep", nf_facts("legacy", LEGACY_ALT, "nft"), dict(choice="keep"), "none", None, ["keep"]),
    ("not Debian", nf_facts("legacy", LEGACY_ALT, "nft"), dict(choice="nft", os_family="RedHat"), "unsupported",
     None, ["only on Debian and Ubuntu"]),
    ("auto, not joined", nf_facts("legacy", LEGACY_ALT), dict(), "none", None,
     ["no finding asks", "netfilter.hint_in_other_backend"]),
    ("auto, no findings given", nf_facts("legacy", LEGACY_ALT, "nft"), dict(findings=None), "none", None,
     ["no finding asks"]),
    ("auto, hint in nft, legacy empty", nf_facts("legacy", LEGACY_ALT, "nft", nft_rules=4), dict(), "switch", "nft",
     ["auto: netfilter.hint_in_other_backend", "switching", "/usr/sbin/iptables-nft"]),
    ("auto, legacy holds rules", nf_facts("legacy", LEGACY_ALT, "nft", legacy_rules=3, nft_rules=4), dict(),
     "refuse", "nft", ["3 rule(s) in the legacy iptables tables", "second, disconnected rule set",
                       "kubenode_iptables_backend_force"]),
    ("auto, legacy holds rules, forced", nf_facts("legacy", LEGACY_ALT, "nft", legacy_rules=3), dict(force=True),
     "switch", "nft", ["kubenode_iptables_backend_force: true"]),
    ("explicit legacy, firewalld in nft", nf_facts("nft", NFT_ALT, nft_tables=[FIREWALLD]), dict(choice="legacy"),
     "refuse", "legacy", ["12 rule(s) in nft table inet firewalld (foreign)"]),
    ("explicit legacy, nft empty", nf_facts("nft", NFT_ALT), dict(choice="legacy"), "switch", "legacy", ["legacy"]),
    ("auto, aligned", nf_facts("nft", NFT_ALT, "nft", nft_rules=9), dict(), "none", None, ["no finding asks"]),
    ("explicit, already aligned", nf_facts("nft", NFT_ALT, "nft", nft_rules=9), dict(choice="nft"), "none", "nft",
     ["already points"]),
    ("no legacy variant", nf_facts("nft", NFT_ALT, variants=False), dict(choice="legacy"), "unsupported", "legacy",
     ["iptables-legacy is not installed"]),
    ("no alternative at all", nf_facts("legacy", {}, "nft"), dict(), "unsupported", "nft",
     ["no iptables alternative"]),
])
def test_iptables_backend_plan(case, nf, kwargs, action, target, reason_has):
    plan, findings = backend_plan(nf, **kwargs)
    assert (plan["action"], plan["target"]) == (action, target), (case, plan["reason"])
    for text in reason_has:
        assert text in plan["reason"], (case, plan["reason"])
    if kwargs.get("choice", "auto") == "auto" and "findings" not in kwargs:
        # auto: the target is the backend of the finding's iptables_alternative remedy, or there is none
        asked = [r["backend"] for r in remedies_of(findings, "iptables_alternative")]
        assert asked == ([target] if target else []), case
    if action == "switch":
        assert plan["targets"]["iptables"] == rem.ALTERNATIVE_TARGETS[target]["iptables"]
        assert plan["record"] == nf["alternatives"]
        assert rem.parse_alternative_record(plan["record_content"]) == nf["alternatives"]
    else:
        assert plan["record"] == {} and plan["record_content"] == ""


def test_restore():
    record = rem.alternative_record_content(LEGACY_ALT)
    previous = rem.parse_alternative_record(record)
    assert previous == LEGACY_ALT
    plan, _unused = backend_plan(nf_facts("nft", NFT_ALT, "nft"), restore=True, previous=previous)
    assert plan["action"] == "switch" and plan["targets"] == LEGACY_ALT
    plan, _unused = backend_plan(nf_facts("nft", NFT_ALT, "nft", nft_rules=2), restore=True, previous=previous)
    assert plan["action"] == "refuse" and "from nft to legacy" in plan["reason"]
    plan, _unused = backend_plan(nf_facts("nft", NFT_ALT), restore=True, previous={})
    assert plan["action"] == "none" and "nothing to restore" in plan["reason"]


@pytest.mark.parametrize("text,parsed", [
    ("", {}),
    ("# comment\niptables /usr/sbin/iptables-legacy\n", {"iptables": "/usr/sbin/iptables-legacy"}),
    ("iptables relative/path\nfoo /usr/sbin/foo\nip6tables /usr/sbin/ip6tables-nft extra\n", {}),
])
def test_parse_alternative_record(text, parsed):
    assert rem.parse_alternative_record(text) == parsed


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="kubenode_iptables_backend must be one of"):
        rem.iptables_backend_plan({}, "iptables-nft")
    with pytest.raises(ValueError, match="findings must be a list"):
        rem.tools_plan(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="findings must be a list"):
        rem.kernel_modules_plan({"id": "x"}, {}, "iptables")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="each finding must be a dict with an id"):
        rem.tools_plan([{"severity": "error"}])
    with pytest.raises(ValueError, match="each finding must be a dict with an id"):
        rem.iptables_backend_plan(nf_facts("nft", NFT_ALT), os_family="Debian", findings=["tool.missing.nft"])
    with pytest.raises(ValueError, match="kernel_config facts must be a dict"):
        rem.kernel_modules_plan([], None, "iptables")  # type: ignore[arg-type]


# ---- every planned change is the remedy of a finding --------------------------------------------------------------

def _scenarios(base: Path):
    """(name, findings, kernel, mode, cni, netfilter): nodes with something to fix, of every remedy kind."""
    alpine = alpine_root(base / "alpine", absent=["xt_statistic"], loaded=["br_netfilter", "nf_conntrack"])
    noconfig = facts_of(kr.build_root(base / "noconfig", RELEASE, None, proc_modules=[]))
    k3s_nft = {K3S_BIN: {"nft": kf.tool(K3S_BIN + "/nft", "1.0.9")}}
    joined_in_nft = nf_facts("legacy", LEGACY_ALT, "nft", nft_rules=4)
    joined_in_nft["sysctl"]["net.ipv4.ip_forward"] = 0
    cases = [
        ("ubuntu, iptables, a module file missing, forwarding off, chains in the other backend", alpine,
         joined_in_nft, "iptables", dict(os=kf.os_facts("Ubuntu", "Debian", "24"), cni="flannel", ipv6=True)),
        ("no kernel config, ipvs on a bare host", noconfig, kf.netfilter_facts(iptables=None, ipset=None), "ipvs",
         dict(os=kf.os_facts("Rocky", "RedHat", "9"))),
        ("k3s, bundled nft, kube-router", alpine, kf.netfilter_facts(nft=None, bundled=k3s_nft),
         "nftables", dict(os=DEBIAN, distribution="k3s", cni="kube-router")),
        ("modules disabled, nft too old", alpine,
         kf.netfilter_facts(nft="0.9.8", sysctl={"kernel.modules_disabled": 1,
                                                 "net.bridge.bridge-nf-call-iptables": 0}), "nftables",
         dict(os=kf.os_facts("Alpine", "Alpine", "3"))),
    ]
    out = []
    for name, kernel, nf, mode, kwargs in cases:
        findings = kf.finding_dicts(kernel, nf, mode, **kwargs)
        out.append((name, findings, kernel, mode, kwargs.get("cni"), nf))
    return out


def _plans(findings, kernel, mode, cni, nf, install_optional):
    return (rem.kernel_modules_plan(findings, kernel, mode, cni=cni, load_configs=True),
            rem.tools_plan(findings, install_optional=install_optional),
            rem.iptables_backend_plan(nf, "auto", "Debian", findings=findings))


@pytest.mark.parametrize("install_optional", [False, True])
def test_every_planned_change_is_the_remedy_of_a_finding(tmp_path, install_optional):
    kinds_seen = set()
    for name, findings, kernel, mode, cni, nf in _scenarios(tmp_path):
        kplan, tplan, bplan = _plans(findings, kernel, mode, cni, nf, install_optional)
        for f in findings:
            if f.get("remedy"):
                kinds_seen.add(f["remedy"]["kind"])
                assert f["remedy"]["flag"] == cat.REMEDY_FLAGS[f["remedy"]["kind"]], (name, f)
        load = remedies_of(findings, "load_module")
        assert kplan["load"] == lower({r["module"] for r in load if r["now"]}), name
        assert kplan["persist"] == lower({r["module"] for r in load if r["persist"]}), name
        assert content_lines(kplan["modules_load_content"]) == kplan["persist"], name
        assert {n["why"] for n in kplan["needs"]} <= {f["id"] for f in findings if f.get("remedy")}, name
        assert kplan["packages"] == sorted({p for r in remedies_of(findings, "install_package") for p in r["packages"]})
        assert kplan["load_configs"] == bool(remedies_of(findings, "load_configs")), name
        sysctl = remedies_of(findings, "sysctl")
        assert kplan["sysctl"] == {r["key"]: r["value"] for r in sysctl}, name
        assert kplan["sysctl_changes"] == {
            r["key"]: {"current": r["current"], "wanted": r["value"], "exists": r["current"] is not None,
                       "requires_module": r["requires_module"]} for r in sysctl if r["current"] != r["value"]}, name
        assert content_lines(kplan["sysctl_content"]) == ["%s = %s" % kv for kv in sorted(kplan["sysctl"].items())]
        tools = remedies_of(findings, "install_tool")
        allowed = [r for r in tools if install_optional or not r["optional"] or r["minimum"]]
        assert sorted(tplan["absent"]) == sorted({r["tool"] for r in allowed if not r["minimum"]}), name
        assert sorted(tplan["packages"]) == sorted({r["package"] for r in allowed if r["package"]}), name
        assert sorted(tplan["unpackaged"]) == sorted({r["tool"] for r in allowed if not r["package"]}), name
        assert [t["tool"] for t in tplan["too_old"]] == [r["tool"] for r in tools if r["minimum"]], name
        assert sorted(tplan["bundled_only"]) == sorted(
            {r["tool"] for r in tools if r["optional"] and not r["minimum"] and not install_optional}), name
        asked = [r["backend"] for r in remedies_of(findings, "iptables_alternative")]
        assert bplan["target"] == (asked[0] if asked else None), name
        assert (bplan["action"] in ("switch", "refuse")) == bool(asked), (name, bplan["reason"])
    # the scenarios exercise every remedy kind the kernel_modules and netfilter_tools roles apply
    assert {"load_module", "install_package", "load_configs", "sysctl", "install_tool",
            "iptables_alternative"} <= kinds_seen


def test_findings_without_remedies_plan_nothing(tmp_path):
    for name, findings, kernel, mode, cni, nf in _scenarios(tmp_path):
        assert any(f.get("remedy") for f in findings), name
        kplan, tplan, bplan = _plans(kf.without_remedies(findings), kernel, mode, cni, nf, True)
        for key in ("load", "persist", "packages"):
            assert kplan[key] == [], (name, key, kplan[key])
        assert kplan["sysctl"] == {} and kplan["sysctl_changes"] == {} and not kplan["load_configs"], name
        assert content_lines(kplan["modules_load_content"]) == [] and content_lines(kplan["sysctl_content"]) == []
        assert all(m["packages"] == [] for m in kplan["missing"]) and kplan["unfixable"] == kplan["missing"]
        for key in ("absent", "packages", "unpackaged", "too_old", "bundled_only", "notes"):
            assert tplan[key] == [], (name, key, tplan[key])
        assert bplan["action"] == "none" and bplan["targets"] == {} and bplan["record"] == {}, name
    empty = rem.kernel_modules_plan([], {}, "iptables", load_configs=True)
    assert (empty["load"], empty["persist"], empty["missing"], empty["sysctl"], empty["load_configs"]) == (
        [], [], [], {}, False)
    assert rem.tools_plan([], install_optional=True)["packages"] == []
