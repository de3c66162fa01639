# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Documentation: node_findings.yml (sidecar).

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.kubenode.netfilter.plugins.module_utils._findings import (
    check_arguments,
    evaluate,
)

NAME = 'kubenode.netfilter.node_findings'
OS_KEYS = ('distribution', 'os_family', 'distribution_major_version')
FACT_MODULES = {
    'kernel_config': 'kubenode.netfilter.kernel_config_facts',
    'netfilter': 'kubenode.netfilter.netfilter_backend_facts',
}


def _kind(value):
    if isinstance(value, Mapping):
        return 'dict'
    if isinstance(value, str):
        return 'string'
    if isinstance(value, Sequence):
        return 'list'
    if value is None:
        return 'null'
    return type(value).__name__


def _bool(name, value):
    try:
        return boolean(value, strict=True)
    except TypeError as exc:
        raise AnsibleFilterError('%s: %s must be a boolean, got %r (%s)' % (NAME, name, value, exc))


def _optional_str(name, value):
    if value is None:
        return None
    if not isinstance(value, str):
        raise AnsibleFilterError('%s: %s must be a string, got %r' % (NAME, name, value))
    return value.strip() or None


def _profile(value):
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise AnsibleFilterError('%s: profile must be the dict of kubenode.netfilter.node_profile, got %s'
                                 % (NAME, _kind(value)))
    for key in ('mismatch', 'assumed'):
        if not isinstance(value.get(key, []), Sequence) or isinstance(value.get(key), str):
            raise AnsibleFilterError('%s: profile[%r] must be a list, got %s' % (NAME, key, _kind(value.get(key))))
    return dict(value)


def node_findings(facts, proxy_mode='iptables', distribution='generic', cni='other', distribution_version=None,
                  include_passed=False, ipv6=False, kube_router_image_backend=None, k3s_prefer_bundled_bin=False,
                  profile=None, kernels='running'):
    """The host's ansible_facts -> list of findings (dicts with id, severity, message, fix)."""
    if not isinstance(facts, Mapping):
        raise AnsibleFilterError('%s: the input must be the host\'s ansible_facts (a dict), got %s'
                                 % (NAME, _kind(facts)))
    missing = [key for key in FACT_MODULES if not isinstance(facts.get(key), Mapping)]
    if missing:
        raise AnsibleFilterError(
            '%s: ansible_facts lacks %s: run %s on the host first (in the same play, or with fact caching)' % (
                NAME, ' and '.join("'%s'" % key for key in missing),
                ' and '.join(FACT_MODULES[key] for key in missing)))
    for name, value in (('proxy_mode', proxy_mode), ('distribution', distribution), ('cni', cni)):
        if not isinstance(value, str):
            raise AnsibleFilterError('%s: %s must be a string, got %r' % (NAME, name, value))
    kube_router_image_backend = _optional_str('kube_router_image_backend', kube_router_image_backend)
    try:
        check_arguments(proxy_mode, distribution, cni, kube_router_image_backend)
    except ValueError as exc:
        raise AnsibleFilterError('%s: %s' % (NAME, exc))
    host = {'kernel_config': dict(facts['kernel_config']), 'netfilter': dict(facts['netfilter'])}
    for key in OS_KEYS:  # the setup module's: the remedies name the OS's packages
        if facts.get(key) is not None:
            host[key] = facts[key]
    try:
        findings = evaluate(
            host, proxy_mode=proxy_mode, distribution=distribution, cni=cni,
            distribution_version=_optional_str('distribution_version', distribution_version),
            include_passed=_bool('include_passed', include_passed), ipv6=_bool('ipv6', ipv6),
            kube_router_image_backend=kube_router_image_backend,
            k3s_prefer_bundled_bin=_bool('k3s_prefer_bundled_bin', k3s_prefer_bundled_bin),
            profile=_profile(profile), kernels=kernels)
    except ValueError as exc:
        raise AnsibleFilterError('%s: %s' % (NAME, exc)) from None
    return [finding.as_dict() for finding in findings]


class FilterModule(object):
    def filters(self):
        return {'node_findings': node_findings}
