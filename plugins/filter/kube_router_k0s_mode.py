# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Documentation: kube_router_k0s_mode.yml (sidecar).
# The logic is in plugins/module_utils/_kube_router.py (unit-tested).

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenode.netfilter.plugins.module_utils import _kube_router as kr

NAME = 'kubenode.netfilter.kube_router_k0s_mode'


def kube_router_k0s_mode(netfilter, kernel_release=None):
    """ansible_facts.netfilter -> the iptables mode k0s would pick on that host ({mode, reason, steps})."""
    if not isinstance(netfilter, Mapping):
        raise AnsibleFilterError('%s: the input must be ansible_facts.netfilter (run '
                                 'kubenode.netfilter.netfilter_backend_facts first)' % NAME)
    try:
        decision = kr.k0s_iptables_mode(kr.plain(netfilter), kr.opt_str('kernel_release', kernel_release))
    except kr.KubeRouterError as exc:
        raise AnsibleFilterError('%s: %s' % (NAME, exc))
    return {'mode': decision.mode, 'reason': decision.reason, 'steps': list(decision.steps)}


class FilterModule(object):
    def filters(self):
        return {'kube_router_k0s_mode': kube_router_k0s_mode}
