# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Installed kernels and the next boot (issue 14): fixture roots with several kernels and each boot loader format."""
from __future__ import annotations

import pytest

from kntest import kernel_roots as kr

from ansible_collections.kubenode.netfilter.plugins.module_utils import _boot as boot
from ansible_collections.kubenode.netfilter.plugins.module_utils import _catalog as cat
from ansible_collections.kubenode.netfilter.plugins.modules import kernel_config_facts as kcf

BASE = (kr.KERNEL_CONFIGS / "alpine-lts-x86_64.config").read_text()   # every netfilter option =m
PAIRS = cat.module_pairs("5.10.52")
UUID = "5d9c1b2a-7e4f-4a1b-9c3d-2e1f0a9b8c7d"

GOOD = "6.1.0-18-amd64"          # running, everything loadable
NOSTAT = "6.1.0-20-amd64"        # built without xt_statistic
NONFT = "6.1.0-21-amd64"         # built without the nf_tables expressions
SPLIT = "6.8.0-45-generic"       # =m, but the -extra package with xt_statistic / ip_vs is not installed
LEFTOVER = "6.1.0-15-amd64"      # config still in /boot; image and lib/modules removed with the package
NEWEST_FIRST = [SPLIT, NONFT, NOSTAT, GOOD]


def kernels(*names, **changes):
    table = {
        GOOD: kr.Kernel(GOOD, BASE),
        NOSTAT: kr.Kernel(NOSTAT, kr.derive_config(BASE, {"NETFILTER_XT_MATCH_STATISTIC": "n"})),
        NONFT: kr.Kernel(NONFT, kr.derive_config(BASE, {s: "n" for s in kr.NFT_EXPRESSIONS})),
        SPLIT: kr.Kernel(SPLIT, BASE, extra=False),
        LEFTOVER: kr.Kernel(LEFTOVER, BASE, modules_dir=False, image=False),
    }
    out = [table[n] for n in names]
    for k in out:
        for attr, value in changes.get(k.release, {}).items():
            setattr(k, attr, value)
    return out


def node(tmp_path, *names, running=GOOD, **changes):
    return kr.build_installed_root(tmp_path / "node", kernels(*names, **changes), running=running, pairs=PAIRS)


def gather_all(root):
    facts, error = kcf.gather(str(root), kernels="all")
    assert error is None
    return facts


# ---------------------------------------------------------------------------------------------- installed kernels

def test_two_kernels_next_boot_lacks_xt_statistic(tmp_path):
    """Running kernel fine, the one GRUB boots next (saved_entry) built without xt_statistic."""
    root = node(tmp_path, GOOD, NOSTAT)
    kr.write_grub_debian(root, [NOSTAT, GOOD], saved_entry="gnulinux-advanced-%s>gnulinux-%s-advanced-%s"
                         % (UUID, NOSTAT, UUID))
    facts = gather_all(root)
    assert sorted(facts["installed"]) == sorted([GOOD, NOSTAT])
    assert facts["next_boot"] == NOSTAT and facts["next_boot_source"] == "grub"
    assert "saved_entry in /boot/grub/grubenv" in facts["next_boot_reason"]
    nxt = facts["installed"][NOSTAT]
    assert nxt["modules"]["xt_statistic"] == {"option": "NETFILTER_XT_MATCH_STATISTIC", "state": "missing",
                                              "reason": "CONFIG_NETFILTER_XT_MATCH_STATISTIC is not set"}
    assert nxt["options"]["NETFILTER_XT_MATCH_STATISTIC"] == "n"
    assert nxt["bootable"] is True and nxt["running"] is False
    assert facts["installed"][GOOD]["running"] is True
    assert facts["installed"][GOOD]["modules"]["xt_statistic"]["state"] == "loadable"
    assert facts["modules"]["xt_statistic"]["state"] == "loadable"   # the running kernel's facts are unchanged


def test_three_kernels_nft_and_extra_split(tmp_path):
    root = node(tmp_path, GOOD, NONFT, SPLIT)
    kr.write_grub_debian(root, [SPLIT, NONFT, GOOD], default="0")
    facts = gather_all(root)
    assert list(facts["installed"]) == [SPLIT, NONFT, GOOD]           # newest first
    assert facts["next_boot"] == SPLIT                                # entry 0: the newest kernel
    nonft = facts["installed"][NONFT]["modules"]
    for module in ("nft_ct", "nft_nat", "nft_masq", "nft_numgen", "nft_fib_ipv4", "nft_reject", "nft_compat"):
        assert nonft[module]["state"] == "missing" and "is not set" in nonft[module]["reason"], module
    assert nonft["xt_statistic"]["state"] == "loadable"
    split = facts["installed"][SPLIT]["modules"]
    for module in kr.EXTRA_MODULES:
        assert split[module]["state"] == "missing", module
        assert "=m but no %s.ko* in modules.dep" % module in split[module]["reason"]
    assert split["nft_ct"]["state"] == "loadable" and split["xt_comment"]["state"] == "loadable"


