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
