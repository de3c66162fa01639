# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""node_profile filter (documentation: node_profile.yml beside this file). The decision is _findings.resolve_profile."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenode.netfilter.plugins.module_utils._findings import resolve_profile

NAME = 'kubenode.netfilter.node_profile'


def node_profile(facts, proxy_mode='auto', distribution='auto', cni='auto', ipv6='auto', distribution_version=None,
                 k3s_prefer_bundled_bin=None):
    """The host's ansible_facts (with node_profile from node_profile_facts) + the user's choices -> what the host is
    judged against, each value with its source."""
    if not isinstance(facts, Mapping):
        raise AnsibleFilterError('%s: the input must be the host\'s ansible_facts (a dict), got %s'
                                 % (NAME, type(facts).__name__))
    node = facts.get('node_profile')
    if node is not None and not isinstance(node, Mapping):
        raise AnsibleFilterError('%s: ansible_facts[\'node_profile\'] must be a dict (from '
                                 'kubenode.netfilter.node_profile_facts), got %s' % (NAME, type(node).__name__))
    for name, value in (('proxy_mode', proxy_mode), ('distribution', distribution), ('cni', cni)):
        if value is not None and not isinstance(value, str):
            raise AnsibleFilterError('%s: %s must be a string, got %r' % (NAME, name, value))
    try:
        return resolve_profile(dict(node or {}), proxy_mode=proxy_mode, distribution=distribution, cni=cni,
                               ipv6=ipv6, distribution_version=distribution_version,
                               k3s_prefer_bundled_bin=k3s_prefer_bundled_bin)
    except ValueError as exc:
        raise AnsibleFilterError('%s: %s' % (NAME, exc)) from None


class FilterModule(object):
    """kubenode.netfilter.node_profile"""

    def filters(self):
        return {'node_profile': node_profile}
