# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Documentation: fleet_report_junit.yml (sidecar).

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenode.netfilter.plugins.module_utils import _report

NAME = 'kubenode.netfilter.fleet_report_junit'


def _render(render, report, *args, **kwargs):
    try:
        return render(_report.load(report, 'the report'), *args, **kwargs)
    except ValueError as exc:
        raise AnsibleFilterError('%s: bad fleet report: %s' % (NAME, exc)) from None


def fleet_report_junit(report, warnings='skipped'):
    """The fleet report as JUnit XML, one test case per host and requirement."""
    if warnings not in _report.WARNING_MODES:
        raise AnsibleFilterError('%s: warnings must be one of %s, got %r'
                                 % (NAME, ', '.join(_report.WARNING_MODES), warnings))
    return _render(_report.to_junit, report, warnings=warnings)


class FilterModule(object):
    def filters(self):
        return {'fleet_report_junit': fleet_report_junit}
