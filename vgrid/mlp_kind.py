"""The MLPs as a kind of model for the engine: scikit-learn's `MLPClassifier`/`MLPRegressor`
(and vgrid's subclasses), trained with scikit-learn's formulas to the letter.

Host side: each job is validated as scikit-learn's `fit` validates it, its random numbers
(initial weights, early-stopping split, one shuffle per epoch) are replayed from its
`RandomState` (`vgrid.replay`), and it becomes an `MLPMember`. `MLP_KIND.plan` groups members
by what must be static and buckets widths by the cost model (`vgrid.plan`); `vgrid.layout`
lays a group out; `vgrid.training.train_segment` is the program; `finish` writes scikit-learn's
fitted attributes (`coefs_`, `loss_curve_`, `n_iter_`, its optimizer's state, ...) back.

Kinds of hyperparameter: `TRACED_PARAMS` are per-model numbers (one program for any value),
`MASKED_PARAMS` are padded and masked inside one program, `STATIC_PARAMS` select the program.

Example:
    >>> from sklearn.neural_network import MLPClassifier
    >>> MLP_KIND.owns(MLPClassifier()), MLP_KIND.vectorizes(MLPClassifier(solver="lbfgs"))
    (True, False)
"""

from __future__ import annotations

import copy
import functools
import math
import warnings
from collections.abc import Hashable
from typing import NamedTuple

import jax
import numpy as np
import scipy.sparse as sp
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network._multilayer_perceptron import BaseMultilayerPerceptron
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import validate_parameter_constraints
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight

from .layout import build_inputs, input_shapes, pad_state, positions, unpad_state
from .plan import (
    COST_MODEL,
    MLPStaticKey,
    ProgramReport,
    fits_in,
    layer_units,
    model_flops,
    plan_groups,
)
from .replay import FitRandomness, replay_fit_randomness
from .training import (
    GroupConfig,
    ModelState,
    initial_states,
    results_from_states,
    segment_program,
)
from .verbose import print_training_log

__all__ = ["MLP_KIND", "MLPKind", "MLPMember", "TRACED_PARAMS", "MASKED_PARAMS", "STATIC_PARAMS"]

#: Hyperparameters that only enter arithmetic: traced, one program for any of their values.
TRACED_PARAMS = (
    "alpha",
    "learning_rate_init",
    "beta_1",
    "beta_2",
    "epsilon",
    "momentum",
    "nesterovs_momentum",
    "power_t",
    "tol",
    "n_iter_no_change",
    "max_iter",
    "learning_rate",
    "activation",
    "early_stopping",
)
#: Hyperparameters that are padded and masked inside one program.
MASKED_PARAMS = ("hidden_layer_sizes", "batch_size", "validation_fraction")
#: Hyperparameters that select the program: each distinct value is its own group.
STATIC_PARAMS = ("solver", "shuffle", "loss")


class _FitData(NamedTuple):
    X: np.ndarray  # (n, f) dense, float32 or float64
    Y: np.ndarray  # (n, n_outputs) in X's dtype
    W: np.ndarray  # (n,) sample weights (ones when none were given)
    weighted: bool
    fitted_attrs: dict  # what validation set on the estimator (classes_, n_features_in_, ...)


class MLPMember(NamedTuple):
    job_index: int  # the job's position in `fit_estimators`' list
    estimator: BaseMultilayerPerceptron
    data_key: Hashable  # the job's, or ("job", index) when it gave none
    data: _FitData
    hidden: tuple[int, ...]
    batch_size: int
    randomness: FitRandomness
    replay_key: Hashable
    static_key: MLPStaticKey
    resume: ModelState | None
    partial_fit_epochs: int | None = None  # `FitJob.partial_fit_epochs`
    global_stream: _GlobalStream | None = None  # drawing from numpy's global RandomState


