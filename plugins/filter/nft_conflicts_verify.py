# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Documentation: nft_conflicts_verify.yml (sidecar). The logic is in plugins/module_utils/_nft_conflicts.py (unit-tested).

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenode.netfilter.plugins.module_utils import _nft_conflicts as nc
from ansible_collections.kubenode.netfilter.plugins.module_utils._plain import plain


def nft_conflicts_verify(after, before, listed, result):
    """netfilter facts after + before, the listed rules, the module's result -> {ok, message, ...}."""
    try:
        return nc.verify_after(plain(before), plain(after), plain(listed), plain(result))
    except nc.ConflictError as exc:
        raise AnsibleFilterError('kubenode.netfilter.nft_conflicts_verify: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'nft_conflicts_verify': nft_conflicts_verify}
