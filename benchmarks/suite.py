"""vgrid's benchmark suite: every case beside its peers, in one run, on this machine.

    python benchmarks/suite.py                  # all cases (about 6 minutes on a 2-core CPU)
    python benchmarks/suite.py --cases core_a   # some of them
    python benchmarks/suite.py --repeats 1      # each grid case once (about 3 minutes)

Writes `benchmarks/results/suite-<device>.json`, `.md` (a table) and `.png` (speedups and the
scaling curve). Each case runs in a fresh Python process, so "cold" really compiles everything
(an empty compilation cache) and peak memory is the case's own. Cases:

  core_a   1000 x 20 float64 (exact mode), 3 widths x 3 lr, 3 folds, max_iter=200 (27 fits)
  core_b   4000 x 32 float32, 3 classes, 4 archs x 2 lr x 2 alpha, 5 folds, max_iter=100 (80 fits)
  large    10000 x 64 float32, 3 classes, (256,), (256, 256) x 4 lr x 4 alpha, 5 folds,
           max_iter=5 (160 fits)
  scaling  fits per second for 1 to 4096 models (one split, a grid over alpha), grid (a)'s
           model size, 20 epochs each
  fits_10k 10,000 fits of grid (a)'s model size (the GPU target); by default only on a GPU
  keras    core_a's data and grid with 20 fixed epochs, adding Keras 3 (JAX backend) through
           `keras.wrappers.SKLearnClassifier` in scikit-learn's GridSearchCV, as people do today
           (needs `pip install -e ".[bench]"`; skipped with a note when Keras is missing)

Every case reports wall time (scikit-learn's GridSearchCV(..., n_jobs=-1) and vgrid, both
refitting the best candidate; vgrid three ways: "cold", its first fit in a fresh process with an
empty compilation cache, everything compiled; "rerun", the same script run again in a new
process, programs traced again but loaded from the persistent compilation cache; "warm", the
same fit again in the cold run's process), vgrid's time compiling (JAX's own compile events, summed: compiles
running concurrently in threads each count in full), fits per second, useful GFLOP/s and its
share of this machine's matmul peak measured in the same run, and peak memory.

Each grid case (core_a, core_b, large) runs `--repeats` times (3 by default), each time in fresh
processes: the report shows the run with the median cold speedup and lists every run, since a
single run on a small, shared machine moves by 10% or more.

Useful work is 6 x real weights (kernels and biases, no padding) x training samples x epochs
each fit actually ran, summed over every (candidate, fold) fit and the refit. scikit-learn's
figure uses vgrid's epoch counts (identical in exact mode, close in fast mode, and fixed by
max_iter in the large and scaling cases).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
CASES = ("peak", "core_a", "core_b", "large", "scaling", "keras", "fits_10k")
ACCELERATOR_ONLY = ("fits_10k",)  # run by default only on a GPU/TPU (minutes on a small CPU)
SCALING_SIZES = (1, 4, 16, 64, 256, 1024, 4096)
SKLEARN_SCALING_MAX = 256  # scikit-learn's time grows linearly; measured up to this size


# ----------------------------------------------------------------------------- measurements

class CompileClock:
    """Seconds JAX spends tracing, lowering and compiling, from its monitoring events."""

    EVENTS = ("/jax/core/compile/jaxpr_trace_duration",
              "/jax/core/compile/jaxpr_to_mlir_module_duration",
              "/jax/core/compile/backend_compile_duration")

    def __init__(self):
        import jax

        self.seconds = 0.0
        jax.monitoring.register_event_duration_secs_listener(self._record)

    def _record(self, name, duration, **_):
        if name in self.EVENTS:
            self.seconds += duration

    def lap(self):
        seconds, self.seconds = self.seconds, 0.0
        return seconds


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def device_peak_mib():
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    return stats["peak_bytes_in_use"] / 2**20 if "peak_bytes_in_use" in stats else None


def matmul_peak():
    """GFLOP/s of one large square matmul (float32 and float64) through XLA and through NumPy,
    all cores; the larger of the two is this machine's peak for that dtype."""
    import jax
    import jax.numpy as jnp

    on_cpu = jax.devices()[0].platform == "cpu"
    n = 2048 if on_cpu else 8192
    out = {}
    for dtype in ("float32", "float64"):
        if dtype == "float64" and not jax.config.jax_enable_x64:
            jax.config.update("jax_enable_x64", True)
        a = jnp.asarray(np.random.default_rng(0).standard_normal((n, n)), dtype)
        matmul = jax.jit(lambda a: a @ a)
        matmul(a).block_until_ready()
        rates = {"xla": _best_rate(lambda f=matmul, a=a: f(a).block_until_ready(), 2 * n**3)}
        if on_cpu:
            host = np.asarray(a)
            rates["numpy"] = _best_rate(lambda h=host: h @ h, 2 * n**3)
        out[dtype] = {"gflops": max(rates.values()), "by_library": rates, "n": n}
    return out


