# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_nft_conflicts: fingerprints, input validation, plan decisions, undo and transaction texts, verification.

Chains are real `nft -j list table` / `nft -a list table` captures (tests/fixtures/netfilter/) or built from the
JSON shapes nft 1.0.6 prints (same keys, same order as those captures).
"""
from __future__ import annotations

import copy
import json

import pytest

import kntest
from ansible_collections.kubenode.netfilter.plugins.module_utils import _nft_conflicts as nc
from ansible_collections.kubenode.netfilter.plugins.module_utils._plain import plain

FIX = kntest.FIXTURES / 'netfilter'

SADDR = {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'saddr'}}, 'right': '10.0.0.1'}}
SADDR2 = {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'saddr'}}, 'right': '10.0.0.2'}}
CT_EST = {'match': {'op': 'in', 'left': {'ct': {'key': 'state'}}, 'right': 'established'}}
IP_LEN = {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'length'}}, 'right': 100}}
SET_SADDR = {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'saddr'}},
                       'right': {'set': ['10.1.1.1', '10.2.2.2']}}}
XT = {'xt': {'type': 'match', 'name': 'conntrack'}}
ACCEPT = {'accept': None}


def counter(packets=0, nbytes=0):
    return {'counter': {'packets': packets, 'bytes': nbytes}}


def chain_json(rules, family='ip', table='filter', chain='FORWARD'):
    """`nft -j list chain` output: rules = [(handle, expr)]."""
    items = [{'metainfo': {'version': '1.0.6', 'release_name': 'Lester Gooch #5', 'json_schema_version': 1}},
             {'chain': {'family': family, 'table': table, 'name': chain, 'handle': 1, 'type': 'filter',
                        'hook': 'forward', 'prio': 0, 'policy': 'accept'}}]
    for handle, expr in rules:
        items.append({'rule': {'family': family, 'table': table, 'chain': chain, 'handle': handle, 'expr': expr}})
    return json.dumps({'nftables': items})


def chain_text(rules, family='ip', table='filter', chain='FORWARD'):
    """`nft -a list chain` output: rules = [(handle, text)]."""
    lines = ['table %s %s {' % (family, table), '\tchain %s { # handle 1' % chain,
             '\t\ttype filter hook forward priority filter; policy accept;']
    lines += ['\t\t%s # handle %d' % (text, handle) for handle, text in rules]
    return '\n'.join(lines + ['\t}', '}', ''])


# handle, expr, text: iptables rule, foreign, iptables rule, foreign, foreign (two in a row at the end)
CHAIN = [
    (2, [SADDR, counter(), ACCEPT], 'ip saddr 10.0.0.1 counter packets 0 bytes 0 accept'),
    (3, [CT_EST, ACCEPT], 'ct state established accept'),
    (4, [SADDR2, counter(), ACCEPT], 'ip saddr 10.0.0.2 counter packets 0 bytes 0 accept'),
    (5, [IP_LEN, counter(), ACCEPT], 'ip length 100 counter packets 0 bytes 0 accept'),
    (6, [SET_SADDR, ACCEPT], 'ip saddr { 10.1.1.1, 10.2.2.2 } accept'),
]


def state(rows=None, **kwargs):
    rows = CHAIN if rows is None else rows
    key = (kwargs.get('family', 'ip'), kwargs.get('table', 'filter'), kwargs.get('chain', 'FORWARD'))
    return nc.chain_state(key[0], key[1], key[2], chain_json([(h, e) for h, e, _t in rows], **kwargs),
                          chain_text([(h, t) for h, _e, t in rows], **kwargs))


def ref(handle, fingerprint=None, chain='FORWARD', family='ip', table='filter'):
    return nc.RuleRef(family, table, chain, handle, fingerprint)


def plan_for(handles, rows=None, fingerprints=None):
    st = state(rows)
    chains = {st.key: st}
    refs = [ref(h, (fingerprints or {}).get(h)) for h in handles]
    return nc.build_plan(refs, chains), chains


# ---------------------------------------------------------------------------------------------------------------------
# fingerprint

def test_fingerprint_ignores_counters_key_order_and_volatile_state():
    base = nc.rule_fingerprint([IP_LEN, counter(), ACCEPT])
    assert base.startswith('sha256:') and len(base) == len('sha256:') + 64
    assert nc.rule_fingerprint([IP_LEN, counter(123, 45678), ACCEPT]) == base
    reordered = json.loads(json.dumps([IP_LEN, counter(), ACCEPT], sort_keys=True))
    reordered[0]['match'] = dict(reversed(list(reordered[0]['match'].items())))
    assert nc.rule_fingerprint(reordered) == base


def test_fingerprint_tells_rules_apart():
    prints = set(nc.rule_fingerprint(e) for _h, e, _t in CHAIN)
    assert len(prints) == len(CHAIN)
    # a counter is part of the rule (its values are not)
    assert nc.rule_fingerprint([IP_LEN, ACCEPT]) != nc.rule_fingerprint([IP_LEN, counter(), ACCEPT])
    # a value change is a different rule
    other = copy.deepcopy(IP_LEN)
    other['match']['right'] = 101
    assert nc.rule_fingerprint([other, ACCEPT]) != nc.rule_fingerprint([IP_LEN, ACCEPT])
    # the input is not modified
    expr = [IP_LEN, counter(7, 8), ACCEPT]
    nc.rule_fingerprint(expr)
    assert expr[1] == counter(7, 8)


def test_fingerprint_of_captured_rule_is_stable():
    _chains, rules = nc.nf.parse_nft_rules((FIX / 'nft-incompatible.nft-table.json').read_text())
    foreign = [r for r in rules if r.handle == 3][0]
    assert nc.rule_fingerprint(foreign.expr) == nc.rule_fingerprint([CT_EST, ACCEPT])
    # pinned: a change of the normalisation would silently invalidate fingerprints users keep in inventories
    assert nc.rule_fingerprint(foreign.expr) == (
        'sha256:45a0ef3da42f81909a5696598b91a8ce054cd22cabb62377056c8121ccc288b2')


def test_expiring_set_elements_do_not_change_the_fingerprint():
    def rule(expires):
        return [{'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'saddr'}},
                           'right': {'set': [{'elem': {'val': '10.0.0.1', 'timeout': 60, 'expires': expires}}]}}}]
    assert nc.rule_fingerprint(rule(59)) == nc.rule_fingerprint(rule(3))


# ---------------------------------------------------------------------------------------------------------------------
# input

def test_parse_refs_accepts_and_dedupes():
    refs = nc.parse_refs([{'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': 3},
                          {'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': '3'},
                          {'family': 'ip6', 'table': 'nat', 'chain': 'KUBE-POSTROUTING', 'handle': 9,
                           'fingerprint': 'sha256:' + 'a' * 64}])
    assert [r.key for r in refs] == [('ip', 'filter', 'FORWARD', 3), ('ip6', 'nat', 'KUBE-POSTROUTING', 9)]
    assert refs[1].fingerprint == 'sha256:' + 'a' * 64


@pytest.mark.parametrize('item, message', [
    ({'family': 'inet', 'table': 'filter', 'chain': 'FORWARD', 'handle': 3}, "family must be one of ip, ip6"),
    ({'family': 'ip', 'table': 'netbird', 'chain': 'FORWARD', 'handle': 3}, "table must be one of iptables-nft's"),
    ({'family': 'ip', 'table': 'filter', 'chain': '', 'handle': 3}, 'chain must be a non-empty string'),
    ({'family': 'ip', 'table': 'filter', 'chain': '1weird', 'handle': 3}, "cannot be written in nft's command syntax"),
    ({'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': 0}, 'handle must be a positive integer'),
    ({'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': True}, 'handle must be a positive integer'),
    ({'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': None}, 'handle must be a positive integer'),
    ({'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': 3, 'fingerprint': 'abc'},
     'fingerprint must look like sha256:'),
    ('ip filter FORWARD 3', 'expected a mapping'),
])
def test_parse_refs_rejects(item, message):
    with pytest.raises(nc.ConflictError) as err:
        nc.parse_refs([{'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': 2}, item])
    assert message in str(err.value) and 'rules[1]' in str(err.value)


def test_parse_refs_rejects_conflicting_duplicates():
    with pytest.raises(nc.ConflictError, match='listed twice with different fingerprints'):
        nc.parse_refs([{'family': 'ip', 'table': 'filter', 'chain': 'C', 'handle': 3, 'fingerprint': 'sha256:' + 'a' * 64},
                       {'family': 'ip', 'table': 'filter', 'chain': 'C', 'handle': 3, 'fingerprint': 'sha256:' + 'b' * 64}])


def test_chain_state_from_bad_output():
    with pytest.raises(nc.ConflictError, match='not JSON'):
        nc.chain_state('ip', 'filter', 'FORWARD', 'garbage', '')
    with pytest.raises(nc.ConflictError, match="holds no chain 'FORWARD'"):
        nc.chain_state('ip', 'filter', 'FORWARD', json.dumps({'nftables': []}), '')
    missing = nc.chain_state('ip', 'filter', 'FORWARD', None, None)
    assert missing.exists is False and missing.rules == []


# ---------------------------------------------------------------------------------------------------------------------
# plan

def test_plan_removes_unreadable_rules():
    plan, _chains = plan_for([3, 5, 6])
    assert [(d.ref.handle, d.action) for d in plan.decisions] == [(3, 'remove'), (5, 'remove'), (6, 'remove')]
    assert plan.decisions[0].rule_text == 'ct state established accept'
    assert [h.cls for h in plan.decisions[0].hits] == ['ct']
    assert [h.cls for h in plan.decisions[2].hits] == ['set_lookup']  # lossy: listed, so removed too
    assert plan.affected_chains() == [('ip', 'filter', 'FORWARD')] and plan.affected_tables() == [('ip', 'filter')]


def test_plan_missing_handle_and_chain_are_already_done():
    st = state()
    chains = {st.key: st, ('ip', 'filter', 'GONE'): nc.chain_state('ip', 'filter', 'GONE', None, None)}
    plan = nc.build_plan([ref(99), ref(3, chain='GONE'), ref(3, chain='NEVER-READ')], chains)
    assert [d.action for d in plan.decisions] == ['absent'] * 3
    assert 'already removed' in plan.decisions[0].reason and 'does not exist' in plan.decisions[1].reason
    assert plan.remove == [] and nc.transaction_text(plan) == ''


def test_plan_handle_with_readable_rule_is_a_conflict():
    plan, _chains = plan_for([2, 3])
    assert [d.action for d in plan.decisions] == ['conflict', 'remove']
    assert 'iptables-nft can read' in plan.decisions[0].reason
    assert 'ip saddr 10.0.0.1' in plan.decisions[0].reason


def test_plan_xt_rule_is_a_conflict():
    plan, _chains = plan_for([7], rows=CHAIN + [(7, [XT, counter(), ACCEPT], 'xt match conntrack accept')])
    assert plan.decisions[0].action == 'conflict'


def test_plan_fingerprint_must_match():
    good = nc.rule_fingerprint([CT_EST, ACCEPT])
    plan, _chains = plan_for([3], fingerprints={3: good})
    assert plan.decisions[0].action == 'remove' and plan.decisions[0].fingerprint == good
    # the fingerprint of the ip length rule given for handle 3: handle 3 holds other expressions now
    other = nc.rule_fingerprint([IP_LEN, counter(), ACCEPT])
    plan, _chains = plan_for([3], fingerprints={3: other})
    assert plan.decisions[0].action == 'conflict' and 'other expressions' in plan.decisions[0].reason
    assert other in plan.decisions[0].reason and good in plan.decisions[0].reason


def test_plan_without_rule_text_still_removes():
    """The text is for the report only: the undo file comes from the JSON."""
    st = nc.chain_state('ip', 'filter', 'FORWARD', chain_json([(3, [CT_EST, ACCEPT])]), '')
    plan = nc.build_plan([ref(3)], {st.key: st})
    assert plan.decisions[0].action == 'remove' and plan.decisions[0].rule_text is None


@pytest.mark.parametrize('body, message', [
    ({'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': '3', 'expr': []}, 'integer handle'),
    ({'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': 3, 'expr': {'accept': None}}, 'expr list'),
    ({'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': 3, 'expr': [], 'comment': ['x']},
     'string comment'),
    ({'family': ['ip'], 'table': 'filter', 'chain': 'FORWARD', 'handle': 3, 'expr': []}, 'family/table/chain'),
])
def test_chain_state_rejects_hostile_rule_shapes(body, message):
    items = json.loads(chain_json([]))['nftables'] + [{'rule': body}]
    with pytest.raises(nc.ConflictError, match=message):
        nc.chain_state('ip', 'filter', 'FORWARD', json.dumps({'nftables': items}), '')


def test_hostile_expression_shape_is_unclassified_not_readable():
    hits = nc._classify([{'match': {'left': {'payload': ['x']}, 'right': 1}}, 'not-a-dict'])
    assert hits and all(h.cls for h in hits)


def test_decision_dict_has_effects_and_newer_iptables():
    plan, _chains = plan_for([3, 5, 6])
    ct, length, lookup = [d.as_dict() for d in plan.decisions]
    assert ct['effects'][0] == nc.HURT_CHECK and 'incompatible' in ct['effects'][1]
    assert length['effects'][1] == nc.HURT_LISTING[nc.nf.LISTING_ABORTS]
    assert lookup['effects'] == [nc.HURT_LISTING[nc.nf.LISTING_LOSSY]]
    assert ct['newer_iptables']['reads'] is False and length['newer_iptables']['reads'] is False
    assert lookup['newer_iptables']['reads'] is None


@pytest.mark.parametrize('hits, reads', [
    ([('meta_set', 'meta mark set')], True),
    ([('meta_set', 'meta priority set')], False),
    ([('th', 'th dport')], False),
    ([('meta_set', 'meta mark set'), ('ct', 'ct state')], False),
    ([('statement', 'log')], False),
    ([('fib', 'fib daddr')], False),
    ([('meta_key', 'meta skuid')], False),
])
def test_newer_iptables_as_measured(hits, reads):
    """The 1.8.11 verdicts (tests/fixtures/netfilter/compat-iptables-1.8.11.json, measured)."""
    verdict = nc.newer_iptables([nc.nf.ExprHit(c, w) for c, w in hits])
    assert verdict['reads'] is reads and verdict['version'] == '1.8.11'


# ---------------------------------------------------------------------------------------------------------------------
# texts

def test_transaction_text():
    plan, _chains = plan_for([3, 5])
    assert nc.transaction_text(plan) == ('delete rule ip filter FORWARD handle 3\n'
                                         'delete rule ip filter FORWARD handle 5\n')


def add(handle, expr, anchor=None, verb='add', comment=None):
    body = {'family': 'ip', 'table': 'filter', 'chain': 'FORWARD'}
    if anchor is not None:
        body['handle'] = anchor
    body['expr'] = expr
    if comment is not None:
        body['comment'] = comment
    return {verb: {'rule': body}}


def test_undo_inserts_before_kept_rules_and_appends_the_tail():
    plan, chains = plan_for([3, 5, 6])
    # 3 goes back before 4; the run 5, 6 at the tail is appended in order (nft 1.0.6 ignores an add's anchor)
    assert nc.undo_commands(plan, chains) == [
        add(3, [CT_EST, ACCEPT], 4, 'insert'),
        add(5, [IP_LEN, counter(), ACCEPT]),
        add(6, [SET_SADDR, ACCEPT]),
    ]


def test_undo_of_a_run_in_the_middle_inserts_in_order():
    rows = [CHAIN[0], CHAIN[1], CHAIN[3], CHAIN[2]]  # 2 kept, 3 and 5 foreign, 4 kept
    plan, chains = plan_for([3, 5], rows=rows)
    assert nc.undo_commands(plan, chains) == [add(3, [CT_EST, ACCEPT], 4, 'insert'),
                                              add(5, [IP_LEN, counter(), ACCEPT], 4, 'insert')]


def test_undo_at_chain_head_inserts_before_first_kept_rule():
    rows = [CHAIN[1], CHAIN[3], CHAIN[0]]  # 3, 5 foreign at the head, then 2
    plan, chains = plan_for([3, 5], rows=rows)
    assert nc.undo_commands(plan, chains) == [
        add(3, [CT_EST, ACCEPT], 2, 'insert'),
        add(5, [IP_LEN, counter(), ACCEPT], 2, 'insert'),
    ]


def test_undo_of_whole_chain_appends_in_order():
    rows = [CHAIN[1], CHAIN[3]]
    plan, chains = plan_for([3, 5], rows=rows)
    assert nc.undo_commands(plan, chains) == [add(3, [CT_EST, ACCEPT]), add(5, [IP_LEN, counter(), ACCEPT])]


def test_undo_file_is_json_skips_absent_and_passes_its_round_trip():
    plan, chains = plan_for([3, 42])
    text = nc.undo_text(plan, chains)
    document = json.loads(text)
    assert document['nftables'] == [{'metainfo': {'json_schema_version': 1}}, add(3, [CT_EST, ACCEPT], 4, 'insert')]
    assert 'handle 42' not in text and 'flush' not in text and 'delete' not in text
    nc.check_undo(text, plan, chains)


HOSTILE_COMMENT = 'x"; delete table inet host_fw; add rule ip filter FORWARD counter comment "y'


def hostile_rows(comment=HOSTILE_COMMENT):
    rows = json.loads(chain_json([(2, [SADDR, counter(), ACCEPT]), (3, [CT_EST, ACCEPT]),
                                  (4, [SADDR2, counter(), ACCEPT])]))
    rows['nftables'][-2]['rule']['comment'] = comment
    return json.dumps(rows)


@pytest.mark.parametrize('comment', [HOSTILE_COMMENT, 'a\nflush ruleset\n#', '\\" ; } {', '# handle 2'])
def test_undo_of_a_hostile_comment_is_data_not_commands(comment):
    """Issue 17 #1: the comment travels as one JSON string; the text form (what nft prints) is never used."""
    text = chain_text([(2, 'ip saddr 10.0.0.1 counter packets 0 bytes 0 accept'),
                       (3, 'ct state established accept comment "%s"' % comment)])
    st = nc.chain_state('ip', 'filter', 'FORWARD', hostile_rows(comment), text)
    plan = nc.build_plan([ref(3)], {st.key: st})
    assert plan.remove and plan.decisions[0].comment == comment
    undo = nc.undo_text(plan, {st.key: st})
    commands = json.loads(undo)['nftables'][1:]
    assert commands == [add(3, [CT_EST, ACCEPT], 4, 'insert', comment=comment)]
    nc.check_undo(undo, plan, {st.key: st})
    readme = nc.readme_text(plan, '20260101T000000Z', 'undo.json')
    assert comment not in readme and 'nft -j -f undo.json' in readme


