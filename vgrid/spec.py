"""Run specifications for `vgrid run SPEC`: a TOML, YAML or JSON file, read as plain data.

A spec names data, an estimator, a search and an output folder (relative paths are relative to
the spec's own folder); nothing in it is ever evaluated or imported, so a spec cannot make vgrid
run code. Example (TOML):

    [data]
    dataset = "breast_cancer"        # or: path = "data.csv" (or .parquet), target = "label"
    scale = true                     # standardize the features
    dtype = "float64"                # or "float32" (fast mode)

    [estimator]
    name = "MLPClassifier"           # or "MLPRegressor"
    params = { max_iter = 100, random_state = 0 }

    [search]
    kind = "grid"                    # "grid", "random", "halving_grid" or "halving_random"
    cv = 5
    scoring = "accuracy"
    # checkpoint = "ckpt"            # resume a killed or interrupted run; chunk_size = 64
    [search.grid]                    # for "random" kinds: [search.distributions]
    alpha = [1e-4, 1e-2]
    hidden_layer_sizes = [[16], [32, 16]]
    # learning_rate_init = { loguniform = [1e-4, 1e-1] }   (distributions only)

    [output]
    folder = "vgrid-results"

The contract: a spec that cannot run gets one line on stderr and exit status 2, never a
traceback, whatever the file holds. Every key is checked at every level (an unknown one is
named with the nearest valid one), every value before anything is trained, in bounded time
and memory: the file is at most `MAX_SPEC_BYTES`, the values it expands to (YAML aliases
included) at most `MAX_SPEC_VALUES`, a grid at most `MAX_CANDIDATES` candidates (counted, never
built), and messages show values shortened, never whole.

Example:
    >>> spec = parse_spec({"data": {"dataset": "iris"}, "estimator": {"name": "MLPClassifier"},
    ...                    "search": {"grid": {"alpha": [1e-4, 1e-2]}}})
    >>> spec.search.param_grid
    {'alpha': [0.0001, 0.01]}
    >>> parse_spec({"data": {"dataset": "iris"}, "search": {"grid": {"alpah": [1.0]}}})
    Traceback (most recent call last):
    ...
    vgrid.spec.SpecError: [search.grid] unknown parameter 'alpah' of MLPClassifier; did you ...
"""

from __future__ import annotations

import difflib
import json
import math
import numbers
import os
import tomllib
from dataclasses import dataclass

import numpy as np

__all__ = ["SpecError", "Spec", "load_spec", "parse_spec", "load_data", "check_against_data"]

DATASETS = ("iris", "wine", "breast_cancer", "digits", "diabetes")
SEARCH_KINDS = ("grid", "random", "halving_grid", "halving_random")
ESTIMATORS = ("MLPClassifier", "MLPRegressor")
DISTRIBUTIONS = {"loguniform": "[low, high]", "uniform": "[loc, scale]", "randint": "[low, high]"}

#: Bounds that keep validation (and the run it allows) in bounded time and memory.
MAX_SPEC_BYTES = 1 << 20
MAX_SPEC_VALUES = 100_000  # values the spec expands to, every YAML alias counted again
MAX_SPEC_DEPTH = 32
MAX_CANDIDATES = 100_000
MAX_LAYER_UNITS = 100_000
MAX_LAYERS = 100
MAX_ITER = 100_000

_SECTIONS = ("data", "estimator", "search", "output")
_DATA_KEYS = ("dataset", "path", "target", "scale", "dtype")
_ESTIMATOR_KEYS = ("name", "params")
_OUTPUT_KEYS = ("folder",)
#: [search] options: what each accepts, in words (the search's own validation says the rest).
_SEARCH_OPTIONS = {
    "kind": "one of " + ", ".join(SEARCH_KINDS),
    "grid": "a table",
    "distributions": "a table",
    "cv": "an integer >= 2",
    "scoring": "a scorer name or a list of them",
    "refit": "true, false or a scorer name",
    "verbose": "an integer >= 0",
    "return_train_score": "true or false",
    "n_iter": f"an integer from 1 to {MAX_CANDIDATES:,}",
    "random_state": "an integer from 0 to 2**32 - 1",
    "error_score": "a number or 'raise'",
    "factor": "a number > 1",
    "resource": "'n_samples' or an estimator parameter",
    "min_resources": "an integer or 'exhaust'/'smallest'",
    "max_resources": "an integer or 'auto'",
    "n_candidates": f"an integer from 1 to {MAX_CANDIDATES:,} or 'exhaust'",
    "aggressive_elimination": "true or false",
    "checkpoint": "a folder",
    "chunk_size": "an integer >= 1 or 'auto'",
}
_COMMON_ARGS = ("cv", "scoring", "refit", "verbose", "return_train_score", "error_score")
_HALVING_ARGS = (
    *_COMMON_ARGS,
    "random_state",
    "factor",
    "resource",
    "min_resources",
    "max_resources",
    "aggressive_elimination",
)
_SEARCH_ARGS = {  # constructor arguments of each kind, beyond estimator and the space
    "grid": _COMMON_ARGS,
    "random": (*_COMMON_ARGS, "n_iter", "random_state"),
    "halving_grid": _HALVING_ARGS,
    "halving_random": (*_HALVING_ARGS, "n_candidates"),
}


