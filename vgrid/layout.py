"""How a group's models are laid out in padded arrays, and how one model's state moves in and out.

A group of models shares one program, so its arrays have the group's padded shapes: data padded
with zero columns to the group's input width, hidden layers padded to the group's widths, the
output layer always in the last position (a shallower model's skipped layers sit in between and
stay zero), data of every fold stacked and padded with an all-zero sentinel row, one minibatch
order per distinct (fold, random stream). `build_inputs` makes those arrays; `pad_state` and
`unpad_state` move one model's training state between its own shapes and a group's, which is
what lets a halving round continue a model in another group.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .network import ACTIVATION_CODES
from .plan import GroupPlan, layer_units
from .training import SCHEDULES, GroupConfig, HyperParams, ModelInputs, ModelState, SharedInputs

__all__ = ["build_inputs", "input_shapes", "pad_state", "unpad_state", "positions"]


def _real_layer_at(position: int, depth: int, n_positions: int) -> int | None:
    """Which of a model's own layers sits at a padded position: hidden layers first, the output
    layer always last; None for a skipped position."""
    if position == n_positions - 1:
        return depth
    return position if position < depth else None


def positions(depth: int, n_positions: int) -> list[int]:
    """Padded positions of a model's own layers, in order."""
    return list(range(depth)) + [n_positions - 1]


def _unique(members, key):
    """Each member's row in a table of distinct `key(member)` values, and the first member
    with each value (whose arrays fill that row)."""
    ids: list[int] = []
    rows: dict = {}
    first: list = []
    for p in members:
        k = key(p)
        if k not in rows:
            rows[k] = len(first)
            first.append(p)
        ids.append(rows[k])
    return np.asarray(ids, np.int32), first


def input_shapes(shared, inits, models) -> dict:
    """The sizes `GroupPlan.min_shapes` bounds, as a group's built inputs have them."""
    return {
        "n_data": shared.X.shape[0],
        "n_rows": shared.X.shape[1] - 1,
        "n_orders": shared.orders.shape[0],
        "n_table_epochs": shared.orders.shape[1],
        "n_inits": inits["layer_0"]["kernel"].shape[0],
        "n_val": models.val_rows.shape[1],
    }


def build_inputs(plan: GroupPlan):
    """Host arrays for one group: shared (data, inits, minibatch orders) and per-model inputs,
    at least as large as `plan.min_shapes` (the extra entries are never read)."""
    cfg, members = plan.config, plan.members
    floor = plan.min_shapes
    dtype = members[0].data.X.dtype
    data_ids, data_members = _unique(members, lambda p: p.data_key)
    n_rows = max(floor.get("n_rows", 0), *(len(p.data.X) for p in data_members))
    sentinel = n_rows
    n_features = cfg.n_features
    n_data = max(floor.get("n_data", 0), len(data_members))
    X = np.zeros((n_data, n_rows + 1, n_features), dtype)  # narrower data: zero columns
    Y = np.zeros((n_data, n_rows + 1, cfg.n_outputs), dtype)
    W = np.zeros((n_data, n_rows + 1), dtype)
    for d, p in enumerate(data_members):
        data = p.data
        X[d, : len(data.X), : data.X.shape[1]] = data.X
        Y[d, : len(data.X)], W[d, : len(data.X)] = data.Y, data.W

    order_ids, order_members = _unique(members, lambda p: (p.replay_key, p.batch_size))
    n_table_epochs = max(
        floor.get("n_table_epochs", 0), *(len(p.randomness.orders) for p in order_members)
    )
    orders = np.full(
        (
            max(floor.get("n_orders", 0), len(order_members)),
            n_table_epochs,
            cfg.n_batches,
            cfg.batch_size,
        ),
        sentinel,
        np.int32,
    )
    for o, p in enumerate(order_members):
        rows = p.randomness.orders
        n_train = rows.shape[1]
        positions = np.arange(n_train)
        orders[o][: len(rows), positions // p.batch_size, positions % p.batch_size] = rows
        orders[o, len(rows) :] = orders[o, len(rows) - 1]
    orders = orders.reshape(len(orders), n_table_epochs, -1)

    init_ids, init_members = _unique(members, lambda p: p.replay_key)
    units = layer_units(cfg.hidden_widths, n_features, cfg.n_outputs)
    inits = {}
    n_positions = len(cfg.hidden_widths) + 1
    n_inits = max(floor.get("n_inits", 0), len(init_members))
    for position, (fan_in, fan_out) in enumerate(zip(units[:-1], units[1:])):
        kernel = np.zeros((n_inits, fan_in, fan_out), dtype)
        bias = np.zeros((n_inits, fan_out), dtype)
        for i, p in enumerate(init_members):
            layer = _real_layer_at(position, len(p.hidden), n_positions)
            if layer is None:
                continue  # a skipped layer: zeros, and it stays zero
            coef, intercept = p.randomness.init[layer]
            kernel[i, : coef.shape[0], : coef.shape[1]] = coef
            bias[i, : len(intercept)] = intercept
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
        activation=np.array([ACTIVATION_CODES[e.activation] for e in ests], np.int32),
        stops_by_rule=np.array([p.partial_fit_epochs is None for p in members]),
    )
    masks = tuple(
        np.array(
            [
                [1 if i < len(p.hidden) and u < p.hidden[i] else 0 for u in range(w)]
                for p in members
            ],
            dtype,
        )
        for i, w in enumerate(cfg.hidden_widths)
    )
    n_val = max(1, floor.get("n_val", 0), *(len(p.randomness.val_rows) for p in members))
    val_rows = np.full((len(members), n_val), sentinel, np.int32)
    for m, p in enumerate(members):
        val_rows[m, : len(p.randomness.val_rows)] = p.randomness.val_rows
    models = ModelInputs(
        hyper=hyper,
        unit_masks=masks,
        depth=np.array([len(p.hidden) for p in members], np.int32),
        init_id=init_ids,
        order_id=order_ids,
        data_id=data_ids,
        n_train=np.array([len(p.randomness.train_rows) for p in members], dtype),
        batch_size=np.array([p.batch_size for p in members], dtype),
        val_rows=val_rows,
    )
    return SharedInputs(X, Y, W, orders), inits, models


