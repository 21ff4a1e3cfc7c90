"""The table of every reliability case in tests/ (tests/RELIABILITY.md), built from the tests.

Each test function of the reliability files is a row; a test parametrized over a module's
`CASES` table (`@pytest.mark.parametrize("case", list(CASES))`) is a row per case. The table is
read from the source with `ast` (nothing is imported), and `test_reliability.py` checks that
RELIABILITY.md is exactly what this script writes, so the table cannot fall out of date:

    python tests/reliability_table.py > tests/RELIABILITY.md
"""

from __future__ import annotations

import ast
import os

HERE = os.path.dirname(os.path.abspath(__file__))

#: file: what its cases are about
FILES = {
    "test_reliability.py": "odd input, like scikit-learn",
    "test_checkpoint.py": "checkpoints",
    "test_cli_contract.py": "`vgrid run` errors",
    "test_sklearn_differences.py": "scikit-learn's behaviour",
    "test_sklearn_suites.py": "scikit-learn's own suites",
}


def _cases(tree: ast.Module) -> list[str]:
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(getattr(t, "id", None) == "CASES" for t in node.targets)
            and isinstance(node.value, ast.Dict)
        ):
            return [ast.literal_eval(key) for key in node.value.keys]
    return []


def _over_cases(function: ast.FunctionDef) -> bool:
    return any("list(CASES)" in ast.unparse(d) for d in function.decorator_list)


def _describe(function: ast.FunctionDef) -> str:
    name = function.name.removeprefix("test_").replace("_", " ")
    return name[0].upper() + name[1:]


def rows() -> list[tuple[str, str, str]]:
    """(area, case, test) for every reliability case, in file and source order."""
    out = []
    for file, area in FILES.items():
        with open(os.path.join(HERE, file)) as f:
            tree = ast.parse(f.read())
        cases = _cases(tree)
        for node in tree.body:
            if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test_")):
                continue
            if _over_cases(node):
                out += [(area, case, f"{file}::{node.name}[{case}]") for case in cases]
            else:
                out.append((area, _describe(node), f"{file}::{node.name}"))
    return out


def table() -> str:
    lines = [
        "# Reliability cases",
        "",
        "Every reliability case in `tests/`, one row each (written by "
        "`python tests/reliability_table.py > tests/RELIABILITY.md`; `test_reliability.py`",
        "checks it is up to date). Each row is a test that runs in the default "
        "`python -m pytest -q`.",
        "",
        "| area | case | test |",
        "|---|---|---|",
    ]
    lines += [
        f"| {area} | {case.replace('|', '/')} | `{test.replace('|', '/')}` |"
        for area, case, test in rows()
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(table(), end="")
