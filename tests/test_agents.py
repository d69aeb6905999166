"""Mesa-agent views on array rows (docs/ODD.md section 4): Citizen, Centre and Helper agents."""

from pathlib import Path

import numpy as np
import pytest

from sim import DigexModel
from sim.model.agents import Centre, Citizen, Helper
from sim.model.codes import CHANNELS, DISABILITY_NAMES, DP_STATUS_NAMES, EDUCATION_NAMES
from sim.model.mechanisms.services import helpers_per_centre
from sim.model.params import TimelineChange
from sim.model.population import COLUMNS
from sim.scenario.loader import load_scenario
from tests.conftest import small_config

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def citizens_in(model: DigexModel) -> list[Citizen]:
    """The Citizen agents registered with the model."""
    return [a for a in model.agents if isinstance(a, Citizen)]


def test_citizen_reads_and_writes_its_row():
    model = DigexModel(small_config(size=500, weeks=4), seed=2, check_invariants=True)
    row = 17
    c = model.citizen(row)
    assert c.row == row
    for name in COLUMNS:
        assert getattr(c, name) == getattr(model.pop, name)[row].item(), name
    c.skill = 0.1
    assert model.pop.skill[row] == np.float32(0.1)
    c.trust = 0.9
    assert model.pop.trust[row] == np.float32(0.9)
    c.language_barrier = True
    assert bool(model.pop.language_barrier[row])
    # writes touch only that row
    assert np.count_nonzero(model.pop.skill[: model.pop.n] == np.float32(0.1)) == 1
    # the array state is what the citizen reports after a week of rules
    model.step()
    assert c.skill == model.pop.skill[row].item()
    assert c.status["row"] == row and c.status["age"] == round(c.age, 1)


def test_code_names_cover_every_coded_column():
    assert {f"done_{name}" for name in CHANNELS} <= set(COLUMNS)
    model = DigexModel(small_config(size=500, weeks=60), seed=3).run()
    p, s = model.pop, model.pop.view()
    for column, names in (("dp_status", DP_STATUS_NAMES), ("education", EDUCATION_NAMES),
                          ("disability", DISABILITY_NAMES)):
        assert 0 <= getattr(p, column)[s].min() and getattr(p, column)[s].max() < len(names), column
    c = model.citizen(int(np.flatnonzero(p.alive[s])[0]))
    assert c.status["digital_post"] in DP_STATUS_NAMES and c.status["education"] in EDUCATION_NAMES


def test_citizen_lookup_rejects_rows_out_of_range():
    model = DigexModel(small_config(size=200, weeks=2), seed=1)
    with pytest.raises(IndexError, match="no citizen row"):
        model.citizen(model.pop.n)
    with pytest.raises(IndexError, match="no citizen row"):
        model.citizen(-1)


def test_model_agents_hold_citizens_centres_and_helpers():
    config = small_config(size=1000, weeks=2)
    model = DigexModel(config, seed=3)
    kinds = {type(a) for a in model.agents}
    assert kinds == {Citizen, Centre, Helper}
    assert len(citizens_in(model)) == 1000
    assert sorted(c.row for c in citizens_in(model)) == list(range(1000))
    centres = [a for a in model.agents if isinstance(a, Centre)]
    helpers = [a for a in model.agents if isinstance(a, Helper)]
    assert len(centres) == config.policy.centre.centres
    assert sum(len(c.helpers) for c in centres) == len(helpers) > 0
    assert all(0.0 <= c.expertise <= 1.0 for c in centres)
    # the same object is returned for a materialised row
    assert model.citizen(5) is model.citizen(5)


