"""Fact builders for the findings tests.

Kernel facts come from the real kernel_config_facts code (``gather``) run on the shared kernel-config fixtures, or on
copies derived from them, inside fake node roots (tests/kntest/kernel_roots.py). Netfilter facts are dicts of the
shape netfilter_backend_facts documents (its RETURN), built here with explicit arguments, plus one fact set captured
from the real module (tests/fixtures/findings/).
"""
from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional

import kntest
from kntest import kernel_roots as kr

from ansible_collections.kubenode.netfilter.plugins.modules import kernel_config_facts as kcf

FINDINGS_FIXTURES = kntest.FIXTURES / "findings"
CAPTURED_NETBIRD = FINDINGS_FIXTURES / "netfilter-netbird-incident.json"
_counter = itertools.count()


def fixture_text(name: str) -> str:
    return (kr.KERNEL_CONFIGS / name).read_text()


def kernel_facts(base: Path, config: Optional[str] = "talos-amd64.config", overrides: Optional[Mapping] = None,
                 release: str = "6.1.0-test-amd64", modules_dep: Iterable[str] = (),
                 modules_builtin: Iterable[str] = (), proc_modules: Optional[Iterable[str]] = None,
                 xtables: Optional[Dict[str, Iterable[str]]] = None, modules_dir: bool = True) -> Dict[str, Any]:
    """ansible_facts['kernel_config'] from the real code on a fake root under ``base``.

    ``config``: a fixture file name (None: no config at all); ``overrides``: symbol -> value / "n" / None (removed),
    applied to a copy (kernel_roots.derive_config); ``modules_dep``: paths under lib/modules/<release> (loadable).
    """
    root = base / ("root%d" % next(_counter))
    text = None
    if config is not None:
        text = fixture_text(config)
        if overrides:
            text = kr.derive_config(text, overrides)
    kr.build_root(root, release=release, config_text=text, modules_dep=modules_dep, modules_builtin=modules_builtin,
                  proc_modules=proc_modules, xtables=xtables, modules_dir=modules_dir)
    facts, error = kcf.gather(str(root))
    assert error is None, error
    return facts


def tool(path: str, version: Optional[str] = "1.8.9", backend: Optional[str] = None,
         error: Optional[str] = None, resolved: Optional[str] = None) -> Dict[str, Any]:
    return {"path": path, "resolved": resolved or path, "version": None if error else version, "backend": backend,
            "error": error}


def _iptables(name: str, backend: Optional[str], version: str = "1.8.9") -> Optional[Dict[str, Any]]:
    if backend is None:
        return None
    multi = "xtables-nft-multi" if backend == "nft" else "xtables-legacy-multi"
    return tool("/usr/sbin/" + name, version, backend, resolved="/usr/sbin/" + multi)


def netfilter_facts(iptables: Optional[str] = "nft", ip6tables: Optional[str] = "same", nft: Optional[str] = "1.0.6",
                    ipset: Optional[str] = "7.17", broken: Iterable[str] = (), hint: Optional[Mapping] = None,
                    detected_mode: str = "nft", by_rule_count: Optional[str] = None, mixed: bool = False,
                    rule_counts: Optional[Mapping] = None, sysctl: Optional[Mapping] = None,
                    bundled: Optional[Mapping] = None, nft_tables: Optional[List] = None,
                    parse_errors: Optional[List] = None, incompatible: Iterable[str] = (),
                    errors: Iterable[str] = (), unreadable: Optional[List] = None) -> Dict[str, Any]:
    """ansible_facts['netfilter'] in the documented shape.

    ``iptables``: backend of the host's ``iptables`` (``nft`` | ``legacy`` | None = absent); ``ip6tables`` follows it
    unless given; ``nft`` / ``ipset``: version or None (absent); ``broken``: tool keys that exist but fail to run;
    ``hint``: kube_chains (chain -> backends); ``incompatible``: iptables tables (ipv4) iptables-nft cannot read.
    """
    ip6 = iptables if ip6tables == "same" else ip6tables
    facts = {
        "iptables": _iptables("iptables", iptables),
        "ip6tables": _iptables("ip6tables", ip6),
        "iptables_legacy": _iptables("iptables-legacy", "legacy") if iptables else None,
        "ip6tables_legacy": _iptables("ip6tables-legacy", "legacy") if ip6 else None,
        "iptables_nft": _iptables("iptables-nft", "nft") if iptables else None,
        "ip6tables_nft": _iptables("ip6tables-nft", "nft") if ip6 else None,
        "nft": tool("/usr/sbin/nft", nft) if nft else None,
        "ipset": tool("/usr/sbin/ipset", ipset) if ipset else None,
        "bundled": dict(bundled or {}),
        "alternatives": ({"iptables": "/usr/sbin/iptables-%s" % iptables} if iptables else None),
        "backends": {
            "legacy": {"available": bool(iptables), "error": None,
                       "ipv4": {"tables": {}, "kernel_tables": [], "read": False},
                       "ipv6": {"tables": {}, "kernel_tables": [], "read": False}},
            "nft": {"available": bool(iptables), "error": None,
                    "ipv4": {"tables": dict((name, {"chains": 3, "rules": 2, "incompatible": True,
                                                    "incompatible_reason": "incompatible"}) for name in incompatible)},
                    "ipv6": {"tables": {}}},
        },
        "sysctl": {
            "net.ipv4.ip_forward": 1, "net.ipv6.conf.all.forwarding": 1,
            "net.bridge.bridge-nf-call-iptables": 1, "net.bridge.bridge-nf-call-ip6tables": 1,
            "net.ipv4.conf.all.route_localnet": 0, "net.ipv4.vs.conntrack": None,
            "kernel.modules_disabled": 0, "net.netfilter.nf_conntrack_max": 262144,
        },
        "kube_chains": {"KUBE-IPTABLES-HINT": [], "KUBE-KUBELET-CANARY": [], "KUBE-PROXY-CANARY": []},
        "detected_mode": detected_mode,
        "mode_reason": "test fixture",
        "detected_mode_by_rule_count": by_rule_count,
        "rule_count_reason": "test fixture",
        "rule_counts": dict(rule_counts or {"legacy": 5 if mixed else 0, "nft": 7 if mixed else 0,
                                            "nft_unreadable": 0}),
        "mixed": mixed,
        "nft_tables": list(nft_tables or []),
        "iptables_nft_parse_errors": list(parse_errors or []),
        "errors": list(errors),
        "unreadable": list(unreadable or []),
    }
    for key in broken:
        info = facts[key] or tool("/usr/sbin/" + key.replace("_", "-"))
        info = dict(info, version=None, backend=None,
                    error="/usr/sbin/%s --version exited 139: Segmentation fault" % key)
        facts[key] = info
    facts["kube_chains"].update(dict(hint or {}))
    facts["sysctl"].update(dict(sysctl or {}))
    return facts


