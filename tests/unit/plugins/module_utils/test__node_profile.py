# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Parsers and decisions of _node_profile: table tests, the fixture roots, and hostile roots."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from kntest import profile_roots as pr

from ansible_collections.kubenode.netfilter.plugins.module_utils import _node_profile as np

yaml = pytest.importorskip("yaml")

# ---------------------------------------------------------------------------------------------- YAML subset

YAML_CASES = [
    ("empty", "", []),
    ("comment only", "# nothing\n", []),
    ("empty document", "---\n", [None]),
    ("trailing marker", "a: 1\n---\n", [{"a": 1}, None]),
    ("scalars", "a: 1\nb: true\nc: no\nd: ~\ne: text here\nf: '0644'\ng: \"x\\ty\"\nh: 1.5\n",
     [{"a": 1, "b": True, "c": False, "d": None, "e": "text here", "f": "0644", "g": "x\ty", "h": 1.5}]),
    ("block list", "kube-proxy-arg:\n  - proxy-mode=ipvs\n  - \"v=2\"\n", [{"kube-proxy-arg": ["proxy-mode=ipvs", "v=2"]}]),
    ("list at key indent", "cni:\n- multus\n- cilium\n", [{"cni": ["multus", "cilium"]}]),
    ("flow list", "a: [x, 'y, z', \"w\"]  # trailing\n", [{"a": ["x", "y, z", "w"]}]),
    ("flow map", "a: {}\nb: {k: v, n: 1}\n", [{"a": {}, "b": {"k": "v", "n": 1}}]),
    ("append key", "node-label+: [a=b]\n", [{"node-label+": ["a=b"]}]),
    ("nested", "spec:\n  network:\n    provider: calico\n    kubeProxy:\n      mode: ipvs\n",
     [{"spec": {"network": {"provider": "calico", "kubeProxy": {"mode": "ipvs"}}}}]),
    ("list of maps", "charts:\n- name: a\n  version: 1\n- name: b\n",
     [{"charts": [{"name": "a", "version": 1}, {"name": "b"}]}]),
    ("hash in value", "url: http://x/#frag\nb: 'a # b'\n", [{"url": "http://x/#frag", "b": "a # b"}]),
    ("colon in value", "address: 0.0.0.0:10249\ncidr: 2001:cafe:42::/56\n",
     [{"address": "0.0.0.0:10249", "cidr": "2001:cafe:42::/56"}]),
    ("literal block", "script: |\n  line one\n  line two\nnext: 1\n", [{"script": "line one\nline two\n", "next": 1}]),
    ("documents", "a: 1\n---\nkind: KubeProxyConfiguration\nmode: ipvs\n",
     [{"a": 1}, {"kind": "KubeProxyConfiguration", "mode": "ipvs"}]),
    ("leading document marker", "---\nkind: X\n", [{"kind": "X"}]),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in YAML_CASES], ids=[c[0] for c in YAML_CASES])
def test_yaml_subset_matches_pyyaml(text, expected):
    assert np.parse_yaml_subset(text) == expected
    assert np.parse_yaml(text, use_pyyaml=True) == expected


BAD_YAML = [
    ("unterminated quote", "a: 'x\n"),
    ("unterminated flow", "a: [x, y\n"),
    ("bad indentation", "a:\n    b: 1\n  c: 2\n"),
    ("tab indent", "a:\n\tb: 1\n"),
    ("not key value", "a: 1\njust text\n"),
    ("deep flow", "a: " + "[" * 200 + "]" * 200 + "\n"),
]


@pytest.mark.parametrize("text", [c[1] for c in BAD_YAML], ids=[c[0] for c in BAD_YAML])
def test_yaml_subset_refuses(text):
    with pytest.raises(np.YamlError):
        np.parse_yaml_subset(text)


@pytest.mark.parametrize("text", ["a: &x [1]\nb: *x\n", "a: !!str 1\n"], ids=["anchor", "tag"])
def test_yaml_subset_refuses_what_it_does_not_implement(text):
    with pytest.raises(np.YamlError, match="unsupported"):
        np.parse_yaml_subset(text)


