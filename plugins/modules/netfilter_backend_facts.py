#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: netfilter_backend_facts
short_description: Report which iptables a node has, which backend holds its rules, and what iptables-nft cannot read
version_added: 0.1.0
author: kubenode.netfilter contributors (@kubenode)
description:
  - Finds C(iptables), C(iptables-legacy), C(iptables-nft) (and the C(ip6tables) ones), C(nft) and C(ipset), with their
    versions and the backend C(iptables) uses.
  - Counts tables, chains and rules per backend (legacy and nf_tables) and IP family, reading C(*-save) output as a
    stream and nft's chain list (C(nft -j list chains)); lists every nft table with its owner and base-chain hooks.
  - Decides the backend Kubernetes components will pick on this host exactly as kubernetes-sigs/iptables-wrappers
    does, and reports the older shell wrapper's rule-count decision where it differs.
  - Finds the rules other tools wrote into iptables-nft's tables that iptables-nft cannot read (the cause of
    C(iptables -C) failing with C(cmp sreg undef)), with the verbatim error and a best-effort guess of the writer.
  - Observes only. It never lists rules with C(-L), never adds, deletes or flushes anything, never runs
    C(-t mangle) on the legacy backend, and does not run C(iptables-legacy-save) when the kernel holds no legacy
    table (C(/proc/net/ip_tables_names) empty), so it loads no kernel module as a side effect.
options:
  root:
    description:
      - Directory C(/proc) and C(/etc/alternatives) are read under, for example V(/host) when the node's root is
        mounted there. Commands always run on the managed node itself.
    type: path
    default: /
  search_paths:
    description:
      - Extra directories holding bundled netfilter tools, for example k3s's V(/var/lib/rancher/k3s/data/current/bin)
        or k0s's V(/var/lib/k0s/bin). The tools found there are reported under RV(ansible_facts.netfilter.bundled),
        apart from those on E(PATH); they are not used to read the rules.
    type: list
    elements: path
    default: []
  inspect_unreadable:
    description:
      - When iptables-nft reports a table it cannot read, list that table with C(nft -j) to count its rules and to
        find the rules it cannot translate. This costs what listing the table costs.
    type: bool
    default: true
  command_timeout:
    description:
      - Seconds each command may take (C(iptables --version), a save tool, C(nft -j list ...)). A command still
        running then is killed with its whole process group (also a child that keeps its output open), and is
        reported in RV(ansible_facts.netfilter.errors) and RV(ansible_facts.netfilter.unreadable) with cause
        V(timeout); the gathering goes on.
      - Must be more than 0. Listing a table of 100k rules takes C(nft) 1.0.6 about 8 s of CPU (30 s measured on a
        busy 2-core machine); raise this for nodes with rulesets of that size.
    type: float
    default: 60
attributes:
  check_mode:
    support: full
    description: The module only reads; check mode returns the same facts.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  facts:
    support: full
    description: Returns C(ansible_facts.netfilter).
notes:
  - Needs root (or CAP_NET_ADMIN) to read rules; without it the save tools fail, and what could not be read is
    listed in RV(ansible_facts.netfilter.unreadable) with cause V(permission).
  - O(root) must be an existing directory and no path may hold a NUL byte; otherwise the module fails naming it
    (a missing root is not an empty host).
  - Files below O(root) are read only when they are regular files (procfs files are), and at most 64 KiB of each;
    command output is read as a stream (save dumps and C(nft -j) listings are never held whole in memory).
  - Tables that have no chain do not appear in C(nft -j list chains) and are not listed in RV(ansible_facts.netfilter.nft_tables).
  - Rules iptables-nft translates wrongly without an error (set lookups, see the docs) are not detected, because
    iptables' own tables are read through the save tools only.
seealso:
  - name: iptables-wrappers
    description: The backend detection this module reproduces.
    link: https://github.com/kubernetes-sigs/iptables-wrappers
'''

EXAMPLES = r'''
- name: Gather netfilter facts
  kubenode.netfilter.netfilter_backend_facts:

- name: Also report k3s's bundled tools
  kubenode.netfilter.netfilter_backend_facts:
    search_paths:
      - /var/lib/rancher/k3s/data/current/bin

- name: Fail when iptables-nft cannot read its own tables
  ansible.builtin.assert:
    that: ansible_facts['netfilter']['iptables_nft_parse_errors'] | length == 0
    fail_msg: "{{ ansible_facts['netfilter']['iptables_nft_parse_errors'] }}"