def _tamper(text, fn):
    document = json.loads(text)
    fn(document['nftables'])
    return json.dumps(document)


@pytest.mark.parametrize('tamper, message', [
    (lambda items: items.append({'delete': {'table': {'family': 'inet', 'name': 'host_fw'}}}), 'not one add/insert'),
    (lambda items: items.append(items[1]), 'does not give back a removed rule'),
    (lambda items: items.pop(), 'does not restore ip filter FORWARD handle 3'),
    (lambda items: items[1]['insert']['rule'].update(comment='other'), 'does not give back'),
    (lambda items: items[1]['insert']['rule'].update(handle=3), 'not a kept rule'),
    (lambda items: items[1]['insert']['rule'].pop('handle'), 'insert without an anchor'),
    (lambda items: items[1].update({'add': items[1].pop('insert')}), 'add with an anchor'),
    (lambda items: items[1]['insert']['rule'].update(chain='INPUT'), 'not a chain a rule is removed from'),
    (lambda items: items[1]['insert']['rule'].update(index=0), 'unexpected keys index'),
    (lambda items: items.__setitem__(1, {'add': {'chain': {}}}), 'of something else than one rule'),
    (lambda items: items.pop(0), 'metainfo'),
])
def test_check_undo_refuses_anything_but_the_removed_rules(tamper, message):
    plan, chains = plan_for([3])
    with pytest.raises(nc.ConflictError, match=message):
        nc.check_undo(_tamper(nc.undo_text(plan, chains), tamper), plan, chains)
    with pytest.raises(nc.ConflictError, match='not JSON'):
        nc.check_undo('add rule ip filter FORWARD ct state established accept', plan, chains)


