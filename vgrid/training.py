"""Pure training core: scikit-learn's stochastic MLP training, for one model, vmapped over many.

`train_segment(config, shared, models, states, n_epochs)` advances every model of a group by
up to `n_epochs` epochs in one XLA program: `jax.vmap` over the model axis (a call with one model,
as on the CPU, is compiled without it), the epoch loop a `lax.while_loop` (under vmap it runs
until the last model stops or the budget is spent; a stopped model is frozen), the minibatch loop
a `lax.scan` over the epoch's rows, gathered once per epoch. A model with fewer minibatches than
the program skips the extra ones (`lax.cond`; a select under vmap). A model's whole training
state is a `ModelState`, so training can stop and resume at any epoch boundary without changing
a single number: the host uses this to refill the slot of a model that stopped early with a new
model. Everything a model needs that is only a number (learning rate, alpha, tol, ...) is
traced, so a grid over numbers compiles once. The formulas are scikit-learn's, to the letter:
`_multilayer_perceptron.py` (`_backprop`, `_fit_stochastic`, `_update_no_improvement_count`) and
`_stochastic_optimizers.py` (`AdamOptimizer`, `SGDOptimizer`).

Minibatch order, initial weights and the early-stopping split are inputs: they come from
`vgrid.replay`, which replays scikit-learn's `RandomState` on the host.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.special import xlogy

from .network import MaskedMLP, output_activation

__all__ = [
    "GroupConfig",
    "HyperParams",
    "ModelInputs",
    "ModelState",
    "SharedInputs",
    "TrainResult",
    "initial_states",
    "train_segment",
    "segment_program",
    "results_from_states",
    "SCHEDULES",
    "QUICK_COMPILE_OPTIONS",
]

#: A field with a leading model axis: a NumPy array while the host lays a group out, a
#: `jax.Array` inside the compiled program.
ModelArray = jax.Array | np.ndarray

SCHEDULES = {"constant": 0, "invscaling": 1, "adaptive": 2}


class GroupConfig(NamedTuple):
    """Static description of a group: everything that changes shapes or the program."""

    hidden_widths: tuple[int, ...]
    mixed_depths: bool  # models of several depths: deeper layers are skipped per model
    # Input width, padded: data sets of several widths (the folds of a TF-IDF or one-hot
    # pipeline, a grid over PCA's n_components) share a program, their extra columns zero.
    # A zero column gives its kernel row zero gradient, so the row stays zero: exact.
    n_features: int
    n_outputs: int
    activation: str  # one hidden activation for all models, or "mixed" (per-model codes)
    out_activation: str  # 'softmax', 'logistic', 'identity' or 'exp'
    loss: str  # 'log_loss', 'binary_log_loss', 'squared_error' or 'poisson'
    solver: str  # 'adam' or 'sgd'
    early_stopping: bool  # some model stops early: compute validation scores (per-model flag)
    is_classifier: bool
    batch_size: int
    n_batches: int
    max_epochs: int
    # Some model has fewer than n_batches minibatches: its extra ones are all padding and must
    # leave it untouched. False when every model has n_batches (no per-step cond compiled).
    padding_batches: bool = True
    # Some model has sample weights; without any, a minibatch's weight sum is its row count.
    weighted: bool = True
    # Compile with `QUICK_COMPILE_OPTIONS` (XLA:CPU's loop emitters): about half the compile
    # time, slower elementwise kernels. Chosen by `plan.CostModel.compiles_quickly`.
    quick_compile: bool = False


class HyperParams(NamedTuple):
    """Traced hyperparameters, one value per model (leading model axis)."""

    alpha: ModelArray
    learning_rate_init: ModelArray
    beta_1: ModelArray
    beta_2: ModelArray
    epsilon: ModelArray
    momentum: ModelArray
    nesterovs_momentum: ModelArray  # bool
    power_t: ModelArray
    tol: ModelArray
    n_iter_no_change: ModelArray  # float, may be inf
    max_iter: ModelArray  # int32
    schedule: ModelArray  # int32, see SCHEDULES
    early_stopping: ModelArray  # bool
    activation: ModelArray  # int32, see network.ACTIVATION_CODES
    #: bool; False: the stopping rule never ends training, only max_iter does (partial_fit
    #: called once per epoch: its count and an 'adaptive' rate's drops still happen)
    stops_by_rule: ModelArray


class ModelInputs(NamedTuple):
    """Per-model inputs (leading model axis)."""

    hyper: HyperParams
    unit_masks: tuple  # one (width,) mask per hidden layer
    depth: ModelArray  # int32: hidden layers this model really has (the rest are skipped)
    init_id: ModelArray  # row of the group's table of initial weights (host side)
    order_id: ModelArray  # row of SharedInputs.orders
    data_id: ModelArray  # row of SharedInputs.X / Y / W
    n_train: ModelArray  # rows in the training part (float)
    batch_size: ModelArray  # the model's own minibatch size (float; the program's may be larger)
    val_rows: ModelArray  # (n_val_max,) rows of the validation part, padded with the sentinel


class SharedInputs(NamedTuple):
    """Inputs shared by the models of a group. Row `X.shape[1] - 1` is an all-zero sentinel."""

    X: ModelArray  # (n_data, n_rows + 1, n_features)
    Y: ModelArray  # (n_data, n_rows + 1, n_outputs)
    W: ModelArray  # (n_data, n_rows + 1) sample weights, 0 on padding
    orders: ModelArray  # (n_orders, n_epochs_in_table, n_batches * batch_size) int32


class OptState(NamedTuple):
    first: dict  # Adam's m, or SGD's velocity
    second: dict  # Adam's v (zeros for SGD)
    step: ModelArray  # Adam's t (minibatches seen)
    learning_rate: ModelArray  # SGD's current learning rate


class TrainResult(NamedTuple):
    params: dict  # final parameters (the best ones with early stopping)
    opt: OptState
    loss_curve: ModelArray  # (max_epochs,), NaN past n_iter
    validation_scores: ModelArray  # (max_epochs,), NaN past n_iter or without early stopping
    n_iter: ModelArray
    stopped_by_rule: ModelArray  # stopped by tol / n_iter_no_change (no ConvergenceWarning)
    best_loss: ModelArray
    best_validation_score: ModelArray
    no_improvement_count: ModelArray


class ModelState(NamedTuple):
    """Everything one model's training carries from epoch to epoch (leading model axis)."""

    params: dict
    best_params: dict
    opt: OptState
    n_iter: ModelArray
    samples_seen: ModelArray
    no_improvement_count: ModelArray
    best_loss: ModelArray
    best_validation_score: ModelArray
    loss_curve: ModelArray
    validation_scores: ModelArray
    stopped_by_rule: ModelArray
    done: ModelArray


