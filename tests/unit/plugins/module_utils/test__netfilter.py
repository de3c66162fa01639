# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Table tests for _netfilter over outputs captured from the real tools (tests/fixtures/netfilter/README.md)."""
from __future__ import annotations

import json

import pytest

import kntest
from ansible_collections.kubenode.netfilter.plugins.module_utils import _netfilter as nf

FIX = kntest.FIXTURES / 'netfilter'
COMPAT = json.loads((FIX / 'compat-iptables-1.8.9.json').read_text())


def text(name):
    return (FIX / name).read_text()


@pytest.mark.parametrize('name, tool, version, backend, detail', [
    ('version-iptables.txt', 'iptables', '1.8.9', 'nft', 'nf_tables'),
    ('version-iptables-legacy.txt', 'iptables', '1.8.9', 'legacy', 'legacy'),
    ('version-ip6tables-nft.txt', 'ip6tables', '1.8.9', 'nft', 'nf_tables'),
    ('version-nft.txt', 'nftables', '1.0.6', None, 'Lester Gooch #5'),
    ('version-ipset.txt', 'ipset', '7.17', None, 'protocol 7'),
])
def test_version_captured(name, tool, version, backend, detail):
    parsed = nf.parse_version_output(text(name))
    assert (parsed.tool, parsed.version, parsed.backend, parsed.detail) == (tool, version, backend, detail)


@pytest.mark.parametrize('output, version, backend', [
    ('iptables v1.8.11 (nf_tables)\n', '1.8.11', 'nft'),
    ('iptables v1.8.4 (legacy)', '1.8.4', 'legacy'),
    ('iptables v1.6.1\n', '1.6.1', 'legacy'),
    ('iptables-nft-save v1.8.9 (nf_tables)', '1.8.9', 'nft'),
    ('\n\nnftables v1.1.3 (Commodore Bullmoose #4)\n', '1.1.3', None),
    ('ipset v7.11, protocol version: 7', '7.11', None),
])
def test_version_variants(output, version, backend):
    parsed = nf.parse_version_output(output)
    assert (parsed.version, parsed.backend) == (version, backend)


@pytest.mark.parametrize('output', ['', 'garbage\n', 'Segmentation fault', 'iptables version unknown'])
def test_version_garbage(output):
    with pytest.raises(nf.NetfilterParseError, match='unrecognised version output'):
        nf.parse_version_output(output)


@pytest.mark.parametrize('resolved, backend', [
    ('/usr/sbin/xtables-nft-multi', 'nft'), ('/usr/sbin/xtables-legacy-multi', 'legacy'),
    ('/usr/sbin/iptables-wrapper', None), (None, None),
])
def test_backend_from_path(resolved, backend):
    assert nf.backend_from_path(resolved) == backend


# fixture, {table: (chains, rules, incompatible, truncated)}, dash lines, kube chains, wrapper sees (mangle/all)
SAVE_CASES = [
    ('empty.nft-save-v4.txt', {}, 0, [], False),
    ('empty.legacy-save-v4.txt', {}, 0, [], False),
    ('legacy-rules.legacy-save-v4.txt', {'filter': (3, 1, False, False), 'nat': (5, 1, False, False)}, 2, [], False),
    ('legacy-rules.legacy-save-v6.txt', {'filter': (3, 1, False, False)}, 1, [], False),
    ('legacy-hint.legacy-save-v4.txt', {'mangle': (6, 0, False, False), 'nat': (5, 0, False, False)}, 0,
     ['KUBE-IPTABLES-HINT', 'KUBE-KUBELET-CANARY'], True),
    ('nft-hint.nft-save-v4.txt', {'mangle': (6, 0, False, False), 'filter': (3, 1, False, False)}, 1,
     ['KUBE-IPTABLES-HINT'], True),
    ('nft-hint.nft-save-v6.txt', {'mangle': (6, 0, False, False)}, 0, ['KUBE-KUBELET-CANARY'], True),
    ('nft-incompatible.nft-save-v4.txt', {'mangle': (6, 0, False, False), 'filter': (0, 0, True, False)}, 0,
     ['KUBE-IPTABLES-HINT'], True),
    ('nft-aborted.nft-save-v4.txt', {'filter': (3, 1, True, True)}, 1, [], False),
    ('nft-base-chain.nft-save-v4.txt', {'filter': (3, 1, True, False)}, 1, [], False),
]


