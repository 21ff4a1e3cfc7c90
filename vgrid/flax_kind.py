"""Flax modules with optax optimizers as a kind of model for the engine (`vgrid.kinds`).

A `vgrid.FlaxClassifier`/`FlaxRegressor` job becomes a `FlaxMember`: its validated data, its
module's fields, its optimizer's arguments, its early-stopping split and its seed. `FLAX_KIND.plan`
decides, per group of members that must share settings (module class, optimizer, loss, batch
size, data shape), what each varying module field becomes:

- **traced**: a numeric field the module only uses in arithmetic (or never reads) is a per-model
  number inside one program. Found by trying: the module is traced with the field as a JAX
  value; a field used as a shape or in Python control flow fails and is not traced.
- **switched**: a field whose values leave the parameter shapes unchanged (an activation's
  name, read as `getattr(nn, self.activation)`) compiles once as a per-model `lax.switch`
  among its values' branches (on the CPU one model per call runs only its own branch).
- **padded**: an integer field that sets widths (`nn.Dense(self.filters)`) is padded to the
  widest value of a bucket; each model is initialized at its real width, its parameters padded
  with zeros, and its gradient and updates masked so the padding stays zero: its numbers are its
  unpadded fit's up to float32 rounding. Padding is checked once per module and set of fields
  (the padded module, with a real model's parameters, must give the real model's outputs);
  where it does not, each width gets its own program and the report says so. A cost model
  (`plan.CostModel`) splits widths into buckets where padding costs more than a compilation.
- **static**: anything else: one program per value.

The program (`_train_segment`) advances models by up to k epochs in a `lax.while_loop`, a
`lax.scan` over minibatches inside; a model's first call initializes it from its seed
(`jax.random.key(random_state)`: initial weights from `fold_in(key, 0)`, epoch e's shuffle from
`fold_in(key, e + 1)`), so a model's numbers depend on its own parameters alone, never on its
position in a grid. Early stopping (`early_stopping`, `validation_fraction`, `n_iter_no_change`,
`tol`) follows the MLPs' rule on a validation score (accuracy or R^2) and keeps the best
parameters; a stopped model frees its slot.

Example:
    >>> import optax
    >>> from sklearn.datasets import load_iris
    >>> from vgrid import FlaxClassifier, GridSearchCV
    >>> from vgrid.flax_models import MLP
    >>> X, y = load_iris(return_X_y=True)
    >>> grid = {"module__hidden": [(8,), (16,)], "optimizer__learning_rate": [1e-2, 1e-1]}
    >>> search = GridSearchCV(FlaxClassifier(MLP, max_epochs=5), grid, cv=2).fit(X, y)
    >>> len(search.vectorization_)                # widths padded: one program
    1
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import threading
from collections.abc import Callable, Hashable
from functools import partial
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax
from sklearn.base import ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, column_or_1d, validate_data

from .layout import _unique
from .plan import COST_MODEL, GroupPlan, ProgramReport, contiguous_buckets
from .prng import HASH_PRNG
from .training import QUICK_COMPILE_OPTIONS, ModelArray, advance_every_model

__all__ = [
    "FLAX_KIND",
    "FlaxKind",
    "FlaxConfig",
    "FlaxMember",
    "FlaxState",
    "module_fields",
    "resolve_optimizer",
]

_SKIPPED_FIELDS = ("parent", "name")


# -- the module and optimizer contract ----------------------------------------------------------
def module_class(module):
    """The `flax.linen.Module` class of `module=` (a class or an instance)."""
    return module if isinstance(module, type) else type(module)


def module_fields(module) -> dict:
    """The dataclass fields of a linen module (class or instance) and their defaults, or, for an
    instance, its values; fields without a default map to `dataclasses.MISSING`. For an NNX
    module class: its constructor's arguments (but `rngs`)."""
    if isinstance(module, type) and _is_nnx(module):
        # `module.__init__`, looked up along the MRO (mypy takes `module` for an instance)
        init = next(vars(k)["__init__"] for k in module.__mro__ if "__init__" in vars(k))
        return {
            name: (p.default if p.default is not inspect.Parameter.empty else dataclasses.MISSING)
            for name, p in inspect.signature(init).parameters.items()
            if name not in ("self", "rngs") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        }
    out = {}
    for f in dataclasses.fields(module_class(module)):
        if f.name in _SKIPPED_FIELDS or not f.init:
            continue
        if not isinstance(module, type):
            out[f.name] = getattr(module, f.name)
        elif f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
        else:
            out[f.name] = dataclasses.MISSING
    return out


def check_module(module) -> None:
    """Raise a TypeError unless `module` is a linen Module class or instance, or an NNX
    Module class."""
    cls = module_class(module)
    if isinstance(cls, type) and issubclass(cls, nn.Module):
        return
    if isinstance(module, type) and _is_nnx(module):
        return
    raise TypeError(
        f"module must be a flax.linen.Module class or instance, or a flax.nnx.Module "
        f"class; got {module!r} of type {type(module).__name__}."
    )


def _is_nnx(cls) -> bool:
    try:
        from flax import nnx
    except ImportError:  # pragma: no cover - flax always ships nnx
        return False
    return isinstance(cls, type) and issubclass(cls, nnx.Module)


def resolve_optimizer(optimizer) -> tuple[Callable | None, Any]:
    """(factory, instance): an optax factory (`optax.adam`, or its name, "adam"), or an
    instance (`optax.adam(1e-3)`); exactly one of the two is not None."""
    if isinstance(optimizer, str):
        factory = getattr(optax, optimizer, None)
        if not callable(factory):
            raise ValueError(
                f"optimizer={optimizer!r} is not an optax optimizer; use a name "
                "such as 'adam' or 'sgd', a factory such as optax.adam, or an "
                "instance such as optax.adam(1e-3)."
            )
        return factory, None
    if isinstance(optimizer, optax.GradientTransformation):
        return None, optimizer
    if callable(optimizer):
        return optimizer, None
    raise TypeError(
        f"optimizer must be an optax optimizer factory (optax.adam), its name "
        f"('adam') or an instance (optax.adam(1e-3)); got {optimizer!r}."
    )


def _hashable(value):
    """Lists (as scikit-learn's clone leaves them) as tuples, so a module can be hashed."""
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def _is_shape(x) -> bool:
    return isinstance(x, tuple) and all(isinstance(d, int) for d in x)


def _is_number(value) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and not isinstance(value, np.bool_)
    )


# -- members -----------------------------------------------------------------------------------
class FlaxData(NamedTuple):
    X: np.ndarray  # (n, n_features) float32
    Y: np.ndarray  # (n,) int32 labels, or (n, n_outputs) float32 targets
    W: np.ndarray  # (n,) float32 sample weights
    weighted: bool


class GroupKey(NamedTuple):
    """What members must share to train in one program, besides their module fields."""

    module_class: type
    field_names: tuple  # the module's fields, in order
    optimizer: Any  # the optax factory, or the instance
    static_opt: tuple  # ((name, value), ...) non-numeric optimizer arguments
    traced_opt: tuple  # names of numeric optimizer arguments (traced)
    loss: Any  # 'softmax', 'sigmoid', 'mse' or the user's callable
    is_classifier: bool
    n_outputs: int
    batch_size: int
    n_features: int
    dtype: str


class FlaxMember(NamedTuple):
    job_index: int  # the job's position in `fit_estimators`' list
    estimator: Any
    data_key: Hashable
    data: FlaxData
    static_key: GroupKey
    fields: tuple  # ((name, value), ...) every module field of this model
    opt_values: dict  # numeric optimizer arguments
    seed: int
    train_rows: np.ndarray
    val_rows: np.ndarray  # empty without early stopping
    max_epochs: int
    resume: Any  # a FlaxState to continue from, or None

    @property
    def batch_size(self) -> int:
        return self.static_key.batch_size


