"""`vgrid bench`: run the workloads, each in a process of its own, and report.

The command itself never starts a JAX backend (on a GPU that would hold the memory its
measurements need): a first process probes the machine and measures the matmul peak, then
every workload (and every point of the scaling curve) runs in a process of its own with an
empty compilation cache (`VGRID_COMPILATION_CACHE` pointed at a new folder), so its first fit
is cold and its peak memory its own; its second fit, in the same process, is warm. On Linux
those processes are forked from one server that has imported JAX, vgrid and scikit-learn but
started no backend (`vgrid.bench.worker`), so the imports are paid once, not once a
measurement; `--spawn` (the default elsewhere) starts a new interpreter for each. With
`--devices N` below the machine's count, those processes see N devices:
`CUDA_VISIBLE_DEVICES` (or `HIP_VISIBLE_DEVICES`) on a GPU, XLA's
`--xla_force_host_platform_device_count` on the CPU.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from . import report, workloads
from .worker import fork_is_safe

__all__ = ["BenchError", "add_arguments", "run", "scaling_sizes"]

# The scaling curve: 1, 4, 16, ... models, at most this many (see `scaling_sizes`); quick on a
# CPU: 1, 16 and 64 models (workloads v1 went to 256: a quarter of the quick run's time).
SCALING_CAP = {
    ("cpu", "quick"): 64,
    ("cpu", "full"): 4096,
    ("accelerator", "quick"): 16384,
    ("accelerator", "full"): 262144,
}
# Models grow by this factor from one point to the next (quick: fewer processes to start).
SCALING_FACTOR = {"quick": 16, "full": 4}
# A point whose cold run takes longer than this ends the curve (the next is 4x or 16x the work).
SCALING_SECONDS = {"quick": 15.0, "full": 120.0}


class BenchError(Exception):
    """Bad input to `vgrid bench`: reported as one line on stderr, exit status 2.

    Examples
    --------
    >>> raise BenchError("unknown workload 'mlp'")
    Traceback (most recent call last):
    ...
    vgrid.bench.runner.BenchError: unknown workload 'mlp'
    """


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `vgrid bench`.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        Given ``--workloads``, ``--dtype``, ``--devices``, ``--quick``, ``--json``,
        ``--plot``, ``--compare`` and ``--max-models`` (see ``vgrid bench --help``).

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="vgrid bench")
    >>> add_arguments(parser)
    >>> args = parser.parse_args(["--quick", "--workloads", "mlp_seed", "scaling"])
    >>> args.quick, args.workloads, args.dtype
    (True, ['mlp_seed', 'scaling'], 'float32')
    """
    parser.add_argument(
        "--workloads",
        nargs="+",
        metavar="NAME",
        help="workloads to run, by name (space or comma separated); default: "
        f"{', '.join(workloads.DEFAULT_WORKLOADS)}. Known: "
        f"{', '.join(workloads.WORKLOADS)}",
    )
    parser.add_argument(
        "--dtype",
        default="float32",
        choices=["float32", "float64"],
        help="the MLP grids' dtype (float64: scikit-learn's exact mode); "
        "Flax grids train in float32",
    )
    parser.add_argument(
        "--devices",
        nargs="+",
        type=int,
        metavar="N",
        help="run on N local devices (1 to all); several values give a "
        "device-scaling curve; default: all",
    )
    parser.add_argument(
        "--quick", action="store_true", help="the workloads' quick sizes, meant for a laptop CPU"
    )
    parser.add_argument(
        "--spawn",
        action="store_true",
        help="start each measurement in a new Python interpreter instead of forking it from "
        "one that has imported vgrid (slower by the imports; the default outside Linux)",
    )
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    parser.add_argument(
        "--plot", metavar="PATH", help="draw fits/s and the scaling curve (needs matplotlib)"
    )
    parser.add_argument(
        "--compare",
        choices=["sklearn"],
        help="also time scikit-learn's GridSearchCV(n_jobs=-1) on part of each grid",
    )
    parser.add_argument(
        "--max-models",
        type=int,
        metavar="N",
        help="end the scaling curve at N models (default: what fits the "
        "device memory, at most 64 quick / 4096 full on a CPU)",
    )