def test_backup_names():
    names = nc.backup_names('20260101T000000Z')
    assert names['directory'] == 'nft-conflicts-20260101T000000Z'
    assert sorted(names) == ['directory', 'readme', 'transaction', 'undo']
    assert names['undo'] == 'undo.json'
    assert nc.table_backup_names('ip6', 'nat') == {'text': 'ip6-nat.nft', 'json': 'ip6-nat.json'}


def test_diff_after_drops_only_removed_rule_lines():
    text = (FIX / 'nft-incompatible.nft-table-a.txt').read_text()
    after = nc.diff_after(text, [3, 1])  # 1 is the table's and the chain's handle: never dropped
    assert 'ct state established' not in after and 'ip saddr 10.0.0.1' in after
    assert after.count('\n') == text.count('\n') - 1


# ---------------------------------------------------------------------------------------------------------------------
# verification

def ruleset(rows, extra=()):
    items = json.loads(chain_json([(h, e) for h, e, _t in rows]))['nftables']
    return json.dumps({'nftables': items + list(extra)})


def test_ruleset_changes_exact_removal_is_clean():
    before = nc.ruleset_index(ruleset(CHAIN))
    after_rows = [r for r in CHAIN if r[0] not in (3, 5)]
    bumped = [(h, [e[0], counter(9, 999)] + e[2:] if len(e) > 2 else e, t) for h, e, t in after_rows]
    after = nc.ruleset_index(ruleset(bumped))
    assert nc.ruleset_changes(before, after, [ref(3), ref(5)]) == []