class SpecError(ValueError):
    """A spec that cannot be run; the message (one line) says what was found and what is
    expected."""


@dataclass
class Spec:
    data: dict
    estimator_name: str
    estimator_params: dict
    kind: str
    space: dict
    options: dict
    folder: str

    def estimator(self):
        from .estimators import MLPClassifier, MLPRegressor

        cls = {"MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}[self.estimator_name]
        return cls(**self.estimator_params)

    @property
    def search(self):
        """The search, built and checked with scikit-learn's own parameter validation."""
        from . import search as vgrid_search

        cls = {
            "grid": vgrid_search.GridSearchCV,
            "random": vgrid_search.RandomizedSearchCV,
            "halving_grid": vgrid_search.HalvingGridSearchCV,
            "halving_random": vgrid_search.HalvingRandomSearchCV,
        }[self.kind]
        search = cls(self.estimator(), self.space, **self.options)
        try:
            search._validate_params()
        except (ValueError, TypeError) as exc:
            raise SpecError(f"[search]: {one_line(exc)}") from None
        return search


def one_line(message, limit: int = 300) -> str:
    """The first line of a message, at most `limit` characters."""
    text = str(message).strip().splitlines()[0] if str(message).strip() else repr(message)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show(value, limit: int = 60) -> str:
    """A short description of a value for a message: never the repr of a whole container."""
    if isinstance(value, bool) or value is None or isinstance(value, numbers.Number):
        try:
            text = repr(value)
        except ValueError:  # an integer with more digits than Python prints
            text = "a very large integer"
    elif isinstance(value, str):
        text = repr(value[: limit + 1])
    elif isinstance(value, list):
        return f"a list of {len(value)} value{'s' if len(value) != 1 else ''}"
    elif isinstance(value, dict):
        return f"a table of {len(value)} key{'s' if len(value) != 1 else ''}"
    else:
        return f"a value of type {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _expect(condition, message):
    if not condition:
        raise SpecError(message)


def _nearest(name, known, listed: int = 16) -> str:
    """The closest of `known` to `name`, or (the first `listed` of) them all."""
    known = [str(k) for k in known]
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.5)
    if close:
        return f"; did you mean {close[0]!r}?"
    if len(known) <= listed:
        return f"; expected one of {', '.join(known)}."
    return f"; expected one of {', '.join(known[:listed])}, ... ({len(known)} in all)."


def _check_keys(where: str, table: dict, known, what: str = "key") -> None:
    for key in table:
        _expect(key in known, f"{where} unknown {what} {show(key)}{_nearest(key, known)}")


def _check_size(root, children=None) -> None:
    """Refuse a spec that expands to more than MAX_SPEC_VALUES values or nests deeper than
    MAX_SPEC_DEPTH, counting a value shared by YAML aliases each time it is reached, without
    building anything (a YAML alias bomb is refused in milliseconds). `children(value)` lists
    what a value holds (default: plain data's dict keys and values, list items)."""
    children = children or _plain_children
    count, stack = 0, [(root, 0)]
    while stack:
        value, depth = stack.pop()
        count += 1
        _expect(
            count <= MAX_SPEC_VALUES,
            f"the spec expands to more than {MAX_SPEC_VALUES:,} "
            "values (YAML aliases?); a spec is a few tables.",
        )
        _expect(
            depth <= MAX_SPEC_DEPTH,
            f"the spec nests values more than {MAX_SPEC_DEPTH} levels deep.",
        )
        stack.extend((child, depth + 1) for child in children(value))


def _plain_children(value):
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    return value if isinstance(value, list) else ()


