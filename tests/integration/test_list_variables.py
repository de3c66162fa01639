# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every list variable of the roles given as a string, as ``-e var=a,b``, ``-e 'var=["a","b"]'`` and ``-e var=``
give it (and as an AWX text survey field does), run for real through ansible-playbook.

The roles run against a throwaway network namespace (interpreter wrapper) or a fixture root; what is asserted is the
list the modules received (their ``invocation``) or the plan/report the role printed, never just "it did not crash".
"""
from __future__ import annotations

import json

import pytest

import kntest
from kntest import kernel_roots as kr
from kntest.netns import netns, require_netns

pytestmark = [pytest.mark.root, pytest.mark.netns]

NETBIRD = ["sysctl -qw net.ipv4.ip_forward=1", "iptables-nft -A FORWARD -s 10.0.0.1 -j ACCEPT",
           "nft add rule ip filter FORWARD ct state established accept"]

# the string forms of the list ["/opt/kn-a", "/opt/kn-b"] and of the empty list; a value with spaces goes in as JSON
# extra vars (AWX passes survey answers that way; `-e key=value` would split it at the spaces)
PATH_FORMS = [
    pytest.param("/opt/kn-a,/opt/kn-b", ["/opt/kn-a", "/opt/kn-b"], id="comma"),
    pytest.param(" /opt/kn-a , /opt/kn-b ,", ["/opt/kn-a", "/opt/kn-b"], id="comma-spaces-json-extra-vars"),
    pytest.param('["/opt/kn-a", "/opt/kn-b"]', ["/opt/kn-a", "/opt/kn-b"], id="json"),
    pytest.param("", [], id="empty"),
]


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    require_netns("iptables-nft", "nft")
    tmp = tmp_path_factory.mktemp("listvars")
    with netns("kn-prod") as ns:
        for cmd in NETBIRD:
            ns.sh(cmd)
        yield tmp, ns.interpreter(tmp)


def play(host, role, *extra_vars, check=False):
    """Run `role` on the namespace host with `-e key=value` strings; return (rc, tasks by name, stats)."""
    tmp, python = host
    playbook = tmp / ("play-%s.yml" % role)
    playbook.write_text("- hosts: all\n  gather_facts: false\n  roles:\n    - role: kubenode.netfilter.%s\n" % role)
    argv = [kntest.ansible_bin("ansible-playbook"), "-i", "node,", "-c", "local",
            "-e", "ansible_python_interpreter=%s" % python, str(playbook)]
    for extra in extra_vars:
        name, _sep, value = extra.partition("=")
        argv += ["-e", json.dumps({name: value}) if " " in value else extra]
    if check:
        argv.append("--check")
    proc, out = kntest.run_ansible_json(argv, kntest.ansible_environment())
    tasks = {}
    for task in out["plays"][0]["tasks"]:
        result = task["hosts"].get("node")
        if result is not None:
            tasks.setdefault(task["task"]["name"].split(" : ", 1)[-1], []).append(result)
    failed = dict((name, [r.get("msg") for r in results if r.get("failed")]) for name, results in tasks.items())
    tasks["_failed"] = dict((name, msgs) for name, msgs in failed.items() if msgs)
    return proc.returncode, tasks, out["stats"].get("node", {})


def search_paths_sent(tasks):
    return tasks["Gather the netfilter backend facts"][0]["invocation"]["module_args"]["search_paths"]


@pytest.mark.parametrize("value, expected", PATH_FORMS)
def test_preflight_search_paths_as_a_string(host, value, expected):
    rc, tasks, stats = play(host, "preflight", "kubenode_netfilter_search_paths=" + value,
                            "kubenode_preflight_fail_on=never")
    assert rc == 0 and stats["failures"] == 0, tasks["_failed"]
    assert search_paths_sent(tasks) == expected


@pytest.mark.parametrize("value, expected", PATH_FORMS)
def test_netfilter_tools_search_paths_as_a_string(host, value, expected):
    rc, tasks, stats = play(host, "netfilter_tools", "kubenode_netfilter_search_paths=" + value, check=True)
    assert search_paths_sent(tasks) == expected
    assert rc == 0 and stats["failures"] == 0 and stats["changed"] == 0, tasks["_failed"]


RULE = {"family": "ip", "table": "filter", "chain": "FORWARD", "handle": 3}


@pytest.mark.parametrize("paths, expected", PATH_FORMS)
def test_nft_conflicts_rules_json_and_search_paths_as_strings(host, paths, expected):
    rc, tasks, stats = play(host, "nft_conflicts", "kubenode_nft_conflicts_rules=" + json.dumps([RULE]),
                            "kubenode_nft_conflicts_search_paths=" + paths,
                            "kubenode_nft_conflicts_backup_dir=/nonexistent/kn-prod-never-written")
    assert rc == 0 and stats["failures"] == 0 and stats["changed"] == 0, tasks["_failed"]
    assert search_paths_sent(tasks) == expected
    removal = tasks["Remove exactly the listed rules (backup and undo file first; check mode only reports)"][0]
    assert removal["invocation"]["module_args"]["rules"][0] == dict(RULE, fingerprint=None)
    assert removal["commands"] == ["delete rule ip filter FORWARD handle 3"]
    report = tasks["Report the backup, the undo file and the nft commands"][0]["msg"]
    assert report[-1] == "set kubenode_nft_conflicts_remediate: true to remove them"


def test_nft_conflicts_empty_rules_string_is_no_rule(host):
    rc, tasks, stats = play(host, "nft_conflicts", "kubenode_nft_conflicts_rules=")
    assert rc == 0 and stats["failures"] == 0, tasks["_failed"]
    assert tasks["Remove exactly the listed rules (backup and undo file first; check mode only reports)"][0].get(
        "skipped") is True


IPTABLES_NFT = ["br_netfilter", "ipt_REJECT", "nf_conntrack", "nf_nat", "nf_tables", "nft_compat", "nft_ct", "nft_nat",
                "x_tables", "xt_addrtype", "xt_comment", "xt_conntrack", "xt_mark", "xt_MASQUERADE", "xt_nat",
                "xt_recent", "xt_REDIRECT", "xt_statistic"]


@pytest.mark.parametrize("value, extra", [
    pytest.param("overlay,xt_set", ["overlay", "xt_set"], id="comma"),
    pytest.param('["overlay","xt_set"]', ["overlay", "xt_set"], id="json"),
    pytest.param("", [], id="empty"),
])
def test_kernel_modules_extra_as_a_string(tmp_path, value, extra):
    release = "6.1.0-test-amd64"
    config = (kr.KERNEL_CONFIGS / "alpine-lts-x86_64.config").read_text()
    root = kr.build_root(tmp_path / "root", release, config,
                         modules_dep=["kernel/net/netfilter/%s.ko" % m for m in IPTABLES_NFT + ["overlay", "xt_set"]],
                         proc_modules=[])
    playbook = tmp_path / "play.yml"
    playbook.write_text("- hosts: all\n  gather_facts: false\n  roles:\n    - role: kubenode.netfilter.kernel_modules\n")
    proc, out = kntest.run_ansible_json(
        [kntest.ansible_bin("ansible-playbook"), "-i", "node,", "-c", "local", "--check",
         "-e", "ansible_python_interpreter=/usr/bin/python3", "-e", "kubenode_host_root=%s" % root,
         "-e", "kubenode_iptables_backend=nft", "-e", "kubenode_kernel_modules_extra=" + value, str(playbook)],
        kntest.ansible_environment())
    assert proc.returncode == 0, proc.stdout[-4000:]
    report = next(t["hosts"]["node"]["msg"] for t in out["plays"][0]["tasks"]
                  if t["task"]["name"].endswith("Report the kernel module plan"))
    would_load = report["would_load"]
    assert sorted(m for m in would_load if m in ("overlay", "xt_set")) == sorted(extra), report
    assert len(would_load) > len(extra)  # the mode's own modules are planned beside the extra ones
