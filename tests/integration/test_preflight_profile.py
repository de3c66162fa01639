# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The preflight judges each host against its own profile (issue 13), through ansible-playbook.

The seed incident: an existing k3s node whose /etc/rancher/k3s/config.yaml sets kube-proxy-arg proxy-mode=nftables
and that has no nft (k3s v1.31.2, the last 1.31 release without a bundled nft). The node is a throwaway network
namespace whose Python runs in a private mount namespace where /usr/sbin/nft is hidden, with the k3s fixture root of
tests/fixtures/node-profile (plus a stand-in k3s binary that answers --version) as kubenode_host_root.
"""
from __future__ import annotations

import json
import os
import shutil

import pytest

import kntest
from kntest.netns import netns, require_netns

pytestmark = [pytest.mark.root, pytest.mark.netns]

K3S_VERSION = '#!/bin/sh\n[ "$1" = "--version" ] || exit 2\necho "k3s version v1.31.2+k3s1 (6da20424)"\n'


def hidden_nft_interpreter(ns, tmp_path):
    """An interpreter wrapper: the namespace, and a private mount namespace whose /usr/sbin lacks nft."""
    orig, shadow = tmp_path / "orig-sbin", tmp_path / "sbin"
    orig.mkdir()
    shadow.mkdir()
    for entry in os.listdir("/usr/sbin"):
        if not entry.startswith("nft"):
            (shadow / entry).symlink_to(orig / entry)
    path = tmp_path / "python-hidden-nft"
    path.write_text(
        "#!/bin/sh\nexec unshare -m --propagation private /bin/sh -ec "
        "'mount --bind /usr/sbin \"$0\"; mount --bind \"$1\" /usr/sbin; shift; exec \"$@\"' %s %s %s\n"
        % (orig, shadow, " ".join(ns.argv(["/usr/bin/python3"]))) + "")
    # the wrapper's own arguments (the module file) follow the python argv
    path.write_text(path.read_text().rstrip("\n") + ' "$@"\n')
    path.chmod(0o755)
    return path


def k3s_root(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(kntest.FIXTURES / "node-profile" / "k3s-nftables", root, symlinks=True)
    binary = root / "usr/local/bin/k3s"
    binary.parent.mkdir(parents=True)
    binary.write_text(K3S_VERSION)
    binary.chmod(0o755)
    return root


def run_preflight(tmp_path, ns, extra_vars=None):
    hostvars = {"ansible_connection": "local",
                "ansible_python_interpreter": str(hidden_nft_interpreter(ns, tmp_path)),
                "kubenode_host_root": str(k3s_root(tmp_path)), "ansible_become": False}
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"k3s-edge": hostvars}}}))
    argv = [kntest.ansible_bin("ansible-playbook"), "-i", str(inventory), "kubenode.netfilter.preflight", "--check"]
    for key, value in (extra_vars or {}).items():
        argv += ["-e", "%s=%s" % (key, value)]
    proc, out = kntest.run_ansible_json(argv, kntest.ansible_environment())
    checks = None
    for play in out["plays"]:
        for task in play["tasks"]:
            result = task["hosts"].get("k3s-edge") or {}
            facts = result.get("ansible_facts") or {}
            if "__kubenode_preflight_checks" in facts:
                checks = facts["__kubenode_preflight_checks"]
            if "__kubenode_profile" in facts:
                profile = facts["__kubenode_profile"]
    return proc, out, {c["id"]: c for c in checks}, profile


def test_no_variables_the_node_is_checked_for_its_own_nftables_mode(tmp_path):
    require_netns("nft")
    with netns("kn-prof") as ns:
        proc, out, checks, profile = run_preflight(tmp_path, ns)
    assert profile["proxy_mode"] == "nftables" and profile["distribution"] == "k3s"
    assert "config.yaml" in profile["proxy_mode_source"] and "kube-proxy-arg" in profile["proxy_mode_source"]
    assert profile["distribution_version"] == "v1.31.2+k3s1"
    assert profile["cni"] == "flannel" and profile["cni_source"].startswith("default")
    assert checks["tool.missing.nft"]["severity"] == "error"
    assert "could not find nftables binary" in checks["tool.missing.nft"]["message"]
    assert checks["tool.missing.nft"]["remedy"]["kind"] == "install_tool"
    assert "profile.mismatch.proxy_mode" not in checks
    assert out["stats"]["k3s-edge"]["failures"] == 1 and proc.returncode == 2


def test_explicit_mode_wins_and_the_mismatch_is_reported(tmp_path):
    require_netns("nft")
    with netns("kn-prof") as ns:
        _proc, _out, checks, profile = run_preflight(tmp_path, ns, {"kubenode_proxy_mode": "iptables"})
    assert profile["proxy_mode"] == "iptables" and profile["proxy_mode_source"].startswith("explicit")
    mismatch = checks["profile.mismatch.proxy_mode"]
    assert mismatch["severity"] == "warning"
    assert "iptables" in mismatch["message"] and "nftables" in mismatch["message"]
    assert "config.yaml" in mismatch["message"]
    assert "tool.missing.nft" not in checks or checks["tool.missing.nft"]["severity"] != "error"


def test_nothing_detected_the_defaults_are_said_to_be_assumed(tmp_path):
    require_netns("nft")
    empty = tmp_path / "empty"
    empty.mkdir()
    with netns("kn-prof") as ns:
        hostvars = {"ansible_connection": "local", "ansible_python_interpreter": str(ns.interpreter(tmp_path)),
                    "kubenode_host_root": str(empty), "ansible_become": False}
        inventory = tmp_path / "inventory.json"
        inventory.write_text(json.dumps({"all": {"hosts": {"bare": hostvars}}}))
        argv = [kntest.ansible_bin("ansible-playbook"), "-i", str(inventory), "kubenode.netfilter.preflight",
                "--check", "-e", "kubenode_preflight_fail_on=never"]
        proc, out = kntest.run_ansible_json(argv, kntest.ansible_environment())
    assert proc.returncode == 0, proc.stdout[-3000:]
    lines = []
    for play in out["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"].endswith("Report the findings"):
                lines = task["hosts"]["bare"]["msg"]
    headline = lines[0] if isinstance(lines, list) else lines
    assert headline.startswith("iptables mode (assumed default; not detected on the node)")
    assert "ASSUMED: proxy_mode, distribution, cni, ipv6" in headline
    assert any("profile.assumed" in line for line in lines)