def test_ruleset_changes_reports_everything_else():
    inet = {'table': {'family': 'inet', 'name': 'netbird', 'handle': 7}}
    before = nc.ruleset_index(ruleset(CHAIN, [inet]))
    changed_rows = [(h, [SADDR2, ACCEPT] if h == 2 else e, t) for h, e, t in CHAIN if h not in (3, 6)]
    after = nc.ruleset_index(ruleset(changed_rows, [{'table': {'family': 'inet', 'name': 'other', 'handle': 8}}]))
    problems = nc.ruleset_changes(before, after, [ref(3), ref(5)])
    assert sorted(problems) == sorted([
        'rule ip filter FORWARD handle 2 changed', 'rule ip filter FORWARD handle 5 is still there',
        'rule ip filter FORWARD handle 6 disappeared', 'table inet netbird disappeared', 'table inet other appeared'])


def test_ruleset_index_rejects_garbage():
    with pytest.raises(nc.ConflictError, match='not JSON'):
        nc.ruleset_index('{')
    with pytest.raises(nc.ConflictError, match='top-level "nftables"'):
        nc.ruleset_index('[]')


def test_validation_text_is_every_undo_rule_unanchored():
    """nft -c checks the rules' expressions without anchors (an anchored insert loads every rule of every table
    into nft's cache); check_undo proves the anchors."""
    plan, chains = plan_for([3, 5, 6])
    document = json.loads(nc.validation_text(plan))
    assert document['nftables'][0] == {'metainfo': {'json_schema_version': 1}}
    assert document['nftables'][1:] == [add(3, [CT_EST, ACCEPT]), add(5, [IP_LEN, counter(), ACCEPT]),
                                        add(6, [SET_SADDR, ACCEPT])]
    assert all('handle' not in c['add']['rule'] for c in document['nftables'][1:])


