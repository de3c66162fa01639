# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet report filters: fleet_report_json, fleet_report_junit, fleet_report_html.

This file holds three filters, so their documentation lives in the sidecar files fleet_report_json.yml,
fleet_report_junit.yml and fleet_report_html.yml next to it (one per filter name).
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenode.netfilter.plugins.module_utils import _report


def _wrap(name, render, report, **kwargs):
    try:
        return render(report, **kwargs)
    except ValueError as exc:
        raise AnsibleFilterError('kubenode.netfilter.%s: bad fleet report: %s' % (name, exc)) from None


def fleet_report_json(report):
    """The fleet report as sorted, indented JSON with a summary."""
    return _wrap('fleet_report_json', _report.to_json, report)


def fleet_report_junit(report, warnings='skipped'):
    """The fleet report as JUnit XML, one test case per host and requirement."""
    return _wrap('fleet_report_junit', _report.to_junit, report, warnings=warnings)


def fleet_report_html(report, title='kubenode.netfilter preflight'):
    """The fleet report as one self-contained HTML page."""
    if not isinstance(title, str):
        raise AnsibleFilterError('kubenode.netfilter.fleet_report_html: title must be a string, got %s'
                                 % type(title).__name__)
    return _wrap('fleet_report_html', _report.to_html, report, title=title)


class FilterModule(object):
    """kubenode.netfilter fleet report filters."""

    def filters(self):
        return {
            'fleet_report_json': fleet_report_json,
            'fleet_report_junit': fleet_report_junit,
            'fleet_report_html': fleet_report_html,
        }
