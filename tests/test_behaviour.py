"""Behavioural tests of the core simulation (issue 2): policy directions under common random numbers.

Each comparison runs the same seed in both arms. The model draws population,
deaths, births and task arrivals from their own random streams, so the arms
share the same citizens, lives and needs and differ only through the policy
(``test_common_random_numbers_across_policies`` checks this premise). Every
run checks the accounting invariants weekly (``check_invariants=True``).

Runs are cached per (seed, policy changes), so the baseline of one test is
reused by the others. Margins quoted in comments were measured with
SIZE = 10,000 and WEEKS = 156 on seeds 1-3 (see the report of issue 2); the
whole file runs in about 20 s on one core.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim import Config, DigexModel
from sim.model.codes import NOT_ENROLLED
from sim.model.keypath import with_values
from sim.model.params import analogue_reference
from tests.conftest import small_config

SIZE = 10_000
"""Simulated citizens: large enough that every direction below is several noise SDs wide."""

WEEKS = 156
"""2013-01-07 to 2015-12-28: the mandate (2014-11-01) starts in week 95, so the last
52-week window of the end-of-run metrics lies wholly under the mandate."""

SEEDS = (1, 2, 3)

MORE_HELPERS = {"centre.helpers_per_10k": 5.0}
AUTOMATIC_OPTOUT = {"optout.rule": "automatic"}
CASEWORK = {"centre.self_help_share": 0.0}
SELF_HELP = {"centre.self_help_share": 1.0}
OUTAGES = {"platform.outage_rate_per_year": 26.0, "platform.outage_days": 3.0}
AUTOMATION = {f"automation_share.{t}": 0.5 for t in ("tax", "benefit", "moving", "family")}


@dataclass(frozen=True)
class Run:
    """A finished model run, its end-of-run values and the citizens' skill at the start."""

    model: DigexModel
    values: dict[tuple[str, str, str], float]
    initial_skill: np.ndarray
    timeseries: pd.DataFrame

    def __call__(self, metric: str, group_type: str = "all", group: str = "all") -> float:
        """End-of-run value of a metric (overall unless a group is given)."""
        return self.values[(metric, group_type, group)]


@functools.cache
def _run(seed: int, changes: tuple[tuple[str, object], ...], analogue: bool) -> Run:
    config = small_config(SIZE, WEEKS)
    config.policy = with_values(config.policy, dict(changes))
    if analogue:
        config = analogue_reference(config)
    model = DigexModel(config, seed=seed, check_invariants=True)
    initial = model.pop.skill[: model.pop.n].copy()
    model.run()
    s = model.summary()
    values = dict(zip(zip(s["metric"], s["group_type"], s["group"], strict=True), s["value"], strict=True))
    return Run(model, values, initial, model.timeseries())


def run(seed: int, changes: dict[str, object] | None = None, analogue: bool = False) -> Run:
    """The baseline (Danish defaults at test size) with policy ``changes``, run once per process."""
    return _run(seed, tuple(sorted((changes or {}).items())), analogue)


def mean(values) -> float:
    return float(np.mean(list(values)))


def test_common_random_numbers_across_policies():
    """Population, deaths, births and arrivals coincide across policies with the same seed."""
    base = run(1)
    for other in (run(1, OUTAGES), run(1, AUTOMATION), run(1, MORE_HELPERS), run(1, analogue=True)):
        a, b = base.model, other.model
        assert a.pop.n == b.pop.n
        assert (a.deaths_total, a.entrants_total) == (b.deaths_total, b.entrants_total)
        np.testing.assert_array_equal(a.pop.alive[: a.pop.n], b.pop.alive[: b.pop.n])
        np.testing.assert_array_equal(a.pop.age[: a.pop.n], b.pop.age[: b.pop.n])
        np.testing.assert_array_equal(base.initial_skill, other.initial_skill)
        assert base("tasks_arrived") == other("tasks_arrived")
    # a different seed is a different world
    assert not np.array_equal(base.initial_skill, run(2).initial_skill)


