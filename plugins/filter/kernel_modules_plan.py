# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""kernel_modules_plan filter (documentation: kernel_modules_plan.yml beside this file).

The decisions are the findings' remedies (plugins/module_utils/_findings.py); plugins/module_utils/_remediation.py
turns them into the role's plan.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenode.netfilter.plugins.module_utils import _remediation

NAME = 'kubenode.netfilter.kernel_modules_plan'


def kernel_modules_plan(findings, kernel_config=None, mode='iptables', cni='other', extra=None, load_configs=False):
    """The findings (node_findings with include_passed=true) -> what the kernel_modules role loads, persists,
    installs, sets and fails on."""
    if not isinstance(kernel_config, Mapping):
        raise AnsibleFilterError('%s: kernel_config must be ansible_facts[\'kernel_config\'] (a dict; gather it with '
                                 'kubenode.netfilter.kernel_config_facts), got %s'
                                 % (NAME, type(kernel_config).__name__))
    if extra is not None and not isinstance(extra, (list, tuple)):
        raise AnsibleFilterError('%s: extra must be a list of module names, got %s' % (NAME, type(extra).__name__))
    try:
        return _remediation.kernel_modules_plan(findings, kernel_config, str(mode), cni=str(cni),
                                                extra=[str(e) for e in (extra or [])],
                                                load_configs=bool(load_configs))
    except (ValueError, TypeError) as exc:
        raise AnsibleFilterError('%s: %s' % (NAME, exc)) from None


class FilterModule(object):
    """kubenode.netfilter.kernel_modules_plan"""

    def filters(self):
        return {'kernel_modules_plan': kernel_modules_plan}
