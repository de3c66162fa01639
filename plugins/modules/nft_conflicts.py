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
    each table a rule is removed from as C(nft -a list table) and C(nft -j list table) (streamed to disk; the
    removal touches no other table, and no other is read, so a node with 100k rules elsewhere costs nothing more),
    the undo file
    (C(undo.json), the C(nft -j) commands that put each removed rule back at its place), the deletion transaction
    (C(delete.nft)) and a C(README.txt) saying what was removed and how to undo it.
  - The undo file is built from the rules' JSON (C(nft -j list chain)), never from their text; nft prints comments
    unescaped, so a rule's text fed back to C(nft -f) could run commands hidden in a comment. Before anything is
    written it is parsed back and must give exactly the removed rules (expressions and comment) and nothing else,
    and both files are validated with C(nft -c). A rule whose undo does not load is not removed (nothing is, and the
    module fails with C(changed=false) naming the rule).
  - All deletions run as one C(nft -f) transaction, so a failure changes nothing. Afterwards the affected tables are
    read again and compared with the backup, counters aside; any change other than the listed removals is reported.
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
  timeout:
    description:
      - Deadline in seconds for each C(nft) command the module runs; a command still running then is killed with
        its process group and the module fails naming it (before the removal, nothing was removed).
      - Listing a table of 100k iptables-nft rules took 37 s on a loaded 2-core machine.
    type: int
    default: 300
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
  - The undo file (apply with C(nft -j -f undo.json); without C(-j) nft refuses it with a syntax error) re-inserts
    each rule right before the kept rule that followed it (C(insert) anchored on that rule's handle) and appends the
    rules that were at the end of their chain (C(add)); it fails as a whole when an anchor rule is gone by then.
  - A restore of the saved tables is no substitute for the undo file; nft cannot load iptables' own xtables
    expressions back, and what it does load becomes native rules, the incident itself.
  - Chain names nft's command syntax cannot express (starting with a digit, for example) are refused.
  - Another tool changing the affected tables while this runs shows up in C(verification.elsewhere) (see
    RV(verification)); other tables are neither read nor touched.
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
    msg: "undo with: nft -j -f {{ removal.backup.undo }}"
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
  description: True when at least one rule was removed (or would be, in check mode); false whenever nothing was
    removed, a refused removal included.
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
  description:
    - The C(nft -j) commands of the undo file that put the removed rules back at their places (an C(add) or
      C(insert) of one rule, its C(handle) the kept rule it is anchored on).
  type: list
  elements: dict
  returned: always
  sample: [{"insert": {"rule": {"family": "ip", "table": "filter", "chain": "FORWARD", "handle": 4,
            "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "established"}},
                     {"accept": null}]}}}]
backup:
  description:
    - The backup of this run, null when nothing was (or would be) removed. C(directory), C(undo) (apply with
      C(nft -j -f)), C(transaction) (the deletions applied), C(readme) (what was removed, how to undo), all paths;
      C(tables), one entry per table a rule is removed from with C(family), C(table), C(text)
      (C(nft -a list table)) and C(json) (C(nft -j list table)); C(written) is false in check mode.
  type: dict
  returned: always
  sample: {"directory": "/var/backups/kubenode-netfilter/nft-conflicts-20260101T120000Z", "written": true,
           "tables": [{"family": "ip", "table": "filter",
                       "text": "/var/backups/kubenode-netfilter/nft-conflicts-20260101T120000Z/ip-filter.nft",
                       "json": "/var/backups/kubenode-netfilter/nft-conflicts-20260101T120000Z/ip-filter.json"}],
           "undo": "/var/backups/kubenode-netfilter/nft-conflicts-20260101T120000Z/undo.json",
           "transaction": "/var/backups/kubenode-netfilter/nft-conflicts-20260101T120000Z/delete.nft",
           "readme": "/var/backups/kubenode-netfilter/nft-conflicts-20260101T120000Z/README.txt"}
verification:
  description:
    - After a removal, the affected tables read again and compared with their backup (counters aside). C(removed)
      (the rules gone as planned), C(affected) (unexpected changes in the chains rules were removed from; the
      module fails on any) and C(elsewhere) (unexpected changes elsewhere in those tables, for example by a tool
      writing at the same time). Null when nothing was removed or in check mode.
  type: dict
  returned: always
  sample: {"removed": ["ip filter FORWARD handle 3"], "affected": [], "elsewhere": []}