def test_automatic_optout_raises_exemption_and_lowers_exclusion_among_80_plus():
    """Dilemma 1: the in-person rule leaves the oldest enrolled and excluded; automatic exemption reaches them."""
    assert Config().policy.optout.rule == "in_person"  # the baseline arm
    for seed in SEEDS[:2]:
        in_person, automatic = run(seed), run(seed, AUTOMATIC_OPTOUT)
        # measured (seed 1, 2): exempt 0.17 -> 0.51, 0.18 -> 0.50; exclusion 0.70 -> 0.26, 0.71 -> 0.28
        assert automatic("exempt_share", "age_band", "80+") > in_person("exempt_share", "age_band", "80+") + 0.2
        assert automatic("exclusion_rate", "age_band", "80+") < in_person("exclusion_rate", "age_band", "80+") - 0.2
        assert automatic("exempt_share") > in_person("exempt_share")


def test_more_centre_helpers_lower_unserved_demand_and_do_not_raise_exclusion():
    """More helpers (2 -> 5 per 10,000) serve the centre queue; welfare loss falls, exclusion does not rise."""
    assert Config().policy.centre.helpers_per_10k == 2.0  # the baseline arm
    pairs = [(run(seed), run(seed, MORE_HELPERS)) for seed in SEEDS]
    for few, many in pairs:
        # measured: 0.37 / 0.29 / 0.32 unserved with 2 helpers, <= 0.006 with 5
        assert many("centre_unserved_share") < few("centre_unserved_share") - 0.2
    # fewer procedures fail through queue give-ups, but welfare loss is dominated by missed letters,
    # so the change is small and noisy per seed: compare the 3-seed means.
    assert mean(m("welfare_loss_per_citizen_dkk") for _, m in pairs) < mean(
        f("welfare_loss_per_citizen_dkk") for f, _ in pairs)
    # Exclusion is dominated by missed letters, which centres do not handle, so its true
    # change is small (about -0.001); the test is non-inferiority: mean over 3 seeds not above
    # the baseline by more than 0.002 (~2 SE of the 3-seed mean). Measured: 0.2410 -> 0.2387.
    assert mean(m("exclusion_rate") for _, m in pairs) <= mean(f("exclusion_rate") for f, _ in pairs) + 0.002


def _centre_minutes_per_case(r: Run) -> float:
    """Helper minutes (casework + teaching + documentation) per centre case served.

    Cases are counted from documentation minutes, which every served case incurs once.
    """
    doc = r("helper_minutes_documentation")
    total = r("helper_minutes_casework") + r("helper_minutes_teaching") + doc
    return total / (doc / r.model.policy.centre.documentation_minutes)


def test_help_to_self_help_raises_skill_of_the_helped_and_costs_more_minutes():
    """Dilemma 3: teaching (self_help_share 1) vs casework (0)."""
    for seed in SEEDS[:2]:
        casework, teaching = run(seed, CASEWORK), run(seed, SELF_HELP)
        a, b = casework.model, teaching.model
        n0 = len(casework.initial_skill)
        alive = a.pop.alive[:n0]
        np.testing.assert_array_equal(alive, b.pop.alive[:n0])  # the same citizens survive in both arms
        # citizens of the starting population served at a centre in either arm, alive at the end
        helped = alive & ((a.pop.done_centre[:n0] > 0) | (b.pop.done_centre[:n0] > 0))
        assert helped.sum() > 500  # measured ~1,100
        gain_casework = float((a.pop.skill[:n0] - casework.initial_skill)[helped].mean())
        gain_teaching = float((b.pop.skill[:n0] - teaching.initial_skill)[helped].mean())
        # measured (seed 1, 2): -0.009 vs +0.021, -0.009 vs +0.024 (old-age decline without teaching)
        assert gain_teaching > gain_casework + 0.015
        # the lowest skill quintile gains too: measured 0.382 -> 0.397, 0.383 -> 0.399
        assert teaching("skill_mean", "skill_quintile", "Q1 lowest") > casework(
            "skill_mean", "skill_quintile", "Q1 lowest") + 0.005
        # teaching takes more helper minutes per case: 35 + 6 vs 20 + 6 with the defaults
        pol = a.policy.centre
        assert _centre_minutes_per_case(teaching) > _centre_minutes_per_case(casework)
        assert np.isclose(_centre_minutes_per_case(teaching), pol.minutes_self_help + pol.documentation_minutes)
        assert np.isclose(_centre_minutes_per_case(casework), pol.minutes_casework + pol.documentation_minutes)
        assert casework("helper_minutes_teaching") == 0 and teaching("helper_minutes_casework") == 0


