"""Compile counts, the reference check, the command line and bad input."""

import numpy as np
import pytest
from jax import monitoring
from sklearn import model_selection, neural_network
from sklearn.base import clone
from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

import vgrid
from vgrid.cli import main

from helpers import assert_same_search

#: These tests count compilations: none may be hosted by a program an earlier test compiled.
pytestmark = pytest.mark.usefixtures("fresh_hosts")

_COMPILES = []
monitoring.register_event_duration_secs_listener(
    lambda event, duration, **kw: (
        _COMPILES.append(event) if event == "/jax/core/compile/backend_compile_duration" else None
    )
)


def _count_compiles(fn):
    before = len(_COMPILES)
    fn()
    return len(_COMPILES) - before


def test_numbers_only_grid_compiles_one_program(datasets):
    X, y = datasets["wine"]
    X = X[:, :7]  # a shape no other test uses, so nothing is cached yet
    grid = {
        "alpha": [1e-4, 1e-2, 1.0],
        "learning_rate_init": [1e-3, 1e-2],
        "beta_1": [0.8, 0.9],
        "tol": [1e-4, 1e-2],
        "max_iter": [10, 15],
    }
    search = vgrid.GridSearchCV(
        vgrid.MLPClassifier(hidden_layer_sizes=(6,), random_state=0), grid, cv=3, refit=False
    )
    assert _count_compiles(lambda: search.fit(X, y)) == 1
    assert _count_compiles(lambda: search.fit(X, y)) == 0


def test_reference_check_report(datasets):
    X, y = datasets["iris"]
    search = vgrid.GridSearchCV(
        vgrid.MLPClassifier(hidden_layer_sizes=(5,), max_iter=20, random_state=0),
        {"alpha": [1e-4, 1.0]},
    )
    report = vgrid.compare_with_sklearn(search, X, y, sklearn_n_jobs=1)
    assert report.agrees and report.same_keys and report.dtype_mismatches == {}
    assert report.max_abs_split_score_diff == 0.0
    assert report.n_fits == 10 and report.speedup > 0
    # The report's verdict, checked independently: the reference is scikit-learn's own search
    # of scikit-learn's own MLP, and the two searches it ran agree key by key.
    assert type(report.reference) is model_selection.GridSearchCV
    assert type(report.reference.best_estimator_) is neural_network.MLPClassifier
    assert_same_search(report.search, report.reference)
    text = str(report)
    assert "(10 fits)" in text
    assert f"speedup:                            {report.speedup:.2f}x" in text


def test_cli_demo_runs(capsys):
    assert main(["demo", "--dataset", "wine", "--max-iter", "10", "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert "top 2 rows of cv_results_" in out and "speedup" in out
    assert "max |split score difference|:       0\n" in out
    # The rows printed are scikit-learn's: its own search of the demo's grid on the same data.
    X, y = load_wine(return_X_y=True)
    ref = model_selection.GridSearchCV(
        neural_network.MLPClassifier(max_iter=10, random_state=0),
        {
            "hidden_layer_sizes": [(16,), (32,)],
            "learning_rate_init": [1e-3, 1e-2],
            "alpha": [1e-4, 1e-2],
        },
        cv=5,
    ).fit(StandardScaler().fit_transform(X), y)
    results = ref.cv_results_
    rows = out.split("top 2 rows of cv_results_:\n")[1].split("\n\n")[0].splitlines()[1:]
    expected = [
        f"  {results['rank_test_score'][i]:>4}  {results['mean_test_score'][i]:>15.4f}  "
        f"{results['std_test_score'][i]:>14.4f}  {results['params'][i]}"
        for i in np.argsort(results["rank_test_score"], kind="stable")[:2]
    ]
    assert rows == expected


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "demo" in capsys.readouterr().out


BAD_DATA = [
    (
        "nan",
        lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 3, np.nan, X), y),
        ValueError,
        "Input X contains NaN",
    ),
    (
        "inf",
        lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 3, np.inf, X), y),
        ValueError,
        "Input X contains infinity",
    ),
    ("1-d X", lambda X, y: (X[:, 0], y), ValueError, "Expected 2D array"),
    ("3-d X", lambda X, y: (X[:, :, None], y), ValueError, "Found array with dim 3"),
    ("lengths", lambda X, y: (X, y[:-1]), ValueError, "inconsistent numbers of samples"),
]


