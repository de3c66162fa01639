# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Documentation: nft_conflicts_versions.yml (sidecar). The logic is in plugins/module_utils/_nft_conflicts.py (unit-tested).

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenode.netfilter.plugins.module_utils import _nft_conflicts as nc
from ansible_collections.kubenode.netfilter.plugins.module_utils._plain import plain


def nft_conflicts_versions(netfilter, kube_router_image=None):
    """ansible_facts.netfilter -> [[label, version], ...] of the iptables in use on the host."""
    try:
        return nc.version_rows(plain(netfilter), plain(kube_router_image) or None)
    except nc.ConflictError as exc:
        raise AnsibleFilterError('kubenode.netfilter.nft_conflicts_versions: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'nft_conflicts_versions': nft_conflicts_versions}