def test_digital_by_default_is_cheaper_per_task_but_excludes_the_least_skilled():
    """Dilemma 1 in money: the baseline vs its all-analogue reference (same population and seed)."""
    for seed in SEEDS[:2]:
        digital, analogue = run(seed), run(seed, analogue=True)
        # measured (seed 1, 2): 23.7 vs 35.6, 23.7 vs 35.3 DKK per completed task
        assert digital("cost_per_completed_task_dkk") < 0.8 * analogue("cost_per_completed_task_dkk")
        # measured: 0.62 vs 0.011, 0.61 vs 0.016 in the lowest skill quintile
        q1 = ("exclusion_rate", "skill_quintile", "Q1 lowest")
        assert digital(*q1) > analogue(*q1) + 0.2
        assert analogue("cost_self_service_dkk") == 0 and analogue("cost_digital_post_dkk") == 0


def test_platform_outages_raise_failed_tasks():
    """Dilemma 5: outages (26 a year of 3 days vs the baseline 2 of 1 day) make self-service and Digital Post fail."""
    for seed in SEEDS[:2]:
        base, outages = run(seed), run(seed, OUTAGES)
        # measured (seed 1, 2): failed tasks x1.122, x1.114; failed share 0.160 -> 0.174, 0.162 -> 0.176
        assert outages("tasks_failed") > 1.05 * base("tasks_failed")
        assert outages("failed_task_share") > base("failed_task_share") + 0.005
        assert outages("tasks_arrived") == base("tasks_arrived")


def test_proactive_automation_lowers_exclusion_and_raises_privacy_exposure():
    """Dilemma 4: half of every procedure type resolved from register data."""
    pairs = [(run(seed), run(seed, AUTOMATION)) for seed in SEEDS]
    for base, auto in pairs:
        assert base("privacy_exposure") == 0 and base("privacy_incidents") == 0
        assert auto("privacy_exposure") > 0 and auto("privacy_incidents") > 0
        assert auto("cost_automation_dkk") > 0
    # measured per seed: -0.0079, -0.0082, -0.0099 (noise SD of one seed's difference ~0.0018)
    assert mean(a("exclusion_rate") for _, a in pairs) < mean(b("exclusion_rate") for b, _ in pairs) - 0.004
    assert mean(a("welfare_loss_per_citizen_dkk") for _, a in pairs) < mean(
        b("welfare_loss_per_citizen_dkk") for b, _ in pairs)


def test_mandate_enrols_every_non_exempt_citizen_at_its_start():
    """Before the mandate enrolment is voluntary and grows; from its start all living are enrolled or exempt."""
    r = run(1)
    start = r.model.config.policy.mandate_start
    assert start == dt.date(2014, 11, 1)  # the Digital Post Act (docs/ODD.md section 1), inside the run
    ts = r.timeseries
    overall = ts[ts["group_type"] == "all"].pivot(index="date", columns="metric", values="value")
    covered = overall["enrolled_share"] + overall["exempt_share"]
    after = overall.index >= pd.Timestamp(start)
    first = overall.index[after][0]
    assert first - pd.Timestamp(start) < pd.Timedelta(days=7)  # the week after the mandate starts
    np.testing.assert_allclose(covered[after], 1.0, rtol=0, atol=1e-12)
    before = overall[~after]
    assert (before["exempt_share"] == 0).all()  # exemption exists only under the mandate
    assert before["enrolled_share"].iloc[-1] < 0.6  # measured 0.42 in the last voluntary week
    assert before["enrolled_share"].iloc[-1] > before["enrolled_share"].iloc[0] + 0.1  # 0.13 -> 0.42
    # citizen-level check on the final state: every living citizen is enrolled or exempt
    p = r.model.pop
    assert not np.any(p.dp_status[: p.n][p.alive[: p.n]] == NOT_ENROLLED)
