"""Useful work of a search, counted by XLA's own cost analysis of the real (unpadded) models.

For every (candidate, split) fit, one training step of that model alone, at its own shapes
(forward, loss, gradients, optimizer update), is lowered with `jax.jit(...).lower(...)` and
XLA's `cost_analysis()` counts its FLOPs. A fit's work is that count times the steps the fit
ran: its epochs (from `learning_curves_`, else its epoch limit) times the minibatches of its
training rows (full ones, and the partial last one at its own size). Padding, masked units and
the models' stacking never enter: this is the work one would do fitting each model alone.

Example:
    >>> flop = mlp_step_flop(n_features=4, hidden=(8,), n_outputs=1, rows=10, dtype="float32")
    >>> flop >= 2 * 10 * (4 * 8 + 8 * 1)   # at least the forward pass's matrix products
    True
"""

from __future__ import annotations

import functools
import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["flax_step_flop", "mlp_step_flop", "search_flop"]


def _lowered_flop(fn, *args) -> float:
    analysis: Any = jax.jit(fn).lower(*args).cost_analysis()
    if isinstance(analysis, list | tuple):  # older JAX: one dict per computation
        analysis = analysis[0]
    return float(analysis["flops"])


_ACTIVATIONS = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "logistic": jax.nn.sigmoid,
    "identity": lambda x: x,
}


@functools.cache
def mlp_step_flop(
    n_features: int, hidden: tuple, n_outputs: int, rows: int, dtype: str, activation: str = "relu"
) -> float:
    """FLOPs of one Adam step of scikit-learn's MLPClassifier on `rows` rows: forward, log-loss
    with its L2 term, gradients, Adam's moments and update (scikit-learn's formulas)."""
    sizes = [n_features, *hidden, n_outputs]
    act = _ACTIVATIONS[activation]

    def loss(params, x, y, alpha):
        for i, (w, b) in enumerate(params):
            x = x @ w + b[None, :]
            if i < len(params) - 1:
                x = act(x)
        if n_outputs == 1:
            loss = jnp.mean(jax.nn.softplus(x[:, 0]) - y * x[:, 0])
        else:
            loss = -jnp.mean(jnp.sum(y * jax.nn.log_softmax(x), axis=1))
        l2 = sum(jnp.sum(w * w) for w, _ in params)
        return loss + 0.5 * alpha * l2 / x.shape[0]

    def step(params, m, v, x, y, alpha, lr):
        grads = jax.grad(loss)(params, x, y, alpha)
        m = jax.tree.map(lambda m, g: 0.9 * m + 0.1 * g, m, grads)
        v = jax.tree.map(lambda v, g: 0.999 * v + 0.001 * g * g, v, grads)
        params = jax.tree.map(lambda p, m, v: p - lr * m / (jnp.sqrt(v) + 1e-8), params, m, v)
        return params, m, v

    with jax.enable_x64(dtype == "float64"):
        shape = functools.partial(jax.ShapeDtypeStruct, dtype=jnp.dtype(dtype))  # no values
        params = [(shape((a, b)), shape((b,))) for a, b in zip(sizes[:-1], sizes[1:])]
        x = shape((rows, n_features))
        y = shape((rows,) if n_outputs == 1 else (rows, n_outputs))
        scalar = shape(())
        return _lowered_flop(step, params, params, params, x, y, scalar, scalar)


def _unpadded_fields(module_cls, fields: dict) -> dict:
    """A masked module's fields for the model it really is (no masked filters or taps)."""
    from vgrid.flax_models import DigitsCNN

    if module_cls is DigitsCNN:
        features = fields.get("features", DigitsCNN.features)
        kernel = fields.get("kernel_size", DigitsCNN.kernel_size)
        return dict(fields, max_features=features, max_kernel=kernel)
    return fields


def flax_step_flop(
    module_cls,
    fields: tuple,
    optimizer,
    opt_args: tuple,
    n_features: int,
    n_outputs: int,
    rows: int,
) -> float:
    """FLOPs of one step of a FlaxClassifier's model on `rows` rows: forward, softmax
    cross-entropy, gradients and the optax update. Numeric optimizer arguments are traced, as
    the estimator traces them, so their values do not change the count."""
    numeric = tuple(sorted(k for k, v in opt_args if _is_number(v)))
    static = tuple((k, v) for k, v in opt_args if not _is_number(v))
    return _flax_step_flop(
        module_cls, fields, optimizer, static, numeric, n_features, n_outputs, rows
    )


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@functools.cache
def _flax_step_flop(
    module_cls, fields, optimizer, static_opt, numeric_opt, n_features, n_outputs, rows
):
    import optax

    module = module_cls(n_outputs=n_outputs, **_unpadded_fields(module_cls, dict(fields)))
    x = jax.ShapeDtypeStruct((rows, n_features), jnp.float32)
    y = jax.ShapeDtypeStruct((rows,), jnp.int32)
    # The parameters' shapes only: running `init` eagerly would compile each of its operations
    # (seconds for a small CNN), and the count needs no values.
    params = jax.eval_shape(
        module.init, jax.random.key(0), jax.ShapeDtypeStruct((1, n_features), jnp.float32)
    )
    hyper = {k: jax.ShapeDtypeStruct((), jnp.float32) for k in numeric_opt}

    def step(params, hyper, x, y):
        tx = optax.inject_hyperparams(optimizer)(**dict(static_opt), **hyper)
        state = tx.init(params)

        def loss(params):
            logits = module.apply(params, x)
            return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))

        updates, state = tx.update(jax.grad(loss)(params), state, params)
        return optax.apply_updates(params, updates), state

    return _lowered_flop(step, params, hyper, x, y)


