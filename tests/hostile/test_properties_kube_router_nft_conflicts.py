# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Property tests (hypothesis, issue 17): random JSON shapes and text into the kube_router filters and the
nft_conflicts parsers. Each either answers or raises its own clear error (AnsibleFilterError / ConflictError with a
message), never another exception; and whatever a rule's comment holds, the undo file gives it back as data.

Random values are of two kinds: any JSON value, and a real input (a kube-router DaemonSet from the fixtures, a
captured `nft -j` chain) with one node somewhere replaced by any JSON value, which reaches deeper than noise.
"""
from __future__ import annotations

import copy
import json

import pytest

hypothesis = pytest.importorskip('hypothesis')
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ansible.errors import AnsibleFilterError  # noqa: E402

from ansible_collections.kubenode.netfilter.plugins.filter import (kube_router_findings, kube_router_k0s_advice,  # noqa: E402
                                                                   kube_router_k0s_mode, kube_router_patch)
from ansible_collections.kubenode.netfilter.plugins.module_utils import _nft_conflicts as nc  # noqa: E402
from kntest import k8s_standin as standin  # noqa: E402

FILTERS = {}
for _module in (kube_router_patch, kube_router_findings, kube_router_k0s_advice, kube_router_k0s_mode):
    FILTERS.update(_module.FilterModule().filters())
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 40, 2 ** 40) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20)


def _paths(value, prefix=()):
    """Every path (tuple of keys / indexes) into a JSON value, the root included."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


def _replace(value, path, new):
    if not path:
        return new
    out = copy.deepcopy(value)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = new
    return out


def mutations(base):
    paths = list(_paths(base))
    return st.tuples(st.sampled_from(paths), JSON).map(lambda pair: _replace(base, pair[0], pair[1]))


DAEMONSETS = [standin.daemonset(name) for name in ('k0s-bad', 'kubeadm')]
DS_INPUT = st.sampled_from(DAEMONSETS).flatmap(mutations) | JSON


def _filter_call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except AnsibleFilterError as exc:
        assert str(exc).startswith('kubenode.netfilter.'), exc
        return None


@SETTINGS
@given(ds=DS_INPUT, fix=st.sampled_from(['wrapper', 'image']) | JSON, revert=st.booleans())
def test_kube_router_patch_never_raises_anything_else(ds, fix, revert):
    out = _filter_call(FILTERS['kube_router_patch'], ds, fix=fix, revert=revert)
    assert out is None or isinstance(out, list)


@SETTINGS
@given(ds=DS_INPUT, fix=st.sampled_from(['wrapper', 'image']) | JSON)
def test_kube_router_k0s_advice_never_raises_anything_else(ds, fix):
    out = _filter_call(FILTERS['kube_router_k0s_advice'], ds, fix=fix)
    assert out is None or isinstance(out['message'], str)


@SETTINGS
@given(ds=DS_INPUT | st.lists(DS_INPUT, max_size=2), modes=JSON, k0s=JSON)
def test_kube_router_findings_never_raises_anything_else(ds, modes, k0s):
    out = _filter_call(FILTERS['kube_router_findings'], ds, modes, distribution='k0s', k0s_modes=k0s)
    assert out is None or all(isinstance(f['message'], str) for f in out)


NETFILTER = {
    'kube_chains': {'KUBE-IPTABLES-HINT': ['legacy'], 'KUBE-KUBELET-CANARY': []},
    'backends': {'legacy': {'ipv4': {'tables': {'filter': {'chains': 3, 'rules': 2, 'incompatible': False}},
                                     'kernel_tables': ['filter']}, 'ipv6': {'tables': {}}},
                 'nft': {'ipv4': {'tables': {'nat': {'chains': 5, 'rules': 9}}}, 'available': True}},
    'iptables': {'path': '/usr/sbin/iptables', 'backend': 'nft', 'version': '1.8.9'},
}


@SETTINGS
@given(facts=mutations(NETFILTER) | JSON, release=st.none() | st.text(max_size=8) | JSON)
def test_kube_router_k0s_mode_never_raises_anything_else(facts, release):
    out = _filter_call(FILTERS['kube_router_k0s_mode'], facts, release)
    assert out is None or out['mode'] in ('nft', 'legacy', None)


# ---------------------------------------------------------------------------------------------------------------------
# nft_conflicts parsers

CHAIN = {'nftables': [
    {'metainfo': {'version': '1.0.6', 'release_name': 'Lester Gooch #5', 'json_schema_version': 1}},
    {'chain': {'family': 'ip', 'table': 'filter', 'name': 'FORWARD', 'handle': 1, 'type': 'filter', 'hook': 'forward',
               'prio': 0, 'policy': 'accept'}},
    {'rule': {'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': 2, 'expr': [
        {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'saddr'}}, 'right': '10.0.0.1'}},
        {'counter': {'packets': 0, 'bytes': 0}}, {'accept': None}]}},
    {'rule': {'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': 3, 'comment': 'netbird', 'expr': [
        {'match': {'op': 'in', 'left': {'ct': {'key': 'state'}}, 'right': 'established'}}, {'accept': None}]}},
]}


def _plan_or_error(text):
    try:
        state = nc.chain_state('ip', 'filter', 'FORWARD', text, '')
    except nc.ConflictError as exc:
        assert str(exc)
        return None
    plan = nc.build_plan([nc.RuleRef('ip', 'filter', 'FORWARD', 3), nc.RuleRef('ip', 'filter', 'FORWARD', 2)],
                         {state.key: state})
    return plan, {state.key: state}