def test_extra_package_installed_makes_them_loadable(tmp_path):
    root = node(tmp_path, GOOD, SPLIT, **{SPLIT: {"extra": True}})
    facts = gather_all(root)
    assert all(facts["installed"][SPLIT]["modules"][m]["state"] == "loadable" for m in kr.EXTRA_MODULES)


def test_same_shape_as_running_and_never_loaded(tmp_path):
    """installed[release] has the running kernel's keys (but xtables, which only the running kernel has) plus
    running / bootable / bootable_reason / image / modules_dir; loaded evidence of the running kernel is ignored."""
    root = node(tmp_path, GOOD, NOSTAT)
    kr.build_root(root, release=GOOD, modules_dir=False, proc_modules=["xt_statistic", "nft_ct"],
                  sys_modules={"xt_comment": "live"})
    facts = gather_all(root)
    running_keys = set(facts) - {"xtables", "installed", "next_boot", "next_boot_source", "next_boot_reason"}
    for rel, kfacts in facts["installed"].items():
        assert set(kfacts) == running_keys | {"running", "bootable", "bootable_reason", "image", "modules_dir"}
        assert all(m["state"] != "loaded" for m in kfacts["modules"].values()), rel
        assert [s["path"] for s in kfacts["searched"]][0].endswith("/boot/config-%s" % rel)
        assert not any(s["path"].endswith("/proc/config.gz") for s in kfacts["searched"])
    assert facts["modules"]["xt_statistic"]["state"] == "loaded"      # the running kernel: loaded
    assert facts["installed"][GOOD]["modules"]["xt_statistic"]["state"] == "loadable"


def test_leftover_config_is_not_bootable(tmp_path):
    root = node(tmp_path, GOOD, LEFTOVER)
    facts = gather_all(root)
    left = facts["installed"][LEFTOVER]
    assert left["found"] is True and left["bootable"] is False and left["image"] is None
    assert "leftovers of a removed kernel" in left["bootable_reason"]
    assert left["modules_dir"] is None
    assert facts["installed"][GOOD]["bootable"] is True
    assert facts["installed"][GOOD]["image"] == str(root / "boot" / ("vmlinuz-" + GOOD))


@pytest.mark.parametrize("change, fragment", [
    ({"modules_dir": False}, "but no modules directory"),
    ({"image": False}, "no boot loader can start it"),
])
def test_half_removed_kernel_is_not_bootable(change, fragment, tmp_path):
    root = node(tmp_path, GOOD, NOSTAT, **{NOSTAT: change})
    left = gather_all(root)["installed"][NOSTAT]
    assert left["bootable"] is False and fragment in left["bootable_reason"]


def test_modules_only_in_usr_lib_and_no_config(tmp_path):
    root = node(tmp_path, GOOD, NOSTAT, **{NOSTAT: {"usr_lib": True}})
    (root / "boot" / ("config-" + NOSTAT)).unlink()
    facts = gather_all(root)
    kf = facts["installed"][NOSTAT]
    assert kf["found"] is False and kf["options"] == {} and kf["bootable"] is True
    assert kf["modules_dir"].endswith("/usr/lib/modules/" + NOSTAT)
    assert kf["modules"]["xt_statistic"]["state"] == "unknown"


def test_running_default_output_unchanged(tmp_path):
    root = node(tmp_path, GOOD, NOSTAT)
    facts, error = kcf.gather(str(root))
    assert error is None
    assert "installed" not in facts and "next_boot" not in facts


def test_invalid_names_are_not_releases(tmp_path):
    root = node(tmp_path, GOOD)
    (root / "boot" / "config-virt").write_text(BASE)          # a flavour config (Alpine), not a release
    (root / "boot" / "config-6.1.0 x").write_text(BASE)
    (root / "lib/modules/not..ok").mkdir(parents=True)
    (root / "lib/modules/6.2.0-file").write_text("not a dir")
    assert boot.installed_releases(str(root)) == [GOOD]


# ---------------------------------------------------------------------------------------------- next boot: GRUB

def sel(rel, kind="advanced"):
    return "gnulinux-advanced-%s>gnulinux-%s-%s-%s" % (UUID, rel, kind, UUID)