def _best_rate(run, flop, repeats=5):
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return flop / best / 1e9


def n_weights(n_features, hidden, n_outputs):
    sizes = [n_features, *hidden, n_outputs]
    return sum((a + 1) * b for a, b in itertools.pairwise(sizes))


def useful_flop(search, X, y, cv, n_outputs):
    """6 x real weights x training samples x epochs run, over all fits and the refit."""
    from vgrid import pipeline

    splits = list(cv.split(X, y))
    epochs = np.sum(~np.isnan(search.learning_curves_["loss"]), axis=2)  # (candidates, splits)
    total = 0.0
    for c, params in enumerate(search.cv_results_["params"]):
        hidden = params.get("hidden_layer_sizes", search.estimator.hidden_layer_sizes)
        hidden = (hidden,) if np.isscalar(hidden) else tuple(hidden)
        weights = n_weights(X.shape[1], hidden, n_outputs)
        for s, (train, _) in enumerate(splits):
            total += 6 * weights * len(train) * epochs[c, s]
    if getattr(search, "best_estimator_", None) is not None:
        best = pipeline.final_step(search.best_estimator_)[1]
        weights = sum(w.size for w in best.coefs_) + sum(b.size for b in best.intercepts_)
        total += 6 * weights * X.shape[0] * best.n_iter_
    return total


# ----------------------------------------------------------------------------- the cases

def data(n_samples, n_features, n_classes, dtype, n_informative):
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(n_samples=n_samples, n_features=n_features,
                               n_informative=n_informative, n_classes=n_classes, random_state=0)
    return StandardScaler().fit_transform(X).astype(dtype), y


def grid_case(name):
    from sklearn.model_selection import StratifiedKFold
    from sklearn.neural_network import MLPClassifier

    if name == "core_a":
        X, y = data(1000, 20, 2, np.float64, 10)
        grid = {"hidden_layer_sizes": [(50,), (100,), (150,)],
                "learning_rate_init": [1e-3, 3e-3, 1e-2]}
        return X, y, MLPClassifier(max_iter=200, random_state=0), grid, StratifiedKFold(3), 3.0
    if name == "core_b":
        X, y = data(4000, 32, 3, np.float32, 16)
        grid = {"hidden_layer_sizes": [(64,), (128,), (64, 64), (128, 64)],
                "learning_rate_init": [1e-3, 1e-2], "alpha": [1e-4, 1e-2]}
        return X, y, MLPClassifier(max_iter=100, random_state=0), grid, StratifiedKFold(5), 6.0
    if name == "large":
        X, y = data(10000, 64, 3, np.float32, 32)
        grid = {"hidden_layer_sizes": [(256,), (256, 256)],
                "learning_rate_init": [1e-4, 3e-4, 1e-3, 3e-3],
                "alpha": [1e-5, 1e-4, 1e-3, 1e-2]}
        return X, y, MLPClassifier(max_iter=5, random_state=0), grid, StratifiedKFold(5), None
    raise KeyError(name)


