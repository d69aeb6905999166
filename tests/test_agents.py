"""Mesa-agent views on array rows (MODEL.md section 9): Citizen, Centre and Helper agents."""

import numpy as np
import pytest

from sim import DigexModel
from sim.model.agents import Centre, Citizen, Helper
from sim.model.population import COLUMNS
from tests.conftest import small_config


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
