"""Flax models in vgrid's one engine, beside their peers, cold (each run in a fresh process with
an empty compilation cache, as on a user's first run).

Cases (all in one run, so the ratios compare like with like on a noisy machine). Speedups
compare the searches' `fit` (imports excluded); `..._with_imports` compares whole processes.

  example3  the source document's Example 3: its network, Dense(filters, activation) ->
            Dense(1, sigmoid), in Pipeline([StandardScaler, net]) over 4 filters x 3 kernel
            sizes x 3 activations, cv=2 (72 fits, 10 epochs, Adam, batch 32) on
            make_classification(500, 10). Peer: the document's estimator written for Keras 3
            (JAX backend; its model built in fit) in scikit-learn's GridSearchCV, as the
            document runs it. vgrid: the same network as a Flax module in vgrid.GridSearchCV.
  cnn       a plain convolutional Flax module (Conv(features, kernel_size) -> ReLU -> 2x2 average
            pool -> Dense) on scikit-learn's digits over 3 features x 3 kernel sizes x 2
            learning rates, cv=3 (54 fits, 10 epochs). Peer: scikit-learn's
            GridSearchCV(FlaxClassifier, n_jobs=-1), one fit at a time.
  large     1,050 Flax models in one search: 5 widths x 3 activations x 14 learning rates x
            cv=5 on make_classification(5000, 20), 10 epochs: fits/s, useful GFLOP/s (XLA's cost
            analysis of the real work) and its share of the float32 matmul peak measured in the
            same run.

Usage: python benchmarks/bench_flax.py [--cases example3 cnn large] [--out PATH]
Writes benchmarks/results/flax.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

COMMON = r"""
import json, os, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np
"""

EXAMPLE3_VGRID = (
    COMMON
    + r"""
start = time.perf_counter()
import flax.linen as nn
from sklearn.datasets import make_classification
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
import vgrid

class CNNClassifierNet(nn.Module):
    filters: int = 32
    kernel_size: int = 3
    activation: str = "relu"

    @nn.compact
    def __call__(self, x):
        x = getattr(nn, self.activation)(nn.Dense(self.filters)(x))
        return nn.Dense(1)(x)

X, y = make_classification(n_samples=500, n_features=10, n_informative=5, random_state=42)
pipeline = Pipeline([("scaler", StandardScaler()),
                     ("cnn", vgrid.FlaxClassifier(CNNClassifierNet, max_epochs=10,
                                                  batch_size=32))])
param_grid = {"cnn__module__filters": [16, 32, 64, 128], "cnn__module__kernel_size": [3, 5, 7],
              "cnn__module__activation": ["relu", "tanh", "sigmoid"]}
imported = time.perf_counter()
search = vgrid.GridSearchCV(pipeline, param_grid, cv=2, scoring="accuracy").fit(X, y)
end = time.perf_counter()
print(json.dumps({"seconds": end - start, "fit_seconds": end - imported,
                  "best_score": float(search.best_score_), "best_params": search.best_params_,
                  "programs": [str(r) for r in search.vectorization_],
                  "compile_seconds": sum(r.compile_seconds for r in search.vectorization_),
                  "mean_test_score": search.cv_results_["mean_test_score"].tolist()}))
"""
)

EXAMPLE3_KERAS = (
    COMMON
    + r"""
os.environ["KERAS_BACKEND"] = "jax"
start = time.perf_counter()
import keras
from keras import layers, models
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

X, y = make_classification(n_samples=500, n_features=10, n_informative=5, random_state=42)

