"""The kube_router role through ansible-playbook against the Kubernetes API STAND-IN (tests/kntest/k8s_standin.py).

The stand-in is not Kubernetes: a local HTTP server (127.0.0.1, bounded lifetime) serving discovery documents and
apps/v1 DaemonSet GET/list/PATCH (JSON patch with `test` -> 422, dryRun=All). The role runs with a kubeconfig that
points at it; the DaemonSet is the real k0s manifest rendered with its defaults and the known-bad image.
"""
from __future__ import annotations

import copy
import json
import re

import pytest

import kntest
from ansible_collections.kubenode.netfilter.plugins.module_utils import _kube_router as kr
from kntest import k8s_standin as standin

BAD = 'quay.io/k0sproject/kube-router:v2.2.1-iptables1.8.9-0'


@pytest.fixture
def api(tmp_path):
    with standin.StandIn(lifetime=300) as server:
        server.add(standin.daemonset('k0s-bad'))
        other = standin.daemonset('kubeadm')
        other['metadata'] = {'name': 'other', 'namespace': 'default', 'labels': {'k8s-app': 'other'}}
        server.add(other)
        server.kubeconfig_path = server.kubeconfig(tmp_path / 'kubeconfig')
        yield server


def play(api, ansible_env, *extra, check=False, expect_rc=0, **variables):
    values = {'kubenode_kube_router_node_modes': {'node-a': 'nft', 'node-b': 'legacy', 'node-c': 'nft'},
              'kubenode_distribution': 'k0s', 'kubenode_kube_router_kubeconfig': str(api.kubeconfig_path)}
    values.update(variables)
    argv = [kntest.ansible_bin('ansible-playbook'), '-i', 'localhost,', '-c', 'local', '--diff',
            '-e', 'ansible_python_interpreter=%s' % __import__('sys').executable, '-e', json.dumps(values),
            'kubenode.netfilter.kube_router'] + list(extra)
    if check:
        argv.append('--check')
    proc = kntest.run(argv, env=ansible_env, check=False)
    assert proc.returncode == expect_rc, proc.stdout + proc.stderr
    recap = re.search(r'localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)', proc.stdout)
    assert recap, proc.stdout
    return proc.stdout, int(recap.group(2)), int(recap.group(3))


def live(api):
    return api.get('kube-system', 'kube-router')


def spec_and_annotations(obj):
    return copy.deepcopy(obj['spec']), copy.deepcopy(obj['metadata'].get('annotations'))


def test_role_detect_check_apply_idempotent_revert(api, ansible_env):
    original = live(api)

    # detect: read-only, fails naming the nodes, the image and both fixes; prints the k0s facts
    out, changed, failed = play(api, ansible_env, expect_rc=2)
    assert failed == 1 and changed == 0
    assert 'node-a, node-c' in out and BAD in out
    assert 'kubenode_kube_router_fix: image' in out and 'kubenode_kube_router_fix: wrapper' in out
    assert 'merge patch' in out and 'spec.network.kuberouter.patches' in out and 'v1.31.3' in out
    assert api.patch_counts()['all'] == 0

    # check mode: a server-side dry run, reported as a change, nothing stored
    out, changed, failed = play(api, ansible_env, check=True, kubenode_kube_router_remediate=True)
    assert failed == 0 and changed == 1
    assert api.patch_counts() == {'all': 1, 'dry_run': 1}
    assert live(api) == original
    assert '/bin/sh' in out  # --diff shows the new command

    # apply
    out, changed, failed = play(api, ansible_env, kubenode_kube_router_remediate=True, kubenode_kube_router_wait=True,
                                kubenode_kube_router_wait_timeout=10)
    assert failed == 0 and changed == 1
    now = live(api)
    container = kr.select_container(now)[1]
    assert kr.is_wrapper_command(container['command'])
    assert container['args'] == kr.select_container(original)[1]['args']
    assert now['metadata']['generation'] == original['metadata']['generation'] + 1
    assert api.get('default', 'other') == api.objects[('default', 'other')]  # the other DaemonSet is untouched

    # second run: nothing to patch
    before = api.patch_counts()['all']
    out, changed, failed = play(api, ansible_env, kubenode_kube_router_remediate=True)
    assert (changed, failed) == (0, 0) and api.patch_counts()['all'] == before

    # revert: the original spec and annotations come back exactly
    out, changed, failed = play(api, ansible_env, kubenode_kube_router_remediate=True, kubenode_kube_router_revert=True)
    assert (changed, failed) == (1, 0)
    assert spec_and_annotations(live(api)) == spec_and_annotations(original)
    out, changed, failed = play(api, ansible_env, kubenode_kube_router_remediate=True, kubenode_kube_router_revert=True)
    assert (changed, failed) == (0, 0)


def test_role_image_fix_by_name(api, ansible_env):
    out, changed, failed = play(api, ansible_env, kubenode_kube_router_remediate=True, kubenode_kube_router_fix='image',
                                kubenode_kube_router_daemonset_name='kube-router')
    assert (changed, failed) == (1, 0)
    assert kr.select_container(live(api))[1]['image'] == 'quay.io/k0sproject/kube-router:v2.2.1-iptables1.8.9-1'
    out, changed, failed = play(api, ansible_env, kubenode_kube_router_remediate=True, kubenode_kube_router_fix='image')
    assert (changed, failed) == (0, 0)


