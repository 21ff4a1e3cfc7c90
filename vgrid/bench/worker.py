"""One measurement of `vgrid bench`, in this fresh process: `python -m vgrid.bench.worker TASK
OUT` reads the task (JSON) and writes its result (JSON). `vgrid.bench.runner` starts it."""

from __future__ import annotations

import json
import sys
import warnings


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
        return {
            "machine": measure.machine(),
            "peak": {d: measure.matmul_peak(d) for d in task["dtypes"]} if enough else None,
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
    task_path, out_path = (argv or sys.argv[1:])[:2]
    warnings.simplefilter("ignore")
    with open(task_path) as f:
        task = json.load(f)
    row = run_task(task)
    with open(out_path, "w") as f:
        json.dump(row, f, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