def _reported_loss(loss, y, out, w, w_sum):
    """scikit-learn's LOSS_FUNCTIONS (clipped, weighted), for one minibatch."""
    eps = jnp.finfo(out.dtype).eps
    if loss in ("log_loss", "binary_log_loss"):
        p = jnp.clip(out, eps, 1 - eps)
        per_output = xlogy(y, p)
        if loss == "binary_log_loss":
            per_output = per_output + xlogy(1 - y, 1 - p)
        return -jnp.sum(w[:, None] * per_output) / w_sum
    if loss == "squared_error":
        return 0.5 * jnp.mean(jnp.sum(w[:, None] * (y - out) ** 2, axis=0) / w_sum)
    if loss == "poisson":
        return jnp.sum(w[:, None] * (xlogy(y, y / out) - y + out)) / w_sum
    raise ValueError(f"unknown loss {loss!r}")


def _validation_score(config, y, out, w):
    """scikit-learn's MLP `_score` (accuracy or R^2, weighted) on the validation part."""
    w_sum = jnp.sum(w)
    if config.is_classifier:
        if config.out_activation == "softmax":
            correct = jnp.argmax(out, axis=-1) == jnp.argmax(y, axis=-1)
        else:
            correct = jnp.all((out > 0.5) == (y > 0.5), axis=-1)
        return jnp.sum(w * correct) / w_sum
    y_mean = jnp.sum(w[:, None] * y, axis=0, keepdims=True) / w_sum
    numerator = jnp.sum(w[:, None] * (y - out) ** 2, axis=0)
    denominator = jnp.sum(w[:, None] * (y - y_mean) ** 2, axis=0)
    valid = (numerator != 0) & (denominator != 0)
    per_output = jnp.where(valid, 1 - numerator / jnp.where(valid, denominator, 1), 1.0)
    per_output = jnp.where((numerator != 0) & (denominator == 0), 0.0, per_output)
    finite = jnp.all(jnp.isfinite(jnp.where(w[:, None] > 0, out, 0)))
    return jnp.where(finite, jnp.mean(per_output), jnp.nan)


