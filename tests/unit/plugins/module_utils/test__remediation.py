# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tables over _remediation: fixture roots (kntest.kernel_roots) and the shared real kernel configs (plus copies
derived under tmp_path) go through the real kernel_config_facts gathering, then through the plan."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import kntest
from kntest import kernel_roots as kr

from ansible_collections.kubenode.netfilter.plugins.module_utils import _remediation as rem
from ansible_collections.kubenode.netfilter.plugins.modules.kernel_config_facts import gather

RELEASE = "6.1.0-test-amd64"
ROLES = kntest.REPO / "roles"

# What each mode x backend needs (IPv4, no CNI), on a 6.1 kernel: the catalog as the roles see it.
MODE_MODULES = {
    ("iptables", "nft"): ["br_netfilter", "ipt_REJECT", "nf_conntrack", "nf_nat", "nf_tables", "nft_compat", "nft_ct",
                          "nft_nat", "x_tables", "xt_addrtype", "xt_comment", "xt_conntrack", "xt_mark",
                          "xt_MASQUERADE", "xt_nat", "xt_recent", "xt_REDIRECT", "xt_statistic"],
    ("iptables", "legacy"): ["br_netfilter", "ip_tables", "ipt_REJECT", "iptable_filter", "iptable_mangle",
                             "iptable_nat", "nf_conntrack", "nf_nat", "x_tables", "xt_addrtype", "xt_comment",
                             "xt_conntrack", "xt_mark", "xt_MASQUERADE", "xt_nat", "xt_recent", "xt_REDIRECT",
                             "xt_statistic"],
    ("nftables", "nft"): ["br_netfilter", "nf_conntrack", "nf_nat", "nf_tables", "nft_ct", "nft_fib_ipv4", "nft_masq",
                          "nft_nat", "nft_numgen", "nft_reject", "xt_comment", "xt_REDIRECT"],
    ("ipvs", "nft"): ["br_netfilter", "ip_set", "ip_set_bitmap_port", "ip_set_hash_ip", "ip_set_hash_ipport",
                      "ip_set_hash_ipportip", "ip_set_hash_ipportnet", "ip_vs", "ip_vs_rr", "nf_conntrack", "nf_nat",
                      "nf_tables", "nft_compat", "nft_ct", "nft_nat", "x_tables", "xt_addrtype", "xt_comment",
                      "xt_conntrack", "xt_mark", "xt_MASQUERADE", "xt_REDIRECT", "xt_set"],
    ("none", "nft"): ["nf_tables", "nft_nat", "xt_comment", "xt_REDIRECT"],
}


def ko(name: str) -> str:
    return "kernel/net/netfilter/%s.ko" % name


def facts_of(root: Path, extra_options=()) -> dict:
    facts, error = gather(str(root), extra_options=list(extra_options) + list(rem.EXTRA_MODULE_OPTIONS.values()))
    assert error is None
    return facts


def config_text(name: str, overrides=None) -> str:
    text = (kr.KERNEL_CONFIGS / name).read_text()
    return kr.derive_config(text, overrides) if overrides else text


@pytest.mark.parametrize("mode,backend", sorted(MODE_MODULES))
def test_mode_modules_follow_the_catalog(mode, backend):
    units = rem.mode_modules(mode, backend, ("ipv4",), None, "6.1.0")
    assert [unit[0][1] for unit in units] == MODE_MODULES[(mode, backend)]


def test_mode_modules_ipv6_and_cni_add_modules():
    v4 = {u[0][1] for u in rem.mode_modules("iptables", "legacy", ("ipv4",), None, "6.1.0")}
    both = {u[0][1] for u in rem.mode_modules("iptables", "legacy", ("ipv4", "ipv6"), "kube-router", "6.1.0")}
    assert {"ip6_tables", "ip6table_filter", "ip6table_nat", "ip6t_REJECT", "ip_set", "xt_set", "xt_NFLOG"} <= both - v4


