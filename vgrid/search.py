"""vgrid's searches: scikit-learn's, with every (candidate, fold) fit vectorized.

`vgrid.GridSearchCV` is a subclass of `sklearn.model_selection.GridSearchCV` (and likewise
`RandomizedSearchCV`, `HalvingGridSearchCV`, `HalvingRandomSearchCV`): same constructor, same
attributes, same delegated methods. Only the evaluation of (candidate, fold) pairs differs:
instead of one `_fit_and_score` call per pair, all pairs are fit together by `vgrid.engine`
(MLPs and Flax modules alike), a few programs for the whole grid, then
scored as scikit-learn's own `_score` scores them (`vgrid.scoring`), so `cv_results_` is built
by scikit-learn's `_format_results` from the same records scikit-learn builds it from.
Pipelines ending in a network are handled by `vgrid.pipeline`.

After fit, `learning_curves_` holds every model's training curves, which vectorized training
gives for free: `learning_curves_["loss"]` (`loss_curve_`) and `["validation_score"]`
(`validation_scores_`, with early stopping) are arrays of shape (n_candidates, n_splits,
n_epochs), in `cv_results_` row order, NaN past a model's last epoch. `vectorization_` lists
one `vgrid.plan.ProgramReport` per compiled program: its models, padded widths, models per
call, padding overhead, compile and training seconds and useful GFLOP; `verbose >= 1` prints
them.

The refit trains one model, so a program compiled for it alone can cost more than the model
itself. On the CPU the cross-validation programs are given room for the refit's rows, so the
refit usually trains in one of them and compiles nothing; otherwise, when
`CostModel.numpy_fit_is_cheaper` says so, it is fit by scikit-learn's own NumPy code (the same
numbers in exact mode, which vgrid's training reproduces). `refit_engine_` says which engine fit
`best_estimator_` ("vgrid" or "scikit-learn").

`mean_fit_time` is each model's share of the measured wall time of the program that trained it
(plus its host-side preparation), so `mean_fit_time * n_candidates * n_splits` adds up to the
real training time. `n_jobs` sets the CPU worker threads that train a vectorized grid (None
or -1: one per core); `pre_dispatch` applies only to estimators vgrid cannot vectorize, which
are handed to scikit-learn's own `GridSearchCV` with a notice on the "vgrid" logger.

Example:
    >>> from sklearn.datasets import load_iris
    >>> from vgrid import GridSearchCV, MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearchCV(MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0),
    ...                       {"learning_rate_init": [1e-3, 1e-2]}, cv=3).fit(X, y)
    >>> sorted(search.best_params_)
    ['learning_rate_init']
"""

from __future__ import annotations

import copy
import logging
import numbers
import os
import time
from collections import defaultdict
from traceback import format_exc

import numpy as np
from joblib import logger
from sklearn import model_selection, neural_network
from sklearn.base import BaseEstimator, _fit_context, clone, is_classifier
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.metrics._scorer import _MultimetricScorer
from sklearn.model_selection._search_successive_halving import BaseSuccessiveHalving
from sklearn.model_selection._split import check_cv
from sklearn.model_selection._validation import (
    _insert_error_scores,
    _warn_or_raise_about_fit_failures,
)
from sklearn.utils.metaestimators import _safe_split
from sklearn.utils.validation import _check_method_params, _num_samples, indexable

from . import estimators, flax_estimators, pipeline
from .checkpoint import Checkpoint, fingerprint_of
from .engine import FitJob, FitOutcome, fit_estimators
from .mlp_kind import _param_names
from .scoring import FoldScorer

__all__ = [
    "GridSearchCV",
    "HalvingGridSearchCV",
    "HalvingRandomSearchCV",
    "RandomizedSearchCV",
    "is_vectorizable",
]

_VECTORIZED_TYPES = (
    estimators.MLPClassifier,
    estimators.MLPRegressor,
    neural_network.MLPClassifier,
    neural_network.MLPRegressor,
)


#: Models fitted, scored and dropped at a time by a search: bounds its host memory on huge grids.
BLOCK_MODELS = 4096


def _with_params(base_model, params: dict, template):
    """`clone(base_model).set_params(**params)`, about 8x faster for a grid's many models: a
    deep copy of `template` (a clone of `base_model`) with `params` set. Unknown or nested
    parameter names, and estimators with their own `set_params`, take scikit-learn's own route
    (and its error messages)."""
    if (
        type(template).set_params is not BaseEstimator.set_params
        or any("__" in k for k in params)
        or not set(params) <= _param_names(type(template))
    ):
        return clone(base_model).set_params(**clone(params, safe=False))
    callbacks = getattr(template, "_skl_callbacks", None)
    # Callbacks are shared by reference between clones, as scikit-learn's clone does.
    model = copy.deepcopy(template, {} if callbacks is None else {id(callbacks): callbacks})
    for name, value in clone(params, safe=False).items():
        setattr(model, name, value)
    return model


def is_vectorizable(estimator, param_grid=None) -> bool:
    """Whether vgrid trains this estimator's grid itself: vgrid's or scikit-learn's MLPs, a
    `FlaxClassifier`/`FlaxRegressor`, or a Pipeline ending in one (as long as the grid does not
    swap that last step)."""
    name, model = pipeline.final_step(estimator)
    if not (type(model) in _VECTORIZED_TYPES or isinstance(model, flax_estimators.FlaxEstimator)):
        return False
    grids = param_grid if isinstance(param_grid, list) else [param_grid or {}]
    return name is None or all(name not in grid for grid in grids if hasattr(grid, "keys"))


#: Estimator types already reported as not vectorized in this process.
_NOT_VECTORIZED_NOTED: set = set()


def _note_not_vectorized(estimator) -> None:
    """Report that scikit-learn's own search evaluates this grid, once per estimator type and
    process, on the "vgrid" logger (at WARNING: on stderr unless logging is configured
    otherwise). Not with `warnings`: switching the import must never change what a script's
    warning filters see (`pytest.warns` counts, `simplefilter("error")`), and the search does
    exactly what scikit-learn's does, so nothing is wrong."""
    name = type(estimator).__name__
    if name not in _NOT_VECTORIZED_NOTED:
        _NOT_VECTORIZED_NOTED.add(name)
        logging.getLogger("vgrid").warning(
            "vgrid does not vectorize %s: its grid is evaluated by scikit-learn's search, one "
            "fit at a time.",
            name,
        )