@pytest.mark.parametrize('name, tables, dashes, kube, wrapper', SAVE_CASES)
def test_save_parser(name, tables, dashes, kube, wrapper):
    parser = nf.SaveParser.parse(text(name))
    got = dict((n, (t.chains, t.rules, t.incompatible, t.truncated)) for n, t in parser.tables.items())
    assert got == tables
    assert parser.dash_lines == dashes
    assert parser.chain_names() == kube
    assert parser.wrapper_sees_kubelet_chains() is wrapper


def test_save_parser_streaming_equals_whole():
    whole = nf.SaveParser.parse(text('legacy-rules.legacy-save-v4.txt'))
    streamed = nf.SaveParser()
    for line in text('legacy-rules.legacy-save-v4.txt').splitlines(True):
        streamed.feed(line.rstrip('\n'))
    streamed.finish()
    assert [(n, t.as_dict()) for n, t in streamed.tables.items()] == [(n, t.as_dict()) for n, t in whole.tables.items()]


def test_save_parser_incompatible_table_is_not_empty_healthy():
    table = nf.SaveParser.parse(text('nft-incompatible.nft-save-v4.txt')).tables['filter']
    assert table.incompatible and not table.committed


def test_wrapper_regexp_is_a_prefix_match_on_declarations():
    parser = nf.SaveParser.parse('*mangle\n:KUBE-IPTABLES-HINTX - [0:0]\n-A X -m comment --comment KUBE-KUBELET-CANARY\n'
                                 'COMMIT\n')
    assert parser.wrapper_sees_kubelet_chains('mangle') and parser.chain_names() == []


@pytest.mark.parametrize('name, expected', [
    ('empty.nft-chains.json', []),
    ('nft-hint.nft-chains.json', [('ip', 'mangle', 'iptables', 1, []), ('ip', 'filter', 'iptables', 1, ['forward']),
                                  ('ip6', 'mangle', 'iptables', 1, [])]),
    ('kube-proxy-nft.nft-chains.json', [('ip', 'kube-proxy', 'kube-proxy', 2, ['prerouting']),
                                        ('ip6', 'kube-proxy', 'kube-proxy', 1, ['input']),
                                        ('inet', 'netbird', 'foreign', 1, ['input'])]),
    ('nft-base-chain.nft-chains.json', [('ip', 'filter', 'iptables', 2, ['forward', 'input'])]),
])
def test_nft_chains(name, expected):
    tables = nf.group_tables(nf.parse_nft_chains(text(name)))
    got = [(t.family, t.name, t.owner, len(t.chains), sorted(h['hook'] for h in t.as_dict()['hooks'])) for t in tables]
    assert sorted(got) == sorted(expected)


def test_nft_chains_hooks_priority_policy():
    tables = nf.group_tables(nf.parse_nft_chains(text('kube-proxy-nft.nft-chains.json')))
    netbird = [t for t in tables if t.name == 'netbird'][0].as_dict()
    assert netbird['hooks'] == [{'chain': 'input', 'hook': 'input', 'priority': 0, 'policy': 'drop', 'type': 'filter'}]
    kp = [t for t in tables if t.family == 'ip' and t.name == 'kube-proxy'][0].as_dict()
    assert kp['hooks'][0]['priority'] == -100 and kp['hooks'][0]['type'] == 'nat'


def test_incompatible_base_chain_detected():
    table = nf.group_tables(nf.parse_nft_chains(text('nft-base-chain.nft-chains.json')))[0]
    assert [c.name for c in nf.incompatible_base_chains(table)] == ['nbchain']


@pytest.mark.parametrize('bad', ['', 'not json', '[]', '{"x": 1}'])
def test_nft_json_garbage(bad):
    with pytest.raises(nf.NetfilterParseError):
        nf.parse_nft_chains(bad)


@pytest.mark.parametrize('family, name, owner', [
    ('ip', 'kube-proxy', 'kube-proxy'), ('ip6', 'kube-proxy', 'kube-proxy'), ('inet', 'kube-proxy', 'foreign'),
    ('ip', 'filter', 'iptables'), ('ip6', 'security', 'iptables'), ('ip', 'raw', 'iptables'),
    ('inet', 'filter', 'foreign'), ('bridge', 'filter', 'foreign'), ('inet', 'firewalld', 'foreign'),
    ('ip', 'netbird', 'foreign'),
])
def test_table_owner(family, name, owner):
    assert nf.table_owner(family, name) == owner


