#!/usr/bin/env python
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Regenerate docs/awx/survey_{preflight,remediate}.json from the roles' meta/argument_specs.yml.

Run from anywhere after a role variable, its choices or its default changed:  python scripts/awx_surveys.py
tests/unit/test_awx_survey.py fails until the surveys match the roles again (and checks them against AWX's rules).
Question names and order live here; descriptions, choices and defaults come from the roles.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
ROLES = ['preflight', 'kernel_modules', 'netfilter_tools']
# question names shown in the AWX UI
NAMES = {
    'kubenode_proxy_mode': 'kube-proxy mode', 'kubenode_distribution': 'Kubernetes distribution',
    'kubenode_distribution_version': 'Distribution version (optional)', 'kubenode_cni': 'CNI',
    'kubenode_ipv6': 'IPv6 in the cluster',
    'kubenode_preflight_kernels': 'Kernels to check', 'kubenode_preflight_fail_on': 'Fail a node on findings of severity',
    'kubenode_preflight_report_dir': 'Fleet report directory on the execution node (optional)',
    'kubenode_preflight_previous_report': 'Previous kubenode-preflight.json to compare with (optional)',
    'kubenode_host_root': "Node's root file system", 'kubenode_kernel_config_path': 'Kernel config file (optional)',
    'kubenode_netfilter_search_paths': 'Extra directories with bundled netfilter tools (optional)',
    'kubenode_preflight_check_cluster': 'Also check the kube-router DaemonSet through the Kubernetes API',
    'kubenode_kube_router_image_backend': 'iptables backend the kube-router image forces (optional)',
    'kubenode_kernel_modules_remediate': 'Load and persist the kernel modules',
    'kubenode_kernel_modules_state': 'Kernel module files',
    'kubenode_kernel_modules_install_extra': 'Install the package with missing modules',
    'kubenode_kernel_modules_load_configs': 'Load the configs module when no kernel config is found',
    'kubenode_kernel_modules_extra': 'More kernel modules to load and persist (optional)',
    'kubenode_sysctl_remediate': 'Set and persist the sysctls',
    'kubenode_netfilter_tools_remediate': 'Install the netfilter tools and align the iptables alternative',
    'kubenode_netfilter_tools_install_on_k3s': 'On k3s, install host packages too',
    'kubenode_iptables_backend': 'iptables backend',
    'kubenode_iptables_backend_force': 'Switch the iptables backend even when the old one holds rules',
    'kubenode_iptables_backend_restore': 'Restore the recorded iptables alternatives',
}
LISTS = {'kubenode_netfilter_search_paths', 'kubenode_kernel_modules_extra'}
COMMON = ['kubenode_proxy_mode', 'kubenode_distribution', 'kubenode_distribution_version', 'kubenode_cni',
          'kubenode_ipv6', 'kubenode_preflight_kernels', 'kubenode_preflight_fail_on', 'kubenode_preflight_report_dir',
          'kubenode_preflight_previous_report', 'kubenode_host_root', 'kubenode_kernel_config_path',
          'kubenode_netfilter_search_paths']
TEMPLATES = {
    'preflight': (
        'kubenode.netfilter preflight',
        "Read-only check of the nodes' kernel and netfilter userspace for a kube-proxy mode and CNI"
        ' (playbook kubenode.netfilter.preflight).',
        COMMON + ['kubenode_preflight_check_cluster', 'kubenode_kube_router_image_backend']),
    'remediate': (
        'kubenode.netfilter remediate',
        'Preflight, load and persist kernel modules and sysctls, install netfilter tools, preflight again'
        ' (playbook kubenode.netfilter.remediate). Nothing changes unless a remediate question is true.',
        COMMON + ['kubenode_kube_router_image_backend', 'kubenode_kernel_modules_remediate',
                  'kubenode_kernel_modules_state', 'kubenode_kernel_modules_install_extra',
                  'kubenode_kernel_modules_load_configs', 'kubenode_kernel_modules_extra', 'kubenode_sysctl_remediate',
                  'kubenode_netfilter_tools_remediate', 'kubenode_netfilter_tools_install_on_k3s',
                  'kubenode_iptables_backend', 'kubenode_iptables_backend_force', 'kubenode_iptables_backend_restore']),
}


def plain(description):
    """Argument-spec markup (V(), C(), O(), P(), L() ...) -> plain text for the AWX UI."""
    text = description if isinstance(description, str) else ' '.join(description)
    text = re.sub(r'P\(([^)#]*)#[^)]*\)', r'\1', text)
    text = re.sub(r'L\(([^,)]*),[^)]*\)', r'\1', text)
    text = re.sub(r'[VCOIBMEURP]\(([^)]*)\)', r'\1', text)
    return text.replace('role-internal ', '')


def question(var, option):
    """One AWX survey question for a role option (AWX's types: text, textarea, multiplechoice, ...)."""
    item = {'question_name': NAMES[var], 'question_description': plain(option['description'])[:400],
            'variable': var, 'required': False}
    kind = option.get('type')
    if option.get('choices'):
        item.update(type='multiplechoice', choices=[c for c in option['choices'] if c != ''],
                    default=option.get('default', ''), required='' not in option['choices'])
    elif kind == 'raw' and option.get('default') == 'auto':
        item.update(type='multiplechoice', choices=['auto', 'false', 'true'], default='auto', required=True)
    elif kind == 'bool':
        item.update(type='multiplechoice', choices=['false', 'true'], default='true' if option.get('default') else 'false',
                    required=True)
    elif var in LISTS:
        item.update(type='textarea', default='', min=0, max=4096)
        item['question_description'] = (plain(option['description']).split(' A YAML list')[0]
                                        + ' One per line or comma-separated; a JSON list works too.')
    else:
        item.update(type='text', default=option.get('default') or '', min=0, max=1024)
        if var == 'kubenode_host_root':
            item.update(required=True, min=1)
    return item


def main():
    specs = [yaml.safe_load((REPO / 'roles' / role / 'meta' / 'argument_specs.yml').read_text())
             ['argument_specs']['main']['options'] for role in ROLES]
    for template, (name, description, variables) in TEMPLATES.items():
        spec = [question(var, next(s[var] for s in specs if var in s)) for var in variables]
        path = REPO / 'docs' / 'awx' / ('survey_%s.json' % template)
        path.write_text(json.dumps({'name': name, 'description': description, 'spec': spec}, indent=2) + '\n')
        print('wrote %s' % path.relative_to(REPO))


if __name__ == '__main__':
    main()
