"""The named, versioned workloads of `vgrid bench` (and of `benchmarks/suite.py`).

A workload is a fixed grid search: its data (generated from a seed), estimator, grid and
cross-validation. Each has two sizes: "full", sized for an accelerator (a few seconds each on a
large GPU, expected, not yet measured), and "quick", sized for a laptop CPU (`vgrid bench
--quick` runs the default set in under a minute: about 30 s on the quiet 2-core CPU it was
tuned on; not measured on a laptop). A result names the workload, its size and
`WORKLOADS_VERSION`: figures compare across machines only for the same three. Change a
workload's definition and bump `WORKLOADS_VERSION` (2: smaller quick sizes of `mlp_wide`,
`flax_cnn`, `flax_1k`; v1's quick `mlp_wide` is now the suite's `large`).

Example:
    >>> problem = build("mlp_seed", "quick", "float32")
    >>> problem.n_fits, problem.X.shape, problem.X.dtype
    (27, (1000, 20), dtype('float32'))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_WORKLOADS",
    "SCALING",
    "SIZES",
    "WORKLOADS",
    "WORKLOADS_VERSION",
    "Problem",
    "build",
    "build_scaling",
    "classification_data",
]

WORKLOADS_VERSION = 2
SIZES = ("full", "quick")
SCALING = "scaling"

# name -> one line; the default set first, then the suite's grids against scikit-learn.
WORKLOADS = {
    "mlp_seed": "seed-sized MLP: 1000 x 20, 2 classes, widths 25-150, 200 epochs "
    "(full: 10,000 fits; quick: 27)",
    "mlp_wide": "wide MLP: 10000 x 64, 3 classes, 1 and 2 layers, 5 folds (full: 1024 units x 4 "
    "lr x 4 alpha, 20 epochs, 160 fits; quick: 256 units x 2 lr x 2 alpha, 1 epoch, 40 fits)",
    "flax_cnn": "convolutional Flax grid: DigitsCNN on digits, filters x kernel x learning rate "
    "(full: 108 fits, 20 epochs; quick: 12 fits, 2 epochs)",
    "flax_1k": "1,024-model Flax MLP grid: learning rates x 2 beta_1, 4 folds (full: 4000 x "
    "32, widths 32 and 64, 10 epochs; quick: 400 x 16, width 16, 1 epoch)",
    SCALING: "scaling curve: the seed-sized (100,) MLP, 20 epochs, one split, a grid over "
    "alpha of 1, 4, 16, ... models up to what fits the device memory (quick: 1, 16, 256, ...; "
    "1, 16, 64 on a CPU)",
    "core_a": "the suite's core grid (a): 1000 x 20 float64 (exact mode), 3 widths x 3 learning "
    "rates, 3 folds, max_iter=200 with tol stopping (27 fits; one size)",
    "core_b": "the suite's core grid (b): 4000 x 32 float32, 3 classes, 4 architectures x 2 "
    "learning rates x 2 alpha, 5 folds, max_iter=100 (80 fits; one size)",
    "large": "the suite's large grid (workloads v1's quick mlp_wide): 10000 x 64, 3 classes, "
    "(256,), (256, 256) x 4 lr x 4 alpha, 5 folds, 5 epochs (160 fits; one size)",
}
DEFAULT_WORKLOADS = ("mlp_seed", "mlp_wide", "flax_cnn", "flax_1k", SCALING)


@dataclass
class Problem:
    """One workload, built: `GridSearchCV(estimator, grid, cv=cv).fit(X, y)` is the work.

    Attributes
    ----------
    name, size : str
        The workload's name (a key of `WORKLOADS`) and size ("full", "quick", or a scaling
        point's number of models).
    X, y : ndarray
        The data.
    estimator : estimator object
        The unfitted estimator of the grid.
    grid : dict
        The parameter grid.
    cv : cross-validation splitter
        The splits.
    dtype : str
        The dtype the models train in.
    sklearn_max_fits : int
        ``--compare sklearn`` times at most this many fits of the grid.
    n_candidates, n_fits : int
        Candidates in the grid; candidates x splits.
    """

    name: str
    size: str
    X: np.ndarray
    y: np.ndarray
    estimator: Any
    grid: dict
    cv: Any
    dtype: str  # the dtype the models train in
    sklearn_max_fits: int  # --compare sklearn times at most this many fits of the grid

    @property
    def n_candidates(self) -> int:
        return int(np.prod([len(v) for v in self.grid.values()]))

    @property
    def n_fits(self) -> int:
        return self.n_candidates * self.cv.get_n_splits()

    def describe(self) -> dict:
        """What is run, as JSON: the estimator (its class and the parameters set away from
        their defaults), the grid and the cross-validation."""
        return {
            "estimator": _plain(self.estimator),
            "grid": {k: _plain(list(v)) for k, v in self.grid.items()},
            "cv": _plain(self.cv),
        }


def _plain(value):
    """`value` as JSON: numbers, strings and lists as they are, a class or function by its
    dotted name, an estimator as its class and non-default parameters, a splitter as its class
    and every parameter."""
    import inspect

    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if inspect.isclass(value) or inspect.isroutine(value):
        return f"{value.__module__}.{value.__qualname__}"
    if hasattr(value, "get_params"):  # an estimator
        params = value.get_params(deep=False)
    elif hasattr(value, "get_n_splits"):  # a splitter: its constructor's arguments
        names = inspect.signature(type(value)).parameters
        return {
            "class": _plain(type(value)),
            "params": {k: _plain(getattr(value, k)) for k in names},
        }
    else:
        return repr(value)
    defaults = {
        k: p.default
        for k, p in inspect.signature(type(value)).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    changed = {k: v for k, v in params.items() if k not in defaults or defaults[k] != v}
    return {"class": _plain(type(value)), "params": _plain(changed)}


def classification_data(n_samples, n_features, n_classes, n_informative, dtype):
    """make_classification(random_state=0), standardized, in `dtype`."""
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=n_informative,
        n_classes=n_classes,
        random_state=0,
    )
    return StandardScaler().fit_transform(X).astype(dtype), y


def _fixed_epochs_mlp(max_iter, **params):
    """scikit-learn's MLPClassifier running exactly `max_iter` epochs (no tol stopping), so
    that the work is the same on every machine and in both dtypes."""
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(max_iter=max_iter, n_iter_no_change=10**6, random_state=0, **params)


def _flax(module, **params):
    import optax

    from vgrid import FlaxClassifier

    return FlaxClassifier(module, optimizer=optax.adam, random_state=0, **params)


def build(name: str, size: str = "full", dtype: str = "float32") -> Problem:
    """The workload `name` at `size` ("full" or "quick"; the suite's `core_a`, `core_b` and
    `large` have one size, whatever `size` says); `dtype` is the MLP grids' input dtype (float64
    trains in scikit-learn's exact mode); Flax grids always train in float32, and `core_a` is
    float64, `core_b` float32 whatever `dtype` says (their definitions).

    Parameters
    ----------
    name : str
        A key of `WORKLOADS`: "mlp_seed", "mlp_wide", "flax_cnn", "flax_1k", "core_a",
        "core_b" or "large" ("scaling" points come from `build_scaling`).
    size : str, default="full"
        "full" (sized for an accelerator) or "quick" (for a laptop CPU).
    dtype : str, default="float32"
        "float32" or "float64", for the MLP grids.

    Returns
    -------
    Problem
        The data, estimator, grid and splits, built from fixed seeds.

    Examples
    --------
    >>> problem = build("mlp_wide", "quick")
    >>> problem.n_fits, problem.grid["hidden_layer_sizes"]
    (40, [(256,), (256, 256)])
    """
    from sklearn.model_selection import StratifiedKFold

    quick = size == "quick"
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    if name == "mlp_seed":
        X, y = classification_data(1000, 20, 2, 10, dtype)
        if quick:
            grid = {
                "hidden_layer_sizes": [(50,), (100,), (150,)],
                "learning_rate_init": [1e-3, 3e-3, 1e-2],
            }
            cv = StratifiedKFold(3)
        else:
            grid = {
                "hidden_layer_sizes": [(25,), (50,), (100,), (150,)],
                "learning_rate_init": list(np.logspace(-4, -1, 25)),
                "alpha": list(np.logspace(-6, 0, 25)),
            }
            cv = StratifiedKFold(4)
        return Problem(name, size, X, y, _fixed_epochs_mlp(200), grid, cv, dtype, 100)
    if name in ("mlp_wide", "large"):
        X, y = classification_data(10000, 64, 3, 32, dtype)
        rates, alphas = [1e-4, 3e-4, 1e-3, 3e-3], [1e-5, 1e-4, 1e-3, 1e-2]
        if name == "large":  # the suite's: workloads v1's quick mlp_wide, kept as it was
            width, epochs = 256, 5
        elif quick:
            width, epochs, rates, alphas = 256, 1, rates[1::2], alphas[1::2]
        else:
            width, epochs = 1024, 20
        grid = {
            "hidden_layer_sizes": [(width,), (width, width)],
            "learning_rate_init": rates,
            "alpha": alphas,
        }
        return Problem(
            name, size, X, y, _fixed_epochs_mlp(epochs), grid, StratifiedKFold(5), dtype, 20
        )
    if name == "flax_cnn":
        from sklearn.datasets import load_digits

        from vgrid.flax_models import DigitsCNN

        X, y = load_digits(return_X_y=True)
        X = (X / 16.0).astype(np.float32)
        if quick:
            grid = {
                "module__features": [4, 8],
                "module__kernel_size": [3],
                "optimizer__learning_rate": [1e-3, 1e-2],
            }
            est = _flax(DigitsCNN, max_epochs=2, batch_size=64)
        else:
            grid = {
                "module__features": [4, 8, 16],
                "module__kernel_size": [1, 3, 5],
                "optimizer__learning_rate": [3e-4, 1e-3, 3e-3, 1e-2],
            }
            est = _flax(DigitsCNN, max_epochs=20, batch_size=64)
        # scikit-learn's workers compile the program once each: enough fits to amortize it
        return Problem(name, size, X, y, est, grid, StratifiedKFold(3), "float32", 12)
    if name == "flax_1k":
        from vgrid.flax_models import MLP

        if quick:  # one width: one program to compile
            X, y = classification_data(400, 16, 3, 8, np.float32)
            widths, n_rates, epochs, batch = [(16,)], 128, 1, 100
        else:
            X, y = classification_data(4000, 32, 3, 16, np.float32)
            widths, n_rates, epochs, batch = [(32,), (64,)], 64, 10, 128
        grid = {
            "module__hidden": widths,
            "optimizer__learning_rate": list(np.logspace(-4, -1, n_rates)),
            "optimizer__b1": [0.8, 0.9],
        }
        est = _flax(MLP, max_epochs=epochs, batch_size=batch)
        return Problem(name, size, X, y, est, grid, StratifiedKFold(4), "float32", 64)
    if name == "core_a":
        from sklearn.neural_network import MLPClassifier

        X, y = classification_data(1000, 20, 2, 10, np.float64)
        grid = {
            "hidden_layer_sizes": [(50,), (100,), (150,)],
            "learning_rate_init": [1e-3, 3e-3, 1e-2],
        }
        return Problem(
            name,
            size,
            X,
            y,
            MLPClassifier(max_iter=200, random_state=0),
            grid,
            StratifiedKFold(3),
            "float64",
            27,
        )
    if name == "core_b":
        from sklearn.neural_network import MLPClassifier

        X, y = classification_data(4000, 32, 3, 16, np.float32)
        grid = {
            "hidden_layer_sizes": [(64,), (128,), (64, 64), (128, 64)],
            "learning_rate_init": [1e-3, 1e-2],
            "alpha": [1e-4, 1e-2],
        }
        return Problem(
            name,
            size,
            X,
            y,
            MLPClassifier(max_iter=100, random_state=0),
            grid,
            StratifiedKFold(5),
            "float32",
            80,
        )
    raise KeyError(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")


def build_scaling(n_models: int, dtype: str = "float32") -> Problem:
    """One point of the scaling curve: `n_models` models of the seed-sized (100,) MLP, 20
    epochs each, on one split (750 training rows), a grid over alpha.

    Parameters
    ----------
    n_models : int
        Candidates (one fit each).
    dtype : str, default="float32"
        "float32" or "float64".

    Returns
    -------
    Problem
        The point's data, estimator, grid and split.

    Examples
    --------
    >>> problem = build_scaling(16)
    >>> problem.name, problem.size, problem.n_fits
    ('scaling', '16', 16)
    """
    from sklearn.model_selection import ShuffleSplit

    X, y = classification_data(1000, 20, 2, 10, dtype)
    grid = {"alpha": list(np.logspace(-6, 0, n_models))}
    return Problem(
        SCALING,
        str(n_models),
        X,
        y,
        _fixed_epochs_mlp(20, hidden_layer_sizes=(100,)),
        grid,
        ShuffleSplit(n_splits=1, test_size=0.25, random_state=0),
        dtype,
        256,
    )
