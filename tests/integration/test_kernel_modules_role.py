# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kernel_modules role through ansible-playbook: on fixture roots (decision path, check mode, the owned files
written below the root), on this host's real kernel (no module support, everything built in) in check mode, and the
sysctl path for real inside a throwaway network namespace (net.* sysctls are per namespace)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import kntest
from kntest import kernel_roots as kr
from kntest.netns import netns, require_netns

RELEASE = "6.1.0-test-amd64"
LOAD_FILE = "etc/modules-load.d/kubenode-netfilter.conf"
SYSCTL_FILE = "etc/sysctl.d/90-kubenode-netfilter.conf"
# iptables mode, nf_tables backend, IPv4, CNI other, generic distribution (the profile of a fixture root without
# Kubernetes files; tests/unit/.../test__remediation.py holds the table per mode)
IPTABLES_NFT = ["ipt_REJECT", "nf_conntrack", "nf_nat", "nf_tables", "nft_compat", "nft_ct", "nft_nat", "x_tables",
                "xt_addrtype", "xt_comment", "xt_conntrack", "xt_mark", "xt_MASQUERADE", "xt_nat", "xt_recent",
                "xt_statistic"]

PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: kubenode.netfilter.kernel_modules
"""


def ko(name):
    return "kernel/net/netfilter/%s.ko" % name


def alpine():
    return (kr.KERNEL_CONFIGS / "alpine-lts-x86_64.config").read_text()


def run_role(tmp_path, extra, check=False, interpreter="/usr/bin/python3", expect_rc=0):
    """Run the role on localhost; return (rc, the json callback's result, plain task results by name)."""
    kntest.ensure_collection_link()
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    inventory = tmp_path / "hosts"
    inventory.write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % interpreter)
    evars = tmp_path / "vars.json"
    evars.write_text(json.dumps(extra))
    argv = [kntest.ansible_bin("ansible-playbook"), "-i", str(inventory), str(play), "-e", "@%s" % evars]
    if check:
        argv += ["--check", "--diff"]
    proc, out = kntest.run_ansible_json(argv, kntest.ansible_environment())
    assert proc.returncode == expect_rc, proc.stdout[-6000:] + proc.stderr[-3000:]
    tasks = {}
    for play_out in out["plays"]:
        for task in play_out["tasks"]:
            result = task["hosts"].get("localhost")
            if result is not None:
                tasks.setdefault(task["task"]["name"].split(" : ", 1)[-1], []).append(result)
    return out["stats"]["localhost"], tasks


def report(tasks):
    return tasks["Report the kernel module plan"][-1]["msg"]


def fixture_root(tmp_path, dep=(), loaded=(), config=None):
    return kr.build_root(tmp_path / "root", RELEASE, config if config is not None else alpine(),
                         modules_dep=[ko(m) for m in dep], proc_modules=list(loaded))


def test_check_mode_reports_each_module_and_the_file_and_writes_nothing(tmp_path):
    root = fixture_root(tmp_path, dep=IPTABLES_NFT, loaded=["nf_conntrack"])
    stats, tasks = run_role(tmp_path, {"kubenode_host_root": str(root), "kubenode_kernel_modules_remediate": True,
                                       "kubenode_iptables_backend": "nft"}, check=True)
    msg = report(tasks)
    assert msg["would_load"] == sorted((m for m in IPTABLES_NFT if m != "nf_conntrack"), key=str.lower)
    assert msg["already_loaded"] == ["nf_conntrack"]
    write = tasks["Write the modules-load.d file this role owns"][0]
    assert write["changed"] is True
    after = write["diff"][0]["after"] if isinstance(write["diff"], list) else write["diff"]["after"]
    assert after.splitlines()[0].startswith("# Managed by Ansible: kubenode.netfilter.kernel_modules")
    assert [line for line in after.splitlines() if not line.startswith("#")] == sorted(IPTABLES_NFT, key=str.lower)
    # modprobe -d ROOT is a command: skipped in check mode; nothing was written below the root
    assert all(r.get("skipped") for r in tasks["Load each loadable module below the host root"])
    assert not (root / LOAD_FILE).exists() and not (root / "etc").exists()
    assert stats["failures"] == 0


def test_without_remediate_only_reports(tmp_path):
    root = fixture_root(tmp_path, dep=IPTABLES_NFT)
    stats, tasks = run_role(tmp_path, {"kubenode_host_root": str(root), "kubenode_iptables_backend": "nft"})
    assert report(tasks)["would_load"] and report(tasks)["remediate"] is False
    assert stats["changed"] == 0 and not (root / "etc").exists()