def _table(raw: dict, name: str, where: str) -> dict:
    value = raw.get(name, {})
    _expect(
        isinstance(value, dict), f"{where} must be a table (key = value pairs), got {show(value)}."
    )
    return value


# ---------------------------------------------------------------------------------------------
# Estimator parameters: names against the estimator's, values with scikit-learn's constraints.


def _estimator_class(name):
    from sklearn import neural_network

    return getattr(neural_network, name)


def _hidden_layer_sizes(where: str, value):
    """JSON, TOML and YAML have lists, no tuples: layer sizes come back as a tuple."""
    sizes = value if isinstance(value, list) else [value]
    _expect(
        len(sizes) <= MAX_LAYERS, f"{where}: at most {MAX_LAYERS} hidden layers, got {len(sizes)}."
    )
    for size in sizes:
        _expect(
            isinstance(size, int) and not isinstance(size, bool) and 1 <= size <= MAX_LAYER_UNITS,
            f"{where}: layer sizes are integers from 1 to {MAX_LAYER_UNITS:,}, got {show(size)}.",
        )
    return tuple(sizes) if isinstance(value, list) else value


def _check_param(where: str, estimator_name: str, name: str, value):
    """The value, checked (and layer sizes made a tuple)."""
    from sklearn.utils._param_validation import validate_parameter_constraints

    if name == "hidden_layer_sizes":
        return _hidden_layer_sizes(where, value)
    _expect(
        isinstance(value, (str, int, float, bool)) or value is None,
        f"{where}: expected a number, string or boolean, got {show(value)}.",
    )
    if name == "max_iter" and isinstance(value, int) and not isinstance(value, bool):
        _expect(value <= MAX_ITER, f"{where}: at most {MAX_ITER:,} iterations, got {value:,}.")
    if name == "random_state":
        _expect(
            value is None or isinstance(value, int) and not isinstance(value, bool),
            f"{where}: random_state is an integer, got {show(value)}.",
        )
    cls = _estimator_class(estimator_name)
    try:
        validate_parameter_constraints(
            {name: cls._parameter_constraints[name]}, {name: value}, caller_name=estimator_name
        )
    except (ValueError, TypeError) as exc:
        raise SpecError(f"{where}: {one_line(exc)}") from None
    return value


def _estimator_params(estimator_name: str, params: dict) -> dict:
    for key in params:
        _space_key("[estimator] params:", estimator_name, key)
    return {
        k: _check_param(f"[estimator] params {k}", estimator_name, k, v) for k, v in params.items()
    }


def _space_key(where: str, estimator_name: str, key) -> None:
    known = sorted(_estimator_class(estimator_name)().get_params())
    _expect(
        key in known,
        f"{where} unknown parameter {show(key)} of {estimator_name}{_nearest(key, known)}",
    )


def _grid(estimator_name: str, grid: dict) -> dict:
    for key, values in grid.items():
        _space_key("[search.grid]", estimator_name, key)
        _expect(
            isinstance(values, list) and values,
            f"[search.grid] {key} must be a non-empty list of values, got {show(values)}.",
        )
    n_candidates = math.prod(len(v) for v in grid.values())  # counted, never built
    _expect(
        n_candidates <= MAX_CANDIDATES,
        f"[search.grid] has {n_candidates:,} candidates; at most {MAX_CANDIDATES:,} are "
        "run (use a random search, or split the grid).",
    )
    return {
        key: [
            _check_param(f"[search.grid] {key} = {show(v)}", estimator_name, key, v) for v in values
        ]
        for key, values in grid.items()
    }


def _distribution(estimator_name: str, name, value):
    from scipy import stats

    where = f"[search.distributions] {name}"
    _space_key("[search.distributions]", estimator_name, name)
    if isinstance(value, list):
        _expect(len(value) > 0, f"{where}: an empty list has no values.")
        return [_check_param(f"{where} = {show(v)}", estimator_name, name, v) for v in value]
    forms = ", ".join(f"{{{k} = {v}}}" for k, v in DISTRIBUTIONS.items())
    _expect(
        isinstance(value, dict) and len(value) == 1,
        f"{where}: expected a list of values or one of {forms}; got {show(value)}.",
    )
    kind, args = next(iter(value.items()))
    _expect(
        kind in DISTRIBUTIONS,
        f"{where}: unknown distribution {show(kind)}{_nearest(kind, list(DISTRIBUTIONS))}",
    )
    _expect(
        isinstance(args, list)
        and len(args) == 2
        and all(
            isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a)
            for a in args
        ),
        f"{where}: {kind} takes two finite numbers {DISTRIBUTIONS[kind]}, got {show(args)}.",
    )
    low, high = args
    if kind == "loguniform":
        _expect(0 < low < high, f"{where}: loguniform needs 0 < low < high, got {low}, {high}.")
    elif kind == "uniform":
        _expect(high > 0, f"{where}: uniform needs scale > 0, got {high}.")
    else:
        _expect(
            all(isinstance(a, int) for a in args) and low < high,
            f"{where}: randint needs integers low < high, got {low}, {high}.",
        )
    return getattr(stats, kind)(low, high)


