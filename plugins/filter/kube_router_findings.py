# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Documentation: kube_router_findings.yml (sidecar).
# The logic is in plugins/module_utils/_kube_router.py (unit-tested).

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenode.netfilter.plugins.module_utils import _kube_router as kr

NAME = 'kubenode.netfilter.kube_router_findings'


def kube_router_findings(daemonsets, node_modes, image_backend=None, container=None, distribution='generic',
                         k0s_modes=None):
    """DaemonSet(s) + {node: detected_mode} -> list of findings (id, severity, message, fix, nodes, ...)."""
    if isinstance(daemonsets, Mapping):
        daemonsets = [daemonsets]
    if not isinstance(daemonsets, (list, tuple)):
        raise AnsibleFilterError('%s: the input must be a DaemonSet or a list of DaemonSets' % NAME)
    if not isinstance(node_modes, Mapping):
        raise AnsibleFilterError('%s: node_modes must be a dict node -> detected_mode' % NAME)
    if k0s_modes is not None and not isinstance(k0s_modes, Mapping):
        raise AnsibleFilterError('%s: k0s_modes must be a dict node -> mode' % NAME)
    try:
        return [item.as_dict() for item in kr.findings(
            [kr.daemonset_input(ds) for ds in daemonsets], kr.plain(node_modes),
            image_backend=kr.opt_str('image_backend', image_backend),
            container=kr.opt_str('container', container), distribution=str(distribution or 'generic'),
            k0s_modes=kr.plain(k0s_modes) if k0s_modes else None)]
    except kr.KubeRouterError as exc:
        raise AnsibleFilterError('%s: %s' % (NAME, exc))


class FilterModule(object):
    def filters(self):
        return {'kube_router_findings': kube_router_findings}