@pytest.mark.parametrize('name', ['iptables-own.nft-table.json', 'iptables-own.nft-table-ip6.json'])
def test_iptables_own_rules_are_never_flagged(name):
    _chains, rules = nf.parse_nft_rules(text(name))
    assert len(rules) >= 2
    assert [(r.handle, nf.classify_expressions(r.expr)) for r in rules if nf.classify_expressions(r.expr)] == []


MEASURED = [r for r in COMPAT['rows'] if r['added']]


@pytest.mark.parametrize('row', MEASURED, ids=['%s-%s-%s' % (r['family'], r['table'], r['expression']) for r in MEASURED])
def test_measured_compat_table(row):
    """The classifier and the data table agree with every measurement of the real iptables-nft 1.8.9."""
    hits = nf.classify_expressions(row['expr'])
    if row['class'] is None:
        assert hits == []
        assert row['check_rc'] in (0, 1) and row['save_rc'] == 0 and not row['save_incompatible_comment']
        return
    assert [h.cls for h in hits] == [row['class']]
    cls = nf.COMPAT_BY_ID[row['class']]
    assert any(row['expression'] == e or row['expression'].startswith(e.split(' {')[0]) for e in cls.examples)
    if cls.check_error is None:
        assert row['check_rc'] == 1  # -C still parses the chain ("Bad rule")
    else:
        assert row['check_rc'] == 3
        assert row['check_stderr'].splitlines()[0] == 'Error: ' + cls.error_for(row['family'])
        assert nf.expected_error(hits, row['family']) == cls.error_for(row['family'])
    if cls.listing == nf.LISTING_INCOMPATIBLE:
        assert row['save_rc'] == 0 and row['save_incompatible_comment'] and row['list_rc'] == 1
    elif cls.listing == nf.LISTING_ABORTS:
        assert row['save_rc'] == 3 and row['list_rc'] == 3 and not row['save_incompatible_comment']
        assert row['save_stderr'].splitlines()[0] == 'Error: ' + cls.error_for(row['family'])
    else:
        assert row['save_rc'] == 0 and not row['save_incompatible_comment'] and row['list_rc'] == 0
        assert nf.blocking_hits(hits) == []


def test_every_class_was_measured():
    measured = set(r['class'] for r in MEASURED)
    assert set(nf.COMPAT_BY_ID) <= measured


def test_incompatible_fixture_rule_classified_with_text():
    _chains, rules = nf.parse_nft_rules(text('nft-incompatible.nft-table.json'))
    flagged = [(r.chain, r.handle, nf.expected_error(nf.classify_expressions(r.expr), 'ip')) for r in rules
               if nf.classify_expressions(r.expr)]
    assert len(flagged) == 1 and flagged[0][0] == 'FORWARD' and flagged[0][2] == 'cmp sreg undef'
    texts = nf.parse_nft_text_handles(text('nft-incompatible.nft-table-a.txt'))
    assert texts[flagged[0][1]] == 'ct state established accept'


@pytest.mark.parametrize('expr, comment, others, writer', [
    ([{'match': {'op': '==', 'left': {'meta': {'key': 'iifname'}}, 'right': 'wt0'}}, {'accept': None}], None, [],
     'netbird'),
    ([{'accept': None}], 'managed by firewalld', [], 'firewalld'),
    ([{'accept': None}], None, [('inet', 'netbird')], 'netbird'),
    ([{'accept': None}], None, [('inet', 'something')], 'unknown'),
    ([{'match': {'op': '==', 'left': {'meta': {'key': 'oifname'}}, 'right': {'set': ['cali1', 'tailscale0']}}}],
     None, [], 'calico, tailscale'),
])
def test_writer_hint(expr, comment, others, writer):
    rule = nf.NftRule('ip', 'filter', 'FORWARD', 3, expr, comment)
    got, evidence = nf.writer_hint(rule, others)
    assert got == writer and evidence['comment'] == comment