TARGETS = {"core_a": 5.0, "core_b": 6.0}  # issue 4: whole fit, cold, vs scikit-learn
PEAK_SHARE_TARGET = {"large": 0.40}


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def cold_and_warm(clock, est, grid, cv, X, y, **search_params):
    """vgrid's search fit twice in this process: (the first search, its seconds, its compile
    seconds, the second fit's seconds, its compile seconds)."""
    import vgrid

    def fit():
        return vgrid.GridSearchCV(est, grid, cv=cv, **search_params).fit(X, y)

    clock.lap()
    search, cold_s = timed(fit)
    compile_s = clock.lap()
    _, warm_s = timed(fit)
    return search, cold_s, compile_s, warm_s, clock.lap()


def run_grid_case(name, peak):
    from sklearn.model_selection import GridSearchCV as SkGridSearchCV

    clock = CompileClock()
    X, y, est, grid, cv, _ = grid_case(name)
    n_classes = len(np.unique(y))
    n_outputs = n_classes if n_classes > 2 else 1
    rss_before = peak_rss_mib()
    cold, cold_s, compile_s, warm_s, warm_compile_s = cold_and_warm(clock, est, grid, cv, X, y)
    rss_vgrid = peak_rss_mib()
    sk, sk_s = timed(lambda: SkGridSearchCV(est, grid, cv=cv, n_jobs=-1).fit(X, y))
    flop = useful_flop(cold, X, y, cv, n_outputs)
    n_fits = len(cold.cv_results_["params"]) * cold.n_splits_
    peak_gflops = peak[str(X.dtype)]["gflops"]
    diff = max(float(np.max(np.abs(sk.cv_results_[f"split{i}_test_score"]
                                   - cold.cv_results_[f"split{i}_test_score"])))
               for i in range(cold.n_splits_))
    return {
        "case": name, "n_samples": X.shape[0], "n_features": X.shape[1], "dtype": str(X.dtype),
        "n_fits": n_fits, "useful_gflop": flop / 1e9,
        "sklearn": {"seconds": sk_s, "fits_per_second": n_fits / sk_s,
                    "useful_gflops": flop / 1e9 / sk_s,
                    "share_of_peak": flop / 1e9 / sk_s / peak_gflops},
        "vgrid_cold": {"seconds": cold_s, "compile_seconds": compile_s,
                       "fits_per_second": n_fits / cold_s, "useful_gflops": flop / 1e9 / cold_s,
                       "share_of_peak": flop / 1e9 / cold_s / peak_gflops,
                       "speedup": sk_s / cold_s},
        "vgrid_warm": {"seconds": warm_s, "compile_seconds": warm_compile_s,
                       "fits_per_second": n_fits / warm_s, "useful_gflops": flop / 1e9 / warm_s,
                       "share_of_peak": flop / 1e9 / warm_s / peak_gflops,
                       "speedup": sk_s / warm_s},
        "programs": [str(r) for r in cold.vectorization_],
        "peak_rss_mib": rss_vgrid, "rss_before_fit_mib": rss_before,
        "rss_per_fit_mib": (rss_vgrid - rss_before) / n_fits,
        "device_peak_mib": device_peak_mib(),
        "max_abs_split_score_diff": diff, "same_best_params": sk.best_params_ == cold.best_params_,
        "target_speedup": TARGETS.get(name), "target_share_of_peak": PEAK_SHARE_TARGET.get(name),
    }


def scaling_estimator(n_models):
    from sklearn.model_selection import ShuffleSplit
    from sklearn.neural_network import MLPClassifier

    X, y = data(1000, 20, 2, np.float32, 10)
    est = MLPClassifier(hidden_layer_sizes=(100,), max_iter=20, n_iter_no_change=10**6,
                        random_state=0)
    grid = {"alpha": list(np.logspace(-6, 0, n_models))}
    return X, y, est, grid, ShuffleSplit(n_splits=1, test_size=0.25, random_state=0)


