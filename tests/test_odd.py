"""docs/ODD.md describes every parameter and every mechanism of the weekly step."""

import importlib.util
import inspect
import re
from pathlib import Path

from sim.model.model import DigexModel

ROOT = Path(__file__).resolve().parent.parent
ODD = (ROOT / "docs" / "ODD.md").read_text()


def _appendix_module():
    spec = importlib.util.spec_from_file_location("update_odd_appendix", ROOT / "scripts" / "update_odd_appendix.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_parameter_appendix_is_up_to_date():
    mod = _appendix_module()
    current = ODD.split(mod.MARKER)[1]
    assert current == mod.appendix(), "run: .venv/bin/python scripts/update_odd_appendix.py"


def test_every_mechanism_called_by_the_step_is_described():
    source = inspect.getsource(DigexModel.step)
    called = set(re.findall(r"(?:self|[a-z_]+)\.([a-z_]+)\(", source)) - {"add_costs", "reset", "keep", "record"}
    text_before_appendix = ODD.split("## Appendix A")[0]
    missing = sorted(name for name in called if f"{name}" not in text_before_appendix)
    assert not missing, f"mechanisms called in DigexModel.step but not described in docs/ODD.md: {missing}"


def test_every_code_location_named_in_the_odd_exists():
    for path in set(re.findall(r"`(sim/[a-z_/]+\.py)", ODD)):
        assert (ROOT / path).exists(), f"docs/ODD.md names {path}, which does not exist"
