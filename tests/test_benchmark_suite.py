"""The benchmark suite: it shares `vgrid bench`'s workloads, its own arithmetic, and a smoke run
of its smallest case. (The FLOP count the suite uses is tested in test_bench.py.)"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jsonschema
import pytest
import sklearn

from vgrid.bench import measure, report, workloads

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


_SECONDS = {"type": "number", "exclusiveMinimum": 0}
_SCALING_ROW = {
    "type": "object",
    "required": [
        "models",
        "vgrid_cold_seconds",
        "vgrid_compile_seconds",
        "vgrid_warm_seconds",
        "vgrid_cold_fits_per_second",
        "vgrid_warm_fits_per_second",
        "vgrid_warm_share_of_peak",
        "peak_rss_mib",
        "rss_before_fit_mib",
        "device_peak_mib",
    ],
    "properties": {
        "models": {"type": "integer", "minimum": 1},
        "vgrid_cold_seconds": _SECONDS,
        "vgrid_compile_seconds": {"type": "number", "minimum": 0},
        "vgrid_warm_seconds": _SECONDS,
        "vgrid_cold_fits_per_second": _SECONDS,
        "vgrid_warm_fits_per_second": _SECONDS,
        "vgrid_warm_share_of_peak": {
            "type": "number",
            "exclusiveMinimum": 0,
            "exclusiveMaximum": 1,
        },
        "peak_rss_mib": _SECONDS,
        "rss_before_fit_mib": _SECONDS,
        "device_peak_mib": {"type": ["number", "null"]},
        "sklearn_seconds": _SECONDS,
        "sklearn_fits_per_second": _SECONDS,
    },
}
#: The suite's JSON for its scaling case: the document around its rows, and the matmul peak as
#: `vgrid bench`'s schema defines it (the suite measures it with `vgrid bench`'s code).
SUITE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["suite", "device", "platform", "machine", "cpu_count", "jax", "sklearn"]
    + ["date", "matmul_peak", "cases"],
    "properties": {
        "suite": {"const": "vgrid"},
        "cpu_count": {"type": "integer", "minimum": 1},
        "matmul_peak": {
            "type": "object",
            "required": ["float32", "float64"],
            "additionalProperties": {"$ref": "#/$defs/peak"},
        },
        "cases": {"type": "array", "minItems": 1, "items": _SCALING_ROW},
    },
    "$defs": {"peak": report.load_schema()["$defs"]["peak"]},
}


def _assert_rates_are_counts_over_times(point):
    for rate, seconds in [
        ("vgrid_cold_fits_per_second", "vgrid_cold_seconds"),
        ("vgrid_warm_fits_per_second", "vgrid_warm_seconds"),
        ("sklearn_fits_per_second", "sklearn_seconds"),
    ]:
        assert point[rate] == pytest.approx(point["models"] / point[seconds], rel=1e-12), rate


def test_a_scaling_point_measured_here_validates_and_fills_the_table_and_plot(tmp_path):
    """The suite's scaling case in this process (no fresh processes, a quicker matmul peak):
    its row and the document around it validate, and the table and plot show the row."""
    suite = _suite()
    peak = {dtype: measure.matmul_peak(dtype, repeats=2) for dtype in ("float32", "float64")}
    point = suite.run_scaling_point(2, peak)
    doc = {
        "suite": "vgrid",
        "device": "cpu",
        "platform": "cpu",
        "machine": "here",
        "cpu_count": os.cpu_count(),
        "jax": jax.__version__,
        "sklearn": sklearn.__version__,
        "date": "now",
        "matmul_peak": peak,
        "cases": [point],
    }
    jsonschema.validate(doc, SUITE_SCHEMA)
    assert point["models"] == 2 and "sklearn_seconds" in point
    _assert_rates_are_counts_over_times(point)
    assert f"| 2 | {point['vgrid_cold_fits_per_second']:.1f} " in suite.markdown(doc)
    suite.plot(doc, tmp_path / "suite.png")
    assert (tmp_path / "suite.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# Slow: the suite's own fresh processes (the matmul peak, then the case). Covered by
# test_a_scaling_point_measured_here_validates_and_fills_the_table_and_plot (the same row, its
# table and plot) and test_the_suite_takes_its_grids_from_vgrid_bench (the shared workloads).
@pytest.mark.slow
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
    doc = json.loads((tmp_path / "suite-cpu.json").read_text())
    jsonschema.validate(doc, SUITE_SCHEMA)
    assert doc["jax"] == jax.__version__ and doc["sklearn"] == sklearn.__version__
    assert doc["cpu_count"] == os.cpu_count()
    (point,) = doc["cases"]
    assert point["models"] == 2 and "sklearn_seconds" in point  # scikit-learn measured up to 256
    _assert_rates_are_counts_over_times(point)
    # The table shows the JSON's row.
    row = f"| 2 | {point['vgrid_cold_fits_per_second']:.1f} "
    assert row in (tmp_path / "suite-cpu.md").read_text()
    assert (tmp_path / "suite-cpu.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


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
