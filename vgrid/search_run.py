"""One vectorized `fit` of a vgrid search: its state, and the units it runs.

Each `fit` creates one `SearchRun` and drops it at its end: the checkpoint, the states that
halving's survivors continue from, the learning curves and the program reports live in it,
never on the search. `SearchRun.evaluate` returns what scikit-learn's `_fit_and_score` returns,
one record per (candidate, split), working through the candidates a block at a time (fitted,
scored, dropped: host memory stays bounded by a block):

- `build_jobs` makes one `FitJob` per (candidate, fold) on the fold's preprocessed data
  (`vgrid.folds`), the network's parameters set by `_with_params`;
- `SearchRun._fit_block` trains them all with `fit_estimators` and keeps their curves,
  reports and survivors' states;
- `Scoring.record` scores each fitted model, `error_score` and verbose line included.

`SearchRun.refit` fits the best candidate on all the data.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from joblib import logger
from sklearn.base import BaseEstimator, clone
from sklearn.metrics._scorer import _MultimetricScorer
from sklearn.utils.validation import _num_samples
from threadpoolctl import threadpool_limits

from . import pipeline
from .checkpoint import Checkpoint
from .engine import FitJob, FitOutcome, fit_estimators
from .folds import Fold, Preprocessing, prepare_folds
from .mlp_kind import _param_names
from .scoring import FoldScorer

__all__ = ["Block", "Scoring", "SearchRun", "Survivors", "build_jobs"]


@dataclass
class SearchRun:
    """The state of one vectorized `fit`, and its settings (read from the search once)."""

    base_estimator: Any  # a clone of the search's estimator
    X: Any
    y: Any
    scorers: Any  # scikit-learn's scorer, or its _MultimetricScorer
    fit_params: dict  # routed to the estimator's fit
    score_params: dict  # routed to the scorer
    error_score: Any
    return_train_score: bool
    verbose: int
    refit_rows: int | None  # rows of the refit, which every program makes room for; None: none
    n_threads: int | None  # CPU worker threads (None: one per core)
    chunk_size: int | None
    checkpoint: Checkpoint | None
    survivors: Survivors | None  # None unless halving's survivors continue
    block_models: int  # models fitted, scored and dropped at a time
    #: The search's hook: `fit_estimators` options for a block's jobs (pruning).
    segment_schedule: Callable[[list, Any, Any], dict]
    #: BLAS threads while fitting (those fits that scikit-learn's code makes, e.g. lbfgs, get
    #: the numbers they get in scikit-learn's n_jobs worker processes); None: no limit.
    blas_threads: int | None = None
    #: Train every (candidate, fold) as `partial_fit` called this many times (scikit-learn's
    #: MLPs; `FitJob.partial_fit_epochs`): OptunaSearchCV's `max_iter` when pruning.
    partial_fit_epochs: int | None = None
    partial_fit_classes: Any = None  # with it: a classifier's partial_fit `classes`
    curves: list = field(default_factory=list)  # per evaluated candidate: per split, its curves
    reports: list = field(default_factory=list)  # a ProgramReport per compiled program
    resumed_epochs: int = 0  # epochs that survivors did not train again

    def evaluate(self, candidate_params: list[dict], splits: list) -> list[dict]:
        """`_fit_and_score`'s record for every (candidate, split), candidate-major."""
        weights = pipeline.model_fit_params(self.base_estimator, self.fit_params)["sample_weight"]
        folds = prepare_folds(
            self.base_estimator, self.X, self.y, splits, weights, self.score_params
        )
        preprocessing = Preprocessing(self.base_estimator, self.error_score == "raise")
        scorer = FoldScorer(self.scorers, self.base_estimator)
        scoring = Scoring(scorer, self.error_score, self.return_train_score, self.verbose)
        size = max(1, self.block_models // len(folds))
        out = []
        for first in range(0, len(candidate_params), size):
            candidates = list(enumerate(candidate_params[first : first + size], start=first))
            block = build_jobs(
                self.base_estimator,
                candidates,
                folds,
                preprocessing,
                self.survivors,
                self.partial_fit_epochs,
                self.partial_fit_classes,
            )
            outcomes = self._fit_block(block, folds)
            for fitted, outcome, (c, s, parameters) in zip(block.fitted, outcomes, block.pairs):
                progress = ((s, len(folds)), (c, len(candidate_params)))
                out.append(scoring.record(fitted, outcome, folds[s], parameters, progress))
        if self.survivors is not None:
            self.survivors.next_round()
        return out

    def _fit_block(self, block: Block, folds: list[Fold]) -> list[FitOutcome]:
        """Train a block's jobs; every pair's outcome, in order (failed preprocessing's too)."""
        reports: list = []
        segment_jobs = [
            (pair, block.fitted[i], folds[pair[1]])
            for i, pair in enumerate(block.pairs)
            if i not in block.failures
        ]
        limit = (
            nullcontext()
            if self.blas_threads is None
            else threadpool_limits(self.blas_threads, user_api="blas")
        )
        with limit:
            job_outcomes = iter(
                fit_estimators(
                    block.jobs,
                    raise_errors=self.error_score == "raise",
                    reports=reports,
                    progress=self.verbose > 0,
                    chunk_size=self.chunk_size,
                    checkpoint=self.checkpoint,
                    refit_rows=self.refit_rows,
                    n_threads=self.n_threads,
                    **self.segment_schedule(segment_jobs, self.scorers, self.base_estimator),
                )
            )
        outcomes = [
            block.failures[i] if i in block.failures else next(job_outcomes)
            for i in range(len(block.pairs))
        ]
        self.reports.extend(reports)
        self.curves.extend(_curves_of(block.fitted, len(folds)))
        if self.survivors is not None:
            self.survivors.keep(block.pairs, outcomes)
            self.resumed_epochs += sum(outcome.resumed_epochs for outcome in outcomes)
        if self.verbose > 0:
            print("\n".join(_programs_summary(reports, len(block.pairs))))
        return outcomes

    def refit(self, estimator, best_index: int) -> str:
        """Fit `estimator` (the search's, with the best candidate's parameters) on all the data,
        in place; returns the engine that fit its network ("vgrid" or "scikit-learn")."""
        name, model = pipeline.final_step(estimator)
        X = self.X
        if name is not None:  # the steps before the network, as Pipeline.fit fits them
            steps = estimator[:-1]
            X = steps.fit_transform(X, self.y)
            estimator.steps = [*steps.steps, estimator.steps[-1]]
        weights = pipeline.model_fit_params(self.base_estimator, self.fit_params)["sample_weight"]
        # The best candidate's cross-validation fits tell how long its refit will run.
        epochs = [len(loss) for loss, _ in self.curves[best_index]]
        hint = int(np.ceil(np.mean(epochs))) if epochs and min(epochs) > 0 else None
        job = FitJob(model, X, self.y, weights, epochs_hint=hint)
        (outcome,) = fit_estimators([job], allow_numpy_fit=True, n_threads=self.n_threads)
        if self.verbose > 0 and outcome.engine == "scikit-learn":
            print(
                "vgrid: refit by scikit-learn's own fit (one model: cheaper than "
                "compiling a program for it)"
            )
        return outcome.engine

    def fitted_attributes(self) -> dict[str, Any]:
        """What vgrid adds to a fitted search: `learning_curves_`, `vectorization_`, and
        `checkpoint_chunks_` (with a checkpoint) and `resumed_epochs_` (when survivors
        continue)."""
        attributes: dict[str, Any] = {
            "learning_curves_": _stack_curves(self.curves),
            "vectorization_": self.reports,
        }
        if self.checkpoint is not None:
            attributes["checkpoint_chunks_"] = {
                "loaded": self.checkpoint.loaded,
                "saved": self.checkpoint.saved,
            }
        if self.survivors is not None:
            attributes["resumed_epochs_"] = self.resumed_epochs
        return attributes


@dataclass
class Survivors:
    """Halving on the epochs resource: each model's final training state, by its candidate's
    parameters but the resource and its split; the next round's models continue from the
    previous round's states instead of training again from scratch (the same numbers)."""

    resource: str
    previous: dict = field(default_factory=dict)  # the previous round's states
    current: dict = field(default_factory=dict)  # this round's

    def key(self, parameters: dict, split: int) -> tuple[str, int]:
        return repr(sorted((k, v) for k, v in parameters.items() if k != self.resource)), split

    def state(self, parameters: dict, split: int):
        """The state to continue from (None: train from scratch)."""
        return self.previous.get(self.key(parameters, split))

    def keep(self, pairs: list[tuple[int, int, dict]], outcomes: list[FitOutcome]) -> None:
        for (_, s, parameters), outcome in zip(pairs, outcomes):
            if outcome.state is not None:
                self.current[self.key(parameters, s)] = outcome.state

    def next_round(self) -> None:
        self.previous, self.current = self.current, {}


@dataclass
class Block:
    """A block's (candidate, split) pairs, candidate-major, and the jobs that fit them."""

    pairs: list[tuple[int, int, dict]] = field(default_factory=list)  # (candidate, split, params)
    fitted: list = field(default_factory=list)  # per pair: the estimator its fit fills in, or None
    jobs: list[FitJob] = field(default_factory=list)  # per pair but the failures, in order
    failures: dict[int, FitOutcome] = field(default_factory=dict)  # pair -> failed preprocessing


def build_jobs(
    base_estimator,
    candidates: list[tuple[int, dict]],
    folds: list[Fold],
    preprocessing: Preprocessing,
    survivors: Survivors | None,
    partial_fit_epochs: int | None = None,
    partial_fit_classes=None,
) -> Block:
    """A job per (candidate, fold) of `candidates` ((index, parameters) pairs): the network with
    the candidate's parameters, on the fold's training data preprocessed by the candidate's
    steps, continuing from its survivor's state when there is one (trained as `partial_fit`
    called `partial_fit_epochs` times, when given)."""
    _, base_model = pipeline.final_step(base_estimator)
    template = clone(base_model)
    block = Block()
    for c, parameters in candidates:
        pre, own = pipeline.split_params(base_estimator, parameters)
        for s, fold in enumerate(folds):
            block.pairs.append((c, s, parameters))
            data_key, steps, X_train = preprocessing.fit(pre, s, fold)
            if isinstance(X_train, FitOutcome):
                block.failures[len(block.pairs) - 1] = X_train
                block.fitted.append(None)
                continue
            model = _with_params(base_model, own, template)
            block.jobs.append(
                FitJob(
                    model,
                    X_train,
                    fold["train"][1],
                    fold["sample_weight"],
                    data_key=data_key,
                    resume_state=None if survivors is None else survivors.state(parameters, s),
                    keep_state=survivors is not None,
                    partial_fit_epochs=partial_fit_epochs,
                    classes=partial_fit_classes,
                )
            )
            block.fitted.append(pipeline.assemble(base_estimator, parameters, steps, model))
    return block


def _with_params(base_model, params: dict, template):
    """`clone(base_model).set_params(**params)`, about 8x faster for a grid's many models: a
    deep copy of `template` (a clone of `base_model`) with `params` set. Unknown or nested
    parameter names, and estimators with their own `set_params`, take scikit-learn's own route
    (and its error messages)."""
    if (
        type(template).set_params is not BaseEstimator.set_params
        or any("__" in k for k in params)
        or not set(params) <= _param_names(type(template))  # type: ignore[arg-type]
    ):
        return clone(base_model).set_params(**clone(params, safe=False))
    callbacks = getattr(template, "_skl_callbacks", None)
    # Callbacks are shared by reference between clones, as scikit-learn's clone does.
    model = copy.deepcopy(template, {} if callbacks is None else {id(callbacks): callbacks})
    for name, value in clone(params, safe=False).items():
        setattr(model, name, value)
    return model


@dataclass
class Scoring:
    """Scores fitted models as `_fit_and_score` does: a failed fit scores `error_score`, and
    with `verbose > 1` each prints scikit-learn's `[CV] END` line."""

    scorer: FoldScorer
    error_score: Any
    return_train_score: bool
    verbose: int

    def record(self, estimator, outcome: FitOutcome, fold: Fold, parameters: dict, progress):
        """`_fit_and_score`'s record for one (candidate, split); `progress` is
        ((split, n_splits), (candidate, n_candidates))."""
        train_scores = None
        start = time.time()
        if outcome.error is not None:
            test_scores = self._error_scores()
            train_scores = self._error_scores() if self.return_train_score else None
            score_time = 0.0
        else:
            test_scores = self._score(estimator, fold["test"], fold["score_test"])
            score_time = time.time() - start
            if self.return_train_score:
                train_scores = self._score(estimator, fold["train"], fold["score_train"])
        if self.verbose > 1:
            total_time = outcome.fit_time + score_time
            scores = (test_scores, train_scores)
            print(_fit_line(parameters, progress, self.verbose, *scores, total_time))
        record = {"fit_error": outcome.error, "test_scores": test_scores}
        if self.return_train_score:
            record["train_scores"] = train_scores
        record["n_test_samples"] = _num_samples(fold["test"][0])
        record["fit_time"] = outcome.fit_time
        record["score_time"] = score_time
        return record

    def _score(self, estimator, data: tuple[Any, Any], score_params: dict):
        return self.scorer.score(estimator, *data, score_params, self.error_score)

    def _error_scores(self):
        """A failed fit's scores: `error_score` for each scorer."""
        if isinstance(self.scorer.scorer, _MultimetricScorer):
            return {name: self.error_score for name in self.scorer.scorer._scorers}
        return self.error_score


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


def _programs_summary(reports: list, n_fits: int) -> list[str]:
    """The verbose lines on a block's programs: how many fits they vectorized, then each one."""
    n_vectorized = sum(report.n_models for report in reports)
    plural = "s" if len(reports) != 1 else ""
    head = f"vgrid: {n_vectorized} of {n_fits} fits vectorized in {len(reports)} program{plural}"
    return [head, *(f"  {report}" for report in reports)]


def _curves_of(fitted: list, n_splits: int) -> list:
    """Per candidate of a block: (loss curve, validation-score curve) per split."""

    def curve(estimator, name):
        values = (
            None if estimator is None else getattr(pipeline.final_step(estimator)[1], name, None)
        )
        return np.asarray(values if values is not None else [], float)

    per_fit = [(curve(e, "loss_curve_"), curve(e, "validation_scores_")) for e in fitted]
    return [per_fit[first : first + n_splits] for first in range(0, len(per_fit), n_splits)]


def _stack_curves(curves: list) -> dict[str, np.ndarray]:
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
