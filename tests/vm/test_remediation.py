"""Remediation for real on Debian's modular kernel: the remediate playbook in ipvs mode loads br_netfilter and the ipvs
modules and persists them in modules-load.d; check mode before changes nothing; after a real reboot they are loaded
again (systemd-modules-load) and the preflight passes; a second run reports changed=0.
"""
from __future__ import annotations

import pytest

from kntest import vm as kvm

pytestmark = [pytest.mark.vm, pytest.mark.root]

VARS = {"kubenode_proxy_mode": "ipvs", "kubenode_cni": "flannel", "kubenode_kernel_modules_remediate": True,
        "kubenode_sysctl_remediate": True}
# kube-proxy ipvs mode needs ip_vs and its default scheduler ip_vs_rr (wrr / sh are optional), flannel br_netfilter
# (catalog rows); the role persists more (the mode's xtables modules): all of its file must be loaded after a reboot
EXPECTED = {"br_netfilter", "ip_vs", "ip_vs_rr"}
LOAD_FILE = "/etc/modules-load.d/kubenode-netfilter.conf"
# The modules the kernel autoloads when the facts merely query nft / ipset (test_backend_modular.py pins that down):
# left out of the check-mode comparison, which is about what the remediation itself would change
QUERY_AUTOLOAD = "nf_tables|nfnetlink|libcrc32c|ip_set"
SNAPSHOT = ("cut -d' ' -f1 /proc/modules | grep -vxE '" + QUERY_AUTOLOAD + "' | sort; echo ---; "
            "ls -la /etc/modules-load.d /etc/sysctl.d; echo ---; "
            "cat /etc/modules-load.d/* /etc/sysctl.d/* 2>&1; echo ---; "
            "sysctl net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables 2>&1; true")


def listed(text: str) -> set:
    return {line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")}


def test_check_mode_changes_nothing(ansible_env, vm):
    loaded = kvm.loaded_modules()
    assert not EXPECTED & loaded, f"already loaded before the remediation: {sorted(EXPECTED & loaded)}"
    before = kvm.ssh(SNAPSHOT).stdout
    proc, output = kvm.playbook("kubenode.netfilter.remediate", ansible_env, VARS, check_mode=True)
    assert output["stats"]["vm"]["unreachable"] == 0, kvm.describe(proc, output)
    assert kvm.ssh(SNAPSHOT).stdout == before, "check mode changed the VM"


def test_modules_loaded_persisted_survive_reboot_and_second_run_is_unchanged(ansible_env, vm):
    proc, output = kvm.playbook("kubenode.netfilter.remediate", ansible_env, VARS)
    assert proc.returncode == 0, kvm.describe(proc, output)
    assert output["stats"]["vm"]["changed"] > 0
    loaded = kvm.loaded_modules()
    assert EXPECTED <= loaded, f"not loaded: {sorted(EXPECTED - loaded)}"
    persisted = listed(kvm.ssh(f"cat {LOAD_FILE}").stdout)
    assert EXPECTED <= persisted, f"not in {LOAD_FILE}: {sorted(EXPECTED - persisted)}"
    assert kvm.ssh("sysctl -n net.bridge.bridge-nf-call-iptables").stdout.strip() == "1"

    boot_id = kvm.ssh("cat /proc/sys/kernel/random/boot_id").stdout.strip()
    proc, output = kvm.playbook("reboot.yml", ansible_env)
    assert proc.returncode == 0, kvm.describe(proc, output)
    assert kvm.ssh("cat /proc/sys/kernel/random/boot_id").stdout.strip() != boot_id, "the VM did not reboot"
    assert kvm.ssh("uname -r").stdout.strip() == vm["kubenode_vm_kernel_release"]
    loaded = kvm.loaded_modules()
    assert EXPECTED <= loaded, f"not loaded again after the reboot: {sorted(EXPECTED - loaded)}"
    assert persisted <= loaded, f"in {LOAD_FILE} but not loaded after the reboot: {sorted(persisted - loaded)}"
    # the sysctl.d file applies once br_netfilter is there (systemd-modules-load, then systemd-sysctl / udev)
    assert kvm.ssh("sysctl -n net.bridge.bridge-nf-call-iptables").stdout.strip() == "1"

    # the second run: its last step is the preflight with the default threshold (error), so rc 0 is the preflight
    # passing on the rebooted node; nothing left to change
    proc, output = kvm.playbook("kubenode.netfilter.remediate", ansible_env, VARS)
    assert proc.returncode == 0, kvm.describe(proc, output)
    assert output["stats"]["vm"]["failures"] == 0 and _ran_final_preflight(output), kvm.describe(proc, output)
    assert output["stats"]["vm"]["changed"] == 0, [
        (t["task"]["name"], t["hosts"]["vm"].get("msg")) for p in output["plays"] for t in p["tasks"]
        if t["hosts"].get("vm", {}).get("changed")]


def _ran_final_preflight(output) -> bool:
    """The remediate playbook reached its last preflight (the assert that fails a node with errors) on host vm."""
    names = [t["task"]["name"] for p in output["plays"] for t in p["tasks"] if "vm" in t["hosts"]
             and not t["hosts"]["vm"].get("skipped")]
    return any("Stop if findings at or above the fail threshold remain" in n for n in names[-5:])
