"""Planning: which models share a compiled program, and how much padding that costs.

Jobs are first grouped by what must be static (`engine.STATIC_PARAMS`, depth, dtype, ...).
Inside a group, models of different widths (hidden layers, and the input: the folds of a
TF-IDF pipeline, a grid over PCA's `n_components`) can share one program by padding to the
widest, which wastes the padded work; or be split into buckets, each costing one more compilation.
`plan_groups` chooses the split that minimises the estimated time, from a `CostModel` of
measured compile seconds and FLOP/s per worker thread. Given `room_rows` (the rows a later
refit will train on), groups get room for that many rows and minibatches, so that the refit's
lone model fits in a program already compiled (`fits_in`) instead of compiling its own.
Given a `PlanFloor` (the architectures and table sizes that later calls may bring, e.g. the next
batches of an Optuna study, whose search space is known up front), a static group is planned as
one program wide enough for all of them when the cost model finds that the padded work it adds
now costs less than the compilations it saves later; those later calls then train in it
(`scheduling.ProgramCache.hosted_plan`) and compile nothing.

Example:
    >>> cost = CostModel()
    >>> cost.flops_per_second("float64") < cost.flops_per_second("float32")
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import numpy as np

from .training import GroupConfig

__all__ = [
    "MLPStaticKey",
    "CostModel",
    "COST_MODEL",
    "GroupPlan",
    "PlanFloor",
    "ProgramReport",
    "contiguous_buckets",
    "plan_groups",
    "model_flops",
    "padded_widths",
    "fits_in",
    "layer_units",
]


class MLPStaticKey(NamedTuple):
    """What must be equal for MLP jobs to share a program (`mlp_kind.prepare` computes it)."""

    dtype: str  # the data's dtype string ('<f8' exact mode, '<f4' fast mode)
    solver: str
    no_hidden: bool  # no hidden layer at all
    out_activation: str
    loss: str
    is_classifier: bool
    n_outputs: int
    batch_bucket: int  # batch sizes within a factor of two share a program


def layer_units(hidden, n_features: int, n_outputs: int) -> list[int]:
    """Units of every layer, input and output included (scikit-learn's `layer_units`)."""
    return [n_features, *hidden, n_outputs]


def _n_minibatches(n_rows: int, batch_size: int) -> int:
    """Minibatches per epoch on `n_rows` training rows (the last one may be partial)."""
    return -(-n_rows // batch_size)


def model_flops(hidden, n_features, n_outputs, n_train, epochs) -> float:
    """Training FLOPs of one model: 6 x weights x samples x epochs (forward 2, backward 4)."""
    units = layer_units(hidden, n_features, n_outputs)
    weights = sum(a * b for a, b in zip(units[:-1], units[1:]))
    return 6.0 * weights * n_train * epochs


@dataclass(frozen=True)
class CostModel:
    """Estimated seconds to compile one more program, and training FLOP/s per worker thread.

    Fixed numbers, so that the same grid is always split the same way (a plan that changed
    from run to run would change shapes and recompile). The CPU defaults were measured on a
    2-core machine (benchmarks/README.md, "The measurements behind vgrid's constants"). On an
    accelerator, work is far cheaper than a compilation, so padding nearly always wins.
    """

    compile_seconds: float = 0.65
    cpu_rates: tuple[tuple[str, float], ...] = (("float32", 150e9), ("float64", 55e9))
    accelerator_speedup: float = 100.0
    #: scikit-learn's own NumPy fit of one model: a fixed cost per minibatch (Python and small
    #: array calls) plus its FLOPs at NumPy's rate.
    numpy_batch_seconds: float = 150e-6
    numpy_rate: float = 25e9
    #: A program compiled for a quick compile (`training.QUICK_COMPILE_OPTIONS`, CPU only):
    #: the seconds of XLA it saves, and by what share it slows training, per dtype.
    quick_compile_saving: float = 0.27
    quick_compile_slowdowns: tuple[tuple[str, float], ...] = (("float32", 0.45), ("float64", 0.2))

    def flops_per_second(self, dtype: str, backend: str = "cpu") -> float:
        rate = dict(self.cpu_rates).get(dtype, dict(self.cpu_rates)["float32"])
        return rate if backend == "cpu" else rate * self.accelerator_speedup

    def vgrid_seconds(
        self, plan: GroupPlan, n_threads: int = 1, epochs: int | None = None, compiled: bool = False
    ) -> float:
        """Estimated seconds to train a lone model's plan (compiling its program unless
        `compiled`), for `epochs` epochs (default: its `max_iter`)."""
        rate = self.flops_per_second(plan.dtype, jax.default_backend()) * n_threads
        return (0.0 if compiled else self.compile_seconds) + (
            _share(plan, epochs) * plan.padded_flops / rate
        )

    def compiles_quickly(self, padded_flops: float, dtype: str, n_threads: int) -> bool:
        """Whether a program doing `padded_flops` of training (every model's `max_iter`: an
        upper bound) on `n_threads` threads is cheaper compiled quickly: on the CPU, when the
        training time its slower kernels add is below the compile time they save."""
        if jax.default_backend() != "cpu":
            return False
        seconds = padded_flops / (self.flops_per_second(dtype) * n_threads)
        slowdowns = dict(self.quick_compile_slowdowns)
        slowdown = slowdowns.get(dtype, slowdowns["float32"])
        return slowdown * seconds < self.quick_compile_saving

    def numpy_fit_is_cheaper(
        self, plan: GroupPlan, n_threads: int = 1, epochs: int | None = None, compiled: bool = False
    ) -> bool:
        """Whether scikit-learn's NumPy fit of this lone model costs less than training it
        with vgrid (`vgrid_seconds`), both for `epochs` epochs (default: its `max_iter`)."""
        (member,) = plan.members
        share = _share(plan, epochs)
        n_batches = _n_minibatches(len(member.randomness.train_rows), member.batch_size)
        numpy_seconds = (
            share * member.estimator.max_iter * n_batches * self.numpy_batch_seconds
            + share * plan.useful_flops / self.numpy_rate
        )
        return numpy_seconds < self.vgrid_seconds(plan, n_threads, epochs, compiled)


def _share(plan: GroupPlan, epochs: int | None) -> float:
    """Share of a lone model's max_iter that `epochs` (None: all of them) amounts to."""
    max_iter = plan.members[0].estimator.max_iter
    return 1.0 if epochs is None else min(epochs, max_iter) / max_iter


COST_MODEL = CostModel()


@dataclass
class GroupPlan:
    """One compiled program's worth of jobs: their static settings and padded shapes."""

    #: The kind's static settings (hashable): `training.GroupConfig` for the MLPs,
    #: `flax_kind.FlaxConfig` for Flax modules.
    config: Any
    members: list  # what the kind's `prepare` made: mlp_kind.MLPMember, flax_kind.FlaxMember
    #: Lower bounds on the group's array shapes (`layout.build_inputs`): "n_rows", "n_val",
    #: "n_data", "n_orders", "n_table_epochs", "n_inits". Room for a refit, or a host
    #: program's exact shapes.
    min_shapes: dict = field(default_factory=dict)
    #: The `kinds.ModelKind` that builds, trains and writes back this group (set by its `plan`).
    #: (`kinds.ModelKind`, typed Any: its optional methods are looked up with getattr).
    kind: Any = None
    #: The kind's `build_inputs(plan)`, kept by a signature check for the run that follows
    #: it (`scheduling._prepare_group`), which then does not build them again.
    built_inputs: Any = field(default=None, repr=False, compare=False)

    @property
    def n_models(self) -> int:
        return len(self.members)

    @property
    def dtype(self) -> str:
        """The training dtype (the data's: one group never mixes dtypes)."""
        return self.members[0].data.X.dtype.name

    def _flops(self, padded: bool) -> float:
        return sum(
            model_flops(
                self.config.hidden_widths if padded else p.hidden,
                self.config.n_features if padded else p.data.X.shape[1],
                self.config.n_outputs,
                len(p.randomness.train_rows),
                p.estimator.max_iter,
            )
            for p in self.members
        )

    @property
    def useful_flops(self) -> float:
        """FLOPs of the real (unpadded) models, if every model ran to its max_iter."""
        return self._flops(padded=False)

    @property
    def padded_flops(self) -> float:
        return self._flops(padded=True)

    @property
    def padding_overhead(self) -> float:
        """Extra work due to padding, as a fraction of the useful work."""
        useful = self.useful_flops
        return self.padded_flops / useful - 1 if useful else 0.0


@dataclass(frozen=True)
class PlanFloor:
    """What the programs of one planning call should hold beyond its own models, so that
    later calls (the next batches of an Optuna study) train in them without compiling.

    `architectures`: hidden layer sizes later models may have (tuples; the widest at each
    depth is what counts, see `padded_widths`); `activations`: hidden activations they may
    use (several make the program's activation "mixed"); `min_shapes`: floors on a group's
    array shapes (`GroupPlan.min_shapes` keys: "n_data", "n_orders", "n_inits", ...), e.g. the
    distinct data sets, minibatch orders and initial weights a whole batch can bring;
    `later_calls`: how many later calls may reuse the program. Architectures and activations
    are applied only when `plan_groups` finds it pays (`_floor_pays`); `min_shapes` always.
    Padding is exact (masked units are zero and get zero gradient), so a floor changes which
    program trains a model, never its numbers.
    """

    architectures: tuple = ()
    activations: tuple = ()
    min_shapes: dict = field(default_factory=dict)
    later_calls: int = 1


def padded_widths(archs) -> tuple:
    """Hidden widths one program needs for these architectures: the widest at each depth; when
    depths differ, skipped layers pass their input through, so every layer gets the widest."""
    depth = max(len(h) for h in archs)
    if all(len(h) == depth for h in archs):
        return tuple(max(h[i] for h in archs) for i in range(depth))
    return (max(w for h in archs for w in h),) * depth


#: Room for a refit is given only when it at most doubles a group's minibatches per epoch
#: (k-fold cross-validation trains on (k-1)/k of the rows: 1.25x to 2x).
MAX_ROOM_FACTOR = 2


def _batch_size_on(p, n_rows: int) -> int:
    """The minibatch size job `p`'s estimator would use on `n_rows` training rows."""
    requested = 200 if p.estimator.batch_size == "auto" else p.estimator.batch_size
    return int(np.clip(requested, 1, n_rows))


def _make_plan(
    key,
    members,
    room_rows: int | None = None,
    cost: CostModel = COST_MODEL,
    n_threads: int = 1,
    floor: PlanFloor | None = None,
    widen: bool = False,
) -> GroupPlan:
    """One group's plan; with `floor`, its `min_shapes` floors, and with `widen` too, room
    for the floor's architectures and activations."""
    dtype, solver, out_activation, loss = key.dtype, key.solver, key.out_activation, key.loss
    clf, n_out = key.is_classifier, key.n_outputs
    archs = [p.hidden for p in members]
    activations = {p.estimator.activation for p in members}
    if widen and floor is not None:
        # A network without hidden layers is a static key of its own: not this program's.
        archs += [tuple(h) for h in floor.architectures if len(h)]
        activations |= set(floor.activations)
    activation = activations.pop() if len(activations) == 1 else "mixed"
    es = any(p.estimator.early_stopping for p in members)
    widths = padded_widths(archs)
    mixed_depths = len({len(h) for h in archs}) > 1
    batch_size = max(p.batch_size for p in members)
    batches = [_n_minibatches(len(p.randomness.train_rows), p.batch_size) for p in members]
    n_batches = max(batches)
    min_shapes = {}
    room_batches = max(_n_minibatches(room_rows or 0, p.batch_size) for p in members)
    if (
        room_rows
        and room_batches <= MAX_ROOM_FACTOR * n_batches
        and all(_batch_size_on(p, room_rows) == p.batch_size for p in members)
    ):
        # Room for the refit's rows and minibatches (its extra minibatches are skipped here).
        n_batches = max(n_batches, room_batches)
        min_shapes["n_rows"] = room_rows
        if es:
            min_shapes["n_val"] = max(
                math.ceil(p.estimator.validation_fraction * room_rows)
                for p in members
                if p.estimator.early_stopping
            )
    if floor is not None:
        for name, value in floor.min_shapes.items():
            min_shapes[name] = max(min_shapes.get(name, 0), value)
    max_epochs = max(p.estimator.max_iter for p in members)
    config = GroupConfig(
        widths,
        mixed_depths,
        max(p.data.X.shape[1] for p in members),
        n_out,
        activation,
        out_activation,
        loss,
        solver,
        es,
        clf,
        batch_size,
        n_batches,
        max_epochs,
        padding_batches=min(batches) < n_batches,
        weighted=any(p.data.weighted for p in members),
    )
    # Longest first, so that worker threads finish together.
    members = sorted(members, key=lambda p: -p.estimator.max_iter * len(p.randomness.train_rows))
    plan = GroupPlan(config, members, min_shapes)
    # A program widened for the floor trains the later calls too (about as much each): its
    # slower quick-compiled kernels would cost on all of them.
    calls = 1 + (floor.later_calls if widen and floor is not None else 0)
    plan.config = config._replace(
        quick_compile=cost.compiles_quickly(
            calls * plan.padded_flops, np.dtype(dtype).name, min(n_threads, len(members))
        )
    )
    return plan


class _RunSeconds:
    """`seconds(i, j)`: compile + padded training time of one program for `shapes[i:j]`
    ((input width, hidden widths) pairs, `row_epochs[shape]` the summed training rows x
    `max_iter` of its members: training FLOPs are 6 x weights x rows x epochs). Each run's
    padded widths and work are extended from the last call with the same `i`, so the
    dynamic program of `contiguous_buckets` costs O(len(shapes)^2), not O(len(shapes)^3)."""

    def __init__(self, shapes, row_epochs, n_outputs, compile_seconds, rate):
        self.shapes, self.row_epochs = shapes, row_epochs
        self.n_outputs, self.compile_seconds, self.rate = n_outputs, compile_seconds, rate
        self.runs: dict = {}  # i: [end, n_features, depths, per-position max, widest, work]

    def __call__(self, i, j):
        run = self.runs.setdefault(i, [i, 0, set(), [], 0, 0.0])
        end, n_features, depths, per_position, widest, work = run
        for n, hidden in self.shapes[end:j]:
            n_features = max(n_features, n)
            depths.add(len(hidden))
            widest = max([widest, *hidden])
            for q, width in enumerate(hidden):
                if q < len(per_position):
                    per_position[q] = max(per_position[q], width)
                else:
                    per_position.append(width)
            work += self.row_epochs[(n, hidden)]
        run[:] = [max(end, j), n_features, depths, per_position, widest, work]
        # `padded_widths`: the widest at each depth, or everywhere when depths differ
        widths = tuple(per_position) if len(depths) == 1 else (widest,) * len(per_position)
        flops = model_flops(widths, n_features, self.n_outputs, 1, 1) * work
        return self.compile_seconds + flops / self.rate


def _bucket_by_width(key, members, cost: CostModel, n_threads: int) -> list[list]:
    """Split a static group into buckets of input and hidden widths minimising compile +
    padded training time: the best contiguous split of its (input width, hidden widths)
    pairs sorted by cost, or, when the cost model rates it cheaper, the best split of each
    input width's own pairs (the split of a grid before input widths were padded)."""
    by_shape: dict = {}  # (input width, hidden widths): members
    for p in members:
        by_shape.setdefault((p.data.X.shape[1], p.hidden), []).append(p)
    if len(by_shape) == 1:
        return [members]
    rate = cost.flops_per_second(np.dtype(key.dtype).name, jax.default_backend()) * n_threads
    row_epochs = {
        shape: float(sum(len(p.randomness.train_rows) * p.estimator.max_iter for p in group))
        for shape, group in by_shape.items()
    }

    def run_seconds(shapes):
        return _RunSeconds(shapes, row_epochs, key.n_outputs, cost.compile_seconds, rate)

    def split(shapes):  # (estimated seconds, buckets)
        shapes = sorted(
            shapes, key=lambda s: (model_flops(s[1], s[0], key.n_outputs, 1, 1), s[0], s[1])
        )
        buckets = contiguous_buckets(shapes, by_shape, run_seconds(shapes))
        runs = [list({(p.data.X.shape[1], p.hidden): None for p in bucket}) for bucket in buckets]
        return sum(run_seconds(run)(0, len(run)) for run in runs), buckets

    joint = split(list(by_shape))
    widths = sorted({n for n, _ in by_shape})
    if len(widths) == 1:
        return joint[1]
    per_width = [split([s for s in by_shape if s[0] == n]) for n in widths]
    if sum(seconds for seconds, _ in per_width) < joint[0]:
        return [bucket for _, buckets in per_width for bucket in buckets]
    return joint[1]


def contiguous_buckets(archs: list, members_of: dict, seconds) -> list[list]:
    """The split of `archs` (sorted by cost) into contiguous runs that minimises the sum of
    `seconds(i, j)` (one program for `archs[i:j]`), by dynamic programming; the members of
    each run's architectures (`members_of[arch]`), run by run."""
    best, cut = [0.0] + [float("inf")] * len(archs), [0] * (len(archs) + 1)
    for j in range(1, len(archs) + 1):
        for i in range(j):
            candidate = best[i] + seconds(i, j)
            if candidate < best[j]:
                best[j], cut[j] = candidate, i
    buckets, j = [], len(archs)
    while j > 0:
        buckets.append([p for h in archs[cut[j] : j] for p in members_of[h]])
        j = cut[j]
    return buckets[::-1]


def _plan_seconds(plan: GroupPlan, cost: CostModel, n_threads: int) -> float:
    """Estimated seconds to compile and train a plan (every model to its max_iter)."""
    rate = cost.flops_per_second(plan.dtype, jax.default_backend()) * n_threads
    return cost.compile_seconds + plan.padded_flops / rate


def _floor_pays(own: list, wide: GroupPlan, later_calls: int, cost: CostModel, n_threads) -> bool:
    """Whether one program wide enough for the floor (`wide`) beats the group's own plans:
    its padded work now, against their compilations now and the `later_calls` compilations
    it may save."""
    wide_seconds = _plan_seconds(wide, cost, n_threads)
    own_seconds = sum(_plan_seconds(plan, cost, n_threads) for plan in own)
    return wide_seconds <= own_seconds + later_calls * cost.compile_seconds


def plan_groups(
    prepared: list,
    cost: CostModel = COST_MODEL,
    n_threads: int = 1,
    room_rows: int | None = None,
    floor: PlanFloor | None = None,
):
    """Group prepared jobs by static settings, then bucket widths by the cost model; with
    `room_rows`, every group has room for a later refit on that many rows. With a `floor`, a
    static group is one program wide enough for the floor when that pays (`_floor_pays`)."""
    by_key: dict = {}
    for p in prepared:
        by_key.setdefault(p.static_key, []).append(p)
    plans = []
    for key, members in by_key.items():
        own = [
            _make_plan(key, bucket, room_rows, cost, n_threads, floor)
            for bucket in _bucket_by_width(key, members, cost, n_threads)
        ]
        if floor is not None and not key.no_hidden:
            wide = _make_plan(key, members, room_rows, cost, n_threads, floor, widen=True)
            if _floor_pays(own, wide, floor.later_calls, cost, min(n_threads, len(members))):
                own = [wide]
        plans.extend(own)
    return plans


def fits_in(p, static_key: tuple, config: GroupConfig, shapes: dict) -> bool:
    """Whether prepared job `p` can train, with exactly its own numbers, in the program of a
    group with this static key, config and array shapes (`layout.input_shapes`)."""
    widths, hidden = config.hidden_widths, p.hidden
    if config.mixed_depths:
        widths_ok = len(hidden) <= len(widths) and all(h <= widths[0] for h in hidden)
    else:
        widths_ok = len(hidden) == len(widths) and all(h <= w for h, w in zip(hidden, widths))
    est, n_train = p.estimator, len(p.randomness.train_rows)
    n_batches = _n_minibatches(n_train, p.batch_size)
    return (
        p.static_key == static_key
        and p.data.X.shape[1] <= config.n_features
        and widths_ok
        and config.activation in (est.activation, "mixed")
        and (config.early_stopping or not est.early_stopping)
        and (config.weighted or not p.data.weighted)
        and p.batch_size <= config.batch_size
        and n_batches <= config.n_batches
        and (config.padding_batches or n_batches == config.n_batches)
        and est.max_iter <= config.max_epochs
        and len(p.data.X) <= shapes["n_rows"]
        and len(p.randomness.val_rows) <= shapes["n_val"]
        and len(p.randomness.orders) <= shapes["n_table_epochs"]
    )


@dataclass
class ProgramReport:
    """How one compiled program was used: what `GridSearchCV.vectorization_` lists."""

    solver: str
    activation: str
    early_stopping: bool
    dtype: str
    hidden_widths: tuple  # padded
    n_models: int
    slots: int  # models per program call (the vmapped model axis)
    threads: int  # worker threads running calls concurrently
    padding_overhead: float  # extra work from padding, fraction of useful work
    compile_seconds: float  # 0.0 when the program came from a cache
    train_seconds: float
    useful_gflop: float  # 6 x real weights x samples x epochs actually run, in GFLOP
    workers: tuple = ()  # "host:pid" of the joblib workers that trained chunks (empty: here)
    quick_compile: bool = False  # compiled for a quick compile (`GroupConfig.quick_compile`)

    #: What the program trains, for kinds whose settings are not an MLP's (a Flax module's
    #: class, padded fields and switches); replaces "solver/activation hidden widths".
    description: str = ""

    def __str__(self) -> str:
        what = self.description or (f"{self.solver}/{self.activation} hidden {self.hidden_widths}")
        return (
            f"{self.n_models} models {what} {self.dtype}: {self.slots} per call x "
            f"{self.threads} threads, padding +{100 * self.padding_overhead:.0f}%, "
            f"compile {self.compile_seconds:.2f}s{' (quick)' if self.quick_compile else ''}, "
            f"train {self.train_seconds:.2f}s, "
            f"{self.useful_gflop / max(self.train_seconds, 1e-9):.1f} GFLOP/s"
        )
