"""Exact mode: a vgrid fit equals scikit-learn's fit of the same parameters (float64, int seed).

Tolerances: loss_curve_, coefs_ and validation scores within 1e-10 (observed ~1e-15); n_iter_ and
predictions equal.
"""

import warnings

import numpy as np
import pytest
from sklearn import neural_network
from sklearn.exceptions import ConvergenceWarning

import vgrid

TOL = 1e-10

CASES = [
    # (data set, parameters)
    ("iris", dict(solver="adam")),
    ("breast_cancer", dict(solver="adam", activation="tanh", alpha=1e-2)),
    ("wine", dict(solver="adam", hidden_layer_sizes=(7, 5), activation="logistic")),
    ("digits", dict(solver="adam", batch_size=64)),
    ("iris_multilabel", dict(solver="adam", activation="relu")),
    ("iris", dict(solver="sgd", learning_rate="constant", momentum=0.9, nesterovs_momentum=True)),
    ("wine", dict(solver="sgd", learning_rate="constant", momentum=0.5, nesterovs_momentum=False)),
    (
        "breast_cancer",
        dict(solver="sgd", learning_rate="invscaling", power_t=0.3, learning_rate_init=0.05),
    ),
    ("iris", dict(solver="sgd", learning_rate="adaptive", tol=0.05, n_iter_no_change=2)),
    ("breast_cancer", dict(solver="adam", early_stopping=True, validation_fraction=0.2)),
    ("iris_multilabel", dict(solver="adam", early_stopping=True)),
    ("wine", dict(solver="adam", tol=1e-2, n_iter_no_change=3)),
    ("iris", dict(solver="adam", batch_size=47, shuffle=False)),
    ("diabetes", dict(solver="adam", learning_rate_init=1e-2)),
    ("diabetes", dict(solver="sgd", learning_rate_init=1e-3, early_stopping=True)),
    ("diabetes", dict(solver="adam", hidden_layer_sizes=(6, 4), activation="tanh", batch_size=100)),
]


def _fit_both(data, params, sample_weight=None):
    X, y = data
    regression = y.dtype.kind == "f"
    base = dict(hidden_layer_sizes=(10,), max_iter=40, random_state=0)
    base.update(params)
    sk_cls = neural_network.MLPRegressor if regression else neural_network.MLPClassifier
    vg_cls = vgrid.MLPRegressor if regression else vgrid.MLPClassifier
    ref = sk_cls(**base).fit(X, y, sample_weight=sample_weight)
    ours = vg_cls(**base).fit(X, y, sample_weight=sample_weight)
    return X, ref, ours


def _assert_same_fit(X, ref, ours):
    assert ours.n_iter_ == ref.n_iter_
    assert ours.t_ == ref.t_
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=0, atol=TOL)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=0, atol=TOL)
    if ref.early_stopping:
        assert ours.best_loss_ is None
        np.testing.assert_allclose(ours.validation_scores_, ref.validation_scores_, atol=TOL)
        assert ours.best_validation_score_ == pytest.approx(ref.best_validation_score_, abs=TOL)
    else:
        assert ours.best_loss_ == pytest.approx(ref.best_loss_, abs=TOL)
        assert ours.validation_scores_ is None
    assert ours.out_activation_ == ref.out_activation_
    assert ours.n_layers_ == ref.n_layers_ and ours.n_outputs_ == ref.n_outputs_
    if hasattr(ref, "classes_"):
        np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    else:
        np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=0, atol=TOL)


