"""The speed-ups of issue 16 change no result: the twin reused, grouped on workers, replaying the main run's
newcomers, the long frame built at once, the arrival rates prepared once, the label columns compacted by recoding."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from sim.experiments import replication
from sim.experiments.replication import TwinCache, run_many, run_replication, twin_groups, twin_key
from sim.model.mechanisms.demography import DemographyRecord, demography_key
from sim.model.metrics import GROUP_METRICS, OVERALL, OVERALL_METRICS
from sim.model.model import DigexModel
from sim.model.params import Config, analogue_reference
from sim.model.tasks import Arrivals, arrival_rate, procedure_weekly_rates
from sim.outputs.files import compact_frame
from sim.scenario.loader import load_scenario, shipped_scenarios
from tests.conftest import small_config


def tiny(**policy):
    """300 citizens for 60 weeks around the launch, with the analogue twin."""
    c = small_config(300, 60, **policy)
    c.run.start = dt.date(2014, 6, 2)
    c.run.analogue_reference = True
    return c


def digital_variant():
    """The tiny baseline with another digital lever: its twin is the same."""
    c = tiny()
    c.name = "voluntary"
    c.policy.mandate_start = None
    return c


@pytest.fixture
def fresh_twins(monkeypatch):
    """An empty twin cache for the test (the module's cache is shared by the process)."""
    cache = TwinCache()
    monkeypatch.setattr(replication, "TWINS", cache)
    return cache


def test_twin_key_ignores_name_and_digital_levers_but_not_seed_or_population():
    base = tiny()
    assert twin_key(base, 1) == twin_key(digital_variant(), 1)
    assert twin_key(base, 1) != twin_key(base, 2)
    bigger = tiny()
    bigger.population.size = 400
    assert twin_key(base, 1) != twin_key(bigger, 1)


def test_reused_twin_gives_the_savings_of_a_fresh_one(fresh_twins, monkeypatch):
    variant = digital_variant()
    run_replication(tiny(), 0)  # fills the cache with the shared twin
    assert len(fresh_twins._costs) == 1
    reused = run_replication(variant, 0).timeseries
    assert len(fresh_twins._costs) == 1  # no second twin was run
    monkeypatch.setattr(replication, "TWINS", TwinCache())
    fresh = run_replication(variant, 0).timeseries
    pd.testing.assert_frame_equal(reused, fresh, check_exact=True)
    assert reused.loc[reused["metric"] == "savings_cumulative_dkk", "value"].notna().all()


def test_a_replication_frees_each_model_before_the_next_is_built(fresh_twins, monkeypatch):
    """With the cyclic garbage collector off, the main model is gone before the twin is built and the twin is
    gone when the replication returns: two models are never held at once (peak memory at national scale)."""
    import gc
    import weakref

    made: list[weakref.ref] = []
    alive_at_creation: list[int] = []

    class Tracked(DigexModel):
        def __init__(self, *args, **kwargs):
            alive_at_creation.append(sum(r() is not None for r in made))
            super().__init__(*args, **kwargs)
            made.append(weakref.ref(self))

    monkeypatch.setattr(replication, "DigexModel", Tracked)
    gc.disable()
    try:
        run_replication(tiny(), 0)
        assert len(made) == 2 and alive_at_creation == [0, 0]
        assert all(r() is None for r in made)
    finally:
        gc.enable()


def test_twin_groups_gather_replications_sharing_a_twin():
    jobs = [(tiny(), 0), (tiny(), 1), (digital_variant(), 0), (digital_variant(), 1)]
    assert twin_groups(jobs) == [[0, 2], [1, 3]]
    alone = tiny()
    alone.run.analogue_reference = False
    assert twin_groups([(alone, 0), (alone, 0)]) == [[0], [1]]


def test_grouped_workers_give_the_results_of_one_process(fresh_twins):
    jobs = [(tiny(), 0), (tiny(), 1), (digital_variant(), 0), (digital_variant(), 1)]
    done = []
    pooled = run_many(jobs, jobs=2, on_done=done.append)
    alone = run_many(jobs, jobs=1)
    assert len(done) == 4
    assert [(r.scenario, r.rep) for r in pooled] == [(r.scenario, r.rep) for r in alone]
    for a, b in zip(pooled, alone, strict=True):
        pd.testing.assert_frame_equal(a.timeseries, b.timeseries, check_exact=True)


def naive_timeseries(m: DigexModel) -> pd.DataFrame:
    """The long frame one metric at a time (the construction before issue 16), as the reference."""
    weeks = m.week
    dates = pd.to_datetime([m.config.run.start + dt.timedelta(weeks=w) for w in range(weeks)])
    frames = [pd.DataFrame({"week": np.arange(weeks), "date": dates, "metric": name, "group_type": OVERALL[0],
                            "group": OVERALL[1], "value": m.metrics.overall[:weeks, j]})
              for j, name in enumerate(OVERALL_METRICS)]
    labels = m.metrics.labels
    for j, name in enumerate(GROUP_METRICS):
        frames.append(pd.DataFrame({
            "week": np.repeat(np.arange(weeks), len(labels)),
            "date": np.repeat(dates, len(labels)),
            "metric": name,
            "group_type": np.tile(np.array([lab[0] for lab in labels]), weeks),
            "group": np.tile(np.array([lab[1] for lab in labels]), weeks),
            "value": m.metrics.groups[:weeks, j, :].ravel(),
        }))
    return pd.concat(frames, ignore_index=True)


def test_timeseries_equals_the_frame_built_metric_by_metric():
    m = DigexModel(tiny(), seed=3).run()
    pd.testing.assert_frame_equal(m.timeseries(), naive_timeseries(m), check_exact=True)


def test_replication_models_create_no_citizen_agents_but_the_same_results():
    with_agents = DigexModel(tiny(), seed=5)
    without = DigexModel(tiny(), seed=5, citizen_agents=False)
    assert len(with_agents.agents) > len(without.agents)
    pd.testing.assert_frame_equal(with_agents.run().timeseries(), without.run().timeseries(), check_exact=True)
    assert without.citizen(0).row == 0  # still available on demand


def test_prepared_arrival_rates_are_those_of_each_week():
    """Rates prepared once per ISO week (the tax season included) equal those computed for the date itself."""
    config = small_config(300, 60)
    arrivals = Arrivals(config)
    start = dt.date(2014, 1, 6)
    for week in range(110):  # two years: every ISO week is met twice, from the cache the second time
        date = start + dt.timedelta(weeks=week)
        expected = [arrival_rate(r) for r in procedure_weekly_rates(config, date)]
        for got, want in zip(arrivals.procedures(date), expected, strict=True):
            assert np.array_equal(got.rates, want.rates) and got.rmax == want.rmax and got.uniform == want.uniform
    assert any(rate.rmax == 0 for rate in arrivals.procedures(dt.date(2014, 6, 2)))  # tax outside its season


def test_compacting_twice_gives_the_frame_compacted_once():
    """A frame whose label columns are already categorical (a replication's) compacts to the same frame."""
    ts = DigexModel(tiny(), seed=3).run().timeseries()
    once = compact_frame(ts)
    twice = compact_frame(once.iloc[::-1].reset_index(drop=True))
    pd.testing.assert_frame_equal(twice, compact_frame(ts.iloc[::-1].reset_index(drop=True)), check_exact=True)
    for col in ("metric", "group_type", "group"):
        assert list(twice[col].cat.categories) == list(once[col].cat.categories)


def baseline_with_newcomers(weeks: int = 120) -> Config:
    """The shipped baseline at 2,000 citizens with ten times its immigration: newcomers and faded barriers most
    weeks."""
    return load_scenario(shipped_scenarios() / "denmark_baseline.yaml",
                         ["population.size=2000", f"run.weeks={weeks}", "population.immigration_per_year=0.1"])


def test_a_twin_replaying_the_main_runs_newcomers_is_the_twin_that_draws_them():
    config = baseline_with_newcomers()
    record = DemographyRecord(demography_key(config, 7))
    DigexModel(config, seed=7, citizen_agents=False, demography_record=record).run()
    assert len(record.weeks) == config.run.weeks
    assert sum(w is not None and len(w.faded) > 0 for w in record.weeks) > 10  # barriers end, and are replayed
    twin = analogue_reference(config)
    replayed = DigexModel(twin, seed=7, citizen_agents=False, demography_record=record).run()
    drawn = DigexModel(twin, seed=7, citizen_agents=False).run()
    assert replayed.immigrants_total == drawn.immigrants_total > 100
    pd.testing.assert_frame_equal(replayed.pop.frame(), drawn.pop.frame(), check_exact=True)
    pd.testing.assert_frame_equal(replayed.timeseries(), drawn.timeseries(), check_exact=True)


def test_a_scenario_and_its_twin_have_one_demography_and_other_runs_another():
    config = baseline_with_newcomers()
    assert demography_key(config, 7) == demography_key(analogue_reference(config), 7)
    assert demography_key(config, 7) != demography_key(config, 8)
    other = baseline_with_newcomers()
    other.population.entrants_per_year *= 1.1
    assert demography_key(config, 7) != demography_key(other, 7)


def test_a_record_of_another_demography_or_of_fewer_weeks_is_refused():
    config = baseline_with_newcomers(weeks=20)
    record = DemographyRecord(demography_key(config, 7))
    DigexModel(config, seed=7, demography_record=record).run()
    with pytest.raises(ValueError, match="demography_record: recorded from a run with another"):
        DigexModel(config, seed=8, demography_record=record)
    with pytest.raises(ValueError, match="demography_record: holds 20 weeks, fewer than this run's 40"):
        DigexModel(baseline_with_newcomers(weeks=40), seed=7, demography_record=record)
    DigexModel(baseline_with_newcomers(weeks=10), seed=7, demography_record=record)  # a shorter run replays a prefix
