# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The AWX survey specs in docs/awx/ against AWX's own survey rules (tests/kntest/awx.py, with the AWX sources
they come from), and against the roles' argument specs and defaults. After a role change, regenerate the surveys with
scripts/awx_surveys.py."""
from __future__ import annotations

import pytest
import yaml

import kntest
from kntest.awx import _choices, awx_extra_vars, awx_spec_errors, load

ROLES = {"preflight": ["preflight"], "remediate": ["preflight", "kernel_modules", "netfilter_tools"]}


def role_options(roles):
    options = {}
    for role in roles:
        spec = yaml.safe_load((kntest.REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())
        for var, option in spec["argument_specs"]["main"]["options"].items():
            options.setdefault(var, []).append((role, option))
    return options


def role_defaults(roles):
    defaults = {}
    for role in roles:
        defaults.update(yaml.safe_load((kntest.REPO / "roles" / role / "defaults" / "main.yml").read_text()) or {})
    return defaults


# --- the checker itself must be able to fail ------------------------------------------------------------------------

GOOD_QUESTION = {"question_name": "q", "variable": "v", "required": True, "type": "multiplechoice",
                 "choices": ["a", "b"], "default": "a"}


@pytest.mark.parametrize("change, message", [
    pytest.param({"type": "boolean"}, "not an allowed question type", id="bad-type"),
    pytest.param({"required": "true"}, "'required' in survey question 0 has the wrong type", id="required-string"),
    pytest.param({"default": "c"}, "Default choice must be answered", id="default-not-a-choice"),
    pytest.param({"default": "a\nb"}, "can only have one default", id="two-defaults"),
    pytest.param({"min": "0"}, "min limit", id="min-string"),
    pytest.param({"default": True}, "wrong type", id="default-bool"),
    pytest.param({"choices": None, "type": "text", "default": "$encrypted$x"}, "reserved", id="encrypted"),
])
def test_checker_rejects(change, message):
    question = dict(GOOD_QUESTION, **change)
    if question.get("choices") is None:
        question.pop("choices")
    errors = awx_spec_errors({"name": "n", "description": "d", "spec": [question]})
    assert any(message in e for e in errors), errors


def test_checker_rejects_spec_level_problems():
    assert awx_spec_errors({"name": "n", "description": "d", "spec": []})
    assert awx_spec_errors({"name": "n", "spec": [GOOD_QUESTION]})
    assert awx_spec_errors({"name": "n", "description": "d", "spec": [GOOD_QUESTION, GOOD_QUESTION]})
    assert awx_spec_errors({"name": "n", "description": "d", "spec": [dict(GOOD_QUESTION, choices="a\n\nb")]}) == []
    multi = dict(GOOD_QUESTION)
    multi.pop("choices")
    assert awx_spec_errors({"name": "n", "description": "d", "spec": [multi]})


def test_defaults_that_fail_are_dropped_like_awx_does():
    too_long = {"type": "text", "variable": "t", "default": "x", "max": 0}
    spec = {"spec": [dict(GOOD_QUESTION, required=False, default=""), too_long]}
    assert awx_extra_vars(spec) == {}


# --- the shipped surveys --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(ROLES))
def test_survey_is_accepted_by_awx(name):
    assert awx_spec_errors(load(name)) == []


@pytest.mark.parametrize("name", sorted(ROLES))
def test_every_question_is_a_role_variable_with_the_role_default(name):
    survey = load(name)
    options = role_options(ROLES[name])
    defaults = role_defaults(ROLES[name])
    sent = awx_extra_vars(survey)
    for item in survey["spec"]:
        var = item["variable"]
        assert var in options, "%s is no variable of %s" % (var, ROLES[name])
        if var not in sent:  # dropped default: the role default applies
            assert item["type"] == "multiplechoice" and not item["required"] and defaults[var] == "", item
            continue
        value, default = sent[var], defaults[var]
        if isinstance(default, bool):
            assert value == str(default).lower(), var
        elif isinstance(default, list):
            assert default == [] and value == "", var
        else:
            assert value == default, var


@pytest.mark.parametrize("name", sorted(ROLES))
def test_every_enumeration_and_bool_of_the_roles_is_a_choice(name):
    survey = dict((q["variable"], q) for q in load(name)["spec"])
    for var, uses in role_options(ROLES[name]).items():
        for role, option in uses:
            if option.get("choices") and var in survey:
                assert survey[var]["type"] == "multiplechoice"
                assert _choices(survey[var]) == [c for c in option["choices"] if c != ""], (role, var)
                assert survey[var]["required"] == ("" not in option["choices"]), (role, var)
            elif option.get("type") == "raw" and option.get("default") == "auto" and var in survey:
                # a tri-state (auto, or a boolean that wins)
                assert _choices(survey[var]) == ["auto", "false", "true"], var
            elif option.get("type") == "bool" and var in survey:
                assert survey[var]["type"] == "multiplechoice" and _choices(survey[var]) == ["false", "true"], var
            elif option.get("type") in ("list", "raw") and var in survey:
                assert survey[var]["type"] in ("text", "textarea"), var
    # the enumerations a user of that job template must be able to pick
    wanted = {"kubenode_proxy_mode", "kubenode_distribution", "kubenode_cni", "kubenode_preflight_fail_on",
              "kubenode_kube_router_image_backend"}
    if name == "remediate":
        wanted |= {"kubenode_kernel_modules_state", "kubenode_iptables_backend"}
    assert wanted <= set(survey), wanted - set(survey)
    enumerations = set(v for v, uses in role_options(ROLES[name]).items()
                       if any(o.get("choices") for _r, o in uses))
    assert enumerations <= set(survey), "enumerations without a question: %s" % sorted(enumerations - set(survey))