def _early_stopping_split(seed: int, n: int, classifier_y, fraction: float):
    """The early-stopping split (train rows, validation rows), as scikit-learn's MLPs make it:
    `train_test_split` with the estimator's random state, stratified for classifiers."""
    rows = np.arange(n)
    train, val = train_test_split(
        rows, test_size=fraction, random_state=seed, stratify=classifier_y
    )
    return np.sort(train), np.sort(val)


def _validated(est, job, cache) -> tuple[FlaxData, int]:
    key = (job.data_key, type(est).__name__) if job.data_key is not None else None
    if key is not None and key in cache:
        data, attrs, n_outputs = cache[key]
        est.__dict__.update(attrs)
        return data, n_outputs
    classifier = isinstance(est, ClassifierMixin)
    X, y = validate_data(
        est, job.X, job.y, dtype=np.float32, multi_output=True, y_numeric=not classifier
    )
    attrs = {"n_features_in_": est.n_features_in_}
    if hasattr(est, "feature_names_in_"):
        attrs["feature_names_in_"] = est.feature_names_in_
    if classifier:
        check_classification_targets(y)
        if y.ndim > 1 and y.shape[1] > 1:
            raise ValueError(
                f"{type(est).__name__} takes one label per row; got y of shape "
                f"{y.shape}. For several outputs use FlaxRegressor."
            )
        y = column_or_1d(y, warn=True)
        encoder = LabelEncoder().fit(y)
        attrs["classes_"] = encoder.classes_
        Y = encoder.transform(y).astype(np.int32)
        n_outputs = len(encoder.classes_)
    else:
        attrs["_y_1d"] = y.ndim == 1
        Y = (y.reshape(-1, 1) if y.ndim == 1 else y).astype(np.float32)
        n_outputs = Y.shape[1]
    weighted = job.sample_weight is not None
    W = _check_sample_weight(job.sample_weight, X, dtype=np.float32)
    if not np.any(W > 0):
        raise ValueError("Sample weights must contain at least one non-zero number; got all zeros.")
    data = FlaxData(np.ascontiguousarray(X), Y, W, weighted)
    est.__dict__.update(attrs)
    if key is not None:
        cache[key] = (data, attrs, n_outputs)
    return data, n_outputs


def _output_shape(module, n_features: int):
    """The module's output shape on a batch of 2 rows; a module that fails to build or run is
    named in a ValueError."""
    found = _module_shapes(module, n_features)
    if isinstance(found, Exception):
        raise ValueError(
            f"{type(module).__name__} failed on input of shape (batch, "
            f"{n_features}): {type(found).__name__}: {found}"
        ) from found
    return found[0]


def _prepare(index, job, cache) -> FlaxMember:
    est = job.estimator
    est._validate_hyperparameters()
    data, n_classes = _validated(est, job, cache.setdefault("data", {}))
    classifier = isinstance(est, ClassifierMixin)
    module = est._build_module(n_classes, data.X.shape[1])
    out_shape = _output_shape(module, data.X.shape[1])
    width = out_shape[-1] if len(out_shape) == 2 else None
    if classifier:
        allowed = (1, 2) if n_classes == 2 else (n_classes,)
        if width not in allowed:
            raise ValueError(
                f"{type(module).__name__} outputs {width if width else out_shape} values per "
                f"row but the target has {n_classes} classes: a classifier's module returns "
                f"{' or '.join(map(str, allowed))} logits per row"
                f"{' (one: sigmoid, binary cross-entropy)' if n_classes == 2 else ''}. "
                "Declare an `n_outputs` field (vgrid sets it) or change the last layer."
            )
        loss = est.loss if est.loss is not None else ("sigmoid" if width == 1 else "softmax")
    else:
        if width != data.Y.shape[1]:
            raise ValueError(
                f"{type(module).__name__} outputs {width or out_shape} values per "
                f"row but the target has {data.Y.shape[1]} column(s). Declare an "
                "`n_outputs` field (vgrid sets it) or change the last layer."
            )
        loss = est.loss if est.loss is not None else "mse"
    assert width is not None  # checked against the target above
    factory, instance = resolve_optimizer(est.optimizer)
    opt_args = est._prefixed("optimizer__")
    if factory is not None and "learning_rate" not in opt_args and _takes(factory, "learning_rate"):
        opt_args["learning_rate"] = 1e-3
    opt_values = {k: float(v) for k, v in opt_args.items() if _is_number(v)}
    static_opt = tuple(
        sorted((k, _hashable(v)) for k, v in opt_args.items() if k not in opt_values)
    )
    seed = (
        int(est.random_state)
        if isinstance(est.random_state, numbers.Integral)
        else int(check_random_state(est.random_state).randint(2**31 - 1))
    )
    n = len(data.X)
    if est.early_stopping:
        stratify = data.Y if classifier else None
        train_rows, val_rows = _early_stopping_split(seed, n, stratify, est.validation_fraction)
        if len(val_rows) < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
    else:
        train_rows, val_rows = np.arange(n), np.zeros(0, np.int64)
    batch_size = int(min(est.batch_size, len(train_rows)))
    key = GroupKey(
        module_class(module),
        tuple(module_fields(module)),
        factory or instance,
        static_opt,
        tuple(sorted(opt_values)),
        loss,
        classifier,
        width,
        batch_size,
        data.X.shape[1],
        "float32",
    )
    fields = tuple((name, getattr(module, name)) for name in key.field_names)
    return FlaxMember(
        index,
        est,
        job.data_key if job.data_key is not None else ("job", index),
        data,
        key,
        fields,
        opt_values,
        seed,
        train_rows,
        val_rows,
        int(est.max_epochs),
        job.resume_state,
    )


def _takes(factory, name) -> bool:
    try:
        return name in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False


# -- planning: which fields are traced, switched, padded or static ------------------------------
class FlaxConfig(NamedTuple):
    """Static description of a Flax group's program (hashable: a jit static argument)."""

    module: nn.Module  # static fields set; padded fields at the group's widths
    traced_fields: tuple  # names of module fields passed per model
    switch_fields: tuple  # names of fields switched per model
    switches: tuple  # per apply branch: the switch fields' values
    padded_fields: tuple  # names of width fields padded (masks applied)
    centered: bool  # where padded kernels keep their real entries (`_placements`)
    init_fields: tuple  # padded fields and the switched fields initialization depends on
    structures: tuple  # per init branch: ((init field, value), ...)
    optimizer: Any
    static_opt: tuple
    traced_opt: tuple
    loss: Any
    is_classifier: bool
    n_features: int
    n_outputs: int
    batch_size: int
    n_batches: int
    max_epochs: int
    early_stopping: bool
    padding_batches: bool
    weighted: bool
    #: Compiled with XLA:CPU's loop emitters (`training.QUICK_COMPILE_OPTIONS`): about half
    #: the compile time, slower kernels; chosen by `plan.CostModel.compiles_quickly`.
    quick_compile: bool = False
    #: Width fields that could not be padded safely (one program per width; reported).
    unpaddable: tuple = ()


_TRACEABLE: dict = {}  # (module class, field, ...) -> bool
_PAD_SAFE: dict = {}  # (module, padded fields) -> bool
_PLAN_LOCK = threading.Lock()


def _probe(n_features):
    return jax.ShapeDtypeStruct((2, n_features), jnp.float32)


def _traceable(module: nn.Module, name: str, value, n_features: int) -> bool:
    """Whether the module still builds and runs with `name` a traced value (it is only used in
    arithmetic, or not at all)."""
    key = (module, name, n_features)
    with _PLAN_LOCK:
        if key in _TRACEABLE:
            return _TRACEABLE[key]
    dtype = jnp.int32 if isinstance(value, numbers.Integral) else jnp.float32

    def run(v, x):
        m = module.clone(**{name: v})
        variables = m.init(jax.random.key(0), x)
        return m.apply(variables, x)

    try:
        jax.eval_shape(run, jax.ShapeDtypeStruct((), dtype), _probe(n_features))
        ok = True
    except Exception:  # noqa: BLE001 - any failure means: keep the field static
        ok = False
    with _PLAN_LOCK:
        _TRACEABLE[key] = ok
    return ok


