"""Flax models through the one engine: fields traced, switched or padded, early stopping,
the module contract, bad input, and every scale feature the MLPs have (chunks, checkpoints,
devices, halving that continues survivors)."""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import vgrid
from vgrid.prng import HASH_PRNG

from helpers import assert_same_search


class KerasStyleNet(nn.Module):
    """The source document's network, as a Flax user writes it: Dense(filters, activation) ->
    Dense(1) (a logit: sigmoid cross-entropy); `kernel_size` is never read."""

    filters: int = 32
    kernel_size: int = 3
    activation: str = "relu"

    @nn.compact
    def __call__(self, x):
        x = getattr(nn, self.activation)(nn.Dense(self.filters)(x))
        return nn.Dense(1)(x)


class NormedNet(nn.Module):
    """LayerNorm over the hidden units: padding them would change the real units' values."""

    width: int = 8
    n_outputs: int = 2

    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.n_outputs)(nn.LayerNorm()(nn.relu(nn.Dense(self.width)(x))))


class NNXNet(nnx.Module):
    def __init__(self, n_features, n_outputs, hidden=8, *, rngs):
        self.hidden = nnx.Linear(n_features, hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, n_outputs, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.relu(self.hidden(x)))


def _data():
    X, y = make_classification(n_samples=200, n_features=10, n_informative=5, random_state=42)
    return X, y


def _pipeline(**params):
    params = {"max_epochs": 3, "batch_size": 32, **params}
    return Pipeline(
        [("scaler", StandardScaler()), ("cnn", vgrid.FlaxClassifier(KerasStyleNet, **params))]
    )


EXAMPLE_GRID = {
    "cnn__module__filters": [4, 8],
    "cnn__module__kernel_size": [3, 5],
    "cnn__module__activation": ["relu", "tanh"],
}


@pytest.fixture(scope="module")
def example_search():
    X, y = _data()
    search = vgrid.GridSearchCV(_pipeline(), EXAMPLE_GRID, cv=2, scoring="accuracy")
    return search.fit(X, y), X, y


def test_keras_style_grid_is_one_program(example_search):
    search, _, _ = example_search
    (report,) = search.vectorization_
    assert report.n_models == 16
    assert "padded filters=8" in str(report) and "switch activation x2" in str(report)
    assert "traced kernel_size" in str(report)
    assert report.useful_gflop > 0 and report.padding_overhead > 0
    assert search.learning_curves_["loss"].shape == (8, 2, 3)
    assert search.refit_engine_ == "vgrid"


@pytest.mark.parametrize(
    "params",
    [
        {
            "cnn__module__filters": 4,
            "cnn__module__kernel_size": 5,
            "cnn__module__activation": "tanh",
        },
        {
            "cnn__module__filters": 8,
            "cnn__module__kernel_size": 3,
            "cnn__module__activation": "relu",
        },
    ],
)
def test_each_candidate_equals_its_own_fit(example_search, params):
    search, X, y = example_search
    train, test = next(iter(StratifiedKFold(2).split(X, y)))
    alone = clone(_pipeline()).set_params(**params).fit(X[train], y[train])
    index = search.cv_results_["params"].index(params)
    np.testing.assert_allclose(
        search.learning_curves_["loss"][index, 0], alone[-1].loss_curve_, rtol=1e-5
    )
    assert search.cv_results_["split0_test_score"][index] == alone.score(X[test], y[test])


def test_refit_equals_a_plain_fit_of_the_best_candidate(example_search):
    search, X, y = example_search
    alone = clone(_pipeline()).set_params(**search.best_params_).fit(X, y)
    np.testing.assert_allclose(
        search.best_estimator_[-1].loss_curve_, alone[-1].loss_curve_, rtol=1e-5
    )
    np.testing.assert_array_equal(search.predict(X), alone.predict(X))


def test_one_output_binary_head_predicts_probabilities(example_search):
    search, X, y = example_search
    proba = search.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(search.predict(X), search.classes_[proba.argmax(axis=1)])


