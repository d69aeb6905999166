"""The metrics of issue 13 (docs/ODD.md section 7.15): exclusion by severity, help, automation, ISO-year
windows, run totals and the analogue twin with a timeline.

Behaviour runs use the calibrated baseline (scenarios/denmark_baseline.yaml) at a small size; the hand-checked
cases drive a model with no arrivals through the outcome methods directly.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.experiments.replication import run_replication
from sim.model.metrics import (
    EXCLUSION_COMPONENTS,
    GROUP_METRICS,
    N_CELLS,
    OVERALL_METRICS,
    RUN_TOTALS,
    YEAR_WEEKS,
    counts_by_combination,
    counts_by_flag,
    linear_quantiles,
    window_spans,
)
from sim.model.model import DigexModel
from sim.model.params import LETTER_KINDS, PROCEDURE_TYPES, analogue_reference
from sim.model.tasks import TASK_FIELDS
from sim.scenario.loader import load_scenario

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "denmark_baseline.yaml"


def baseline(*overrides: str):
    """The calibrated baseline with ``key=value`` overrides (no twin unless asked)."""
    return load_scenario(BASELINE, ["run.analogue_reference=false", *overrides])


@functools.cache
def baseline_run() -> tuple[DigexModel, pd.DataFrame]:
    """2,000 citizens from 2013 to the end of 2016 (the mandate and a 53-week ISO year inside), with automation."""
    config = baseline("population.size=2000", "run.start=2013-01-07", "run.weeks=208",
                      *(f"policy.automation_share.{t}=0.3" for t in PROCEDURE_TYPES))
    model = DigexModel(config, seed=2, check_invariants=True).run()
    return model, model.timeseries()


def weekly(ts: pd.DataFrame, metric: str, group_type: str = "all", group: str = "all") -> np.ndarray:
    rows = (ts["metric"] == metric) & (ts["group_type"] == group_type) & (ts["group"] == group)
    return ts.loc[rows].sort_values("week")["value"].to_numpy()


# ---------------------------------------------------------------- hand-checked cases


def quiet_model() -> DigexModel:
    """200 citizens with no procedures or letters, after one recorded week (week 0)."""
    zero = [f"tasks.procedures.{t}.rate_per_year=0" for t in PROCEDURE_TYPES]
    zero += [f"tasks.letters.{k}.rate_per_year=0" for k in LETTER_KINDS]
    model = DigexModel(baseline("population.size=200", "run.weeks=4", *zero), seed=1)
    model.step()
    model.metrics.start_week(model)  # week 1: the window spans two weeks
    return model


def overall(model: DigexModel, metric: str) -> float:
    if metric in GROUP_METRICS:
        return float(model.metrics.groups[model.week, GROUP_METRICS.index(metric), 0])
    return float(model.metrics.overall[model.week, OVERALL_METRICS.index(metric)])


def test_only_letters_with_a_consequence_exclude_and_lose_value():
    m = quiet_model()
    rows = np.flatnonzero(m.pop.alive[: m.pop.n])[:3]
    trust = m.pop.trust[rows].copy()
    post = LETTER_KINDS.index("post")
    m.fail_letters(rows, post, np.array([2, 1, 1]), np.array([0, 1, 0]))
    m.metrics.record(m)
    n, per_year = m.n_alive, YEAR_WEEKS / 2
    value = m.config.tasks.letters["post"].value_dkk
    assert overall(m, "missed_letter_share") == pytest.approx(1 / n)
    assert overall(m, "exclusion_rate") == pytest.approx(1 / n)
    assert overall(m, "failed_procedure_share") == 0 and overall(m, "lost_benefit_share") == 0
    assert overall(m, "missed_post_letters_per_citizen") == pytest.approx(per_year / n)
    assert overall(m, "missed_health_letters_per_citizen") == 0
    assert overall(m, "welfare_loss_per_citizen_dkk") == pytest.approx(value * per_year / n)
    assert overall(m, "welfare_loss_cumulative_dkk") == pytest.approx(value * m.weight)
    assert overall(m, "tasks_failed") == 4  # every missed letter is a failed task in the accounting
    assert m.pop.trust[rows[1]] < trust[1] and m.pop.trust[rows[0]] == trust[0] and m.pop.trust[rows[2]] == trust[2]
    assert m.pop.last_fail_week[rows[1]] == 1 and m.pop.last_fail_week[rows[0]] < 0


def test_a_failed_benefit_claim_is_a_failed_procedure_and_a_lost_benefit():
    m = quiet_model()
    row = int(np.flatnonzero(m.pop.alive[: m.pop.n])[0])
    m.tasks.append({"owner": np.array([row, row]), "ttype": np.array([PROCEDURE_TYPES.index("benefit"),
                                                                      PROCEDURE_TYPES.index("tax")]),
                    "value": np.array([15000.0, 2500.0]), **_task_defaults(m, 2)})
    m.fail_tasks(np.arange(len(m.tasks))[-2:])
    m.metrics.record(m)
    n = m.n_alive
    for metric in ("exclusion_rate", "failed_procedure_share", "lost_benefit_share"):
        assert overall(m, metric) == pytest.approx(1 / n), metric
    assert overall(m, "missed_letter_share") == 0
    assert overall(m, "non_take_up_rate") == 1 and overall(m, "failed_task_share") == 1
    assert overall(m, "welfare_loss_per_citizen_dkk") == pytest.approx(17500 * YEAR_WEEKS / 2 / n)


def _task_defaults(m: DigexModel, k: int) -> dict[str, np.ndarray]:
    """The other fields of ``k`` new open tasks (TASK_FIELDS): zeros, due in four weeks."""
    return {name: np.full(k, m.week + 4 if name == "deadline" else 0, dtype=dtype)
            for name, dtype in TASK_FIELDS.items() if name not in ("owner", "ttype", "value")}


def test_assisted_and_dependent_shares_count_citizens_who_completed_a_procedure():
    m = quiet_model()
    rows = np.flatnonzero(m.pop.alive[: m.pop.n])[:15]
    m.pop.last_unassisted_week[rows[:10]] = m.week  # 0-9 alone, 5-14 with help: 10 helped, 5 only with help
    m.pop.last_assisted_week[rows[5:]] = m.week - 1
    m.metrics.record(m)
    assert overall(m, "assisted_share") == pytest.approx(10 / 15)
    assert overall(m, "dependent_share") == pytest.approx(5 / 15)


# ---------------------------------------------------------------- invariants over a baseline run


def test_components_bound_the_headline_in_every_group_and_week():
    ts = baseline_run()[1]
    wide = ts.pivot_table(index=["week", "group_type", "group"], columns="metric", values="value")
    ex = wide["exclusion_rate"]

    def at_most(a: pd.Series, b: pd.Series) -> bool:
        """a <= b wherever both are defined (a group without citizens or completions has NaN in both)."""
        assert (a.isna() == b.isna()).all()
        return bool((a[a.notna()] <= b[a.notna()] + 1e-12).all())

    for part in EXCLUSION_COMPONENTS:
        assert at_most(wide[part], ex), part
    assert at_most(ex, wide["failed_procedure_share"] + wide["missed_letter_share"])
    assert at_most(wide["dependent_share"], wide["assisted_share"])
    end = wide.xs(207, level="week").loc[("all", "all")]
    assert 0 < end["failed_procedure_share"] < end["exclusion_rate"]
    assert 0 < end["missed_letter_share"] < end["exclusion_rate"]
    assert 0 < end["dependent_share"] < end["assisted_share"] < 1


def test_digital_share_leaves_automation_out():
    ts = baseline_run()[1]
    digital, auto = weekly(ts, "digital_share")[-1], weekly(ts, "automation_share")[-1]
    assert 0.2 < auto < 0.4  # 30% of procedures are automated
    assert digital * (1 - auto) + auto <= 1 + 1e-12
    assert digital > 0.5  # a share of the citizens' own procedures, not diluted by automated ones


def test_run_totals_are_sums_of_the_weekly_flows():
    ts = baseline_run()[1]
    first_year = np.arange(52)  # the window holds every week since the start
    for total, annual in (("cost", "cost_total_dkk"), ("citizen_time", "citizen_time_cost_dkk")):
        cumulative = weekly(ts, f"{total}_cumulative_dkk")
        assert np.allclose(cumulative[first_year], weekly(ts, annual)[first_year] * (first_year + 1) / YEAR_WEEKS)
    for total in RUN_TOTALS:
        cumulative, discounted = weekly(ts, f"{total}_cumulative_dkk"), weekly(ts, f"{total}_discounted_dkk")
        assert np.all(np.diff(cumulative) >= 0) and np.all(np.diff(discounted) >= 0), total
        assert np.all(discounted <= cumulative) and cumulative[-1] > 0, total
        assert discounted[-1] > cumulative[-1] * 1.035 ** -4, total  # no flow is discounted by more than 4 years


def test_without_a_discount_rate_the_discounted_totals_are_the_cumulative_ones():
    config = baseline("population.size=300", "run.weeks=60", "costs.discount_rate_per_year=0")
    ts = DigexModel(config, seed=1).run().timeseries()
    for total in RUN_TOTALS:
        assert np.array_equal(weekly(ts, f"{total}_cumulative_dkk"), weekly(ts, f"{total}_discounted_dkk"))


# ---------------------------------------------------------------- ISO years


def test_the_window_after_a_53_week_iso_year_holds_every_iso_week_once():
    start = dt.date(2012, 1, 2)
    spans = window_spans(start, 520)
    iso = [(start + dt.timedelta(weeks=w)).isocalendar() for w in range(520)]
    for w in range(52, 520):
        weeks = [iso[v].week for v in range(w - spans[w] + 1, w + 1)]
        assert sorted(set(weeks)) == sorted(weeks) and set(range(1, 53)) <= set(weeks), iso[w]
    in_2016 = [w for w in range(520) if iso[w].year == 2016]
    in_2017 = [w for w in range(520) if iso[w].year == 2017]
    assert set(spans[in_2016]) == {53} and set(spans[in_2017]) == {52}  # 2015 has 53 ISO weeks


def test_no_dip_in_a_windowed_metric_after_a_53_week_iso_year():
    """Only tax (ISO weeks 11-14, done by week 22): every window from 2015 week 40 to 2016 week 10 holds the whole
    2015 season and nothing else, so its sum of self-service costs is the same (a 52-week window misses 2015 week
    11 at 2016 week 10)."""
    others = [f"tasks.procedures.{t}.rate_per_year=0" for t in PROCEDURE_TYPES if t != "tax"]
    config = baseline("population.size=500", "run.start=2015-01-05", "run.weeks=68", *others)
    model = DigexModel(config, seed=1).run()
    start = config.run.start
    value = model.metrics.overall[:, OVERALL_METRICS.index("cost_self_service_dkk")]
    window_sum = value * model.metrics.spans  # proportional to the window's sum of weekly costs
    iso = [(start + dt.timedelta(weeks=w)).isocalendar() for w in range(config.run.weeks)]
    reference = next(w for w in range(68) if iso[w][:2] == (2015, 40))
    after = [w for w in range(68) if iso[w].year == 2016 and iso[w].week <= 10]
    assert len(after) == 10 and window_sum[reference] > 0
    assert np.allclose(window_sum[after], window_sum[reference], rtol=1e-9)


# ---------------------------------------------------------------- the analogue twin


STAFFING = {"centre.helpers_per_10k": 4.0, "phone.agents_per_10k": 2.0}


def test_the_twin_keeps_the_timeline_except_the_digital_levers():
    config = baseline("run.start=2013-01-07", "run.weeks=300")
    config.timeline = [
        {"date": dt.date(2014, 1, 6), "set": {**STAFFING, "automation_share.tax": 0.5}},
        {"date": dt.date(2015, 1, 5), "set": {"platform": {"build_budget_dkk": 1e9, "outage_rate_per_year": 4.0}}},
        {"date": dt.date(2016, 1, 4), "set": {"mandate_start": "2016-02-01"}},
    ]
    config = config.model_validate(config.model_dump())
    twin = analogue_reference(config)
    assert [c.set for c in twin.timeline] == [
        STAFFING, {"platform": {"build_budget_dkk": 1e9, "outage_rate_per_year": 4.0},
                   "platform.build_budget_dkk": 0.0, "platform.running_cost_per_year_dkk": 0.0}]
    assert not twin.policy.digital_channels and twin.policy.mandate_start is None
    model = DigexModel(twin, seed=1, group_metrics=False)
    model.week = 160
    model.apply_timeline()
    assert model.policy.centre.helpers_per_10k == 4.0 and model.policy.platform.outage_rate_per_year == 4.0
    assert model.policy.platform.build_budget_dkk == 0 and model.policy.automation_share["tax"] == 0


def test_staffing_on_the_timeline_and_in_the_policy_block_give_the_same_savings():
    overrides = ["population.size=400", "run.weeks=40", "run.start=2015-01-05", "run.analogue_reference=true"]
    block = load_scenario(BASELINE, [*overrides, *(f"policy.{k}={v}" for k, v in STAFFING.items())])
    timeline = load_scenario(BASELINE, overrides)
    timeline.timeline = [{"date": timeline.run.start, "set": STAFFING}]
    timeline = timeline.model_validate(timeline.model_dump())
    savings = {}
    for name, config in (("block", block), ("timeline", timeline)):
        ts = run_replication(config, 0).timeseries
        savings[name] = {m: weekly(ts, m)[-1] for m in ("savings_vs_analogue_dkk", "savings_cumulative_dkk")}
    for metric, value in savings["block"].items():
        assert np.isfinite(value)
        assert savings["timeline"][metric] == pytest.approx(value, rel=1e-9), metric


def test_language_groups_follow_barriers_that_fade():
    """The language-barrier groups count this week's barriers: immigrants who learn Danish change group."""
    model, ts = baseline_run()
    p, n = model.pop, model.pop.n
    living = p.alive[:n]
    with_barrier = int((living & p.language_barrier[:n]).sum())
    assert model.immigrants_total > 0
    counted = weekly(ts, "population", "language_barrier", "yes")[-1] / model.weight
    assert counted == pytest.approx(with_barrier)
    assert weekly(ts, "population", "language_barrier", "no")[-1] / model.weight == pytest.approx(
        int(living.sum()) - with_barrier)