# The searches fail every fit (and score) before raising the error compared here.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.FitFailedWarning")
@pytest.mark.filterwarnings("ignore:Scoring failed:UserWarning")
@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite:UserWarning")
@pytest.mark.parametrize("case, corrupt, error, match", BAD_DATA, ids=[c[0] for c in BAD_DATA])
def test_bad_data_rejected_like_sklearn(datasets, case, corrupt, error, match):
    X, y = corrupt(*datasets["iris"])
    grid = {"alpha": [1e-4]}
    with pytest.raises(error, match=match):
        model_selection.GridSearchCV(neural_network.MLPClassifier(max_iter=2), grid, cv=3).fit(X, y)
    with pytest.raises(error, match=match):
        vgrid.GridSearchCV(vgrid.MLPClassifier(max_iter=2), grid, cv=3).fit(X, y)
    with pytest.raises(error, match=match):
        vgrid.MLPClassifier(max_iter=2).fit(X, y)


BAD_GRIDS = [
    ({"alpha": 0.1}, TypeError, "Parameter grid for parameter 'alpha' needs to be a list"),
    ({"alpha": []}, ValueError, "Parameter grid for parameter 'alpha' need to be a non-empty"),
    ({"not_a_param": [1]}, ValueError, "Invalid parameter 'not_a_param'"),
]


@pytest.mark.parametrize("grid, error, match", BAD_GRIDS, ids=str)
def test_bad_grids_rejected_like_sklearn(datasets, grid, error, match):
    X, y = datasets["iris"]
    for search_cls, est in [
        (model_selection.GridSearchCV, neural_network.MLPClassifier()),
        (vgrid.GridSearchCV, vgrid.MLPClassifier()),
    ]:
        with pytest.raises(error, match=match):
            search_cls(est, grid, cv=3).fit(X, y)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"alpha": -1.0}, "The 'alpha' parameter of MLPClassifier must be a float in the range"),
        ({"activation": "swish"}, "The 'activation' parameter of MLPClassifier must be a str"),
        ({"batch_size": 0}, "The 'batch_size' parameter of MLPClassifier must be"),
        ({"hidden_layer_sizes": (0,)}, r"hidden_layer_sizes must be > 0, got \[0\]"),
    ],
)
def test_invalid_hyperparameters_rejected_like_sklearn(datasets, params, match):
    X, y = datasets["iris"]
    with pytest.raises(ValueError, match=match):
        neural_network.MLPClassifier(**params).fit(X, y)
    with pytest.raises(ValueError, match=match):
        vgrid.MLPClassifier(**params).fit(X, y)
    grid = {key: [value] for key, value in params.items()}
    with pytest.raises(ValueError, match=match):
        vgrid.GridSearchCV(vgrid.MLPClassifier(), grid, cv=3, error_score="raise").fit(X, y)


