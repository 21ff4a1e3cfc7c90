"""`vgrid run SPEC`'s contract, case by case: whatever the spec or data file holds, a spec that
cannot run gets exactly one line on stderr (`vgrid: error: ...`) and exit status 2, never a
traceback; unknown keys at every level are named with the nearest valid one; validation is
bounded in time and memory."""

import json
import os
import re
import threading
import time
import tracemalloc

import numpy as np
import pytest

from vgrid.cli import main
from vgrid.spec import SpecError, load_data, parse_spec

IRIS = {"dataset": "iris"}
CSV = {"path": "data.csv", "target": "label"}


def spec(data=IRIS, estimator=None, search=None, output=None, **extra):
    raw = {"data": data, "search": search or {"grid": {"alpha": [1e-4]}}}
    if estimator is not None:
        raw["estimator"] = estimator
    if output is not None:
        raw["output"] = output
    raw.update(extra)
    return json.dumps(raw)


def grid(**search):
    return spec(search={"grid": {"alpha": [1e-4]}, **search})


GOOD_CSV = "x0,x1,label\n" + "".join(f"{i % 7},{(i * 3) % 5},{i % 2}\n" for i in range(40))

BOMB = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi")
)
MERGE_BOMB = "a: &a {k0: 1, k1: 1, k2: 1, k3: 1, k4: 1, k5: 1, k6: 1, k7: 1}\n" + "".join(
    f"{c}: &{c} {{{', '.join(f'{c}{i}: {{<<: *{p}}}' for i in range(8))}}}\n"
    for p, c in zip("abcdefgh", "bcdefghi")
)
TEN_MILLION = spec(
    search={
        "grid": {
            k: list(range(1, 11))
            for k in (
                "max_iter",
                "n_iter_no_change",
                "batch_size",
                "beta_1",
                "power_t",
                "momentum",
                "validation_fraction",
            )
        }
    }
)