@pytest.mark.parametrize('chunk', [1, 7, 64, 1 << 20])
@pytest.mark.parametrize('indent', [None, 2])
def test_file_reader_agrees_with_json_loads_at_any_chunk_size(monkeypatch, tmp_path, chunk, indent):
    """The chunked reader of nft -j output (a 40 MB line at 100k rules) gives what json.loads gives, whatever the
    chunk boundaries cut: strings, numbers, escapes, multi-byte UTF-8."""
    monkeypatch.setattr(nc, '_READ_CHUNK', chunk)
    items = json.loads(chain_json([(h, e) for h, e, _t in CHAIN]))['nftables']
    items[-1]['rule']['comment'] = 'caf\u00e9 \u2603 "q" \\ 1234567890'
    path = tmp_path / 'chain.json'
    path.write_text(json.dumps({'nftables': items}, indent=indent), encoding='utf-8')
    with open(path, 'rb') as handle:
        got = list(nc.iter_nft_items(handle, 'x'))
    assert got == [next(iter(i.items())) for i in items]
    with open(path, 'rb') as handle:
        assert nc.ruleset_index(handle) == nc.ruleset_index(path.read_text(encoding='utf-8'))
    with open(path, 'rb') as handle:
        st = nc.chain_state('ip', 'filter', 'FORWARD', handle, '', keep=[3])
    assert [r.handle for r in st.rules] == [2, 3, 4, 5, 6] and st.rule(3).expr == [CT_EST, ACCEPT]
    assert st.rule(5).expr == []  # not listed: only its position is kept


