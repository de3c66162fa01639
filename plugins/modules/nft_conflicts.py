#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: nft_conflicts
short_description: Remove exactly the named foreign rules from iptables-nft's nftables tables, after a backup
version_added: 0.1.0
author: kubenode.netfilter contributors (@kubenode)
description:
  - Removes the rules listed in O(rules) from the C(ip)/C(ip6) tables iptables-nft manages (C(filter), C(nat),
    C(mangle), C(raw), C(security)), that is the native nft rules another tool (for example Netbird) wrote there, which
    iptables-nft cannot read, so that C(iptables -C), C(-S) and C(iptables-save) work again.
  - Each listed rule is removed only when the rule at that handle is still one iptables-nft cannot read (the measured
    classifier of C(netfilter_backend_facts), applied to C(nft -j list chain)) and, when O(rules[].fingerprint) is
    given, still has exactly the fingerprinted expressions. A handle that holds another rule fails the module before
    anything changes; a handle (or chain) that no longer exists counts as already done.
  - Before any change it writes, in a new timestamped directory below O(backup_dir) (mode 0700, files mode 0600),
    the whole ruleset as C(nft -a list ruleset) and C(nft -j list ruleset), the undo file (C(undo.nft), the exact
    C(nft) commands that put each removed rule back at its place) and the deletion transaction (C(delete.nft)).
    Both files are validated with C(nft -c -f) first.
  - All deletions run as one C(nft -f) transaction, so a failure changes nothing. Afterwards the ruleset is read
    again and compared with the one before, counters aside; any change other than the listed removals is reported.
  - It never deletes a table or a chain, never flushes anything, and never touches a rule that is not listed.
    Flushing the whole ruleset, the common advice for this incident, deletes every firewall rule of the host.
options:
  rules:
    description:
      - The rules to remove, as C(netfilter_backend_facts) names them in C(iptables_nft_parse_errors).
    type: list
    elements: dict
    required: true
    suboptions:
      family:
        description: Family of the table.
        type: str
        required: true
        choices: [ip, ip6]
      table:
        description: One of iptables-nft's tables.
        type: str
        required: true
        choices: [filter, nat, mangle, raw, security]
      chain:
        description: The chain holding the rule.
        type: str
        required: true
      handle:
        description: The rule's handle, as C(nft -a list chain) prints it.
        type: int
        required: true
      fingerprint:
        description:
          - V(sha256:...) of the rule's C(nft -j) expressions, counters excluded, as this module returns it in
            RV(rules[].fingerprint) (for example from a check-mode run). When given, a rule whose expressions
            differ is not removed and the module fails.
        type: str
  backup_dir:
    description:
      - Directory below which each run that removes something creates C(nft-conflicts-<UTC timestamp>). Created with
        mode 0700 when missing.
    type: path
    default: /var/backups/kubenode-netfilter/
  state:
    description:
      - V(absent) removes the listed rules.
    type: str
    choices: [absent]
    default: absent
attributes:
  check_mode:
    support: full
    description:
      - Reads the rules, decides, validates the undo file and the transaction with C(nft -c), and returns the backup
        it would write, the undo commands and the exact deletion commands; it writes and removes nothing.
  diff_mode:
    support: full
    description:
      - C(nft -a list table) of each table a rule is removed from, before and after (in check mode the predicted
        after). Only those tables, since every other table stays as it is and is verified to.
notes:
  - Needs root (or CAP_NET_ADMIN) and C(nft).
  - The undo file re-adds the rules with C(add rule ... position <handle of the kept rule before>) or
    C(insert rule ... position <handle of the kept rule after>); it fails as a whole when such an anchor rule is gone
    by then. A full restore of the saved ruleset is no substitute; nft cannot load iptables' own xtables
    expressions back, and what it does load becomes native rules, the incident itself.
  - Chain names nft's command syntax cannot express (starting with a digit, for example) are refused.
  - Another tool changing the ruleset while this runs shows up in C(verification.elsewhere) (see RV(verification)).
