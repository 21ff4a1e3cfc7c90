"""Replay scikit-learn's random number use for one MLP fit, on the host.

scikit-learn's `_fit` draws from one `RandomState`, in this order: the Glorot-uniform weights
and biases, layer by layer (`_init_coef`); the early-stopping split (`train_test_split`); then
one `shuffle` of the sample order per epoch. Replaying the same calls gives the same initial
weights and the same minibatches, which is what makes vgrid's exact mode exact.

Example:
    >>> import numpy as np
    >>> r = replay_fit_randomness(np.random.RandomState(0), [3, 4, 1], activation="relu",
    ...     n_samples=10, stratify=None, early_stopping=False, validation_fraction=0.1,
    ...     shuffle=True, n_epochs=2, dtype=np.float64)
    >>> [w.shape for w, b in r.init], r.orders.shape
    ([(3, 4), (4, 1)], (2, 10))
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.model_selection import train_test_split

__all__ = ["FitRandomness", "replay_fit_randomness"]


class FitRandomness(NamedTuple):
    init: list  # [(coef (fan_in, fan_out), intercept (fan_out,)), ...]
    train_rows: np.ndarray  # rows of the fit's data used for training
    val_rows: np.ndarray  # rows held out for early stopping (empty without)
    orders: np.ndarray  # (n_epochs, n_train): rows of the data, in minibatch order, per epoch
    #: With `record_states`: the RandomState's state after each epoch's draws (one entry,
    #: after the initial draws, without shuffling), so that a fit that stops early can leave
    #: the stream where scikit-learn's leaves it.
    states_after_epoch: list | None = None


def replay_fit_randomness(
    random_state,
    layer_units,
    *,
    activation,
    n_samples,
    stratify,
    early_stopping,
    validation_fraction,
    shuffle,
    n_epochs,
    dtype,
    draw_init=True,
    partial_fit_state=None,
    record_states=False,
) -> FitRandomness:
    """Consume `random_state` exactly as scikit-learn's MLP `_fit` does for these settings.
    With `partial_fit_state` (a function giving the RandomState of a `partial_fit` call), as
    `partial_fit` called once per epoch does: each call after the first shuffles with a
    RandomState of its own (scikit-learn's `check_random_state(random_state)`: a fresh one
    for an int seed, the same one for a RandomState), and shuffles the sample order afresh
    instead of shuffling the previous epoch's."""
    rs = random_state
    init = []
    if draw_init:
        factor = 2.0 if activation == "logistic" else 6.0
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef = rs.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype, copy=False)
            intercept = rs.uniform(-bound, bound, fan_out).astype(dtype, copy=False)
            init.append((coef, intercept))
    rows = np.arange(n_samples)
    if early_stopping:
        train_rows, val_rows = train_test_split(
            rows, random_state=rs, test_size=validation_fraction, stratify=stratify
        )
    else:
        train_rows, val_rows = rows, rows[:0]
    n_train = len(train_rows)
    sample_idx = np.arange(n_train)
    states: list = []
    if shuffle:
        # sklearn.utils.shuffle(sample_idx, random_state=rs) is resample(replace=False):
        # indices = arange(n); rs.shuffle(indices); sample_idx[indices]. Same draws, no overhead.
        orders = np.empty((n_epochs, n_train), dtype=np.int64)
        permutation = np.empty(n_train, dtype=np.int64)
        for epoch in range(n_epochs):
            if partial_fit_state is not None:
                rs = rs if epoch == 0 else partial_fit_state()
                sample_idx = np.arange(n_train)
            permutation[:] = np.arange(n_train)
            rs.shuffle(permutation)
            sample_idx = sample_idx[permutation]
            orders[epoch] = sample_idx
            if record_states:
                states.append(rs.get_state())
    else:
        orders = sample_idx[None, :]
        if record_states:
            states.append(rs.get_state())
    return FitRandomness(
        init, train_rows, val_rows, train_rows[orders], states if record_states else None
    )
