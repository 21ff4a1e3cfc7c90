"""vgrid's searches: scikit-learn's, with every (candidate, fold) fit vectorized.

`vgrid.GridSearchCV` is a subclass of `sklearn.model_selection.GridSearchCV` (and likewise
`RandomizedSearchCV`, `HalvingGridSearchCV`, `HalvingRandomSearchCV`): same constructor, same
attributes, same delegated methods. Only the evaluation of (candidate, fold) pairs differs:
instead of one `_fit_and_score` call per pair, all pairs are fit together by `vgrid.engine`
(MLPs and Flax modules alike), a few programs for the whole grid, then
scored as scikit-learn's own `_score` scores them (`vgrid.scoring`), so `cv_results_` is built
by scikit-learn's `_format_results` from the same records scikit-learn builds it from.
Pipelines ending in a network are handled by `vgrid.pipeline`. The searches' `fit` is
scikit-learn's `BaseSearchCV.fit`, statement for statement, but for the evaluation and the
refit, which it hands to a `vgrid.search_run.SearchRun`: the state of that one fit.

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

import logging
import numbers
import os
import time
from collections import defaultdict
from collections.abc import Callable
from inspect import signature
from typing import TYPE_CHECKING, Any

import numpy as np
from joblib import cpu_count, effective_n_jobs
from joblib._parallel_backends import LokyBackend
from joblib.parallel import get_active_backend
from sklearn import model_selection, neural_network
from sklearn.base import _fit_context, clone, is_classifier
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.metrics._scorer import _MultimetricScorer
from sklearn.model_selection._search_successive_halving import BaseSuccessiveHalving
from sklearn.model_selection._split import check_cv
from sklearn.model_selection._validation import (
    _insert_error_scores,
    _warn_or_raise_about_fit_failures,
)
from sklearn.utils.validation import _check_method_params, _num_samples, indexable

from . import estimators, flax_estimators, pipeline
from .checkpoint import Checkpoint, fingerprint_of
from .search_run import SearchRun, Survivors
from .search_run import _with_params as _with_params  # tests reach it here

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
            "vgrid does not vectorize %s: its candidates are fitted and scored by "
            "scikit-learn's own code, one fit at a time (or n_jobs at once).",
            name,
        )


def _chunk_size(size) -> int | None:
    """Models per chunk: the unit of work, of a checkpoint file and of a Dask task, and an upper
    bound on the models one program call trains (None, from "auto": a whole group)."""
    if size == "auto" or size is None:
        return None
    if not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"chunk_size must be 'auto' or a positive integer, got {size!r}.")
    return int(size)


def _worker_threads(n_jobs) -> int | None:
    """CPU worker threads for `n_jobs` (None or -1: one per core, chosen by the scheduler)."""
    if n_jobs is None or n_jobs == -1:
        return None
    n_cores = os.cpu_count() or 1
    return max(1, min(n_cores, n_jobs if n_jobs > 0 else n_cores + 1 + n_jobs))


#: Environment variables that set a worker's BLAS threads, in the order OpenBLAS reads them.
_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def _blas_threads(n_jobs) -> int | None:
    """The BLAS threads of each of scikit-learn's worker processes for `n_jobs` under joblib's
    default loky backend, or None: no limit (n_jobs None or 1, fits in the main process; another
    backend). Loky gives each worker the thread count the environment sets (read when the
    worker starts, so also one set after this process loaded its BLAS, e.g. by Dask), or else
    ``cpu_count() // n_jobs``. Fits that scikit-learn's own code makes (lbfgs) run so, since a
    matrix product's sums, and so an lbfgs fit's numbers, depend on the thread count."""
    if n_jobs is None or n_jobs == 1:
        return None
    if not isinstance(get_active_backend()[0], LokyBackend):
        return None
    for variable in _THREAD_VARIABLES:
        value = os.environ.get(variable, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return max(cpu_count() // effective_n_jobs(n_jobs), 1)


if TYPE_CHECKING:  # scikit-learn ships no types: what the mixin uses of BaseSearchCV

    class _BaseSearchCV:
        estimator: Any
        scoring: Any
        refit: Any
        cv: Any
        verbose: int
        error_score: Any
        return_train_score: bool
        n_jobs: int | None
        resource: str  # halving searches only
        fit: Any
        get_params: Callable[..., dict]
        _get_scorers: Callable[[], tuple[Any, Any]]
        _get_routed_params_for_fit: Callable[[dict], Any]
        _init_callback_context: Callable[..., Any]
        _check_input_parameters: Callable[..., None]
        _run_search: Callable[..., None]
        _format_results: Callable[..., dict]
        _check_refit_for_multimetric: Callable[[dict], None]
        _select_best_index: Callable[[Any, Any, dict], int]

else:
    _BaseSearchCV = object


class _VectorizedSearchMixin(_BaseSearchCV):
    """Replaces BaseSearchCV.fit's per-pair evaluation with one vectorized evaluation. Each fit's
    state lives in its `SearchRun`; the search keeps only its parameters and fitted attributes
    (and scikit-learn's own `_checked_cv_orig` and `_n_samples_orig`, which its halving reads)."""

    #: Halving on the epochs resource (an MLP's `max_iter`, a Flax estimator's `max_epochs`):
    #: continue each survivor from its state in the previous round instead of training it again
    #: from scratch (exactly the same numbers).
    continue_survivors = True

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

    def _start_run(self, base_estimator, X, y, params, scorers, routed_params) -> SearchRun:
        """This fit's `SearchRun`: the search's settings, and its checkpoint opened."""
        chunk_size = _chunk_size(getattr(self, "chunk_size", "auto"))
        continues = (
            self.continue_survivors
            and isinstance(self, BaseSuccessiveHalving)
            and self.resource in ("max_iter", "max_epochs")
        )
        return SearchRun(
            base_estimator=base_estimator,
            X=X,
            y=y,
            scorers=scorers,
            fit_params=routed_params.estimator.fit,
            score_params=routed_params.scorer.score,
            error_score=self.error_score,
            return_train_score=self.return_train_score,
            verbose=self.verbose,
            refit_rows=_num_samples(X) if self.refit else None,
            n_threads=_worker_threads(self.n_jobs),
            blas_threads=_blas_threads(self.n_jobs),
            chunk_size=chunk_size,
            checkpoint=self._open_checkpoint(X, y, params, chunk_size),
            survivors=Survivors(self.resource) if continues else None,
            block_models=BLOCK_MODELS,
            segment_schedule=self._segment_schedule,
        )

    def _open_checkpoint(self, X, y, params, chunk_size) -> Checkpoint | None:
        """The search's `Checkpoint`, or None: fingerprinted by everything that determines the
        results (estimator, search parameters, data), never by speed knobs."""
        folder = getattr(self, "checkpoint", None)
        if folder is None:
            return None
        knobs = {"verbose", "n_jobs", "pre_dispatch", "checkpoint", "chunk_size"}
        settings = {k: v for k, v in self.get_params(deep=False).items() if k not in knobs}
        # By content (values, not repr); a part with no stable description raises here.
        fingerprint = fingerprint_of(
            search=type(self), chunk_size=chunk_size, X=X, y=y, fit_params=params, **settings
        )
        return Checkpoint(os.fspath(folder), fingerprint)

    def _evaluate_vectorized(self, run: SearchRun, candidate_params, splits) -> list[dict]:
        """`_fit_and_score`'s records for every (candidate, split), candidate-major; searches
        that amend them override it (OptunaSearchCV: pruned trials)."""
        return run.evaluate(candidate_params, splits)

    def _warn_or_raise_about_fit_failures(self, out) -> None:
        """scikit-learn's check of one `evaluate_candidates` call's fits: raise if every fit
        failed, warn if some did. OptunaSearchCV, whose calls are batches, overrides it."""
        _warn_or_raise_about_fit_failures(out, self.error_score)

    def _segment_schedule(self, jobs, scorers, base_estimator) -> dict:
        """Extra `fit_estimators` options for one block's jobs, given per job as
        ((candidate, split, parameters), its fitted estimator, its fold): none here; a search
        that prunes returns its `on_segment` hook and `segment_epochs`."""
        return {}

    def _fit_vectorized(self, X, y=None, **params):
        # scikit-learn 1.9.1's BaseSearchCV.fit, statement for statement, but for a `SearchRun`
        # in place of its Parallel, `_evaluate_vectorized` in place of its `_fit_and_score`
        # calls, `run.refit` in place of the refit's `fit`, and vgrid's attributes at the end
        # (tests/test_facade.py diffs the two).
        scorers, refit_metric = self._get_scorers()

        X, y = indexable(X, y)
        params = _check_method_params(X, params=params)
        routed_params = self._get_routed_params_for_fit(params)

        if (sample_weight := params.get("sample_weight")) is not None:
            metadata_callbacks = {"sample_weight": sample_weight}
        else:
            metadata_callbacks = None
        root_callback_ctx = self._init_callback_context(
            max_subtasks=1 + (self.refit is not False)  # refit can be str or callable
        ).call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata_callbacks)

        self._checked_cv_orig = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        self._check_input_parameters(X=X, y=y, split_params=routed_params.splitter.split)
        self.n_splits_ = self._checked_cv_orig.get_n_splits(X, y, **routed_params.splitter.split)

        base_estimator = clone(self.estimator)

        run = self._start_run(base_estimator, X, y, params, scorers, routed_params)

        results: dict = {}
        all_candidate_params: list = []
        all_out: list = []
        all_more_results: defaultdict = defaultdict(list)

        def evaluate_candidates(candidate_params, cv=None, more_results=None, callback_ctx=None):
            cv = cv or self._checked_cv_orig
            candidate_params = list(candidate_params)
            n_candidates = len(candidate_params)
            n_splits = self.n_splits_

            cv_splits = list(cv.split(X, y, **routed_params.splitter.split))
            if len(cv_splits) != n_splits:
                raise ValueError(
                    f"cv.split and cv.get_n_splits return inconsistent results. "
                    f"Expected {n_splits} splits, got {len(cv_splits)}"
                )

            if self.verbose > 0:
                print(
                    "Fitting {0} folds for each of {1} candidates,"  # noqa: UP030, UP032 - verbatim
                    " totalling {2} fits".format(n_splits, n_candidates, n_candidates * n_splits)
                )

            out = self._evaluate_vectorized(run, candidate_params, cv_splits)

            if len(out) < 1:
                raise ValueError(
                    "No fits were performed. Was the CV iterator empty? Were there no candidates?"
                )

            self._warn_or_raise_about_fit_failures(out)

            # For callable self.scoring, the return type is only know after calling. If the
            # return type is a dictionary, the error scores can now be inserted with the
            # correct key. The type checking of out will be done in `_insert_error_scores`.
            if callable(self.scoring):
                _insert_error_scores(out, self.error_score)

            all_candidate_params.extend(candidate_params)
            all_out.extend(out)

            if more_results is not None:
                for key, value in more_results.items():
                    all_more_results[key].extend(value)

            nonlocal results
            results = self._format_results(
                all_candidate_params, n_splits, all_out, all_more_results
            )

            return results

        if "callback_ctx" in signature(self._run_search).parameters:
            self._run_search(evaluate_candidates, callback_ctx=root_callback_ctx)
        else:
            # custom search classes
            self._run_search(evaluate_candidates)

        # multimetric is determined here because in the case of a callable self.scoring the
        # return type is only known after calling
        first_test_score = all_out[0]["test_scores"]
        self.multimetric_ = isinstance(first_test_score, dict)

        # check refit_metric now for a callable scorer that is multimetric
        if callable(self.scoring) and self.multimetric_:
            self._check_refit_for_multimetric(first_test_score)
            refit_metric = self.refit

        # For multi-metric evaluation, store the best_index_, best_params_ and best_score_
        # iff refit is one of the scorer names. In single metric evaluation, refit_metric is
        # "score"
        if self.refit or not self.multimetric_:
            self.best_index_ = self._select_best_index(self.refit, refit_metric, results)
            if not callable(self.refit):
                # With a non-custom callable, we can select the best score based on the best
                # index
                self.best_score_ = results[f"mean_test_{refit_metric}"][self.best_index_]
            self.best_params_ = results["params"][self.best_index_]

        if self.refit:
            # here we clone the estimator as well as the parameters, since sometimes the
            # parameters themselves might be estimators, e.g. when we search over different
            # estimators in a pipeline.
            # ref: https://github.com/scikit-learn/scikit-learn/pull/26786
            self.best_estimator_ = clone(base_estimator).set_params(
                **clone(self.best_params_, safe=False)
            )

            refit_subctx = root_callback_ctx.subcontext(task_name="refit-with-best-params")

            with refit_subctx.propagate_callback_context(self.best_estimator_):
                refit_subctx.call_on_fit_task_begin(
                    estimator=self, X=X, y=y, metadata=metadata_callbacks
                )

                refit_start_time = time.time()
                self.refit_engine_ = run.refit(self.best_estimator_, self.best_index_)
                refit_end_time = time.time()
            self.refit_time_ = refit_end_time - refit_start_time

            if hasattr(self.best_estimator_, "feature_names_in_"):
                self.feature_names_in_ = self.best_estimator_.feature_names_in_

            refit_subctx.call_on_fit_task_end(estimator=self, X=X, y=y, metadata=metadata_callbacks)

        # Store the only scorer not as a dict for single metric evaluation
        if isinstance(scorers, _MultimetricScorer):
            self.scorer_ = scorers._scorers
        else:
            self.scorer_ = scorers

        self.cv_results_ = results
        vars(self).update(run.fitted_attributes())

        root_callback_ctx.call_on_fit_task_end(
            estimator=self, X=X, y=y, metadata=metadata_callbacks
        )

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