def test_role_concurrent_change_fails_and_changes_nothing(api, ansible_env):
    def other_writer(obj):
        obj['spec']['template']['spec']['containers'][0]['image'] = 'registry.example/kube-router:hotfix'

    api.before_patch = other_writer
    out, changed, failed = play(api, ansible_env, expect_rc=2, kubenode_kube_router_remediate=True)
    assert failed == 1 and '422' in out
    now = live(api)
    container = kr.select_container(now)[1]
    assert container['image'] == 'registry.example/kube-router:hotfix'  # the other writer's change stands
    assert 'command' not in container and kr.ANNOTATION not in (now['metadata'].get('annotations') or {})


def test_role_missing_daemonset_is_a_clear_failure(api, ansible_env):
    out, changed, failed = play(api, ansible_env, expect_rc=2, kubenode_kube_router_remediate=True,
                                kubenode_kube_router_namespace='nowhere')
    assert failed == 1 and 'in namespace nowhere' in out


def test_preflight_reads_the_daemonset_when_asked(api, ansible_env, tmp_path):
    """kubenode_cni=kube-router + kubenode_preflight_check_cluster: the preflight on this machine (real facts: its
    detected mode is nft) also reads the DaemonSet from the stand-in and fails on the legacy-forcing k0s image."""
    inventory = tmp_path / 'inventory.ini'
    inventory.write_text('node-a ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n')
    values = {'kubenode_cni': 'kube-router', 'kubenode_preflight_check_cluster': True,
              'kubenode_distribution': 'k0s', 'kubenode_preflight_fail_on': 'never',
              'kubenode_kube_router_kubeconfig': str(api.kubeconfig_path)}
    argv = [kntest.ansible_bin('ansible-playbook'), '-i', str(inventory), '-e', json.dumps(values),
            'kubenode.netfilter.preflight', '--check']
    proc = kntest.run(argv, env=ansible_env, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert BAD in proc.stdout and 'node-a' in proc.stdout
    assert api.patch_counts()['all'] == 0

    values['kubenode_preflight_check_cluster'] = False
    argv[4] = json.dumps(values)
    proc = kntest.run(argv, env=ansible_env, check=False)
    assert BAD not in proc.stdout, proc.stdout


def test_rollout_that_never_becomes_ready_is_reported(api, ansible_env):
    """The stand-in reports 0 ready pods after the patch: the role fails with the numbers and how to undo."""
    api.never_ready = True
    out, changed, failed = play(api, ansible_env, expect_rc=2, kubenode_kube_router_remediate=True,
                                kubenode_kube_router_wait=True, kubenode_kube_router_wait_timeout=5)
    assert failed == 1 and changed == 1
    assert 'did not become ready within 5 s' in out
    assert 'kube-system/kube-router: 0 of' in out
    assert 'kubenode_kube_router_revert: true' in out


def test_controller_tasks_never_become(api, ansible_env):
    """Issue 16 #2: with -b and a controller user whose privilege escalation fails (the stand-in: sudo replaced by
    /bin/false), the role's API tasks (k8s_info, k8s_json_patch, the rollout wait, all on localhost) still run:
    they carry become: false. The stand-in really fails any task that becomes."""
    failing = ['-b', '--become-user', 'nobody', '-e', 'ansible_become_exe=/bin/false']
    probe = kntest.run([kntest.ansible_bin('ansible'), '-i', 'localhost,', '-c', 'local', '-e',
                        'ansible_python_interpreter=%s' % __import__('sys').executable, 'localhost', '-m',
                        'ansible.builtin.command', '-a', 'true'] + failing, env=ansible_env, check=False)
    assert probe.returncode != 0, probe.stdout  # a task that becomes fails with this setting
    out, changed, failed = play(api, ansible_env, *failing, expect_rc=2)  # detect: fails on the finding only
    assert failed == 1 and 'node-a, node-c' in out
    out, changed, failed = play(api, ansible_env, *failing, check=True, kubenode_kube_router_remediate=True)
    assert (changed, failed) == (1, 0)
    out, changed, failed = play(api, ansible_env, *failing, kubenode_kube_router_remediate=True,
                                kubenode_kube_router_wait=True, kubenode_kube_router_wait_timeout=10)
    assert (changed, failed) == (1, 0) and 'every patched kube-router DaemonSet is ready' in out


@pytest.mark.parametrize('tags, present, absent', [
    ('report', ['Report the kube-router findings'], ['Apply the guarded JSON patch']),
    ('facts', ['Read the kube-router DaemonSet(s)'], ['Report the kube-router findings']),
])
def test_role_tags_run_a_stage(api, ansible_env, tags, present, absent):
    out, changed, failed = play(api, ansible_env, '--tags', tags, expect_rc=2 if tags == 'report' else 0,
                                kubenode_kube_router_remediate=tags != 'report')
    for name in present:
        assert 'TASK [kubenode.netfilter.kube_router : %s' % name in out, out
    for name in absent:
        assert 'TASK [kubenode.netfilter.kube_router : %s' % name not in out, out
    assert changed == 0 and api.patch_counts()['all'] == 0