def _epoch_flop(step_flop, n_rows: int, batch: int) -> float:
    """One epoch: the full minibatches and the partial last one, each at its own size."""
    batch = min(batch, n_rows)
    full, rest = divmod(n_rows, batch)
    return full * step_flop(batch) + (step_flop(rest) if rest else 0.0)


def _model_epoch_flop(
    estimator, params: dict, n_features: int, n_outputs: int, n_rows: int, dtype: str
):
    """Work of one epoch of `estimator` with `params` on `n_rows` training rows of `dtype`."""
    from sklearn.base import clone

    est = clone(estimator).set_params(**params)
    if hasattr(est, "hidden_layer_sizes"):  # scikit-learn's (or vgrid's) MLP
        if est.solver != "adam" or est.early_stopping:
            raise ValueError(
                "the FLOP count covers solver='adam' without early_stopping, got "
                f"solver={est.solver!r}, early_stopping={est.early_stopping!r}"
            )
        sizes = est.hidden_layer_sizes
        hidden = (int(sizes),) if isinstance(sizes, numbers.Integral) else tuple(map(int, sizes))
        batch = min(200, n_rows) if est.batch_size == "auto" else int(est.batch_size)
        return _epoch_flop(
            lambda r: mlp_step_flop(n_features, hidden, n_outputs, r, dtype, est.activation),
            n_rows,
            batch,
        )
    from vgrid.flax_models import MLP

    module_cls = est.module or MLP
    fields = tuple(
        sorted(
            (k[len("module__") :], _hashable(v))
            for k, v in est.get_params().items()
            if k.startswith("module__")
        )
    )
    opt_args = {
        k[len("optimizer__") :]: v
        for k, v in est.get_params().items()
        if k.startswith("optimizer__")
    }
    opt_args.setdefault("learning_rate", 1e-3)
    opt_items = tuple(sorted((k, _hashable(v)) for k, v in opt_args.items()))
    return _epoch_flop(
        lambda r: flax_step_flop(
            module_cls, fields, est.optimizer, opt_items, n_features, n_outputs, r
        ),
        n_rows,
        int(est.batch_size),
    )


def _hashable(value):
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def search_flop(search, X, y, cv, dtype: str) -> float:
    """Useful FLOPs of a fitted `GridSearchCV`: every (candidate, split) fit's steps at its own
    shapes, counted by XLA, plus the refit when there is one.

    Parameters
    ----------
    search : fitted vgrid.GridSearchCV
        Over a classifier: an MLP (``solver="adam"``, without early stopping) or a Flax
        estimator (its module counted at each candidate's own field values).
    X, y : array-like
        The data the search was fitted on.
    cv : cross-validation splitter
        The splitter it used (its training sizes are counted).
    dtype : str
        "float32" or "float64": the dtype the models trained in.

    Returns
    -------
    float
        FLOPs, summed over every fit's epochs (from `learning_curves_`) and minibatches.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import KFold
    >>> from vgrid import GridSearchCV, MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> cv = KFold(2)
    >>> search = GridSearchCV(MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0),
    ...                       {"alpha": [1e-4, 1e-2]}, cv=cv, refit=False).fit(X, y)
    >>> search_flop(search, X, y, cv, "float64") > 0
    True
    """
    from sklearn.base import is_classifier

    estimator = search.estimator
    if not is_classifier(estimator):
        raise ValueError(
            f"the FLOP count covers classifiers (log-loss, softmax cross-entropy); "
            f"got {type(estimator).__name__}"
        )
    n_classes = len(np.unique(y))
    is_mlp = hasattr(estimator, "hidden_layer_sizes")
    n_outputs = 1 if (is_mlp and n_classes == 2) else n_classes
    splits = [len(train) for train, _ in cv.split(X, y)]
    curves = getattr(search, "learning_curves_", None)
    total = 0.0
    for c, params in enumerate(search.cv_results_["params"]):
        for s, n_rows in enumerate(splits):
            epochs = (
                int(np.sum(~np.isnan(curves["loss"][c, s])))
                if curves is not None
                else _epoch_limit(estimator, params)
            )
            total += epochs * _model_epoch_flop(
                estimator, params, X.shape[1], n_outputs, n_rows, dtype
            )
    best = getattr(search, "best_estimator_", None)
    if best is not None:
        total += best.n_iter_ * _model_epoch_flop(
            estimator, search.best_params_, X.shape[1], n_outputs, X.shape[0], dtype
        )
    return total


def _epoch_limit(estimator, params):
    from sklearn.base import clone

    est = clone(estimator).set_params(**params)
    return int(getattr(est, "max_iter", None) or est.max_epochs)
