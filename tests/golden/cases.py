"""Golden regression cases: tiny runs whose exact results are pinned in ``tests/golden/*.json``.

A pure refactor leaves every pinned number unchanged. An intended change of
results refreshes them with ``make golden`` in the same commit, and the commit
message says why.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from sim.experiments.replication import run_replication
from sim.model.params import analogue_reference
from sim.model.series import end_of_run
from sim.scenario.loader import load_scenario

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE.parent.parent / "scenarios"
TINY = ("population.size=300", "run.weeks=200")
"""300 citizens from January 2012 to October 2015: the mandate (November 2014) falls inside."""

CASES = {
    "baseline": ("denmark_baseline.yaml", False),
    "easy_optout_automatic": ("easy_optout_automatic.yaml", False),
    "analogue_twin": ("denmark_baseline.yaml", True),
    "more_helpers_timeline": ("more_helpers.yaml", False),
}
"""Case name -> (scenario file, run its analogue twin instead)."""

WEEKS = (0, 51, 100, 145, 199)
WEEKLY_METRICS = ("exclusion_rate", "enrolled_share", "exempt_share", "cost_total_dkk", "savings_vs_analogue_dkk")


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def compute(case: str) -> dict:
    """Run one case and return its end-of-run summary and a few weekly values."""
    file, twin = CASES[case]
    config = load_scenario(SCENARIOS / file, TINY)
    if twin:
        config = analogue_reference(config)
    ts = run_replication(config).timeseries
    last = end_of_run(ts)
    summary = {f"{r.metric}|{r.group_type}|{r.group}": _number(r.value) for r in last.itertuples()}
    overall = ts[ts["group_type"] == "all"]
    weekly = {m: [_number(overall.loc[(overall["metric"] == m) & (overall["week"] == w), "value"].iloc[0])
                  for w in WEEKS] for m in WEEKLY_METRICS}
    return {"case": case, "scenario": file, "overrides": list(TINY), "twin": twin,
            "weeks": list(WEEKS), "weekly": weekly, "summary": summary}


def path(case: str) -> Path:
    """Where a case's pinned values are stored."""
    return HERE / f"{case}.json"


def refresh() -> None:
    """Recompute and rewrite every pinned file (``make golden``)."""
    for case in CASES:
        path(case).write_text(json.dumps(compute(case), indent=1, sort_keys=True) + "\n")
        print(f"refreshed {path(case)}")


if __name__ == "__main__":
    refresh()
