# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""scripts/check_artifact.py's content rules on synthetic tarballs (the full build + install + ansible-doc run is the
`artifact` stage of scripts/test.sh)."""
from __future__ import annotations

import importlib.util
import io
import json
import tarfile

import pytest

import kntest

SCRIPT = kntest.REPO / "scripts" / "check_artifact.py"
if not SCRIPT.exists():  # the Galaxy artifact leaves scripts/ out
    pytest.skip("scripts/check_artifact.py is not shipped in the artifact", allow_module_level=True)


def load_checker():
    spec = importlib.util.spec_from_file_location("check_artifact", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tarball(tmp_path, names, version="0.1.0"):
    path = tmp_path / ("kubenode-netfilter-%s.tar.gz" % version)
    with tarfile.open(path, "w:gz") as tar:
        for name in names + ["MANIFEST.json"]:
            data = json.dumps({"collection_info": {"version": version}}).encode() if name == "MANIFEST.json" else b"x"
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def good_names():
    names = []
    for want in load_checker().REQUIRED:
        if want != "MANIFEST.json":
            names.append(want + "x.py" if want.endswith("/") else want)
    return names


def test_a_complete_clean_tarball_passes(tmp_path):
    checker = load_checker()
    checker.check_contents(tarball(tmp_path, good_names()), "0.1.0")
    assert checker.failures == []


@pytest.mark.parametrize("extra, message", [
    pytest.param("scripts/bootstrap.sh", "harness", id="bootstrap"),
    pytest.param("tests/images/build.sh", "harness", id="images"),
    pytest.param("tests/.pytest_cache/v/cache/nodeids", "harness", id="pytest-cache"),
    pytest.param("plugins/filter/__pycache__/x.cpython-311.pyc", "harness", id="pycache"),
    pytest.param("molecule/facts/molecule.yml", "harness", id="molecule"),
    pytest.param("bench/bench_x.py", "harness", id="bench"),
    pytest.param(".ansible-lint", "harness", id="lint-config"),
])
def test_harness_content_fails(tmp_path, extra, message):
    checker = load_checker()
    checker.check_contents(tarball(tmp_path, good_names() + [extra]), "0.1.0")
    assert any(message in f and extra in f for f in checker.failures), checker.failures


def test_missing_content_and_wrong_version_fail(tmp_path):
    checker = load_checker()
    names = [n for n in good_names() if not n.startswith("roles/")]
    checker.check_contents(tarball(tmp_path, names, version="0.2.0"), "0.1.0")
    assert any("lacks roles/preflight/meta/argument_specs.yml" in f for f in checker.failures)
    assert any("MANIFEST.json version 0.2.0 differs" in f for f in checker.failures)
