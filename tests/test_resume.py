"""Continuing a model from its saved state equals training it from scratch (exact mode)."""

import numpy as np
import pytest

import vgrid
from vgrid import FitJob, fit_estimators


@pytest.mark.parametrize(
    "params",
    [
        dict(),
        dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.05),
        dict(solver="sgd", learning_rate="adaptive", tol=0.05, n_iter_no_change=2),
        dict(early_stopping=True),
        dict(tol=0.5, n_iter_no_change=2),  # stops by tol before the first budget is spent
    ],
)
def test_resumed_fit_equals_fit_from_scratch(datasets, params):
    X, y = datasets["wine"]
    make = lambda max_iter, hidden: vgrid.MLPClassifier(  # noqa: E731
        hidden_layer_sizes=hidden, max_iter=max_iter, random_state=0, **params
    )
    # trained padded to (9,) beside a wider model, resumed padded to (8,)
    outcome = fit_estimators(
        [FitJob(make(6, (5,)), X, y, keep_state=True), FitJob(make(6, (9,)), X, y)]
    )[0]
    resumed = FitJob(make(20, (5,)), X, y, resume_state=outcome.state)
    scratch = FitJob(make(20, (5,)), X, y)
    outcomes = fit_estimators([resumed, scratch, FitJob(make(20, (8,)), X, y)])
    assert outcomes[0].resumed_epochs == min(6, outcome.state.n_iter)
    a, b = resumed.estimator, scratch.estimator
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=0, atol=1e-13)
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(u, v, rtol=0, atol=1e-13)
    if params.get("early_stopping"):
        np.testing.assert_allclose(a.validation_scores_, b.validation_scores_, atol=1e-13)


def test_a_model_resumes_in_a_program_of_wider_inputs(datasets):
    # trained on its own 6 columns, continued beside a model of 13 (padded with zero columns)
    X, y = datasets["wine"]
    make = lambda max_iter: vgrid.MLPClassifier(  # noqa: E731
        hidden_layer_sizes=(5,), max_iter=max_iter, random_state=0
    )
    saved = fit_estimators([FitJob(make(6), X[:, :6], y, keep_state=True)])[0].state
    resumed = FitJob(make(20), X[:, :6], y, resume_state=saved)
    scratch = FitJob(make(20), X[:, :6], y)
    reports = []
    fit_estimators([resumed, FitJob(make(20), X, y, data_key="all")], reports=reports)
    assert [r.n_models for r in reports] == [2]  # one program: the resumed model padded
    fit_estimators([scratch])
    a, b = resumed.estimator, scratch.estimator
    assert a.coefs_[0].shape == (6, 5) and a.n_iter_ == b.n_iter_
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(u, v, rtol=0, atol=1e-13)


def test_a_state_of_another_input_width_is_refused(datasets):
    X, y = datasets["wine"]
    make = lambda max_iter: vgrid.MLPClassifier(  # noqa: E731
        hidden_layer_sizes=(5,), max_iter=max_iter, random_state=0
    )
    saved = fit_estimators([FitJob(make(6), X[:, :6], y, keep_state=True)])[0].state
    with pytest.raises(ValueError, match=r"layer shapes \[\(6, 5\), \(5, 3\)\].*input width 13"):
        fit_estimators([FitJob(make(20), X, y, resume_state=saved)])
