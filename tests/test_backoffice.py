"""Back-office failures and the IT programme's cost (docs/ODD.md sections 7.2 and 7.2a): dilemma 5.

Directions are tested at the calibrated baseline (``scenarios/denmark_baseline.yaml``),
shrunk to a small population and a three-year run, under common random
numbers (seed 1 in every arm). Every run checks the accounting invariants weekly.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

import numpy as np
import pytest

from sim import Config, DigexModel
from sim.model.keypath import KeyPathError, with_values
from sim.model.mechanisms.backoffice import HELD_OFFSET
from sim.scenario.loader import load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
SHRINK = ["population.size=3000", "run.start=2017-01-02", "run.weeks=156", "run.analogue_reference=false"]
"""2017-01-02 to 2019-12-23, the mandate in force throughout."""

FAIL_2018 = [  # the benefit case system fails badly in 2018 (80% of claims stall a week) and works again from 2019
    {"date": dt.date(2018, 1, 1), "set": {"backoffice.down": True, "backoffice.slowdown": {"benefit": 0.8}}},
    {"date": dt.date(2019, 1, 7), "set": {"backoffice.down": False}},
]
AMBITION = [  # built in 2017, fails in 2018, works from 2019 and decides 30% of benefit claims
    {"date": dt.date(2017, 1, 2), "set": {"backoffice.programme_cost_per_year_dkk": 2e8}},
    {"date": dt.date(2018, 1, 1), "set": {"backoffice.down": True}},
    {"date": dt.date(2019, 1, 7), "set": {"backoffice.down": False, "backoffice.programme_cost_per_year_dkk": 0.0,
                                          "automation_share.benefit": 0.3}},
]

VARIANTS: dict[str, tuple[list[dict], dict]] = {
    "baseline": ([], {}),
    "fail": (FAIL_2018, {}),
    "fail_extended": (FAIL_2018, {"backoffice.extend_deadlines": True}),
    "ambition": (AMBITION, {}),
    "random": ([], {"backoffice.failure_rate_per_year": 2.0, "backoffice.failure_weeks_mean": 8.0}),
    "rate_zero_other_length": ([], {"backoffice.failure_weeks_mean": 40.0}),
}


@functools.cache
def base_config() -> Config:
    """The calibrated baseline, shrunk."""
    return load_scenario(SCENARIOS / "denmark_baseline.yaml", SHRINK)


def config(timeline: list[dict], policy: dict) -> Config:
    """The shrunk baseline with policy key paths set and a timeline."""
    c = base_config().model_copy(deep=True)
    c.policy = with_values(c.policy, policy)
    return Config.model_validate({**c.model_dump(), "timeline": timeline})


@functools.cache
def run(name: str) -> DigexModel:
    """A run (seed 1, invariants checked weekly) of a named variant."""
    return DigexModel(config(*VARIANTS[name]), seed=1, check_invariants=True).run()


def end(m: DigexModel, metric: str) -> float:
    """End-of-run overall value of a metric."""
    s = m.summary()
    return float(s[(s.metric == metric) & (s.group_type == "all")]["value"].item())


def at(m: DigexModel, metric: str, date: dt.date) -> float:
    """Overall value of a metric in the week that starts on ``date``."""
    ts = m.timeseries()
    return float(ts[(ts.metric == metric) & (ts.group_type == "all") & (ts.date == str(date))]["value"].item())


END_2018 = dt.date(2018, 12, 31)


def test_a_failure_holds_benefit_claims_and_loses_benefits():
    """While down, benefit claims stall and some fail at their deadline: more lost benefits, same needs."""
    base, fail = run("baseline"), run("fail")
    assert at(fail, "backoffice_down_share", END_2018) == pytest.approx(1.0)
    assert at(base, "backoffice_held_per_year", END_2018) == 0
    assert at(fail, "backoffice_held_per_year", END_2018) > 0
    # measured at 3,000 citizens: lost_benefit_share 0.011 -> 0.049, non_take_up_rate 0.046 -> 0.23
    assert at(fail, "lost_benefit_share", END_2018) > at(base, "lost_benefit_share", END_2018) + 0.015
    assert at(fail, "non_take_up_rate", END_2018) > at(base, "non_take_up_rate", END_2018) + 0.08
    assert end(fail, "tasks_arrived") == end(base, "tasks_arrived")


def test_a_failure_costs_extra_staff_only_while_down():
    """300 extra staff x 37 h x DKK 420 a week while down, booked as IT running; nothing once it works."""
    base, fail = run("baseline"), run("fail")
    staff_year = 300 * 37 * 420 * 52  # DKK 242 million
    assert at(fail, "cost_backoffice_failure_dkk", END_2018) == pytest.approx(staff_year, rel=0.05)
    assert end(fail, "cost_backoffice_failure_dkk") < staff_year / 26  # at most the window's first week was down
    extra = end(fail, "cost_it_cumulative_dkk") - end(base, "cost_it_cumulative_dkk")
    assert extra == pytest.approx(staff_year, rel=0.05)
    assert end(fail, "cost_cumulative_dkk") > end(base, "cost_cumulative_dkk") + 0.9 * staff_year


def test_extended_deadlines_delay_claims_without_losing_them():
    """The mitigation: deadlines extended by the weeks held lose fewer benefits than deadlines that stand."""
    fail, ext = run("fail"), run("fail_extended")
    # measured: lost_benefit_share 0.049 standing, 0.014 extended (baseline 0.011)
    assert at(ext, "lost_benefit_share", END_2018) < at(fail, "lost_benefit_share", END_2018) - 0.015
    assert at(ext, "backoffice_held_per_year", END_2018) > 0


def test_held_cases_are_released_when_the_back_office_works():
    """After the failure no task stays held, and the end of the run is no longer down."""
    fail = run("fail")
    assert not np.any(fail.tasks.route <= -HELD_OFFSET) or fail.backoffice.down
    assert end(fail, "backoffice_down_share") < 1.0
    assert not fail.backoffice.down


def test_ambition_pays_later_at_a_cost_now():
    """Dilemma 5 at the calibrated baseline: the programme and its failure cost more; once it works,
    fewer benefit claims are lost than in the baseline."""
    base, amb = run("baseline"), run("ambition")
    assert end(amb, "cost_cumulative_dkk") > end(base, "cost_cumulative_dkk") + 4e8
    assert end(amb, "non_take_up_rate") < end(base, "non_take_up_rate") - 0.005  # measured 0.062 -> 0.052
    assert end(amb, "lost_benefit_share") < end(base, "lost_benefit_share")


def test_random_failures_at_a_yearly_rate():
    """A positive rate brings failures of drawn length; at a zero rate nothing is drawn (the length is moot)."""
    rnd = run("random")
    down = rnd.timeseries()
    down = down[(down.metric == "backoffice_down_share") & (down.group_type == "all")]["value"]
    assert down.max() > 0
    a, b = run("baseline").summary(), run("rate_zero_other_length").summary()
    assert a["value"].equals(b["value"])


def test_platform_build_spends_budget_times_overrun_from_planned_start_to_actual_launch():
    """A delayed, overrun platform build is booked in full inside the run: budget x factor (ODD 7.2)."""
    changes = {"platform.launch": dt.date(2017, 12, 25), "platform.build_weeks": 26,
               "platform.build_budget_dkk": 1e9, "platform.running_cost_per_year_dkk": 0.0,
               "platform.overrun_factor": 2.0}
    c = config([], changes)
    on_time = DigexModel(with_values(c, {"run.weeks": 80}), seed=1)
    late = DigexModel(with_values(c, {"run.weeks": 80, "policy.platform.delay_probability": 1.0,
                                      "policy.platform.delay_weeks_mean": 10.0,
                                      "policy.platform.overrun_probability": 1.0}), seed=1)
    on_time.run()
    late.run()
    assert late.launch_delay > dt.timedelta(0) and late.overrun
    weeks_late = 26 + late.launch_delay / dt.timedelta(weeks=1)
    assert end(on_time, "cost_it_cumulative_dkk") == pytest.approx(1e9, rel=1 / 26 + 1e-9)
    assert end(late, "cost_it_cumulative_dkk") == pytest.approx(2e9, rel=1 / weeks_late + 1e-9)


@pytest.mark.parametrize("slowdown", [{"pension": 0.5}, {"benefit": 1.5}, {"benefit": -0.1}])
def test_slowdown_refuses_unknown_types_and_shares_outside_0_1(slowdown):
    with pytest.raises((KeyPathError, ValueError)):
        with_values(base_config().policy, {"backoffice.slowdown": slowdown})


def test_shipped_it_failure_pair_validates_and_differs_as_intended():
    """it_failure sets a dated failure, programme spending and automation on the timeline; it_success no failure."""
    fail = load_scenario(SCENARIOS / "it_failure.yaml")
    ok = load_scenario(SCENARIOS / "it_success.yaml")
    keys = {k for change in fail.timeline for k in change.set}
    assert {"backoffice.down", "backoffice.programme_cost_per_year_dkk", "automation_share.benefit"} <= keys
    assert all("backoffice.down" not in change.set for change in ok.timeline)