def _fit_line(parameters, progress, verbose, test_scores, train_scores, total_time):
    """scikit-learn's `[CV i/k] END ...` line from `_fit_and_score`, character for character."""
    split_progress, candidate_progress = progress
    progress_msg = ""
    if verbose > 2:
        progress_msg = f" {split_progress[0] + 1}/{split_progress[1]}"
        if verbose > 9:
            progress_msg += f"; {candidate_progress[0] + 1}/{candidate_progress[1]}"
    params_msg = ", ".join(f"{k}={parameters[k]}" for k in sorted(parameters))
    end_msg = f"[CV{progress_msg}] END "
    result_msg = params_msg + (";" if params_msg else "")
    if verbose > 2:
        if isinstance(test_scores, dict):
            for name in sorted(test_scores):
                result_msg += f" {name}: ("
                if train_scores is not None:
                    result_msg += f"train={train_scores[name]:.3f}, "
                result_msg += f"test={test_scores[name]:.3f})"
        else:
            result_msg += ", score="
            if train_scores is not None:
                result_msg += f"(train={train_scores:.3f}, test={test_scores:.3f})"
            else:
                result_msg += f"{test_scores:.3f}"
    result_msg += f" total time={logger.short_format_time(total_time)}"
    return end_msg + "." * (80 - len(end_msg) - len(result_msg)) + result_msg


def _curves_of(fitted, n_candidates, n_splits):
    """Per candidate: (loss curves, validation-score curves), one row per split."""

    def curve(est, name):
        values = getattr(pipeline.final_step(est)[1], name, None) if est is not None else None
        return np.asarray(values if values is not None else [], float)

    per_job = [(curve(est, "loss_curve_"), curve(est, "validation_scores_")) for est in fitted]
    return [per_job[c * n_splits : (c + 1) * n_splits] for c in range(n_candidates)]


def _stack_curves(curves):
    """{'loss': (n_candidates, n_splits, n_epochs), 'validation_score': ...}, NaN-padded."""
    n_epochs = max([len(c) for cand in curves for pair in cand for c in pair], default=0)
    out = {}
    for k, name in enumerate(("loss", "validation_score")):
        array = np.full((len(curves), len(curves[0]) if curves else 0, n_epochs), np.nan)
        for i, cand in enumerate(curves):
            for j, pair in enumerate(cand):
                array[i, j, : len(pair[k])] = pair[k]
        out[name] = array
    return out


