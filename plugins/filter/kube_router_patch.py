# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Documentation: kube_router_patch.yml, kube_router_findings.yml, kube_router_k0s_advice.yml, kube_router_k0s_mode.yml,
# kube_router_rollout.yml (sidecars).

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.kubenode.netfilter.plugins.module_utils._kube_router import (
    FIXES,
    KubeRouterError,
    build_patch,
    describe,
    findings,
    k0s_advice,
    k0s_iptables_mode,
    rollout_not_ready,
)


def _plain(value):
    """Ansible's lazy/tagged containers -> plain dicts and lists (the patch builder compares and copies them)."""
    if isinstance(value, Mapping):
        return dict((str(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def _opt_str(name, filter_name, value):
    if value is None or value == '':
        return None
    if not isinstance(value, str):
        raise AnsibleFilterError('%s: %s must be a string, got %r' % (filter_name, name, value))
    return value


def _daemonset(filter_name, value):
    if isinstance(value, Mapping) and 'resources' in value and 'kind' not in value:
        raise AnsibleFilterError('%s: got a k8s_info result; pass one DaemonSet (result.resources[0])' % filter_name)
    return _plain(value)


def kube_router_patch(daemonset, fix='wrapper', image=None, container=None, revert=False):
    """DaemonSet (dict) -> RFC 6902 JSON patch (list of operations); empty when already fixed."""
    name = 'kubenode.netfilter.kube_router_patch'
    if fix not in FIXES:
        raise AnsibleFilterError('%s: fix must be one of %s, got %r' % (name, ', '.join(FIXES), fix))
    try:
        revert = boolean(revert, strict=True)
    except TypeError as exc:
        raise AnsibleFilterError('%s: revert must be a boolean (%s)' % (name, exc))
    try:
        return build_patch(_daemonset(name, daemonset), fix=fix, image=_opt_str('image', name, image),
                           container=_opt_str('container', name, container), revert=revert)
    except KubeRouterError as exc:
        raise AnsibleFilterError('%s: %s' % (name, exc))


def kube_router_findings(daemonsets, node_modes, image_backend=None, container=None, distribution='generic',
                         k0s_modes=None):
    """DaemonSet(s) + {node: detected_mode} -> list of findings (id, severity, message, fix, nodes, ...)."""
    name = 'kubenode.netfilter.kube_router_findings'
    if isinstance(daemonsets, Mapping):
        daemonsets = [daemonsets]
    if not isinstance(daemonsets, (list, tuple)):
        raise AnsibleFilterError('%s: the input must be a DaemonSet or a list of DaemonSets' % name)
    if not isinstance(node_modes, Mapping):
        raise AnsibleFilterError('%s: node_modes must be a dict node -> detected_mode' % name)
    if k0s_modes is not None and not isinstance(k0s_modes, Mapping):
        raise AnsibleFilterError('%s: k0s_modes must be a dict node -> mode' % name)
    try:
        return [item.as_dict() for item in findings(
            [_daemonset(name, ds) for ds in daemonsets], _plain(node_modes),
            image_backend=_opt_str('image_backend', name, image_backend),
            container=_opt_str('container', name, container), distribution=str(distribution or 'generic'),
            k0s_modes=_plain(k0s_modes) if k0s_modes else None)]
    except KubeRouterError as exc:
        raise AnsibleFilterError('%s: %s' % (name, exc))


def kube_router_k0s_advice(daemonset, fix='wrapper', image=None, container=None):
    """DaemonSet -> the k0s message (applier facts, durable fixes, ClusterConfig snippets)."""
    name = 'kubenode.netfilter.kube_router_k0s_advice'
    try:
        return k0s_advice(_daemonset(name, daemonset), fix=fix, image=_opt_str('image', name, image),
                          container=_opt_str('container', name, container))
    except KubeRouterError as exc:
        raise AnsibleFilterError('%s: %s' % (name, exc))


def kube_router_k0s_mode(netfilter, kernel_release=None):
    """ansible_facts.netfilter -> the iptables mode k0s would pick on that host ({mode, reason, steps})."""
    name = 'kubenode.netfilter.kube_router_k0s_mode'
    if not isinstance(netfilter, Mapping):
        raise AnsibleFilterError('%s: the input must be ansible_facts.netfilter (run '
                                 'kubenode.netfilter.netfilter_backend_facts first)' % name)
    try:
        decision = k0s_iptables_mode(_plain(netfilter), _opt_str('kernel_release', name, kernel_release))
    except KubeRouterError as exc:
        raise AnsibleFilterError('%s: %s' % (name, exc))
    return {'mode': decision.mode, 'reason': decision.reason, 'steps': list(decision.steps)}


def kube_router_rollout(daemonsets, expected=None):
    """DaemonSet(s) read back after a patch -> one line per DaemonSet whose rollout is not done (the numbers)."""
    name = 'kubenode.netfilter.kube_router_rollout'
    if isinstance(daemonsets, Mapping):
        daemonsets = [daemonsets]
    if not isinstance(daemonsets, (list, tuple)):
        raise AnsibleFilterError('%s: the input must be a DaemonSet or a list of DaemonSets' % name)
    if expected is None:
        expected = []
    if not isinstance(expected, (list, tuple)) or not all(isinstance(e, (str, Mapping)) for e in expected):
        raise AnsibleFilterError('%s: expected must be a list of namespace/name strings or DaemonSets' % name)
    expected = [e if isinstance(e, str) else describe(_plain(e)) for e in expected]
    try:
        return rollout_not_ready([_plain(ds) for ds in daemonsets], [str(e) for e in expected])
    except KubeRouterError as exc:
        raise AnsibleFilterError('%s: %s' % (name, exc))


class FilterModule(object):
    def filters(self):
        return {
            'kube_router_patch': kube_router_patch,
            'kube_router_findings': kube_router_findings,
            'kube_router_k0s_advice': kube_router_k0s_advice,
            'kube_router_k0s_mode': kube_router_k0s_mode,
            'kube_router_rollout': kube_router_rollout,
        }
