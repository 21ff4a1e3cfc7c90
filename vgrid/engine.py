"""Fit many scikit-learn-style MLP estimators at once: host preparation, grouping, materialising.

`fit_estimators(jobs)` is the one entry point. Each `FitJob` is an unfitted MLP estimator (vgrid's
or scikit-learn's, parameters already set) with the data it must be fit on. The jobs are
validated as scikit-learn validates them, their random numbers are replayed on the host
(`vgrid.replay`), they are grouped by what must be static (`plan_groups`), each group is trained
by one jitted program (`vgrid.training.train_segment`, run by `vgrid.scheduling`, on arrays laid
out by `vgrid.layout`), and the results are written back onto
the estimators as scikit-learn's fitted attributes. A single `fit` is one job; a grid search is
one job per (candidate, fold): both run the same code.

Example:
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.neural_network import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> jobs = [FitJob(MLPClassifier(hidden_layer_sizes=(5,), learning_rate_init=lr, max_iter=20,
    ...                              random_state=0), X, y, data_key="all")
    ...         for lr in (1e-3, 1e-2)]
    >>> outcomes = fit_estimators(jobs)
    >>> [job.estimator.n_iter_ for job in jobs]
    [20, 20]
"""

from __future__ import annotations

import copy
import functools
import math
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any, Hashable, NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network._multilayer_perceptron import BaseMultilayerPerceptron
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import validate_parameter_constraints
from sklearn.utils.validation import _check_sample_weight
from tqdm.auto import tqdm

from .layout import positions, unpad_state
from .plan import COST_MODEL, layer_units, plan_groups
from .replay import FitRandomness, replay_fit_randomness
from .scheduling import (
    _default_worker_threads,
    _take,
    hosted_plan,
    run_groups,
    skips_padding_batches,
)
from .training import ModelState, results_from_states

__all__ = ["FitJob", "FitOutcome", "fit_estimators"]

#: Hyperparameters that only enter arithmetic: traced, one program for any of their values.
TRACED_PARAMS = ("alpha", "learning_rate_init", "beta_1", "beta_2", "epsilon", "momentum",
                 "nesterovs_momentum", "power_t", "tol", "n_iter_no_change", "max_iter",
                 "learning_rate", "activation", "early_stopping")
#: Hyperparameters that are padded and masked inside one program.
MASKED_PARAMS = ("hidden_layer_sizes", "batch_size", "validation_fraction")
#: Hyperparameters that select the program: each distinct value is its own group.
STATIC_PARAMS = ("solver", "shuffle", "loss")


@dataclass
class FitJob:
    """One estimator to fit on one data set. Jobs with the same `data_key` share their data."""

    estimator: BaseMultilayerPerceptron
    X: Any
    y: Any
    sample_weight: Any = None
    data_key: Hashable = None
    #: A `FitOutcome.state` of the same model (same parameters but a smaller `max_iter`, same
    #: data): training continues from it instead of starting again. Exact: the continued run
    #: sees the same minibatches as a run from scratch would.
    resume_state: ModelState | None = None
    keep_state: bool = False  # return the final training state in the outcome
    #: Epochs this fit is expected to run (e.g. the mean over the same candidate's
    #: cross-validation fits); only the cost estimates for a lone model use it (its own
    #: program, a host program, or scikit-learn's NumPy fit).
    epochs_hint: int | None = None


@dataclass
class FitOutcome:
    """What happened to one job: its share of the fit wall time, and its error if it failed."""

    fit_time: float = 0.0
    error: str | None = None  # formatted traceback, as scikit-learn's `fit_error`
    exception: BaseException | None = field(default=None, repr=False)
    state: ModelState | None = field(default=None, repr=False)  # with FitJob.keep_state
    resumed_epochs: int = 0  # epochs not trained again thanks to FitJob.resume_state
    engine: str = "vgrid"  # or "scikit-learn": fit by scikit-learn's own code (see fit_estimators)


class _FitData(NamedTuple):
    X: np.ndarray  # (n, f) dense, float32 or float64
    Y: np.ndarray  # (n, n_outputs) in X's dtype
    W: np.ndarray  # (n,) sample weights (ones when none were given)
    weighted: bool
    fitted_attrs: dict  # what validation set on the estimator (classes_, n_features_in_, ...)


class _Prepared(NamedTuple):
    index: int
    estimator: BaseMultilayerPerceptron
    data_key: Hashable  # the job's, or ("job", index) when it gave none
    data: _FitData
    hidden: tuple[int, ...]
    batch_size: int
    randomness: FitRandomness
    replay_key: Hashable
    static_key: tuple
    resume: ModelState | None


def _is_vectorizable(est) -> bool:
    return est.solver in ("adam", "sgd") and not (est.warm_start and hasattr(est, "coefs_"))


