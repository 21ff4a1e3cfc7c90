"""`FlaxClassifier` and `FlaxRegressor`: any Flax module and optax optimizer as a scikit-learn
estimator, trained by vgrid's engine (`vgrid.flax_kind`) alone or many at once in a search.

Parameters follow skorch's convention. `module` is a `flax.linen.Module` class or instance,
written as you would write it, or a `flax.nnx.Module` class (it returns logits or predictions
per row; an `n_outputs` field, if it declares one, is set to the target's width);
`module__<field>` sets its fields. `optimizer` is an optax optimizer: a factory
(`optax.adam`), its name (`"adam"`) or an instance (`optax.adam(1e-3)`); `optimizer__<arg>`
sets a factory's arguments, and numeric ones are traced (one program for a grid of learning
rates). Training is float32 minibatch training for `max_epochs` epochs (with
`early_stopping`, the MLPs' `validation_fraction`, `n_iter_no_change` and `tol` stop it
earlier on a validation score), shuffled by `jax.random` keys (vgrid's counter-based
`vgrid.prng.HASH_PRNG`) derived from `random_state` alone, so a model's numbers never depend
on the grid it is trained in.

Losses: a classifier's module returns one logit per class (softmax cross-entropy), or, for two
classes, one logit (sigmoid binary cross-entropy, as Keras's `Dense(1, "sigmoid")` with
`binary_crossentropy`); a regressor's returns one value per target (squared error). `loss=` a
function `(outputs, y) -> per-row losses` replaces them.

In a search, module fields are traced, switched per model, padded or static (see
`vgrid.flax_kind`): no field needs declaring.

Examples
--------
>>> import optax
>>> from sklearn.datasets import load_iris
>>> X, y = load_iris(return_X_y=True)
>>> clf = FlaxClassifier(module__hidden=(16,), optimizer=optax.adam,
...                      optimizer__learning_rate=0.01, max_epochs=30).fit(X, y)
>>> clf.score(X, y) > 0.9
True
"""

from __future__ import annotations

import difflib
import inspect
import numbers
from functools import partial

import jax
import numpy as np
import optax
from flax.core import FrozenDict
from flax.nnx import bridge
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .flax_kind import _hashable, check_module, module_class, module_fields, resolve_optimizer
from .flax_kind import _is_nnx as _is_nnx_class
from .flax_models import MLP

__all__ = ["FlaxClassifier", "FlaxRegressor", "FlaxEstimator"]

_PREFIXES = ("module__", "optimizer__")