_PARAM_TREES = ("params", "best_params")


def _map_param_trees(state: ModelState, fn) -> ModelState:
    opt = state.opt._replace(first=fn(state.opt.first), second=fn(state.opt.second))
    return state._replace(params=fn(state.params), best_params=fn(state.best_params), opt=opt)


def unpad_state(state: ModelState, p) -> ModelState:
    """One model's state with its real (unpadded) layer shapes, to resume it in any group."""
    units = layer_units(p.hidden, p.data.X.shape[1], p.data.Y.shape[1])

    def cut(tree):
        layers = positions(len(p.hidden), len(tree))
        return {
            f"layer_{i}": {
                "kernel": tree[f"layer_{q}"]["kernel"][: units[i], : units[i + 1]].copy(),
                "bias": tree[f"layer_{q}"]["bias"][: units[i + 1]].copy(),
            }
            for i, q in enumerate(layers)
        }

    return _map_param_trees(state, cut)


def pad_state(state: ModelState, config: GroupConfig) -> ModelState:
    """An unpadded state padded to a group's shapes (zeros stay zero: padded units are masked),
    with one leading slot axis; training continues until its new `max_iter`."""
    n_positions = len(config.hidden_widths) + 1

    def pad(tree):
        units = layer_units(config.hidden_widths, config.n_features, config.n_outputs)
        dtype = tree["layer_0"]["kernel"].dtype
        out = {
            f"layer_{q}": {
                "kernel": np.zeros((1, units[q], units[q + 1]), dtype),
                "bias": np.zeros((1, units[q + 1]), dtype),
            }
            for q in range(n_positions)
        }
        for i, q in enumerate(positions(len(tree) - 1, n_positions)):
            kernel, bias = tree[f"layer_{i}"]["kernel"], tree[f"layer_{i}"]["bias"]
            out[f"layer_{q}"]["kernel"][0, : kernel.shape[0], : kernel.shape[1]] = kernel
            out[f"layer_{q}"]["bias"][0, : len(bias)] = bias
        return out

    def curve(values):
        out = np.full((1, config.max_epochs), np.nan, values.dtype)
        n = min(len(values), config.max_epochs)
        out[0, :n] = values[:n]
        return out

    state = _map_param_trees(state, pad)
    scalars: dict[str, Any] = {
        f: np.asarray(getattr(state, f))[None]
        for f in (
            "n_iter",
            "samples_seen",
            "no_improvement_count",
            "best_loss",
            "best_validation_score",
            "stopped_by_rule",
        )
    }
    opt = state.opt._replace(
        step=np.asarray(state.opt.step)[None],
        learning_rate=np.asarray(state.opt.learning_rate)[None],
    )
    return state._replace(
        opt=opt,
        loss_curve=curve(state.loss_curve),
        validation_scores=curve(state.validation_scores),
        done=np.asarray(state.stopped_by_rule)[None].copy(),
        **scalars,
    )
