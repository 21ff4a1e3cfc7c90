"""Running a group's program: compilation, worker threads, and slots that are refilled.

`run_groups` compiles every group's program ahead of time (all at once, concurrently), then
trains the groups one after the other. On the CPU, one worker thread per core trains one model
per call (see `CPU_SLOTS`), taking the next model as soon as one stops; on an accelerator, one
worker holds as many models as fit in half its free memory, refilling a slot as soon as its
model stops.
With several local devices (GPUs, or CPU devices forced with
`XLA_FLAGS=--xla_force_host_platform_device_count=N`), the slot axis is sharded over all of them
with `jax.sharding` (a 1-D mesh named "models"): one program, each device training its share.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import deque
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, NamedSharding, PartitionSpec
from joblib import Parallel, delayed
from joblib.parallel import get_active_backend

from .checkpoint import fingerprint_of
from .plan import GroupPlan

__all__ = [
    "PROGRAMS",
    "ProgramCache",
    "enable_compilation_cache",
    "run_groups",
    "skips_padding_batches",
]


def enable_compilation_cache(path: str | None = None) -> str | None:
    """Turn on JAX's persistent compilation cache, so a rerun of the same grid compiles nothing.

    Called once by `run_groups`. It does nothing when the user already configured a cache
    (`jax_compilation_cache_dir`) or set the environment variable `VGRID_COMPILATION_CACHE=0`;
    otherwise the cache lives in `VGRID_COMPILATION_CACHE` or `~/.cache/vgrid/jax`.
    Returns the directory in use, or None.
    """
    global _CACHE_CHECKED
    if _CACHE_CHECKED:
        return jax.config.values["jax_compilation_cache_dir"]
    _CACHE_CHECKED = True
    setting = os.environ.get("VGRID_COMPILATION_CACHE", "")
    if setting == "0" or jax.config.values["jax_compilation_cache_dir"]:
        return jax.config.values["jax_compilation_cache_dir"]
    path = path or setting or os.path.join(os.path.expanduser("~"), ".cache", "vgrid", "jax")
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    return path


_CACHE_CHECKED = False


def _default_worker_threads() -> int:
    """XLA:CPU runs one program of small matmuls on about one core: one worker per core. With
    several devices, one worker drives them all through one sharded program."""
    if jax.default_backend() != "cpu" or jax.local_device_count() > 1:
        return 1
    return max(
        1,
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
    )


def _take(tree, index):
    """A copy (never a view) of every leaf's rows `index`."""
    return jax.tree.map(lambda a: np.array(a[index]), tree)


def _host(tree):
    """Every leaf as a NumPy array: on the CPU a read-only view of the device's buffer (no
    copy, a tenth of `jax.device_get`'s time), from an accelerator a copy."""
    return jax.tree.map(np.asarray, tree)


#: Arrays to device arrays: jit's own argument handling, several times quicker than
#: `jax.device_put` on a tree of small NumPy arrays (both copy).
_on_device = jax.jit(lambda tree: tree)


@jax.jit
def _slot_row(tree, slot):
    """Slot `slot` of every leaf, with a slot axis of one, on the device."""
    return jax.tree.map(lambda a: jax.lax.dynamic_slice_in_dim(a, slot, 1), tree)


@jax.jit
def _with_slot_row(tree, slot, row):
    """`tree` with slot `slot` of every leaf replaced by `row`'s, on the device."""
    return jax.tree.map(
        lambda a, r: jax.lax.dynamic_update_slice_in_dim(a, r.astype(a.dtype), slot, 0), tree, row
    )


class _Waiting(NamedTuple):
    """A model waiting for a slot: its inputs and state (a slot axis of one) and the number of
    stops `on_segment` had made when it was last shown that state (None: never shown)."""

    model_index: int
    models: Any
    state: Any
    shown_at: int | None