def run(args) -> int:
    """The command: validate, run, print the table, write JSON and plot. Exit status: 0, 1 if
    a workload failed, 2 on bad input (one line on stderr).

    Parameters
    ----------
    args : argparse.Namespace
        Options parsed by a parser given `add_arguments`.

    Returns
    -------
    int
        The exit status.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="vgrid bench")
    >>> add_arguments(parser)
    >>> run(parser.parse_args(["--workloads", "mlp"]))   # one line on stderr, nothing run
    2
    """
    try:
        return _run(args)
    except BenchError as exc:
        print(f"vgrid bench: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # the probe process failed: no machine to measure
        print(f"vgrid bench: error: the machine probe failed: {exc}", file=sys.stderr)
        return 1


def _workload_names(requested) -> list[str]:
    if not requested:
        return list(workloads.DEFAULT_WORKLOADS)
    names = [n for item in requested for n in item.split(",") if n]
    unknown = [n for n in names if n not in workloads.WORKLOADS]
    if unknown:
        raise BenchError(
            f"unknown workload {unknown[0]!r}; choose from {', '.join(workloads.WORKLOADS)}"
        )
    return list(dict.fromkeys(names))


def _check_writable(path: str, option: str) -> None:
    """Fail now, not after minutes of measuring, if `path` cannot be written."""
    path = os.path.abspath(path)
    if os.path.isdir(path):
        raise BenchError(f"{option} {path}: is a folder; give a file path")
    existed = os.path.exists(path)
    try:
        with open(path, "a"):
            pass
    except OSError as exc:
        raise BenchError(f"{option} {path}: cannot write ({exc.strerror})") from None
    if not existed:
        os.unlink(path)


def _run(args) -> int:
    names = _workload_names(args.workloads)
    size = "quick" if args.quick else "full"
    if args.json:
        _check_writable(args.json, "--json")
    if args.plot:
        _check_writable(args.plot, "--plot")
    if args.max_models is not None and args.max_models < 1:
        raise BenchError(f"--max-models must be at least 1, got {args.max_models}")
    dtypes = sorted({"float32", args.dtype} | ({"float64"} if "core_a" in names else set()))
    fork = fork_is_safe() and not args.spawn
    started = time.perf_counter()
    # The measurement server is forked from this process first thing, before the progress bar
    # (a thread) or matplotlib: what `python -m vgrid` imported is not imported again.
    with Processes(fork, server_from_here=True) as processes:
        progress = report.progress(total=1, desc="probe")
        try:
            if args.plot:
                report.require_matplotlib()
            probe = processes.run(
                {"kind": "probe", "dtypes": dtypes, "max_devices": max(args.devices or [1])},
                env=dict(os.environ),
            )
            probe_seconds = time.perf_counter() - started
            progress.update(1)
            machine, peak = probe["machine"], probe["peak"]
            device_counts = _device_counts(args.devices, machine)
            results, scaling = _measure_all(
                processes, args, names, size, device_counts, machine, peak, progress
            )
        finally:
            progress.close()
    document = report.document(
        machine=machine,
        peak=peak,
        size=size,
        dtype=args.dtype,
        results=results,
        scaling=scaling,
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        options={
            "workloads": names,
            "dtype": args.dtype,
            "devices": device_counts,
            "quick": bool(args.quick),
            "compare": args.compare,
            "max_models": args.max_models,
            "processes": "fork" if fork else "spawn",
        },
        seconds={"probe": probe_seconds, "total": time.perf_counter() - started},
    )
    print(report.table(document))
    if args.json:
        report.validate(document)
        try:
            with open(args.json, "w") as f:
                json.dump(document, f, indent=2)
        except OSError as exc:
            raise BenchError(f"--json {args.json}: cannot write ({exc.strerror})") from None
        print(f"wrote {args.json}")
    if args.plot:
        drawn = report.plot(document, args.plot)
        print(f"wrote {args.plot}" if drawn else "no plot: no workload has results")
    return 1 if any("error" in r for r in results) else 0


def _measure_all(processes, args, names, size, device_counts, machine, peak, progress):
    """Every workload on every device count, each in a process of its own: (rows, scaling
    summaries)."""
    peak_gflops = {d: p["per_device_gflops"] for d, p in peak.items()}
    results, scaling = [], []
    grids = [n for n in names if n != workloads.SCALING]
    progress.total += len(grids) * len(device_counts)
    for n_devices in device_counts:
        env = _device_env(n_devices, machine)
        peaks = {
            d: g * (1 if machine["platform"] == "cpu" else n_devices)
            for d, g in peak_gflops.items()
        }
        for name in grids:
            progress.set_description(f"{name} ({size}, {n_devices} dev)")
            dtype = {"core_a": "float64", "core_b": "float32"}.get(name, args.dtype)
            task = {
                "kind": "workload",
                "workload": name,
                "size": size,
                "dtype": dtype,
                "devices": n_devices,
                "peak_gflops": peaks,
                "compare_sklearn": args.compare == "sklearn",
            }
            results.append(_row_or_error(processes, task, env))
            progress.update(1)
        if workloads.SCALING in names:
            rows, summary = _scaling_curve(
                processes, args, size, n_devices, machine, env, peaks, progress
            )
            results += rows
            scaling.append(summary)
    return results, scaling


def _device_counts(requested, machine) -> list[int]:
    available = machine["device_count"]
    counts = requested or [available]
    for n in counts:
        if not 1 <= n <= available:
            raise BenchError(
                f"--devices {n}: this machine has {available} "
                f"{machine['platform']} device(s); choose 1 to {available}"
            )
    return list(dict.fromkeys(counts))


def _device_env(n_devices: int, machine: dict) -> dict:
    """The environment of a process that sees the first `n_devices` local devices."""
    env = dict(os.environ)
    if n_devices == machine["device_count"]:
        return env
    platform = machine["platform"]
    if platform == "cpu":
        flags = re.sub(r"--xla_force_host_platform_device_count=\S+", "", env.get("XLA_FLAGS", ""))
        env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n_devices}".strip()
        return env
    if platform in ("gpu", "cuda", "rocm"):
        variable = (
            "HIP_VISIBLE_DEVICES"
            if "rocm" in machine.get("platform_version", "") or platform == "rocm"
            else "CUDA_VISIBLE_DEVICES"
        )
        visible = [v for v in env.get(variable, "").split(",") if v.strip()]
        visible = visible or [str(i) for i in range(machine["device_count"])]
        env[variable] = ",".join(visible[:n_devices])
        return env
    raise BenchError(
        f"--devices {n_devices}: fewer than all {machine['device_count']} devices "
        f"is supported on CPUs and GPUs, not on {platform}"
    )


