"""RandomizedSearchCV and the halving searches equal scikit-learn's, cv_results_ for cv_results_."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import loguniform, randint
from sklearn import model_selection, neural_network
from sklearn.exceptions import ConvergenceWarning

import vgrid

BASE = dict(hidden_layer_sizes=(6,), max_iter=20, random_state=0)


def _both(sk_cls, vg_cls, estimator, space, X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = sk_cls(estimator, space, **params).fit(X, y)
        ours = vg_cls(estimator, space, **params).fit(X, y)
    a, b = pd.DataFrame(ours.cv_results_), pd.DataFrame(ref.cv_results_)
    assert list(a.columns) == list(b.columns) and list(a.dtypes) == list(b.dtypes)
    scores = [c for c in b.columns if "score" in c and "time" not in c]
    np.testing.assert_array_equal(a[scores].to_numpy(float), b[scores].to_numpy(float))
    assert ours.best_params_ == ref.best_params_ and ours.best_index_ == ref.best_index_
    assert ours.best_score_ == ref.best_score_
    return ours, ref


def test_randomized_search_equals_sklearn(datasets):
    X, y = datasets["breast_cancer"]
    space = {
        "learning_rate_init": loguniform(1e-4, 1e-1),
        "alpha": loguniform(1e-6, 1.0),
        "hidden_layer_sizes": [(4,), (8,)],
    }
    ours, ref = _both(
        model_selection.RandomizedSearchCV,
        vgrid.RandomizedSearchCV,
        neural_network.MLPClassifier(**BASE),
        space,
        X,
        y,
        n_iter=8,
        cv=3,
        random_state=0,
        return_train_score=True,
    )
    assert ours.cv_results_["param_learning_rate_init"].dtype == np.float64


@pytest.mark.parametrize("resource", ["n_samples", "max_iter"])
def test_halving_grid_search_equals_sklearn(datasets, resource):
    X, y = datasets["digits"]
    grid = {"alpha": [1e-5, 1e-3, 1e-1, 1.0], "learning_rate_init": [1e-3, 1e-2]}
    params = dict(cv=3, factor=2, random_state=0, resource=resource)
    if resource == "max_iter":
        params.update(min_resources=5, max_resources=40)
    ours, ref = _both(
        model_selection.HalvingGridSearchCV,
        vgrid.HalvingGridSearchCV,
        vgrid.MLPClassifier(**BASE),
        grid,
        X,
        y,
        **params,
    )
    assert ours.n_resources_ == ref.n_resources_ and ours.n_candidates_ == ref.n_candidates_
    assert ours.cv_results_["iter"].dtype == np.int64
    assert type(ours.best_estimator_) is vgrid.MLPClassifier
    if resource == "max_iter":  # survivors continued, not retrained: same numbers, less work
        assert ours.resumed_epochs_ > 0


@pytest.mark.parametrize("resource", ["n_samples", "max_iter"])
def test_halving_random_search_equals_sklearn(datasets, resource):
    X, y = datasets["wine"]
    space = {"alpha": loguniform(1e-5, 1.0), "n_iter_no_change": randint(2, 10)}
    params = dict(n_candidates=9, cv=3, factor=3, random_state=1, resource=resource)
    if resource == "max_iter":
        params.update(min_resources=3, max_resources=27)
    ours, ref = _both(
        model_selection.HalvingRandomSearchCV,
        vgrid.HalvingRandomSearchCV,
        neural_network.MLPClassifier(**BASE),
        space,
        X,
        y,
        **params,
    )
    assert ours.n_iterations_ == ref.n_iterations_
