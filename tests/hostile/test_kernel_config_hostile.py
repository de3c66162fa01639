# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile input against kernel_config_facts (issue 17, items 3, 4, 5 and the kernel-config hangs / runaway cost).

Each case runs the real module file as a process with a deadline (a hang fails the test instead of blocking the
suite), or the module_utils functions directly; plus hypothesis runs over the config parser and the boot parsers.
"""
from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kntest
from kntest import kernel_roots as kr

from ansible_collections.kubenode.netfilter.plugins.module_utils import _boot as boot
from ansible_collections.kubenode.netfilter.plugins.module_utils import _kernel_config as kc
from ansible_collections.kubenode.netfilter.plugins.modules import kernel_config_facts as kcf

MODULE_FILE = kntest.REPO / "plugins" / "modules" / "kernel_config_facts.py"
DEADLINE = 60            # seconds for one module process; real runs take well under 1 s
REL = "6.1.0-test-amd64"
STAT = "NETFILTER_XT_MATCH_STATISTIC"
WSL = (kr.KERNEL_CONFIGS / "wsl2-x86_64.config").read_text()


def run_module(args, tmp_path):
    """The module as Ansible runs it (a process reading its arguments file); returns its JSON result."""
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = dict(os.environ, PYTHONPATH=str(kntest.COLLECTIONS_ROOT))
    proc = subprocess.run([sys.executable, str(MODULE_FILE), str(args_file)], capture_output=True, text=True,
                          env=env, timeout=DEADLINE, check=False)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def fails_naming(result, *fragments):
    assert result.get("failed") is True, result
    for fragment in fragments:
        assert fragment in result["msg"], result["msg"]


# ---------------------------------------------------------------------------------------------- 3: multi-member gzip

def test_multi_member_gzip_is_read_completely(tmp_path):
    """Two gzip members concatenated (what `cat a.gz b.gz` gives; zcat reads both): every option of both."""
    cut = WSL.index("CONFIG_NF_TABLES=")
    first, second = WSL[:cut], WSL[cut:]
    assert "CONFIG_NF_TABLES=" in second and "CONFIG_NF_TABLES=" not in first
    path = tmp_path / "config.gz"
    path.write_bytes(gzip.compress(first.encode()) + gzip.compress(second.encode()))
    whole = kc.read_config(str(kr.KERNEL_CONFIGS / "wsl2-x86_64.config"))
    config = kc.read_config(str(path))
    assert config.compressed and config.options == whole.options
    assert config.state("NF_TABLES") == whole.state("NF_TABLES") != "absent"
    # the module reports the same
    facts = run_module({"config_path": str(path), "all_options": True}, tmp_path)["ansible_facts"]["kernel_config"]
    assert facts["options"]["NF_TABLES"] == whole.state("NF_TABLES")
    assert len(facts["options"]) >= len(whole.options)


@pytest.mark.parametrize("tail, fragment", [
    (b"garbage after the member", "trailing garbage after member 1"),
    (b"\x1f\x8b\x08\x00truncated second member", "corrupt gzip"),
])
def test_gzip_tail_that_is_not_a_member(tail, fragment, tmp_path):
    path = tmp_path / "config.gz"
    path.write_bytes(gzip.compress(WSL.encode()) + tail)
    with pytest.raises(kc.ConfigError) as err:
        kc.read_config(str(path))
    assert err.value.status == "invalid" and fragment in err.value.reason


def test_zero_padding_after_gzip_is_fine(tmp_path):
    path = tmp_path / "config.gz"
    path.write_bytes(gzip.compress(WSL.encode()) + b"\x00" * 512)
    assert kc.read_config(str(path)).state("NF_TABLES") != "absent"


def test_multi_member_gzip_bomb_stops_at_the_cap(tmp_path):
    """Many members, each small, expanding beyond MAX_CONFIG_BYTES together: refused, not read forever."""
    member = gzip.compress(b"CONFIG_A=y\n" + b"#" * (8 * 1024 * 1024))
    path = tmp_path / "bomb.gz"
    path.write_bytes(member * 9)     # 9 x 8 MiB > 64 MiB
    with pytest.raises(kc.ConfigError) as err:
        kc.read_config(str(path))
    assert "expands beyond" in err.value.reason


# ---------------------------------------------------------------------------------------------- 4: no way out of root

def _outside_layout(tmp_path):
    """A host whose lib/modules/<other> has xt_statistic.ko, and a node root inside it without that module."""
    host = tmp_path / "host"
    other = host / "lib/modules/9.9.9-host/kernel/net/netfilter"
    other.mkdir(parents=True)
    (other / "xt_statistic.ko").write_bytes(b"\x7fELF host module")
    (host / "lib/modules/9.9.9-host/modules.dep").write_text("kernel/net/netfilter/xt_statistic.ko:\n")
    config = kr.derive_config(WSL, {STAT: "m", "MODULES": "y"})
    root = kr.build_root(host / "srv/node", release=REL, config_text=config)
    return host, root


@pytest.mark.parametrize("release", ["../../../..", "../../../../lib/modules/9.9.9-host", "..", ".",
                                     "a/b", "6.1.0\x00evil", "6.1.0 -x", "", "x" * 256])
def test_kernel_release_cannot_walk_out(release, tmp_path):
    _host, root = _outside_layout(tmp_path)
    facts, error = kcf.gather(str(root), kernel_release=release)
    if release == "":      # empty: the module's default (the running kernel's release), not an error
        assert error is None and facts["modules"]["xt_statistic"]["state"] == "missing"
        return
    assert facts is None and "kernel_release" in error


def test_kernel_release_walk_out_is_a_failure_not_a_pass(tmp_path):
    """Issue 17 #4 reproduced through the module: before, xt_statistic came out `loadable` from the host's tree."""
    _host, root = _outside_layout(tmp_path)
    result = run_module({"root": str(root), "kernel_release": "../../../../lib/modules/9.9.9-host"}, tmp_path)
    fails_naming(result, "kernel_release", "not a kernel release")