class _GlobalStream:
    """The jobs of one `fit_estimators` call that draw from numpy's global RandomState
    (``random_state=None``), replayed in job order. Each fit's draws start where the previous
    one's replay ended, all `max_iter` epochs of it; the last one's fit leaves the stream where
    scikit-learn's leaves it, one shuffle per epoch it ran (exact for a lone fit; a stop before
    max_iter earlier in the chain moves every later fit's draws, which no replay made before
    training can know)."""

    def __init__(self):
        self.last_job = -1


def _is_vectorizable(est) -> bool:
    return est.solver in ("adam", "sgd") and not (est.warm_start and hasattr(est, "coefs_"))


def _validated_data(est, job, data_key, cache) -> _FitData:
    classes = _partial_fit_classes(est, job)
    key = (data_key, is_classifier(est), classes)
    if key in cache:
        data = cache[key]
        _set_validated_attrs(est, copy.deepcopy(data.fitted_attrs))
        return data
    # Validated as an unfitted copy is (the attributes it sets are every job's under this
    # key, even when `est` was fitted before and already had some of them).
    params = _param_names(type(est))  # type: ignore[arg-type]
    probe = copy.copy(est)
    probe.__dict__ = {k: v for k, v in vars(est).items() if k in params}
    if classes is None:
        X, y = probe._validate_input(job.X, job.y, incremental=False, reset=True)
    else:  # as partial_fit's first call: the labels are `classes`, y's are among them
        probe.classes_ = unique_labels(job.classes)
        probe._label_binarizer = LabelBinarizer()
        if type_of_target(job.y).startswith("multilabel"):
            probe._label_binarizer.fit(job.y)
        else:
            probe._label_binarizer.fit(job.classes)
        X, y = probe._validate_input(job.X, job.y, incremental=True, reset=True)
    fitted_attrs = {k: v for k, v in vars(probe).items() if k not in params}
    _set_validated_attrs(est, fitted_attrs)
    if sp.issparse(X):
        X = X.toarray()
    X = np.ascontiguousarray(X)
    Y = (y.reshape(-1, 1) if y.ndim == 1 else y).astype(X.dtype)
    weighted = job.sample_weight is not None
    W = (
        _check_sample_weight(job.sample_weight, X, dtype=X.dtype)
        if weighted
        else np.ones(len(X), X.dtype)
    )
    cache[key] = data = _FitData(X, Y, W, weighted, fitted_attrs)
    return data


def _set_validated_attrs(est, fitted_attrs: dict) -> None:
    """Give `est` what validating its data sets, as `_validate_input` with ``reset=True``
    would: `feature_names_in_` is removed when the data have no feature names."""
    if "feature_names_in_" not in fitted_attrs:
        vars(est).pop("feature_names_in_", None)
    vars(est).update(fitted_attrs)


def _partial_fit_classes(est, job) -> tuple | None:
    """`FitJob.classes` as a key of the data cache (a classifier trained as partial_fit), or
    None: the labels come from y."""
    if job.partial_fit_epochs is None or job.classes is None or not is_classifier(est):
        return None
    classes = np.asarray(job.classes)
    return classes.dtype.str, tuple(classes.tolist())


def _resolved_batch_size(est, n_train) -> int:
    if est.batch_size == "auto":
        return min(200, n_train)
    if est.batch_size > n_train:
        warnings.warn(  # noqa: B028 - scikit-learn's warning, raised as scikit-learn raises it
            "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped"
        )
    return int(np.clip(est.batch_size, 1, n_train))


def _random_state_key(random_state, job_index):
    if isinstance(random_state, (int, np.integer)):
        return ("seed", int(random_state))
    if isinstance(random_state, np.random.RandomState):
        name, keys, pos, has_gauss, cached = random_state.get_state()
        return ("state", np.asarray(keys).tobytes(), pos, has_gauss, cached)
    return ("global", job_index)  # None: numpy's global RandomState, consumed in job order


#: (class, parameter, value) triples that passed scikit-learn's parameter validation.
_VALID_PARAMS: set = set()


