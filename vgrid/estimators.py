"""`MLPClassifier` and `MLPRegressor`: scikit-learn's MLPs, trained by vgrid's JAX engine.

They are scikit-learn's own classes with one method replaced: the stochastic solvers ('adam',
'sgd') train in a jitted Flax/JAX program (`vgrid.engine`) instead of NumPy loops. Everything
else (constructor, parameter validation, predict/predict_proba/score, fitted attributes,
warnings) is scikit-learn's, so a fit gives scikit-learn's numbers: with float64 input and an
integer `random_state`, the same `n_iter_`, `loss_curve_` equal to about 1e-15 and the same
predictions (exact mode); float32 input trains in float32 (fast mode).

Not vectorized, and then done by scikit-learn's own code: solver='lbfgs' (SciPy's L-BFGS-B),
`partial_fit`, and `fit` with `warm_start=True` on an already fitted model.

Example:
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

    Parameters, attributes and methods are scikit-learn's: see
    `sklearn.neural_network.MLPClassifier`. See the module docstring for what is vectorized.

    Example:
        >>> from sklearn.datasets import load_breast_cancer
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> MLPClassifier(max_iter=5, random_state=0).fit(X / X.max(0), y).n_iter_
        5
    """


class MLPRegressor(_VectorizedFitMixin, neural_network.MLPRegressor):
    """scikit-learn's `MLPRegressor`, fit by vgrid's vectorized JAX engine.

    Parameters, attributes and methods are scikit-learn's: see
    `sklearn.neural_network.MLPRegressor`. See the module docstring for what is vectorized.

    Example:
        >>> from sklearn.datasets import load_diabetes
        >>> X, y = load_diabetes(return_X_y=True)
        >>> MLPRegressor(hidden_layer_sizes=(20,), max_iter=3, random_state=0).fit(X, y).n_iter_
        3
    """
