# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""node_profile_facts' proxy_mode_running against real rules of each kube-proxy mode in throwaway network namespaces.

The rules are the ones kube-proxy writes (a KUBE-SERVICES chain in the nat table jumped to from PREROUTING and OUTPUT,
for iptables-nft and iptables-legacy, IPv4 and IPv6; an nftables ``table ip kube-proxy``; the ``kube-ipvs0`` device the
IPVS mode creates). Each state runs the module file inside the namespace; one also runs through
``ansible localhost -m`` with an interpreter wrapper into the namespace.
"""
from __future__ import annotations

import json
import os
import sys

import pytest

import kntest
from kntest.netns import missing_requirements, netns

pytestmark = [pytest.mark.root, pytest.mark.netns]

TOOLS = ("iptables-nft", "ip6tables-nft", "iptables-legacy", "nft", "ip")
REASON = missing_requirements(*TOOLS)
if REASON:
    pytestmark.append(pytest.mark.skip(reason=REASON))

MODULE = "ansible_collections.kubenode.netfilter.plugins.modules.node_profile_facts"
EMPTY_ROOT = kntest.FIXTURES / "node-profile" / "empty"


def run_module(ns, tmp_path, args=None, hide=None):
    """Execute the module file inside the namespace; `hide`: /usr/sbin entries to hide (private mount namespace)."""
    argsfile = tmp_path / "args.json"
    argsfile.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}))
    env = dict(os.environ)
    env["PYTHONPATH"] = str(kntest.COLLECTIONS_ROOT)
    argv = [sys.executable, "-m", MODULE, str(argsfile)]
    if hide:
        # /usr/sbin shows symlinks into the real one (bound at ORIG) for every entry but the hidden ones
        orig, shadow = tmp_path / "orig-sbin", tmp_path / "sbin"
        orig.mkdir()
        shadow.mkdir()
        for entry in os.listdir("/usr/sbin"):
            if entry not in hide:
                (shadow / entry).symlink_to(orig / entry)
        argv = ["unshare", "-m", "--propagation", "private", "/bin/sh", "-ec",
                'mount --bind /usr/sbin "$0"; mount --bind "$1" /usr/sbin; shift; exec "$@"',
                str(orig), str(shadow)] + argv
    proc = ns.run(argv, check=False, env=env)
    assert proc.returncode == 0, "module failed: rc %d\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr)
    result = json.loads(proc.stdout)
    assert not result.get("failed"), result
    assert result["changed"] is False
    return result["ansible_facts"]["node_profile"]


def status(facts, path):
    return next(s["status"] for s in facts["searched"] if s["path"] == path)


def kube_services(ns, tool):
    """The skeleton kube-proxy's iptables mode keeps in the nat table, with one service rule."""
    ns.sh("{t} -t nat -N KUBE-SERVICES\n"
          "{t} -t nat -N KUBE-SVC-TEST\n"
          "{t} -t nat -A PREROUTING -m comment --comment 'kubernetes service portals' -j KUBE-SERVICES\n"
          "{t} -t nat -A OUTPUT -m comment --comment 'kubernetes service portals' -j KUBE-SERVICES\n"
          "{t} -t nat -A KUBE-SERVICES -d {addr} -p tcp --dport 443 -j KUBE-SVC-TEST\n".format(
              t=tool, addr="fd00:96::1/128" if tool.startswith("ip6") else "10.96.0.1/32"))


def ipvs_device(ns):
    """kube-proxy's IPVS mode makes a dummy device kube-ipvs0; kernels without CONFIG_DUMMY (like this test
    machine's) get a bridge of that name instead: detection reads only the name in /proc/net/dev."""
    if ns.run(["ip", "link", "add", "kube-ipvs0", "type", "dummy"], check=False).returncode != 0:
        ns.run(["ip", "link", "add", "kube-ipvs0", "type", "bridge"])


def test_nothing_live_is_null_and_changes_nothing(tmp_path):
    with netns("kn-profile") as ns:
        before = ns.run(["cat", "/proc/net/ip_tables_names"]).stdout
        facts = run_module(ns, tmp_path, {"root": "/"})
        assert (facts["proxy_mode_running"], facts["proxy_mode_running_source"]) == (None, "unknown")
        assert status(facts, "nft list chains") == "found: 0 tables, 0 chains"
        assert status(facts, "iptables-legacy -t nat -S KUBE-SERVICES 1") == (
            "ignored: no legacy nat table in /proc/net/ip_tables_names")
        # looking created no table in either backend
        assert ns.run(["cat", "/proc/net/ip_tables_names"]).stdout == before
        assert ns.run(["nft", "list", "tables"]).stdout.strip() == ""