@pytest.mark.parametrize(
    "n_features, extra", [(11, {}), (12, {"batch_size": [200, 150], "early_stopping": [True]})]
)
def test_refit_trains_in_a_cross_validation_program(datasets, n_features, extra):
    # The folds' program has room for the refit's rows (400 -> 600 rows, 2 -> 3 minibatches of
    # 200, the extra one skipped; with a smaller batch size too, and early stopping's
    # validation rows), so the refit compiles nothing and is vgrid's own, with scikit-learn's
    # exact numbers.
    X, y = datasets["digits"]
    X = X[:, :n_features]  # a shape no other test uses, so nothing is cached yet
    est = neural_network.MLPClassifier(hidden_layer_sizes=(24,), max_iter=15, random_state=0)
    grid = {"learning_rate_init": [1e-3, 1e-2], "alpha": [1e-4, 1e-2], **extra}
    search = vgrid.GridSearchCV(est, grid, cv=3)
    assert _count_compiles(lambda: search.fit(X, y)) == 1
    assert search.refit_engine_ == "vgrid"
    alone = (
        neural_network.MLPClassifier(**est.get_params()).set_params(**search.best_params_).fit(X, y)
    )
    assert type(search.best_estimator_) is neural_network.MLPClassifier
    assert search.best_estimator_.n_iter_ == alone.n_iter_
    np.testing.assert_allclose(
        search.best_estimator_.loss_curve_, alone.loss_curve_, rtol=0, atol=1e-10
    )
    for ours, theirs in zip(search.best_estimator_.coefs_, alone.coefs_):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)
    # The same model fit alone also trains in that program; a wider one cannot, and compiles.
    same = vgrid.MLPClassifier(**est.get_params()).set_params(**search.best_params_)
    assert _count_compiles(lambda: same.fit(X, y)) == 0
    np.testing.assert_allclose(same.loss_curve_, alone.loss_curve_, rtol=0, atol=1e-10)
    wider = vgrid.MLPClassifier(**same.get_params()).set_params(hidden_layer_sizes=(48,))
    assert _count_compiles(lambda: wider.fit(X, y)) == 1


def test_structural_grid_compiles_like_one_candidate(datasets):
    X, y = datasets["breast_cancer"]
    X = X[:, :9]  # shapes no other test uses
    archs = [(4,), (8,), (12,), (4, 4), (8, 4), (12, 8), (4, 4, 4), (8, 8, 4), (12, 8, 4)]
    grid = {
        "hidden_layer_sizes": archs,
        "activation": ["relu", "tanh", "logistic"],
        "learning_rate_init": [1e-3, 1e-2],
    }
    est = vgrid.MLPClassifier(max_iter=8, random_state=0)
    search = vgrid.GridSearchCV(est, grid, cv=3, refit=False)
    single = vgrid.GridSearchCV(est, {"hidden_layer_sizes": [(12, 8, 4)]}, cv=3, refit=False)
    X_single = X[:, :8]  # another shape, so that the single candidate compiles too
    n_grid = _count_compiles(lambda: search.fit(X, y))
    n_single = _count_compiles(lambda: single.fit(X_single, y))
    assert n_grid <= n_single + 1  # 54 candidates: about as many programs as one candidate
    assert len(search.vectorization_) == n_grid
    assert _count_compiles(lambda: search.fit(X, y)) == 0
    ref = model_selection.GridSearchCV(
        neural_network.MLPClassifier(max_iter=8, random_state=0), grid, cv=3, refit=False
    ).fit(X, y)
    assert_same_search(search, ref)


@pytest.mark.parametrize("quick", [True, False], ids=["quick-compile", "optimized"])
def test_both_compile_modes_give_scikit_learns_numbers(datasets, monkeypatch, quick):
    # A program is compiled either for a quick compile (XLA:CPU's loop emitters) or for fast
    # kernels; the cost model picks one per program, and either gives scikit-learn's fit.
    from vgrid.plan import CostModel

    monkeypatch.setattr(CostModel, "compiles_quickly", lambda self, *args: quick)
    X, y = datasets["breast_cancer"]
    X = X[:, :11] if quick else X[:, :12]  # shapes no other test uses: this compiles
    grid = {
        "hidden_layer_sizes": [(6,), (9,)],
        "activation": ["tanh", "logistic"],
        "learning_rate_init": [1e-3, 1e-2],
    }
    est = dict(max_iter=15, random_state=0)
    search = vgrid.GridSearchCV(vgrid.MLPClassifier(**est), grid, cv=3, refit=False)
    assert _count_compiles(lambda: search.fit(X, y)) == len(search.vectorization_) >= 1
    assert all(r.quick_compile is quick for r in search.vectorization_)
    ref = model_selection.GridSearchCV(
        neural_network.MLPClassifier(**est), grid, cv=3, refit=False
    ).fit(X, y)
    assert_same_search(search, ref)