_MODULE_SHAPES: dict = {}


def _module_shapes(module: nn.Module, n_features: int):
    """(output shape, parameter shapes) of the module on 2 rows, traced once per module and
    width (both come from one `init_with_output`); or the exception it raised."""
    key = (module, n_features)
    with _PLAN_LOCK:
        found = _MODULE_SHAPES.get(key)
    if found is None:
        try:
            out, variables = jax.eval_shape(
                lambda x: module.init_with_output(jax.random.key(0), x), _probe(n_features)
            )
            extra = [k for k in variables if k != "params"]
            if extra:
                raise ValueError(
                    f"{type(module).__name__} has variable collections {extra} "
                    "besides 'params' (batch statistics, say); vgrid trains "
                    "modules whose state is their parameters only."
                )
            found = (out.shape, jax.tree.map(lambda a: a.shape, variables.get("params", {})))
        except Exception as exc:  # noqa: BLE001 - reported by whoever asks
            found = exc
        with _PLAN_LOCK:
            if len(_MODULE_SHAPES) > 4096:
                _MODULE_SHAPES.clear()
            _MODULE_SHAPES[key] = found
    return found


def _param_shapes(module: nn.Module, n_features: int):
    """The module's parameter shapes (a tree of tuples); raises what building it raised."""
    found = _module_shapes(module, n_features)
    if isinstance(found, Exception):
        raise found
    return found[1]