def test_a_failing_modprobe_stops_the_role_before_any_file(tmp_path):
    """overlay (OVERLAY_FS=m, installed, not loaded) is loadable: the role really runs `modprobe -d ROOT overlay`, which
    fails on this kernel (no module support); the role stops there, naming the command, and writes no file."""
    root = fixture_root(tmp_path, dep=IPTABLES_NFT + ["overlay"], loaded=IPTABLES_NFT)
    _stats, tasks = run_role(tmp_path, {"kubenode_host_root": str(root), "kubenode_kernel_modules_remediate": True,
                                        "kubenode_iptables_backend": "nft", "kubenode_kernel_modules_extra": ["overlay"]},
                             expect_rc=2)
    assert report(tasks)["would_load"] == ["overlay"]
    [result] = tasks["Load each loadable module below the host root"]
    failed = result["results"][0] if "results" in result else result
    assert failed["failed"] and failed["cmd"] == ["modprobe", "-d", str(root), "overlay"] and failed["rc"] != 0
    assert not (root / LOAD_FILE).exists()


def test_second_run_changes_nothing_and_absent_removes(tmp_path):
    root = fixture_root(tmp_path, dep=IPTABLES_NFT, loaded=IPTABLES_NFT)
    args = {"kubenode_host_root": str(root), "kubenode_kernel_modules_remediate": True,
            "kubenode_iptables_backend": "nft"}
    first, _tasks = run_role(tmp_path, args)
    assert first["changed"] >= 1 and (root / LOAD_FILE).exists()
    second, tasks = run_role(tmp_path, args)
    assert second["changed"] == 0, tasks
    assert "every module iptables mode needs is built in or loaded" in \
        tasks["Stop if a module the mode needs is still not loaded or missing"][0]["msg"]
    absent, _tasks = run_role(tmp_path, dict(args, kubenode_kernel_modules_state="absent"))
    assert absent["changed"] == 1 and not (root / LOAD_FILE).exists()
    again, _tasks = run_role(tmp_path, dict(args, kubenode_kernel_modules_state="absent"))
    assert again["changed"] == 0


def test_missing_module_fails_naming_option_module_release_and_fix(tmp_path):
    root = fixture_root(tmp_path, dep=[m for m in IPTABLES_NFT if m != "xt_statistic"])
    stats, tasks = run_role(tmp_path, {"kubenode_host_root": str(root), "kubenode_kernel_modules_remediate": True,
                                       "kubenode_iptables_backend": "nft"}, check=True, expect_rc=2)
    [failed] = tasks["Stop if modules the mode needs are missing"]
    assert failed["failed"] is True
    for text in ("xt_statistic", "CONFIG_NETFILTER_XT_MATCH_STATISTIC", RELEASE, "Fix:"):
        assert text in failed["msg"]
    assert stats["failures"] == 1 and not (root / "etc").exists()


def test_option_not_set_fails_with_the_kernel_fix(tmp_path):
    config = kr.derive_config(alpine(), {"NETFILTER_XT_MATCH_STATISTIC": "n"})
    root = fixture_root(tmp_path, dep=IPTABLES_NFT, config=config)
    _stats, tasks = run_role(tmp_path, {"kubenode_host_root": str(root), "kubenode_kernel_modules_remediate": True,
                                        "kubenode_iptables_backend": "nft"}, check=True, expect_rc=2)
    msg = tasks["Stop if modules the mode needs are missing"][0]["msg"]
    # the error finding's own message and fix: the symbol is not built, no package or module can add it
    assert "CONFIG_NETFILTER_XT_MATCH_STATISTIC" in msg and "no module can add a symbol the kernel was built" in msg


