"""The behaviour differences scikit-learn's own suites found, each as a regression test: the
scikit-learn test that showed it (with vgrid's classes), and a stricter comparison with
scikit-learn where its test is looser than the difference."""

import re
import warnings
from collections import deque

import numpy as np
import pytest
from sklearn import model_selection, neural_network
from sklearn.datasets import make_classification
from sklearn.tree import DecisionTreeClassifier

from vgrid import GridSearchCV, MLPClassifier, MLPRegressor, RandomizedSearchCV

# 1. Early stopping's stratified split names the classes as scikit-learn does (its labels are
#    bool after binarizing; vgrid stratified on them cast to X's float type: ['1.0']).


def test_early_stopping_stratified():
    # sklearn/neural_network/tests/test_mlp.py::test_early_stopping_stratified
    X = [[1, 2], [2, 3], [3, 4], [4, 5]]
    y = [0, 0, 0, 1]

    mlp = MLPClassifier(early_stopping=True)
    with pytest.raises(
        ValueError,
        match=(
            r"The least populated classes in y have only 1 member.*Classes with "
            r"too few members are: \['True'\]"
        ),
    ):
        mlp.fit(X, y)


def test_early_stopping_split_is_unchanged_by_the_label_type(datasets):
    X, y = datasets["breast_cancer"]
    params = dict(hidden_layer_sizes=(5,), early_stopping=True, max_iter=6, random_state=0)
    ours = MLPClassifier(**params).fit(X, y)
    ref = neural_network.MLPClassifier(**params).fit(X, y)
    np.testing.assert_allclose(ours.validation_scores_, ref.validation_scores_, rtol=0, atol=1e-12)


# 2. "vgrid does not vectorize ..." is no warning: warning filters see what they saw.


@pytest.mark.parametrize("return_train_score", [False, True])
@pytest.mark.parametrize(
    "SearchCV, specialized_params",
    [
        (GridSearchCV, {"param_grid": {"max_depth": [2, 3, 5, 8]}}),
        (
            RandomizedSearchCV,
            {"param_distributions": {"max_depth": [2, 3, 5, 8]}, "n_iter": 4},
        ),
    ],
)
def test_searchcv_raise_warning_with_non_finite_score(
    SearchCV, specialized_params, return_train_score
):
    # scikit-learn: model_selection/tests/test_search.py::
    #     test_searchcv_raise_warning_with_non_finite_score
    X, y = make_classification(n_classes=2, random_state=0)

    class FailingScorer:
        """Scorer that will fail for some split but not all."""

        def __init__(self):
            self.n_counts = 0

        def __call__(self, estimator, X, y):
            self.n_counts += 1
            if self.n_counts % 5 == 0:
                return np.nan
            return 1

    grid = SearchCV(
        DecisionTreeClassifier(),
        scoring=FailingScorer(),
        cv=3,
        return_train_score=return_train_score,
        **specialized_params,
    )

    with pytest.warns(UserWarning) as warn_msg:
        grid.fit(X, y)

    set_with_warning = ["test", "train"] if return_train_score else ["test"]
    assert len(warn_msg) == len(set_with_warning)
    for msg, dataset in zip(warn_msg, set_with_warning):
        assert f"One or more of the {dataset} scores are non-finite" in str(msg.message)


def test_warnings_as_errors_script_runs_with_either_import():
    X, y = make_classification(n_samples=60, random_state=0)
    for SearchCV in (model_selection.GridSearchCV, GridSearchCV):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            SearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [2, 3]}, cv=3).fit(X, y)


# 3. verbose=True prints scikit-learn's lines, exactly.


def _printed(estimator, X, y, capsys):
    capsys.readouterr()
    estimator.fit(X, y)
    return capsys.readouterr().out


VERBOSE_CASES = {
    "adam, stops by tol": dict(tol=1e-2, n_iter_no_change=2, max_iter=50),
    "adam, max_iter reached": dict(max_iter=4),
    "early stopping": dict(early_stopping=True, n_iter_no_change=2, max_iter=40),
    "sgd adaptive, learning rate divided": dict(
        solver="sgd", learning_rate="adaptive", tol=0.5, n_iter_no_change=1, max_iter=12
    ),
    "sgd adaptive, rate too small": dict(
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=2e-6,
        tol=10.0,
        n_iter_no_change=1,
        max_iter=12,
    ),
    "sgd invscaling": dict(
        solver="sgd", learning_rate="invscaling", max_iter=5, tol=1e-1, n_iter_no_change=1
    ),
}


@pytest.mark.parametrize("case", list(VERBOSE_CASES))
def test_verbose_fit_prints_sklearns_lines(case, datasets, capsys):
    X, y = datasets["wine"]
    params = dict(hidden_layer_sizes=(6,), random_state=0, verbose=True, **VERBOSE_CASES[case])
    theirs = _printed(neural_network.MLPClassifier(**params), X, y, capsys)
    ours = _printed(MLPClassifier(**params), X, y, capsys)
    assert theirs.count("Iteration") >= 2
    assert ours == theirs


def test_verbose_regressor_and_quiet_default(datasets, capsys):
    X, y = datasets["diabetes"]
    params = dict(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    theirs = _printed(neural_network.MLPRegressor(verbose=True, **params), X, y, capsys)
    assert _printed(MLPRegressor(verbose=True, **params), X, y, capsys) == theirs
    assert _printed(MLPRegressor(**params), X, y, capsys) == ""


def test_verbose_sgd(capsys):
    # sklearn/neural_network/tests/test_mlp.py::test_verbose_sgd, without its partial_fit
    # (scikit-learn's own code, which printed the lines this test looked for)
    X = [[3, 2], [1, 6]]
    y = [1, 0]
    clf = MLPClassifier(solver="sgd", max_iter=2, verbose=10, hidden_layer_sizes=2)

    clf.fit(X, y)

    out, _ = capsys.readouterr()
    assert re.findall(r"Iteration \d+, loss = [\d.]+", out) and "Iteration 2" in out


# 4. The refit warns about a batch larger than the sample once, as scikit-learn's refit does.


def _batch_warnings(search_cls, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search = search_cls(
            neural_network.MLPClassifier(
                hidden_layer_sizes=(3,), max_iter=3, batch_size=500, random_state=0
            ),
            {"alpha": [1e-4]},
            cv=3,
        ).fit(X, y)
    return search, sum("batch_size" in str(w.message) for w in caught)


def test_refit_by_sklearn_warns_about_the_batch_size_once(datasets, monkeypatch):
    from vgrid import mlp_kind, scheduling
    from vgrid.plan import CostModel

    # The refit by scikit-learn's own fit: no program to host it, compiling one is dear.
    monkeypatch.setattr(scheduling.PROGRAMS, "_hosts", deque())
    monkeypatch.setattr(mlp_kind, "COST_MODEL", CostModel(compile_seconds=1e9))
    X, y = datasets["iris"]
    ours, ours_count = _batch_warnings(GridSearchCV, X, y)
    _, theirs_count = _batch_warnings(model_selection.GridSearchCV, X, y)
    assert ours.refit_engine_ == "scikit-learn"
    assert ours_count == theirs_count == 3 + 1  # one per fold, one for the refit


def test_vectorized_refit_warns_about_the_batch_size_once(datasets):
    X, y = datasets["iris"]
    ours, ours_count = _batch_warnings(GridSearchCV, X, y)
    _, theirs_count = _batch_warnings(model_selection.GridSearchCV, X, y)
    assert ours_count == theirs_count