def _select(pred, new, old):
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), new, old)


def _advance_one(
    config: GroupConfig, shared: SharedInputs, model: ModelInputs, state: ModelState, n_epochs
) -> ModelState:
    net = MaskedMLP(config.hidden_widths, config.n_outputs, config.activation)
    out_act = output_activation(config.out_activation)
    hp = model.hyper
    depth = model.depth if config.mixed_depths else None
    dtype = shared.X.dtype
    n_table_epochs = shared.orders.shape[1]

    def rows_data(rows):
        return (
            shared.X[model.data_id, rows],
            shared.Y[model.data_id, rows],
            shared.W[model.data_id, rows],
        )

    def surrogate(params, x, y, w, w_sum):
        # Its gradient is scikit-learn's backprop: delta_out = w * (out - y), grads / w_sum.
        z = net.apply({"params": params}, x, model.unit_masks, hp.activation, depth)
        out = out_act(z)
        l2 = sum(jnp.sum(layer["kernel"] ** 2) for layer in params.values())
        l2_term = 0.5 * hp.alpha * l2 / w_sum
        data_term = jnp.sum(w[:, None] * lax.stop_gradient(out - y) * z) / w_sum
        return data_term + l2_term, (out, l2_term)

    def update(params, opt, x, y, w, w_sum):
        """One minibatch step: the new parameters and optimizer state, and the batch loss."""
        grads, (out, l2_term) = jax.grad(surrogate, has_aux=True)(params, x, y, w, w_sum)
        batch_loss = _reported_loss(config.loss, y, out, w, w_sum) + l2_term
        if config.solver == "adam":
            step = opt.step + 1
            t = step.astype(dtype)
            first = jax.tree.map(lambda m, g: hp.beta_1 * m + (1 - hp.beta_1) * g, opt.first, grads)
            second = jax.tree.map(
                lambda v, g: hp.beta_2 * v + (1 - hp.beta_2) * g**2, opt.second, grads
            )
            lr_t = hp.learning_rate_init * jnp.sqrt(1 - hp.beta_2**t) / (1 - hp.beta_1**t)
            new_params = jax.tree.map(
                lambda p, m, v: p + (-lr_t * m) / (jnp.sqrt(v) + hp.epsilon), params, first, second
            )
            return new_params, OptState(first, second, step, opt.learning_rate), batch_loss
        lr = opt.learning_rate
        velocity = jax.tree.map(lambda v, g: hp.momentum * v - lr * g, opt.first, grads)
        nesterov = jax.tree.map(lambda v, g: hp.momentum * v - lr * g, velocity, grads)
        change = _select(hp.nesterovs_momentum, nesterov, velocity)
        new_params = jax.tree.map(jnp.add, params, change)
        return new_params, OptState(velocity, opt.second, opt.step + 1, lr), batch_loss

    def skip(params, opt, *_):
        return params, opt, jnp.zeros((), dtype)

    def minibatch(carry, batch):
        params, opt, loss_sum = carry
        index, x, y, w = batch
        # Minibatch `index` holds the model's rows [index * batch_size, (index + 1) * batch_size).
        n_rows = jnp.clip(model.n_train - index * model.batch_size, 0, model.batch_size)
        real = n_rows > 0
        w_sum = jnp.where(real, jnp.sum(w) if config.weighted else n_rows, 1)
        if config.padding_batches:
            # A minibatch of padding only (a model with fewer minibatches than the program)
            # leaves the model as it is. Unbatched, the cond skips the step's work; under
            # vmap it becomes a select.
            params, opt, batch_loss = lax.cond(real, update, skip, params, opt, x, y, w, w_sum)
        else:
            params, opt, batch_loss = update(params, opt, x, y, w, w_sum)
        return (params, opt, loss_sum + batch_loss * n_rows), None

    def epoch(state: ModelState) -> ModelState:
        order = shared.orders[model.order_id, state.n_iter % n_table_epochs]
        # The epoch's rows in minibatch order, gathered at once; the scan then reads them
        # minibatch by minibatch (one large gather is cheaper than one per minibatch).
        batches = (
            jnp.arange(config.n_batches, dtype=dtype),
            *jax.tree.map(
                lambda a: a.reshape(config.n_batches, config.batch_size, *a.shape[1:]),
                rows_data(order),
            ),
        )
        (params, opt, loss_sum), _ = lax.scan(
            minibatch, (state.params, state.opt, jnp.zeros((), dtype)), batches
        )
        n_iter = state.n_iter + 1
        loss = loss_sum / model.n_train
        samples_seen = state.samples_seen + model.n_train
        count = state.no_improvement_count
        best_params, best_loss = state.best_params, state.best_loss
        best_val = state.best_validation_score
        val_scores = jnp.asarray(state.validation_scores)
        if config.early_stopping:
            x, y, w = rows_data(model.val_rows)
            es: ModelArray | bool = hp.early_stopping
            logits = net.apply({"params": params}, x, model.unit_masks, hp.activation, depth)
            score = _validation_score(config, y, out_act(logits), w)
            val_scores = jnp.where(es, val_scores.at[n_iter - 1].set(score), val_scores)
            count_es: ModelArray = jnp.where(score < best_val + hp.tol, count + 1, 0)
            improved = es & (score > best_val)
            best_val = jnp.where(improved, score, best_val)
            best_params = _select(improved, params, best_params)
        else:
            es = False
            count_es = count
        count = jnp.where(es, count_es, jnp.where(loss > best_loss - hp.tol, count + 1, 0))
        best_loss = jnp.where(~es & (loss < best_loss), loss, best_loss)
        triggered = count > hp.n_iter_no_change
        if config.solver == "sgd":
            lr = jnp.where(
                hp.schedule == SCHEDULES["invscaling"],
                hp.learning_rate_init / (samples_seen + 1) ** hp.power_t,
                opt.learning_rate,
            )
            reduce = triggered & (hp.schedule == SCHEDULES["adaptive"]) & (lr > 1e-6)
            opt = opt._replace(learning_rate=jnp.where(reduce, lr / 5.0, lr))
            count = jnp.where(reduce, 0, count)
            stop = triggered & ~reduce
        else:
            stop = triggered
        stop = stop & hp.stops_by_rule
        return ModelState(
            params=params,
            best_params=best_params,
            opt=opt,
            n_iter=n_iter,
            samples_seen=samples_seen,
            no_improvement_count=count,
            best_loss=best_loss,
            best_validation_score=best_val,
            loss_curve=jnp.asarray(state.loss_curve).at[n_iter - 1].set(loss),
            validation_scores=val_scores,
            stopped_by_rule=stop,
            done=stop | (n_iter >= hp.max_iter),
        )

    stop_at = state.n_iter + n_epochs
    return lax.while_loop(lambda st: ~st.done & (st.n_iter < stop_at), epoch, state)