@pytest.mark.parametrize("default, env, expected, fragment", [
    ("0", {}, SPLIT, "set default in /boot/grub/grub.cfg"),
    ("${saved_entry}", {}, SPLIT, "no saved_entry: entry 0"),
    ("${saved_entry}", {"saved_entry": sel(GOOD)}, GOOD, "saved_entry"),
    ("${saved_entry}", {"saved_entry": "1>2"}, NONFT, "saved_entry"),                    # numbers per level
    ("${saved_entry}", {"saved_entry": "Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux %s"
                        % NOSTAT}, NOSTAT, "saved_entry"),                                # titles per level
    ("${saved_entry}", {"saved_entry": sel(GOOD), "next_entry": sel(NOSTAT, "recovery")}, NOSTAT, "grub-reboot"),
    ("gnulinux-simple-%s" % UUID, {}, SPLIT, "set default"),
    ("${saved_entry}", {"saved_entry": "gone-entry"}, SPLIT, "names no entry, so GRUB boots the first one"),
])
def test_grub_debian(default, env, expected, fragment, tmp_path):
    root = node(tmp_path, GOOD, NOSTAT, NONFT, SPLIT)
    kr.write_grub_debian(root, NEWEST_FIRST, default=default, **env)
    nb = boot.next_boot(str(root), boot.installed_releases(str(root)))
    assert (nb.release, nb.source) == (expected, "grub"), nb
    assert fragment in nb.reason


@pytest.mark.parametrize("env, expected", [
    ({}, SPLIT),
    ({"saved_entry": sel(NOSTAT)}, NOSTAT),
    ({"saved_entry": "Advanced options for Ubuntu>Ubuntu, with Linux %s" % NONFT}, NONFT),
    ({"saved_entry": sel(NOSTAT), "prev_saved_entry": sel(GOOD)}, NOSTAT),   # the boot-once of the old grub-reboot
    ({"next_entry": "1>6"}, GOOD),
])
def test_grub_ubuntu_shape(env, expected, tmp_path):
    """Ubuntu's grub.cfg: separate /boot (paths without /boot), signed images (vmlinuz-<release>.efi.signed),
    initrdfail / prev_saved_entry blocks, the firmware entry inside an if."""
    root = node(tmp_path, GOOD, NOSTAT, NONFT, SPLIT)
    kr.write_grub_debian(root, NEWEST_FIRST, ubuntu=True, **env)
    nb = boot.next_boot(str(root), boot.installed_releases(str(root)))
    assert (nb.release, nb.source) == (expected, "grub"), nb
    assert ".efi.signed" in nb.reason


def test_next_entry_only_where_grub_cfg_reads_it(tmp_path):
    """A hand-written grub.cfg without the next_entry branch: GRUB never looks at next_entry, so neither do we."""
    root = node(tmp_path, GOOD, NOSTAT)
    (root / "boot/grub").mkdir(parents=True)
    (root / "boot/grub/grub.cfg").write_text("set default=0\nmenuentry 'a' {\n linux /boot/vmlinuz-%s\n}\n"
                                             "menuentry 'b' {\n linux /boot/vmlinuz-%s\n}\n" % (GOOD, NOSTAT))
    (root / "boot/grub/grubenv").write_text(kr.grubenv(next_entry="1"))
    assert boot.next_boot(str(root), [NOSTAT, GOOD]).release == GOOD


@pytest.mark.parametrize("selector, fragment", [
    ("uefi-firmware", "boots no Linux kernel"),
    ("1", "is a submenu"),
])
def test_grub_default_without_a_kernel(selector, fragment, tmp_path):
    root = node(tmp_path, GOOD)
    kr.write_grub_debian(root, [GOOD], saved_entry=selector)
    nb = boot.next_boot(str(root), [GOOD])
    assert nb.release is None and nb.source == "grub" and fragment in nb.reason


def test_grub_cfg_without_default_reads_etc_default_grub(tmp_path):
    root = node(tmp_path, GOOD, NOSTAT)
    text = kr.grub_cfg_debian([NOSTAT, GOOD]).replace('set default="${saved_entry}"', "true")
    (root / "boot/grub").mkdir(parents=True)
    (root / "boot/grub/grub.cfg").write_text(text)
    (root / "etc/default").mkdir(parents=True)
    (root / "etc/default/grub").write_text('GRUB_TIMEOUT=5\nGRUB_DEFAULT="%s"\n' % sel(GOOD))
    nb = boot.next_boot(str(root), [NOSTAT, GOOD])
    assert nb.release == GOOD and "GRUB_DEFAULT=" in nb.reason


# ---------------------------------------------------------------------------------------------- next boot: BLS

@pytest.mark.parametrize("saved, next_entry, expected, fragment", [
    (GOOD, None, GOOD, "saved_entry in /boot/grub2/grubenv"),
    (None, None, SPLIT, "no saved_entry: entry 0"),          # blscfg order: newest first
    (GOOD, NOSTAT, NOSTAT, "grub-reboot"),
])
def test_grub_bls(saved, next_entry, expected, fragment, tmp_path):
    root = node(tmp_path, GOOD, NOSTAT, NONFT, SPLIT)
    kr.write_grub_bls(root, NEWEST_FIRST, saved=saved, next_entry=next_entry)
    nb = boot.next_boot(str(root), boot.installed_releases(str(root)))
    assert (nb.release, nb.source) == (expected, "grub-bls"), nb
    assert fragment in nb.reason


