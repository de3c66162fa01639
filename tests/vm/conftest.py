"""The VM tier: tests against Debian's own modular kernel in a qemu TCG VM (scripts/vm.sh).

Not in pytest.ini's testpaths: `scripts/test.sh` runs it as its own stage (`KUBENODE_STAGES=vm`), or by hand
`python -m pytest -p no:cacheprovider tests/vm`. The session boots a fresh VM (a clean overlay on the cached image:
these tests load and delete modules and reboot) and stops it at the end. KUBENODE_VM_REUSE=1 keeps a running VM
instead of rebooting a fresh one (the backend test then checks a VM that may not be fresh); KUBENODE_VM_KEEP=1
leaves the VM running afterwards (`scripts/vm.sh ssh`, `scripts/vm.sh down`).

The tests change the kernel's state, so their order matters and is fixed here: backend facts on the freshly booted
kernel first, then the remediation (which needs br_netfilter and ip_vs not yet loaded, and reboots), the verdicts
(which load most netfilter modules), and the installed kernels (read-only).
"""
from __future__ import annotations

import os

import pytest

from kntest import is_root
from kntest import vm as kvm

ORDER = ("test_backend_modular.py", "test_remediation.py", "test_verdicts.py", "test_installed_kernels.py")


def pytest_configure(config):
    config.addinivalue_line("markers", "vm: runs against the qemu VM with Debian's modular kernel (scripts/vm.sh)")


def pytest_collection_modifyitems(session, config, items):
    def key(item):
        name = item.path.name
        return ORDER.index(name) if name in ORDER else len(ORDER)
    items.sort(key=key)  # stable: the order inside a file is kept


@pytest.fixture(scope="session", autouse=True)
def vm():
    """A freshly booted VM for the session (fails, never skips, when this machine cannot boot one)."""
    if not is_root():
        pytest.fail("the VM tier needs root: scripts/vm.sh builds the image with debootstrap")
    if os.environ.get("KUBENODE_VM_REUSE") != "1":
        kvm.vm_sh("down")
    kvm.vm_sh("up")
    yield kvm.host_vars()
    if os.environ.get("KUBENODE_VM_KEEP") != "1":
        kvm.vm_sh("down")