@pytest.mark.parametrize("bad", [dict(mode="userspace"), dict(backend="xtables"), dict(families=("ipv5",))])
def test_mode_modules_rejects_unknown_choices(bad):
    args = dict(mode="iptables", backend="nft", families=("ipv4",))
    args.update(bad)
    with pytest.raises(ValueError, match="must be one of"):
        rem.mode_modules(args["mode"], args["backend"], args["families"])


# ---- states per mode from fixture roots -------------------------------------------------------------------------

@pytest.mark.parametrize("mode,backend,loaded,absent_files", [
    ("iptables", "nft", ["br_netfilter", "nf_conntrack"], ["xt_statistic"]),
    ("iptables", "legacy", ["ip_tables"], ["iptable_mangle", "xt_recent"]),
    ("nftables", "nft", [], ["nft_numgen"]),
    ("ipvs", "nft", ["ip_vs"], []),
])
def test_states_from_a_fixture_root(tmp_path, mode, backend, loaded, absent_files):
    """alpine-lts (everything =m): modules.dep lists every needed module but `absent_files`, /proc/modules lists
    `loaded`: those are loaded (untouched, persisted), the rest loadable (loaded + persisted), the absent missing."""
    needed = MODE_MODULES[(mode, backend)]
    root = kr.build_root(tmp_path / "root", RELEASE, config_text("alpine-lts-x86_64.config"),
                         modules_dep=[ko(m) for m in needed if m not in absent_files],
                         proc_modules=loaded)
    plan = rem.module_plan(facts_of(root), mode, backend, ("ipv4",), distribution="Alpine", os_family="Alpine")
    loadable = [m for m in needed if m not in loaded and m not in absent_files]
    assert plan.load == sorted(loadable, key=str.lower)
    assert plan.persist == sorted(loadable + loaded, key=str.lower)
    assert plan.untouched == sorted(loaded, key=str.lower)
    assert [m.module for m in plan.missing] == sorted(absent_files, key=str.lower)
    for missing in plan.missing:
        assert missing.value == "m" and missing.release == RELEASE and missing.package is None
        assert missing.option and missing.option in missing.message and RELEASE in missing.message
        assert "not installed" in missing.fix
    assert plan.unknown == []


def test_ko_files_on_disk_without_modules_dep_are_loadable(tmp_path):
    root = kr.build_root(tmp_path / "root", RELEASE, config_text("alpine-virt-x86_64.config"),
                         ko_files=[ko(m) + ".zst" for m in MODE_MODULES[("nftables", "nft")]], proc_modules=[])
    plan = rem.module_plan(facts_of(root), "nftables", "nft")
    assert plan.load == sorted(MODE_MODULES[("nftables", "nft")], key=str.lower)
    assert plan.missing == []


def test_builtin_modules_are_never_loaded(tmp_path):
    """talos builds most of netfilter in (=y); modules.builtin lists another one that the config has as =m."""
    text = config_text("talos-amd64.config", {"NETFILTER_XT_MATCH_RECENT": "m"})
    root = kr.build_root(tmp_path / "root", "6.18.45-talos", text,
                         modules_builtin=["kernel/net/netfilter/xt_recent.ko"], proc_modules=[])
    plan = rem.module_plan(facts_of(root), "iptables", "nft")
    assert plan.load == [] and plan.persist == []
    assert "xt_recent" in plan.untouched and "xt_statistic" in plan.untouched
    assert plan.missing == []