def _validate_params(est):
    """`est._validate_params()`, checking only the parameter values not yet seen valid: a grid's
    models share most of their values (the check is per parameter, so the result is the same)."""
    klass = type(est)
    params = {name: getattr(est, name) for name in _param_names(klass)}  # type: ignore[arg-type]
    keys = {name: (klass, name, type(value), repr(value)) for name, value in params.items()}
    fresh = {name: params[name] for name, key in keys.items() if key not in _VALID_PARAMS}
    if fresh:
        validate_parameter_constraints(
            est._parameter_constraints, fresh, caller_name=klass.__name__
        )
        if len(_VALID_PARAMS) > 100_000:
            _VALID_PARAMS.clear()
        _VALID_PARAMS.update(keys[name] for name in fresh)


@functools.cache
def _param_names(klass) -> frozenset:
    """The constructor parameters of an estimator class (scikit-learn inspects the signature on
    every `get_params`)."""
    return frozenset(klass._get_param_names())


def _prepare(index, job, cache, replay_cache, global_stream=None) -> MLPMember:
    est = job.estimator
    partial = job.partial_fit_epochs
    if partial is not None:
        if est.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")  # sklearn's
        est.set_params(max_iter=partial)  # partial_fit once per epoch
    _validate_params(est)
    hidden = est.hidden_layer_sizes
    hidden = list(hidden) if hasattr(hidden, "__iter__") else [hidden]
    hidden = [int(h) if isinstance(h, np.integer) else h for h in hidden]  # np.arange's
    if np.any(np.array(hidden) <= 0):
        raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden}.")
    data_key = job.data_key if job.data_key is not None else ("job", index)
    data = _validated_data(est, job, data_key, cache)
    n_samples, n_features = data.X.shape
    units = layer_units(hidden, n_features, data.Y.shape[1])
    if job.resume_state is not None:
        _check_resume_shapes(job.resume_state, units)
    # scikit-learn stratifies on its binarized labels, which are bool (its error messages
    # name the classes 'True'/'False'); the split is the same as on 0.0/1.0.
    stratify = data.Y.astype(bool) if (is_classifier(est) and data.Y.shape[1] == 1) else None
    rs_key = _random_state_key(est.random_state, index)
    if rs_key[0] == "global" and global_stream is not None:
        global_stream.last_job = index
    # Without early stopping the replay depends on the data only through its row count: the
    # folds of a search (equal sizes, one seed) share one replay, and one row of the tables.
    replay_key = (
        data_key if est.early_stopping else ("rows", n_samples),
        rs_key,
        tuple(units),
        est.activation == "logistic",
        est.early_stopping,
        est.validation_fraction if est.early_stopping else None,
        est.shuffle,
        est.max_iter if est.shuffle else 1,
        data.X.dtype.str,
        partial is not None,
    )
    cached = replay_cache.get(replay_key)
    if cached is None:
        random_state = check_random_state(est.random_state)
        randomness = replay_fit_randomness(
            random_state,
            units,
            activation=est.activation,
            n_samples=n_samples,
            stratify=stratify,
            early_stopping=est.early_stopping,
            validation_fraction=est.validation_fraction,
            shuffle=est.shuffle,
            n_epochs=est.max_iter,
            dtype=data.X.dtype,
            partial_fit_state=(
                None if partial is None else lambda: check_random_state(est.random_state)
            ),
            # An estimator's own RandomState, or numpy's global one, is left where the fit's
            # last epoch leaves it.
            record_states=rs_key[0] in ("state", "global"),
        )
        replay_cache[replay_key] = randomness
    else:
        randomness = cached
        if randomness.states_after_epoch:
            # The estimator's own RandomState, drawn from as scikit-learn's fit draws from it
            # (a copy of the one that was replayed): left where that replay left it.
            est.random_state.set_state(randomness.states_after_epoch[-1])
    if est.early_stopping and len(randomness.val_rows) < 2:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' or "
            "the size of your dataset."
        )
    batch_size = _resolved_batch_size(est, len(randomness.train_rows))
    out_activation, loss = _output_and_loss(est, data)
    static_key = MLPStaticKey(
        data.X.dtype.str,
        est.solver,
        len(hidden) == 0,
        out_activation,
        loss,
        is_classifier(est),
        data.Y.shape[1],
        _batch_bucket(batch_size),
    )
    return MLPMember(
        index,
        est,
        data_key,
        data,
        tuple(hidden),
        batch_size,
        randomness,
        replay_key,
        static_key,
        job.resume_state,
        partial,
        global_stream if rs_key[0] == "global" else None,
    )


