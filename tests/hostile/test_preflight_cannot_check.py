# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 17 #6: the preflight never passes a node it could not check: a root that does not exist or is a file, and
iptables binaries that print garbage, through ansible-playbook in a throwaway network namespace."""
from __future__ import annotations

import json
import os

import pytest

import kntest
from kntest.netns import netns, require_netns

pytestmark = [pytest.mark.root, pytest.mark.netns]

GARBAGE = "#!/bin/sh\necho 'Segmentation fault (core dumped) ###'\nexit 0\n"


def run(tmp_path, ns, hostvars, python=None):
    hostvars = dict(hostvars, ansible_connection="local", ansible_become=False,
                    ansible_python_interpreter=str(python or ns.interpreter(tmp_path)))
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"node": hostvars}}}))
    proc, out = kntest.run_ansible_json([kntest.ansible_bin("ansible-playbook"), "-i", str(inventory),
                                         "kubenode.netfilter.preflight", "--check"], kntest.ansible_environment())
    text = json.dumps(out)
    return proc, out, text


@pytest.mark.parametrize("root", ["/does/not/exist", "/etc/passwd"])
def test_a_root_that_is_not_a_node_fails_naming_it(tmp_path, root):
    require_netns("nft")
    with netns("kn-hroot") as ns:
        proc, out, text = run(tmp_path, ns, {"kubenode_host_root": root, "kubenode_proxy_mode": "iptables"})
    assert proc.returncode == 2 and out["stats"]["node"]["failures"] >= 1
    assert "This node can carry" not in text and "Traceback" not in text
    assert root in text


def test_iptables_that_prints_garbage_is_not_a_pass(tmp_path):
    require_netns("nft")
    fake = tmp_path / "bin"
    fake.mkdir()
    for name in ("iptables", "iptables-nft", "iptables-legacy", "ip6tables", "iptables-save", "iptables-nft-save",
                 "iptables-legacy-save"):
        (fake / name).write_text(GARBAGE)
        (fake / name).chmod(0o755)
    with netns("kn-hgarb") as ns:
        python = tmp_path / "python-garbage"
        python.write_text('#!/bin/sh\nPATH=%s:%s exec %s "$@"\n' % (
            fake, os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), " ".join(ns.argv(["/usr/bin/python3"]))))
        python.chmod(0o755)
        proc, out, text = run(tmp_path, ns, {"kubenode_proxy_mode": "iptables", "kubenode_cni": "flannel"}, python)
    assert proc.returncode == 2, text[-3000:]
    assert "This node can carry" not in text and "Traceback" not in text
    findings = None
    for play in out["plays"]:
        for task in play["tasks"]:
            facts = task["hosts"].get("node", {}).get("ansible_facts", {})
            if "kubenode_findings" in facts:
                findings = {f["id"]: f["severity"] for f in facts["kubenode_findings"]}
    assert findings is not None
    assert any(fid.startswith(("tool.broken.iptables", "netfilter.unreadable", "tool.missing.iptables"))
               and sev == "error" for fid, sev in findings.items()), findings
