"""One measurement of `vgrid bench`, in a process of its own. `vgrid.bench.runner` starts it.

Two ways to get that process:

- `python -m vgrid.bench.worker TASK OUT`: a new interpreter reads the task (JSON) and writes
  its result (JSON).
- `python -m vgrid.bench.worker --serve`: a server that imports what a measurement imports
  before its first fit (`PRELOAD`: JAX, vgrid, scikit-learn, optax and Flax) and never starts a
  JAX backend, then reads one request a line on stdin (JSON: task, out, log paths and the
  environment) and forks a child for each: the child takes that environment, sends its output
  to the log, runs the task as above and exits; the server answers each line with the child's
  exit status. A child starts with no backend, nothing traced or compiled and (the runner
  points `VGRID_COMPILATION_CACHE` at a new folder) an empty compilation cache, as a new
  interpreter would, without importing everything again (a few seconds a measurement on a
  laptop CPU). Linux only (`fork_is_safe`): elsewhere system libraries may not survive a fork.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
import warnings

# What a measurement has imported when its first fit starts (the same in every workload): the
# server imports exactly these, so a forked child's cold fit imports what a new interpreter's
# would. Modules first imported during a fit (JAX's MLIR dialects) are left to the fit.
PRELOAD = (
    "jax",
    "jax.numpy",
    "sklearn.datasets",
    "sklearn.exceptions",
    "sklearn.model_selection",
    "sklearn.neural_network",
    "sklearn.preprocessing",
    "optax",
    "vgrid",
    "vgrid.flax_models",
    "vgrid.bench.flops",
    "vgrid.bench.measure",
    "vgrid.bench.workloads",
)


def fork_is_safe() -> bool:
    """Whether `--serve` may fork measurements: on Linux. macOS's system libraries (the
    Accelerate BLAS, Grand Central Dispatch) may not survive a fork without exec."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def run_task(task: dict) -> dict:
    """ "probe": the machine and the matmul peak per dtype; "workload" or "scaling": one
    workload's row (see `measure.measure_problem`)."""
    import jax

    from . import measure, workloads

    expected = task.get("devices")
    if expected is not None and jax.local_device_count() != expected:
        raise RuntimeError(
            f"asked for {expected} devices, this process sees "
            f"{jax.local_device_count()} ({jax.local_devices()})"
        )
    if task["kind"] == "probe":  # no peak to measure when the devices asked for are not there
        enough = task.get("max_devices", 1) <= jax.local_device_count()
        repeats = task.get("peak_repeats", 5)
        return {
            "machine": measure.machine(),
            "peak": (
                {d: measure.matmul_peak(d, repeats) for d in task["dtypes"]} if enough else None
            ),
        }
    if task["kind"] == "scaling":
        problem = workloads.build_scaling(task["models"], task["dtype"])
    else:
        problem = workloads.build(task["workload"], task["size"], task["dtype"])
    row = measure.measure_problem(
        problem,
        peak_gflops=task["peak_gflops"],
        compare_sklearn=task.get("compare_sklearn", False),
        refit=task.get("refit", False),
    )
    if task["kind"] == "scaling":
        row.update(size=task["size"], models=task["models"])
    return row


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve"]:
        return serve()
    task_path, out_path = argv[:2]
    warnings.simplefilter("ignore")
    with open(task_path) as f:
        task = json.load(f)
    row = run_task(task)
    with open(out_path, "w") as f:
        json.dump(row, f, default=float)
    return 0


def serve(requests=None, replies=None) -> int:
    """The fork server (see the module's docstring): until stdin closes."""
    requests = requests or sys.stdin
    replies = replies or sys.stdout
    warnings.simplefilter("ignore")  # Python 3.12+ warns on fork in a threaded process (BLAS)
    for name in PRELOAD:
        importlib.import_module(name)
    for line in requests:
        if not line.strip():
            continue
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            _child(request)
        _, status = os.waitpid(pid, 0)
        replies.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
        replies.flush()
    return 0


def _child(request: dict) -> None:
    code = 1
    try:
        os.environ.clear()
        os.environ.update(request["env"])
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)  # stdout is the server's answer pipe: keep the child's output off it
        os.dup2(log, 2)
        os.close(log)
        code = main([request["task"], request["out"]])
    except BaseException:  # noqa: BLE001 - reported through the log, as a new interpreter would
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
