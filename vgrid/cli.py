"""The `vgrid` command.

vgrid demo        fit an MLP grid on a data set that ships with scikit-learn, print the top
                  rows of cv_results_, the reference check against scikit-learn and the speedup.
vgrid run SPEC    run the search a TOML, YAML or JSON spec describes (see `vgrid.spec`) and write
                  cv_results.csv, summary.md and plots to its output folder.
vgrid bench       measure this machine: fits/s and share of peak on fixed workloads (see
                  `vgrid.bench`).
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np


def _demo(args) -> int:
    from sklearn.datasets import load_breast_cancer, load_digits, load_wine
    from sklearn.preprocessing import StandardScaler

    from . import GridSearchCV, MLPClassifier, compare_with_sklearn

    loaders = {"breast_cancer": load_breast_cancer, "digits": load_digits, "wine": load_wine}
    X, y = loaders[args.dataset](return_X_y=True)
    X = StandardScaler().fit_transform(X)
    grid: dict[str, list] = {
        "hidden_layer_sizes": [(16,), (32,)],
        "learning_rate_init": [1e-3, 1e-2],
        "alpha": [1e-4, 1e-2],
    }
    search = GridSearchCV(MLPClassifier(max_iter=args.max_iter, random_state=0), grid, cv=5)
    n_candidates = math.prod(len(v) for v in grid.values())
    print(
        f"vgrid demo: {args.dataset} {X.shape[0]} x {X.shape[1]} (float64, exact mode), "
        f"{n_candidates} candidates x 5 folds, max_iter={args.max_iter}"
    )
    report = compare_with_sklearn(search, X, y)
    results = report.search.cv_results_
    order = np.argsort(results["rank_test_score"], kind="stable")[: args.top]
    print(f"\ntop {len(order)} rows of cv_results_:")
    print(f"  {'rank':>4}  {'mean_test_score':>15}  {'std_test_score':>14}  params")
    for i in order:
        print(
            f"  {results['rank_test_score'][i]:>4}  {results['mean_test_score'][i]:>15.4f}  "
            f"{results['std_test_score'][i]:>14.4f}  {results['params'][i]}"
        )
    print()
    print(report)
    return 0 if report.agrees else 1


def _write_outputs(search, folder, report=None) -> list[str]:
    import pandas as pd

    os.makedirs(folder, exist_ok=True)
    results = search.cv_results_
    frame = pd.DataFrame(results)
    frame["params"] = [repr(p) for p in results["params"]]
    frame.to_csv(os.path.join(folder, "cv_results.csv"), index=False)
    metric = next(k[len("rank_test_") :] for k in results if k.startswith("rank_test_"))
    order = np.argsort(results[f"rank_test_{metric}"], kind="stable")[:10]
    lines = [
        f"# vgrid {type(search).__name__}",
        "",
        f"{len(results['params'])} candidates x {search.n_splits_} folds",
        "",
        f"| rank | mean_test_{metric} | std_test_{metric} | params |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {results[f'rank_test_{metric}'][i]} | {results[f'mean_test_{metric}'][i]:.4f} | "
        f"{results[f'std_test_{metric}'][i]:.4f} | {results['params'][i]} |"
        for i in order
    ]
    if hasattr(search, "best_params_"):
        lines += ["", f"best_params_: {search.best_params_}"]
    lines += ["", "## vectorization", ""] + [f"- {r}" for r in search.vectorization_]
    if report is not None:
        lines += ["", "## reference check", "", "```", str(report), "```"]
    with open(os.path.join(folder, "summary.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    written = ["cv_results.csv", "summary.md"] + _write_plots(search, folder)
    return [os.path.join(folder, name) for name in written]


def _write_plots(search, folder) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import plot

    written = []
    searched = [k[len("param_") :] for k in search.cv_results_ if k.startswith("param_")]
    drawings = [
        ("ranks.png", lambda ax: plot.rank_plot(search, ax=ax)),
        ("learning_curves.png", lambda ax: plot.learning_curves(search, ax=ax)),
    ]
    if len(searched) >= 2:
        drawings.append(
            ("heatmap.png", lambda ax: plot.heatmap(search, searched[0], searched[1], ax=ax))
        )
    for name, draw in drawings:
        fig, ax = plt.subplots(figsize=(7, 5))
        draw(ax)
        fig.tight_layout()
        fig.savefig(os.path.join(folder, name), dpi=100)
        plt.close(fig)
        written.append(name)
    return written


def _error(message) -> int:
    from .spec import one_line

    print(f"vgrid: error: {one_line(message, 500)}", file=sys.stderr)
    return 2


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    from .spec import one_line

    print(
        f"vgrid: warning: {category.__name__}: {one_line(message)}",
        file=sys.stderr if file is None else file,
    )


def _run(args) -> int:
    """`vgrid run SPEC`: every problem with the spec, its data or its values is one line on
    stderr and exit status 2 (Ctrl-C: one line and 130), never a traceback."""
    import warnings

    from .compare import compare_with_sklearn
    from .spec import SpecError, check_against_data, load_data, load_spec

    spec_dir = os.path.dirname(os.path.abspath(args.spec))
    try:
        spec = load_spec(args.spec)
        X, y = load_data(spec.data, base_dir=spec_dir)
        check_against_data(spec, X, y)
        if "checkpoint" in spec.options:
            spec.options["checkpoint"] = os.path.join(spec_dir, spec.options["checkpoint"])
        search = spec.search
    except SpecError as exc:
        return _error(exc)
    if not args.quiet:
        search.set_params(verbose=max(search.verbose, 1))
    report = None
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning  # one line a warning, as for errors
        try:
            if args.compare:
                report = compare_with_sklearn(search, X, y)
                search = report.search
            else:
                search.fit(X, y)
        except KeyboardInterrupt:
            kept = (
                f"; finished chunks are kept in {search.checkpoint!r}, run again to resume"
                if getattr(search, "checkpoint", None)
                else ""
            )
            print(f"vgrid: interrupted{kept}", file=sys.stderr)
            return 130
        except (ValueError, TypeError, ArithmeticError) as exc:
            # scikit-learn's own checks of the values against the data (cv larger than a
            # class, every fit failed, ...): the spec's values, reported as such.
            return _error(f"the search failed: {type(exc).__name__}: {exc}")
    folder = args.out or os.path.join(spec_dir, spec.folder)
    try:
        written = _write_outputs(search, folder, report)
    except OSError as exc:
        return _error(f"cannot write the results to {folder!r}: {exc.strerror or exc}")
    for path in written:
        print(f"wrote {path}")
    if report is not None:
        print(report)
        return 0 if report.agrees else 1
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="vgrid",
        description="Vectorized grid search for scikit-learn's neural networks, on JAX.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="run an MLP grid on built-in data, with the reference check against scikit-learn",
        description=_demo.__doc__ or "Run the demo grid.",
    )
    demo.add_argument(
        "--dataset", default="breast_cancer", choices=["breast_cancer", "digits", "wine"]
    )
    demo.add_argument("--max-iter", type=int, default=100)
    demo.add_argument("--top", type=int, default=5, help="rows of cv_results_ to print")
    demo.set_defaults(func=_demo)
    run = commands.add_parser(
        "run",
        help="run the search a spec file describes",
        description="Run the search a TOML, YAML or JSON spec describes "
        "and write cv_results.csv, summary.md and plots. A bad spec gives "
        "one line on stderr and exit status 2.",
    )
    run.add_argument("spec", help="the spec file (.toml, .yaml, .yml or .json)")
    run.add_argument("--out", help="output folder (default: the spec's [output] folder)")
    run.add_argument(
        "--compare",
        action="store_true",
        help="also run scikit-learn's search on the same splits and report",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar or summary lines")
    run.set_defaults(func=_run)
    from . import bench

    bench_parser = commands.add_parser(
        "bench",
        help="measure this machine: fits/s, share of peak, memory",
        description="Run fixed, versioned workloads, each in a fresh process, and report fits/s "
        "cold and warm, compile time, useful FLOP/s and share of the matmul peak, device and "
        "host memory. Bad input: one line on stderr, exit status 2.",
    )
    bench.add_arguments(bench_parser)
    bench_parser.set_defaults(func=bench.run)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