def test_no_config_reports_configs_load(tmp_path):
    root = kr.build_root(tmp_path / "root", RELEASE, None, proc_modules=[])
    _stats, tasks = run_role(tmp_path, {"kubenode_host_root": str(root), "kubenode_kernel_modules_remediate": True,
                                        "kubenode_kernel_modules_load_configs": True}, check=True)
    msg = report(tasks)
    assert msg["load_configs"] is True and msg["would_load"] == [] and len(msg["unknown"]) >= 10
    assert tasks["Load the configs module below the host root"][0].get("skipped")  # a command: check mode


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_this_hosts_kernel_check_mode_nothing_to_do(tmp_path, mode):
    """The real kernel (CONFIG_MODULES unset, everything built in): no modprobe at all, nothing changes."""
    if Path("/proc/modules").exists():
        pytest.skip("this kernel has module support; the test is about the built-in-only machine")
    stats, tasks = run_role(tmp_path, {"kubenode_proxy_mode": mode, "kubenode_kernel_modules_remediate": True,
                                       "kubenode_cni": "flannel"}, check=True)
    msg = report(tasks)
    assert msg["would_load"] == [] and msg["missing"] == [] and msg["unknown"] == []
    # br_netfilter is built in: the check passed and its finding carries no remedy, so the plan has nothing for it
    checks = tasks["Evaluate the requirements for the host's mode, distribution and CNI"][-1]["ansible_facts"][
        "__kubenode_preflight_checks"]
    [bridge] = [c for c in checks if c["id"] == "kernel.option_ok.BRIDGE_NETFILTER"]
    assert bridge["remedy"] is None and "built in" in bridge["message"]
    assert msg["already_loaded"] == []
    assert all(r.get("skipped") for r in tasks["Load each loadable module"])
    assert stats["changed"] == 0 and stats["failures"] == 0
    assert not Path("/etc/modules-load.d/kubenode-netfilter.conf").exists()


def test_sysctls_in_a_network_namespace(tmp_path):
    """net.ipv4.ip_forward and bridge-nf-call-iptables are per network namespace: the role sets them in a throwaway
    one (file written below a temporary directory), the second run changes nothing, the host keeps its values."""
    require_netns()
    host_before = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    sysctl_file = tmp_path / "sysctl.d" / "kubenode.conf"
    with netns() as ns:
        ns.sh("echo 0 > /proc/sys/net/ipv4/ip_forward; echo 0 > /proc/sys/net/bridge/bridge-nf-call-iptables")
        python = str(ns.interpreter(tmp_path))
        args = {"kubenode_sysctl_remediate": True, "kubenode_sysctl_file": str(sysctl_file),
                "kubenode_cni": "flannel"}
        _check_stats, _tasks = run_role(tmp_path, args, check=True, interpreter=python)
        assert ns.run(["cat", "/proc/sys/net/ipv4/ip_forward"]).stdout.strip() == "0" and not sysctl_file.exists()
        stats, _tasks = run_role(tmp_path, args, interpreter=python)
        assert stats["failures"] == 0
        assert ns.run(["cat", "/proc/sys/net/ipv4/ip_forward"]).stdout.strip() == "1"
        assert ns.run(["cat", "/proc/sys/net/bridge/bridge-nf-call-iptables"]).stdout.strip() == "1"
        assert sysctl_file.read_text().splitlines()[-2:] == [
            "net.bridge.bridge-nf-call-iptables = 1", "net.ipv4.ip_forward = 1"]
        again, _tasks = run_role(tmp_path, args, interpreter=python)
        assert again["changed"] == 0
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == host_before


def test_remediate_playbook_in_a_network_namespace(tmp_path):
    """playbooks/remediate.yml end to end on this host inside a throwaway namespace: the first preflight reports
    net.ipv4.ip_forward = 0, kernel_modules sets it (file below a temporary directory), netfilter_tools finds the
    tools present, and the final preflight (fail_on error) passes."""
    require_netns("iptables", "nft")
    kntest.ensure_collection_link()
    sysctl_file = tmp_path / "sysctl.d" / "kubenode.conf"
    with netns() as ns:
        ns.sh("echo 0 > /proc/sys/net/ipv4/ip_forward")
        inventory = tmp_path / "hosts"
        inventory.write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n"
                             % ns.interpreter(tmp_path))
        evars = tmp_path / "vars.json"
        evars.write_text(json.dumps({"kubenode_sysctl_remediate": True, "kubenode_sysctl_file": str(sysctl_file),
                                     "kubenode_kernel_modules_remediate": True,
                                     "kubenode_netfilter_tools_remediate": True, "kubenode_cni": "calico"}))
        proc = kntest.run([kntest.ansible_bin("ansible-playbook"), "-i", str(inventory),
                           str(kntest.REPO / "playbooks" / "remediate.yml"), "-e", "@%s" % evars],
                          env=kntest.ansible_environment(), check=False)
        assert proc.returncode == 0, proc.stdout[-6000:]
        assert "sysctl.net.ipv4.ip_forward" in proc.stdout  # the first preflight's error
        assert ns.run(["cat", "/proc/sys/net/ipv4/ip_forward"]).stdout.strip() == "1"
        # rc 0: the final preflight's "Stop if findings at or above the fail threshold remain" (fail_on error) passed
        assert proc.stdout.count("Stop if findings at or above the fail threshold remain") == 2
        assert sysctl_file.exists()
