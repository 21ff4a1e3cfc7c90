"""vgrid.GridSearchCV against scikit-learn's GridSearchCV: same cv_results_, attributes, scores."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import model_selection, neural_network
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold

import vgrid

from helpers import assert_same_cv_results, assert_same_search, fit_both

BASE = dict(hidden_layer_sizes=(8,), max_iter=25, random_state=0)
#: Exact mode: classification scores are equal; regression scores agree within 1e-10.
SCORE_ATOL = 1e-10


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer", "digits"])
def test_classification_grid_equals_sklearn(datasets, name):
    X, y = datasets[name]
    grid = {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 1e-2]}
    ours, ref = fit_both(
        neural_network.MLPClassifier(**BASE), grid, X, y, cv=3, return_train_score=True
    )
    assert_same_search(ours, ref, atol=SCORE_ATOL)
    assert type(ours.best_estimator_) is neural_network.MLPClassifier
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-10)
    assert ours.classes_.tolist() == ref.classes_.tolist()
    assert ours.n_features_in_ == ref.n_features_in_
    assert ours.score(X, y) == ref.score(X, y)


def test_regression_grid_equals_sklearn(datasets):
    X, y = datasets["diabetes"]
    grid = [
        {"solver": ["sgd"], "momentum": [0.5, 0.9], "learning_rate_init": [1e-3]},
        {"solver": ["adam"], "beta_1": [0.8, 0.9]},
    ]
    ours, ref = fit_both(
        vgrid.MLPRegressor(**BASE),
        grid,
        X,
        y,
        cv=KFold(4),
        scoring=["r2", "neg_mean_squared_error"],
        refit="r2",
    )
    assert_same_search(ours, ref, atol=SCORE_ATOL)
    assert type(ours.best_estimator_) is vgrid.MLPRegressor
    assert set(ours.scorer_) == {"r2", "neg_mean_squared_error"}


def test_structural_grid_equals_sklearn(datasets):
    X, y = datasets["wine"]
    grid = {
        "hidden_layer_sizes": [(4,), (9,), (5, 3)],
        "activation": ["relu", "tanh"],
        "batch_size": [32, "auto"],
        "early_stopping": [False, True],
    }
    ours, ref = fit_both(vgrid.MLPClassifier(**BASE), grid, X, y, cv=StratifiedKFold(3))
    assert_same_search(ours, ref, atol=SCORE_ATOL)


@pytest.mark.parametrize("refit", [False, "accuracy", lambda results: 0])
def test_multimetric_and_refit_variants(datasets, refit):
    X, y = datasets["iris"]
    scoring = {"accuracy": "accuracy", "f1": "f1_macro"}
    ours, ref = fit_both(
        vgrid.MLPClassifier(**BASE),
        {"alpha": [1e-4, 1.0]},
        X,
        y,
        cv=3,
        scoring=scoring,
        refit=refit,
        return_train_score=True,
    )
    assert_same_search(ours, ref, atol=SCORE_ATOL)
    assert hasattr(ours, "best_estimator_") == hasattr(ref, "best_estimator_")
    assert hasattr(ours, "refit_time_") == bool(refit)


def test_single_metric_refit_false_keeps_best_index(datasets):
    X, y = datasets["iris"]
    ours, ref = fit_both(
        vgrid.MLPClassifier(**BASE), {"alpha": [1e-4, 1.0]}, X, y, cv=3, refit=False
    )
    assert_same_search(ours, ref, atol=SCORE_ATOL)
    with pytest.raises(AttributeError, match="has no attribute 'predict'"):
        ours.predict(X)


def test_callable_scorer_returning_dict(datasets):
    X, y = datasets["iris"]

    def scorer(estimator, X, y):
        return {"acc": float(np.mean(estimator.predict(X) == y)), "neg": -1.0}

    ours, ref = fit_both(
        vgrid.MLPClassifier(**BASE), {"alpha": [1e-4, 1.0]}, X, y, cv=3, scoring=scorer, refit="acc"
    )
    assert_same_search(ours, ref, atol=SCORE_ATOL)


def test_failing_candidate_gets_error_score(datasets):
    X, y = datasets["iris"]
    grid = {"hidden_layer_sizes": [(5,), (-1,)]}
    with pytest.warns(FitFailedWarning, match="3 fits failed out of a total of 6"):
        with pytest.warns(UserWarning, match="One or more of the test scores are non-finite"):
            ours = vgrid.GridSearchCV(vgrid.MLPClassifier(**BASE), grid, cv=3).fit(X, y)
    assert np.isnan(ours.cv_results_["mean_test_score"][1])
    assert ours.cv_results_["rank_test_score"].tolist() == [1, 2]
    search = vgrid.GridSearchCV(vgrid.MLPClassifier(**BASE), grid, cv=3, error_score="raise")
    with pytest.raises(ValueError, match=r"hidden_layer_sizes must be > 0, got \[-1\]"):
        search.fit(X, y)
    search.set_params(param_grid={"hidden_layer_sizes": [(-1,)]}, error_score=0.0)
    with pytest.raises(ValueError, match="All the 3 fits failed"):
        search.fit(X, y)


# scikit-learn's NumPy overflows while the learning rate 1e8 blows the weights up (to ~1e289,
# still finite: the fits end and are scored).
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_diverging_candidate_does_not_touch_others(datasets):
    X, y = datasets["breast_cancer"]
    grid = {"learning_rate_init": [1e-3, 1e8], "solver": ["sgd"], "momentum": [0.0]}
    ours, ref = fit_both(neural_network.MLPClassifier(**BASE), grid, X, y, cv=3)
    assert_same_search(ours, ref)  # exactly, the blown-up candidate's scores too
    alone = vgrid.GridSearchCV(
        neural_network.MLPClassifier(**BASE), {**grid, "learning_rate_init": [1e-3]}, cv=3
    ).fit(X, y)
    assert ours.cv_results_["split0_test_score"][0] == alone.cv_results_["split0_test_score"][0]


def test_non_mlp_estimator_falls_back_to_sklearn(datasets, caplog, monkeypatch):
    X, y = datasets["iris"]
    grid = {"C": [0.1, 1.0]}
    monkeypatch.setattr(vgrid.search, "_NOT_VECTORIZED_NOTED", set())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the notice is no warning: filters see what they did
        ours = vgrid.GridSearchCV(LogisticRegression(max_iter=200), grid, cv=3).fit(X, y)
        vgrid.GridSearchCV(LogisticRegression(max_iter=200), grid, cv=3).fit(X, y)
    notices = [r for r in caplog.records if r.name == "vgrid"]
    assert len(notices) == 1 and notices[0].levelname == "WARNING"  # once per type
    assert "vgrid does not vectorize LogisticRegression" in notices[0].getMessage()
    ref = model_selection.GridSearchCV(LogisticRegression(max_iter=200), grid, cv=3).fit(X, y)
    assert_same_search(ours, ref)


def test_pandas_input_sets_feature_names(datasets):
    X, y = datasets["iris"]
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    ours, ref = fit_both(vgrid.MLPClassifier(**BASE), {"alpha": [1e-4]}, frame, y, cv=3)
    assert list(ours.feature_names_in_) == list(ref.feature_names_in_)


def test_verbose_lines_like_sklearn(datasets, capsys):
    X, y = datasets["iris"]
    vgrid.GridSearchCV(vgrid.MLPClassifier(**BASE), {"alpha": [1e-4]}, cv=2, verbose=3).fit(X, y)
    ours = capsys.readouterr().out.splitlines()
    model_selection.GridSearchCV(
        neural_network.MLPClassifier(**BASE), {"alpha": [1e-4]}, cv=2, verbose=3
    ).fit(X, y)
    ref = capsys.readouterr().out.splitlines()
    assert ours[0] == ref[0] == "Fitting 2 folds for each of 1 candidates, totalling 2 fits"
    assert ours[1] == "vgrid: 2 of 2 fits vectorized in 1 program"  # then one line a program
    cv_lines = [line.rsplit("total time=", 1)[0] for line in ours if line.startswith("[CV")]
    assert cv_lines == [line.rsplit("total time=", 1)[0] for line in ref[1:]]


def test_sample_weight_is_routed_like_sklearn(datasets):
    X, y = datasets["wine"]
    weights = np.random.RandomState(1).uniform(0.5, 1.5, len(y))
    ours, ref = fit_both(
        neural_network.MLPClassifier(**BASE),
        {"alpha": [1e-4, 1e-1]},
        X,
        y,
        cv=3,
        fit_params={"sample_weight": weights},
    )
    assert_same_search(ours, ref, atol=SCORE_ATOL)


def test_fast_mode_float32_close_to_sklearn(datasets):
    X, y = datasets["digits"]
    X = X.astype(np.float32)
    grid = {"alpha": [1e-4, 1e-2], "learning_rate_init": [1e-3, 1e-2]}
    ours, ref = fit_both(
        vgrid.MLPClassifier(hidden_layer_sizes=(16,), max_iter=30, random_state=0), grid, X, y, cv=3
    )
    # Fast mode's tolerance, 0.01, on every score (split, mean, std); ranks may then reorder.
    assert_same_cv_results(ours, ref, atol=0.01, ranks=False)
    assert ours.best_estimator_.coefs_[0].dtype == np.float32


@pytest.mark.parametrize(
    "compile_seconds, engine", [(None, "scikit-learn"), (0.0, "vgrid"), (1e9, "scikit-learn")]
)
def test_refit_engine_follows_the_cost_model(datasets, monkeypatch, compile_seconds, engine):
    # One small model: compiling a program for it costs more than scikit-learn's own fit, so
    # the default cost model refits with scikit-learn; either engine gives the same model.
    from collections import deque

    from vgrid import mlp_kind, scheduling
    from vgrid.plan import CostModel

    # No program of earlier tests may host the refit (its batch size differs from the folds').
    monkeypatch.setattr(scheduling.PROGRAMS, "_hosts", deque())
    if compile_seconds is not None:
        monkeypatch.setattr(mlp_kind, "COST_MODEL", CostModel(compile_seconds=compile_seconds))
    X, y = datasets["wine"]
    grid = {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 1e-2]}
    search = vgrid.GridSearchCV(vgrid.MLPClassifier(**BASE), grid, cv=3).fit(X, y)
    alone = vgrid.MLPClassifier(**BASE).set_params(**search.best_params_).fit(X, y)
    assert search.refit_engine_ == engine
    assert type(search.best_estimator_) is vgrid.MLPClassifier
    assert search.best_estimator_.n_iter_ == alone.n_iter_
    for ours, theirs in zip(search.best_estimator_.coefs_, alone.coefs_):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)


def test_refit_cost_estimate_uses_the_expected_epochs(datasets):
    # A long max_iter makes scikit-learn's fit look dear; the epochs the candidate's CV fits
    # actually ran (epochs_hint) make it cheap again.
    from vgrid.engine import FitJob
    from vgrid.mlp_kind import _prepare
    from vgrid.plan import COST_MODEL, plan_groups

    X, y = datasets["digits"]
    est = vgrid.MLPClassifier(hidden_layer_sizes=(256, 256), max_iter=2000, random_state=0)
    (plan,) = plan_groups([_prepare(0, FitJob(est, X / 16, y), {}, {})])
    assert not COST_MODEL.numpy_fit_is_cheaper(plan, n_threads=2)
    assert COST_MODEL.numpy_fit_is_cheaper(plan, n_threads=2, epochs=5)


def test_models_are_made_as_clone_and_set_params_make_them():
    # The search's fast path (a deep copy of one clone) gives what scikit-learn's
    # clone(base).set_params(**params) gives: parameters, metadata requests, independent
    # random states; an unknown parameter fails with scikit-learn's own error.
    import sklearn
    from sklearn.base import clone

    from vgrid.search import _with_params

    with sklearn.config_context(enable_metadata_routing=True):
        base = neural_network.MLPClassifier(random_state=np.random.RandomState(3))
        base.set_fit_request(sample_weight=True)
        template = clone(base)
        ours = _with_params(base, {"alpha": 0.5, "hidden_layer_sizes": (7,)}, template)
        theirs = clone(base).set_params(alpha=0.5, hidden_layer_sizes=(7,))
        assert type(ours) is type(theirs)
        ours_params, theirs_params = ours.get_params(), theirs.get_params()
        assert ours_params.pop("random_state") is not template.random_state
        theirs_params.pop("random_state")
        assert ours_params == theirs_params
        assert (ours.random_state.get_state()[1] == theirs.random_state.get_state()[1]).all()
        assert str(ours.get_metadata_routing()) == str(theirs.get_metadata_routing())
        assert template.alpha == base.alpha  # the template is untouched
        with pytest.raises(ValueError, match="Invalid parameter 'nope'"):
            _with_params(base, {"nope": 1}, template)


def test_parameter_validation_checks_each_new_value():
    # Values already seen valid are skipped; a new invalid value still fails exactly as
    # scikit-learn's own validation does.
    from sklearn.utils._param_validation import InvalidParameterError

    from vgrid.mlp_kind import _validate_params

    good = neural_network.MLPClassifier(alpha=0.25)
    _validate_params(good)
    for bad in (
        neural_network.MLPClassifier(alpha=-0.25),
        neural_network.MLPClassifier(alpha=0.25, activation="swish"),
    ):
        with pytest.raises(InvalidParameterError) as ours:
            _validate_params(bad)
        with pytest.raises(InvalidParameterError) as theirs:
            bad._validate_params()
        assert str(ours.value) == str(theirs.value)


_WARNING_SCRIPT = """
import sys
from sklearn.datasets import load_iris
X, y = load_iris(return_X_y=True)
if sys.argv[1] == "vgrid":
    from vgrid import GridSearchCV, MLPClassifier
