# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: as_list
short_description: A list variable given as a list, a JSON list string or a comma-separated string, as a list
version_added: 0.1.0
author: kubenode.netfilter contributors (@kubenode)
description:
  - Every list variable of the collection's roles goes through this filter, so that it can come from a YAML list
    (inventory, C(-e @file.yml)), a JSON list string (C(-e 'var=["a","b"]'), an AWX survey text field) or a
    comma-separated string (C(-e var=a,b), an AWX survey text field or textarea).
  - A list (or tuple) is returned as a list, its items unchanged.
  - A string is stripped. An empty string (and C(null)) is an empty list. A string that starts with C([) must be a
    JSON list or a YAML flow sequence (C([a, b]), C(['a', 'b'])); its items are returned unchanged.
  - Any other string is split at commas and line breaks (an AWX textarea gives one item per line); every item is
    stripped and empty items are dropped, so C("a, b,") is C([a, b]).
  - A number becomes a one-item list. A dict, a boolean, or a string that starts with C([) but is no list, fails
    naming O(name).
positional: name
options:
  _input:
    description: The value of the list variable.
    type: raw
    required: true
  name:
    description: The variable's name, used in the error message (C(the value) when not given).
    type: str
"""

EXAMPLES = r"""
- name: The same list, three ways
  ansible.builtin.debug:
    msg:
      - "{{ ['br_netfilter', 'xt_statistic'] | kubenode.netfilter.as_list }}"
      - "{{ '[\"br_netfilter\", \"xt_statistic\"]' | kubenode.netfilter.as_list }}"
      - "{{ 'br_netfilter, xt_statistic' | kubenode.netfilter.as_list }}"
  # each is ['br_netfilter', 'xt_statistic']

- name: An empty survey answer is an empty list
  ansible.builtin.assert:
    that: ("" | kubenode.netfilter.as_list) == []

- name: Consume a list variable that may arrive as a string (-e kubenode_kernel_modules_extra=br_netfilter,nf_nat)
  ansible.builtin.set_fact:
    __modules: "{{ kubenode_kernel_modules_extra | kubenode.netfilter.as_list('kubenode_kernel_modules_extra') }}"
"""

RETURN = r"""
_value:
  description: The items, in their order.
  type: list
  elements: raw
"""

import json
import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenode.netfilter.plugins.module_utils._plain import plain

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML is a dependency of ansible-core
    yaml = None

_SEPARATORS = re.compile(r'[,\r\n]')


def _parse_list(text, label):
    try:
        parsed = json.loads(text)
    except ValueError as json_error:
        if yaml is None:
            raise AnsibleFilterError('kubenode.netfilter.as_list: %s is no JSON list (%s): %r'
                                     % (label, json_error, text))
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError as yaml_error:
            raise AnsibleFilterError('kubenode.netfilter.as_list: %s starts with "[" but is neither a JSON list (%s)'
                                     ' nor a YAML flow sequence (%s): %r'
                                     % (label, json_error, str(yaml_error).replace('\n', ' '), text))
    if not isinstance(parsed, list):
        raise AnsibleFilterError('kubenode.netfilter.as_list: %s starts with "[" but is a %s, not a list: %r'
                                 % (label, type(parsed).__name__, text))
    return parsed


def as_list(value, name=None):
    """A list, a JSON list string or a comma/newline-separated string -> list; "" and None -> []."""
    label = name or 'the value'
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, bool) or isinstance(value, Mapping):
        raise AnsibleFilterError('kubenode.netfilter.as_list: %s must be a list, a JSON list string or a'
                                 ' comma-separated string, got a %s: %r' % (label, type(value).__name__, value))
    if isinstance(value, (int, float)):
        return [value]
    if not isinstance(value, str):
        raise AnsibleFilterError('kubenode.netfilter.as_list: %s must be a list, a JSON list string or a'
                                 ' comma-separated string, got a %s: %r' % (label, type(value).__name__, value))
    text = str(value).strip()
    if not text:
        return []
    if text.startswith('['):
        return plain(_parse_list(text, label))
    return [item.strip() for item in _SEPARATORS.split(text) if item.strip()]


class FilterModule(object):
    def filters(self):
        return {'as_list': as_list}
