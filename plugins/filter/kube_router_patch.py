# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Documentation: kube_router_patch.yml (sidecar).
# The logic is in plugins/module_utils/_kube_router.py (unit-tested).

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.kubenode.netfilter.plugins.module_utils import _kube_router as kr

NAME = 'kubenode.netfilter.kube_router_patch'


def kube_router_patch(daemonset, fix='wrapper', image=None, container=None, revert=False):
    """DaemonSet (dict) -> RFC 6902 JSON patch (list of operations); empty when already fixed."""
    if fix not in kr.FIXES:
        raise AnsibleFilterError('%s: fix must be one of %s, got %r' % (NAME, ', '.join(kr.FIXES), fix))
    try:
        revert = boolean(revert, strict=True)
    except TypeError as exc:
        raise AnsibleFilterError('%s: revert must be a boolean (%s)' % (NAME, exc))
    try:
        return kr.build_patch(kr.daemonset_input(daemonset), fix=fix, image=kr.opt_str('image', image),
                              container=kr.opt_str('container', container), revert=revert)
    except kr.KubeRouterError as exc:
        raise AnsibleFilterError('%s: %s' % (NAME, exc))


class FilterModule(object):
    def filters(self):
        return {'kube_router_patch': kube_router_patch}