# ---------------------------------------------------------------------------------------------
# Search options.


def _is_int(value, low=None, high=None) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and (low is None or value >= low)
        and (high is None or value <= high)
    )


def _scorer_names():
    from sklearn.metrics import get_scorer_names

    return sorted(get_scorer_names())


def _check_scoring(scoring) -> list[str]:
    names = _scorer_names()
    listed = scoring if isinstance(scoring, list) else [scoring]
    _expect(
        isinstance(scoring, (str, list)) and listed,
        f"[search] scoring must be a scorer name or a non-empty list of them, got {show(scoring)}.",
    )
    for name in listed:
        _expect(
            isinstance(name, str), f"[search] scoring: a scorer name is a string, got {show(name)}."
        )
        _expect(
            name in names,
            f"[search] scoring = {show(name)} is not a scikit-learn scorer{_nearest(name, names)}",
        )
    _expect(len(set(listed)) == len(listed), "[search] scoring lists a scorer twice.")
    return listed


def _search_options(kind: str, search: dict, estimator_name: str) -> dict:
    options = {k: v for k, v in search.items() if k not in ("kind", "grid", "distributions")}
    for key in options:
        _expect(
            key in _SEARCH_ARGS[kind] or key in ("checkpoint", "chunk_size"),
            f"[search] {key} does not apply to kind = {kind!r}; it takes "
            f"{', '.join(_SEARCH_ARGS[kind] + ('checkpoint', 'chunk_size'))}.",
        )
    checks = {
        "cv": lambda v: _is_int(v, 2, 10_000),
        "verbose": lambda v: _is_int(v, 0, 100),
        "return_train_score": lambda v: isinstance(v, bool),
        "aggressive_elimination": lambda v: isinstance(v, bool),
        "n_iter": lambda v: _is_int(v, 1, MAX_CANDIDATES),
        "n_candidates": lambda v: _is_int(v, 1, MAX_CANDIDATES) or v == "exhaust",
        "random_state": lambda v: _is_int(v, 0, 2**32 - 1),
        "error_score": lambda v: (
            isinstance(v, (int, float)) and not isinstance(v, bool) or v == "raise"
        ),
        "factor": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 1,
        "min_resources": lambda v: _is_int(v, 1) or v in ("exhaust", "smallest"),
        "max_resources": lambda v: _is_int(v, 1) or v == "auto",
        "checkpoint": lambda v: isinstance(v, str) and v != "",
        "chunk_size": lambda v: _is_int(v, 1) or v == "auto",
    }
    for key, check in checks.items():
        if key in options:
            _expect(
                check(options[key]),
                f"[search] {key} = {show(options[key])}: expected {_SEARCH_OPTIONS[key]}.",
            )
    scorers = _check_scoring(options["scoring"]) if "scoring" in options else None
    if "refit" in options:
        refit = options["refit"]
        _expect(
            isinstance(refit, bool) or isinstance(refit, str) and scorers and refit in scorers,
            f"[search] refit = {show(refit)}: expected true, false or one of the scoring names.",
        )
    if scorers is not None and len(scorers) > 1:
        _expect(kind in ("grid", "random"), f"[search] kind = {kind!r} takes one scorer.")
        _expect(
            isinstance(options.get("refit", True), str) or options.get("refit") is False,
            "[search] with several scorers, refit names the one that picks the best "
            "candidate (or is false).",
        )
    if "resource" in options:
        known = ["n_samples"] + sorted(_estimator_class(estimator_name)().get_params())
        _expect(
            isinstance(options["resource"], str) and options["resource"] in known,
            f"[search] resource = {show(options['resource'])} is not 'n_samples' or a "
            f"parameter of {estimator_name}{_nearest(options['resource'], known)}",
        )
    return options


# ---------------------------------------------------------------------------------------------
# The whole spec.