@pytest.mark.parametrize("distribution,os_family,package", [
    ("Ubuntu", "Debian", "linux-modules-extra-%s" % RELEASE),
    ("Rocky", "RedHat", "kernel-modules-extra-%s" % RELEASE),
    ("AlmaLinux", "RedHat", "kernel-modules-extra-%s" % RELEASE),
    ("Debian", "Debian", None),
    ("Alpine", "Alpine", None),
])
def test_missing_module_file_and_the_extra_package(tmp_path, distribution, os_family, package):
    root = kr.build_root(tmp_path / "root", RELEASE, config_text("alpine-lts-x86_64.config"),
                         modules_dep=[ko(m) for m in MODE_MODULES[("iptables", "nft")] if m != "xt_statistic"])
    plan = rem.module_plan(facts_of(root), "iptables", "nft", distribution=distribution, os_family=os_family)
    [missing] = plan.missing
    assert (missing.module, missing.option, missing.value, missing.package) == (
        "xt_statistic", "NETFILTER_XT_MATCH_STATISTIC", "m", package)
    assert plan.packages == ([package] if package else [])
    assert (plan.unfixable == []) == (package is not None)
    if package:
        assert package in missing.fix and "kubenode_kernel_modules_install_extra" in missing.fix


def test_option_not_set_is_missing_and_no_package_helps(tmp_path):
    """A cloud-style kernel without the option: even on Ubuntu no package adds it."""
    text = config_text("talos-amd64.config", {"NFT_NUMGEN": "n"})
    root = kr.build_root(tmp_path / "root", "6.18.45-talos", text, proc_modules=[])
    plan = rem.module_plan(facts_of(root), "nftables", "nft", distribution="Ubuntu", os_family="Debian")
    [missing] = plan.missing
    assert (missing.module, missing.option, missing.value, missing.package) == ("nft_numgen", "NFT_NUMGEN", "n", None)
    assert "generic" in missing.fix and "CONFIG_NFT_NUMGEN" in missing.fix and "6.18.45-talos" in missing.message
    assert plan.unfixable == plan.missing


def test_kernel_without_module_support(tmp_path):
    """CONFIG_MODULES unset, =m options: missing, and no extra package can help (the fix says why)."""
    text = config_text("wsl2-x86_64.config", {"MODULES": "n"})
    root = kr.build_root(tmp_path / "root", "6.18.20-wsl2", text, modules_dir=False)
    plan = rem.module_plan(facts_of(root), "iptables", "nft", distribution="Ubuntu", os_family="Debian")
    assert plan.load == [] and plan.modules_enabled is False
    assert "xt_statistic" in [m.module for m in plan.missing]
    assert all(m.package is None and "module support" in m.fix for m in plan.missing)


def test_this_hosts_kernel_has_everything_built_in():
    """The real kernel here (CONFIG_MODULES unset, netfilter built in): nothing to load, nothing missing."""
    facts, error = gather("/")
    assert error is None and facts["found"]
    if facts["modules_enabled"] is not False:
        pytest.skip("this kernel has module support; the test is about the built-in-only machine")
    for mode in ("iptables", "nftables"):
        for backend in ("nft", "legacy"):
            plan = rem.module_plan(facts, mode, backend, ("ipv4", "ipv6"))
            assert plan.load == [] and plan.persist == [] and plan.missing == [], (mode, backend, plan.missing)
            assert len(plan.untouched) >= 10


def test_second_run_after_loading_writes_the_same_file(tmp_path):
    needed = MODE_MODULES[("iptables", "nft")]
    base = dict(release=RELEASE, config_text=config_text("alpine-lts-x86_64.config"), modules_dep=[ko(m) for m in needed])
    first = rem.module_plan(facts_of(kr.build_root(tmp_path / "a", proc_modules=[], **base)), "iptables", "nft")
    second = rem.module_plan(facts_of(kr.build_root(tmp_path / "b", proc_modules=first.load, **base)), "iptables", "nft")
    assert first.load and second.load == []
    assert rem.modules_load_content(first.persist, "iptables") == rem.modules_load_content(second.persist, "iptables")


def test_modules_load_content():
    text = rem.modules_load_content(["xt_statistic", "br_netfilter", "xt_MASQUERADE", "br-netfilter", " "], "iptables",
                                    "flannel")
    lines = text.splitlines()
    assert lines[0].startswith("# Managed by Ansible: kubenode.netfilter.kernel_modules")
    assert "iptables mode, CNI flannel" in lines[1]
    assert [line for line in lines if not line.startswith("#")] == ["br_netfilter", "xt_MASQUERADE", "xt_statistic"]
    assert text.endswith("\n")


