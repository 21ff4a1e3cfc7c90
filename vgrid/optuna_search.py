"""Batched Bayesian optimization with Optuna: trials asked in batches, each batch trained at once.

`OptunaSearchCV` is a scikit-learn search whose candidates come from an Optuna study instead of
a grid. It asks the study's sampler for a batch of trials (TPE's constant liar, on by default,
spreads a batch: the trials asked but not yet told count as bad ones), trains every (trial,
fold) of the batch in one vectorized evaluation (`vgrid.search`), tells the study each trial's
mean test score, and asks for the next batch. `cv_results_`, `best_*` and the refit are
scikit-learn's, one row per trial, plus a `status` column ("complete", "pruned" or "fail") and
the trial's Optuna `number`.

Pruning happens inside the vectorized training loop. With a pruner (e.g.
`optuna.pruners.MedianPruner()`), models train in segments of `segment_epochs` epochs; after
each segment every model is scored on its held-out fold, as it would be if its training ended
there (the scorer of the search, on the data the final score uses), and once every fold of a
trial has reached an epoch the mean over the folds is reported to the trial
(`trial.report(value, step=epoch)`), the value optuna_integration's `OptunaSearchCV` reports
after each `partial_fit`. With ``enable_pruning=True`` and `max_iter`, the MLPs train as there
(`partial_fit` called `max_iter` times) and are reported as there: `step` is the epoch minus
one, the last epoch included (``segment_epochs=1``: every epoch, the peer's reports). A trial
the pruner prunes stops all its models at once and frees their slots for the models still
running; every model of a group advances one segment before any advances two, so that trials
are compared at the same epoch. A pruned model's numbers up to its last epoch are those of its
unpruned run (training resumes exactly from a segment's state). An estimator vgrid does not
train (`SGDClassifier`, say) is pruned as optuna_integration prunes it, through its
`partial_fit`, one trial at a time (`vgrid.own_fit_runs`).

Pruned trials are `TrialState.PRUNED` in the study, with their last reported value. In
`cv_results_` their test scores are NaN, as scikit-learn writes a failed fit's: they rank last
and are never `best_*` or refit (a model stopped early is not the model the refit would
train), and `status` says "pruned" so that they are not mistaken for failures; their scores per
epoch are in the study (`trials_dataframe()`, `study_.trials[i].intermediate_values`) and their
loss curves, cut at the pruning epoch, in `learning_curves_`.

`optimize_study(study, estimator, X, y, ...)` runs the same batches on a study of your own.

Examples
--------
>>> import optuna
>>> from sklearn.datasets import load_iris
>>> from vgrid import MLPClassifier, OptunaSearchCV
>>> optuna.logging.set_verbosity(optuna.logging.WARNING)
>>> X, y = load_iris(return_X_y=True)
>>> space = {"learning_rate_init": optuna.distributions.FloatDistribution(1e-3, 1e-1, log=True)}
>>> search = OptunaSearchCV(MLPClassifier(max_iter=20, random_state=0), space, n_trials=6,
...                         trials_per_batch=3, cv=3, random_state=0).fit(X, y)
>>> len(search.cv_results_["params"]), len(search.study_.trials)
(6, 6)
"""

from __future__ import annotations

import copy
import logging
import math
import numbers
import threading
import time
import warnings
from collections import Counter, defaultdict
from contextlib import contextmanager, nullcontext

import numpy as np
from scipy.stats import rankdata
from sklearn.base import _fit_context, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import check_cv
from sklearn.model_selection._search import BaseSearchCV
from sklearn.utils import Bunch, _safe_indexing, check_random_state, get_tags
from sklearn.utils._metadata_requests import _routing_enabled, get_routing_for_object
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from sklearn.utils.validation import _num_samples, check_is_fitted
from threadpoolctl import threadpool_limits

from . import pipeline
from .own_fit_runs import OwnFitRun, PartialFitRun
from .plan import PlanFloor
from .scoring import FoldScorer
from .search import _note_not_vectorized, _VectorizedSearchMixin, is_vectorizable

__all__ = ["OptunaSearchCV", "optimize_study"]

#: optuna_integration's `max_iter`: `partial_fit` calls per fold when pruning.
_PEER_MAX_ITER = 1000


def _import_optuna():
    try:
        import optuna
    except ImportError as exc:
        raise ImportError(
            "vgrid.OptunaSearchCV and vgrid.optimize_study need Optuna, an optional "
            "dependency of vgrid: pip install 'vgrid[optuna]'"
        ) from exc
    return optuna


def _nan_like(scores):
    return {name: np.nan for name in scores} if isinstance(scores, dict) else np.nan


def _n_choices(dist) -> int | None:
    """How many values a BruteForceSampler enumerates for `dist` (None: a continuous one,
    which it rejects)."""
    if hasattr(dist, "choices"):
        return len(dist.choices)
    step = getattr(dist, "step", None)
    if step is None:
        return None
    return int(round((dist.high - dist.low) / step)) + 1


def _log_as_optimize_logs(study, frozen, value) -> None:
    """The line `study.optimize` logs for a trial it ran, which a script ported from
    optuna_integration (whose search runs in `study.optimize`) printed: "Trial N finished
    with value ...", "Trial N pruned. ..." or a failed value's warning. Optuna's own functions
    for them are private: an Optuna without them logs nothing here."""
    from optuna.trial import TrialState

    try:
        if frozen.state == TrialState.COMPLETE:
            study._log_completed_trial(frozen.values, frozen.number, frozen.params)
        elif frozen.state == TrialState.PRUNED:
            logging.getLogger("optuna.study._optimize").info(
                f"Trial {frozen.number} pruned. trial was pruned at iteration {frozen.last_step}."
            )
        else:
            from optuna.study._optimize import _log_failed_trial

            _log_failed_trial(
                frozen.number,
                frozen.params,
                f"The value {value} is not acceptable",
                value_or_values=value,
            )
    except (AttributeError, ImportError, TypeError):
        pass


def _rank(means):
    """scikit-learn's ranks of mean test scores: NaN ties with the worst."""
    if np.isnan(means).all():
        return np.ones_like(means, dtype=np.int32)
    filled = np.nan_to_num(means, nan=np.nanmin(means) - 1)
    return rankdata(-filled, method="min").astype(np.int32, copy=False)


