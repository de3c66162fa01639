"""The kube_router filters, called as Ansible calls them (FilterModule) and once through ansible itself."""
from __future__ import annotations

import copy
import json

import jsonpatch
import pytest
from ansible.errors import AnsibleFilterError

import kntest
from ansible_collections.kubenode.netfilter.plugins.filter import (kube_router_findings, kube_router_k0s_advice,
                                                                   kube_router_k0s_mode, kube_router_patch,
                                                                   kube_router_rollout)
from kntest import k8s_standin as standin

FILTERS = {}
for _module in (kube_router_patch, kube_router_findings, kube_router_k0s_advice, kube_router_k0s_mode,
                kube_router_rollout):
    FILTERS.update(_module.FilterModule().filters())
PATCH = FILTERS['kube_router_patch']


@pytest.mark.parametrize('name', sorted(standin.MANIFESTS))
def test_filter_roundtrip_on_real_manifests(name):
    original = standin.daemonset(name)
    ops = PATCH(original, 'wrapper')
    patched = jsonpatch.apply_patch(copy.deepcopy(original), ops)
    before = next(c for c in original['spec']['template']['spec']['containers'] if c['name'] == 'kube-router')
    after = next(c for c in patched['spec']['template']['spec']['containers'] if c['name'] == 'kube-router')
    assert after.get('args') == before.get('args')
    assert PATCH(patched) == []
    assert jsonpatch.apply_patch(patched, PATCH(patched, revert=True)) == original
    assert PATCH(original, revert='true') == []


def test_filter_from_a_multi_document_file():
    """The shared fixtures hold ConfigMap, DaemonSet, ServiceAccount, ClusterRole(Binding) in one file."""
    text = standin.MANIFESTS['kubeadm']()
    docs = [d for d in __import__('yaml').safe_load_all(text) if d]
    assert len(docs) > 3 and [d['kind'] for d in docs].count('DaemonSet') == 1
    ds = next(d for d in docs if d['kind'] == 'DaemonSet')
    assert PATCH(ds)
    with pytest.raises(AnsibleFilterError, match='not a DaemonSet'):
        PATCH(docs[0])


def test_filter_errors_are_ansible_errors():
    ds = standin.daemonset('kubeadm')
    with pytest.raises(AnsibleFilterError, match='fix must be one of'):
        PATCH(ds, 'nope')
    with pytest.raises(AnsibleFilterError, match='revert must be a boolean'):
        PATCH(ds, revert='maybe')
    with pytest.raises(AnsibleFilterError, match='k8s_info result'):
        PATCH({'resources': [ds]})
    with pytest.raises(AnsibleFilterError, match="no container named 'x'"):
        PATCH(ds, container='x')
    with pytest.raises(AnsibleFilterError, match='give the fixed image'):
        PATCH(ds, 'image')


def test_findings_filter():
    ds = standin.daemonset('k0s-bad')
    out = FILTERS['kube_router_findings']([ds], {'a': 'nft'})
    assert out[0]['severity'] == 'error' and out[0]['nodes'] == ['a']
    assert FILTERS['kube_router_findings'](ds, {'a': 'legacy'})[0]['severity'] == 'ok'
    with pytest.raises(AnsibleFilterError, match='node_modes'):
        FILTERS['kube_router_findings']([ds], ['a'])
    with pytest.raises(AnsibleFilterError, match='image_backend'):
        FILTERS['kube_router_findings']([ds], {}, image_backend='bogus')


def test_k0s_filters():
    ds = standin.daemonset('k0s-bad')
    advice = FILTERS['kube_router_k0s_advice'](ds)
    assert 'spec.network.kuberouter.patches' in advice['message']
    mode = FILTERS['kube_router_k0s_mode']({'kube_chains': {'KUBE-IPTABLES-HINT': ['nft']}}, '6.1.0')
    assert mode == {'mode': 'nft', 'reason': mode['reason'], 'steps': []}
    with pytest.raises(AnsibleFilterError, match='netfilter_backend_facts'):
        FILTERS['kube_router_k0s_mode'](None)


