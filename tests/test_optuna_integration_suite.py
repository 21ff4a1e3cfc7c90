"""optuna_integration's own tests of its `OptunaSearchCV`, run against `vgrid.OptunaSearchCV`.

A script written for optuna_integration is ported by changing one import; its test file
(`upstream/optuna_integration_test_sklearn.py.txt`, verbatim from the optuna-integration
repository, which does not ship its tests) is ported here the same way: the one added line
`from vgrid import OptunaSearchCV` (`sklearn_suites.rewrite`), then pytest in a fresh process.
Every test must pass, apart from `EXPECTED_DIFFERENCES`, each a deliberate difference.

Run by hand for the report:  python tests/test_optuna_integration_suite.py
"""

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

from sklearn_suites import rewrite

pytest.importorskip("optuna_integration")

UPSTREAM = os.path.join(
    os.path.dirname(__file__), "upstream", "optuna_integration_test_sklearn.py.txt"
)

#: test id: why vgrid differs there, on purpose.
EXPECTED_DIFFERENCES = {
    "test_optuna_search_convert_deprecated_distribution": "scikit-learn's rule: __init__ "
    "only stores its parameters; vgrid rejects a deprecated distribution in fit",
    "test_no_halt_with_error[param_dist1-all_params1]": "every trial fails: vgrid raises that "
    "no trial could be evaluated, as scikit-learn's searches raise when every fit fails "
    "(optuna_integration refits the estimator's defaults)",
    "test_catch[catch0]": "every trial fails in its suggestion: vgrid raises that no trial "
    "could be evaluated, with the trials FAIL in the study",
    "test_terminator_cv_score_reporting": "patches optuna_integration's own cross_validate; "
    "vgrid reports the folds' real scores to the Terminator",
}


def run_suite(folder: str) -> dict[str, str]:
    """{test name: 'passed' | 'failed' | 'error' | 'skipped'} of the rewritten suite."""
    with open(UPSTREAM) as f:
        text, names = rewrite(f.read(), {"optuna_integration": {"OptunaSearchCV"}})
    assert names == ["OptunaSearchCV"]
    with open(os.path.join(folder, "test_sklearn.py"), "w") as f:
        f.write(text)
    report = os.path.join(folder, "report.xml")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir"]
    command += [folder, "-c", os.devnull, f"--junitxml={report}", "test_sklearn.py"]
    env = {**os.environ, "VGRID_COMPILATION_CACHE": "0"}
    subprocess.run(command, cwd=folder, env=env, timeout=900, capture_output=True)
    outcomes = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        outcome = next((k for k in ("failure", "error", "skipped") if k in kinds), "passed")
        outcomes[case.get("name")] = {"failure": "failed"}.get(outcome, outcome)
    return outcomes


def test_the_port_is_one_added_import():
    with open(UPSTREAM) as f:
        source = f.read()
    text, _ = rewrite(source, {"optuna_integration": {"OptunaSearchCV"}})
    added = [line for line in text.splitlines() if line not in source.splitlines()]
    assert added == ["from vgrid import OptunaSearchCV  # substituted by vgrid"]


def test_optuna_integrations_suite_passes_with_vgrids_search(tmp_path):
    outcomes = run_suite(str(tmp_path))
    failed = {test for test, outcome in outcomes.items() if outcome in ("failed", "error")}
    assert failed == set(EXPECTED_DIFFERENCES), sorted(failed ^ set(EXPECTED_DIFFERENCES))
    assert sum(outcome == "passed" for outcome in outcomes.values()) >= 20


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        for test, outcome in sorted(run_suite(folder).items()):
            print(f"{outcome:7} {test}  {EXPECTED_DIFFERENCES.get(test, '')}")
