#!/usr/bin/env python
# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Galaxy artifact as a user gets it (scripts/test.sh stage `artifact`; exit status 0 only when all is well).

1. `ansible-galaxy collection build` of this checkout into a temporary directory.
2. The tarball holds what Galaxy users expect (plugins, roles, playbooks, docs, meta, changelogs, README, license,
   the EE requirements, tests) and nothing of the harness (scripts/, tests/images/, bench/, molecule/, .ci, lint
   configs, caches, .build); MANIFEST.json carries galaxy.yml's version.
3. `ansible-galaxy collection install --offline` of the tarball into an empty collections path; the dependencies
   (kubernetes.core, community.general) must be satisfied by the `ansible` package's bundled collections.
4. From a directory outside the checkout, with only those two collection paths: `ansible-doc` of every module, filter
   and role (and the `--metadata-dump` galaxy-importer runs), and `ansible-playbook --syntax-check` of every playbook
   by FQCN. Any warning, error or "Missing documentation" in their output fails the check.

Usage: scripts/check_artifact.py [--keep]   (--keep leaves the temporary directory for inspection)
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
COLLECTION = "kubenode.netfilter"

# must be in the tarball (paths relative to the collection root; a trailing / means "a directory with files")
REQUIRED = ["MANIFEST.json", "FILES.json", "README.md", "COPYING", "LICENSES/", "meta/runtime.yml",
            "meta/execution-environment.yml", "requirements.txt", "bindep.txt", "changelogs/changelog.yaml",
            "changelogs/config.yaml", "plugins/modules/", "plugins/module_utils/", "plugins/filter/", "plugins/action/",
            "roles/preflight/meta/argument_specs.yml", "playbooks/preflight.yml", "playbooks/remediate.yml", "docs/",
            "docs/awx/survey_preflight.json", "tests/unit/", "tests/integration/"]
# must not be in it (prefixes, or names anywhere in a path)
FORBIDDEN_PREFIXES = ["scripts/", "tests/images/", "bench/", "molecule/", ".ci/", ".build/", ".git/", "inventory/",
                      ".ansible-lint", ".yamllint", ".gitignore", "requirements-dev.txt", "tests/output/", ".benchmarks"]
FORBIDDEN_PARTS = ["__pycache__", ".pytest_cache"]
NOISE = re.compile(r"\[(WARNING|DEPRECATION WARNING|ERROR)\]|Missing documentation|could not parse documentation",
                   re.IGNORECASE)

failures = []


def fail(message):
    failures.append(message)
    print("FAIL: " + message, flush=True)


def bundled_collections():
    spec = importlib.util.find_spec("ansible_collections.community")
    if spec is None or not spec.submodule_search_locations:
        return None
    return str(Path(list(spec.submodule_search_locations)[0]).parent.parent)


def tool(name):
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else (shutil.which(name) or name)


def run(argv, env, cwd, quiet_ok=True):
    """Run a command; fail on a non-zero exit or on any warning/error line. Returns stdout."""
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    label = " ".join(argv[:1] and [Path(argv[0]).name] + argv[1:])
    noisy = [line for line in (proc.stdout + "\n" + proc.stderr).splitlines() if NOISE.search(line)]
    if proc.returncode != 0:
        fail("%s exited %d\nstdout:\n%s\nstderr:\n%s" % (label, proc.returncode, proc.stdout[-3000:],
                                                         proc.stderr[-3000:]))
    elif noisy:
        fail("%s printed warnings/errors:\n  %s" % (label, "\n  ".join(noisy[:20])))
    elif not quiet_ok:
        print(proc.stdout)
    else:
        print("ok: %s" % label, flush=True)
    return proc.stdout


def check_contents(tarball, version):
    with tarfile.open(tarball) as tar:
        names = [m.name + ("/" if m.isdir() else "") for m in tar.getmembers()]
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    files = [n for n in names if not n.endswith("/")]
    for want in REQUIRED:
        if want.endswith("/"):
            ok = any(f.startswith(want) for f in files)
        else:
            ok = want in files
        if not ok:
            fail("the tarball lacks %s" % want)
    for name in names:
        parts = name.strip("/").split("/")
        if any(name.startswith(p) or name.rstrip("/") == p.rstrip("/") for p in FORBIDDEN_PREFIXES) \
                or any(p in parts for p in FORBIDDEN_PARTS) or name.endswith(".pyc"):
            fail("the tarball carries harness/cache content: %s" % name)
    got = manifest["collection_info"]["version"]
    if got != version:
        fail("MANIFEST.json version %s differs from galaxy.yml's %s" % (got, version))
    print("tarball: %d files, version %s" % (len(files), got), flush=True)
    return files