def test_cost_model_compiles_small_programs_quickly(monkeypatch):
    # Quick compilation saves a fixed ~0.27 s of XLA and slows training by a share: worth it
    # for a program with little training, not for a long one, and never off the CPU.
    from vgrid import plan
    from vgrid.plan import COST_MODEL

    assert COST_MODEL.compiles_quickly(1e9, "float32", n_threads=2)
    assert COST_MODEL.compiles_quickly(60e9, "float64", n_threads=2)  # core grid (a)
    assert not COST_MODEL.compiles_quickly(300e9, "float32", n_threads=2)  # grid (b)'s
    assert not COST_MODEL.compiles_quickly(100e9, "float64", n_threads=1)
    monkeypatch.setattr(plan.jax, "default_backend", lambda: "gpu")
    assert not COST_MODEL.compiles_quickly(1e9, "float32", n_threads=2)


def test_group_trains_in_a_wider_compiled_program(datasets, monkeypatch):
    # A search whose widths all fit in a program compiled before (24 wide, the same tables'
    # sizes) trains its whole group there, padded and masked, and compiles nothing; its
    # numbers are those of compiling its own (12 wide) program: float64, to 1e-10 as the
    # other hosting tests.
    from collections import deque

    from vgrid import scheduling

    X, y = datasets["digits"]
    X = X[:, :13]  # a shape no other test uses, so nothing is cached yet
    est = neural_network.MLPClassifier(max_iter=12, random_state=0)

    def search(widths):
        grid = {"hidden_layer_sizes": widths, "learning_rate_init": [1e-3, 1e-2]}
        return vgrid.GridSearchCV(est, grid, cv=3, refit=False)

    wide = search([(24,), (6,)])
    assert _count_compiles(lambda: wide.fit(X, y)) == 1
    hosted = search([(8,), (12,)])
    assert _count_compiles(lambda: hosted.fit(X, y)) == 0
    assert [r.hidden_widths for r in hosted.vectorization_] == [(24,)]
    monkeypatch.setattr(scheduling.PROGRAMS, "_hosts", deque())  # no host: its own program
    own = search([(8,), (12,)])
    assert _count_compiles(lambda: own.fit(X, y)) == 1
    assert [r.hidden_widths for r in own.vectorization_] == [(12,)]
    for key in ("mean_test_score", "split0_test_score", "split1_test_score", "split2_test_score"):
        np.testing.assert_array_equal(hosted.cv_results_[key], own.cv_results_[key])
    np.testing.assert_allclose(
        hosted.learning_curves_["loss"], own.learning_curves_["loss"], rtol=0, atol=1e-10
    )


@pytest.mark.parametrize("early_stopping", [False, True])
def test_folds_of_one_size_share_one_replay(datasets, monkeypatch, early_stopping):
    # Without early stopping, scikit-learn's draws (initial weights, then one shuffle per
    # epoch) depend on the data only through its row count: three folds of 400 rows and one
    # seed replay once per architecture. Early stopping's split is stratified by the fold's
    # own labels, so there each fold replays. The numbers are scikit-learn's either way.
    from vgrid import mlp_kind

    calls = []
    replay = mlp_kind.replay_fit_randomness
    monkeypatch.setattr(
        mlp_kind,
        "replay_fit_randomness",
        lambda *args, **kwargs: calls.append(kwargs["n_samples"]) or replay(*args, **kwargs),
    )
    X, y = datasets["digits"]
    est = neural_network.MLPClassifier(max_iter=8, random_state=0, early_stopping=early_stopping)
    grid = {"hidden_layer_sizes": [(5,), (9,)], "alpha": [1e-4, 1e-2]}
    search = vgrid.GridSearchCV(est, grid, cv=3, refit=False).fit(X, y)
    assert calls == [400] * (6 if early_stopping else 2)
    reference = model_selection.GridSearchCV(est, grid, cv=3, refit=False).fit(X, y)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"], atol=1e-12
    )