def _widest_choices(dist):
    """What a distribution of `hidden_layer_sizes` can produce that a program must hold:
    tuples of hidden sizes (an integer range's widest, or every categorical choice), or None
    when that is not known."""
    optuna = _import_optuna()
    if isinstance(dist, optuna.distributions.IntDistribution):
        return [(dist.low + (dist.high - dist.low) // dist.step * dist.step,)]
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        archs = []
        for choice in dist.choices:
            arch = (choice,) if isinstance(choice, numbers.Integral) else choice
            if not isinstance(arch, (tuple, list)) or not all(
                isinstance(h, numbers.Integral) and int(h) > 0 for h in arch
            ):
                return None
            archs.append(tuple(int(h) for h in arch))
        return archs
    return None


def _batch_floor(estimator, space, n_jobs, n_splits, later_batches):
    """The `plan.PlanFloor` of one batch of an MLP study: room for every architecture and
    activation the search space can produce (its distributions' bounds are known up front)
    and for the tables a full batch of `n_jobs` (trial, fold) fits brings, so that the
    program the first batch compiles can train every later batch (None for other models)."""
    from sklearn.neural_network._multilayer_perceptron import BaseMultilayerPerceptron

    name, model = pipeline.final_step(estimator)
    if not isinstance(model, BaseMultilayerPerceptron):
        return None
    prefix = "" if name is None else f"{name}__"
    archs: tuple[tuple[int, ...], ...] = ()
    activations: tuple[str, ...] = ()
    if prefix + "hidden_layer_sizes" in space:
        archs = tuple(_widest_choices(space[prefix + "hidden_layer_sizes"]) or ())
    dist = space.get(prefix + "activation")
    if dist is not None and hasattr(dist, "choices"):
        activations = tuple(str(c) for c in dist.choices)
    return PlanFloor(
        architectures=archs,
        activations=activations,
        min_shapes={"n_data": n_splits, "n_inits": n_jobs, "n_orders": n_jobs},
        later_calls=later_batches,
    )


class _BatchPruning:
    """Reports each trial of a batch to Optuna as its folds' models train, and names the
    models of pruned trials. One instance per batch; `hook` gives `fit_estimators` its
    `on_segment` for one block of jobs. Thread-safe (worker threads call it)."""

    def __init__(self, trials, n_splits: int, every: int, metric: str, last_epoch=None):
        self.trials, self.n_splits, self.every, self.metric = trials, n_splits, every, metric
        #: With `partial_fit` epochs (optuna_integration's way): the epoch every model ends
        #: at, reported too (and pruned at), and steps numbered as there (epoch - 1).
        self.last_epoch = last_epoch
        self.reported_last: set[int] = set()  # trials whose last epoch was reported
        #: (candidate, split) -> {epoch: test score}
        self.scores: defaultdict[tuple, dict] = defaultdict(dict)
        self.ended: dict[tuple, int] = {}  # (candidate, split) -> the epoch its model ended at
        #: candidate -> next epoch to report
        self.next_step: defaultdict[int, int] = defaultdict(lambda: every)
        self.pruned: dict[int, int] = {}  # candidate -> the epoch it was pruned at
        self.lock = threading.Lock()

    def hook(self, jobs, scorer):
        """`on_segment` for `jobs`: ((candidate, split, parameters), fitted estimator, fold).
        A fold of these candidates that is not among them failed before training (its
        preprocessing): it counts as NaN, left out of the reported mean."""
        present = {(c, s) for (c, s, _), _, _ in jobs}
        for c in {c for c, _ in present}:
            for s in range(self.n_splits):
                if (c, s) not in present:
                    self.scores[c, s][0], self.ended[c, s] = np.nan, 0

        def on_segment(job_indices, n_iter, done, snapshot):
            with self.lock:
                return [
                    self._observe(
                        jobs[j], int(n_iter[k]), bool(done[k]), lambda k=k: snapshot(k), scorer
                    )
                    for k, j in enumerate(job_indices)
                ]

        return on_segment

    def _observe(self, job, epoch, done, snapshot, scorer) -> bool:
        (c, s, _), fitted, fold = job
        if c in self.pruned:
            return True
        scores = self.scores[c, s]
        if epoch not in scores:
            scores[epoch] = self._score(snapshot(), fitted, fold, scorer)
        if done:
            self.ended[c, s] = epoch
        self._report(c)
        return c in self.pruned

    def _score(self, model, fitted, fold, scorer) -> float:
        if model is None:  # non-finite weights
            return np.nan
        estimator = model
        if fitted is not model and pipeline.final_step(fitted)[0] is not None:
            estimator = copy.copy(fitted)
            estimator.steps = [*fitted.steps[:-1], (fitted.steps[-1][0], model)]
        value = scorer.score(estimator, *fold["test"], fold["score_test"], np.nan)
        return float(value[self.metric] if isinstance(value, dict) else value)

    def report_step(self, c: int, step: int, value: float) -> bool:
        """Report trial c's `value` at `step` and ask the pruner (a `PartialFitRun`'s round of
        `partial_fit` calls); whether the trial is pruned."""
        trial = self.trials[c]
        trial.report(value, step)
        if trial.should_prune():
            self.pruned[c] = step
        return c in self.pruned

    def _report(self, c):
        """Report every epoch that all of trial c's folds have reached (a fold that finished
        earlier counts with its final score; a fold whose weights are not finite is left out
        of the mean, as optuna_integration's nanmean leaves a failed fold out), asking the
        pruner after each; a trial whose folds have all finished is only told its final score,
        never pruned, except with `last_epoch` (partial_fit epochs), where that epoch is
        reported and pruned at, as optuna_integration does."""
        folds = [(c, s) for s in range(self.n_splits)]
        while c not in self.pruned:
            step = self.next_step[c]
            if self.last_epoch is not None:
                if c in self.reported_last:
                    return
                step = min(step, self.last_epoch)
                if all(key in self.ended and self.ended[key] < step for key in folds):
                    return
            elif all(key in self.ended and self.ended[key] <= step for key in folds):
                return
            values = []
            for key in folds:
                if step in self.scores[key]:
                    values.append(self.scores[key][step])
                elif key in self.ended and self.ended[key] < step:
                    values.append(self.scores[key][self.ended[key]])
                else:
                    return  # a fold has not reached this epoch yet
            trial = self.trials[c]
            with warnings.catch_warnings():  # every fold NaN: NaN, reported as such
                warnings.simplefilter("ignore", RuntimeWarning)
                value = float(np.nanmean(values))  # a failed fold is left out, as the peer does
            trial.report(value, step if self.last_epoch is None else step - 1)
            if step == self.last_epoch:
                self.reported_last.add(c)
            self.next_step[c] = step + self.every
            if trial.should_prune():
                self.pruned[c] = step


@contextmanager
def _optimize_loop(study):
    """Inside, `study.stop()` works as inside `study.optimize` (a callback's, or a sampler's
    in `after_trial`, e.g. BruteForceSampler's once every combination is seen): Optuna marks
    the thread of its optimize loop and then reads the flag that `stop()` sets; the batches
    are that loop here. Yields a function that says whether `stop()` was called. The outer
    state is restored after (a search may itself run inside an optimize loop of the study).
    """
    in_loop = hasattr(study, "_thread_local") and hasattr(study, "_stop_flag")
    if not in_loop:  # another Optuna: stop() is not ours to honour
        yield lambda: False
        return
    outer = getattr(study._thread_local, "in_optimize_loop", False), study._stop_flag
    study._thread_local.in_optimize_loop, study._stop_flag = True, False
    try:
        yield lambda: bool(study._stop_flag)
    finally:
        study._thread_local.in_optimize_loop, study._stop_flag = outer


def _read_from_study(name: str, doc: str) -> property:
    """A fitted search's attribute that is the study's `name` (optuna_integration's)."""

    def read(self):
        check_is_fitted(self, "study_")
        try:
            return getattr(self.study_, name)
        except ValueError as error:  # e.g. no completed trial: the attribute is not there
            raise AttributeError(str(error)) from error

    return property(read, doc=f"{doc} (`study_.{name}`)")


class _SubsampleFolds:
    """`cv`'s folds of the rows `indices` of the data, as row numbers of the whole data."""

    def __init__(self, cv, indices):
        self.cv, self.indices = cv, indices

    def _sample(self, *arrays):
        return [None if a is None else _safe_indexing(a, self.indices) for a in arrays]

    def split(self, X, y=None, groups=None):
        for train, test in self.cv.split(*self._sample(X, y, groups)):
            yield self.indices[train], self.indices[test]

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.cv.get_n_splits(*self._sample(X, y, groups))

    def get_metadata_routing(self):
        return get_routing_for_object(self.cv)

    def __repr__(self):
        return f"{self.cv!r} on {len(self.indices)} rows (subsample)"


class OptunaSearchCV(_VectorizedSearchMixin, BaseSearchCV):
    """Bayesian optimization with Optuna, each batch of trials trained at once by vgrid.

    One program per study: for an MLP (or a Pipeline ending in one), the first batch compiles
    a program wide enough for every architecture and activation the search space can produce
    (the upper bound of an `IntDistribution` of ``hidden_layer_sizes``, every choice of a
    `CategoricalDistribution`) and for the tables of a full batch, when the cost model finds
    that padding the first batch costs less than the compilations it saves
    (`vgrid.plan.PlanFloor`); every later batch trains in that program, padded and masked,
    with the same numbers, and compiles nothing (`vgrid.scheduling.ProgramCache` hosts it).

    Parameters
    ----------
    estimator : estimator
        vgrid's or scikit-learn's MLP, a `vgrid.FlaxClassifier`/`FlaxRegressor`, or a
        Pipeline ending in one. Other estimators are evaluated by scikit-learn's own code;
        with ``enable_pruning=True`` they train as optuna_integration trains them (see
        `max_iter`).
    param_distributions : dict of str to optuna.distributions.BaseDistribution
        The search space, e.g. ``{"alpha": FloatDistribution(1e-6, 1e-1, log=True),
        "hidden_layer_sizes": IntDistribution(16, 256)}``.
    n_trials : int or None, default=10
        Trials to run (None: until `timeout`).
    trials_per_batch : int or "auto", default="auto"
        Trials asked, trained and told together. "auto": ``max(16, ceil(n_trials / 4))``
        (at most `n_trials`; 16 without `n_trials`), about four rounds of the sampler; 1 for
        an estimator pruned through its `partial_fit` (see `max_iter`), as there. More
        trials per batch keep more models training at once, fewer let the sampler learn from
        more results. Batches after the first compile nothing (see "One program per study"
        above). On the setup of benchmarks/bench_optuna.py (48 trials), 8, 12 and 16 per batch
        reached about the same best scores over four sampler seeds. With a
        `BruteForceSampler`, a batch asks at most the combinations no trial has taken yet
        (it would repeat them).
    sampler : optuna.samplers.BaseSampler or None, default=None
        None: ``TPESampler(seed=..., constant_liar=True)``, seeded from `random_state`.
    pruner : optuna.pruners.BasePruner or None, default=None
        None: no pruning (see `enable_pruning`). `MedianPruner` compares a trial with
        completed trials only, so its decisions do not depend on the order of the worker
        threads; pruners that compare running trials (`SuccessiveHalvingPruner`,
        `HyperbandPruner`) may.
    study : optuna.study.Study or None, default=None
        A study of your own (direction "maximize"); its sampler is used, and its pruner
        with ``enable_pruning=True``; `sampler` and `pruner` must then be None. None: a
        new in-memory study.
    segment_epochs : int, default=5
        With a pruner, epochs between two reports to it.
    scoring : str, callable, list, tuple, dict or None, default=None
        As in scikit-learn's `RandomizedSearchCV`, but a `sample_weight` passed to `fit`
        weights the fits only, not the scores, as in optuna_integration (without metadata
        routing; with it, a scorer that requests `sample_weight` gets it).
    refit : bool, str or callable, default=True
        As in scikit-learn's `RandomizedSearchCV`. With several scorers, `refit` names the
        one optimized.
    cv : int, cross-validation generator or iterable, default=None
        As in scikit-learn's `RandomizedSearchCV`.
    verbose : int, default=0
        As in `vgrid.RandomizedSearchCV`.
    error_score : "raise" or float, default=np.nan
        As in scikit-learn's `RandomizedSearchCV`; a failed trial is `FAIL` in the study.
    return_train_score : bool, default=False
        As in scikit-learn's `RandomizedSearchCV`.
    n_jobs : int or None, default=None
        As in `vgrid.RandomizedSearchCV`: CPU worker threads for a vectorized search,
        scikit-learn's meaning for estimators vgrid does not vectorize.
    pre_dispatch : int or str, default="2*n_jobs"
        Only for estimators vgrid does not vectorize (scikit-learn's meaning).
    timeout : float or None, default=None
        Seconds after which no new batch is asked (the batch in flight finishes; the first
        batch always runs).
    random_state : int, RandomState or None, default=None
        Draws the `subsample`, then seeds the default sampler (as optuna_integration's
        `OptunaSearchCV` does).
    enable_pruning : bool or None, default=None
        None: prune when `pruner` is given. True: prune with `pruner`, or else the study's
        pruner (Optuna's default `MedianPruner` for a new study), as optuna_integration's
        ``enable_pruning=True`` does. False: never prune. A study's own pruner is used only
        with True, as in optuna_integration, so that a ported script prunes when it did.
    subsample : float or int, default=1.0
        The rows the search runs on, as in optuna_integration: a float, that share of the
        samples; an int, that many; drawn at random (without replacement, from
        `random_state`) when fewer than all. The folds split those rows; the refit uses
        every sample.
    callbacks : list of callables or None, default=None
        Each is called as ``callback(study, frozen_trial)`` for every trial once it is told
        (at the end of its batch, in trial order), as `study.optimize` calls its callbacks; one
        that calls ``study.stop()`` (e.g. `optuna.study.MaxTrialsCallback`) ends the search
        after that batch, as does a sampler that calls it (`BruteForceSampler`, every
        combination seen).
    max_iter : int or None, default=None
        optuna_integration's number of ``partial_fit`` epochs per fold when pruning. With
        ``enable_pruning=True`` and an int, each fold of a scikit-learn MLP trains as
        ``partial_fit`` called `max_iter` times (``classes`` the labels of the rows searched,
        as there): exactly that many epochs, shuffled as those calls shuffle, with no stop by
        the tolerance rule, as optuna_integration trains it; an unpruned trial then scores as
        there (the refit is a plain ``fit``, as there). None (optuna_integration's default is
        1000): each model trains as its own ``fit`` does. Ignored without pruning, as there.
        A Flax estimator trains as its own ``fit`` does (with a warning if `max_iter` is set).
        An estimator vgrid does not train is, with ``enable_pruning=True``, trained as
        optuna_integration trains it (`vgrid.own_fit_runs.PartialFitRun`): each fold by
        ``partial_fit`` called `max_iter` times (None: 1000, as there), the folds' mean test
        score reported after each round of calls (steps from 0), one trial at a time; it must
        have ``partial_fit``, as there. (Fit parameters such as ``sample_weight`` are sliced
        to each fold's rows, as scikit-learn's searches slice them; the peer passes them
        whole, which fails.) A `pruner` alone does not prune it (a warning says so).
    catch : exception class or tuple of them, default=()
        As in `study.optimize`: a trial whose parameters raise one of these when suggested is
        FAIL and the search goes on, as is a batch whose evaluation raises one (its trials
        then have no rows in `cv_results_`); any other exception (KeyboardInterrupt too) is
        raised after every trial of its batch not yet told is told FAIL and the callbacks
        have seen those finished. Failed fits are scored `error_score`, as in scikit-learn;
        a batch whose every fit fails only warns (scikit-learn's searches raise) and the
        search goes on, as optuna_integration's does. If no trial of the search is
        COMPLETE or PRUNED, `fit` raises (nothing to choose or refit).

    Attributes
    ----------
    study_ : optuna.study.Study
        The study, with every trial of this fit (and of earlier ones, for your own study).
    cv_results_ : dict of numpy arrays
        scikit-learn's keys, one row per trial of this fit in the order asked, plus
        ``status`` ("complete", "pruned" or "fail") and ``number`` (the Optuna trial
        number). Pruned trials have NaN test (and train) scores. A trial's mean (and std)
        score is over its folds whose score is not NaN, as optuna_integration computes a
        trial's value: a fold that failed (with ``error_score=np.nan``) is left out, where
        scikit-learn's searches give NaN.
    best_estimator_, best_score_, best_params_, best_index_, refit_time_, scorer_
        As in `vgrid.RandomizedSearchCV`; pruned trials are never `best_*`.
    n_splits_, multimetric_, learning_curves_, vectorization_, refit_engine_
        As in `vgrid.RandomizedSearchCV` (a pruned model's curves end at its pruning
        epoch). For an estimator vgrid does not train, `refit_engine_` is "scikit-learn"
        (its own ``fit``) and there are no `learning_curves_` or `vectorization_`.
    n_batches_ : int
        Batches run.
    sample_indices_ : ndarray of int
        The rows the search ran on (`subsample`).
    best_trial_, trials_, n_trials_, user_attrs_, set_user_attr
        optuna_integration's: the study's best trial, its trials (earlier fits' included),
        their number, its user attributes and `study_.set_user_attr`. Each trial's folds'
        scores are reported to Optuna's Terminator (`report_cross_validation_scores`), as
        optuna_integration reports them.

    Examples
    --------
    >>> import optuna
    >>> from sklearn.datasets import load_wine
    >>> from vgrid import MLPClassifier
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> X, y = load_wine(return_X_y=True)
    >>> space = {"alpha": optuna.distributions.FloatDistribution(1e-5, 1.0, log=True)}
    >>> search = OptunaSearchCV(MLPClassifier(max_iter=30, random_state=0), space,
    ...     n_trials=8, trials_per_batch=4, pruner=optuna.pruners.MedianPruner(),
    ...     cv=3, random_state=0).fit(X / X.max(0), y)
    >>> search.n_batches_, set(search.cv_results_["status"]) <= {"complete", "pruned"}
    (2, True)
    """

    _parameter_constraints: dict = {
        **BaseSearchCV._parameter_constraints,
        "param_distributions": [dict],
        "n_trials": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "trials_per_batch": [
            StrOptions({"auto"}),
            Interval(numbers.Integral, 1, None, closed="left"),
        ],
        "sampler": "no_validation",
        "pruner": "no_validation",
        "study": "no_validation",
        "segment_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "timeout": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "random_state": ["random_state"],
        "enable_pruning": ["boolean", None],
        "subsample": [
            Interval(RealNotInt, 0, 1, closed="right"),
            Interval(numbers.Integral, 1, None, closed="left"),
        ],
        "callbacks": [list, tuple, None],
        # Checked in `fit`, with optuna_integration's errors (ValueError, its wording).
        "estimator": "no_validation",
        "error_score": "no_validation",
        "max_iter": [numbers.Integral, None],
        "catch": "no_validation",
    }

    def __init__(
        self,
        estimator,
        param_distributions,
        *,
        n_trials=10,
        trials_per_batch="auto",
        sampler=None,
        pruner=None,
        study=None,
        segment_epochs=5,
        scoring=None,
        refit=True,
        cv=None,
        timeout=None,
        random_state=None,
        verbose=0,
        error_score=np.nan,
        return_train_score=False,
        n_jobs=None,
        pre_dispatch="2*n_jobs",
        enable_pruning=None,
        subsample=1.0,
        callbacks=None,
        max_iter=None,
        catch=(),
    ):
        super().__init__(
            estimator,
            scoring=scoring,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            pre_dispatch=pre_dispatch,
            error_score=error_score,
            return_train_score=return_train_score,
        )
        self.param_distributions = param_distributions
        self.n_trials = n_trials
        self.trials_per_batch = trials_per_batch
        self.sampler = sampler
        self.pruner = pruner
        self.study = study
        self.segment_epochs = segment_epochs
        self.timeout = timeout
        self.random_state = random_state
        self.enable_pruning = enable_pruning
        self.subsample = subsample
        self.callbacks = callbacks
        self.max_iter = max_iter
        self.catch = catch

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, **params):
        """Run the study's trials, batch by batch; see the class docs. Returns self."""
        optuna = _import_optuna()
        self._check_compatible_params(optuna)
        if self.n_trials is None and self.timeout is None:
            raise ValueError(
                "n_trials and timeout are both None: the search would never end. "
                "Set n_trials, timeout or both."
            )
        if self.study is not None:
            if self.sampler is not None or self.pruner is not None:
                raise ValueError(
                    "A study brings its own sampler and pruner: pass sampler=None "
                    "and pruner=None with study=, or set them on the study."
                )
            if len(self.study.directions) != 1 or (
                self.study.direction != optuna.study.StudyDirection.MAXIMIZE
            ):
                raise ValueError(
                    "OptunaSearchCV maximizes one score (scikit-learn's scorers are "
                    "greater-is-better): the direction of study must be 'maximize'; got "
                    f"directions {[d.name for d in self.study.directions]}. Create it with "
                    "optuna.create_study(direction='maximize')."
                )
            self.study_ = self.study
        # One RandomState, drawn from as optuna_integration draws: the subsample, then the seed.
        random_state = check_random_state(self.random_state)
        self.sample_indices_ = self._subsample(X, random_state)
        if self.study is None:
            sampler = self.sampler
            if sampler is None:
                seed = (
                    None
                    if self.random_state is None
                    else int(random_state.randint(0, np.iinfo("int32").max))
                )
                sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True)
            # Without a pruner, `enable_pruning=True` prunes with Optuna's default one.
            pruner = self.pruner
            if pruner is None and not self.enable_pruning:
                pruner = optuna.pruners.NopPruner()
            self.study_ = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
        prunes = self.pruner is not None if self.enable_pruning is None else self.enable_pruning
        self._prunes = prunes and not isinstance(self.study_.pruner, optuna.pruners.NopPruner)
        partial = self._partial_fit_epochs()
        if partial is not None and self._prunes and 1 < self.segment_epochs >= partial:
            warnings.warn(
                f"segment_epochs={self.segment_epochs} >= max_iter={partial}: each trial is "
                "reported to the pruner at its last epoch only (nothing saved); "
                "segment_epochs=1 reports every epoch, as optuna_integration does.",
                UserWarning,
                stacklevel=3,
            )
        self._metric = self._objective_metric()
        for name in ("learning_curves_", "vectorization_", "refit_engine_"):
            self.__dict__.pop(name, None)  # an earlier fit's, which this one may not set
        self._pruned_rows: set[int] = set()
        self._fit_errors: Counter = Counter()  # every failed fit's error, for the last word
        self._pruning, self._first_row = None, 0
        self._floor = None
        cv = self.cv
        if len(self.sample_indices_) < _num_samples(X):
            # The search's folds split the subsample (the refit takes every sample).
            y_sample = None if y is None else _safe_indexing(y, self.sample_indices_)
            self.cv = _SubsampleFolds(
                check_cv(cv, y_sample, classifier=is_classifier(self.estimator)),
                self.sample_indices_,
            )
        try:
            # Every estimator through the facade's fit: vgrid's engine, or a run of the
            # estimator's own code (`vgrid.own_fit_runs`, see `_start_run`).
            if not self._trains_by_partial_fit() and not self._vectorized():
                _note_not_vectorized(self.estimator)
            self._fit_vectorized(X, y, **params)
            if hasattr(self, "best_index_"):  # a row of cv_results_, as a Python int
                self.best_index_ = int(self.best_index_)
            return self
        finally:
            self.cv = cv
            del self._pruning, self._pruned_rows, self._first_row, self._prunes, self._floor
            del self._fit_errors

    def _check_compatible_params(self, optuna):
        """The checks of optuna_integration's `OptunaSearchCV`, raising its errors (a ported
        script that catches them still does), with what was received and what to do."""
        if not hasattr(self.estimator, "fit"):
            raise ValueError(
                "estimator must be a scikit-learn estimator (an object with a fit method); got "
                f"{self.estimator!r} of type {type(self.estimator).__name__}."
            )
        for name, dist in self.param_distributions.items():
            if not isinstance(dist, optuna.distributions.BaseDistribution):
                raise ValueError(
                    # optuna_integration's words first (a ported script may match them)
                    f"Value of {name} must be a optuna distribution: param_distributions"
                    f"[{name!r}] is {dist!r} of type {type(dist).__name__}; use an instance of "
                    "optuna.distributions.BaseDistribution, e.g. optuna.distributions."
                    "FloatDistribution(1e-4, 1e-1, log=True) or CategoricalDistribution([...])."
                )
            # (private to Optuna, which keeps its old classes for a while; without it, none)
            convert = getattr(
                optuna.distributions, "_convert_old_distribution_to_new_distribution", lambda d: d
            )
            if dist != convert(dist):
                raise ValueError(
                    f"Deprecated distribution is specified in `{name}` of param_distributions: "
                    f"{dist!r}. Use its successor, {convert(dist)!r}."
                )
        if self.max_iter is not None and self.max_iter <= 0:
            raise ValueError(
                f"max_iter must be > 0, got {self.max_iter}: optuna_integration's number of "
                "partial_fit epochs when pruning (see the parameter's documentation)."
            )
        partial = self._partial_fit_epochs()
        vectorized = self._vectorized()
        if not vectorized and not hasattr(self.estimator, "partial_fit"):
            if self.enable_pruning:
                raise ValueError(
                    "estimator must support partial_fit. With enable_pruning=True, an estimator "
                    "vgrid does not train trains as optuna_integration trains it: partial_fit "
                    f"called max_iter times per fold; {self.estimator!r} has no partial_fit. "
                    "Use enable_pruning=False to fit it whole, unpruned."
                )
        if not vectorized and self.enable_pruning is None and self.pruner is not None:
            warnings.warn(
                f"pruner={self.pruner!r} is not used: vgrid prunes the networks it trains, "
                f"and {type(self.estimator).__name__} is fit whole, unpruned. "
                "enable_pruning=True trains it as optuna_integration does, by partial_fit "
                "(max_iter calls per fold), if it has partial_fit.",
                UserWarning,
                stacklevel=4,
            )
        if partial is not None and not hasattr(self.estimator, "partial_fit"):
            raise ValueError(
                f"estimator must support partial_fit. With enable_pruning=True and max_iter, "
                f"each fold trains as partial_fit called max_iter times, which "
                f"{self.estimator!r} does not have (lbfgs): use solver='adam' or 'sgd', or "
                "max_iter=None for its own fit."
            )
        if self.enable_pruning and self.max_iter is not None and vectorized and partial is None:
            warnings.warn(
                f"max_iter={self.max_iter} is optuna_integration's number of partial_fit "
                "epochs per fold when pruning, which vgrid follows for scikit-learn's MLPs; "
                f"{type(self.estimator).__name__} trains as its own fit does (set its own "
                "epochs instead).",
                UserWarning,
                stacklevel=4,
            )
        if not (
            isinstance(self.error_score, numbers.Real)
            or (isinstance(self.error_score, str) and self.error_score == "raise")
        ):
            raise ValueError(
                f"error_score must be 'raise' or numeric, got {self.error_score!r}: 'raise' "
                "stops the search at a failed fit, a number (e.g. np.nan) is its score."
            )
        try:
            valid = all(isinstance(c, type) and issubclass(c, Exception) for c in self._catch())
        except TypeError:  # not iterable
            valid = False
        if not valid:
            raise ValueError(
                f"catch must be an exception class or a tuple of them, got {self.catch!r} "
                "(e.g. catch=(ValueError,); () catches nothing)."
            )

    def _partial_fit_epochs(self):
        """`max_iter` when the folds train as optuna_integration trains them when pruning:
        `partial_fit` called `max_iter` times (scikit-learn's MLPs, `enable_pruning=True`)."""
        from sklearn.neural_network._multilayer_perceptron import BaseMultilayerPerceptron

        if (
            self.enable_pruning
            and isinstance(self.estimator, BaseMultilayerPerceptron)
            and self._vectorized()
        ):
            return self.max_iter
        return None

    def _trains_by_partial_fit(self) -> bool:
        """Whether the trials train as optuna_integration trains them with its
        ``enable_pruning=True`` (`PartialFitRun`): asked for so, with an estimator vgrid does
        not train and that has `partial_fit`."""
        return (
            bool(self.enable_pruning)
            and not self._vectorized()
            and hasattr(self.estimator, "partial_fit")
        )

    def _vectorized(self) -> bool:
        """Whether vgrid's engine trains the estimator (else its own code does)."""
        return is_vectorizable(self.estimator, self.param_distributions)

    def _start_run(self, base_estimator, X, y, params, scorers, routed_params):
        if not self._vectorized() and not self._trains_by_partial_fit():
            return OwnFitRun(
                base_estimator,
                X,
                y,
                scorers,
                fit_params=routed_params.estimator.fit,
                score_params=routed_params.scorer.score,
                error_score=self.error_score,
                return_train_score=self.return_train_score,
                verbose=self.verbose,
                n_jobs=self.n_jobs,
                pre_dispatch=self.pre_dispatch,
            )
        if self._trains_by_partial_fit():
            classes = None  # optuna_integration's `classes`: the labels of the rows searched
            if is_classifier(self.estimator) and y is not None:
                classes = np.unique(_safe_indexing(y, self.sample_indices_))
            return PartialFitRun(
                base_estimator,
                X,
                y,
                scorers,
                max_iter=_PEER_MAX_ITER if self.max_iter is None else self.max_iter,
                classes=classes,
                metric=self._metric,
                report=self._report_step,
                fit_params=routed_params.estimator.fit,
                score_params=routed_params.scorer.score,
                error_score=self.error_score,
                return_train_score=self.return_train_score,
                verbose=self.verbose,
            )
        run = super()._start_run(base_estimator, X, y, params, scorers, routed_params)
        # optuna_integration's n_jobs are threads of study.optimize: every fit keeps every
        # BLAS thread (no limit as for scikit-learn's loky workers)
        run.blas_threads = None
        run.partial_fit_epochs = self._partial_fit_epochs()
        if run.partial_fit_epochs is not None and is_classifier(self.estimator):
            # optuna_integration's `classes`: the labels of the rows the search runs on
            run.partial_fit_classes = np.unique(_safe_indexing(y, self.sample_indices_))
        return run

    def _report_step(self, c: int, step: int, value: float) -> bool:
        """A `PartialFitRun`'s report of the batch's candidate c; whether it is pruned."""
        assert self._pruning is not None  # every batch of such a run reports
        return self._pruning.report_step(c, step, value)

    def _check_is_fitted(self):
        """Raise `NotFittedError` unless fitted (optuna_integration's method)."""
        check_is_fitted(self, ["n_splits_", "sample_indices_", "scorer_", "study_"])
        if self.refit:
            check_is_fitted(self, ["best_estimator_", "refit_time_"])

    def _catch(self) -> tuple:
        """`catch` as a tuple, as `study.optimize` takes it (one class or an iterable)."""
        return (self.catch,) if isinstance(self.catch, type) else tuple(self.catch)

    @property
    def _estimator_type(self):
        """The estimator's type ("classifier", "regressor", ...), as optuna_integration's."""
        return get_tags(self.estimator).estimator_type

    def _subsample(self, X, random_state):
        """The rows the search runs on, as optuna_integration draws them: all of them, or a
        sorted random choice of `subsample` rows (a float: that share of them)."""
        n_samples = _num_samples(X)
        size = self.subsample
        if not isinstance(size, numbers.Integral):
            size = int(size * n_samples)
            if size < 1:
                raise ValueError(
                    f"subsample={self.subsample!r} keeps no row of {n_samples}: give a larger "
                    "share, or a number of rows (an int)."
                )
        indices = np.arange(n_samples)
        if size < n_samples:
            indices = np.sort(random_state.choice(indices, size, replace=False))
        return indices

    # optuna_integration's OptunaSearchCV attributes, read from the study.
    best_trial_ = _read_from_study("best_trial", "The study's best trial.")
    trials_ = _read_from_study("trials", "Every trial of the study, earlier fits' included.")
    user_attrs_ = _read_from_study("user_attrs", "The study's user attributes.")
    set_user_attr = _read_from_study("set_user_attr", "The study's `set_user_attr(key, value)`.")

    @property
    def n_trials_(self) -> int:
        """`len(trials_)`."""
        return len(self.trials_)

    def _objective_metric(self) -> str:
        """The scorer name whose mean test score Optuna maximizes ("score" for one scorer)."""
        if self.scoring is None or isinstance(self.scoring, str):
            return "score"
        if callable(self.scoring):  # a callable returning a dict names its metric in refit
            return self.refit if isinstance(self.refit, str) else "score"
        if not isinstance(self.refit, str):
            raise ValueError(
                "With several scorers OptunaSearchCV needs the one to maximize: "
                f"set refit to one of their names, got refit={self.refit!r}."
            )
        return self.refit

    def _batch_size(self) -> int:
        if self.trials_per_batch != "auto":
            return self.trials_per_batch
        if self._trains_by_partial_fit():  # one trial at a time, as optuna_integration runs
            return 1
        if self.n_trials is None:
            return 16
        return min(self.n_trials, max(16, math.ceil(self.n_trials / 4)))

    def _run_search(self, evaluate_candidates, callback_ctx=None):
        """Ask a batch of trials, evaluate them at once, tell their scores; repeat. Each batch
        is run as `study.optimize` runs a trial: a trial whose suggestion or batch raises is
        FAIL (and the search goes on if the error is one of `catch`); the callbacks see every
        finished trial; `study.stop()` (a callback's, or a sampler's) ends the search after
        the batch."""
        study, batch = self.study_, self._batch_size()
        start, asked, self.n_batches_, evaluated = time.monotonic(), 0, 0, 0
        while (self.n_trials is None or asked < self.n_trials) and (
            self.timeout is None or not asked or time.monotonic() - start < self.timeout
        ):
            size = batch if self.n_trials is None else min(batch, self.n_trials - asked)
            left = self._combinations_left()
            size = size if left is None else min(size, left)
            later = 1 if self.n_trials is None else -(-(self.n_trials - asked - size) // batch)
            n_evaluated, stop = self._run_batch(study, size, evaluate_candidates, later)
            asked += size
            evaluated += n_evaluated
            if stop:
                break
        if not evaluated:
            details = "".join(
                f"\n\n{n} fits failed with the following error:\n{error}"
                for error, n in self._fit_errors.most_common(3)
            )
            raise ValueError(
                f"None of the {asked} trials of this search could be evaluated: each failed, "
                "when its parameters were suggested, with its batch, or in every fit (see the "
                "warnings and Optuna's log; the study has them as FAIL)."
                + (f" Below are the fits' most common errors:{details}" if details else "")
            )

    def _combinations_left(self) -> int | None:
        """With a `BruteForceSampler` (which counts running trials as taken): how many of the
        space's combinations no trial has taken yet (at least 1), so that a batch asks no
        more than that, as one trial at a time would (it would repeat combinations, as
        ``study.optimize(n_jobs=...)`` may); None for other samplers."""
        optuna = _import_optuna()
        sampler = self.study_.sampler
        if not isinstance(sampler, optuna.samplers.BruteForceSampler) or getattr(
            sampler, "_avoid_premature_stop", False
        ):
            return None
        total = 1
        for dist in self.param_distributions.values():
            n = _n_choices(dist)
            if n is None:
                return None
            total *= n
        taken = {
            tuple(repr(t.params.get(name)) for name in self.param_distributions)
            for t in self.study_.get_trials(deepcopy=False)
            if t.state != optuna.trial.TrialState.WAITING
            and set(t.params) == set(self.param_distributions)
        }
        return max(1, total - len(taken))

    def _run_batch(self, study, size, evaluate_candidates, later_batches):
        """Ask, evaluate and tell one batch of `size` trials; call the callbacks. Returns
        (how many trials were evaluated: COMPLETE or PRUNED, whether `study.stop()` was
        called)."""
        optuna = _import_optuna()
        asked: list = []
        try:
            trials, failed = [], []
            for _ in range(size):
                trial = study.ask()
                asked.append(trial)
                try:
                    for name, dist in self.param_distributions.items():
                        trial._suggest(name, dist)  # as study.ask(distributions) does
                except Exception as error:  # noqa: BLE001 - FAIL, then raised unless caught
                    failed += self._fail(study, [trial], error)
                else:
                    trials.append(trial)
            told, evaluated, stop = [], False, False
            if trials:
                with _optimize_loop(study) as stopped:
                    told, evaluated = self._evaluate_batch(
                        study, trials, evaluate_candidates, later_batches
                    )
                    stop = stopped()  # a sampler's after_trial (BruteForceSampler: all seen)
        except (Exception, KeyboardInterrupt):
            # As study.optimize: no trial is left RUNNING, the callbacks see those finished.
            now = {t.number: t for t in study.get_trials(deepcopy=False)}
            running = optuna.trial.TrialState.RUNNING
            self._call_back(
                study,
                [
                    study.tell(t, state=optuna.trial.TrialState.FAIL)
                    if now[t.number].state == running
                    else now[t.number]
                    for t in asked
                ],
            )
            raise
        finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        n_evaluated = sum(t.state in finished for t in told) if evaluated else 0
        return n_evaluated, self._call_back(study, failed + told) or stop

    def _call_back(self, study, finished) -> bool:
        """Call each of `callbacks` as ``callback(study, frozen_trial)`` for these finished
        trials, in trial order, as `study.optimize` calls its callbacks; whether one of them
        called `study.stop()`."""
        with _optimize_loop(study) as stopped:
            for frozen in sorted(finished, key=lambda t: t.number):
                for callback in self.callbacks or ():
                    callback(study, frozen)
            return stopped()

    def _evaluate_batch(self, study, trials, evaluate_candidates, later_batches):
        """Train and score the batch's trials at once and tell the study: (the frozen trials,
        whether the batch was evaluated). A batch whose evaluation raises one of `catch` is
        FAIL, without rows in `cv_results_`; one whose every fit fails gets `error_score`
        rows (see `_warn_or_raise_about_fit_failures`)."""
        optuna = _import_optuna()
        self.n_batches_ += 1
        self._floor = _batch_floor(
            self.estimator,
            self.param_distributions,
            self._batch_size() * self.n_splits_,
            self.n_splits_,
            later_batches,
        )
        self._pruning = None
        by_partial_fit = self._trains_by_partial_fit()  # reports even to a NopPruner, as there
        if self._prunes or by_partial_fit:
            self._pruning = _BatchPruning(
                trials,
                self.n_splits_,
                self.segment_epochs,
                self._metric,
                last_epoch=self._partial_fit_epochs(),
            )
        try:
            # Models are scored on the host while XLA's threads train on every core: BLAS
            # threads would contend with them (a test fold's forward pass measured 4x slower).
            limit = self._prunes and self._vectorized()
            with threadpool_limits(1, user_api="blas") if limit else nullcontext():
                results = evaluate_candidates(
                    [dict(t.params) for t in trials],
                    more_results={"number": [t.number for t in trials]},
                )
        except Exception as error:  # noqa: BLE001 - FAIL, then raised unless caught
            return self._fail(study, trials, error), False
        self._first_row += len(trials)
        return self._tell(study, trials, results, optuna.trial.TrialState), True

    def _warn_or_raise_about_fit_failures(self, out) -> None:
        """scikit-learn's check, but a batch whose every fit failed (a numeric `error_score`)
        only warns: its trials get `error_score` rows, and the study goes on, as
        optuna_integration's does."""
        self._fit_errors.update(r["fit_error"] for r in out if r["fit_error"] is not None)
        try:
            super()._warn_or_raise_about_fit_failures(out)
        except ValueError as error:  # every fit failed
            warnings.warn(str(error), FitFailedWarning, stacklevel=3)

    def _fail(self, study, trials, error) -> list:
        """Tell `trials` FAIL after `error`, as `study.optimize` does; re-raise it unless it
        is one of `catch`. Returns the frozen trials."""
        optuna = _import_optuna()
        told = [study.tell(t, state=optuna.trial.TrialState.FAIL) for t in trials]
        if not isinstance(error, self._catch()):
            raise error
        reason = str(error).strip().split("\n", 1)[0] or repr(error)
        for frozen in told:
            optuna.logging.get_logger("optuna").warning(
                f"Trial {frozen.number} failed with parameters: {frozen.params} because of "
                f"the following error: {type(error).__name__}: {reason}"
            )
        return told

    def _tell(self, study, trials, results, TrialState):
        first = len(results["params"]) - len(trials)
        keys = [k for k in results if k.startswith(("mean_", "std_", "split"))]
        told = []
        for c, trial in enumerate(trials):
            row = first + c
            for key in keys:
                trial.set_user_attr(key, float(results[key][row]))
            value = results[f"mean_test_{self._metric}"][row]
            if results["status"][row] == "pruned":
                told.append(study.tell(trial, state=TrialState.PRUNED))
                _log_as_optimize_logs(study, told[-1], value)
                continue
            self._report_to_terminator(
                trial,
                [results[f"split{s}_test_{self._metric}"][row] for s in range(self.n_splits_)],
            )
            if np.isnan(value):  # as Optuna: NaN fails, an infinite error_score is a value
                told.append(study.tell(trial, state=TrialState.FAIL))
            else:
                told.append(study.tell(trial, float(value)))
            _log_as_optimize_logs(study, told[-1], value)
        return told

    def _get_routed_params_for_fit(self, params):
        """scikit-learn's routing, but without metadata routing a `sample_weight` goes to the
        estimator's fit only, not to the scorer (scikit-learn 1.9's searches weight the
        scores too): optuna_integration's `cross_validate` scores unweighted, and the trials'
        values, which steer the sampler, must be what a ported script got. With metadata
        routing on, a scorer that requests `sample_weight` gets it."""
        routed = super()._get_routed_params_for_fit(params)
        if not _routing_enabled():
            routed.scorer = Bunch(score={})
        return routed

    @staticmethod
    def _report_to_terminator(trial, scores):
        """The folds' scores, for Optuna's Terminator, as optuna_integration reports them
        (its warning when they cannot be, e.g. for a single split). Optuna deprecates the
        Terminator (4.9): its deprecation warning is for those who use it, not for every trial
        here; an Optuna without it gets nothing."""
        try:
            from optuna.terminator import report_cross_validation_scores
        except ImportError:
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                report_cross_validation_scores(trial, [float(s) for s in scores])
        except ValueError as error:
            warnings.warn(
                f"Failed to report cross validation scores for TerminatorCallback, with error: "
                f"{error}",
                UserWarning,
                stacklevel=3,
            )

    def _segment_schedule(self, jobs, scorers, base_estimator) -> dict:
        """`fit_estimators`' options for a batch: the floor of its programs (room for later
        batches, see `_batch_floor`) and, with a pruner, the pruning hook."""
        options = {} if self._floor is None else {"plan_floors": {"mlp": self._floor}}
        if self._pruning is None:
            return options
        return {
            **options,
            "on_segment": self._pruning.hook(jobs, FoldScorer(scorers, base_estimator)),
            "segment_epochs": self.segment_epochs,
        }

    def _evaluate_vectorized(self, run, candidate_params, splits):
        out = super()._evaluate_vectorized(run, candidate_params, splits)
        for c in sorted(self._pruning.pruned if self._pruning is not None else ()):
            self._pruned_rows.add(self._first_row + c)
            for s in range(len(splits)):
                result = out[c * len(splits) + s]
                result["test_scores"] = _nan_like(result["test_scores"])
                if "train_scores" in result:
                    result["train_scores"] = _nan_like(result["train_scores"])
        return out

    def _format_results(self, candidate_params, n_splits, out, more_results=None):
        """scikit-learn's, plus `status`, with each trial's mean and std over its folds whose
        score is not NaN, as optuna_integration computes a trial's value (`np.nanmean`: a
        fold that failed with ``error_score=np.nan`` is left out), ranked as scikit-learn
        ranks; its warning about non-finite scores only for trials that failed."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            results = super()._format_results(candidate_params, n_splits, out, more_results)
        non_finite = []
        for key in [
            k[len("mean_") :] for k in results if k.startswith(("mean_test_", "mean_train_"))
        ]:
            splits = np.column_stack([results[f"split{s}_{key}"] for s in range(n_splits)])
            with warnings.catch_warnings():  # a row of NaN only: NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                results[f"mean_{key}"] = means = np.nanmean(splits, axis=1)
                results[f"std_{key}"] = np.nanstd(splits, axis=1)
            if key.startswith("test_"):
                results[f"rank_{key}"] = _rank(means)
            non_finite.append((key.split("_")[0], means))
        status = np.full(len(candidate_params), "complete", dtype=object)
        status[sorted(self._pruned_rows)] = "pruned"
        failed = [
            i
            for i, row in enumerate(results[f"mean_test_{self._metric}"])
            if np.isnan(row) and status[i] != "pruned"
        ]
        status[failed] = "fail"
        results["status"] = status
        for warning in caught:
            if "scores are non-finite" not in str(warning.message):
                warnings.warn_explicit(
                    warning.message, warning.category, warning.filename, warning.lineno
                )
        for kind, means in non_finite:  # scikit-learn's warning, for this batch's rows
            new = [
                i
                for i in range(self._first_row, len(means))
                if not np.isfinite(means[i]) and status[i] != "pruned"
            ]
            if new:
                warnings.warn(  # noqa: B028 - scikit-learn's warning, raised as it raises it
                    f"One or more of the {kind} scores are non-finite: {means}", UserWarning
                )
        return results

    def trials_dataframe(self, **kwargs):
        """`study_.trials_dataframe(**kwargs)`: Optuna's table of the trials (pandas)."""
        return self.study_.trials_dataframe(**kwargs)


def optimize_study(
    study,
    estimator,
    X,
    y=None,
    *,
    param_distributions=None,
    n_trials=10,
    trials_per_batch="auto",
    segment_epochs=5,
    cv=None,
    scoring=None,
    refit=False,
    timeout=None,
    error_score=np.nan,
    verbose=0,
    **fit_params,
):
    """Run batches of trials of your own Optuna `study` on `estimator`; see `OptunaSearchCV`.

    The study's sampler and pruner are used (its direction must be "maximize"; the pruner
    prunes the networks vgrid trains, other estimators are fit whole). Without
    `param_distributions`, the search space is that of the study's finished trials, so that a
    study can be continued. Returns the fitted `OptunaSearchCV` (its `study_` is `study`).

    Parameters
    ----------
    study : optuna.study.Study
        Your study (direction "maximize"), with its sampler, pruner and storage.
    estimator : estimator
        As for `OptunaSearchCV`.
    X : array-like of shape (n_samples, n_features)
        The data.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
        The target.
    param_distributions : dict of str to optuna.distributions.BaseDistribution or None
        The search space; None: the union of the distributions of the study's finished
        trials (an error if it has none).
    n_trials : int or None, default=10
        As for `OptunaSearchCV`.
    trials_per_batch : int or "auto", default="auto"
        As for `OptunaSearchCV`.
    segment_epochs : int, default=5
        As for `OptunaSearchCV`.
    cv : int, cross-validation generator or iterable, default=None
        As for `OptunaSearchCV`.
    scoring : str, callable, list, tuple, dict or None, default=None
        As for `OptunaSearchCV`.
    timeout : float or None, default=None
        As for `OptunaSearchCV`.
    error_score : "raise" or float, default=np.nan
        As for `OptunaSearchCV`.
    verbose : int, default=0
        As for `OptunaSearchCV`.
    refit : bool, str or callable, default=False
        As for `OptunaSearchCV`, but off by default: the study is what you asked for.
    **fit_params
        Passed to the search's `fit`.

    Returns
    -------
    OptunaSearchCV
        The fitted search; its `study_` is `study`.

    Examples
    --------
    >>> import optuna
    >>> from sklearn.datasets import load_iris
    >>> from vgrid import MLPClassifier
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> X, y = load_iris(return_X_y=True)
    >>> study = optuna.create_study(direction="maximize",
    ...                             sampler=optuna.samplers.TPESampler(seed=0))
    >>> space = {"alpha": optuna.distributions.FloatDistribution(1e-5, 1.0, log=True)}
    >>> _ = optimize_study(study, MLPClassifier(max_iter=20, random_state=0), X, y,
    ...                    param_distributions=space, n_trials=4, cv=3)
    >>> _ = optimize_study(study, MLPClassifier(max_iter=20, random_state=0), X, y,
    ...                    n_trials=4, cv=3)      # the same space, four more trials
    >>> len(study.trials)
    8
    """
    _import_optuna()
    if param_distributions is None:
        finished = [t for t in study.trials if t.state.is_finished() and t.distributions]
        if not finished:
            raise ValueError(
                "The study has no finished trial to take the search space from: "
                "pass param_distributions={name: optuna distribution}."
            )
        param_distributions = {}
        for trial in finished:
            param_distributions.update(trial.distributions)
    search = OptunaSearchCV(
        estimator,
        param_distributions,
        n_trials=n_trials,
        trials_per_batch=trials_per_batch,
        study=study,
        # The study's pruner prunes what vgrid trains; other estimators are fit whole (their
        # partial_fit is for a ported optuna_integration script's enable_pruning=True).
        enable_pruning=True if is_vectorizable(estimator, param_distributions) else None,
        segment_epochs=segment_epochs,
        cv=cv,
        scoring=scoring,
        refit=refit,
        timeout=timeout,
        error_score=error_score,
        verbose=verbose,
    )
    return search.fit(X, y, **fit_params)