def test_every_fixture_yaml_parses_the_same_with_both_parsers():
    files = [p for p in pr.PROFILE_FIXTURES.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".conf")
             and "cni" not in p.parts]
    assert len(files) >= 10
    for path in files:
        text = path.read_text()
        assert np.parse_yaml_subset(text) == list(yaml.safe_load_all(text)), path


# ---------------------------------------------------------------------------------------------- k3s / RKE2 flags

FLAG_CASES = [
    ("eq", ["--flannel-backend=none"], [("flannel-backend", "none")]),
    ("space", ["--flannel-backend", "wireguard-native"], [("flannel-backend", "wireguard-native")]),
    ("bool", ["--disable-kube-proxy", "--flannel-backend", "none"],
     [("disable-kube-proxy", "true"), ("flannel-backend", "none")]),
    ("bool explicit", ["--disable-kube-proxy=false"], [("disable-kube-proxy", "false")]),
    ("short config", ["-c", "/etc/k3s.yaml"], [("config", "/etc/k3s.yaml")]),
    ("repeated slice", ["--kube-proxy-arg", "proxy-mode=ipvs", "--kube-proxy-arg=v=2"],
     [("kube-proxy-arg", "proxy-mode=ipvs"), ("kube-proxy-arg", "v=2")]),
    ("unknown flag then known", ["--secrets-encryption", "--cni", "cilium"],
     [("secrets-encryption", "true"), ("cni", "cilium")]),
]


@pytest.mark.parametrize("argv, expected", [c[1:] for c in FLAG_CASES], ids=[c[0] for c in FLAG_CASES])
def test_parse_flags(argv, expected):
    assert [(s.flag, s.value) for s in np.parse_flags(argv, "/unit")] == expected


def _merged(*files):
    log = np.Log()
    return [(s.flag, s.value, s.source.split(": ")[0]) for s in np.merge_config_files(
        [(path, np.parse_yaml_subset(text)[0]) for path, text in files], log)]


MERGE_CASES = [
    ("later replaces", [("c", "kube-proxy-arg: [proxy-mode=iptables, v=2]\n"), ("d1", "kube-proxy-arg: [proxy-mode=ipvs]\n")],
     [("kube-proxy-arg", "proxy-mode=ipvs", "d1")]),
    ("plus appends", [("c", "kube-proxy-arg: [proxy-mode=iptables]\n"), ("d1", "kube-proxy-arg+: [proxy-mode=nftables]\n")],
     [("kube-proxy-arg", "proxy-mode=iptables", "c"), ("kube-proxy-arg", "proxy-mode=nftables", "d1")]),
    ("plus on scalar", [("c", "kube-proxy-arg: proxy-mode=iptables\n"), ("d1", "kube-proxy-arg+: v=2\n")],
     [("kube-proxy-arg", "proxy-mode=iptables", "c"), ("kube-proxy-arg", "v=2", "d1")]),
    ("first seen order", [("c", "b: 1\na: 2\n"), ("d1", "a: 3\nc: x\n")],
     [("b", "1", "c"), ("a", "3", "d1"), ("c", "x", "d1")]),
    ("bool and empty", [("c", "disable-kube-proxy: true\nflannel-backend:\n")],
     [("disable-kube-proxy", "true", "c"), ("flannel-backend", "", "c")]),
    ("nested value skipped", [("c", "a:\n  b: 1\nc: 2\n")], [("c", "2", "c")]),
]


@pytest.mark.parametrize("files, expected", [c[1:] for c in MERGE_CASES], ids=[c[0] for c in MERGE_CASES])
def test_merge_config_files(files, expected):
    assert _merged(*files) == expected


def test_merge_reports_a_file_that_is_not_a_mapping():
    log = np.Log()
    assert np.merge_config_files([("/x.yaml", ["a", "b"])], log) == []
    assert log.as_list() == [{"path": "/x.yaml", "status": "invalid: top level is not a mapping"}]


@pytest.mark.parametrize("values, expected", [
    (["proxy-mode=ipvs"], "ipvs"),
    (["proxy-mode=ipvs", "v=2", "--proxy-mode=nftables"], "nftables"),
    (["v=2"], None),
])
def test_kube_proxy_mode_arg(values, expected):
    settings = [np.Setting("kube-proxy-arg", v, "s") for v in values]
    found = np.kube_proxy_mode_arg(settings)
    assert (found.value if found else None) == expected