class Processes:
    """Runs each measurement in a process of its own, with an empty compilation cache.

    `fork=False`: a new interpreter each. `fork=True`: a child of a server that has imported
    what a measurement imports (see `vgrid.bench.worker`); the server is a new interpreter, or,
    with `server_from_here=True`, a fork of this process, which then skips importing it all
    again: for a process that holds nothing a measurement should not inherit (`vgrid bench`
    forks it first thing), and never one that has started a JAX backend (a forked backend
    deadlocks; a new interpreter serves instead). Use it as a context manager (it stops the
    server)."""

    def __init__(self, fork: bool, server_from_here: bool = False):
        self.fork = fork
        self.server_from_here = server_from_here
        #: (requests, replies, wait): wait() reaps it, returns its status
        self._server: tuple[Any, Any, Callable[..., int]] | None = None
        self._server_log: str | None = None

    def __enter__(self):
        if self.fork:
            self._start_server()
        return self

    def __exit__(self, *exc):
        self.close()

    def run(self, task: dict, env: dict) -> dict:
        """`task`'s JSON result, from a process of its own seeing `env`; RuntimeError with the
        last line of its output when it fails."""
        folder = tempfile.mkdtemp(prefix="vgrid-bench-")
        task_path, out_path = os.path.join(folder, "task.json"), os.path.join(folder, "out.json")
        log_path = os.path.join(folder, "log.txt")
        with open(task_path, "w") as f:
            json.dump(task, f)
        env = dict(env, VGRID_COMPILATION_CACHE=os.path.join(folder, "cache"))
        try:
            if self.fork:
                returncode = self._forked(task_path, out_path, log_path, env)
            else:
                with open(log_path, "w") as log:
                    returncode = subprocess.run(
                        [sys.executable, "-m", "vgrid.bench.worker", task_path, out_path],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    ).returncode
            if returncode != 0:
                raise RuntimeError(_last_line(log_path) or f"exit status {returncode}")
            with open(out_path) as f:
                return json.load(f)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _start_server(self) -> None:
        log = tempfile.NamedTemporaryFile(
            "w", prefix="vgrid-bench-server-", suffix=".log", delete=False
        )
        self._server_log = log.name
        if not self.server_from_here or _jax_backend_started():
            server = subprocess.Popen(
                [sys.executable, "-m", "vgrid.bench.worker", "--serve"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
            log.close()
            self._server = (server.stdin, server.stdout, server.wait)
            return
        requests_in, requests_out = os.pipe()
        replies_in, replies_out = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the server: never returns
            code = 1
            try:
                os.close(requests_out)
                os.close(replies_in)
                os.dup2(log.fileno(), 1)
                os.dup2(log.fileno(), 2)
                from .worker import serve

                code = serve(os.fdopen(requests_in), os.fdopen(replies_out, "w"))
            except BaseException:  # noqa: BLE001 - reported through its log
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.close(requests_in)
        os.close(replies_out)
        log.close()

        def wait():
            return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

        self._server = (os.fdopen(requests_out, "w"), os.fdopen(replies_in), wait)

    def _forked(self, task_path, out_path, log_path, env) -> int:
        if self._server is None:
            self._start_server()
        assert self._server is not None  # set by _start_server
        requests, replies, _ = self._server
        request = {"task": task_path, "out": out_path, "log": log_path, "env": env}
        try:
            requests.write(json.dumps(request) + "\n")
            requests.flush()
            reply = replies.readline()
        except OSError:
            reply = ""
        if not reply:  # the server died: report it; the next task starts a new one
            log = self._server_log
            status = self._stop_server()
            raise RuntimeError(f"the measurement server stopped: {_last_line(log) or status}")
        return json.loads(reply)["returncode"]

    def _stop_server(self):
        if self._server is None:
            return None
        requests, replies, wait = self._server
        self._server = None
        for stream in (requests, replies):
            try:
                stream.close()
            except OSError:
                pass
        status = wait()  # the server ends when its requests end
        if self._server_log is not None:
            os.unlink(self._server_log)
        self._server_log = None
        return status

    def close(self) -> None:
        self._stop_server()


def _jax_backend_started() -> bool:
    """Whether this process has started a JAX backend (then it must not be forked)."""
    if "jax" not in sys.modules:
        return False
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):  # a JAX without it: do not risk it
        return True


def _last_line(path) -> str | None:
    try:
        with open(path) as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        return None
    return lines[-1] if lines else None


def _row_or_error(processes: Processes, task: dict, env: dict) -> dict:
    """The task's row, with the wall seconds of its process (start to result), or an error
    row."""
    start = time.perf_counter()
    try:
        row = processes.run(task, env)
    except RuntimeError as exc:
        keys = ("workload", "size", "dtype", "devices", "models")
        return dict({k: task[k] for k in keys if k in task}, error=str(exc))
    return dict(row, process_seconds=time.perf_counter() - start)


def scaling_sizes(cap: int, factor: int = 4) -> list[int]:
    """1, factor, factor**2, ... up to `cap`, and `cap` itself when it is not among them."""
    sizes = [1]
    while sizes[-1] * factor <= cap:
        sizes.append(sizes[-1] * factor)
    return sizes if sizes[-1] == cap else [*sizes, cap]


def _scaling_curve(processes, args, size, n_devices, machine, env, peaks, progress):
    """Points of 1, 4, 16, ... models (1, 16, 256, ... quick; 1, 16, 64 quick on a CPU) until
    the cap, the device memory or the time limit."""
    kind = "cpu" if machine["platform"] == "cpu" else "accelerator"
    cap = args.max_models or SCALING_CAP[kind, size]
    sizes = scaling_sizes(cap, SCALING_FACTOR[size])
    progress.total += len(sizes)
    rows, stopped_by = [], "cap"
    for i, n_models in enumerate(sizes):
        progress.set_description(f"scaling {n_models} models ({n_devices} dev)")
        task = {
            "kind": "scaling",
            "workload": workloads.SCALING,
            "size": size,
            "models": n_models,
            "dtype": args.dtype,
            "devices": n_devices,
            "peak_gflops": peaks,
            "compare_sklearn": args.compare == "sklearn",
        }
        row = _row_or_error(processes, task, env)
        rows.append(row)
        progress.update(1)
        if "error" in row:
            stopped_by = "error"
        elif i + 1 < len(sizes) and not _fits_memory(rows, sizes[i + 1]):
            stopped_by = "memory"
        elif i + 1 < len(sizes) and row["cold"]["seconds"] > SCALING_SECONDS[size]:
            stopped_by = "time"
        else:
            continue
        progress.total -= len(sizes) - i - 1
        break
    return rows, report.scaling_summary(rows, n_devices, stopped_by, cap)


def _fits_memory(rows, next_models) -> bool:
    """Whether `next_models` models fit the devices' memory, extrapolating the device peak
    (per device, against models per device) measured so far; True where the backend reports
    no memory (the CPU)."""
    known = [r for r in rows if "error" not in r and r.get("device_peak_mib") is not None]
    if len(known) < 2 or known[-1].get("device_limit_mib") is None:
        return True
    first, last = known[0], known[-1]
    devices = last["devices"]
    per_model = (last["device_peak_mib"] - first["device_peak_mib"]) / max(
        (last["models"] - first["models"]) / devices, 1e-9
    )
    projected = first["device_peak_mib"] + per_model * (next_models - first["models"]) / devices
    return projected <= last["device_limit_mib"]
