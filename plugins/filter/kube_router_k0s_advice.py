# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Documentation: kube_router_k0s_advice.yml (sidecar).
# The logic is in plugins/module_utils/_kube_router.py (unit-tested).

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenode.netfilter.plugins.module_utils import _kube_router as kr

NAME = 'kubenode.netfilter.kube_router_k0s_advice'


def kube_router_k0s_advice(daemonset, fix='wrapper', image=None, container=None):
    """DaemonSet -> the k0s message (applier facts, durable fixes, ClusterConfig snippets)."""
    try:
        return kr.k0s_advice(kr.daemonset_input(daemonset), fix=fix, image=kr.opt_str('image', image),
                             container=kr.opt_str('container', container))
    except kr.KubeRouterError as exc:
        raise AnsibleFilterError('%s: %s' % (NAME, exc))


class FilterModule(object):
    def filters(self):
        return {'kube_router_k0s_advice': kube_router_k0s_advice}
