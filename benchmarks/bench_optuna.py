"""Batched Bayesian optimization (vgrid.OptunaSearchCV) against sequential Optuna.

The same search space, budget (trials, epochs, folds) and TPE seed for every side:

- `optuna_integration`: optuna_integration's `OptunaSearchCV` (one trial at a time, each
  trial's folds fitted by scikit-learn), the peer;
- `vgrid_optuna`: `vgrid.OptunaSearchCV`, trials asked in batches (TPE's constant liar), each
  batch trained by one vectorized evaluation;
- `vgrid_optuna_pruned`: the same with `MedianPruner`, trials pruned inside the training loop;
- `vgrid_random`: `vgrid.RandomizedSearchCV` on the same space (scipy distributions), all at once;
- `optuna_integration_pruned` (with `--peer-pruning`): the peer with `enable_pruning=True`
  (`partial_fit`, one epoch per call).

Each side runs in a fresh process with an empty compilation cache (cold: vgrid compiles
everything); vgrid's sides then fit again in the same process (warm: programs compiled), and
once more in a new process over the compilation cache the first one filled (cached: a user's
next run of the same study, programs loaded from disk).
Imports (scikit-learn, Optuna, optuna_integration; vgrid and JAX) are done before each side's
clock starts and recorded apart (`import_seconds` of the cold fit). The
data are scikit-learn's digits (float32), the estimator scikit-learn's `MLPClassifier`; NumPy's
BLAS gets one thread in every side (`--blas-threads`).
It records every trial's completion time (Optuna's `datetime_complete`) and score, and reports
the best mean cross-validation score against wall time (a plot), and the time each side takes
to reach the peer's best score (the target).

Which trials a search finds its best in is luck of its seed as much as anything: `--seeds`
repeats the whole comparison for several search seeds (`random_state` of every search, the TPE
seed; the network's own seed stays 0), each seed with its own target, and summarizes over them
(`aggregate`: median ratios, and in how many seeds each side reached the peer's best score, and
in at least 5x less wall time).

    python benchmarks/bench_optuna.py                  # writes benchmarks/results/optuna.{json,png}
    python benchmarks/bench_optuna.py --seeds 0,1,2,3,4,5   # six comparisons (about 11 min)
    python benchmarks/bench_optuna.py --n-trials 16 --max-iter 20 --out /tmp/optuna.json  # quick
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
import warnings
from datetime import datetime

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
VGRID_SIDES = ("vgrid_optuna", "vgrid_optuna_pruned", "vgrid_random")


def _data():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32), y


def _optuna_space(args):
    from optuna.distributions import FloatDistribution, IntDistribution

    return {
        "learning_rate_init": FloatDistribution(1e-4, 1e-1, log=True),
        "alpha": FloatDistribution(1e-6, 1e-1, log=True),
        "hidden_layer_sizes": IntDistribution(args.min_width, args.max_width),
    }


def _scipy_space(args):
    from scipy.stats import loguniform, randint

    return {
        "learning_rate_init": loguniform(1e-4, 1e-1),
        "alpha": loguniform(1e-6, 1e-1),
        "hidden_layer_sizes": randint(args.min_width, args.max_width + 1),
    }


def _curve(trials, t0):
    """(seconds since t0 at which the trial finished, its score or None), by finishing time."""
    done = [t for t in trials if t.datetime_complete is not None]
    done.sort(key=lambda t: t.datetime_complete)
    return [
        (
            (t.datetime_complete - t0).total_seconds(),
            None if t.state.name != "COMPLETE" else float(t.value),
        )
        for t in done
    ]


def _fit_once(side, args):
    import optuna
    from sklearn.model_selection import KFold
    from sklearn.neural_network import MLPClassifier

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X, y = _data()
    cv = KFold(args.cv, shuffle=True, random_state=0)
    mlp = MLPClassifier(max_iter=args.max_iter, random_state=0)
    out = {}
    # Every side's libraries are imported before its clock starts (the peer's scikit-learn and
    # Optuna above, vgrid's JAX here): the first fit of a process measures the search, with
    # vgrid compiling everything; the import is recorded apart, in `import_seconds`.
    start = time.perf_counter()
    if side.startswith("optuna_integration"):
        from optuna_integration import OptunaSearchCV as PeerSearch
    else:
        from vgrid import OptunaSearchCV, RandomizedSearchCV
    out["import_seconds"] = time.perf_counter() - start
    common = {"cv": cv, "refit": False, "random_state": args.seed}  # every side's search
    t0 = datetime.now()
    start = time.perf_counter()
    if side.startswith("optuna_integration"):
        search = PeerSearch(
            mlp,
            _optuna_space(args),
            n_trials=args.n_trials,
            max_iter=args.max_iter,
            enable_pruning=side.endswith("pruned"),
            **common,
        )
        search.fit(X, y)
        wall = time.perf_counter() - start
        trials = search.study_.trials
    elif side == "vgrid_random":
        search = RandomizedSearchCV(mlp, _scipy_space(args), n_iter=args.n_trials, **common)
        search.fit(X, y)
        wall = time.perf_counter() - start
        trials = None
        scores = search.cv_results_["mean_test_score"]
        out["curve"] = [(wall, float(np.nanmax(scores)))]
    else:
        pruner = (
            optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=args.warmup)
            if side.endswith("pruned")
            else None
        )
        search = OptunaSearchCV(
            mlp,
            _optuna_space(args),
            n_trials=args.n_trials,
            trials_per_batch=args.trials_per_batch,
            pruner=pruner,
            segment_epochs=args.segment_epochs,
            **common,
        ).fit(X, y)
        wall = time.perf_counter() - start
        trials = search.study_.trials
        out["n_batches"] = search.n_batches_
        out["compile_seconds"] = sum(r.compile_seconds for r in search.vectorization_)
        out["train_seconds"] = sum(r.train_seconds for r in search.vectorization_)
        out["n_programs_compiled"] = sum(r.compile_seconds > 0 for r in search.vectorization_)
        # One entry per program run (one per batch here): did it compile, and its hidden widths.
        out["programs"] = [
            {"compiled": r.compile_seconds > 0, "hidden_widths": list(r.hidden_widths)}
            for r in search.vectorization_
        ]
        out["epochs_trained"] = int(np.isfinite(search.learning_curves_["loss"]).sum())
    if trials is not None:
        out["curve"] = _curve(trials, t0)
        out["n_pruned"] = sum(t.state.name == "PRUNED" for t in trials)
        out["best_params"] = max(
            (t for t in trials if t.state.name == "COMPLETE"), key=lambda t: t.value
        ).params
    out["wall_seconds"] = wall
    out["best_score"] = max(v for _, v in out["curve"] if v is not None)
    return out


def _side(side, args):
    """One side in this process: a cold fit, and for vgrid's sides a warm one (with
    `--cached`: one fit, over a compilation cache an earlier process filled); NumPy's BLAS
    limited to `--blas-threads` threads (0: its default)."""
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(args.blas_threads or None):
        warnings.simplefilter("ignore")
        if args.cached:
            return {"cached": _fit_once(side, args)}
        result = {"cold": _fit_once(side, args)}
        if side in VGRID_SIDES:
            result["warm"] = _fit_once(side, args)
    return result


def _time_to(curve, target):
    best = -np.inf
    for seconds, value in curve:
        if value is not None:
            best = max(best, value)
        if best >= target:
            return seconds
    return None


def _plot(report, path):
    """Best score so far against wall time: one panel per search seed."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [(seed, run) for seed, run in report["seeds"].items() if "target" in run]
    n_cols = min(3, len(runs))
    n_rows = -(-len(runs) // n_cols)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(5.2 * n_cols, 3.9 * n_rows), squeeze=False, sharex=True
    )
    colors = {}  # one color per side, one line style per kind of run
    for ax, (seed, run) in zip(axes.flat, runs):
        for side, kinds in run["sides"].items():
            color = colors.setdefault(side, f"C{len(colors)}")
            for kind, style in (("cold", "-"), ("warm", ":"), ("cached", "--")):
                if kind not in kinds:
                    continue
                curve = [(t, v) for t, v in kinds[kind]["curve"] if v is not None]
                times = [t for t, _ in curve]
                best = np.maximum.accumulate([v for _, v in curve])
                label = f"{side} ({kind})" if side in VGRID_SIDES else side
                if len(curve) == 1:
                    ax.plot(times, best, "o", color=color, label=label)
                else:
                    ax.step(times, best, style, color=color, where="post", label=label)
        ax.axhline(run["target"], color="gray", lw=0.8, ls="--", label="target (peer's best)")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_ylim(run["target"] - 0.03, min(1.0, run["target"] + 0.015))
        ax.set_title(f"search seed {seed}", fontsize=10)
        ax.set_xlabel("wall time (s)")
        ax.set_ylabel("best mean CV accuracy so far")
    for ax in axes.flat[len(runs) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, loc="lower right")
    a = report["args"]
    fig.suptitle(
        f"digits, MLPClassifier, {a['n_trials']} trials x {a['cv']} folds, "
        f"max_iter={a['max_iter']} ({report['machine']['cpus']} CPUs)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def _summary(sides):
    """(The target, each side's wall time, best score, time to the target and ratios to the
    peer's cold run); (None, None) without the peer."""
    peer = sides.get("optuna_integration")
    if peer is None:
        return None, None
    target = peer["cold"]["best_score"]
    peer_time = _time_to(peer["cold"]["curve"], target)
    summary = {}
    for side, runs in sides.items():
        for kind, run in runs.items():
            reached = _time_to(run["curve"], target)
            summary[f"{side} ({kind})"] = {
                "wall_seconds": run["wall_seconds"],
                "best_score": run["best_score"],
                "seconds_to_target": reached,
                "speedup_to_target": None if reached is None else peer_time / reached,
                "speedup_wall": peer["cold"]["wall_seconds"] / run["wall_seconds"],
            }
    return target, summary


def _aggregate(runs):
    """Over the seeds, per side: the median ratios, and in how many seeds the side's best
    score reached the peer's (the issue's target: that score in at least 5x less wall time)."""
    names = sorted({name for run in runs for name in run.get("summary", {})})
    out = {}
    for name in names:
        rows = [run["summary"][name] for run in runs if name in run.get("summary", {})]
        reached = [r for r in rows if r["seconds_to_target"] is not None]
        out[name] = {
            "n_seeds": len(rows),
            "n_reached_target": len(reached),
            "median_speedup_wall": float(np.median([r["speedup_wall"] for r in rows])),
            "min_speedup_wall": float(min(r["speedup_wall"] for r in rows)),
            "n_same_best_in_5x_less_wall": sum(r["speedup_wall"] >= 5 for r in reached),
            "median_speedup_to_target": (
                float(np.median([r["speedup_to_target"] for r in reached])) if reached else None
            ),
        }
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-trials", type=int, default=48)
    parser.add_argument("--max-iter", type=int, default=40)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--min-width", type=int, default=16)
    parser.add_argument("--max-width", type=int, default=128)
    parser.add_argument(
        "--trials-per-batch", default="auto", type=lambda v: v if v == "auto" else int(v)
    )
    parser.add_argument("--segment-epochs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=5, help="MedianPruner n_warmup_steps")
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="NumPy BLAS threads in every side (0: the library's default). "
        "One by default: on the shared 2-core machine, OpenBLAS's two "
        "threads made scikit-learn's (127,) fits 10-30x slower under load",
    )
    parser.add_argument(
        "--peer-pruning", action="store_true", help="also run the peer with enable_pruning=True"
    )
    parser.add_argument("--sides", default=None, help="comma-separated subset of the sides")
    parser.add_argument(
        "--seeds",
        default="0",
        help="comma-separated search seeds (random_state of every search: the TPE seed); "
        "each is a separate comparison, summarized over all",
    )
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)  # internal
    parser.add_argument("--side", help=argparse.SUPPRESS)  # internal: run one side, print JSON
    parser.add_argument("--cached", action="store_true", help=argparse.SUPPRESS)  # internal
    parser.add_argument("--out", default=os.path.join(HERE, "results", "optuna.json"))
    args = parser.parse_args(argv)
    if args.side:
        print("RESULT " + json.dumps(_side(args.side, args)))
        return
    sides = ["optuna_integration", *VGRID_SIDES]
    if args.peer_pruning:
        sides.insert(1, "optuna_integration_pruned")
    if args.sides:
        sides = args.sides.split(",")
    report = {
        "args": vars(args) | {"side": None, "seed": None},
        "seeds": {},
        "machine": {
            "cpus": len(os.sched_getaffinity(0)),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_start": os.getloadavg(),
        },
    }
    passthrough = [
        f"--{name.replace('_', '-')}={value}"
        for name, value in vars(args).items()
        if name not in ("side", "out", "sides", "peer_pruning", "cached", "seeds", "seed")
    ]

    def run_side(side, seed, env, *extra):
        proc = subprocess.run(
            [sys.executable, __file__, "--side", side, f"--seed={seed}", *passthrough, *extra],
            env=env,
            capture_output=True,
            text=True,
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if proc.returncode or not lines:
            raise RuntimeError(f"{side} failed:\n{proc.stderr[-3000:]}")
        return json.loads(lines[-1][len("RESULT ") :])

    for seed in [int(seed) for seed in args.seeds.split(",")]:
        run = report["seeds"][str(seed)] = {"sides": {}, "load_average_after_side": {}}
        for side in sides:
            with tempfile.TemporaryDirectory() as cache:  # cold: an empty compilation cache
                env = dict(os.environ, VGRID_COMPILATION_CACHE=cache)
                run["sides"][side] = run_side(side, seed, env)
                if side in VGRID_SIDES:  # a new process over the cache the first one filled
                    run["sides"][side] |= run_side(side, seed, env, "--cached")
            run["load_average_after_side"][side] = os.getloadavg()
            cold = run["sides"][side]["cold"]
            print(
                f"seed {seed} {side}: {cold['wall_seconds']:.1f} s cold, "
                f"best {cold['best_score']:.4f}, load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        target, summary = _summary(run["sides"])
        if summary is None:
            continue
        run["target"], run["summary"] = target, summary
        for name, row in summary.items():
            to_target = (
                "not reached"
                if row["seconds_to_target"] is None
                else f"{row['seconds_to_target']:.1f} s to target ({row['speedup_to_target']:.1f}x)"
            )
            print(
                f"  {name:36s} wall {row['wall_seconds']:7.1f} s ({row['speedup_wall']:.1f}x)  "
                f"best {row['best_score']:.4f}  {to_target}"
            )
    report["machine"]["load_average_end"] = os.getloadavg()
    import optuna
    import optuna_integration

    report["versions"] = {
        "optuna": optuna.__version__,
        "optuna_integration": optuna_integration.__version__,
    }
    report["aggregate"] = _aggregate(list(report["seeds"].values()))
    if len(report["seeds"]) > 1:
        for name, row in report["aggregate"].items():
            print(
                f"{name:36s} over {row['n_seeds']} seeds: wall median "
                f"{row['median_speedup_wall']:.1f}x (min {row['min_speedup_wall']:.1f}x), "
                f"peer's best reached in {row['n_reached_target']}, and in 5x less wall time "
                f"in {row['n_same_best_in_5x_less_wall']}"
            )
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    if report["aggregate"]:
        _plot(report, os.path.splitext(args.out)[0] + ".png")


if __name__ == "__main__":
    main()