@pytest.mark.parametrize("tool", ["iptables-nft", "iptables-legacy", "ip6tables-nft"])
def test_kube_services_chain_is_iptables_mode(tool, tmp_path):
    with netns("kn-profile") as ns:
        kube_services(ns, tool)
        facts = run_module(ns, tmp_path, {"root": "/"})
        assert (facts["proxy_mode_running"], facts["proxy_mode_running_source"]) == (
            "iptables", "%s nat KUBE-SERVICES" % tool)
        if tool.endswith("-legacy"):
            assert status(facts, "%s -t nat -S KUBE-SERVICES 1" % tool) == "found"
        else:  # the nf_tables backend is read with one `nft list chains`
            assert status(facts, "nft list chains") == "found: 1 tables, 4 chains"  # PREROUTING, OUTPUT, KUBE-SERVICES, KUBE-SVC-TEST


@pytest.mark.parametrize("family", ["ip", "ip6"])
def test_kube_proxy_nft_table_is_nftables_mode(family, tmp_path):
    with netns("kn-profile") as ns:
        ns.run(["nft", "-f", "-"], input=(
            "table {f} kube-proxy {{\n"
            "  comment \"rules for kube-proxy\"\n"
            "  chain nat-prerouting {{ type nat hook prerouting priority dstnat; policy accept; jump services; }}\n"
            "  chain services {{ }}\n"
            "}}\n").format(f=family))
        facts = run_module(ns, tmp_path, {"root": "/"})
        assert (facts["proxy_mode_running"], facts["proxy_mode_running_source"]) == (
            "nftables", "nft table %s kube-proxy" % family)
        assert status(facts, "nft list chains") == "found: 1 tables, 2 chains"


@pytest.mark.parametrize("tool", ["iptables-nft", "ip6tables-nft"])
def test_without_nft_the_save_tools_are_read(tool, tmp_path):
    """No nft on the node: iptables-nft-save -t nat is streamed instead (iptables-nft -S calls a missing chain
    'incompatible'); the kube-proxy nft table is then not visible, which is fine: that mode cannot run without nft."""
    if missing_requirements("unshare", "mount"):
        pytest.skip(missing_requirements("unshare", "mount"))
    with netns("kn-profile") as ns:
        kube_services(ns, tool)
        facts = run_module(ns, tmp_path, {"root": "/"}, hide=("nft",))
        assert status(facts, "nft list chains") == "absent: nft not installed"
        save = tool.replace("tables-nft", "tables-nft-save")
        other = "ip6tables-nft-save" if tool == "iptables-nft" else "iptables-nft-save"
        assert status(facts, "%s -t nat" % save) == "found"
        assert status(facts, "%s -t nat" % other) == "absent"
        assert (facts["proxy_mode_running"], facts["proxy_mode_running_source"]) == (
            "iptables", "%s nat KUBE-SERVICES" % tool)


def test_kube_ipvs0_device_is_ipvs_mode_even_with_kube_services(tmp_path):
    with netns("kn-profile") as ns:
        ipvs_device(ns)
        kube_services(ns, "iptables-nft")  # the IPVS mode keeps KUBE-SERVICES in the nat table too
        facts = run_module(ns, tmp_path, {"root": "/"})
        assert (facts["proxy_mode_running"], facts["proxy_mode_running_source"]) == (
            "ipvs", "kube-ipvs0 in /proc/net/dev (also found: iptables-nft nat KUBE-SERVICES)")


def test_live_rules_false_runs_no_command(tmp_path):
    with netns("kn-profile") as ns:
        kube_services(ns, "iptables-nft")
        facts = run_module(ns, tmp_path, {"root": "/", "live_rules": False})
        assert facts["proxy_mode_running"] is None
        assert status(facts, "iptables/nft commands") == "ignored: live_rules=false"


def test_through_ansible_in_a_namespace(tmp_path, ansible_env):
    """The k3s nftables fixture root (configured) against a namespace with kube-proxy's nft table (running)."""
    with netns("kn-profile") as ns:
        ns.run(["nft", "add", "table", "ip", "kube-proxy"])
        python = ns.interpreter(tmp_path)
        root = kntest.FIXTURES / "node-profile" / "k3s-nftables"
        argv = [kntest.ansible_bin("ansible"), "localhost", "-i", "localhost,", "-c", "local",
                "-e", "ansible_python_interpreter=%s" % python, "-m", "kubenode.netfilter.node_profile_facts",
                "-a", json.dumps({"root": str(root)})]
        proc, output = kntest.run_ansible_json(argv, ansible_env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        facts = output["plays"][0]["tasks"][0]["hosts"]["localhost"]["ansible_facts"]["node_profile"]
        assert (facts["distribution"], facts["proxy_mode"], facts["proxy_mode_running"]) == (
            "k3s", "nftables", "nftables")
        assert facts["proxy_mode_running_source"] == "nft table ip kube-proxy"