def test_a_shared_replay_still_advances_each_estimators_random_state():
    # An estimator given a RandomState instance ends its fit with that instance where
    # scikit-learn's fit leaves it, though its replay came from another fold's (same size,
    # same state): a later partial_fit then draws what scikit-learn's would.
    import copy

    from vgrid import FitJob, fit_estimators

    rng = np.random.RandomState(0)
    data = [(rng.rand(50, 3), rng.rand(50)) for _ in range(2)]
    base = neural_network.MLPRegressor(
        hidden_layer_sizes=(4,), max_iter=3, batch_size=10, random_state=np.random.RandomState(7)
    )
    ours = [copy.deepcopy(base) for _ in data]
    theirs = [copy.deepcopy(base) for _ in data]
    fit_estimators(
        [FitJob(est, X, y, data_key=k) for k, (est, (X, y)) in enumerate(zip(ours, data))]
    )
    for ours_one, theirs_one, (X, y) in zip(ours, theirs, data):
        theirs_one.fit(X, y)
        assert ours_one.random_state.get_state()[2] == theirs_one.random_state.get_state()[2]
        ours_one.partial_fit(X, y)
        theirs_one.partial_fit(X, y)
        np.testing.assert_allclose(ours_one.coefs_[0], theirs_one.coefs_[0], rtol=0, atol=1e-12)


def test_jobs_sharing_data_each_get_what_validation_sets_though_the_first_was_fitted():
    # Jobs under one data_key validate the data once; a fitted estimator coming first (its
    # classes_, _label_binarizer, ... already set) must not leave the next job without them.
    import pandas as pd

    from vgrid import FitJob, fit_estimators

    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    named = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    fitted = neural_network.MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0)
    with pytest.warns(ConvergenceWarning):
        fitted.fit(named, y)  # has feature_names_in_, which a fit on an array removes
    ours = [fitted, neural_network.MLPClassifier(hidden_layer_sizes=(5,), max_iter=5)]
    ours[1].set_params(random_state=1)
    theirs = [clone(est) for est in ours]
    with pytest.warns(ConvergenceWarning):
        fit_estimators([FitJob(est, X, y, data_key="wine") for est in ours])
        for est in theirs:
            est.fit(X, y)
    for ours_one, theirs_one in zip(ours, theirs):
        assert sorted(vars(ours_one)) == sorted(vars(theirs_one))
        np.testing.assert_allclose(ours_one.predict_proba(X), theirs_one.predict_proba(X))


def test_a_lone_model_takes_the_compiled_program_with_the_least_padding(monkeypatch):
    import warnings

    from vgrid import FitJob, fit_estimators, plan

    # Two programs compiled, for 10 and 300 input columns (the newer one wider): a lone model
    # on 10 columns trains in the first, compiling nothing. (Compilations priced low, so that
    # the wide program's padding is never worth it.)
    monkeypatch.setitem(plan.COST_MODEL.__dict__, "compile_seconds", 1e-4)
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(300, 300)), rng.randint(0, 2, 300)
    make = lambda seed: neural_network.MLPClassifier(  # noqa: E731
        hidden_layer_sizes=(23,), max_iter=30, tol=0, random_state=seed
    )

    def fit(jobs):
        reports = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            n = _count_compiles(lambda: fit_estimators(jobs, reports=reports))
        return n, reports

    assert fit([FitJob(make(s), X[:, :10], y, data_key=10) for s in range(2)])[0] == 1
    assert fit([FitJob(make(s), X, y, data_key=300) for s in range(2)])[0] == 1
    lone = FitJob(make(7), X[:, :10], y)
    n_compiles, reports = fit([lone])
    assert n_compiles == 0 and reports[0].compile_seconds == 0
    np.testing.assert_allclose(
        lone.estimator.coefs_[0], make(7).fit(X[:, :10], y).coefs_[0], rtol=0, atol=1e-10
    )