@pytest.mark.parametrize("extra,overrides,state", [
    (["overlay"], {}, "loadable"),                       # OVERLAY_FS=m, not in the catalog: modprobe decides
    (["overlay"], {"OVERLAY_FS": "y"}, "builtin"),
    (["overlay"], {"OVERLAY_FS": "n"}, "missing"),
    (["br-netfilter"], {}, "loadable"),                  # in the catalog: the facts' state (modules.dep)
    (["some_vendor_mod"], {}, "loadable"),
])
def test_extra_modules_go_the_same_path(tmp_path, extra, overrides, state):
    root = kr.build_root(tmp_path / "root", RELEASE, config_text("alpine-lts-x86_64.config", overrides),
                         modules_dep=[ko("br_netfilter")], proc_modules=[])
    plan = rem.module_plan(facts_of(root), "none", "nft", extra=extra)
    name = extra[0].replace("-", "_")
    need = [n for n in plan.needs if n.module == name]
    assert need and need[0].state == state and need[0].why == "extra"
    assert (name in plan.load) == (state == "loadable")
    assert (name in [m.module for m in plan.missing]) == (state == "missing")


def test_extra_unknown_module_on_a_kernel_without_module_support(tmp_path):
    text = config_text("wsl2-x86_64.config", {"MODULES": "n"})
    root = kr.build_root(tmp_path / "root", RELEASE, text, modules_dir=False)
    plan = rem.module_plan(facts_of(root), "none", "nft", extra=["some_vendor_mod"])
    assert plan.unknown == ["some_vendor_mod"] and "some_vendor_mod" not in plan.load


def test_no_config_found_unknown_and_configs(tmp_path):
    root = kr.build_root(tmp_path / "root", RELEASE, None, proc_modules=[])
    facts = facts_of(root)
    assert not facts["found"]
    plan = rem.module_plan(facts, "iptables", "nft", load_configs=True)
    expected = sorted(MODE_MODULES[("iptables", "nft")], key=str.lower)
    assert plan.load_configs and plan.load == [] and plan.unknown == expected
    assert not rem.module_plan(facts, "iptables", "nft").load_configs


# ---- sysctls ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode,cni,ipv6,wanted", [
    ("iptables", "other", False, {"net.bridge.bridge-nf-call-iptables": 1, "net.ipv4.ip_forward": 1}),
    ("iptables", "calico", False, {"net.ipv4.ip_forward": 1}),
    ("nftables", "flannel", True, {"net.bridge.bridge-nf-call-ip6tables": 1, "net.bridge.bridge-nf-call-iptables": 1,
                                   "net.ipv4.ip_forward": 1, "net.ipv6.conf.all.forwarding": 1}),
    ("none", "kube-router", True, {"net.ipv4.ip_forward": 1, "net.ipv6.conf.all.forwarding": 1}),
    ("ipvs", "cilium", False, {"net.ipv4.ip_forward": 1}),
])
def test_sysctl_wanted(mode, cni, ipv6, wanted):
    assert rem.sysctl_wanted(mode, cni, ipv6) == wanted


def test_sysctl_content_and_changes():
    wanted = rem.sysctl_wanted("iptables", "flannel")
    text = rem.sysctl_content(wanted, "iptables")
    assert text.splitlines()[0].startswith("# Managed by Ansible: kubenode.netfilter.kernel_modules")
    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        "net.bridge.bridge-nf-call-iptables = 1", "net.ipv4.ip_forward = 1"]
    changes = rem.sysctl_changes(wanted, {"net.ipv4.ip_forward": "0", "net.bridge.bridge-nf-call-iptables": None})
    assert changes == {"net.bridge.bridge-nf-call-iptables": {"current": None, "wanted": 1, "exists": False},
                       "net.ipv4.ip_forward": {"current": 0, "wanted": 1, "exists": True}}
    assert rem.sysctl_changes(wanted, {"net.ipv4.ip_forward": 1, "net.bridge.bridge-nf-call-iptables": 1}) == {}