seealso:
  - module: kubenode.netfilter.netfilter_backend_facts
  - name: kubenode.netfilter.nft_conflicts role
    description: Reports the rules, who is hurt and the fixes, and calls this module when asked to.
    link: https://github.com/kubenode/netfilter/blob/main/roles/nft_conflicts/README.md
'''

EXAMPLES = r'''
- name: Show what would be removed, with the fingerprints (check mode changes nothing)
  kubenode.netfilter.nft_conflicts:
    rules:
      - {family: ip, table: filter, chain: FORWARD, handle: 3}
  check_mode: true
  register: preview

- name: Remove exactly that rule, only if its expressions are still the same
  kubenode.netfilter.nft_conflicts:
    rules:
      - family: ip
        table: filter
        chain: FORWARD
        handle: 3
        fingerprint: "{{ preview.rules[0].fingerprint }}"
  register: removal

- name: Show where the backup and the undo file are
  ansible.builtin.debug:
    msg: "undo with: nft -f {{ removal.backup.undo }}"
  when: removal.backup is not none
'''

RETURN = r'''
rules:
  description: One entry per listed rule (duplicates collapsed), in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    family:
      description: Family of the table.
      type: str
      returned: always
    table:
      description: Table name.
      type: str
      returned: always
    chain:
      description: Chain name.
      type: str
      returned: always
    handle:
      description: Rule handle.
      type: int
      returned: always
    action:
      description: V(remove) (removed, or would be in check mode), V(absent) (already gone) or V(conflict) (the
        handle holds another rule; the module failed and changed nothing).
      type: str
      returned: always
    reason:
      description: Why, in words.
      type: str
      returned: always
    fingerprint:
      description: V(sha256:...) of the expressions now at that handle, counters excluded; null when absent.
      type: str
      returned: always
    rule:
      description: The rule as C(nft -a list chain) prints it (without the handle); null when absent.
      type: str
      returned: always
    expressions:
      description: The expressions iptables-nft cannot read, each with C(class) and C(expression).
      type: list
      elements: dict
      returned: always
    effects:
      description: What such a rule breaks and for whom (from the measured compatibility table).
      type: list
      elements: str
      returned: always
    newer_iptables:
      description: Whether iptables 1.8.11 reads it, C(version), C(reads) (true, false, or null when not
        measured) and C(summary).
      type: dict
      returned: always
changed:
  description: True when at least one rule was removed (or would be, in check mode).
  type: bool
  returned: always
commands:
  description: The deletion transaction, one C(delete rule FAMILY TABLE CHAIN handle N) per line, run as one
    C(nft -f) file (in check mode, what would run).
  type: list
  elements: str
  returned: always
  sample: ["delete rule ip filter FORWARD handle 3"]
undo:
  description: The C(nft) commands of the undo file that put the removed rules back at their places.
  type: list
  elements: str
  returned: always
  sample: ["add rule ip filter FORWARD position 2 ct state established accept"]
backup:
  description:
    - The backup of this run, null when nothing was (or would be) removed. C(directory), C(ruleset)
      (C(nft -a list ruleset)), C(ruleset_json) (C(nft -j list ruleset)), C(undo) (apply with C(nft -f)),
      C(transaction) (the deletions applied), all paths; C(written) is false in check mode.
  type: dict
  returned: always
  sample: {"directory": "/var/backups/kubenode-netfilter/nft-conflicts-20260101T120000Z", "written": true,
           "ruleset": "/var/backups/kubenode-netfilter/nft-conflicts-20260101T120000Z/ruleset.nft",
           "ruleset_json": "/var/backups/kubenode-netfilter/nft-conflicts-20260101T120000Z/ruleset.json",
           "undo": "/var/backups/kubenode-netfilter/nft-conflicts-20260101T120000Z/undo.nft",
           "transaction": "/var/backups/kubenode-netfilter/nft-conflicts-20260101T120000Z/delete.nft"}
verification:
  description:
    - After a removal, the ruleset read again and compared with the one before (counters aside). C(removed) (the
      rules gone as planned), C(affected) (unexpected changes in the chains rules were removed from; the module
      fails on any) and C(elsewhere) (unexpected changes anywhere else, for example by a tool writing at the same
      time). Null when nothing was removed or in check mode.
  type: dict
  returned: always
  sample: {"removed": ["ip filter FORWARD handle 3"], "affected": [], "elsewhere": []}
