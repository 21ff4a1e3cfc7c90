"""Fit many scikit-learn-style MLP estimators at once: host preparation, grouping, materialising.

`fit_estimators(jobs)` is the one entry point. Each `FitJob` is an unfitted MLP estimator (vgrid's
or scikit-learn's, parameters already set) with the data it must be fit on. The jobs are
validated as scikit-learn validates them, their random numbers are replayed on the host
(`vgrid.replay`), they are grouped by what must be static (`plan_groups`), each group is trained
by one jitted program (`vgrid.training.train_segment`), and the results are written back onto
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
import math
import os
import threading
import time
import traceback
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Hashable, NamedTuple

import jax
import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network._multilayer_perceptron import BaseMultilayerPerceptron
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight

from .network import ACTIVATION_CODES
from .plan import GroupPlan, ProgramReport, model_flops, plan_groups
from .replay import FitRandomness, replay_fit_randomness
from .training import (SCHEDULES, GroupConfig, HyperParams, ModelInputs, ModelState,
                       SharedInputs, initial_states, results_from_states, train_segment)

__all__ = ["FitJob", "FitOutcome", "fit_estimators", "run_groups"]

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


@dataclass
class FitOutcome:
    """What happened to one job: its share of the fit wall time, and its error if it failed."""

    fit_time: float = 0.0
    error: str | None = None  # formatted traceback, as scikit-learn's `fit_error`
    exception: BaseException | None = field(default=None, repr=False)
    state: ModelState | None = field(default=None, repr=False)  # with FitJob.keep_state
    resumed_epochs: int = 0  # epochs not trained again thanks to FitJob.resume_state


class _FitData(NamedTuple):
    X: np.ndarray  # (n, f) dense, float32 or float64
    Y: np.ndarray  # (n, n_outputs) in X's dtype
    W: np.ndarray  # (n,) sample weights (ones when none were given)
    weighted: bool
    fitted_attrs: dict  # what validation set on the estimator (classes_, n_features_in_, ...)


class _Prepared(NamedTuple):
    index: int
    estimator: BaseMultilayerPerceptron
    data_key: Hashable
    data: _FitData
    hidden: tuple[int, ...]
    batch_size: int
    randomness: FitRandomness
    replay_key: Hashable
    static_key: tuple
    resume: ModelState | None


def _is_vectorizable(est) -> bool:
    return est.solver in ("adam", "sgd") and not (est.warm_start and hasattr(est, "coefs_"))


def _validated_data(est, job, cache) -> _FitData:
    key = (job.data_key if job.data_key is not None else ("job", id(job)), is_classifier(est))
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


def _prepare(index, job, cache, replay_cache) -> _Prepared:
    est = job.estimator
    est._validate_params()
    hidden = est.hidden_layer_sizes
    hidden = list(hidden) if hasattr(hidden, "__iter__") else [hidden]
    if np.any(np.array(hidden) <= 0):
        raise ValueError("hidden_layer_sizes must be > 0, got %s." % hidden)
    data = _validated_data(est, job, cache)
    n_samples, n_features = data.X.shape
    layer_units = [n_features, *hidden, data.Y.shape[1]]
    stratify = data.Y if (is_classifier(est) and data.Y.shape[1] == 1) else None
    rs_key = _random_state_key(est.random_state, index)
    replay_key = (job.data_key if job.data_key is not None else ("job", index), rs_key,
                  tuple(layer_units), est.activation == "logistic", est.early_stopping,
                  est.validation_fraction if est.early_stopping else None, est.shuffle,
                  est.max_iter if est.shuffle else 1, data.X.dtype.str)
    randomness = replay_cache.get(replay_key)
    if randomness is None:
        randomness = replay_fit_randomness(
            check_random_state(est.random_state), layer_units, activation=est.activation,
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
    return _Prepared(index, est, job.data_key, data, tuple(hidden), batch_size, randomness,
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


def _real_layer_at(position: int, depth: int, n_positions: int) -> int | None:
    """Which of a model's own layers sits at a padded position: hidden layers first, the output
    layer always last; None for a skipped position."""
    if position == n_positions - 1:
        return depth
    return position if position < depth else None


def _positions(depth: int, n_positions: int) -> list[int]:
    """Padded positions of a model's own layers, in order."""
    return list(range(depth)) + [n_positions - 1]