def run_scaling_point(n_models, peak):
    """One size of the scaling curve (its own process, so its peak memory is its own)."""
    from sklearn.model_selection import GridSearchCV as SkGridSearchCV

    clock = CompileClock()
    X, y, est, grid, cv = scaling_estimator(n_models)
    rss_before = peak_rss_mib()
    search, cold_s, compile_s, warm_s, _ = cold_and_warm(clock, est, grid, cv, X, y, refit=False)
    row = {"models": n_models, "vgrid_cold_seconds": cold_s, "vgrid_compile_seconds": compile_s,
           "vgrid_warm_seconds": warm_s, "vgrid_cold_fits_per_second": n_models / cold_s,
           "vgrid_warm_fits_per_second": n_models / warm_s,
           "peak_rss_mib": peak_rss_mib(), "rss_before_fit_mib": rss_before,
           "device_peak_mib": device_peak_mib()}
    flop = useful_flop(search, X, y, cv, 1)
    row["vgrid_warm_share_of_peak"] = flop / 1e9 / warm_s / peak["float32"]["gflops"]
    if n_models <= SKLEARN_SCALING_MAX:
        _, sk_s = timed(lambda: SkGridSearchCV(est, grid, cv=cv, refit=False, n_jobs=-1).fit(X, y))
        row.update(sklearn_seconds=sk_s, sklearn_fits_per_second=n_models / sk_s)
    return row


def run_ten_thousand_fits(peak):
    """10,000 fits of grid (a)'s model size ((100,), 1000 x 20, max_iter=200, tol stopping):
    2,500 candidates x 4 folds, timed without a refit. scikit-learn's rate is measured on the
    first 25 candidates (100 fits) of the same grid."""
    from sklearn.model_selection import GridSearchCV as SkGridSearchCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.neural_network import MLPClassifier

    X, y = data(1000, 20, 2, np.float32, 10)
    est = MLPClassifier(hidden_layer_sizes=(100,), max_iter=200, random_state=0)
    grid = {"learning_rate_init": list(np.logspace(-4, -1, 50)),
            "alpha": list(np.logspace(-6, 0, 50))}
    cv = StratifiedKFold(4)
    clock = CompileClock()
    rss_before = peak_rss_mib()
    search, cold_s, compile_s, warm_s, _ = cold_and_warm(clock, est, grid, cv, X, y, refit=False)
    flop = useful_flop(search, X, y, cv, 1)
    sample = {"learning_rate_init": grid["learning_rate_init"][:5], "alpha": grid["alpha"][:5]}
    _, sk_s = timed(lambda: SkGridSearchCV(est, sample, cv=cv, refit=False, n_jobs=-1).fit(X, y))
    return {"case": "fits_10k", "n_fits": 10000, "useful_gflop": flop / 1e9,
            "vgrid_cold": {"seconds": cold_s, "compile_seconds": compile_s,
                           "fits_per_second": 10000 / cold_s},
            "vgrid_warm": {"seconds": warm_s, "fits_per_second": 10000 / warm_s,
                           "share_of_peak": flop / 1e9 / warm_s / peak["float32"]["gflops"]},
            "sklearn_100_fits": {"seconds": sk_s, "fits_per_second": 100 / sk_s},
            "target_seconds": 5.0, "peak_rss_mib": peak_rss_mib(),
            "rss_before_fit_mib": rss_before, "device_peak_mib": device_peak_mib(),
            "programs": [str(r) for r in search.vectorization_]}


