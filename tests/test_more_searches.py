"""RandomizedSearchCV and the halving searches equal scikit-learn's, cv_results_ for cv_results_."""

import numpy as np
import pytest
from scipy.stats import loguniform, randint
from sklearn import neural_network

import vgrid

from helpers import assert_same_search, fit_both

BASE = dict(hidden_layer_sizes=(6,), max_iter=20, random_state=0)


def test_randomized_search_equals_sklearn(datasets):
    X, y = datasets["breast_cancer"]
    space = {
        "learning_rate_init": loguniform(1e-4, 1e-1),
        "alpha": loguniform(1e-6, 1.0),
        "hidden_layer_sizes": [(4,), (8,)],
    }
    ours, ref = fit_both(
        neural_network.MLPClassifier(**BASE),
        space,
        X,
        y,
        n_iter=8,
        cv=3,
        random_state=0,
        return_train_score=True,
        search="RandomizedSearchCV",
    )
    assert_same_search(ours, ref)  # exactly: scores, ranks, best candidate
    assert ours.cv_results_["param_learning_rate_init"].dtype == np.float64


@pytest.mark.parametrize("resource", ["n_samples", "max_iter"])
def test_halving_grid_search_equals_sklearn(datasets, resource):
    X, y = datasets["digits"]
    grid = {"alpha": [1e-5, 1e-3, 1e-1, 1.0], "learning_rate_init": [1e-3, 1e-2]}
    params = dict(cv=3, factor=2, random_state=0, resource=resource)
    if resource == "max_iter":
        params.update(min_resources=5, max_resources=40)
    ours, ref = fit_both(
        vgrid.MLPClassifier(**BASE),
        grid,
        X,
        y,
        **params,
        search="HalvingGridSearchCV",
    )
    assert_same_search(ours, ref)
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
    ours, ref = fit_both(
        neural_network.MLPClassifier(**BASE),
        space,
        X,
        y,
        **params,
        search="HalvingRandomSearchCV",
    )
    assert_same_search(ours, ref)
    assert ours.n_iterations_ == ref.n_iterations_
