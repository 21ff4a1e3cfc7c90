"""`vgrid run SPEC`, its errors, and vgrid.plot."""

import json

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy.stats import loguniform
from sklearn import model_selection, neural_network
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

import vgrid
import vgrid.plot
from vgrid.cli import main

from helpers import key_kind

matplotlib.use("Agg")


def _assert_csv_holds(path, search):
    """The cv_results.csv `vgrid run` wrote holds `search.cv_results_`: the same columns in the
    same order, each candidate's parameters (as their repr), and every score, rank and other
    number equal (timings aside)."""
    frame = pd.read_csv(path)
    results = search.cv_results_
    assert list(frame.columns) == list(results)
    assert len(frame) == len(results["params"])
    for key, values in results.items():
        if key_kind(key) == "params":
            assert list(frame[key]) == [repr(p) for p in values]
        elif key_kind(key) in ("score", "rank", "other"):
            np.testing.assert_array_equal(frame[key].to_numpy(), np.asarray(values), err_msg=key)


SPEC_TOML = """
[data]
path = "data.csv"
target = "label"
scale = true

[estimator]
name = "MLPClassifier"
params = { max_iter = 15, random_state = 0, hidden_layer_sizes = [4] }

[search]
kind = "grid"
cv = 3
[search.grid]
alpha = [1e-4, 1e-1]
learning_rate_init = [1e-3, 1e-2]

[output]
folder = "out"
"""


def test_run_spec_writes_results_and_plots(tmp_path, datasets, capsys):
    X, y = datasets["wine"]
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["label"] = y
    frame.to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "spec.toml").write_text(SPEC_TOML)
    assert main(["run", str(tmp_path / "spec.toml"), "--compare"]) == 0
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {
        "cv_results.csv",
        "summary.md",
        "ranks.png",
        "learning_curves.png",
        "heatmap.png",
    }
    assert "max |split score difference|:       0" in capsys.readouterr().out
    # The numbers written are scikit-learn's: its own search on the same file, scaled.
    data = pd.read_csv(tmp_path / "data.csv")
    ref = model_selection.GridSearchCV(
        neural_network.MLPClassifier(max_iter=15, random_state=0, hidden_layer_sizes=(4,)),
        {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 1e-2]},
        cv=3,
    ).fit(StandardScaler().fit_transform(data.drop(columns="label")), data["label"])
    _assert_csv_holds(out / "cv_results.csv", ref)


def test_run_random_spec_from_json(tmp_path):
    spec = {
        "data": {"dataset": "iris"},
        "estimator": {"name": "MLPClassifier", "params": {"max_iter": 10, "random_state": 0}},
        "search": {
            "kind": "random",
            "n_iter": 3,
            "random_state": 0,
            "cv": 3,
            "distributions": {
                "alpha": {"loguniform": [1e-5, 1.0]},
                "hidden_layer_sizes": [[3], [5, 2]],
            },
        },
        "output": {"folder": str(tmp_path / "random")},
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    assert main(["run", str(tmp_path / "spec.json"), "--quiet"]) == 0
    X, y = load_iris(return_X_y=True)  # the spec's data: iris, not scaled
    ref = model_selection.RandomizedSearchCV(
        neural_network.MLPClassifier(max_iter=10, random_state=0),
        {"alpha": loguniform(1e-5, 1.0), "hidden_layer_sizes": [(3,), (5, 2)]},
        n_iter=3,
        random_state=0,
        cv=3,
    ).fit(X, y)
    _assert_csv_holds(tmp_path / "random" / "cv_results.csv", ref)


# The error contract of `vgrid run` (one line, exit 2) is tested case by case in
# tests/test_cli_contract.py.


def test_every_command_has_help(capsys):
    for command in (["--help"], ["demo", "--help"], ["run", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            main(command)
        assert exit_info.value.code == 0
    assert "spec" in capsys.readouterr().out


@pytest.fixture(scope="module")
def fitted(datasets):
    X, y = datasets["iris"]
    return vgrid.GridSearchCV(
        vgrid.MLPClassifier(max_iter=12, random_state=0, early_stopping=True),
        {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 1e-2, 1e-1]},
        cv=3,
    ).fit(X, y)


def test_learning_curves_attribute(fitted):
    curves = fitted.learning_curves_
    assert curves["loss"].shape == (6, 3, 12) == curves["validation_score"].shape
    first = fitted.learning_curves_["loss"][0, 0]
    assert np.isfinite(first[0]) and np.all(
        np.isnan(first) == np.isnan(curves["validation_score"][0, 0])
    )


def test_plots_draw_what_the_results_say(fitted):
    ax = vgrid.plot.heatmap(fitted, "alpha", "learning_rate_init")
    texts = sorted(float(t.get_text()) for t in ax.texts)
    assert texts == sorted(np.round(fitted.cv_results_["mean_test_score"], 3))
    ax = vgrid.plot.learning_curves(fitted, top=3)
    assert len(ax.get_lines()) == 3
    ax = vgrid.plot.rank_plot(fitted)
    assert ax.get_title() == "6 candidates ranked"
    with pytest.raises(ValueError, match="'beta' is not a searched hyperparameter"):
        vgrid.plot.heatmap(fitted, "alpha", "beta")


def test_verbose_zero_prints_nothing(datasets, capsys):
    X, y = datasets["iris"]
    vgrid.GridSearchCV(
        vgrid.MLPClassifier(max_iter=5, random_state=0), {"alpha": [1e-4]}, cv=2
    ).fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_run_yaml_spec_with_parquet_data(tmp_path, datasets):
    X, y = datasets["diabetes"]
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["target"] = y
    frame.to_parquet(tmp_path / "data.parquet")
    (tmp_path / "spec.yaml").write_text(
        "data: {path: data.parquet, target: target, dtype: float32}\n"
        "estimator: {name: MLPRegressor, params: {max_iter: 10, random_state: 0,"
        " hidden_layer_sizes: [6]}}\n"
        "search:\n  kind: halving_grid\n  resource: max_iter\n  max_resources: 12\n"
        "  min_resources: 3\n  cv: 3\n  grid: {alpha: [0.0001, 0.1, 1.0]}\n"
        "output: {folder: yaml-out}\n"
    )
    assert main(["run", str(tmp_path / "spec.yaml"), "--quiet"]) == 0
    # float32 (fast mode): the same search run in-process, not scikit-learn's, is the reference.
    same = vgrid.HalvingGridSearchCV(
        vgrid.MLPRegressor(max_iter=10, random_state=0, hidden_layer_sizes=(6,)),
        {"alpha": [0.0001, 0.1, 1.0]},
        resource="max_iter",
        max_resources=12,
        min_resources=3,
        cv=3,
    ).fit(X.astype(np.float32), y)  # the spec casts the features, not the target
    _assert_csv_holds(tmp_path / "yaml-out" / "cv_results.csv", same)
    assert list(pd.read_csv(tmp_path / "yaml-out" / "cv_results.csv").columns[:2]) == [
        "iter",
        "n_resources",
    ]