class _SlotScheduler:
    """Feeds a group's models through fixed-size sets of slots, refilling a slot when its model
    stops, so that a model that stopped early does not keep costing work. Each worker thread
    owns one set of slots; all sets have the same size, so they share one compiled program.
    Between segments the slots' inputs and states stay on the device, and so do the states of
    models parked mid-training on the CPU (on an accelerator those wait in host memory, which
    keeps a group within the memory `_default_slots` budgets): only the `done` flags, and what
    `on_segment` reads, come back to the host."""

    def __init__(
        self,
        plan,
        shared,
        inits,
        models,
        n_slots,
        segment_epochs,
        on_done=None,
        sharding=None,
        indices=None,
        on_segment=None,
    ):
        self.plan, self.shared, self.inits, self.models = plan, shared, inits, models
        self.on_done, self.sharding, self.on_segment = on_done, sharding, on_segment
        self.n_slots, self.segment_epochs = n_slots, segment_epochs
        self.program = plan.kind.program(plan.config)
        # Items: a model's index (fresh), or a `_Waiting` model parked mid-training.
        self.queue = deque(range(plan.n_models) if indices is None else indices)
        self.lock = threading.Lock()
        self.results = [None] * plan.n_models
        self.stop = threading.Event()  # set on Ctrl-C: every worker ends after its segment
        self.x64 = False  # whether the program runs with 64-bit types (set by `work`)
        self.n_stops = 0  # how many times `on_segment` has stopped models
        self.parks_on_host = jax.default_backend() != "cpu"

    def _next(self):
        with self.lock:
            return self.queue.popleft() if self.queue else None

    def _claim(self) -> _Waiting | None:
        """The next waiting model to train, or None when none is left. A parked model is shown
        to `on_segment` again if it has stopped some model since it last saw this one (a
        trial pruned meanwhile); if it stops this one too, it is finished instead."""
        while (item := self._next()) is not None:
            if isinstance(item, _Waiting):
                if self.on_segment is not None and item.shown_at != self.n_stops:
                    if self._ends_at(item.model_index, item.state):
                        continue
                return item
            one = _take(self.models, np.array([item]))
            resume = self.plan.members[item].resume
            if resume is not None:
                state = self.plan.kind.pad_state(resume, self.plan.config, self.plan.members[item])
            else:
                state = self.plan.kind.fresh_states(self.plan, self.inits, one)
            if self.n_slots == 1 and self.segment_epochs < self.plan.config.max_epochs:
                # its own calls, several: put there once (slots copy a row in themselves)
                with jax.enable_x64(self.x64):
                    one, state = _on_device((one, state))
            return _Waiting(item, one, state, None)
        return None

    def _park(self, m, models, state, shown_at):
        """Queue model m mid-training: last with `on_segment` (the models take turns), first
        without."""
        if self.parks_on_host:
            models, state = _host(models), _host(state)
        waiting = _Waiting(m, models, state, shown_at)
        with self.lock:
            if self.on_segment is None:
                self.queue.appendleft(waiting)
            else:
                self.queue.append(waiting)

    def _stops(self, members, states):
        """`on_segment(plan, members, states)`: which of these models to stop now."""
        stops = np.asarray(self.on_segment(self.plan, members, states), bool)
        if stops.any():
            with self.lock:
                self.n_stops += 1
        return stops

    def _ends_at(self, m, state) -> bool:
        """Show `on_segment` model m's `state` (slot axis of one); if it stops the model
        there, finish the model with that state and return True."""
        host = _host(state)
        if not self._stops([m], host)[0]:
            return False
        self._finish(m, host, 0)
        return True

    def _finish(self, m, host_states, slot):
        """Model m's result: its final state (host arrays) in `slot` of `host_states`."""
        state = jax.tree.map(lambda a: a[slot], host_states)
        self.results[m] = state._replace(done=np.bool_(True))
        if self.on_done is not None:
            self.on_done()

    def _refill(self, slot, owner, models, states):
        """The slots' inputs and states with `slot` given the next waiting model (or, when
        none is left, marked done)."""
        claim = self._claim()
        with jax.enable_x64(self.x64):
            if claim is None:
                owner[slot] = None
                return models, states._replace(done=states.done.at[slot].set(True))
            owner[slot] = claim.model_index
            return (
                _with_slot_row(models, slot, claim.models),
                _with_slot_row(states, slot, claim.state),
            )

    def work(self, x64):
        """Train models until none is left. With `on_segment`, after every segment the models
        just trained are shown to it and those it names stop there (their slot is refilled),
        and a model not finished goes back to the end of the queue while others wait: the
        models of a group take turns segment by segment (with one worker, every model advances
        one segment before any advances two), so that the checks compare models at about the
        same epoch. Exact: a state resumes where it stopped."""
        self.x64 = x64
        if self.n_slots == 1:  # one device (several shard more slots than one)
            return self._work_pipelined()
        claims = [self._claim() for _ in range(self.n_slots)]
        if claims[0] is None:
            return
        owner = [None if c is None else c.model_index for c in claims]
        with jax.enable_x64(x64):  # an empty slot holds a copy of the first model, marked done
            rows = [((c or claims[0]).models, (c or claims[0]).state) for c in claims]
            models, states = jax.tree.map(lambda *r: jnp.concatenate(r), *rows)
            empty = np.array([slot for slot, m in enumerate(owner) if m is None], int)
            states = states._replace(done=states.done.at[empty].set(True))
        while any(m is not None for m in owner) and not self.stop.is_set():
            with jax.enable_x64(x64):
                if self.sharding is not None:
                    models, states = jax.device_put((models, states), self.sharding)
                states = self.program(
                    self.plan.config, self.shared, models, states, np.int32(self.segment_epochs)
                )
                done = np.array(states.done)
            live = [slot for slot, m in enumerate(owner) if m is not None]
            host = _host(states) if self.on_segment is not None or done[live].any() else None
            shown_at = self.n_stops
            if self.on_segment is not None and live:
                shown = host if len(live) == self.n_slots else _take(host, live)
                done[live] |= self._stops([owner[s] for s in live], shown)
            for slot in live:
                m = owner[slot]
                if done[slot]:
                    self._finish(m, host, slot)
                elif self.on_segment is not None and self.queue:
                    with jax.enable_x64(x64):
                        row_models, row_state = _slot_row((models, states), slot)
                    self._park(m, row_models, row_state, shown_at)
                else:
                    continue
                models, states = self._refill(slot, owner, models, states)

    def _work_pipelined(self):
        """`work` with one model per call (the CPU's). JAX returns from a call before the model
        has trained, so the next model's call is made first and the last one's result is
        looked at (by `on_segment` too) while the device trains."""
        in_flight = None
        while not self.stop.is_set():
            stops_seen = self.n_stops
            claim = self._claim()
            if claim is None and in_flight is None:
                return
            if claim is not None:
                with jax.enable_x64(self.x64):
                    after = self.program(
                        self.plan.config,
                        self.shared,
                        claim.models,
                        claim.state,
                        np.int32(self.segment_epochs),
                    )
            if in_flight is not None:
                self._settle(*in_flight)
            in_flight = None if claim is None else (claim, after, stops_seen)

    def _settle(self, claim: _Waiting, after, stops_seen: int):
        """A model after its call: finished if done (or stopped by `on_segment`), else parked.
        If `on_segment` stopped some model after the call was made, a model it had been shown
        before is first shown again as it was before the call (what `_claim` would have done
        had the call been made later): if it stops there (its trial was pruned while the call
        ran), that is where it ends, and the call's result is dropped."""
        m = claim.model_index
        if (
            self.on_segment is not None
            and claim.shown_at is not None
            and self.n_stops != stops_seen
        ):
            if self._ends_at(m, claim.state):
                return
        done = bool(np.asarray(after.done)[0])  # waits for the call
        host = _host(after) if done or self.on_segment is not None else None
        shown_at = self.n_stops
        if self.on_segment is not None:
            done |= bool(self._stops([m], host)[0])
        if done:
            self._finish(m, host, 0)
        else:
            self._park(m, claim.models, after, shown_at)


