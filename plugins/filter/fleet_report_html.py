# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Documentation: fleet_report_html.yml (sidecar).

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenode.netfilter.plugins.module_utils import _report

NAME = 'kubenode.netfilter.fleet_report_html'


def _render(render, report, *args, **kwargs):
    try:
        return render(_report.load(report, 'the report'), *args, **kwargs)
    except ValueError as exc:
        raise AnsibleFilterError('%s: bad fleet report: %s' % (NAME, exc)) from None


def fleet_report_html(report, title='kubenode.netfilter preflight', previous=None):
    """The fleet report as one self-contained HTML page."""
    if not isinstance(title, str):
        raise AnsibleFilterError('%s: title must be a string, got %s' % (NAME, type(title).__name__))
    return _render(_report.to_html, report, title=title, previous=previous)


class FilterModule(object):
    def filters(self):
        return {'fleet_report_html': fleet_report_html}
