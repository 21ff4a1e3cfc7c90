"""A model's numbers never depend on how its group is scheduled, nor on its neighbours.

XLA may order a reduction differently for a different model-axis size, so across schedules the
numbers agree to rounding (1e-13 here; observed 2e-16), not bit for bit; n_iter_ is equal.
"""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid, StratifiedKFold

import vgrid
from vgrid import FitJob, fit_estimators

from helpers import assert_same_search


def _fit_grid(X, y, grid, **schedule):
    est = vgrid.MLPClassifier(hidden_layer_sizes=(6,), max_iter=30, random_state=0)
    folds = list(StratifiedKFold(3).split(X, y))
    jobs = [
        FitJob(clone(est).set_params(**params), X[train], y[train], data_key=f)
        for params in ParameterGrid(grid)
        for f, (train, _) in enumerate(folds)
    ]
    fit_estimators(jobs, **schedule)
    return [
        (job.estimator.n_iter_, job.estimator.loss_curve_, job.estimator.coefs_) for job in jobs
    ]


GRID = {
    "learning_rate_init": [1e-3, 3e-2],
    "tol": [1e-4, 5e-2],
    "alpha": [1e-4, 1e-1],
    "hidden_layer_sizes": [(3,), (6,)],
}


@pytest.mark.parametrize(
    "schedule",
    [
        dict(n_threads=1, n_slots=1, segment_epochs=1),
        dict(n_threads=2, n_slots=5, segment_epochs=7),
        dict(n_threads=3, n_slots=2, segment_epochs=30),
    ],
)
def test_scheduling_never_changes_numbers(datasets, schedule):
    X, y = datasets["wine"]
    reference = _fit_grid(X, y, GRID, n_threads=1, n_slots=48, segment_epochs=1000)
    assert len({n_iter for n_iter, _, _ in reference}) > 3  # models really stop at different times
    for (n_ref, curve_ref, coefs_ref), (n, curve, coefs) in zip(
        reference, _fit_grid(X, y, GRID, **schedule)
    ):
        assert n == n_ref
        np.testing.assert_allclose(curve, curve_ref, rtol=0, atol=1e-13)
        for a, b in zip(coefs, coefs_ref):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


@pytest.mark.parametrize(
    "schedule", [dict(n_threads=1, n_slots=1), dict(n_threads=2, n_slots=3, segment_epochs=4)]
)
def test_diverging_model_changes_no_other_model_in_any_layout(datasets, schedule):
    X, y = datasets["diabetes"]
    grid = {"learning_rate_init": [1e-3, 1e3, 1e-2], "solver": ["sgd"]}
    est = vgrid.MLPRegressor(hidden_layer_sizes=(6,), max_iter=20, random_state=0)
    folds = list(StratifiedKFold(3).split(X, y > y.mean()))

    def fit(grid):
        jobs = [
            FitJob(clone(est).set_params(**params), X[train], y[train], data_key=f)
            for params in ParameterGrid(grid)
            for f, (train, _) in enumerate(folds)
        ]
        outcomes = fit_estimators(jobs, raise_errors=False, **schedule)
        return jobs, outcomes

    jobs, outcomes = fit(grid)
    failed = [o.error is not None for o in outcomes]
    assert failed == [False] * 3 + [True] * 3 + [False] * 3  # lr=1e3 diverges on every fold
    assert "Solver produced non-finite parameter weights" in outcomes[3].error
    calm, _ = fit({**grid, "learning_rate_init": [1e-3, 1e-2]})
    for job, alone in zip(jobs[:3] + jobs[6:], calm):
        np.testing.assert_allclose(
            job.estimator.loss_curve_, alone.estimator.loss_curve_, rtol=0, atol=1e-13
        )


