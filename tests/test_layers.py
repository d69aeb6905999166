"""The package is layered and imports point one way only: model <- scenario <- experiments <- outputs <- cli/app.

Read from the source with ``ast`` (nothing is imported), so a violating import
anywhere in a module, including inside a function, is found.
"""

import ast
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parent.parent / "sim"

LAYERS = {"model": 0, "scenario": 1, "experiments": 2, "outputs": 3, "cli": 4, "app": 4}
"""Rank of each layer: a module may import only its own layer, lower ones and the foundation."""

FOUNDATION = {"sim.errors", "sim.atomic"}
"""Modules every layer may import (user errors and atomic writes); they import no layer."""

ENTRY = {"sim", "sim.__main__"}
"""The package's face (``__version__``; ``DigexModel`` and ``Config`` loaded on first use) and ``python -m sim``."""

HEAVY = ("mesa", "sim.model.model", "sim.experiments", "sim.outputs", "pandas", "matplotlib", "solara", "dask")
"""What start-up (``--version``, ``--help``, ``validate``, ``describe``) must not import at module level."""


def layer_of(module: str) -> str | None:
    """The layer a ``sim.*`` module belongs to (None for the foundation)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def module_name(path: Path) -> str:
    rel = path.relative_to(SIM.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, top_level_only: bool = False) -> list[tuple[int, str]]:
    """(line, module) of every import in a file (top-level statements only, if asked)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names if node.module.startswith("sim")]
    return found


SOURCES = sorted(SIM.rglob("*.py"))


def test_every_module_is_in_a_layer_or_the_foundation():
    loose = [module_name(p) for p in SOURCES
             if layer_of(module_name(p)) is None and module_name(p) not in FOUNDATION | ENTRY]
    assert not loose, f"modules outside the layers (add them to a layer or to FOUNDATION): {loose}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SIM.parent)))
def test_imports_point_down_only(path: Path):
    own = layer_of(module_name(path))
    if module_name(path) in ENTRY:
        return
    if own is None:  # the foundation imports no layer at all
        bad = [(line, m) for line, m in imports(path) if m.startswith("sim.") and layer_of(m) is not None]
        assert not bad, f"{path.name}: the foundation must not import a layer: {bad}"
        return
    bad = [(line, m) for line, m in imports(path)
           if m.startswith("sim.") and layer_of(m) is not None and LAYERS[layer_of(m)] > LAYERS[own]]
    assert not bad, f"{module_name(path)} ({own}) imports a higher layer: {bad}"


def test_layer_check_catches_an_upward_import(tmp_path: Path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from sim.outputs.figures import save_figure\n")
    assert imports(bad) and layer_of(imports(bad)[0][1]) == "outputs"


@pytest.mark.parametrize("module", ["sim", "sim.cli.main", "sim.cli.validate", "sim.cli.describe",
                                    "sim.scenario.loader", "sim.scenario.describe", "sim.model.params"])
def test_start_up_path_imports_nothing_heavy_at_module_level(module: str):
    path = SIM.parent / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = SIM.parent / module.replace(".", "/") / "__init__.py"
    heavy = [(line, m) for line, m in imports(path, top_level_only=True)
             if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert not heavy, f"{module} imports at module level what start-up must not load: {heavy}"


def loaded_after(argv: list[str], modules: tuple[str, ...]) -> str:
    """Run ``digex ARGV`` in a fresh interpreter; the stderr line 'LOADED [...]' lists which of ``modules`` it
    imported."""
    import subprocess
    import sys

    probe = ("import sys, runpy\nsys.argv = ['digex', *sys.argv[1:]]\n"
             "try:\n    runpy.run_module('sim', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             f"loaded = sorted(m for m in {modules!r} if m in sys.modules)\n"
             "print('LOADED', loaded, file=sys.stderr)\n")
    return subprocess.run([sys.executable, "-c", probe, *argv], cwd=SIM.parent, capture_output=True,
                          text=True).stderr


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["describe", "policy.optout"],
                                  ["validate", "scenarios/denmark_baseline.yaml"]], ids=" ".join)
def test_start_up_commands_load_neither_mesa_nor_the_model(argv: list[str]):
    """The quick commands run in a fresh interpreter without importing Mesa, pandas or the model's step."""
    err = loaded_after(argv, ("mesa", "pandas", "matplotlib", "sim.model.model"))
    assert "LOADED []" in err, err[-500:]


@pytest.mark.parametrize("argv", [["--version"], ["--help"]], ids=" ".join)
def test_version_and_help_load_neither_numpy_nor_an_experiment(argv: list[str]):
    """Building the command line (every subcommand's help) reads only plain constants: no NumPy, no pydantic
    schema, no experiment module beyond those constants (``sim.experiments.sensitivity_defaults``)."""
    err = loaded_after(argv, ("numpy", "sim.model.params", "sim.experiments.sensitivity"))
    assert "LOADED []" in err, err[-500:]
