"""`vgrid bench`'s report: the JSON document (`schema.json`), the table, the plot.

Example:
    >>> summary = scaling_summary([], devices=1, stopped_by="cap", cap=4)
    >>> summary["points"], summary["stopped_by"]
    (0, 'cap')
"""

from __future__ import annotations

import json
from importlib import resources

from .workloads import SCALING, WORKLOADS_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "document",
    "load_schema",
    "plot",
    "progress",
    "require_matplotlib",
    "markdown",
    "scaling_summary",
    "share",
    "table",
    "validate",
    "wall_time",
]

SCHEMA_VERSION = 2


def load_schema() -> dict:
    """The JSON schema that `vgrid bench --json` output follows (shipped in the package)."""
    return json.loads(resources.files("vgrid.bench").joinpath("schema.json").read_text())


def validate(doc: dict) -> None:
    """Check `doc` against the schema when `jsonschema` is installed (the tests install it)."""
    try:
        import jsonschema
    except ImportError:
        return
    jsonschema.validate(doc, load_schema())


def document(*, machine, peak, size, dtype, results, scaling, options, created, seconds) -> dict:
    """The JSON document; `seconds`: the run's wall seconds ("total") and the probe's."""
    return {
        "schema_version": SCHEMA_VERSION,
        "workloads_version": WORKLOADS_VERSION,
        "created": created,
        "options": options,
        "size": size,
        "dtype": dtype,
        "machine": machine,
        "peak": peak,
        "results": results,
        "scaling": scaling,
        "seconds": seconds,
    }


def scaling_summary(rows, devices, stopped_by, cap) -> dict:
    """How far the curve went and why it stopped; the spread of warm fits/s from 1,000 models
    up (max over min: 1.0 is flat)."""
    good = [r for r in rows if "error" not in r]
    big = [r["warm"]["fits_per_second"] for r in good if r["models"] >= 1000]
    return {
        "devices": devices,
        "points": len(good),
        "stopped_by": stopped_by,
        "cap": cap,
        "max_models": max((r["models"] for r in good), default=None),
        "warm_fits_per_second_spread_from_1000": (max(big) / min(big) if len(big) >= 2 else None),
    }


def progress(total: int, desc: str):
    """A progress bar on stderr when it is a terminal (tqdm), else silent: a redirected stderr
    keeps only errors."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="run", leave=False, disable=None)


def share(value: float) -> str:
    """A share of peak as a percentage, with two decimals below 1%."""
    return f"{value:.0%}" if value >= 0.01 else f"{value:.2%}"


def _mib(value) -> str:
    return "-" if value is None else f"{value:,.0f}"


def table(doc: dict) -> str:
    """The results as a fixed-width text table, with the machine and the peaks above it."""
    m = doc["machine"]
    lines = [
        f"vgrid bench ({doc['size']}, workloads v{doc['workloads_version']}): "
        f"{m['device_count']} x {m['device_kind']} ({m['platform']}), {m['cpu']}, "
        f"{m['cpu_count']} CPUs, jax {m['jax']}",
        "matmul peak per device: "
        + ", ".join(f"{d} {p['per_device_gflops']:,.0f} GFLOP/s" for d, p in doc["peak"].items()),
    ]
    header = (
        "workload",
        "dev",
        "fits",
        "cold fits/s",
        "warm fits/s",
        "compile s",
        "GFLOP/s warm",
        "of peak",
        "dev MiB",
        "RSS MiB",
        "models/dev",
        "sklearn fits/s",
    )
    rows: list[tuple[str, ...]] = []
    for r in doc["results"]:
        name = _name(r)
        if "error" in r:
            rows.append((name, str(r.get("devices", "")), "", f"error: {r['error']}"[:60]))
            continue
        sk = r.get("sklearn")
        rows.append(
            (
                name,
                str(r["devices"]),
                f"{r['n_fits']:,}",
                f"{r['cold']['fits_per_second']:,.1f}",
                f"{r['warm']['fits_per_second']:,.1f}",
                f"{r['compile_seconds']:.2f}",
                f"{r['warm']['useful_gflops']:,.1f}",
                share(r["warm"]["share_of_peak"]),
                _mib(r["device_peak_mib"]),
                _mib(r["host_peak_rss_mib"]),
                f"{r['models_per_device']:,}",
                f"{sk['fits_per_second']:,.1f}" if sk else "-",
            )
        )
    widths = [
        max(len(str(row[i])) for row in [header, *rows] if i < len(row)) for i in range(len(header))
    ]
    for row in [header, *rows]:
        lines.append(
            "  ".join(
                str(c).rjust(w) if i else str(c).ljust(w)
                for i, (c, w) in enumerate(zip(row, widths))
            )
        )
    for s in doc["scaling"]:
        spread = s["warm_fits_per_second_spread_from_1000"]
        lines.append(
            f"scaling on {s['devices']} device(s): {s['points']} points up to "
            f"{s['max_models']} models, stopped by {s['stopped_by']}"
            + (f"; warm fits/s from 1,000 models up within {spread:.2f}x" if spread else "")
        )
    lines.append(wall_time(doc))
    return "\n".join(lines)


def wall_time(doc: dict) -> str:
    """One line: the run's wall seconds, the probe's and each measurement process's."""
    parts = [f"probe {doc['seconds']['probe']:.1f}"] + [
        f"{_name(r)} {r['process_seconds']:.1f}" for r in doc["results"] if "process_seconds" in r
    ]
    return (
        f"wall time {doc['seconds']['total']:.1f} s ({doc['options']['processes']}ed "
        f"processes): {', '.join(parts)}"
    )


