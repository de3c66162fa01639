# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs the real module through ``ansible localhost -m kubenode.netfilter.node_profile_facts`` on fixture roots:
every precedence case of issue 13 goes through the module, not only through the parser functions."""
from __future__ import annotations

import json
import time

import pytest

import kntest
from kntest import profile_roots as pr

MODULE = "kubenode.netfilter.node_profile_facts"


@pytest.fixture(scope="module")
def inventory(tmp_path_factory):
    path = tmp_path_factory.mktemp("inv") / "hosts"
    path.write_text("localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n")
    return path


def run_module(ansible_env, inventory, args=None, check=False):
    argv = [kntest.ansible_bin("ansible"), "localhost", "-i", str(inventory), "-m", MODULE]
    if args:
        argv += ["-a", json.dumps(args)]
    if check:
        argv.append("--check")
    _proc, data = kntest.run_ansible_json(argv, ansible_env)
    return data["plays"][0]["tasks"][0]["hosts"]["localhost"]


def facts(result):
    assert not result.get("failed"), result
    assert result["changed"] is False
    return result["ansible_facts"]["node_profile"]


def profile(ansible_env, inventory, root, **extra):
    args = {"root": str(root), "live_rules": False}
    args.update(extra)
    return facts(run_module(ansible_env, inventory, args))


K3S_DEFAULT = "default: k3s defaults to flannel (vxlan) + kube-proxy iptables, cluster 10.42.0.0/16, service 10.43.0.0/16"

# (fixture, expected subset of node_profile)
CASES = [
    ("k3s-nftables", {"distribution": "k3s", "proxy_mode": "nftables",
                      "proxy_mode_source": "/etc/rancher/k3s/config.yaml: kube-proxy-arg=proxy-mode=nftables",
                      "cni": "flannel", "cni_source": K3S_DEFAULT}),
    ("k3s-dropin", {"proxy_mode": "ipvs",
                    "proxy_mode_source": "/etc/rancher/k3s/config.yaml.d/50-mode.yaml: kube-proxy-arg=proxy-mode=ipvs"}),
    ("k3s-unit-flag", {"proxy_mode": "nftables",
                       "proxy_mode_source": "/etc/systemd/system/k3s.service: --kube-proxy-arg=proxy-mode=nftables",
                       "k3s_prefer_bundled_bin": True}),
    ("k3s-cilium", {"proxy_mode": "none", "proxy_mode_source": "/etc/rancher/k3s/config.yaml: disable-kube-proxy",
                    "cni": "cilium", "cni_source": "/etc/cni/net.d/05-cilium.conflist: type cilium-cni"}),
    ("k3s-openrc-ipv6", {"proxy_mode": "none", "proxy_mode_source": "/etc/init.d/k3s: --disable-kube-proxy",
                         "ipv6": True}),
    ("k3s-default", {"distribution": "k3s", "distribution_version": "v1.31.4+k3s1",
                     "distribution_version_source": "/usr/local/bin/k3s --version", "proxy_mode": "iptables",
                     "proxy_mode_source": K3S_DEFAULT, "cni": "flannel", "cni_source": K3S_DEFAULT,
                     "ipv6": False, "ipv6_source": K3S_DEFAULT}),
    ("rke2-default", {"distribution": "rke2", "proxy_mode": "iptables", "cni": "canal",
                      "cni_source": "default: RKE2 defaults to canal + kube-proxy iptables, cluster 10.42.0.0/16, "
                                    "service 10.43.0.0/16"}),
    ("k0s-calico-ipvs", {"distribution": "k0s", "proxy_mode": "ipvs",
                         "proxy_mode_source": "/etc/k0s/k0s.yaml: spec.network.kubeProxy.mode",
                         "cni": "calico", "cni_source": "/etc/k0s/k0s.yaml: spec.network.provider", "ipv6": False}),
    ("k0s-default", {"distribution": "k0s", "proxy_mode": "iptables", "cni": "kube-router",
                     "cni_source": "default: k0s defaults to kube-router + kube-proxy iptables, pod 10.244.0.0/16, "
                                   "service 10.96.0.0/12"}),
    ("k0s-dualstack", {"ipv6": True, "ipv6_source": "/etc/k0s/k0s.yaml: spec.network.podCIDR, serviceCIDR, dualStack"}),
    ("kubeadm-nftables", {"distribution": "kubeadm", "proxy_mode": "nftables",
                          "proxy_mode_source": "/var/lib/kube-proxy/config.conf: mode", "cni": "flannel"}),
    ("empty", {"distribution": "unknown", "distribution_source": "unknown", "distribution_version": None,
               "proxy_mode": "unknown", "proxy_mode_source": "unknown", "proxy_mode_running": None,
               "cni": "unknown", "cni_source": "unknown", "ipv6": None, "ipv6_source": "unknown",
               "k3s_prefer_bundled_bin": False}),
]


@pytest.mark.parametrize("name, expected", CASES, ids=[c[0] for c in CASES])
def test_fixture_root_through_the_module(name, expected, ansible_env, inventory):
    got = profile(ansible_env, inventory, pr.fixture(name))
    assert dict((k, got[k]) for k in expected) == expected
    assert set(got) == {"distribution", "distribution_source", "distribution_version", "distribution_version_source",
                        "proxy_mode", "proxy_mode_source", "proxy_mode_running", "proxy_mode_running_source", "cni",
                        "cni_source", "ipv6", "ipv6_source", "k3s_prefer_bundled_bin", "searched"}
    assert {"path": "iptables/nft commands", "status": "ignored: live_rules=false"} in got["searched"]


def test_check_mode_identical(ansible_env, inventory):
    args = {"root": str(pr.fixture("k3s-dropin")), "live_rules": False}
    normal = facts(run_module(ansible_env, inventory, args))
    checked = facts(run_module(ansible_env, inventory, args, check=True))
    assert normal == checked


def test_hostile_root_through_the_module(ansible_env, inventory, tmp_path):
    root = pr.hostile_root(tmp_path / "root", tmp_path / "outside")
    got = profile(ansible_env, inventory, root)
    status = dict((s["path"], s["status"]) for s in got["searched"])
    assert status["/etc/rancher/k3s/config.yaml"] == "ignored: not a regular file (fifo)"
    assert status["/etc/rancher/k3s/config.yaml.d/50-escape.yaml"] == 'ignored: resolves outside root (symlink or "..")'
    assert (got["proxy_mode"], got["cni"]) == ("iptables", "calico")


def test_a_hanging_version_command_hits_the_deadline(ansible_env, inventory, tmp_path):
    root = tmp_path / "root"
    pr.hanging_binary(root)
    started = time.monotonic()
    got = profile(ansible_env, inventory, root, command_timeout=1)
    elapsed = time.monotonic() - started
    assert (got["distribution"], got["distribution_version"], got["distribution_version_source"]) == (
        "k3s", None, "unknown")
    assert {"path": "/usr/local/bin/k3s --version", "status": "unreadable: timed out after 1s"} in got["searched"]
    assert elapsed < 25, "the 30 s sleep was not cut off"


def test_live_rules_on_this_host_are_looked_at(ansible_env, inventory):
    """With live_rules (the default) the commands appear in `searched` with a status (this host's own namespace;
    the integration tests build real kube-proxy rules in throwaway namespaces)."""
    got = profile(ansible_env, inventory, pr.fixture("empty"), live_rules=True)
    paths = [s["path"] for s in got["searched"]]
    assert "nft list chains" in paths and "iptables-legacy -t nat -S KUBE-SERVICES 1" in paths


def test_bad_options_fail_naming_the_cause(ansible_env, inventory, tmp_path):
    result = run_module(ansible_env, inventory, {"root": str(tmp_path / "missing")})
    assert result.get("failed") and result["msg"] == "root %s is not a directory" % (tmp_path / "missing")
    result = run_module(ansible_env, inventory, {"command_timeout": 0})
    assert result.get("failed") and "command_timeout must be greater than 0" in result["msg"]
