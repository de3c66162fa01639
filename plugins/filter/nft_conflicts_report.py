# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Documentation: nft_conflicts_report.yml (sidecar). The logic is in plugins/module_utils/_nft_conflicts.py (unit-tested).

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenode.netfilter.plugins.module_utils import _nft_conflicts as nc
from ansible_collections.kubenode.netfilter.plugins.module_utils._plain import plain


def nft_conflicts_report(parse_errors, preview=None, listed=None, preview_error=None):
    """iptables_nft_parse_errors + the module's check-mode rules -> the report lines."""
    if preview_error is not None and not isinstance(preview_error, str):
        preview_error = str(preview_error)
    try:
        return nc.report_lines(plain(parse_errors), plain(preview), plain(listed), preview_error)
    except nc.ConflictError as exc:
        raise AnsibleFilterError('kubenode.netfilter.nft_conflicts_report: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'nft_conflicts_report': nft_conflicts_report}