@pytest.mark.parametrize("osrelease", ["../../../../lib/modules/9.9.9-host\n", "..\n", "a/../../b\n"])
def test_osrelease_from_the_node_cannot_walk_out(osrelease, tmp_path):
    _host, root = _outside_layout(tmp_path)
    (root / "proc/sys/kernel/osrelease").write_text(osrelease)
    facts, error = kcf.gather(str(root))
    assert error is None and facts["release"] is None
    assert facts["modules"]["xt_statistic"]["state"] != "loadable"
    assert all(not s["path"].startswith(str(tmp_path / "host/lib")) for s in facts["searched"])


@pytest.mark.parametrize("target", ["../../../../lib/modules/9.9.9-host", "/lib/modules/9.9.9-host",
                                    "../../../../../../../../../../../../../../"])
def test_symlinked_modules_dir_stays_in_root(target, tmp_path):
    """lib/modules/<release> as a symlink leading out of root: resolved inside root (absolute targets start at
    root, `..` stops there), so the host's module is never seen."""
    host, root = _outside_layout(tmp_path)
    mdir = root / "lib/modules" / REL
    os.rmdir(mdir)
    mdir.symlink_to(target)
    facts, error = kcf.gather(str(root))
    assert error is None
    assert facts["modules"]["xt_statistic"]["state"] == "missing", facts["modules"]["xt_statistic"]
    assert str(host / "lib/modules/9.9.9-host") not in json.dumps(facts)


@pytest.mark.parametrize("target", ["/etc/host-config", "../../../../etc/host-config"])
def test_symlinked_config_stays_in_root(target, tmp_path):
    host, root = _outside_layout(tmp_path)
    (host / "etc").mkdir()
    (host / "etc/host-config").write_text("CONFIG_MODULES=y\nCONFIG_%s=y\n" % STAT)
    cfg = root / "boot" / ("config-" + REL)
    cfg.unlink()
    cfg.symlink_to(target)
    facts, error = kcf.gather(str(root))
    assert error is None and facts["source"] != str(cfg)
    assert facts["modules"]["xt_statistic"]["state"] != "builtin"


def test_symlink_inside_root_is_followed_in_root(tmp_path):
    """An absolute link inside the node (/boot/config-<rel> -> /usr/lib/kernel/cfg) means the node's own file."""
    root = kr.build_root(tmp_path / "node", release=REL)
    kr.write_config(root / "usr/lib/kernel/cfg", WSL)
    (root / "boot").mkdir(exist_ok=True)
    (root / "boot" / ("config-" + REL)).symlink_to("/usr/lib/kernel/cfg")
    config, _searched = kc.find_config(str(root), REL)
    assert config is not None and config.path == str(root / "boot" / ("config-" + REL))


def test_symlink_loop_is_unreadable_not_a_hang(tmp_path):
    root = kr.build_root(tmp_path / "node", release=REL)
    (root / "boot").mkdir(exist_ok=True)
    (root / "boot/a").symlink_to("b")
    (root / "boot/b").symlink_to("a")
    (root / "boot" / ("config-" + REL)).symlink_to("a")
    config, searched = kc.find_config(str(root), REL)
    assert config is None
    assert searched[1].status == "unreadable" and "symbolic links" in searched[1].reason


