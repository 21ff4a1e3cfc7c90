"""Fit many estimators at once, whatever their kind: one entry point over `vgrid.kinds`.

`fit_estimators(jobs)` is the one entry point. Each `FitJob` is an unfitted estimator
(scikit-learn's or vgrid's MLPs, or a `vgrid.FlaxClassifier`/`FlaxRegressor`, parameters
already set) with the data it must be fit on. Each job's kind (`kinds.kind_of`) validates it
as the estimator's own `fit` would and makes it a group member; each kind splits its members
into groups that share one compiled program; `vgrid.scheduling.run_groups` compiles and trains
every group (slots, devices, chunks, checkpoints, Dask); and the kind writes each model's
results back onto its estimator. A single `fit` is one job; a grid search is one job per
(candidate, fold): both run the same code.

Examples
--------
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
import time
import traceback
import warnings
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np
from tqdm.auto import tqdm

from .kinds import ModelKind, kind_of
from .scheduling import PROGRAMS, _default_worker_threads, run_groups, skips_padding_batches

__all__ = ["FitJob", "FitOutcome", "fit_estimators"]


@dataclass
class FitJob:
    """One estimator to fit on one data set. Jobs with the same `data_key` share their data.

    Parameters
    ----------
    estimator : estimator object
        Unfitted, its parameters set: scikit-learn's or vgrid's `MLPClassifier` or
        `MLPRegressor`, or a `vgrid.FlaxClassifier` or `FlaxRegressor`. Fitted in place.
    X : array-like of shape (n_samples, n_features)
        The training rows.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        The target.
    sample_weight : array-like of shape (n_samples,) or None, default=None
        Weights of the rows.
    data_key : hashable or None, default=None
        Jobs with the same key (and the same kind of estimator) are given the same data:
        it is validated once and stored once per group. None: this job's own.
    resume_state : object or None, default=None
        A `FitOutcome.state` of the same model (same parameters but fewer epochs, same
        data): training continues from it instead of starting again. Exact: the continued
        run sees the same minibatches as a run from scratch would.
    keep_state : bool, default=False
        Return the final training state in the outcome (`FitOutcome.state`).
    epochs_hint : int or None, default=None
        Epochs this fit is expected to run (e.g. the mean over the same candidate's
        cross-validation fits); only the cost estimates for a lone model use it (its own
        program, a host program, or scikit-learn's NumPy fit).
    partial_fit_epochs : int or None, default=None
        For scikit-learn's MLPs: train as ``partial_fit`` called this many times on the
        data (``classes`` its labels), not as ``fit``: exactly that many epochs, the sample
        order shuffled afresh each epoch (with the RandomState of each call, as scikit-learn
        draws it), no stop by the tolerance rule (an 'adaptive' learning rate still drops),
        and, as ``partial_fit``, an error with ``early_stopping=True``. The estimator's
        ``max_iter`` is set to it; it trains from scratch (it is unfitted), and ends with
        ``n_iter_`` 1, as after a ``partial_fit`` call.
    classes : array-like or None, default=None
        With `partial_fit_epochs`, a classifier's ``classes`` for ``partial_fit`` (every
        label the data may have, as there); None: the labels of `y`.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from vgrid import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> job = FitJob(MLPClassifier(hidden_layer_sizes=(5,), max_iter=10, random_state=0), X, y)
    >>> (outcome,) = fit_estimators([job])
    >>> job.estimator.n_iter_, outcome.error
    (10, None)
    """

    estimator: Any
    X: Any
    y: Any
    sample_weight: Any = None
    data_key: Hashable = None
    #: A `FitOutcome.state` of the same model (same parameters but fewer epochs, same data):
    #: training continues from it instead of starting again. Exact: the continued run sees
    #: the same minibatches as a run from scratch would.
    resume_state: Any = None
    keep_state: bool = False  # return the final training state in the outcome
    #: Epochs this fit is expected to run (e.g. the mean over the same candidate's
    #: cross-validation fits); only the cost estimates for a lone model use it (its own
    #: program, a host program, or scikit-learn's NumPy fit).
    epochs_hint: int | None = None
    #: scikit-learn's MLPs: train as `partial_fit` called this many times, not as `fit`.
    partial_fit_epochs: int | None = None
    classes: Any = None  # with partial_fit_epochs: partial_fit's `classes`


@dataclass
class FitOutcome:
    """What happened to one job: its share of the fit wall time, and its error if it failed.

    Attributes
    ----------
    fit_time : float
        Seconds: the job's share of the wall time of the program that trained it (compile
        and training, divided among its models), plus its own host-side preparation.
    error : str or None
        The formatted traceback of a failed job (with ``raise_errors=False``), as
        scikit-learn's ``fit_error``; None if it succeeded.
    exception : BaseException or None
        The exception of a failed job.
    state : object or None
        With `FitJob.keep_state`: the final training state, to give a later job as its
        `resume_state`.
    resumed_epochs : int
        Epochs not trained again thanks to `FitJob.resume_state`.
    engine : str
        "vgrid", or "scikit-learn" when scikit-learn's own code fit the estimator (a
        solver or setting vgrid does not vectorize, or a lone model with
        ``allow_numpy_fit``).
    """

    fit_time: float = 0.0
    error: str | None = None  # formatted traceback, as scikit-learn's `fit_error`
    exception: BaseException | None = field(default=None, repr=False)
    state: Any = field(default=None, repr=False)  # with FitJob.keep_state
    resumed_epochs: int = 0  # epochs not trained again thanks to FitJob.resume_state
    engine: str = "vgrid"  # or "scikit-learn": fit by scikit-learn's own code (see fit_estimators)


def _record_failure(outcome, exc, raise_errors):
    if raise_errors:
        raise exc
    outcome.error = traceback.format_exc()
    outcome.exception = exc


def _timed(outcome: FitOutcome, raise_errors: bool, work, *args):
    """Run `work(*args)`, adding its seconds to the outcome and recording a failure in it.
    Its warnings are shown even where an earlier job's came from the same line: it runs under
    `warnings.catch_warnings()`, which resets Python's "once per location" record, as each
    job of scikit-learn's searches (and each of its fits) runs (so a grid shows each model's
    ConvergenceWarning, as scikit-learn's does)."""
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            return work(*args)
    except Exception as exc:  # noqa: BLE001 - reported like scikit-learn's fit_error
        _record_failure(outcome, exc, raise_errors)
    finally:
        outcome.fit_time += time.perf_counter() - start