def _validated_data(est, job, data_key, cache) -> _FitData:
    key = (data_key, is_classifier(est))
    if key in cache:
        data = cache[key]
        est.__dict__.update(copy.deepcopy(data.fitted_attrs))
        return data
    before = set(vars(est))
    X, y = est._validate_input(job.X, job.y, incremental=False, reset=True)
    fitted_attrs = {k: v for k, v in vars(est).items() if k not in before}
    if sp.issparse(X):
        X = X.toarray()
    X = np.ascontiguousarray(X)
    Y = (y.reshape(-1, 1) if y.ndim == 1 else y).astype(X.dtype)
    weighted = job.sample_weight is not None
    W = (_check_sample_weight(job.sample_weight, X, dtype=X.dtype) if weighted
         else np.ones(len(X), X.dtype))
    cache[key] = data = _FitData(X, Y, W, weighted, fitted_attrs)
    return data


def _resolved_batch_size(est, n_train) -> int:
    if est.batch_size == "auto":
        return min(200, n_train)
    if est.batch_size > n_train:
        warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to "
                      "be clipped")
    return int(np.clip(est.batch_size, 1, n_train))


def _random_state_key(random_state, job_index):
    if isinstance(random_state, (int, np.integer)):
        return ("seed", int(random_state))
    if isinstance(random_state, np.random.RandomState):
        name, keys, pos, has_gauss, cached = random_state.get_state()
        return ("state", keys.tobytes(), pos, has_gauss, cached)
    return ("global", job_index)  # None: numpy's global RandomState, consumed in job order


#: (class, parameter, value) triples that passed scikit-learn's parameter validation.
_VALID_PARAMS: set = set()


def _validate_params(est):
    """`est._validate_params()`, checking only the parameter values not yet seen valid: a grid's
    models share most of their values (the check is per parameter, so the result is the same)."""
    klass = type(est)
    params = {name: getattr(est, name) for name in _param_names(klass)}
    keys = {name: (klass, name, type(value), repr(value)) for name, value in params.items()}
    fresh = {name: params[name] for name, key in keys.items() if key not in _VALID_PARAMS}
    if fresh:
        validate_parameter_constraints(est._parameter_constraints, fresh,
                                       caller_name=klass.__name__)
        if len(_VALID_PARAMS) > 100_000:
            _VALID_PARAMS.clear()
        _VALID_PARAMS.update(keys[name] for name in fresh)


@functools.cache
def _param_names(klass) -> frozenset:
    """The constructor parameters of an estimator class (scikit-learn inspects the signature on
    every `get_params`)."""
    return frozenset(klass._get_param_names())


def _prepare(index, job, cache, replay_cache) -> _Prepared:
    est = job.estimator
    _validate_params(est)
    hidden = est.hidden_layer_sizes
    hidden = list(hidden) if hasattr(hidden, "__iter__") else [hidden]
    if np.any(np.array(hidden) <= 0):
        raise ValueError("hidden_layer_sizes must be > 0, got %s." % hidden)
    data_key = job.data_key if job.data_key is not None else ("job", index)
    data = _validated_data(est, job, data_key, cache)
    n_samples, n_features = data.X.shape
    units = layer_units(hidden, n_features, data.Y.shape[1])
    stratify = data.Y if (is_classifier(est) and data.Y.shape[1] == 1) else None
    rs_key = _random_state_key(est.random_state, index)
    replay_key = (data_key, rs_key,
                  tuple(units), est.activation == "logistic", est.early_stopping,
                  est.validation_fraction if est.early_stopping else None, est.shuffle,
                  est.max_iter if est.shuffle else 1, data.X.dtype.str)
    randomness = replay_cache.get(replay_key)
    if randomness is None:
        randomness = replay_fit_randomness(
            check_random_state(est.random_state), units, activation=est.activation,
            n_samples=n_samples, stratify=stratify, early_stopping=est.early_stopping,
            validation_fraction=est.validation_fraction, shuffle=est.shuffle,
            n_epochs=est.max_iter, dtype=data.X.dtype)
        replay_cache[replay_key] = randomness
    if est.early_stopping and len(randomness.val_rows) < 2:
        raise ValueError("The validation set is too small. Increase 'validation_fraction' or "
                         "the size of your dataset.")
    batch_size = _resolved_batch_size(est, len(randomness.train_rows))
    out_activation, loss = _output_and_loss(est, data)
    static_key = (data.X.dtype.str, est.solver, len(hidden) == 0, out_activation, loss,
                  is_classifier(est), n_features, data.Y.shape[1], _batch_bucket(batch_size))
    return _Prepared(index, est, data_key, data, tuple(hidden), batch_size, randomness,
                     replay_key, static_key, job.resume_state)


def _batch_bucket(batch_size: int) -> int:
    """Batch sizes within a factor of two share a program (the smaller ones are padded)."""
    return int(math.ceil(math.log2(batch_size)))


