"""vgrid's benchmark suite: every case beside its peers, in one run, on this machine.

    python benchmarks/suite.py                  # all cases (about 6 minutes on a 2-core CPU)
    python benchmarks/suite.py --cases core_a   # some of them
    python benchmarks/suite.py --repeats 1      # each grid case once (about 3 minutes)

Writes `benchmarks/results/suite-<device>.json`, `.md` (a table) and `.png` (speedups and the
scaling curve). Each case runs in a fresh Python process, so "cold" really compiles everything
(an empty compilation cache) and peak memory is the case's own. The grids, the measurements
(cold and warm fits, compile time, useful FLOPs, memory) and the matmul peak are `vgrid bench`'s
(`vgrid.bench`); the suite adds the peers and the rerun. Cases (workloads of `vgrid bench`):

  core_a   `core_a`: 1000 x 20 float64 (exact mode), 3 widths x 3 lr, 3 folds, max_iter=200
           (27 fits)
  core_b   `core_b`: 4000 x 32 float32, 3 classes, 4 archs x 2 lr x 2 alpha, 5 folds,
           max_iter=100 (80 fits)
  large    `large` (workloads v1's quick `mlp_wide`): 10000 x 64 float32, 3 classes, (256,),
           (256, 256) x 4 lr x 4 alpha, 5 folds, max_iter=5 (160 fits)
  scaling  `scaling`: fits per second for 1 to 4096 models (one split, a grid over alpha), the
           (100,) seed-sized model, 20 epochs each
  fits_10k `mlp_seed` at its full size: 10,000 fits of the seed-sized MLP, widths 25 to 150,
           200 epochs (the GPU target); by default only on a GPU
  keras    core_a's data and grid with 20 fixed epochs, adding Keras 3 (JAX backend) through
           `keras.wrappers.SKLearnClassifier` in scikit-learn's GridSearchCV, as people do today
           (needs `pip install -e ".[bench]"`; skipped with a note when Keras is missing)

Every case reports wall time (scikit-learn's GridSearchCV(..., n_jobs=-1) and vgrid, both
refitting the best candidate; vgrid three ways: "cold", its first fit in a fresh process with an
empty compilation cache, everything compiled; "rerun", the same script run again in a new
process, programs traced again but loaded from the persistent compilation cache; "warm", the
same fit again in the cold run's process), vgrid's time compiling (JAX's own compile events,
summed: compiles running concurrently in threads each count in full), fits per second, useful
GFLOP/s and its share of this machine's matmul peak measured in the same run, and peak memory.

Each grid case (core_a, core_b, large) runs `--repeats` times (3 by default), each time in fresh
processes: the report shows the run with the median cold speedup and lists every run, since a
single run on a small, shared machine moves by 10% or more.

Useful work is counted by XLA's cost analysis (`vgrid.bench.flops`): one training step of each
real (unpadded) model at its own shapes, times the steps each fit actually ran, summed over
every (candidate, fold) fit and the refit. scikit-learn's figure uses vgrid's epoch counts
(identical in exact mode, close in fast mode, and fixed by max_iter in the large and scaling
cases). Until issue 17 the suite counted 6 x weights x samples x epochs, which also counted the
first layer's input gradient that no one computes: shares of peak from before are about 1.4x
the current ones for the seed-sized model.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

from vgrid.bench import flops as bench_flops
from vgrid.bench import measure as bench_measure
from vgrid.bench import workloads as bench_workloads
from vgrid.bench.measure import timed

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
CASES = ("peak", "core_a", "core_b", "large", "scaling", "keras", "fits_10k")
ACCELERATOR_ONLY = ("fits_10k",)  # run by default only on a GPU/TPU (minutes on a small CPU)
SCALING_SIZES = (1, 4, 16, 64, 256, 1024, 4096)
SKLEARN_SCALING_MAX = 256  # scikit-learn's time grows linearly; measured up to this size


# ----------------------------------------------------------------------------- measurements
# The workloads, the measurements (cold and warm fits in this process, compile time, useful
# FLOPs from XLA's cost analysis, memory) and the matmul peak are `vgrid bench`'s own; the suite
# adds its peers (scikit-learn's GridSearchCV on the whole grid, Keras) and the rerun.


def matmul_peak():
    """The float32 and float64 matmul peaks of this machine, as `vgrid bench` measures them."""
    return {dtype: bench_measure.matmul_peak(dtype) for dtype in ("float32", "float64")}


def peak_gflops(peak):
    return {dtype: p["gflops"] for dtype, p in peak.items()}


# ----------------------------------------------------------------------------- the cases


def grid_case(name):
    """The suite's grid cases are `vgrid bench` workloads of the same names: `core_a`,
    `core_b` and `large` (workloads v1's quick `mlp_wide`, kept when v2 made that smaller)."""
    if name in ("core_a", "core_b", "large"):
        return bench_workloads.build(name)
    raise KeyError(name)


TARGETS = {"core_a": 5.0, "core_b": 6.0}  # issue 4: whole fit, cold, vs scikit-learn
PEAK_SHARE_TARGET = {"large": 0.40}


def _vgrid_rates(row, sklearn_seconds):
    """A bench row's cold or warm figures, with the speedup over scikit-learn."""
    return dict(row, speedup=sklearn_seconds / row["seconds"])


def run_grid_case(name, peak):
    from sklearn.model_selection import GridSearchCV as SkGridSearchCV

    p = grid_case(name)
    row, ours = bench_measure.run_measurement(p, peak_gflops=peak_gflops(peak), refit=True)
    sk, sk_s = timed(lambda: SkGridSearchCV(p.estimator, p.grid, cv=p.cv, n_jobs=-1).fit(p.X, p.y))
    diff = max(
        float(
            np.max(
                np.abs(
                    sk.cv_results_[f"split{i}_test_score"]
                    - ours.cv_results_[f"split{i}_test_score"]
                )
            )
        )
        for i in range(ours.n_splits_)
    )
    flop = row["useful_gflop"] * 1e9
    peak_dtype = row["peak_gflops"]
    return {
        "case": name,
        "n_samples": row["n_samples"],
        "n_features": row["n_features"],
        "dtype": row["dtype"],
        "n_fits": row["n_fits"],
        "useful_gflop": row["useful_gflop"],
        "sklearn": {
            "seconds": sk_s,
            "fits_per_second": p.n_fits / sk_s,
            "useful_gflops": flop / 1e9 / sk_s,
            "share_of_peak": flop / 1e9 / sk_s / peak_dtype,
        },
        "vgrid_cold": _vgrid_rates(row["cold"], sk_s),
        "vgrid_warm": _vgrid_rates(row["warm"], sk_s),
        "programs": row["programs"],
        "peak_rss_mib": row["host_peak_rss_mib"],
        "rss_before_fit_mib": row["host_rss_before_fit_mib"],
        "rss_per_fit_mib": (row["host_peak_rss_mib"] - row["host_rss_before_fit_mib"]) / p.n_fits,
        "device_peak_mib": row["device_peak_mib"],
        "max_abs_split_score_diff": diff,
        "same_best_params": sk.best_params_ == ours.best_params_,
        "target_speedup": TARGETS.get(name),
        "target_share_of_peak": PEAK_SHARE_TARGET.get(name),
    }


def vgrid_search(problem, **params):
    """vgrid's search of `problem`, fitted."""
    import vgrid

    p = problem
    return vgrid.GridSearchCV(p.estimator, p.grid, cv=p.cv, **params).fit(p.X, p.y)


def run_scaling_point(n_models, peak):
    """One size of the scaling curve (its own process, so its peak memory is its own): the
    `scaling` workload of `vgrid bench`."""
    from sklearn.model_selection import GridSearchCV as SkGridSearchCV

    p = bench_workloads.build_scaling(n_models)
    bench = bench_measure.measure_problem(p, peak_gflops=peak_gflops(peak))
    row = {
        "models": n_models,
        "vgrid_cold_seconds": bench["cold"]["seconds"],
        "vgrid_compile_seconds": bench["compile_seconds"],
        "vgrid_warm_seconds": bench["warm"]["seconds"],
        "vgrid_cold_fits_per_second": bench["cold"]["fits_per_second"],
        "vgrid_warm_fits_per_second": bench["warm"]["fits_per_second"],
        "vgrid_warm_share_of_peak": bench["warm"]["share_of_peak"],
        "peak_rss_mib": bench["host_peak_rss_mib"],
        "rss_before_fit_mib": bench["host_rss_before_fit_mib"],
        "device_peak_mib": bench["device_peak_mib"],
    }
    if n_models <= SKLEARN_SCALING_MAX:
        _, sk_s = timed(
            lambda: SkGridSearchCV(p.estimator, p.grid, cv=p.cv, refit=False, n_jobs=-1).fit(
                p.X, p.y
            )
        )
        row.update(sklearn_seconds=sk_s, sklearn_fits_per_second=n_models / sk_s)
    return row


def run_ten_thousand_fits(peak):
    """10,000 fits of the seed-sized MLP: `vgrid bench`'s `mlp_seed` workload at full size
    (widths 25 to 150, 200 epochs, 4 folds), without a refit; scikit-learn's rate measured on
    its first 25 candidates (100 fits)."""
    p = bench_workloads.build("mlp_seed", "full")
    row = bench_measure.measure_problem(p, peak_gflops=peak_gflops(peak), compare_sklearn=True)
    sk = row["sklearn"]
    return {
        "case": "fits_10k",
        "n_fits": p.n_fits,
        "useful_gflop": row["useful_gflop"],
        "vgrid_cold": row["cold"],
        "vgrid_warm": row["warm"],
        "sklearn_100_fits": {"seconds": sk["seconds"], "fits_per_second": sk["fits_per_second"]},
        "target_seconds": 5.0,
        "peak_rss_mib": row["host_peak_rss_mib"],
        "rss_before_fit_mib": row["host_rss_before_fit_mib"],
        "device_peak_mib": row["device_peak_mib"],
        "programs": row["programs"],
    }


def keras_model(X, y, hidden, learning_rate):
    import keras

    model = keras.Sequential(
        [
            keras.Input((X.shape[1],)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(y.shape[1], activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy")
    model.predict = functools.partial(model.predict, verbose=0)  # the wrapper's predict prints
    return model


def run_keras_case(peak):
    from sklearn.model_selection import GridSearchCV as SkGridSearchCV
    from sklearn.model_selection import StratifiedKFold

    os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        from keras.wrappers import SKLearnClassifier
    except ImportError as exc:
        return {
            "case": "keras",
            "skipped": f"Keras 3 is not installed ({exc}); pip install -e '.[bench]'",
        }
    from sklearn.neural_network import MLPClassifier

    import vgrid

    X, y = bench_workloads.classification_data(1000, 20, 2, 10, np.float32)
    widths, rates, epochs = (50, 100, 150), (1e-3, 3e-3, 1e-2), 20
    cv = StratifiedKFold(3)
    mlp = MLPClassifier(batch_size=200, max_iter=epochs, n_iter_no_change=10**6, random_state=0)
    grid = {"hidden_layer_sizes": [(w,) for w in widths], "learning_rate_init": list(rates)}
    keras_est = SKLearnClassifier(
        model=keras_model, fit_kwargs={"epochs": epochs, "batch_size": 200, "verbose": 0}
    )
    keras_grid = {
        "model_kwargs": [{"hidden": w, "learning_rate": r} for w in widths for r in rates]
    }
    n_fits = len(widths) * len(rates) * cv.get_n_splits()
    clock = bench_measure.CompileClock()
    vg, vg_s = timed(lambda: vgrid.GridSearchCV(mlp, grid, cv=cv).fit(X, y))
    compile_s = clock.lap()
    _, sk_s = timed(lambda: SkGridSearchCV(mlp, grid, cv=cv, n_jobs=-1).fit(X, y))
    ke, ke_s = timed(
        lambda: SkGridSearchCV(keras_est, keras_grid, cv=cv, n_jobs=-1).fit(X, y, verbose=0)
    )  # fit_kwargs' verbose=0 is lost inside the search
    flop = bench_flops.search_flop(vg, X, y, cv, "float32")
    peak_gflops = peak["float32"]["gflops"]
    return {
        "case": "keras",
        "n_fits": n_fits,
        "epochs": epochs,
        "useful_gflop": flop / 1e9,
        "sklearn": {"seconds": sk_s, "fits_per_second": n_fits / sk_s},
        "keras": {
            "seconds": ke_s,
            "fits_per_second": n_fits / ke_s,
            "best_score": float(ke.best_score_),
            "share_of_peak": flop / 1e9 / ke_s / peak_gflops,
        },
        "vgrid_cold": {
            "seconds": vg_s,
            "compile_seconds": compile_s,
            "fits_per_second": n_fits / vg_s,
            "best_score": float(vg.best_score_),
            "share_of_peak": flop / 1e9 / vg_s / peak_gflops,
            "speedup": sk_s / vg_s,
            "speedup_over_keras": ke_s / vg_s,
        },
        "peak_rss_mib": bench_measure.peak_rss_mib(),
    }


def run_grid_rerun(name):
    """The same search in a new process whose compilation cache the cold run filled: what a
    researcher's second run of a script costs (programs traced again, not compiled)."""
    clock = bench_measure.CompileClock()
    problem = grid_case(name)
    clock.lap()
    _, seconds = timed(lambda: vgrid_search(problem))
    return {"seconds": seconds, "compile_seconds": clock.lap()}


def worker(case, arg, peak_path, out_path):
    """Run one case in this (fresh) process and write its JSON row. The parent process sets
    VGRID_COMPILATION_CACHE to an empty folder per case (shared with the case's rerun)."""
    warnings.simplefilter("ignore")
    if case == "peak":
        row = matmul_peak()
    else:
        with open(peak_path) as f:
            peak = json.load(f)
        if case == "scaling":
            row = run_scaling_point(int(arg), peak)
        elif case == "keras":
            row = run_keras_case(peak)
        elif case == "fits_10k":
            row = run_ten_thousand_fits(peak)
        elif arg == "rerun":
            row = run_grid_rerun(case)
        else:
            row = run_grid_case(case, peak)
    with open(out_path, "w") as f:
        json.dump(row, f, default=float)


def run_in_fresh_process(case, arg, peak_path, cache_dir=None):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out_path = f.name
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        case,
        str(arg),
        peak_path,
        out_path,
    ]
    env = dict(
        os.environ,
        VGRID_COMPILATION_CACHE=cache_dir or tempfile.mkdtemp(prefix="vgrid-suite-cache-"),
    )
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    with open(out_path) as f:
        row = json.load(f)
    os.unlink(out_path)
    print(f"  {case} {arg or ''} done in {time.perf_counter() - start:.0f}s", flush=True)
    return row


def median_run(runs):
    """The run with the median cold speedup (the lower middle one for an even count), with
    every run's times and speedups under "runs"."""
    ranked = sorted(runs, key=lambda r: r["vgrid_cold"]["speedup"])
    summary = [
        {
            "sklearn_seconds": r["sklearn"]["seconds"],
            "cold_seconds": r["vgrid_cold"]["seconds"],
            "rerun_seconds": r["vgrid_rerun"]["seconds"],
            "warm_seconds": r["vgrid_warm"]["seconds"],
            "cold_speedup": r["vgrid_cold"]["speedup"],
            "rerun_speedup": r["vgrid_rerun"]["speedup"],
            "warm_speedup": r["vgrid_warm"]["speedup"],
            "cold_share_of_peak": r["vgrid_cold"]["share_of_peak"],
            "warm_share_of_peak": r["vgrid_warm"]["share_of_peak"],
        }
        for r in runs
    ]
    return dict(ranked[(len(ranked) - 1) // 2], runs=summary)


def _spread(runs, key, fmt):
    values = sorted(r[key] for r in runs)
    return fmt(values[0]) if len(values) == 1 else f"{fmt(values[0])}-{fmt(values[-1])}"


# ----------------------------------------------------------------------------- report


def markdown(report):
    peak = report["matmul_peak"]
    lines = [
        f"# vgrid benchmark suite: {report['device']}",
        "",
        (
            f"{report['date']}, {report['machine']}, {report['cpu_count']} CPU cores, "
            f"jax {report['jax']}, scikit-learn {report['sklearn']}."
        ),
        (
            f"Matmul peak measured in this run: float32 {peak['float32']['gflops']:.0f} GFLOP/s, "
            f"float64 {peak['float64']['gflops']:.0f} GFLOP/s."
        ),
        "",
        (
            "| case | fits | scikit-learn | vgrid cold (compile) | vgrid rerun | vgrid warm "
            "| speedup cold / rerun / warm (target) | useful GFLOP/s cold / warm (share of "
            "peak) | scikit-learn share | vgrid peak RSS | split diff |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["cases"]:
        if r.get("case") not in ("core_a", "core_b", "large"):
            continue
        c, w, s, again = r["vgrid_cold"], r["vgrid_warm"], r["sklearn"], r["vgrid_rerun"]
        target = (
            f"{r['target_speedup']:.0f}x"
            if r["target_speedup"]
            else f"{r['target_share_of_peak']:.0%} of peak"
        )
        lines.append(
            f"| {r['case']} ({r['dtype']}) | {r['n_fits']} | {s['seconds']:.2f} s "
            f"| {c['seconds']:.2f} s ({c['compile_seconds']:.2f} s) | {again['seconds']:.2f} s "
            f"| {w['seconds']:.2f} s | {c['speedup']:.2f}x / {again['speedup']:.2f}x / "
            f"{w['speedup']:.2f}x ({target}) "
            f"| {c['useful_gflops']:.0f} / {w['useful_gflops']:.0f} ({c['share_of_peak']:.0%} / "
            f"{w['share_of_peak']:.0%}) | {s['share_of_peak']:.0%} | {r['peak_rss_mib']:.0f} MiB "
            f"| {r['max_abs_split_score_diff']:.2g} |"
        )
    repeated = [r for r in report["cases"] if len(r.get("runs", ())) > 1]
    if repeated:
        lines += [
            "",
            (
                f"Each grid case ran {len(repeated[0]['runs'])} times in fresh processes; "
                "the table shows the run with the median cold speedup. Over all runs:"
            ),
            "",
        ]
        for r in repeated:
            x, pct = (lambda v: f"{v:.2f}x"), (lambda v: f"{v:.0%}")
            lines.append(
                f"- {r['case']}: speedup cold {_spread(r['runs'], 'cold_speedup', x)}, rerun "
                f"{_spread(r['runs'], 'rerun_speedup', x)}, warm "
                f"{_spread(r['runs'], 'warm_speedup', x)}; share of peak cold "
                f"{_spread(r['runs'], 'cold_share_of_peak', pct)}, warm "
                f"{_spread(r['runs'], 'warm_share_of_peak', pct)}"
            )
    keras = next((r for r in report["cases"] if r.get("case") == "keras"), None)
    if keras and "skipped" not in keras:
        lines += [
            "",
            (
                f"Keras peer ({keras['n_fits']} fits, {keras['epochs']} epochs each, "
                "GridSearchCV(n_jobs=-1) over keras.wrappers.SKLearnClassifier): Keras "
                f"{keras['keras']['seconds']:.2f} s, scikit-learn "
                f"{keras['sklearn']['seconds']:.2f} s, vgrid cold "
                f"{keras['vgrid_cold']['seconds']:.2f} s "
                f"({keras['vgrid_cold']['speedup_over_keras']:.1f}x over Keras, "
                f"{keras['vgrid_cold']['speedup']:.1f}x over scikit-learn)."
            ),
        ]
    elif keras:
        lines += ["", f"Keras peer skipped: {keras['skipped']}"]
    ten = next((r for r in report["cases"] if r.get("case") == "fits_10k"), None)
    if ten:
        lines += [
            "",
            (
                f"10,000 fits of grid (a)'s model size (target: under "
                f"{ten['target_seconds']:.0f} s on a GPU): vgrid cold "
                f"{ten['vgrid_cold']['seconds']:.2f} s (compile "
                f"{ten['vgrid_cold']['compile_seconds']:.2f} s), warm "
                f"{ten['vgrid_warm']['seconds']:.2f} s "
                f"({ten['vgrid_warm']['fits_per_second']:.0f} fits/s); scikit-learn "
                f"{ten['sklearn_100_fits']['fits_per_second']:.1f} fits/s on 100 of them."
            ),
        ]
    scaling = [r for r in report["cases"] if "models" in r]
    if scaling:
        lines += [
            "",
            "Scaling (grid (a)'s model size, 20 epochs, one split; fits per second):",
            "",
            (
                "| models | vgrid cold (compile) | vgrid warm | warm share of peak "
                "| scikit-learn | vgrid peak RSS (per model above the baseline) |"
            ),
            "|---|---|---|---|---|---|",
        ]
        for r in scaling:
            sk = (
                f"{r['sklearn_fits_per_second']:.1f}"
                if "sklearn_fits_per_second" in r
                else "not run"
            )
            per_model_kib = 1024 * (r["peak_rss_mib"] - r["rss_before_fit_mib"]) / r["models"]
            lines.append(
                f"| {r['models']} | {r['vgrid_cold_fits_per_second']:.1f} "
                f"({r['vgrid_compile_seconds']:.2f} s) "
                f"| {r['vgrid_warm_fits_per_second']:.1f} "
                f"| {r['vgrid_warm_share_of_peak']:.0%} | {sk} "
                f"| {r['peak_rss_mib']:.0f} MiB ({per_model_kib:.0f} KiB) |"
            )
    return "\n".join(lines) + "\n"


def plot(report, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    grids = [r for r in report["cases"] if r.get("case") in ("core_a", "core_b", "large")]
    x = np.arange(len(grids))
    left.bar(x - 0.27, [r["vgrid_cold"]["speedup"] for r in grids], 0.27, label="vgrid cold")
    left.bar(x, [r["vgrid_rerun"]["speedup"] for r in grids], 0.27, label="vgrid rerun")
    left.bar(x + 0.27, [r["vgrid_warm"]["speedup"] for r in grids], 0.27, label="vgrid warm")
    for i, r in enumerate(grids):
        if r.get("target_speedup"):
            left.hlines(r["target_speedup"], i - 0.4, i + 0.4, colors="k", linestyles="--")
    left.axhline(1, color="grey", lw=0.8)
    left.set_xticks(x, [r["case"] for r in grids])
    left.set_ylabel("speedup over scikit-learn (n_jobs=-1)")
    left.set_title("Grids (dashed: targets)")
    left.legend()
    scaling = sorted((r for r in report["cases"] if "models" in r), key=lambda r: r["models"])
    if scaling:
        models = [r["models"] for r in scaling]
        right.loglog(
            models, [r["vgrid_warm_fits_per_second"] for r in scaling], "o-", label="vgrid warm"
        )
        right.loglog(
            models, [r["vgrid_cold_fits_per_second"] for r in scaling], "s--", label="vgrid cold"
        )
        sk = [r for r in scaling if "sklearn_fits_per_second" in r]
        right.loglog(
            [r["models"] for r in sk],
            [r["sklearn_fits_per_second"] for r in sk],
            "^-",
            label="scikit-learn",
        )
        right.set_xlabel("models in the grid")
        right.set_ylabel("fits per second")
        right.set_title("Scaling")
        right.legend()
    fig.suptitle(f"vgrid suite on {report['device']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases",
        nargs="+",
        choices=CASES[1:],
        help="default: all (fits_10k only on an accelerator)",
    )
    parser.add_argument("--scaling-sizes", nargs="+", type=int, default=list(SCALING_SIZES))
    parser.add_argument("--out-dir", default=RESULTS)
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="runs of each grid case (fresh processes); the median is reported",
    )
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        case, arg, peak_path, out_path = args.worker
        return worker(case, arg, peak_path, out_path)

    import jax
    import sklearn

    device = jax.devices()[0]
    if args.cases is None:
        args.cases = [c for c in CASES[1:] if device.platform != "cpu" or c not in ACCELERATOR_ONLY]
    name = "cpu" if device.platform == "cpu" else device.device_kind.lower().replace(" ", "-")
    peak_path = os.path.join(tempfile.mkdtemp(), "peak.json")
    with open(peak_path, "w") as f:
        json.dump({}, f)
    peak = run_in_fresh_process("peak", "", peak_path)
    with open(peak_path, "w") as f:
        json.dump(peak, f)
    rows = []
    for case in args.cases:
        if case == "scaling":
            rows += [run_in_fresh_process(case, size, peak_path) for size in args.scaling_sizes]
        elif case in ("keras", "fits_10k"):
            rows.append(run_in_fresh_process(case, "", peak_path))
        else:
            runs = []
            for _ in range(args.repeats):
                cache_dir = tempfile.mkdtemp(prefix="vgrid-suite-cache-")
                row = run_in_fresh_process(case, "", peak_path, cache_dir)
                rerun = run_in_fresh_process(case, "rerun", peak_path, cache_dir)
                rerun["speedup"] = row["sklearn"]["seconds"] / rerun["seconds"]
                runs.append(dict(row, vgrid_rerun=rerun))
            rows.append(median_run(runs))
    report = {
        "suite": "vgrid",
        "device": str(device.device_kind),
        "platform": device.platform,
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "processor": platform.processor(),
        "jax": jax.__version__,
        "sklearn": sklearn.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "matmul_peak": peak,
        "cases": rows,
    }
    os.makedirs(args.out_dir, exist_ok=True)
    stem = os.path.join(args.out_dir, f"suite-{name}")
    with open(stem + ".json", "w") as f:
        json.dump(report, f, indent=2, default=float)
    with open(stem + ".md", "w") as f:
        f.write(markdown(report))
    plot(report, stem + ".png")
    print(markdown(report))
    print(f"wrote {stem}.json, .md and .png")


if __name__ == "__main__":
    main()
