"""The reference check: the same search run by scikit-learn, and a report of the differences.

Examples
--------
>>> from sklearn.datasets import load_iris
>>> from vgrid import GridSearchCV, MLPClassifier, compare_with_sklearn
>>> X, y = load_iris(return_X_y=True)
>>> search = GridSearchCV(MLPClassifier(hidden_layer_sizes=(5,), max_iter=20, random_state=0),
...                       {"alpha": [1e-4, 1e-1]}, cv=3)
>>> report = compare_with_sklearn(search, X, y, sklearn_n_jobs=1)
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
    """scikit-learn's estimator with the same parameters (vgrid's MLPs map to scikit-learn's).

    Parameters
    ----------
    estimator : estimator object
        vgrid's `MLPClassifier` or `MLPRegressor`, or any other estimator (cloned as it is).

    Returns
    -------
    estimator object
        Unfitted: scikit-learn's MLP of the same class name with the same parameters, or a
        clone of `estimator`.

    Examples
    --------
    >>> from vgrid import MLPClassifier
    >>> sklearn_equivalent(MLPClassifier(alpha=0.1))
    MLPClassifier(alpha=0.1)
    >>> type(sklearn_equivalent(MLPClassifier())).__module__
    'sklearn.neural_network._multilayer_perceptron'
    """
    cls = _SKLEARN_CLASS.get(type(estimator))
    return clone(estimator) if cls is None else cls(**estimator.get_params(deep=False))


@dataclass
class ReferenceReport:
    """How a vgrid search compares with scikit-learn's on the same data and splits.

    What `compare_with_sklearn` returns; `str(report)` is the table `vgrid demo` and
    `vgrid run --compare` print.

    Attributes
    ----------
    same_keys : bool
        `cv_results_` has the same keys, in the same order.
    dtype_mismatches : dict
        Key of `cv_results_` to (vgrid's dtype, scikit-learn's dtype), where they differ.
    max_abs_split_score_diff : float
        The largest absolute difference over every ``split{i}_test_*`` and
        ``split{i}_train_*`` entry (NaN entries ignored).
    same_ranks : bool
        Every ``rank_test_*`` column is equal.
    same_best_params : bool
        `best_params_` is equal (both absent counts as equal).
    vgrid_seconds, sklearn_seconds : float
        Wall time of each search's `fit`, refit included.
    sklearn_n_jobs : int or None
        The `n_jobs` scikit-learn's search ran with.
    n_fits : int
        Candidates x splits.
    search : vgrid search
        The fitted vgrid search.
    reference : scikit-learn search
        The fitted scikit-learn search.
    speedup : float
        ``sklearn_seconds / vgrid_seconds``.
    agrees : bool
        Keys, dtypes, ranks and best parameters all agree (scores are compared by
        `max_abs_split_score_diff`, which exact mode makes 0 and fast mode small).
    """

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
        """``sklearn_seconds / vgrid_seconds``."""
        return self.sklearn_seconds / self.vgrid_seconds

    @property
    def agrees(self) -> bool:
        """Keys, dtypes, ranks and best parameters all agree."""
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
    with `n_jobs=sklearn_n_jobs`. Both wall times include refitting. `ConvergenceWarning` is
    silenced in both.

    Parameters
    ----------
    search : GridSearchCV, RandomizedSearchCV, HalvingGridSearchCV or HalvingRandomSearchCV
        A vgrid search, fitted or not (it is cloned); its `chunk_size` and `checkpoint`
        are not passed to scikit-learn.
    X : array-like of shape (n_samples, n_features)
        The data.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
        The target.
    sklearn_n_jobs : int or None, default=-1
        `n_jobs` of scikit-learn's search (-1: one process per core, what scikit-learn's
        users usually run; 1 is quicker for small grids, whose workers would take longer
        to start than to fit).
    **fit_params
        Passed to both searches' `fit` (``groups`` also to the splitter).

    Returns
    -------
    ReferenceReport
        The comparison, with both fitted searches.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from vgrid import GridSearchCV, MLPClassifier
    >>> X, y = load_wine(return_X_y=True)
    >>> search = GridSearchCV(MLPClassifier(max_iter=10, random_state=0),
    ...                       {"learning_rate_init": [1e-3, 1e-2]}, cv=3)
    >>> report = compare_with_sklearn(search, X / X.max(0), y, sklearn_n_jobs=1)
    >>> report.agrees, report.max_abs_split_score_diff, report.n_fits
    (True, 0.0, 6)
    >>> print(report)                                   # doctest: +ELLIPSIS
    reference check against scikit-learn's GridSearchCV (6 fits)
      cv_results_ keys and order equal:   True
    ...
      speedup:                            ...x
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