def _unique(keys):
    ids, table = [], {}
    for k in keys:
        ids.append(table.setdefault(k, len(table)))
    return np.asarray(ids, np.int32), list(table)


def _build_inputs(plan: GroupPlan):
    """Host arrays for one group: shared (data, inits, minibatch orders) and per-model inputs."""
    cfg, members = plan.config, plan.members
    dtype = members[0].data.X.dtype
    data_ids, data_keys = _unique([p.data_key if p.data_key is not None else ("job", p.index)
                                   for p in members])
    first_of_data = {k: next(p for p in members if (p.data_key if p.data_key is not None
                                                    else ("job", p.index)) == k)
                     for k in data_keys}
    n_rows = max(len(first_of_data[k].data.X) for k in data_keys)
    sentinel = n_rows
    n_features = members[0].data.X.shape[1]
    X = np.zeros((len(data_keys), n_rows + 1, n_features), dtype)
    Y = np.zeros((len(data_keys), n_rows + 1, cfg.n_outputs), dtype)
    W = np.zeros((len(data_keys), n_rows + 1), dtype)
    for d, k in enumerate(data_keys):
        data = first_of_data[k].data
        X[d, :len(data.X)], Y[d, :len(data.X)], W[d, :len(data.X)] = data.X, data.Y, data.W

    order_ids, order_keys = _unique([(p.replay_key, p.batch_size) for p in members])
    first_of_order = {k: next(p for p in members if (p.replay_key, p.batch_size) == k)
                      for k in order_keys}
    n_table_epochs = max(len(first_of_order[k].randomness.orders) for k in order_keys)
    orders = np.full((len(order_keys), n_table_epochs, cfg.n_batches, cfg.batch_size), sentinel,
                     np.int32)
    for o, k in enumerate(order_keys):
        p = first_of_order[k]
        rows = p.randomness.orders
        n_train = rows.shape[1]
        positions = np.arange(n_train)
        orders[o][:len(rows), positions // p.batch_size, positions % p.batch_size] = rows
        orders[o, len(rows):] = orders[o, len(rows) - 1]
    orders = orders.reshape(len(order_keys), n_table_epochs, -1)

    init_ids, init_keys = _unique([p.replay_key for p in members])
    first_of_init = {k: next(p for p in members if p.replay_key == k) for k in init_keys}
    units = [n_features, *cfg.hidden_widths, cfg.n_outputs]
    inits = {}
    n_positions = len(cfg.hidden_widths) + 1
    for position, (fan_in, fan_out) in enumerate(zip(units[:-1], units[1:])):
        kernel = np.zeros((len(init_keys), fan_in, fan_out), dtype)
        bias = np.zeros((len(init_keys), fan_out), dtype)
        for i, k in enumerate(init_keys):
            p = first_of_init[k]
            layer = _real_layer_at(position, len(p.hidden), n_positions)
            if layer is None:
                continue  # a skipped layer: zeros, and it stays zero
            coef, intercept = p.randomness.init[layer]
            kernel[i, :coef.shape[0], :coef.shape[1]] = coef
            bias[i, :len(intercept)] = intercept
        inits[f"layer_{position}"] = {"kernel": kernel, "bias": bias}

    ests = [p.estimator for p in members]
    hyper = HyperParams(
        alpha=np.array([e.alpha for e in ests], dtype),
        learning_rate_init=np.array([e.learning_rate_init for e in ests], dtype),
        beta_1=np.array([e.beta_1 for e in ests], dtype),
        beta_2=np.array([e.beta_2 for e in ests], dtype),
        epsilon=np.array([e.epsilon for e in ests], dtype),
        momentum=np.array([e.momentum for e in ests], dtype),
        nesterovs_momentum=np.array([bool(e.nesterovs_momentum) for e in ests]),
        power_t=np.array([e.power_t for e in ests], dtype),
        tol=np.array([e.tol for e in ests], dtype),
        n_iter_no_change=np.array([e.n_iter_no_change for e in ests], dtype),
        max_iter=np.array([e.max_iter for e in ests], np.int32),
        schedule=np.array([SCHEDULES[e.learning_rate] for e in ests], np.int32),
        early_stopping=np.array([bool(e.early_stopping) for e in ests]),
        activation=np.array([ACTIVATION_CODES[e.activation] for e in ests], np.int32))
    masks = tuple(np.array([[1 if i < len(p.hidden) and u < p.hidden[i] else 0
                             for u in range(w)] for p in members], dtype)
                  for i, w in enumerate(cfg.hidden_widths))
    n_val = max(1, max(len(p.randomness.val_rows) for p in members))
    val_rows = np.full((len(members), n_val), sentinel, np.int32)
    for m, p in enumerate(members):
        val_rows[m, :len(p.randomness.val_rows)] = p.randomness.val_rows
    models = ModelInputs(
        hyper=hyper, unit_masks=masks,
        depth=np.array([len(p.hidden) for p in members], np.int32), init_id=init_ids, order_id=order_ids, data_id=data_ids,
        n_train=np.array([len(p.randomness.train_rows) for p in members], dtype),
        val_rows=val_rows)
    return SharedInputs(X, Y, W, orders), inits, models


def enable_compilation_cache(path: str | None = None) -> str | None:
    """Turn on JAX's persistent compilation cache, so a rerun of the same grid compiles nothing.

    Called once by `run_groups`. It does nothing when the user already configured a cache
    (`jax_compilation_cache_dir`) or set the environment variable `VGRID_COMPILATION_CACHE=0`;
    otherwise the cache lives in `VGRID_COMPILATION_CACHE` or `~/.cache/vgrid/jax`.
    Returns the directory in use, or None.
    """
    global _CACHE_CHECKED
    if _CACHE_CHECKED:
        return jax.config.jax_compilation_cache_dir
    _CACHE_CHECKED = True
    setting = os.environ.get("VGRID_COMPILATION_CACHE", "")
    if setting == "0" or jax.config.jax_compilation_cache_dir:
        return jax.config.jax_compilation_cache_dir
    path = path or setting or os.path.join(os.path.expanduser("~"), ".cache", "vgrid", "jax")
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    return path


_CACHE_CHECKED = False


def _default_worker_threads() -> int:
    """XLA:CPU runs one program of small matmuls on about one core: one worker per core."""
    if jax.default_backend() != "cpu":
        return 1
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1))


