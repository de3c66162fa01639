# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs the real module through ``ansible localhost -m kubenode.netfilter.kernel_config_facts``."""
from __future__ import annotations

import json
import os
import shlex

import pytest

import kntest
from kntest import kernel_roots as kr

from ansible_collections.kubenode.netfilter.plugins.module_utils import _catalog as req

MODULE = "kubenode.netfilter.kernel_config_facts"


@pytest.fixture(scope="module")
def inventory(tmp_path_factory):
    path = tmp_path_factory.mktemp("inv") / "hosts"
    path.write_text("localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n")
    return path


def run_module(ansible_env, inventory, args="", check=False):
    """Run the module ad hoc; return the host's result dict (json stdout callback)."""
    argv = [kntest.ansible_bin("ansible"), "localhost", "-i", str(inventory), "-m", MODULE]
    if args:
        argv += ["-a", args]
    if check:
        argv.append("--check")
    _proc, data = kntest.run_ansible_json(argv, ansible_env)
    return data["plays"][0]["tasks"][0]["hosts"]["localhost"]


def facts(result):
    assert not result.get("failed"), result
    assert result["changed"] is False
    return result["ansible_facts"]["kernel_config"]


NO_PROC_CONFIG = "this kernel exposes no /proc/config.gz (the Done-means check needs this machine kind)"


@pytest.mark.skipif(not os.path.exists("/proc/config.gz"), reason=NO_PROC_CONFIG)
def test_this_machine_done_means(ansible_env, inventory):
    """Issue 3 Done means, on this machine: source /proc/config.gz, modules_enabled false (CONFIG_MODULES unset),
    xt_statistic builtin, and statistic registered in xtables."""
    kc = facts(run_module(ansible_env, inventory))
    assert kc["found"] is True and kc["source"] == "/proc/config.gz" and kc["error"] is None
    assert kc["searched"] == [{"path": "/proc/config.gz", "status": "used", "reason": kc["searched"][0]["reason"]}]
    assert kc["release"] == os.uname().release and kc["release"].startswith(kc["version"])
    assert kc["options"]["MODULES"] == "n" and kc["modules_enabled"] is False
    assert kc["modules"]["xt_statistic"] == {"option": "NETFILTER_XT_MATCH_STATISTIC", "state": "builtin",
                                             "reason": "CONFIG_NETFILTER_XT_MATCH_STATISTIC=y (built into the kernel)"}
    assert kc["xtables"]["available"] is True
    assert "statistic" in kc["xtables"]["ipv4"]["matches"]
    assert set(req.catalog_symbols()) <= set(kc["options"])


def test_check_mode_identical(ansible_env, inventory):
    normal = facts(run_module(ansible_env, inventory))
    checked = facts(run_module(ansible_env, inventory, check=True))
    assert normal == checked


@pytest.mark.parametrize("name", [p.name for p in kr.fixture_configs()])
def test_fixture_root(name, ansible_env, inventory, tmp_path):
    """A node root at a path (as with root: /host): config at /boot/config-<release>, modules for a few options."""
    rel = "6.1.0-kn-amd64"
    text = (kr.KERNEL_CONFIGS / name).read_text()
    root = kr.build_root(tmp_path / "host", release=rel, config_text=text,
                         modules_dep=["kernel/net/netfilter/xt_statistic.ko.xz"],
                         proc_modules=["xt_comment"], xtables={"ip_tables_matches": ["comment"]})
    kc = facts(run_module(ansible_env, inventory, "root=%s options=CONFIG_IP_SET_MAX,HZ" % shlex.quote(str(root))))
    assert kc["found"] and kc["source"] == str(root / "boot" / ("config-" + rel))
    assert [s["status"] for s in kc["searched"]] == ["not_found", "used"]
    assert kc["release"] == rel and kc["version"] == kr.FIXTURE_VERSIONS[name]
    assert kc["modules_enabled"] is True
    assert kc["options"]["IP_SET_MAX"] == "256" or kc["options"]["IP_SET_MAX"] == "absent" \
        or kc["options"]["IP_SET_MAX"].isdigit()
    assert "HZ" in kc["options"]
    stat = kc["options"]["NETFILTER_XT_MATCH_STATISTIC"]
    assert kc["modules"]["xt_statistic"]["state"] == {"y": "builtin", "m": "loadable"}[stat]
    comment = kc["options"]["NETFILTER_XT_MATCH_COMMENT"]
    assert kc["modules"]["xt_comment"]["state"] == {"y": "builtin", "m": "loaded"}[comment]
    assert kc["xtables"] == {"available": True, "ipv4": {"matches": ["comment"], "targets": []},
                             "ipv6": {"matches": [], "targets": []}}


