"""The reference check: the same search run by scikit-learn, and a report of the differences.

Example:
    >>> from sklearn.datasets import load_iris
    >>> from vgrid import GridSearchCV, MLPClassifier, compare_with_sklearn
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearchCV(MLPClassifier(hidden_layer_sizes=(5,), max_iter=20, random_state=0),
    ...                       {"alpha": [1e-4, 1e-1]}, cv=3)
    >>> report = compare_with_sklearn(search, X, y)
    >>> report.same_keys, report.max_abs_split_score_diff
    (True, 0.0)
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn import model_selection, neural_network
from sklearn.base import clone, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection._split import check_cv

from . import estimators
from . import search as vgrid_search

__all__ = ["ReferenceReport", "compare_with_sklearn", "sklearn_equivalent"]

_SKLEARN_CLASS = {
    estimators.MLPClassifier: neural_network.MLPClassifier,
    estimators.MLPRegressor: neural_network.MLPRegressor,
}


_SKLEARN_SEARCH = {
    vgrid_search.GridSearchCV: model_selection.GridSearchCV,
    vgrid_search.RandomizedSearchCV: model_selection.RandomizedSearchCV,
    vgrid_search.HalvingGridSearchCV: model_selection.HalvingGridSearchCV,
    vgrid_search.HalvingRandomSearchCV: model_selection.HalvingRandomSearchCV,
}


def sklearn_equivalent(estimator):
    """scikit-learn's estimator with the same parameters (vgrid's MLPs map to scikit-learn's)."""
    cls = _SKLEARN_CLASS.get(type(estimator))
    return clone(estimator) if cls is None else cls(**estimator.get_params(deep=False))


@dataclass
class ReferenceReport:
    """How a vgrid search compares with scikit-learn's on the same data and splits."""

    same_keys: bool  # cv_results_ keys, in the same order
    dtype_mismatches: dict  # key -> (vgrid dtype, scikit-learn dtype)
    max_abs_split_score_diff: float  # over every split{i}_(test|train)_* entry
    same_ranks: bool
    same_best_params: bool
    vgrid_seconds: float
    sklearn_seconds: float
    sklearn_n_jobs: int | None
    n_fits: int
    search: object = field(repr=False, default=None)  # the fitted vgrid search
    reference: object = field(repr=False, default=None)  # the fitted scikit-learn search

    @property
    def speedup(self) -> float:
        return self.sklearn_seconds / self.vgrid_seconds

    @property
    def agrees(self) -> bool:
        return (
            self.same_keys
            and not self.dtype_mismatches
            and self.same_ranks
            and self.same_best_params
        )

    def __str__(self) -> str:
        lines = [
            f"reference check against scikit-learn's {type(self.reference).__name__} "
            f"({self.n_fits} fits)",
            f"  cv_results_ keys and order equal:   {self.same_keys}",
            f"  cv_results_ dtypes equal:           {not self.dtype_mismatches}"
            + (f" {self.dtype_mismatches}" if self.dtype_mismatches else ""),
            f"  max |split score difference|:       {self.max_abs_split_score_diff:.3g}",
            f"  ranks equal:                        {self.same_ranks}",
            f"  best_params_ equal:                 {self.same_best_params}",
            f"  wall time, vgrid:                   {self.vgrid_seconds:.2f} s",
            f"  wall time, scikit-learn (n_jobs={self.sklearn_n_jobs}): "
            f"{self.sklearn_seconds:.2f} s",
            f"  speedup:                            {self.speedup:.2f}x",
        ]
        return "\n".join(lines)


def _dtype(value):
    return getattr(value, "dtype", type(value).__name__)


def compare_with_sklearn(search, X, y=None, *, sklearn_n_jobs=-1, **fit_params):
    """Fit `search` (a vgrid search, cloned) and the same scikit-learn search; report both.

    `search` is any of vgrid's searches; the reference is scikit-learn's class of the same name.
    scikit-learn's search gets the equivalent scikit-learn estimator, the same parameters and
    the very same splits (materialised once, so a shuffling splitter cannot differ), and runs
    with `n_jobs=sklearn_n_jobs`. Both wall times include refitting.
    """
    search = clone(search)
    cv = check_cv(search.cv, y, classifier=is_classifier(search.estimator))
    splits = list(cv.split(X, y, fit_params.get("groups")))
    search.set_params(cv=splits)
    params = search.get_params(deep=False)
    for vgrid_only in ("chunk_size", "checkpoint"):
        params.pop(vgrid_only, None)
    params.update(estimator=sklearn_equivalent(search.estimator), cv=splits, n_jobs=sklearn_n_jobs)
    reference = _SKLEARN_SEARCH[type(search)](**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        search.fit(X, y, **fit_params)
        vgrid_seconds = time.perf_counter() - start
        start = time.perf_counter()
        reference.fit(X, y, **fit_params)
        sklearn_seconds = time.perf_counter() - start
    ours, theirs = search.cv_results_, reference.cv_results_
    split_keys = [k for k in theirs if k.startswith("split")]
    diffs = [
        np.nanmax(np.abs(np.asarray(ours[k], float) - np.asarray(theirs[k], float)), initial=0.0)
        for k in split_keys
        if k in ours
    ]
    rank_keys = [k for k in theirs if k.startswith("rank_")]
    return ReferenceReport(
        same_keys=list(ours) == list(theirs),
        dtype_mismatches={
            k: (str(_dtype(ours[k])), str(_dtype(theirs[k])))
            for k in theirs
            if k in ours and _dtype(ours[k]) != _dtype(theirs[k])
        },
        max_abs_split_score_diff=float(max(diffs, default=0.0)),
        same_ranks=all(np.array_equal(ours.get(k), theirs[k]) for k in rank_keys),
        same_best_params=getattr(search, "best_params_", None)
        == getattr(reference, "best_params_", None),
        vgrid_seconds=vgrid_seconds,
        sklearn_seconds=sklearn_seconds,
        sklearn_n_jobs=sklearn_n_jobs,
        n_fits=len(ours["params"]) * search.n_splits_,
        search=search,
        reference=reference,
    )