class FlaxEstimator(BaseEstimator):
    """What FlaxClassifier and FlaxRegressor share (see the module docstring)."""

    def __init__(
        self,
        module=None,
        *,
        optimizer=optax.adam,
        max_epochs=20,
        batch_size=32,
        random_state=0,
        loss=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        **kwargs,
    ):
        self.module = module
        self.optimizer = optimizer
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.random_state = random_state
        self.loss = loss
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        for key, value in kwargs.items():  # checked by fit, as scikit-learn checks parameters
            setattr(self, key, value)

    def _extra_names(self):
        named = set(self._get_param_names())
        return [
            k
            for k in vars(self)
            if k not in named and not k.startswith("_") and not k.endswith("_")
        ]

    def get_params(self, deep=True):
        params = super().get_params(deep=False)
        params.update({k: getattr(self, k) for k in self._extra_names()})
        return params

    def set_params(self, **params):
        for key in [k for k in params if k.startswith(_PREFIXES)]:
            setattr(self, key, params.pop(key))
        valid = self.get_params(deep=False)
        unknown = [k for k in params if k.split("__")[0] not in valid]
        if unknown:
            raise ValueError(
                f"Invalid parameter {unknown[0]!r} for estimator {self}. {self._hint(unknown[0])}"
            )
        return super().set_params(**params)

    # -- the pieces a fit is made of -------------------------------------------------------
    def _module_spec(self):
        return self.module if self.module is not None else MLP

    def _hint(self, name: str) -> str:
        """What a parameter name that is neither ours nor prefixed probably meant."""
        spec = self._module_spec()
        try:
            fields = list(module_fields(spec))
        except TypeError:
            fields = []
        if name in fields:
            return f"{module_class(spec).__name__} fields are set with 'module__{name}'."
        factory = _factory_or_none(self.optimizer)
        if factory is not None and name in _arguments(factory):
            return f"Optimizer arguments are set with 'optimizer__{name}'."
        valid = sorted(self._get_param_names()) + [f"module__{f}" for f in fields]
        close = difflib.get_close_matches(name, valid, n=1)
        return (f"Did you mean {close[0]!r}? " if close else "") + (
            f"Valid parameters are: {valid}, and 'optimizer__<argument>'."
        )

    def _prefixed(self, prefix):
        return {k[len(prefix) :]: v for k, v in vars(self).items() if k.startswith(prefix)}

    def _validate_hyperparameters(self):
        unknown = [k for k in self._extra_names() if not k.startswith(_PREFIXES)]
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected parameter(s) {unknown}; "
                "extra parameters must start with 'module__' or 'optimizer__'. "
                f"{self._hint(unknown[0])}"
            )
        for name in ("max_epochs", "batch_size", "n_iter_no_change"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(
                f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}."
            )
        if self.loss is not None and not callable(self.loss):
            raise TypeError(
                f"loss must be None or a function (outputs, y) -> per-row losses, "
                f"got {self.loss!r}."
            )
        spec = self._module_spec()
        check_module(spec)
        fields = module_fields(spec)
        for name in self._prefixed("module__"):
            if name not in fields:
                close = difflib.get_close_matches(name, list(fields), n=1)
                raise ValueError(
                    f"module__{name}: {module_class(spec).__name__} has no field "
                    f"{name!r}{f' (did you mean {close[0]!r}?)' if close else ''}; "
                    f"its fields are {sorted(fields)}."
                )
        factory, _ = resolve_optimizer(self.optimizer)
        opt_args = self._prefixed("optimizer__")
        if factory is None and opt_args:
            raise ValueError(
                f"optimizer__{next(iter(opt_args))} sets an argument of an "
                "optimizer factory, but optimizer is an instance "
                f"({type(self.optimizer).__name__}); pass the factory "
                "(optimizer=optax.adam) to set its arguments."
            )
        if factory is not None:
            accepted = _arguments(factory)
            for name in opt_args:
                if accepted is not None and name not in accepted:
                    raise ValueError(
                        f"optimizer__{name}: {getattr(factory, '__name__', factory)}"
                        f" takes no argument {name!r}; it takes "
                        f"{sorted(accepted)}."
                    )

    def _build_module(self, n_outputs: int, n_features: int):
        """The module this estimator trains: `n_outputs` set if it declares that field (and an
        NNX module's `n_features` constructor argument, if it has one), wrapped as a linen
        module (`flax.nnx.bridge.ToLinen`) if it is an NNX module."""
        spec = self._module_spec()
        declared = module_fields(spec)
        fields = {k: _hashable(v) for k, v in self._prefixed("module__").items()}
        if "n_outputs" in declared:
            fields["n_outputs"] = n_outputs
        try:
            if _is_nnx_class(spec):
                if "n_features" in declared:
                    fields.setdefault("n_features", n_features)
                return bridge.ToLinen(spec, kwargs=FrozenDict(fields))
            return spec.clone(**fields) if not isinstance(spec, type) else spec(**fields)
        except Exception as exc:
            raise ValueError(
                f"could not build {module_class(spec).__name__} with fields "
                f"{fields}: {type(exc).__name__}: {exc}"
            ) from exc

    def fit(self, X, y, sample_weight=None):
        """Train the module on (X, y), as one job of vgrid's engine.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            The rows (converted to float32 for training).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Class labels (a classifier) or targets (a regressor).
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Weights of the rows in the loss (and in the early-stopping score).

        Returns
        -------
        self
            The fitted estimator.
        """
        from .engine import FitJob, fit_estimators

        fit_estimators([FitJob(self, X, y, sample_weight)])
        return self

    def _outputs(self, X):
        """Outputs for X, computed in float64 so that each row's result does not depend on the
        other rows (float32 kernels may round differently by position)."""
        check_is_fitted(self, "params_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        with jax.enable_x64(True):
            predictor = getattr(self, "_predictor", None)
            if predictor is not None:  # the group's padded forward pass: compiled once
                params, switch, traced = self._predictor_inputs
                params = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
                return np.asarray(predictor.outputs(params, switch, traced, X))
            params = jax.tree.map(lambda a: np.asarray(a, np.float64), self.params_)
            return np.asarray(_apply(self.module_, params, X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = not isinstance(self, ClassifierMixin)
        return tags


def _factory_or_none(optimizer):
    try:
        return resolve_optimizer(optimizer)[0]
    except (TypeError, ValueError):
        return None


def _arguments(factory):
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters}


@partial(jax.jit, static_argnums=0)
def _apply(module, params, X):
    return module.apply({"params": params}, X)


class FlaxClassifier(ClassifierMixin, FlaxEstimator):
    """A Flax module trained as a classifier (softmax, or sigmoid for one output).

    See the module docstring (`vgrid.flax_estimators`) for the conventions, and the "Flax
    models" guide for what a search does with the module's fields.

    Parameters
    ----------
    module : flax.linen.Module class or instance, flax.nnx.Module class, or None
        The network: it maps a batch of rows (n_rows, n_features) to one logit per class,
        or to one logit for two classes. An `n_outputs` field, if declared, is set to the
        number of classes (2 for two classes); an NNX module's `n_features` constructor
        argument, if it has one, to the number of features. None: `vgrid.flax_models.MLP`
        (ReLU layers of widths `hidden`, default (32,)).
    optimizer : optax factory, str or optax.GradientTransformation, default=optax.adam
        A factory (`optax.adam`), its name in optax (`"adam"`), or an instance
        (`optax.adam(1e-3)`, whose arguments cannot then be set). A factory that takes a
        `learning_rate` gets 1e-3 unless `optimizer__learning_rate` says otherwise.
    max_epochs : int, default=20
        Epochs of training (passes over the shuffled rows).
    batch_size : int, default=32
        Rows per minibatch (at most the training rows); the last minibatch of an epoch may
        be partial.
    random_state : int, RandomState instance or None, default=0
        The seed of the initial weights, the shuffles and the early-stopping split. An int
        gives the same model, up to float32 rounding, wherever it is trained (alone, in any
        grid, on any number of devices); otherwise a seed is drawn from it.
    loss : callable or None, default=None
        ``loss(outputs, y) -> per-row losses`` (JAX arrays; `y` holds the minibatch's class
        indices, 0 to n_classes - 1), replacing the default softmax cross-entropy (sigmoid
        cross-entropy for one logit). Rows are weighted by `sample_weight`.
    early_stopping : bool, default=False
        Hold out `validation_fraction` of the training rows (stratified by class), stop
        when the validation score (accuracy) has not improved by at least `tol` for more
        than `n_iter_no_change` epochs, and keep the parameters of the best epoch (the
        MLPs' rule).
    validation_fraction : float, default=0.1
        With `early_stopping`: the share of the rows held out, in (0, 1).
    n_iter_no_change : int, default=10
        With `early_stopping`: epochs without improvement before training stops.
    tol : float, default=1e-4
        With `early_stopping`: the improvement that counts. Without early stopping
        training always runs `max_epochs` epochs (unless the loss is not finite).
    **kwargs
        ``module__<field>=value`` sets a field of the module; ``optimizer__<arg>=value``
        an argument of the optimizer factory (numbers are traced in a search: one program
        for every value). An unknown field or argument is refused at `fit`, with the valid
        names.

    Attributes
    ----------
    params_ : dict
        The trained parameters (Flax's ``params`` collection, at the model's own widths;
        with `early_stopping`, those of the best epoch).
    module_ : flax.linen.Module
        The module built from `module` and its fields, as trained (an NNX module wrapped by
        ``flax.nnx.bridge.ToLinen``).
    classes_ : ndarray
        The class labels.
    n_outputs_ : int
        The module's output width.
    n_features_in_ : int
        Features seen by `fit` (and ``feature_names_in_`` for a DataFrame with string
        column names).
    loss_curve_ : list of float
        The mean training loss of each epoch.
    n_iter_ : int
        Epochs run.
    validation_scores_ : list of float or None
        With `early_stopping`: the validation score (accuracy) of each epoch; else None.
    best_validation_score_ : float or None
        With `early_stopping`: the best of them; else None.

    Examples
    --------
    >>> import flax.linen as nn
    >>> from sklearn.datasets import load_iris
    >>> class Net(nn.Module):
    ...     width: int = 8
    ...     n_outputs: int = 1                  # set by vgrid to the number of classes
    ...     @nn.compact
    ...     def __call__(self, x):
    ...         return nn.Dense(self.n_outputs)(nn.relu(nn.Dense(self.width)(x)))
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = FlaxClassifier(Net, module__width=16, optimizer="adam",
    ...                      optimizer__learning_rate=0.01, max_epochs=20).fit(X, y)
    >>> clf.n_outputs_, clf.classes_, clf.n_iter_
    (3, array([0, 1, 2]), 20)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    def predict_proba(self, X):
        """Class probabilities: the softmax of the module's logits (sigmoid for one logit).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            One column per class of `classes_`, in float64.
        """
        out = self._outputs(X)  # checks that the estimator is fitted
        if out.shape[1] == 1:
            positive = 1 / (1 + np.exp(-out[:, 0]))
            return np.stack([1 - positive, positive], axis=1)
        shifted = np.exp(out - out.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def predict(self, X):
        """The class of the largest logit (a positive logit for one output).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from `classes_`.
        """
        out = self._outputs(X)
        index = (out[:, 0] > 0).astype(int) if out.shape[1] == 1 else np.argmax(out, axis=1)
        return self.classes_[index]


class FlaxRegressor(RegressorMixin, FlaxEstimator):
    """A Flax module trained with squared error, as a scikit-learn regressor.

    See the module docstring (`vgrid.flax_estimators`) for the conventions, and the "Flax
    models" guide for what a search does with the module's fields. `y` may have one column
    or several (multi-output).

    Parameters
    ----------
    module : flax.linen.Module class or instance, flax.nnx.Module class, or None
        The network: it maps a batch of rows (n_rows, n_features) to one value per target.
        An `n_outputs` field, if declared, is set to the number of targets; an NNX module's
        `n_features` constructor argument, if it has one, to the number of features. None:
        `vgrid.flax_models.MLP` (ReLU layers of widths `hidden`, default (32,)).
    optimizer : optax factory, str or optax.GradientTransformation, default=optax.adam
        A factory (`optax.adam`), its name in optax (`"adam"`), or an instance
        (`optax.adam(1e-3)`, whose arguments cannot then be set). A factory that takes a
        `learning_rate` gets 1e-3 unless `optimizer__learning_rate` says otherwise.
    max_epochs : int, default=20
        Epochs of training (passes over the shuffled rows).
    batch_size : int, default=32
        Rows per minibatch (at most the training rows); the last minibatch of an epoch may
        be partial.
    random_state : int, RandomState instance or None, default=0
        The seed of the initial weights, the shuffles and the early-stopping split. An int
        gives the same model, up to float32 rounding, wherever it is trained (alone, in any
        grid, on any number of devices); otherwise a seed is drawn from it.
    loss : callable or None, default=None
        ``loss(outputs, y) -> per-row losses`` (JAX arrays; `y` holds the minibatch's
        targets, float32, one column per target), replacing the default squared error (the
        mean over the targets). Rows are weighted by `sample_weight`.
    early_stopping : bool, default=False
        Hold out `validation_fraction` of the training rows, stop when the
        validation score (R^2) has not improved by at least `tol` for more than
        `n_iter_no_change` epochs, and keep the parameters of the best epoch (the MLPs'
        rule).
    validation_fraction : float, default=0.1
        With `early_stopping`: the share of the rows held out, in (0, 1).
    n_iter_no_change : int, default=10
        With `early_stopping`: epochs without improvement before training stops.
    tol : float, default=1e-4
        With `early_stopping`: the improvement that counts. Without early stopping
        training always runs `max_epochs` epochs (unless the loss is not finite).
    **kwargs
        ``module__<field>=value`` sets a field of the module; ``optimizer__<arg>=value``
        an argument of the optimizer factory (numbers are traced in a search: one program
        for every value). An unknown field or argument is refused at `fit`, with the valid
        names.

    Attributes
    ----------
    params_ : dict
        The trained parameters (Flax's ``params`` collection, at the model's own widths;
        with `early_stopping`, those of the best epoch).
    module_ : flax.linen.Module
        The module built from `module` and its fields, as trained (an NNX module wrapped by
        ``flax.nnx.bridge.ToLinen``).
    n_outputs_ : int
        The module's output width.
    n_features_in_ : int
        Features seen by `fit` (and ``feature_names_in_`` for a DataFrame with string
        column names).
    loss_curve_ : list of float
        The mean training loss of each epoch.
    n_iter_ : int
        Epochs run.
    validation_scores_ : list of float or None
        With `early_stopping`: the validation score (R^2) of each epoch; else None.
    best_validation_score_ : float or None
        With `early_stopping`: the best of them; else None.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = FlaxRegressor(module__hidden=(16,), max_epochs=30, early_stopping=True,
    ...                     n_iter_no_change=3).fit(X, y / 100)
    >>> reg.n_outputs_, len(reg.validation_scores_) == reg.n_iter_, reg.predict(X[:3]).shape
    (1, True, (3,))
    """

    def predict(self, X):
        """The module's outputs, computed in float64.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The rows.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
            Shaped as the `y` the estimator was fitted on.
        """
        out = self._outputs(X)
        return out[:, 0] if self._y_1d else out