def _output_and_loss(est, data):
    if not is_classifier(est):
        return ("exp", "poisson") if est.loss == "poisson" else ("identity", "squared_error")
    if est._label_binarizer.y_type_ == "multiclass":
        return "softmax", "log_loss"
    return "logistic", "binary_log_loss"


def _materialize(p: _Prepared, result, m: int):
    """Write model m of a group's result onto its estimator as scikit-learn's attributes."""
    est, dtype = p.estimator, p.data.X.dtype
    n_layers = len(p.hidden) + 1
    widths = [p.data.X.shape[1], *p.hidden, p.data.Y.shape[1]]
    sl = [(slice(0, widths[i]), slice(0, widths[i + 1])) for i in range(n_layers)]

    layers = positions(len(p.hidden), len(result.params))

    def take(tree):
        coefs = [np.array(tree[f"layer_{q}"]["kernel"][m][sl[i]], dtype)
                 for i, q in enumerate(layers)]
        intercepts = [np.array(tree[f"layer_{q}"]["bias"][m][sl[i][1]], dtype)
                      for i, q in enumerate(layers)]
        return coefs, intercepts

    n_iter = int(result.n_iter[m])
    n_train = len(p.randomness.train_rows)
    est.coefs_, est.intercepts_ = take(result.params)
    est.n_outputs_ = p.data.Y.shape[1]
    est.n_layers_ = n_layers + 1
    est.out_activation_ = p.static_key[3]
    est.n_iter_ = n_iter
    est.t_ = n_iter * n_train
    est.loss_curve_ = [dtype.type(v) for v in result.loss_curve[m][:n_iter]]
    est.loss_ = est.loss_curve_[-1]
    est._no_improvement_count = int(result.no_improvement_count[m])
    if est.early_stopping:
        est.best_loss_ = None
        est.validation_scores_ = [float(v) for v in result.validation_scores[m][:n_iter]]
        est.best_validation_score_ = float(result.best_validation_score[m])
    else:
        est.best_loss_ = dtype.type(result.best_loss[m])
        est.validation_scores_ = None
        est.best_validation_score_ = None
    est._best_coefs, est._best_intercepts = est.coefs_, est.intercepts_
    est._random_state = check_random_state(est.random_state)
    params = est.coefs_ + est.intercepts_
    first, second = take(result.opt.first), take(result.opt.second)
    if est.solver == "adam":
        opt = AdamOptimizer(params, est.learning_rate_init, est.beta_1, est.beta_2, est.epsilon)
        opt.ms, opt.vs, opt.t = first[0] + first[1], second[0] + second[1], int(result.opt.step[m])
    else:
        opt = SGDOptimizer(params, est.learning_rate_init, est.learning_rate, est.momentum,
                           est.nesterovs_momentum, est.power_t)
        opt.velocities = first[0] + first[1]
        opt.learning_rate = float(result.opt.learning_rate[m])
    est._optimizer = opt
    if n_iter == est.max_iter and not bool(result.stopped_by_rule[m]):
        warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the optimization"
                      " hasn't converged yet." % est.max_iter, ConvergenceWarning)
    if not all(np.isfinite(w).all() for w in params):
        raise ValueError("Solver produced non-finite parameter weights. The input data may"
                         " contain large values and need to be preprocessed.")


def _record_failure(outcome, exc, raise_errors):
    if raise_errors:
        raise exc
    outcome.error = traceback.format_exc()
    outcome.exception = exc


def _fit_by_sklearn(job: FitJob, outcome: FitOutcome):
    """Fit the job's estimator with scikit-learn's own (NumPy) training code."""
    outcome.engine = "scikit-learn"
    job.estimator._validate_params()
    BaseMultilayerPerceptron._fit(job.estimator, job.X, job.y, sample_weight=job.sample_weight)


def _job_segment_hook(on_segment):
    """The scheduler's `on_segment(plan, members, states)` in terms of jobs: calls
    `on_segment(job_indices, n_iter, done, snapshot)`, where `snapshot(k)` is a copy of the k-th
    model's estimator with the fitted attributes it would have if its training ended here
    (None if its weights are not finite), and returns its stop mask."""
    def hook(plan, members, states):
        prepared = [plan.members[i] for i in members]

        def snapshot(k):
            one = _take(states, np.array([k]))
            p = prepared[k]._replace(estimator=copy.copy(prepared[k].estimator))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    _materialize(p, results_from_states(one, np.array([
                        p.estimator.early_stopping])), 0)
            except ValueError:  # non-finite weights: the final fit reports it
                return None
            return p.estimator

        return on_segment([p.index for p in prepared], np.asarray(states.n_iter),
                          np.asarray(states.done), snapshot)

    return hook


