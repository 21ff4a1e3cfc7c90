"""The one way the tests fit scikit-learn's search and vgrid's, and compare two searches.

`fit_both` runs scikit-learn's search class and vgrid's class of the same name with the same
arguments on the same data; scikit-learn's search trains scikit-learn's own MLPs (a vgrid MLP,
alone or as a pipeline's step, is replaced by scikit-learn's with the same parameters), so the
reference owes nothing to vgrid. `assert_same_cv_results` compares two fitted searches'
`cv_results_` key by key, by kind of key:

- every key: the same keys in the same order, and the same container type (list, ndarray,
  masked array) and dtype;
- timings (`*_time`): shape and dtype only, never values;
- `params`, `param_*` (values and masks), ranks (`rank_*`) and any other key (`iter`,
  `n_resources`, ...): exactly equal;
- scores (`mean_`/`std_`/`split<i>_` of `test_`/`train_`): within the caller's `atol`
  (default 0: equal, NaN where NaN).

`assert_same_search` adds the attributes a search exposes beside `cv_results_` (best index,
score and parameters, number of splits, multimetric).
"""

from __future__ import annotations

import re

import numpy as np
from sklearn import model_selection, neural_network
from sklearn.base import clone
from sklearn.pipeline import Pipeline

import vgrid

_SKLEARN_MLP = {
    vgrid.MLPClassifier: neural_network.MLPClassifier,
    vgrid.MLPRegressor: neural_network.MLPRegressor,
}
_SCORE = re.compile(r"^(mean|std|split\d+)_(test|train)_")
_RANK = re.compile(r"^rank_")


def key_kind(key: str) -> str:
    """'time', 'params', 'param', 'rank', 'score' or 'other': how `key` is compared.

    >>> [key_kind(k) for k in ("mean_fit_time", "param_alpha", "rank_test_r2", "split3_train_f1")]
    ['time', 'param', 'rank', 'score']
    """
    if key.endswith("_time"):
        return "time"
    if key == "params":
        return "params"
    if key.startswith("param_"):
        return "param"
    if _RANK.match(key):
        return "rank"
    if _SCORE.match(key):
        return "score"
    return "other"


def sklearn_reference(estimator):
    """`estimator` with vgrid's MLPs (the estimator itself or a pipeline's steps) replaced by
    scikit-learn's of the same parameters; any other estimator unchanged.

    >>> type(sklearn_reference(vgrid.MLPRegressor(alpha=0.5))).__module__
    'sklearn.neural_network._multilayer_perceptron'
    """
    if type(estimator) in _SKLEARN_MLP:
        return _SKLEARN_MLP[type(estimator)](**estimator.get_params(deep=False))
    if isinstance(estimator, Pipeline):
        steps = {
            name: sklearn_reference(step)
            for name, step in estimator.steps
            if type(step) in _SKLEARN_MLP or isinstance(step, Pipeline)
        }
        return clone(estimator).set_params(**steps)
    return estimator


def fit_both(estimator, params, X, y, *, search="GridSearchCV", fit_params=None, **search_params):
    """(vgrid's search, scikit-learn's search): `search` names the class in both libraries
    (GridSearchCV, RandomizedSearchCV, HalvingGridSearchCV, HalvingRandomSearchCV); both get
    the same grid or distributions, arguments and data, and the same estimator (scikit-learn's
    as `sklearn_reference` makes it). scikit-learn's is fit first.
    """
    fit_params = fit_params or {}
    reference = sklearn_reference(estimator)
    ref = getattr(model_selection, search)(reference, params, **search_params)
    ours = getattr(vgrid, search)(estimator, params, **search_params)
    ref.fit(X, y, **fit_params)
    ours.fit(X, y, **fit_params)
    return ours, ref


def assert_same_cv_results(ours, ref, *, atol=0.0, ranks=True):
    """`ours.cv_results_` equals `ref.cv_results_` key by key (see the module's docstring).

    `atol`: the largest absolute difference allowed between scores (0: equal). `ranks=False`
    compares ranks in dtype and shape only (for a tolerance wide enough to reorder near-ties).
    """
    mine_all, theirs_all = ours.cv_results_, ref.cv_results_
    assert list(mine_all) == list(theirs_all), (list(mine_all), list(theirs_all))
    for key, theirs in theirs_all.items():
        mine = mine_all[key]
        kind = key_kind(key)
        assert type(mine) is type(theirs), (key, type(mine), type(theirs))
        if kind == "params":
            assert mine == theirs, key
            continue
        assert mine.dtype == theirs.dtype, (key, mine.dtype, theirs.dtype)
        assert mine.shape == theirs.shape, (key, mine.shape, theirs.shape)
        if kind == "time" or (kind == "rank" and not ranks):
            continue
        if kind == "param":
            np.testing.assert_array_equal(np.ma.getmaskarray(mine), np.ma.getmaskarray(theirs))
            kept = ~np.ma.getmaskarray(theirs)
            assert list(np.asarray(mine)[kept]) == list(np.asarray(theirs)[kept]), key
        elif kind == "score":
            np.testing.assert_allclose(mine, theirs, rtol=0, atol=atol, err_msg=key)
        else:
            np.testing.assert_array_equal(mine, theirs, err_msg=key)


def assert_same_search(ours, ref, *, atol=0.0, ranks=True):
    """`assert_same_cv_results`, and the same best index, score (within `atol`) and
    parameters, number of splits and multimetric flag, each of the same type (or absent from
    both, as with refit=False and several metrics)."""
    assert_same_cv_results(ours, ref, atol=atol, ranks=ranks)
    for attr in ("best_index_", "best_score_", "best_params_", "n_splits_", "multimetric_"):
        assert hasattr(ours, attr) == hasattr(ref, attr), attr
        if not hasattr(ref, attr):
            continue
        mine, theirs = getattr(ours, attr), getattr(ref, attr)
        assert type(mine) is type(theirs), (attr, type(mine), type(theirs))
        if attr == "best_score_":
            np.testing.assert_allclose(mine, theirs, rtol=0, atol=atol, err_msg=attr)
        else:
            assert mine == theirs, (attr, mine, theirs)
