"""What `vgrid bench` measures inside one fresh process: the machine, the matmul peak, and one
workload's cold and warm fits.

Each function here runs in the process whose figures it reports (`vgrid.bench.runner` starts
one per measurement, with an empty compilation cache), so "cold" really compiles everything
and peak memory is the workload's own.

Example:
    >>> clock = CompileClock()
    >>> seconds = clock.lap()   # seconds JAX spent compiling since the last lap
    >>> seconds >= 0
    True
"""

from __future__ import annotations

import math
import os
import platform
import resource
import time
import warnings

import numpy as np

__all__ = [
    "CompileClock",
    "device_memory",
    "machine",
    "matmul_peak",
    "measure_problem",
    "measure_sklearn",
    "peak_rss_mib",
    "run_measurement",
    "timed",
]


class CompileClock:
    """Seconds JAX spends tracing, lowering and compiling, from its monitoring events (compiles
    running concurrently in threads each count in full)."""

    EVENTS = (
        "/jax/core/compile/jaxpr_trace_duration",
        "/jax/core/compile/jaxpr_to_mlir_module_duration",
        "/jax/core/compile/backend_compile_duration",
    )

    def __init__(self):
        import jax

        self.seconds = 0.0
        jax.monitoring.register_event_duration_secs_listener(self._record)

    def _record(self, event: str, duration_secs: float, **_: str | int) -> None:
        if event in self.EVENTS:
            self.seconds += duration_secs

    def lap(self) -> float:
        seconds, self.seconds = self.seconds, 0.0
        return seconds


def timed(fn):
    """(fn(), its wall seconds)."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if platform.system() == "Darwin" else peak / 1024


def device_memory() -> dict:
    """Peak bytes in use and the limit, per local device, from `Device.memory_stats()`; None
    where the backend reports none (XLA:CPU)."""
    import jax

    peaks, limits = [], []
    for device in jax.local_devices():
        try:
            stats = device.memory_stats() or {}
        except Exception:  # noqa: BLE001 - some backends raise instead of returning None
            stats = {}
        peaks.append(stats.get("peak_bytes_in_use"))
        limits.append(stats.get("bytes_limit"))
    known = [p for p in peaks if p is not None]
    return {
        "peak_mib": max(known) / 2**20 if known else None,
        "per_device_peak_mib": [None if p is None else p / 2**20 for p in peaks],
        "limit_mib": (
            min(b for b in limits if b is not None) / 2**20
            if any(b is not None for b in limits)
            else None
        ),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """The machine as JAX sees it: devices, versions, CPU, host memory."""
    import jax
    import jaxlib
    import sklearn

    import vgrid

    devices = jax.local_devices()
    memory = device_memory()
    return {
        "platform": devices[0].platform,
        "device_kind": devices[0].device_kind,
        "platform_version": str(getattr(devices[0].client, "platform_version", "")),
        "device_count": len(devices),
        "device_memory_mib": memory["limit_mib"],
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "vgrid": vgrid.__version__,
        "sklearn": sklearn.__version__,
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "os": platform.platform(),
        "host_memory_mib": _host_memory_mib(),
        "default_matmul_precision": jax.config.values["jax_default_matmul_precision"],
    }


def _host_memory_mib():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (ValueError, OSError, AttributeError):
        return None


def matmul_peak(dtype: str, repeats: int = 5) -> dict:
    """GFLOP/s of one large square matmul in `dtype` on one device, through XLA (and through
    NumPy on the CPU; the larger counts). On an accelerator the machine's peak is that rate
    times the devices in use; on the CPU, devices share the cores, so it is the rate itself."""
    import jax
    import jax.numpy as jnp

    device = jax.local_devices()[0]
    on_cpu = device.platform == "cpu"
    n = 2048 if on_cpu else 8192
    with jax.enable_x64(dtype == "float64"):
        a = jax.device_put(
            jnp.asarray(np.random.default_rng(0).standard_normal((n, n)), dtype), device
        )
        matmul = jax.jit(lambda a: a @ a)
        matmul(a).block_until_ready()
        rates = {"xla": _best_rate(lambda: matmul(a).block_until_ready(), 2 * n**3, repeats)}
        if on_cpu:
            host = np.asarray(a)
            rates["numpy"] = _best_rate(lambda: host @ host, 2 * n**3, repeats)
    per_device = max(rates.values())
    devices = 1 if on_cpu else jax.local_device_count()
    return {
        "dtype": dtype,
        "n": n,
        "per_device_gflops": per_device,
        "by_library": rates,
        "devices": devices,
        "gflops": per_device * devices,
    }


def _best_rate(run, flop, repeats):
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return flop / best / 1e9


def measure_problem(
    problem, *, peak_gflops: dict, compare_sklearn: bool = False, refit: bool = False
) -> dict:
    """Fit `problem`'s grid twice in this process: cold (the first fit, everything compiled,
    the compilation cache empty if the caller made it so) and warm (the same fit again).
    Returns the row `vgrid bench` reports for it. `peak_gflops`: the matmul peak per dtype.

    Parameters
    ----------
    problem : vgrid.bench.workloads.Problem
        The workload (`build`, `build_scaling`, or one of your own).
    peak_gflops : dict
        dtype name to the matmul peak in GFLOP/s that `share_of_peak` is relative to.
    compare_sklearn : bool, default=False
        Also time scikit-learn's `GridSearchCV(n_jobs=-1)` on the grid's first
        `problem.sklearn_max_fits` fits (the row's "sklearn" entry).
    refit : bool, default=False
        Refit the best candidate in each fit (the workloads are timed without).

    Returns
    -------
    dict
        The row of `vgrid/bench/schema.json`: "cold" and "warm" (seconds,
        compile_seconds, fits_per_second, useful_gflops, share_of_peak),
        "compile_seconds", "useful_gflop", device and host memory, models per device and
        per call, the programs' reports, the best score, and the workload's shape.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import KFold
    >>> from vgrid import MLPClassifier
    >>> from vgrid.bench.workloads import Problem
    >>> X, y = load_iris(return_X_y=True)
    >>> problem = Problem("iris", "tiny", X.astype("float32"), y,
    ...                   MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0),
    ...                   {"alpha": [1e-4, 1e-2]}, KFold(2), "float32", 4)
    >>> row = measure_problem(problem, peak_gflops={"float32": 100.0})
    >>> row["n_fits"], sorted(row["warm"])
    (4, ['compile_seconds', 'fits_per_second', 'seconds', 'share_of_peak', 'useful_gflops'])
    """
    return run_measurement(
        problem, peak_gflops=peak_gflops, compare_sklearn=compare_sklearn, refit=refit
    )[0]


def run_measurement(
    problem, *, peak_gflops: dict, compare_sklearn: bool = False, refit: bool = False
):
    """`measure_problem`'s row and the fitted (cold) search."""
    import jax
    from sklearn.exceptions import ConvergenceWarning

    import vgrid

    from .flops import search_flop

    warnings.simplefilter("ignore", ConvergenceWarning)
    clock = CompileClock()
    rss_before = peak_rss_mib()
    p = problem

    def fit():
        return vgrid.GridSearchCV(p.estimator, p.grid, cv=p.cv, refit=refit).fit(p.X, p.y)

    clock.lap()
    search, cold_s = timed(fit)
    cold_compile = clock.lap()
    _, warm_s = timed(fit)
    warm_compile = clock.lap()
    memory = device_memory()
    flop = search_flop(search, p.X, p.y, p.cv, p.dtype)
    peak = peak_gflops[p.dtype]
    n_devices = jax.local_device_count()
    reports = list(getattr(search, "vectorization_", []))
    slots = [getattr(r, "slots", None) for r in reports]
    row = {
        "workload": p.name,
        "size": p.size,
        "dtype": p.dtype,
        "devices": n_devices,
        "n_fits": p.n_fits,
        "n_candidates": p.n_candidates,
        "n_splits": p.cv.get_n_splits(),
        "n_samples": int(p.X.shape[0]),
        "n_features": int(p.X.shape[1]),
        "definition": p.describe(),
        "refit": refit,
        "useful_gflop": flop / 1e9,
        "cold": _rates(p.n_fits, cold_s, cold_compile, flop, peak),
        "warm": _rates(p.n_fits, warm_s, warm_compile, flop, peak),
        "compile_seconds": cold_compile,
        "peak_gflops": peak,
        "device_peak_mib": memory["peak_mib"],
        "device_limit_mib": memory["limit_mib"],
        "host_peak_rss_mib": peak_rss_mib(),
        "host_rss_before_fit_mib": rss_before,
        "models_per_device": math.ceil(p.n_fits / n_devices),
        "models_per_call": max((s for s in slots if s is not None), default=None),
        "programs": [str(r) for r in reports],
        "best_score": float(search.best_score_)
        if refit
        else float(np.max(search.cv_results_["mean_test_score"])),
    }
    if compare_sklearn:
        row["sklearn"] = measure_sklearn(p, vgrid_warm_seconds=warm_s)
    return row, search


