"""`vgrid bench`: how many models per second this machine trains, at what share of its peak.

Fixed, versioned workloads (`vgrid.bench.workloads`), each measured in a process of its own
(on Linux forked from one that has imported vgrid and started no JAX backend): fits/s cold
(the process's first fit, empty compilation cache) and warm, compile seconds, useful FLOP/s
from XLA's cost analysis of the real models (`vgrid.bench.flops`) and its share of a matmul
peak measured in the same run, peak device memory and host RSS (`vgrid.bench.measure`); a
table, JSON (`schema.json`) and a plot (`vgrid.bench.report`). `benchmarks/suite.py` uses the
same workloads and measurements beside its peers.

Example (the command line; see `vgrid bench --help`):

    vgrid bench --quick --json bench.json --plot bench.png
"""

from .flops import search_flop
from .measure import measure_problem
from .runner import BenchError, add_arguments, run
from .workloads import DEFAULT_WORKLOADS, WORKLOADS, WORKLOADS_VERSION, build, build_scaling

__all__ = [
    "DEFAULT_WORKLOADS",
    "WORKLOADS",
    "WORKLOADS_VERSION",
    "BenchError",
    "add_arguments",
    "build",
    "build_scaling",
    "measure_problem",
    "run",
    "search_flop",
]
