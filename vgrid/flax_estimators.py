"""`FlaxClassifier` and `FlaxRegressor`: any Flax module and optax optimizer as a scikit-learn
estimator, trained by vgrid's engine (`vgrid.flax_kind`) alone or many at once in a search.

Parameters follow skorch's convention. `module` is a `flax.linen.Module` class or instance,
written as you would write it (it returns logits or predictions per row; an `n_outputs`
field, if it declares one, is set to the target's width); `module__<field>` sets its fields.
`optimizer` is an optax optimizer: a factory (`optax.adam`), its name (`"adam"`) or an instance
(`optax.adam(1e-3)`); `optimizer__<arg>` sets a factory's arguments, and numeric ones are traced
(one program for a grid of learning rates). Training is float32 minibatch training for
`max_epochs` epochs (the MLPs' `early_stopping`, `validation_fraction`, `n_iter_no_change` and
`tol` stop it earlier on a validation score), shuffled by `jax.random` keys derived from
`random_state` alone, so a model's numbers never depend on the grid it is trained in.

Losses: a classifier's module returns one logit per class (softmax cross-entropy), or, for two
classes, one logit (sigmoid binary cross-entropy, as Keras's `Dense(1, "sigmoid")` with
`binary_crossentropy`); a regressor's returns one value per target (squared error). `loss=` a
function `(outputs, y) -> per-row losses` replaces them.

In a search, module fields are traced, switched per model, padded or static (see
`vgrid.flax_kind`): no field needs declaring.

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
        """Fit on (X, y); returns self."""
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

    See the module docstring for the parameters. Fitted: `params_`, `module_`, `classes_`,
    `n_outputs_` (the module's output width), `n_features_in_`, `loss_curve_` (mean training
    loss per epoch), `n_iter_` (epochs run), `validation_scores_` and
    `best_validation_score_` (with early stopping, else None).
    """

    def predict_proba(self, X):
        out = self._outputs(X)  # checks that the estimator is fitted
        if out.shape[1] == 1:
            positive = 1 / (1 + np.exp(-out[:, 0]))
            return np.stack([1 - positive, positive], axis=1)
        shifted = np.exp(out - out.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def predict(self, X):
        out = self._outputs(X)
        index = (out[:, 0] > 0).astype(int) if out.shape[1] == 1 else np.argmax(out, axis=1)
        return self.classes_[index]


class FlaxRegressor(RegressorMixin, FlaxEstimator):
    """A Flax module trained with squared error, as a scikit-learn regressor.

    See the module docstring for the parameters. Fitted: `params_`, `module_`, `n_outputs_`,
    `n_features_in_`, `loss_curve_`, `n_iter_`, `validation_scores_`,
    `best_validation_score_`.
    """

    def predict(self, X):
        out = self._outputs(X)
        return out[:, 0] if self._y_1d else out
