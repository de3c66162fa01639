"""Shared pytest plumbing.

Makes this checkout importable as ``ansible_collections.kubenode.netfilter`` (a symlink under ``.build/``) so that the
tests import the collection exactly as Ansible does, and offers fixtures to run real Ansible commands against it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
COLLECTIONS_ROOT = REPO / ".build" / "pytest-collections"
_LINK = COLLECTIONS_ROOT / "ansible_collections" / "kubenode" / "netfilter"


def _ensure_link() -> None:
    _LINK.parent.mkdir(parents=True, exist_ok=True)
    if _LINK.is_symlink() and _LINK.resolve() == REPO:
        return
    if _LINK.is_symlink() or _LINK.exists():
        _LINK.unlink()
    _LINK.symlink_to(REPO, target_is_directory=True)


_ensure_link()
sys.path.insert(0, str(COLLECTIONS_ROOT))

FIXTURES = REPO / "tests" / "fixtures"
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"


def _bundled_collections() -> str:
    """The ansible_collections directory of the `ansible` bundle installed beside this Python, if any."""
    import importlib.util

    spec = importlib.util.find_spec("ansible_collections.community")
    if spec is None or not spec.submodule_search_locations:
        return ""
    return str(Path(list(spec.submodule_search_locations)[0]).parent.parent)


@pytest.fixture(scope="session")
def ansible_env() -> dict:
    """Environment for running ansible / ansible-playbook against this checkout."""
    env = dict(os.environ)
    paths = [str(COLLECTIONS_ROOT)]
    bundled = _bundled_collections()
    if bundled:
        paths.append(bundled)
    env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(paths)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_HOST_KEY_CHECKING"] = "0"
    env["ANSIBLE_RETRY_FILES_ENABLED"] = "0"
    env["ANSIBLE_LOCALHOST_WARNING"] = "0"
    env["ANSIBLE_INVENTORY_UNPARSED_WARNING"] = "0"
    env["LC_ALL"] = "C.UTF-8"
    return env


def ansible_bin(name: str) -> str:
    """Path of an Ansible CLI installed beside the running Python."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed beside {sys.executable}: run scripts/bootstrap.sh")
    return found


def run(argv, env=None, check=True, **kwargs) -> subprocess.CompletedProcess:
    """Run a command, capture text output; on failure show argv, rc, stdout and stderr."""
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, **kwargs)
    if check and proc.returncode != 0:
        pytest.fail(f"{argv!r} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def pytest_configure(config):
    config.addinivalue_line("markers", "root: needs root (network namespaces, real netfilter tools)")
    config.addinivalue_line("markers", "netns: builds state in throwaway network namespaces")
