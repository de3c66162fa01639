"""The benchmarks in bench/ keep working (a smoke run with --quick). No timing is asserted here: speed and memory
are measured by running the benchmarks themselves, never by tests."""
from __future__ import annotations

import sys

import kntest


def test_kernel_config_bench_quick_runs():
    proc = kntest.run([sys.executable, str(kntest.REPO / "bench" / "bench_kernel_config.py"), "--quick"])
    assert "parse + module states" in proc.stdout
    assert "module run" in proc.stdout