@pytest.mark.parametrize("name, params", CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_fit_equals_sklearn(datasets, name, params):
    X, ref, ours = _fit_both(datasets[name], params)
    _assert_same_fit(X, ref, ours)


def test_sample_weight_equals_sklearn(datasets):
    X, y = datasets["wine"]
    weights = np.random.RandomState(0).uniform(0.1, 2.0, len(y))
    X, ref, ours = _fit_both((X, y), dict(batch_size=50), sample_weight=weights)
    _assert_same_fit(X, ref, ours)


def test_poisson_regression_equals_sklearn(datasets):
    X, y = datasets["diabetes"]
    X, ref, ours = _fit_both((X, y), dict(loss="poisson", learning_rate_init=1e-3))
    _assert_same_fit(X, ref, ours)


def test_convergence_warning_like_sklearn(datasets):
    X, y = datasets["iris"]
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\) reached"):
        vgrid.MLPClassifier(max_iter=3, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        vgrid.MLPClassifier(max_iter=50, tol=1e9, random_state=0).fit(X, y)  # stops by tol


def test_partial_fit_continues_like_sklearn(datasets):
    X, y = datasets["iris"]
    params = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    ours = vgrid.MLPClassifier(**params).fit(X, y).partial_fit(X, y)
    ref = neural_network.MLPClassifier(**params).fit(X, y).partial_fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, atol=TOL)
    np.testing.assert_allclose(ours.coefs_[0], ref.coefs_[0], atol=TOL)


def test_lbfgs_is_scikit_learns(datasets):
    X, y = datasets["breast_cancer"]
    params = dict(solver="lbfgs", hidden_layer_sizes=(5,), max_iter=50, random_state=0)
    ours = vgrid.MLPClassifier(**params).fit(X, y)
    ref = neural_network.MLPClassifier(**params).fit(X, y)
    assert ours.n_iter_ == ref.n_iter_
    assert ours.score(X, y) == pytest.approx(ref.score(X, y))


def test_float32_trains_in_float32(datasets):
    X, y = datasets["iris"]
    clf = vgrid.MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    clf.fit(X.astype(np.float32), y)
    assert all(c.dtype == np.float32 for c in clf.coefs_)
    assert clf.predict_proba(X.astype(np.float32)).dtype == np.float32


PARTIAL_FIT_CASES = [
    ("digits", dict(solver="adam", batch_size=64)),
    ("iris", dict(solver="sgd", learning_rate="adaptive", tol=0.05, n_iter_no_change=2)),
    ("iris", dict(solver="adam", batch_size=32, random_state=np.random.RandomState(3))),
    ("iris", dict(solver="sgd", learning_rate="invscaling", batch_size=32, random_state=None)),
    ("diabetes", dict(solver="adam", learning_rate_init=1e-2)),
    ("iris", dict(solver="adam", batch_size=47, shuffle=False)),
]


@pytest.mark.parametrize(
    "name, params", PARTIAL_FIT_CASES, ids=[f"{n}-{p}" for n, p in PARTIAL_FIT_CASES]
)
def test_partial_fit_epochs_equal_sklearns_partial_fit_loop(datasets, name, params):
    """`FitJob.partial_fit_epochs`: the fit equals scikit-learn's `partial_fit` called that
    many times (each call shuffles afresh, with the RandomState that call draws: an int seed
    reseeds, a RandomState goes on; no stop by tol; an adaptive rate still drops)."""
    from sklearn.base import clone

    X, y = datasets[name]
    regression = y.dtype.kind == "f"
    cls = neural_network.MLPRegressor if regression else neural_network.MLPClassifier
    base = dict(hidden_layer_sizes=(10,), max_iter=200, random_state=0)
    est = cls(**{**base, **params})
    if params.get("random_state", 0) is None:
        np.random.seed(7)  # the global RandomState, drawn from by both
    ref = clone(est)
    extra = {} if regression else {"classes": np.unique(y)}
    for _ in range(12):
        ref.partial_fit(X, y, **extra)
    if params.get("random_state", 0) is None:
        np.random.seed(7)
    ours = clone(est)
    (outcome,) = vgrid.fit_estimators([vgrid.FitJob(ours, X, y, partial_fit_epochs=12)])
    assert outcome.error is None and ours.max_iter == 12
    assert ours.n_iter_ == ref.n_iter_ == 1 and ours.t_ == ref.t_  # as after a partial_fit call
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=TOL)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-12, atol=TOL)
    # As partial_fit: early stopping is an error (scikit-learn's message).
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        vgrid.fit_estimators(
            [vgrid.FitJob(clone(est).set_params(early_stopping=True), X, y, partial_fit_epochs=3)]
        )


