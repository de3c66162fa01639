"""Verdict against reality on Debian's modular kernel: every xtables match/target and nft expression of the catalog.

For each one, the state kernel_config_facts reports for its module (builtin / loaded / loadable / missing) is held
against what the kernel does when a real rule using it is added in a scratch network namespace of the VM, through
iptables-legacy and iptables-nft (ip6tables for IPv6 entries) or nft: `missing` must fail, every other state must work,
and afterwards the facts must say `loaded` (or `builtin`) for each module a rule pulled in. Then xt_statistic's file is
taken away (+ depmod): the facts say `missing`, the preflight errors in iptables mode, and the real rule fails.
"""
from __future__ import annotations

import json
import re

import pytest

from kntest import vm as kvm

# The catalog: one import, here (the requirement rows with their xtables extensions and modules)
from ansible_collections.kubenode.netfilter.plugins.module_utils._catalog import CATALOG

pytestmark = [pytest.mark.vm, pytest.mark.root]

OK_STATES = ("builtin", "loaded", "loadable")
FAMILY_VALUE = {  # values that differ per IP family
    "dst": {"ipv4": "10.0.0.1:80", "ipv6": "[fd00::1]:80"},
    "src": {"ipv4": "10.0.0.1", "ipv6": "fd00::1"},
    "set": {"ipv4": "kn4", "ipv6": "kn6"},
}
# A rule per xtables extension: (table, chain, arguments); {dst}/{src}/{set} take the family's value. The rules are
# the shapes kube-proxy / kubelet / the CNIs write (see the catalog entries' sources).
XT_RULES = {
    ("match", "comment"): ("filter", "INPUT", "-m comment --comment kubenode"),
    ("match", "conntrack"): ("filter", "INPUT", "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
    ("match", "addrtype"): ("filter", "INPUT", "-m addrtype --dst-type LOCAL"),
    ("match", "mark"): ("filter", "INPUT", "-m mark --mark 0x4000/0x4000"),
    ("target", "MARK"): ("nat", "PREROUTING", "-j MARK --or-mark 0x4000"),
    ("target", "MASQUERADE"): ("nat", "POSTROUTING", "-o eth9 -j MASQUERADE"),
    ("match", "statistic"): ("nat", "PREROUTING", "-m statistic --mode random --probability 0.5 -j ACCEPT"),
    ("match", "recent"): ("filter", "INPUT", "-m recent --name kubenode --rcheck --seconds 10800 --reap"),
    ("target", "DNAT"): ("nat", "PREROUTING", "-p tcp -j DNAT --to-destination {dst}"),
    ("target", "SNAT"): ("nat", "POSTROUTING", "-p tcp -j SNAT --to-source {src}"),
    ("target", "REJECT"): ("filter", "INPUT", "-p tcp -j REJECT"),
    ("match", "set"): ("filter", "INPUT", "-m set --match-set {set} src"),
    ("target", "SET"): ("filter", "INPUT", "-j SET --add-set {set} src"),
    ("match", "physdev"): ("filter", "FORWARD", "-m physdev --physdev-is-bridged"),
    ("target", "REDIRECT"): ("nat", "PREROUTING", "-p tcp -j REDIRECT --to-ports 8080"),
    ("match", "multiport"): ("filter", "INPUT", "-p tcp -m multiport --dports 80,443"),
    ("match", "limit"): ("filter", "INPUT", "-m limit --limit 10/minute"),
    ("target", "NFLOG"): ("filter", "INPUT", "-j NFLOG --nflog-group 100"),
    ("match", "ipvs"): ("filter", "INPUT", "-m ipvs --ipvs"),
    ("match", "u32"): ("filter", "INPUT", "-m u32 --u32 6&0xFF=6"),
    ("match", "rpfilter"): ("raw", "PREROUTING", "-m rpfilter --invert -j DROP"),
    ("target", "TPROXY"): ("mangle", "PREROUTING", "-p tcp -j TPROXY --on-port 8080 --tproxy-mark 0x1/0x1"),
    ("target", "CT"): ("raw", "PREROUTING", "-j CT --notrack"),
    ("match", "socket"): ("mangle", "PREROUTING", "-m socket --transparent"),
}
# A rule per nft expression module: (chain type, hook, rule); ip / ip6 family per catalog entry
NFT_RULES = {
    "nf_tables": ("filter", "input", "accept"),
    "nft_ct": ("filter", "input", "ct state established,related accept"),
    "nft_nat": ("nat", "prerouting", "tcp dport 80 dnat to {dst}"),
    "nft_masq": ("nat", "postrouting", "oifname eth9 masquerade"),
    "nft_numgen": ("filter", "input", "numgen random mod 2 vmap {{ 0 : accept, 1 : continue }}"),
    "nft_fib_ipv4": ("filter", "input", "fib daddr type local accept"),
    "nft_fib_ipv6": ("filter", "input", "fib daddr type local accept"),
    "nft_reject": ("filter", "input", "meta l4proto tcp reject"),
    # nft_compat runs xtables extensions for iptables-nft: a match iptables-nft has no native translation for
    "nft_compat": None,
}
HOOK_PRIORITY = {"input": 0, "prerouting": -100, "postrouting": 100}
NFT_COMPAT_RULE = "-A INPUT -m u32 --u32 6&0xFF=6"
SETUP = [["ip", "link", "set", "lo", "up"], ["ipset", "create", "kn4", "hash:ip"],
         ["ipset", "create", "kn6", "hash:ip", "family", "inet6"]]


def kernel_version(release: str) -> str:
    match = re.match(r"(\d+\.\d+)", release)
    assert match, release
    return match.group(1)


def iptables_argv(backend: str, family: str, table: str, chain: str, args: str) -> list:
    tool = ("iptables" if family == "ipv4" else "ip6tables") + "-" + backend
    values = {k: v[family] for k, v in FAMILY_VALUE.items()}
    return [tool, "-w", "-t", table, "-A", chain] + args.format(**values).split()


def nft_argv(family: str, module: str, name: str) -> list:
    ctype, hook, rule = NFT_RULES[module]
    fam = "ip" if family == "ipv4" else "ip6"
    rule = rule.format(**{k: v[family] for k, v in FAMILY_VALUE.items()})
    script = (f"add table {fam} {name}; "
              f"add chain {fam} {name} c {{ type {ctype} hook {hook} priority {HOOK_PRIORITY[hook]}; }}; "
              f"add rule {fam} {name} c {rule}")
    return ["nft", script]


def catalog_probes(version: str) -> list:
    """Every (family, what) of the catalog that adds a rule: xtables extensions and nft expression modules.

    Returns [{id, module, argv}] and fails when the catalog names something this file has no rule for."""
    extensions = {}  # (family, kind, name) -> modules
    nft = {}  # (family, module) -> True
    for entry in CATALOG:
        if not entry.applies_to_kernel(version):
            continue
        module = entry.module_for_kernel(version)
        for family in entry.families:
            for kind, name in entry.xtables:
                if module:
                    extensions.setdefault((family, kind, name), set()).add(module)
                else:
                    extensions.setdefault((family, kind, name), set())
            if module and (module.startswith("nft_") or module == "nf_tables"):
                nft[(family, module)] = True
    no_rule = sorted({(k, n) for (_family, k, n) in extensions if (k, n) not in XT_RULES}
                     | {m for (_family, m) in nft if m not in NFT_RULES})
    assert not no_rule, f"catalog entries this test has no real rule for (add one): {no_rule}"
    probes = []
    for (family, kind, name), modules in sorted(extensions.items()):
        assert len(modules) == 1, f"{kind} {name} ({family}) maps to modules {sorted(modules)} on {version}"
        module = next(iter(modules))
        table, chain, args = XT_RULES[(kind, name)]
        for backend in ("legacy", "nft"):
            probes.append({"id": f"{backend}/{family}/{kind}/{name}", "module": module,
                           "argv": iptables_argv(backend, family, table, chain, args)})
    for n, (family, module) in enumerate(sorted(nft)):
        if module == "nft_compat":
            tool = "iptables-nft" if family == "ipv4" else "ip6tables-nft"
            argv = [tool, "-w"] + NFT_COMPAT_RULE.split()
        else:
            argv = nft_argv(family, module, f"kn{n}")
        probes.append({"id": f"nft/{family}/expr/{module}", "module": module, "argv": argv})
    return probes


def probe_run(env, probes, pre=(), facts_after=True):
    spec = {"netns": "kn-probe", "setup": SETUP, "probes": [{"id": p["id"], "argv": p["argv"]} for p in probes]}
    proc, output = kvm.playbook("probe.yml", env,
                                {"kn_probes": spec, "kn_pre": list(pre), "kn_facts_after": facts_after})
    assert proc.returncode == 0, kvm.describe(proc, output)
    before = kvm.task_result(output, "Kernel facts before")["ansible_facts"]["kernel_config"]
    after = kvm.task_result(output, "Kernel facts after")["ansible_facts"]["kernel_config"] if facts_after else None
    results = json.loads(kvm.task_result(output, "Run the probes in a scratch network namespace")["stdout"])
    assert "error" not in results, results
    assert all(s["rc"] == 0 for s in results["setup"]), results["setup"]
    return before, after, results["results"]


STATISTIC_ASIDE = "/root/kn-aside"
STATISTIC_OUT = ["sh", "-c", "set -e; mkdir -p " + STATISTIC_ASIDE + "; "
                 "mv /lib/modules/$(uname -r)/kernel/net/netfilter/xt_statistic.ko* " + STATISTIC_ASIDE + "/"]
STATISTIC_BACK = ["sh", "-c", "set -e; for f in " + STATISTIC_ASIDE + "/xt_statistic.ko*; do [ ! -e \"$f\" ] || "
                  "mv \"$f\" /lib/modules/$(uname -r)/kernel/net/netfilter/; done"]


def test_every_catalog_rule_matches_the_verdict(ansible_env, vm):
    version = kernel_version(vm["kubenode_vm_kernel_release"])
    probes = catalog_probes(version)
    before, after, results = probe_run(ansible_env, probes)
    assert before["found"] and before["modules_enabled"] is True, before.get("searched")
    assert before["version"].startswith(version), (before["version"], version)
    wrong = []
    for probe in probes:
        module, res = probe["module"], results[probe["id"]]
        state = before["modules"].get(module, {}).get("state")
        if state not in OK_STATES + ("missing",):
            wrong.append(f"{probe['id']}: facts say {state!r} for {module}")
        elif state == "missing" and res["rc"] == 0:
            wrong.append(f"{probe['id']}: facts say {module} missing but the rule was accepted: "
                         f"{kvm.quote(res['argv'])}")
        elif state != "missing" and res["rc"] != 0:
            wrong.append(f"{probe['id']}: facts say {module} {state} but the kernel refused {kvm.quote(res['argv'])}: "
                         f"rc={res['rc']} {res['stderr'].strip()}")
        elif res["rc"] == 0 and after["modules"].get(module, {}).get("state") not in ("loaded", "builtin"):
            wrong.append(f"{probe['id']}: the rule worked, yet afterwards the facts say "
                         f"{after['modules'].get(module)} for {module}")
    assert not wrong, "\n".join(wrong)
    # both sides were held against the kernel: many loadable (not loaded yet) and some already loaded modules
    states = [before["modules"][p["module"]]["state"] for p in probes]
    assert states.count("loadable") >= 10 and states.count("loaded") >= 1, states


def test_a_deleted_module_is_missing_for_facts_preflight_and_kernel(ansible_env, vm):
    probes = [p for p in catalog_probes(kernel_version(vm["kubenode_vm_kernel_release"]))
              if p["id"].endswith("/match/statistic")]
    assert len(probes) == 4, probes  # legacy + nft, IPv4 + IPv6
    try:
        # the verdict test loaded it: unload it (nothing uses it once its namespace is gone), then take the file away.
        # ip_forward on, so that xt_statistic is the only thing the preflight can hold against this node.
        before, _between, results = probe_run(
            ansible_env, probes, facts_after=False,
            pre=[["sh", "-c", "! grep -q '^xt_statistic ' /proc/modules || modprobe -r xt_statistic"],
                 STATISTIC_OUT, ["depmod", "-a"], ["sysctl", "-w", "net.ipv4.ip_forward=1"]])
        state = before["modules"]["xt_statistic"]
        assert state["state"] == "missing", state
        for probe in probes:
            res = results[probe["id"]]
            assert res["rc"] != 0, f"{probe['id']} accepted without xt_statistic: {res}"
            # iptables' own words: the kernel has no statistic match (the module it would load is gone)
            assert "statistic" in res["stderr"] and "missing kernel module" in res["stderr"], res["stderr"]

        proc, output = kvm.playbook("kubenode.netfilter.preflight", ansible_env,
                                    {"kubenode_proxy_mode": "iptables"})
        assert proc.returncode != 0, "the preflight passed a node without xt_statistic in iptables mode"
        errors = [f for f in _facts(output, "kubenode_findings") or [] if f["severity"] == "error"]
        assert errors, kvm.describe(proc, output)
        # the same cause: every error is about xt_statistic (NETFILTER_XT_MATCH_STATISTIC) being missing
        for finding in errors:
            text = json.dumps(finding)
            assert "xt_statistic" in text or "NETFILTER_XT_MATCH_STATISTIC" in text, finding
            assert "missing" in text, finding
    finally:
        kvm.ssh(kvm.quote(STATISTIC_BACK) + " && depmod -a")
    assert kvm.ssh("modprobe -n -v xt_statistic").returncode == 0


def _facts(output: dict, key: str):
    """The last value a task of the run set as ansible_facts[KEY] on host vm."""
    value = None
    for play in output.get("plays", []):
        for task in play.get("tasks", []):
            res = task["hosts"].get("vm", {})
            if key in res.get("ansible_facts", {}):
                value = res["ansible_facts"][key]
    return value
