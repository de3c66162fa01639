# -*- coding: utf-8 -*-
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""bundled_bin_dirs filter (documentation: bundled_bin_dirs.yml beside this file): the catalog's one list."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenode.netfilter.plugins.module_utils import _catalog


def bundled_bin_dirs(distribution):
    """Distribution name -> the directories where it keeps its own netfilter binaries ([] for none)."""
    if distribution is not None and not isinstance(distribution, str):
        raise AnsibleFilterError('kubenode.netfilter.bundled_bin_dirs: the input must be a distribution name, got %s'
                                 % type(distribution).__name__)
    return _catalog.bundled_dirs(distribution)


class FilterModule(object):
    """kubenode.netfilter.bundled_bin_dirs"""

    def filters(self):
        return {'bundled_bin_dirs': bundled_bin_dirs}