def keras_model(X, y, hidden, learning_rate):
    import keras

    model = keras.Sequential([keras.Input((X.shape[1],)),
                              keras.layers.Dense(hidden, activation="relu"),
                              keras.layers.Dense(y.shape[1], activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="categorical_crossentropy")
    model.predict = functools.partial(model.predict, verbose=0)  # the wrapper's predict prints
    return model


def run_keras_case(peak):
    from sklearn.model_selection import GridSearchCV as SkGridSearchCV
    from sklearn.model_selection import StratifiedKFold

    os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        from keras.wrappers import SKLearnClassifier
    except ImportError as exc:
        return {"case": "keras", "skipped": f"Keras 3 is not installed ({exc}); "
                                          "pip install -e '.[bench]'"}
    from sklearn.neural_network import MLPClassifier

    import vgrid

    X, y = data(1000, 20, 2, np.float32, 10)
    widths, rates, epochs = (50, 100, 150), (1e-3, 3e-3, 1e-2), 20
    cv = StratifiedKFold(3)
    mlp = MLPClassifier(batch_size=200, max_iter=epochs, n_iter_no_change=10**6, random_state=0)
    grid = {"hidden_layer_sizes": [(w,) for w in widths], "learning_rate_init": list(rates)}
    keras_est = SKLearnClassifier(model=keras_model,
                                  fit_kwargs={"epochs": epochs, "batch_size": 200, "verbose": 0})
    keras_grid = {"model_kwargs": [{"hidden": w, "learning_rate": r}
                                   for w in widths for r in rates]}
    n_fits = len(widths) * len(rates) * cv.get_n_splits()
    clock = CompileClock()
    vg, vg_s = timed(lambda: vgrid.GridSearchCV(mlp, grid, cv=cv).fit(X, y))
    compile_s = clock.lap()
    _, sk_s = timed(lambda: SkGridSearchCV(mlp, grid, cv=cv, n_jobs=-1).fit(X, y))
    ke, ke_s = timed(lambda: SkGridSearchCV(keras_est, keras_grid, cv=cv, n_jobs=-1)
                     .fit(X, y, verbose=0))  # fit_kwargs' verbose=0 is lost inside the search
    flop = useful_flop(vg, X, y, cv, 1)
    peak_gflops = peak["float32"]["gflops"]
    return {
        "case": "keras", "n_fits": n_fits, "epochs": epochs, "useful_gflop": flop / 1e9,
        "sklearn": {"seconds": sk_s, "fits_per_second": n_fits / sk_s},
        "keras": {"seconds": ke_s, "fits_per_second": n_fits / ke_s,
                  "best_score": float(ke.best_score_),
                  "share_of_peak": flop / 1e9 / ke_s / peak_gflops},
        "vgrid_cold": {"seconds": vg_s, "compile_seconds": compile_s,
                       "fits_per_second": n_fits / vg_s, "best_score": float(vg.best_score_),
                       "share_of_peak": flop / 1e9 / vg_s / peak_gflops,
                       "speedup": sk_s / vg_s, "speedup_over_keras": ke_s / vg_s},
        "peak_rss_mib": peak_rss_mib(),
    }


def run_grid_rerun(name):
    """The same search in a new process whose compilation cache the cold run filled: what a
    researcher's second run of a script costs (programs traced again, not compiled)."""
    import vgrid

    clock = CompileClock()
    X, y, est, grid, cv, _ = grid_case(name)
    clock.lap()
    _, seconds = timed(lambda: vgrid.GridSearchCV(est, grid, cv=cv).fit(X, y))
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
    command = [sys.executable, os.path.abspath(__file__), "--worker", case, str(arg),
               peak_path, out_path]
    env = dict(os.environ, VGRID_COMPILATION_CACHE=cache_dir
               or tempfile.mkdtemp(prefix="vgrid-suite-cache-"))
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
    summary = [{"sklearn_seconds": r["sklearn"]["seconds"],
                "cold_seconds": r["vgrid_cold"]["seconds"],
                "rerun_seconds": r["vgrid_rerun"]["seconds"],
                "warm_seconds": r["vgrid_warm"]["seconds"],
                "cold_speedup": r["vgrid_cold"]["speedup"],
                "rerun_speedup": r["vgrid_rerun"]["speedup"],
                "warm_speedup": r["vgrid_warm"]["speedup"],
                "cold_share_of_peak": r["vgrid_cold"]["share_of_peak"],
                "warm_share_of_peak": r["vgrid_warm"]["share_of_peak"]} for r in runs]
    return dict(ranked[(len(ranked) - 1) // 2], runs=summary)


def _spread(runs, key, fmt):
    values = sorted(r[key] for r in runs)
    return fmt(values[0]) if len(values) == 1 else f"{fmt(values[0])}-{fmt(values[-1])}"


# ----------------------------------------------------------------------------- report

def markdown(report):
    peak = report["matmul_peak"]
    lines = [f"# vgrid benchmark suite: {report['device']}", "",
             (f"{report['date']}, {report['machine']}, {report['cpu_count']} CPU cores, "
             f"jax {report['jax']}, scikit-learn {report['sklearn']}."),
             (f"Matmul peak measured in this run: float32 {peak['float32']['gflops']:.0f} GFLOP/s, "
             f"float64 {peak['float64']['gflops']:.0f} GFLOP/s."), "",
             ("| case | fits | scikit-learn | vgrid cold (compile) | vgrid rerun | vgrid warm "
              "| speedup cold / rerun / warm (target) | useful GFLOP/s cold / warm (share of "
              "peak) | scikit-learn share | vgrid peak RSS | split diff |"),
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["cases"]:
        if r.get("case") not in ("core_a", "core_b", "large"):
            continue
        c, w, s, again = r["vgrid_cold"], r["vgrid_warm"], r["sklearn"], r["vgrid_rerun"]
        target = (f"{r['target_speedup']:.0f}x" if r["target_speedup"]
                  else f"{r['target_share_of_peak']:.0%} of peak")
        lines.append(
            f"| {r['case']} ({r['dtype']}) | {r['n_fits']} | {s['seconds']:.2f} s "
            f"| {c['seconds']:.2f} s ({c['compile_seconds']:.2f} s) | {again['seconds']:.2f} s "
            f"| {w['seconds']:.2f} s | {c['speedup']:.2f}x / {again['speedup']:.2f}x / "
            f"{w['speedup']:.2f}x ({target}) "
            f"| {c['useful_gflops']:.0f} / {w['useful_gflops']:.0f} ({c['share_of_peak']:.0%} / "
            f"{w['share_of_peak']:.0%}) | {s['share_of_peak']:.0%} | {r['peak_rss_mib']:.0f} MiB "
            f"| {r['max_abs_split_score_diff']:.2g} |")
    repeated = [r for r in report["cases"] if len(r.get("runs", ())) > 1]
    if repeated:
        lines += ["", (f"Each grid case ran {len(repeated[0]['runs'])} times in fresh processes; "
                       "the table shows the run with the median cold speedup. Over all runs:"), ""]
        for r in repeated:
            x, pct = (lambda v: f"{v:.2f}x"), (lambda v: f"{v:.0%}")
            lines.append(
                f"- {r['case']}: speedup cold {_spread(r['runs'], 'cold_speedup', x)}, rerun "
                f"{_spread(r['runs'], 'rerun_speedup', x)}, warm "
                f"{_spread(r['runs'], 'warm_speedup', x)}; share of peak cold "
                f"{_spread(r['runs'], 'cold_share_of_peak', pct)}, warm "
                f"{_spread(r['runs'], 'warm_share_of_peak', pct)}")
    keras = next((r for r in report["cases"] if r.get("case") == "keras"), None)
    if keras and "skipped" not in keras:
        lines += ["", (f"Keras peer ({keras['n_fits']} fits, {keras['epochs']} epochs each, "
                      "GridSearchCV(n_jobs=-1) over keras.wrappers.SKLearnClassifier): Keras "
                      f"{keras['keras']['seconds']:.2f} s, scikit-learn "
                      f"{keras['sklearn']['seconds']:.2f} s, vgrid cold "
                      f"{keras['vgrid_cold']['seconds']:.2f} s "
                      f"({keras['vgrid_cold']['speedup_over_keras']:.1f}x over Keras, "
                      f"{keras['vgrid_cold']['speedup']:.1f}x over scikit-learn).")]
    elif keras:
        lines += ["", f"Keras peer skipped: {keras['skipped']}"]
    ten = next((r for r in report["cases"] if r.get("case") == "fits_10k"), None)
    if ten:
        lines += ["", (f"10,000 fits of grid (a)'s model size (target: under "
                      f"{ten['target_seconds']:.0f} s on a GPU): vgrid cold "
                      f"{ten['vgrid_cold']['seconds']:.2f} s (compile "
                      f"{ten['vgrid_cold']['compile_seconds']:.2f} s), warm "
                      f"{ten['vgrid_warm']['seconds']:.2f} s "
                      f"({ten['vgrid_warm']['fits_per_second']:.0f} fits/s); scikit-learn "
                      f"{ten['sklearn_100_fits']['fits_per_second']:.1f} fits/s on 100 of them.")]
    scaling = [r for r in report["cases"] if "models" in r]
    if scaling:
        lines += ["", "Scaling (grid (a)'s model size, 20 epochs, one split; fits per second):", "",
                  ("| models | vgrid cold (compile) | vgrid warm | warm share of peak "
                   "| scikit-learn | vgrid peak RSS (per model above the baseline) |"),
                  "|---|---|---|---|---|---|"]
        for r in scaling:
            sk = (f"{r['sklearn_fits_per_second']:.1f}" if "sklearn_fits_per_second" in r
                  else "not run")
            per_model_kib = 1024 * (r["peak_rss_mib"] - r["rss_before_fit_mib"]) / r["models"]
            lines.append(f"| {r['models']} | {r['vgrid_cold_fits_per_second']:.1f} "
                         f"({r['vgrid_compile_seconds']:.2f} s) "
                         f"| {r['vgrid_warm_fits_per_second']:.1f} "
                         f"| {r['vgrid_warm_share_of_peak']:.0%} | {sk} "
                         f"| {r['peak_rss_mib']:.0f} MiB ({per_model_kib:.0f} KiB) |")
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
        right.loglog(models, [r["vgrid_warm_fits_per_second"] for r in scaling], "o-",
                     label="vgrid warm")
        right.loglog(models, [r["vgrid_cold_fits_per_second"] for r in scaling], "s--",
                     label="vgrid cold")
        sk = [r for r in scaling if "sklearn_fits_per_second" in r]
        right.loglog([r["models"] for r in sk], [r["sklearn_fits_per_second"] for r in sk],
                     "^-", label="scikit-learn")
        right.set_xlabel("models in the grid")
        right.set_ylabel("fits per second")
        right.set_title("Scaling")
        right.legend()
    fig.suptitle(f"vgrid suite on {report['device']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=CASES[1:],
                        help="default: all (fits_10k only on an accelerator)")
    parser.add_argument("--scaling-sizes", nargs="+", type=int, default=list(SCALING_SIZES))
    parser.add_argument("--out-dir", default=RESULTS)
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each grid case (fresh processes); the median is reported")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        case, arg, peak_path, out_path = args.worker
        return worker(case, arg, peak_path, out_path)

    import jax
    import sklearn

    device = jax.devices()[0]
    if args.cases is None:
        args.cases = [c for c in CASES[1:]
                      if device.platform != "cpu" or c not in ACCELERATOR_ONLY]
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
    report = {"suite": "vgrid", "device": str(device.device_kind), "platform": device.platform,
              "machine": platform.platform(), "cpu_count": os.cpu_count(),
              "processor": platform.processor(), "jax": jax.__version__,
              "sklearn": sklearn.__version__, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
              "matmul_peak": peak, "cases": rows}
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
