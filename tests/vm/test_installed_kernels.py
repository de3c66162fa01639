"""Every installed kernel: the VM carries two Debian kernels (linux-image-amd64, which it boots, and
linux-image-cloud-amd64, another release string with its own config and modules). kernel_config_facts with
`kernels: all` must find both and decide each catalog module of each from that release's own files, held against
modinfo -k RELEASE (the kernel's own tool, reading the same release's modules.dep / modules.builtin), and say which
one boots next (/vmlinuz points at the generic kernel, the one qemu boots).
"""
from __future__ import annotations

import pytest

from kntest import vm as kvm

pytestmark = [pytest.mark.vm, pytest.mark.root]


def modinfo_states(release: str, modules) -> dict:
    """module -> builtin | loadable | missing, by modinfo -k RELEASE (ground truth independent of the facts)."""
    script = ("for m in %s; do f=$(modinfo -k %s -F filename \"$m\" 2>/dev/null | head -n 1); "
              "echo \"$m ${f:-MISSING}\"; done" % (" ".join(sorted(modules)), release))
    states = {}
    for line in kvm.ssh(script).stdout.splitlines():
        name, filename = line.split(" ", 1)
        if filename == "MISSING":
            states[name] = "missing"
        elif filename.startswith("(builtin)"):
            states[name] = "builtin"
        else:
            states[name] = "loadable"
    return states


def test_every_installed_kernel_is_found_and_decided_from_its_own_files(ansible_env, vm):
    running = vm["kubenode_vm_kernel_release"]
    on_disk = set(kvm.ssh("ls /lib/modules").stdout.split())
    assert running in on_disk and len(on_disk) >= 2, on_disk  # the image carries a second kernel
    proc, output = kvm.playbook("probe.yml", ansible_env, {"kn_kernels": "all", "kn_facts_after": False})
    assert proc.returncode == 0, kvm.describe(proc, output)
    facts = kvm.task_result(output, "Kernel facts before")["ansible_facts"]["kernel_config"]
    assert "installed" in facts, "kernel_config_facts returned no `installed` with kernels: all"
    installed = facts["installed"]
    assert set(installed) == on_disk, (sorted(installed), sorted(on_disk))
    assert facts["next_boot"] == running, (facts["next_boot"], facts.get("next_boot_reason"))

    wrong = []
    for release, kernel in sorted(installed.items()):
        assert kernel["found"], (release, kernel.get("searched"))
        assert kernel["source"] == f"/boot/config-{release}", (release, kernel["source"])
        assert kernel["modules"], release
        truth = modinfo_states(release, kernel["modules"])
        for module, info in sorted(kernel["modules"].items()):
            if info["state"] == "loaded":
                wrong.append(f"{release} {module}: `loaded` for an installed kernel")
            elif info["state"] != truth[module]:
                wrong.append(f"{release} {module}: facts say {info['state']} ({info.get('reason')}), "
                             f"modinfo -k says {truth[module]}")
    assert not wrong, "\n".join(wrong)
    # the running kernel decided as installed agrees with the running facts (loaded counts as loadable there)
    for module, info in facts["modules"].items():
        state = "loadable" if info["state"] == "loaded" else info["state"]
        assert installed[running]["modules"][module]["state"] == state, (module, info)