@SETTINGS
@given(doc=mutations(CHAIN) | JSON)
def test_chain_parser_and_plan_never_raise_anything_else(doc):
    result = _plan_or_error(json.dumps(doc))
    if result is None:
        return
    plan, chains = result
    for decision in plan.decisions:
        decision.as_dict()
    if plan.remove:
        undo = nc.undo_text(plan, chains)
        nc.check_undo(undo, plan, chains)  # the file built must always pass its own round trip
        json.loads(nc.validation_text(plan))
    index = nc.ruleset_index(json.dumps(doc)) if isinstance(doc, dict) and isinstance(doc.get('nftables'), list) \
        else None
    assert index is None or isinstance(index, dict)


@SETTINGS
@given(text=st.text(max_size=200) | st.sampled_from([
    '{"nftables": [', '{"nftables": []}x', '{"nftables": [1,]}', '{"nftables": [{}] }', ' {"nftables" : [ ] } ']))
def test_nft_json_reader_on_any_text(text):
    try:
        list(nc.iter_nft_items(text, 'test'))
        nc.ruleset_index(text)
    except nc.ConflictError as exc:
        assert str(exc).startswith('test: ') or str(exc).startswith('nft -j list ruleset: ')


@SETTINGS
@given(doc=mutations(CHAIN))
def test_streaming_reader_agrees_with_json_loads(doc):
    """The item-by-item reader sees exactly what json.loads sees, compact or pretty-printed."""
    items = doc.get('nftables') if isinstance(doc, dict) else None
    expected = [(k, v) for item in (items if isinstance(items, list) else [])
                for k, v in (item.items() if isinstance(item, dict) and len(item) == 1 else ())
                if isinstance(v, dict)]
    for text in (json.dumps(doc), json.dumps(doc, indent=2)):
        try:
            got = list(nc.iter_nft_items(text, 'test'))
        except nc.ConflictError:
            assert not (isinstance(doc, dict) and isinstance(doc.get('nftables'), list)), doc
            continue
        assert got == expected


@SETTINGS
@given(items=st.lists(mutations({'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': 3,
                                 'fingerprint': 'sha256:' + '0' * 64}) | JSON, max_size=4))
def test_parse_refs_never_raises_anything_else(items):
    try:
        refs = nc.parse_refs(items)
    except nc.ConflictError as exc:
        assert str(exc).startswith('invalid rules: ')
        return
    assert all(isinstance(r.handle, int) and r.handle > 0 for r in refs)


@SETTINGS
@given(comment=st.text(max_size=80))
def test_any_comment_comes_back_as_data(comment):
    """Issue 17 #1 as a property: whatever the comment holds, the undo file is JSON whose only commands re-add the
    removed rule, its comment unchanged."""
    doc = copy.deepcopy(CHAIN)
    doc['nftables'][3]['rule']['comment'] = comment
    plan, chains = _plan_or_error(json.dumps(doc))
    assert [d.ref.handle for d in plan.remove] == [3]
    undo = nc.undo_text(plan, chains)
    nc.check_undo(undo, plan, chains)
    commands = json.loads(undo)['nftables'][1:]
    assert commands == [{'add': {'rule': {'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'comment': comment,
                                          'expr': CHAIN['nftables'][3]['rule']['expr']}}}]
    baseline, _chains = _plan_or_error(json.dumps(CHAIN))
    assert nc.readme_text(plan, 'now', 'undo.json') == nc.readme_text(baseline, 'now', 'undo.json')


def _nft_filters():
    from ansible_collections.kubenode.netfilter.plugins.filter import (nft_conflicts_refs, nft_conflicts_report,
                                                                       nft_conflicts_verify, nft_conflicts_versions)
    out = {}
    for mod in (nft_conflicts_refs, nft_conflicts_report, nft_conflicts_verify, nft_conflicts_versions):
        out.update(mod.FilterModule().filters())
    return out


NFT_FILTERS = _nft_filters()
PARSE_ERRORS = [{'family': 'ip', 'table': 'filter', 'chain': 'FORWARD', 'handle': 3, 'rule': 'ct state established',
                 'expressions': [{'class': 'ct', 'expression': 'ct state'}]}]
FACTS = {'iptables_nft_parse_errors': PARSE_ERRORS, 'iptables_nft': {'path': '/usr/sbin/iptables-nft',
                                                                     'version': '1.8.9'},
         'bundled': {'/k3s/bin': {'iptables': {'version': '1.8.8'}}},
         'nft_tables': [{'family': 'ip', 'name': 'filter', 'owner': 'iptables', 'chains': 3, 'hooks': [], 'rules': 3}]}
RESULT = {'rules': [dict(PARSE_ERRORS[0], action='remove')], 'verification': {'elsewhere': []}, 'backup': None}


@SETTINGS
@given(errors=mutations(PARSE_ERRORS) | JSON, preview=mutations(RESULT['rules']) | JSON, listed=JSON, msg=JSON)
def test_nft_conflicts_report_and_refs_never_raise_anything_else(errors, preview, listed, msg):
    out = _filter_call(NFT_FILTERS['nft_conflicts_report'], errors, preview, listed, msg)
    assert out is None or all(isinstance(line, str) for line in out)
    out = _filter_call(NFT_FILTERS['nft_conflicts_refs'], errors)
    assert out is None or all(set(item) == {'family', 'table', 'chain', 'handle'} for item in out)


@SETTINGS
@given(after=mutations(FACTS) | JSON, before=mutations(FACTS), result=mutations(RESULT) | JSON, image=JSON)
def test_nft_conflicts_verify_and_versions_never_raise_anything_else(after, before, result, image):
    out = _filter_call(NFT_FILTERS['nft_conflicts_verify'], after, before, PARSE_ERRORS, result)
    assert out is None or isinstance(out['ok'], bool)
    out = _filter_call(NFT_FILTERS['nft_conflicts_versions'], after, image)
    assert out is None or all(len(row) == 2 for row in out)