def test_chunks_slots_and_devices_never_change_a_number(example_search):
    search, X, y = example_search
    for options in ({"chunk_size": 3}, {"n_jobs": 1}):
        other = vgrid.GridSearchCV(
            _pipeline(), EXAMPLE_GRID, cv=2, scoring="accuracy", refit=False, **options
        ).fit(X, y)
        np.testing.assert_allclose(
            other.learning_curves_["loss"], search.learning_curves_["loss"], rtol=1e-6
        )
        if "n_jobs" in options:
            assert other.vectorization_[0].threads == 1


DEVICE_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
import jax
from test_flax_engine import _data, _pipeline, EXAMPLE_GRID
import vgrid
X, y = _data()
s = vgrid.GridSearchCV(_pipeline(), EXAMPLE_GRID, cv=2, refit=False).fit(X, y)
print(json.dumps({"devices": jax.device_count(),
                  "loss": s.learning_curves_["loss"].tolist()}))
"""


def test_four_devices_give_the_same_numbers(example_search):
    search, _, _ = example_search
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    run = subprocess.run(
        [sys.executable, "-c", DEVICE_SCRIPT, os.path.dirname(__file__)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["devices"] == 4
    np.testing.assert_allclose(out["loss"], search.learning_curves_["loss"], rtol=1e-5)


def test_unsafe_padding_falls_back_to_one_program_per_width():
    X, y = _data()
    search = vgrid.GridSearchCV(
        vgrid.FlaxClassifier(NormedNet, max_epochs=2), {"module__width": [4, 8]}, cv=2, refit=False
    ).fit(X, y)
    assert len(search.vectorization_) == 2
    assert all("not padded (unsafe): width" in str(r) for r in search.vectorization_)


def test_early_stopping_stops_each_model_on_its_own_validation_score(datasets):
    X, y = datasets["digits"]
    est = vgrid.FlaxClassifier(
        max_epochs=60,
        early_stopping=True,
        n_iter_no_change=2,
        module__hidden=(16,),
        optimizer__learning_rate=0.02,
    )
    search = vgrid.GridSearchCV(est, {"optimizer__learning_rate": [0.02, 0.05]}, cv=2).fit(X, y)
    alone = clone(est).fit(X, y)
    assert alone.n_iter_ < 60 and len(alone.validation_scores_) == alone.n_iter_
    assert alone.best_validation_score_ == max(alone.validation_scores_)
    fitted = search.best_estimator_
    assert fitted.n_iter_ < 60 and fitted.best_validation_score_ == max(fitted.validation_scores_)
    curves = search.learning_curves_["validation_score"]
    assert np.isnan(curves).any() and np.isfinite(curves[:, :, 0]).all()  # stopped early
    if search.best_params_["optimizer__learning_rate"] == 0.02:
        assert fitted.loss_curve_ == pytest.approx(alone.loss_curve_, rel=1e-5)


def test_halving_on_max_epochs_continues_survivors(datasets):
    X, y = datasets["iris"]
    est = vgrid.FlaxClassifier(module__hidden=(8,), batch_size=16)
    grid = {"optimizer__learning_rate": [1e-3, 1e-2, 5e-2]}

    def run(continue_survivors):
        search = vgrid.HalvingGridSearchCV(
            est,
            grid,
            resource="max_epochs",
            min_resources=2,
            max_resources=6,
            factor=3,
            cv=2,
            random_state=0,
        )
        search.continue_survivors = continue_survivors
        return search.fit(X, y)

    continued, retrained = run(True), run(False)
    assert continued.resumed_epochs_ > 0
    np.testing.assert_allclose(
        continued.cv_results_["mean_test_score"],
        retrained.cv_results_["mean_test_score"],
        atol=1e-6,
    )


def test_module_contract_optimizers_losses_and_nnx(datasets):
    X, y = datasets["wine"]
    fitted = {}
    for name, optimizer, args in [
        ("instance", optax.adam(1e-2), {}),
        ("factory", optax.adam, {"optimizer__learning_rate": 1e-2}),
        ("name", "adam", {}),
        ("default", optax.adam, {}),
        ("sgd", optax.sgd, {}),
    ]:
        clf = vgrid.FlaxClassifier(
            module__hidden=(8,), optimizer=optimizer, max_epochs=3, **args
        ).fit(X, y)
        assert clf.score(X, y) > 0.3
        fitted[name] = clf.loss_curve_
    # An instance trains as its factory with the same arguments; a name is its factory (with
    # the default learning rate, 1e-3).
    np.testing.assert_allclose(fitted["instance"], fitted["factory"], rtol=1e-5)
    np.testing.assert_array_equal(fitted["name"], fitted["default"])
    assert not np.allclose(fitted["name"], fitted["factory"])  # the learning rate counts
    nnx_clf = vgrid.FlaxClassifier(NNXNet, module__hidden=4, max_epochs=3).fit(X, y)
    proba = nnx_clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(nnx_clf.predict(X), nnx_clf.classes_[proba.argmax(axis=1)])
    Xr, yr = datasets["diabetes"]
    two = np.column_stack([yr, -yr])
    reg = vgrid.FlaxRegressor(module__hidden=(8,), max_epochs=3).fit(Xr, two)
    assert reg.predict(Xr).shape == two.shape
    # Adam is invariant to the loss's scale: twice the squared error trains the same model.
    base = vgrid.FlaxRegressor(module__hidden=(8,), max_epochs=4, optimizer__eps=1e-12)
    doubled = clone(base).set_params(loss=lambda out, y: 2 * jnp.mean((out - y) ** 2, axis=-1))
    np.testing.assert_allclose(
        doubled.fit(Xr, yr).loss_curve_, 2 * np.array(base.fit(Xr, yr).loss_curve_), rtol=1e-3
    )
    # Sample weights are normalized per minibatch: doubling every weight changes nothing.
    ones = clone(base).fit(Xr, yr, sample_weight=np.ones(len(yr)))
    twos = clone(base).fit(Xr, yr, sample_weight=2 * np.ones(len(yr)))
    np.testing.assert_allclose(ones.loss_curve_, twos.loss_curve_, rtol=1e-5)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: vgrid.FlaxClassifier(module=42), TypeError, "module must be a flax.linen.Module"),
        (lambda: vgrid.FlaxClassifier(module__nope=1), ValueError, "MLP has no field 'nope'"),
        (lambda: vgrid.FlaxClassifier(optimizer=42), TypeError, "optimizer must be an optax"),
        (lambda: vgrid.FlaxClassifier(optimizer="adamm"), ValueError, "is not an optax optimizer"),
        (
            lambda: vgrid.FlaxClassifier(optimizer__lr=0.1),
            ValueError,
            "adam takes no argument 'lr'",
        ),
        (
            lambda: vgrid.FlaxClassifier(optimizer=optax.adam(1e-3), optimizer__b1=0.8),
            ValueError,
            "pass the factory",
        ),
        (
            lambda: vgrid.FlaxClassifier(KerasStyleNet, module__filters=-1),
            ValueError,
            "KerasStyleNet failed on input",
        ),
        (
            lambda: vgrid.FlaxClassifier(KerasStyleNet),
            ValueError,
            "outputs 1 values per row but the target has 3 classes",
        ),
        (lambda: vgrid.FlaxClassifier(max_epochs=0), ValueError, "max_epochs must be a positive"),
    ],
)
def test_bad_input_is_named_before_training(datasets, make, error, match):
    X, y = datasets["iris"]
    with pytest.raises(error, match=match):
        make().fit(X, y)


def test_a_grid_key_without_its_prefix_names_the_prefix(datasets):
    X, y = datasets["iris"]
    with pytest.raises(ValueError, match="fields are set with 'module__filters'"):
        vgrid.GridSearchCV(vgrid.FlaxClassifier(KerasStyleNet), {"filters": [4]}).fit(X, y)
    with pytest.raises(ValueError, match="set with 'optimizer__learning_rate'"):
        vgrid.FlaxClassifier().set_params(learning_rate=0.1)


def test_a_failing_candidate_is_scored_with_error_score():
    X, y = _data()
    search = vgrid.GridSearchCV(
        vgrid.FlaxClassifier(KerasStyleNet, max_epochs=2), {"module__filters": [-1, 4]}, cv=2
    )
    with pytest.warns(FitFailedWarning, match="fits failed"):
        with pytest.warns(UserWarning, match="One or more of the test scores are non-finite"):
            search.fit(X, y)
    assert np.isnan(search.cv_results_["mean_test_score"][0])
    assert np.isfinite(search.cv_results_["mean_test_score"][1])


def test_verbose_lines_name_the_program_and_its_compile_time(datasets, capsys):
    X, y = datasets["wine"]
    est = vgrid.FlaxClassifier(module__hidden=(8,), max_epochs=2, batch_size=13)
    vgrid.GridSearchCV(est, {"module__hidden": [(5,), (7,)]}, cv=2, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "models adam MLP" in line)
    assert "padded hidden=(7,)" in line
    assert float(line.split("compile ")[1].split("s")[0]) > 0


FLAX_CHECKPOINT_SCRIPT = """
import sys, warnings
from sklearn.exceptions import ConvergenceWarning
warnings.simplefilter("ignore", ConvergenceWarning)
sys.path.insert(0, sys.argv[2])
from test_flax_engine import make_checkpointed_search
search, X, y = make_checkpointed_search(sys.argv[1])
search.fit(X, y)
"""


def make_checkpointed_search(checkpoint=None):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    est = vgrid.FlaxClassifier(module__hidden=(32,), max_epochs=40, batch_size=16)
    grid = {"optimizer__learning_rate": [1e-4, 3e-4, 1e-3, 3e-3], "module__hidden": [(32,), (48,)]}
    return (
        vgrid.GridSearchCV(est, grid, cv=3, chunk_size=2, checkpoint=checkpoint, refit=False),
        X / 16,
        y,
    )


def test_flax_chunks_are_saved_loaded_and_a_cut_one_retrained(tmp_path, example_search):
    # In this process: a Flax search's chunks written, then a rerun that loads every chunk but
    # one cut short (as a kill mid-write leaves it), retrains that one, and scores the same.
    _, X, y = example_search
    folder = str(tmp_path / "ckpt")

    def make():
        return vgrid.GridSearchCV(
            _pipeline(), EXAMPLE_GRID, cv=2, scoring="accuracy", chunk_size=4, checkpoint=folder
        )

    first = make().fit(X, y)
    assert first.checkpoint_chunks_ == {"loaded": 0, "saved": 4}  # 16 fits, 4 per chunk
    chunks = sorted(glob.glob(os.path.join(folder, "chunk-*.npz")))
    with open(chunks[1], "r+b") as f:
        f.truncate(100)
    with pytest.warns(UserWarning, match="unreadable"):
        again = make().fit(X, y)
    assert again.checkpoint_chunks_ == {"loaded": 3, "saved": 1}
    assert_same_search(again, first)
    np.testing.assert_array_equal(again.learning_curves_["loss"], first.learning_curves_["loss"])


# Slow: a fresh process killed with SIGKILL part way. Covered by
# test_flax_chunks_are_saved_loaded_and_a_cut_one_retrained (a Flax search resumed from its
# chunks, one cut short) and test_checkpoint.py::
# test_ctrl_c_stops_within_a_segment_keeps_finished_chunks_and_resumes (a process interrupted
# part way resumes with the uninterrupted scores; the checkpoint code is the same for both kinds).
@pytest.mark.slow
def test_killed_flax_run_resumes_with_identical_scores(tmp_path):
    folder = str(tmp_path / "ckpt")
    process = subprocess.Popen(
        [sys.executable, "-c", FLAX_CHECKPOINT_SCRIPT, folder, os.path.dirname(__file__)]
    )
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if len(glob.glob(os.path.join(folder, "chunk-*.npz"))) >= 2:
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    assert process.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    search, X, y = make_checkpointed_search(folder)
    resumed = search.fit(X, y)
    assert resumed.checkpoint_chunks_["loaded"] >= 2
    assert resumed.checkpoint_chunks_["saved"] < 12
    reference, X, y = make_checkpointed_search()
    reference.fit(X, y)
    assert_same_search(resumed, reference)


# Slow: a two-process Dask cluster. Covered by test_dask.py::
# test_dask_cluster_runs_the_chunks_with_identical_results (chunks dispatched to a cluster, the
# same joblib path for both kinds) and test_chunks_slots_and_devices_never_change_a_number (a
# Flax search in chunks gives the same numbers).
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Port 8787 is already in use:UserWarning")  # see test_dask
def test_dask_cluster_trains_flax_chunks_with_identical_results(example_search):
    distributed = pytest.importorskip("distributed")
    import joblib

    search, X, y = example_search
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_backend("dask"),
    ):
        remote = vgrid.GridSearchCV(
            _pipeline(), EXAMPLE_GRID, cv=2, scoring="accuracy", refit=False
        ).fit(X, y)
    ran_on = {w.rsplit(":", 1)[1] for r in remote.vectorization_ for w in r.workers}
    assert ran_on and str(os.getpid()) not in ran_on  # on the workers, not here
    np.testing.assert_allclose(
        remote.learning_curves_["loss"], search.learning_curves_["loss"], rtol=1e-6
    )


def test_hash_prng_is_uniform_independent_and_position_based():
    key = jax.random.key(7, impl=HASH_PRNG)
    u = np.asarray(jax.random.uniform(key, (200_000,)))
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.std() - 12**-0.5) < 0.005
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01
    counts = np.histogram(u, bins=20, range=(0, 1))[0]
    assert counts.min() > 0.95 * len(u) / 20
    # A value depends on its key and position only, not on how many were drawn.
    np.testing.assert_array_equal(jax.random.uniform(key, (10,)), u[:10])
    children = [
        np.asarray(jax.random.uniform(jax.random.fold_in(key, i), (1000,))) for i in range(3)
    ]
    assert abs(np.corrcoef(children[0], children[1])[0, 1]) < 0.1
    assert abs(np.corrcoef(children[0], u[:1000])[0, 1]) < 0.1
    split = jax.random.key_data(jax.random.split(key, 1000))
    assert len({tuple(row) for row in np.asarray(split)}) == 1000
    batched = jax.vmap(lambda k: jax.random.normal(k, (4,)))(jax.random.split(key, 3))
    np.testing.assert_array_equal(batched[1], jax.random.normal(jax.random.split(key, 3)[1], (4,)))


def test_readme_port_of_the_source_documents_example_3_runs(capsys):
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    block = readme.split("The source document's Examples 2 and 3, ported")[1]
    code = block.split("```python\n")[1].split("```")[0]
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    search = namespace["grid_search"]
    assert len(search.cv_results_["params"]) == 36 and len(search.vectorization_) == 1
    assert search.best_score_ > 0.8
    assert "Best parameters:" in capsys.readouterr().out


def test_search_and_refit_compile_one_training_program_and_a_rerun_none():
    from jax import monitoring

    from vgrid.scheduling import PROGRAMS

    compiles = []
    monitoring.register_event_duration_secs_listener(
        lambda event, duration, **kw: (
            compiles.append(event)
            if event == "/jax/core/compile/backend_compile_duration"
            else None
        )
    )
    X, y = _data()
    search = vgrid.GridSearchCV(_pipeline(batch_size=24), EXAMPLE_GRID, cv=2)  # fresh shapes
    before = len(PROGRAMS._compiled)
    search.fit(X, y)
    assert len(PROGRAMS._compiled) == before + 1  # cross-validation and refit: one program
    assert search.refit_engine_ == "vgrid"
    first = len(compiles)
    search.fit(X, y)
    assert len(compiles) == first  # the rerun compiles nothing at all