def initial_states(shared_inits: dict, models: ModelInputs, max_epochs: int, dtype) -> ModelState:
    """Fresh states (host, numpy) for `models`: replayed initial weights, zero optimizer state."""
    n = len(models.init_id)
    params0 = jax.tree.map(lambda a: a[models.init_id], shared_inits)
    zeros = jax.tree.map(np.zeros_like, params0)
    nan_curve = np.full((n, max_epochs), np.nan, dtype)
    return ModelState(
        params=params0,
        best_params=jax.tree.map(np.copy, params0),
        opt=OptState(
            zeros,
            jax.tree.map(np.copy, zeros),
            np.zeros(n, np.int32),
            models.hyper.learning_rate_init.astype(dtype),
        ),
        n_iter=np.zeros(n, np.int32),
        samples_seen=np.zeros(n, dtype),
        no_improvement_count=np.zeros(n, np.int32),
        best_loss=np.full(n, np.inf, dtype),
        best_validation_score=np.full(n, -np.inf, dtype),
        loss_curve=nan_curve,
        validation_scores=nan_curve.copy(),
        stopped_by_rule=np.zeros(n, bool),
        done=np.zeros(n, bool),
    )


def results_from_states(states: ModelState, early_stopping) -> TrainResult:
    """The fitted result of finished states (early stopping keeps the best parameters)."""

    def pick(best, last):
        return np.where(early_stopping.reshape((-1,) + (1,) * (best.ndim - 1)), best, last)

    return TrainResult(
        params=jax.tree.map(pick, states.best_params, states.params),
        opt=states.opt,
        loss_curve=states.loss_curve,
        validation_scores=states.validation_scores,
        n_iter=states.n_iter,
        stopped_by_rule=states.stopped_by_rule,
        best_loss=states.best_loss,
        best_validation_score=states.best_validation_score,
        no_improvement_count=states.no_improvement_count,
    )


