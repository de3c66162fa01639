# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Documentation: kube_router_rollout.yml (sidecar).
# The logic is in plugins/module_utils/_kube_router.py (unit-tested).

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenode.netfilter.plugins.module_utils import _kube_router as kr

NAME = 'kubenode.netfilter.kube_router_rollout'


def kube_router_rollout(daemonsets, expected=None):
    """DaemonSet(s) read back after a patch -> one line per DaemonSet whose rollout is not done (the numbers)."""
    if isinstance(daemonsets, Mapping):
        daemonsets = [daemonsets]
    if not isinstance(daemonsets, (list, tuple)):
        raise AnsibleFilterError('%s: the input must be a DaemonSet or a list of DaemonSets' % NAME)
    if expected is None:
        expected = []
    if not isinstance(expected, (list, tuple)) or not all(isinstance(e, (str, Mapping)) for e in expected):
        raise AnsibleFilterError('%s: expected must be a list of namespace/name strings or DaemonSets' % NAME)
    try:
        names = [e if isinstance(e, str) else kr.describe(kr.plain(e)) for e in expected]
        return kr.rollout_not_ready([kr.plain(ds) for ds in daemonsets], [str(e) for e in names])
    except kr.KubeRouterError as exc:
        raise AnsibleFilterError('%s: %s' % (NAME, exc))


class FilterModule(object):
    def filters(self):
        return {'kube_router_rollout': kube_router_rollout}