else:
    from sklearn.model_selection import GridSearchCV
    from sklearn.neural_network import MLPClassifier
grid = {"alpha": [1e-4, 1e-3], "batch_size": [500]}  # clipped: a warning per fit too
GridSearchCV(MLPClassifier(max_iter=3, random_state=0), grid, cv=3).fit(X, y)
for _ in range(2):
    MLPClassifier(max_iter=3, random_state=0).fit(X, y)
"""


def test_a_script_shows_as_many_warnings_as_with_scikit_learn(tmp_path):
    """Under Python's default filters (once per code location) a script sees each fit's
    ConvergenceWarning and batch-size warning, as scikit-learn shows them (its jobs and fits
    reset that record), not only the first of each."""
    import subprocess
    import sys

    script = tmp_path / "warnings_script.py"
    script.write_text(_WARNING_SCRIPT)
    counts = {}
    for side in ("sklearn", "vgrid"):
        stderr = subprocess.run(
            [sys.executable, str(script), side], capture_output=True, text=True, check=True
        ).stderr
        counts[side] = (stderr.count("ConvergenceWarning"), stderr.count("It is going to be"))
    assert counts["vgrid"] == counts["sklearn"]
    assert counts["sklearn"][0] >= 9


def test_verbose_training_lines_come_in_scikit_learns_order(datasets, capsys):
    """verbose=True's per-epoch lines, fit by fit in the order scikit-learn fits them (not
    grouped by compiled program)."""
    X, y = datasets["iris"]
    mlp = neural_network.MLPClassifier(max_iter=2, random_state=0, verbose=True)
    grid = {"hidden_layer_sizes": [(2, 2), (30, 30), 30]}
    printed = {}
    for name, search in [("ours", vgrid.GridSearchCV), ("ref", model_selection.GridSearchCV)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            search(mlp, grid, cv=2).fit(X, y)
        printed[name] = [
            line for line in capsys.readouterr().out.splitlines() if line.startswith("Iteration")
        ]
    assert printed["ours"] == printed["ref"] and len(printed["ref"]) == 14


def test_scikit_learns_own_fits_get_the_numbers_of_its_n_jobs_workers():
    """An lbfgs MLP (fit by scikit-learn's own code) in a search with n_jobs=-1 runs with the
    BLAS threads of one of scikit-learn's loky workers, so its numbers, which depend on how
    a product's sums are split, are those of scikit-learn's search with the same n_jobs."""
    from sklearn.datasets import make_regression
    from sklearn.preprocessing import StandardScaler

    X, y = make_regression(n_samples=400, n_features=8, noise=10.0, random_state=0)
    X = StandardScaler().fit_transform(X)
    mlp = neural_network.MLPRegressor(
        solver="lbfgs", hidden_layer_sizes=500, activation="logistic", max_iter=150
    )
    grid = {"random_state": [111]}
    kwargs = dict(cv=3, scoring="neg_mean_absolute_error", n_jobs=-1, refit=False)
    # Fresh loky workers, as a script's first search starts them (earlier tests' workers,
    # reused, may have imported and set up other libraries)
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = vgrid.GridSearchCV(mlp, grid, **kwargs).fit(X, y)
        ref = model_selection.GridSearchCV(mlp, grid, **kwargs).fit(X, y)
    for s in range(3):
        key = f"split{s}_test_score"
        np.testing.assert_allclose(ours.cv_results_[key], ref.cv_results_[key], rtol=0, atol=1e-9)


def test_blas_threads_follow_scikit_learns_loky_workers_only(monkeypatch):
    """The limit is what loky's workers get: the environment's thread count, else
    cpu_count() // n_jobs; none without n_jobs or under another backend."""
    import joblib

    from vgrid.search import _blas_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    assert _blas_threads(None) is None and _blas_threads(1) is None
    assert _blas_threads(-1) == 1
    assert _blas_threads(2) == max(joblib.cpu_count() // 2, 1)
    with joblib.parallel_backend("threading"):
        assert _blas_threads(-1) is None
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # what loky's workers then get
    assert _blas_threads(-1) == 3
