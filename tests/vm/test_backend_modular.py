"""Legacy vs nft on a modular kernel: netfilter_backend_facts as booted, after `iptables-legacy -t nat -L` (the kernel
autoloads iptable_nat) and after an iptables-nft rule (nft_compat), and the facts themselves never load a module.

Runs first on the freshly booted VM (tests/vm/conftest.py orders it): the "as booted" expectations hold only there.
"""
from __future__ import annotations

import pytest

from kntest import vm as kvm

pytestmark = [pytest.mark.vm, pytest.mark.root]

# What the kernel loads when nft / ipset merely query it (measured here on Debian's 6.1: nf_tables with nfnetlink and
# libcrc32c, ip_set)
QUERY_AUTOLOAD = {"nf_tables", "nfnetlink", "libcrc32c", "ip_set"}


def names(text):
    return {line.split()[0] for line in text.splitlines() if line.strip()}


def step(output, name):
    """(modules before the step, the step's own output, modules after the step)."""
    res = kvm.task_result(output, name)
    assert res["rc"] == 0, res
    before, own, after = res["stdout"].split("---\n")
    return names(before), own, names(after)


def backend(output, name):
    return kvm.task_result(output, name)["ansible_facts"]["netfilter"]


def test_backend_facts_follow_what_the_tools_load(ansible_env, vm):
    proc, output = kvm.playbook("backend.yml", ansible_env)
    assert proc.returncode == 0, kvm.describe(proc, output)
    m0 = names(kvm.task_result(output, "Modules as booted")["stdout"])
    m0f, _between, m1 = step(output, "List the legacy nat table (modules before and after)")
    m1f, _between, m2 = step(output, "Add an iptables-nft rule with an xtables match, in a chain nothing jumps to "
                                     "(modules before and after)")
    m2f = names(kvm.task_result(output, "Modules after the last facts")["stdout"])

    # Reading never instantiates an iptables table or loads an xtables module: the only modules the first facts run
    # may pull in are the ones the kernel autoloads when nft and ipset ask it anything (nfnetlink subsystems: `nft
    # list` loads nf_tables, `ipset list` ip_set); after that, /proc/modules is the same before and after each run.
    assert m0 <= m0f and m0f - m0 <= QUERY_AUTOLOAD, sorted(m0f - m0)
    assert m1f == m1, sorted(m1f ^ m1)
    assert m2f == m2, sorted(m2f ^ m2)

    # As booted: Debian's systemd loads ip_tables itself (systemd src/core/kmod-setup.c, with libiptc), nothing of
    # the nat table or of nf_tables is there yet
    assert not m0 & {"iptable_nat", "nf_tables", "nft_compat", "nf_nat"}, sorted(m0)
    b0 = backend(output, "Backend facts as booted")
    assert b0["backends"]["legacy"]["ipv4"]["kernel_tables"] == [], b0["backends"]["legacy"]
    assert b0["backends"]["legacy"]["ipv4"]["tables"] == {}, b0["backends"]["legacy"]
    assert b0["nft_tables"] == [] and b0["rule_counts"]["nft"] == 0, b0["nft_tables"]
    assert b0["detected_mode"] == "nft" and b0["mixed"] is False, b0["mode_reason"]

    # iptables-legacy -t nat -L: the kernel autoloaded iptable_nat (and nf_nat); the facts now see a legacy nat table
    assert {"iptable_nat", "nf_nat"} <= m1 - m0f, sorted(m1 - m0f)
    assert "nft_compat" not in m1, "the legacy tool loaded nft_compat"
    b1 = backend(output, "Backend facts after the legacy listing")
    legacy = b1["backends"]["legacy"]["ipv4"]
    assert "nat" in legacy["kernel_tables"], legacy
    assert "nat" in legacy["tables"], legacy
    assert legacy["tables"]["nat"]["rules"] == 0, legacy["tables"]["nat"]
    assert b1["rule_counts"]["legacy"] == 0 and b1["rule_counts"]["nft"] == 0, b1["rule_counts"]
    # empty legacy tables do not make the node legacy: no kubelet chain, no rule either side
    assert b1["detected_mode"] == "nft" and b1["mixed"] is False, b1["mode_reason"]

    # iptables-nft with an xtables match it cannot translate: nft_compat + xt_u32
    assert {"nf_tables", "nft_compat", "xt_u32"} <= m2 and {"nft_compat", "xt_u32"} <= m2 - m1, sorted(m2 - m1)
    b2 = backend(output, "Backend facts after the nft rule")
    owned = [t for t in b2["nft_tables"] if t["family"] == "ip" and t["name"] == "filter"]
    assert len(owned) == 1 and owned[0]["owner"] == "iptables", b2["nft_tables"]
    assert b2["rule_counts"]["nft"] == 1, b2["rule_counts"]
    nft_filter = b2["backends"]["nft"]["ipv4"]["tables"]["filter"]
    assert nft_filter["rules"] == 1, nft_filter
    assert b2["iptables_nft_parse_errors"] == [], b2["iptables_nft_parse_errors"]
    assert b2["detected_mode"] == "nft", b2["mode_reason"]
