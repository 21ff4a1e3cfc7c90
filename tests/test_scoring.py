"""vgrid.scoring: the shortcut for the MLPs' default scorers equals scikit-learn's `_score`."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import model_selection, neural_network
from sklearn.metrics import accuracy_score, get_scorer, r2_score
from sklearn.metrics._scorer import _PassthroughScorer
from sklearn.model_selection._validation import _score

import vgrid
from vgrid.scoring import FoldScorer

from helpers import assert_same_search


def _fitted(cls, X, y, n=6):
    return [
        cls(hidden_layer_sizes=(5,), max_iter=15, alpha=a, random_state=0).fit(X, y)
        for a in np.logspace(-5, 1, n)
    ]


@pytest.mark.parametrize(
    "name, labels", [("iris", None), ("breast_cancer", None), ("wine", np.array(["a", "b", "c"]))]
)
@pytest.mark.parametrize("scoring", [None, "accuracy"])
def test_classifier_scores_equal_sklearns(datasets, name, labels, scoring):
    X, y = datasets[name]
    y = y if labels is None else labels[y]
    models = _fitted(neural_network.MLPClassifier, X[::2], y[::2])
    scorer = _PassthroughScorer(models[0]) if scoring is None else get_scorer(scoring)
    fast = FoldScorer(scorer, models[0])
    assert fast.metric is accuracy_score  # the shortcut, not scikit-learn's path
    X_test, y_test = X[1::2], y[1::2]
    for model in models:
        ours = fast.score(model, X_test, y_test, {}, error_score=np.nan)
        assert ours == _score(model, X_test, y_test, scorer, {}, np.nan)
        assert type(ours) is float


@pytest.mark.parametrize("scoring", [None, "r2"])
def test_regressor_scores_equal_sklearns(datasets, scoring):
    X, y = datasets["diabetes"]
    models = _fitted(vgrid.MLPRegressor, X[::2], y[::2])
    scorer = _PassthroughScorer(models[0]) if scoring is None else get_scorer(scoring)
    fast = FoldScorer(scorer, models[0])
    assert fast.metric is r2_score  # the shortcut, not scikit-learn's path
    for model in models:
        assert fast.score(model, X[1::2], y[1::2], {}, np.nan) == _score(
            model, X[1::2], y[1::2], scorer, {}, np.nan
        )


class _ShiftedPredictions(neural_network.MLPClassifier):
    def predict(self, X):
        return super().predict(X)[::-1]


def test_other_scorers_and_overridden_predict_take_sklearns_path(datasets):
    X, y = datasets["iris"]
    model = _fitted(neural_network.MLPClassifier, X, y, n=1)[0]
    assert FoldScorer(get_scorer("f1_macro"), model).metric is None
    assert FoldScorer(get_scorer("neg_log_loss"), model).metric is None
    shifted = _ShiftedPredictions(**model.get_params()).fit(X, y)
    scorer = FoldScorer(_PassthroughScorer(shifted), shifted)
    assert scorer.metric is None
    assert scorer.score(shifted, X, y, {}, np.nan) == shifted.score(X, y)


def test_unscorable_test_labels_get_error_score_like_sklearn(datasets):
    # NaN only among fold 0's test labels: its model fits, then scoring fails (error_score);
    # the other folds' fits fail. Both searches must say exactly that.
    X, y = datasets["iris"]
    y = y.astype(float)
    y[5] = np.nan
    est = neural_network.MLPClassifier(hidden_layer_sizes=(4,), max_iter=10, random_state=0)
    kwargs = dict(cv=model_selection.KFold(3), refit=False, error_score=-1.0)
    searches = []
    for search in (model_selection.GridSearchCV, vgrid.GridSearchCV):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            searches.append(search(est, {"alpha": [1e-4, 1e-2]}, **kwargs).fit(X, y))
        assert any("Scoring failed" in str(w.message) for w in caught)
    ref, ours = searches
    assert_same_search(ours, ref)
    assert (ref.cv_results_["split0_test_score"] == -1.0).all()


def test_feature_names_are_checked_once_and_kept(datasets):
    X, y = datasets["iris"]
    frame = pd.DataFrame(X, columns=list("abcd"))
    models = _fitted(vgrid.MLPClassifier, frame, y, n=3)
    fast = FoldScorer(_PassthroughScorer(models[0]), models[0])
    for model in models:
        assert fast.score(model, frame, y, {}, np.nan) == model.score(frame, y)