'''

RETURN = r'''
ansible_facts:
  description: Facts added to C(ansible_facts).
  returned: always
  type: dict
  contains:
    netfilter:
      description: What netfilter userspace and rules this host has.
      returned: always
      type: dict
      contains:
        iptables:
          description:
            - The C(iptables) found on E(PATH) (and the sbin directories), or null when there is none.
            - C(path), C(resolved) (through symlinks and the alternatives system), C(version), C(backend)
              (V(nft) or V(legacy), from C((nf_tables)) / C((legacy)) in the version, else from the resolved name),
              C(error) (null, or the command, exit code and output when the tool exists but does not work).
          returned: always
          type: dict
          sample: {"path": "/usr/sbin/iptables", "resolved": "/usr/sbin/xtables-nft-multi", "version": "1.8.9",
                   "backend": "nft", "error": null}
        ip6tables:
          description: Like RV(ansible_facts.netfilter.iptables), for C(ip6tables).
          returned: always
          type: dict
        iptables_legacy:
          description: Like RV(ansible_facts.netfilter.iptables), for C(iptables-legacy); null when absent.
          returned: always
          type: dict
        ip6tables_legacy:
          description: Like RV(ansible_facts.netfilter.iptables), for C(ip6tables-legacy); null when absent.
          returned: always
          type: dict
        iptables_nft:
          description: Like RV(ansible_facts.netfilter.iptables), for C(iptables-nft); null when absent.
          returned: always
          type: dict
        ip6tables_nft:
          description: Like RV(ansible_facts.netfilter.iptables), for C(ip6tables-nft); null when absent.
          returned: always
          type: dict
        nft:
          description: C(nft) with C(path), C(resolved), C(version), C(backend) (null), C(error); null when absent.
          returned: always
          type: dict
          sample: {"path": "/usr/sbin/nft", "resolved": "/usr/sbin/nft", "version": "1.0.6", "backend": null,
                   "error": null}
        ipset:
          description: C(ipset) with C(path), C(resolved), C(version), C(backend) (null), C(error); null when absent.
          returned: always
          type: dict
        bundled:
          description:
            - O(search_paths) directory -> tool name (V(iptables), V(nft), ...) -> the same dict as
              RV(ansible_facts.netfilter.iptables), only for the tools present there; null for a directory that
              does not exist.
          returned: always
          type: dict
          sample: {"/var/lib/rancher/k3s/data/current/bin": {"iptables": {"path": "/var/lib/rancher/k3s/data/current/bin/iptables",
                   "version": "1.8.9", "backend": "nft", "resolved": "/var/lib/rancher/k3s/data/current/bin/xtables-nft-multi",
                   "error": null}}}
        alternatives:
          description: Targets of the C(iptables) and C(ip6tables) alternatives (C(/etc/alternatives)); null when the
            host has neither.
          returned: always
          type: dict
          sample: {"iptables": "/usr/sbin/iptables-nft", "ip6tables": "/usr/sbin/ip6tables-nft"}
        backends:
          description:
            - C(legacy) and C(nft), each with C(available) (its save tool exists, and for legacy the kernel has
              C(ip_tables)), C(error) (null or what failed), C(ipv4) and C(ipv6).
            - Per family C(tables) -> table name -> C(chains), C(rules) (null when unknown), C(incompatible) (true
              when iptables-nft cannot read the table; its counts then come from nft, never from the truncated dump)
              and C(incompatible_reason) (V(incompatible), V(aborted), V(base_chains) or null).
            - Legacy families also carry C(kernel_tables) (the names in C(/proc/net/ip*_tables_names), null when the
              kernel has no legacy support for the family) and C(read) (whether the save tool ran).
          returned: always
          type: dict
          sample: {"nft": {"available": true, "error": null, "ipv4": {"tables": {"filter": {"chains": 3, "rules": 1,
                   "incompatible": false, "incompatible_reason": null}}}, "ipv6": {"tables": {}}}}
        sysctl:
          description: Sysctl name -> value (integer when numeric) read from C(<root>/proc/sys); null when absent.
          returned: always
          type: dict
          sample: {"net.ipv4.ip_forward": 1, "net.bridge.bridge-nf-call-iptables": null}
        kube_chains:
          description: C(KUBE-IPTABLES-HINT), C(KUBE-KUBELET-CANARY), C(KUBE-PROXY-CANARY) -> the backends
            (V(legacy), V(nft)) holding a chain of that name, in any table of either family.
          returned: always
          type: dict
          sample: {"KUBE-IPTABLES-HINT": ["nft"], "KUBE-KUBELET-CANARY": ["nft"], "KUBE-PROXY-CANARY": []}
        detected_mode:
          description: V(nft) or V(legacy), the backend kubernetes-sigs/iptables-wrappers (pkg/xtables/detect.go)
            picks on this host.
          returned: always
          type: str
          sample: nft
        mode_reason:
          description: Why RV(ansible_facts.netfilter.detected_mode) is what it is.
          returned: always
          type: str
        detected_mode_by_rule_count:
          description: The decision of the older shell wrapper (kubelet chains, then legacy only when it holds strictly
            more rules), when it differs from RV(ansible_facts.netfilter.detected_mode); else null.
          returned: always
          type: str
          sample: legacy
        rule_count_reason:
          description: Why the shell wrapper decides as it does (always set).
          returned: always
          type: str
        rule_counts:
          description: Rules (C(-A) lines of both families) in C(legacy) and C(nft), and C(nft_unreadable), the nft rules
            in tables iptables-nft cannot read (counted from nft, included in C(nft)).
          returned: always
          type: dict
          sample: {"legacy": 0, "nft": 12, "nft_unreadable": 0}
        mixed:
          description: True when both backends hold rules.
          returned: always
          type: bool
        nft_tables:
          description:
            - Every nft table with a chain, with C(family), C(name), C(owner) (V(kube-proxy), V(iptables) or
              V(foreign)), C(chains), C(rules) (null when unknown) and C(hooks) (its base chains' C(chain), C(hook),
              C(priority), C(policy), C(type)).
          returned: always
          type: list
          elements: dict
          sample: [{"family": "inet", "name": "netbird", "owner": "foreign", "chains": 2, "rules": 5,
                    "hooks": [{"chain": "input", "hook": "input", "priority": 0, "policy": "accept", "type": "filter"}]}]
        iptables_nft_parse_errors:
          description:
            - One entry per rule iptables-nft cannot read in its own tables (C(ip)/C(ip6) C(filter), C(nat), ...).
              Keys are C(family), C(table), C(chain), C(handle), C(rule) (as C(nft -a list chain) prints it), C(error) (what
              iptables-nft prints for that chain, verbatim), C(expected_error) (the error of the first failing
              expression per the measured compatibility table), C(expressions) (the failing expressions and their
              class), C(iptables_nft_version), C(writer) (a best guess such as V(netbird), or V(unknown)) and
              C(writer_evidence) (rule comment, interface names, other tables present).
            - An incompatible chain whose rules the table does not explain gets one entry with C(handle) null.
          returned: always
          type: list
          elements: dict
          sample: [{"family": "ip", "table": "filter", "chain": "FORWARD", "handle": 3,
                    "rule": "ct state established accept", "error": "Error: cmp sreg undef ...",
                    "expected_error": "cmp sreg undef", "expressions": [{"class": "ct", "expression": "ct state"}],
                    "iptables_nft_version": "1.8.9", "writer": "unknown",
                    "writer_evidence": {"comment": null, "interfaces": [], "other_tables": []}}]
        errors:
          description: Every problem met while gathering (a tool that failed, output that could not be parsed), as text.
          returned: always
          type: list
          elements: str
        unreadable:
          description:
            - What the facts could NOT read, one item per fact and cause, so that a check can refuse to pass a node it
              could not check. Empty when everything was read.
            - C(what) is the fact that is incomplete or unknown because of it, one of V(tool.<name>) (for example
              V(tool.iptables)), V(bundled.<path>), V(sysctl.<name>), V(backends.legacy.ipv4),
              V(backends.legacy.ipv6), V(backends.nft.ipv4), V(backends.nft.ipv6), V(nft_tables), V(kube_chains),
              V(iptables_nft_parse_errors).
            - C(command) is the command (argv joined by spaces) or the path read; C(reason) the tool's standard error or
              the OS error, verbatim and trimmed to 2000 characters; C(cause) one of V(permission) (no privilege,
              C(Permission denied), C(Operation not permitted)), V(timeout) (killed at O(command_timeout)),
              V(failed) (any other failure, or output that could not be parsed) and V(absent) (the tool needed to
              read it is not installed, for example legacy tables in the kernel and no C(iptables-legacy-save); or
              O(root) has no C(proc/sys) or C(proc/net) below it, so nothing there could be read).
            - A sysctl whose file does not exist is not unreadable (its value is null, the kernel has no such
              setting now). An aborted C(iptables-nft-save) (a rule it cannot parse) is not unreadable when the
              re-reads and the C(nft) listing succeed; it is reported in RV(ansible_facts.netfilter.errors) and
              RV(ansible_facts.netfilter.iptables_nft_parse_errors). With O(inspect_unreadable=false) the unread
              parse errors are not listed here.
          returned: always
          type: list
          elements: dict
          sample: [{"what": "backends.nft.ipv4", "command": "/usr/sbin/iptables-nft-save",
                    "reason": "iptables-nft-save v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)",
                    "cause": "permission"}]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubenode.netfilter.plugins.module_utils import _netfilter_gather as gather


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type='path', default='/'),
            search_paths=dict(type='list', elements='path', default=[]),
            inspect_unreadable=dict(type='bool', default=True),
            command_timeout=dict(type='float', default=gather.DEFAULT_COMMAND_TIMEOUT),
        ),
        supports_check_mode=True,
    )
    timeout = module.params['command_timeout']
    if timeout <= 0:
        module.fail_json(msg='command_timeout must be more than 0 seconds, got %s' % timeout)
    options = gather.GatherOptions(root=module.params['root'] or '/', search_paths=module.params['search_paths'] or [],
                                   inspect_unreadable=module.params['inspect_unreadable'], command_timeout=timeout)
    runner = gather.SystemRunner(timeout=timeout, which=module.get_bin_path)
    try:
        facts = gather.gather(runner, options)
    except gather.GatherInputError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, ansible_facts={'netfilter': facts})


if __name__ == '__main__':
    main()
