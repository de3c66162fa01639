"""Node roots for node_profile_facts: the static fixtures in tests/fixtures/node-profile plus builders for roots that
cannot live in git (FIFOs, oversized and binary files, symlinks leaving the root, a hanging binary, bench sizes)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from kntest import FIXTURES

PROFILE_FIXTURES = FIXTURES / "node-profile"


def fixture(name: str) -> Path:
    path = PROFILE_FIXTURES / name
    assert path.is_dir(), path
    return path


def fixture_names():
    return sorted(p.name for p in PROFILE_FIXTURES.iterdir() if p.is_dir())


def copy_fixture(name: str, dest: Path) -> Path:
    shutil.copytree(fixture(name), dest, symlinks=True)
    return dest


def write(root: Path, path: str, text, mode: int = None) -> Path:
    full = root / path.lstrip("/")
    full.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        full.write_bytes(text)
    else:
        full.write_text(text)
    if mode is not None:
        full.chmod(mode)
    return full


CILIUM_CONFLIST = {"cniVersion": "0.3.1", "name": "cilium", "plugins": [{"type": "cilium-cni"}]}
CALICO_CONFLIST = {"name": "k8s-pod-network", "cniVersion": "0.3.1",
                   "plugins": [{"type": "calico", "ipam": {"type": "calico-ipam"}}, {"type": "portmap"}]}


def hostile_root(root: Path, outside: Path) -> Path:
    """A k3s root where every config source is broken in a different way; `outside` is a directory beside the root
    holding a file that a symlink points at (it must never be read)."""
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "secret.yaml").write_text("kube-proxy-arg: [proxy-mode=ipvs]\n")
    d = root / "etc/rancher/k3s"
    d.mkdir(parents=True)
    os.mkfifo(str(d / "config.yaml"))                                    # a FIFO: must not block
    drop = d / "config.yaml.d"
    drop.mkdir()
    write(drop, "10-huge.yaml", "a: " + "x" * (1024 * 1024 + 10) + "\n")  # over 1 MiB
    write(drop, "20-binary.yaml", b"\xff\xfe\x00kube-proxy-arg: [proxy-mode=ipvs]\n")
    write(drop, "30-bad.yaml", "kube-proxy-arg: [proxy-mode=ipvs\n  : : :\n")
    write(drop, "40-list.yaml", "- just\n- a list\n")
    (drop / "50-escape.yaml").symlink_to(outside / "secret.yaml")       # absolute symlink out of the root
    (drop / "55-dotdot.yaml").symlink_to("../../../../../" + outside.name + "/secret.yaml")
    (drop / "60-dir.yaml").mkdir()
    write(drop, "70-deep.yaml", "a: " + "[" * 5000 + "]" * 5000 + "\n")
    write(drop, "80-alias.yaml", "a: &x [1]\nb: [*x, *x, *x]\n")
    laughs = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    laughs += ["l%d: &l%d [%s]" % (i, i, ", ".join(["*l%d" % (i - 1)] * 9)) for i in range(1, 10)]
    write(drop, "85-laughs.yaml", "\n".join(laughs) + "\n")                # a billion laughs: never expanded
    write(drop, "90-flannel.yaml", "flannel-backend: none\n")
    cni = root / "etc/cni/net.d"
    cni.mkdir(parents=True)
    write(cni, "00-garbage.conflist", "{not json")
    write(cni, "01-notype.conf", json.dumps({"cniVersion": "0.4.0", "name": "x"}))
    os.mkfifo(str(cni / "02-fifo.conf"))
    write(cni, "10-calico.conflist", json.dumps(CALICO_CONFLIST))
    return root


def hanging_binary(root: Path, path: str = "/usr/local/bin/k3s") -> Path:
    return write(root, path, "#!/bin/sh\nsleep 30\n", 0o755)


def bench_root(root: Path, cni_files: int = 200, dropins: int = 50, unusable: bool = False) -> Path:
    """A k3s node with `cni_files` CNI configs and `dropins` config.yaml.d files (the issue's bench size). With
    `unusable`, every CNI file but the last has no plugin type, so all of them are read (the worst case)."""
    write(root, "/etc/rancher/k3s/config.yaml",
          "flannel-backend: none\nkube-proxy-arg:\n  - proxy-mode=iptables\ncluster-cidr: 10.42.0.0/16\n")
    for i in range(dropins):
        write(root, "/etc/rancher/k3s/config.yaml.d/%02d-drop.yaml" % i,
              "node-label+:\n  - drop%d=yes\nkube-proxy-arg+:\n  - v=%d\n" % (i, i % 4))
    for i in range(cni_files):
        conf = dict(CILIUM_CONFLIST, name="net%d" % i)
        if unusable and i < cni_files - 1:
            conf["plugins"] = [{"name": "no-type"}]
        write(root, "/etc/cni/net.d/%03d-net.conflist" % (i + 10), json.dumps(conf, indent=2))
    return root
