"""vgrid.OptunaSearchCV and optimize_study: batches, pruning inside the training loop, the
study round trip, determinism, and the error without the optuna extra."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, RandomizedSearchCV, cross_val_score
from sklearn.neural_network import MLPClassifier

optuna = pytest.importorskip("optuna")
from optuna.distributions import FloatDistribution  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from vgrid import FitJob, GridSearchCV, OptunaSearchCV, fit_estimators, optimize_study  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = {
    "learning_rate_init": FloatDistribution(1e-4, 0.3, log=True),
    "alpha": FloatDistribution(1e-6, 1.0, log=True),
}
CV = KFold(3, shuffle=True, random_state=0)


def _mlp(max_iter=30):
    return MLPClassifier(hidden_layer_sizes=(8,), max_iter=max_iter, random_state=0)


_OPTIONS = dict(n_trials=9, trials_per_batch=3, cv=CV, refit=False)


def _search(pruner=None, seed=0, **kwargs):
    options = dict(
        **_OPTIONS,
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=3),
        pruner=pruner,
    )
    return OptunaSearchCV(_mlp(), SPACE, **{**options, **kwargs})


def _median_pruner():
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)


@pytest.fixture(scope="module")
def iris(datasets):
    return datasets["iris"]


@pytest.fixture(scope="module")
def pruned(iris):
    return _search(_median_pruner()).fit(*iris)


def test_batches_are_asked_together_and_told_with_sklearn_scores(iris):
    search = _search().fit(*iris)
    trials = search.study_.trials
    assert search.n_batches_ == 3 and len(trials) == 9
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 9
    # Every trial of a batch was asked before any of them was told; the next batch after.
    for b in range(3):
        batch = trials[3 * b : 3 * b + 3]
        assert max(t.datetime_start for t in batch) < min(t.datetime_complete for t in batch)
        if b:
            assert min(t.datetime_start for t in batch) >= max(
                t.datetime_complete for t in trials[: 3 * b]
            )
    results = search.cv_results_
    assert results["params"] == [t.params for t in trials]
    assert list(results["number"]) == [t.number for t in trials]
    assert list(results["status"]) == ["complete"] * 9
    np.testing.assert_array_equal(results["mean_test_score"], [t.value for t in trials])
    # scikit-learn's keys, plus ours.
    reference = RandomizedSearchCV(_mlp(), {"alpha": [1e-3]}, n_iter=1, cv=CV, refit=False)
    reference.fit(*iris)
    expected = set(reference.cv_results_) - {"param_alpha"} | {
        "param_alpha",
        "param_learning_rate_init",
        "status",
        "number",
    }
    assert set(results) == expected
    # The oracle: scikit-learn's own cross-validation of a trial's parameters (exact mode).
    best = trials[int(np.argmax(results["mean_test_score"]))]
    oracle = cross_val_score(_mlp().set_params(**best.params), *iris, cv=CV)
    np.testing.assert_array_equal(
        oracle, [results[f"split{s}_test_score"][best.number] for s in range(3)]
    )
    assert search.best_params_ == best.params
    assert search.best_score_ == best.value
    assert sum(r.n_models for r in search.vectorization_) == 27


def test_pruned_trials_in_study_and_cv_results(pruned):
    results, trials = pruned.cv_results_, pruned.study_.trials
    states = [t.state for t in trials]
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states
    assert list(results["status"]) == [
        "pruned" if s == TrialState.PRUNED else "complete" for s in states
    ]
    is_pruned = results["status"] == "pruned"
    assert np.isnan(results["mean_test_score"][is_pruned]).all()
    assert np.isfinite(results["mean_test_score"][~is_pruned]).all()
    assert (results["rank_test_score"][is_pruned] == results["rank_test_score"].max()).all()
    assert results["status"][pruned.best_index_] == "complete"
    # A pruned trial told with its last intermediate value; its models stopped there.
    for row in np.flatnonzero(is_pruned):
        trial = trials[row]
        step = max(trial.intermediate_values)
        assert trial.value == trial.intermediate_values[step]
        n_epochs = np.isfinite(pruned.learning_curves_["loss"][row]).sum(axis=1)
        assert list(n_epochs) == [step] * 3 and step < 30
    assert trials[0].intermediate_values  # every trial reports every segment
    assert sorted(trials[0].intermediate_values) == [5, 10, 15, 20, 25]


def test_pruned_model_numbers_equal_its_unpruned_run(iris, pruned):
    row = int(np.flatnonzero(pruned.cv_results_["status"] == "pruned")[0])
    trial = pruned.study_.trials[row]
    step = max(trial.intermediate_values)
    unpruned = GridSearchCV(_mlp(), {k: [v] for k, v in trial.params.items()}, cv=CV, refit=False)
    unpruned.fit(*iris)
    np.testing.assert_array_equal(
        pruned.learning_curves_["loss"][row, :, :step],
        unpruned.learning_curves_["loss"][0, :, :step],
    )
    # Each reported value is the mean held-out score of the model as it was at that epoch:
    # scikit-learn's own fit for that many epochs (the same shuffles and initial weights).
    for epoch in (5, step):
        scores = cross_val_score(_mlp(epoch).set_params(**trial.params), *iris, cv=CV)
        assert trial.intermediate_values[epoch] == np.mean(scores)


def test_a_job_that_fails_before_training_is_shown_to_on_segment_once(iris):
    """done at epoch 0, without a model: whoever waits for every job's epochs need not wait."""
    X, y = iris
    seen = []

    def record(job_indices, n_iter, done, snapshot):
        seen.extend(
            (j, int(n), bool(d), snapshot(k))
            for k, (j, n, d) in enumerate(zip(job_indices, n_iter, done))
            if j == 1
        )
        return [False] * len(job_indices)

    jobs = [FitJob(_mlp(10), X, y), FitJob(_mlp(10).set_params(alpha=-1.0), X, y)]
    outcomes = fit_estimators(jobs, raise_errors=False, on_segment=record, segment_epochs=5)
    assert outcomes[1].error is not None and seen == [(1, 0, True, None)]


