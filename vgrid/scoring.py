"""Scoring many fitted MLPs as scikit-learn's `_score` does, without its per-call overhead.

scikit-learn validates the data and the targets on every scorer call: about a millisecond per
model, which for a grid of thousands of small models costs more than training them. For the
default scorer of scikit-learn's MLPs (accuracy for classifiers, R^2 for regressors, whether
`scoring` is None or names it), vgrid validates each fold's data once (as `predict` would) and
then runs, per model, the arithmetic scikit-learn runs: `_predict(X, check_input=False)` (the
forward pass and the label decoding) and the metric (accuracy's mean of matches, which is exact;
scikit-learn's own `r2_score`). Every other case (other scorers, pipelines, subclasses that
override predict or score, scoring parameters, multilabel targets, data that fails validation)
goes through scikit-learn's `_score` unchanged.

Example:
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.metrics import get_scorer
    >>> from vgrid import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> model = MLPClassifier(max_iter=20, random_state=0).fit(X, y)
    >>> scorer = FoldScorer(get_scorer("accuracy"), model)
    >>> scorer.score(model, X, y, {}, error_score="raise") == model.score(X, y)
    True
"""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.metrics._scorer import _PassthroughScorer, _Scorer
from sklearn.model_selection._validation import _score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.neural_network._multilayer_perceptron import BaseMultilayerPerceptron
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import validate_data

__all__ = ["FoldScorer"]

# (estimator class, its score, the metric that score computes)
_DEFAULTS = (
    (MLPClassifier, ClassifierMixin.score, accuracy_score),
    (MLPRegressor, RegressorMixin.score, r2_score),
)


def _default_metric(scorer, estimator):
    """accuracy_score or r2_score when `scorer` computes exactly that metric of `estimator`'s
    scikit-learn predictions; None otherwise."""
    cls = type(estimator)
    for base, score_method, metric in _DEFAULTS:
        if not (
            isinstance(estimator, base)
            and cls.score is score_method
            and cls.predict is base.predict
            and cls._predict is base._predict
            and cls._forward_pass_fast is BaseMultilayerPerceptron._forward_pass_fast
        ):
            continue
        if isinstance(scorer, _PassthroughScorer):
            return metric
        if (
            type(scorer) is _Scorer
            and scorer._score_func is metric
            and not scorer._kwargs
            and scorer._sign == 1
            and scorer._response_method == "predict"
        ):
            return metric
    return None


class FoldScorer:
    """Scores fitted copies of `estimator` (same class and parameters but the ones searched)
    with `scorer`, validating each data set once; see the module docs."""

    def __init__(self, scorer, estimator):
        self.scorer = scorer
        self.metric = _default_metric(scorer, estimator)
        self._validated = {}  # ("X" or "y", id) -> (the object, its checked array or None)

    def _validated_X(self, estimator, X):
        key = ("X", id(X))
        if key not in self._validated:
            try:
                checked = validate_data(estimator, X, accept_sparse=["csr", "csc"], reset=False)
            except Exception:  # noqa: BLE001 - scikit-learn's _score reports it per model
                checked = None
            self._validated[key] = (X, checked)  # X kept alive, so its id stays unique
        return self._validated[key][1]

    def _checked_targets(self, y):
        """y as an array when the shortcut computes exactly what the metric computes: 1-D
        targets, and for accuracy plain binary or multiclass labels of a numeric or string
        dtype (what `_check_targets` accepts without converting); None otherwise."""
        key = ("y", id(y))
        if key not in self._validated:
            y_true = np.asarray(y)
            ok = y_true.ndim == 1
            if ok and self.metric is accuracy_score:
                try:
                    ok = y_true.dtype.kind in "biufUS" and type_of_target(y_true) in (
                        "binary",
                        "multiclass",
                    )
                except ValueError:  # NaN or inf among the labels: the metric raises
                    ok = False
            self._validated[key] = (y, y_true if ok else None)
        return self._validated[key][1]

    def score(self, estimator, X, y, score_params, error_score):
        """What `sklearn.model_selection._validation._score` returns for these arguments."""
        if self.metric is None or score_params or y is None:
            return _score(estimator, X, y, self.scorer, score_params, error_score)
        X_checked = self._validated_X(estimator, X)
        y_true = self._checked_targets(y)
        if X_checked is None or y_true is None:
            return _score(estimator, X, y, self.scorer, score_params, error_score)
        try:
            y_pred = estimator._predict(X_checked, check_input=False)
            if self.metric is accuracy_score:
                # accuracy_score's own computation for 1-D targets: the mean of exact matches
                return float(np.mean(y_true == y_pred))
            return r2_score(y_true, y_pred)
        except Exception:  # noqa: BLE001 - scikit-learn's _score reports it, as it always does
            return _score(estimator, X, y, self.scorer, score_params, error_score)