def fit_estimators(jobs: list[FitJob], *, raise_errors: bool = True, reports: list | None = None,
                   progress: bool = False, allow_numpy_fit: bool = False,
                   refit_rows: int | None = None, on_segment=None,
                   **schedule) -> list[FitOutcome]:
    """Fit every job's estimator in place, vectorizing all that can be; see the module docs.

    With `raise_errors=False` a job that fails (invalid parameters, bad data, non-finite
    weights) is reported in its outcome, as scikit-learn's `_fit_and_score` does, and the other
    jobs are unaffected. `fit_time` is each job's share of the wall time of the program that
    trained it, plus its own host-side preparation. `schedule` (`n_threads`, `n_slots`,
    `segment_epochs`, `chunk_size`, `checkpoint`) is passed to `run_groups`; it changes speed,
    memory and what survives a kill, never a score.
    A `ProgramReport` per compiled program is appended to `reports` when given. With
    `progress=True` a progress bar (tqdm, in a terminal or in Jupyter) counts trained models.
    With `allow_numpy_fit=True`, a model that would be alone in its program is fit by
    scikit-learn's own NumPy code when the cost model (`CostModel.numpy_fit_is_cheaper`)
    finds that cheaper than compiling a program for it: the same numbers in exact mode
    (vgrid's fit reproduces scikit-learn's), sooner. Searches use it for their refit.
    A model alone in its program trains in a program already compiled in this process when
    one can hold it (`scheduling.hosted_plan`) and the cost model finds that cheaper than its
    own program. `refit_rows` (searches pass their number of samples) gives every program room
    for a later refit on that many rows, where extra minibatches cost nothing
    (`scheduling.skips_padding_batches`): the refit then compiles nothing.
    `on_segment(job_indices, n_iter, done, snapshot) -> bool mask` (see `_job_segment_hook`)
    is shown every model after each segment of `segment_epochs` epochs and stops the models it
    names there (pruning): a stopped model's estimator is what it was at that epoch.
    """
    outcomes = [FitOutcome() for _ in jobs]
    data_cache, replay_cache, prepared = {}, {}, []
    for i, job in enumerate(jobs):
        start = time.perf_counter()
        try:
            if not _is_vectorizable(job.estimator):
                _fit_by_sklearn(job, outcomes[i])
            else:
                prepared.append(_prepare(i, job, data_cache, replay_cache))
        except Exception as exc:  # noqa: BLE001 - reported like scikit-learn's fit_error
            _record_failure(outcomes[i], exc, raise_errors)
        outcomes[i].fit_time += time.perf_counter() - start
    n_threads = schedule.get("n_threads") or _default_worker_threads()
    plans = plan_groups(prepared, n_threads=n_threads,
                        room_rows=(refit_rows if skips_padding_batches(schedule.get("n_slots"))
                                   else None))
    vectorized = []
    for plan in plans:
        if plan.n_models > 1:
            vectorized.append(plan)
            continue
        job = jobs[plan.members[0].index]
        # A lone model trains on one thread.
        hosted = hosted_plan(plan)
        if hosted is not None and (COST_MODEL.vgrid_seconds(hosted, 1, job.epochs_hint, True)
                                   < COST_MODEL.vgrid_seconds(plan, 1, job.epochs_hint)):
            plan = hosted
        if (allow_numpy_fit and job.resume_state is None and not job.keep_state
                and COST_MODEL.numpy_fit_is_cheaper(plan, 1, job.epochs_hint,
                                                    compiled=plan is hosted)):
            outcome = outcomes[plan.members[0].index]
            start = time.perf_counter()
            try:
                _fit_by_sklearn(job, outcome)
            except Exception as exc:  # noqa: BLE001
                _record_failure(outcome, exc, raise_errors)
            outcome.fit_time += time.perf_counter() - start
        else:
            vectorized.append(plan)
    plans = vectorized
    with tqdm(total=len(prepared), disable=not progress or not prepared, unit="model",
              desc="vgrid training") as bar:
        hook = None if on_segment is None else _job_segment_hook(on_segment)
        finished = run_groups(plans, progress=(lambda: bar.update(1)) if progress else None,
                              on_segment=hook, **schedule)
    for plan, (result, states, report) in zip(plans, finished):
        if reports is not None:
            reports.append(report)
        share = (report.compile_seconds + report.train_seconds) / plan.n_models
        for m, p in enumerate(plan.members):
            start = time.perf_counter()
            outcome = outcomes[p.index]
            if p.resume is not None:
                outcome.resumed_epochs = int(p.resume.n_iter)
            if jobs[p.index].keep_state:
                outcome.state = unpad_state(_take(states, m), p)
            try:
                _materialize(p, result, m)
            except Exception as exc:  # noqa: BLE001
                _record_failure(outcomes[p.index], exc, raise_errors)
            outcomes[p.index].fit_time += share + time.perf_counter() - start
    return outcomes