#: id: (file name, file content, data.csv content or None, what the one line must say)
CASES = {
    # the file itself
    "not JSON": ("spec.json", "{not json", None, r"is not valid JSON"),
    "not TOML": ("spec.toml", "a = = 1", None, r"is not valid TOML"),
    "not YAML": ("spec.yaml", "a: [1, 2", None, r"is not valid YAML: .*\(line \d+\)"),
    "binary spec": ("spec.toml", bytes(range(256)) * 4, None, r"is not UTF-8 text"),
    "YAML python tag": (
        "spec.yaml",
        "!!python/object/apply:os.system ['echo hi']",
        None,
        r"is not valid YAML: could not determine a constructor",
    ),
    "YAML alias bomb": ("spec.yaml", BOMB, None, r"expands to more than 100,000 values"),
    "YAML merge-key bomb": ("spec.yaml", MERGE_BOMB, None, r"expands to more than 100,000 values"),
    "YAML recursive alias": (
        "spec.yaml",
        "data: &a [*a]",
        None,
        r"nests values more than 32 levels deep",
    ),
    "JSON nested 100,000 deep": (
        "spec.json",
        "[" * 100_000 + "]" * 100_000,
        None,
        r"(nests values too deeply|is not valid JSON)",
    ),
    "JSON nested 40 deep": (
        "spec.json",
        "[" * 40 + "]" * 40,
        None,
        r"nests values more than 32 levels deep",
    ),
    "spec over 1 MiB": (
        "spec.json",
        " " * (1 << 20) + "{}",
        None,
        r"has 1,048,578 bytes; at most 1,048,576 are read",
    ),
    "wrong suffix": ("spec.txt", "{}", None, r"expected a \.toml, \.yaml, \.yml or \.json"),
    "top level a list": (
        "spec.json",
        "[1, 2]",
        None,
        r"a spec is a table of sections, got a list of 2 values",
    ),
    "unknown section": ("spec.json", spec(extra={}), None, r"unknown section 'extra'"),
    "section typo": (
        "spec.json",
        json.dumps({"dta": IRIS}),
        None,
        r"unknown section 'dta'; did you mean 'data'\?",
    ),
    # [data]
    "no data": (
        "spec.json",
        json.dumps({"search": {"grid": {"alpha": [1.0]}}}),
        None,
        r"\[data\] is missing",
    ),
    "data not a table": ("spec.json", spec(data="iris"), None, r"\[data\] is missing \(or not"),
    "unknown dataset": (
        "spec.json",
        spec(data={"dataset": "nope"}),
        None,
        r"dataset = 'nope' is not one of",
    ),
    "data key typo": (
        "spec.json",
        spec(data={**IRIS, "scal": True}),
        None,
        r"\[data\] unknown key 'scal'; did you mean 'scale'\?",
    ),
    "scale not bool": (
        "spec.json",
        spec(data={**IRIS, "scale": "yes"}),
        None,
        r"\[data\] scale = 'yes': expected true or false",
    ),
    "dtype int8": (
        "spec.json",
        spec(data={**IRIS, "dtype": "int8"}),
        None,
        r"\[data\] dtype = 'int8'",
    ),
    "path without target": (
        "spec.json",
        spec(data={"path": "data.csv"}),
        GOOD_CSV,
        r"needs dataset = .* target is None",
    ),
    "data file missing": (
        "spec.json",
        spec(data={"path": "nope.csv", "target": "y"}),
        None,
        r"\[data\] path .*nope.csv' does not exist",
    ),
    "binary CSV": (
        "spec.json",
        spec(data=CSV),
        bytes(range(256)) * 40,
        r"could not be read as CSV: ParserError",
    ),
    "badly quoted CSV": (
        "spec.json",
        spec(data=CSV),
        'x0,x1,label\n1,"2,0\n',
        r"could not be read as CSV: ParserError: .*EOF inside string",
    ),
    "target typo": (
        "spec.json",
        spec(data={**CSV, "target": "lable"}),
        GOOD_CSV,
        r"target 'lable' is not a column .*; 3 columns, did you mean 'label'\?",
    ),
    "text feature": (
        "spec.json",
        spec(data=CSV),
        GOOD_CSV.replace("\n3,", "\nthree,"),
        r"must be numbers; column\(s\) 'x0' hold other values",
    ),
    "missing feature value": (
        "spec.json",
        spec(data=CSV),
        GOOD_CSV.replace("\n3,", "\n,"),
        r"missing or infinite feature values in column\(s\) 'x0'",
    ),
    "missing target value": (
        "spec.json",
        spec(data=CSV),
        GOOD_CSV.replace(",1\n", ",\n", 1),
        r"target 'label' has missing values",
    ),
    "header only": ("spec.json", spec(data=CSV), "x0,x1,label\n", r"has 0 rows"),
    "CSV as Parquet": (
        "spec.json",
        spec(data={"path": "data.parquet", "target": "label"}),
        None,
        r"could not be read as Parquet",
    ),
    # [estimator]
    "estimator not a table": (
        "spec.json",
        spec(estimator="MLP"),
        None,
        r"\[estimator\] must be a table .*got 'MLP'",
    ),
    "estimator key typo": (
        "spec.json",
        spec(estimator={"paramz": {}}),
        None,
        r"\[estimator\] unknown key 'paramz'; did you mean 'params'\?",
    ),
    "estimator os.system": (
        "spec.json",
        spec(estimator={"name": "os.system"}),
        None,
        r"name = 'os.system': vgrid runs MLPClassifier or MLPRegressor",
    ),
    "params a list": (
        "spec.json",
        spec(estimator={"params": [1, 2]}),
        None,
        r"\[estimator\] params must be a table .*got a list of 2 values",
    ),
    "unknown estimator parameter": (
        "spec.json",
        spec(estimator={"params": {"alpah": 1.0}}),
        None,
        r"unknown parameter 'alpah' of MLPClassifier; "
        r"did you mean 'alpha'\?",
    ),
    "negative max_iter": (
        "spec.json",
        spec(estimator={"params": {"max_iter": -1}}),
        None,
        r"params max_iter: The 'max_iter' parameter of MLPClassifier must",
    ),
    "max_iter a billion": (
        "spec.json",
        spec(estimator={"params": {"max_iter": 10**9}}),
        None,
        r"at most 100,000 iterations, got 1,000,000,000",
    ),
    "zero units": (
        "spec.json",
        spec(estimator={"params": {"hidden_layer_sizes": [0]}}),
        None,
        r"layer sizes are integers from 1 to 100,000, got 0",
    ),
    "a billion units": (
        "spec.json",
        spec(estimator={"params": {"hidden_layer_sizes": [10**9]}}),
        None,
        r"layer sizes are integers from 1",
    ),
    "param a table": (
        "spec.json",
        spec(estimator={"params": {"alpha": {"x": 1}}}),
        None,
        r"expected a number, string or boolean, got a table of 1 key",
    ),
    "random_state a string": (
        "spec.json",
        spec(estimator={"params": {"random_state": "0"}}),
        None,
        r"random_state is an integer, got '0'",
    ),
    # [search]
    "search key typo": (
        "spec.json",
        grid(kindd="grid"),
        None,
        r"\[search\] unknown option 'kindd'; did you mean 'kind'\?",
    ),
    "kind typo": (
        "spec.json",
        grid(kind="gird"),
        None,
        r"kind = 'gird' is not one of .*; did you mean 'grid'\?",
    ),
    "no grid": ("spec.json", spec(search={"cv": 3}), None, r"\[search.grid\] is missing"),
    "grid a scalar": (
        "spec.json",
        spec(search={"grid": {"alpha": 0.1}}),
        None,
        r"alpha must be a non-empty list of values, got 0.1",
    ),
    "grid key typo": (
        "spec.json",
        spec(search={"grid": {"alpah": [1.0]}}),
        None,
        r"unknown parameter 'alpah' of MLPClassifier; did you mean 'alpha'\?",
    ),
    "bad grid value": (
        "spec.json",
        spec(search={"grid": {"alpha": [-1]}}),
        None,
        r"\[search.grid\] alpha = -1: The 'alpha' parameter of MLPClassifier",
    ),
    "bad layer in grid": (
        "spec.json",
        spec(search={"grid": {"hidden_layer_sizes": [[16], {"a": 1}]}}),
        None,
        r"layer sizes are integers",
    ),
    "ten million candidates": (
        "spec.json",
        TEN_MILLION,
        None,
        r"has 10,000,000 candidates; at most 100,000",
    ),
    "cv 1000 on 150 rows": (
        "spec.json",
        grid(cv=1000),
        None,
        r"cv = 1000 folds, but the data has only 150 rows",
    ),
    "cv 1": ("spec.json", grid(cv=1), None, r"cv = 1: expected an integer >= 2"),
    "cv a string": ("spec.json", grid(cv="5"), None, r"cv = '5': expected an integer"),
    "cv true": ("spec.json", grid(cv=True), None, r"cv = True: expected an integer"),
    "scoring os.system": (
        "spec.json",
        grid(scoring="os.system"),
        None,
        r"scoring = 'os.system' is not a scikit-learn scorer",
    ),
    "scoring typo": ("spec.json", grid(scoring="acuracy"), None, r"did you mean 'accuracy'\?"),
    # found by the random-changes test: all 58 scorers listed made a 1,136-character message
    "scoring empty": (
        "spec.json",
        grid(scoring=""),
        None,
        r"scoring = '' is not a scikit-learn scorer; expected one of accuracy, .*, \.\.\. "
        r"\(\d+ in all\)\.$",
    ),
    "scoring a number": (
        "spec.json",
        grid(scoring=3),
        None,
        r"scoring must be a scorer name or a non-empty list",
    ),
    "refit unknown": ("spec.json", grid(refit="nope"), None, r"refit = 'nope': expected"),
    "error_score ignore": (
        "spec.json",
        grid(error_score="ignore"),
        None,
        r"error_score = 'ignore': expected a number or 'raise'",
    ),
    "n_iter with a grid": (
        "spec.json",
        grid(n_iter=3),
        None,
        r"n_iter does not apply to kind = 'grid'",
    ),
    "eval distribution": (
        "spec.json",
        spec(search={"kind": "random", "distributions": {"alpha": {"eval": ["__import__('os')"]}}}),
        None,
        r"unknown distribution 'eval'",
    ),
    "loguniform from 0": (
        "spec.json",
        spec(search={"kind": "random", "distributions": {"alpha": {"loguniform": [0, 1]}}}),
        None,
        r"loguniform needs 0 < low < high",
    ),
    "grid in a random search": (
        "spec.json",
        spec(search={"kind": "random", "grid": {"alpha": [1.0]}}),
        None,
        r"takes \[search.distributions\], not \[search.grid\]",
    ),
    "n_iter ten million": (
        "spec.json",
        spec(search={"kind": "random", "n_iter": 10**7, "distributions": {"alpha": [1.0]}}),
        None,
        r"n_iter = 10000000: expected an integer from 1 to 100,000",
    ),
    "resource typo": (
        "spec.json",
        grid(kind="halving_grid", resource="max_itr"),
        None,
        r"resource = 'max_itr' .*; did you mean 'max_iter'\?",
    ),
    "factor 1": (
        "spec.json",
        grid(kind="halving_grid", factor=1),
        None,
        r"factor = 1: expected a number > 1",
    ),
    "checkpoint a number": (
        "spec.json",
        grid(checkpoint=3),
        None,
        r"checkpoint = 3: expected a folder",
    ),
    # [output]
    "output a string": (
        "spec.json",
        spec(output="x"),
        None,
        r"\[output\] must be a table .*got 'x'",
    ),
    "output key typo": (
        "spec.json",
        spec(output={"format": "csv"}),
        None,
        r"\[output\] unknown key 'format'; did you mean 'folder'\?",
    ),
    "folder a number": ("spec.json", spec(output={"folder": 3}), None, r"\[output\] folder = 3"),
    # values scikit-learn checks against the data while fitting
    "more folds than a class has members": (
        "spec.json",
        spec(data=CSV, search={"grid": {"alpha": [1.0]}, "cv": 30}),
        GOOD_CSV,
        r"the search failed: ValueError: n_splits=30 cannot be greater than the number of "
        r"members in each class",
    ),
}