class _VectorizedSearchMixin:
    """Replaces BaseSearchCV.fit's per-pair evaluation with one vectorized evaluation."""

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, **params):
        """Run fit with all sets of parameters; see scikit-learn's `GridSearchCV.fit`."""
        space = getattr(self, "param_grid", getattr(self, "param_distributions", None))
        if not is_vectorizable(self.estimator, space):
            _note_not_vectorized(self.estimator)
            return super().fit.__wrapped__(self, X, y, **params)
        if isinstance(self, BaseSuccessiveHalving):  # BaseSuccessiveHalving.fit, around ours
            self._n_samples_orig = _num_samples(X)
            self._fit_vectorized(X, y, **params)
            self.best_score_ = self.cv_results_["mean_test_score"][self.best_index_]
            return self
        return self._fit_vectorized(X, y, **params)

    #: Halving on resource="max_iter": continue each survivor from its state in the previous
    #: round instead of training it again from scratch (exactly the same numbers).
    continue_survivors = True

    def _chunk_size(self):
        """Models per chunk: the unit of work, of a checkpoint file and of a Dask task, and an
        upper bound on the models one program call trains (None: a whole group)."""
        size = getattr(self, "chunk_size", "auto")
        if size == "auto" or size is None:
            return None
        if not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(f"chunk_size must be 'auto' or a positive integer, got {size!r}.")
        return int(size)

    def _open_checkpoint(self, X, y, params):
        """The search's `Checkpoint`, or None: fingerprinted by everything that determines the
        results (estimator, search parameters, data), never by speed knobs."""
        folder = getattr(self, "checkpoint", None)
        if folder is None:
            return None
        knobs = {"verbose", "n_jobs", "pre_dispatch", "checkpoint", "chunk_size"}
        settings = {k: v for k, v in self.get_params(deep=False).items() if k not in knobs}
        # By content (values, not repr); a part with no stable description raises here.
        fingerprint = fingerprint_of(
            search=type(self),
            chunk_size=self._chunk_size(),
            X=X,
            y=y,
            fit_params=params,
            **settings,
        )
        return Checkpoint(os.fspath(folder), fingerprint)

    def _segment_schedule(self, jobs, scorers, base_estimator) -> dict:
        """Extra `fit_estimators` options for one block's jobs, given per job as
        ((candidate, split, parameters), its fitted estimator, its fold): none here; a search
        that prunes returns its `on_segment` hook and `segment_epochs`."""
        return {}

    def _continues_survivors(self) -> bool:
        """Halving on the epochs resource (an MLP's `max_iter`, a Flax estimator's
        `max_epochs`) continues each survivor instead of retraining it."""
        return (
            self.continue_survivors
            and isinstance(self, BaseSuccessiveHalving)
            and self.resource in ("max_iter", "max_epochs")
        )

    def _n_threads(self):
        """CPU worker threads: `n_jobs` when the user set it (-1 or None: one per core)."""
        if self.n_jobs is None or self.n_jobs == -1:
            return None
        n_cores = os.cpu_count() or 1
        return max(1, min(n_cores, self.n_jobs if self.n_jobs > 0 else n_cores + 1 + self.n_jobs))

    def _survivor_key(self, parameters, split):
        return repr(sorted((k, v) for k, v in parameters.items() if k != self.resource)), split

    def _evaluate_vectorized(
        self, base_estimator, X, y, candidate_params, splits, scorers, routed_params
    ):
        fit_params = routed_params.estimator.fit
        model_params = pipeline.model_fit_params(base_estimator, fit_params)
        _, base_model = pipeline.final_step(base_estimator)
        score_params = routed_params.scorer.score
        folds = []
        for train, test in splits:
            X_train, y_train = _safe_split(base_estimator, X, y, train)
            X_test, y_test = _safe_split(base_estimator, X, y, test, train)
            weights = model_params["sample_weight"]
            folds.append(
                dict(
                    train=(X_train, y_train),
                    test=(X_test, y_test),
                    split=fingerprint_of(np.asarray(train), np.asarray(test)),
                    sample_weight=None
                    if weights is None
                    else _check_method_params(X, {"w": weights}, train)["w"],
                    score_train=_check_method_params(X, score_params, train),
                    score_test=_check_method_params(X, score_params, test),
                )
            )
        # Blocks of candidates: fit, score, drop the fitted models; then the next block.
        preprocessed, survivors, out = {}, {}, []
        block = max(1, BLOCK_MODELS // len(folds))
        refit_rows = _num_samples(X) if self.refit else None
        for first in range(0, len(candidate_params), block):
            out.extend(
                self._evaluate_block(
                    base_estimator,
                    base_model,
                    candidate_params,
                    first,
                    min(first + block, len(candidate_params)),
                    folds,
                    scorers,
                    preprocessed,
                    survivors,
                    refit_rows,
                )
            )
        if self._continues_survivors():
            self._survivors = survivors
        return out

    def _evaluate_block(
        self,
        base_estimator,
        base_model,
        candidate_params,
        first,
        last,
        folds,
        scorers,
        preprocessed,
        survivors,
        refit_rows=None,
    ):
        """Fit and score candidates[first:last] on every fold; only scores leave this method
        (the fitted models are dropped), so a huge grid's host memory stays bounded by a block.
        `preprocessed` caches the preprocessing per (parameters, fold) across blocks. Programs
        get room for a refit on `refit_rows` rows (None: no refit)."""
        fitted, jobs, pairs, failures = [], [], [], {}
        continuing = self._continues_survivors()
        template = clone(base_model)
        for c, parameters in enumerate(candidate_params[first:last], start=first):
            pre, own = pipeline.split_params(base_estimator, parameters)
            for s, fold in enumerate(folds):
                data_key = (repr(sorted(pre.items())), s, fold["split"])
                pairs.append((c, s, parameters))
                if data_key not in preprocessed:
                    start = time.time()
                    try:
                        preprocessed[data_key] = pipeline.fit_preprocessing(
                            base_estimator, pre, *fold["train"]
                        )
                    except Exception:
                        if self.error_score == "raise":
                            raise
                        preprocessed[data_key] = (
                            None,
                            FitOutcome(fit_time=time.time() - start, error=format_exc()),
                        )
                steps, X_train = preprocessed[data_key]
                if isinstance(X_train, FitOutcome):
                    failures[len(pairs) - 1] = X_train
                    fitted.append(None)
                    continue
                model = _with_params(base_model, own, template)
                key = self._survivor_key(parameters, s) if continuing else None
                jobs.append(
                    FitJob(
                        model,
                        X_train,
                        fold["train"][1],
                        fold["sample_weight"],
                        data_key=data_key,
                        resume_state=self._survivors.get(key) if continuing else None,
                        keep_state=continuing,
                    )
                )
                fitted.append(pipeline.assemble(base_estimator, parameters, steps, model))
        reports = []
        # Room in every program for the refit on all rows, which then compiles nothing.
        job_outcomes = iter(
            fit_estimators(
                jobs,
                raise_errors=self.error_score == "raise",
                reports=reports,
                progress=self.verbose > 0,
                chunk_size=self._chunk_size(),
                checkpoint=self._checkpoint,
                refit_rows=refit_rows,
                n_threads=self._n_threads(),
                **self._segment_schedule(
                    [
                        (pairs[i], fitted[i], folds[pairs[i][1]])
                        for i in range(len(pairs))
                        if i not in failures
                    ],
                    scorers,
                    base_estimator,
                ),
            )
        )
        outcomes = [failures[i] if i in failures else next(job_outcomes) for i in range(len(pairs))]
        self.vectorization_.extend(reports)
        self._curves.extend(_curves_of(fitted, last - first, len(folds)))
        if continuing:
            survivors.update(
                {
                    self._survivor_key(parameters, s): outcome.state
                    for (c, s, parameters), outcome in zip(pairs, outcomes)
                    if outcome.state is not None
                }
            )
            self.resumed_epochs_ += sum(o.resumed_epochs for o in outcomes)
        if self.verbose > 0:
            n_vectorized = sum(r.n_models for r in reports)
            print(
                f"vgrid: {n_vectorized} of {len(pairs)} fits vectorized in {len(reports)} "
                f"program{'s' if len(reports) != 1 else ''}"
            )
            for report in reports:
                print(f"  {report}")

        out = []
        scorer = FoldScorer(scorers, base_estimator)
        for estimator, outcome, (c, s, parameters) in zip(fitted, outcomes, pairs):
            fold = folds[s]
            result = {"fit_error": outcome.error}
            train_scores = None
            start = time.time()
            if outcome.error is not None:
                if isinstance(scorers, _MultimetricScorer):
                    test_scores = {name: self.error_score for name in scorers._scorers}
                else:
                    test_scores = self.error_score
                if self.return_train_score:
                    train_scores = (
                        test_scores.copy() if isinstance(test_scores, dict) else test_scores
                    )
                score_time = 0.0
            else:
                test_scores = scorer.score(
                    estimator, *fold["test"], fold["score_test"], self.error_score
                )
                score_time = time.time() - start
                if self.return_train_score:
                    train_scores = scorer.score(
                        estimator, *fold["train"], fold["score_train"], self.error_score
                    )
            if self.verbose > 1:
                print(
                    _fit_line(
                        parameters,
                        ((s, len(folds)), (c, len(candidate_params))),
                        self.verbose,
                        test_scores,
                        train_scores,
                        outcome.fit_time + score_time,
                    )
                )
            result["test_scores"] = test_scores
            if self.return_train_score:
                result["train_scores"] = train_scores
            result["n_test_samples"] = _num_samples(fold["test"][0])
            result["fit_time"] = outcome.fit_time
            result["score_time"] = score_time
            out.append(result)
        return out

    def _fit_vectorized(self, X, y=None, **params):
        # Mirrors sklearn.model_selection._search.BaseSearchCV.fit (1.9.1) step for step.
        scorers, refit_metric = self._get_scorers()
        X, y = indexable(X, y)
        params = _check_method_params(X, params=params)
        routed_params = self._get_routed_params_for_fit(params)
        root_ctx = self._init_callback_context(
            max_subtasks=1 + (self.refit is not False)
        ).call_on_fit_task_begin(estimator=self, X=X, y=y)
        self._checked_cv_orig = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        self._check_input_parameters(X=X, y=y, split_params=routed_params.splitter.split)
        self.n_splits_ = self._checked_cv_orig.get_n_splits(X, y, **routed_params.splitter.split)
        base_estimator = clone(self.estimator)
        self._checkpoint = self._open_checkpoint(X, y, params)
        self.vectorization_ = []
        self._curves = []
        self._survivors = {}
        self.resumed_epochs_ = 0

        all_candidate_params, all_out, all_more_results = [], [], defaultdict(list)
        results = {}

        def evaluate_candidates(candidate_params, cv=None, more_results=None, callback_ctx=None):
            nonlocal results
            cv = cv or self._checked_cv_orig
            candidate_params = list(candidate_params)
            splits = list(cv.split(X, y, **routed_params.splitter.split))
            if len(splits) != self.n_splits_:
                raise ValueError(
                    "cv.split and cv.get_n_splits return inconsistent results. "
                    f"Expected {self.n_splits_} splits, got {len(splits)}"
                )
            if self.verbose > 0:
                print(
                    f"Fitting {self.n_splits_} folds for each of {len(candidate_params)} "
                    f"candidates, totalling {len(candidate_params) * self.n_splits_} fits"
                )
            out = self._evaluate_vectorized(
                base_estimator, X, y, candidate_params, splits, scorers, routed_params
            )
            if len(out) < 1:
                raise ValueError(
                    "No fits were performed. Was the CV iterator empty? Were there no candidates?"
                )
            _warn_or_raise_about_fit_failures(out, self.error_score)
            if callable(self.scoring):
                _insert_error_scores(out, self.error_score)
            all_candidate_params.extend(candidate_params)
            all_out.extend(out)
            if more_results is not None:
                for key, value in more_results.items():
                    all_more_results[key].extend(value)
            results = self._format_results(
                all_candidate_params, self.n_splits_, all_out, all_more_results
            )
            return results

        self._run_search(evaluate_candidates, callback_ctx=root_ctx)
        first_test_score = all_out[0]["test_scores"]
        self.multimetric_ = isinstance(first_test_score, dict)
        if callable(self.scoring) and self.multimetric_:
            self._check_refit_for_multimetric(first_test_score)
            refit_metric = self.refit

        if self.refit or not self.multimetric_:
            self.best_index_ = self._select_best_index(self.refit, refit_metric, results)
            if not callable(self.refit):
                self.best_score_ = results[f"mean_test_{refit_metric}"][self.best_index_]
            self.best_params_ = results["params"][self.best_index_]

        if self.refit:
            start = time.time()
            pre, own = pipeline.split_params(base_estimator, self.best_params_)
            steps, X_model = pipeline.fit_preprocessing(base_estimator, pre, X, y)
            model = clone(pipeline.final_step(base_estimator)[1]).set_params(
                **clone(own, safe=False)
            )
            sample_weight = pipeline.model_fit_params(base_estimator, routed_params.estimator.fit)[
                "sample_weight"
            ]
            # The best candidate's cross-validation fits tell how long its refit will run.
            epochs = [len(loss) for loss, _ in self._curves[self.best_index_]]
            hint = int(np.ceil(np.mean(epochs))) if epochs and min(epochs) > 0 else None
            (outcome,) = fit_estimators(
                [FitJob(model, X_model, y, sample_weight, epochs_hint=hint)],
                allow_numpy_fit=True,
                n_threads=self._n_threads(),
            )
            self.refit_engine_ = outcome.engine
            if self.verbose > 0 and self.refit_engine_ == "scikit-learn":
                print(
                    "vgrid: refit by scikit-learn's own fit (one model: cheaper than "
                    "compiling a program for it)"
                )
            self.best_estimator_ = pipeline.assemble(
                base_estimator, self.best_params_, steps, model
            )
            self.refit_time_ = time.time() - start
            if hasattr(self.best_estimator_, "feature_names_in_"):
                self.feature_names_in_ = self.best_estimator_.feature_names_in_

        self.scorer_ = scorers._scorers if isinstance(scorers, _MultimetricScorer) else scorers
        self.cv_results_ = results
        self.learning_curves_ = _stack_curves(self._curves)
        if self._checkpoint is not None:
            self.checkpoint_chunks_ = {
                "loaded": self._checkpoint.loaded,
                "saved": self._checkpoint.saved,
            }
        del self._curves, self._survivors, self._checkpoint
        if not self._continues_survivors():
            del self.resumed_epochs_
        root_ctx.call_on_fit_task_end(estimator=self, X=X, y=y)
        return self


class GridSearchCV(_VectorizedSearchMixin, model_selection.GridSearchCV):
    """scikit-learn's `GridSearchCV`; a grid of neural networks is trained all at once by vgrid.

    A subclass of `sklearn.model_selection.GridSearchCV`: the same arguments (plus
    `chunk_size` and `checkpoint`), methods and attributes (plus `learning_curves_`,
    `vectorization_`, `refit_engine_`), the same `cv_results_`. The estimator is vectorized
    when it is vgrid's or scikit-learn's `MLPClassifier`/`MLPRegressor`, a
    `vgrid.FlaxClassifier`/`FlaxRegressor`, or a `Pipeline` ending in one (whose last step
    the grid does not swap): every (candidate, fold) is then trained together by
    `vgrid.engine`, in a few compiled programs, and scored as scikit-learn's own `_score`
    scores it. Any other estimator is evaluated by scikit-learn's own search, with a
    one-line notice on the "vgrid" logger (once per estimator type; not a `warnings`
    warning), so switching the import never breaks a script.

    Parameters
    ----------
    estimator : estimator object
        The network (see above for what is vectorized).
    param_grid : dict or list of dicts
        As in scikit-learn: parameter names (``step__name`` in a Pipeline;
        ``module__<field>`` and ``optimizer__<argument>`` for a Flax estimator) to lists of
        values.
    scoring : str, callable, list, tuple, dict or None, default=None
        How a model is scored on a test fold, as in scikit-learn (one scorer or several).
    refit : bool, str or callable, default=True
        Refit the best candidate on the whole data, as in scikit-learn; vgrid trains the
        refit too (see `refit_engine_`).
    cv : int, cross-validation generator or iterable, default=None
        The splits, as in scikit-learn (None: 5 folds, stratified for a classifier).
    error_score : "raise" or float, default=np.nan
        The score of a failed fit, as in scikit-learn. A diverging model (non-finite
        weights) fails as it does in scikit-learn and changes no other model's numbers.
    return_train_score : bool, default=False
        Also score each model on its training fold, as in scikit-learn.
    n_jobs : int or None, default=None
        CPU worker threads that train a vectorized search (None or -1: one per core; other
        negative values count back from the number of cores, as in scikit-learn). For an
        estimator vgrid does not vectorize, scikit-learn's meaning.
    verbose : int, default=0
        1 and above: scikit-learn's "Fitting ..." line, then per block of models one line
        per compiled program (`vectorization_`) and a progress bar (tqdm, in a terminal or
        in Jupyter); a refit by scikit-learn's own fit is said. 2 and above: scikit-learn's
        ``[CV] END ...`` line per fit (with fold numbers and scores from 3, candidate
        numbers from 10), character for character.
    pre_dispatch : int or str, default="2*n_jobs"
        Only for estimators vgrid does not vectorize (scikit-learn's meaning).
    chunk_size : int or "auto", default="auto"
        Models per chunk: the unit of work, of a checkpoint file and of a joblib (Dask) task,
        and an upper bound on the models one program call trains. "auto": a whole group of
        models that share a program. Changes speed, memory and what survives a kill, never a
        score.
    checkpoint : str, os.PathLike or None, default=None
        A folder where each finished chunk is written (atomically, as plain arrays with the
        search's fingerprint, nothing pickled). Fitting the same search on the same data with
        the same folder loads the finished chunks and trains the rest: the scores of an
        uninterrupted run. A folder written by another search is refused; a corrupt chunk is
        reported and recomputed. The fingerprint covers the estimator, the search's
        parameters (not `n_jobs`, `verbose`, `pre_dispatch` or `checkpoint`) and the data,
        by content; a part without a stable description (a generator as `cv`) is refused
        when the fit starts.

    Attributes
    ----------
    cv_results_ : dict of numpy (masked) ndarrays
        scikit-learn's, built by its own code: the same keys, order and dtypes.
        ``mean_fit_time`` is each model's share of the measured wall time of the program
        that trained it, plus its own host-side preparation, so that it adds up to the real
        training time.
    best_estimator_ : estimator
        The refit best candidate, as in scikit-learn; of the type passed in.
    best_score_, best_params_, best_index_ : float, dict, int
        As in scikit-learn.
    scorer_, n_splits_, refit_time_, multimetric_
        As in scikit-learn.
    learning_curves_ : dict of ndarray
        Every model's training curves: ``"loss"`` (its ``loss_curve_``) and
        ``"validation_score"`` (its ``validation_scores_``, with early stopping), each of
        shape (n_candidates, n_splits, n_epochs) in `cv_results_` row order, NaN past a
        model's last epoch. Vectorized searches only.
    vectorization_ : list of vgrid.plan.ProgramReport
        One report per compiled program: its models, padded widths, models per call,
        padding overhead, compile and training seconds and useful GFLOP. Vectorized
        searches only.
    refit_engine_ : str
        What fit `best_estimator_`: "vgrid", or "scikit-learn" where a program compiled for
        this one model would cost more than scikit-learn's own NumPy fit (the same numbers
        in exact mode). Vectorized searches with `refit` only.
    checkpoint_chunks_ : dict
        With `checkpoint`: ``{"loaded": ..., "saved": ...}``, the chunks this fit read
        from and wrote to the folder.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from sklearn.neural_network import MLPClassifier
    >>> X, y = load_wine(return_X_y=True)
    >>> grid = {"alpha": [1e-4, 1e-2], "learning_rate_init": [1e-3, 1e-2]}
    >>> search = GridSearchCV(MLPClassifier(max_iter=20, random_state=0), grid, cv=3)
    >>> len(search.fit(X / X.max(0), y).cv_results_["params"])
    4
    >>> search.learning_curves_["loss"].shape    # (candidates, folds, epochs)
    (4, 3, 20)

    A checkpointed search: the second fit loads the chunks the first one wrote.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     first = GridSearchCV(MLPClassifier(max_iter=20, random_state=0), grid, cv=3,
    ...                          chunk_size=4, checkpoint=folder).fit(X / X.max(0), y)
    ...     again = GridSearchCV(MLPClassifier(max_iter=20, random_state=0), grid, cv=3,
    ...                          chunk_size=4, checkpoint=folder).fit(X / X.max(0), y)
    >>> first.checkpoint_chunks_["saved"] == again.checkpoint_chunks_["loaded"]
    True
    >>> list(again.cv_results_["mean_test_score"]) == list(first.cv_results_["mean_test_score"])
    True
    """

    def __init__(
        self,
        estimator,
        param_grid,
        *,
        scoring=None,
        n_jobs=None,
        refit=True,
        cv=None,
        verbose=0,
        pre_dispatch="2*n_jobs",
        error_score=np.nan,
        return_train_score=False,
        chunk_size="auto",
        checkpoint=None,
    ):
        super().__init__(
            estimator,
            param_grid,
            scoring=scoring,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            pre_dispatch=pre_dispatch,
            error_score=error_score,
            return_train_score=return_train_score,
        )
        self.chunk_size = chunk_size
        self.checkpoint = checkpoint


class RandomizedSearchCV(_VectorizedSearchMixin, model_selection.RandomizedSearchCV):
    """scikit-learn's `RandomizedSearchCV`; the sampled networks are trained all at once by vgrid.

    A subclass of `sklearn.model_selection.RandomizedSearchCV`, vectorized as
    `vgrid.GridSearchCV` is (see it for what is vectorized). The candidates are
    scikit-learn's (`ParameterSampler` with the same `random_state`), so `cv_results_`
    equals scikit-learn's. Distributions (`scipy.stats.loguniform` for `learning_rate_init`
    or `alpha`) reach values between grid points and cost nothing extra: numeric
    hyperparameters are traced, one program serves them all.

    Parameters
    ----------
    estimator : estimator object
        The network, as for `vgrid.GridSearchCV`.
    param_distributions : dict or list of dicts
        As in scikit-learn: parameter names to lists of values or `scipy.stats`
        distributions.
    n_iter : int, default=10
        Candidates sampled, as in scikit-learn.
    random_state : int, RandomState instance or None, default=None
        Seeds the sampling of candidates, as in scikit-learn.
    scoring : str, callable, list, tuple, dict or None, default=None
        How a model is scored on a test fold, as in scikit-learn (one scorer or several).
    refit : bool, str or callable, default=True
        Refit the best candidate on the whole data, as in scikit-learn; vgrid trains the
        refit too (see `refit_engine_`).
    cv : int, cross-validation generator or iterable, default=None
        The splits, as in scikit-learn (None: 5 folds, stratified for a classifier).
    error_score : "raise" or float, default=np.nan
        The score of a failed fit, as in scikit-learn. A diverging model (non-finite
        weights) fails as it does in scikit-learn and changes no other model's numbers.
    return_train_score : bool, default=False
        Also score each model on its training fold, as in scikit-learn.
    n_jobs : int or None, default=None
        CPU worker threads that train a vectorized search (None or -1: one per core; other
        negative values count back from the number of cores, as in scikit-learn). For an
        estimator vgrid does not vectorize, scikit-learn's meaning.
    verbose : int, default=0
        1 and above: scikit-learn's "Fitting ..." line, then per block of models one line
        per compiled program (`vectorization_`) and a progress bar (tqdm, in a terminal or
        in Jupyter); a refit by scikit-learn's own fit is said. 2 and above: scikit-learn's
        ``[CV] END ...`` line per fit (with fold numbers and scores from 3, candidate
        numbers from 10), character for character.
    pre_dispatch : int or str, default="2*n_jobs"
        Only for estimators vgrid does not vectorize (scikit-learn's meaning).
    chunk_size : int or "auto", default="auto"
        Models per chunk: the unit of work, of a checkpoint file and of a joblib (Dask) task,
        and an upper bound on the models one program call trains. "auto": a whole group of
        models that share a program. Changes speed, memory and what survives a kill, never a
        score.
    checkpoint : str, os.PathLike or None, default=None
        A folder where each finished chunk is written (atomically, as plain arrays with the
        search's fingerprint, nothing pickled). Fitting the same search on the same data with
        the same folder loads the finished chunks and trains the rest: the scores of an
        uninterrupted run. A folder written by another search is refused; a corrupt chunk is
        reported and recomputed. The fingerprint covers the estimator, the search's
        parameters (not `n_jobs`, `verbose`, `pre_dispatch` or `checkpoint`) and the data,
        by content; a part without a stable description (a generator as `cv`) is refused
        when the fit starts.

    Attributes
    ----------
    cv_results_ : dict of numpy (masked) ndarrays
        scikit-learn's, built by its own code: the same keys, order and dtypes.
        ``mean_fit_time`` is each model's share of the measured wall time of the program
        that trained it, plus its own host-side preparation, so that it adds up to the real
        training time.
    best_estimator_ : estimator
        The refit best candidate, as in scikit-learn; of the type passed in.
    best_score_, best_params_, best_index_ : float, dict, int
        As in scikit-learn.
    scorer_, n_splits_, refit_time_, multimetric_
        As in scikit-learn.
    learning_curves_ : dict of ndarray
        Every model's training curves: ``"loss"`` (its ``loss_curve_``) and
        ``"validation_score"`` (its ``validation_scores_``, with early stopping), each of
        shape (n_candidates, n_splits, n_epochs) in `cv_results_` row order, NaN past a
        model's last epoch. Vectorized searches only.
    vectorization_ : list of vgrid.plan.ProgramReport
        One report per compiled program: its models, padded widths, models per call,
        padding overhead, compile and training seconds and useful GFLOP. Vectorized
        searches only.
    refit_engine_ : str
        What fit `best_estimator_`: "vgrid", or "scikit-learn" where a program compiled for
        this one model would cost more than scikit-learn's own NumPy fit (the same numbers
        in exact mode). Vectorized searches with `refit` only.
    checkpoint_chunks_ : dict
        With `checkpoint`: ``{"loaded": ..., "saved": ...}``, the chunks this fit read
        from and wrote to the folder.

    Examples
    --------
    >>> from scipy.stats import loguniform
    >>> from sklearn.datasets import load_iris
    >>> from vgrid import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> search = RandomizedSearchCV(MLPClassifier(max_iter=20, random_state=0),
    ...     {"learning_rate_init": loguniform(1e-4, 1e-1)}, n_iter=4, cv=3, random_state=0)
    >>> len(search.fit(X, y).cv_results_["params"])
    4
    >>> len(search.vectorization_)               # one program for the four learning rates
    1
    """

    def __init__(
        self,
        estimator,
        param_distributions,
        *,
        n_iter=10,
        scoring=None,
        n_jobs=None,
        refit=True,
        cv=None,
        verbose=0,
        pre_dispatch="2*n_jobs",
        random_state=None,
        error_score=np.nan,
        return_train_score=False,
        chunk_size="auto",
        checkpoint=None,
    ):
        super().__init__(
            estimator,
            param_distributions,
            n_iter=n_iter,
            scoring=scoring,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            pre_dispatch=pre_dispatch,
            random_state=random_state,
            error_score=error_score,
            return_train_score=return_train_score,
        )
        self.chunk_size = chunk_size
        self.checkpoint = checkpoint


class HalvingGridSearchCV(_VectorizedSearchMixin, model_selection.HalvingGridSearchCV):
    """scikit-learn's `HalvingGridSearchCV` (successive halving), each round vectorized by vgrid.

    A subclass of `sklearn.model_selection.HalvingGridSearchCV`, vectorized as
    `vgrid.GridSearchCV` is; `cv_results_` has scikit-learn's `iter` and `n_resources`
    columns and equals scikit-learn's. With `resource="max_iter"` (an MLP) or
    `resource="max_epochs"` (a Flax estimator), a surviving candidate continues from where
    its previous round stopped instead of being trained again from scratch: the numbers are
    the same (its minibatches are the same), the work is less; `resumed_epochs_` counts the
    epochs not trained again. Set the class attribute `continue_survivors = False` on an
    instance to retrain from scratch, as scikit-learn does.

    Parameters
    ----------
    estimator : estimator object
        The network, as for `vgrid.GridSearchCV`.
    param_grid : dict or list of dicts
        As in scikit-learn.
    resource : str, default="n_samples"
        As in scikit-learn: "n_samples" or an integer parameter of the estimator; the epochs
        ("max_iter", "max_epochs") continue survivors (see above).
    factor : int or float, default=3
        As in scikit-learn: the proportion of candidates kept by each round is 1 / factor.
    min_resources : int, "exhaust" or "smallest"
        As in scikit-learn: the resource of the first round.
    max_resources : int or "auto", default="auto"
        As in scikit-learn: the most resource a candidate gets.
    aggressive_elimination : bool, default=False
        As in scikit-learn.
    random_state : int, RandomState instance or None, default=None
        As in scikit-learn (the subsampling of the data and, in a random search, the
        sampling of candidates).
    cv : int, cross-validation generator or iterable, default=5
        The splits, as in scikit-learn.
    scoring : str, callable or None, default=None
        The scorer, as in scikit-learn.
    refit : bool or callable, default=True
        Refit the best candidate on the whole data, as in scikit-learn (see
        `refit_engine_`).
    error_score : "raise" or float, default=np.nan
        The score of a failed fit, as in scikit-learn.
    return_train_score : bool, default=True
        Also score each model on its training fold, as in scikit-learn.
    n_jobs : int or None, default=None
        CPU worker threads that train a vectorized search (None or -1: one per core; other
        negative values count back from the number of cores, as in scikit-learn). For an
        estimator vgrid does not vectorize, scikit-learn's meaning.
    verbose : int, default=0
        1 and above: scikit-learn's "Fitting ..." line, then per block of models one line
        per compiled program (`vectorization_`) and a progress bar (tqdm, in a terminal or
        in Jupyter); a refit by scikit-learn's own fit is said. 2 and above: scikit-learn's
        ``[CV] END ...`` line per fit (with fold numbers and scores from 3, candidate
        numbers from 10), character for character.
    chunk_size : int or "auto", default="auto"
        Models per chunk: the unit of work, of a checkpoint file and of a joblib (Dask) task,
        and an upper bound on the models one program call trains. "auto": a whole group of
        models that share a program. Changes speed, memory and what survives a kill, never a
        score.
    checkpoint : str, os.PathLike or None, default=None
        A folder where each finished chunk is written (atomically, as plain arrays with the
        search's fingerprint, nothing pickled). Fitting the same search on the same data with
        the same folder loads the finished chunks and trains the rest: the scores of an
        uninterrupted run. A folder written by another search is refused; a corrupt chunk is
        reported and recomputed. The fingerprint covers the estimator, the search's
        parameters (not `n_jobs`, `verbose`, `pre_dispatch` or `checkpoint`) and the data,
        by content; a part without a stable description (a generator as `cv`) is refused
        when the fit starts.

    Attributes
    ----------
    cv_results_ : dict of numpy (masked) ndarrays
        scikit-learn's, built by its own code: the same keys, order and dtypes.
        ``mean_fit_time`` is each model's share of the measured wall time of the program
        that trained it, plus its own host-side preparation, so that it adds up to the real
        training time.
    best_estimator_ : estimator
        The refit best candidate, as in scikit-learn; of the type passed in.
    best_score_, best_params_, best_index_ : float, dict, int
        As in scikit-learn.
    scorer_, n_splits_, refit_time_, multimetric_
        As in scikit-learn.
    learning_curves_ : dict of ndarray
        Every model's training curves: ``"loss"`` (its ``loss_curve_``) and
        ``"validation_score"`` (its ``validation_scores_``, with early stopping), each of
        shape (n_candidates, n_splits, n_epochs) in `cv_results_` row order, NaN past a
        model's last epoch. Vectorized searches only.
    vectorization_ : list of vgrid.plan.ProgramReport
        One report per compiled program: its models, padded widths, models per call,
        padding overhead, compile and training seconds and useful GFLOP. Vectorized
        searches only.
    refit_engine_ : str
        What fit `best_estimator_`: "vgrid", or "scikit-learn" where a program compiled for
        this one model would cost more than scikit-learn's own NumPy fit (the same numbers
        in exact mode). Vectorized searches with `refit` only.
    checkpoint_chunks_ : dict
        With `checkpoint`: ``{"loaded": ..., "saved": ...}``, the chunks this fit read
        from and wrote to the folder.
    n_resources_, n_candidates_, n_remaining_candidates_, n_iterations_
        As in scikit-learn: per round, the resources and candidates; the number of rounds.
    max_resources_, min_resources_, n_possible_iterations_, n_required_iterations_
        As in scikit-learn.
    resumed_epochs_ : int
        With `resource` "max_iter" (an MLP) or "max_epochs" (a Flax estimator) and
        `continue_survivors`: the epochs not trained again because survivors continued.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from vgrid import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> search = HalvingGridSearchCV(MLPClassifier(random_state=0),
    ...     {"alpha": [1e-4, 1e-2, 1.0]}, resource="max_iter", max_resources=27,
    ...     min_resources=9, cv=3).fit(X, y)
    >>> search.n_resources_
    [9, 27]
    >>> search.resumed_epochs_        # 9 epochs of 3 folds of the one survivor, not retrained
    27
    """

    def __init__(
        self,
        estimator,
        param_grid,
        *,
        factor=3,
        resource="n_samples",
        max_resources="auto",
        min_resources="exhaust",
        aggressive_elimination=False,
        cv=5,
        scoring=None,
        refit=True,
        error_score=np.nan,
        return_train_score=True,
        random_state=None,
        n_jobs=None,
        verbose=0,
        chunk_size="auto",
        checkpoint=None,
    ):
        super().__init__(
            estimator,
            param_grid,
            factor=factor,
            resource=resource,
            max_resources=max_resources,
            min_resources=min_resources,
            aggressive_elimination=aggressive_elimination,
            cv=cv,
            scoring=scoring,
            refit=refit,
            error_score=error_score,
            return_train_score=return_train_score,
            random_state=random_state,
            n_jobs=n_jobs,
            verbose=verbose,
        )
        self.chunk_size = chunk_size
        self.checkpoint = checkpoint


class HalvingRandomSearchCV(_VectorizedSearchMixin, model_selection.HalvingRandomSearchCV):
    """scikit-learn's `HalvingRandomSearchCV`, each round vectorized by vgrid.

    A subclass of `sklearn.model_selection.HalvingRandomSearchCV`, vectorized as
    `vgrid.GridSearchCV` is; survivors continue on the epochs resource as in
    `vgrid.HalvingGridSearchCV`.

    Parameters
    ----------
    estimator : estimator object
        The network, as for `vgrid.GridSearchCV`.
    param_distributions : dict or list of dicts
        As in scikit-learn: parameter names to lists of values or `scipy.stats`
        distributions.
    n_candidates : int or "exhaust", default="exhaust"
        As in scikit-learn.
    resource : str, default="n_samples"
        As in `vgrid.HalvingGridSearchCV`.
    factor : int or float, default=3
        As in scikit-learn: the proportion of candidates kept by each round is 1 / factor.
    min_resources : int, "exhaust" or "smallest"
        As in scikit-learn: the resource of the first round.
    max_resources : int or "auto", default="auto"
        As in scikit-learn: the most resource a candidate gets.
    aggressive_elimination : bool, default=False
        As in scikit-learn.
    random_state : int, RandomState instance or None, default=None
        As in scikit-learn (the subsampling of the data and, in a random search, the
        sampling of candidates).
    cv : int, cross-validation generator or iterable, default=5
        The splits, as in scikit-learn.
    scoring : str, callable or None, default=None
        The scorer, as in scikit-learn.
    refit : bool or callable, default=True
        Refit the best candidate on the whole data, as in scikit-learn (see
        `refit_engine_`).
    error_score : "raise" or float, default=np.nan
        The score of a failed fit, as in scikit-learn.
    return_train_score : bool, default=True
        Also score each model on its training fold, as in scikit-learn.
    n_jobs : int or None, default=None
        CPU worker threads that train a vectorized search (None or -1: one per core; other
        negative values count back from the number of cores, as in scikit-learn). For an
        estimator vgrid does not vectorize, scikit-learn's meaning.
    verbose : int, default=0
        1 and above: scikit-learn's "Fitting ..." line, then per block of models one line
        per compiled program (`vectorization_`) and a progress bar (tqdm, in a terminal or
        in Jupyter); a refit by scikit-learn's own fit is said. 2 and above: scikit-learn's
        ``[CV] END ...`` line per fit (with fold numbers and scores from 3, candidate
        numbers from 10), character for character.
    chunk_size : int or "auto", default="auto"
        Models per chunk: the unit of work, of a checkpoint file and of a joblib (Dask) task,
        and an upper bound on the models one program call trains. "auto": a whole group of
        models that share a program. Changes speed, memory and what survives a kill, never a
        score.
    checkpoint : str, os.PathLike or None, default=None
        A folder where each finished chunk is written (atomically, as plain arrays with the
        search's fingerprint, nothing pickled). Fitting the same search on the same data with
        the same folder loads the finished chunks and trains the rest: the scores of an
        uninterrupted run. A folder written by another search is refused; a corrupt chunk is
        reported and recomputed. The fingerprint covers the estimator, the search's
        parameters (not `n_jobs`, `verbose`, `pre_dispatch` or `checkpoint`) and the data,
        by content; a part without a stable description (a generator as `cv`) is refused
        when the fit starts.

    Attributes
    ----------
    cv_results_ : dict of numpy (masked) ndarrays
        scikit-learn's, built by its own code: the same keys, order and dtypes.
        ``mean_fit_time`` is each model's share of the measured wall time of the program
        that trained it, plus its own host-side preparation, so that it adds up to the real
        training time.
    best_estimator_ : estimator
        The refit best candidate, as in scikit-learn; of the type passed in.
    best_score_, best_params_, best_index_ : float, dict, int
        As in scikit-learn.
    scorer_, n_splits_, refit_time_, multimetric_
        As in scikit-learn.
    learning_curves_ : dict of ndarray
        Every model's training curves: ``"loss"`` (its ``loss_curve_``) and
        ``"validation_score"`` (its ``validation_scores_``, with early stopping), each of
        shape (n_candidates, n_splits, n_epochs) in `cv_results_` row order, NaN past a
        model's last epoch. Vectorized searches only.
    vectorization_ : list of vgrid.plan.ProgramReport
        One report per compiled program: its models, padded widths, models per call,
        padding overhead, compile and training seconds and useful GFLOP. Vectorized
        searches only.
    refit_engine_ : str
        What fit `best_estimator_`: "vgrid", or "scikit-learn" where a program compiled for
        this one model would cost more than scikit-learn's own NumPy fit (the same numbers
        in exact mode). Vectorized searches with `refit` only.
    checkpoint_chunks_ : dict
        With `checkpoint`: ``{"loaded": ..., "saved": ...}``, the chunks this fit read
        from and wrote to the folder.
    n_resources_, n_candidates_, n_remaining_candidates_, n_iterations_
        As in scikit-learn: per round, the resources and candidates; the number of rounds.
    max_resources_, min_resources_, n_possible_iterations_, n_required_iterations_
        As in scikit-learn.
    resumed_epochs_ : int
        With `resource` "max_iter" (an MLP) or "max_epochs" (a Flax estimator) and
        `continue_survivors`: the epochs not trained again because survivors continued.

    Examples
    --------
    >>> from scipy.stats import loguniform
    >>> from sklearn.datasets import load_iris
    >>> from vgrid import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> search = HalvingRandomSearchCV(MLPClassifier(max_iter=10, random_state=0),
    ...     {"alpha": loguniform(1e-5, 1.0)}, n_candidates=6, cv=3, random_state=0)
    >>> search.fit(X, y).n_candidates_
    [6, 2]
    """

    def __init__(
        self,
        estimator,
        param_distributions,
        *,
        n_candidates="exhaust",
        factor=3,
        resource="n_samples",
        max_resources="auto",
        min_resources="smallest",
        aggressive_elimination=False,
        cv=5,
        scoring=None,
        refit=True,
        error_score=np.nan,
        return_train_score=True,
        random_state=None,
        n_jobs=None,
        verbose=0,
        chunk_size="auto",
        checkpoint=None,
    ):
        super().__init__(
            estimator,
            param_distributions,
            n_candidates=n_candidates,
            factor=factor,
            resource=resource,
            max_resources=max_resources,
            min_resources=min_resources,
            aggressive_elimination=aggressive_elimination,
            cv=cv,
            scoring=scoring,
            refit=refit,
            error_score=error_score,
            return_train_score=return_train_score,
            random_state=random_state,
            n_jobs=n_jobs,
            verbose=verbose,
        )
        self.chunk_size = chunk_size
        self.checkpoint = checkpoint
