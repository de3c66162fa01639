# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""netfilter_tools_plan filter (documentation: netfilter_tools_plan.yml beside this file).

The decisions are the findings' remedies (plugins/module_utils/_findings.py); plugins/module_utils/_remediation.py
turns them into the role's plan.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenode.netfilter.plugins.module_utils import _remediation

NAME = 'kubenode.netfilter.netfilter_tools_plan'


def netfilter_tools_plan(findings, netfilter=None, os_family=None, install_on_k3s=False, iptables_backend='auto',
                         force=False, restore=False, previous=None):
    """The findings (node_findings with include_passed=true) -> the tools the netfilter_tools role installs and
    what it does with the iptables alternative."""
    if not isinstance(netfilter, Mapping):
        raise AnsibleFilterError('%s: netfilter must be ansible_facts[\'netfilter\'] (a dict; gather it with '
                                 'kubenode.netfilter.netfilter_backend_facts), got %s'
                                 % (NAME, type(netfilter).__name__))
    if previous is not None and not isinstance(previous, str):
        raise AnsibleFilterError('%s: previous must be the text of the alternative record, got %s'
                                 % (NAME, type(previous).__name__))
    try:
        return {
            'tools': _remediation.tools_plan(findings, install_optional=bool(install_on_k3s)),
            'backend': _remediation.iptables_backend_plan(
                netfilter, str(iptables_backend), os_family=os_family, force=bool(force), restore=bool(restore),
                previous=_remediation.parse_alternative_record(previous or ''), findings=findings),
        }
    except (ValueError, TypeError) as exc:
        raise AnsibleFilterError('%s: %s' % (NAME, exc)) from None


class FilterModule(object):
    """kubenode.netfilter.netfilter_tools_plan"""

    def filters(self):
        return {'netfilter_tools_plan': netfilter_tools_plan}
