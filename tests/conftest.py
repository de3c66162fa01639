"""Shared pytest plumbing.

Makes this checkout importable as ``ansible_collections.kubenode.netfilter`` (a symlink under ``.build/``) so that the
tests import the collection exactly as Ansible does. Shared helpers live in ``tests/kntest``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kntest  # noqa: E402  (needs the path above)

kntest.ensure_collection_link()
sys.path.insert(0, str(kntest.COLLECTIONS_ROOT))


@pytest.fixture(scope="session")
def ansible_env() -> dict:
    """Environment for running ansible / ansible-playbook against this checkout."""
    return kntest.ansible_environment()


def pytest_configure(config):
    config.addinivalue_line("markers", "root: needs root (network namespaces, real netfilter tools)")
    config.addinivalue_line("markers", "netns: builds state in throwaway network namespaces")
