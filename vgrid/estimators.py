"""`MLPClassifier` and `MLPRegressor`: scikit-learn's MLPs, trained by vgrid's JAX engine.

They are scikit-learn's own classes with one method replaced: the stochastic solvers ('adam',
'sgd') train in a jitted Flax/JAX program (`vgrid.engine`) instead of NumPy loops. Everything
else (constructor, parameter validation, predict/predict_proba/score, fitted attributes,
warnings) is scikit-learn's, so a fit gives scikit-learn's numbers: with float64 input and an
integer `random_state`, the same `n_iter_`, `loss_curve_` equal to about 1e-15 and the same
predictions (exact mode); float32 input trains in float32 (fast mode).

Not vectorized, and then done by scikit-learn's own code: solver='lbfgs' (SciPy's L-BFGS-B),
`partial_fit`, and `fit` with `warm_start=True` on an already fitted model.

Examples
--------
>>> from sklearn.datasets import load_iris
>>> from vgrid import MLPClassifier
>>> X, y = load_iris(return_X_y=True)
>>> from sklearn import neural_network
>>> params = dict(hidden_layer_sizes=(16,), max_iter=500, random_state=0)
>>> clf = MLPClassifier(**params).fit(X, y)
>>> ref = neural_network.MLPClassifier(**params).fit(X, y)   # scikit-learn's own fit
>>> gap = max(abs(a - b) for a, b in zip(clf.loss_curve_, ref.loss_curve_))
>>> clf.n_iter_ == ref.n_iter_, bool(gap < 1e-12)
(True, True)
>>> round(clf.score(X, y), 2)
0.96
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sklearn import neural_network

from .engine import FitJob, fit_estimators
from .mlp_kind import _is_vectorizable

__all__ = ["MLPClassifier", "MLPRegressor"]


if TYPE_CHECKING:  # what the mixin's `super()._fit` reaches
    from sklearn.neural_network._multilayer_perceptron import (
        BaseMultilayerPerceptron as _MLPBase,
    )
else:
    _MLPBase = object


class _VectorizedFitMixin(_MLPBase):
    def _fit(self, X, y, sample_weight=None, incremental=False):
        if incremental or not _is_vectorizable(self):
            return super()._fit(X, y, sample_weight=sample_weight, incremental=incremental)
        fit_estimators([FitJob(self, X, y, sample_weight)])
        return self


class MLPClassifier(_VectorizedFitMixin, neural_network.MLPClassifier):
    """scikit-learn's `MLPClassifier`, fit by vgrid's vectorized JAX engine.

    The constructor, parameter validation, `predict`, `predict_proba`, `score`,
    `partial_fit`, the fitted attributes and the warnings are scikit-learn's (see
    `sklearn.neural_network.MLPClassifier`); only the stochastic solvers' `fit` differs: it
    trains in a compiled JAX program, alone or, in a vgrid search, with every other
    (candidate, fold). With float64 input and an integer `random_state` (exact mode) the fit
    gives scikit-learn's numbers: the same `n_iter_` and predictions, `loss_curve_` and
    weights equal to about 1e-15; float32 input trains in float32 (fast mode). The loss is
    log-loss (binary, multiclass or multilabel).

    Every parameter is scikit-learn's, with scikit-learn's meaning and default (see its
    documentation): `hidden_layer_sizes`, `activation`, `solver`, `alpha`, `batch_size`,
    `learning_rate`, `learning_rate_init`, `power_t`, `max_iter`, `shuffle`, `random_state`,
    `tol`, `verbose`, `warm_start`, `momentum`, `nesterovs_momentum`, `early_stopping`,
    `validation_fraction`, `beta_1`, `beta_2`, `epsilon`, `n_iter_no_change`, `max_fun`. Every
    value is trained by vgrid's engine but `solver="lbfgs"` (and `max_fun`, which only it
    reads) and warm-start refits. Those below are where vgrid adds something.

    Parameters
    ----------
    solver : str, default="adam"
        "adam" and "sgd" (every `learning_rate` schedule, `momentum`,
        `nesterovs_momentum`) are trained by vgrid; "lbfgs" by scikit-learn's own code
        (SciPy's L-BFGS-B).
    random_state : int, RandomState instance or None, default=None
        As in scikit-learn; vgrid replays scikit-learn's `RandomState` draws (initial
        weights, early-stopping split, one shuffle per epoch), so an integer with float64
        input gives scikit-learn's own fit.
    verbose : bool, default=False
        As in scikit-learn: ``Iteration N, loss = ...``, ``Validation score: ...`` and the
        stopping lines, character for character, printed after training (rebuilt from
        the curves) rather than during it.
    warm_start : bool, default=False
        As in scikit-learn; a `fit` that continues an already fitted model is scikit-learn's
        own.

    Attributes
    ----------
    coefs_, intercepts_ : list of ndarray
        The weights and biases of each layer.
    loss_, loss_curve_ : float, list of float
        The last epoch's training loss, and every epoch's.
    n_iter_ : int
        Epochs run.
    best_loss_, validation_scores_, best_validation_score_
        As in scikit-learn: the best training loss without early stopping; the validation
        scores and the best of them with it (None otherwise).
    t_, n_layers_, n_outputs_, out_activation_, n_features_in_
        As in scikit-learn (`out_activation_`: "logistic" or "softmax").
    classes_ : ndarray or list of ndarray
        The class labels.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = MLPClassifier(max_iter=5, random_state=0).fit(X / X.max(0), y)
    >>> clf.n_iter_, len(clf.loss_curve_), clf.classes_
    (5, 5, array([0, 1]))
    """


class MLPRegressor(_VectorizedFitMixin, neural_network.MLPRegressor):
    """scikit-learn's `MLPRegressor`, fit by vgrid's vectorized JAX engine.

    The constructor, parameter validation, `predict`, `score`,
    `partial_fit`, the fitted attributes and the warnings are scikit-learn's (see
    `sklearn.neural_network.MLPRegressor`); only the stochastic solvers' `fit` differs: it
    trains in a compiled JAX program, alone or, in a vgrid search, with every other
    (candidate, fold). With float64 input and an integer `random_state` (exact mode) the fit
    gives scikit-learn's numbers: the same `n_iter_` and predictions, `loss_curve_` and
    weights equal to about 1e-15; float32 input trains in float32 (fast mode). The loss is
    squared error, or Poisson deviance with ``loss='poisson'``.

    Every parameter is scikit-learn's, with scikit-learn's meaning and default (see its
    documentation): `loss`, `hidden_layer_sizes`, `activation`, `solver`, `alpha`,
    `batch_size`, `learning_rate`, `learning_rate_init`, `power_t`, `max_iter`, `shuffle`,
    `random_state`, `tol`, `verbose`, `warm_start`, `momentum`, `nesterovs_momentum`,
    `early_stopping`, `validation_fraction`, `beta_1`, `beta_2`, `epsilon`,
    `n_iter_no_change`, `max_fun`. Every value is trained by vgrid's engine but
    `solver="lbfgs"` (and `max_fun`, which only it reads) and warm-start refits. Those below
    are where vgrid adds something.

    Parameters
    ----------
    solver : str, default="adam"
        "adam" and "sgd" (every `learning_rate` schedule, `momentum`,
        `nesterovs_momentum`) are trained by vgrid; "lbfgs" by scikit-learn's own code
        (SciPy's L-BFGS-B).
    random_state : int, RandomState instance or None, default=None
        As in scikit-learn; vgrid replays scikit-learn's `RandomState` draws (initial
        weights, early-stopping split, one shuffle per epoch), so an integer with float64
        input gives scikit-learn's own fit.
    verbose : bool, default=False
        As in scikit-learn: ``Iteration N, loss = ...``, ``Validation score: ...`` and the
        stopping lines, character for character, printed after training (rebuilt from
        the curves) rather than during it.
    warm_start : bool, default=False
        As in scikit-learn; a `fit` that continues an already fitted model is scikit-learn's
        own.

    Attributes
    ----------
    coefs_, intercepts_ : list of ndarray
        The weights and biases of each layer.
    loss_, loss_curve_ : float, list of float
        The last epoch's training loss, and every epoch's.
    n_iter_ : int
        Epochs run.
    best_loss_, validation_scores_, best_validation_score_
        As in scikit-learn: the best training loss without early stopping; the validation
        scores and the best of them with it (None otherwise).
    t_, n_layers_, n_outputs_, out_activation_, n_features_in_
        As in scikit-learn (`out_activation_`: "identity").

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = MLPRegressor(hidden_layer_sizes=(20,), max_iter=3, random_state=0).fit(X, y)
    >>> reg.n_iter_, [w.shape for w in reg.coefs_]
    (3, [(10, 20), (20, 1)])
    """