def _run_case(tmp_path, name, content, data):
    path = tmp_path / name
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    if data is not None:
        (tmp_path / "data.csv").write_bytes(data if isinstance(data, bytes) else data.encode())
    (tmp_path / "data.parquet").write_text(GOOD_CSV)
    return main(["run", str(path), "--quiet", "--out", str(tmp_path / "out")])


@pytest.mark.parametrize("case", list(CASES))
def test_bad_spec_is_one_line_and_exit_2(tmp_path, capsys, case):
    name, content, data, message = CASES[case]
    start = time.perf_counter()
    assert _run_case(tmp_path, name, content, data) == 2
    seconds = time.perf_counter() - start
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("vgrid: error: "), (
        captured.err[-3000:]
    )
    assert "Traceback" not in captured.err + captured.out
    assert re.search(message, captured.err), captured.err
    assert len(captured.err) < 700
    assert seconds < 20, seconds  # bounded: no case reads, expands or prints a whole value


def test_bombs_and_huge_grids_are_refused_fast_in_little_memory(tmp_path, capsys):
    cases = (
        "YAML alias bomb",
        "YAML merge-key bomb",
        "ten million candidates",
        "max_iter a billion",
    )
    _run_case(tmp_path, "spec.json", spec(), None)  # imports done once, outside the counts
    for case in cases:
        start = time.perf_counter()
        assert _run_case(tmp_path, *CASES[case][:3]) == 2
        seconds = time.perf_counter() - start
        tracemalloc.start()
        assert _run_case(tmp_path, *CASES[case][:3]) == 2
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert seconds < 2 and peak < 64 * 2**20, (case, seconds, peak)
    capsys.readouterr()