def test_kernel_modules_plan_backend_follows_the_kubernetes_chains(tmp_path):
    root = kr.build_root(tmp_path / "root", RELEASE, config_text("alpine-lts-x86_64.config"),
                         modules_dep=[ko(m) for m in MODE_MODULES[("iptables", "legacy")]], proc_modules=[])
    nf = {"kube_chains": {"KUBE-IPTABLES-HINT": ["legacy"]}, "detected_mode": "legacy",
          "iptables": {"path": "/usr/sbin/iptables", "backend": "nft"}, "sysctl": {"net.ipv4.ip_forward": 1}}
    out = rem.kernel_modules_plan(facts_of(root), nf, "iptables")
    assert out["backend"] == "legacy" and "iptable_nat" in out["load"]
    assert out["sysctl_changes"] == {"net.bridge.bridge-nf-call-iptables": {"current": None, "wanted": 1,
                                                                            "exists": False}}
    assert rem.kernel_modules_plan(facts_of(root), nf, "iptables", backend="nft")["backend"] == "nft"
    assert rem.module_backend({"iptables": {"path": "/x", "backend": "nft"}}) == (
        "nft", "the host's iptables uses nft")
    assert rem.module_backend(None)[0] == "nft"


# ---- tools ------------------------------------------------------------------------------------------------------

def role_packages(name: str) -> dict:
    return yaml.safe_load((ROLES / "netfilter_tools" / "vars" / name).read_text())["__kubenode_nt_packages"]


@pytest.mark.parametrize("vars_file", sorted(p.name for p in (ROLES / "netfilter_tools" / "vars").glob("*.yml")
                                             if p.name != "main.yml"))
def test_every_os_family_names_a_package_for_every_tool(vars_file):
    assert set(role_packages(vars_file)) == set(rem.TOOLS)


def test_rhel_9_and_10_use_iptables_nft():
    assert role_packages("RedHat.yml")["iptables"] == "iptables-nft"
    assert role_packages("RedHat-8.yml")["iptables"] == "iptables"


def test_kernel_modules_role_reports_every_extra_symbol():
    data = yaml.safe_load((ROLES / "kernel_modules" / "vars" / "main.yml").read_text())
    assert data["__kubenode_km_extra_symbols"] == sorted(set(rem.EXTRA_MODULE_OPTIONS.values()))


@pytest.mark.parametrize("mode,cni,ipv6,tools", [
    ("nftables", "other", False, ["nft"]),
    ("iptables", "other", False, ["iptables"]),
    ("ipvs", "other", False, ["iptables", "ipset"]),
    ("iptables", "other", True, ["iptables", "ip6tables"]),
    ("none", "cilium", False, []),
    ("none", "kube-router", False, ["iptables", "ipset"]),
    ("nftables", "flannel", False, ["iptables", "nft"]),
])
def test_tools_needed(mode, cni, ipv6, tools):
    assert rem.tools_needed(mode, cni, ipv6) == tools


def tool(path, version="1.0.6", backend=None, error=None):
    return {"path": path, "version": version, "backend": backend, "error": error}


