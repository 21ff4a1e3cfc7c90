"""Bad and odd input: vgrid does what scikit-learn does (same exception type and message, or the
same results), case by case. Also pickling and determinism across processes."""

import re
import subprocess
import sys
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn import model_selection, neural_network
from sklearn.model_selection import KFold, StratifiedKFold

import vgrid

from helpers import assert_same_search

EST = dict(hidden_layer_sizes=(4,), max_iter=8, random_state=0)


def _outcome(search_cls, estimator, X, y, grid, **search_params):
    """('ok', the fitted search, warning categories) or ('raise', type, error lines)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            search = search_cls(estimator, grid, **search_params).fit(X, y)
        except Exception as exc:  # noqa: BLE001 - the outcome is what we compare
            errors = set(re.findall(r"^[\w.]*(?:Error|Exception): .*$", str(exc), re.M))
            return "raise", type(exc), errors or {str(exc)}
    categories = {w.category.__name__ for w in caught} - {"RuntimeWarning"}
    return "ok", search, categories


def _mean_scores(outcome):
    return outcome[1].cv_results_["mean_test_score"]


def _rng_data(n=60, classes=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 4)
    return X, (X[:, 0] > 0).astype(int) + (classes > 2) * (X[:, 1] > 0.5)


def _with(X, index, value):
    X = X.astype(object if isinstance(value, str) else float)
    X[index] = value
    return X


X0, Y0 = _rng_data()
CASES = {
    "nan in X": (_with(X0, (3, 1), np.nan), Y0, {}),
    "inf in X": (_with(X0, (3, 1), np.inf), Y0, {}),
    "nan in y (classification)": (X0, _with(Y0.astype(float), 5, np.nan), {}),
    "inf in y (regression)": (X0, _with(Y0.astype(float), 5, np.inf), {"regression": True}),
    "nan in y (regression)": (X0, _with(Y0.astype(float), 5, np.nan), {"regression": True}),
    "1-d X": (X0[:, 0], Y0, {}),
    "3-d X": (X0[:, :, None], Y0, {}),
    "empty X": (X0[:0], Y0[:0], {}),
    "mismatched lengths": (X0, Y0[:-2], {}),
    "string features": (_with(X0, (0, 0), "a"), Y0, {}),
    "object numbers": (X0.astype(object), Y0, {}),
    "sparse X": (sp.csr_matrix(np.where(np.abs(X0) > 0.5, X0, 0.0)), Y0, {}),
    "non-contiguous X": (np.repeat(X0, 2, axis=1)[:, ::2], Y0, {}),
    "read-only X": (X0.copy(), Y0, {"read_only": True}),
    "string labels": (X0, np.array(["cat", "dog", "eel"])[Y0], {}),
    "one class": (X0, np.zeros(len(Y0), int), {}),
    "multilabel": (X0, np.column_stack([Y0 == 1, X0[:, 2] > 0]).astype(int), {}),
    "imbalanced, stratified": (
        X0,
        (np.arange(len(Y0)) < 9).astype(int),
        {"cv": StratifiedKFold(3)},
    ),
    "folds smaller than a batch": (X0, Y0, {"grid": {"batch_size": [500]}}),
    "invalid value in grid": (X0, Y0, {"grid": {"alpha": [-1.0, 1e-4]}}),
    "invalid type in grid": (X0, Y0, {"grid": {"learning_rate_init": ["fast"]}}),
    "unknown parameter": (X0, Y0, {"grid": {"alpha_": [1.0]}}),
    "float32 X": (X0.astype(np.float32), Y0, {}),
    "pandas X": (pd.DataFrame(X0, columns=list("abcd")), pd.Series(Y0), {}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_odd_input_like_sklearn(case):
    X, y, options = CASES[case]
    options = dict(options)
    if options.pop("read_only", False):
        X.setflags(write=False)
    grid = options.pop("grid", {"alpha": [1e-4, 1e-2]})
    regression = options.pop("regression", False)
    cv = options.pop("cv", KFold(3) if regression else 3)
    sk_cls = neural_network.MLPRegressor if regression else neural_network.MLPClassifier
    vg_cls = vgrid.MLPRegressor if regression else vgrid.MLPClassifier
    ref = _outcome(model_selection.GridSearchCV, sk_cls(**EST), X, y, grid, cv=cv)
    ours = _outcome(vgrid.GridSearchCV, vg_cls(**EST), X, y, grid, cv=cv)
    assert ours[0] == ref[0], (ours, ref)
    if ref[0] == "raise":
        assert ours[1] is ref[1]
        assert ours[2] == ref[2]
    else:
        assert_same_search(ours[1], ref[1], atol=1e-12)
        assert ours[2] == ref[2]


def test_callable_scorer_that_raises_like_sklearn():
    def broken(estimator, X, y):
        raise RuntimeError("scorer broke")

    for error_score in (np.nan, "raise"):
        ref = _outcome(
            model_selection.GridSearchCV,
            neural_network.MLPClassifier(**EST),
            X0,
            Y0,
            {"alpha": [1e-4]},
            cv=3,
            scoring=broken,
            error_score=error_score,
        )
        ours = _outcome(
            vgrid.GridSearchCV,
            vgrid.MLPClassifier(**EST),
            X0,
            Y0,
            {"alpha": [1e-4]},
            cv=3,
            scoring=broken,
            error_score=error_score,
        )
        assert ours[0] == ref[0]
        if ref[0] == "ok":
            assert_same_search(ours[1], ref[1])
            assert np.isnan(_mean_scores(ours)).all() and ours[2] == ref[2]
        else:
            assert ours[1] is ref[1] is RuntimeError


@pytest.mark.parametrize("error_score", [np.nan, -1.0, "raise"])
def test_diverging_model_follows_sklearn_and_spares_the_others(error_score):
    X, _ = _rng_data(80)
    y = X @ np.array([1.0, 2.0, 3.0, 4.0])
    grid = {"learning_rate_init": [1e-3, 1e3], "solver": ["sgd"], "momentum": [0.9]}
    ref = _outcome(
        model_selection.GridSearchCV,
        neural_network.MLPRegressor(**EST),
        X,
        y,
        grid,
        cv=2,
        error_score=error_score,
    )
    ours = _outcome(
        vgrid.GridSearchCV, vgrid.MLPRegressor(**EST), X, y, grid, cv=2, error_score=error_score
    )
    assert ours[0] == ref[0]
    if ref[0] == "raise":  # "Solver produced non-finite parameter weights..."
        assert ours[1] is ref[1] and ours[2] == ref[2]
        return
    assert_same_search(ours[1], ref[1], atol=1e-12)
    if error_score == -1.0:
        assert _mean_scores(ours)[1] == -1.0
    else:
        assert np.isnan(_mean_scores(ours)[1])
    assert {"FitFailedWarning", "ConvergenceWarning"} <= ours[2] == ref[2]
    alone = _outcome(
        vgrid.GridSearchCV,
        vgrid.MLPRegressor(**EST),
        X,
        y,
        {**grid, "learning_rate_init": [1e-3]},
        cv=2,
        error_score=error_score,
    )
    assert _mean_scores(alone)[0] == pytest.approx(_mean_scores(ours)[0], abs=1e-12)


def test_fitted_objects_pickle_and_predict_the_same_in_a_fresh_process(tmp_path, datasets):
    X, y = datasets["wine"]
    search = vgrid.GridSearchCV(vgrid.MLPClassifier(**EST), {"alpha": [1e-4, 1e-1]}, cv=3).fit(X, y)
    path = tmp_path / "search.joblib"
    joblib.dump(search, path)
    np.save(tmp_path / "X.npy", X)
    expected = np.concatenate(
        [search.predict_proba(X).ravel(), search.best_estimator_.predict_proba(X).ravel()]
    )
    code = (
        "import joblib, numpy as np, sys; s = joblib.load(sys.argv[1]); "
        "X = np.load(sys.argv[2]); np.save(sys.argv[3], np.concatenate("
        "[s.predict_proba(X).ravel(), s.best_estimator_.predict_proba(X).ravel()]))"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(path), str(tmp_path / "X.npy"), str(tmp_path / "out.npy")],
        check=True,
    )
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), expected)
    assert pd.DataFrame(joblib.load(path).cv_results_).equals(pd.DataFrame(search.cv_results_))


DEVICE_SCRIPT = """
import json, sys, warnings
import numpy as np
import jax
import vgrid
from sklearn.exceptions import ConvergenceWarning
warnings.simplefilter("ignore", ConvergenceWarning)
rng = np.random.RandomState(0)
X = rng.randn(90, 4); y = X @ np.array([1.0, 2.0, 3.0, 4.0])
grid = {"learning_rate_init": [1e-3, 1e-2, 1e3], "alpha": [1e-4, 1.0], "solver": ["sgd"]}
out = {}
for dtype in ("float64", "float32"):
    s = vgrid.GridSearchCV(vgrid.MLPRegressor(hidden_layer_sizes=(5,), max_iter=15,
                                              random_state=0), grid, cv=3)
    s.fit(X.astype(dtype), y.astype(dtype))
    out[dtype] = [float(s.cv_results_[f"split{i}_test_score"][c]) for c in range(6)
                  for i in range(3)]
