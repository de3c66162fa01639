"""Helpers shared by the unit and integration tests (import as ``kntest``; tests/conftest.py puts it on sys.path)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS_ROOT = REPO / ".build" / "pytest-collections"
FIXTURES = REPO / "tests" / "fixtures"
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"


def ensure_collection_link() -> None:
    """Make ``COLLECTIONS_ROOT/ansible_collections/kubenode/netfilter`` point at this checkout."""
    link = COLLECTIONS_ROOT / "ansible_collections" / "kubenode" / "netfilter"
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() and link.resolve() == REPO:
        return
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(REPO, target_is_directory=True)


def bundled_collections() -> str:
    """The ansible_collections directory of the `ansible` bundle installed beside this Python, if any."""
    import importlib.util

    spec = importlib.util.find_spec("ansible_collections.community")
    if spec is None or not spec.submodule_search_locations:
        return ""
    return str(Path(list(spec.submodule_search_locations)[0]).parent.parent)


def ansible_environment() -> dict:
    """Environment for running ansible / ansible-playbook against this checkout."""
    env = dict(os.environ)
    paths = [str(COLLECTIONS_ROOT)]
    bundled = bundled_collections()
    if bundled:
        paths.append(bundled)
    env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(paths)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update({
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        "LC_ALL": "C.UTF-8",
    })
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
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, **kwargs)
    if check and proc.returncode != 0:
        pytest.fail(f"{argv!r} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def run_ansible_json(argv, env) -> tuple:
    """Run an ``ansible`` / ``ansible-playbook`` command with the json stdout callback.

    Returns ``(proc, output)``, the completed process and its parsed JSON; fails the test showing argv, rc, stdout and
    stderr when the command printed no JSON. The caller checks the return code it expects."""
    env = dict(env, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
    proc = run(argv, env=env, check=False)
    try:
        output = json.loads(proc.stdout)
    except ValueError:
        pytest.fail("no JSON from %r (rc %d)\nstdout:\n%s\nstderr:\n%s"
                    % (list(argv), proc.returncode, proc.stdout[-6000:], proc.stderr[-3000:]))
    return proc, output


def is_root() -> bool:
    return os.geteuid() == 0