@pytest.mark.parametrize("text, expected", [
    ("", "iptables"), ("iptables", "iptables"), ("IPVS", "ipvs"), ("nftables", "nftables"),
    ("userspace", "unknown"), ("kernelspace", "unknown")])
def test_proxy_mode_value(text, expected):
    assert np.proxy_mode_value(text) == expected


@pytest.mark.parametrize("values, expected", [
    (["canal"], "canal"), (["multus", "cilium"], "cilium"), (["calico"], "calico"), (["flannel"], "flannel"),
    (["none"], None), (["multus", "none"], None), (["weave"], "other")])
def test_rke2_cni(values, expected):
    assert np.rke2_cni(values) == expected


UNIT_K3S = (pr.PROFILE_FIXTURES / "k3s-unit-flag/etc/systemd/system/k3s.service").read_text()


@pytest.mark.parametrize("text, expected", [
    (UNIT_K3S, ["/usr/local/bin/k3s", "server", "--kube-proxy-arg=proxy-mode=nftables", "--write-kubeconfig-mode",
                "0644"]),
    ("[Service]\nExecStart=/a x\nExecStart=\nExecStart=/b y\n", ["/b", "y"]),
    ("[Service]\nExecStart=\n", []),
    ("[Service]\nType=notify\n", None),
])
def test_exec_start(text, expected):
    assert np._exec_start(text) == expected


def test_openrc_args_drop_redirections():
    text = (pr.PROFILE_FIXTURES / "k3s-openrc-ipv6/etc/init.d/k3s").read_text()
    assert np._openrc_args(text) == ["server", "--disable-kube-proxy", "--cluster-cidr=10.42.0.0/16,2001:cafe:42::/56",
                                     "--service-cidr", "10.43.0.0/16,2001:cafe:43::/112"]


# ---------------------------------------------------------------------------------------------- CNI

CNI_CASES = [
    ("cilium", {"name": "cilium", "plugins": [{"type": "cilium-cni"}]}, "05-cilium.conflist", "cilium"),
    ("flannel", {"name": "cbr0", "plugins": [{"type": "flannel"}, {"type": "portmap"}]}, "10-flannel.conflist",
     "flannel"),
    ("calico", pr.CALICO_CONFLIST, "10-calico.conflist", "calico"),
    ("canal by file name", pr.CALICO_CONFLIST, "10-canal.conflist", "canal"),
    ("canal by host-local usePodCidr", {"name": "k8s-pod-network", "plugins": [
        {"type": "calico", "ipam": {"type": "host-local", "subnet": "usePodCidr"}}]}, "10-x.conflist", "canal"),
    ("canal calico+flannel", {"plugins": [{"type": "calico"}, {"type": "flannel"}]}, "x.conflist", "canal"),
    ("kube-router bridge", {"name": "mynet", "plugins": [{"type": "bridge", "bridge": "kube-bridge"}]},
     "10-kuberouter.conflist", "kube-router"),
    ("plain bridge", {"name": "mynet", "type": "bridge", "bridge": "cni0"}, "10-bridge.conf", "other"),
    ("single conf", {"name": "x", "type": "flannel"}, "10-flannel.conf", "flannel"),
    ("multus delegate", {"name": "multus", "type": "multus", "delegates": [
        {"name": "cilium", "plugins": [{"type": "cilium-cni"}]}]}, "00-multus.conf", "cilium"),
    ("no type", {"name": "x"}, "x.conf", None),
    ("not an object", ["x"], "x.conf", None),
]


@pytest.mark.parametrize("doc, name, expected", [c[1:] for c in CNI_CASES], ids=[c[0] for c in CNI_CASES])
def test_classify_cni(doc, name, expected):
    assert np.classify_cni(doc, name) == expected


# ---------------------------------------------------------------------------------------------- live state

