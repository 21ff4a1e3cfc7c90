"""The benchmark suite: it shares `vgrid bench`'s workloads, its own arithmetic, and a smoke run
of its smallest case. (The FLOP count the suite uses is tested in test_bench.py.)"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from vgrid.bench import measure, workloads

SUITE = Path(__file__).resolve().parents[1] / "benchmarks" / "suite.py"


def _suite():
    spec = importlib.util.spec_from_file_location("suite", SUITE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_suite_takes_its_grids_from_vgrid_bench():
    suite = _suite()
    assert suite.grid_case("core_a").grid == workloads.build("core_a").grid
    # the suite's large case is the `large` workload (workloads v1's quick mlp_wide, kept
    # when v2 made the quick size smaller)
    large, bench = suite.grid_case("large"), workloads.build("large")
    assert large.grid == bench.grid and large.X.shape == bench.X.shape == (10000, 64)
    assert large.estimator.get_params() == bench.estimator.get_params()
    assert large.n_fits == 160 and large.estimator.max_iter == 5
    assert suite.bench_measure.measure_problem is measure.measure_problem


def test_suite_runs_a_case_and_writes_json_markdown_and_plot(tmp_path):
    subprocess.run(
        [
            sys.executable,
            str(SUITE),
            "--cases",
            "scaling",
            "--scaling-sizes",
            "2",
            "--out-dir",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
        env=dict(os.environ, PYTHONPATH=str(SUITE.parents[1])),
    )
    report = json.loads((tmp_path / "suite-cpu.json").read_text())
    (point,) = report["cases"]
    assert point["models"] == 2 and point["vgrid_warm_fits_per_second"] > 0
    assert 0 < point["vgrid_warm_share_of_peak"] < 1
    assert point["sklearn_fits_per_second"] > 0
    assert np.isfinite(report["matmul_peak"]["float32"]["gflops"])
    assert "| 2 |" in (tmp_path / "suite-cpu.md").read_text()
    assert (tmp_path / "suite-cpu.png").stat().st_size > 0


def test_repeated_cases_report_the_median_run_and_every_run():
    suite = _suite()

    def run(speedup):
        return {
            "sklearn": {"seconds": 4.0},
            "vgrid_cold": {"seconds": 4.0 / speedup, "speedup": speedup, "share_of_peak": 0.2},
            "vgrid_rerun": {"seconds": 1.0, "speedup": 4.0},
            "vgrid_warm": {"seconds": 0.8, "speedup": 5.0, "share_of_peak": 0.3},
        }

    median = suite.median_run([run(3.1), run(3.5), run(3.3)])
    assert median["vgrid_cold"]["speedup"] == 3.3
    assert [r["cold_speedup"] for r in median["runs"]] == [3.1, 3.5, 3.3]
    assert suite._spread(median["runs"], "cold_speedup", "{:.1f}".format) == "3.1-3.5"
    assert suite.median_run([run(3.1), run(3.5)])["vgrid_cold"]["speedup"] == 3.1
