"""Regenerate Appendix A of docs/ODD.md (the parameter tables) from the schema.

Usage: .venv/bin/python scripts/update_odd_appendix.py
tests/test_odd.py fails when the appendix is out of date.
"""

from pathlib import Path

from sim.scenario.describe import entries, render_markdown

MARKER = "## Appendix A: parameters\n"
INTRO = (
    "Generated from `sim/model/params.py` by `scripts/update_odd_appendix.py` (the same text as\n"
    "`digex describe --markdown`). Defaults are those of `sim/model/params.py`; the shipped\n"
    "baseline overrides some with calibrated values (`scenarios/calibrated.yaml`).\n"
)


def appendix() -> str:
    """The appendix text that belongs after the marker."""
    return "\n" + INTRO + "\n" + render_markdown(entries())


def main() -> None:
    """Rewrite the appendix in place."""
    path = Path(__file__).resolve().parent.parent / "docs" / "ODD.md"
    text = path.read_text()
    head = text.split(MARKER)[0]
    path.write_text(head + MARKER + appendix())


if __name__ == "__main__":
    main()