def _check_resume_shapes(state, units) -> None:
    """A kept state (`FitOutcome.state`) must be of this network on data of this width."""
    params = state.params
    shapes = [tuple(params[f"layer_{i}"]["kernel"].shape) for i in range(len(params))]
    expected = list(zip(units[:-1], units[1:]))
    if shapes != expected:
        raise ValueError(
            f"resume_state holds a network with layer shapes {shapes}, but this job's "
            f"estimator and data make {expected} (input width {units[0]}). Resume a state "
            "kept from the same estimator, on data with the same columns."
        )


def _batch_bucket(batch_size: int) -> int:
    """Batch sizes within a factor of two share a program (the smaller ones are padded)."""
    return int(math.ceil(math.log2(batch_size)))


def _output_and_loss(est, data):
    if not is_classifier(est):
        return ("exp", "poisson") if est.loss == "poisson" else ("identity", "squared_error")
    if est._label_binarizer.y_type_ == "multiclass":
        return "softmax", "log_loss"
    return "logistic", "binary_log_loss"


def _materialize(p: MLPMember, result, m: int, snapshot: bool = False):
    """Write model m of a group's result onto its estimator as scikit-learn's attributes. A
    `snapshot` gets its public fitted attributes only: not the optimizer and random state
    that `partial_fit` continues from (their construction is most of the time here), and no
    training log or convergence warning."""
    est, dtype = p.estimator, p.data.X.dtype
    n_layers = len(p.hidden) + 1
    widths = [p.data.X.shape[1], *p.hidden, p.data.Y.shape[1]]
    sl = [(slice(0, widths[i]), slice(0, widths[i + 1])) for i in range(n_layers)]

    layers = positions(len(p.hidden), len(result.params))

    def take(tree):
        coefs = [
            np.array(tree[f"layer_{q}"]["kernel"][m][sl[i]], dtype) for i, q in enumerate(layers)
        ]
        intercepts = [
            np.array(tree[f"layer_{q}"]["bias"][m][sl[i][1]], dtype) for i, q in enumerate(layers)
        ]
        return coefs, intercepts

    n_iter = int(result.n_iter[m])
    n_train = len(p.randomness.train_rows)
    est.coefs_, est.intercepts_ = take(result.params)
    est.n_outputs_ = p.data.Y.shape[1]
    est.n_layers_ = n_layers + 1
    est.out_activation_ = p.static_key.out_activation
    # After partial_fit calls, n_iter_ is the last call's: one epoch.
    est.n_iter_ = n_iter if p.partial_fit_epochs is None else 1
    est.t_ = n_iter * n_train
    # np.float64 whatever the data's dtype, as scikit-learn's (its losses accumulate in it)
    est.loss_curve_ = [np.float64(v) for v in result.loss_curve[m][:n_iter]]
    est.loss_ = est.loss_curve_[-1]
    est._no_improvement_count = int(result.no_improvement_count[m])
    if est.early_stopping:
        est.best_loss_ = None
        est.validation_scores_ = [float(v) for v in result.validation_scores[m][:n_iter]]
        est.best_validation_score_ = float(result.best_validation_score[m])
    else:
        est.best_loss_ = np.float64(result.best_loss[m])
        est.validation_scores_ = None
        est.best_validation_score_ = None
    est._best_coefs, est._best_intercepts = est.coefs_, est.intercepts_
    params = est.coefs_ + est.intercepts_
    if snapshot:  # nor those of an earlier fit of the estimator
        est.__dict__.pop("_optimizer", None)
        est.__dict__.pop("_random_state", None)
    else:
        states = p.randomness.states_after_epoch
        # scikit-learn's fit drew one shuffle per epoch it ran, not per max_iter epoch
        if states and isinstance(est.random_state, np.random.RandomState):
            est.random_state.set_state(states[min(n_iter, len(states)) - 1])
        elif states and p.global_stream is not None and p.global_stream.last_job == p.job_index:
            check_random_state(None).set_state(states[min(n_iter, len(states)) - 1])
        est._random_state = check_random_state(est.random_state)
        est._optimizer = _optimizer(est, result, m, params, take)
        # verbose=True: scikit-learn's per-epoch lines, replayed
        print_training_log(est, partial_fit=p.partial_fit_epochs is not None)
        if (
            n_iter == est.max_iter
            and not bool(result.stopped_by_rule[m])
            and p.partial_fit_epochs is None  # partial_fit does not warn
        ):
            warnings.warn(  # noqa: B028 - scikit-learn's warning, raised as it raises it
                f"Stochastic Optimizer: Maximum iterations ({est.max_iter}) reached and the"
                " optimization hasn't converged yet.",
                ConvergenceWarning,
            )
    if not all(np.isfinite(w).all() for w in params):
        raise ValueError(
            "Solver produced non-finite parameter weights. The input data may"
            " contain large values and need to be preprocessed."
        )