def advance_every_model(advance_one, config, shared, models, states, n_epochs):
    """`advance_one(config, shared, model, state, n_epochs)` for every model of a group:
    vmapped over the model axis, or, for one model, called without vmap, so that its epoch
    loop needs no per-leaf selects to freeze stopped models and its matrix products are plain
    ones (a smaller, faster-compiling program)."""
    if states.n_iter.shape[0] == 1:
        model, state = jax.tree.map(lambda a: a[0], (models, states))
        return jax.tree.map(lambda a: a[None], advance_one(config, shared, model, state, n_epochs))
    return jax.vmap(partial(advance_one, config, shared), in_axes=(0, 0, None))(
        models, states, n_epochs
    )


def _train_segment(
    config: GroupConfig, shared: SharedInputs, models: ModelInputs, states: ModelState, n_epochs
) -> ModelState:
    return advance_every_model(_advance_one, config, shared, models, states, n_epochs)


#: XLA options of a program compiled for a quick compile (`GroupConfig.quick_compile`): the
#: CPU's loop emitters instead of its MLIR fusion emitters: about half XLA's time, slower
#: training (benchmarks/README.md, "The measurements behind vgrid's constants").
QUICK_COMPILE_OPTIONS = {"xla_cpu_use_fusion_emitters": False}

_PROGRAMS = {
    False: jax.jit(_train_segment, static_argnames="config"),
    True: jax.jit(_train_segment, static_argnames="config", compiler_options=QUICK_COMPILE_OPTIONS),
}


def segment_program(config: GroupConfig):
    """The jitted `train_segment` for `config`: compiled with `QUICK_COMPILE_OPTIONS` when
    `config.quick_compile`. Use it to `.lower(...)` and `.compile()` ahead of time."""
    return _PROGRAMS[config.quick_compile]


def train_segment(
    config: GroupConfig, shared: SharedInputs, models: ModelInputs, states: ModelState, n_epochs
) -> ModelState:
    """Advance every model by up to `n_epochs` epochs (fewer if it stops); one XLA program,
    jitted with `config` static (`segment_program`)."""
    return segment_program(config)(config, shared, models, states, n_epochs)