def _take(tree, index):
    """A copy (never a view) of every leaf's rows `index`."""
    return jax.tree.map(lambda a: np.array(a[index]), tree)


def _put(tree, index, values):
    jax.tree.map(lambda a, v: a.__setitem__(index, v), tree, values)


class _SlotScheduler:
    """Feeds a group's models through fixed-size sets of slots, refilling a slot when its model
    stops, so that a model that stopped early does not keep costing work. Each worker thread
    owns one set of slots; all sets have the same size, so they share one compiled program."""

    def __init__(self, plan, shared, inits, models, n_slots, segment_epochs, on_done=None):
        self.plan, self.shared, self.inits, self.models = plan, shared, inits, models
        self.on_done = on_done
        self.n_slots, self.segment_epochs = n_slots, segment_epochs
        self.dtype = shared.X.dtype
        self.queue = iter(range(plan.n_models))
        self.lock = threading.Lock()
        self.results = [None] * plan.n_models

    def _next(self):
        with self.lock:
            return next(self.queue, None)

    def _fresh(self, index):
        one = _take(self.models, np.array([index]))
        resume = self.plan.members[index].resume
        if resume is not None:
            return one, _pad_state(resume, self.plan.config)
        return one, initial_states(self.inits, one, self.plan.config.max_epochs, self.dtype)

    def work(self, x64):
        owner = [self._next() for _ in range(self.n_slots)]
        if owner[0] is None:
            return
        fresh = [self._fresh(m if m is not None else owner[0]) for m in owner]
        models, states = jax.tree.map(lambda *rows: np.concatenate(rows), *fresh)
        states.done[[i for i, m in enumerate(owner) if m is None]] = True
        shared = self.shared
        while any(m is not None for m in owner):
            with jax.enable_x64(x64):
                advanced = train_segment(self.plan.config, shared, models, states,
                                         np.int32(self.segment_epochs))
                states = jax.tree.map(np.array, advanced)
            for slot, m in enumerate(owner):
                if m is None or not states.done[slot]:
                    continue
                self.results[m] = _take(states, slot)
                if self.on_done is not None:
                    self.on_done()
                owner[slot] = nxt = self._next()
                if nxt is not None:
                    one_model, one_state = self._fresh(nxt)
                    _put(models, slot, _take(one_model, 0))
                    _put(states, slot, _take(one_state, 0))


