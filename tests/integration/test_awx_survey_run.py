# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The preflight and remediate job templates as AWX launches them: the extra vars AWX derives from the shipped survey
specs (docs/awx/survey_*.json; AWX's rules in tests/kntest/awx.py), plus typical text answers, passed as one JSON
extra-vars document to ansible-playbook against a throwaway network namespace."""
from __future__ import annotations

import json

import pytest

import kntest
from kntest.awx import awx_answer_errors, awx_extra_vars, load
from kntest.netns import netns, require_netns

pytestmark = [pytest.mark.root, pytest.mark.netns]


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    require_netns("iptables-nft", "nft")
    tmp = tmp_path_factory.mktemp("awx")
    with netns("kn-prod") as ns:
        ns.sh("sysctl -qw net.ipv4.ip_forward=1; sysctl -qw net.ipv6.conf.all.forwarding=1")
        yield tmp, ns.interpreter(tmp)


def launch(node, template, answers, *extra):
    tmp, python = node
    survey = load(template)
    questions = dict((q["variable"], q) for q in survey["spec"])
    for var, value in answers.items():
        assert awx_answer_errors(questions[var], value) == [], (var, value)
    extra_vars = dict(awx_extra_vars(survey), **answers)
    varsfile = tmp / ("extra-vars-%s.json" % template)
    varsfile.write_text(json.dumps(extra_vars))
    proc, out = kntest.run_ansible_json(
        [kntest.ansible_bin("ansible-playbook"), "-i", "node,", "-c", "local",
         "-e", "ansible_python_interpreter=%s" % python, "-e", "@%s" % varsfile,
         "kubenode.netfilter.%s" % template, *extra], kntest.ansible_environment())
    tasks = {}
    for play in out["plays"]:
        for task in play["tasks"]:
            if "node" in task["hosts"]:
                tasks.setdefault(task["task"]["name"].split(" : ", 1)[-1], []).append(task["hosts"]["node"])
    failed = dict((n, [r.get("msg") for r in rs if r.get("failed") and not r.get("rescued")]) for n, rs in tasks.items())
    return proc.returncode, tasks, dict((n, m) for n, m in failed.items() if m)


def test_preflight_survey_defaults_and_text_answers(node):
    tmp, _python = node
    rc, tasks, failed = launch(node, "preflight", {
        "kubenode_proxy_mode": "nftables", "kubenode_ipv6": "true",
        "kubenode_netfilter_search_paths": "/opt/kn-a\n/opt/kn-b\n",
        "kubenode_preflight_report_dir": str(tmp / "report")})
    assert rc == 0, failed
    sent = tasks["Gather the netfilter backend facts"][0]["invocation"]["module_args"]["search_paths"]
    assert sent == ["/opt/kn-a", "/opt/kn-b"]
    findings = [f for results in tasks.values() for r in results
                for f in r.get("ansible_facts", {}).get("kubenode_findings", [])]
    assert findings, "no kubenode_findings fact in the output"
    assert not [f for f in findings if f["severity"] == "error"], findings
    assert (tmp / "report" / "kubenode-preflight.json").exists()


def test_remediate_survey_defaults_check_mode(node):
    rc, tasks, failed = launch(node, "remediate", {"kubenode_kernel_modules_extra": ""}, "--check")
    assert rc == 0, failed
    assert "Report the kernel module plan" in tasks