def test_partial_fit_epochs_take_partial_fits_classes(datasets):
    """`FitJob.classes`: labels y may lack (a fold without a class), as partial_fit's
    `classes`: the same output layer and numbers as scikit-learn's loop."""
    X, y = datasets["iris"]
    keep = y != 2
    est = neural_network.MLPClassifier(hidden_layer_sizes=(6,), batch_size=40, random_state=0)
    ref = neural_network.MLPClassifier(**est.get_params())
    for _ in range(5):
        ref.partial_fit(X[keep], y[keep], classes=[0, 1, 2])
    job = vgrid.FitJob(est, X[keep], y[keep], partial_fit_epochs=5, classes=[0, 1, 2])
    vgrid.fit_estimators([job])
    np.testing.assert_array_equal(est.classes_, [0, 1, 2])
    for a, b in zip(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=TOL)
    np.testing.assert_array_equal(est.predict_proba(X).shape, (len(X), 3))


@pytest.mark.parametrize("random_state", ["instance", None])
def test_a_lone_model_with_its_own_random_stream_is_not_handed_to_numpy(datasets, random_state):
    """With `allow_numpy_fit`, a lone model may be fit by scikit-learn's own code; not one
    drawing from a RandomState of its own or numpy's global one (preparing it replayed those
    draws already): it trains in vgrid's engine and equals scikit-learn's fit, and leaves the
    stream where scikit-learn's fit leaves it."""
    X, y = datasets["iris"]

    def make():
        rs = np.random.RandomState(4) if random_state == "instance" else None
        return neural_network.MLPClassifier(
            hidden_layer_sizes=(3,), batch_size=32, max_iter=3, random_state=rs
        )

    np.random.seed(1)
    ref = make().fit(X, y)
    after_ref = np.random.get_state()[2]
    np.random.seed(1)
    ours = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        (outcome,) = vgrid.fit_estimators([vgrid.FitJob(ours, X, y)], allow_numpy_fit=True)
    assert outcome.engine == "vgrid"
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=TOL)
    assert np.random.get_state()[2] == after_ref
    if random_state == "instance":
        assert ours.random_state.get_state()[2] == ref.random_state.get_state()[2]


def test_partial_fit_epochs_print_and_check_as_partial_fit(datasets, capsys):
    """verbose=True prints what the partial_fit calls print (each "Iteration 1", a stop
    message ending only its call); a multilabel y whose labels `classes` lacks raises
    scikit-learn's error."""
    X, y = datasets["iris"]
    params = dict(hidden_layer_sizes=(4,), batch_size=32, random_state=0, verbose=True)
    params.update(tol=0.5, n_iter_no_change=1)
    ref = neural_network.MLPClassifier(**params)
    for _ in range(4):
        ref.partial_fit(X, y, classes=[0, 1, 2])
    theirs = capsys.readouterr().out
    ours = neural_network.MLPClassifier(**params)
    vgrid.fit_estimators([vgrid.FitJob(ours, X, y, partial_fit_epochs=4, classes=[0, 1, 2])])
    assert capsys.readouterr().out == theirs and "Stopping." in theirs
    Y = np.eye(3, dtype=int)[y]  # multilabel: three label columns
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        vgrid.fit_estimators(
            [
                vgrid.FitJob(
                    neural_network.MLPClassifier(), X, Y, partial_fit_epochs=2, classes=[0, 1]
                )
            ]
        )


