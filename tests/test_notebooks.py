"""Every notebook in notebooks/ runs top to bottom at small sizes (DIGEX_NB_SMALL=1), so none can rot; they find
the scenarios from any folder, and the readings of notebook 04 are computed from its runs."""

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from sim.errors import UserError
from sim.scenario import loader

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 600


def test_the_four_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == ["01_quick_start.ipynb", "02_policy_comparison.ipynb",
                                           "03_sensitivity.ipynb", "04_dilemmas.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert any("DIGEX_NB_SMALL" in c.source for c in code), "the notebook must shrink itself for the tests"
    assert any("shipped_scenarios()" in c.source for c in code), "the notebook must find the scenarios by the package"
    assert not any("Path.cwd()" in c.source for c in code), "the notebook looks for the scenarios from where it is"


def execute(nb: nbformat.NotebookNode, folder: Path, monkeypatch) -> list:
    """Run a notebook at the small size with ``folder`` as its working directory; return its outputs."""
    monkeypatch.setenv("DIGEX_NB_SMALL", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # keep the kernel's inline backend, which records plots
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    outputs = execute(nb, NOTEBOOK_DIR, monkeypatch)
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2, "the notebook drew no plots"
    if path.stem == "04_dilemmas":
        readings = [o["data"]["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
        assert len(readings) == 5 and all(r.startswith("**Reading (computed from these runs).**") for r in readings)
        assert not [c for c in nb.cells if c.cell_type == "markdown" and "**Reading.**" in c.source], \
            "a fixed reading that a run can contradict"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_finds_the_scenarios_when_copied_outside_the_repository(path, tmp_path, monkeypatch):
    copy = Path(shutil.copy(path, tmp_path))
    nb = nbformat.read(copy, as_version=4)
    setup = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "shipped_scenarios()" in c.source)
    nb.cells = nb.cells[: setup + 1] + [nbformat.v4.new_code_cell(
        "assert (SCENARIOS / 'denmark_baseline.yaml').is_file(), SCENARIOS")]
    outputs = execute(nb, tmp_path, monkeypatch)
    assert not [o for o in outputs if o.output_type == "error"]


def test_shipped_scenarios_says_what_to_do_when_they_are_missing(monkeypatch):
    assert (loader.shipped_scenarios() / "denmark_baseline.yaml").is_file()
    monkeypatch.setattr(loader, "SCENARIO_FOLDER", "no-such-folder")
    with pytest.raises(UserError, match="installed without its source tree; clone the digex repository"):
        loader.shipped_scenarios()
