# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Documentation: fleet_report_json.yml (sidecar).

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenode.netfilter.plugins.module_utils import _report

NAME = 'kubenode.netfilter.fleet_report_json'


def _render(render, report, *args, **kwargs):
    try:
        return render(_report.load(report, 'the report'), *args, **kwargs)
    except ValueError as exc:
        raise AnsibleFilterError('%s: bad fleet report: %s' % (NAME, exc)) from None


def fleet_report_json(report, previous=None):
    """The fleet report (schema 1 or 2, dict or JSON text) as JSON schema 2, with a summary (and a diff)."""
    return _render(_report.to_json, report, previous=previous)


class FilterModule(object):
    def filters(self):
        return {'fleet_report_json': fleet_report_json}
