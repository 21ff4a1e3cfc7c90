"""The benchmark suite's own arithmetic, and a smoke run of its smallest case."""

import importlib.util
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold

import vgrid

SUITE = Path(__file__).resolve().parents[1] / "benchmarks" / "suite.py"


def _suite():
    spec = importlib.util.spec_from_file_location("suite", SUITE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_useful_flop_counts_real_weights_samples_and_epochs(datasets):
    suite = _suite()
    X, y = datasets["iris"]
    cv = StratifiedKFold(3)
    grid = {"hidden_layer_sizes": [(3,), (7, 2)], "learning_rate_init": [1e-3, 0.1]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = vgrid.GridSearchCV(vgrid.MLPClassifier(max_iter=30, random_state=0), grid,
                                    cv=cv).fit(X, y)
    expected = 0
    for params in search.cv_results_["params"]:
        weights = {(3,): 5 * 3 + 4 * 3, (7, 2): 5 * 7 + 8 * 2 + 3 * 3}[params["hidden_layer_sizes"]]
        for train, _ in cv.split(X, y):
            est = vgrid.MLPClassifier(max_iter=30, random_state=0, **params)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                est.fit(X[train], y[train])
            expected += 6 * weights * len(train) * est.n_iter_
    best = search.best_estimator_
    expected += 6 * sum(w.size + b.size for w, b in zip(best.coefs_, best.intercepts_)) \
        * len(X) * best.n_iter_
    assert suite.useful_flop(search, X, y, cv, n_outputs=3) == expected


def test_suite_runs_a_case_and_writes_json_markdown_and_plot(tmp_path):
    subprocess.run([sys.executable, str(SUITE), "--cases", "scaling", "--scaling-sizes", "2",
                    "--out-dir", str(tmp_path)], check=True, capture_output=True)
    report = json.loads((tmp_path / "suite-cpu.json").read_text())
    (point,) = report["cases"]
    assert point["models"] == 2 and point["vgrid_warm_fits_per_second"] > 0
    assert point["sklearn_fits_per_second"] > 0
    assert np.isfinite(report["matmul_peak"]["float32"]["gflops"])
    assert "| 2 |" in (tmp_path / "suite-cpu.md").read_text()
    assert (tmp_path / "suite-cpu.png").stat().st_size > 0


def test_repeated_cases_report_the_median_run_and_every_run():
    suite = _suite()

    def run(speedup):
        return {"sklearn": {"seconds": 4.0},
                "vgrid_cold": {"seconds": 4.0 / speedup, "speedup": speedup,
                               "share_of_peak": 0.2},
                "vgrid_rerun": {"seconds": 1.0, "speedup": 4.0},
                "vgrid_warm": {"seconds": 0.8, "speedup": 5.0, "share_of_peak": 0.3}}

    median = suite.median_run([run(3.1), run(3.5), run(3.3)])
    assert median["vgrid_cold"]["speedup"] == 3.3
    assert [r["cold_speedup"] for r in median["runs"]] == [3.1, 3.5, 3.3]
    assert suite._spread(median["runs"], "cold_speedup", "{:.1f}".format) == "3.1-3.5"
    assert suite.median_run([run(3.1), run(3.5)])["vgrid_cold"]["speedup"] == 3.1
