"""FlaxClassifier / FlaxRegressor: scikit-learn estimators, vectorized grids, the CNN on digits."""

import numpy as np
import optax
import pytest
from sklearn import model_selection
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

import vgrid
from vgrid.flax_models import DigitsCNN

from helpers import assert_same_search


def _expected_failures(estimator):
    failures = {
        "check_no_attributes_set_in_init": "module__*/optimizer__* parameters are keyword "
        "arguments (skorch's convention), which this check cannot see"
    }
    if isinstance(estimator, vgrid.FlaxClassifier):
        # Minibatch training with shuffling is not "weights = repeated rows".
        failures["check_sample_weight_equivalence_on_dense_data"] = "minibatch SGD, shuffled"
    return failures


@parametrize_with_checks(
    [
        vgrid.FlaxClassifier(max_epochs=20, optimizer__learning_rate=0.02),
        vgrid.FlaxRegressor(max_epochs=40, optimizer__learning_rate=0.02),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_params_round_trip_through_clone():
    est = vgrid.FlaxClassifier(module__hidden=(8,), optimizer__learning_rate=0.1)
    params = clone(est).get_params()
    assert params["module__hidden"] == (8,) and params["optimizer__learning_rate"] == 0.1
    est.set_params(optimizer__b1=0.8)
    assert clone(est).optimizer__b1 == 0.8
    with pytest.raises(TypeError, match="must start with 'module__' or 'optimizer__'"):
        vgrid.FlaxClassifier(learning_rate=0.1).fit([[0.0], [1.0]], [0, 1])


def test_learning_rate_grid_is_one_program_and_agrees_with_sequential_fits(datasets):
    X, y = datasets["wine"]
    est = vgrid.FlaxClassifier(module__hidden=(16,), max_epochs=15, batch_size=16)
    grid = {"optimizer__learning_rate": [1e-3, 1e-2, 3e-2], "optimizer__b1": [0.8, 0.9]}
    ours = vgrid.GridSearchCV(est, grid, cv=3).fit(X, y)
    assert len(ours.vectorization_) == 1 and ours.vectorization_[0].n_models == 18
    ref = model_selection.GridSearchCV(est, grid, cv=3).fit(X, y)  # one fit at a time
    assert_same_search(ours, ref, atol=1e-6)
    report = vgrid.compare_with_sklearn(vgrid.GridSearchCV(est, grid, cv=3), X, y)
    assert report.same_keys and not report.dtype_mismatches
    assert report.max_abs_split_score_diff <= 0.02  # float32 rounding can flip a prediction


def test_regressor_grid(datasets):
    X, y = datasets["diabetes"]
    est = vgrid.FlaxRegressor(module__hidden=(8,), max_epochs=10, optimizer=optax.sgd)
    grid = {"optimizer__learning_rate": [1e-3, 1e-2]}
    search = vgrid.GridSearchCV(est, grid, cv=3).fit(X, y)
    ref = model_selection.GridSearchCV(est, grid, cv=3).fit(X, y)  # one fit at a time
    assert_same_search(search, ref, atol=1e-6)
    assert type(search.best_estimator_) is vgrid.FlaxRegressor
    alone = clone(est).set_params(**search.best_params_).fit(X, y)
    np.testing.assert_allclose(search.predict(X), alone.predict(X), rtol=1e-5, atol=1e-6)


def test_cnn_filters_and_kernel_size_share_one_program(datasets):
    X, y = datasets["digits"]
    X = X.astype(np.float32)
    est = vgrid.FlaxClassifier(
        DigitsCNN, max_epochs=4, batch_size=64, optimizer__learning_rate=1e-2
    )
    grid = {"module__features": [2, 8], "module__kernel_size": [1, 3]}
    search = vgrid.GridSearchCV(est, grid, cv=3).fit(X, y)
    assert len(search.vectorization_) == 1 and search.vectorization_[0].n_models == 12
    alone = clone(est).set_params(module__features=8, module__kernel_size=3)
    train, test = next(iter(model_selection.StratifiedKFold(3).split(X, y)))
    score = alone.fit(X[train], y[train]).score(X[test], y[test])
    index = search.cv_results_["params"].index({"module__features": 8, "module__kernel_size": 3})
    assert search.cv_results_["split0_test_score"][index] == pytest.approx(score, abs=1e-6)
    assert search.best_score_ > 0.5