@pytest.mark.parametrize(
    "schedule",
    [dict(n_threads=1, n_slots=1), dict(n_threads=2, n_slots=1), dict(n_threads=1, n_slots=2)],
)
def test_stopping_in_fit_estimators_keeps_every_number(iris, schedule):
    """`on_segment` stops one model at epoch 10; every model's numbers are its plain run's
    (bit for bit in one-model programs; to rounding, 1e-13, in vmapped ones, as
    test_invariance states), and with one worker the models take turns segment by segment."""
    X, y = iris
    lrs = (1e-3, 1e-2, 3e-2, 0.1, 0.2)

    def jobs():
        return [
            FitJob(_mlp().set_params(learning_rate_init=lr), X, y, data_key="iris") for lr in lrs
        ]

    plain = jobs()
    fit_estimators(plain, n_threads=1, n_slots=1)
    seen = []

    def stop_second_at_10(job_indices, n_iter, done, snapshot):
        seen.extend((j, int(n)) for j, n in zip(job_indices, n_iter))
        return [j == 1 and n >= 10 for j, n in zip(job_indices, n_iter)]

    stopped = jobs()
    fit_estimators(stopped, on_segment=stop_second_at_10, segment_epochs=5, **schedule)
    atol = 0 if schedule["n_slots"] == 1 else 1e-13
    assert stopped[1].estimator.n_iter_ == 10 and max(n for j, n in seen if j == 1) == 10
    np.testing.assert_allclose(
        stopped[1].estimator.loss_curve_, plain[1].estimator.loss_curve_[:10], rtol=0, atol=atol
    )
    for k in (0, 2, 3, 4):  # the others, rotated through the slots each segment, unchanged
        assert stopped[k].estimator.n_iter_ == plain[k].estimator.n_iter_
        np.testing.assert_allclose(
            stopped[k].estimator.loss_curve_, plain[k].estimator.loss_curve_, rtol=0, atol=atol
        )
        for a, b in zip(stopped[k].estimator.coefs_, plain[k].estimator.coefs_):
            np.testing.assert_allclose(a, b, rtol=0, atol=atol)
    if schedule["n_threads"] == 1:
        first_seen = list(dict.fromkeys(seen))
        assert [n for _, n in first_seen] == sorted(n for _, n in first_seen)


def test_a_resumed_model_is_shown_after_its_first_segment_in_any_job_order(iris):
    """A model resumed from a saved state trains a segment before `on_segment` sees it,
    whichever models come first, and every model is shown once per segment (the pipelined
    scheduler, which makes the next call before looking at the last, once showed a resumed
    model its saved state when another model had just been stopped: it then ended there)."""
    X, y = iris

    def mlp(lr=1e-3, max_iter=30):
        return _mlp(max_iter).set_params(learning_rate_init=lr)

    saved = fit_estimators([FitJob(mlp(max_iter=6), X, y, keep_state=True)])[0].state
    for order in ("RXY", "XRY"):
        jobs = {
            "R": FitJob(mlp(), X, y, resume_state=saved),
            "X": FitJob(mlp(1e-2), X, y),
            "Y": FitJob(mlp(3e-2), X, y),
        }
        seen = []

        def stop_x_at_5_and_r_at_6(job_indices, n_iter, done, snapshot, order=order, seen=seen):
            names = [order[j] for j in job_indices]
            seen.extend(zip(names, n_iter.tolist()))
            return [(k == "X" and n >= 5) or (k == "R" and n >= 6) for k, n in zip(names, n_iter)]

        fit_estimators(
            [jobs[k] for k in order],
            on_segment=stop_x_at_5_and_r_at_6,
            segment_epochs=5,
            n_threads=1,
            n_slots=1,
        )
        assert jobs["R"].estimator.n_iter_ == 11 and jobs["X"].estimator.n_iter_ == 5
        assert len(seen) == len(set(seen)) and ("R", 6) not in seen


def test_a_snapshot_predicts_and_carries_no_optimizer(iris):
    """`snapshot(k)` has the public fitted attributes (it scores as the model would) and not
    the optimizer state a `partial_fit` would continue from, not even an earlier fit's; the
    arrays shown to `on_segment` are the hook's own."""
    X, y = iris
    job = FitJob(_mlp(10), X, y)
    fit_estimators([job])  # an earlier fit: the estimator now has an optimizer
    assert hasattr(job.estimator, "_optimizer")
    looked = []

    def look(job_indices, n_iter, done, snapshot):
        n_iter[:] = 0  # writable copies: changing them changes nothing
        model = snapshot(0)
        looked.append((model.score(X, y), hasattr(model, "_optimizer"), model.n_iter_))
        return [False]

    fit_estimators([job], on_segment=look, segment_epochs=5)
    assert [(has, n) for _, has, n in looked] == [(False, 5), (False, 10)]
    assert looked[-1][0] == job.estimator.score(X, y) and job.estimator.n_iter_ == 10


@pytest.mark.parametrize("n_slots", [1, 2])
def test_states_stay_on_the_device_between_segments(iris, monkeypatch, n_slots):
    """A model trained in segments (pruning) is not copied to the host and back between
    them: every call after a model's first gets the device arrays the last call returned
    (a NumPy round trip cost about 2 ms a segment, more than half the training of one).
    The numbers are those of the one-call run (test above)."""
    import jax

    from vgrid import scheduling

    X, y = iris
    calls = []
    init = scheduling._SlotScheduler.__init__

    def spied_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        program = self.program

        def call(config, shared, models, states, n_epochs):
            calls.append(all(isinstance(a, jax.Array) for a in jax.tree.leaves(states)))
            return program(config, shared, models, states, n_epochs)

        self.program = call

    monkeypatch.setattr(scheduling._SlotScheduler, "__init__", spied_init)
    jobs = [FitJob(_mlp(20).set_params(learning_rate_init=lr), X, y) for lr in (1e-3, 1e-2, 0.1)]
    fit_estimators(
        jobs,
        on_segment=lambda j, n_iter, done, snapshot: [False] * len(j),
        segment_epochs=5,
        n_threads=1,
        n_slots=n_slots,
    )
    assert len(calls) >= 3 * 4 // n_slots and all(calls)
    assert all(job.estimator.n_iter_ == 20 for job in jobs)


def test_same_seeds_same_trials_and_scores(iris, pruned):
    again = _search(_median_pruner()).fit(*iris)
    assert again.cv_results_["params"] == pruned.cv_results_["params"]
    assert list(again.cv_results_["status"]) == list(pruned.cv_results_["status"])
    np.testing.assert_array_equal(
        again.cv_results_["mean_test_score"], pruned.cv_results_["mean_test_score"]
    )
    assert [t.intermediate_values for t in again.study_.trials] == [
        t.intermediate_values for t in pruned.study_.trials
    ]


def test_random_state_seeds_the_default_sampler(iris):
    def run(random_state):
        return (
            OptunaSearchCV(
                _mlp(10), SPACE, n_trials=3, cv=CV, refit=False, random_state=random_state
            )
            .fit(*iris)
            .cv_results_["params"]
        )

    assert run(1) == run(1) != run(2)


def test_study_round_trip_through_storage(iris, tmp_path):
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "study.log"))
    )
    study = optuna.create_study(
        study_name="mlp",
        storage=storage,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=0),
    )
    first = optimize_study(
        study, _mlp(10), *iris, param_distributions=SPACE, n_trials=4, trials_per_batch=2, cv=CV
    )
    # Reloaded from its storage, the study continues in its own search space.
    loaded = optuna.load_study(study_name="mlp", storage=storage)
    second = optimize_study(loaded, _mlp(10), *iris, n_trials=3, cv=CV)
    assert first.study_ is study and second.study_ is loaded
    assert len(loaded.trials) == 7 and second.n_batches_ == 1
    assert set(loaded.trials[-1].params) == set(SPACE)
    values = list(first.cv_results_["mean_test_score"]) + list(
        second.cv_results_["mean_test_score"]
    )
    assert [t.value for t in loaded.trials] == values
    assert loaded.best_value == max(values)
    frame = second.trials_dataframe()
    assert len(frame) == 7
    np.testing.assert_array_equal(
        frame["user_attrs_split0_test_score"][4:], second.cv_results_["split0_test_score"]
    )
    assert not hasattr(first, "best_estimator_")  # optimize_study: refit=False by default