def _placements(real_shape, padded_shape, widths, centered: bool) -> list:
    """Where a real parameter's entries sit in its padded version, per axis, as
    (blocks, real, padded, before): the axis is `blocks` runs of `real` entries, each padded to
    `padded` with `before` zeros ahead. An axis of a padded width field's size (real value r,
    padded p, `widths`) or of a multiple of it (`Dense` after flattening r channels) has one
    run per block; a convolution kernel's spatial axis (all but the last two axes of a rank-3+
    leaf) is padded on both sides with `centered`, so that a small odd kernel sits at the
    centre of a larger one, as 'SAME' convolutions need; any other axis is padded at its end."""
    rank = len(real_shape)
    out = []
    for axis, (d, s) in enumerate(zip(real_shape, padded_shape)):
        placement = (1, d, s, 0)
        if d != s and centered and rank >= 3 and axis < rank - 2:
            placement = (1, d, s, (s - d) // 2)
        elif d != s:
            for r, p in widths:
                if 0 < r < p and d % r == 0 and s * r == d * p:
                    placement = (d // r, r, p, 0)
                    break
        out.append(placement)
    return out


def _embed_array(a, placements, xp=np):
    """`a` zero-padded as `placements` say (`xp`: numpy or jax.numpy)."""
    for axis, (blocks, real, padded, before) in enumerate(placements):
        if real == padded:
            continue
        shape = a.shape
        a = a.reshape(shape[:axis] + (blocks, real) + shape[axis + 1 :])
        pads = [(0, 0)] * a.ndim
        pads[axis + 1] = (before, padded - real - before)
        a = xp.pad(a, pads).reshape(shape[:axis] + (blocks * padded,) + shape[axis + 1 :])
    return a


def _extract_array(a, placements):
    """The real entries of a padded array (the inverse of `_embed_array`)."""
    for axis, (blocks, real, padded, before) in enumerate(placements):
        if real == padded:
            continue
        shape = a.shape
        a = a.reshape(shape[:axis] + (blocks, padded) + shape[axis + 1 :])
        a = a[(slice(None),) * (axis + 1) + (slice(before, before + real),)]
        a = a.reshape(shape[:axis] + (blocks * real,) + shape[axis + 1 :])
    return a


def _widths(fields: dict, padded_module, names) -> list:
    """(real, padded) width pairs of a model's padded fields."""
    pairs: list[tuple] = []
    for n in names:
        real, padded = fields[n], getattr(padded_module, n)
        if isinstance(real, tuple):
            pairs.extend(zip(real, padded))
        else:
            pairs.append((real, padded))
    return [(int(r), int(p)) for r, p in pairs]


def _embed(real, padded_shapes, widths, centered: bool, xp=jnp):
    """`real` parameters zero-padded to `padded_shapes` (same tree; see `_placements`)."""
    return jax.tree.map(
        lambda a, shape: _embed_array(a, _placements(a.shape, shape, widths, centered), xp),
        real,
        padded_shapes,
    )


def _extract(padded, real_shapes, widths, centered: bool):
    """A model's real parameters out of padded ones (numpy, same tree)."""
    return jax.tree.map(
        lambda a, shape: np.array(
            _extract_array(np.asarray(a), _placements(shape, np.shape(a), widths, centered))
        ),
        padded,
        real_shapes,
    )


def _paddable(real_shapes, padded_shapes) -> bool:
    def ok(a, b):
        return len(a) == len(b) and all(x <= y for x, y in zip(a, b))

    real_tree: Any = jax.tree.structure(real_shapes, is_leaf=_is_shape)
    if real_tree != jax.tree.structure(padded_shapes, is_leaf=_is_shape):
        return False
    return all(jax.tree.leaves(jax.tree.map(ok, real_shapes, padded_shapes, is_leaf=_is_shape)))


@partial(jax.jit, static_argnums=(0, 1), compiler_options=QUICK_COMPILE_OPTIONS)
def _both_outputs(small, padded, real, embedded, x):
    return small.apply({"params": real}, x), padded.apply({"params": embedded}, x)


def _pad_is_safe(
    small: nn.Module, padded: nn.Module, n_features: int, names: tuple, centered: bool = False
) -> bool:
    """Whether the padded module, given a real model's parameters padded with zeros, computes
    the real model's outputs (checked once per module class, static fields and padded names)."""
    key = (padded, names, n_features, centered)
    with _PLAN_LOCK:
        if key in _PAD_SAFE:
            return _PAD_SAFE[key]
    rng = np.random.RandomState(1)
    x = rng.normal(size=(4, n_features)).astype(np.float32)
    widths = _widths({n: getattr(small, n) for n in names}, padded, names)
    try:
        # Random parameters (biases too): whether padding is exact depends on what the module
        # computes, not on how it initializes.
        real = jax.tree.map(
            lambda shape: np.asarray(rng.normal(size=shape), np.float32),
            _param_shapes(small, n_features),
            is_leaf=_is_shape,
        )
        embedded = _embed(real, _param_shapes(padded, n_features), widths, centered, np)
        want, got = _both_outputs(small, padded, real, embedded, x)
        ok = bool(got.shape == want.shape and np.allclose(got, want, rtol=1e-5, atol=1e-5))
    except Exception:  # noqa: BLE001 - a module that cannot take padded parameters
        ok = False
    with _PLAN_LOCK:
        _PAD_SAFE[key] = ok
    return ok


def _n_params(shapes) -> int:
    return int(sum(math.prod(s) for s in jax.tree.leaves(shapes, is_leaf=_is_shape)))


def _split_by(members, names):
    groups: dict = {}
    for p in members:
        fields = dict(p.fields)
        groups.setdefault(tuple(_hashable(fields[n]) for n in names), []).append(p)
    return list(groups.values())


class _FieldRoles(NamedTuple):
    traced: tuple
    switched: tuple
    padded: tuple
    static: tuple
    unpaddable: tuple  # width fields that could not be padded safely (reported)
    init_switched: tuple = ()  # switched fields the initialization depends on
    centered: bool = False  # convolution kernels padded around their centre (`_placements`)


_INIT_DEPENDS: dict = {}


def _init_depends_on(module: nn.Module, name: str, values, n_features: int) -> bool:
    """Whether initializing the module computes anything different for these values of a
    field (their initialization jaxprs differ); if not, one initialization serves them all."""
    key = (module, name, frozenset(values), n_features)
    with _PLAN_LOCK:
        if key in _INIT_DEPENDS:
            return _INIT_DEPENDS[key]
    found = _init_jaxprs_differ(module, name, values, n_features)
    with _PLAN_LOCK:
        _INIT_DEPENDS[key] = found
    return found


def _init_jaxprs_differ(module: nn.Module, name: str, values, n_features: int) -> bool:
    """Compares the initialization's jaxprs with the forward pass that `init` also traces
    removed (dead code for the parameters), so a field the forward pass alone reads (an
    activation) does not count."""
    from jax._src.interpreters.partial_eval import dce_jaxpr

    def jaxpr(value):
        m = module.clone(**{name: value})
        closed = jax.make_jaxpr(lambda x: m.init(jax.random.key(0), x))(_probe(n_features))
        return str(dce_jaxpr(closed.jaxpr, [True] * len(closed.jaxpr.outvars))[0])

    try:
        return len({jaxpr(v) for v in values}) > 1
    except Exception:  # noqa: BLE001 - be exact when in doubt: initialize per value
        return True


def _field_roles(members) -> _FieldRoles:
    key = members[0].static_key
    fields0 = dict(members[0].fields)
    values = {n: {_hashable(dict(p.fields)[n]) for p in members} for n in key.field_names}
    varying = [n for n in key.field_names if len(values[n]) > 1]
    base = _module_of(key, fields0)
    traced = tuple(
        n
        for n in varying
        if all(_is_number(v) for v in values[n]) and _traceable(base, n, fields0[n], key.n_features)
    )
    rest = [n for n in varying if n not in traced]
    switched, padded, static, unpaddable = [], [], [], []
    for n in rest:
        try:
            shapes = {v: _param_shapes(base.clone(**{n: v}), key.n_features) for v in values[n]}
        except Exception:  # noqa: BLE001 - some value fails to build: one program per value
            static.append(n)
            continue
        if len({str(s) for s in shapes.values()}) == 1:
            switched.append(n)
        elif _is_width(values[n]):
            wide, narrow = _widest(values[n]), min(values[n], key=_width_size)
            small, large = base.clone(**{n: narrow}), base.clone(**{n: wide})
            large_shapes = _param_shapes(large, key.n_features)
            modes = []
            if _paddable(shapes[narrow], large_shapes):
                # Centring differs from padding at the end only on kernels' spatial axes.
                centring = _has_spatial_padding(shapes[narrow], large_shapes)
                for mode in (False, True) if centring else (False,):
                    if _pad_is_safe(small, large, key.n_features, (n,), mode):
                        modes.append(mode)
                if modes and not centring:
                    modes.append(True)
            if modes:
                padded.append((n, modes))
            else:
                static.append(n)
                unpaddable.append(n)
        else:
            static.append(n)
    # One placement for the group: centred kernels if some field needs them (a field that is
    # only safe padded at the end then gets one program per value).
    centered = any(modes == [True] for _, modes in padded)
    for n, modes in padded:
        if centered not in modes:
            static.append(n)
            unpaddable.append(n)
    padded = [n for n, modes in padded if centered in modes]
    init_switched = tuple(
        n for n in switched if _init_depends_on(base, n, values[n], key.n_features)
    )
    return _FieldRoles(
        traced,
        tuple(switched),
        tuple(padded),
        tuple(static),
        tuple(unpaddable),
        init_switched,
        centered,
    )


def _has_spatial_padding(real_shapes, padded_shapes) -> bool:
    """Whether some padded leaf differs on a spatial axis (all but the last two of rank 3+)."""
    pairs = zip(
        jax.tree.leaves(real_shapes, is_leaf=_is_shape),
        jax.tree.leaves(padded_shapes, is_leaf=_is_shape),
    )
    return any(len(r) >= 3 and tuple(r[:-2]) != tuple(p[:-2]) for r, p in pairs)


def _is_width(values) -> bool:
    """Integers, or tuples of integers of one length (layer widths): fields that can be padded."""

    def integer(v):
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)

    if all(integer(v) for v in values):
        return True
    return (
        all(isinstance(v, tuple) and all(integer(w) for w in v) for v in values)
        and len({len(v) for v in values}) == 1
    )


def _widest(values):
    """The elementwise widest of width values (`_is_width`)."""
    values = list(values)
    if isinstance(values[0], tuple):
        return tuple(max(v[i] for v in values) for i in range(len(values[0])))
    return max(values)


def _width_size(value) -> int:
    return sum(value) if isinstance(value, tuple) else value


def _module_of(key: GroupKey, fields: dict) -> nn.Module:
    return key.module_class(**{n: _hashable(v) for n, v in fields.items()})


_MAX_SWITCH_BRANCHES = 16


def _switch_is_cheaper(members, n_branches: int, n_threads: int) -> bool:
    """Whether one program with a per-model switch among `n_branches` values costs less than
    one program per value. A model called alone (the CPU's one model per call) runs only its
    own branch; under vmap (several models per call, an accelerator) every branch is computed
    for every model: `n_branches` times the work, against `n_branches - 1` more compilations
    (the cost model's seconds and FLOP/s)."""
    if n_branches > _MAX_SWITCH_BRANCHES:
        return False
    from .scheduling import skips_padding_batches

    if skips_padding_batches():  # one model per call: a switch computes one branch
        return True
    key = members[0].static_key
    module = _module_of(key, dict(members[0].fields))
    work = sum(
        3 * _forward_flops(module, key.n_features) * len(p.train_rows) * p.max_epochs
        for p in members
    )
    rate = COST_MODEL.flops_per_second("float32", jax.default_backend()) * max(1, n_threads)
    return (n_branches - 1) * work / rate < (n_branches - 1) * COST_MODEL.compile_seconds


_FORWARD_FLOPS: dict = {}


def _forward_flops(module: nn.Module, n_features: int) -> float:
    """FLOPs of one row's forward pass, from XLA's cost analysis (convolutions included)."""
    key = (module, n_features)
    with _PLAN_LOCK:
        if key in _FORWARD_FLOPS:
            return _FORWARD_FLOPS[key]
    x = jax.ShapeDtypeStruct((1, n_features), jnp.float32)
    try:
        params = jax.eval_shape(lambda x: module.init(jax.random.key(0), x), x)
        cost = jax.jit(module.apply).lower(params, x).cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        flops = float((cost or {}).get("flops", 0.0))
    except Exception:  # noqa: BLE001 - fall back on the parameter count
        flops = 0.0
    flops = flops or 2.0 * _n_params(_param_shapes(module, n_features))
    with _PLAN_LOCK:
        _FORWARD_FLOPS[key] = flops
    return flops


def _bucket_widths(members, padded: tuple, n_features: int) -> list[list]:
    """Split members by their padded fields' values into buckets minimising estimated
    compile + padded training time (contiguous in forward FLOPs): the cost model's seconds to
    compile a program (`plan.CostModel`) against 3 x forward FLOPs x rows x epochs."""
    if not padded:
        return [members]
    key = members[0].static_key
    by_value: dict = {}
    for p in members:
        fields = dict(p.fields)
        by_value.setdefault(tuple(_hashable(fields[n]) for n in padded), []).append(p)
    base_fields = dict(members[0].fields)

    def flops_at(values):
        return _forward_flops(
            _module_of(key, {**base_fields, **dict(zip(padded, values))}), n_features
        )

    sizes = {v: flops_at(v) for v in by_value}
    archs = sorted(by_value, key=lambda v: sizes[v])
    rate = COST_MODEL.flops_per_second("float32", jax.default_backend())

    def seconds(i, j):
        widest = tuple(_widest([v[k] for v in archs[i:j]]) for k in range(len(padded)))
        per_row = 3 * flops_at(widest)
        work = sum(
            per_row * len(p.train_rows) * p.max_epochs for v in archs[i:j] for p in by_value[v]
        )
        return COST_MODEL.compile_seconds + work / rate

    return contiguous_buckets(archs, by_value, seconds)


#: Room is given for a refit when it at most doubles a group's minibatches per epoch.
MAX_ROOM_FACTOR = 2


def _make_plan(
    kind, members, roles: _FieldRoles, room_rows: int | None, n_threads: int = 1
) -> GroupPlan:
    key = members[0].static_key
    fields0 = dict(members[0].fields)
    widest = {n: _widest({_hashable(dict(p.fields)[n]) for p in members}) for n in roles.padded}
    # Traced and switched fields get canonical placeholders (each model sets its own), so the
    # same program serves any grid over their values.
    defaults = module_fields(key.module_class)
    placeholders = {
        n: (
            defaults[n]
            if defaults.get(n, dataclasses.MISSING) is not dataclasses.MISSING
            else min(dict(p.fields)[n] for p in members)
        )
        for n in roles.traced
    }
    switches = tuple(
        sorted(
            {tuple(_hashable(dict(p.fields)[n]) for n in roles.switched) for p in members}, key=repr
        )
    )
    placeholders.update(zip(roles.switched, switches[0]))
    module = _module_of(key, {**fields0, **widest, **placeholders})
    switches = tuple(
        sorted(
            {tuple(_hashable(dict(p.fields)[n]) for n in roles.switched) for p in members}, key=repr
        )
    )
    names = roles.padded + roles.init_switched
    structures = tuple(
        sorted({tuple((n, _hashable(dict(p.fields)[n])) for n in names) for p in members}, key=repr)
    )
    bs = key.batch_size
    batches = [-(-len(p.train_rows) // bs) for p in members]
    n_batches = max(batches)
    min_shapes = {}
    room_batches = -(-(room_rows or 0) // bs)
    early = any(p.estimator.early_stopping for p in members)
    if room_rows and room_batches <= MAX_ROOM_FACTOR * n_batches and room_rows >= bs:
        n_batches = max(n_batches, room_batches)
        min_shapes["n_rows"] = room_rows
        if early:
            min_shapes["n_val"] = max(
                math.ceil(p.estimator.validation_fraction * room_rows)
                for p in members
                if p.estimator.early_stopping
            )
    config = FlaxConfig(
        module=module,
        traced_fields=roles.traced,
        switch_fields=roles.switched,
        switches=switches,
        padded_fields=roles.padded,
        centered=roles.centered,
        init_fields=names,
        structures=structures,
        optimizer=key.optimizer,
        static_opt=key.static_opt,
        traced_opt=key.traced_opt,
        loss=key.loss,
        is_classifier=key.is_classifier,
        n_features=key.n_features,
        n_outputs=key.n_outputs,
        batch_size=bs,
        n_batches=n_batches,
        max_epochs=max(p.max_epochs for p in members),
        early_stopping=early,
        padding_batches=min(batches) < n_batches,
        weighted=any(p.data.weighted for p in members),
    )
    members = sorted(members, key=lambda p: -p.max_epochs * len(p.train_rows))
    work = (
        3
        * _forward_flops(module, key.n_features)
        * sum(p.max_epochs * n_batches * bs for p in members)
    )
    config = config._replace(
        quick_compile=COST_MODEL.compiles_quickly(work, "float32", min(n_threads, len(members)))
    )
    return GroupPlan(config._replace(unpaddable=roles.unpaddable), members, min_shapes, kind)


# -- layout ------------------------------------------------------------------------------------
class FlaxShared(NamedTuple):
    X: ModelArray  # (n_data, n_rows + 1, n_features); the last row is an all-zero sentinel
    Y: ModelArray  # (n_data, n_rows + 1) labels, or (n_data, n_rows + 1, n_outputs) targets
    W: ModelArray  # (n_data, n_rows + 1) sample weights, 0 on padding
    masks: Any  # per structure: 1 on a model's real parameters, 0 on padding (None: unpadded)


class FlaxModels(NamedTuple):
    """Per-model inputs (leading model axis)."""

    fields: dict  # traced module fields
    opt: dict  # traced optimizer arguments
    structure: ModelArray  # int32: init branch (row of config.structures)
    switch: ModelArray  # int32: apply branch (row of config.switches)
    seed: ModelArray  # uint32
    data_id: ModelArray  # int32
    train_rows: ModelArray  # (n_train_max,) int32, padded with the sentinel
    n_train: ModelArray  # int32
    val_rows: ModelArray  # (n_val_max,) int32, padded with the sentinel
    max_epochs: ModelArray  # int32
    early_stopping: ModelArray  # bool
    tol: ModelArray  # float32
    n_iter_no_change: ModelArray  # int32


class FlaxState(NamedTuple):
    """One model's training state (leading model axis): all a segment carries over."""

    params: Any
    opt_state: Any
    best_params: Any
    n_iter: ModelArray
    no_improvement_count: ModelArray
    best_validation_score: ModelArray
    loss_curve: ModelArray  # (max_epochs,), NaN past n_iter
    validation_scores: ModelArray  # (max_epochs,), NaN without early stopping
    stopped_by_rule: ModelArray
    done: ModelArray


def _structure_modules(config: FlaxConfig):
    return [config.module.clone(**dict(s)) for s in config.structures]


def _padded_shapes(config: FlaxConfig, n_features: int):
    return _param_shapes(config.module, n_features)


def _masks(config: FlaxConfig, n_features: int):
    if not config.padded_fields:
        return None
    padded = _padded_shapes(config, n_features)
    per_structure = []
    for structure, module in zip(config.structures, _structure_modules(config)):
        real = jax.tree.map(
            lambda r: np.ones(r, np.float32), _param_shapes(module, n_features), is_leaf=_is_shape
        )
        widths = _widths(dict(structure), config.module, config.padded_fields)
        per_structure.append(_embed(real, padded, widths, config.centered, np))
    return jax.tree.map(lambda *a: np.stack(a), *per_structure)


def build_inputs(plan: GroupPlan):
    cfg, members, floor = plan.config, plan.members, plan.min_shapes
    data_ids, data_members = _unique(members, lambda p: p.data_key)
    n_rows = max(floor.get("n_rows", 0), *(len(p.data.X) for p in data_members))
    n_data = max(floor.get("n_data", 0), len(data_members))
    n_features = members[0].data.X.shape[1]
    X = np.zeros((n_data, n_rows + 1, n_features), np.float32)
    W = np.zeros((n_data, n_rows + 1), np.float32)
    Y = (
        np.zeros((n_data, n_rows + 1), np.int32)
        if cfg.is_classifier
        else np.zeros((n_data, n_rows + 1, cfg.n_outputs), np.float32)
    )
    for d, p in enumerate(data_members):
        n = len(p.data.X)
        X[d, :n], Y[d, :n], W[d, :n] = p.data.X, p.data.Y, p.data.W
    sentinel = n_rows
    n_train = max(cfg.n_batches * cfg.batch_size, *(len(p.train_rows) for p in members))
    train_rows = np.full((len(members), n_train), sentinel, np.int32)
    n_val = max(1, floor.get("n_val", 0), *(len(p.val_rows) for p in members))
    val_rows = np.full((len(members), n_val), sentinel, np.int32)
    for m, p in enumerate(members):
        train_rows[m, : len(p.train_rows)] = p.train_rows
        val_rows[m, : len(p.val_rows)] = p.val_rows
    structure_index = {s: i for i, s in enumerate(cfg.structures)}
    switch_index = {s: i for i, s in enumerate(cfg.switches)}
    names = cfg.init_fields
    ests = [p.estimator for p in members]
    models = FlaxModels(
        fields={n: np.array([dict(p.fields)[n] for p in members]) for n in cfg.traced_fields},
        opt={n: np.array([p.opt_values[n] for p in members], np.float32) for n in cfg.traced_opt},
        structure=np.array(
            [
                structure_index[tuple((n, _hashable(dict(p.fields)[n])) for n in names)]
                for p in members
            ],
            np.int32,
        ),
        switch=np.array(
            [
                switch_index[tuple(_hashable(dict(p.fields)[n]) for n in cfg.switch_fields)]
                for p in members
            ],
            np.int32,
        ),
        seed=np.array([p.seed for p in members], np.uint32),
        data_id=data_ids,
        train_rows=train_rows,
        n_train=np.array([len(p.train_rows) for p in members], np.int32),
        val_rows=val_rows,
        max_epochs=np.array([p.max_epochs for p in members], np.int32),
        early_stopping=np.array([bool(e.early_stopping) for e in ests]),
        tol=np.array([e.tol for e in ests], np.float32),
        n_iter_no_change=np.array([e.n_iter_no_change for e in ests], np.int32),
    )
    return FlaxShared(X, Y, W, _masks(cfg, n_features)), None, models


def input_shapes(shared, inits, models) -> dict:
    return {
        "n_data": shared.X.shape[0],
        "n_rows": shared.X.shape[1] - 1,
        "n_val": models.val_rows.shape[1],
        "n_train": models.train_rows.shape[1],
    }


def fits_in(p: FlaxMember, static_key, config: FlaxConfig, shapes: dict) -> bool:
    """Whether member `p` trains with its own numbers in a program of this key and config."""
    if p.static_key != static_key:
        return False
    fields = dict(p.fields)
    structure = tuple((n, _hashable(fields[n])) for n in config.init_fields)
    switch = tuple(_hashable(fields[n]) for n in config.switch_fields)
    names = config.padded_fields + config.switch_fields + config.traced_fields
    others = {n: v for n, v in fields.items() if n not in names}
    base = {n: getattr(config.module, n) for n in others}
    return (
        p.static_key == static_key
        and structure in config.structures
        and switch in config.switches
        and all(_hashable(others[n]) == _hashable(base[n]) for n in others)
        and p.max_epochs <= config.max_epochs
        and (config.early_stopping or not p.estimator.early_stopping)
        and (config.weighted or not p.data.weighted)
        and -(-len(p.train_rows) // config.batch_size) <= config.n_batches
        and (
            config.padding_batches or -(-len(p.train_rows) // config.batch_size) == config.n_batches
        )
        and len(p.data.X) <= shapes["n_rows"]
        and len(p.val_rows) <= shapes["n_val"]
        and len(p.train_rows) <= shapes["n_train"]
    )


# -- the program -------------------------------------------------------------------------------
def _optimizer(config: FlaxConfig, opt_values: dict):
    if not callable(config.optimizer) or isinstance(config.optimizer, optax.GradientTransformation):
        return config.optimizer
    return optax.inject_hyperparams(config.optimizer)(**dict(config.static_opt), **opt_values)


def _per_row_loss(config: FlaxConfig, out, y):
    if callable(config.loss) and not isinstance(config.loss, str):
        return config.loss(out, y)
    if config.loss == "softmax":
        return optax.softmax_cross_entropy_with_integer_labels(out, y)
    if config.loss == "sigmoid":
        return optax.sigmoid_binary_cross_entropy(out[:, 0], y.astype(out.dtype))
    return jnp.mean((out - y) ** 2, axis=-1)


def _score(config: FlaxConfig, out, y, w):
    """Accuracy (classifiers) or R^2 (regressors), weighted: the early-stopping score."""
    w_sum = jnp.maximum(jnp.sum(w), 1e-12)
    if config.is_classifier:
        predicted = (
            (out[:, 0] > 0).astype(jnp.int32) if out.shape[-1] == 1 else jnp.argmax(out, axis=-1)
        )
        return jnp.sum(w * (predicted == y)) / w_sum
    mean = jnp.sum(w[:, None] * y, axis=0, keepdims=True) / w_sum
    numerator = jnp.sum(w[:, None] * (y - out) ** 2, axis=0)
    denominator = jnp.sum(w[:, None] * (y - mean) ** 2, axis=0)
    per_output = jnp.where(
        denominator > 0, 1 - numerator / jnp.where(denominator > 0, denominator, 1), 0.0
    )
    return jnp.mean(per_output)


def _advance_one(
    config: FlaxConfig, shared: FlaxShared, model: FlaxModels, state: FlaxState, n_epochs
) -> FlaxState:
    traced = dict(model.fields)
    tx = _optimizer(config, dict(model.opt))
    key = jax.random.key(model.seed, impl=HASH_PRNG)
    x_probe = shared.X[0, :1]

    def init_branch(structure, module):
        widths = _widths(dict(structure), config.module, config.padded_fields)

        def init():
            params = module.clone(**traced).init(jax.random.fold_in(key, 0), x_probe)["params"]
            return _embed(
                params, _padded_shapes(config, shared.X.shape[-1]), widths, config.centered
            )

        return init

    branches = [init_branch(s, m) for s, m in zip(config.structures, _structure_modules(config))]

    def fresh(_):
        params = lax.switch(model.structure, branches) if len(branches) > 1 else branches[0]()
        return params, tx.init(params), params

    params, opt_state, best_params = lax.cond(
        state.n_iter == 0, fresh, lambda _: (state.params, state.opt_state, state.best_params), None
    )
    mask = (
        None if shared.masks is None else jax.tree.map(lambda a: a[model.structure], shared.masks)
    )
    appliers = [
        config.module.clone(**dict(zip(config.switch_fields, values)), **traced)
        for values in config.switches
    ]

    def apply(params, x):
        if len(appliers) == 1:
            return appliers[0].apply({"params": params}, x)
        return lax.switch(
            model.switch, [lambda p, x, m=m: m.apply({"params": p}, x) for m in appliers], params, x
        )

    def batch_loss(params, x, y, w):
        per_row = _per_row_loss(config, apply(params, x), y)
        return jnp.sum(w * per_row) / jnp.maximum(jnp.sum(w), 1e-12)

    def update(params, opt_state, x, y, w):
        loss, grads = jax.value_and_grad(batch_loss)(params, x, y, w)
        if mask is not None:
            grads = jax.tree.map(jnp.multiply, grads, mask)
        updates, opt_state = tx.update(grads, opt_state, params)
        if mask is not None:
            updates = jax.tree.map(jnp.multiply, updates, mask)
        return optax.apply_updates(params, updates), opt_state, loss * jnp.sum(w)

    def skip(params, opt_state, *_):
        return params, opt_state, jnp.zeros((), jnp.float32)

    def minibatch(carry, batch):
        params, opt_state, total = carry
        index, x, y, w = batch
        if config.padding_batches:
            real = index * config.batch_size < model.n_train
            params, opt_state, loss = lax.cond(real, update, skip, params, opt_state, x, y, w)
        else:
            params, opt_state, loss = update(params, opt_state, x, y, w)
        return (params, opt_state, total + loss), None

    positions = jnp.arange(model.train_rows.shape[0])
    sentinel = shared.X.shape[1] - 1
    n_take = config.n_batches * config.batch_size
    train_weight = jnp.sum(shared.W[model.data_id, model.train_rows])

    def epoch(carry):
        st, params, opt_state, best_params = carry
        epoch_key = jax.random.fold_in(key, st.n_iter + 1)
        # One random number per position, from the position alone: the order of a model's
        # rows does not depend on how far its arrays were padded.
        u = jax.vmap(lambda i: jax.random.uniform(jax.random.fold_in(epoch_key, i)))(positions)
        order = jnp.argsort(jnp.where(positions < model.n_train, u, 2.0))
        rows = jnp.where(
            jnp.arange(n_take) < model.n_train, model.train_rows[order[:n_take]], sentinel
        )
        xs = shared.X[model.data_id, rows].reshape(config.n_batches, config.batch_size, -1)
        ys = shared.Y[model.data_id, rows]
        ys = ys.reshape(config.n_batches, config.batch_size, *ys.shape[1:])
        ws = shared.W[model.data_id, rows].reshape(config.n_batches, config.batch_size)
        (params, opt_state, total), _ = lax.scan(
            minibatch,
            (params, opt_state, jnp.zeros((), jnp.float32)),
            (jnp.arange(config.n_batches), xs, ys, ws),
        )
        n_iter = st.n_iter + 1
        loss = total / jnp.maximum(train_weight, 1e-12)
        count, best_score = st.no_improvement_count, st.best_validation_score
        scores = jnp.asarray(st.validation_scores)
        stop: ModelArray = jnp.zeros((), bool)
        if config.early_stopping:
            es = model.early_stopping
            x_val = shared.X[model.data_id, model.val_rows]
            score = _score(
                config,
                apply(params, x_val),
                shared.Y[model.data_id, model.val_rows],
                shared.W[model.data_id, model.val_rows],
            )
            scores = jnp.where(es, scores.at[n_iter - 1].set(score), scores)
            count = jnp.where(es & (score < best_score + model.tol), count + 1, 0)
            improved = es & (score > best_score)
            best_score = jnp.where(improved, score, best_score)
            best_params = jax.tree.map(lambda a, b: jnp.where(improved, a, b), params, best_params)
            stop = es & (count > model.n_iter_no_change)
        st = st._replace(
            n_iter=n_iter,
            no_improvement_count=count,
            best_validation_score=best_score,
            loss_curve=jnp.asarray(st.loss_curve).at[n_iter - 1].set(loss),
            validation_scores=scores,
            stopped_by_rule=stop,
            done=stop | (n_iter >= model.max_epochs) | ~jnp.isfinite(loss),
        )
        return st, params, opt_state, best_params

    stop_at = state.n_iter + n_epochs
    state, params, opt_state, best_params = lax.while_loop(
        lambda c: ~c[0].done & (c[0].n_iter < stop_at),
        epoch,
        (state, params, opt_state, best_params),
    )
    return state._replace(params=params, opt_state=opt_state, best_params=best_params)


def _train_segment(config, shared, models, states, n_epochs):
    return advance_every_model(_advance_one, config, shared, models, states, n_epochs)


_PROGRAMS = {
    False: jax.jit(_train_segment, static_argnames="config"),
    True: jax.jit(_train_segment, static_argnames="config", compiler_options=QUICK_COMPILE_OPTIONS),
}


_TEMPLATES: dict = {}


def _state_template(config: FlaxConfig, n_features: int, opt_example: dict):
    """Shapes of one model's parameters and optimizer state (abstract), once per config."""
    key = (config, n_features)
    with _PLAN_LOCK:
        found = _TEMPLATES.get(key)
    if found is None:
        found = _traced_state_template(config, n_features, opt_example)
        with _PLAN_LOCK:
            if len(_TEMPLATES) > 1024:
                _TEMPLATES.clear()
            _TEMPLATES[key] = found
    return found


def _traced_state_template(config: FlaxConfig, n_features: int, opt_example: dict):
    params = jax.tree.map(
        lambda s: jax.ShapeDtypeStruct(s, jnp.float32),
        _padded_shapes(config, n_features),
        is_leaf=_is_shape,
    )
    opt = jax.eval_shape(lambda p, o: _optimizer(config, o).init(p), params, opt_example)
    return params, opt


def fresh_states(plan: GroupPlan, inits, models: FlaxModels) -> FlaxState:
    """Placeholder states: a model with `n_iter == 0` is initialized inside the program."""
    cfg = plan.config
    n = len(models.seed)
    n_features = plan.members[0].data.X.shape[1]
    params, opt = _state_template(cfg, n_features, {k: np.float32(0) for k in cfg.traced_opt})

    def zeros(a):
        return np.zeros((n, *a.shape), a.dtype)

    nan_curve = np.full((n, cfg.max_epochs), np.nan, np.float32)
    return FlaxState(
        params=jax.tree.map(zeros, params),
        opt_state=jax.tree.map(zeros, opt),
        best_params=jax.tree.map(zeros, params),
        n_iter=np.zeros(n, np.int32),
        no_improvement_count=np.zeros(n, np.int32),
        best_validation_score=np.full(n, -np.inf, np.float32),
        loss_curve=nan_curve,
        validation_scores=nan_curve.copy(),
        stopped_by_rule=np.zeros(n, bool),
        done=np.zeros(n, bool),
    )


# -- results -----------------------------------------------------------------------------------
def _map_param_like(tree, params_def, fn, other=lambda leaf: leaf):
    """Apply `fn` to every subtree of `tree` structured like the parameters (`params_def`):
    the parameters themselves and optimizer moments; `other` to every other leaf."""

    def is_params(x):
        return jax.tree.structure(x) == params_def

    return jax.tree.map(lambda x: fn(x) if is_params(x) else other(x), tree, is_leaf=is_params)


def _real_module(member: FlaxMember, config: FlaxConfig) -> nn.Module:
    """The group's module at the member's own widths (its real parameter shapes and FLOPs)."""
    fields = dict(member.fields)
    return config.module.clone(**{n: _hashable(fields[n]) for n in config.padded_fields})


def _real_shapes(member: FlaxMember, config: FlaxConfig):
    return _param_shapes(_real_module(member, config), member.data.X.shape[1])


def unpad_state(state: FlaxState, member: FlaxMember, config: FlaxConfig) -> FlaxState:
    """One model's state (no model axis) in its real parameter shapes."""
    real = _real_shapes(member, config)
    params_def = jax.tree.structure(state.params)

    widths = _widths(dict(member.fields), config.module, config.padded_fields)

    def cut(tree):
        return _extract(tree, real, widths, config.centered)

    return state._replace(
        params=cut(state.params),
        best_params=cut(state.best_params),
        opt_state=_map_param_like(state.opt_state, params_def, cut),
    )


def pad_state(state: FlaxState, config: FlaxConfig, member: FlaxMember) -> FlaxState:
    """A kept state in a group's padded shapes, with a leading slot axis; training goes on
    until the group's model's own `max_epochs`."""
    padded = _padded_shapes(config, config.n_features)
    params_def = jax.tree.structure(state.params)
    widths = _widths(dict(member.fields), config.module, config.padded_fields)

    def pad(tree):
        return jax.tree.map(
            lambda a: a[None],
            _embed(jax.tree.map(np.asarray, tree), padded, widths, config.centered, np),
        )

    def curve(values):
        out = np.full((1, config.max_epochs), np.nan, np.float32)
        n = min(len(values), config.max_epochs)
        out[0, :n] = values[:n]
        return out

    def lead(a):
        return np.asarray(a)[None]

    return FlaxState(
        params=pad(state.params),
        best_params=pad(state.best_params),
        opt_state=_map_param_like(state.opt_state, params_def, pad, lead),
        n_iter=lead(state.n_iter),
        no_improvement_count=lead(state.no_improvement_count),
        best_validation_score=lead(state.best_validation_score),
        loss_curve=curve(state.loss_curve),
        validation_scores=curve(state.validation_scores),
        stopped_by_rule=lead(state.stopped_by_rule),
        done=lead(state.stopped_by_rule).copy(),
    )


def _stable(value, depth: int = 0):
    """A description of `value` that is the same in every process: a function (an optax
    factory, a loss) by its qualified name, code and what its closure holds (so two `optax.adam`
    instances with different learning rates differ), containers element by element, anything
    else by its repr (an address in a repr never matches, so nothing is wrongly reused)."""
    if depth > 8:
        return "..."
    if isinstance(value, (str, bytes, numbers.Number, type(None))):
        return value
    if isinstance(value, (tuple, list)):
        return tuple(_stable(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _stable(v, depth + 1)) for k, v in value.items()))
    if inspect.isfunction(value):
        cells = tuple(_stable(c.cell_contents, depth + 1) for c in value.__closure__ or ())
        code = value.__code__
        return (
            f"{value.__module__}.{value.__qualname__}",
            code.co_code.hex(),
            _stable(tuple(c for c in code.co_consts if not inspect.iscode(c)), depth + 1),
            cells,
        )
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return repr(value)


class FlaxKind:
    """Flax modules with optax optimizers as a `kinds.ModelKind` (see the module docstring)."""

    name = "flax"

    def owns(self, estimator) -> bool:
        from .flax_estimators import FlaxEstimator

        return isinstance(estimator, FlaxEstimator)

    def vectorizes(self, estimator) -> bool:
        return True

    def prepare(self, index, job, cache):
        if job.partial_fit_epochs is not None:
            raise ValueError(
                "partial_fit_epochs is for scikit-learn's MLPs; a Flax estimator trains as "
                "its fit does: set its max_epochs instead."
            )
        return _prepare(index, job, cache)

    def plan(self, members, *, n_threads, room_rows):
        by_key: dict = {}
        for p in members:
            by_key.setdefault(p.static_key, []).append(p)
        plans = []
        for group in by_key.values():
            roles = _field_roles(group)
            for same_static in _split_by(group, roles.static):
                for bucket in _bucket_widths(
                    same_static, roles.padded, group[0].static_key.n_features
                ):
                    switches = len(
                        {tuple(dict(p.fields)[n] for n in roles.switched) for p in bucket}
                    )
                    if switches > 1 and not _switch_is_cheaper(bucket, switches, n_threads):
                        for part in _split_by(bucket, roles.switched):
                            plans.append(
                                _make_plan(
                                    self,
                                    part,
                                    roles._replace(
                                        switched=(), static=roles.static + roles.switched
                                    ),
                                    room_rows,
                                    n_threads,
                                )
                            )
                    else:
                        plans.append(_make_plan(self, bucket, roles, room_rows, n_threads))
        return plans

    def prefers_host(self, own, hosted, job) -> bool:
        return True  # a compiled program always beats compiling one for a lone model

    build_inputs = staticmethod(build_inputs)
    input_shapes = staticmethod(input_shapes)
    fits_in = staticmethod(fits_in)
    fresh_states = staticmethod(fresh_states)

    def pad_state(self, state, config, member):
        return pad_state(state, config, member)

    def unpad_state(self, state, member, plan):
        return unpad_state(state, member, plan.config)

    def program(self, config):
        return _PROGRAMS[config.quick_compile]

    def model_bytes(self, config, shared) -> int:
        n_params = _n_params(_padded_shapes(config, shared.X.shape[-1]))
        activations = config.batch_size * shared.X.shape[-1] * 8
        return 4 * (6 * n_params + activations + 2 * config.max_epochs)

    def config_identity(self, config):
        module = config.module
        described = (_stable(type(module)), _stable(dict(module_fields(module))))
        return _stable(tuple(config._replace(module=described)))

    def chunk_identity(self, p):
        params = sorted((k, _stable(v)) for k, v in p.estimator.get_params(deep=False).items())
        return (params, p.data_key, p.seed, None if p.resume is None else int(p.resume.n_iter))

    def report(self, plan, shared, states, **measured):
        cfg = plan.config
        useful, executed = _useful_and_executed_flops(plan, np.asarray(states.n_iter))
        parts = [type(cfg.module).__name__]
        if cfg.padded_fields:
            parts.append(
                "padded " + ", ".join(f"{n}={getattr(cfg.module, n)}" for n in cfg.padded_fields)
            )
        if cfg.switch_fields:
            parts.append(f"switch {'/'.join(cfg.switch_fields)} x{len(cfg.switches)}")
        if cfg.traced_fields:
            parts.append("traced " + ", ".join(cfg.traced_fields))
        if cfg.unpaddable:
            parts.append("not padded (unsafe): " + ", ".join(cfg.unpaddable))
        optimizer = getattr(cfg.optimizer, "__name__", type(cfg.optimizer).__name__)
        return ProgramReport(
            quick_compile=cfg.quick_compile,
            solver=optimizer,
            activation="-",
            early_stopping=cfg.early_stopping,
            dtype="float32",
            hidden_widths=(),
            n_models=plan.n_models,
            padding_overhead=executed / useful - 1 if useful else 0.0,
            useful_gflop=useful / 1e9,
            description=f"{optimizer} {'; '.join(parts)}",
            **measured,
        )

    def finish(self, plan, member, states, m, *, snapshot=False):
        est = member.estimator
        real = _real_shapes(member, plan.config)

        widths = _widths(dict(member.fields), plan.config.module, plan.config.padded_fields)

        def cut(tree):
            return _extract(
                jax.tree.map(lambda a: np.asarray(a)[m], tree), real, widths, plan.config.centered
            )

        n_iter = int(states.n_iter[m])
        es = bool(est.early_stopping)
        final = states.best_params if es else states.params
        est.params_ = cut(final)
        est.module_ = _module_of(member.static_key, dict(member.fields))
        # Predictions run the group's padded program (one compilation for all its models, not
        # one per model); padded parameters are zeros, so the outputs are the real module's.
        cfg = plan.config
        fields = dict(member.fields)
        est._predictor = Predictor(cfg.module, cfg.switch_fields, cfg.switches, cfg.traced_fields)
        est._predictor_inputs = (
            jax.tree.map(lambda a: np.array(np.asarray(a)[m]), final),
            cfg.switches.index(tuple(_hashable(fields[n]) for n in cfg.switch_fields)),
            {n: np.asarray(fields[n]) for n in cfg.traced_fields},
        )
        est.n_outputs_ = member.static_key.n_outputs
        est.loss_curve_ = [float(v) for v in states.loss_curve[m][:n_iter]]
        est.n_iter_ = n_iter
        est.validation_scores_ = (
            [float(v) for v in states.validation_scores[m][:n_iter]] if es else None
        )
        est.best_validation_score_ = float(states.best_validation_score[m]) if es else None
        if not np.all(np.isfinite(est.loss_curve_)) or not all(
            np.isfinite(a).all() for a in jax.tree.leaves(est.params_)
        ):
            raise ValueError(
                "Training produced a non-finite loss; lower the learning rate or scale the input."
            )


class Predictor(NamedTuple):
    """A group's forward pass for fitted models (static: one compilation per group)."""

    module: nn.Module
    switch_fields: tuple
    switches: tuple
    traced_fields: tuple

    def outputs(self, params, switch: int, traced: dict, X):
        return _predict(self, params, np.int32(switch), traced, X)


@partial(jax.jit, static_argnums=0)
def _predict(predictor: Predictor, params, switch, traced, X):
    appliers = [
        predictor.module.clone(**dict(zip(predictor.switch_fields, values)), **traced)
        for values in predictor.switches
    ]
    if len(appliers) == 1:
        return appliers[0].apply({"params": params}, X)
    return lax.switch(
        switch, [lambda p, x, m=m: m.apply({"params": p}, x) for m in appliers], params, X
    )


def _useful_and_executed_flops(plan: GroupPlan, n_iter) -> tuple[float, float]:
    """Training FLOPs of the real models and of the padded program that ran them: 3 x the
    forward pass's FLOPs (XLA's cost analysis: forward, and backward at twice its cost) per row
    and epoch; the program also runs the padding of each model's last minibatch."""
    cfg = plan.config
    padded = 3 * _forward_flops(cfg.module, cfg.n_features)
    useful = executed = 0.0
    for p, n in zip(plan.members, n_iter):
        real = _real_module(p, cfg)
        rows = len(p.train_rows)
        useful += 3 * _forward_flops(real, cfg.n_features) * rows * int(n)
        executed += padded * -(-rows // cfg.batch_size) * cfg.batch_size * int(n)
    return useful, executed


FLAX_KIND = FlaxKind()