@pytest.mark.parametrize("ipvs, tables, services, expected", [
    ([], [], [], (None, "unknown")),
    ([], [], ["iptables-nft nat KUBE-SERVICES"], ("iptables", "iptables-nft nat KUBE-SERVICES")),
    ([], ["ip filter", "ip kube-proxy"], [], ("nftables", "nft table ip kube-proxy")),
    ([], ["inet foo", "ip6 kube-proxy"], [], ("nftables", "nft table ip6 kube-proxy")),
    (["kube-ipvs0 in /proc/net/dev"], [], ["iptables-legacy nat KUBE-SERVICES"],
     ("ipvs", "kube-ipvs0 in /proc/net/dev (also found: iptables-legacy nat KUBE-SERVICES)")),
    ([], ["inet kube-proxy"], [], (None, "unknown")),
])
def test_decide_running(ipvs, tables, services, expected):
    got = np.decide_running(ipvs, tables, services)
    assert (got.value, got.source) == expected


def test_parsers_of_live_text():
    dev = ("Inter-|   Receive\n face |bytes\n    lo: 0 0\nkube-ipvs0:       0       0\n  eth0: 1 2\n")
    assert np.parse_proc_net_dev(dev) == ["lo", "kube-ipvs0", "eth0"]
    ipvs = ("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\nTCP  0A600001:01BB rr\n"
            "  -> AC120002:1A0A      Masq    1      0          0\nUDP  0A60000A:0035 rr\n")
    assert np.parse_ip_vs(ipvs) == 2
    assert np.parse_nft_tables("table ip nat\ntable ip kube-proxy\ntable inet filter\n") == [
        "ip nat", "ip kube-proxy", "inet filter"]


def test_parse_nft_chains_lists_empty_tables_too():
    text = ("table ip kube-proxy {\n}\ntable ip nat {\n\tchain KUBE-SERVICES {\n\t}\n\tchain PREROUTING {\n"
            "\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t}\n}\ntable ip6 nat {\n"
            "\tchain KUBE-SERVICES {\n\t}\n}\n")
    assert np.parse_nft_chains(text) == (["ip kube-proxy", "ip nat", "ip6 nat"], [
        ("ip", "nat", "KUBE-SERVICES"), ("ip", "nat", "PREROUTING"), ("ip6", "nat", "KUBE-SERVICES")])


@pytest.mark.parametrize("text, expected", [
    ("k3s version v1.31.4+k3s1 (a562d090)\ngo version go1.22.9\n", "v1.31.4+k3s1"),
    ("rke2 version v1.31.4+rke2r1 (9d4e5a5)\n", "v1.31.4+rke2r1"),
    ("v1.31.3+k0s.0\n", "v1.31.3+k0s.0"),
    ("Kubernetes v1.31.0\n", "v1.31.0"),
    ("garbage\n", None),
    ("", None),
])
def test_parse_version_output(text, expected):
    assert np.parse_version_output(text) == expected


@pytest.mark.parametrize("cidrs, expected", [
    ([], None), (["10.42.0.0/16"], False), (["10.42.0.0/16", "2001:cafe:42::/56"], True), (["fd00::/108"], True)])
def test_cidr_family(cidrs, expected):
    assert np.cidr_family(cidrs) is expected


# ---------------------------------------------------------------------------------------------- whole roots

def _run_version(path, args):
    proc = subprocess.run([path] + list(args), capture_output=True, text=True, timeout=10, check=False)
    return (proc.stdout, "used") if proc.returncode == 0 else (None, "unreadable: rc %d" % proc.returncode)


K3S_DEFAULT = "default: k3s defaults to flannel (vxlan) + kube-proxy iptables, cluster 10.42.0.0/16, service 10.43.0.0/16"
RKE2_DEFAULT = "default: RKE2 defaults to canal + kube-proxy iptables, cluster 10.42.0.0/16, service 10.43.0.0/16"
K0S_DEFAULT = "default: k0s defaults to kube-router + kube-proxy iptables, pod 10.244.0.0/16, service 10.96.0.0/12"