def test_filter_through_ansible(ansible_env, tmp_path):
    """FQCN resolution and Ansible's own data types (lazy containers) on the way in."""
    ds = standin.daemonset('k0s')
    (tmp_path / 'ds.json').write_text(json.dumps(ds))
    playbook = tmp_path / 'p.yml'
    playbook.write_text(
        '- hosts: localhost\n  gather_facts: false\n  tasks:\n'
        '    - ansible.builtin.copy:\n'
        "        content: \"{{ lookup('file', '%s') | from_json | kubenode.netfilter.kube_router_patch | to_json }}\"\n"
        "        dest: '%s'\n" % (tmp_path / 'ds.json', tmp_path / 'out.json'))
    kntest.run([kntest.ansible_bin('ansible-playbook'), '-i', 'localhost,', '-c', 'local', '-e',
                'ansible_python_interpreter=/usr/bin/python3', str(playbook)], env=ansible_env)
    ops = json.loads((tmp_path / 'out.json').read_text())
    assert ops == PATCH(ds)


# ---------------------------------------------------------------------------------------------------------------------
# wrong-typed input is an AnsibleFilterError naming the key (issue 17 #7 and the tracebacks), never a traceback

def _mutated(path, value):
    ds = copy.deepcopy(standin.daemonset('k0s-bad'))
    node = ds
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return ds


C0 = ('spec', 'template', 'spec', 'containers', 0)


@pytest.mark.parametrize('path, value, message', [
    (C0 + ('command',), '/usr/local/bin/kube-router --run-router',
     r"containers\[0\]\.command must be a list of strings, got a string"),
    (C0 + ('args',), '--run-router=true', r'containers\[0\]\.args must be a list of strings, got a string'),
    (C0 + ('command',), ['/bin/kube-router', 7], r'containers\[0\]\.command\[1\] must be a string, got a number'),
    (C0 + ('image',), ['quay.io/x'], r'containers\[0\]\.image must be a string, got a list'),
    (C0 + ('name',), {'a': 1}, r'containers\[0\]\.name must be a string, got a mapping'),
    (C0, 'kube-router', r'containers\[0\] must be an object, got a string'),
    (('metadata',), ['kube-router'], 'metadata must be a mapping, got a list'),
    (('metadata', 'annotations'), 'x=y', 'metadata.annotations must be a mapping of strings, got a string'),
    (('metadata', 'annotations'), {'kubenode.netfilter/original-command': {'container': 'x'}},
     r"metadata.annotations\['kubenode.netfilter/original-command'\] must be a string, got a mapping"),
    (('metadata', 'generation'), '3', 'metadata.generation must be an integer, got a string'),
    (('metadata', 'name'), 5, 'metadata.name must be a string, got a number'),
    (('spec', 'template'), [], 'spec.template must be a mapping, got a list'),
    (('spec', 'template', 'spec', 'containers'), {'kube-router': {}},
     'containers must be a list of objects, got a mapping'),
    (('kind',), ['DaemonSet'], 'kind must be a string, got a list'),
])
@pytest.mark.parametrize('name', ['kube_router_patch', 'kube_router_k0s_advice', 'kube_router_findings'])
def test_wrong_typed_daemonset_names_the_key(name, path, value, message):
    args = ({},) if name == 'kube_router_findings' else ()
    with pytest.raises(AnsibleFilterError, match=message):
        FILTERS[name](_mutated(path, value), *args)


def test_string_command_is_not_split_into_characters():
    """Issue 17 #7: a string command once became ['/', 'b', 'i', 'n', ...] in the patch."""
    ds = _mutated(C0 + ('command',), '/usr/local/bin/kube-router')
    with pytest.raises(AnsibleFilterError, match='write it as a YAML list'):
        PATCH(ds, 'wrapper')
    with pytest.raises(AnsibleFilterError, match='write it as a YAML list'):
        FILTERS['kube_router_k0s_advice'](ds)


@pytest.mark.parametrize('fix', ['bogus', '', None, ['wrapper']])
def test_k0s_advice_rejects_an_unknown_fix(fix):
    with pytest.raises(AnsibleFilterError, match='fix must be one of wrapper, image'):
        FILTERS['kube_router_k0s_advice'](standin.daemonset('k0s-bad'), fix=fix)