def _route_lone_model(plan, job, outcome, allow_one_by_one, raise_errors):
    """A model alone in its program: train it in a compiled program that can hold it (when
    its kind finds that cheaper), or, with `allow_one_by_one`, by the estimator's reference
    code when its kind finds that cheaper still. Returns the plan to train, or None."""
    kind = plan.kind
    hosted = PROGRAMS.hosted_plan(plan)
    if hosted is not None and kind.prefers_host(plan, hosted, job):
        plan = hosted
    if (
        allow_one_by_one
        and hasattr(kind, "cheaper_one_by_one")
        and job.resume_state is None
        and not job.keep_state
        and kind.cheaper_one_by_one(plan, job, plan is hosted)
    ):
        with warnings.catch_warnings():  # preparing the job gave its warnings already
            warnings.filterwarnings("ignore", message="Got `batch_size` less than 1")
            outcome.engine = _timed(outcome, raise_errors, kind.fit_one_by_one, job)
        return None
    return plan


def _route_group(plan, n_threads):
    """A group of several models: train it in a compiled program that holds every one of
    them (`ProgramCache.hosted_plan`, for kinds that host groups) when its own is not
    compiled and its kind finds the host cheaper than compiling it. Returns the plan to train.
    """
    if not getattr(plan.kind, "hosts_groups", False) or PROGRAMS.is_compiled(plan):
        return plan
    hosted = PROGRAMS.hosted_plan(plan)
    if hosted is None:
        return plan
    if hosted.config == plan.config:  # its own program, compiled for larger tables
        return hosted
    threads = min(n_threads, plan.n_models)
    return hosted if plan.kind.prefers_host(plan, hosted, None, threads) else plan