def test_quintile_edges_are_numpys_quantiles_bit_for_bit():
    """The weekly skill-quintile edges equal np.quantile's exactly (values and dtype), with ties and tiny samples."""
    rng = np.random.default_rng(16)
    q = np.array([0.2, 0.4, 0.6, 0.8])
    for trial in range(3000):
        n = int(rng.integers(1, 40 if trial % 2 else 5000))
        values = rng.beta(0.7, 1.5, n).astype(np.float32)
        if trial % 3 == 0:  # many ties
            values = np.round(values * rng.integers(1, 20)).astype(np.float32) / np.float32(20)
        expected = np.quantile(values, q)
        got = linear_quantiles(values.copy(), q)
        assert got.dtype == expected.dtype
        assert np.array_equal(got.view(np.int64), expected.view(np.int64)), (n, got, expected)


@pytest.mark.parametrize("rows", [0, 1, 7_000])
def test_flag_counts_agree_either_way(rows):
    """Flag by flag and by combinations, the per-cell flag counts and citizen counts are the same numbers."""
    rng = np.random.default_rng(rows)
    cells = rng.integers(0, N_CELLS + 1, rows).astype(np.intp)  # N_CELLS: the dead, counted in no cell
    flags = tuple(rng.random(rows) < share for share in np.linspace(0.0, 1.0, 11))
    by_flag, by_combination = counts_by_flag(cells, flags), counts_by_combination(cells, flags)
    assert np.array_equal(by_flag[0], by_combination[0]) and np.array_equal(by_flag[1], by_combination[1])
    alive = cells < N_CELLS
    assert by_flag[1].sum() == alive.sum()
    assert np.array_equal(by_flag[0].sum(axis=0), [(f & alive).sum() for f in flags])
