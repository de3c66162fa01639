# Copyright (c) 2026 kubenode.netfilter contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/bench_fleet_report.py keeps working (a smoke run with --quick). No timing is asserted: speed and memory are
measured by running the benchmark itself, never by tests."""
from __future__ import annotations

import sys

import kntest


def test_fleet_report_bench_quick_runs():
    proc = kntest.run([sys.executable, str(kntest.REPO / "bench" / "bench_fleet_report.py"), "--quick"])
    assert "report step" in proc.stdout
    assert "growth 100 -> 300 hosts" in proc.stdout
