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
  - Needs root (or CAP_NET_ADMIN) to read rules; without it the save tools fail and their errors are reported.
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
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubenode.netfilter.plugins.module_utils import _netfilter as nf
from ansible_collections.kubenode.netfilter.plugins.module_utils._stream import stream_lines

C_LOCALE = {'LC_ALL': 'C', 'LANG': 'C', 'LANGUAGE': 'C'}
TOOLS = (
    ('iptables', 'iptables'), ('ip6tables', 'ip6tables'),
    ('iptables_legacy', 'iptables-legacy'), ('ip6tables_legacy', 'ip6tables-legacy'),
    ('iptables_nft', 'iptables-nft'), ('ip6tables_nft', 'ip6tables-nft'),
    ('nft', 'nft'), ('ipset', 'ipset'),
)
BUNDLED_NAMES = ('iptables', 'ip6tables', 'iptables-legacy', 'iptables-nft', 'ip6tables-legacy', 'ip6tables-nft',
                 'xtables-nft-multi', 'xtables-legacy-multi', 'nft', 'ipset')
SAVE_TOOLS = {
    (nf.LEGACY, nf.IPV4): ('iptables-legacy-save', 'xtables-legacy-multi', 'iptables-save'),
    (nf.LEGACY, nf.IPV6): ('ip6tables-legacy-save', 'xtables-legacy-multi', 'ip6tables-save'),
    (nf.NFT, nf.IPV4): ('iptables-nft-save', 'xtables-nft-multi', 'iptables-save'),
    (nf.NFT, nf.IPV6): ('ip6tables-nft-save', 'xtables-nft-multi', 'ip6tables-save'),
}
TABLE_NAMES_FILE = {nf.IPV4: 'proc/net/ip_tables_names', nf.IPV6: 'proc/net/ip6_tables_names'}
# A rule -C looks for; it cannot exist (TEST-NET addresses, both ends), so iptables-nft parses the whole chain.
PROBE = {nf.IPV4: ['-s', '192.0.2.254/32', '-d', '192.0.2.254/32', '-j', 'ACCEPT'],
         nf.IPV6: ['-s', '2001:db8:ffff::fe/128', '-d', '2001:db8:ffff::fe/128', '-j', 'ACCEPT']}
MAX_PROBED_CHAINS = 64


def _short(text, limit=2000):
    text = (text or '').strip()
    return text if len(text) <= limit else text[:limit] + '...'