def captured_netbird() -> Dict[str, Any]:
    return json.loads(CAPTURED_NETBIRD.read_text())


def host(kernel: Optional[Dict[str, Any]], netfilter: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    out = {}
    if kernel is not None:
        out["kernel_config"] = copy.deepcopy(kernel)
    if netfilter is not None:
        out["netfilter"] = copy.deepcopy(netfilter)
    return out


def foreign_table(family: str, name: str, hooks: Iterable[Mapping] = ()) -> Dict[str, Any]:
    hooks = [dict(h) for h in hooks]
    return {"family": family, "name": name, "owner": "foreign", "chains": max(1, len(hooks)), "rules": 1,
            "hooks": hooks}


def parse_error(chain: str = "FORWARD", handle: int = 3, rule: str = "ct state established accept") -> Dict[str, Any]:
    return {"family": "ip", "table": "filter", "chain": chain, "handle": handle, "rule": rule,
            "error": "Error: cmp sreg undef\niptables v1.8.9 (nf_tables): Parsing nftables rule failed",
            "expected_error": "cmp sreg undef", "expressions": [{"class": "ct", "expression": "ct state"}],
            "iptables_nft_version": "1.8.9", "writer": "netbird",
            "writer_evidence": {"comment": None, "interfaces": ["wt0"], "other_tables": ["inet netbird"]}}


# ---------------------------------------------------------------------------------------------- findings as dicts
# What the remediation filters take: node_findings(include_passed=true), i.e. _findings.evaluate(...,
# include_passed=True) as dicts, on ansible_facts holding kernel_config, netfilter and the OS keys of the setup module.

def os_facts(distribution: Optional[str], os_family: Optional[str] = None,
             major: Optional[str] = None) -> Dict[str, Any]:
    """The ansible_facts keys the findings read the OS from (the package names of their remedies)."""
    out = {}  # type: Dict[str, Any]
    if distribution is not None:
        out["distribution"] = distribution
    if os_family is not None:
        out["os_family"] = os_family
    if major is not None:
        out["distribution_major_version"] = major
    return out


def finding_dicts(kernel: Optional[Dict[str, Any]], netfilter: Optional[Dict[str, Any]],
                  proxy_mode: str = "iptables", os: Optional[Mapping[str, Any]] = None,
                  **kwargs: Any) -> List[Dict[str, Any]]:
    """``_findings.evaluate(host(kernel, netfilter) + os, proxy_mode, include_passed=True, **kwargs)`` as dicts
    (``distribution``, ``cni``, ``ipv6``, ... pass through)."""
    from ansible_collections.kubenode.netfilter.plugins.module_utils import _findings

    facts = host(kernel, netfilter)
    facts.update(dict(os or {}))
    return [f.as_dict() for f in _findings.evaluate(facts, proxy_mode, include_passed=True, **kwargs)]


def without_remedies(findings: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """The same findings with every ``remedy`` removed (None)."""
    return [dict(f, remedy=None) for f in findings]
