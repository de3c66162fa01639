"""Legacy vs nft on a modular kernel: netfilter_backend_facts as booted, after `iptables-legacy -t nat -L` (the kernel
autoloads iptable_nat) and after an iptables-nft rule (nft_compat), and the facts themselves never load a module.

Runs first on the freshly booted VM (tests/vm/conftest.py orders it): the "as booted" expectations hold only there.
"""
from __future__ import annotations

import base64

import pytest

from kntest import vm as kvm

pytestmark = [pytest.mark.vm, pytest.mark.root]


def modules(output, name):
    text = base64.b64decode(kvm.task_result(output, name)["content"]).decode()
    return {line.split()[0] for line in text.splitlines() if line.strip()}


def backend(output, name):
    return kvm.task_result(output, name)["ansible_facts"]["netfilter"]


def test_backend_facts_follow_what_the_tools_load(ansible_env, vm):
    proc, output = kvm.playbook("backend.yml", ansible_env)
    assert proc.returncode == 0, kvm.describe(proc, output)
    m0, m1, m2 = (modules(output, n) for n in
                  ("Modules as booted", "Modules after the legacy listing", "Modules after the nft rule"))

    # Reading never loads: /proc/modules is the same before and after every facts run
    assert modules(output, "Modules after the facts as booted") == m0
    assert modules(output, "Modules after the facts after the legacy listing") == m1
    assert modules(output, "Modules after the facts after the nft rule") == m2

    # As booted: Debian's systemd loads ip_tables itself (systemd src/core/kmod-setup.c, with libiptc), nothing of
    # the nat table or of nf_tables is there yet
    assert not m0 & {"iptable_nat", "nf_tables", "nft_compat", "nf_nat"}, sorted(m0)
    b0 = backend(output, "Backend facts as booted")
    assert b0["backends"]["legacy"]["ipv4"]["kernel_tables"] == [], b0["backends"]["legacy"]
    assert b0["backends"]["legacy"]["ipv4"]["tables"] == {}, b0["backends"]["legacy"]
    assert b0["nft_tables"] == [] and b0["rule_counts"]["nft"] == 0, b0["nft_tables"]
    assert b0["detected_mode"] == "nft" and b0["mixed"] is False, b0["mode_reason"]

    # iptables-legacy -t nat -L: the kernel autoloaded iptable_nat (and nf_nat); the facts now see a legacy nat table
    assert {"iptable_nat", "nf_nat"} <= m1 - m0, sorted(m1 - m0)
    assert "nf_tables" not in m1, "the legacy tool loaded nf_tables"
    b1 = backend(output, "Backend facts after the legacy listing")
    legacy = b1["backends"]["legacy"]["ipv4"]
    assert "nat" in legacy["kernel_tables"], legacy
    assert "nat" in legacy["tables"], legacy
    assert legacy["tables"]["nat"]["rules"] == 0, legacy["tables"]["nat"]
    assert b1["rule_counts"]["legacy"] == 0 and b1["rule_counts"]["nft"] == 0, b1["rule_counts"]
    # empty legacy tables do not make the node legacy: no kubelet chain, no rule either side
    assert b1["detected_mode"] == "nft" and b1["mixed"] is False, b1["mode_reason"]

    # iptables-nft with an xtables match it cannot translate: nf_tables + nft_compat + xt_u32
    assert {"nf_tables", "nft_compat", "xt_u32"} <= m2 - m1, sorted(m2 - m1)
    b2 = backend(output, "Backend facts after the nft rule")
    owned = [t for t in b2["nft_tables"] if t["family"] == "ip" and t["name"] == "filter"]
    assert len(owned) == 1 and owned[0]["owner"] == "iptables", b2["nft_tables"]
    assert b2["rule_counts"]["nft"] == 1, b2["rule_counts"]
    nft_filter = b2["backends"]["nft"]["ipv4"]["tables"]["filter"]
    assert nft_filter["rules"] == 1, nft_filter
    assert b2["iptables_nft_parse_errors"] == [], b2["iptables_nft_parse_errors"]
    assert b2["detected_mode"] == "nft", b2["mode_reason"]