def _optimizer(est, result, m: int, params, take):
    """scikit-learn's optimizer object for model m, in the state its training left it."""
    first, second = take(result.opt.first), take(result.opt.second)
    if est.solver == "adam":
        opt = AdamOptimizer(params, est.learning_rate_init, est.beta_1, est.beta_2, est.epsilon)
        opt.ms, opt.vs, opt.t = first[0] + first[1], second[0] + second[1], int(result.opt.step[m])
        return opt
    opt = SGDOptimizer(
        params,
        est.learning_rate_init,
        est.learning_rate,
        est.momentum,
        est.nesterovs_momentum,
        est.power_t,
    )
    opt.velocities = first[0] + first[1]
    opt.learning_rate = float(result.opt.learning_rate[m])
    return opt


def _fit_by_sklearn(job) -> None:
    """Fit the job's estimator with scikit-learn's own (NumPy) training code (its
    `partial_fit`, `FitJob.partial_fit_epochs` times, when the job asks for that)."""
    est = job.estimator
    if job.partial_fit_epochs is not None:
        est.set_params(max_iter=job.partial_fit_epochs)
        classes = np.unique(job.y) if job.classes is None else job.classes
        extra = {"classes": classes} if is_classifier(est) else {}
        for _ in range(job.partial_fit_epochs):
            est.partial_fit(job.X, job.y, sample_weight=job.sample_weight, **extra)
        return
    est._validate_params()
    BaseMultilayerPerceptron._fit(est, job.X, job.y, sample_weight=job.sample_weight)


def _units(config: GroupConfig, n_features: int) -> list[int]:
    return layer_units(config.hidden_widths, n_features, config.n_outputs)


def _n_params(config: GroupConfig, n_features: int) -> int:
    units = _units(config, n_features)
    return sum(a * b + b for a, b in zip(units[:-1], units[1:]))


def _model_working_set_bytes(config: GroupConfig, n_features: int, itemsize: int) -> int:
    """Bytes one model touches per minibatch step: parameters, gradients, Adam moments,
    the minibatch and its activations (forward and backward)."""
    units = _units(config, n_features)
    activations = config.batch_size * (sum(units) + sum(units[1:]) * 2)
    return (4 * _n_params(config, n_features) + activations) * itemsize


def _model_state_bytes(config: GroupConfig, n_features: int, itemsize: int) -> int:
    """Bytes one model holds on the device for a whole segment: its training state (parameters,
    best parameters, two optimizer moments, curves) plus one minibatch step's working set."""
    return (
        _model_working_set_bytes(config, n_features, itemsize)
        + (4 * _n_params(config, n_features) + 2 * config.max_epochs) * itemsize
    )