@pytest.mark.parametrize(
    "params", [dict(tol=1e-2, n_iter_no_change=2), dict(early_stopping=True, n_iter_no_change=2)]
)
def test_an_own_random_state_is_left_where_a_fit_that_stops_early_leaves_it(datasets, params):
    """A fit that stops before max_iter drew one shuffle per epoch it ran: the estimator's
    RandomState is left there (not max_iter shuffles on), so a second fit from it equals
    scikit-learn's second fit."""
    X, y = datasets["iris"]
    base = dict(hidden_layer_sizes=(3,), batch_size=32, max_iter=200, **params)
    ref = neural_network.MLPClassifier(random_state=np.random.RandomState(4), **base)
    ours = vgrid.MLPClassifier(random_state=np.random.RandomState(4), **base)
    for _ in range(2):
        ref.fit(X, y)
        ours.fit(X, y)
        assert ours.n_iter_ == ref.n_iter_ < 200
        assert ours.random_state.get_state()[2] == ref.random_state.get_state()[2]
        for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
            np.testing.assert_allclose(a, b, rtol=0, atol=TOL)


@pytest.mark.parametrize(
    "params", [dict(tol=1e-2, n_iter_no_change=2), dict(early_stopping=True, n_iter_no_change=2)]
)
def test_numpys_global_stream_is_left_where_a_fit_that_stops_early_leaves_it(datasets, params):
    """random_state=None draws from numpy's global RandomState: a fit that stops before
    max_iter leaves it one shuffle per epoch it ran on, as scikit-learn's does, so the next fit
    (and any draw) after `np.random.seed` equals scikit-learn's. (Several such fits in one call,
    a search's, chain on each other's stopping epochs: only the last leaves the stream so.)"""
    X, y = datasets["iris"]
    base = dict(hidden_layer_sizes=(3,), batch_size=32, max_iter=200, **params)
    fits = {}
    for name, cls in [("ref", neural_network.MLPClassifier), ("ours", vgrid.MLPClassifier)]:
        np.random.seed(4)
        fits[name] = [cls(**base).fit(X, y) for _ in range(2)], np.random.randint(1 << 30)
    (ours, our_draw), (ref, ref_draw) = fits["ours"], fits["ref"]
    assert our_draw == ref_draw
    for ours_one, ref_one in zip(ours, ref):
        assert ours_one.n_iter_ == ref_one.n_iter_ < 200
        for a, b in zip(ours_one.coefs_, ref_one.coefs_):
            np.testing.assert_allclose(a, b, rtol=0, atol=TOL)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_fast_mode_gives_scikit_learns_attribute_types(datasets, early_stopping):
    """float32 data: the losses and scores are of scikit-learn's types (np.float64, float),
    so that a script can compare, print or serialize them (json) as it did."""
    X, y = datasets["iris"]
    X = X.astype(np.float32)
    params = dict(max_iter=5, random_state=0, early_stopping=early_stopping)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = neural_network.MLPClassifier(**params).fit(X, y)
        ours = vgrid.MLPClassifier(**params).fit(X, y)
    for name in ("loss_", "best_loss_", "validation_scores_", "best_validation_score_", "t_"):
        assert type(getattr(ours, name)) is type(getattr(ref, name)), name
    assert {type(v) for v in ours.loss_curve_} == {type(v) for v in ref.loss_curve_}
    for name in ("coefs_", "intercepts_"):
        assert [a.dtype for a in getattr(ours, name)] == [a.dtype for a in getattr(ref, name)]


def test_fast_mode_verbose_lines_follow_the_float32_stopping_rule(datasets, capsys):
    """verbose=True's lines replay the stopping rule as the fit applied it, in float32 for
    float32 data: a flat loss that the float32 rule never stops on (n_iter_ == max_iter)
    prints every epoch and no "Stopping." (the float64 losses alone would say otherwise)."""
    X, y = datasets["iris"]
    est = vgrid.MLPClassifier(
        hidden_layer_sizes=(4,),
        learning_rate_init=1e-12,
        tol=1e-9,
        batch_size=150,
        shuffle=False,
        max_iter=30,
        random_state=0,
        verbose=True,
    )
    with pytest.warns(ConvergenceWarning):
        est.fit(X.astype(np.float32), y)
    out = capsys.readouterr().out
    assert est.n_iter_ == 30 and out.count("Iteration") == 30 and "Stopping." not in out