class _GroupRun(NamedTuple):
    plan: GroupPlan
    shared: SharedInputs  # on the device
    inits: dict
    models: ModelInputs
    n_threads: int
    n_slots: int
    segment_epochs: int
    x64: bool


#: On the CPU, slots per worker are sized so that their working set stays in the core's cache.
#: Measured on the 2-core benchmark machine (benchmarks/bench_core.py, case b, warm): 1 slot
#: 4.2 s, 5 slots 4.4 s, 10 slots 6.2 s, 20 slots 6.5 s; case a was flat (0.76-0.87 s).
CPU_SLOT_BYTES = 2 * 2**20


def _model_working_set_bytes(config: GroupConfig, n_features: int, itemsize: int) -> int:
    """Bytes one model touches per minibatch step: parameters, gradients, Adam moments,
    the minibatch and its activations (forward and backward)."""
    units = [n_features, *config.hidden_widths, config.n_outputs]
    n_params = sum(a * b + b for a, b in zip(units[:-1], units[1:]))
    activations = config.batch_size * (sum(units) + sum(units[1:]) * 2)
    return (4 * n_params + activations) * itemsize


#: Share of an accelerator's free memory that one group's slots may take.
ACCELERATOR_MEMORY_SHARE = 0.5


def _model_state_bytes(config: GroupConfig, n_features: int, itemsize: int) -> int:
    """Bytes one model holds on the device for a whole segment: its training state (parameters,
    best parameters, two optimizer moments, curves) plus one minibatch step's working set."""
    units = [n_features, *config.hidden_widths, config.n_outputs]
    n_params = sum(a * b + b for a, b in zip(units[:-1], units[1:]))
    return (_model_working_set_bytes(config, n_features, itemsize)
            + (4 * n_params + 2 * config.max_epochs) * itemsize)