def _name(row: dict) -> str:
    return f"{row['workload']} {row['models']}" if row["workload"] == SCALING else row["workload"]


def markdown(doc: dict) -> str:
    """The results as a markdown table (for `benchmarks/README.md`)."""
    m = doc["machine"]
    lines = [
        f"{m['device_count']} x {m['device_kind']} ({m['platform']}), {m['cpu']}, "
        f"{m['cpu_count']} CPUs; jax {m['jax']}; {doc['created']}; size {doc['size']}, "
        f"workloads v{doc['workloads_version']}. Matmul peak per device: "
        + ", ".join(f"{d} {p['per_device_gflops']:,.0f} GFLOP/s" for d, p in doc["peak"].items())
        + ".",
        "",
        "| workload | devices | fits | fits/s cold (compile) | fits/s warm | useful GFLOP/s "
        "warm (share of peak) | device peak | host RSS | models/device | scikit-learn "
        "fits/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["results"]:
        name = _name(r)
        if "error" in r:
            lines.append(f"| {name} | {r.get('devices', '')} | error: {r['error']} |||||||")
            continue
        sk = r.get("sklearn")
        sk_cell = f"{sk['fits_per_second']:,.1f} ({sk['n_fits']} fits)" if sk else "-"
        device = "-" if r["device_peak_mib"] is None else f"{r['device_peak_mib']:,.0f} MiB"
        lines.append(
            f"| {name} | {r['devices']} | {r['n_fits']:,} | {r['cold']['fits_per_second']:,.1f} "
            f"({r['compile_seconds']:.1f} s) | {r['warm']['fits_per_second']:,.1f} "
            f"| {r['warm']['useful_gflops']:,.1f} ({share(r['warm']['share_of_peak'])}) "
            f"| {device} | {r['host_peak_rss_mib']:,.0f} MiB | {r['models_per_device']:,} "
            f"| {sk_cell} |"
        )
    return "\n".join([*lines, "", wall_time(doc) + "."]) + "\n"


def require_matplotlib() -> None:
    from .runner import BenchError

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise BenchError("--plot needs matplotlib: pip install 'vgrid[plot]'") from None


def plot(doc: dict, path: str) -> bool:
    """Warm and cold fits/s per workload (log scale, with the share of peak), and the scaling
    curve: fits/s against models, one line per device count. False (nothing written) when no
    workload has results."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grids = [r for r in doc["results"] if r["workload"] != SCALING and "error" not in r]
    panels = [
        draw
        for draw, present in ((_plot_workloads, grids), (_plot_scaling, doc["scaling"]))
        if present
    ]
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    for draw, ax in zip(panels, axes[0]):
        draw(doc, ax)
    m = doc["machine"]
    fig.suptitle(f"vgrid bench ({doc['size']}): {m['device_count']} x {m['device_kind']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _plot_workloads(doc, ax):
    import numpy as np

    grids = [r for r in doc["results"] if r["workload"] != SCALING and "error" not in r]
    x = np.arange(len(grids))
    ax.bar(x - 0.2, [r["cold"]["fits_per_second"] for r in grids], 0.4, label="cold")
    bars = ax.bar(x + 0.2, [r["warm"]["fits_per_second"] for r in grids], 0.4, label="warm")
    for bar, r in zip(bars, grids):
        ax.annotate(
            share(r["warm"]["share_of_peak"]),
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_yscale("log")
    ax.set_xticks(x, [f"{r['workload']}\n{r['devices']} dev" for r in grids], fontsize=8)
    ax.set_ylabel("fits per second (labels: warm share of matmul peak)")
    ax.set_title("Workloads")
    ax.legend()


def _plot_scaling(doc, ax):
    for s in doc["scaling"]:
        points = sorted(
            (
                r
                for r in doc["results"]
                if r["workload"] == SCALING and "error" not in r and r["devices"] == s["devices"]
            ),
            key=lambda r: r["models"],
        )
        models = [r["models"] for r in points]
        ax.loglog(
            models,
            [r["warm"]["fits_per_second"] for r in points],
            "o-",
            label=f"warm, {s['devices']} dev",
        )
        ax.loglog(
            models,
            [r["cold"]["fits_per_second"] for r in points],
            "s--",
            label=f"cold, {s['devices']} dev",
        )
        sk = [r for r in points if r.get("sklearn")]
        if sk:
            ax.loglog(
                [r["models"] for r in sk],
                [r["sklearn"]["fits_per_second"] for r in sk],
                "^:",
                label=f"scikit-learn, {s['devices']} dev",
            )
    ax.set_xlabel("models in the grid")
    ax.set_ylabel("fits per second")
    ax.set_title("Scaling")
    ax.legend()
