"""Pipelines ending in an MLP: preprocessing per fold, networks vectorized, scikit-learn's
numbers."""

import warnings

import numpy as np
import pytest
from sklearn import model_selection, neural_network
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import vgrid

from helpers import assert_same_search, fit_both

#: Exact mode: every score within 1e-10 of scikit-learn's.
SCORE_ATOL = 1e-10


def _pipe(mlp_cls=neural_network.MLPClassifier):
    return Pipeline(
        [
            ("scale", StandardScaler()),
            ("pca", PCA(random_state=0)),
            ("mlp", mlp_cls(hidden_layer_sizes=(6,), max_iter=20, random_state=0)),
        ]
    )


def test_pipeline_grid_equals_sklearn(datasets):
    X, y = datasets["wine"]
    grid = {
        "pca__n_components": [3, 6],
        "scale__with_mean": [True, False],
        "mlp__alpha": [1e-4, 1e-1],
        "mlp__learning_rate_init": [1e-3, 1e-2],
    }
    ours, ref = fit_both(_pipe(), grid, X, y, cv=3, return_train_score=True)
    assert_same_search(ours, ref, atol=SCORE_ATOL)
    assert sum(r.n_models for r in ours.vectorization_) == 16 * 3
    assert isinstance(ours.best_estimator_, Pipeline)
    assert type(ours.best_estimator_[-1]) is neural_network.MLPClassifier
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-10)


def test_pipeline_with_swapped_steps_and_regression(datasets):
    X, y = datasets["diabetes"]
    grid = {
        "scale": [StandardScaler(), MinMaxScaler(), "passthrough"],
        "mlp__hidden_layer_sizes": [(4,), (8, 4)],
    }
    ours, ref = fit_both(_pipe(vgrid.MLPRegressor), grid, X, y, cv=3)
    assert_same_search(ours, ref, atol=SCORE_ATOL)
    assert type(ours.best_estimator_[-1]) is vgrid.MLPRegressor
    assert repr(ours.best_params_) == repr(ref.best_params_)


def test_pipeline_sample_weight_goes_to_the_network(datasets):
    X, y = datasets["iris"]
    weights = np.random.RandomState(0).uniform(0.5, 2, len(y))
    pipe = _pipe()
    ours, ref = fit_both(
        pipe, {"mlp__alpha": [1e-4, 1.0]}, X, y, cv=3, fit_params={"mlp__sample_weight": weights}
    )
    assert_same_search(ours, ref)
    with pytest.raises(TypeError, match="vgrid passes only mlp__sample_weight"):
        vgrid.GridSearchCV(pipe, {"mlp__alpha": [1e-4]}, cv=3).fit(X, y, pca__foo=1)


def test_swapping_the_network_itself_falls_back_to_sklearn(datasets, caplog, monkeypatch):
    X, y = datasets["iris"]
    grid = {"mlp": [LogisticRegression(), neural_network.MLPClassifier(max_iter=5, random_state=0)]}
    monkeypatch.setattr(vgrid.search, "_NOT_VECTORIZED_NOTED", set())
    ours = vgrid.GridSearchCV(_pipe(), grid, cv=3).fit(X, y)
    assert any("vgrid does not vectorize Pipeline" in r.getMessage() for r in caplog.records)
    assert_same_search(ours, model_selection.GridSearchCV(_pipe(), grid, cv=3).fit(X, y))


def test_failing_preprocessing_gets_error_score(datasets):
    X, y = datasets["iris"]
    grid = {"pca__n_components": [2, 99], "mlp__alpha": [1e-4]}
    ref_warning = ours_warning = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ref = model_selection.GridSearchCV(_pipe(), grid, cv=3).fit(X, y)
        ref_warning = {w.category.__name__ for w in caught}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = vgrid.GridSearchCV(_pipe(), grid, cv=3).fit(X, y)
        ours_warning = {w.category.__name__ for w in caught}
    assert_same_search(ours, ref)
    assert "FitFailedWarning" in ours_warning and ours_warning == ref_warning


def test_input_widths_share_one_program_with_scikit_learns_numbers(datasets):
    # A grid over PCA's n_components gives the networks inputs of 2, 5 and 9 columns: one
    # program, the narrower data padded with zero columns (whose kernel rows stay zero).
    X, y = datasets["wine"]
    grid = {"pca__n_components": [2, 5, 9], "mlp__early_stopping": [False, True]}
    ours, ref = fit_both(_pipe(), grid, X, y, cv=3)
    assert_same_search(ours, ref, atol=SCORE_ATOL)
    assert len(ours.vectorization_) == 1
    assert ours.best_estimator_[-1].coefs_[0].shape == ref.best_estimator_[-1].coefs_[0].shape


def test_jobs_of_several_input_widths_train_together_exactly(datasets):
    X, y = datasets["wine"]
    widths = (4, 9, 13)
    make = lambda: neural_network.MLPClassifier(  # noqa: E731
        hidden_layer_sizes=(5,), max_iter=15, random_state=0
    )
    jobs = [vgrid.FitJob(make(), X[:, :k], y, data_key=k) for k in widths]
    reports = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcomes = vgrid.fit_estimators(jobs, reports=reports)
        refs = [make().fit(X[:, :k], y) for k in widths]
    assert all(o.error is None for o in outcomes)
    assert [r.n_models for r in reports] == [3]  # one program
    for k, job, ref in zip(widths, jobs, refs):
        ours = job.estimator
        assert ours.coefs_[0].shape == (k, 5) and ours.n_features_in_ == k
        for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=0, atol=1e-10)
