"""A search's fits by the estimator's own code, for estimators vgrid does not train.

`vgrid.OptunaSearchCV` runs every estimator through the same `fit` body (the facade's mirror of
scikit-learn's `BaseSearchCV.fit`, `vgrid.search`), which takes a run object with
`vgrid.search_run.SearchRun`'s interface: `evaluate`, `refit` and `fitted_attributes`. For an
estimator vgrid does not train it is one of these:

- `OwnFitRun`: scikit-learn's `_fit_and_score` for every (candidate, split), in a joblib
  `Parallel` of `n_jobs`, exactly as scikit-learn's searches fit and score;
- `PartialFitRun`: pruning as optuna_integration prunes, by `partial_fit`. With
  ``enable_pruning=True``, optuna_integration's `OptunaSearchCV` trains a trial's folds by
  calling the estimator's `partial_fit` `max_iter` times, every fold one call at a time, and
  after each round reports the mean of the folds' test scores to the trial (``step`` counting
  from 0), then asks the pruner whether to stop. vgrid prunes the networks it trains inside its
  own training loop; for any other estimator (`SGDClassifier`, say) `PartialFitRun` does what
  optuna_integration does, so that a ported script prunes as it did (fit parameters are sliced
  to each fold's rows, as scikit-learn slices them, where the peer passes them whole and
  fails).

Example:
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import SGDClassifier
    >>> from sklearn.metrics import get_scorer
    >>> X, y = load_iris(return_X_y=True)
    >>> reports = []
    >>> run = PartialFitRun(SGDClassifier(random_state=0), X, y, get_scorer("accuracy"),
    ...     max_iter=3, classes=[0, 1, 2], metric="score",
    ...     report=lambda c, step, value: reports.append(step) or False)
    >>> rows = np.arange(150)
    >>> records = run.evaluate([{"alpha": 1e-3}], [(rows[::2], rows[1::2])])
    >>> reports, [record["fit_error"] for record in records]
    ([0, 1, 2], [None])
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import product
from traceback import format_exc
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone, is_classifier
from sklearn.model_selection._validation import _fit_and_score
from sklearn.utils.validation import _check_method_params

from .engine import FitOutcome
from .folds import prepare_folds
from .scoring import FoldScorer
from .search_run import Scoring

__all__ = ["OwnFitRun", "PartialFitRun"]


class _RefitByOwnFit:
    """The refit and fitted attributes of a run of the estimator's own code."""

    X: Any
    y: Any
    fit_params: dict

    def refit(self, estimator, best_index: int) -> str:
        """Fit `estimator` on all the data by its own `fit`, as scikit-learn's searches (and
        optuna_integration) refit (without y when there is none)."""
        if self.y is None:
            estimator.fit(self.X, **self.fit_params)
        else:
            estimator.fit(self.X, self.y, **self.fit_params)
        return "scikit-learn"

    def fitted_attributes(self) -> dict[str, Any]:
        """Nothing of vgrid's engine: none of its programs ran."""
        return {}


@dataclass
class OwnFitRun(_RefitByOwnFit):
    """One `fit` of a search whose (candidate, split) pairs are fitted and scored by
    scikit-learn's `_fit_and_score`, in parallel as scikit-learn's searches run them."""

    base_estimator: Any  # a clone of the search's estimator
    X: Any
    y: Any
    scorers: Any  # scikit-learn's scorer, or its _MultimetricScorer
    fit_params: dict = field(default_factory=dict)  # routed to the estimator's fit
    score_params: dict = field(default_factory=dict)  # routed to the scorer
    error_score: Any = np.nan
    return_train_score: bool = False
    verbose: int = 0
    n_jobs: int | None = None
    pre_dispatch: Any = "2*n_jobs"

    def evaluate(self, candidate_params: list[dict], splits: list) -> list[dict]:
        """`_fit_and_score`'s record for every (candidate, split), candidate-major."""
        n_candidates, n_splits = len(candidate_params), len(splits)
        with Parallel(n_jobs=self.n_jobs, pre_dispatch=self.pre_dispatch) as parallel:
            return parallel(
                delayed(_fit_and_score)(
                    clone(self.base_estimator),
                    self.X,
                    self.y,
                    train=train,
                    test=test,
                    parameters=parameters,
                    split_progress=(split_idx, n_splits),
                    candidate_progress=(cand_idx, n_candidates),
                    scorer=self.scorers,
                    fit_params=self.fit_params,
                    score_params=self.score_params,
                    return_train_score=self.return_train_score,
                    return_n_test_samples=True,
                    return_times=True,
                    return_parameters=False,
                    error_score=self.error_score,
                    verbose=self.verbose,
                )
                for (cand_idx, parameters), (split_idx, (train, test)) in product(
                    enumerate(candidate_params), enumerate(splits)
                )
            )


