# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys

import pytest

import kntest
from kntest import kernel_roots as kr

from ansible_collections.kubenode.netfilter.plugins.module_utils import _kernel_config as kc
from ansible_collections.kubenode.netfilter.plugins.module_utils import _catalog as req

FIXTURES = kr.fixture_configs()
STAT = "NETFILTER_XT_MATCH_STATISTIC"


def test_fixture_set_is_present():
    assert sorted(p.name for p in FIXTURES) == sorted(kr.FIXTURE_VERSIONS)


# ---------------------------------------------------------------------------------------------- real fixtures

@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_parses_plain_and_gzip_identically(path, tmp_path):
    plain = kc.read_config(str(path))
    assert plain.header_version == kr.FIXTURE_VERSIONS[path.name]
    assert not plain.compressed
    assert kc.modules_enabled(plain) is True
    assert plain.state(STAT) in ("y", "m")
    # every CONFIG_ assignment / "is not set" line of the file is represented
    lines = path.read_text().splitlines()
    assigned = {ln.split("=", 1)[0][7:] for ln in lines if ln.startswith("CONFIG_")}
    unset = {ln[9:-11] for ln in lines if ln.startswith("# CONFIG_") and ln.endswith(" is not set")}
    assert set(plain.options) == assigned | unset
    assert all(plain.options[s] == "n" for s in unset - assigned)
    # gzip told by content: a .txt name holding gzip data parses the same
    gz = tmp_path / "config.txt"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    zipped = kc.read_config(str(gz))
    assert zipped.compressed and zipped.options == plain.options


@pytest.mark.parametrize("name, symbol, expected", [
    ("alpine-lts-x86_64.config", STAT, "m"),
    ("talos-amd64.config", STAT, "y"),
    ("talos-amd64.config", "NETFILTER_XTABLES_LEGACY", "n"),
    ("talos-amd64.config", "IP_NF_IPTABLES_LEGACY", "absent"),
    ("talos-amd64.config", "IP_NF_FILTER", "absent"),
    ("wsl2-x86_64.config", "IP_NF_IPTABLES_LEGACY", "m"),
    ("wsl2-x86_64.config", "NETFILTER_XTABLES_LEGACY", "y"),
    ("alpine-virt-x86_64.config", "CC_VERSION_TEXT", "gcc (Alpine 10.3.1_git20210424) 10.3.1 20210424"),
])
def test_fixture_values(name, symbol, expected):
    assert kc.read_config(str(kr.KERNEL_CONFIGS / name)).state(symbol) == expected


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_module_states_without_modules_dir(path, tmp_path):
    """A config with =m options but no lib/modules/<rel>: =m is missing (with the reason), =y builtin."""
    config = kc.read_config(str(path))
    root = kr.build_root(tmp_path, modules_dir=False)
    evidence = kc.gather_evidence(str(root), "6.1.0-test-amd64")
    states = kc.module_states(config, req.module_pairs(config.header_version), evidence)
    st = states["xt_statistic"]
    if config.state(STAT) == "y":
        assert st.state == "builtin"
    else:
        assert st.state == "missing" and "no modules directory" in st.reason


# ---------------------------------------------------------------------------------------------- generated configs

BASE = kr.derive_config((kr.KERNEL_CONFIGS / "alpine-virt-x86_64.config").read_text(), {})


@pytest.mark.parametrize("overrides, expected", [
    ({STAT: None}, "absent"),
    ({STAT: "m"}, "m"),
    ({STAT: "y"}, "y"),
    ({STAT: "n"}, "n"),
    ({"IP_SET_MAX": "1024"}, "1024"),
])
def test_generated_values(overrides, expected, tmp_path):
    sym = list(overrides)[0]
    path = kr.write_config(tmp_path / "config", kr.derive_config(BASE, overrides))
    assert kc.read_config(str(path)).state(sym) == expected


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_crlf_is_tolerated(compress, tmp_path):
    lf = kc.read_config(str(kr.write_config(tmp_path / "lf", BASE, compress=compress)))
    crlf = kc.read_config(str(kr.write_config(tmp_path / "crlf", BASE, compress=compress, crlf=True)))
    assert crlf.options == lf.options and crlf.header_version == "5.10.43"


