"""_kube_router on real kube-router manifests (tests/fixtures/kube-router, ../shared/fixtures/kube-router)."""
from __future__ import annotations

import copy
import json
import subprocess

import jsonpatch
import pytest
import yaml

from ansible_collections.kubenode.netfilter.plugins.module_utils import _kube_router as kr
from kntest import k8s_standin as standin

REAL = sorted(standin.MANIFESTS)


def derived_not_first():
    """Typhoon's DaemonSet with kube-router moved after install-cni (derived: no real manifest has that order)."""
    ds = standin.daemonset('typhoon')
    cs = ds['spec']['template']['spec']['containers']
    cs.reverse()
    return ds


def derived_with_command():
    """kubeadm's DaemonSet with the image ENTRYPOINT spelt out as command (derived: no real manifest sets it)."""
    ds = standin.daemonset('kubeadm')
    ds['spec']['template']['spec']['containers'][0]['command'] = ['/usr/local/bin/kube-router', '--v=2']
    return ds


CASES = [(name, lambda name=name: standin.daemonset(name)) for name in REAL] + [
    ('derived-not-first', derived_not_first), ('derived-with-command', derived_with_command)]


def apply(obj, patch):
    return jsonpatch.JsonPatch(patch).apply(copy.deepcopy(obj))


def kr_container(obj):
    return kr.select_container(obj)[1]


@pytest.mark.parametrize('reference, registry, repository, tag, digest', [
    ('quay.io/k0sproject/kube-router:v2.2.1-iptables1.8.9-0', 'quay.io', 'k0sproject/kube-router',
     'v2.2.1-iptables1.8.9-0', None),
    ('docker.io/cloudnativelabs/kube-router', 'docker.io', 'cloudnativelabs/kube-router', None, None),
    ('cloudnativelabs/kube-router:v0.3.2', 'docker.io', 'cloudnativelabs/kube-router', 'v0.3.2', None),
    ('busybox', 'docker.io', 'library/busybox', None, None),
    ('localhost:5000/kube-router:dev', 'localhost:5000', 'kube-router', 'dev', None),
    ('index.docker.io/cloudnativelabs/kube-router:v2.1.1', 'docker.io', 'cloudnativelabs/kube-router', 'v2.1.1', None),
    ('quay.io/k0sproject/kube-router:v2.2.1-iptables1.8.9-1@sha256:' + 'a' * 64, 'quay.io', 'k0sproject/kube-router',
     'v2.2.1-iptables1.8.9-1', 'sha256:' + 'a' * 64),
    ('registry.example:443/a/b/kube-router@sha256:' + 'b' * 64, 'registry.example:443', 'a/b/kube-router', None,
     'sha256:' + 'b' * 64),
])
def test_parse_image(reference, registry, repository, tag, digest):
    ref = kr.parse_image(reference)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)


@pytest.mark.parametrize('reference', ['', 'UPPER/case', 'quay.io/x:bad tag', 'x@sha256:short', None])
def test_parse_image_rejects(reference):
    with pytest.raises(kr.KubeRouterError):
        kr.parse_image(reference)


def test_known_bad_image_catalog():
    entry = kr.known_image('quay.io/k0sproject/kube-router:v2.2.1-iptables1.8.9-0')
    assert entry is not None and entry.backend == 'legacy' and entry.fixed_tag == 'v2.2.1-iptables1.8.9-1'
    assert any('5328' in s for s in entry.sources) and any('5348' in s for s in entry.sources)
    assert kr.default_fixed_image('quay.io/k0sproject/kube-router:v2.2.1-iptables1.8.9-0') == \
        'quay.io/k0sproject/kube-router:v2.2.1-iptables1.8.9-1'
    for good in ('quay.io/k0sproject/kube-router:v2.2.1-iptables1.8.9-1', 'docker.io/cloudnativelabs/kube-router:v2.2.1',
                 'quay.io/k0sproject/kube-router@sha256:' + 'c' * 64):
        assert kr.known_image(good) is None


@pytest.mark.parametrize('name, make', CASES, ids=[c[0] for c in CASES])
def test_container_selection(name, make):
    obj = make()
    index, container = kr.select_container(obj)
    assert obj['spec']['template']['spec']['containers'][index] == container
    assert container['name'] == 'kube-router'
    if name == 'derived-not-first':
        assert index == 1


