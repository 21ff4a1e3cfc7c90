"""`FlaxClassifier` and `FlaxRegressor`: any Flax module and optax optimizer as a scikit-learn
estimator, and many of them trained at once.

Parameters follow skorch's convention: `module` is a `flax.linen.Module` class (with an
`n_outputs` field, see `vgrid.flax_models`), `module__<field>` sets its fields; `optimizer` is
an optax optimizer factory (`optax.adam`) and `optimizer__<arg>` its arguments. Numeric
optimizer arguments are traced (one program for a grid of learning rates); module fields are
static unless listed in `traced_fields` (then a grid over them shares one program too, if the
module only uses them in arithmetic or masks, as `DigitsCNN` does). Training is float32,
minibatch SGD with the optimizer for `max_epochs` epochs, shuffled by `jax.random` keys derived
from `random_state` alone (never from a model's position in a grid), so a vectorized fit of a
candidate equals the candidate's own fit up to float rounding.

Example:
    >>> import optax
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = FlaxClassifier(module__hidden=(16,), optimizer=optax.adam,
    ...                      optimizer__learning_rate=0.01, max_epochs=30).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
"""

from __future__ import annotations

import numbers
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .flax_models import MLP

__all__ = ["FlaxClassifier", "FlaxRegressor", "fit_flax_estimators"]

_PREFIXES = ("module__", "optimizer__")