@pytest.mark.parametrize("text, expected", [
    ("CONFIG_A=m\nCONFIG_A=y\n", "y"),
    ("CONFIG_A=y\n# CONFIG_A is not set\n", "n"),
    ("# CONFIG_A is not set\nCONFIG_A=m\n", "m"),
    ('CONFIG_A="x \\"q\\" y"\n', 'x "q" y'),
    ("  CONFIG_A=y   \n", "y"),
    ("CONFIG_B=y\n#CONFIG_A is not set\n", "absent"),
])
def test_parse_rules(text, expected):
    assert kc.parse_config_text(text).get("A", "absent") == expected


def _truncated_gzip():
    return gzip.compress(BASE.encode())[:2000]


@pytest.mark.parametrize("data, status, fragment", [
    (b"", "invalid", "empty"),
    (b"\n\n  \n", "invalid", "empty"),
    (b"hello world\nthis is not a kernel config\n", "invalid", "no CONFIG_ lines"),
    (b"\x1f\x8b\x08\x00garbage-after-gzip-magic", "invalid", "corrupt gzip"),
    (None, "invalid", "truncated"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00" + os.urandom(512), "invalid", "binary"),
    (gzip.compress(b""), "invalid", "empty"),
], ids=["empty", "blank", "garbage", "bad-gzip", "truncated-gzip", "binary", "gzip-empty"])
def test_bad_input(data, status, fragment, tmp_path):
    path = tmp_path / "config"
    path.write_bytes(_truncated_gzip() if data is None else data)
    with pytest.raises(kc.ConfigError) as err:
        kc.read_config(str(path))
    assert err.value.status == status and fragment in err.value.reason
    assert str(path) in str(err.value)


def test_missing_and_directory(tmp_path):
    with pytest.raises(kc.ConfigError) as err:
        kc.read_config(str(tmp_path / "nope"))
    assert err.value.status == "not_found"
    (tmp_path / "dir").mkdir()
    with pytest.raises(kc.ConfigError) as err:
        kc.read_config(str(tmp_path / "dir"))
    assert err.value.status == "unreadable" and "directory" in err.value.reason


SETPRIV = shutil.which("setpriv")


@pytest.mark.skipif(not kntest.is_root() or SETPRIV is None,
                    reason="needs root and setpriv to read the file as an unprivileged user (root bypasses mode 000)")
def test_permission_denied_as_unprivileged_user():
    base = kr.world_traversable_tmpdir()
    try:
        path = kr.write_config(base / "config", BASE)
        os.chmod(path, 0o600)
        code = ("import sys; sys.path[:0] = %r\n"
                "from ansible_collections.kubenode.netfilter.plugins.module_utils import _kernel_config as kc\n"
                "try:\n    kc.read_config(%r)\nexcept kc.ConfigError as e:\n    print(e.status + '|' + e.reason)\n"
                % ([str(kntest.COLLECTIONS_ROOT)], str(path)))
        proc = subprocess.run([SETPRIV, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                               code], capture_output=True, text=True, cwd=str(base), check=False)
        assert proc.returncode == 0, proc.stderr
        status, reason = proc.stdout.strip().split("|", 1)
        assert status == "unreadable" and "permission denied" in reason
    finally:
        shutil.rmtree(str(base))


# ---------------------------------------------------------------------------------------------- search order

def test_candidate_order():
    paths = kc.candidate_paths("6.1.0-18-amd64")
    assert paths[:3] == ["/proc/config.gz", "/boot/config-6.1.0-18-amd64", "/boot/config-amd64"]
    assert paths[-1] == "/usr/src/linux/.config"
    assert "/usr/lib/ostree-boot/config-6.1.0-18-amd64" in paths
    assert kc.candidate_paths("6.1.0")[:2] == ["/proc/config.gz", "/boot/config-6.1.0"]  # no flavour
    assert kc.candidate_paths(None) == ["/proc/config.gz", "/usr/src/linux/.config"]


def test_search_skips_bad_candidates_with_reasons(tmp_path):
    rel = "6.1.0-18-amd64"
    root = kr.build_root(tmp_path, release=rel)
    (root / "proc").mkdir(exist_ok=True)
    (root / "proc/config.gz").write_bytes(_truncated_gzip())
    (root / "boot").mkdir()
    (root / "boot" / ("config-" + rel)).write_bytes(b"\x00\x01binary")
    kr.write_config(root / "usr/lib/modules" / rel / "config", BASE, compress=True)  # gzip under a plain name
    config, searched = kc.find_config(str(root), rel)
    assert config is not None and config.path == str(root / "usr/lib/modules" / rel / "config")
    statuses = [(s.path[len(str(root)):], s.status) for s in searched]
    assert statuses == [("/proc/config.gz", "invalid"), ("/boot/config-" + rel, "invalid"),
                        ("/boot/config-amd64", "not_found"), ("/lib/modules/%s/config" % rel, "not_found"),
                        ("/usr/lib/modules/%s/config" % rel, "used")]
    assert "truncated" in searched[0].reason


def test_search_finds_nothing(tmp_path):
    config, searched = kc.find_config(str(tmp_path), "6.1.0-x")
    assert config is None and len(searched) == len(kc.candidate_paths("6.1.0-x"))
    assert {s.status for s in searched} == {"not_found"}


def test_flavour_path_and_release(tmp_path):
    root = kr.build_root(tmp_path, release="5.10.0-k3s1-virt", config_text=BASE, config_at="/boot/config-virt")
    assert kc.read_release(str(root)) == "5.10.0-k3s1-virt"
    config, searched = kc.find_config(str(root), "5.10.0-k3s1-virt")
    assert config.path.endswith("/boot/config-virt") and searched[-1].status == "used"


@pytest.mark.parametrize("text, expected", [
    ("6.18.44-fc-v1098", "6.18.44"), ("6.1", "6.1.0"), ("5.10.0-k3s1", "5.10.0"), ("4.19.314", "4.19.314"),
    ("garbage", None), ("", None), (None, None),
])
def test_parse_version(text, expected):
    assert kc.parse_version(text) == expected


def test_header_version():
    assert kc.header_version("#\n# Linux/x86 6.18.45 Kernel Configuration\n#\n") == "6.18.45"
    assert kc.header_version("# Linux/x86_64 5.10.52 Kernel Configuration\n") == "5.10.52"
    assert kc.header_version("# Linux/arm64 6.6.0-rc1 Kernel Configuration\n") == "6.6.0"
    assert kc.header_version("CONFIG_A=y\n") is None


@pytest.mark.parametrize("value, expected", [("y", True), ("n", False), (None, None)])
def test_modules_enabled(value, expected):
    text = "CONFIG_A=y\n" + ("" if value is None else "".join(kr._lines("MODULES", value)))
    assert kc.modules_enabled(kc.KernelConfig("x", kc.parse_config_text(text))) is expected
    assert kc.modules_enabled(None) is None


# ---------------------------------------------------------------------------------------------- module states

REL = "6.1.0-test-amd64"
NF = "kernel/net/netfilter/"


def _state(tmp_path, value, modules=True, config=True, mods="y", **root_kwargs):
    """State of xt_statistic for CONFIG_NETFILTER_XT_MATCH_STATISTIC=value in a root built from root_kwargs."""
    root = kr.build_root(tmp_path, release=REL, modules_dir=modules, **root_kwargs)
    cfg = None
    if config:
        text = "".join(kr._lines("MODULES", mods)) + "\n" + ("" if value is None else "\n".join(kr._lines(STAT, value)))
        cfg = kc.KernelConfig("cfg", kc.parse_config_text(text))
    evidence = kc.gather_evidence(str(root), REL)
    return kc.module_states(cfg, [(STAT, "xt_statistic")], evidence)["xt_statistic"]


@pytest.mark.parametrize("value, root_kwargs, state, fragment", [
    ("y", {}, "builtin", "=y"),
    ("m", {"modules_dep": [NF + "xt_statistic.ko.xz"]}, "loadable", "modules.dep"),
    ("m", {"ko_files": [NF + "xt_statistic.ko.zst"]}, "loadable", "xt_statistic.ko.zst exists"),
    ("m", {"ko_files": [NF + "xt_statistic.ko"]}, "loadable", "exists"),
    ("m", {"ko_files": [NF + "xt_statistic.ko.gz"], "modules_dep": [NF + "xt_comment.ko"]}, "loadable", "exists"),
    ("m", {"proc_modules": ["xt_statistic"]}, "loaded", "/proc/modules"),
    ("m", {"sys_modules": {"xt_statistic": "live"}}, "loaded", "initstate is live"),
    ("m", {"sys_modules": {"xt_statistic": "coming"}}, "missing", "no xt_statistic.ko"),
    ("m", {"modules_dep": [NF + "xt_comment.ko"]}, "missing", "no xt_statistic.ko"),
    ("m", {"modules_builtin": [NF + "xt_statistic.ko"]}, "builtin", "modules.builtin"),
    ("n", {}, "missing", "is not set"),
    (None, {}, "missing", "absent"),
    ("n", {"modules_builtin": [NF + "xt_statistic.ko"]}, "builtin", "modules.builtin"),
    (None, {"proc_modules": ["xt_statistic"]}, "loaded", "/proc/modules"),
    (None, {"sys_modules": {"xt_statistic": None}}, "missing", "absent"),  # a bare /sys/module dir proves nothing
], ids=["y", "m-dep", "m-zst", "m-ko", "m-gz-not-in-dep", "m-proc", "m-sys-live", "m-sys-coming",
        "m-no-file", "m-builtin-list", "n", "absent", "n-builtin-list", "absent-proc", "absent-bare-sys"])
def test_module_states(value, root_kwargs, state, fragment, tmp_path):
    result = _state(tmp_path, value, **root_kwargs)
    assert (result.state, result.option) == (state, STAT)
    assert fragment in result.reason, result.reason


def test_m_without_modules_dir(tmp_path):
    result = _state(tmp_path, "m", modules=False)
    assert result.state == "missing" and "no modules directory" in result.reason


def test_m_with_modules_disabled(tmp_path):
    result = _state(tmp_path, "m", mods="n", modules_dep=[NF + "xt_statistic.ko"])
    assert result.state == "missing" and "CONFIG_MODULES is not set" in result.reason


@pytest.mark.parametrize("root_kwargs, state", [
    ({}, "unknown"),
    ({"proc_modules": ["xt_statistic"]}, "loaded"),
    ({"modules_builtin": [NF + "xt_statistic.ko"]}, "builtin"),
    ({"sys_modules": {"xt_statistic": "live"}}, "loaded"),
])
def test_no_config(root_kwargs, state, tmp_path):
    result = _state(tmp_path, None, config=False, **root_kwargs)
    assert result.state == state and "no kernel config" in result.reason


def test_dash_underscore_equivalence(tmp_path):
    root = kr.build_root(tmp_path, release=REL, proc_modules=["br-netfilter"],
                         modules_dep=["kernel/net/ipv4/netfilter/nf-nat-ipv4.ko"])
    cfg = kc.KernelConfig("c", kc.parse_config_text("CONFIG_MODULES=y\nCONFIG_BRIDGE_NETFILTER=m\n"
                                                    "CONFIG_NF_NAT_IPV4=m\n"))
    states = kc.module_states(cfg, [("BRIDGE_NETFILTER", "br_netfilter"), ("NF_NAT_IPV4", "nf_nat_ipv4")],
                              kc.gather_evidence(str(root), REL))
    assert states["br_netfilter"].state == "loaded"
    assert states["nf_nat_ipv4"].state == "loadable"


def test_shared_module_prefers_defined_symbol(tmp_path):
    """ip_tables is built by IP_NF_IPTABLES_LEGACY where the kernel has it, else by IP_NF_IPTABLES."""
    pairs = [("IP_NF_IPTABLES_LEGACY", "ip_tables"), ("IP_NF_IPTABLES", "ip_tables")]
    ev = kc.gather_evidence(str(kr.build_root(tmp_path, release=REL)), REL)
    new = kc.KernelConfig("c", kc.parse_config_text("CONFIG_MODULES=y\nCONFIG_IP_NF_IPTABLES=y\n"
                                                    "# CONFIG_IP_NF_IPTABLES_LEGACY is not set\n"))
    old = kc.KernelConfig("c", kc.parse_config_text("CONFIG_MODULES=y\nCONFIG_IP_NF_IPTABLES=y\n"))
    assert kc.module_states(new, pairs, ev)["ip_tables"].state == "missing"
    assert kc.module_states(old, pairs, ev)["ip_tables"].as_dict() == {
        "option": "IP_NF_IPTABLES", "state": "builtin", "reason": "CONFIG_IP_NF_IPTABLES=y (built into the kernel)"}


def test_talos_has_no_legacy_ip_tables(tmp_path):
    """On Talos 6.18 (NETFILTER_XTABLES_LEGACY unset) ip_tables is not built although IP_NF_IPTABLES=y."""
    config = kc.read_config(str(kr.KERNEL_CONFIGS / "talos-amd64.config"))
    ev = kc.gather_evidence(str(kr.build_root(tmp_path, release=REL)), REL)
    states = kc.module_states(config, req.module_pairs(config.header_version), ev)
    assert states["ip_tables"].state == "missing" and states["ip_tables"].option == "IP_NF_IPTABLES_LEGACY"
    assert states["nft_compat"].state == "builtin"


def test_no_modules_root(tmp_path):
    """A CONFIG_MODULES-unset kernel (like this machine's): no /proc/modules, no lib/modules; =y builtin."""
    text = kr.derive_config(BASE, {"MODULES": "n", STAT: "y", "NETFILTER_XT_MATCH_COMMENT": "m"})
    config = kc.KernelConfig("c", kc.parse_config_text(text))
    root = kr.build_root(tmp_path, release=REL, modules_dir=False)
    ev = kc.gather_evidence(str(root), REL)
    assert ev.proc_modules is None and ev.modules_dir is None
    states = kc.module_states(config, req.module_pairs("5.10.43"), ev)
    assert states["xt_statistic"].state == "builtin"
    assert states["xt_comment"].state == "missing" and "CONFIG_MODULES" in states["xt_comment"].reason


# ---------------------------------------------------------------------------------------------- xtables

def test_xtables(tmp_path):
    root = kr.build_root(tmp_path, xtables={"ip_tables_matches": ["statistic", "conntrack", "conntrack", "comment"],
                                            "ip_tables_targets": ["MASQUERADE", "DNAT", "SNAT", "DNAT"],
                                            "ip6_tables_matches": []})
    xt = kc.read_xtables(str(root))
    assert xt == {"available": True,
                  "ipv4": {"matches": ["comment", "conntrack", "statistic"], "targets": ["DNAT", "MASQUERADE", "SNAT"]},
                  "ipv6": {"matches": [], "targets": []}}
    assert kc.read_xtables(str(tmp_path / "empty")) == {
        "available": False, "ipv4": {"matches": [], "targets": []}, "ipv6": {"matches": [], "targets": []}}


def test_join_root():
    assert kc.join_root("/", "/proc/config.gz") == "/proc/config.gz"
    assert kc.join_root("/host/", "/proc/config.gz") == "/host/proc/config.gz"
    assert kc.join_root("/host", "boot/x") == "/host/boot/x"


# ---------------------------------------------------------------------------------------------- confinement

@pytest.mark.parametrize("release, ok", [
    ("6.1.0-18-amd64", True), ("5.14.0-427.13.1.el9_4.x86_64", True), ("6.6.30+rpt-rpi-v8", True),
    ("6.8.0-1012-aws", True), ("4.19.0-0.bpo.6-amd64", True),
    ("", False), (".", False), ("..", False), ("../x", False), ("a/b", False), ("6.1..0", False),
    ("6.1\x00", False), ("6.1 x", False), ("6.1\n", False), ("x" * 256, False), (None, False), (6, False),
])
def test_valid_release(release, ok):
    assert kc.valid_release(release) is ok


def test_resolve_in_root(tmp_path):
    root = tmp_path / "node"
    (root / "usr/lib/modules/6.1").mkdir(parents=True)
    (root / "lib").symlink_to("usr/lib")                       # merged /usr, relative link
    (root / "boot").mkdir()
    (root / "boot/abs").symlink_to("/usr/lib/modules")         # absolute link: the node's /usr, not the host's
    (root / "boot/up").symlink_to("../../../../../../..")      # climbs: stops at root
    r = str(root)
    assert kc.resolve_in_root(r, "/lib/modules/6.1") == r + "/usr/lib/modules/6.1"
    assert kc.resolve_in_root(r, "/boot/abs/6.1") == r + "/usr/lib/modules/6.1"
    assert kc.resolve_in_root(r, "/boot/up") == r
    assert kc.resolve_in_root(r, "/boot/up/etc/passwd") == r + "/etc/passwd"
    assert kc.resolve_in_root(r, "/../../../etc/passwd") == r + "/etc/passwd"
    assert kc.resolve_in_root(r, "/missing/../boot") == r + "/boot"
    assert kc.resolve_in_root("/", "/proc/../proc/self") == os.path.realpath("/proc/self")