def test_dead_citizens_leave_and_entrants_join_model_agents():
    model = DigexModel(small_config(size=2000, weeks=52), seed=4, check_invariants=True).run()
    assert model.deaths_total > 0 and model.entrants_total > 0
    rows = {c.row for c in citizens_in(model)}
    alive = set(np.flatnonzero(model.pop.alive[: model.pop.n]).tolist())
    assert rows == alive
    dead = int(np.flatnonzero(~model.pop.alive[: model.pop.n])[0])
    # a dead citizen can still be inspected, but does not rejoin the model's agents
    view = model.citizen(dead)
    assert view.alive is False and view.row == dead
    assert dead not in {c.row for c in citizens_in(model)}


def test_track_fills_the_journal_for_tracked_citizens_only():
    model = DigexModel(small_config(size=600, weeks=30), seed=5, check_invariants=True)
    tracked = list(range(0, 600, 6))
    model.track(tracked)
    model.run()
    assert len(model.journal) > 0
    assert {e["row"] for e in model.journal} <= set(tracked)
    assert {e["task"] for e in model.journal} >= {"tax"}  # the March tax season falls inside the run
    assert all(e["event"].startswith(("completed by", "failed", "missed")) for e in model.journal)
    weeks = [e["week"] for e in model.journal]
    assert weeks == sorted(weeks) and 0 <= weeks[0] and weeks[-1] < 30
    # every procedure completion of a tracked citizen is journaled
    done = sum(int(getattr(model.pop, f"done_{ch}")[tracked].sum())
               for ch in ("self_service", "paper", "relative", "phone", "centre", "automation"))
    assert sum(e["event"].startswith("completed") for e in model.journal) == done


def test_citizens_above_threshold_are_created_lazily():
    config = small_config(size=800, weeks=10)
    config.population.materialise_agents_up_to = 500
    model = DigexModel(config, seed=6, check_invariants=True)
    assert citizens_in(model) == []
    c = model.citizen(42)
    assert citizens_in(model) == [c]
    assert model.citizen(42) is c
    assert c.skill == model.pop.skill[42].item()
    model.run()
    # entrants are not materialised either
    assert [a.row for a in citizens_in(model)] == ([42] if model.pop.alive[42] else [])


def helpers_in(model: DigexModel) -> list[Helper]:
    """The Helper agents registered with the model."""
    return [a for a in model.agents if isinstance(a, Helper)]


def test_helper_agents_follow_the_staffing_doubled_on_the_timeline():
    # more_helpers doubles centre.helpers_per_10k on 1 November 2014; run across that date
    overrides = ("population.size=10000", "policy.centre.centres=2", "run.start=2014-10-13", "run.weeks=5")
    config = load_scenario(SCENARIOS / "more_helpers.yaml", overrides)
    model = DigexModel(config, seed=1, check_invariants=True)
    before = list(model.helper_agents)
    assert len(before) == 2 * helpers_per_centre(2.0, 10_000, 2) == 2
    model.run()
    assert model.policy.centre.helpers_per_10k == 4.0
    staffed = 2 * helpers_per_centre(4.0, 10_000, 2)
    assert staffed == 4
    assert len(model.helper_agents) == len(helpers_in(model)) == len(model.helpers.centre) == staffed
    assert model.helper_agents[:2] == before  # the helpers already there keep their agents
    centres = [a for a in model.agents if isinstance(a, Centre)]
    assert [len(c.helpers) for c in centres] == [2, 2]
    assert [h.row for h in model.helper_agents] == list(range(staffed))


def test_helper_agents_leave_when_the_staffing_is_cut():
    config = small_config(size=20_000, weeks=3)
    config.policy.centre.centres = 2
    config.timeline = [TimelineChange(date=config.run.start, set={"centre.helpers_per_10k": 1.0})]
    model = DigexModel(config, seed=2, check_invariants=True)
    first = model.helper_agents[0]
    assert len(helpers_in(model)) == 2 * helpers_per_centre(2.0, 20_000, 2) == 4
    model.step()
    assert len(helpers_in(model)) == len(model.helpers.centre) == 2 * helpers_per_centre(1.0, 20_000, 2) == 2
    assert model.helper_agents[0] is first and sorted(h.centre for h in model.helper_agents) == [0, 1]