# fixture -> (distribution, proxy_mode, proxy_mode_source, cni, cni_source, ipv6, ipv6_source)
ROOTS = {
    "empty": ("unknown", "unknown", "unknown", "unknown", "unknown", None, "unknown"),
    "k3s-nftables": ("k3s", "nftables", "/etc/rancher/k3s/config.yaml: kube-proxy-arg=proxy-mode=nftables",
                     "flannel", K3S_DEFAULT, False, K3S_DEFAULT),
    "k3s-dropin": ("k3s", "ipvs", "/etc/rancher/k3s/config.yaml.d/50-mode.yaml: kube-proxy-arg=proxy-mode=ipvs",
                   "flannel", "/etc/rancher/k3s/config.yaml: flannel-backend=vxlan", False, K3S_DEFAULT),
    "k3s-unit-flag": ("k3s", "nftables", "/etc/systemd/system/k3s.service: --kube-proxy-arg=proxy-mode=nftables",
                      "flannel", K3S_DEFAULT, False, "/etc/rancher/k3s/config.yaml: cluster-cidr"),
    "k3s-cilium": ("k3s", "none", "/etc/rancher/k3s/config.yaml: disable-kube-proxy",
                   "cilium", "/etc/cni/net.d/05-cilium.conflist: type cilium-cni", False, K3S_DEFAULT),
    "k3s-openrc-ipv6": ("k3s", "none", "/etc/init.d/k3s: --disable-kube-proxy", "flannel", K3S_DEFAULT, True,
                        "/etc/init.d/k3s: --cluster-cidr, /etc/init.d/k3s: --service-cidr"),
    "k3s-default": ("k3s", "iptables", K3S_DEFAULT, "flannel", K3S_DEFAULT, False, K3S_DEFAULT),
    "rke2-default": ("rke2", "iptables", RKE2_DEFAULT, "canal", RKE2_DEFAULT, False, RKE2_DEFAULT),
    "rke2-cilium": ("rke2", "none", "/etc/rancher/rke2/config.yaml: disable-kube-proxy", "cilium",
                    "/etc/rancher/rke2/config.yaml: cni", False, RKE2_DEFAULT),
    "k0s-calico-ipvs": ("k0s", "ipvs", "/etc/k0s/k0s.yaml: spec.network.kubeProxy.mode", "calico",
                        "/etc/k0s/k0s.yaml: spec.network.provider", False,
                        "/etc/k0s/k0s.yaml: spec.network.podCIDR, serviceCIDR"),
    "k0s-dualstack": ("k0s", "iptables", K0S_DEFAULT, "kube-router", "/etc/k0s/k0s.yaml: spec.network.provider", True,
                      "/etc/k0s/k0s.yaml: spec.network.podCIDR, serviceCIDR, dualStack"),
    "k0s-default": ("k0s", "iptables", K0S_DEFAULT, "kube-router", K0S_DEFAULT, False, K0S_DEFAULT),
    "kubeadm-nftables": ("kubeadm", "nftables", "/var/lib/kube-proxy/config.conf: mode", "flannel",
                         "/etc/cni/net.d/10-flannel.conflist: type flannel", False,
                         "/etc/kubernetes/manifests/kube-controller-manager.yaml: --cluster-cidr, "
                         "--service-cluster-ip-range"),
    "generic-kuberouter": ("generic", "unknown", "unknown", "kube-router",
                           "/etc/cni/net.d/10-kuberouter.conflist: type bridge", None, "unknown"),
}


def test_every_fixture_root_has_an_expectation():
    assert sorted(ROOTS) == pr.fixture_names()


@pytest.mark.parametrize("use_pyyaml", [True, False], ids=["pyyaml", "subset"])
@pytest.mark.parametrize("name", sorted(ROOTS))
def test_fixture_root(name, use_pyyaml):
    facts = np.Gatherer(str(pr.fixture(name)), run_version=_run_version, use_pyyaml=use_pyyaml).gather().as_dict()
    dist, mode, mode_src, cni, cni_src, ipv6, ipv6_src = ROOTS[name]
    got = (facts["distribution"], facts["proxy_mode"], facts["proxy_mode_source"], facts["cni"], facts["cni_source"],
           facts["ipv6"], facts["ipv6_source"])
    assert got == (dist, mode, mode_src, cni, cni_src, ipv6, ipv6_src)
    assert facts["proxy_mode_running"] is None and facts["proxy_mode_running_source"] == "unknown"
    # every source that names a file names one marked `used` in searched
    searched = dict((s["path"], s["status"]) for s in facts["searched"])
    for key in ("distribution", "proxy_mode", "cni", "ipv6"):
        src = facts[key + "_source"]
        if src.startswith("/"):
            assert searched[src.split(": ")[0]] == "used", (key, src, facts["searched"])


