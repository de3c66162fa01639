"""Throwaway network namespaces for tests that need real netfilter state.

Small API, reused by several test suites::

    from kntest.netns import NetNS, netns, require_netns

    require_netns("iptables-nft", "nft")      # pytest.skip with a clear reason unless root + tools
    with netns() as ns:                         # `ip netns add kn-<random>`; always deleted afterwards
        ns.run(["iptables-nft", "-A", "FORWARD", "-j", "ACCEPT"])      # `ip netns exec NAME ...`
        ns.run(["nft", "-f", "-"], input="add table inet t\\n")
        python = ns.interpreter(tmp_path)        # wrapper: exec ip netns exec NAME /usr/bin/python3 "$@"
        # ... use `python` as ansible_python_interpreter so Ansible runs modules inside the namespace

Only network state is isolated: files written by commands land on the real host.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Sequence

import pytest

IP = "ip"


class NetNSError(RuntimeError):
    """A command in (or for) the namespace failed."""


def _ip_bin() -> Optional[str]:
    return shutil.which(IP) or next((p for p in ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip") if os.path.exists(p)), None)


def missing_requirements(*tools: str) -> Optional[str]:
    """Why namespace tests cannot run here (not root, no `ip`, a tool missing), or None."""
    if os.geteuid() != 0:
        return "needs root (creates network namespaces)"
    if _ip_bin() is None:
        return "needs iproute2's `ip` to create network namespaces"
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        return "needs tools not installed here: " + ", ".join(missing)
    return None


def require_netns(*tools: str) -> None:
    """pytest.skip (with the reason) unless namespaces can be made and every tool in `tools` is on PATH."""
    reason = missing_requirements(*tools)
    if reason:
        pytest.skip(reason)


class NetNS:
    """A named network namespace; create with `netns()` (or `NetNS.create()` + `delete()`)."""

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def create(cls, prefix: str = "kn") -> "NetNS":
        name = "%s-%s" % (prefix, secrets.token_hex(4))
        proc = subprocess.run([_ip_bin() or IP, "netns", "add", name], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise NetNSError("ip netns add %s exited %d: %s" % (name, proc.returncode, proc.stderr.strip()))
        ns = cls(name)
        ns.run(["ip", "link", "set", "lo", "up"], check=False)
        return ns

    def delete(self) -> None:
        subprocess.run([_ip_bin() or IP, "netns", "delete", self.name], capture_output=True, text=True, check=False)

    def argv(self, argv: Sequence[str]) -> list:
        """The argv that runs `argv` inside the namespace."""
        return [_ip_bin() or IP, "netns", "exec", self.name] + [str(a) for a in argv]

    def run(self, argv: Sequence[str], check: bool = True, input: Optional[str] = None,
            env: Optional[dict] = None, timeout: Optional[float] = 600) -> subprocess.CompletedProcess:
        """Run `argv` in the namespace (text mode, output captured); `check` raises NetNSError with rc/stdout/stderr."""
        proc = subprocess.run(self.argv(argv), capture_output=True, text=True, input=input, env=env, timeout=timeout,
                              check=False)
        if check and proc.returncode != 0:
            raise NetNSError("in netns %s: %r exited %d\nstdout:\n%s\nstderr:\n%s"
                             % (self.name, list(argv), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def sh(self, script: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a /bin/sh script in the namespace (set -e)."""
        return self.run(["/bin/sh", "-ec", script], check=check)

    def interpreter(self, directory: os.PathLike, python: str = "/usr/bin/python3") -> Path:
        """Write an executable interpreter wrapper that runs `python` inside this namespace; return its path."""
        path = Path(directory) / ("python-%s" % self.name)
        path.write_text('#!/bin/sh\nexec %s netns exec %s %s "$@"\n' % (_ip_bin() or IP, self.name, python))
        path.chmod(0o755)
        return path

    def __repr__(self) -> str:
        return "NetNS(%r)" % self.name


@contextmanager
def netns(prefix: str = "kn") -> Iterator[NetNS]:
    """A fresh network namespace, deleted on exit whatever happens."""
    ns = NetNS.create(prefix)
    try:
        yield ns
    finally:
        ns.delete()