@pytest.mark.parametrize("case,nf,mode,kwargs,expect", [
    ("nothing to do", {"nft": tool("/usr/sbin/nft")}, "nftables", {},
     dict(present=["nft"], packages=[], too_old=[])),
    ("no nft", {"nft": None}, "nftables", {}, dict(absent=["nft"], packages=["nftables"])),
    ("ipvs on a bare host", {"iptables": None, "ipset": None}, "ipvs", {},
     dict(absent=["iptables", "ipset"], packages=["iptables", "ipset"])),
    ("broken tool counts as absent", {"iptables": tool("/usr/sbin/iptables", error="exit 1")}, "iptables", {},
     dict(absent=["iptables"], packages=["iptables"])),
    ("nft too old", {"nft": tool("/usr/sbin/nft", "0.9.8")}, "nftables", {},
     dict(present=["nft"], packages=[], too_old_tools=["nft"])),
    ("k3s bundles nft", {"nft": None, "bundled": {"/var/lib/rancher/k3s/data/current/bin": {
        "nft": tool("/var/lib/rancher/k3s/data/current/bin/nft", "1.0.9")}}}, "nftables", {"distribution": "k3s"},
     dict(bundled_only=["nft"], packages=[], notes=1)),
    ("k3s bundles nft, install anyway", {"nft": None, "bundled": {"/b": {"nft": tool("/b/nft")}}}, "nftables",
     {"distribution": "k3s", "install_on_k3s": True}, dict(packages=["nftables"], bundled_only=[])),
    ("bundled ignored outside k3s", {"nft": None, "bundled": {"/b": {"nft": tool("/b/nft")}}}, "nftables",
     {"distribution": "generic"}, dict(packages=["nftables"])),
])
def test_tools_plan(case, nf, mode, kwargs, expect):
    plan = rem.tools_plan(nf, mode, role_packages("Debian.yml"), **kwargs)
    for key, value in expect.items():
        if key == "too_old_tools":
            assert [t["tool"] for t in plan["too_old"]] == value, case
            assert "older than 1.0.1" in plan["too_old"][0]["message"]
        elif key == "notes":
            assert len(plan["notes"]) == value and "kubenode_netfilter_tools_install_on_k3s" in plan["notes"][0]
        else:
            assert plan[key] == value, case


def test_tools_plan_alpine_ip6tables_and_unpackaged():
    plan = rem.tools_plan({"iptables": None, "ip6tables": None}, "iptables", role_packages("Alpine.yml"), ipv6=True)
    assert plan["packages"] == ["iptables", "ip6tables"]
    plan = rem.tools_plan({"ipset": None}, "ipvs", {"iptables": "iptables"})
    assert plan["unpackaged"] == ["ipset"]


# ---- the iptables alternative -----------------------------------------------------------------------------------

LEGACY_ALT = {"iptables": "/usr/sbin/iptables-legacy", "ip6tables": "/usr/sbin/ip6tables-legacy"}
NFT_ALT = {"iptables": "/usr/sbin/iptables-nft", "ip6tables": "/usr/sbin/ip6tables-nft"}


def nf_facts(alternatives, hint=None, legacy_rules=0, nft_rules=0, nft_tables=(), variants=True):
    facts = {"alternatives": alternatives, "kube_chains": {"KUBE-IPTABLES-HINT": [hint] if hint else []},
             "detected_mode": hint or "nft", "mode_reason": "test",
             "rule_counts": {"legacy": legacy_rules, "nft": nft_rules, "nft_unreadable": 0},
             "nft_tables": list(nft_tables)}
    if variants:
        facts["iptables_legacy"] = tool("/usr/sbin/iptables-legacy", "1.8.9", "legacy")
        facts["iptables_nft"] = tool("/usr/sbin/iptables-nft", "1.8.9", "nft")
    return facts


FIREWALLD = {"family": "inet", "name": "firewalld", "owner": "foreign", "chains": 40, "rules": 12}


