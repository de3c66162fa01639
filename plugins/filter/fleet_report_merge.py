# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Documentation: fleet_report_merge.yml (sidecar).

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenode.netfilter.plugins.module_utils import _report

NAME = 'kubenode.netfilter.fleet_report_merge'


def fleet_report_merge(reports):
    """Several fleet reports (dicts or JSON texts) -> one report (schema 2): the newest result per host wins."""
    try:
        return _report.to_dict(_report.merge(reports))
    except ValueError as exc:
        raise AnsibleFilterError('%s: %s' % (NAME, exc)) from None


class FilterModule(object):
    def filters(self):
        return {'fleet_report_merge': fleet_report_merge}