@pytest.mark.parametrize("which", ["spec", "data"])
def test_a_fifo_as_spec_or_data_is_refused_never_waited_on(tmp_path, capsys, which):
    path = tmp_path / ("spec.json" if which == "spec" else "data.csv")
    if which == "data":
        (tmp_path / "spec.json").write_text(spec(data=CSV))
    os.mkfifo(path)
    outcome = {}
    thread = threading.Thread(
        target=lambda: outcome.setdefault(
            "code", main(["run", str(tmp_path / "spec.json"), "--quiet"])
        ),
        daemon=True,
    )
    thread.start()
    thread.join(30)
    if thread.is_alive():
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # release the blocked reader
        thread.join(10)
        pytest.fail("vgrid run waited on a FIFO")
    err = capsys.readouterr().err
    assert outcome["code"] == 2 and err.count("\n") == 1
    assert re.search(r"is a FIFO \(named pipe\), not a regular file", err), err


def test_a_folder_as_spec_is_refused(tmp_path, capsys):
    (tmp_path / "spec.json").mkdir()
    assert main(["run", str(tmp_path / "spec.json")]) == 2
    assert "is a folder, not a regular file" in capsys.readouterr().err


def test_missing_spec_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.toml")]) == 2
    assert re.search(r"spec file .*nope.toml' does not exist", capsys.readouterr().err)


@pytest.mark.filterwarnings("always::sklearn.exceptions.ConvergenceWarning")  # shown, one line each
def test_unwritable_output_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "spec.json").write_text(
        spec(
            estimator={"params": {"max_iter": 2, "hidden_layer_sizes": [2]}},
            search={"grid": {"alpha": [1e-4]}, "cv": 2},
        )
    )
    (tmp_path / "taken").write_text("a file where the folder should be")
    assert (
        main(
            [
                "run",
                str(tmp_path / "spec.json"),
                "--quiet",
                "--out",
                str(tmp_path / "taken" / "out"),
            ]
        )
        == 2
    )
    lines = capsys.readouterr().err.splitlines()  # warnings while fitting: one line each
    assert all(line.startswith(("vgrid: warning: ", "vgrid: error: ")) for line in lines)
    assert any(line.startswith("vgrid: warning: ConvergenceWarning: ") for line in lines)
    assert lines[-1].startswith("vgrid: error: cannot write the results to")
    assert sum(line.startswith("vgrid: error: ") for line in lines) == 1