@dataclass
class PartialFitRun(_RefitByOwnFit):
    """One `fit` of a search whose folds train by `partial_fit`, `max_iter` calls each, with
    `report(candidate, step, mean test score) -> pruned` called after each round of calls."""

    base_estimator: Any  # a clone of the search's estimator
    X: Any
    y: Any
    scorers: Any  # scikit-learn's scorer, or its _MultimetricScorer
    max_iter: int
    classes: Any  # a classifier's partial_fit `classes` (None: a regressor's none)
    metric: str  # the scorer whose mean test score is reported ("score" for one scorer)
    report: Callable[[int, int, float], bool]
    fit_params: dict = field(default_factory=dict)  # routed to partial_fit (and the refit)
    score_params: dict = field(default_factory=dict)  # routed to the scorer
    error_score: Any = np.nan
    return_train_score: bool = False
    verbose: int = 0

    def evaluate(self, candidate_params: list[dict], splits: list) -> list[dict]:
        """`_fit_and_score`'s record for every (candidate, split), candidate-major; a pruned
        candidate's records are those of its folds where they stopped."""
        folds = prepare_folds(self.base_estimator, self.X, self.y, splits, None, self.score_params)
        call_params = [_check_method_params(self.X, self.fit_params, train) for train, _ in splits]
        if is_classifier(self.base_estimator):
            classes = np.array([None]) if self.classes is None else self.classes
            call_params = [{"classes": classes, **params} for params in call_params]
        scorer = FoldScorer(self.scorers, self.base_estimator)
        scoring = Scoring(scorer, self.error_score, self.return_train_score, self.verbose)
        out = []
        for c, parameters in enumerate(candidate_params):
            # Set, then cloned per fold, as optuna_integration does (an estimator whose
            # __init__ derives attributes from its parameters, PassiveAggressive's, differs
            # the other way round).
            estimator = clone(self.base_estimator).set_params(**clone(parameters, safe=False))
            estimators = [clone(estimator) for _ in folds]
            outcomes = [FitOutcome() for _ in folds]
            for step in range(self.max_iter):
                scores = [
                    self._call_and_score(est, outcome, fold, params, scorer)
                    for est, outcome, fold, params in zip(estimators, outcomes, folds, call_params)
                ]
                with warnings.catch_warnings():  # every fold NaN: NaN, reported as such
                    warnings.simplefilter("ignore", RuntimeWarning)
                    if self.report(c, step, float(np.nanmean(scores))):
                        break
            for s, (est, outcome, fold) in enumerate(zip(estimators, outcomes, folds)):
                progress = ((s, len(folds)), (c, len(candidate_params)))
                out.append(scoring.record(est, outcome, fold, parameters, progress))
        return out

    def _call_and_score(self, estimator, outcome: FitOutcome, fold, params, scorer) -> float:
        """One `partial_fit` call on the fold's training rows, then the reported test score:
        `error_score` if the call failed (as the fold's final score is, when its last call
        fails), or raised with ``error_score="raise"``."""
        start = time.time()
        try:
            estimator.partial_fit(*fold["train"], **params)
        except Exception:
            if self.error_score == "raise":
                raise
            outcome.error = format_exc()
            return float(self.error_score)
        finally:
            outcome.fit_time += time.time() - start
        outcome.error = None
        value = scorer.score(estimator, *fold["test"], fold["score_test"], self.error_score)
        return float(value[self.metric] if isinstance(value, dict) else value)
