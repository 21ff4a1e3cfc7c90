"""Successive halving on resource="max_iter": continuing survivors versus retraining them.

Runs, side by side in one process: scikit-learn's HalvingGridSearchCV(MLPClassifier, n_jobs=-1);
vgrid's HalvingGridSearchCV retraining every survivor from scratch (as scikit-learn does); and
vgrid's default, which continues each survivor from its previous round. Each vgrid variant is
fit twice and timed on the second fit, so compilation is out of the comparison between them.
Writes benchmarks/results/halving.json.

Usage: python benchmarks/bench_halving.py [--out benchmarks/results/halving.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingGridSearchCV as SkHalving
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/halving.json")
    args = parser.parse_args()
    import jax

    import vgrid

    X, y = make_classification(
        n_samples=2000, n_features=20, n_informative=10, n_classes=3, random_state=0
    )
    X = StandardScaler().fit_transform(X)
    grid = {"alpha": [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0], "learning_rate_init": [3e-4, 1e-3, 3e-3]}
    est = MLPClassifier(hidden_layer_sizes=(64,), random_state=0)
    params = dict(resource="max_iter", min_resources=10, max_resources=160, factor=2, cv=3)
    rows = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        sk = SkHalving(est, grid, n_jobs=-1, **params).fit(X, y)
        rows["sklearn_seconds"] = time.perf_counter() - start
        for name, continue_survivors in (("retrain", False), ("continue", True)):
            for _ in range(2):
                search = vgrid.HalvingGridSearchCV(est, grid, **params)
                search.continue_survivors = continue_survivors
                start = time.perf_counter()
                search.fit(X, y)
                seconds = time.perf_counter() - start
            rows[f"vgrid_{name}_seconds"] = seconds
            rows[f"vgrid_{name}_same_results"] = bool(
                np.array_equal(
                    search.cv_results_["mean_test_score"], sk.cv_results_["mean_test_score"]
                )
            )
            if continue_survivors:
                rows["resumed_epochs"] = search.resumed_epochs_
    epochs = sum(n_c * r * 3 for n_c, r in zip(sk.n_candidates_, sk.n_resources_))
    rows.update(
        total_epochs_when_retraining=epochs,
        continue_vs_retrain=rows["vgrid_retrain_seconds"] / rows["vgrid_continue_seconds"],
        sklearn_vs_continue=rows["sklearn_seconds"] / rows["vgrid_continue_seconds"],
        n_candidates=sk.n_candidates_,
        n_resources=sk.n_resources_,
    )
    report = {
        "benchmark": "halving_max_iter",
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "device": str(jax.devices()[0].device_kind),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "results": rows,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