def _no_model(k):
    """A failed job's snapshot: none."""
    return None


def _job_segment_hook(on_segment):
    """The scheduler's `on_segment(plan, members, states)` in terms of jobs: calls
    `on_segment(job_indices, n_iter, done, snapshot)`, where `snapshot(k)` is a copy of the k-th
    model's estimator with the public fitted attributes it would have if its training ended
    here, enough to predict and score (written by its kind's `finish(..., snapshot=True)`;
    None if that fails, e.g. non-finite weights), and returns its stop mask."""

    def hook(plan, members, states):
        chosen = [plan.members[i] for i in members]

        def snapshot(k):
            member = chosen[k]._replace(estimator=copy.copy(chosen[k].estimator))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the final fit gives its own warnings
                    plan.kind.finish(plan, member, states, k, snapshot=True)
            except ValueError:  # non-finite weights: the final fit reports it
                return None
            return member.estimator

        return on_segment(
            [p.job_index for p in chosen],
            np.array(states.n_iter),
            np.array(states.done),
            snapshot,
        )

    return hook


def fit_estimators(
    jobs: list[FitJob],
    *,
    raise_errors: bool = True,
    reports: list | None = None,
    progress: bool = False,
    allow_numpy_fit: bool = False,
    refit_rows: int | None = None,
    on_segment=None,
    plan_floors: dict | None = None,
    **schedule,
) -> list[FitOutcome]:
    """Fit every job's estimator in place, vectorizing all that can be; see the module docs.

    A model alone in its program trains in a program already compiled in this process when
    one can hold it (`scheduling.ProgramCache.hosted_plan`) and its kind finds that cheaper
    than its own program. A group of models, too, trains in an already compiled program
    that holds all of them (padded: the same numbers) when its kind hosts groups and finds
    that cheaper than compiling its own.

    Parameters
    ----------
    jobs : list of FitJob
        The estimators and their data. Estimators whose settings are not vectorized (an
        MLP with ``solver="lbfgs"``, a warm-start refit) are fit by their own code.
    raise_errors : bool, default=True
        False: a job that fails (invalid parameters, bad data, non-finite weights) is
        reported in its outcome, as scikit-learn's `_fit_and_score` does, and the other jobs
        are unaffected. True: the first failure is raised.
    reports : list or None, default=None
        When given, a `vgrid.plan.ProgramReport` per compiled program is appended to it.
    progress : bool, default=False
        Show a progress bar (tqdm, in a terminal or in Jupyter) counting trained models.
    allow_numpy_fit : bool, default=False
        An MLP that would be alone in its program is fit by scikit-learn's own NumPy code
        when the cost model (`CostModel.numpy_fit_is_cheaper`) finds that cheaper than
        compiling a program for it: the same numbers in exact mode (vgrid's fit reproduces
        scikit-learn's), sooner. Searches use it for their refit.
    refit_rows : int or None, default=None
        Give every program room for a later refit on that many rows (searches pass their
        number of samples), where extra minibatches cost nothing
        (`scheduling.skips_padding_batches`): the refit then compiles nothing.
    on_segment : callable or None, default=None
        ``on_segment(job_indices, n_iter, done, snapshot) -> bool mask`` is shown every
        model after each segment of `segment_epochs` epochs and stops the models it names
        there (pruning): a stopped model's estimator is what it was at that epoch.
        `snapshot(k)` is a copy of the k-th model's estimator as if its training ended
        there, with its public fitted attributes (to predict and score; not the optimizer
        state that `partial_fit` would continue from), or None if that fails (e.g.
        non-finite weights). A job that fails before it trains is shown once, done at epoch 0,
        its snapshot None.
    plan_floors : dict or None, default=None
        ``{kind name: floor}``, e.g. a `vgrid.plan.PlanFloor` for ``"mlp"``: what later calls
        will bring (the next batches of an Optuna study), so that the programs compiled now
        can hold them.
    **schedule
        `n_threads` (CPU worker threads), `n_slots` (models per program call),
        `segment_epochs`, `chunk_size` and `checkpoint` (a `vgrid.checkpoint.Checkpoint`),
        passed to `vgrid.scheduling.run_groups`: they change speed, memory and what
        survives a kill, never a score.

    Returns
    -------
    list of FitOutcome
        One per job, in order: its share of the fit time, its error if it failed.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.neural_network import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> jobs = [FitJob(MLPClassifier(hidden_layer_sizes=(5,), max_iter=10, random_state=0),
    ...                X, y),
    ...         FitJob(MLPClassifier(alpha=-1.0), X, y)]          # an invalid alpha
    >>> outcomes = fit_estimators(jobs, raise_errors=False)
    >>> jobs[0].estimator.n_iter_, outcomes[0].error, type(outcomes[1].exception).__name__
    (10, None, 'InvalidParameterError')
    """
    outcomes = [FitOutcome() for _ in jobs]
    caches: dict[str, dict] = {}
    members: dict[ModelKind, list] = {}
    for i, job in enumerate(jobs):
        kind = kind_of(job.estimator)
        if kind is None:
            raise TypeError(
                f"vgrid does not train {type(job.estimator).__name__}; its engine "
                "trains scikit-learn's MLPs and vgrid's Flax estimators."
            )
        if not kind.vectorizes(job.estimator):
            outcomes[i].engine = _timed(outcomes[i], raise_errors, kind.fit_one_by_one, job)
            continue
        member = _timed(
            outcomes[i], raise_errors, kind.prepare, i, job, caches.setdefault(kind.name, {})
        )
        if outcomes[i].error is None:
            members.setdefault(kind, []).append(member)
    n_threads = schedule.get("n_threads") or _default_worker_threads()
    room_rows = refit_rows if skips_padding_batches(schedule.get("n_slots")) else None
    plans = []
    for kind, kind_members in members.items():
        floor = (plan_floors or {}).get(kind.name)
        options = {} if floor is None else {"floor": floor}
        for plan in kind.plan(kind_members, n_threads=n_threads, room_rows=room_rows, **options):
            if plan.n_models == 1:
                index = plan.members[0].job_index
                plan = _route_lone_model(
                    plan, jobs[index], outcomes[index], allow_numpy_fit, raise_errors
                )
            else:
                plan = _route_group(plan, n_threads)
            if plan is not None:
                plans.append(plan)
    n_models = sum(plan.n_models for plan in plans)
    with tqdm(
        total=n_models, disable=not progress or not n_models, unit="model", desc="vgrid training"
    ) as bar:
        hook = None if on_segment is None else _job_segment_hook(on_segment)
        failed = [i for i, outcome in enumerate(outcomes) if outcome.error is not None]
        if on_segment is not None and failed:
            # shown once, done at epoch 0 without a model: a caller waiting for every job's
            # epochs (pruning) does not wait for these
            on_segment(failed, np.zeros(len(failed), int), np.ones(len(failed), bool), _no_model)
        finished = run_groups(
            plans,
            progress=(lambda: bar.update(1)) if progress else None,
            on_segment=hook,
            **schedule,
        )
    trained = []
    for plan, (states, report) in zip(plans, finished):
        if reports is not None:
            reports.append(report)
        share = (report.compile_seconds + report.train_seconds) / plan.n_models
        trained += [(plan, states, share, m, member) for m, member in enumerate(plan.members)]
    # In the jobs' order, as fits one after another end (verbose=True's lines, warnings)
    for plan, states, share, m, member in sorted(trained, key=lambda t: t[4].job_index):
        outcome, job = outcomes[member.job_index], jobs[member.job_index]
        outcome.fit_time += share
        if member.resume is not None:
            outcome.resumed_epochs = int(member.resume.n_iter)
        if job.keep_state:
            outcome.state = plan.kind.unpad_state(_row(states, m), member, plan)
        _timed(outcome, raise_errors, plan.kind.finish, plan, member, states, m)
    return outcomes


def _row(states, m):
    """Model m's state, without the model axis (a copy)."""
    return jax.tree.map(lambda a: np.array(a[m]), states)
