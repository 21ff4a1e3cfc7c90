"""Core-issue benchmark: scikit-learn's GridSearchCV(MLPClassifier, n_jobs=-1) beside vgrid.

Grids (both timed as whole fits, compilation included, refit included for both):
  (a) 1000 x 20 standardized float64, hidden (50,), (100,), (150,) x 3 learning rates,
      StratifiedKFold(3), max_iter=200 (exact mode).
  (b) 4000 x 32 float32, 3 classes, hidden (64,), (128,), (64, 64), (128, 64) x lr 1e-3, 1e-2
      x alpha 1e-4, 1e-2, 5 folds, max_iter=100 (fast mode).

vgrid is timed twice: "cold", its first fit in this process with an empty persistent
compilation cache (everything compiled), and "warm", the same fit again in this process
(nothing compiled or traced). A rerun of a script in a new process sits between the two: it
loads the programs from vgrid's persistent compilation cache but still traces them. The speedups are
ratios against scikit-learn's time measured in the same run.

Usage: python benchmarks/bench_core.py [--cases a b] [--out benchmarks/results/core.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings

import numpy as np

# An empty compilation cache, so that the "cold" timing really compiles everything.
os.environ.setdefault("VGRID_COMPILATION_CACHE", os.path.join(
    __import__("tempfile").mkdtemp(prefix="vgrid-bench-cache-")))
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV as SkGridSearchCV
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler


def case_a():
    X, y = make_classification(n_samples=1000, n_features=20, n_informative=10, random_state=0)
    X = StandardScaler().fit_transform(X)
    grid = {"hidden_layer_sizes": [(50,), (100,), (150,)],
            "learning_rate_init": [1e-3, 3e-3, 1e-2]}
    return X, y, MLPClassifier(max_iter=200, random_state=0), grid, StratifiedKFold(3)


def case_b():
    X, y = make_classification(n_samples=4000, n_features=32, n_informative=16, n_classes=3,
                               random_state=0)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    grid = {"hidden_layer_sizes": [(64,), (128,), (64, 64), (128, 64)],
            "learning_rate_init": [1e-3, 1e-2], "alpha": [1e-4, 1e-2]}
    return X, y, MLPClassifier(max_iter=100, random_state=0), grid, StratifiedKFold(5)


CASES = {"a": case_a, "b": case_b}


def run_case(name):
    import vgrid

    X, y, est, grid, cv = CASES[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        sk = SkGridSearchCV(est, grid, cv=cv, n_jobs=-1).fit(X, y)
        sk_time = time.perf_counter() - start
        start = time.perf_counter()
        vg = vgrid.GridSearchCV(est, grid, cv=cv).fit(X, y)
        vg_time = time.perf_counter() - start
        start = time.perf_counter()
        vgrid.GridSearchCV(est, grid, cv=cv).fit(X, y)
        vg_warm = time.perf_counter() - start
    n_fits = len(vg.cv_results_["params"]) * vg.n_splits_
    diff = max(float(np.max(np.abs(sk.cv_results_[f"split{i}_test_score"]
                                   - vg.cv_results_[f"split{i}_test_score"])))
               for i in range(vg.n_splits_))
    return {
        "case": name, "n_samples": int(X.shape[0]), "n_features": int(X.shape[1]),
        "dtype": str(X.dtype), "n_candidates": len(vg.cv_results_["params"]),
        "n_splits": vg.n_splits_, "n_fits": n_fits,
        "sklearn_seconds": sk_time, "vgrid_cold_seconds": vg_time,
        "vgrid_warm_seconds": vg_warm, "speedup_cold": sk_time / vg_time,
        "speedup_warm": sk_time / vg_warm, "vgrid_cold_fits_per_second": n_fits / vg_time,
        "vgrid_warm_fits_per_second": n_fits / vg_warm, "sklearn_fits_per_second": n_fits / sk_time,
        "max_abs_split_score_diff": diff,
        "mean_test_score_diff": float(np.max(np.abs(sk.cv_results_["mean_test_score"]
                                                    - vg.cv_results_["mean_test_score"]))),
        "same_best_params": sk.best_params_ == vg.best_params_,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--out", default="benchmarks/results/core.json")
    args = parser.parse_args()
    import jax

    rows = []
    for name in args.cases:
        row = run_case(name)
        print(json.dumps(row))
        rows.append(row)
    report = {"benchmark": "core", "machine": platform.platform(), "cpu_count": os.cpu_count(),
              "device": str(jax.devices()[0].device_kind), "jax": jax.__version__,
              "date": time.strftime("%Y-%m-%d %H:%M:%S"), "results": rows}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    for r in rows:
        print(f"case {r['case']}: scikit-learn {r['sklearn_seconds']:.2f}s, vgrid cold "
              f"{r['vgrid_cold_seconds']:.2f}s ({r['speedup_cold']:.2f}x), warm "
              f"{r['vgrid_warm_seconds']:.2f}s ({r['speedup_warm']:.2f}x), max split diff "
              f"{r['max_abs_split_score_diff']:.2e}")


if __name__ == "__main__":
    main()