def _rates(n_fits, seconds, compile_seconds, flop, peak_gflops):
    return {
        "seconds": seconds,
        "compile_seconds": compile_seconds,
        "fits_per_second": n_fits / seconds,
        "useful_gflops": flop / 1e9 / seconds,
        "share_of_peak": flop / 1e9 / seconds / peak_gflops,
    }


def measure_sklearn(problem, vgrid_warm_seconds) -> dict:
    """scikit-learn's `GridSearchCV(n_jobs=-1)` on the first candidates of the grid, at most
    `problem.sklearn_max_fits` fits (scikit-learn's time is linear in the fits), no refit."""
    from sklearn.model_selection import GridSearchCV as SkGridSearchCV
    from sklearn.model_selection import ParameterGrid

    p = problem
    n_candidates = max(1, min(p.n_candidates, p.sklearn_max_fits // p.cv.get_n_splits()))
    sample = [
        {k: [v] for k, v in params.items()} for params in list(ParameterGrid(p.grid))[:n_candidates]
    ]
    search = SkGridSearchCV(p.estimator, sample, cv=p.cv, n_jobs=-1, refit=False)
    _, seconds = timed(lambda: search.fit(p.X, p.y))
    n_fits = n_candidates * p.cv.get_n_splits()
    vgrid_rate = p.n_fits / vgrid_warm_seconds
    return {
        "n_fits": n_fits,
        "seconds": seconds,
        "fits_per_second": n_fits / seconds,
        "vgrid_warm_speedup": vgrid_rate / (n_fits / seconds),
    }