@pytest.mark.parametrize('text, message', [
    ('{"nftables": [{"rule": {}}', 'not closed'),
    ('{"nftables": [{"rule": {}} {"rule": {}}]}', 'expected ","'),
    ('{"nftables": []} {"x": 1}', 'trailing data'),
    ('{"nftables": [{"rule": {"a": tru}}]}', 'not JSON'),
])
def test_file_reader_rejects_broken_json(tmp_path, text, message):
    path = tmp_path / 'x.json'
    path.write_text(text)
    with open(path, 'rb') as handle, pytest.raises(nc.ConflictError, match=message):
        list(nc.iter_nft_items(handle, 'x'))


# ---------------------------------------------------------------------------------------------------------------------
# the role's report, versions and re-verification (the nft_conflicts_* filters)

PARSE_ERROR = {'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': 3, 'rule': 'ct state established accept',
               'writer': 'netbird', 'iptables_nft_version': '1.8.9', 'error': 'cmp sreg undef\nline 2',
               'expressions': [{'class': 'ct', 'expression': 'ct state'}]}


def test_report_lines_name_the_rule_the_hurt_and_the_fixes_in_order():
    plan, _chains = plan_for([3])
    preview = [plan.decisions[0].as_dict()]
    lines = nc.report_lines([PARSE_ERROR], preview, [{'family': 'ip', 'table': 'filter', 'chain': 'FORWARD',
                                                      'handle': 3, 'fingerprint': 'x'}])
    assert lines[0] == 'UNREADABLE ip filter chain FORWARD handle 3: "ct state established accept" (writer: netbird)'
    assert lines[1] == '  iptables-nft 1.8.9 says: cmp sreg undef / line 2'
    assert lines[2] == '  expressions: ct state'
    assert lines[3] == '  hurts: ' + nc.HURT_CHECK
    fixes = [line for line in lines if line.startswith('  fix (')]
    assert [f[:9] for f in fixes] == ['  fix (1)', '  fix (2)', '  fix (3)']
    assert '"fingerprint": "%s"' % plan.decisions[0].fingerprint in fixes[1] and fixes[1].endswith('(listed)')
    assert '1.8.11 still cannot read it' in fixes[2]
    assert lines[-1] == nc.NEVER_FLUSH


