# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every list variable of the roles is read through kubenode.netfilter.as_list wherever a task uses it, so a string
from an AWX survey or `-e var=a,b` works (issue 16). The runs themselves: tests/integration/test_list_variables.py."""
from __future__ import annotations

import re

import pytest
import yaml

import kntest

ROLES = kntest.REPO / "roles"


def list_variables():
    found = set()
    for spec_file in sorted(ROLES.glob("*/meta/argument_specs.yml")):
        for entry in yaml.safe_load(spec_file.read_text())["argument_specs"].values():
            for var, option in entry.get("options", {}).items():
                if option.get("type") == "list" or isinstance(option.get("default"), list):
                    found.add(var)
    return sorted(found)


def test_the_roles_have_list_variables():
    assert {"kubenode_netfilter_search_paths", "kubenode_kernel_modules_extra",
            "kubenode_nft_conflicts_rules", "kubenode_nft_conflicts_search_paths"} <= set(list_variables())


@pytest.mark.parametrize("var", list_variables())
def test_list_variable_is_read_through_as_list(var):
    # a use of the variable in an expression, not a mention in prose ("VAR: true") or in a filter's name argument
    use = re.compile(r"(?<![\w'\"])%s\b(?!\s*:)(?!')" % re.escape(var))
    through = re.compile(r"%s\s*\|\s*kubenode\.netfilter\.as_list\b" % re.escape(var))
    offenders = []
    uses = 0
    for path in sorted(ROLES.glob("*/tasks/*.yml")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.lstrip().startswith("#"):
                continue
            for match in use.finditer(line):
                uses += 1
                if not through.match(line, match.start()):
                    offenders.append("%s:%d: %s" % (path.relative_to(kntest.REPO), number, line.strip()))
    assert uses > 0, "%s is never used by a task" % var
    assert offenders == [], "read without kubenode.netfilter.as_list:\n" + "\n".join(offenders)