'''

import datetime
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes
from ansible_collections.kubenode.netfilter.plugins.module_utils import _nft_conflicts as nc

C_LOCALE = {'LC_ALL': 'C', 'LANG': 'C', 'LANGUAGE': 'C'}
MISSING = 'No such file or directory'


class Remover(object):
    def __init__(self, module):
        self.module = module
        self.nft = module.get_bin_path('nft', required=True)

    def run(self, args, data=None):
        argv = [self.nft] + list(args)
        rc, out, err = self.module.run_command(argv, data=data, environ_update=C_LOCALE)
        return argv, rc, out, err

    def must(self, args, what, data=None, **extra):
        argv, rc, out, err = self.run(args, data)
        if rc != 0:
            self.module.fail_json(msg='%s: %s exited %d: %s' % (what, ' '.join(argv), rc, (err or out).strip()),
                                  rc=rc, stdout=out, stderr=err, cmd=argv, **extra)
        return out

    def read_chain(self, key):
        family, table, chain = key
        argv, rc, out, err = self.run(['-j', 'list', 'chain', family, table, chain])
        if rc != 0:
            if MISSING in (err or ''):
                return nc.chain_state(family, table, chain, None, None)
            self.module.fail_json(msg='cannot read chain %s %s %s: %s exited %d: %s' % (
                family, table, chain, ' '.join(argv), rc, (err or out).strip()), rc=rc, stdout=out, stderr=err,
                cmd=argv)
        text = self.must(['-a', 'list', 'chain', family, table, chain], 'cannot read chain %s %s %s' % key)
        try:
            return nc.chain_state(family, table, chain, out, text)
        except nc.ConflictError as exc:
            self.module.fail_json(msg=str(exc), cmd=argv, stdout=out)

    def table_text(self, key):
        return self.must(['-a', 'list', 'table', key[0], key[1]], 'cannot list table %s %s' % key)

    def ruleset_index(self, text):
        try:
            return nc.ruleset_index(text)
        except nc.ConflictError as exc:
            self.module.fail_json(msg=str(exc), stdout=text)

    def write_backup(self, paths, contents):
        base = self.module.params['backup_dir']
        try:
            if not os.path.isdir(base):
                os.makedirs(base, 0o700)
            os.mkdir(paths['directory'], 0o700)
            for name, text in contents:
                fd = os.open(paths[name], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, 'wb') as handle:
                    handle.write(to_bytes(text))
                os.chmod(paths[name], 0o600)
        except (IOError, OSError) as exc:
            self.module.fail_json(msg='cannot write the backup below %s: %s; nothing was removed' % (base, exc),
                                  backup=paths)

    def backup_paths(self):
        base = self.module.params['backup_dir']
        now = datetime.datetime.now(datetime.timezone.utc)
        stamp = now.strftime('%Y%m%dT%H%M%SZ')
        names = nc.backup_names(stamp)
        directory = os.path.join(base, names['directory'])
        suffix = 1
        while os.path.exists(directory):
            suffix += 1
            directory = os.path.join(base, '%s-%d' % (names['directory'], suffix))
        paths = {'directory': directory}
        for key in ('ruleset', 'ruleset_json', 'undo', 'transaction'):
            paths[key] = os.path.join(directory, names[key])
        return stamp, paths

    def main(self):
        module = self.module
        result = {'changed': False, 'rules': [], 'commands': [], 'undo': [], 'backup': None, 'verification': None}
        try:
            refs = nc.parse_refs(module.params['rules'])
        except nc.ConflictError as exc:
            module.fail_json(msg=str(exc), **result)
        chains = {}
        for ref in refs:
            if ref.chain_key not in chains:
                chains[ref.chain_key] = self.read_chain(ref.chain_key)
        plan = nc.build_plan(refs, chains)
        result['rules'] = [d.as_dict() for d in plan.decisions]
        if plan.conflicts:
            module.fail_json(msg='nothing was removed: %s' % '; '.join(
                '%s: %s' % (d.ref.label(), d.reason) for d in plan.conflicts), **result)
        if not plan.remove:
            module.exit_json(**result)

        try:
            transaction = nc.transaction_text(plan)
            stamp, paths = self.backup_paths()
            undo = nc.undo_text(plan, chains, stamp)
            result['undo'] = nc.undo_commands(plan, chains)
        except nc.ConflictError as exc:
            module.fail_json(msg=str(exc), **result)
        result['commands'] = transaction.splitlines()
        result['changed'] = True
        # both files must load before anything is written or removed (nft -c: the kernel checks, nothing commits)
        self.must(['-c', '-f', '-'], 'the deletion transaction does not validate; nothing was removed',
                  data=transaction, **result)
        self.must(['-c', '-f', '-'], 'the undo file would not load, so nothing was removed', data=undo, **result)

        tables = plan.affected_tables()
        header = 'nft -a list table (%s)' % ', '.join('%s %s' % t for t in tables)
        before_tables = dict((t, self.table_text(t)) for t in tables) if module._diff else {}
        result['backup'] = dict(paths, written=False)
        if module.check_mode:
            if module._diff:
                after = [nc.diff_after(before_tables[t], [d.ref.handle for d in plan.remove
                                                          if (d.ref.family, d.ref.table) == t]) for t in tables]
                result['diff'] = {'before': ''.join(before_tables[t] for t in tables), 'after': ''.join(after),
                                  'before_header': header, 'after_header': 'after the removal (predicted)'}
            module.exit_json(**result)

        ruleset_text = self.must(['-a', 'list', 'ruleset'], 'cannot save the ruleset; nothing was removed', **result)
        ruleset_json = self.must(['-j', 'list', 'ruleset'], 'cannot save the ruleset; nothing was removed', **result)
        before = self.ruleset_index(ruleset_json)
        self.write_backup(paths, [('ruleset', ruleset_text), ('ruleset_json', ruleset_json), ('undo', undo),
                                  ('transaction', transaction)])
        result['backup']['written'] = True

        argv, rc, out, err = self.run(['-f', paths['transaction']])
        if rc != 0:
            result['changed'] = False
            module.fail_json(msg='%s exited %d: %s; it is one transaction, so nothing was removed (backup in %s)' % (
                ' '.join(argv), rc, (err or out).strip(), paths['directory']), rc=rc, stdout=out, stderr=err,
                cmd=argv, **result)

        after_json = self.must(['-j', 'list', 'ruleset'], 'the rules were removed, but re-reading failed', **result)
        problems = nc.ruleset_changes(before, self.ruleset_index(after_json), [d.ref for d in plan.remove])
        affected = ['%s %s %s ' % k for k in plan.affected_chains()]
        in_chains = [p for p in problems if any(p.startswith('rule ' + a) for a in affected)]
        result['verification'] = {'removed': [d.ref.label() for d in plan.remove], 'affected': in_chains,
                                  'elsewhere': [p for p in problems if p not in in_chains]}
        if module._diff:
            result['diff'] = {'before': ''.join(before_tables[t] for t in tables),
                              'after': ''.join(self.table_text(t) for t in tables),
                              'before_header': header, 'after_header': 'after the removal'}
        if in_chains:
            module.fail_json(msg='after the removal the affected chains differ from the plan: %s (undo: nft -f %s)'
                             % ('; '.join(in_chains), paths['undo']), **result)
        if result['verification']['elsewhere']:
            module.warn('the ruleset changed elsewhere while removing (another tool writing?): %s'
                        % '; '.join(result['verification']['elsewhere']))
        module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            rules=dict(type='list', elements='dict', required=True, options=dict(
                family=dict(type='str', required=True, choices=['ip', 'ip6']),
                table=dict(type='str', required=True, choices=['filter', 'nat', 'mangle', 'raw', 'security']),
                chain=dict(type='str', required=True),
                handle=dict(type='int', required=True),
                fingerprint=dict(type='str'),
            )),
            backup_dir=dict(type='path', default='/var/backups/kubenode-netfilter/'),
            state=dict(type='str', default='absent', choices=['absent']),
        ),
        supports_check_mode=True,
    )
    Remover(module).main()


if __name__ == '__main__':
    main()