# (nft4 mangle, nft6 mangle, legacy4, legacy6, legacy rules, nft rules, unreadable) -> go, shell
DECISIONS = [
    ((False, False, False, False, 0, 0, 0), 'nft', 'nft'),                 # empty host
    ((False, False, False, False, 5, 0, 0), 'nft', 'legacy'),              # legacy-only rules, no hint
    ((False, False, False, False, 0, 5, 0), 'nft', 'nft'),                 # nft-only rules
    ((False, False, False, False, 3, 3, 0), 'nft', 'nft'),                 # equal counts: nft
    ((True, False, False, False, 100, 1, 0), 'nft', 'nft'),                # hint in nft beats more legacy rules
    ((False, True, False, False, 100, 1, 0), 'nft', 'nft'),                # ip6 nft mangle hint
    ((False, False, True, False, 0, 100, 0), 'legacy', 'legacy'),          # hint only in legacy
    ((False, False, False, True, 0, 100, 0), 'legacy', 'legacy'),          # ip6 legacy hint
    ((True, False, True, False, 0, 0, 0), 'nft', 'nft'),                   # both: nft checked first
    ((False, False, False, False, 5, 2, 10), 'nft', 'nft'),                # unreadable rules count for nft
]


@pytest.mark.parametrize('args, go, shell', DECISIONS)
def test_decisions(args, go, shell):
    view = nf.WrapperView(*args)
    assert nf.detect_mode_go(view).mode == go
    assert nf.detect_mode_by_rule_count(view).mode == shell


def test_rule_count_reason_mentions_unreadable_flip():
    reason = nf.detect_mode_by_rule_count(nf.WrapperView(legacy_rules=5, nft_rules=2, nft_rules_unreadable=10)).reason
    assert 'would pick legacy' in reason


@pytest.mark.parametrize('state, go', [
    ('empty', 'nft'), ('legacy-rules', 'nft'), ('legacy-hint', 'legacy'), ('nft-hint', 'nft'),
    ('nft-incompatible', 'nft'),
])
def test_decision_from_captured_states(state, go):
    def parse(suffix):
        return nf.SaveParser.parse(text('%s.%s' % (state, suffix)))
    n4, n6, l4, l6 = parse('nft-save-v4.txt'), parse('nft-save-v6.txt'), parse('legacy-save-v4.txt'), \
        parse('legacy-save-v6.txt')
    view = nf.WrapperView(n4.wrapper_sees_kubelet_chains('mangle'), n6.wrapper_sees_kubelet_chains('mangle'),
                          l4.wrapper_sees_kubelet_chains(), l6.wrapper_sees_kubelet_chains(),
                          l4.dash_lines + l6.dash_lines, n4.dash_lines + n6.dash_lines)
    assert nf.detect_mode_go(view).mode == go


def test_kube_chains_by_backend():
    chains = {'nft': ['KUBE-IPTABLES-HINT', 'X'], 'legacy': ['KUBE-IPTABLES-HINT', 'KUBE-PROXY-CANARY']}
    got = nf.kube_chains_by_backend(chains)
    assert got == {'KUBE-IPTABLES-HINT': ['legacy', 'nft'], 'KUBE-KUBELET-CANARY': [], 'KUBE-PROXY-CANARY': ['legacy']}


@pytest.mark.parametrize('name, rel', [
    ('net.ipv4.ip_forward', 'proc/sys/net/ipv4/ip_forward'),
    ('net.bridge.bridge-nf-call-iptables', 'proc/sys/net/bridge/bridge-nf-call-iptables'),
    ('net.ipv4.vs.conntrack', 'proc/sys/net/ipv4/vs/conntrack'),
])
def test_sysctl_relpath(name, rel):
    assert nf.sysctl_relpath(name) == rel


@pytest.mark.parametrize('raw, value', [('1\n', 1), ('262144', 262144), ('-1', -1), ('4096\t87380', '4096\t87380')])
def test_sysctl_value(raw, value):
    assert nf.parse_sysctl_value(raw) == value


# ---------------------------------------------------------------------------------------------------------------------
# The streaming nft JSON reader (issue 17): same result as the whole-document parser, any chunking, hostile shapes

def stream_items(data, chunk, what='nft -j list table'):
    items = []
    reader = nf.NftJsonStream(items.append, what)
    raw = data.encode('utf-8') if isinstance(data, str) else data
    for start in range(0, len(raw), chunk):
        reader.feed(raw[start:start + chunk])
    reader.finish()
    return items


@pytest.mark.parametrize('name', ['kube-proxy-nft.nft-table.json', 'iptables-own.nft-table.json',
                                  'nft-incompatible.nft-table.json', 'nft-hint.nft-chains.json', 'empty.nft-chains.json'])
@pytest.mark.parametrize('chunk', [1, 3, 64, 1 << 20])
def test_stream_equals_whole(name, chunk):
    whole = json.loads(text(name))['nftables']
    assert stream_items(text(name), chunk) == [i for i in whole if isinstance(i, dict)]