def test_bls_entries_without_grub_cfg(tmp_path):
    """grub2/grubenv + entries, grub.cfg not readable below root (e.g. on the ESP, not mounted): still grub-bls."""
    root = node(tmp_path, GOOD, NOSTAT)
    kr.write_grub_bls(root, [NOSTAT, GOOD], saved=GOOD)
    (root / "boot/grub2/grub.cfg").unlink()
    nb = boot.next_boot(str(root), [NOSTAT, GOOD])
    assert (nb.release, nb.source) == (GOOD, "grub-bls")


# ---------------------------------------------------------------------------------------------- systemd-boot

@pytest.mark.parametrize("default, efivars, esp, expected, fragment", [
    (None, {}, "efi", SPLIT, "first entry in menu order"),
    ("*%s.conf" % NOSTAT, {}, "efi", NOSTAT, "default in /efi/loader/loader.conf"),
    ("%s-%s" % (kr.MACHINE_ID, GOOD), {}, "boot/efi", GOOD, "default in /boot/efi/loader/loader.conf"),
    ("*%s.conf" % NOSTAT, {"LoaderEntryDefault": "%s-%s.conf" % (kr.MACHINE_ID, GOOD)}, "efi", GOOD,
     "LoaderEntryDefault"),
    ("*%s.conf" % NOSTAT, {"LoaderEntryOneShot": "%s-%s.conf" % (kr.MACHINE_ID, NONFT),
                           "LoaderEntryDefault": "%s-%s.conf" % (kr.MACHINE_ID, GOOD)}, "efi", NONFT,
     "LoaderEntryOneShot"),
    ("@saved", {"LoaderEntryLastBooted": "%s-%s.conf" % (kr.MACHINE_ID, NOSTAT)}, "efi", NOSTAT,
     "LoaderEntryLastBooted"),
])
def test_systemd_boot(default, efivars, esp, expected, fragment, tmp_path):
    root = node(tmp_path, GOOD, NOSTAT, NONFT, SPLIT)
    kr.write_systemd_boot(root, NEWEST_FIRST, default=default, esp=esp, efivars=efivars)
    nb = boot.next_boot(str(root), boot.installed_releases(str(root)))
    assert (nb.release, nb.source) == (expected, "systemd-boot"), nb
    assert fragment in nb.reason


def test_systemd_boot_default_matching_nothing(tmp_path):
    root = node(tmp_path, GOOD)
    kr.write_systemd_boot(root, [GOOD], default="arch-*.conf")
    nb = boot.next_boot(str(root), [GOOD])
    assert nb.release is None and nb.source == "systemd-boot" and "matches no type #1 entry" in nb.reason


def test_bls_sorting():
    """BLS spec "Sorting": sort-key entries first (sort-key, machine-id ascending, version newest first), then the
    rest by id, newest first; digit runs compare as numbers."""
    entries = [boot.Entry("a", id="x-6.9.0", version="6.9.0"), boot.Entry("b", id="x-6.10.0", version="6.10.0"),
               boot.Entry("c", id="z", version="6.1.0", sort_key="debian"),
               boot.Entry("d", id="y", version="6.2.0", sort_key="debian"),
               boot.Entry("e", id="w", version="7.0.0", sort_key="fedora")]
    assert [e.title for e in boot.bls_sorted(entries)] == ["d", "c", "e", "b", "a"]


# ---------------------------------------------------------------------------------------------- vmlinuz, nothing

@pytest.mark.parametrize("where, relative", [("boot/vmlinuz", True), ("vmlinuz", False)])
def test_vmlinuz_symlink(where, relative, tmp_path):
    root = node(tmp_path, GOOD, NOSTAT)
    kr.link_vmlinuz(root, NOSTAT, where=where, relative=relative)
    nb = boot.next_boot(str(root), [NOSTAT, GOOD])
    assert (nb.release, nb.source) == (NOSTAT, "vmlinuz-symlink") and "/vmlinuz -> vmlinuz-%s" % NOSTAT in nb.reason


def test_nothing_to_tell(tmp_path):
    root = node(tmp_path, GOOD)
    facts = gather_all(root)
    assert facts["next_boot"] is None and facts["next_boot_source"] is None
    assert "no boot loader configuration found" in facts["next_boot_reason"]


def test_grub_wins_over_vmlinuz_symlink(tmp_path):
    root = node(tmp_path, GOOD, NOSTAT)
    kr.link_vmlinuz(root, NOSTAT)
    kr.write_grub_debian(root, [NOSTAT, GOOD], saved_entry=sel(GOOD))
    assert boot.next_boot(str(root), [NOSTAT, GOOD]).release == GOOD
