# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Findings for every installed kernel (issue 14): the real kernel_config_facts gathering with kernels=all on fixture
roots of tests/unit/plugins/module_utils/test__boot.py (two and three installed kernels, each next-boot source), then
the one evaluation and the kernel_modules plan."""
from __future__ import annotations

import pytest

from kntest import facts as kf
from kntest import kernel_roots as kr

from ansible_collections.kubenode.netfilter.plugins.module_utils import _findings
from ansible_collections.kubenode.netfilter.plugins.module_utils import _remediation as rem

from test__boot import GOOD, LEFTOVER, NONFT, NOSTAT, SPLIT, UUID, gather_all, node  # noqa: E402

NF = kf.netfilter_facts()
UBUNTU = {"distribution": "Ubuntu", "os_family": "Debian", "distribution_major_version": "24"}


def evaluate(facts, mode="iptables", kernels="auto", os=None):
    host = dict(kf.host(facts, NF), **(os or {}))
    return {f.id: f for f in _findings.evaluate(host, mode, "generic", "cilium", kernels=kernels)}


def grub_next(root, release, releases):
    kr.write_grub_debian(root, releases, saved_entry="gnulinux-advanced-%s>gnulinux-%s-advanced-%s"
                         % (UUID, release, UUID))


def test_next_boot_kernel_without_statistic_is_an_error_naming_the_release(tmp_path):
    root = node(tmp_path, GOOD, NOSTAT)
    grub_next(root, NOSTAT, [NOSTAT, GOOD])
    got = evaluate(gather_all(root))
    finding = got["kernel.option_missing.NETFILTER_XT_MATCH_STATISTIC@" + NOSTAT]
    assert finding.severity == "error" and finding.kernel_release == NOSTAT
    assert finding.message.startswith("kernel %s (installed, the node boots it next)" % NOSTAT)
    assert finding.as_dict()["kernel_release"] == NOSTAT
    assert "kernel.option_missing.NETFILTER_XT_MATCH_STATISTIC" not in got     # the running kernel has it
    # running: the installed kernels are not looked at
    assert not [i for i in evaluate(gather_all(root), kernels="running") if "@" in i]


def test_a_problem_only_in_another_installed_kernel_is_a_warning(tmp_path):
    root = node(tmp_path, GOOD, NOSTAT)
    grub_next(root, GOOD, [NOSTAT, GOOD])                  # boots the running kernel again
    facts = gather_all(root)
    assert facts["next_boot"] == GOOD
    assert not [i for i in evaluate(facts) if "@" in i]    # auto: nothing else boots next
    got = evaluate(facts, kernels="all")
    assert got["kernel.option_missing.NETFILTER_XT_MATCH_STATISTIC@" + NOSTAT].severity == "warning"


def test_next_boot_without_nft_expressions_fails_nftables_mode(tmp_path):
    root = node(tmp_path, GOOD, NONFT)
    grub_next(root, NONFT, [NONFT, GOOD])
    got = evaluate(gather_all(root), mode="nftables")
    assert got["kernel.option_missing.NFT_NUMGEN@" + NONFT].severity == "error"
    assert "kernel.option_missing.NFT_NUMGEN@" + NONFT not in evaluate(gather_all(root), mode="iptables")


def test_extra_package_split_names_the_package_of_that_release_and_never_loads(tmp_path):
    root = node(tmp_path, GOOD, SPLIT)
    kr.write_grub_debian(root, [SPLIT, GOOD], default="0")
    facts = gather_all(root)
    assert facts["next_boot"] == SPLIT
    evaluated = _findings.evaluate(dict(kf.host(facts, NF), **UBUNTU), "iptables", "generic", "cilium",
                                   include_passed=True, kernels="auto")
    findings = [f.as_dict() for f in evaluated]
    by_id = {f["id"]: f for f in findings}
    missing = by_id["kernel.module_missing.xt_statistic@" + SPLIT]
    assert missing["severity"] == "error"
    assert missing["remedy"] == {"kind": "install_package", "packages": ["linux-modules-extra-" + SPLIT],
                                 "module": "xt_statistic", "release": SPLIT,
                                 "flag": "kubenode_kernel_modules_install_extra"}
    # never a load remedy for a kernel that is not running
    assert not [f for f in findings if "@" in f["id"] and (f["remedy"] or {}).get("kind") == "load_module"]
    plan = rem.kernel_modules_plan(findings, facts, "iptables")
    assert "linux-modules-extra-" + SPLIT in plan["packages"]
    entry = [m for m in plan["missing"] if m["module"] == "xt_statistic"][0]
    assert entry["kernel_release"] == SPLIT and entry["packages"] == ["linux-modules-extra-" + SPLIT]
    assert all("@" not in name for name in plan["load"] + plan["persist"])


def test_leftovers_of_an_uninstalled_kernel_are_not_checked(tmp_path):
    root = node(tmp_path, GOOD, LEFTOVER)
    got = evaluate(gather_all(root), kernels="all")
    assert not [i for i in got if i.endswith("@" + LEFTOVER) and got[i].severity in ("error", "warning")]


def test_next_boot_named_but_not_installed_could_not_be_checked(tmp_path):
    root = node(tmp_path, GOOD)
    grub_next(root, "6.1.0-99-amd64", ["6.1.0-99-amd64", GOOD])
    facts = gather_all(root)
    assert facts["next_boot"] in (None, "6.1.0-99-amd64")
    if facts["next_boot"] == "6.1.0-99-amd64":
        assert evaluate(facts)["kernel.next_boot_unknown"].severity == "error"


@pytest.mark.parametrize("kernels", ["sometimes", ""])
def test_bad_kernels_argument(tmp_path, kernels):
    with pytest.raises(ValueError, match="kernels must be one of running, all, auto"):
        _findings.evaluate(kf.host(gather_all(node(tmp_path, GOOD)), NF), "iptables", kernels=kernels)