class CNNClassifier(ClassifierMixin, BaseEstimator):
    def __init__(self, filters=32, kernel_size=3, activation="relu", epochs=10, batch_size=32,
                 verbose=0):
        self.filters = filters
        self.kernel_size = kernel_size
        self.activation = activation
        self.epochs = epochs
        self.batch_size = batch_size
        self.verbose = verbose

    def _build_model(self, n_features):
        model = models.Sequential([
            keras.Input((n_features,)),
            layers.Dense(self.filters, activation=self.activation),
            layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.model_ = self._build_model(X.shape[1])
        self.model_.fit(X, y, epochs=self.epochs, batch_size=self.batch_size,
                        verbose=self.verbose)
        return self

    def predict(self, X):
        return (self.model_.predict(X, verbose=0) > 0.5).astype(int).ravel()

pipeline = Pipeline([("scaler", StandardScaler()), ("cnn", CNNClassifier())])
param_grid = {"cnn__filters": [16, 32, 64, 128], "cnn__kernel_size": [3, 5, 7],
              "cnn__activation": ["relu", "tanh", "sigmoid"]}
imported = time.perf_counter()
search = GridSearchCV(pipeline, param_grid, cv=2, scoring="accuracy").fit(X, y)
end = time.perf_counter()
print(json.dumps({"seconds": end - start, "fit_seconds": end - imported,
                  "best_score": float(search.best_score_), "best_params": search.best_params_,
                  "mean_test_score": search.cv_results_["mean_test_score"].tolist()}))
"""
)

CNN = (
    COMMON
    + r"""
mode = sys.argv[1]
start = time.perf_counter()
import flax.linen as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV as SkGridSearchCV
import vgrid

class ConvNet(nn.Module):
    features: int = 8
    kernel_size: int = 3
    n_outputs: int = 10

    @nn.compact
    def __call__(self, x):
        x = x.reshape((x.shape[0], 8, 8, 1))
        x = nn.relu(nn.Conv(self.features, (self.kernel_size, self.kernel_size))(x))
        x = nn.avg_pool(x, (2, 2), strides=(2, 2))
        return nn.Dense(self.n_outputs)(x.reshape((x.shape[0], -1)))

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
est = vgrid.FlaxClassifier(ConvNet, max_epochs=10, batch_size=64)
grid = {"module__features": [4, 8, 16], "module__kernel_size": [1, 3, 5],
        "optimizer__learning_rate": [1e-3, 1e-2]}
imported = time.perf_counter()
if mode == "vgrid":
    search = vgrid.GridSearchCV(est, grid, cv=3).fit(X, y)
else:
    search = SkGridSearchCV(est, grid, cv=3, n_jobs=-1).fit(X, y)
end = time.perf_counter()
print(json.dumps({"seconds": end - start, "fit_seconds": end - imported,
                  "best_score": float(search.best_score_), "best_params": search.best_params_,
                  "programs": [str(r) for r in getattr(search, "vectorization_", [])],
                  "mean_test_score": search.cv_results_["mean_test_score"].tolist()}))
"""
)

LARGE = (
    COMMON
    + r"""
start = time.perf_counter()
import flax.linen as nn
import jax, jax.numpy as jnp
from sklearn.datasets import make_classification
import vgrid

class Net(nn.Module):
    width: int = 32
    activation: str = "relu"

    @nn.compact
    def __call__(self, x):
        return nn.Dense(2)(getattr(nn, self.activation)(nn.Dense(self.width)(x)))

def matmul_peak():
    a = jnp.ones((2048, 2048), jnp.float32)
    f = jax.jit(lambda a: a @ a)
    f(a).block_until_ready()
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter(); f(a).block_until_ready(); best = min(best, time.perf_counter() - t)
    return 2 * 2048 ** 3 / best / 1e9

X, y = make_classification(n_samples=5000, n_features=20, n_informative=10, random_state=0)
X = X.astype(np.float32)
grid = {"module__width": [8, 16, 32, 64, 128], "module__activation": ["relu", "tanh", "sigmoid"],
        "optimizer__learning_rate": list(np.geomspace(1e-4, 1e-1, 14))}
imported = time.perf_counter()
search = vgrid.GridSearchCV(vgrid.FlaxClassifier(Net, max_epochs=10, batch_size=32), grid,
                            cv=5, refit=False).fit(X, y)
end = time.perf_counter()
peak = matmul_peak()
train = sum(r.train_seconds for r in search.vectorization_)
useful = sum(r.useful_gflop for r in search.vectorization_)
n_fits = len(search.cv_results_["params"]) * 5
print(json.dumps({"seconds": end - start, "fit_seconds": end - imported, "n_fits": n_fits,
                  "fits_per_second": n_fits / (end - imported),
                  "programs": [str(r) for r in search.vectorization_],
                  "compile_seconds": sum(r.compile_seconds for r in search.vectorization_),
                  "train_seconds": train, "useful_gflop": useful,
                  "useful_gflop_per_second": useful / train, "matmul_peak_gflop_per_second": peak,
                  "share_of_peak": useful / train / peak,
                  "best_score": float(search.best_score_)}))
"""
)


def cold(script: str, *args: str, timeout: int = 1800) -> dict:
    """Run `script` in a fresh process with an empty compilation cache; its JSON line."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "VGRID_COMPILATION_CACHE": cache, "PYTHONUNBUFFERED": "1"}
        run = subprocess.run(
            [sys.executable, "-c", script, *args],
            env=env,
            timeout=timeout,
            capture_output=True,
            text=True,
            cwd=os.path.dirname(HERE),
        )
    if run.returncode:
        raise RuntimeError(f"benchmark process failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def run_case(case: str) -> dict:
    if case == "example3":
        ours, keras = cold(EXAMPLE3_VGRID), cold(EXAMPLE3_KERAS)
        return {
            "case": case,
            "n_fits": 72,
            "vgrid": ours,
            "keras": keras,
            "speedup_over_keras": keras["fit_seconds"] / ours["fit_seconds"],
            "speedup_over_keras_with_imports": keras["seconds"] / ours["seconds"],
            "target_speedup": 50,
        }
    if case == "cnn":
        ours, sequential = cold(CNN, "vgrid"), cold(CNN, "sklearn")
        return {
            "case": case,
            "n_fits": 54,
            "vgrid": ours,
            "sklearn_gridsearch": sequential,
            "speedup_over_sequential": sequential["fit_seconds"] / ours["fit_seconds"],
            "speedup_over_sequential_with_imports": sequential["seconds"] / ours["seconds"],
            "target_speedup": 3,
        }
    if case == "large":
        return {"case": case, **cold(LARGE)}
    raise ValueError(f"unknown case {case!r}; choose from example3, cnn, large")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["example3", "cnn", "large"])
    parser.add_argument("--out", default=os.path.join(HERE, "results", "flax.json"))
    args = parser.parse_args()
    import jax

    results = []
    for case in args.cases:
        print(f"running {case} ...", flush=True)
        results.append(run_case(case))
        print(
            json.dumps(
                {k: v for k, v in results[-1].items() if not isinstance(v, dict)}, default=str
            ),
            flush=True,
        )
    report = {
        "benchmark": "flax",
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "device": str(jax.devices()[0].device_kind),
        "jax": jax.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "results": results,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2, default=str)


if __name__ == "__main__":
    main()