def parse_spec(raw) -> Spec:
    """Validate plain data (as read from TOML, YAML or JSON) into a `Spec`."""
    _check_size(raw)
    _expect(isinstance(raw, dict), f"a spec is a table of sections, got {show(raw)}.")
    _check_keys("the spec:", raw, _SECTIONS, "section")

    data = raw.get("data")
    _expect(
        isinstance(data, dict),
        "[data] is missing (or not a table): give dataset = one of "
        f"{', '.join(DATASETS)}, or path = 'file.csv' and target = "
        "'column'.",
    )
    _check_keys("[data]", data, _DATA_KEYS)
    if "dataset" in data:
        _expect(
            data["dataset"] in DATASETS,
            f"[data] dataset = {show(data['dataset'])} is not one of {', '.join(DATASETS)}.",
        )
        _expect(
            "path" not in data and "target" not in data,
            "[data] takes dataset, or path and target, not both.",
        )
    else:
        for key in ("path", "target"):
            _expect(
                isinstance(data.get(key), str) and data[key],
                f"[data] needs dataset = one of {', '.join(DATASETS)}, or both path and "
                f"target (strings); {key} is {show(data.get(key))}.",
            )
    _expect(
        isinstance(data.get("scale", False), bool),
        f"[data] scale = {show(data.get('scale'))}: expected true or false.",
    )
    _expect(
        data.get("dtype", "float64") in ("float32", "float64"),
        f"[data] dtype = {show(data.get('dtype'))}: expected 'float32' (fast mode) or "
        "'float64' (exact mode).",
    )

    estimator = _table(raw, "estimator", "[estimator]")
    _check_keys("[estimator]", estimator, _ESTIMATOR_KEYS)
    name = estimator.get("name", "MLPClassifier")
    _expect(
        name in ESTIMATORS,
        f"[estimator] name = {show(name)}: vgrid runs {' or '.join(ESTIMATORS)}.",
    )
    params = _estimator_params(name, _table(estimator, "params", "[estimator] params"))

    search = _table(raw, "search", "[search]")
    _check_keys("[search]", search, list(_SEARCH_OPTIONS), "option")
    kind = search.get("kind", "grid")
    _expect(
        kind in SEARCH_KINDS,
        f"[search] kind = {show(kind)} is not one of "
        f"{', '.join(SEARCH_KINDS)}{_nearest(kind, SEARCH_KINDS)}",
    )
    random_kind = kind.endswith("random")
    space_key = "distributions" if random_kind else "grid"
    other_key = "grid" if random_kind else "distributions"
    _expect(
        other_key not in search,
        f"[search] kind = {kind!r} takes [search.{space_key}], not [search.{other_key}].",
    )
    space = search.get(space_key)
    if not (isinstance(space, dict) and space):
        raise SpecError(f"[search.{space_key}] is missing, empty or not a table.")
    if random_kind:
        space = {k: _distribution(name, k, v) for k, v in space.items()}
    else:
        space = _grid(name, space)
    options = _search_options(kind, search, name)

    output = _table(raw, "output", "[output]")
    _check_keys("[output]", output, _OUTPUT_KEYS)
    folder = output.get("folder", "vgrid-results")
    _expect(
        isinstance(folder, str) and folder,
        f"[output] folder = {show(folder)}: expected a folder name.",
    )
    return Spec(data, name, params, kind, space, options, folder)


def _read_text(path: str) -> str:
    from .checkpoint import open_regular_file

    try:
        with open_regular_file(path, "spec", MAX_SPEC_BYTES) as f:
            content = f.read()
    except FileNotFoundError:
        raise SpecError(f"spec file {path!r} does not exist.") from None
    except (ValueError, OSError) as exc:
        raise SpecError(one_line(exc)) from None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"spec {path!r} is not UTF-8 text (byte {exc.start}).") from None


def _load_yaml(path: str, text: str):
    try:
        import yaml
    except ImportError:
        raise SpecError(
            "reading YAML needs PyYAML: pip install pyyaml (or write the spec as TOML or JSON)."
        ) from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        node = yaml.compose(text, Loader=loader)  # the node graph: aliases are shared, small
        _check_size(node, _yaml_children)
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc
        raise SpecError(f"spec {path!r} is not valid YAML: {one_line(problem)}{where}") from None


def _yaml_children(node):
    """What a YAML node holds, before anything is built from it (merge keys and aliases
    expand only when values are constructed)."""
    import yaml

    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return ()


