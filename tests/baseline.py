"""The calibrated Danish baseline at test size, and cached paired runs of it and of the shipped scenarios.

Shared by ``tests/test_behaviour.py`` and ``tests/test_scenario_outcomes.py``:
a run is made once per test process for each (configuration, seed) and
reused by every test that asks for it (``functools.cache``), so the two
files together cost one run per scenario and seed.

Every comparison pairs two arms on the same seed (common random numbers):
the model draws population, deaths, arrivals and task needs from their own
random streams, so paired arms share the same citizens and lives and differ
only through the policy (``test_behaviour.test_common_random_numbers_across_policies``
checks this premise). Every run checks the accounting invariants each week.

A run is the whole simulated period of the shipped baseline (2012-01-02 for
730 weeks, to the end of 2025) at ``SIZE`` citizens. Values are read at two
dates: ``MANDATE`` (the last week of 2015, whose 52-week window lies wholly
under the mandate of 1 November 2014) and the end of the run. The run does
not depend on how long it goes on, so the values at ``MANDATE`` are those of
a run that stops there.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim import Config, DigexModel
from sim.model.keypath import with_values
from sim.model.params import analogue_reference
from sim.scenario.loader import load_scenario, shipped_scenarios

SIZE = 5_000
"""Simulated citizens per run: the fixed cost of a 730-week run dominates up to here (about 2.5 s a run)."""

SEEDS = (1, 2, 3)
"""The baseline's replication seeds (run.seed + r); comparisons pair arms on each."""

MANDATE = dt.date(2015, 12, 28)
"""Around the mandate: the week of this date, whose 52-week window lies wholly under the mandate (2014-11-01)."""

BASELINE = "denmark_baseline"
"""Stem of the shipped calibrated baseline."""

Key = tuple[str, str, str]
"""(metric, group_type, group); overall values have group_type == group == 'all'."""


def scenario_path(name: str) -> Path:
    """The shipped scenario file of that stem."""
    return shipped_scenarios() / f"{name}.yaml"


def shipped_names() -> list[str]:
    """Stems of every shipped scenario file."""
    return sorted(p.stem for p in shipped_scenarios().glob("*.yaml"))


@functools.cache
def scenario(name: str = BASELINE) -> Config:
    """A shipped scenario shrunk to test size (its period, timeline and policy kept)."""
    return with_values(load_scenario(scenario_path(name)), {"population.size": SIZE})


@dataclass
class Run:
    """A finished run with invariants checked: its model, weekly metrics and the citizens' skill at the start.

    ``run(metric, group_type, group)`` is the end-of-run value; ``run.at(date)(...)``
    the value in the week of ``date``. ``savings`` is filled for runs made
    with ``savings=True`` (the all-analogue twin's cost minus this run's).
    """

    model: DigexModel
    timeseries: pd.DataFrame
    initial_skill: np.ndarray
    _weeks: dict[int, dict[Key, float]] = field(default_factory=dict, repr=False)

    def week_of(self, date: dt.date) -> int:
        """Index of the recorded week that contains ``date``."""
        start = self.model.config.run.start
        week = (date - start).days // 7
        if not 0 <= week < self.model.week:
            raise ValueError(f"{date} is outside the run ({start}, {self.model.week} weeks)")
        return week

    def values(self, week: int | None = None) -> dict[Key, float]:
        """Every metric value of one recorded week (the last one by default)."""
        week = self.model.week - 1 if week is None else week
        if week not in self._weeks:
            rows = self.timeseries[self.timeseries["week"] == week]
            keys = zip(rows["metric"], rows["group_type"], rows["group"], strict=True)
            self._weeks[week] = dict(zip(keys, rows["value"], strict=True))
        return self._weeks[week]

    def __call__(self, metric: str, group_type: str = "all", group: str = "all") -> float:
        """End-of-run value of a metric (overall unless a group is given)."""
        return self.values()[(metric, group_type, group)]

    def at(self, date: dt.date | None) -> Reading:
        """The values in the week of ``date`` (the end of the run for None)."""
        return Reading(self, None if date is None else self.week_of(date))

    def run_total(self, metric: str = "cost_total_dkk") -> float:
        """Sum of a per-year metric over the run: its values at every 52nd week (non-overlapping 52-week windows)."""
        return float(self.series(metric).to_numpy()[51::52].sum())

    def series(self, metric: str, group_type: str = "all", group: str = "all") -> pd.Series:
        """A metric's weekly values indexed by date."""
        ts = self.timeseries
        rows = ts[(ts["metric"] == metric) & (ts["group_type"] == group_type) & (ts["group"] == group)]
        return rows.set_index("date")["value"]


@dataclass(frozen=True)
class Reading:
    """The values of one run in one week: ``reading(metric, group_type, group)``."""

    run: Run
    week: int | None

    def __call__(self, metric: str, group_type: str = "all", group: str = "all") -> float:
        return self.run.values(self.week)[(metric, group_type, group)]

    def savings(self) -> float:
        """Public cost per year of the all-analogue twin minus this run's, in this week (DKK/year)."""
        twin = paired_twin(self.run)
        week = self.run.model.week - 1 if self.week is None else self.week
        return twin.values(week)[("cost_total_dkk", "all", "all")] - self("cost_total_dkk")


def _frozen(config: Config) -> str:
    """A cache key of a configuration: its JSON under one name and description (same settings, same run)."""
    return config.model_copy(update={"name": "cached", "description": ""}).model_dump_json()


@functools.cache
def _run(frozen: str, seed: int) -> Run:
    config = Config.model_validate_json(frozen)
    model = DigexModel(config, seed=seed, check_invariants=True)
    initial = model.pop.skill[: model.pop.n].copy()
    model.run()
    return Run(model, model.timeseries(), initial)


def run_config(config: Config, seed: int) -> Run:
    """A run of ``config`` on ``seed``, made once per test process."""
    return _run(_frozen(config), seed)


def run(name: str = BASELINE, seed: int = 1, changes: dict[str, object] | None = None) -> Run:
    """A shipped scenario at test size on ``seed`` with ``changes`` (key paths of the Config) merged in."""
    config = scenario(name)
    if changes:
        config = with_values(config, changes)
    return run_config(config, seed)


def analogue_twin(name: str = BASELINE, seed: int = 1) -> Run:
    """The all-analogue twin of a shipped scenario (``analogue_reference``) on the same seed."""
    return run_config(analogue_reference(scenario(name)), seed)


def paired_twin(r: Run) -> Run:
    """The all-analogue twin of a finished run (same configuration through ``analogue_reference``, same seed)."""
    return run_config(analogue_reference(r.model.config), r.model.seed)


def mean(values) -> float:
    """Mean of an iterable of numbers."""
    return float(np.mean(list(values)))
