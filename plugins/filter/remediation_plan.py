# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Remediation plan filters: kernel_modules_plan, netfilter_tools_plan.

Two filters in one file, so their documentation lives in the sidecar files kernel_modules_plan.yml and
netfilter_tools_plan.yml next to it. The decisions are in plugins/module_utils/_remediation.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenode.netfilter.plugins.module_utils import _remediation


def _facts(name, facts, key, required=True):
    if not isinstance(facts, dict):
        raise AnsibleFilterError('kubenode.netfilter.%s: the input must be the host\'s ansible_facts (a dict), got %s'
                                 % (name, type(facts).__name__))
    value = facts.get(key)
    if value is None and required:
        raise AnsibleFilterError('kubenode.netfilter.%s: ansible_facts[%r] is missing: gather it first (%s)' % (
            name, key, 'kubenode.netfilter.kernel_config_facts' if key == 'kernel_config'
            else 'kubenode.netfilter.netfilter_backend_facts'))
    return value


def kernel_modules_plan(facts, mode='iptables', cni='other', ipv6=False, backend='auto', extra=None,
                        load_configs=False):
    """What the kernel_modules role loads, persists, installs and fails on, and its files' content."""
    kernel = _facts('kernel_modules_plan', facts, 'kernel_config')
    netfilter = _facts('kernel_modules_plan', facts, 'netfilter', required=False)
    if extra is not None and not isinstance(extra, (list, tuple)):
        raise AnsibleFilterError('kubenode.netfilter.kernel_modules_plan: extra must be a list of module names, '
                                 'got %s' % type(extra).__name__)
    try:
        return _remediation.kernel_modules_plan(
            kernel, netfilter, mode, cni=cni, ipv6=bool(ipv6), backend=backend,
            extra=[str(e) for e in (extra or [])], distribution=facts.get('distribution'),
            os_family=facts.get('os_family'), load_configs=bool(load_configs))
    except ValueError as exc:
        raise AnsibleFilterError('kubenode.netfilter.kernel_modules_plan: %s' % exc) from None


def netfilter_tools_plan(facts, mode='iptables', packages=None, cni='other', ipv6=False, distribution='generic',
                         install_on_k3s=False, iptables_backend='auto', force=False, restore=False,
                         previous=None):
    """Which tools the netfilter_tools role installs, the version checks, and the iptables alternative decision."""
    netfilter = _facts('netfilter_tools_plan', facts, 'netfilter')
    if packages is None or not isinstance(packages, dict):
        raise AnsibleFilterError('kubenode.netfilter.netfilter_tools_plan: packages must be a dict tool -> package '
                                 '(the role\'s vars/ for the OS family), got %s' % type(packages).__name__)
    try:
        return {
            'tools': _remediation.tools_plan(netfilter, mode, packages, cni=cni, ipv6=bool(ipv6),
                                             distribution=distribution, install_on_k3s=bool(install_on_k3s)),
            'backend': _remediation.iptables_backend_plan(
                netfilter, iptables_backend, os_family=facts.get('os_family'), force=bool(force),
                restore=bool(restore), previous=_remediation.parse_alternative_record(previous or '')),
        }
    except ValueError as exc:
        raise AnsibleFilterError('kubenode.netfilter.netfilter_tools_plan: %s' % exc) from None


class FilterModule(object):
    """kubenode.netfilter remediation plan filters."""

    def filters(self):
        return {
            'kernel_modules_plan': kernel_modules_plan,
            'netfilter_tools_plan': netfilter_tools_plan,
        }
