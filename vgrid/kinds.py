"""The contract between the engine and a kind of model: what the planner, the scheduler, the
checkpoints and the reports need to know about a model, and nothing else.

vgrid's engine (`vgrid.engine.fit_estimators`, `vgrid.scheduling.run_groups`) trains many
models of one *kind* at once. A kind says how to turn an estimator and its data into a member
of a group (`prepare`), how to split members into groups that share one compiled program
(`plan`), how to lay a group out in arrays (`build_inputs`) and start its models
(`fresh_states`), the program that advances models by up to k epochs (`program`), and how to
write a finished model back onto its estimator (`finish`). Two kinds exist:

- `vgrid.mlp_kind.MLP_KIND`: scikit-learn's `MLPClassifier`/`MLPRegressor` (exact mode:
  replayed `RandomState`, scikit-learn's formulas);
- `vgrid.flax_kind.FLAX_KIND`: any Flax module with an optax optimizer
  (`vgrid.FlaxClassifier`/`FlaxRegressor`).

Every state a program carries has a leading model axis and the fields `n_iter` (epochs run)
and `done` (the model stopped); the scheduler refills a slot whose model is done, and saves,
loads and ships states as plain pytrees of arrays.

Example:
    >>> from sklearn.neural_network import MLPClassifier
    >>> from vgrid import FlaxClassifier
    >>> kind_of(MLPClassifier()).name, kind_of(FlaxClassifier()).name
    ('mlp', 'flax')
    >>> kind_of(object()) is None
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["ModelKind", "kind_of", "KINDS"]


class ModelKind(Protocol):
    """What the engine needs from a kind of model (see the module docstring)."""

    name: str

    def owns(self, estimator) -> bool:
        """Whether this kind trains `estimator` (an unfitted estimator of one of its types)."""

    def vectorizes(self, estimator) -> bool:
        """Whether this estimator's settings are vectorized (else `fit_one_by_one` fits it)."""

    def fit_one_by_one(self, job) -> str:
        """Fit a job by the estimator's reference code; returns the engine's name for it."""

    def prepare(self, index: int, job, cache: dict) -> Any:
        """Validate one `engine.FitJob` as its estimator's own `fit` would (raising its errors)
        and return the group member it becomes, or None when the job was fit by other code
        (a solver the kind does not vectorize). `cache` is shared by one call's jobs."""

    def plan(self, members: list, *, n_threads: int, room_rows: int | None) -> list:
        """Split members into `plan.GroupPlan`s, one compiled program each (`kind` set);
        with `room_rows`, programs get room for a later refit on that many rows. A kind may
        also take `floor=` (what later calls will bring, e.g. `plan.PlanFloor` for the MLPs:
        `fit_estimators(plan_floors={kind name: floor})` passes it)."""

    def prefers_host(self, own, hosted, job) -> bool:
        """Whether a lone model trains sooner in an already compiled program (`hosted`, a
        plan in that program's shapes) than in its own (`own`). With `input_shapes` and
        `fits_in`, this lets the process's `scheduling.ProgramCache` host it. Optional, as is
        `cheaper_one_by_one(plan, job, hosted)` (the MLPs': scikit-learn's NumPy fit). A kind
        whose `hosts_groups` is True has whole groups hosted too: then it is also called as
        `prefers_host(own, hosted, None, n_threads)`."""

    def build_inputs(self, plan) -> tuple:
        """(shared, inits, models): host arrays of a group; `models` has a leading model axis."""

    def fresh_states(self, plan, inits, models) -> Any:
        """Initial training states for `models` (rows of `build_inputs`' models)."""

    def pad_state(self, state, config, member) -> Any:
        """Member's kept state (`unpad_state`) in a group's shapes, with a leading axis."""

    def unpad_state(self, state, member, plan) -> Any:
        """One model's state in its own shapes, to continue it in any later group."""

    def program(self, config) -> Callable:
        """The jitted `(config, shared, models, states, n_epochs) -> states`."""

    def model_bytes(self, config, shared) -> int:
        """Device bytes one model holds during a segment (sizes the slots to memory)."""

    def config_identity(self, config) -> Any:
        """The group's config as it is described across processes (no memory addresses)."""

    def chunk_identity(self, member) -> Any:
        """Everything that determines a member's results (the checkpoint chunk key)."""

    def report(self, plan, shared, states, **measured):
        """The group's `plan.ProgramReport` (`measured`: slots, threads, seconds, workers)."""

    def finish(self, plan, member, states, m: int, *, snapshot: bool = False) -> None:
        """Write model `m` of a group's final states onto its estimator (may raise). With
        `snapshot` (a look at a model mid-training, e.g. by a pruning hook), what predicting
        and scoring need suffices: a kind may skip what only further training reads."""


def _kinds() -> tuple:
    from .flax_kind import FLAX_KIND
    from .mlp_kind import MLP_KIND

    return (MLP_KIND, FLAX_KIND)


KINDS: Callable[[], tuple] = _kinds


def kind_of(estimator) -> ModelKind | None:
    """The kind that trains `estimator`, or None when vgrid does not vectorize it."""
    return next((kind for kind in KINDS() if kind.owns(estimator)), None)