def test_version_only_from_an_existing_binary():
    facts = np.Gatherer(str(pr.fixture("k3s-default")), run_version=_run_version).gather().as_dict()
    assert (facts["distribution_version"], facts["distribution_version_source"]) == (
        "v1.31.4+k3s1", "/usr/local/bin/k3s --version")
    facts = np.Gatherer(str(pr.fixture("k3s-nftables")), run_version=_run_version).gather().as_dict()
    assert (facts["distribution_version"], facts["distribution_version_source"]) == (None, "unknown")


def test_drop_in_order_and_ignored_suffix():
    facts = np.Gatherer(str(pr.fixture("k3s-dropin"))).gather().as_dict()
    paths = [s["path"] for s in facts["searched"]]
    assert paths.index("/etc/rancher/k3s/config.yaml") < paths.index("/etc/rancher/k3s/config.yaml.d/50-mode.yaml") \
        < paths.index("/etc/rancher/k3s/config.yaml.d/60-extra.yml")
    assert "/etc/rancher/k3s/config.yaml.d/70-notes.txt" not in paths


def test_prefer_bundled_bin():
    assert np.Gatherer(str(pr.fixture("k3s-unit-flag"))).gather().k3s_prefer_bundled_bin is True
    assert np.Gatherer(str(pr.fixture("k3s-nftables"))).gather().k3s_prefer_bundled_bin is False


def test_running_mode_from_the_root_proc_files(tmp_path):
    root = pr.copy_fixture("k3s-nftables", tmp_path / "root")
    pr.write(root, "/proc/net/dev", "Inter-|\n face |\n    lo: 0\nkube-ipvs0: 0 0\n")
    facts = np.Gatherer(str(root), live=np.LiveRules(kube_services=["iptables-nft nat KUBE-SERVICES"])).gather()
    assert (facts.proxy_mode_running.value, facts.proxy_mode_running.source) == (
        "ipvs", "kube-ipvs0 in /proc/net/dev (also found: iptables-nft nat KUBE-SERVICES)")


def test_kubeadm_kube_proxy_from_process_and_pod_volume(tmp_path):
    root = tmp_path / "root"
    pr.write(root, "/var/lib/kubelet/kubeadm-flags.env", "KUBELET_KUBEADM_ARGS=\n")
    pr.write(root, "/proc/4242/cmdline", b"/usr/local/bin/kube-proxy\0--config=/var/lib/kube-proxy/config.conf\0"
                                         b"--hostname-override=n1\0")
    pr.write(root, "/proc/4242/root/var/lib/kube-proxy/config.conf",
             "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: \"\"\n")
    pr.write(root, "/proc/17/cmdline", b"/sbin/init\0")
    facts = np.Gatherer(str(root)).gather().as_dict()
    assert (facts["proxy_mode"], facts["proxy_mode_source"]) == (
        "iptables", "/proc/4242/root/var/lib/kube-proxy/config.conf: mode (empty: iptables on Linux)")
    # no process: the kubelet's config map volume
    os.unlink(root / "proc/4242/cmdline")
    # the kubelet's config map volume layout: config.conf -> ..data/config.conf, ..data -> ..<timestamp>
    volume = root / "var/lib/kubelet/pods/0a1b/volumes/kubernetes.io~configmap/kube-proxy"
    pr.write(volume, "..2026_12_04_10_00_00.123/config.conf", "kind: KubeProxyConfiguration\nmode: ipvs\n")
    (volume / "..data").symlink_to("..2026_12_04_10_00_00.123")
    (volume / "config.conf").symlink_to("..data/config.conf")
    facts = np.Gatherer(str(root)).gather().as_dict()
    assert (facts["proxy_mode"], facts["proxy_mode_source"]) == (
        "ipvs", "/var/lib/kubelet/pods/0a1b/volumes/kubernetes.io~configmap/kube-proxy/config.conf: mode")
    # a flag-only kube-proxy process
    pr.write(root, "/proc/99/cmdline", b"kube-proxy\0--proxy-mode\0nftables\0")
    facts = np.Gatherer(str(root)).gather().as_dict()
    assert (facts["proxy_mode"], facts["proxy_mode_source"]) == ("nftables", "/proc/99/cmdline: --proxy-mode=nftables")


