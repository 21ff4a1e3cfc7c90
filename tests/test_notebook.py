"""notebooks/quickstart.ipynb runs top to bottom (and is stored without outputs)."""

import ast
import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = pathlib.Path(__file__).parents[1] / "notebooks" / "quickstart.ipynb"


def test_quickstart_notebook_is_stored_without_outputs_and_parses():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert len(code) == 4
    assert all(not cell.get("outputs") and cell.get("execution_count") is None for cell in code)
    for cell in code:  # IPython's magics aside, every cell is Python
        ast.parse("\n".join(line for line in cell.source.splitlines() if not line.startswith("%")))


# Slow: a Jupyter kernel in a fresh process. Covered by
# test_quickstart_notebook_is_stored_without_outputs_and_parses (the stored cells) and the tests
# of what the cells call: test_compile_and_input.py::test_reference_check_report
# (compare_with_sklearn agrees, split scores equal) and test_cli_and_plots.py::
# test_plots_draw_what_the_results_say (heatmap, learning curves).
@pytest.mark.slow
def test_quickstart_notebook_runs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()
    outputs = "".join(
        out.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.outputs
    )
    assert "best:" in outputs and "ranks equal:                        True" in outputs
    assert "max |split score difference|:       0" in outputs
    assert any(
        "image/png" in out.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.outputs
    )