class MLPKind:
    """scikit-learn's MLPs as a `kinds.ModelKind` (see the module docstring)."""

    name = "mlp"

    def owns(self, estimator) -> bool:
        return isinstance(estimator, BaseMultilayerPerceptron)

    def vectorizes(self, estimator) -> bool:
        """'adam' and 'sgd' are vectorized; 'lbfgs' and warm-started refits are not."""
        return _is_vectorizable(estimator)

    def fit_one_by_one(self, job) -> str:
        """Fit a job this kind does not vectorize with scikit-learn's own code; its engine."""
        _fit_by_sklearn(job)
        return "scikit-learn"

    def prepare(self, index, job, cache):
        return _prepare(
            index,
            job,
            cache.setdefault("data", {}),
            cache.setdefault("replay", {}),
            cache.setdefault("global_stream", _GlobalStream()),
        )

    #: A whole group may train in a wider program already compiled (`ProgramCache.hosted_plan`).
    hosts_groups = True

    def plan(self, members, *, n_threads, room_rows, floor=None):
        plans = plan_groups(members, n_threads=n_threads, room_rows=room_rows, floor=floor)
        for plan in plans:
            plan.kind = self
        return plans

    def cheaper_one_by_one(self, plan, job, hosted: bool) -> bool:
        """Whether scikit-learn's NumPy fit of a lone model beats training it with vgrid.
        Never for an estimator drawing from a RandomState of its own or numpy's global one:
        preparing the job replayed its draws, and scikit-learn's fit would draw again."""
        if not isinstance(job.estimator.random_state, (int, np.integer)):
            return False
        return COST_MODEL.numpy_fit_is_cheaper(plan, 1, job.epochs_hint, compiled=hosted)

    def prefers_host(self, own, hosted, job, n_threads=1) -> bool:
        """Whether a lone model (a group, with `job` None) trains sooner in a compiled host
        program than in its own."""
        epochs = None if job is None else job.epochs_hint
        return COST_MODEL.vgrid_seconds(hosted, n_threads, epochs, True) < COST_MODEL.vgrid_seconds(
            own, n_threads, epochs
        )

    build_inputs = staticmethod(build_inputs)
    input_shapes = staticmethod(input_shapes)
    fits_in = staticmethod(fits_in)

    def fresh_states(self, plan, inits, models):
        return initial_states(inits, models, plan.config.max_epochs, np.dtype(plan.dtype))

    def pad_state(self, state, config, member):
        return pad_state(state, config)

    def unpad_state(self, state, member, plan):
        return unpad_state(state, member)

    def program(self, config):
        return segment_program(config)

    def model_bytes(self, config, shared) -> int:
        return _model_state_bytes(config, shared.X.shape[-1], shared.X.itemsize)

    def config_identity(self, config):
        return config

    def chunk_identity(self, p):
        return (
            sorted(p.estimator.get_params(deep=False).items()),
            p.data_key,
            p.replay_key,
            p.batch_size,
            None if p.resume is None else int(p.resume.n_iter),
        )

    def report(self, plan, shared, states, **measured):
        cfg, members = plan.config, plan.members
        n_features = shared.X.shape[-1]
        executed = sum(
            model_flops(
                cfg.hidden_widths, n_features, cfg.n_outputs, len(p.randomness.train_rows), n
            )
            for p, n in zip(members, states.n_iter)
        )
        useful = sum(
            model_flops(p.hidden, p.data.X.shape[1], cfg.n_outputs, len(p.randomness.train_rows), n)
            for p, n in zip(members, states.n_iter)
        )
        return ProgramReport(
            solver=cfg.solver,
            activation=cfg.activation,
            early_stopping=cfg.early_stopping,
            dtype=plan.dtype,
            hidden_widths=cfg.hidden_widths,
            n_models=plan.n_models,
            padding_overhead=executed / useful - 1 if useful else 0.0,
            useful_gflop=useful / 1e9,
            quick_compile=cfg.quick_compile,
            **measured,
        )

    def finish(self, plan, member, states, m, *, snapshot=False):
        one = jax.tree.map(lambda a: np.asarray(a)[m : m + 1], states)
        early_stopping = np.array([bool(member.estimator.early_stopping)])
        _materialize(member, results_from_states(one, early_stopping), 0, snapshot)


MLP_KIND = MLPKind()