def test_kubeadm_cluster_configuration_ipv6(tmp_path):
    root = tmp_path / "root"
    pr.write(root, "/usr/bin/kubeadm", "#!/bin/sh\necho v1.31.2\n", 0o755)
    pr.write(root, "/etc/kubernetes/kubeadm-config.yaml",
             "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetworking:\n"
             "  podSubnet: 10.244.0.0/16,fd00:10:244::/56\n  serviceSubnet: 10.96.0.0/16,fd00:10:96::/112\n---\n"
             "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: nftables\n")
    facts = np.Gatherer(str(root), run_version=_run_version).gather().as_dict()
    assert facts["distribution"] == "kubeadm" and facts["distribution_version"] == "v1.31.2"
    assert facts["distribution_version_source"] == "/usr/bin/kubeadm version -o short"
    assert (facts["proxy_mode"], facts["proxy_mode_source"]) == ("nftables", "/etc/kubernetes/kubeadm-config.yaml: mode")
    assert (facts["ipv6"], facts["ipv6_source"]) == (
        True, "/etc/kubernetes/kubeadm-config.yaml: networking.podSubnet/serviceSubnet")


def test_k3s_flannel_none_without_cni_file_is_unknown(tmp_path):
    root = tmp_path / "root"
    pr.write(root, "/etc/rancher/k3s/config.yaml", "flannel-backend: none\n")
    facts = np.Gatherer(str(root)).gather().as_dict()
    assert (facts["cni"], facts["cni_source"]) == (
        "unknown", "/etc/rancher/k3s/config.yaml: flannel-backend=none and no CNI config in /etc/cni/net.d")


@pytest.mark.parametrize("path, text, source", [
    ("/etc/rancher/rke2/config.yaml", "cni: none\n",
     "/etc/rancher/rke2/config.yaml: cni=none and no CNI config in /etc/cni/net.d"),
    ("/etc/k0s/k0s.yaml", "spec:\n  network:\n    provider: custom\n",
     "/etc/k0s/k0s.yaml: spec.network.provider=custom and no CNI config in /etc/cni/net.d"),
])
def test_explicitly_no_bundled_cni_never_falls_back_to_the_default(tmp_path, path, text, source):
    root = tmp_path / "root"
    pr.write(root, path, text)
    facts = np.Gatherer(str(root)).gather().as_dict()
    assert (facts["cni"], facts["cni_source"]) == ("unknown", source)
    pr.write(root, "/etc/cni/net.d/10-calico.conflist", json.dumps(pr.CALICO_CONFLIST))
    facts = np.Gatherer(str(root)).gather().as_dict()
    assert (facts["cni"], facts["cni_source"]) == ("calico", "/etc/cni/net.d/10-calico.conflist: type calico")


def test_searched_lists_every_path_in_order_and_marks_every_used_one():
    facts = np.Gatherer(str(pr.fixture("k3s-openrc-ipv6"))).gather().as_dict()
    searched = facts["searched"]
    paths = [s["path"] for s in searched]
    # the markers tried before the OpenRC script (which marked k3s), then the units tried for flags (absent)
    assert paths[:6] == ["/etc/rancher/k3s/config.yaml", "/etc/rancher/k3s/config.yaml.d",
                         "/etc/systemd/system/k3s.service", "/etc/systemd/system/k3s-agent.service", "/etc/init.d/k3s",
                         "/usr/local/lib/systemd/system/k3s.service"]
    assert {"path": "/usr/lib/systemd/system/k3s-agent.service", "status": "absent"} in searched
    assert {"path": "/etc/init.d/k3s", "status": "used"} in searched
    assert len(paths) == len(set(paths))
    empty = np.Gatherer(str(pr.fixture("empty"))).gather().as_dict()["searched"]
    assert [s["status"] for s in empty] == ["absent"] * len(empty)
    assert [s["path"] for s in empty[len(np.MARKERS[0][1]) + sum(len(m) for _d, m in np.MARKERS[1:]):]] == [
        "/proc/*/cmdline", "/var/lib/kubelet/pods", "/var/lib/kube-proxy/config.conf", "/etc/kubernetes",
        "/etc/kubernetes/manifests/kube-controller-manager.yaml", "/etc/cni/net.d", "/proc/net/dev", "/proc/net/ip_vs"]


