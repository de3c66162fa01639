"""The VM tier's plumbing (tests/vm): scripts/vm.sh, ansible-playbook against its inventory, SSH for reading state.

The VM boots Debian's own modular kernel under qemu TCG (see scripts/vm.sh and docs/testing.md)."""
from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from kntest import REPO, ansible_bin, run, run_ansible_json

VM_SCRIPT = REPO / "scripts" / "vm.sh"
STATE = REPO / ".build" / "vm"
INVENTORY = STATE / "inventory.yml"
PLAYBOOKS = REPO / "tests" / "vm" / "playbooks"


def vm_sh(*args: str, check: bool = True, timeout: int = 1200) -> subprocess.CompletedProcess:
    """Run ``scripts/vm.sh ARGS``; on failure the test fails with its output (the reason the VM did not come up)."""
    try:
        proc = subprocess.run([str(VM_SCRIPT), *args], capture_output=True, text=True, check=False, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"scripts/vm.sh {' '.join(args)} did not finish within {timeout}s: {exc.stderr}")
    if check and proc.returncode != 0:
        pytest.fail(f"scripts/vm.sh {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def host_vars() -> dict:
    """The variables vm.sh wrote for host ``vm`` (port, key, kubenode_vm_kernel_release ...)."""
    return yaml.safe_load(INVENTORY.read_text())["all"]["hosts"]["vm"]


def ssh(command: str, check: bool = True, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run a shell command in the VM as root (to read state for assertions; the code under test runs through
    ansible-playbook)."""
    hv = host_vars()
    argv = ["ssh", "-i", hv["ansible_ssh_private_key_file"], "-p", str(hv["ansible_port"]), "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=20", "root@127.0.0.1", command]
    return run(argv, check=check, timeout=timeout)


def loaded_modules() -> set:
    """Names of the modules in the VM's /proc/modules."""
    out = ssh("cat /proc/modules").stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def playbook(target, env: dict, extra_vars: dict = None, check_mode: bool = False, args=()) -> tuple:
    """``ansible-playbook -i INVENTORY TARGET`` with the json callback: ``(proc, output)``.

    TARGET is a file in tests/vm/playbooks or a collection playbook (``kubenode.netfilter.preflight``). The caller
    checks the return code it expects."""
    target = str(PLAYBOOKS / target) if (PLAYBOOKS / str(target)).exists() else str(target)
    argv = [ansible_bin("ansible-playbook"), "-i", str(INVENTORY), target]
    if extra_vars:
        argv += ["-e", json.dumps(extra_vars)]
    if check_mode:
        argv.append("--check")
    argv += list(args)
    return run_ansible_json(argv, env)


def task_result(output: dict, name: str, host: str = "vm") -> dict:
    """The result of the last task called NAME for HOST in a json-callback output; fails the test if it did not run."""
    found = None
    for play in output.get("plays", []):
        for task in play.get("tasks", []):
            if task["task"]["name"] == name and host in task["hosts"]:
                found = task["hosts"][host]
    if found is None:
        names = [t["task"]["name"] for p in output.get("plays", []) for t in p.get("tasks", [])]
        pytest.fail(f"task {name!r} did not run on {host}; tasks that ran: {names}")
    return found


def failed_tasks(output: dict, host: str = "vm") -> list:
    """(task name, message) of every failed (not ignored, not rescued) task."""
    bad = []
    for play in output.get("plays", []):
        for task in play.get("tasks", []):
            res = task["hosts"].get(host)
            if res and res.get("failed") and not res.get("ignore_errors"):
                items = [(r.get("item"), r.get("msg") or r.get("stderr")) for r in res.get("results", [])
                         if isinstance(r, dict) and r.get("failed")]
                bad.append((task["task"]["name"], res.get("msg", ""), items))
    return bad


def describe(proc, output=None) -> str:
    """A failure message: rc, the failed tasks and the tail of stderr."""
    tasks = failed_tasks(output) if output else []
    return f"rc={proc.returncode} failed tasks={tasks}\nstderr:\n{proc.stderr[-3000:]}"


def quote(argv) -> str:
    return " ".join(shlex.quote(str(a)) for a in argv)


__all__ = ["VM_SCRIPT", "STATE", "INVENTORY", "PLAYBOOKS", "vm_sh", "host_vars", "ssh", "loaded_modules", "playbook",
           "task_result", "failed_tasks", "describe", "quote", "Path"]