def test_report_lines_without_errors_without_handle_and_with_a_failed_preview():
    assert nc.report_lines([]) == ['iptables-nft can read all of its tables: no foreign rule in them.', nc.NEVER_FLUSH]
    lines = nc.report_lines([dict(PARSE_ERROR, handle=None)], None, None, 'nft: no permission')
    assert any('no rule handle is known' in line for line in lines)
    assert 'could not preview the rules: nft: no permission' in lines
    assert any('upgrading iptables is not the general fix' in line for line in lines)


@pytest.mark.parametrize('bad, message', [
    ('x', 'iptables_nft_parse_errors must be a list'),
    ([['ip']], r'iptables_nft_parse_errors\[0\] must be a mapping'),
])
def test_report_lines_reject_wrong_types(bad, message):
    with pytest.raises(nc.ConflictError, match=message):
        nc.report_lines(bad)


def test_version_rows():
    facts = {'iptables_nft': {'path': '/usr/sbin/iptables-nft', 'version': '1.8.9'},
             'bundled': {'/var/lib/rancher/k3s/data/current/bin/aux': {'iptables': {'version': '1.8.8'},
                                                                       'xtables-nft-multi': {'version': '1.8.8'}},
                         '/empty': None}}
    assert nc.version_rows(facts, 'docker.io/cloudnativelabs/kube-router:v2.5.0-iptables1.8.11-x') == [
        ['host iptables-nft (/usr/sbin/iptables-nft)', '1.8.9'],
        ['bundled /var/lib/rancher/k3s/data/current/bin/aux/xtables-nft-multi', '1.8.8'],
        ['kube-router image docker.io/cloudnativelabs/kube-router:v2.5.0-iptables1.8.11-x', '1.8.11']]
    assert nc.version_rows({}, 'quay.io/k0sproject/kube-router:v2.2.1') == []
    with pytest.raises(nc.ConflictError, match='netfilter facts must be a mapping'):
        nc.version_rows([])
    with pytest.raises(nc.ConflictError, match='bundled must be a mapping'):
        nc.version_rows({'bundled': ['x']})