class _GroupRun(NamedTuple):
    plan: GroupPlan
    shared: object  # the kind's shared inputs, on the device (replicated over every device)
    inits: object
    models: object  # the kind's per-model inputs (leading model axis), on the host
    n_threads: int
    n_slots: int
    segment_epochs: int
    x64: bool
    sharding: object  # NamedSharding of the slot axis over every local device, or None


#: CPU slots: one model per program call. A one-model program is compiled without vmap (plain
#: matrix products, no per-leaf selects to freeze stopped models): the fastest count on every
#: grid measured (benchmarks/README.md, "The measurements behind vgrid's constants").
CPU_SLOTS = 1


def skips_padding_batches(n_slots: int | None = None) -> bool:
    """Whether a minibatch of padding only costs (next to) nothing with this many models per
    call (None: the default): in one-model programs (the CPU's, see `CPU_SLOTS`) the step is
    skipped; batched, it is computed and discarded."""
    return (
        jax.default_backend() == "cpu"
        and jax.local_device_count() == 1
        and (n_slots or CPU_SLOTS) == 1
    )


#: Share of an accelerator's free memory that one group's slots may take.
ACCELERATOR_MEMORY_SHARE = 0.5


def _default_slots(per_model_bytes: int, n_models: int, n_threads: int, device=None) -> int:
    """Models per program call. On the CPU: `CPU_SLOTS` (one). On an accelerator: as many as
    fit in `ACCELERATOR_MEMORY_SHARE` of its free memory (all of the group when they fit), so
    that a grid larger than the device runs in bounded memory."""
    per_thread = -(-n_models // n_threads)
    device = device or jax.devices()[0]
    if device.platform == "cpu":
        return CPU_SLOTS
    stats = device.memory_stats() or {}
    free = stats.get("bytes_limit", 0) - stats.get("bytes_in_use", 0)
    if free <= 0:
        return per_thread
    budget = ACCELERATOR_MEMORY_SHARE * free
    return int(max(1, min(per_thread, budget // per_model_bytes)))


def _prepare_group(
    plan: GroupPlan, n_threads=None, n_slots=None, segment_epochs=None, chunk_size=None, place=True
):
    """The group's arrays and how it runs; its shared arrays are put on the device(s) unless
    `place` is False (enough for its `_signature`: then the arrays are kept on the plan for
    its run, which does not build them again)."""
    built = plan.built_inputs or plan.kind.build_inputs(plan)
    plan.built_inputs = None if place else built
    shared, inits, models = built
    n_devices = jax.local_device_count()
    n_threads = min(n_threads or _default_worker_threads(), plan.n_models)
    n_slots = n_slots or n_devices * _default_slots(
        plan.kind.model_bytes(plan.config, shared), plan.n_models, max(n_threads, n_devices)
    )
    if chunk_size:
        n_slots = min(n_slots, chunk_size)  # a chunk never needs more models per program
    sharding = replicated = None
    if n_devices > 1:
        # The slot axis is sharded over every local device: one program, each device trains
        # its share of the models. Every device gets the same number of slots.
        n_slots = -(-n_slots // n_devices) * n_devices
        mesh = jax.make_mesh((n_devices,), ("models",), axis_types=(AxisType.Auto,))
        sharding = NamedSharding(mesh, PartitionSpec("models"))
        replicated = NamedSharding(mesh, PartitionSpec())
    if segment_epochs is None:
        # With one slot, or slots for every model, nothing is refilled mid-way: train in one
        # call (on an accelerator this also keeps the state on the device the whole time).
        everything_fits = n_slots * n_threads >= plan.n_models
        segment_epochs = (
            plan.config.max_epochs
            if n_slots == 1 or everything_fits
            else max(1, plan.config.max_epochs // 10)
        )
    x64 = plan.dtype == "float64"
    if place:
        with jax.enable_x64(x64):
            shared = jax.device_put(shared, replicated)
    return _GroupRun(plan, shared, inits, models, n_threads, n_slots, segment_epochs, x64, sharding)


def _signature(run: _GroupRun):
    """What identifies the group's compiled program, and the slot inputs it is compiled for."""
    slots = _take(run.models, np.zeros(run.n_slots, int))
    states = run.plan.kind.fresh_states(run.plan, run.inits, slots)
    shapes = str(
        jax.tree.map(lambda a: (np.shape(a), np.asarray(a).dtype.str), (run.shared, slots, states))
    )
    return (run.plan.kind.name, run.plan.config, run.x64, shapes), slots, states


class ProgramCache:
    """The programs compiled in this process: which signatures are in jit's cache (so a warm
    call skips tracing), and the recent ones a lone model may train in (`hosted_plan`).

    Lifetime: the process. Entries are only added (the host list keeps the newest
    `max_hosts`); `clear()` forgets them (jit's own cache and JAX's persistent cache on disk
    are not touched). Thread-safe: worker threads and concurrent compilations share it.
    """

    def __init__(self, max_hosts: int = 64):
        self._lock = threading.Lock()
        self._compiled: set = set()
        self._hosts: deque = deque(maxlen=max_hosts)

    def clear(self) -> None:
        with self._lock:
            self._compiled.clear()
            self._hosts.clear()

    def compile(self, run: _GroupRun) -> bool:
        """Compile the group's program ahead of time (it lands in jit's cache); False if it
        was compiled before in this process."""
        signature, slots, states = _signature(run)
        with self._lock:
            if signature in self._compiled:
                return False
        with jax.enable_x64(run.x64):
            placed = (
                (slots, states)
                if run.sharding is None
                else jax.device_put((slots, states), run.sharding)
            )
            run.plan.kind.program(run.plan.config).lower(
                run.plan.config, run.shared, *placed, np.int32(run.segment_epochs)
            ).compile()
        kind = run.plan.kind
        with self._lock:
            self._compiled.add(signature)
            if hasattr(kind, "fits_in"):
                self._hosts.append(
                    (
                        kind,
                        run.plan.members[0].static_key,
                        run.plan.config,
                        kind.input_shapes(run.shared, run.inits, run.models),
                    )
                )
        return True

    def is_compiled(self, plan: GroupPlan) -> bool:
        """Whether the plan's own program was compiled in this process."""
        signature = _signature(_prepare_group(plan, place=False))[0]
        with self._lock:
            return signature in self._compiled

    def hosted_plan(self, plan: GroupPlan) -> GroupPlan | None:
        """The plan in the shapes of a program already compiled in this process that can
        train every one of its models with exactly its own numbers, or None: a lone model (a
        refit in a program given room for it, say), or a whole group when its kind says
        `hosts_groups` (the next batch of an Optuna study in the program the first batch
        compiled wide enough). Its arrays are padded to that program's shapes, so running it
        compiles nothing. For kinds that host groups (the MLPs, whose programs of wider
        inputs or layers can hold a model too) it takes the one with the least padded work;
        for others, the newest."""
        kind = plan.kind
        if plan.n_models > 1 and not getattr(kind, "hosts_groups", False):
            return None
        with self._lock:
            hosts = list(reversed(self._hosts))
        first, *others = plan.members
        candidates = [
            GroupPlan(config, plan.members, shapes, kind)
            for host_kind, static_key, config, shapes in hosts
            if host_kind is kind
            and kind.fits_in(first, static_key, config, shapes)  # most hosts fail here
            and all(kind.fits_in(member, static_key, config, shapes) for member in others)
        ]
        if getattr(kind, "hosts_groups", False):  # the MLPs': programs padded in input and width
            candidates.sort(key=lambda hosted: hosted.padded_flops)  # stable: newest first on ties
        for hosted in candidates:
            # The group's tables (distinct data sets, orders, initial weights) must fit too:
            # the same signature means the same shapes.
            if self.is_compiled(hosted):
                return hosted
        return None


#: The process's program cache (see `ProgramCache`).
PROGRAMS = ProgramCache()


def _chunk_key(run: _GroupRun, chunk) -> str:
    """What determines a chunk's results: the program, its layout (models per call, devices:
    XLA may round differently for another layout, and results are never mixed) and, per model,
    its parameters, data, random stream and starting state."""
    plan = run.plan
    return fingerprint_of(
        plan.kind.name,
        plan.kind.config_identity(plan.config),
        run.n_slots,
        jax.local_device_count(),
        run.x64,
        [plan.kind.chunk_identity(plan.members[i]) for i in chunk],
    )


def _joblib_workers() -> int | None:
    """How many joblib workers the user opened a backend for (`with joblib.parallel_backend(
    "dask"):` and the like), or None outside such a context: then chunks run here."""
    backend, n_jobs = get_active_backend()
    if n_jobs is None:
        return None
    return max(1, backend.effective_n_jobs(n_jobs))


def _train_chunk(plan: GroupPlan, n_slots: int, segment_epochs: int):
    """A chunk of a group, trained wherever joblib sends it (a Dask worker, say) on that
    machine's own devices; the same slots and program as a local run, so the same numbers."""
    run = _prepare_group(plan, n_slots=n_slots, segment_epochs=segment_epochs)
    states = _execute_group(run)
    return states, f"{socket.gethostname()}:{os.getpid()}"


def results_interruptibly(futures, poll_seconds: float = 0.05) -> list:
    """The futures' results, waiting in short timed waits: Python runs a signal's handler
    (Ctrl-C's KeyboardInterrupt) in the main thread only when that thread runs Python code,
    and a signal the kernel hands to another thread (a worker, one of XLA's) does not wake
    the main thread from an untimed wait, which would then last until every future is done."""
    while True:
        done, pending = wait(futures, timeout=poll_seconds, return_when=FIRST_EXCEPTION)
        for future in done:
            error = future.exception()
            if error is not None:  # raised now, not once the other workers have finished
                raise error
        if not pending:
            return [f.result() for f in futures]


def _run_workers(scheduler: _SlotScheduler, n_threads: int, x64: bool) -> None:
    """Run the scheduler on `n_threads` worker threads (or this one). On Ctrl-C (or a worker's
    error) every worker stops after its current segment instead of training the rest of the
    chunk, and the interrupt is raised: the chunks already finished are saved."""
    if n_threads == 1:
        return scheduler.work(x64)
    pool = ThreadPoolExecutor(n_threads)
    try:
        results_interruptibly([pool.submit(scheduler.work, x64) for _ in range(n_threads)])
    except BaseException:
        scheduler.stop.set()
        raise
    finally:
        pool.shutdown(wait=True)


def _execute_group(
    run: _GroupRun, on_done=None, chunk_size=None, checkpoint=None, workers=None, on_segment=None
):
    """Train a group's models, `chunk_size` at a time (all at once by default); with a
    `Checkpoint`, a chunk found there is loaded instead of trained, and each trained chunk is
    saved as soon as it is finished. Inside a user's joblib backend context the chunks are
    dispatched through joblib (one per worker by default) and `workers` collects where they ran.
    """
    n = run.plan.n_models
    n_workers = _joblib_workers()
    size = chunk_size or (-(-n // n_workers) if n_workers else n)
    results = [None] * n
    pending = []
    for start in range(0, n, size):
        chunk = list(range(start, min(start + size, n)))
        key = _chunk_key(run, chunk) if checkpoint is not None else None
        if checkpoint is not None:
            template = run.plan.kind.fresh_states(
                run.plan, run.inits, _take(run.models, np.array(chunk))
            )
            loaded = checkpoint.load(key, template)
            if loaded is not None:
                for j, i in enumerate(chunk):
                    results[i] = _take(loaded, j)
                    if on_done is not None:
                        on_done()
                continue
        pending.append((chunk, key))

    def finish(chunk, key, chunk_states):
        for j, i in enumerate(chunk):
            results[i] = _take(chunk_states, j)
        if checkpoint is not None:
            checkpoint.save(key, chunk_states)

    if n_workers:
        tasks = (
            delayed(_train_chunk)(
                GroupPlan(
                    run.plan.config,
                    [run.plan.members[i] for i in chunk],
                    run.plan.min_shapes,
                    run.plan.kind,
                ),
                run.n_slots,
                run.segment_epochs,
            )
            for chunk, _ in pending
        )
        for (chunk, key), (chunk_states, worker) in zip(pending, Parallel()(tasks)):
            finish(chunk, key, chunk_states)
            if workers is not None:
                workers.append(worker)
            for _ in chunk:
                if on_done is not None:
                    on_done()
    for chunk, key in [] if n_workers else pending:
        scheduler = _SlotScheduler(
            run.plan,
            run.shared,
            run.inits,
            run.models,
            run.n_slots,
            run.segment_epochs,
            on_done,
            run.sharding,
            chunk,
            on_segment,
        )
        _run_workers(scheduler, run.n_threads, run.x64)
        finish(
            chunk,
            key,
            jax.tree.map(lambda *rows: np.stack(rows), *[scheduler.results[i] for i in chunk]),
        )
    return jax.tree.map(lambda *rows: np.stack(rows), *results)


def run_groups(
    plans: list[GroupPlan],
    progress=None,
    chunk_size=None,
    checkpoint=None,
    on_segment=None,
    **options,
) -> list:
    """Train every group; returns (final states, ProgramReport) per group, the states as numpy
    arrays with a leading model axis (the kind's `finish` reads them).

    Programs are compiled first, all groups at once (concurrently), then the
    groups train one after the other. On the CPU each group's models are spread over one
    worker thread per core, one model per call (`CPU_SLOTS`), each thread taking the next
    model when one stops; on an accelerator one worker holds as many models as fit
    (`_default_slots`), refilling a slot as its model stops. None of this changes a
    model's numbers beyond rounding: each model's computation is independent of the others,
    and its state carries over exactly from one segment of `segment_epochs` epochs to the next.
    `on_segment(plan, members, states) -> bool mask` (local runs only, not chunks sent to
    joblib workers) sees each model after every segment and stops those it names (pruning);
    see `_SlotScheduler.work`.
    """
    enable_compilation_cache()
    runs = [_prepare_group(plan, chunk_size=chunk_size, **options) for plan in plans]

    def timed_compile(run):
        if _joblib_workers():
            return 0.0  # the chunks compile where they run
        start = time.perf_counter()
        compiled = PROGRAMS.compile(run)
        return time.perf_counter() - start if compiled else 0.0

    with ThreadPoolExecutor(max(1, len(runs))) as pool:
        compile_seconds = results_interruptibly([pool.submit(timed_compile, run) for run in runs])
    finished = []
    for run, compile_time in zip(runs, compile_seconds):
        start = time.perf_counter()
        workers: list = []
        states = _execute_group(run, progress, chunk_size, checkpoint, workers, on_segment)
        report = run.plan.kind.report(
            run.plan,
            run.shared,
            states,
            slots=run.n_slots,
            threads=run.n_threads,
            compile_seconds=compile_time,
            train_seconds=time.perf_counter() - start,
            workers=tuple(sorted(set(workers))),
        )
        finished.append((states, report))
    return finished
