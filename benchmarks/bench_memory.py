"""Peak memory against grid size: 1,000 to 100,000 small models on the CPU, each size in a fresh
process (peak resident memory from getrusage), beside scikit-learn's GridSearchCV on the
smallest size. Writes benchmarks/results/memory.json.

Usage: python benchmarks/bench_memory.py [--sizes 1000 10000 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

CHILD = """
import json, resource, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler
n_models, which = int(sys.argv[1]), sys.argv[2]
X, y = load_iris(return_X_y=True)
X = StandardScaler().fit_transform(X)
grid = {"alpha": list(np.logspace(-6, 1, n_models // 3))}
if which == "vgrid":
    import vgrid
    search = vgrid.GridSearchCV(vgrid.MLPClassifier(hidden_layer_sizes=(4,), max_iter=5,
                                                    random_state=0), grid, cv=3, refit=False)
else:
    from sklearn.model_selection import GridSearchCV
    from sklearn.neural_network import MLPClassifier
    search = GridSearchCV(MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0),
                          grid, cv=3, refit=False, n_jobs=-1)
start = time.perf_counter()
search.fit(X, y)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"peak_bytes": peak, "seconds": seconds,
                  "fits": len(search.cv_results_["params"]) * 3}))
"""


def run(n_models, which):
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(n_models), which],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 10000, 100000])
    parser.add_argument("--out", default="benchmarks/results/memory.json")
    args = parser.parse_args()
    rows = []
    baseline = run(3, "vgrid")  # the process itself: Python, JAX, scikit-learn, one tiny fit
    for n in args.sizes:
        row = {"n_models": n, **run(n, "vgrid")}
        row["peak_mib"] = row["peak_bytes"] / 2**20
        row["kib_per_model_above_baseline"] = (
            (row["peak_bytes"] - baseline["peak_bytes"]) / n / 1024
        )
        print(json.dumps(row), flush=True)
        rows.append(row)
    sk = run(args.sizes[0], "sklearn")
    report = {
        "benchmark": "memory",
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "baseline_peak_mib": baseline["peak_bytes"] / 2**20,
        "vgrid": rows,
        "sklearn_smallest": {
            "n_models": args.sizes[0],
            "seconds": sk["seconds"],
            "speedup_vgrid": sk["seconds"] / rows[0]["seconds"],
        },
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report["sklearn_smallest"]))


if __name__ == "__main__":
    main()