@pytest.mark.parametrize('facts, message', [
    ({'kube_chains': ['KUBE-IPTABLES-HINT']}, 'kube_chains must be a mapping chain -> backends, got a list'),
    ({'kube_chains': {'KUBE-IPTABLES-HINT': 'nft'}}, r"kube_chains\['KUBE-IPTABLES-HINT'\] must be a list"),
    ({'kube_chains': {'KUBE-IPTABLES-HINT': [1]}}, r"kube_chains\['KUBE-IPTABLES-HINT'\]\[0\] must be a backend"),
    ({'backends': []}, 'backends must be a mapping, got a list'),
    ({'backends': {'legacy': {'ipv4': {'tables': {'filter': {'chains': 'many'}}}}}},
     r"backends.legacy.ipv4.tables\['filter'\].chains must be an integer, got a string"),
    ({'backends': {'nft': {'ipv6': {'tables': ['filter']}}}}, 'backends.nft.ipv6.tables must be a mapping'),
    ({'backends': {'nft': {'ipv6': {'tables': {'filter': 3}}}}}, r"tables\['filter'\] must be a mapping"),
    ({'iptables': 'iptables v1.8.9 (nf_tables)'}, 'iptables must be a mapping, got a string'),
    ({'iptables': {'path': ['/usr/sbin/iptables']}}, 'iptables.path must be a string, got a list'),
    ([], 'netfilter_backend_facts'),
])
def test_k0s_mode_wrong_types_name_the_key(facts, message):
    with pytest.raises(AnsibleFilterError, match=message):
        FILTERS['kube_router_k0s_mode'](facts)


def test_k0s_mode_kernel_release_must_be_a_string():
    with pytest.raises(AnsibleFilterError, match='kernel_release must be a string'):
        FILTERS['kube_router_k0s_mode']({}, 6)


@pytest.mark.parametrize('modes, message', [
    ({'a': ['nft']}, r"node_modes\['a'\] must be a mode"),
    ({'a': 5}, r"node_modes\['a'\] must be a mode \(nft, legacy\) or null, got a number"),
])
def test_findings_node_modes_wrong_types(modes, message):
    with pytest.raises(AnsibleFilterError, match=message):
        FILTERS['kube_router_findings']([standin.daemonset('k0s-bad')], modes)
    with pytest.raises(AnsibleFilterError, match=message.replace('node_modes', 'k0s_modes')):
        FILTERS['kube_router_findings']([standin.daemonset('k0s-bad')], {}, distribution='k0s', k0s_modes=modes)


def _status(ready, desired, updated, generation=2, observed=2, name='kube-router'):
    return {'metadata': {'namespace': 'kube-system', 'name': name, 'generation': generation},
            'status': {'desiredNumberScheduled': desired, 'numberReady': ready, 'updatedNumberScheduled': updated,
                       'observedGeneration': observed}}


@pytest.mark.parametrize('ds, lines', [
    (_status(3, 3, 3), []),
    (_status(0, 3, 0), ['kube-system/kube-router: 0 of 3 pods ready, 0 updated']),
    (_status(3, 3, 2), ['kube-system/kube-router: 3 of 3 pods ready, 2 updated']),
    (_status(3, 3, 3, generation=3, observed=2),
     ['kube-system/kube-router: 3 of 3 pods ready, 3 updated, generation 3 not yet observed (observed 2)']),
    ({'metadata': {'namespace': 'kube-system', 'name': 'kube-router'}}, []),  # no status, nothing desired
])
def test_rollout_filter(ds, lines):
    assert FILTERS['kube_router_rollout']([ds]) == lines


def test_rollout_filter_reports_a_daemonset_not_read_back_and_bad_types():
    assert FILTERS['kube_router_rollout']([], ['kube-system/kube-router']) == [
        'kube-system/kube-router: not found when reading the rollout back']
    assert FILTERS['kube_router_rollout']([_status(1, 1, 1)], [_status(0, 0, 0)]) == []
    with pytest.raises(AnsibleFilterError, match='status.numberReady must be an integer, got a string'):
        FILTERS['kube_router_rollout'](_status('3', 3, 3))
    with pytest.raises(AnsibleFilterError, match='expected must be a list'):
        FILTERS['kube_router_rollout']([], 'kube-system/kube-router')
