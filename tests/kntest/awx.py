# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AWX survey rules (see the citations below), for the tests of docs/awx/survey_*.json.

AWX's rules, encoded below as ``awx_spec_errors`` (facts read from ansible/awx, devel as of 2024-10):
- awx/api/views/__init__.py ``JobTemplateSurveySpec._validate_spec_data`` (POST .../survey_spec/): ``name`` and
  ``description`` strings, ``spec`` a non-empty list; each question a dict with string ``type``, ``question_name``,
  ``variable`` and boolean ``required``; no duplicate ``variable``; ``type`` a key of ``SURVEY_TYPE_MAPPING``; a
  non-empty ``default`` of the mapped Python type; ``min``/``max`` null or int; multiplechoice/multiselect need
  ``choices`` (a list, or a newline-separated string whose blank lines are dropped), a multiplechoice has at most one
  default and every default is one of the choices; ``$encrypted$`` defaults only for password questions.
- awx/main/constants.py ``SURVEY_TYPE_MAPPING``: text, textarea, password, multiplechoice, multiselect -> str;
  integer -> int; float -> float or int.
- awx/main/models/mixins.py ``SurveyJobTemplateMixin._update_unified_job_kwargs``: each non-null default is run through
  ``_survey_element_validation`` and, only if that passes, sent to the job as an extra var (a default that fails is
  dropped silently, so the role default applies); ``_survey_element_validation``: text lengths within min/max,
  integers within min/max, a multiplechoice answer one of the choices, a multiselect answer a list of choices.
"""
from __future__ import annotations

import json
from pathlib import Path

SURVEYS_DIR = Path(__file__).resolve().parents[2] / "docs" / "awx"


def load(name):
    """docs/awx/survey_<name>.json"""
    return json.loads((SURVEYS_DIR / ("survey_%s.json" % name)).read_text())


# awx/main/constants.py SURVEY_TYPE_MAPPING
SURVEY_TYPE_MAPPING = {"text": str, "textarea": str, "password": str, "multiplechoice": str, "multiselect": str,
                       "integer": int, "float": (float, int)}


def _choices(question):
    choices = question["choices"]
    if isinstance(choices, str):
        return [c for c in choices.splitlines() if c.strip() != ""]
    return list(choices)


def awx_spec_errors(survey):
    """Errors AWX's survey_spec POST would answer with (400), as a list; [] when AWX accepts the spec."""
    errors = []
    for field, kind in (("name", str), ("description", str), ("spec", list)):
        if field not in survey:
            errors.append("Field '%s' is missing from survey spec." % field)
        elif not isinstance(survey[field], kind):
            errors.append("Expected %s for field '%s'" % (kind.__name__, field))
    if isinstance(survey.get("spec"), list) and not survey["spec"]:
        errors.append("'spec' doesn't contain any items.")
    if errors:
        return errors
    seen = set()
    for idx, item in enumerate(survey["spec"]):
        if not isinstance(item, dict):
            errors.append("question %d is not a json object" % idx)
            continue
        missing = False
        for field in ("type", "question_name", "variable", "required"):
            if field not in item:
                errors.append("'%s' missing from survey question %d" % (field, idx))
                missing = True
            elif not isinstance(item[field], bool if field == "required" else str):
                errors.append("'%s' in survey question %d has the wrong type" % (field, idx))
                missing = True
        if missing:
            continue
        if item["variable"] in seen:
            errors.append("'variable' '%s' duplicated in survey question %d" % (item["variable"], idx))
        seen.add(item["variable"])
        qtype = item["type"]
        if qtype not in SURVEY_TYPE_MAPPING:
            errors.append("'%s' in survey question %d is not an allowed question type" % (qtype, idx))
            continue
        default = item.get("default")
        if "default" in item and default != "" and not isinstance(default, SURVEY_TYPE_MAPPING[qtype]):
            errors.append("Default value %r in survey question %d has the wrong type" % (default, idx))
            continue  # AWX answers 400 right there
        for key in ("min", "max"):
            if key in item and item[key] is not None and (not isinstance(item[key], int) or isinstance(item[key], bool)):
                errors.append("The %s limit in survey question %d expected to be integer" % (key, idx))
        if qtype in ("multiplechoice", "multiselect"):
            if "choices" not in item:
                errors.append("Survey question %d of type %s must specify choices" % (idx, qtype))
                continue
            if "default" in item:
                defaults = ([d for d in default.splitlines() if d.strip() != ""] if isinstance(default, str)
                            else list(default))
                if qtype == "multiplechoice" and len(defaults) > 1:
                    errors.append("Multiple Choice (Single Select) can only have one default value (question %d)" % idx)
                if any(d not in item["choices"] for d in defaults):
                    errors.append("Default choice must be answered from the choices listed (question %d)" % idx)
        if isinstance(default, str) and default.startswith("$encrypted$") and qtype != "password":
            errors.append("$encrypted$ is reserved for password defaults (question %d)" % idx)
    return errors


def awx_answer_errors(item, value):
    """awx/main/models/mixins.py SurveyJobTemplateMixin._survey_element_validation for one present answer."""
    qtype = item["type"]
    if qtype in ("text", "textarea", "password"):
        if not isinstance(value, str):
            return ["expected a string"]
        errors = []
        if item.get("min") not in ("", None) and len(value) < int(item["min"]):
            errors.append("too short")
        if item.get("max") not in ("", None) and len(value) > int(item["max"]):
            errors.append("too long")
        return errors
    if qtype == "integer":
        if not isinstance(value, int) or isinstance(value, bool):  # AWX: type(value) != int
            return ["expected an integer"]
        return [e for e, bad in (("too small", item.get("min") not in ("", None) and value < int(item["min"])),
                                 ("too large", item.get("max") not in ("", None) and value > int(item["max"]))) if bad]
    if qtype == "multiselect":
        if not isinstance(value, list):
            return ["expected a list"]
        return ["%r not a choice" % v for v in value if v not in _choices(item)]
    if qtype == "multiplechoice":
        return [] if value in _choices(item) else ["%r not a choice" % (value,)]
    return []


def awx_extra_vars(survey):
    """The extra vars AWX sends for a launch that answers nothing (_update_unified_job_kwargs)."""
    out = {}
    for item in survey["spec"]:
        if item.get("default") is not None and not awx_answer_errors(item, item["default"]):
            out[item["variable"]] = item["default"]
    return out