def test_installed_release_names_cannot_walk_out(tmp_path):
    """Names listed from /boot and lib/modules are releases only when they are one safe path component."""
    _host, root = _outside_layout(tmp_path)
    (root / "boot" / "config-..").mkdir(parents=True, exist_ok=True)
    (root / "lib/modules/..evil").mkdir(parents=True)
    assert boot.installed_releases(str(root)) == [REL]


# ---------------------------------------------------------------------------------------------- 5: bad root, NUL

@pytest.mark.parametrize("kind", ["missing", "file"])
def test_root_that_is_not_a_directory_fails_naming_it(kind, tmp_path):
    root = tmp_path / "nope"
    if kind == "file":
        root.write_text("x")
    result = run_module({"root": str(root)}, tmp_path)
    fails_naming(result, "root %s" % root, "does not exist" if kind == "missing" else "is not a directory")


@pytest.mark.parametrize("args, name", [
    ({"config_path": "/boot/config\x00x"}, "config_path"),
    ({"root": "/tmp\x00/x"}, "root"),
    ({"kernel_release": "6.1\x00"}, "kernel_release"),
    ({"options": ["NF_TABLES\x00"]}, "options"),
])
def test_nul_bytes_fail_cleanly(args, name, tmp_path):
    result = run_module(args, tmp_path)
    fails_naming(result, name, "NUL")


# ---------------------------------------------------------------------------------------------- hangs, runaway reads

def test_fifo_as_explicit_config_fails_fast(tmp_path):
    fifo = tmp_path / "config"
    os.mkfifo(fifo)
    result = run_module({"config_path": str(fifo)}, tmp_path)
    fails_naming(result, str(fifo), "FIFO")


def test_fifo_in_the_search_is_skipped(tmp_path):
    root = kr.build_root(tmp_path / "node", release=REL)
    os.mkfifo(root / "proc/config.gz")
    kr.write_config(root / "boot" / ("config-" + REL), WSL)
    facts = run_module({"root": str(root)}, tmp_path)["ansible_facts"]["kernel_config"]
    assert facts["searched"][0] == {"path": str(root / "proc/config.gz"), "status": "unreadable",
                                    "reason": "is a FIFO, not a regular file"}
    assert facts["found"] and facts["source"] == str(root / "boot" / ("config-" + REL))


def _zero_device(root):
    """A /dev/zero character device inside ``root`` (links to the host's /dev/zero would be re-rooted)."""
    dev = root / "dev"
    dev.mkdir(parents=True, exist_ok=True)
    try:
        os.mknod(dev / "zero", 0o666 | stat.S_IFCHR, os.makedev(1, 5))
    except PermissionError:
        pytest.skip("mknod needs CAP_MKNOD")
    return "/dev/zero"


@pytest.mark.parametrize("node_file", [
    "proc/sys/kernel/osrelease", "lib/modules/%s/modules.dep" % REL, "lib/modules/%s/modules.builtin" % REL,
    "proc/net/ip_tables_matches", "proc/modules", "proc/config.gz", "sys/module/xt_statistic/initstate",
])
def test_dev_zero_behind_node_files(node_file, tmp_path):
    """/dev/zero linked in place of a node file: refused as not a regular file; no hang, no runaway memory."""
    root = kr.build_root(tmp_path / "node", release=REL, config_text=kr.derive_config(WSL, {STAT: "m"}),
                         modules_dep=["kernel/net/netfilter/xt_statistic.ko"])
    target = root / node_file
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    target.symlink_to(_zero_device(root))
    args = {"root": str(root), "kernel_release": REL} if "osrelease" in node_file else {"root": str(root)}
    facts = run_module(args, tmp_path)["ansible_facts"]["kernel_config"]
    assert facts["found"] is True
    if "modules.dep" in node_file:
        assert facts["modules"]["xt_statistic"]["state"] == "missing"     # modules.dep unreadable, no .ko on disk
    if "ip_tables_matches" in node_file:
        assert facts["xtables"]["ipv4"]["matches"] == []