def main(keep=False):
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    version = galaxy["version"]
    bundled = bundled_collections()
    if not bundled:
        print("FAIL: no `ansible` package (bundled collections) beside %s" % sys.executable)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="kubenode-artifact-"))
    try:
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", LC_ALL="C.UTF-8",
                   PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
                   ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
                   ANSIBLE_HOME=str(tmp / "ansible-home"))
        env.pop("ANSIBLE_CONFIG", None)
        build = tmp / "build"
        run([tool("ansible-galaxy"), "collection", "build", "--output-path", str(build), str(REPO)], env, tmp)
        tarballs = sorted(build.glob("*.tar.gz"))
        if len(tarballs) != 1:
            fail("expected one tarball in %s, got %s" % (build, tarballs))
            return 1
        tarball = tarballs[0]
        if tarball.name != "kubenode-netfilter-%s.tar.gz" % version:
            fail("tarball %s does not carry galaxy.yml's version %s" % (tarball.name, version))
        files = check_contents(tarball, version)

        collections = tmp / "collections"
        collections.mkdir()
        # the dependencies must come from the `ansible` package's collections (bundled), nothing else
        env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join([str(collections), bundled])
        run([tool("ansible-galaxy"), "collection", "install", "--offline", "-p", str(collections), str(tarball)],
            env, tmp)
        installed = collections / "ansible_collections" / "kubenode" / "netfilter"
        for dependency in ("kubernetes", "community"):
            if (collections / "ansible_collections" / dependency).exists():
                fail("the install put %s into the empty path: the bundled collections did not satisfy it" % dependency)
        env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join([str(collections), bundled])
        outside = tmp / "elsewhere"
        outside.mkdir()

        # every plugin and role by name, from the installed tree
        modules = sorted(p.stem for p in (installed / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
        listing = json.loads(run([tool("ansible-doc"), "-t", "filter", "-l", "-j", COLLECTION], env, outside))
        filters = sorted(listing)
        roles = sorted(p.parent.parent.name for p in (installed / "roles").glob("*/meta/argument_specs.yml"))
        every_role = sorted(p.name for p in (installed / "roles").iterdir() if p.is_dir())
        if roles != every_role:
            fail("roles without meta/argument_specs.yml: %s" % sorted(set(every_role) - set(roles)))
        filter_files = sorted(p.stem for p in (installed / "plugins" / "filter").glob("*") if p.suffix in (".py", ".yml"))
        print("modules %s\nfilters %s\nroles %s" % (modules, filters, roles), flush=True)
        for name in modules:
            run([tool("ansible-doc"), "-t", "module", "%s.%s" % (COLLECTION, name)], env, outside)
        for name in filters:
            run([tool("ansible-doc"), "-t", "filter", name], env, outside)
        for name in roles:
            run([tool("ansible-doc"), "-t", "role", "%s.%s" % (COLLECTION, name)], env, outside)
        # a filter file whose name is no documented filter shows up in galaxy-importer without a description
        undocumented = sorted(set(filter_files) - set(n.split(".")[-1] for n in filters))
        if undocumented:
            print("note: filter files that are not filter names themselves: %s" % undocumented)
        dump = json.loads(run([tool("ansible-doc"), "--metadata-dump", "--no-fail-on-errors", COLLECTION], env,
                              outside))
        for kind, entries in dump["all"].items():
            for name, entry in entries.items():
                if name.startswith(COLLECTION + ".") and entry.get("error"):
                    fail("ansible-doc --metadata-dump: %s %s: %s" % (kind, name, entry["error"][:400]))

        inventory = outside / "hosts"
        inventory.write_text("node ansible_connection=local\n")
        for playbook in sorted(p.stem for p in (installed / "playbooks").glob("*.yml")):
            run([tool("ansible-playbook"), "-i", str(inventory), "--syntax-check", "%s.%s" % (COLLECTION, playbook)],
                env, outside)
        if not any(f.startswith("plugins/filter/") for f in files):
            fail("no filters in the tarball")
    finally:
        if keep:
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("\nartifact check: %d problem(s)" % len(failures))
        return 1
    print("\nartifact check: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(keep="--keep" in sys.argv[1:]))
