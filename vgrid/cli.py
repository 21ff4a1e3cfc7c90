"""The `vgrid` command.

    vgrid demo    fit an MLP grid on a data set that ships with scikit-learn, print the top rows
                  of cv_results_, the reference check against scikit-learn and the speedup.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def _demo(args) -> int:
    from sklearn.datasets import load_breast_cancer, load_digits, load_wine
    from sklearn.preprocessing import StandardScaler

    from . import GridSearchCV, MLPClassifier, compare_with_sklearn

    loaders = {"breast_cancer": load_breast_cancer, "digits": load_digits, "wine": load_wine}
    X, y = loaders[args.dataset](return_X_y=True)
    X = StandardScaler().fit_transform(X)
    grid = {"hidden_layer_sizes": [(16,), (32,)], "learning_rate_init": [1e-3, 1e-2],
            "alpha": [1e-4, 1e-2]}
    search = GridSearchCV(MLPClassifier(max_iter=args.max_iter, random_state=0), grid, cv=5)
    n_candidates = int(np.prod([len(v) for v in grid.values()]))
    print(f"vgrid demo: {args.dataset} {X.shape[0]} x {X.shape[1]} (float64, exact mode), "
          f"{n_candidates} candidates x 5 folds, max_iter={args.max_iter}")
    report = compare_with_sklearn(search, X, y)
    results = report.search.cv_results_
    order = np.argsort(results["rank_test_score"], kind="stable")[: args.top]
    print(f"\ntop {len(order)} rows of cv_results_:")
    print(f"  {'rank':>4}  {'mean_test_score':>15}  {'std_test_score':>14}  params")
    for i in order:
        print(f"  {results['rank_test_score'][i]:>4}  {results['mean_test_score'][i]:>15.4f}  "
              f"{results['std_test_score'][i]:>14.4f}  {results['params'][i]}")
    print()
    print(report)
    return 0 if report.agrees else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="vgrid", description="Vectorized grid search for "
                                     "scikit-learn's neural networks, on JAX.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run an MLP grid on built-in data, with the "
                               "reference check against scikit-learn",
                               description=_demo.__doc__ or "Run the demo grid.")
    demo.add_argument("--dataset", default="breast_cancer",
                      choices=["breast_cancer", "digits", "wine"])
    demo.add_argument("--max-iter", type=int, default=100)
    demo.add_argument("--top", type=int, default=5, help="rows of cv_results_ to print")
    demo.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