def _tables(rules):
    return {'iptables_nft_parse_errors': [], 'nft_tables': [
        {'family': 'ip', 'name': 'filter', 'owner': 'iptables', 'chains': 1, 'hooks': [], 'rules': rules}]}


def test_verify_after():
    listed = [{'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': 3}]
    result = {'rules': [dict(listed[0], action='remove')], 'verification': {'elsewhere': []},
              'backup': {'undo': '/b/undo.json'}}
    good = nc.verify_after(_tables(3), _tables(2), listed, result)
    assert good['ok'] is True and 'none listed' in good['message']
    left = dict(_tables(2), iptables_nft_parse_errors=[PARSE_ERROR])
    bad = nc.verify_after(_tables(3), left, listed, result)
    assert bad['ok'] is False and bad['left'] == [PARSE_ERROR] and 'Undo: nft -j -f /b/undo.json' in bad['message']
    assert nc.verify_after(_tables(3), _tables(1), listed, result)['ok'] is False  # another rule went too
    other = dict(result, verification={'elsewhere': ['table inet x appeared']})
    assert nc.verify_after(_tables(3), _tables(2), listed, other)['ok'] is False
    with pytest.raises(nc.ConflictError, match='must be netfilter facts'):
        nc.verify_after(None, _tables(2), listed, result)


def test_ref_keys_and_plain():
    assert nc.ref_keys([dict(PARSE_ERROR)]) == [{'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': 3}]
    assert plain(({'a': (1, 'x')},)) == [{'a': [1, 'x']}]
