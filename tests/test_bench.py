"""`vgrid bench`: its FLOP count, its workloads, the command end to end, and its bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold

import vgrid
from vgrid import cli
from vgrid.bench import flops, report, runner, worker, workloads

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- FLOP count


@pytest.mark.parametrize("hidden", [(3,), (7, 5)])
def test_mlp_step_flop_is_the_matmuls_plus_a_bounded_elementwise_part(hidden):
    n_features, n_outputs, rows = 4, 3, 10
    sizes = [n_features, *hidden, n_outputs]
    pairs = list(zip(sizes[:-1], sizes[1:]))
    forward = sum(2 * rows * a * b for a, b in pairs)
    kernel_grads = forward
    input_grads = sum(2 * rows * a * b for a, b in pairs[1:])  # none for the data itself
    matmuls = forward + kernel_grads + input_grads
    weights = sum((a + 1) * b for a, b in pairs)
    elementwise_bound = 30 * (rows * sum(sizes[1:]) + weights)
    flop = flops.mlp_step_flop(n_features, hidden, n_outputs, rows, "float32")
    assert matmuls < flop < matmuls + elementwise_bound
    # the same model in float64 does the same work; twice the rows, up to twice (the optimizer
    # update's work is per weight)
    assert flops.mlp_step_flop(n_features, hidden, n_outputs, rows, "float64") == flop
    assert flop < flops.mlp_step_flop(n_features, hidden, n_outputs, 2 * rows, "float32") < 2 * flop


def test_search_flop_counts_each_fits_own_epochs_and_minibatches_and_the_refit(datasets):
    X, y = datasets["iris"]
    cv = StratifiedKFold(3)
    grid = {"hidden_layer_sizes": [(3,), (7, 2)], "learning_rate_init": [1e-3, 0.1]}
    est = vgrid.MLPClassifier(max_iter=30, batch_size=32, random_state=0)
    search = vgrid.GridSearchCV(est, grid, cv=cv).fit(X, y)

    def epoch(hidden, n_rows):  # full minibatches of 32 and the partial last one
        full, rest = divmod(n_rows, 32)
        step = lambda r: flops.mlp_step_flop(4, hidden, 3, r, "float64")  # noqa: E731
        return full * step(32) + (step(rest) if rest else 0)

    expected = 0.0
    for params in search.cv_results_["params"]:
        for train, _ in cv.split(X, y):
            alone = vgrid.MLPClassifier(max_iter=30, batch_size=32, random_state=0, **params)
            alone.fit(X[train], y[train])
            expected += alone.n_iter_ * epoch(params["hidden_layer_sizes"], len(train))
    best = search.best_estimator_
    expected += best.n_iter_ * epoch(search.best_params_["hidden_layer_sizes"], len(X))
    assert flops.search_flop(search, X, y, cv, "float64") == pytest.approx(expected, rel=1e-12)


def test_flax_cnn_flop_counts_the_real_convolution_not_the_masked_one():
    import optax

    from vgrid.flax_models import DigitsCNN

    def count(features, kernel):
        fields = (("features", features), ("kernel_size", kernel))
        return flops.flax_step_flop(
            DigitsCNN, fields, optax.adam, (("learning_rate", 1e-3),), 64, 10, 32
        )

    small, large = count(4, 3), count(16, 5)
    conv_forward = lambda f, k: 2 * 32 * 64 * k * k * f  # noqa: E731  rows x positions x taps
    assert small > 2 * conv_forward(4, 3)
    # The masked program computes 16 filters of 5 x 5 for both; the real work differs.
    assert large > 3 * small


# ----------------------------------------------------------------------------- workloads


def test_every_workload_builds_with_the_documented_sizes():
    sizes = {
        name: workloads.build(name, "full").n_fits
        for name in workloads.WORKLOADS
        if name != workloads.SCALING
    }
    assert sizes["mlp_seed"] == 10_000
    assert sizes["flax_1k"] >= 1000 and workloads.build("flax_1k", "quick").n_fits >= 1000
    assert sizes["mlp_wide"] == 160 and sizes["core_a"] == 27 and sizes["core_b"] == 80
    assert sizes["large"] == 160
    assert workloads.build("mlp_seed", "quick").n_fits < 100
    # workloads v2's quick sizes (the full ones are v1's)
    assert workloads.WORKLOADS_VERSION == 2
    wide = workloads.build("mlp_wide", "quick")
    assert wide.n_fits == 40 and wide.estimator.max_iter == 1 and wide.X.shape == (10000, 64)
    assert workloads.build("mlp_wide", "full").estimator.max_iter == 20
    assert workloads.build("flax_cnn", "quick").estimator.max_epochs == 2
    assert workloads.build("flax_1k", "quick").estimator.max_epochs == 1
    assert workloads.build("mlp_seed", "quick", "float64").X.dtype == np.float64
    assert workloads.build_scaling(16).n_fits == 16
    with pytest.raises(KeyError, match="unknown workload 'nope'; choose from mlp_seed"):
        workloads.build("nope")
    assert set(workloads.DEFAULT_WORKLOADS) <= set(workloads.WORKLOADS)


def test_the_suites_large_grid_is_workloads_v1s_quick_mlp_wide():
    large = workloads.build("large")
    assert large.X.shape == (10000, 64) and large.n_fits == 160
    assert large.grid == {
        "hidden_layer_sizes": [(256,), (256, 256)],
        "learning_rate_init": [1e-4, 3e-4, 1e-3, 3e-3],
        "alpha": [1e-5, 1e-4, 1e-3, 1e-2],
    }
    assert large.estimator.max_iter == 5 and large.estimator.n_iter_no_change == 10**6


def test_a_workloads_definition_says_what_runs_and_is_json():
    quick, full = workloads.build("mlp_wide", "quick"), workloads.build("mlp_wide", "full")
    described = json.loads(json.dumps(quick.describe()))
    assert described["estimator"]["class"].endswith("MLPClassifier")
    assert described["estimator"]["params"] == {
        "max_iter": 1,
        "n_iter_no_change": 10**6,
        "random_state": 0,
    }
    assert described["grid"]["hidden_layer_sizes"] == [[256], [256, 256]]
    assert described["cv"]["params"]["n_splits"] == 5
    assert full.describe()["estimator"]["params"]["max_iter"] == 20
    flax = workloads.build("flax_cnn", "quick").describe()
    assert flax["estimator"]["params"]["module"] == "vgrid.flax_models.DigitsCNN"
    assert flax["estimator"]["params"]["max_epochs"] == 2
    for name in workloads.WORKLOADS:
        if name != workloads.SCALING:
            json.dumps(workloads.build(name, "quick").describe())


def test_scaling_sizes_and_the_memory_stop():
    assert runner.scaling_sizes(1) == [1]
    assert runner.scaling_sizes(256) == [1, 4, 16, 64, 256]
    assert runner.scaling_sizes(100) == [1, 4, 16, 64, 100]
    assert runner.scaling_sizes(256, factor=16) == [1, 16, 256]
    quick_cpu = runner.SCALING_CAP["cpu", "quick"], runner.SCALING_FACTOR["quick"]
    assert runner.scaling_sizes(*quick_cpu) == [1, 16, 64]

    def row(models, peak, devices=1):
        return {
            "models": models,
            "devices": devices,
            "device_peak_mib": peak,
            "device_limit_mib": 1000.0,
        }

    # 10 MiB a model above 100 MiB: 64 models fit (740 MiB), 256 do not (2,650 MiB)
    rows = [row(1, 100.0), row(16, 250.0)]
    assert runner._fits_memory(rows, 64) and not runner._fits_memory(rows, 256)
    # on 4 devices each holds a quarter of the models
    rows4 = [row(1, 100.0, 4), row(64, 257.5, 4)]
    assert runner._fits_memory(rows4, 256) and not runner._fits_memory(rows4, 1024)
    assert runner._fits_memory([{"models": 1, "devices": 1, "device_peak_mib": None}], 10**9)


def test_device_environment_for_fewer_devices(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_foo=1 --xla_force_host_platform_device_count=4")
    cpu = {"platform": "cpu", "device_count": 4}
    assert runner._device_env(4, cpu)["XLA_FLAGS"] == os.environ["XLA_FLAGS"]
    assert (
        runner._device_env(2, cpu)["XLA_FLAGS"]
        == "--xla_cpu_foo=1  --xla_force_host_platform_device_count=2"
    )
    gpu = {"platform": "gpu", "device_count": 8, "platform_version": "cuda 12.8"}
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert runner._device_env(3, gpu)["CUDA_VISIBLE_DEVICES"] == "0,1,2"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7,0,1,2,3")
    assert runner._device_env(2, gpu)["CUDA_VISIBLE_DEVICES"] == "4,5"
    with pytest.raises(runner.BenchError, match="not on tpu"):
        runner._device_env(1, {"platform": "tpu", "device_count": 4})


# ----------------------------------------------------------------------------- the command


def _bench(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "vgrid", "bench", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, **(env or {})),
    )


# spawn is slow (a new interpreter per measurement): the fork case covers the table, JSON and
# plot, and test_a_failed_measurement_is_its_last_line_and_the_next_one_runs[False-False] the
# spawned processes.
@pytest.mark.parametrize("processes", ["fork", pytest.param("spawn", marks=pytest.mark.slow)])
def test_bench_quick_prints_the_table_and_writes_json_that_validates_and_a_plot(
    tmp_path, processes
):
    # Two forced CPU devices: the scaling curve's one point on 1 device, then on both (the
    # device count reaches forked processes too: XLA reads its flags when the backend starts).
    if processes == "fork" and not worker.fork_is_safe():
        pytest.skip("measurements are forked on Linux only")
    out, png = tmp_path / "bench.json", tmp_path / "bench.png"
    done = _bench(
        "--quick",
        "--workloads",
        "scaling",
        "--max-models",
        "1",
        "--devices",
        "1",
        "2",
        "--json",
        str(out),
        "--plot",
        str(png),
        *(["--spawn"] if processes == "spawn" else []),
        env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2", "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert "cold fits/s" in done.stdout and "scaling 1" in done.stdout
    assert f"({processes}ed processes): probe" in done.stdout
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, report.load_schema())
    assert doc["machine"]["device_count"] == 2 and doc["machine"]["jax"]
    assert doc["size"] == "quick" and doc["workloads_version"] == workloads.WORKLOADS_VERSION
    assert doc["options"]["quick"] is True and doc["options"]["processes"] == processes
    assert [r["devices"] for r in doc["results"]] == [1, 2]
    for r in doc["results"]:
        assert r["models"] == 1 and r["n_fits"] == 1 and r["size"] == "quick"
        assert r["definition"] == json.loads(json.dumps(workloads.build_scaling(1).describe()))
        assert r["warm"]["fits_per_second"] > 0 and r["compile_seconds"] > 0
        assert 0 < r["warm"]["share_of_peak"] < 1 and r["useful_gflop"] > 0
        assert r["host_peak_rss_mib"] > r["host_rss_before_fit_mib"] > 0
        # on the CPU the devices share the cores: the peak is the probe's one-device rate
        assert r["peak_gflops"] == doc["peak"][r["dtype"]]["per_device_gflops"]
        for phase in ("cold", "warm"):  # each rate is its count over its measured time
            rates = r[phase]
            assert rates["fits_per_second"] == pytest.approx(1 / rates["seconds"], rel=1e-12)
            gflops = r["useful_gflop"] / rates["seconds"]
            assert rates["useful_gflops"] == pytest.approx(gflops, rel=1e-12)
            share = gflops / r["peak_gflops"]
            assert rates["share_of_peak"] == pytest.approx(share, rel=1e-12)
        assert r["process_seconds"] > r["cold"]["seconds"] + r["warm"]["seconds"]
    assert doc["seconds"]["total"] > doc["seconds"]["probe"] > 0
    assert [s["devices"] for s in doc["scaling"]] == [1, 2]
    assert doc["peak"]["float32"]["per_device_gflops"] > 0
    assert doc["options"]["devices"] == [1, 2] and doc["options"]["workloads"] == ["scaling"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("fork, server_from_here", [(False, False), (True, False), (True, True)])
def test_a_failed_measurement_is_its_last_line_and_the_next_one_runs(fork, server_from_here):
    if fork and not worker.fork_is_safe():
        pytest.skip("measurements are forked on Linux only")
    if server_from_here:
        # This process has started a JAX backend: it is never forked, a new interpreter serves.
        import jax

        jax.devices()
        assert runner._jax_backend_started()
    bad = {"kind": "workload", "workload": "nope", "size": "quick", "dtype": "float32"}
    with runner.Processes(fork, server_from_here) as processes:
        with pytest.raises(RuntimeError, match="unknown workload 'nope'"):
            processes.run(bad, dict(os.environ))
        probe = processes.run({"kind": "probe", "dtypes": []}, dict(os.environ))
    assert probe["machine"]["platform"] == "cpu" and probe["peak"] == {}


def test_the_fork_server_preloads_only_what_a_new_measurement_imports_before_its_fit():
    # A forked measurement's cold fit must import what a new interpreter's would: the server's
    # modules (`vgrid bench`'s own, from `python -m vgrid`, and PRELOAD) are all imported by a
    # new worker before its first fit (here the fit of each kind of workload: scikit-learn's
    # MLP and Flax), but for the command line's two, which no fit imports.
    script = (
        "import sys, importlib\n"
        "import jax\n"
        "from vgrid.bench import measure, workloads, worker\n"
        "import vgrid\n"
        "from vgrid.bench.flops import search_flop\n"
        "workloads.build('mlp_seed', 'quick'); workloads.build('flax_cnn', 'quick')\n"
        "before = set(sys.modules)\n"
        "import vgrid.__main__, vgrid.cli\n"
        "for name in worker.PRELOAD: importlib.import_module(name)\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['vgrid.__main__', 'vgrid.cli']"


def test_the_schema_rejects_a_document_missing_a_measurement(tmp_path):
    doc = report.document(
        machine={},
        peak={},
        size="quick",
        dtype="float32",
        results=[{"workload": "mlp_seed", "cold": {}}],
        scaling=[],
        options={},
        created="now",
        seconds={"probe": 1.0, "total": 2.0},
    )
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, report.load_schema())


def _one_error_line(capsys, argv):
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_an_unknown_workload_is_one_line_and_status_2(capsys):
    line = _one_error_line(capsys, ["bench", "--workloads", "mlp_seed,nope"])
    assert line == (
        "vgrid bench: error: unknown workload 'nope'; choose from mlp_seed, "
        "mlp_wide, flax_cnn, flax_1k, scaling, core_a, core_b, large"
    )


def test_an_unwritable_json_path_is_one_line_and_status_2(capsys, tmp_path):
    line = _one_error_line(capsys, ["bench", "--json", str(tmp_path / "no" / "such" / "x.json")])
    assert line.startswith("vgrid bench: error: --json ") and "cannot write" in line
    line = _one_error_line(capsys, ["bench", "--json", str(tmp_path)])
    assert "is a folder" in line


def test_device_counts_beyond_the_machine_are_refused_by_name():
    machine = {"platform": "cpu", "device_count": 2}
    assert runner._device_counts(None, machine) == [2]
    assert runner._device_counts([1, 2], machine) == [1, 2]
    for bad in (3, 0):
        with pytest.raises(runner.BenchError) as error:
            runner._device_counts([1, bad], machine)
        assert str(error.value) == (
            f"--devices {bad}: this machine has 2 cpu device(s); choose 1 to 2"
        )


# Slow: a fresh process with two forced devices, probed and measured before the check. Covered
# by test_device_counts_beyond_the_machine_are_refused_by_name (the check and its message) and
# test_an_unknown_workload_is_one_line_and_status_2 (a BenchError: one line, status 2).
@pytest.mark.slow
def test_more_devices_than_exist_is_one_line_and_status_2():
    done = _bench(
        "--quick",
        "--devices",
        "3",
        env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2", "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "vgrid bench: error: --devices 3: this machine has 2 cpu device(s); choose 1 to 2"
    )
    assert done.stdout == ""


def test_bench_is_a_subcommand_of_the_installed_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["bench", "--help"])
    assert exit_.value.code == 0
    assert "--quick" in capsys.readouterr().out
