"""Property-based tests (hypothesis): on small random problems, grids and splitters, exact mode
equals scikit-learn's GridSearchCV, and a candidate's scores do not depend on the grid's order.
Derandomized (a fixed seed), few examples: each new shape compiles a program."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.model_selection import KFold, ShuffleSplit, StratifiedKFold

import vgrid

from helpers import assert_same_search, fit_both

SETTINGS = settings(
    max_examples=6, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def problems(draw):
    n = draw(st.integers(24, 70))
    n_features = draw(st.integers(1, 5))
    n_classes = draw(st.integers(2, 3))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.RandomState(seed)
    X = rng.randn(n, n_features)
    y = np.arange(n) % n_classes
    rng.shuffle(y)
    X[:, 0] += y  # something to learn
    grid = {
        "alpha": draw(
            st.lists(st.sampled_from([1e-5, 1e-3, 0.1, 1.0]), min_size=1, max_size=2, unique=True)
        ),
        "learning_rate_init": draw(
            st.lists(st.sampled_from([1e-3, 1e-2, 0.1]), min_size=1, max_size=2, unique=True)
        ),
        "hidden_layer_sizes": draw(
            st.lists(st.sampled_from([(2,), (5,), (3, 2)]), min_size=1, max_size=2, unique=True)
        ),
    }
    splitter = draw(
        st.sampled_from(
            [KFold(2), StratifiedKFold(3), ShuffleSplit(2, test_size=0.3, random_state=seed)]
        )
    )
    params = dict(
        max_iter=draw(st.integers(1, 12)),
        random_state=seed % 100,
        batch_size=draw(st.sampled_from(["auto", 7, 16])),
        solver=draw(st.sampled_from(["adam", "sgd"])),
    )
    return X, y, grid, splitter, params


def _fit(estimator, X, y, grid, cv):
    return vgrid.GridSearchCV(estimator, grid, cv=cv, return_train_score=True).fit(X, y)


@SETTINGS
@given(problems())
def test_exact_mode_equals_sklearn(problem):
    X, y, grid, cv, params = problem
    # vgrid's MLP in vgrid's search; scikit-learn's MLP in scikit-learn's (see fit_both)
    ours, ref = fit_both(vgrid.MLPClassifier(**params), grid, X, y, cv=cv, return_train_score=True)
    assert_same_search(ours, ref)


@SETTINGS
@given(problems(), st.randoms(use_true_random=False))
def test_scores_do_not_depend_on_grid_order(problem, random):
    X, y, grid, cv, params = problem
    shuffled = {
        key: random.sample(values, len(values)) for key, values in reversed(list(grid.items()))
    }
    first = _fit(vgrid.MLPClassifier(**params), X, y, grid, cv)
    second = _fit(vgrid.MLPClassifier(**params), X, y, shuffled, cv)
    score_of = {
        repr(p): s
        for p, s in zip(second.cv_results_["params"], second.cv_results_["mean_test_score"])
    }
    for p, s in zip(first.cv_results_["params"], first.cv_results_["mean_test_score"]):
        assert score_of[repr(p)] == s
