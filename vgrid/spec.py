"""Run specifications for `vgrid run SPEC`: a TOML, YAML or JSON file, read as plain data.

A spec names data, an estimator, a search and an output folder (relative paths are relative to
the spec's own folder); nothing in it is ever evaluated or imported, so a spec cannot make vgrid
run code. Example (TOML):

    [data]
    dataset = "breast_cancer"        # or: path = "data.csv" (or .parquet), target = "label"
    scale = true                     # standardize the features

    [estimator]
    name = "MLPClassifier"           # or "MLPRegressor"
    params = { max_iter = 100, random_state = 0 }

    [search]
    kind = "grid"                    # "grid", "random", "halving_grid" or "halving_random"
    cv = 5
    scoring = "accuracy"
    [search.grid]                    # for "random" kinds: [search.distributions]
    alpha = [1e-4, 1e-2]
    hidden_layer_sizes = [[16], [32, 16]]
    # learning_rate_init = { loguniform = [1e-4, 1e-1] }   (distributions only)

    [output]
    folder = "vgrid-results"

Example:
    >>> spec = parse_spec({"data": {"dataset": "iris"}, "estimator": {"name": "MLPClassifier"},
    ...                    "search": {"grid": {"alpha": [1e-4, 1e-2]}}})
    >>> spec.search.param_grid
    {'alpha': [0.0001, 0.01]}
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass

import numpy as np

__all__ = ["SpecError", "Spec", "load_spec", "parse_spec", "load_data"]

DATASETS = ("iris", "wine", "breast_cancer", "digits", "diabetes")
SEARCH_KINDS = ("grid", "random", "halving_grid", "halving_random")
SEARCH_OPTIONS = {"cv": int, "scoring": (str, list), "refit": (bool, str), "verbose": int,
                  "return_train_score": bool, "n_iter": int, "random_state": int,
                  "error_score": (float, int, str), "factor": (int, float), "resource": str,
                  "min_resources": (int, str), "max_resources": (int, str),
                  "n_candidates": (int, str), "aggressive_elimination": bool}
DISTRIBUTIONS = {"loguniform": 2, "uniform": 2, "randint": 2}


class SpecError(ValueError):
    """A spec that cannot be run; the message says what was found and what is expected."""


@dataclass
class Spec:
    data: dict
    estimator_name: str
    estimator_params: dict
    kind: str
    space: dict
    options: dict
    folder: str

    @property
    def search(self):
        from . import search as vgrid_search
        from .estimators import MLPClassifier, MLPRegressor

        estimator = {"MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}[
            self.estimator_name](**self.estimator_params)
        cls = {"grid": vgrid_search.GridSearchCV, "random": vgrid_search.RandomizedSearchCV,
               "halving_grid": vgrid_search.HalvingGridSearchCV,
               "halving_random": vgrid_search.HalvingRandomSearchCV}[self.kind]
        _check_values(estimator, self.estimator_params, self.space)
        try:
            return cls(estimator, self.space, **self.options)
        except TypeError as exc:
            raise SpecError(f"[search]: {exc}") from None


def _check_values(estimator, fixed, space):
    """Every fixed parameter and every listed value, checked now with scikit-learn's rules, so
    that a typo fails in one line before anything is trained."""
    from sklearn.base import clone

    checks = [("[estimator] params", {}, )] + [
        (f"[search] {key} = {value!r}", {key: value})
        for key, values in space.items() if isinstance(values, list) for value in values]
    for where, change in checks:
        try:
            clone(estimator).set_params(**change)._validate_params()
        except ValueError as exc:
            raise SpecError(f"{where}: {str(exc).splitlines()[0]}") from None


def _expect(condition, message):
    if not condition:
        raise SpecError(message)


def _tuples(name, value):
    # JSON, TOML and YAML have lists, no tuples: layer sizes come back as tuples.
    if name.endswith("hidden_layer_sizes") and isinstance(value, list):
        return [tuple(v) if isinstance(v, list) else v for v in value]
    return value


def _distribution(name, value):
    from scipy import stats

    if isinstance(value, list):
        _expect(len(value) > 0, f"[search.distributions] {name}: an empty list has no values.")
        return _tuples(name, value)
    _expect(isinstance(value, dict) and len(value) == 1 and next(iter(value)) in DISTRIBUTIONS,
            f"[search.distributions] {name}: expected a list of values or one of "
            f"{{loguniform = [low, high]}}, {{uniform = [loc, scale]}}, {{randint = [low, high]}};"
            f" got {value!r}.")
    kind, args = next(iter(value.items()))
    _expect(isinstance(args, list) and len(args) == DISTRIBUTIONS[kind]
            and all(isinstance(a, (int, float)) for a in args),
            f"[search.distributions] {name}: {kind} takes two numbers, got {args!r}.")
    try:
        return getattr(stats, kind)(*args)
    except ValueError as exc:
        raise SpecError(f"[search.distributions] {name}: {exc}") from None


def parse_spec(raw) -> Spec:
    """Validate plain data (as read from TOML, YAML or JSON) into a `Spec`."""
    _expect(isinstance(raw, dict), f"a spec is a table of sections, got {type(raw).__name__}.")
    unknown = set(raw) - {"data", "estimator", "search", "output"}
    _expect(not unknown, f"unknown section(s) {sorted(unknown)}; expected data, estimator, "
                         "search and output.")
    data = raw.get("data")
    _expect(isinstance(data, dict), f"[data] is missing: give dataset = one of {list(DATASETS)}"
                                    ", or path = 'file.csv' and target = 'column'.")
    if "dataset" in data:
        _expect(data["dataset"] in DATASETS, f"[data] dataset = {data['dataset']!r} is not one "
                                             f"of {list(DATASETS)}.")
    else:
        _expect(isinstance(data.get("path"), str) and isinstance(data.get("target"), str),
                "[data] needs dataset = one of the built-in names, or both path and target.")
    data_keys = {"dataset", "path", "target", "scale", "dtype"}
    _expect(set(data) <= data_keys, f"[data] unknown key(s) {sorted(set(data) - data_keys)}.")
    _expect(data.get("dtype", "float64") in ("float32", "float64"),
            "[data] dtype must be 'float32' (fast mode) or 'float64' (exact mode).")

    estimator = raw.get("estimator", {})
    _expect(isinstance(estimator, dict), "[estimator] must be a table.")
    name = estimator.get("name", "MLPClassifier")
    _expect(name in ("MLPClassifier", "MLPRegressor"), f"[estimator] name = {name!r}: vgrid runs "
                                                       "'MLPClassifier' or 'MLPRegressor'.")
    params = {k: _tuples(k, v) for k, v in estimator.get("params", {}).items()}
    if isinstance(params.get("hidden_layer_sizes"), list):
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])

    search = dict(raw.get("search", {}))
    kind = search.pop("kind", "grid")
    _expect(kind in SEARCH_KINDS, f"[search] kind = {kind!r} is not one of {list(SEARCH_KINDS)}.")
    random_kind = kind.endswith("random")
    space_key = "distributions" if random_kind else "grid"
    other_key = "grid" if random_kind else "distributions"
    _expect(other_key not in search, f"[search] kind = {kind!r} takes [search.{space_key}], "
                                     f"not [search.{other_key}].")
    space = search.pop(space_key, None)
    _expect(isinstance(space, dict) and space, f"[search.{space_key}] is missing or empty.")
    if random_kind:
        space = {k: _distribution(k, v) for k, v in space.items()}
    else:
        for k, v in space.items():
            _expect(isinstance(v, list) and v, f"[search.grid] {k} must be a non-empty list "
                                               f"of values, got {v!r}.")
        space = {k: _tuples(k, v) for k, v in space.items()}
    for key, value in search.items():
        _expect(key in SEARCH_OPTIONS, f"[search] unknown option {key!r}; known: "
                                       f"{sorted(SEARCH_OPTIONS)}.")
        _expect(isinstance(value, SEARCH_OPTIONS[key]) and not (
            isinstance(value, bool) and SEARCH_OPTIONS[key] is int),
            f"[search] {key} = {value!r} has the wrong type.")
    folder = raw.get("output", {}).get("folder", "vgrid-results")
    _expect(isinstance(folder, str), "[output] folder must be a string.")
    return Spec(data, name, params, kind, space, search, folder)


def load_spec(path: str) -> Spec:
    """Read a spec from a .toml, .yaml/.yml or .json file (see the module docs)."""
    _expect(os.path.isfile(path), f"spec file {path!r} does not exist.")
    suffix = os.path.splitext(path)[1].lower()
    try:
        if suffix == ".toml":
            with open(path, "rb") as f:
                raw = tomllib.load(f)
        elif suffix == ".json":
            with open(path) as f:
                raw = json.load(f)
        elif suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise SpecError("reading YAML needs PyYAML: pip install pyyaml "
                                "(or write the spec as TOML or JSON).") from None
            with open(path) as f:
                raw = yaml.safe_load(f)
        else:
            raise SpecError(f"spec {path!r}: expected a .toml, .yaml, .yml or .json file.")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise SpecError(f"spec {path!r} is not valid {suffix[1:].upper()}: {exc}") from None
    except Exception as exc:  # yaml.YAMLError and friends
        if isinstance(exc, SpecError):
            raise
        raise SpecError(f"spec {path!r} could not be read: {exc}") from None
    return parse_spec(raw)


def load_data(data: dict, base_dir: str = "."):
    """X, y for a validated [data] section."""
    if "dataset" in data:
        from sklearn import datasets

        X, y = getattr(datasets, f"load_{data['dataset']}")(return_X_y=True)
    else:
        import pandas as pd

        path = os.path.join(base_dir, data["path"])
        _expect(os.path.isfile(path), f"[data] path {path!r} does not exist.")
        try:
            frame = (pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path))
        except ImportError as exc:
            raise SpecError(f"[data] reading {path!r} needs an extra package: {exc}") from None
        _expect(data["target"] in frame.columns, f"[data] target {data['target']!r} is not a "
                                                 f"column of {path!r}: {list(frame.columns)}.")
        y = frame.pop(data["target"]).to_numpy()
        X = frame
    X = np.asarray(X, dtype=data.get("dtype", "float64")) if not hasattr(X, "columns") else \
        X.astype(data.get("dtype", "float64"))
    if data.get("scale"):
        from sklearn.preprocessing import StandardScaler

        X = StandardScaler().fit_transform(X).astype(data.get("dtype", "float64"))
    return X, y
