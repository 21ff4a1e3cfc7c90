"""DigitsCNN grid on scikit-learn's digits: vgrid's vectorized search beside its peers.

Peers, in one run: scikit-learn's GridSearchCV over the same FlaxClassifier (one fit at a
time, n_jobs=-1), and scikit-learn's GridSearchCV(MLPClassifier, n_jobs=-1) on a grid of the
same size (the usual baseline on this data). vgrid's fit is timed cold (first, compilation
included) and warm. Writes benchmarks/results/flax_cnn.json.

Usage: python benchmarks/bench_flax_cnn.py [--out benchmarks/results/flax_cnn.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV as SkGridSearchCV
from sklearn.neural_network import MLPClassifier


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/flax_cnn.json")
    args = parser.parse_args()
    import jax

    import vgrid
    from vgrid.flax_models import DigitsCNN

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    est = vgrid.FlaxClassifier(DigitsCNN, max_epochs=10, batch_size=64,
                               traced_fields=("features", "kernel_size"))
    grid = {"module__features": [4, 8, 16], "module__kernel_size": [1, 3, 5],
            "optimizer__learning_rate": [1e-3, 1e-2]}
    mlp_grid = {"hidden_layer_sizes": [(16,), (32,), (64,)], "alpha": [1e-4, 1e-2, 1.0],
                "learning_rate_init": [1e-3, 1e-2]}
    rows = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for label in ("cold", "warm"):
            start = time.perf_counter()
            ours = vgrid.GridSearchCV(est, grid, cv=3).fit(X, y)
            rows[f"vgrid_cnn_{label}_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        ref = SkGridSearchCV(est, grid, cv=3, n_jobs=-1).fit(X, y)
        rows["sklearn_search_cnn_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        mlp = SkGridSearchCV(MLPClassifier(max_iter=10, random_state=0), mlp_grid, cv=3,
                             n_jobs=-1).fit(X, y)
        rows["sklearn_mlp_seconds"] = time.perf_counter() - start
    rows.update(
        n_fits=len(ours.cv_results_["params"]) * 3,
        programs=len(ours.vectorization_),
        max_abs_mean_score_diff_vs_sequential=float(np.max(np.abs(
            ours.cv_results_["mean_test_score"] - ref.cv_results_["mean_test_score"]))),
        best_cnn_score=float(ours.best_score_), best_params=ours.best_params_,
        best_mlp_score=float(mlp.best_score_),
        speedup_cold_vs_sequential=rows["sklearn_search_cnn_seconds"]
        / rows["vgrid_cnn_cold_seconds"],
        speedup_warm_vs_sequential=rows["sklearn_search_cnn_seconds"]
        / rows["vgrid_cnn_warm_seconds"])
    report = {"benchmark": "flax_cnn_digits", "machine": platform.platform(),
              "cpu_count": os.cpu_count(), "device": str(jax.devices()[0].device_kind),
              "date": time.strftime("%Y-%m-%d %H:%M:%S"), "results": rows}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2, default=str)
    print(json.dumps(rows, indent=2, default=str))


if __name__ == "__main__":
    main()