def load_spec(path: str) -> Spec:
    """Read a spec from a .toml, .yaml/.yml or .json file (see the module docs)."""
    suffix = os.path.splitext(path)[1].lower()
    _expect(
        suffix in (".toml", ".json", ".yaml", ".yml"),
        f"spec {path!r}: expected a .toml, .yaml, .yml or .json file.",
    )
    text = _read_text(path)
    try:
        if suffix == ".toml":
            raw = tomllib.loads(text)
        elif suffix == ".json":
            raw = json.loads(text)
        else:
            raw = _load_yaml(path, text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, ValueError) as exc:
        if isinstance(exc, SpecError):
            raise
        raise SpecError(
            f"spec {path!r} is not valid {suffix[1:].upper()}: {one_line(exc)}"
        ) from None
    except RecursionError:
        raise SpecError(f"spec {path!r} nests values too deeply.") from None
    return parse_spec(raw)


# ---------------------------------------------------------------------------------------------
# Data.


def is_numeric_dtype(column) -> bool:
    from pandas.api.types import is_numeric_dtype as numeric

    return bool(numeric(column))


def _read_frame(path: str):
    import pandas as pd

    from .checkpoint import open_regular_file

    try:
        f = open_regular_file(path, "[data] path")
    except FileNotFoundError:
        raise SpecError(f"[data] path {path!r} does not exist.") from None
    except (ValueError, OSError) as exc:
        raise SpecError(one_line(exc)) from None
    kind = "Parquet" if path.lower().endswith(".parquet") else "CSV"
    try:
        with f:
            return pd.read_parquet(f) if kind == "Parquet" else pd.read_csv(f)
    except ImportError as exc:
        raise SpecError(
            f"[data] reading {path!r} needs an extra package: {one_line(exc)}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any parser's error: the file is not a table
        raise SpecError(
            f"[data] {path!r} could not be read as {kind}: "
            f"{type(exc).__name__}: {one_line(exc, 200)}"
        ) from None


def load_data(data: dict, base_dir: str = "."):
    """X, y for a validated [data] section; a file that is not a numeric table is a
    `SpecError`, never a traceback."""
    dtype = data.get("dtype", "float64")
    if "dataset" in data:
        from sklearn import datasets

        X, y = getattr(datasets, f"load_{data['dataset']}")(return_X_y=True)
        X = np.asarray(X, dtype=dtype)
    else:
        path = os.path.join(base_dir, data["path"])
        frame = _read_frame(path)
        columns = [str(c) for c in frame.columns]
        _expect(
            data["target"] in frame.columns,
            f"[data] target {show(data['target'])} is not a column of {path!r}; "
            f"{len(columns)} columns"
            + (
                f", did you mean {c[0]!r}?"
                if (c := difflib.get_close_matches(data["target"], columns, n=1))
                else f": {show(', '.join(columns[:8]), 120)}."
            ),
        )
        y = frame.pop(data["target"]).to_numpy()
        _expect(
            len(frame) > 0 and frame.shape[1] > 0,
            f"[data] {path!r} has {len(frame)} rows and {frame.shape[1]} feature columns "
            "besides the target; it needs at least one of each.",
        )
        text = [str(c) for c in frame.columns if not is_numeric_dtype(frame[c])]
        try:
            X = frame.astype(dtype)
        except (ValueError, TypeError) as exc:
            raise SpecError(
                f"[data] the features of {path!r} must be numbers; column(s) "
                f"{show(', '.join(text[:5]) or '?', 80)} hold other values "
                f"({one_line(exc, 80)})."
            ) from None
        finite = np.isfinite(X.to_numpy()).all(axis=0)
        bad = ", ".join(str(c) for c in X.columns[~finite][:5])
        _expect(
            finite.all(),
            f"[data] {path!r} has missing or infinite feature values in "
            f"column(s) {show(bad, 80)}; fill or drop them first.",
        )
        _expect(not frame_isna(y), f"[data] target {show(data['target'])} has missing values.")
    if data.get("scale"):
        from sklearn.preprocessing import StandardScaler

        X = StandardScaler().fit_transform(X).astype(dtype)
    return X, y


def frame_isna(values) -> bool:
    import pandas as pd

    return bool(pd.isna(values).any())


def check_against_data(spec: Spec, X, y) -> None:
    """What needs the data to check: cv against the number of samples."""
    cv = spec.options.get("cv", 5)
    _expect(cv <= len(y), f"[search] cv = {cv} folds, but the data has only {len(y)} rows.")