print(json.dumps({"devices": jax.device_count(), "scores": out}))
"""


def _scores_with_devices(*device_counts):
    """DEVICE_SCRIPT's output in one process per device count, the processes run at once
    (each mostly imports and compiles on one core)."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", DEVICE_SCRIPT],
            env={
                **__import__("os").environ,
                "XLA_FLAGS": f"--xla_force_host_platform_device_count={n}",
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in device_counts
    ]
    outputs = [process.communicate() for process in processes]
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
    return [__import__("json").loads(out.strip().splitlines()[-1]) for out, _ in outputs]


def test_scores_identical_on_1_2_and_4_devices_with_a_diverging_model():
    runs = _scores_with_devices(1, 2, 4)
    assert [run["devices"] for run in runs] == [1, 2, 4]
    for dtype in ("float64", "float32"):
        scores = [np.array(run["scores"][dtype]) for run in runs]
        assert np.isnan(scores[0]).any() and np.isfinite(scores[0]).any()
        for other in scores[1:]:
            np.testing.assert_array_equal(other, scores[0])


def test_reliability_table_lists_every_case():
    """tests/RELIABILITY.md is exactly the table `tests/reliability_table.py` builds from the
    tests: a case added, renamed or removed without the table fails here."""
    import os

    from reliability_table import rows, table

    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "RELIABILITY.md")) as f:
        assert f.read() == table(), "run: python tests/reliability_table.py > tests/RELIABILITY.md"
    tests = [test for _, _, test in rows()]
    assert len(tests) == len(set(tests)) > 100
    assert f"test_reliability.py::test_odd_input_like_sklearn[{next(iter(CASES))}]" in tests