def test_container_selection_by_image_and_errors():
    obj = standin.daemonset('kubeadm')
    obj['spec']['template']['spec']['containers'][0]['name'] = 'router'
    assert kr.select_container(obj)[1]['name'] == 'router'
    with pytest.raises(kr.KubeRouterError, match='no container named'):
        kr.select_container(obj, 'nope')
    obj['spec']['template']['spec']['containers'][0]['image'] = 'busybox'
    with pytest.raises(kr.KubeRouterError, match='pass container='):
        kr.select_container(obj)
    with pytest.raises(kr.KubeRouterError, match='not a DaemonSet'):
        kr.build_patch({'kind': 'ConfigMap'})
    with pytest.raises(kr.KubeRouterError, match='a dict'):
        kr.build_patch(['x'])


@pytest.mark.parametrize('program', [kr.DEFAULT_PROGRAM, None])
def test_script_is_valid_sh_and_survives_kubelet_expansion(program):
    script = kr.wrapper_script(program)
    assert '$(' not in script and '$$' not in script  # the kubelet would expand / reduce those
    proc = subprocess.run(['/bin/sh', '-n', '-c', script], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert script.rstrip().splitlines()[-1] == ('exec "$@"' if program is None else 'exec %s "$@"' % program)


@pytest.mark.parametrize('name, make', CASES, ids=[c[0] for c in CASES])
def test_wrapper_patch_keeps_args_is_idempotent_and_reverts_exactly(name, make):
    original = make()
    before = copy.deepcopy(original)
    patch = kr.build_patch(original, fix='wrapper')
    assert original == before  # pure
    assert patch and all(op['op'] == 'test' for op in patch[:2]) and patch[-1]['op'] == 'add'
    first_change = next(i for i, op in enumerate(patch) if op['op'] != 'test')
    assert all(op['op'] != 'test' for op in patch[first_change:])
    patched = apply(original, patch)
    old_c, new_c = kr_container(original), kr_container(patched)
    assert new_c.get('args') == old_c.get('args')  # every arg, same order, same bytes
    assert new_c['image'] == old_c['image']
    cmd = new_c['command']
    assert cmd[:2] == ['/bin/sh', '-c'] and cmd[3] == 'kube-router'
    if old_c.get('command'):
        assert cmd[4:] == old_c['command'] and cmd[2].rstrip().endswith('exec "$@"')
    else:
        assert len(cmd) == 4 and cmd[2].rstrip().endswith('exec /usr/local/bin/kube-router "$@"')
    others_old = [c for c in original['spec']['template']['spec']['containers'] if c['name'] != 'kube-router']
    others_new = [c for c in patched['spec']['template']['spec']['containers'] if c['name'] != 'kube-router']
    assert others_new == others_old
    record = json.loads(patched['metadata']['annotations'][kr.ANNOTATION])
    assert record['command'] == old_c.get('command') and record['args'] == old_c.get('args')
    assert kr.build_patch(patched, fix='wrapper') == []
    revert = kr.build_patch(patched, revert=True)
    assert apply(patched, revert) == original
    assert kr.build_patch(original, revert=True) == []


@pytest.mark.parametrize('name', ['k0s-bad', 'k0s'])
def test_image_patch(name):
    original = standin.daemonset(name)
    if name == 'k0s':
        with pytest.raises(kr.KubeRouterError, match='give the fixed image'):
            kr.build_patch(original, fix='image')
        patch = kr.build_patch(original, fix='image', image='quay.io/k0sproject/kube-router:v2.10.0-iptables1.8.13-k0s.1')
    else:
        patch = kr.build_patch(original, fix='image')
    patched = apply(original, patch)
    c = kr_container(patched)
    assert c['image'] in ('quay.io/k0sproject/kube-router:v2.2.1-iptables1.8.9-1',
                          'quay.io/k0sproject/kube-router:v2.10.0-iptables1.8.13-k0s.1')
    assert c['args'] == kr_container(original)['args'] and 'command' not in c
    assert kr.build_patch(patched, fix='image') == []
    assert apply(patched, kr.build_patch(patched, revert=True)) == original


def server_copy(obj, generation=7):
    obj = copy.deepcopy(obj)
    obj['metadata'].update({'generation': generation, 'resourceVersion': '42',
                            'annotations': {'k0s.k0sproject.io/stack-checksum': 'abc'}})
    return obj


@pytest.mark.parametrize('change', ['image', 'command', 'args', 'generation_only'])
def test_guards_fail_on_concurrent_change(change):
    live = server_copy(standin.daemonset('k0s-bad'))
    patch = kr.build_patch(live, fix='wrapper')
    assert {'op': 'test', 'path': '/metadata/generation', 'value': 7} in patch
    other = copy.deepcopy(live)
    c = other['spec']['template']['spec']['containers'][0]
    if change == 'image':
        c['image'] = 'quay.io/k0sproject/kube-router:v2.2.1-iptables1.8.9-1'
    elif change == 'command':
        c['command'] = ['/usr/local/bin/kube-router']
    elif change == 'args':
        c['args'] = c['args'][1:]
    other['metadata']['generation'] = 8  # the API server bumps it on every spec change
    with pytest.raises(jsonpatch.JsonPatchTestFailed):
        jsonpatch.JsonPatch(patch).apply(other)


def test_revert_guard_fails_when_command_changed_meanwhile():
    live = server_copy(standin.daemonset('kubeadm'))
    patched = apply(live, kr.build_patch(live))
    revert = kr.build_patch(patched, revert=True)
    patched['spec']['template']['spec']['containers'][0]['command'] = ['/other']
    with pytest.raises(jsonpatch.JsonPatchTestFailed):
        jsonpatch.JsonPatch(revert).apply(patched)


def test_k0s_merge_patch_drops_command_then_repatch_and_revert():
    """k0s's applier sends a merge patch that replaces the containers list: the command goes, the annotation stays."""
    live = server_copy(standin.daemonset('k0s-bad'))
    patched = apply(live, kr.build_patch(live))
    upgraded = copy.deepcopy(patched)
    upgraded['spec']['template']['spec']['containers'] = copy.deepcopy(
        standin.daemonset('k0s')['spec']['template']['spec']['containers'])  # RFC 7386: lists are replaced
    assert kr.ANNOTATION in upgraded['metadata']['annotations']
    again = kr.build_patch(upgraded)
    assert again, 'a dropped wrapper must be put back'
    fixed = apply(upgraded, again)
    assert kr.is_wrapper_command(kr_container(fixed)['command'])
    assert kr_container(fixed)['args'] == kr_container(upgraded)['args']
    restored = apply(fixed, kr.build_patch(fixed, revert=True))
    assert 'command' not in kr_container(restored)
    assert restored['metadata']['annotations'] == {'k0s.k0sproject.io/stack-checksum': 'abc'}


def test_bad_annotation_is_a_clear_error():
    obj = standin.daemonset('kubeadm')
    obj['metadata']['annotations'] = {kr.ANNOTATION: 'not json'}
    with pytest.raises(kr.KubeRouterError, match='is not JSON'):
        kr.build_patch(obj)


def test_findings_error_names_nodes_image_and_both_fixes():
    ds = standin.daemonset('k0s-bad')
    out = kr.findings([ds], {'n1': 'nft', 'n2': 'legacy', 'n3': 'nft'}, distribution='k0s')
    err = [f for f in out if f.severity == 'error']
    assert len(err) == 1 and err[0].id == 'kube_router.image_backend_mismatch'
    assert err[0].nodes == ('n1', 'n3')
    assert 'n1, n3' in err[0].message and 'quay.io/k0sproject/kube-router:v2.2.1-iptables1.8.9-0' in err[0].message
    assert 'kubenode_kube_router_fix: image' in err[0].fix and 'kubenode_kube_router_fix: wrapper' in err[0].fix
    assert 'v2.2.1-iptables1.8.9-1' in err[0].fix
    assert [f.severity for f in kr.findings([ds], {'n2': 'legacy'})] == ['ok']
    upstream = standin.daemonset('kubeadm')
    assert [f.id for f in kr.findings([upstream], {'n1': 'nft'})] == ['kube_router.image_ok']
    forced = kr.findings([upstream], {'n1': 'nft'}, image_backend='legacy')
    assert forced[0].severity == 'error' and 'kubenode_kube_router_image_backend' in forced[0].message
    patched = apply(ds, kr.build_patch(ds))
    assert [f.id for f in kr.findings([patched], {'n1': 'nft'})] == ['kube_router.wrapper_installed']
    unknown = kr.findings([ds], {'n1': None})
    assert unknown[0].id == 'kube_router.node_mode_unknown'
    assert [f.id for f in kr.findings([], {})] == ['kube_router.not_found']
    mism = kr.findings([upstream], {'n1': 'nft'}, distribution='k0s', k0s_modes={'n1': 'legacy'})
    assert any(f.id == 'k0s.iptables_mode_mismatch' and f.nodes == ('n1',) for f in mism)


def fam(tables):
    return {'tables': dict((n, {'chains': c, 'rules': r, 'incompatible': False}) for n, c, r in tables),
            'kernel_tables': [t[0] for t in tables]}


def facts(hint=(), legacy=(), nft=(), iptables_backend='nft', legacy_kernel=True):
    lg, lg6 = fam(legacy), fam(())
    if not legacy_kernel:  # no /proc/net/ip*_tables_names: the legacy saves fail
        lg['kernel_tables'] = lg6['kernel_tables'] = None
    return {
        'kube_chains': {'KUBE-IPTABLES-HINT': list(hint), 'KUBE-KUBELET-CANARY': [], 'KUBE-PROXY-CANARY': []},
        'backends': {'legacy': {'available': legacy_kernel, 'error': None, 'ipv4': lg, 'ipv6': lg6},
                     'nft': {'available': True, 'error': None, 'ipv4': fam(nft), 'ipv6': fam(())}},
        'iptables': ({'path': '/usr/sbin/iptables', 'backend': iptables_backend, 'error': None}
                     if iptables_backend else None),
    }


@pytest.mark.parametrize('netfilter, kernel, mode, why', [
    (facts(hint=['nft', 'legacy']), '6.1.0', 'nft', 'iptables-nft save'),
    (facts(hint=['legacy']), '6.1.0', 'legacy', 'legacy save'),
    (facts(legacy=[('filter', 3, 10)], nft=[('filter', 3, 2)]), '6.1.0', 'legacy', 'longer'),
    (facts(legacy=[('filter', 3, 2)], nft=[('filter', 3, 10)], iptables_backend='legacy'), '6.1.0', 'legacy',
     '--version'),
    (facts(legacy=[('filter', 3, 10)], nft=[('filter', 3, 2)], legacy_kernel=False), '6.1.0', 'nft', '--version'),
    (facts(iptables_backend=None), '4.18.0-553.el8', 'legacy', 'first digit'),
    (facts(iptables_backend=None), '6.1.0', 'nft', 'first digit'),
    (facts(iptables_backend=None), '10.0.1', 'legacy', 'first digit'),  # k0s reads only the first byte
    (facts(iptables_backend=None), None, None, 'unknown'),
])
def test_k0s_iptables_mode(netfilter, kernel, mode, why):
    decision = kr.k0s_iptables_mode(netfilter, kernel)
    assert decision.mode == mode
    assert why in decision.reason


def test_k0s_advice_snippets_are_exact_and_apply():
    ds = standin.daemonset('k0s-bad')
    advice = kr.k0s_advice(ds)
    images = yaml.safe_load(advice['images_yaml'])
    assert images == {'spec': {'images': {'kuberouter': {'cni': {
        'image': 'quay.io/k0sproject/kube-router', 'version': 'v2.2.1-iptables1.8.9-1'}}}}}
    patches = yaml.safe_load(advice['patches_yaml'])['spec']['network']['kuberouter']['patches']
    assert patches[0]['target'] == {'kind': 'DaemonSet', 'name': 'kube-router', 'namespace': 'kube-system'}
    assert patches[0]['patch']['type'] == 'JSON'
    ops = json.loads(patches[0]['patch']['content'])
    rendered = apply(ds, ops)  # k0s applies it to the manifest it renders
    assert kr.is_wrapper_command(kr_container(rendered)['command'])
    assert kr_container(rendered)['args'] == kr_container(ds)['args']
    assert 'merge patch' in advice['message'] and 'v1.31.3' in advice['message'] and 'v1.36.1' in advice['message']
    assert 'Never delete' in advice['message']
