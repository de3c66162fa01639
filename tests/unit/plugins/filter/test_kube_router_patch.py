"""The kube_router filters, called as Ansible calls them (FilterModule) and once through ansible itself."""
from __future__ import annotations

import copy
import json

import jsonpatch
import pytest
from ansible.errors import AnsibleFilterError

import kntest
from ansible_collections.kubenode.netfilter.plugins.filter.kube_router_patch import FilterModule
from kntest import k8s_standin as standin

FILTERS = FilterModule().filters()
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