def test_refit_and_timeout(iris):
    search = OptunaSearchCV(
        _mlp(10), SPACE, n_trials=None, timeout=1e-9, trials_per_batch=2, cv=CV, random_state=0
    ).fit(*iris)
    assert search.n_batches_ == 1 and len(search.study_.trials) == 2
    assert search.best_estimator_.get_params()["alpha"] == search.best_params_["alpha"]
    refit = _mlp(10).set_params(**search.best_params_).fit(*iris)  # scikit-learn's own fit
    np.testing.assert_array_equal(search.predict(iris[0]), refit.predict(iris[0]))


def test_no_nonfinite_warning_for_pruned_trials(iris):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search = _search(_median_pruner()).fit(*iris)
    assert "pruned" in set(search.cv_results_["status"])
    assert not [w for w in caught if "non-finite" in str(w.message)]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            dict(param_distributions={"alpha": [1e-3, 1e-2]}),
            ValueError,
            r"Value of alpha must be a optuna distribution: param_distributions\['alpha'\] is "
            r"\[0.001, 0.01\] of type list",
        ),
        (dict(n_trials=None), ValueError, "n_trials and timeout are both None"),
        (dict(study="minimize"), ValueError, r"maximizes one score.*\['MINIMIZE'\]"),
        (
            dict(study="maximize", sampler=optuna.samplers.RandomSampler()),
            ValueError,
            "A study brings its own sampler and pruner",
        ),
        (
            dict(scoring=["accuracy", "f1_macro"], refit=False),
            ValueError,
            "set refit to one of their names",
        ),
    ],
)
def test_errors(iris, kwargs, error, match):
    if "study" in kwargs:
        kwargs["study"] = optuna.create_study(direction=kwargs["study"])
    options = dict(param_distributions=SPACE, n_trials=2, cv=CV)
    options.update(kwargs)
    search = OptunaSearchCV(_mlp(5), options.pop("param_distributions"), **options)
    with pytest.raises(error, match=match):
        search.fit(*iris)