class Gatherer(object):
    def __init__(self, module):
        self.module = module
        self.root = module.params['root'] or '/'
        self.errors = []

    # -- plumbing ------------------------------------------------------------------------------------------------
    def path_under_root(self, rel):
        return os.path.join(self.root, rel.lstrip('/'))

    def run(self, argv):
        rc, out, err = self.module.run_command(argv, environ_update=C_LOCALE)
        return rc, out, err

    def cmd_error(self, argv, rc, out, err):
        return '%s exited %s: %s' % (' '.join(argv), rc, _short(err) or _short(out) or '(no output)')

    def bin(self, name):
        return self.module.get_bin_path(name)

    # -- tools ---------------------------------------------------------------------------------------------------
    def tool_info(self, path):
        if not path:
            return None
        info = {'path': path, 'resolved': os.path.realpath(path), 'version': None, 'backend': None, 'error': None}
        argv = [path, '--version']
        rc, out, err = self.run(argv)
        if rc != 0:
            info['error'] = self.cmd_error(argv, rc, out, err)
        else:
            try:
                parsed = nf.parse_version_output(out or err)
                info['version'] = parsed.version
                info['backend'] = parsed.backend
            except nf.NetfilterParseError as exc:
                info['error'] = '%s: %s' % (' '.join(argv), exc)
        if info['backend'] is None and os.path.basename(path).startswith(('iptables', 'ip6tables')):
            info['backend'] = nf.backend_from_path(info['resolved'])
        if info['error']:
            self.errors.append(info['error'])
        return info

    def tools(self):
        out = {}
        for key, name in TOOLS:
            out[key] = self.tool_info(self.bin(name))
        return out

    def bundled(self):
        out = {}
        for directory in self.module.params['search_paths'] or []:
            if not os.path.isdir(directory):
                out[directory] = None
                continue
            found = {}
            for name in BUNDLED_NAMES:
                path = os.path.join(directory, name)
                if os.path.isfile(path) and os.access(path, os.X_OK):
                    found[name] = self.tool_info(path)
            out[directory] = found
        return out

    def alternatives(self):
        out = {}
        for name in ('iptables', 'ip6tables'):
            link = self.path_under_root('etc/alternatives/' + name)
            if os.path.islink(link):
                out[name] = os.readlink(link)
        return out or None

    def sysctl(self):
        out = {}
        for name in nf.SYSCTLS:
            path = self.path_under_root(nf.sysctl_relpath(name))
            try:
                with open(path) as handle:
                    out[name] = nf.parse_sysctl_value(handle.read())
            except (IOError, OSError):
                out[name] = None
        return out

    # -- save tools ----------------------------------------------------------------------------------------------
    def save_argv(self, backend, ipver):
        direct, multi, sub = SAVE_TOOLS[(backend, ipver)]
        path = self.bin(direct)
        if path:
            return [path]
        path = self.bin(multi)
        if path:
            return [path, sub]
        return None

    def stream_save(self, argv):
        parser = nf.SaveParser()
        result = stream_lines(argv, parser.feed)
        parser.finish()
        return parser, result

    def read_legacy(self, ipver):
        fam = {'tables': {}, 'kernel_tables': None, 'read': False}
        names_path = self.path_under_root(TABLE_NAMES_FILE[ipver])
        if not os.path.exists(names_path):
            return fam, None, None
        try:
            with open(names_path) as handle:
                names = nf.parse_table_names(handle.read())
        except (IOError, OSError) as exc:
            return fam, None, 'cannot read %s: %s' % (names_path, exc)
        fam['kernel_tables'] = names
        if not names:
            return fam, None, None  # legacy holds nothing; do not run the save tool (it could load modules)
        argv = self.save_argv(nf.LEGACY, ipver)
        if argv is None:
            for name in names:
                fam['tables'][name] = {'chains': None, 'rules': None, 'incompatible': False,
                                       'incompatible_reason': None}
            return fam, None, 'the kernel holds legacy %s tables (%s) but no %s was found' % (
                ipver, ', '.join(names), SAVE_TOOLS[(nf.LEGACY, ipver)][0])
        parser, result = self.stream_save(argv)
        fam['read'] = True
        error = None
        if result.rc != 0:
            error = result.error or self.cmd_error(argv, result.rc, '', result.stderr)
        for name in parser.order:
            entry = parser.tables[name].as_dict()
            entry['incompatible_reason'] = None
            fam['tables'][name] = entry
        return fam, parser, error

    # -- nft -----------------------------------------------------------------------------------------------------
    def nft_json(self, nft, args, what):
        argv = [nft, '-j'] + list(args)
        rc, out, err = self.run(argv)
        if rc != 0:
            return None, self.cmd_error(argv, rc, out, err)
        return out, None

    def nft_chains(self, nft):
        out, error = self.nft_json(nft, ['list', 'chains'], 'nft -j list chains')
        if error:
            return None, error
        try:
            return nf.parse_nft_chains(out), None
        except nf.NetfilterParseError as exc:
            return None, str(exc)

    def nft_table_rules(self, nft, family, table):
        out, error = self.nft_json(nft, ['list', 'table', family, table], 'nft -j list table')
        if error:
            return None, None, error
        try:
            chains, rules = nf.parse_nft_rules(out, 'nft -j list table %s %s' % (family, table))
            return chains, rules, None
        except nf.NetfilterParseError as exc:
            return None, None, str(exc)

    def read_nft_family(self, ipver, nft_tables):
        """Stream iptables-nft-save for one family; re-read tables an aborted dump did not reach."""
        fam = {'tables': {}}
        argv = self.save_argv(nf.NFT, ipver)
        family = nf.FAMILY_OF_IPVER[ipver]
        in_nft = [t.name for t in nft_tables if t.family == family and t.owner == nf.OWNER_IPTABLES]
        if argv is None:
            for name in in_nft:
                table = [t for t in nft_tables if t.family == family and t.name == name][0]
                fam['tables'][name] = {'chains': len(table.chains), 'rules': None, 'incompatible': False,
                                       'incompatible_reason': None}
            return fam, None, None, ('no %s found' % SAVE_TOOLS[(nf.NFT, ipver)][0]) if in_nft else None
        parser, result = self.stream_save(argv)
        errors = []
        if result.rc != 0:
            errors.append(result.error or self.cmd_error(argv, result.rc, '', result.stderr))
        tables = dict(parser.tables)
        visible_dash = parser.dash_lines
        if result.rc != 0:
            for name in in_nft:
                if name in tables:
                    continue
                sub, sub_result = self.stream_save(argv + ['-t', name])
                if sub_result.rc != 0:
                    errors.append(sub_result.error or self.cmd_error(argv + ['-t', name], sub_result.rc, '',
                                                                     sub_result.stderr))
                if name in sub.tables:
                    tables[name] = sub.tables[name]
                    parser.order.append(name)
        for name in parser.order:
            table = tables[name]
            reason = None
            if table.truncated:
                reason = 'aborted'
            elif table.incompatible_base_chains:
                reason = 'base_chains'
            elif table.incompatible:
                reason = 'incompatible'
            entry = table.as_dict()
            entry['incompatible_reason'] = reason
            fam['tables'][name] = entry
        # the wrapper's view of the mangle table (`-t mangle` in detect.go), from the dump or its re-read
        mangle = tables.get('mangle')
        wrapper_mangle = bool(mangle and mangle.wrapper_chains)
        return fam, (wrapper_mangle, visible_dash, tables), '; '.join(errors) or None, None

    # -- unreadable rules ----------------------------------------------------------------------------------------
    def probe_chain(self, ipt, ipver, table, chain):
        """The verbatim error iptables-nft gives for a chain: -C of a rule that cannot exist, else -S CHAIN."""
        if not ipt:
            return None
        argv = [ipt, '-t', table, '-C', chain] + PROBE[ipver]
        rc, out, err = self.run(argv)
        if rc not in (0, 1):
            return _short(err or out)
        argv = [ipt, '-t', table, '-S', chain]
        rc, out, err = self.run(argv)
        if rc != 0:
            return _short(err or out)
        return None

    def inspect_table(self, nft, ipver, table, entry, other_tables, ipt, ipt_version):
        """List an incompatible iptables table with nft; fix its counts; return parse-error entries."""
        family = nf.FAMILY_OF_IPVER[ipver]
        chains, rules, error = self.nft_table_rules(nft, family, table.name)
        if error:
            self.errors.append(error)
            return []
        entry['chains'] = len(chains)
        entry['rules'] = len(rules)
        flagged = {}
        unexplained = set()
        for rule in rules:
            hits = nf.classify_expressions(rule.expr)
            blocking = nf.blocking_hits(hits)
            if blocking:
                flagged.setdefault(rule.chain, []).append((rule, blocking))
        odd_base = [c.name for c in nf.incompatible_base_chains(table)]
        unexplained.update(odd_base)
        probe = list(flagged) + [c for c in sorted(unexplained) if c not in flagged]
        if not probe:
            probe = [c.name for c in chains][:MAX_PROBED_CHAINS]
        out = []
        for chain in probe:
            chain_error = self.probe_chain(ipt, ipver, table.name, chain)
            texts = {}
            if chain in flagged:
                argv = [nft, '-a', 'list', 'chain', family, table.name, chain]
                rc, text, err = self.run(argv)
                if rc == 0:
                    texts = nf.parse_nft_text_handles(text)
                else:
                    self.errors.append(self.cmd_error(argv, rc, text, err))
            base = {'family': family, 'table': table.name, 'chain': chain, 'error': chain_error,
                    'iptables_nft_version': ipt_version}
            for rule, hits in flagged.get(chain, []):
                writer, evidence = nf.writer_hint(rule, other_tables)
                item = dict(base)
                item.update({
                    'handle': rule.handle, 'rule': texts.get(rule.handle),
                    'expected_error': nf.expected_error(hits, family),
                    'expressions': [h.as_dict() for h in hits], 'writer': writer, 'writer_evidence': evidence,
                })
                out.append(item)
            if chain not in flagged and chain_error:
                item = dict(base)
                item.update({'handle': None, 'rule': None, 'expected_error': None, 'expressions': [],
                             'writer': 'unknown', 'writer_evidence': {'comment': None, 'interfaces': [],
                                                                      'other_tables': ['%s %s' % t for t in other_tables]}})
                if chain in odd_base:
                    item['expressions'] = [{'class': 'base_chain', 'expression': 'base chain %s' % chain}]
                out.append(item)
        return out

    # -- all -----------------------------------------------------------------------------------------------------
    def gather(self):
        facts = self.tools()
        facts['bundled'] = self.bundled()
        facts['alternatives'] = self.alternatives()
        facts['sysctl'] = self.sysctl()

        # legacy
        legacy = {'available': False, 'error': None}
        legacy_parsers = {}
        legacy_errors = []
        for ipver in (nf.IPV4, nf.IPV6):
            fam, parser, error = self.read_legacy(ipver)
            legacy[ipver] = fam
            legacy_parsers[ipver] = parser
            if error:
                legacy_errors.append(error)
            if fam['kernel_tables'] is not None and self.save_argv(nf.LEGACY, ipver):
                legacy['available'] = True
        legacy['error'] = '; '.join(legacy_errors) or None

        # nft
        nft = self.bin('nft')
        nft_tables = []
        nft_errors = []
        if nft:
            chains, error = self.nft_chains(nft)
            if error:
                nft_errors.append(error)
            else:
                nft_tables = nf.group_tables(chains)
        backend_nft = {'available': bool(self.save_argv(nf.NFT, nf.IPV4) or self.save_argv(nf.NFT, nf.IPV6)),
                       'error': None}
        views = {}
        for ipver in (nf.IPV4, nf.IPV6):
            fam, view, error, missing = self.read_nft_family(ipver, nft_tables)
            backend_nft[ipver] = fam
            views[ipver] = view
            for msg in (error, missing):
                if msg:
                    nft_errors.append(msg)

        # unreadable tables
        parse_errors = []
        others = [(t.family, t.name) for t in nft_tables if t.owner != nf.OWNER_IPTABLES]
        unreadable = 0
        for ipver in (nf.IPV4, nf.IPV6):
            family = nf.FAMILY_OF_IPVER[ipver]
            ipt_key = 'iptables_nft' if ipver == nf.IPV4 else 'ip6tables_nft'
            ipt_info = facts.get(ipt_key)
            ipt = ipt_info['path'] if ipt_info else None
            for name, entry in sorted(backend_nft[ipver]['tables'].items()):
                table = next((t for t in nft_tables if t.family == family and t.name == name), None)
                if table is not None and not entry['incompatible'] and nf.incompatible_base_chains(table):
                    entry['incompatible'] = True
                    entry['incompatible_reason'] = 'base_chains'
                if not entry['incompatible']:
                    continue
                visible = entry['rules'] or 0
                if nft and table is not None and self.module.params['inspect_unreadable']:
                    parse_errors.extend(self.inspect_table(nft, ipver, table, entry, others, ipt,
                                                           ipt_info['version'] if ipt_info else None))
                    unreadable += max(0, (entry['rules'] or 0) - visible)
                elif table is None or not nft:
                    entry['rules'] = None

        # nft_tables with rule counts
        listed = []
        for table in nft_tables:
            item = table.as_dict()
            if table.owner == nf.OWNER_IPTABLES:
                ipver = nf.IPTABLES_FAMILIES[table.family]
                entry = backend_nft[ipver]['tables'].get(table.name)
                item['rules'] = entry['rules'] if entry else None
            else:
                _chains, rules, error = self.nft_table_rules(nft, table.family, table.name)
                if error:
                    nft_errors.append(error)
                else:
                    item['rules'] = len(rules)
            listed.append(item)
        facts['nft_tables'] = listed
        backend_nft['error'] = '; '.join(dict.fromkeys(nft_errors)) or None
        facts['backends'] = {nf.LEGACY: legacy, nf.NFT: backend_nft}

        # kube chains
        legacy_names = set()
        for parser in legacy_parsers.values():
            if parser is not None:
                legacy_names.update(parser.chain_names())
        nft_names = set()
        if nft_tables:
            nft_names.update(c.name for t in nft_tables if t.owner == nf.OWNER_IPTABLES for c in t.chains
                             if c.name in nf.KUBE_CHAINS)
        for view in views.values():
            if view is not None:
                for table in view[2].values():
                    nft_names.update(table.kube_chains)
        facts['kube_chains'] = nf.kube_chains_by_backend({nf.LEGACY: legacy_names, nf.NFT: nft_names})

        # decision
        def rules_of(fams):
            return sum((e['rules'] or 0) for fam in fams for e in fam['tables'].values())

        legacy_rules = sum(p.dash_lines for p in legacy_parsers.values() if p is not None)
        nft_visible = sum(v[1] for v in views.values() if v is not None)
        wrapper = nf.WrapperView(
            nft_v4_mangle=bool(views[nf.IPV4] and views[nf.IPV4][0]),
            nft_v6_mangle=bool(views[nf.IPV6] and views[nf.IPV6][0]),
            legacy_v4=bool(legacy_parsers[nf.IPV4] and legacy_parsers[nf.IPV4].wrapper_sees_kubelet_chains()),
            legacy_v6=bool(legacy_parsers[nf.IPV6] and legacy_parsers[nf.IPV6].wrapper_sees_kubelet_chains()),
            legacy_rules=legacy_rules, nft_rules=nft_visible, nft_rules_unreadable=unreadable)
        go = nf.detect_mode_go(wrapper)
        shell = nf.detect_mode_by_rule_count(wrapper)
        facts['detected_mode'] = go.mode
        facts['mode_reason'] = go.reason
        facts['detected_mode_by_rule_count'] = shell.mode if shell.mode != go.mode else None
        facts['rule_count_reason'] = shell.reason
        nft_total = max(rules_of([backend_nft[nf.IPV4], backend_nft[nf.IPV6]]), nft_visible + unreadable)
        facts['rule_counts'] = {'legacy': rules_of([legacy[nf.IPV4], legacy[nf.IPV6]]), 'nft': nft_total,
                                'nft_unreadable': unreadable}
        facts['mixed'] = facts['rule_counts']['legacy'] > 0 and nft_total > 0
        facts['iptables_nft_parse_errors'] = parse_errors
        all_errors = list(self.errors)
        for msg in (legacy['error'], backend_nft['error']):
            if msg and msg not in all_errors:
                all_errors.append(msg)
        facts['errors'] = all_errors
        return facts


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type='path', default='/'),
            search_paths=dict(type='list', elements='path', default=[]),
            inspect_unreadable=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    facts = Gatherer(module).gather()
    module.exit_json(changed=False, ansible_facts={'netfilter': facts})


if __name__ == '__main__':
    main()
