# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The node_findings filter through real ansible-playbook runs: facts fed from vars, bad arguments, and (as root) the
two real fact modules gathered in a throwaway network namespace."""
from __future__ import annotations

import json

import pytest

import kntest
from kntest import facts as kf
from kntest.netns import missing_requirements, netns

from ansible_collections.kubenode.netfilter.plugins.module_utils import _catalog as cat
from ansible_collections.kubenode.netfilter.plugins.module_utils import _findings as req


def write_inventory(path, interpreter="/usr/bin/python3"):
    path.write_text("[nodes]\nnode1 ansible_connection=local ansible_python_interpreter=%s\n" % interpreter)
    return path


def playbook(ansible_env, tmp_path, tasks, extra_vars=None, interpreter="/usr/bin/python3", check=True):
    """Run one play (``tasks``: a list of task dicts, written as JSON, which is YAML) on a local-connection host."""
    inventory = write_inventory(tmp_path / "inventory.ini", interpreter)
    play = tmp_path / "play.yml"
    play.write_text(json.dumps([{"name": "findings", "hosts": "nodes", "gather_facts": False, "tasks": tasks}],
                               indent=1))
    argv = [kntest.ansible_bin("ansible-playbook"), "-i", str(inventory), str(play)]
    if extra_vars is not None:
        vars_file = tmp_path / "vars.json"
        vars_file.write_text(json.dumps(extra_vars))
        argv += ["-e", "@" + str(vars_file)]
    return kntest.run(argv, env=ansible_env, check=check, cwd=str(tmp_path))


def write(expr, dest):
    copy = {"content": "{{ %s | to_json }}" % expr, "dest": str(dest), "mode": "0600"}
    return {"name": "Write the result", "ansible.builtin.copy": copy}


def test_filter_from_vars(ansible_env, tmp_path):
    kernel = kf.kernel_facts(tmp_path, "talos-amd64.config", {"NETFILTER_XT_MATCH_STATISTIC": None})
    host = kf.host(kernel, kf.netfilter_facts(iptables=None, nft="0.9.8"))
    out = tmp_path / "out.json"
    tasks = [
        {"name": "Compute", "ansible.builtin.set_fact": {
            "by_position": "{{ host_facts | kubenode.netfilter.node_findings('iptables', 'kubeadm', 'flannel') }}",
            "nft_k3s": "{{ host_facts | kubenode.netfilter.node_findings(proxy_mode='nftables', distribution='k3s', "
                       "cni='cilium', distribution_version='v1.31.2+k3s1', include_passed='yes') }}",
            "defaults": "{{ host_facts | kubenode.netfilter.node_findings }}"}},
        write("{'by_position': by_position, 'nft_k3s': nft_k3s, 'defaults': defaults}", out),
    ]
    playbook(ansible_env, tmp_path, tasks, {"host_facts": host})
    got = json.loads(out.read_text())
    # identical to the module_utils evaluation of the same facts
    for key, args in (("by_position", ("iptables", "kubeadm", "flannel", None, False)),
                      ("nft_k3s", ("nftables", "k3s", "cilium", "v1.31.2+k3s1", True)),
                      ("defaults", ("iptables", "generic", "other", None, False))):
        expected = [f.as_dict() for f in req.evaluate(host, *args)]
        assert got[key] == expected, key
    by_id = dict((f["id"], f["severity"]) for f in got["by_position"])
    assert by_id["kernel.option_missing.NETFILTER_XT_MATCH_STATISTIC"] == "error"
    assert by_id["tool.missing.iptables"] == "error"          # flannel needs the host's iptables
    by_id = dict((f["id"], f["severity"]) for f in got["nft_k3s"])
    assert by_id["tool.version_too_old.nft"] == "error"
    assert by_id["k3s.check_config_statistic_gap"] == "info"
    assert "ok" in by_id.values()
    sevs = [f["severity"] for f in got["nft_k3s"]]
    assert sevs == sorted(sevs, key=cat.SEVERITIES.index)


BAD = [
    ("{{ host_facts | kubenode.netfilter.node_findings(proxy_mode='userspace') }}",
     "kubenode.netfilter.node_findings: proxy_mode must be one of iptables, nftables, ipvs, none, got 'userspace'"),
    ("{{ host_facts | kubenode.netfilter.node_findings(distribution='microk8s') }}",
     "distribution must be one of k3s, k0s, kubeadm, rke2, generic, got 'microk8s'"),
    ("{{ host_facts | kubenode.netfilter.node_findings(cni='weave') }}",
     "cni must be one of kube-router, flannel, calico, canal, cilium, other, got 'weave'"),
    ("{{ host_facts | kubenode.netfilter.node_findings(include_passed='maybe') }}",
     "include_passed must be a boolean, got 'maybe'"),
    ("{{ host_facts | kubenode.netfilter.node_findings(cni='kube-router', kube_router_image_backend='iptables') }}",
     "kube_router_image_backend must be one of legacy, nft (or unset), got 'iptables'"),
    ("{{ {'kernel_config': host_facts.kernel_config} | kubenode.netfilter.node_findings }}",
     "ansible_facts lacks 'netfilter': run kubenode.netfilter.netfilter_backend_facts on the host first"),
    ("{{ {} | kubenode.netfilter.node_findings }}",
     "ansible_facts lacks 'kernel_config' and 'netfilter': run kubenode.netfilter.kernel_config_facts and "
     "kubenode.netfilter.netfilter_backend_facts on the host first"),
    ("{{ [1, 2] | kubenode.netfilter.node_findings }}",
     "the input must be the host's ansible_facts (a dict), got list"),
]


def test_bad_input_gives_clear_errors(ansible_env, tmp_path):
    kernel = kf.kernel_facts(tmp_path, "talos-amd64.config")
    host = kf.host(kernel, kf.netfilter_facts())
    out = tmp_path / "errors.json"
    tasks = []
    for n, (expr, _text) in enumerate(BAD):
        tasks.append({"name": "Bad case %d" % n, "block": [
            {"name": "Evaluate", "ansible.builtin.set_fact": {"bad_%d" % n: expr}}],
            "rescue": [{"name": "Record", "ansible.builtin.set_fact": {
                "errors": "{{ (errors | default([])) + [ansible_failed_result.msg] }}"}}]})
    tasks.append(write("errors", out))
    playbook(ansible_env, tmp_path, tasks, {"host_facts": host})
    errors = json.loads(out.read_text())
    assert len(errors) == len(BAD)
    for message, (_expr, text) in zip(errors, BAD):
        assert text in message
        assert "Traceback" not in message


@pytest.mark.root
@pytest.mark.netns
def test_real_fact_modules_then_filter(ansible_env, tmp_path):
    """Both fact modules for real (netfilter inside a fresh namespace), then the filter on ansible_facts."""
    reason = missing_requirements("iptables-legacy", "iptables-nft", "nft")
    if reason:
        pytest.skip(reason)
    out = tmp_path / "out.json"
    with netns() as ns:
        # a node that joined with iptables-legacy while the host's iptables now resolves to nf_tables
        ns.run(["iptables-legacy", "-t", "mangle", "-N", "KUBE-IPTABLES-HINT"])
        ns.run(["iptables-legacy", "-t", "nat", "-N", "KUBE-KUBELET-CANARY"])
        python = ns.interpreter(tmp_path)
        tasks = [
            {"name": "Kernel facts", "kubenode.netfilter.kernel_config_facts": {}},
            {"name": "Netfilter facts", "kubenode.netfilter.netfilter_backend_facts": {}},
            write("{'findings': ansible_facts | kubenode.netfilter.node_findings('iptables', 'generic', "
                  "'kube-router', kube_router_image_backend='nft'), 'facts': ansible_facts}", out),
        ]
        playbook(ansible_env, tmp_path, tasks, interpreter=str(python))
    got = json.loads(out.read_text())
    facts = got["facts"]
    assert facts["netfilter"]["kube_chains"]["KUBE-IPTABLES-HINT"] == ["legacy"]
    by_id = dict((f["id"], f) for f in got["findings"])
    iptables_backend = (facts["netfilter"]["iptables"] or {}).get("backend")
    if iptables_backend == "nft":
        assert by_id["netfilter.hint_in_other_backend"]["severity"] == "error"
        assert "KUBE-IPTABLES-HINT" in by_id["netfilter.hint_in_other_backend"]["message"]
    # kube-router's image uses nft but the node's chains are in legacy
    assert by_id["netfilter.kube_router_backend_mismatch"]["severity"] == "error"
    assert [f["id"] for f in got["findings"]] == [f.id for f in req.evaluate(
        {"kernel_config": facts["kernel_config"], "netfilter": facts["netfilter"]}, "iptables", "generic",
        "kube-router", kube_router_image_backend="nft")]