def test_candidate_scores_do_not_depend_on_the_rest_of_the_grid(datasets):
    X, y = datasets["wine"]
    full = _fit_grid(X, y, GRID)
    alone = _fit_grid(X, y, {key: values[-1:] for key, values in GRID.items()})
    last = full[-3:]  # the last candidate of ParameterGrid(GRID), its three folds
    for (n_a, curve_a, coefs_a), (n_b, curve_b, coefs_b) in zip(alone, last):
        assert n_a == n_b
        np.testing.assert_allclose(curve_a, curve_b, rtol=0, atol=1e-13)
        for coef_a, coef_b in zip(coefs_a, coefs_b):
            np.testing.assert_allclose(coef_a, coef_b, rtol=0, atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_same_call_gives_bitwise_the_same_results(datasets, dtype):
    X, y = datasets["wine"]
    X = X.astype(dtype)
    first, second = _fit_grid(X, y, GRID), _fit_grid(X, y, GRID)
    for (n_a, curve_a, coefs_a), (n_b, curve_b, coefs_b) in zip(first, second):
        assert n_a == n_b
        np.testing.assert_array_equal(curve_a, curve_b)
        for a, b in zip(coefs_a, coefs_b):
            np.testing.assert_array_equal(a, b)


class _FakeGPU:
    platform = "gpu"

    def __init__(self, free):
        self.free = free

    def memory_stats(self):
        return {"bytes_limit": self.free, "bytes_in_use": 0}


def test_accelerator_slots_are_bounded_by_free_memory():
    from vgrid.mlp_kind import _model_state_bytes
    from vgrid.scheduling import _default_slots
    from vgrid.training import GroupConfig

    config = GroupConfig(
        (256, 256), False, 64, 3, "relu", "softmax", "log_loss", "adam", False, True, 200, 50, 100
    )
    per_model = _model_state_bytes(config, 64, 4)
    plenty = _default_slots(per_model, 4096, 1, device=_FakeGPU(10**12))
    assert plenty == 4096  # the whole group in one program when it fits
    tight = _default_slots(per_model, 4096, 1, device=_FakeGPU(100 * per_model))
    assert tight == 50  # half of the free memory
    assert _default_slots(per_model, 4096, 1, device=_FakeGPU(per_model)) == 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_chunk_size_never_changes_a_score(datasets, dtype):
    X, y = datasets["wine"]
    X = X.astype(dtype)
    grid = {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 1e-2, 1e-1]}
    searches = []
    for chunk_size in ("auto", 1, 7):
        searches.append(
            vgrid.GridSearchCV(
                vgrid.MLPClassifier(hidden_layer_sizes=(6,), max_iter=20, random_state=0),
                grid,
                cv=3,
                chunk_size=chunk_size,
                refit=False,
            ).fit(X, y)
        )
    assert_same_search(searches[1], searches[0])
    assert_same_search(searches[2], searches[0])
    with pytest.raises(ValueError, match="chunk_size must be 'auto' or a positive integer"):
        vgrid.GridSearchCV(vgrid.MLPClassifier(), grid, chunk_size=0).fit(X, y)


def test_blocks_of_candidates_give_the_same_results(datasets, monkeypatch):
    import vgrid.search

    X, y = datasets["iris"]
    grid = {"alpha": list(np.logspace(-5, 0, 7)), "learning_rate_init": [1e-3, 1e-2]}
    make = lambda: vgrid.GridSearchCV(  # noqa: E731
        vgrid.MLPClassifier(hidden_layer_sizes=(5,), max_iter=10, random_state=0), grid, cv=3
    )
    whole = make().fit(X, y)
    monkeypatch.setattr(vgrid.search, "BLOCK_MODELS", 6)  # 2 candidates x 3 folds a block
    blocked = make().fit(X, y)
    assert len(blocked.vectorization_) == 7  # one program call per block
    assert_same_search(blocked, whole)
    np.testing.assert_allclose(
        blocked.learning_curves_["loss"], whole.learning_curves_["loss"], rtol=0, atol=1e-13
    )  # other slot counts: rounding only