# Beyond the table: random structures and random files are refused with a SpecError, never
# another exception.


BASE = {
    "data": {"dataset": "iris", "scale": True, "dtype": "float64"},
    "estimator": {
        "name": "MLPClassifier",
        "params": {"max_iter": 5, "random_state": 0, "hidden_layer_sizes": [4]},
    },
    "search": {
        "kind": "halving_random",
        "cv": 3,
        "scoring": "accuracy",
        "resource": "max_iter",
        "factor": 2,
        "distributions": {
            "alpha": {"loguniform": [1e-4, 1.0]},
            "hidden_layer_sizes": [[3], [4, 2]],
        },
    },
    "output": {"folder": "out"},
}


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*path, i))


def test_random_changes_to_a_valid_spec_raise_only_spec_errors():
    """A valid spec with random values put at random places (or random keys added): parsing
    and building the search either succeed or raise a one-line SpecError, nothing else."""
    import copy

    from hypothesis import given, settings
    from hypothesis import strategies as st

    import vgrid

    assert type(parse_spec(copy.deepcopy(BASE)).search) is vgrid.HalvingRandomSearchCV  # valid
    paths = list(_paths(BASE))
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**30), 10**30),
        st.floats(allow_nan=True),
        st.text(max_size=12),
        st.sampled_from(
            [
                "iris",
                "grid",
                "random",
                "auto",
                "exhaust",
                "raise",
                "accuracy",
                "max_iter",
                "n_samples",
                "loguniform",
            ]
        ),
    )
    values = st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
        ),
        max_leaves=12,
    )

    @settings(max_examples=150, deadline=None, database=None)
    @given(
        st.lists(
            st.tuples(st.sampled_from(paths), st.booleans(), st.text(max_size=8), values),
            min_size=1,
            max_size=3,
        )
    )
    def check(changes):
        raw = copy.deepcopy(BASE)
        for path, add, new_key, value in changes:
            parent = raw
            try:
                for step in path[:-1]:
                    parent = parent[step]
                if not path:
                    raw = value
                elif add and isinstance(parent[path[-1]], dict):
                    parent[path[-1]][new_key] = value
                else:
                    parent[path[-1]] = value
            except (KeyError, IndexError, TypeError):
                continue  # an earlier change removed this place
        try:
            _ = parse_spec(raw).search
        except SpecError as exc:
            assert "\n" not in str(exc) and len(str(exc)) < 700

    check()


def test_random_bytes_as_data_raise_only_spec_errors(tmp_path):
    rng = np.random.RandomState(0)
    for i in range(40):
        content = rng.randint(0, 256, rng.randint(0, 400)).astype(np.uint8).tobytes()
        if i % 2:  # mostly text, with CSV's special characters
            content = bytes(rng.choice(list(b'ab,1.\n"\r\t;-e'), len(content)))
        (tmp_path / "data.csv").write_bytes(content)
        try:
            load_data({"path": "data.csv", "target": "a"}, str(tmp_path))
        except SpecError as exc:
            assert "\n" not in str(exc)


def test_checkpoint_in_a_spec_resumes_and_ctrl_c_is_one_line(tmp_path, capsys, monkeypatch):
    import vgrid.search

    (tmp_path / "spec.json").write_text(
        spec(
            estimator={"params": {"max_iter": 3, "hidden_layer_sizes": [2], "random_state": 0}},
            search={
                "grid": {"alpha": [1e-4, 1e-1]},
                "cv": 2,
                "checkpoint": "ckpt",
                "chunk_size": 2,
            },
        )
    )
    command = ["run", str(tmp_path / "spec.json"), "--quiet", "--out", str(tmp_path / "out")]
    assert main(command) == 0
    chunks = sorted((tmp_path / "ckpt").glob("chunk-*.npz"))
    written = [os.stat(c).st_mtime_ns for c in chunks]
    assert len(chunks) == 2
    assert main(command) == 0
    assert sorted((tmp_path / "ckpt").glob("chunk-*.npz")) == chunks  # loaded, not rewritten
    assert [os.stat(c).st_mtime_ns for c in chunks] == written

    def interrupted(self, X, y=None, **params):
        raise KeyboardInterrupt

    monkeypatch.setattr(vgrid.search.GridSearchCV, "fit", interrupted)
    capsys.readouterr()
    assert main(command) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        "vgrid: interrupted; finished chunks are kept in"
    ), err
