"""A search's cross-validation folds, and the preprocessing of a pipeline's steps on them.

A `Fold` holds what every fit and score on one split needs, sliced from the search's data once
per split as scikit-learn's `_fit_and_score` slices it (`_safe_split`, `_check_method_params`).
`Preprocessing` fits a pipeline's steps before the network once per (their parameters, fold),
as the pipeline's own `fit` would, and every network of that group trains on the result.

Example:
    >>> import numpy as np
    >>> from sklearn.neural_network import MLPClassifier
    >>> X, y = np.arange(12.0).reshape(6, 2), np.array([0, 1] * 3)
    >>> (fold,) = prepare_folds(MLPClassifier(), X, y, [(np.arange(4), np.arange(4, 6))], None, {})
    >>> fold["train"][0].shape, fold["test"][0].shape
    ((4, 2), (2, 2))
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from traceback import format_exc
from typing import Any, TypedDict

import numpy as np
from sklearn.utils.metaestimators import _safe_split
from sklearn.utils.validation import _check_method_params

from . import pipeline
from .checkpoint import fingerprint_of
from .engine import FitOutcome

__all__ = ["Fold", "Preprocessing", "prepare_folds"]


class Fold(TypedDict):
    """One split's data. A dict: `OptunaSearchCV`'s pruning reads `test` and `score_test`."""

    train: tuple[Any, Any]  # (X, y) of the training rows
    test: tuple[Any, Any]  # (X, y) of the test rows
    split: str  # fingerprint of the (train, test) indices: the same split in every round
    sample_weight: Any  # the network's sample_weight on the training rows, or None
    score_train: dict  # the scorer's parameters on the training rows
    score_test: dict  # and on the test rows


def prepare_folds(estimator, X, y, splits, sample_weight, score_params: dict) -> list[Fold]:
    """One `Fold` per (train, test) split, for `estimator` (pairwise estimators are sliced as
    scikit-learn slices them)."""
    folds = []
    for train, test in splits:
        folds.append(
            Fold(
                train=_safe_split(estimator, X, y, train),
                test=_safe_split(estimator, X, y, test, train),
                split=fingerprint_of(np.asarray(train), np.asarray(test)),
                sample_weight=_check_method_params(X, {"w": sample_weight}, train)["w"],
                score_train=_check_method_params(X, score_params, train),
                score_test=_check_method_params(X, score_params, test),
            )
        )
    return folds


class Preprocessing:
    """The steps before `estimator`'s network, fitted on each fold's training rows on first use,
    for each set of their parameters. A failed fit is kept as the `FitOutcome` scikit-learn
    would report (or raised, with `raise_errors`)."""

    def __init__(self, estimator, raise_errors: bool):
        self.estimator, self.raise_errors = estimator, raise_errors
        self.fitted: dict[Hashable, tuple[Any, Any]] = {}  # data key -> (steps, X) or failure

    def fit(self, pre_params: dict, index: int, fold: Fold) -> tuple[Hashable, Any, Any]:
        """(data key, fitted steps or None, the network's training X): the steps with
        `pre_params` on fold number `index`; a failure's `FitOutcome` in place of X."""
        data_key = (repr(sorted(pre_params.items())), index, fold["split"])
        if data_key not in self.fitted:
            start = time.time()
            try:
                self.fitted[data_key] = pipeline.fit_preprocessing(
                    self.estimator, pre_params, *fold["train"]
                )
            except Exception:  # reported as scikit-learn reports a failed fit
                if self.raise_errors:
                    raise
                failure = FitOutcome(fit_time=time.time() - start, error=format_exc())
                self.fitted[data_key] = (None, failure)
        return (data_key, *self.fitted[data_key])
