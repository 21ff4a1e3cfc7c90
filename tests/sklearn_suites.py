"""scikit-learn's own test suites, run with vgrid's classes substituted by import.

`rewrite(source)` keeps a scikit-learn test file as it is and adds, after its last top-level
import, `from vgrid import <names>` for every class it imported that vgrid replaces: the file
then tests vgrid's `MLPClassifier`, `GridSearchCV`, ... exactly as a user's script does after
switching the import. `run_suites(folder)` copies the installed scikit-learn's files there,
rewritten, runs pytest on them in a fresh process with scikit-learn's own conftest as a plugin
(its fixtures: `global_random_seed`, `global_dtype`, ...) and returns each test's outcome.

Run by hand for the full report:  python tests/sklearn_suites.py [--full] [-k EXPR]
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import sklearn

#: The installed scikit-learn's test files, relative to its package folder.
SUITES = {
    "test_mlp.py": "neural_network/tests/test_mlp.py",
    "test_search.py": "model_selection/tests/test_search.py",
    "test_successive_halving.py": "model_selection/tests/test_successive_halving.py",
}

#: What vgrid replaces, by the module scikit-learn's tests import it from.
SUBSTITUTES = {
    "sklearn.neural_network": {"MLPClassifier", "MLPRegressor"},
    "sklearn.model_selection": {
        "GridSearchCV",
        "RandomizedSearchCV",
        "HalvingGridSearchCV",
        "HalvingRandomSearchCV",
    },
}


_FALLBACK = (
    "a non-MLP estimator through vgrid's fallback (one call to scikit-learn's own "
    "search), which the suite's cheaper tests cover"
)
#: Left out of the default run, by node id prefix: the slowest tests (about half the suites'
#: time on 2 cores), each exercising scikit-learn's own search or halving logic with an
#: estimator vgrid does not vectorize. `run_suites(..., full=True)` (or this script with
#: --full) runs them too; they pass.
DESELECTED = {
    "test_successive_halving.py::test_aggressive_elimination[": f"FastClassifier, {_FALLBACK}",
    "test_successive_halving.py::test_n_iterations[": f"FastClassifier, {_FALLBACK}",
    "test_successive_halving.py::test_min_max_resources[": f"FastClassifier, {_FALLBACK}",
    "test_successive_halving.py::test_random_search[": f"FastClassifier, {_FALLBACK}",
    "test_search.py::test_search_with_2d_array": f"TfidfVectorizer + ComplementNB with n_jobs=2"
    f" (process start-up), {_FALLBACK}",
    "test_search.py::test_search_cv_sample_weight_equivalence[": f"LogisticRegression and "
    f"Ridge, {_FALLBACK}",
    "test_search.py::test_n_features_in": f"HistGradientBoostingClassifier, {_FALLBACK}",
    "test_search.py::test_cv_results_dtype_issue_29074": f"LogisticRegression, {_FALLBACK}",
}


def rewrite(source: str, substitutes: dict = SUBSTITUTES) -> tuple[str, list[str]]:
    """The file with vgrid's classes imported over those of `substitutes` ({module: names},
    scikit-learn's by default), and the names replaced."""
    tree = ast.parse(source)
    names, last_import = [], None
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            last_import = node
            if isinstance(node, ast.ImportFrom) and node.module in substitutes:
                names += [
                    a.name
                    for a in node.names
                    if a.name in substitutes[node.module] and a.asname is None
                ]
    if not names:
        return source, []
    lines = source.splitlines(keepends=True)
    insert = f"from vgrid import {', '.join(sorted(set(names)))}  # substituted by vgrid\n"
    lines.insert(last_import.end_lineno, insert)
    return "".join(lines), sorted(set(names))


def write_suites(folder: str) -> dict[str, list[str]]:
    """Copy the rewritten suites into `folder`; the names each one had replaced."""
    root = os.path.dirname(sklearn.__file__)
    replaced = {}
    for name, relative in SUITES.items():
        with open(os.path.join(root, relative)) as f:
            text, replaced[name] = rewrite(f.read())
        with open(os.path.join(folder, name), "w") as f:
            f.write(text)
    return replaced


def run_suites(
    folder: str, select: str | None = None, timeout: float = 1800, full: bool = False
) -> dict[str, str]:
    """{test id: 'passed' | 'failed' | 'skipped' | 'xfailed' | 'error'} for the rewritten suites.

    `select` is a pytest `-k` expression; `full` runs the `DESELECTED` tests too. The run uses
    scikit-learn's conftest for its fixtures and none of vgrid's test options (so vgrid's
    doctest and warning settings do not apply)."""
    write_suites(folder)
    report = os.path.join(folder, "report.xml")
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "sklearn.conftest",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        folder,
        "-c",
        os.devnull,
        f"--junitxml={report}",
        *SUITES,
    ]
    if select:
        command += ["-k", select]
    if not full:
        command += [f"--deselect={prefix}" for prefix in DESELECTED]
    env = {**os.environ, "VGRID_COMPILATION_CACHE": "0", "SKLEARN_SKIP_NETWORK_TESTS": "1"}
    subprocess.run(command, cwd=folder, env=env, timeout=timeout, capture_output=True)
    outcomes = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        test_id = f"{case.get('classname').rsplit('.', 1)[-1]}.py::{case.get('name')}"
        kinds = {child.tag for child in case}
        if "failure" in kinds:
            outcomes[test_id] = "failed"
        elif "error" in kinds:
            outcomes[test_id] = "error"
        elif "skipped" in kinds:
            skipped = case.find("skipped")
            outcomes[test_id] = "xfailed" if skipped.get("type") == "pytest.xfail" else "skipped"
        else:
            outcomes[test_id] = "passed"
    return outcomes


if __name__ == "__main__":
    import argparse
    import collections
    import tempfile
    import time

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="select")
    parser.add_argument("--full", action="store_true", help="run the DESELECTED tests too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        outcomes = run_suites(folder, args.select, full=args.full)
        seconds = time.perf_counter() - start
    for test_id, outcome in sorted(outcomes.items()):
        if outcome in ("failed", "error"):
            print(f"{outcome.upper():7} {test_id}")
    counts = collections.Counter((t.split("::")[0], o) for t, o in outcomes.items())
    for (suite, outcome), n in sorted(counts.items()):
        print(f"{suite:32} {outcome:8} {n}")
    print(f"{seconds:.1f} s")