@pytest.mark.parametrize("limit_name, node_file", [
    ("MAX_MODULES_FILE_BYTES", "lib/modules/%s/modules.dep" % REL),
    ("MAX_PROC_FILE_BYTES", "proc/modules"),
    ("MAX_SMALL_FILE_BYTES", "proc/sys/kernel/osrelease"),
])
def test_oversized_node_files_are_not_read_whole(limit_name, node_file, tmp_path):
    """A (sparse) file larger than its bound counts as unreadable, never as a truncated list taken for a fact."""
    root = kr.build_root(tmp_path / "node", release=REL)
    path = root / node_file
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(b"kernel/net/netfilter/xt_statistic.ko:\n")
        handle.truncate(getattr(kc, limit_name) + 10)
    assert kc.read_node_text(str(root), "/" + node_file, getattr(kc, limit_name)) is None
    if "modules.dep" in node_file:
        ev = kc.gather_evidence(str(root), REL)
        assert not ev.dep_read and ev.dep == {}


def test_read_bounded_refuses_devices():
    with pytest.raises(kc.ConfigError) as err:
        kc.read_bounded("/dev/zero", 100)
    assert "character device" in err.value.reason


def test_read_bounded_reads_procfs_files():
    """procfs files report size 0; they are read anyway, bounded."""
    data = kc.read_bounded("/proc/self/status", 1 << 20)
    assert b"Name:" in data


# ---------------------------------------------------------------------------------------------- all_options bound

def _synthetic_config(symbols):
    return "CONFIG_MODULES=y\n" + "".join("CONFIG_SYNTH_%06d=%s\n" % (i, "ym"[i % 2]) for i in range(symbols))


def test_all_options_is_capped_and_says_so(tmp_path):
    path = tmp_path / "config"
    path.write_text(_synthetic_config(30000))
    facts = run_module({"config_path": str(path), "all_options": True}, tmp_path)["ansible_facts"]["kernel_config"]
    assert facts["all_options_truncated"] is True
    synth = [s for s in facts["options"] if s.startswith("SYNTH_")]
    assert len(synth) == kcf.ALL_OPTIONS_MAX
    assert "NF_TABLES" in facts["options"]            # catalog symbols always come on top
    small = run_module({"config_path": str(kr.KERNEL_CONFIGS / "wsl2-x86_64.config"), "all_options": True},
                       tmp_path)["ansible_facts"]["kernel_config"]
    assert small["all_options_truncated"] is False


def test_too_many_symbols_is_not_a_kernel_config(tmp_path):
    path = tmp_path / "config"
    path.write_text(_synthetic_config(kc.MAX_CONFIG_SYMBOLS + 1))
    result = run_module({"config_path": str(path), "all_options": True}, tmp_path)
    fails_naming(result, str(path), "more than %d distinct CONFIG_ symbols" % kc.MAX_CONFIG_SYMBOLS)


def test_larger_than_the_cap_is_invalid(tmp_path):
    path = tmp_path / "config"
    with open(path, "wb") as handle:
        handle.write(b"CONFIG_MODULES=y\n")
        handle.truncate(kc.MAX_CONFIG_BYTES + 1)
    with pytest.raises(kc.ConfigError) as err:
        kc.read_config(str(path))
    assert "larger than" in err.value.reason


# ---------------------------------------------------------------------------------------------- property tests

SYMBOL = st.from_regex(r"[A-Z0-9_]{1,20}", fullmatch=True)
VALUE = st.one_of(st.sampled_from(["y", "m", "n"]), st.integers(0, 1 << 40).map(str),
                  st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters='"\\'),
                          max_size=30).map(lambda t: '"%s"' % t))
# database=None: no .hypothesis directory in the checkout
PARSE_SETTINGS = settings(max_examples=300, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])


@PARSE_SETTINGS
@given(st.text(max_size=2000))
def test_parser_total_on_random_text(text):
    """Any text: a dict of valid symbols to strings, never an exception."""
    options = kc.parse_config_text(text)
    for sym, value in options.items():
        assert sym and all(ch.isalnum() or ch == "_" for ch in sym) and isinstance(value, str)


@PARSE_SETTINGS
@given(st.lists(st.tuples(SYMBOL, st.one_of(VALUE, st.just(None))), max_size=50),
       st.sampled_from(["\n", "\r\n"]), st.text(alphabet="# \tabc=\n", max_size=100))
def test_parser_reads_back_what_was_written(assignments, newline, noise):
    """Rendered assignments (``# CONFIG_X is not set`` for None), with comment noise between: the last one wins."""
    lines, expected = [], {}
    for sym, value in assignments:
        if value is None:
            lines.append("# CONFIG_%s is not set" % sym)
            expected[sym] = "n"
        else:
            lines.append("CONFIG_%s=%s" % (sym, value))
            expected[sym] = value[1:-1] if value.startswith('"') else value
        lines.extend("# " + part for part in noise.splitlines() if part)
    assert kc.parse_config_text(newline.join(lines)) == expected


