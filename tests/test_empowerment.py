"""Empowerment vs alienation (issue 14): trust moves help seeking and exemption, trust recovers, design levers.

Every direction is checked at the calibrated Danish baseline
(``scenarios/denmark_baseline.yaml``, shrunk) with the same seeds in both
arms (common random numbers). Unit checks set one citizen attribute in a copy
of a model state and draw the same random numbers in both arms; model checks
run both arms of a whole (short) run.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
from pathlib import Path

import numpy as np
import pytest

from sim import DigexModel
from sim.model.codes import AFTER_FAILURE, CENTRE, EXEMPT, FRESH, PHONE, RELATIVE
from sim.model.keypath import with_values
from sim.model.mechanisms import channels, learning, optout
from sim.scenario.loader import load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
BASELINE = SCENARIOS / "denmark_baseline.yaml"
PROGRAMME = SCENARIOS / "accessibility_programme.yaml"
SMALL = {"population.size": 3000, "run.analogue_reference": False}
SEEDS = (1, 2)


def baseline(**values):
    """The calibrated baseline, shrunk, with ``values`` (key paths) set."""
    return with_values(load_scenario(BASELINE), {**SMALL, **values})


@functools.cache
def mid_run_model() -> DigexModel:
    """The shrunk baseline run to March 2016 (under the mandate, in the tax season): many open tasks."""
    model = DigexModel(baseline(**{"run.start": "2015-01-05", "run.weeks": 80}), seed=1)
    for _ in range(63):
        model.step()
    return model


def with_trust(trust: float) -> DigexModel:
    """A copy of the mid-run model in which every citizen has the given trust."""
    model = copy.deepcopy(mid_run_model())
    model.pop.trust[:] = trust
    return model


def open_tasks(model: DigexModel) -> np.ndarray:
    t = model.tasks
    return np.flatnonzero((t.route == FRESH) | (t.route == AFTER_FAILURE))


# ------------------------------------------------------------ trust and help seeking


def test_low_trust_asks_public_help_less_and_relatives_or_nobody_more():
    choices = {}
    for trust in (0.15, 0.85):
        model = with_trust(trust)
        idx = open_tasks(model)
        choices[trust] = channels.choose_channels(model, idx, np.random.default_rng(7))
    low, high = choices[0.15], choices[0.85]
    public = lambda c: int(np.isin(c, (PHONE, CENTRE)).sum())  # noqa: E731
    assert public(low) < public(high)
    assert (low == RELATIVE).sum() > (high == RELATIVE).sum()
    assert (low == channels.STAY_AWAY).sum() > (high == channels.STAY_AWAY).sum() > 0


def test_staying_away_keeps_the_task_open_where_it_can_be_given_up():
    model = with_trust(0.0)
    idx = open_tasks(model)
    choice = channels.choose_channels(model, idx, np.random.default_rng(7))
    away = idx[choice == channels.STAY_AWAY]
    assert len(away)
    attempts = model.tasks.attempts[away].copy()
    channels.route_to_queues(model, idx, choice)
    assert np.all(model.tasks.route[away] == AFTER_FAILURE)
    assert np.array_equal(model.tasks.attempts[away], attempts)  # no failed attempt is counted


def test_without_avoidance_nobody_stays_away():
    model = with_trust(0.0)
    model.config = with_values(model.config, {"behaviour.trust_help_avoidance": 0.0})
    choice = channels.choose_channels(model, open_tasks(model), np.random.default_rng(7))
    assert not np.any(choice == channels.STAY_AWAY)


# ------------------------------------------------------------ trust and exemption


def test_distrust_raises_the_exemption_application_hazard():
    hazard = {}
    for trust in (0.2, 0.5, 0.8):
        model = with_trust(trust)
        n = model.pop.n
        rows = np.flatnonzero(model.pop.alive[:n] & (model.pop.dp_status[:n] != EXEMPT)
                              & optout.eligible(model, slice(0, n)))
        hazard[trust] = optout.application_hazard(model, rows)
    applies = hazard[0.5] > 0  # aware of exemption
    assert applies.any()
    assert np.all(hazard[0.2][applies] > hazard[0.5][applies])
    assert np.all(hazard[0.5][applies] > hazard[0.8][applies])
    assert np.array_equal(hazard[0.2] > 0, applies)
    slope = mid_run_model().config.behaviour.trust_optout_slope
    assert np.allclose(hazard[0.2][applies] / hazard[0.5][applies], np.exp(slope * 0.3), rtol=1e-5)


# ------------------------------------------------------------ trust recovery


def test_trust_moves_towards_its_long_run_level_at_the_stated_rate():
    model = copy.deepcopy(mid_run_model())
    p, n = model.pop, model.pop.n
    p.trust[:n] = np.where(np.arange(n) % 2 == 0, 0.1, 0.95).astype(np.float32)
    before = p.trust[:n].astype(float)
    learning.trust_recovery(model)
    rate = model.config.behaviour.trust_recovery_per_year / 52
    level = model.config.population.trust_mean
    alive = p.alive[:n]
    expected = before + rate * (level - before)
    assert np.allclose(p.trust[:n][alive], expected[alive], atol=1e-6)
    assert np.array_equal(p.trust[:n][~alive], before[~alive].astype(np.float32))  # the dead are left alone


@functools.cache
def end_values(path: Path, seed: int, **values) -> dict[tuple[str, str], float]:
    """End-of-run values (metric, group) of a shrunk scenario file run from 2016 to 2021."""
    config = with_values(load_scenario(path), {**SMALL, "run.start": "2016-01-04", "run.weeks": 312, **values})
    summary = DigexModel(config, seed=seed).run().summary()
    return {(r.metric, r.group): r.value for r in summary.itertuples()}


def total(path: Path, metric: str, group: str = "all", **values) -> float:
    return sum(end_values(path, s, **values)[(metric, group)] for s in SEEDS)


def test_trust_recovery_lowers_alienation():
    without = total(BASELINE, "alienated_share", **{"behaviour.trust_recovery_per_year": 0.0})
    assert total(BASELINE, "alienated_share") < without


# ------------------------------------------------------------ design levers


@pytest.mark.parametrize(("lever", "member"), [
    ("accessibility", lambda p, o: p.disability[o] > 0),
    ("language_support", lambda p, o: p.language_barrier[o]),
    ("senior_design", lambda p, o: p.age[o] >= channels.SENIOR_AGE),
])
def test_each_design_lever_helps_its_group_only(lever, member):
    model = copy.deepcopy(mid_run_model())
    model.outage_fraction = 0.0
    idx = open_tasks(model)
    owners = model.tasks.owner[idx]
    before = channels.self_service_success(model, idx)
    model.policy = with_values(model.policy, {f"platform.{lever}": getattr(model.policy.platform, lever) + 0.2})
    after = channels.self_service_success(model, idx)
    group = member(model.pop, owners)
    assert group.any() and (~group).any()
    assert np.all(after[group] > before[group])
    assert np.array_equal(after[~group], before[~group])


def test_accessibility_programme_excludes_fewer_in_its_groups_at_a_higher_cost():
    """The shipped scenario pair: less exclusion among the named groups, a higher platform cost."""
    programme = load_scenario(PROGRAMME)
    assert programme.timeline[0].date == dt.date(2018, 1, 1)
    for group in ("physical", "80+", "yes"):  # impaired, the oldest, a language barrier
        assert total(PROGRAMME, "exclusion_rate", group) < total(BASELINE, "exclusion_rate", group), group
    assert total(PROGRAMME, "exclusion_rate") < total(BASELINE, "exclusion_rate")
    assert total(PROGRAMME, "cost_total_dkk") > total(BASELINE, "cost_total_dkk") + 150e6  # two seeds x 100M