def test_without_optuna_the_error_names_the_extra(monkeypatch, iris):
    monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` raises ImportError
    search = OptunaSearchCV(_mlp(5), {}, n_trials=2)
    with pytest.raises(ImportError, match=r"pip install 'vgrid\[optuna\]'"):
        search.fit(*iris)
    with pytest.raises(ImportError, match=r"vgrid\[optuna\]"):
        optimize_study(None, _mlp(5), *iris)


def test_vgrid_imports_without_optuna():
    code = (
        "import sys; sys.modules['optuna'] = None; import vgrid; "
        "print(vgrid.OptunaSearchCV.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "OptunaSearchCV"


@pytest.mark.parametrize("early_stopping", [False, True])
def test_pipeline_reports_the_pipelines_score(iris, early_stopping):
    """Snapshots go through the fitted preprocessing; with early stopping a snapshot keeps the
    best weights so far, as scikit-learn's fit for that many epochs does."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(
        StandardScaler(), _mlp().set_params(early_stopping=early_stopping, n_iter_no_change=100)
    )
    space = {f"mlpclassifier__{k}": v for k, v in SPACE.items()}
    search = OptunaSearchCV(
        pipe, space, n_trials=3, cv=CV, refit=False, pruner=_median_pruner(), random_state=0
    ).fit(*iris)
    trial = search.study_.trials[0]
    scores = cross_val_score(
        pipe.set_params(mlpclassifier__max_iter=10, **trial.params), *iris, cv=CV
    )
    assert trial.intermediate_values[10] == np.mean(scores)


def test_an_estimator_without_partial_fit_runs_unpruned(iris):
    """A pruner alone (vgrid's way to ask for pruning) warns that it is not used, and the
    trials are fit whole; enable_pruning=True asks for partial_fit, as optuna_integration."""
    from sklearn.linear_model import LogisticRegression

    search = OptunaSearchCV(
        LogisticRegression(),
        {"C": FloatDistribution(1e-2, 10, log=True)},
        n_trials=4,
        trials_per_batch=2,
        cv=CV,
        pruner=_median_pruner(),
        random_state=0,
    )
    with pytest.raises(ValueError, match="estimator must support partial_fit. With enable_"):
        clone(search).set_params(enable_pruning=True).fit(*iris)
    with pytest.warns(UserWarning, match="is not used: .* LogisticRegression is fit whole"):
        search.fit(*iris)
    assert list(search.cv_results_["status"]) == ["complete"] * 4
    assert [t.value for t in search.study_.trials] == list(search.cv_results_["mean_test_score"])


def test_flax_trials_are_pruned_inside_the_vectorized_loop(iris):
    # One engine: a Flax estimator's trials are pruned like the MLPs', and a pruned trial's
    # models stop at the step it was pruned.
    from vgrid import FlaxClassifier

    space = {"optimizer__learning_rate": FloatDistribution(1e-5, 0.3, log=True)}
    search = OptunaSearchCV(
        FlaxClassifier(module__hidden=(8,), max_epochs=30, batch_size=16),
        space,
        n_trials=9,
        trials_per_batch=3,
        cv=CV,
        refit=False,
        sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=3),
        pruner=_median_pruner(),
    ).fit(*iris)
    statuses = list(search.cv_results_["status"])
    assert "pruned" in statuses and "complete" in statuses
    for row in np.flatnonzero(search.cv_results_["status"] == "pruned"):
        step = max(search.study_.trials[row].intermediate_values)
        n_epochs = np.isfinite(search.learning_curves_["loss"][row]).sum(axis=1)
        assert list(n_epochs) == [step] * 3 and step < 30


@pytest.mark.usefixtures("fresh_hosts")
def test_one_program_for_the_whole_study(iris, monkeypatch):
    """The first batch compiles a program wide enough for the whole search space (16 units,
    the distribution's upper bound) and for a full batch's tables; the later batches train in
    it and compile nothing. The numbers are those of compiling each batch's own program."""
    from jax import monitoring

    from vgrid import optuna_search, scheduling

    compiles = []
    monitoring.register_event_duration_secs_listener(
        lambda event, duration, **kw: (
            compiles.append(event)
            if event == "/jax/core/compile/backend_compile_duration"
            else None
        )
    )
    X, y = iris
    X = X[:, :3]  # a shape no other test uses, so nothing is cached yet
    space = {**SPACE, "hidden_layer_sizes": optuna.distributions.IntDistribution(2, 16)}

    def fit():
        before = len(compiles)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            search = OptunaSearchCV(_mlp(12), space, random_state=0, **_OPTIONS).fit(X, y)
        return search, len(compiles) - before

    search, n_compiles = fit()
    assert search.n_batches_ == 3 and n_compiles == 1
    assert [r.hidden_widths for r in search.vectorization_] == [(16,)] * 3
    assert [r.compile_seconds > 0 for r in search.vectorization_] == [True, False, False]
    assert fit()[1] == 0  # warm: nothing
    # Without the floor and without hosting, each batch compiles its own narrower program.
    monkeypatch.setattr(optuna_search, "_batch_floor", lambda *args: None)
    monkeypatch.setattr(scheduling.ProgramCache, "hosted_plan", lambda self, plan: None)
    own, n_own = fit()
    assert n_own >= 2
    assert own.cv_results_["params"] == search.cv_results_["params"]
    np.testing.assert_array_equal(
        own.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"]
    )
    np.testing.assert_allclose(
        own.learning_curves_["loss"], search.learning_curves_["loss"], rtol=0, atol=1e-10
    )


def test_batch_floor_covers_the_search_space(iris):
    """The floor holds every architecture and activation the space can produce (an integer
    range's widest, each categorical choice; a Pipeline's step prefix), and a full batch's
    tables; the planner widens a group to it only when that pays."""
    from optuna.distributions import CategoricalDistribution, IntDistribution
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from vgrid.engine import FitJob
    from vgrid.mlp_kind import MLP_KIND
    from vgrid.optuna_search import _batch_floor
    from vgrid.plan import PlanFloor, plan_groups

    floor = _batch_floor(_mlp(), {"hidden_layer_sizes": IntDistribution(4, 31, step=3)}, 12, 3, 2)
    assert floor.architectures == ((31,),) and floor.activations == ()
    assert floor.min_shapes == {"n_data": 3, "n_inits": 12, "n_orders": 12}
    assert floor.later_calls == 2
    pipe = Pipeline([("scale", StandardScaler()), ("mlp", _mlp())])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tuples are fine in memory, not stored
        layers = CategoricalDistribution([8, (16, 4), ()])
    space = {
        "mlp__hidden_layer_sizes": layers,
        "mlp__activation": CategoricalDistribution(["relu", "tanh"]),
    }
    floor = _batch_floor(pipe, space, 6, 3, 1)
    assert floor.architectures == ((8,), (16, 4), ())
    assert floor.activations == ("relu", "tanh")
    assert _batch_floor(GridSearchCV(_mlp(), {}), space, 6, 3, 1) is None  # not an MLP

    X, y = iris
    members = [
        MLP_KIND.prepare(i, FitJob(_mlp().set_params(learning_rate_init=lr), X, y), {})
        for i, lr in enumerate((1e-3, 1e-2))
    ]
    (wide,) = plan_groups(members, floor=floor)  # (16, 16): depths differ; activations mixed
    assert wide.config.hidden_widths == (16, 16) and wide.config.mixed_depths
    assert wide.config.activation == "mixed"
    assert wide.min_shapes == floor.min_shapes
    huge = PlanFloor(architectures=((4096, 4096),), later_calls=1)
    (own,) = plan_groups(members, floor=huge)  # far more padded work than a compilation
    assert own.config.hidden_widths == (8,) and own.config.activation == "relu"
    (own,) = plan_groups(members, floor=PlanFloor(architectures=((16,),), later_calls=0))
    assert own.config.hidden_widths == (8,)  # no later call to save a compilation for


def test_a_program_kept_for_later_batches_is_compiled_for_speed(iris):
    """Whether a program is compiled quickly (slower kernels) weighs the training of every
    call it will serve: a program kept for later batches counts theirs too."""
    from vgrid.engine import FitJob
    from vgrid.mlp_kind import MLP_KIND
    from vgrid.plan import CostModel, PlanFloor, plan_groups

    X, y = iris
    members = [
        MLP_KIND.prepare(i, FitJob(_mlp().set_params(alpha=alpha), X, y), {})
        for i, alpha in enumerate((1e-4, 1e-3))
    ]
    (plan,) = plan_groups(members)
    one_call = CostModel().vgrid_seconds(plan, compiled=True)  # both models' training
    # float64 kernels compiled quickly are 20% slower: a quick compile saving 40% of one
    # call's training pays for one call, not for four.
    cost = CostModel(quick_compile_saving=0.2 * one_call * 2)
    for later_calls, quick in ((0, True), (3, False)):
        floor = PlanFloor(architectures=((8,),), later_calls=later_calls)
        (plan,) = plan_groups(members, cost=cost, floor=floor)
        assert plan.config.hidden_widths == (8,) and plan.config.quick_compile is quick


# A script written for optuna_integration's OptunaSearchCV, ported by changing the import.


def _pruning_study(sampler, n_startup_trials):
    """A maximizing study with `sampler` and a MedianPruner, for a search of each side."""
    return optuna.create_study(
        direction="maximize",
        sampler=sampler,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials),
    )


def _assert_same_trials_and_scores(ours, peer):
    """The same trials, and each trial's mean test score to 1e-12 (float64 data)."""
    assert [t.params for t in ours.trials_] == [t.params for t in peer.trials_]
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"],
        [t.user_attrs["mean_test_score"] for t in peer.trials_],
        rtol=0,
        atol=1e-12,
    )


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.filterwarnings("ignore:`optuna.terminator` module has been deprecated:FutureWarning")
def test_ported_optuna_integration_search_gives_its_trials_and_scores(iris):
    """The peer's parameters (subsample, random_state, a study of one's own whose default
    MedianPruner prunes only with enable_pruning=True) and attributes: the same sample rows,
    trials and mean test scores as optuna_integration's own search (exact mode: float64 data;
    the trials are TPE's random start-up ones, which constant liar does not change)."""
    optuna_integration = pytest.importorskip("optuna_integration")

    def run(search_class):
        study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=3)
        )
        search = search_class(
            _mlp(20), SPACE, n_trials=4, cv=3, subsample=0.6, random_state=0, study=study
        )
        return search.fit(*iris)

    peer, ours = run(optuna_integration.OptunaSearchCV), run(OptunaSearchCV)
    np.testing.assert_array_equal(ours.sample_indices_, peer.sample_indices_)
    assert len(ours.sample_indices_) == int(0.6 * len(iris[0]))
    _assert_same_trials_and_scores(ours, peer)
    assert set(ours.cv_results_["status"]) == {"complete"}  # the study's pruner unused
    assert not any(t.intermediate_values for t in ours.trials_)
    assert ours.n_trials_ == peer.n_trials_ == 4
    assert ours.best_trial_.number == peer.best_trial_.number
    assert ours.best_params_ == peer.best_params_
    ours.set_user_attr("note", "ported")
    assert ours.user_attrs_ == {"note": "ported"}
    # The refit takes every sample, as the peer's does.
    np.testing.assert_allclose(ours.best_estimator_.coefs_[0], peer.best_estimator_.coefs_[0])


def test_enable_pruning_prunes_with_the_study_pruner_and_false_never_prunes(iris):
    def study():
        return optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=3),
            pruner=_median_pruner(),
        )

    kwargs = {**_OPTIONS, "refit": False}
    on = OptunaSearchCV(_mlp(), SPACE, study=study(), enable_pruning=True, **kwargs).fit(*iris)
    assert all(t.intermediate_values for t in on.trials_)  # reported to the study's pruner
    off = OptunaSearchCV(
        _mlp(), SPACE, pruner=_median_pruner(), enable_pruning=False, **kwargs
    ).fit(*iris)
    assert not any(t.intermediate_values for t in off.trials_)
    assert set(off.cv_results_["status"]) == {"complete"}


def test_callbacks_see_every_trial_and_can_stop_the_search(iris):
    seen = []
    stop_at_four = optuna.study.MaxTrialsCallback(4, states=(TrialState.COMPLETE,))
    search = _search(
        n_trials=12,
        trials_per_batch=2,
        callbacks=[lambda study, trial: seen.append((trial.number, trial.state)), stop_at_four],
    ).fit(*iris)
    assert search.n_batches_ == 2 and search.n_trials_ == 4
    assert seen == [(n, TrialState.COMPLETE) for n in range(4)]


def test_port_edge_cases_subsample_shares_routing_and_a_study_without_a_best_trial(iris):
    import sklearn
    from sklearn.model_selection import GroupKFold

    X, y = iris
    options = dict(n_trials=2, trials_per_batch=2, refit=False, random_state=0)
    half = OptunaSearchCV(_mlp(5), SPACE, subsample=np.float64(0.5), cv=3, **options).fit(X, y)
    assert len(half.sample_indices_) == len(X) // 2
    with pytest.raises(ValueError, match=r"subsample=0.001 keeps no row of 150"):
        OptunaSearchCV(_mlp(5), SPACE, subsample=0.001, **options).fit(X, y)
    groups = np.arange(len(X)) % 10
    with sklearn.config_context(enable_metadata_routing=True):
        grouped = OptunaSearchCV(
            _mlp(5), SPACE, subsample=0.5, cv=GroupKFold(3), callbacks=(), **options
        ).fit(X, y, groups=groups)
    # `groups` routed to the splitter of the subsample's folds (not "unexpected argument").
    assert grouped.n_splits_ == 3 and np.isfinite(grouped.cv_results_["mean_test_score"]).all()

    class PruneAll(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return True

    pruned = OptunaSearchCV(_mlp(15), SPACE, pruner=PruneAll(), cv=3, **options).fit(X, y)
    assert set(pruned.cv_results_["status"]) == {"pruned"}
    assert not hasattr(pruned, "best_trial_")  # no completed trial: not an error
    assert pruned.n_trials_ == 2


def test_catch_fails_a_trial_whose_suggestion_raises_and_the_search_goes_on(iris):
    """`catch`, as `study.optimize` takes it: a trial whose parameters cannot be suggested is
    FAIL in the study and its batch trains without it; without `catch` the error is raised,
    after the trial is told FAIL (no trial is left RUNNING)."""

    class Flaky(FloatDistribution):  # the second suggestion of it raises
        calls = 0

        def to_internal_repr(self, value):
            Flaky.calls += 1
            if Flaky.calls == 2:
                raise ArithmeticError("no value for this trial")
            return super().to_internal_repr(value)

    space = {**SPACE, "alpha": Flaky(1e-6, 1.0, log=True)}
    search = OptunaSearchCV(
        _mlp(5),
        space,
        n_trials=4,
        trials_per_batch=2,
        cv=CV,
        refit=False,
        random_state=0,
        catch=ArithmeticError,
    ).fit(*iris)
    states = [t.state for t in search.trials_]
    assert states.count(TrialState.FAIL) == 1 and states.count(TrialState.COMPLETE) == 3
    assert list(search.cv_results_["number"]) == [0, 2, 3]  # trial 1 has no row
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    Flaky.calls = 0
    uncaught = OptunaSearchCV(_mlp(5), space, n_trials=4, trials_per_batch=2, cv=CV, refit=False)
    with pytest.raises(ArithmeticError, match="no value for this trial"):
        uncaught.fit(*iris)
    # The batch's first trial, asked before, is not left RUNNING.
    assert [t.state for t in uncaught.study_.trials] == [TrialState.FAIL, TrialState.FAIL]


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite:UserWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # -inf's std
@pytest.mark.parametrize("error_score", [np.nan, 0.0, -np.inf])
@pytest.mark.parametrize("trained_by", ["vgrid", "its own code"])
def test_a_batch_whose_every_fit_fails_gets_error_score_rows_and_the_study_goes_on(
    iris, error_score, trained_by
):
    """scikit-learn's searches raise when every fit fails; a batch of a study warns, its
    trials get `error_score` (FAIL in the study if NaN, else COMPLETE with it, as in
    optuna_integration's study), and the next batch runs, whoever shares the batch, for an
    MLP as for an estimator vgrid does not train (DecisionTreeClassifier)."""
    from optuna.distributions import CategoricalDistribution
    from sklearn.exceptions import FitFailedWarning
    from sklearn.tree import DecisionTreeClassifier

    if trained_by == "vgrid":  # a negative alpha fails to fit
        estimator, name, bad, good = _mlp(5), "alpha", -1.0, 1e-4
    else:  # max_depth=0 fails to fit
        estimator, name, bad, good = DecisionTreeClassifier(random_state=0), "max_depth", 0, 1
    sampler = optuna.samplers.BruteForceSampler(seed=0)
    search = OptunaSearchCV(
        estimator,
        {name: CategoricalDistribution([bad, good])},
        n_trials=4,
        trials_per_batch=1,
        cv=CV,
        refit=False,
        sampler=sampler,
        error_score=error_score,
    )
    with pytest.warns(FitFailedWarning, match="All the 3 fits failed"):
        search.fit(*iris)
    # BruteForceSampler stops the study once it has seen both values (inside the loop, as in
    # `study.optimize`; not a RuntimeError): two batches of one trial.
    assert search.n_trials_ == search.n_batches_ == 2
    by_value = {t.params[name]: (t.state, t.value) for t in search.trials_}
    # As Optuna: NaN fails; a number, -inf included, is the trial's value
    failed = (
        (TrialState.FAIL, None) if np.isnan(error_score) else (TrialState.COMPLETE, error_score)
    )
    assert by_value[bad] == failed and by_value[good][0] == TrialState.COMPLETE
    rows = {p[name]: row for row, p in enumerate(search.cv_results_["params"])}
    assert search.cv_results_["status"][rows[bad]] == (
        "fail" if np.isnan(error_score) else "complete"
    )
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"][rows[bad]], error_score)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_a_brute_force_sampler_is_asked_no_more_trials_than_combinations_left(iris):
    """BruteForceSampler counts running trials as taken and repeats combinations once all are:
    a batch asks at most the combinations left, so every combination is tried once, as one
    trial at a time would, and the sampler then stops the study."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    space = {
        "alpha": CategoricalDistribution([1e-4, 1e-2]),
        "hidden_layer_sizes": IntDistribution(4, 8, step=2),
    }
    search = OptunaSearchCV(
        _mlp(5),
        space,
        n_trials=20,
        trials_per_batch=4,
        cv=CV,
        refit=False,
        sampler=optuna.samplers.BruteForceSampler(seed=0),
    ).fit(*iris)
    assert search.n_batches_ == 2 and search.n_trials_ == 6
    assert len({tuple(sorted(t.params.items())) for t in search.trials_}) == 6


class _Unsuggestable(optuna.distributions.BaseDistribution):
    """A distribution whose every suggestion raises."""

    def _contains(self, param_value_in_internal_repr):
        raise ValueError("not this one")

    def single(self):
        raise ValueError("not this one")

    def to_internal_repr(self, param_value_in_external_repr):
        raise ValueError("not this one")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.FitFailedWarning")
@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite:UserWarning")
@pytest.mark.parametrize("fails", ["suggestion", "every MLP fit", "every tree fit"])
def test_a_search_where_every_trial_fails_raises(iris, fails):
    """Every trial FAIL (its suggestion raised, or every fit, for an MLP as for an estimator
    vgrid does not train): nothing to choose or refit, fit raises as scikit-learn's searches
    raise when every fit fails; the trials are FAIL in the study."""
    from optuna.distributions import CategoricalDistribution
    from sklearn.tree import DecisionTreeClassifier

    estimator, space = {
        "suggestion": (_mlp(5), {"alpha": _Unsuggestable()}),
        "every MLP fit": (_mlp(5), {"alpha": CategoricalDistribution([-1.0, -2.0])}),
        "every tree fit": (DecisionTreeClassifier(), {"max_depth": CategoricalDistribution([0])}),
    }[fails]
    search = OptunaSearchCV(estimator, space, n_trials=2, cv=CV, catch=(ValueError,))
    with pytest.raises(ValueError, match="None of the 2 trials of this search could be") as e:
        search.fit(*iris)
    assert [t.state for t in search.study_.trials] == [TrialState.FAIL] * 2
    if fails != "suggestion":  # the fits' errors, as scikit-learn's "All the fits failed"
        assert " fits failed with the following error:" in str(e.value)
        assert ("'alpha' parameter" if "MLP" in fails else "'max_depth' parameter") in str(e.value)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.FitFailedWarning")
@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite:UserWarning")
def test_a_fold_that_fails_before_training_is_left_out_of_the_reports(iris):
    """A pipeline step that fails on one fold only: the trial is reported the mean of its
    other folds (as optuna_integration's nanmean) and pruned like any other, not left waiting
    for that fold; a step failing on every fold fails the trial."""
    from sklearn.base import BaseEstimator, TransformerMixin
    from sklearn.pipeline import Pipeline

    X, y = iris[0][:-1], iris[1][:-1]  # KFold(3): 99, 99 and 100 training rows

    class Flaky(TransformerMixin, BaseEstimator):
        def __init__(self, fail=0):
            self.fail = fail

        def fit(self, X, y=None):
            if self.fail == 2 or (self.fail == 1 and len(X) == 100):
                raise ValueError("this fold")
            return self

        def transform(self, X):
            return X

    pipe = Pipeline([("flaky", Flaky()), ("mlp", _mlp(10))])
    space = {"flaky__fail": optuna.distributions.CategoricalDistribution([0, 1, 2])}
    search = OptunaSearchCV(
        pipe,
        space,
        n_trials=3,
        cv=KFold(3),
        refit=False,
        sampler=optuna.samplers.GridSampler({"flaky__fail": [0, 1, 2]}),
        pruner=optuna.pruners.ThresholdPruner(lower=2.0),  # prunes every trial it is told of
    ).fit(X, y)
    states = {t.params["flaky__fail"]: t.state for t in search.trials_}
    assert states == {0: TrialState.PRUNED, 1: TrialState.PRUNED, 2: TrialState.FAIL}


def test_an_unsupervised_estimator_is_refit_without_y(iris):
    from sklearn.base import BaseEstimator

    class Centre(BaseEstimator):
        def __init__(self, k=1.0):
            self.k = k

        def fit(self, X):  # no y, as scikit-learn's searches then call it
            self.centre_ = X.mean(0) * self.k
            return self

        def score(self, X, y=None):
            return -float(((X - self.centre_) ** 2).sum())

    search = OptunaSearchCV(
        Centre(), {"k": FloatDistribution(0.5, 1.5)}, n_trials=3, cv=3, random_state=0
    )
    assert search.fit(iris[0]).best_estimator_.centre_.shape == (iris[0].shape[1],)


def test_an_interrupted_batch_leaves_no_trial_running_and_calls_back_the_finished(iris):
    """As `study.optimize` does: an error (KeyboardInterrupt too) that ends the search leaves
    no trial of its batch RUNNING, and the callbacks see every trial that finished."""

    class Interrupting(FloatDistribution):
        calls = 0

        def to_internal_repr(self, value):
            Interrupting.calls += 1
            if Interrupting.calls == 3:
                raise KeyboardInterrupt
            return super().to_internal_repr(value)

    seen = []
    search = OptunaSearchCV(
        _mlp(5),
        {**SPACE, "alpha": Interrupting(1e-6, 1.0, log=True)},
        n_trials=4,
        trials_per_batch=2,
        cv=CV,
        refit=False,
        random_state=0,
        callbacks=[lambda study, trial: seen.append((trial.number, trial.state))],
    )
    with pytest.raises(KeyboardInterrupt):
        search.fit(*iris)
    states = [t.state for t in search.study_.trials]
    assert states == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAIL]
    assert seen == [(0, TrialState.COMPLETE), (1, TrialState.COMPLETE), (2, TrialState.FAIL)]


def test_folds_scores_are_reported_to_optunas_terminator(iris):
    from optuna.terminator.erroreval import _CROSS_VALIDATION_SCORES_KEY

    search = _search(n_trials=3).fit(*iris)
    for row, trial in enumerate(search.trials_):
        np.testing.assert_array_equal(
            trial.system_attrs[_CROSS_VALIDATION_SCORES_KEY],
            [search.cv_results_[f"split{s}_test_score"][row] for s in range(3)],
        )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(estimator="not an estimator"), "estimator must be a scikit-learn estimator"),
        (dict(max_iter=0), "max_iter must be > 0, got 0"),
        (dict(error_score="ignore"), "error_score must be 'raise' or numeric, got 'ignore'"),
        (dict(catch=("ValueError",)), r"catch must be an exception class or a tuple of them"),
        (dict(catch=None), r"catch must be an exception class or a tuple of them, got None"),
    ],
)
def test_optuna_integrations_checks_raise_its_value_errors(iris, kwargs, match):
    search = OptunaSearchCV(**{"estimator": _mlp(5), "param_distributions": SPACE, **kwargs})
    with pytest.raises(ValueError, match=match):
        search.fit(*iris)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.filterwarnings("ignore:`optuna.terminator` module has been deprecated:FutureWarning")
def test_ported_pruned_search_trains_as_partial_fit_and_scores_as_optuna_integration(iris):
    """With enable_pruning=True and max_iter, optuna_integration trains each fold by calling
    partial_fit max_iter times; vgrid trains the MLPs the same way (FitJob.partial_fit_epochs,
    in its vectorized loop): the same trials and mean test scores (float64: to 1e-12), with
    several minibatches per epoch (each partial_fit call reseeds its shuffle)."""
    optuna_integration = pytest.importorskip("optuna_integration")

    def run(search_class):
        study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=1),
            pruner=optuna.pruners.NopPruner(),  # the same trials finish on both sides
        )
        mlp = MLPClassifier(hidden_layer_sizes=(8,), batch_size=32, random_state=0)
        search = search_class(
            mlp, SPACE, n_trials=4, cv=3, enable_pruning=True, max_iter=6, study=study
        )
        return search.fit(*iris)

    peer, ours = run(optuna_integration.OptunaSearchCV), run(OptunaSearchCV)
    _assert_same_trials_and_scores(ours, peer)
    assert ours.learning_curves_["loss"].shape[-1] == 6  # max_iter epochs, not the MLP's 200
    # The refit is a plain fit, as the peer's.
    np.testing.assert_allclose(ours.best_estimator_.coefs_[0], peer.best_estimator_.coefs_[0])


def test_max_iter_for_an_estimator_that_fits_whole_warns(iris):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    space = {f"mlpclassifier__{name}": dist for name, dist in SPACE.items()}
    search = OptunaSearchCV(
        make_pipeline(StandardScaler(), _mlp(5)),
        space,
        n_trials=2,
        cv=CV,
        refit=False,
        enable_pruning=True,
        max_iter=7,
    )
    with pytest.warns(UserWarning, match="Pipeline trains as its own fit does"):
        search.fit(*iris)
    assert search.learning_curves_["loss"].shape[-1] == 5
    assert isinstance(search.best_index_, int)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.filterwarnings("ignore:`optuna.terminator` module has been deprecated:FutureWarning")
def test_ported_pruned_search_reports_and_prunes_as_optuna_integration(iris):
    """One trial per batch and a report every epoch (segment_epochs=1): the same reports
    (optuna_integration's step numbers, the last epoch's included) and so the same pruned
    trials as optuna_integration's search, with the study's MedianPruner."""
    optuna_integration = pytest.importorskip("optuna_integration")

    def run(search_class, **options):
        study = _pruning_study(optuna.samplers.RandomSampler(seed=0), n_startup_trials=2)
        mlp = MLPClassifier(hidden_layer_sizes=(8,), batch_size=32, random_state=0)
        search = search_class(
            mlp,
            SPACE,
            n_trials=6,
            cv=3,
            enable_pruning=True,
            max_iter=6,
            study=study,
            refit=False,
            **options,
        )
        return search.fit(*iris)

    peer = run(optuna_integration.OptunaSearchCV)
    ours = run(OptunaSearchCV, trials_per_batch=1, segment_epochs=1)
    assert [t.state for t in ours.trials_] == [t.state for t in peer.trials_]
    assert TrialState.PRUNED in [t.state for t in peer.trials_]
    for mine, theirs in zip(ours.trials_, peer.trials_):
        assert sorted(mine.intermediate_values) == sorted(theirs.intermediate_values)
        np.testing.assert_allclose(
            [mine.intermediate_values[k] for k in sorted(mine.intermediate_values)],
            [theirs.intermediate_values[k] for k in sorted(theirs.intermediate_values)],
            rtol=0,
            atol=1e-12,
        )


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.filterwarnings("ignore:`optuna.terminator` module has been deprecated:FutureWarning")
@pytest.mark.filterwarnings("ignore:Class PassiveAggressiveClassifier is deprecated")
@pytest.mark.parametrize(
    "name, parameter, scoring",
    [
        ("SGDClassifier", "alpha", None),
        ("SGDClassifier", "alpha", ["accuracy", "f1_macro"]),
        # its __init__ copies C into eta0: set, then cloned per fold, as the peer does
        ("PassiveAggressiveClassifier", "C", None),
    ],
)
def test_an_estimator_vgrid_does_not_train_is_pruned_as_the_peer_prunes_it(
    iris, name, parameter, scoring
):
    """A ported script pruning an estimator vgrid does not train: its folds train by
    partial_fit, max_iter calls each, reported after each round, one trial at a time, as
    optuna_integration does: the same trials, reports, pruned trials, scores and refit."""
    optuna_integration = pytest.importorskip("optuna_integration")
    from sklearn import linear_model

    space = {parameter: FloatDistribution(1e-6, 1.0, log=True)}

    def run(search_class, **options):
        study = _pruning_study(optuna.samplers.TPESampler(seed=0), n_startup_trials=2)
        search = search_class(
            getattr(linear_model, name)(random_state=0),
            space,
            n_trials=8,
            cv=KFold(3, shuffle=True, random_state=0),
            enable_pruning=True,
            max_iter=6,
            study=study,
            **options,
        )
        return search.fit(*iris)

    peer = run(optuna_integration.OptunaSearchCV)
    if scoring is None:
        ours = run(OptunaSearchCV)
    else:  # the peer has one scorer: accuracy (the estimator's score) reported and optimized
        ours = run(OptunaSearchCV, scoring=scoring, refit="accuracy")
    assert [t.state for t in ours.trials_] == [t.state for t in peer.trials_]
    assert TrialState.PRUNED in [t.state for t in ours.trials_]
    assert ours.n_batches_ == 8  # "auto": one trial per batch, as the peer asks them
    metric = "score" if scoring is None else "accuracy"
    for row, (mine, theirs) in enumerate(zip(ours.trials_, peer.trials_)):
        assert mine.params == theirs.params
        assert mine.intermediate_values == pytest.approx(theirs.intermediate_values, abs=1e-12)
        if theirs.state == TrialState.COMPLETE:
            assert mine.value == pytest.approx(theirs.value, abs=1e-12)
            for s in range(3):
                assert ours.cv_results_[f"split{s}_test_{metric}"][row] == pytest.approx(
                    theirs.user_attrs[f"split{s}_test_score"], abs=1e-12
                )
        else:
            assert ours.cv_results_["status"][row] == "pruned"
            assert np.isnan(ours.cv_results_[f"mean_test_{metric}"][row])
    assert ours.best_params_ == peer.best_params_
    np.testing.assert_array_equal(ours.best_estimator_.coef_, peer.best_estimator_.coef_)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.filterwarnings("ignore:`optuna.terminator` module has been deprecated:FutureWarning")
def test_only_enable_pruning_trains_an_estimator_vgrid_does_not_train_by_partial_fit(iris):
    """A pruner alone (even a NopPruner) leaves such an estimator fit whole, as before, with a
    warning; enable_pruning=True trains it by partial_fit (here an MLP subclass, which vgrid
    does not vectorize: every round reported, no warning about segment_epochs)."""
    from sklearn.linear_model import SGDClassifier

    class MyMLP(MLPClassifier):
        pass

    space = {"alpha": FloatDistribution(1e-4, 1e-1, log=True)}
    options = dict(n_trials=2, cv=3, random_state=0, refit=False)
    plain = OptunaSearchCV(SGDClassifier(max_iter=5, random_state=0), space, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        unpruned = plain.fit(*iris).cv_results_["mean_test_score"]
        with pytest.warns(UserWarning, match="NopPruner.* is not used"):
            plain.set_params(pruner=optuna.pruners.NopPruner()).fit(*iris)
    np.testing.assert_array_equal(plain.cv_results_["mean_test_score"], unpruned)
    assert not any(t.intermediate_values for t in plain.trials_)
    mlp = MyMLP(hidden_layer_sizes=(4,), random_state=0)
    search = OptunaSearchCV(mlp, space, enable_pruning=True, max_iter=3, **options)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(*iris)
    assert not [w for w in caught if "segment_epochs" in str(w.message)]
    assert [sorted(t.intermediate_values) for t in search.trials_] == [[0, 1, 2]] * 2


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.filterwarnings("ignore:`optuna.terminator` module has been deprecated:FutureWarning")
@pytest.mark.parametrize("estimator", ["SGDClassifier", "MLPClassifier"])
def test_sample_weight_weights_the_fits_not_the_scores_as_optuna_integration(iris, estimator):
    """optuna_integration's cross_validate passes sample_weight to fit only: the trials'
    values (which steer the sampler) are unweighted scores there, and here."""
    optuna_integration = pytest.importorskip("optuna_integration")
    from sklearn.linear_model import SGDClassifier

    X, y = iris
    weights = np.where(y == 0, 5.0, 1.0)
    model = SGDClassifier(max_iter=5, random_state=0) if estimator == "SGDClassifier" else _mlp(8)
    space = {"alpha": FloatDistribution(1e-4, 10.0, log=True)}

    def run(search_class):
        search = search_class(model, space, n_trials=3, cv=3, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return search.fit(X, y, sample_weight=weights)

    peer, ours = run(optuna_integration.OptunaSearchCV), run(OptunaSearchCV)
    assert [t.params for t in ours.trials_] == [t.params for t in peer.trials_]
    assert [t.value for t in ours.trials_] == pytest.approx([t.value for t in peer.trials_])


@pytest.mark.parametrize("threshold", [0.0, 0.99])
def test_trials_are_logged_as_study_optimize_logs_them(iris, threshold):
    """A ported script printed Optuna's "Trial N finished with value ..." lines (the peer's
    search runs in study.optimize): so does a batched one, and "Trial N pruned." lines."""
    import logging

    class Lines(logging.Handler):
        lines: list = []

        def emit(self, record):
            self.lines.append(record.getMessage())

    handler = Lines()
    logger = logging.getLogger("optuna")
    logger.addHandler(handler)
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        OptunaSearchCV(
            _mlp(10),
            SPACE,
            n_trials=4,
            trials_per_batch=2,
            cv=CV,
            random_state=0,
            pruner=optuna.pruners.ThresholdPruner(lower=threshold),  # 0.99: prunes each trial
            refit=False,
        ).fit(*iris)
    finally:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        logger.removeHandler(handler)
    expected = "Trial {} pruned. trial was pruned at" if threshold else "Trial {} finished with"
    for number in range(4):
        assert any(line.startswith(expected.format(number)) for line in handler.lines)


def test_partial_fit_pruning_needs_partial_fit(iris):
    search = OptunaSearchCV(
        MLPClassifier(solver="lbfgs"), SPACE, n_trials=2, enable_pruning=True, max_iter=5
    )
    with pytest.raises(ValueError, match="estimator must support partial_fit"):
        search.fit(*iris)


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.filterwarnings("ignore:`optuna.terminator` module has been deprecated:FutureWarning")
def test_a_fold_with_non_finite_weights_is_left_out_of_the_reports(iris):
    """As optuna_integration's nanmean: two folds diverge (huge rows), the report is the
    mean of the folds that did not; the peer's intermediate values, step for step."""
    optuna_integration = pytest.importorskip("optuna_integration")
    X, y = iris
    order = np.random.RandomState(0).permutation(len(y))
    X, y = X[order].copy(), y[order]
    X[:3] *= 1e160  # in test fold 0 only: folds 1 and 2 train on them and diverge

    def run(search_class, **options):
        study = _pruning_study(optuna.samplers.RandomSampler(seed=0), n_startup_trials=1)
        mlp = MLPClassifier(
            hidden_layer_sizes=(8,),
            batch_size=32,
            solver="sgd",
            learning_rate_init=0.05,
            random_state=0,
        )
        search = search_class(
            mlp,
            {"alpha": FloatDistribution(1e-5, 1e-1, log=True)},
            n_trials=2,
            cv=KFold(3),
            enable_pruning=True,
            max_iter=4,
            study=study,
            refit=False,
            **options,
        )
        return search.fit(X, y)

    peer = run(optuna_integration.OptunaSearchCV)
    ours = run(OptunaSearchCV, trials_per_batch=1, segment_epochs=1)
    for mine, theirs in zip(ours.trials_, peer.trials_):
        assert mine.intermediate_values == pytest.approx(theirs.intermediate_values, abs=1e-12)
        assert np.isfinite(list(mine.intermediate_values.values())).all()
        assert mine.state == theirs.state  # a trial's value: the nanmean of its folds


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.filterwarnings("ignore:`optuna.terminator` module has been deprecated:FutureWarning")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.FitFailedWarning", "ignore::UserWarning")
@pytest.mark.parametrize("enable_pruning", [False, True])
def test_a_trial_with_a_failed_fold_scores_the_mean_of_the_others(enable_pruning):
    """As optuna_integration computes a trial's value (nanmean): a fold whose fit fails
    (MultinomialNB, a negative value among one fold's training rows; error_score=nan) is left
    out of the trial's mean in the study and in cv_results_, so the trial is COMPLETE, and
    the sampler sees what the peer's sees: the same trials, values and best."""
    optuna_integration = pytest.importorskip("optuna_integration")
    from sklearn.datasets import load_iris
    from sklearn.naive_bayes import MultinomialNB

    X, y = load_iris(return_X_y=True)  # counts-like: non-negative
    X[0, 0] = -0.1

    def run(search_class):
        search = search_class(
            MultinomialNB(),
            {"alpha": FloatDistribution(1e-3, 10, log=True)},
            n_trials=4,
            enable_pruning=enable_pruning,
            max_iter=3,
            random_state=0,
            cv=2,
            refit=False,  # the refit would take the negative value
        )
        return search.fit(X, y)

    peer, ours = run(optuna_integration.OptunaSearchCV), run(OptunaSearchCV)
    assert [t.state for t in ours.trials_] == [TrialState.COMPLETE] * 4
    assert [t.params for t in ours.trials_] == [t.params for t in peer.trials_]
    assert [t.value for t in ours.trials_] == pytest.approx([t.value for t in peer.trials_])
    assert np.isnan(ours.cv_results_["split1_test_score"]).all()  # fold 1 trains on row 0
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], ours.cv_results_["split0_test_score"]
    )
    assert list(ours.cv_results_["status"]) == ["complete"] * 4
    assert ours.best_params_ == peer.best_params_