@PARSE_SETTINGS
@given(st.binary(max_size=3000), st.booleans())
def test_decode_only_raises_config_error(data, as_gzip):
    payload = gzip.compress(data) if as_gzip else data
    try:
        text, compressed = kc.decode_config_bytes(payload, "x")
    except kc.ConfigError as exc:
        assert exc.status == "invalid"
    else:
        assert compressed is as_gzip and isinstance(text, str)


@PARSE_SETTINGS
@given(st.lists(st.binary(min_size=1, max_size=200), min_size=1, max_size=5))
def test_gunzip_all_equals_concatenation(parts):
    data = b"".join(gzip.compress(p) for p in parts)
    assert kc.gunzip_all(data, "x") == b"".join(parts)


@PARSE_SETTINGS
@given(st.text(max_size=3000))
def test_boot_parsers_total_on_random_text(text):
    entries, defaults, _bls = boot.parse_grub_cfg(text)
    assert all(isinstance(d, str) for d in defaults)
    for selector in defaults + ["0", "1>0", text[:20]]:
        boot.select_grub_entry(entries, selector)
    boot.read_keyvalues(text)
    boot.read_keyvalues(text, "=")
    boot.release_from_image("/nonexistent-root", text[:200] or None, ["6.1.0"])


@PARSE_SETTINGS
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_valid_release_never_admits_a_path(text):
    if kc.valid_release(text):
        assert "/" not in text and ".." not in text and "\x00" not in text and text not in ("", ".")
        assert kc.find_modules_dir("/nonexistent-root", text) is None


# ---------------------------------------------------------------------------------------------- bounded scans

def test_disk_scan_stops_and_says_unknown(tmp_path, monkeypatch):
    """A modules tree larger than the scan bound: a module not found before the stop is `unknown`, not `missing`."""
    monkeypatch.setattr(kc, "MAX_DISK_SCAN_FILES", 50)
    root = kr.build_root(tmp_path / "node", release=REL, ko_files=["kernel/drivers/f%03d.ko" % i for i in range(80)],
                         modules_dep=["kernel/drivers/f000.ko"])
    config = kc.KernelConfig("c", kc.parse_config_text("CONFIG_MODULES=y\nCONFIG_%s=m\n" % STAT))
    state = kc.module_states(config, [(STAT, "xt_statistic")], kc.gather_evidence(str(root), REL))["xt_statistic"]
    assert state.state == "unknown" and "stopped after 50 files" in state.reason


def test_installed_kernels_are_bounded(tmp_path):
    root = tmp_path / "node"
    for i in range(boot.MAX_INSTALLED + 8):
        (root / "lib/modules" / ("6.1.%d-amd64" % i)).mkdir(parents=True)
    releases = boot.installed_releases(str(root))
    assert len(releases) == boot.MAX_INSTALLED
    assert releases[0] == "6.1.%d-amd64" % (boot.MAX_INSTALLED + 7)     # newest first, the oldest left out


@pytest.mark.parametrize("name, content", [
    ("boot/grub/grub.cfg", b"menuentry 'x' {\n" * 200000),        # deep, unclosed nesting: no recursion, no error
    ("boot/grub/grubenv", b"saved_entry=" + b"9" * 100000),         # over the bound: not read
    ("efi/loader/loader.conf", b"default *\n" + b"#" * 70000),      # over the bound: not a systemd-boot config
])
def test_hostile_boot_files(name, content, tmp_path):
    root = kr.build_installed_root(tmp_path / "node", [kr.Kernel(REL, WSL)], running=REL)
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    facts, error = kcf.gather(str(root), kernels="all")
    assert error is None and list(facts["installed"]) == [REL]
    assert facts["next_boot"] in (None, REL)


def test_fifo_as_grub_cfg_is_no_hang(tmp_path):
    root = kr.build_installed_root(tmp_path / "node", [kr.Kernel(REL, WSL)], running=REL)
    (root / "boot/grub").mkdir(parents=True)
    os.mkfifo(root / "boot/grub/grub.cfg")
    kr.link_vmlinuz(root, REL)
    result = run_module({"root": str(root), "kernels": "all"}, tmp_path)["ansible_facts"]["kernel_config"]
    assert result["next_boot"] == REL and result["next_boot_source"] == "vmlinuz-symlink"