@pytest.mark.parametrize('doc', [
    '{"nftables": []}', ' \n{ "nftables" : [ {"a": 1} , 2, {"b": [1, {"c": "]}"}]} ] }\n',
    '{"x": 1, "nftables": [{"a": 1}]}',  # another key first: parsed whole
    '{"nftables": [{"s": "\\u00e9\\"]"}]}',
])
def test_stream_odd_but_valid_layouts(doc):
    assert stream_items(doc, 2) == [i for i in json.loads(doc)['nftables'] if isinstance(i, dict)]


@pytest.mark.parametrize('bad', ['', '[]', '{"x": 1}', '{"nftables": [', '{"nftables": [{"a": 1} {"b": 2}]}',
                                 '{"nftables": [{"a": 1}]} trailing', 'null', '{"nftables": {}}'])
def test_stream_bad_documents_name_the_command(bad):
    with pytest.raises(nf.NetfilterParseError, match='nft -j list chains'):
        stream_items(bad, 5, 'nft -j list chains')


def test_stream_element_cap():
    reader = nf.NftJsonStream(lambda _i: None, 'nft -j list table ip x', max_item=1000)
    reader.feed(b'{"nftables": [{"chain": "')
    with pytest.raises(nf.NetfilterParseError, match='longer than 1000 bytes'):
        for _unused in range(100):
            reader.feed(b'a' * 100)


@pytest.mark.parametrize('item, message', [
    ({'chain': []}, 'not an object'), ({'chain': {'family': 'ip', 'table': 't'}}, "without 'name'"),
    ({'chain': {'family': [], 'table': 't', 'name': 'c'}}, 'family that is not a string'),
    ({'chain': {'family': 'ip', 'table': 't', 'name': 'c', 'hook': 1}}, 'hook that is not a string'),
    ({'chain': {'family': 'ip', 'table': 't', 'name': 'c', 'handle': '1'}}, 'handle that is not an integer'),
    ({'chain': {'family': 'ip', 'table': 't', 'name': 'c', 'prio': []}}, 'prio that is not a number'),
])
def test_chain_shapes(item, message):
    with pytest.raises(nf.NetfilterParseError, match=message):
        nf.chain_from_item(item, 'nft -j list chains')


@pytest.mark.parametrize('item, message', [
    ({'rule': 'x'}, 'not an object'), ({'rule': {'family': 'ip', 'table': 't'}}, "without 'chain'"),
    ({'rule': {'family': 'ip', 'table': 't', 'chain': 'c', 'expr': {}}}, 'expr is not a list'),
    ({'rule': {'family': 'ip', 'table': 't', 'chain': 'c', 'comment': 1}}, 'comment is not a string'),
])
def test_rule_shapes(item, message):
    with pytest.raises(nf.NetfilterParseError, match=message):
        nf.rule_from_item(item, 'nft -j list table ip t')


@pytest.mark.parametrize('expr', [
    [{'match': {'left': {'meta': {'key': ['skuid']}}, 'right': 0}}],
    [{'match': {'left': {'payload': {'protocol': {'x': 1}, 'field': ['f']}}, 'right': 1}}],
    [{'mangle': {'key': {'meta': ['mark']}}}], [{'mangle': {'key': {'ct': 1}}}], [{'mangle': 'x'}],
    [['accept']], [None], {'match': 1}, 'accept', 5,
])
def test_classify_hostile_shapes_flag_not_raise(expr):
    hits = nf.classify_expressions(expr)
    assert hits and all(isinstance(h, nf.ExprHit) for h in hits)
    assert nf.blocking_hits(hits)


def test_version_parser_is_the_collections_one():
    from ansible_collections.kubenode.netfilter.plugins.module_utils import _version
    assert nf.version_tuple is _version.version_tuple
    assert nf.parse_version_output('iptables v1.6.1').backend == 'legacy'
    assert nf.parse_version_output('iptables v1.8.0').backend is None


def test_stream_number_split_across_chunks():
    doc = '{"nftables": [12345, {"a": 1}, 67]}'
    seen = []
    reader = nf.NftJsonStream(seen.append, 'nft -j list chains')
    for piece in ('{"nftables": [12', '345, {"a": 1}, 6', '7]}'):
        reader.feed(piece.encode())
    reader.finish()
    assert seen == [{'a': 1}] and reader.items == 3 and json.loads(doc)