def test_lexically_first_cni_file_wins(tmp_path):
    root = tmp_path / "root"
    pr.write(root, "/var/lib/kubelet/config.yaml", "kind: KubeletConfiguration\n")
    pr.write(root, "/etc/cni/net.d/20-calico.conflist", json.dumps(pr.CALICO_CONFLIST))
    pr.write(root, "/etc/cni/net.d/10-cilium.conflist", json.dumps(pr.CILIUM_CONFLIST))
    pr.write(root, "/etc/cni/net.d/05-notes.txt", "{}")
    facts = np.Gatherer(str(root)).gather().as_dict()
    assert (facts["cni"], facts["cni_source"]) == ("cilium", "/etc/cni/net.d/10-cilium.conflist: type cilium-cni")


@pytest.mark.parametrize("use_pyyaml", [True, False], ids=["pyyaml", "subset"])
def test_hostile_root_is_statuses_never_a_crash(tmp_path, use_pyyaml):
    root = pr.hostile_root(tmp_path / "root", tmp_path / "outside")
    facts = np.Gatherer(str(root), use_pyyaml=use_pyyaml).gather().as_dict()
    status = dict((s["path"], s["status"]) for s in facts["searched"])
    d = "/etc/rancher/k3s/config.yaml.d/"
    assert status["/etc/rancher/k3s/config.yaml"] == "ignored: not a regular file (fifo)"
    assert status[d + "10-huge.yaml"].startswith("ignored: larger than 1048576 bytes")
    assert status[d + "20-binary.yaml"] == "invalid: not UTF-8 text (byte 0)"
    assert status[d + "30-bad.yaml"].startswith("invalid: YAML: ")
    assert status[d + "40-list.yaml"] == "invalid: top level is not a mapping"
    assert status[d + "50-escape.yaml"] == 'ignored: resolves outside root (symlink or "..")'
    assert status[d + "55-dotdot.yaml"] == 'ignored: resolves outside root (symlink or "..")'
    assert status[d + "60-dir.yaml"] == "ignored: directory"
    assert status[d + "70-deep.yaml"].startswith("invalid: YAML: ")
    # PyYAML keeps the aliases as shared references and nested lists are no flag values; the subset parser refuses
    assert status[d + "85-laughs.yaml"] == ("found" if use_pyyaml else
                                            "invalid: YAML: unsupported YAML construct '&l0 [lol, lol, lol, ' (anchor, alias, tag or "
                                            "reserved indicator)")
    assert status[d + "90-flannel.yaml"] == "found"  # read and applied; the CNI file is the source
    assert status["/etc/cni/net.d/00-garbage.conflist"].startswith("invalid: JSON: ")
    assert status["/etc/cni/net.d/01-notype.conf"] == "invalid: no plugin type"
    assert status["/etc/cni/net.d/02-fifo.conf"] == "ignored: not a regular file (fifo)"
    # nothing from outside the root was taken: no ipvs; the one usable CNI file decides
    assert (facts["proxy_mode"], facts["cni"]) == ("iptables", "calico")
    assert facts["proxy_mode_source"].startswith("default: ")


def test_root_path_helpers(tmp_path):
    assert np.display(str(tmp_path), str(tmp_path / "etc/x")) == "/etc/x"
    assert np.join_root("/", "/etc/x") == "/etc/x"
    assert np.inside_root(str(tmp_path), str(tmp_path / "a/../b"))
    assert not np.inside_root(str(tmp_path), str(tmp_path / "../x"))
    with pytest.raises(np.ReadError, match="absent"):
        np.read_text(str(tmp_path), "/nope")