'''

import datetime
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes
from ansible_collections.kubenode.netfilter.plugins.module_utils import _nft_conflicts as nc

MISSING = 'No such file or directory'
# the backup's copy of a table is streamed to disk; reading it back for the verification is capped too
MAX_RULESET_BYTES = nc.MAX_OUTPUT_BYTES


class Remover(object):
    def __init__(self, module):
        self.module = module
        self.nft = module.get_bin_path('nft', required=True)
        self.timeout = module.params['timeout']

    def fail_json(self, **result):
        """Every failure says whether anything changed: false unless the caller knows rules were removed."""
        result.setdefault('changed', False)
        self.module.fail_json(**result)

    def run(self, args, data=None, stdout_path=None, keep_file=False):
        return nc.run_command([self.nft] + list(args), self.timeout, data=data, stdout_path=stdout_path,
                              keep_file=keep_file)

    def fail(self, what, res, **extra):
        if res.stdout_file is not None:
            res.stdout_file.close()
        self.fail_json(msg='%s: %s' % (what, res.describe()), rc=res.rc, stdout=res.stdout[:65536],
                       stderr=res.stderr, cmd=res.argv, **extra)

    def must(self, args, what, data=None, stdout_path=None, keep_file=False, **extra):
        res = self.run(args, data, stdout_path, keep_file)
        if not res.ok:
            self.fail(what, res, **extra)
        return res.stdout_file if keep_file else res.stdout

    def read_chain(self, key, keep):
        family, table, chain = key
        res = self.run(['-j', 'list', 'chain', family, table, chain], keep_file=True)
        if not res.ok:
            if res.error is None and MISSING in (res.stderr or ''):
                res.stdout_file.close()
                return nc.chain_state(family, table, chain, None, None)
            self.fail('cannot read chain %s %s %s' % key, res)
        try:
            text = self.must(['-a', 'list', 'chain', family, table, chain], 'cannot read chain %s %s %s' % key)
            try:
                return nc.chain_state(family, table, chain, res.stdout_file, text, keep=keep)
            except nc.ConflictError as exc:
                self.fail_json(msg=str(exc), cmd=res.argv)
        finally:
            res.stdout_file.close()

    def table_text(self, key):
        return self.must(['-a', 'list', 'table', key[0], key[1]], 'cannot list table %s %s' % key)

    def ruleset_index(self, source, what, **extra):
        """Digests of every object of one nft -j listing, read from a file one object at a time."""
        try:
            return nc.ruleset_index(source, what)
        except nc.ConflictError as exc:
            self.fail_json(msg=str(exc), **extra)
        finally:
            if not isinstance(source, str):
                source.close()

    def open_file(self, path, **extra):
        try:
            if os.path.getsize(path) > MAX_RULESET_BYTES:
                self.fail_json(msg='%s is larger than %d bytes: not read back' % (path, MAX_RULESET_BYTES), **extra)
            return open(path, 'rb')
        except (IOError, OSError) as exc:
            self.fail_json(msg='cannot read back %s: %s' % (path, exc), **extra)

    def read_file(self, path, **extra):
        with self.open_file(path, **extra) as handle:
            return handle.read().decode('utf-8', 'replace')

    def make_backup_dir(self, paths, **extra):
        base = self.module.params['backup_dir']
        try:
            if not os.path.isdir(base):
                os.makedirs(base, 0o700)
            os.mkdir(paths['directory'], 0o700)
        except (IOError, OSError) as exc:
            self.fail_json(msg='cannot write the backup below %s: %s; nothing was removed' % (base, exc), **extra)

    def write_files(self, paths, contents, **extra):
        try:
            for name, text in contents:
                fd = os.open(paths[name], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, 'wb') as handle:
                    handle.write(to_bytes(text))
                os.chmod(paths[name], 0o600)
        except (IOError, OSError) as exc:
            self.fail_json(msg='cannot write the backup in %s: %s; nothing was removed' % (
                paths['directory'], exc), **extra)

    def backup_paths(self, tables):
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
        for key in ('undo', 'transaction', 'readme'):
            paths[key] = os.path.join(directory, names[key])
        paths['tables'] = []
        for family, table in tables:
            files = nc.table_backup_names(family, table)
            paths['tables'].append({'family': family, 'table': table, 'text': os.path.join(directory, files['text']),
                                    'json': os.path.join(directory, files['json'])})
        return stamp, names, paths

    def refuse_undo(self, res, plan, result):
        """The undo file does not load: name the rules whose own undo command does not, remove nothing."""
        bad = []
        for decision in plan.remove:
            single = nc.Plan([decision])
            one = self.run(['-c', '-j', '-f', '-'], data=nc.validation_text(single))
            if not one.ok:
                bad.append('%s (%s)' % (decision.ref.label(), (one.error or one.stderr or '').strip()[:300]))
        result['changed'] = False
        self.fail_json(msg='nothing was removed: the undo file would not load (%s), so the rules could not '
                           'be put back; a rule nft cannot restore from its own JSON must be removed by hand%s'
                       % (res.describe(), ('; not restorable: ' + '; '.join(bad)) if bad else ''),
                       rc=res.rc, stderr=res.stderr, cmd=res.argv, **result)

    def main(self):
        module = self.module
        result = {'changed': False, 'rules': [], 'commands': [], 'undo': [], 'backup': None, 'verification': None}
        try:
            refs = nc.parse_refs(module.params['rules'])
        except nc.ConflictError as exc:
            self.fail_json(msg=str(exc), **result)
        chains = {}
        for ref in refs:
            if ref.chain_key not in chains:
                keep = set(r.handle for r in refs if r.chain_key == ref.chain_key)
                chains[ref.chain_key] = self.read_chain(ref.chain_key, keep)
        plan = nc.build_plan(refs, chains)
        result['rules'] = [d.as_dict() for d in plan.decisions]
        if plan.conflicts:
            self.fail_json(msg='nothing was removed: %s' % '; '.join(
                '%s: %s' % (d.ref.label(), d.reason) for d in plan.conflicts), **result)
        if not plan.remove:
            module.exit_json(**result)

        tables = plan.affected_tables()
        try:
            transaction = nc.transaction_text(plan)
            stamp, names, paths = self.backup_paths(tables)
            undo = nc.undo_text(plan, chains)
            result['undo'] = nc.undo_commands(plan, chains)
            # the round trip: the file parsed back gives exactly the removed rules, and nothing else
            nc.check_undo(undo, plan, chains)
        except nc.ConflictError as exc:
            self.fail_json(msg=str(exc), **result)
        result['commands'] = transaction.splitlines()
        # both files must load before anything is written or removed (nft -c: the kernel checks, nothing commits)
        self.must(['-c', '-f', '-'], 'the deletion transaction does not validate; nothing was removed',
                  data=transaction, **result)
        # nft and the kernel check every rule the undo file re-adds (anchors aside: check_undo proved them)
        res = self.run(['-c', '-j', '-f', '-'], data=nc.validation_text(plan))
        if not res.ok:
            self.refuse_undo(res, plan, result)
        result['changed'] = True

        header = 'nft -a list table (%s)' % ', '.join('%s %s' % t for t in tables)
        result['backup'] = dict(paths, written=False)
        if module.check_mode:
            if module._diff:
                before_text = [self.table_text(t) for t in tables]
                after = [nc.diff_after(text, [d.ref.handle for d in plan.remove if (d.ref.family, d.ref.table) == t])
                         for t, text in zip(tables, before_text)]
                result['diff'] = {'before': ''.join(before_text), 'after': ''.join(after),
                                  'before_header': header, 'after_header': 'after the removal (predicted)'}
            module.exit_json(**result)

        # The backup: each affected table (the removal touches no other) streamed by nft straight into its files,
        # then the undo file, the transaction and the README. Only these tables are read, never the whole ruleset.
        nothing = dict(result)
        nothing['changed'] = False
        self.make_backup_dir(paths, **nothing)
        for entry in paths['tables']:
            key = (entry['family'], entry['table'])
            self.must(['-a', 'list', 'table', key[0], key[1]], 'cannot save table %s %s; nothing was removed' % key,
                      stdout_path=entry['text'], **nothing)
            self.must(['-j', 'list', 'table', key[0], key[1]], 'cannot save table %s %s; nothing was removed' % key,
                      stdout_path=entry['json'], **nothing)
        self.write_files(paths, [('undo', undo), ('transaction', transaction),
                                 ('readme', nc.readme_text(plan, stamp, names['undo']))], **nothing)
        before = {}
        for entry in paths['tables']:
            before.update(self.ruleset_index(self.open_file(entry['json'], **nothing), entry['json'], **nothing))
        result['backup']['written'] = True

        res = self.run(['-f', paths['transaction']])
        if not res.ok:
            result['changed'] = False
            self.fail('it is one transaction, so nothing was removed (backup in %s)' % paths['directory'], res,
                      **result)

        after = {}
        for family, table in tables:
            handle = self.must(['-j', 'list', 'table', family, table], 'the rules were removed, but re-reading failed',
                               keep_file=True, **result)
            after.update(self.ruleset_index(handle, 'nft -j list table %s %s' % (family, table), **result))
        problems = nc.ruleset_changes(before, after, [d.ref for d in plan.remove])
        affected = ['%s %s %s ' % k for k in plan.affected_chains()]
        in_chains = [p for p in problems if any(p.startswith('rule ' + a) for a in affected)]
        result['verification'] = {'removed': [d.ref.label() for d in plan.remove], 'affected': in_chains,
                                  'elsewhere': [p for p in problems if p not in in_chains]}
        if module._diff:
            result['diff'] = {'before': ''.join(self.read_file(e['text'], **result) for e in paths['tables']),
                              'after': ''.join(self.table_text(t) for t in tables),
                              'before_header': header, 'after_header': 'after the removal'}
        if in_chains:
            self.fail_json(msg='after the removal the affected chains differ from the plan: %s (undo: nft -j -f %s)'
                           % ('; '.join(in_chains), paths['undo']), **result)
        if result['verification']['elsewhere']:
            module.warn('the affected tables changed elsewhere while removing (another tool writing?): %s'
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
            timeout=dict(type='int', default=nc.DEFAULT_TIMEOUT),
        ),
        supports_check_mode=True,
    )
    if module.params['timeout'] <= 0:
        module.fail_json(changed=False, msg='timeout must be a positive number of seconds, got %d'
                         % module.params['timeout'])
    Remover(module).main()


if __name__ == '__main__':
    main()