class _FlaxEstimator(BaseEstimator):
    def __init__(self, module=None, *, optimizer=optax.adam, max_epochs=20, batch_size=32,
                 random_state=0, traced_fields=(), **kwargs):
        self.module = module
        self.optimizer = optimizer
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.random_state = random_state
        self.traced_fields = traced_fields
        for key, value in kwargs.items():  # checked by fit, as scikit-learn checks parameters
            setattr(self, key, value)

    def _extra_names(self):
        named = set(self._get_param_names())
        return [k for k in vars(self) if k not in named and not k.startswith("_")
                and not k.endswith("_")]

    def get_params(self, deep=True):
        params = super().get_params(deep=False)
        params.update({k: getattr(self, k) for k in self._extra_names()})
        return params

    def set_params(self, **params):
        for key in [k for k in params if k.startswith(_PREFIXES)]:
            setattr(self, key, params.pop(key))
        return super().set_params(**params)

    # -- the pieces a fit is made of -------------------------------------------------------
    def _prefixed(self, prefix):
        return {k[len(prefix):]: v for k, v in vars(self).items() if k.startswith(prefix)}

    def _split_args(self):
        """(static signature, traced optimizer args, traced module fields) of this estimator."""
        module_cls = self.module or MLP
        fields = self._prefixed("module__")
        opt_args = self._prefixed("optimizer__")
        if "learning_rate" not in opt_args:
            opt_args["learning_rate"] = 1e-3
        traced_opt = {k: float(v) for k, v in opt_args.items()
                      if isinstance(v, numbers.Real) and not isinstance(v, bool)}
        static_opt = tuple(sorted((k, v) for k, v in opt_args.items() if k not in traced_opt))
        traced_mod = {k: fields.pop(k) for k in list(fields) if k in self.traced_fields}
        static_fields = tuple(sorted(fields.items()))
        return ((module_cls, static_fields, tuple(sorted(traced_mod)), self.optimizer,
                 static_opt, tuple(sorted(traced_opt)), int(self.max_epochs),
                 int(self.batch_size), self._task),
                traced_opt, traced_mod)

    def _validate_hyperparameters(self):
        unknown = [k for k in self._extra_names() if not k.startswith(_PREFIXES)]
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected parameter(s) {unknown}; "
                            "extra parameters must start with 'module__' or 'optimizer__'.")
        for name in ("max_epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if self.module is not None and not isinstance(self.module, type):
            raise TypeError(f"module must be a flax.linen.Module class, got {self.module!r}; "
                            "pass the class and set its fields with module__<field>.")

    def _module(self, n_outputs, traced=None):
        module_cls = self.module or MLP
        fields = {k: v for k, v in self._prefixed("module__").items()}
        fields.update(traced or {})
        return module_cls(n_outputs=n_outputs, **fields)

    def fit(self, X, y, sample_weight=None):
        """Fit on (X, y); returns self."""
        from .engine import FitJob

        fit_flax_estimators([FitJob(self, X, y, sample_weight)])
        return self

    def _logits(self, X):
        """Outputs for X, computed in float64 so that each row's result does not depend on the
        other rows (float32 kernels may round differently by position)."""
        check_is_fitted(self, "params_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        module = self._module(self.n_outputs_)
        with jax.enable_x64(True):
            params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), self.params_)
            return np.asarray(_apply(module, params, jnp.asarray(X)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = not isinstance(self, ClassifierMixin)
        return tags


@partial(jax.jit, static_argnums=0)
def _apply(module, params, X):
    return module.apply(params, X)


class FlaxClassifier(ClassifierMixin, _FlaxEstimator):
    """A Flax module trained with softmax cross-entropy, as a scikit-learn classifier.

    See the module docstring for the parameters. Fitted: `params_`, `classes_`, `n_outputs_`,
    `n_features_in_`, `loss_curve_` (mean training loss per epoch), `n_iter_`.
    """

    _task = "classification"

    def predict_proba(self, X):
        return np.asarray(jax.nn.softmax(self._logits(X), axis=-1))

    def predict(self, X):
        logits = self._logits(X)  # checks that the estimator is fitted
        return self.classes_[np.argmax(logits, axis=-1)]


class FlaxRegressor(RegressorMixin, _FlaxEstimator):
    """A Flax module trained with squared error, as a scikit-learn regressor.

    See the module docstring for the parameters. Fitted: `params_`, `n_outputs_`,
    `n_features_in_`, `loss_curve_`, `n_iter_`.
    """

    _task = "regression"

    def predict(self, X):
        out = self._logits(X)
        return out[:, 0] if self._y_1d else out


def _train_one(static, n_outputs, n_batches, X, Y, W, n_real, seed, traced_opt, traced_mod):
    module_cls, static_fields, _, optimizer, static_opt, _, max_epochs, batch_size, task = static
    module = module_cls(n_outputs=n_outputs, **dict(static_fields), **traced_mod)
    tx = optax.inject_hyperparams(optimizer)(**dict(static_opt), **traced_opt)
    key = jax.random.key(seed)
    params = module.init(jax.random.fold_in(key, 0), X[:1])
    opt_state = tx.init(params)
    rows = jnp.arange(X.shape[0])

    def loss_fn(params, xb, yb, wb):
        out = module.apply(params, xb)
        if task == "classification":
            per_row = optax.softmax_cross_entropy_with_integer_labels(out, yb)
        else:
            per_row = jnp.mean((out - yb) ** 2, axis=-1)
        return jnp.sum(wb * per_row) / jnp.maximum(jnp.sum(wb), 1e-12)

    def epoch(carry, e):
        params, opt_state = carry
        epoch_key = jax.random.fold_in(key, e + 1)
        # One random number per row, from the row's index alone: the order of a model's real
        # rows does not depend on how far its data was padded.
        u = jax.vmap(lambda i: jax.random.uniform(jax.random.fold_in(epoch_key, i)))(rows)
        order = jnp.argsort(jnp.where(rows < n_real, u, 2.0))
        batches = jnp.pad(order, (0, n_batches * batch_size - order.shape[0]),
                          constant_values=X.shape[0] - 1).reshape(n_batches, batch_size)
        positions = jnp.arange(n_batches * batch_size).reshape(n_batches, batch_size)

        def step(carry, b):
            params, opt_state, total = carry
            idx, pos = batches[b], positions[b]
            wb = jnp.where(pos < n_real, W[idx], 0.0)
            loss, grads = jax.value_and_grad(loss_fn)(params, X[idx], Y[idx], wb)
            updates, new_state = tx.update(grads, opt_state, params)
            real = jnp.sum(wb) > 0
            new_params = optax.apply_updates(params, updates)
            params, opt_state = jax.tree.map(lambda a, b: jnp.where(real, a, b),
                                             (new_params, new_state), (params, opt_state))
            return (params, opt_state, total + jnp.where(real, loss * jnp.sum(wb), 0.0)), None

        (params, opt_state, total), _ = jax.lax.scan(step, (params, opt_state, 0.0),
                                                     jnp.arange(n_batches))
        return (params, opt_state), total / jnp.maximum(jnp.sum(jnp.where(rows < n_real, W, 0)),
                                                        1e-12)

    (params, _), curve = jax.lax.scan(epoch, (params, opt_state), jnp.arange(max_epochs))
    return params, curve


@partial(jax.jit, static_argnums=(0, 1, 2))
def _train_many(static, n_outputs, n_batches, X, Y, W, n_real, data_id, seed, traced_opt,
                traced_mod):
    def one(d, s, t_opt, t_mod):
        return _train_one(static, n_outputs, n_batches, X[d], Y[d], W[d], n_real[d], s, t_opt,
                          t_mod)

    return jax.vmap(one)(data_id, seed, traced_opt, traced_mod)


def _prepare(est, X, y, sample_weight):
    est._validate_hyperparameters()
    X, y = validate_data(est, X, y, dtype=np.float32, multi_output=True, y_numeric=not
                         isinstance(est, ClassifierMixin))
    if isinstance(est, ClassifierMixin):
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        est.classes_ = encoder.classes_
        Y, n_outputs = encoder.transform(y).astype(np.int32), len(est.classes_)
    else:
        est._y_1d = y.ndim == 1
        Y = (y.reshape(-1, 1) if y.ndim == 1 else y).astype(np.float32)
        n_outputs = Y.shape[1]
    W = _check_sample_weight(sample_weight, X, dtype=np.float32)
    if not np.any(W > 0):
        raise ValueError("Sample weights must contain at least one non-zero number; got all "
                         "zeros.")
    return X, Y, W, n_outputs


def fit_flax_estimators(jobs, *, raise_errors=True, reports=None, progress=False,
                        slots=None):
    """Fit `engine.FitJob`s of Flax estimators, vectorizing the ones that share a program.

    Jobs are grouped by everything static (module class and static fields, optimizer factory
    and its non-numeric arguments, epochs, batch size, data shape); each group trains in one
    jitted, vmapped program, run in equal chunks of `slots` models (default: one chunk per CPU
    core, as for the MLPs) on worker threads. Returns one `engine.FitOutcome` per job.
    """
    from .engine import FitOutcome, _default_worker_threads

    outcomes = [FitOutcome() for _ in jobs]
    groups = {}
    for i, job in enumerate(jobs):
        est, X, y, sample_weight = job.estimator, job.X, job.y, job.sample_weight
        start = time.perf_counter()
        try:
            X, Y, W, n_outputs = _prepare(est, X, y, sample_weight)
            static, traced_opt, traced_mod = est._split_args()
            seed = int(est.random_state) if est.random_state is not None else int(
                np.random.randint(2**31))
            key = (static, n_outputs, X.shape[1], Y.dtype.str, Y.shape[1:])
            groups.setdefault(key, []).append((i, est, X, Y, W, seed, traced_opt, traced_mod))
        except Exception as exc:  # noqa: BLE001 - reported like scikit-learn's fit_error
            if raise_errors:
                raise
            outcomes[i].error, outcomes[i].exception = traceback.format_exc(), exc
        outcomes[i].fit_time += time.perf_counter() - start
    for (static, n_outputs, *_), members in groups.items():
        start = time.perf_counter()
        data_index, datasets = {}, []
        for m in members:  # identical data arrays are stored once
            fingerprint = (m[2].shape, hash(m[2].tobytes()), hash(m[3].tobytes()),
                           hash(m[4].tobytes()))
            if fingerprint not in data_index:
                data_index[fingerprint] = len(datasets)
                datasets.append(m[2:5])
        n_max = max(len(d[0]) for d in datasets)
        pad = lambda a: np.concatenate([a, np.zeros((n_max - len(a),) + a.shape[1:], a.dtype)])  # noqa: E731
        X = np.stack([pad(d[0]) for d in datasets])
        Y = np.stack([pad(d[1]) for d in datasets])
        W = np.stack([pad(d[2]) for d in datasets])
        n_real = np.array([len(d[0]) for d in datasets], np.int32)
        data_id = np.array([data_index[(m[2].shape, hash(m[2].tobytes()), hash(m[3].tobytes()),
                                        hash(m[4].tobytes()))] for m in members], np.int32)
        seeds = np.array([m[5] for m in members], np.uint32)
        traced_opt = {k: np.array([m[6][k] for m in members], np.float32) for k in static[5]}
        traced_mod = {k: np.array([m[7][k] for m in members]) for k in static[2]}
        n_batches = -(-n_max // static[7])
        per_model = {"data_id": data_id, "seed": seeds, "opt": traced_opt, "mod": traced_mod}
        n_threads = min(len(members), _default_worker_threads())
        size = slots or -(-len(members) // n_threads)
        n_chunks = -(-len(members) // size)
        padded = jax.tree.map(lambda a: np.concatenate(
            [a, np.repeat(a[:1], n_chunks * size - len(a), axis=0)]), per_model)

        def run(c):
            chunk = jax.tree.map(lambda a: a[c * size:(c + 1) * size], padded)
            return jax.tree.map(np.asarray, _train_many(
                static, n_outputs, n_batches, X, Y, W, n_real, chunk["data_id"], chunk["seed"],
                chunk["opt"], chunk["mod"]))

        with ThreadPoolExecutor(n_threads) as pool:  # same shapes: one compiled program
            parts = list(pool.map(run, range(n_chunks)))
        params, curves = jax.tree.map(lambda *a: np.concatenate(a)[:len(members)], *parts)
        share = (time.perf_counter() - start) / len(members)
        for j, (i, est, Xm, *_rest) in enumerate(members):
            est.params_ = jax.tree.map(lambda a, j=j: a[j], params)
            est.n_outputs_ = n_outputs
            est.loss_curve_ = [float(v) for v in curves[j]]
            est.n_iter_ = len(est.loss_curve_)
            outcomes[i].fit_time += share
            if not np.isfinite(est.loss_curve_[-1]):
                exc = ValueError("Training produced a non-finite loss; lower the learning "
                                 "rate or scale the input.")
                if raise_errors:
                    raise exc
                outcomes[i].error, outcomes[i].exception = f"ValueError: {exc}\n", exc
        if reports is not None:
            from .plan import ProgramReport

            reports.append(ProgramReport(
                solver=getattr(static[3], "__name__", str(static[3])),
                activation=static[0].__name__, early_stopping=False, dtype="float32",
                hidden_widths=(), n_models=len(members), slots=size, threads=n_threads,
                padding_overhead=0.0, compile_seconds=0.0,
                train_seconds=share * len(members), useful_gflop=0.0))
    return outcomes