def _default_slots(config: GroupConfig, n_features: int, itemsize: int, n_models: int,
                   n_threads: int, device=None) -> int:
    """Models per program call. On the CPU: as many as stay in the core's cache. On an
    accelerator: as many as fit in `ACCELERATOR_MEMORY_SHARE` of its free memory (all of the
    group when they fit), so that a grid larger than the device runs in bounded memory."""
    per_thread = -(-n_models // n_threads)
    device = device or jax.devices()[0]
    if device.platform == "cpu":
        budget, per_model = CPU_SLOT_BYTES, _model_working_set_bytes(config, n_features, itemsize)
    else:
        stats = device.memory_stats() or {}
        free = stats.get("bytes_limit", 0) - stats.get("bytes_in_use", 0)
        if free <= 0:
            return per_thread
        budget = ACCELERATOR_MEMORY_SHARE * free
        per_model = _model_state_bytes(config, n_features, itemsize)
    return int(max(1, min(per_thread, budget // per_model)))


def _prepare_group(plan: GroupPlan, n_threads=None, n_slots=None, segment_epochs=None):
    shared, inits, models = _build_inputs(plan)
    n_threads = min(n_threads or _default_worker_threads(), plan.n_models)
    n_slots = n_slots or _default_slots(plan.config, shared.X.shape[-1], shared.X.itemsize,
                                        plan.n_models, n_threads)
    if segment_epochs is None:
        # With one slot, or slots for every model, nothing is refilled mid-way: train in one
        # call (on an accelerator this also keeps the state on the device the whole time).
        everything_fits = n_slots * n_threads >= plan.n_models
        segment_epochs = (plan.config.max_epochs if n_slots == 1 or everything_fits
                          else max(1, plan.config.max_epochs // 10))
    x64 = shared.X.dtype == np.float64
    with jax.enable_x64(x64):
        shared = jax.device_put(shared)
    return _GroupRun(plan, shared, inits, models, n_threads, n_slots, segment_epochs, x64)


_COMPILED: set = set()  # signatures already in jit's cache, so a warm call skips tracing


def _compile_group(run: _GroupRun) -> bool:
    """Compile the group's program ahead of time (it lands in jit's cache); False if cached."""
    slots = _take(run.models, np.zeros(run.n_slots, int))
    states = initial_states(run.inits, slots, run.plan.config.max_epochs, run.shared.X.dtype)
    signature = (run.plan.config, run.x64, str(jax.tree.map(lambda a: (a.shape, a.dtype.str),
                                                            (run.shared, slots, states))))
    if signature in _COMPILED:
        return False
    with jax.enable_x64(run.x64):
        train_segment.lower(run.plan.config, run.shared, slots, states,
                            np.int32(run.segment_epochs)).compile()
    _COMPILED.add(signature)
    return True


def _execute_group(run: _GroupRun, on_done=None):
    scheduler = _SlotScheduler(run.plan, run.shared, run.inits, run.models, run.n_slots,
                               run.segment_epochs, on_done)
    if run.n_threads == 1:
        scheduler.work(run.x64)
    else:
        with ThreadPoolExecutor(run.n_threads) as pool:
            list(pool.map(lambda _: scheduler.work(run.x64), range(run.n_threads)))
    states = jax.tree.map(lambda *rows: np.stack(rows), *scheduler.results)
    return results_from_states(states, run.models.hyper.early_stopping), states


def run_groups(plans: list[GroupPlan], progress=None, **options) -> list:
    """Train every group; returns (TrainResult, final ModelState, ProgramReport) per group, as
    numpy arrays with a leading model axis.

    Programs are compiled first, all groups at once (XLA compiles on one core each), then the
    groups train one after the other. On the CPU each group's models are spread over one
    worker thread per core, each with a few model slots (`_default_slots`) that are refilled
    as models stop; on an accelerator one worker holds every model. None of this changes a
    model's numbers beyond rounding: each model's computation is independent of the others,
    and its state carries over exactly from one segment of `segment_epochs` epochs to the next.
    """
    enable_compilation_cache()
    runs = [_prepare_group(plan, **options) for plan in plans]

    def timed_compile(run):
        start = time.perf_counter()
        compiled = _compile_group(run)
        return time.perf_counter() - start if compiled else 0.0

    with ThreadPoolExecutor(max(1, len(runs))) as pool:
        compile_seconds = list(pool.map(timed_compile, runs))
    finished = []
    for run, compile_time in zip(runs, compile_seconds):
        start = time.perf_counter()
        result, states = _execute_group(run, progress)
        seconds = time.perf_counter() - start
        cfg, members = run.plan.config, run.plan.members
        n_features = run.shared.X.shape[-1]
        executed = sum(model_flops(cfg.hidden_widths, n_features, cfg.n_outputs,
                                   len(p.randomness.train_rows), n)
                       for p, n in zip(members, result.n_iter))
        useful = sum(model_flops(p.hidden, n_features, cfg.n_outputs,
                                 len(p.randomness.train_rows), n)
                     for p, n in zip(members, result.n_iter))
        dtype = run.shared.X.dtype.name
        report = ProgramReport(
            solver=cfg.solver, activation=cfg.activation, early_stopping=cfg.early_stopping,
            dtype=dtype, hidden_widths=cfg.hidden_widths, n_models=run.plan.n_models,
            slots=run.n_slots, threads=run.n_threads,
            padding_overhead=executed / useful - 1 if useful else 0.0,
            compile_seconds=compile_time, train_seconds=seconds, useful_gflop=useful / 1e9)
        finished.append((result, states, report))
    return finished


_PARAM_TREES = ("params", "best_params")


def _map_param_trees(state: ModelState, fn) -> ModelState:
    opt = state.opt._replace(first=fn(state.opt.first), second=fn(state.opt.second))
    return state._replace(params=fn(state.params), best_params=fn(state.best_params), opt=opt)


def _unpad_state(state: ModelState, p: _Prepared) -> ModelState:
    """One model's state with its real (unpadded) layer shapes, to resume it in any group."""
    units = [p.data.X.shape[1], *p.hidden, p.data.Y.shape[1]]

    def cut(tree):
        positions = _positions(len(p.hidden), len(tree))
        return {f"layer_{i}": {"kernel": tree[f"layer_{q}"]["kernel"][:units[i],
                                                                      :units[i + 1]].copy(),
                               "bias": tree[f"layer_{q}"]["bias"][:units[i + 1]].copy()}
                for i, q in enumerate(positions)}

    return _map_param_trees(state, cut)


def _pad_state(state: ModelState, config: GroupConfig) -> ModelState:
    """An unpadded state padded to a group's shapes (zeros stay zero: padded units are masked),
    with one leading slot axis; training continues until its new `max_iter`."""
    n_positions = len(config.hidden_widths) + 1

    def pad(tree):
        units = [tree["layer_0"]["kernel"].shape[0], *config.hidden_widths, config.n_outputs]
        dtype = tree["layer_0"]["kernel"].dtype
        out = {f"layer_{q}": {"kernel": np.zeros((1, units[q], units[q + 1]), dtype),
                              "bias": np.zeros((1, units[q + 1]), dtype)}
               for q in range(n_positions)}
        for i, q in enumerate(_positions(len(tree) - 1, n_positions)):
            kernel, bias = tree[f"layer_{i}"]["kernel"], tree[f"layer_{i}"]["bias"]
            out[f"layer_{q}"]["kernel"][0, :kernel.shape[0], :kernel.shape[1]] = kernel
            out[f"layer_{q}"]["bias"][0, :len(bias)] = bias
        return out

    def curve(values):
        out = np.full((1, config.max_epochs), np.nan, values.dtype)
        n = min(len(values), config.max_epochs)
        out[0, :n] = values[:n]
        return out

    state = _map_param_trees(state, pad)
    scalars = {f: np.asarray(getattr(state, f))[None] for f in (
        "n_iter", "samples_seen", "no_improvement_count", "best_loss", "best_validation_score",
        "stopped_by_rule")}
    opt = state.opt._replace(step=np.asarray(state.opt.step)[None],
                             learning_rate=np.asarray(state.opt.learning_rate)[None])
    return state._replace(opt=opt, loss_curve=curve(state.loss_curve),
                          validation_scores=curve(state.validation_scores),
                          done=np.asarray(state.stopped_by_rule)[None].copy(), **scalars)


def _materialize(p: _Prepared, result, m: int):
    """Write model m of a group's result onto its estimator as scikit-learn's attributes."""
    est, dtype = p.estimator, p.data.X.dtype
    n_layers = len(p.hidden) + 1
    widths = [p.data.X.shape[1], *p.hidden, p.data.Y.shape[1]]
    sl = [(slice(0, widths[i]), slice(0, widths[i + 1])) for i in range(n_layers)]

    positions = _positions(len(p.hidden), len(result.params))

    def take(tree):
        coefs = [np.array(tree[f"layer_{q}"]["kernel"][m][sl[i]], dtype)
                 for i, q in enumerate(positions)]
        intercepts = [np.array(tree[f"layer_{q}"]["bias"][m][sl[i][1]], dtype)
                      for i, q in enumerate(positions)]
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


def fit_estimators(jobs: list[FitJob], *, raise_errors: bool = True, reports: list | None = None,
                   progress: bool = False, **schedule) -> list[FitOutcome]:
    """Fit every job's estimator in place, vectorizing all that can be; see the module docs.

    With `raise_errors=False` a job that fails (invalid parameters, bad data, non-finite
    weights) is reported in its outcome, as scikit-learn's `_fit_and_score` does, and the other
    jobs are unaffected. `fit_time` is each job's share of the wall time of the program that
    trained it, plus its own host-side preparation. `schedule` (`n_threads`, `n_slots`,
    `segment_epochs`) is passed to `run_groups`; it changes speed and memory, never numbers.
    A `ProgramReport` per compiled program is appended to `reports` when given. With
    `progress=True` a progress bar (tqdm, in a terminal or in Jupyter) counts trained models.
    """
    outcomes = [FitOutcome() for _ in jobs]
    data_cache, replay_cache, prepared = {}, {}, []
    for i, job in enumerate(jobs):
        start = time.perf_counter()
        try:
            if not _is_vectorizable(job.estimator):
                job.estimator._validate_params()
                BaseMultilayerPerceptron._fit(job.estimator, job.X, job.y,
                                              sample_weight=job.sample_weight)
            else:
                prepared.append(_prepare(i, job, data_cache, replay_cache))
        except Exception as exc:  # noqa: BLE001 - reported like scikit-learn's fit_error
            _record_failure(outcomes[i], exc, raise_errors)
        outcomes[i].fit_time += time.perf_counter() - start
    plans = plan_groups(prepared, n_threads=schedule.get("n_threads") or _default_worker_threads())
    with tqdm(total=len(prepared), disable=not progress or not prepared, unit="model",
              desc="vgrid training") as bar:
        finished = run_groups(plans, progress=(lambda: bar.update(1)) if progress else None,
                              **schedule)
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
                outcome.state = _unpad_state(_take(states, m), p)
            try:
                _materialize(p, result, m)
            except Exception as exc:  # noqa: BLE001
                _record_failure(outcomes[p.index], exc, raise_errors)
            outcomes[p.index].fit_time += share + time.perf_counter() - start
    return outcomes