def test_all_options_and_explicit_gzip(ansible_env, inventory, tmp_path):
    path = kr.write_config(tmp_path / "cfg.bin", kr.derive_config(
        (kr.KERNEL_CONFIGS / "wsl2-x86_64.config").read_text(), {"NETFILTER_XT_MATCH_STATISTIC": None}),
        compress=True)
    kc = facts(run_module(ansible_env, inventory, "config_path=%s all_options=true kernel_release=6.18.20-wsl"
                          % path))
    assert kc["source"] == str(path) and kc["searched"][0]["reason"].startswith("gzip")
    assert kc["options"]["NETFILTER_XT_MATCH_STATISTIC"] == "absent"
    assert kc["modules"]["xt_statistic"]["state"] == "missing"
    assert len(kc["options"]) > 3000


def test_no_config_found(ansible_env, inventory, tmp_path):
    root = kr.build_root(tmp_path / "empty", release="6.1.0-none", modules_dir=False,
                         proc_modules=["xt_statistic"])
    (root / "proc/config.gz").write_bytes(b"\x1f\x8b\x08\x00broken")
    kc = facts(run_module(ansible_env, inventory, "root=%s" % root))
    assert kc["found"] is False and kc["source"] is None and kc["options"] == {}
    assert kc["searched"][0]["status"] == "invalid" and "corrupt gzip" in kc["searched"][0]["reason"]
    assert all(s["status"] == "not_found" for s in kc["searched"][1:])
    assert "no kernel config found" in kc["error"] and str(root / "proc/config.gz") in kc["error"]
    assert kc["modules_enabled"] is None
    assert kc["modules"]["xt_statistic"]["state"] == "loaded"
    assert kc["modules"]["xt_recent"]["state"] == "unknown"
    assert kc["xtables"]["available"] is False


@pytest.mark.parametrize("content, cause", [
    (b"\x1f\x8b\x08\x00truncated", "corrupt gzip"),
    (b"", "empty file"),
    (None, "no such file"),
    ("dir", "is a directory"),
])
def test_explicit_config_path_fails(content, cause, ansible_env, inventory, tmp_path):
    path = tmp_path / "config"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    result = run_module(ansible_env, inventory, "config_path=%s" % path)
    assert result.get("failed") is True
    assert str(path) in result["msg"] and cause in result["msg"]
    assert "Traceback" not in json.dumps(result)


def test_kernels_all_through_ansible(ansible_env, inventory, tmp_path):
    """kernels=all end to end: two installed kernels, GRUB's saved_entry names the one without xt_statistic; a
    leftover config is reported but not bootable; check mode gives the same facts."""
    base = (kr.KERNEL_CONFIGS / "alpine-lts-x86_64.config").read_text()
    good, nostat, left = "6.1.0-18-amd64", "6.1.0-20-amd64", "6.1.0-15-amd64"
    root = kr.build_installed_root(tmp_path / "node", [
        kr.Kernel(good, base), kr.Kernel(nostat, kr.derive_config(base, {"NETFILTER_XT_MATCH_STATISTIC": "n"})),
        kr.Kernel(left, base, modules_dir=False, image=False)], running=good, pairs=req.module_pairs("5.10.52"))
    uuid = "5d9c1b2a-7e4f-4a1b-9c3d-2e1f0a9b8c7d"
    kr.write_grub_debian(root, [nostat, good], saved_entry="gnulinux-advanced-%s>gnulinux-%s-advanced-%s"
                         % (uuid, nostat, uuid))
    kc = facts(run_module(ansible_env, inventory, "root=%s kernels=all" % root))
    assert kc["release"] == good and kc["modules"]["xt_statistic"]["state"] == "loadable"
    assert sorted(kc["installed"]) == sorted([good, nostat, left])
    assert kc["next_boot"] == nostat and kc["next_boot_source"] == "grub"
    assert kc["installed"][nostat]["modules"]["xt_statistic"]["state"] == "missing"
    assert kc["installed"][left]["bootable"] is False and kc["installed"][good]["bootable"] is True
    assert facts(run_module(ansible_env, inventory, "root=%s kernels=all" % root, check=True)) == kc
    plain = facts(run_module(ansible_env, inventory, "root=%s" % root))
    assert "installed" not in plain and "next_boot" not in plain


@pytest.mark.parametrize("args, fragment", [
    ("kernel_release=../../../..", "kernel_release"),
    ("root=/does/not/exist", "root /does/not/exist does not exist"),
    ("root=/etc/passwd", "root /etc/passwd is not a directory"),
    ("kernels=some", "kernels"),
])
def test_bad_arguments_fail_cleanly(args, fragment, ansible_env, inventory):
    result = run_module(ansible_env, inventory, args)
    assert result.get("failed") is True and fragment in result["msg"], result
    assert "Traceback" not in json.dumps(result)