@pytest.mark.parametrize("case,nf,kwargs,action,target,reason_has", [
    ("keep", nf_facts(LEGACY_ALT, "nft"), dict(choice="keep"), "none", None, ["keep"]),
    ("not Debian", nf_facts(LEGACY_ALT, "nft"), dict(choice="nft", os_family="RedHat"), "unsupported", None,
     ["only on Debian and Ubuntu"]),
    ("auto, not joined", nf_facts(LEGACY_ALT), dict(), "none", None, ["nothing to align with"]),
    ("auto, hint in nft, legacy empty", nf_facts(LEGACY_ALT, "nft", nft_rules=4), dict(), "switch", "nft",
     ["switching", "/usr/sbin/iptables-nft"]),
    ("auto, legacy holds rules", nf_facts(LEGACY_ALT, "nft", legacy_rules=3, nft_rules=4), dict(), "refuse", "nft",
     ["3 rule(s) in the legacy iptables tables", "second, disconnected rule set", "kubenode_iptables_backend_force"]),
    ("auto, legacy holds rules, forced", nf_facts(LEGACY_ALT, "nft", legacy_rules=3), dict(force=True), "switch",
     "nft", ["kubenode_iptables_backend_force: true"]),
    ("explicit legacy, firewalld in nft", nf_facts(NFT_ALT, nft_tables=[FIREWALLD]), dict(choice="legacy"),
     "refuse", "legacy", ["12 rule(s) in nft table inet firewalld (foreign)"]),
    ("explicit legacy, nft empty", nf_facts(NFT_ALT), dict(choice="legacy"), "switch", "legacy", ["legacy"]),
    ("already aligned", nf_facts(NFT_ALT, "nft", nft_rules=9), dict(), "none", "nft", ["already points"]),
    ("no legacy variant", nf_facts(NFT_ALT, variants=False), dict(choice="legacy"), "unsupported", "legacy",
     ["iptables-legacy is not installed"]),
    ("no alternative at all", nf_facts({}, "nft"), dict(), "unsupported", "nft", ["no iptables alternative"]),
])
def test_iptables_backend_plan(case, nf, kwargs, action, target, reason_has):
    args = dict(choice="auto", os_family="Debian")
    args.update(kwargs)
    plan = rem.iptables_backend_plan(nf, **args)
    assert (plan["action"], plan["target"]) == (action, target), (case, plan["reason"])
    for text in reason_has:
        assert text in plan["reason"], (case, plan["reason"])
    if action == "switch":
        assert plan["targets"]["iptables"] == rem.ALTERNATIVE_TARGETS[target]["iptables"]
        assert plan["record"] == nf["alternatives"]
        assert rem.parse_alternative_record(plan["record_content"]) == nf["alternatives"]
    else:
        assert plan["record"] == {}


def test_restore():
    record = rem.alternative_record_content(LEGACY_ALT)
    previous = rem.parse_alternative_record(record)
    assert previous == LEGACY_ALT
    plan = rem.iptables_backend_plan(nf_facts(NFT_ALT, "nft"), os_family="Debian", restore=True, previous=previous)
    assert plan["action"] == "switch" and plan["targets"] == LEGACY_ALT
    plan = rem.iptables_backend_plan(nf_facts(NFT_ALT, "nft", nft_rules=2), os_family="Debian", restore=True,
                                     previous=previous)
    assert plan["action"] == "refuse" and "from nft to legacy" in plan["reason"]
    plan = rem.iptables_backend_plan(nf_facts(NFT_ALT), os_family="Debian", restore=True, previous={})
    assert plan["action"] == "none" and "nothing to restore" in plan["reason"]


@pytest.mark.parametrize("text,parsed", [
    ("", {}),
    ("# comment\niptables /usr/sbin/iptables-legacy\n", {"iptables": "/usr/sbin/iptables-legacy"}),
    ("iptables relative/path\nfoo /usr/sbin/foo\nip6tables /usr/sbin/ip6tables-nft extra\n", {}),
])
def test_parse_alternative_record(text, parsed):
    assert rem.parse_alternative_record(text) == parsed


def test_bad_choices_raise_value_error():
    with pytest.raises(ValueError, match="kubenode_iptables_backend must be one of"):
        rem.iptables_backend_plan({}, "iptables-nft")
    with pytest.raises(ValueError, match="netfilter facts must be a dict"):
        rem.tools_plan(None, "iptables", {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kernel_config facts must be a dict"):
        rem.module_plan(None, "iptables")  # type: ignore[arg-type]
