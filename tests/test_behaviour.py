"""Behavioural tests at the calibrated baseline (issues 2 and 13): policy directions under common random numbers.

Each comparison runs the shipped calibrated baseline (``scenarios/denmark_baseline.yaml``
at ``tests.baseline.SIZE`` citizens, 2012-2025) and a policy change on the same
seed, so the arms share citizens, lives and needs and differ only through the
policy (``test_common_random_numbers_across_policies`` checks this premise).
Every run checks the accounting invariants weekly. Each direction is read
around the mandate (the 52 weeks to ``MANDATE``, end of 2015) and at the end of
the run (2025), unless the test says why one of them is left out.

Asserted are directions that follow from the mechanisms, per seed where the
measured difference is many noise SDs wide, else on the mean over the seeds.
Measured values in comments: 5,000 citizens, seeds 1-3 (the report of issue 13);
"sd" is the SD over seeds of the paired difference. Runs are cached and shared
with ``tests/test_scenario_outcomes.py`` (``tests/baseline.py``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from sim.model.codes import NOT_ENROLLED
from tests.baseline import MANDATE, SEEDS, Run, analogue_twin, mean, run, scenario

WHEN = {"mandate": MANDATE, "end": None}
"""The two readings of every direction: the 52 weeks to the end of 2015, and the last 52 weeks of the run."""

MORE_HELPERS = {"policy.centre.helpers_per_10k": 5.0}
CASEWORK = {"policy.centre.self_help_share": 0.0}
SELF_HELP = {"policy.centre.self_help_share": 1.0}
OUTAGES = {"policy.platform.outage_rate_per_year": 26.0, "policy.platform.outage_days": 3.0}
AUTOMATION = {f"policy.automation_share.{t}": 0.5 for t in ("tax", "benefit", "moving", "family")}
AUTOMATIC_OPTOUT = "easy_optout_automatic"
"""The shipped scenario that changes only ``policy.optout.rule`` to automatic (its runs are shared)."""

AGE_80 = ("age_band", "80+")
Q1 = ("skill_quintile", "Q1 lowest")


def test_common_random_numbers_across_policies():
    """Population, deaths, births and arrivals coincide across policies with the same seed."""
    base = run()
    others = [run(changes=OUTAGES), run(changes=AUTOMATION), run(changes=MORE_HELPERS), analogue_twin()]
    for other in others:
        a, b = base.model, other.model
        assert a.pop.n == b.pop.n
        assert (a.deaths_total, a.entrants_total) == (b.deaths_total, b.entrants_total)
        np.testing.assert_array_equal(a.pop.alive[: a.pop.n], b.pop.alive[: b.pop.n])
        np.testing.assert_array_equal(a.pop.age[: a.pop.n], b.pop.age[: b.pop.n])
        np.testing.assert_array_equal(base.initial_skill, other.initial_skill)
        assert base("tasks_arrived") == other("tasks_arrived")
    # a different seed is a different world
    assert not np.array_equal(base.initial_skill, run(seed=2).initial_skill)


@pytest.mark.parametrize("when", WHEN, ids=str)
def test_automatic_optout_raises_exemption_and_lowers_exclusion(when):
    """Dilemma 1: the in-person rule leaves the oldest enrolled; automatic exemption reaches them."""
    assert scenario().policy.optout.rule == "in_person"  # the baseline arm
    assert scenario(AUTOMATIC_OPTOUT).policy.optout.rule == "automatic"
    pairs = [(run(seed=s).at(WHEN[when]), run(AUTOMATIC_OPTOUT, s).at(WHEN[when])) for s in SEEDS]
    for in_person, automatic in pairs:
        # exempt 80+: mandate +0.135 (sd 0.018, min +0.116); end +0.053 (sd 0.009, min +0.043)
        assert automatic("exempt_share", *AGE_80) > in_person("exempt_share", *AGE_80)
        # exempt overall: mandate +0.070, end +0.061 (sd 0.003, 0.001)
        assert automatic("exempt_share") > in_person("exempt_share")
    # exclusion overall: mandate -0.080 (sd 0.005), end -0.011 (sd 0.003)
    assert mean(a("exclusion_rate") for _, a in pairs) < mean(b("exclusion_rate") for b, _ in pairs)
    if when == "mandate":
        # exclusion 80+ in the wave of the mandate: -0.38 (sd 0.020, max -0.359). At the end the
        # difference (-0.027, sd 0.020) is within noise at test size and is not asserted.
        for in_person, automatic in pairs:
            assert automatic("exclusion_rate", *AGE_80) < in_person("exclusion_rate", *AGE_80) - 0.1


@pytest.mark.parametrize("when", WHEN, ids=str)
def test_more_centre_helpers_lower_unserved_demand_and_do_not_raise_exclusion(when):
    """More helpers (5 per 10,000 from the start) serve the centre queue; exclusion does not rise; they cost."""
    assert scenario().policy.centre.helpers_per_10k < 5.0  # the baseline arm has fewer
    pairs = [(run(seed=s).at(WHEN[when]), run(seed=s, changes=MORE_HELPERS).at(WHEN[when])) for s in SEEDS]
    for few, many in pairs:
        # unserved: mandate -0.43 (sd 0.039), end -0.137 (sd 0.014, min -0.129)
        assert many("centre_unserved_share") < few("centre_unserved_share") - 0.05
        assert many("cost_total_dkk") > few("cost_total_dkk")  # helpers are paid: +0.9bn DKK a year
    # Exclusion is mostly missed letters, which centres do not handle: the test is non-inferiority,
    # the 3-seed mean not above the baseline's by more than 0.005. Measured: mandate -0.0036
    # (SE of the mean 0.0027), end -0.0020 (SE 0.0005). Welfare loss is not asserted: its change
    # (mandate -31 DKK, SE 12; end -13 DKK, SE 26) is within noise at test size.
    assert mean(m("exclusion_rate") for _, m in pairs) <= mean(f("exclusion_rate") for f, _ in pairs) + 0.005


def _centre_minutes_per_case(r) -> float:
    """Helper minutes (casework + teaching + documentation) per centre case served, in one reading.

    Cases are counted from documentation minutes, which every served case incurs once.
    """
    doc = r("helper_minutes_documentation")
    total = r("helper_minutes_casework") + r("helper_minutes_teaching") + doc
    return total / (doc / scenario().policy.centre.documentation_minutes)


def test_help_to_self_help_raises_skill_of_the_helped_and_costs_more_minutes():
    """Dilemma 3: teaching (self_help_share 1) vs casework (0), on seeds 1 and 2."""
    for seed in SEEDS[:2]:
        casework, teaching = run(seed=seed, changes=CASEWORK), run(seed=seed, changes=SELF_HELP)
        a, b = casework.model, teaching.model
        n0 = len(casework.initial_skill)
        alive = a.pop.alive[:n0]
        np.testing.assert_array_equal(alive, b.pop.alive[:n0])  # the same citizens survive in both arms
        # citizens of the starting population served at a centre in either arm, alive at the end (2025)
        helped = alive & ((a.pop.done_centre[:n0] > 0) | (b.pop.done_centre[:n0] > 0))
        assert helped.sum() > 500  # measured ~1,900-2,000
        gain_casework = float((a.pop.skill[:n0] - casework.initial_skill)[helped].mean())
        gain_teaching = float((b.pop.skill[:n0] - teaching.initial_skill)[helped].mean())
        # measured (seed 1, 2): +0.003 vs +0.105, +0.003 vs +0.107 over 2012-2025
        assert gain_teaching > gain_casework + 0.03
        for date in WHEN.values():
            c, t = casework.at(date), teaching.at(date)
            # lowest skill quintile: mandate 0.063 -> 0.091, end 0.108 -> 0.242
            assert t("skill_mean", *Q1) > c("skill_mean", *Q1) + 0.01
            # challenged: mandate -0.018, end -0.092 (teaching vs casework)
            assert t("digitally_challenged_share") < c("digitally_challenged_share")
            # teaching takes more helper minutes per case: 35 + 6 vs 20 + 6 with the defaults
            assert _centre_minutes_per_case(t) > _centre_minutes_per_case(c)
            assert c("helper_minutes_teaching") == 0


@pytest.mark.parametrize("when", WHEN, ids=str)
def test_digital_by_default_is_cheaper_per_task_but_excludes_the_least_skilled(when):
    """Dilemma 1 in money: the baseline vs its all-analogue twin (same population and seed)."""
    for seed in SEEDS[:2]:
        digital, analogue = run(seed=seed).at(WHEN[when]), analogue_twin(seed=seed).at(WHEN[when])
        # measured (seed 1, 2): mandate 22.4 vs 34.6, 22.7 vs 34.5; end 20.6 vs 34.4, 20.9 vs 34.6 DKK
        assert digital("cost_per_completed_task_dkk") < analogue("cost_per_completed_task_dkk")
        # lowest skill quintile: mandate 0.82 vs 0.011, 0.79 vs 0.014; end 0.56 vs 0.014, 0.52 vs 0.020
        assert digital("exclusion_rate", *Q1) > analogue("exclusion_rate", *Q1) + 0.1
        assert analogue("cost_self_service_dkk") == 0 and analogue("cost_digital_post_dkk") == 0


@pytest.mark.parametrize("when", WHEN, ids=str)
def test_platform_outages_raise_exclusion_and_welfare_loss(when):
    """Dilemma 5: outages (26 a year of 3 days vs the baseline 2 of 1 day) make self-service and Digital Post fail."""
    for seed in SEEDS[:2]:
        base, outages = run(seed=seed).at(WHEN[when]), run(seed=seed, changes=OUTAGES).at(WHEN[when])
        # exclusion: mandate +0.108 (sd 0.024, min +0.080); end +0.091 (sd 0.015, min +0.074)
        assert outages("exclusion_rate") > base("exclusion_rate") + 0.02
        # welfare loss: mandate +289 DKK (sd 62, min +220); end +275 DKK (sd 40, min +236)
        assert outages("welfare_loss_per_citizen_dkk") > base("welfare_loss_per_citizen_dkk")
        assert outages("tasks_arrived") == base("tasks_arrived")


@pytest.mark.parametrize("when", WHEN, ids=str)
def test_proactive_automation_lowers_non_take_up_and_raises_privacy_exposure(when):
    """Dilemma 4: half of every procedure type resolved from register data from the start."""
    pairs = [(run(seed=s).at(WHEN[when]), run(seed=s, changes=AUTOMATION).at(WHEN[when])) for s in SEEDS]
    for base, auto in pairs:
        assert base("privacy_exposure") == 0 and base("privacy_incidents") == 0
        assert auto("privacy_exposure") > 0 and auto("privacy_incidents") > 0
        assert auto("cost_automation_dkk") > 0
        # non-take-up: mandate -0.040 (sd 0.010, max -0.029); end -0.034 (sd 0.007, max -0.027)
        assert auto("non_take_up_rate") < base("non_take_up_rate")
        # welfare loss: mandate -282 DKK (sd 28); end -186 DKK (sd 13)
        assert auto("welfare_loss_per_citizen_dkk") < base("welfare_loss_per_citizen_dkk")
    if when == "mandate":
        # exclusion: -0.022 (sd 0.002, max -0.019)
        for base, auto in pairs:
            assert auto("exclusion_rate") < base("exclusion_rate")
    else:
        # By 2025 automation has taken the practice that learning by doing needs (docs/ODD.md
        # section 7): skill is lower (-0.031, sd 0.001) and exclusion is not lower (+0.006, sd 0.004),
        # so only the deskilling is asserted at the end.
        for base, auto in pairs:
            assert auto("skill_mean") < base("skill_mean")


def test_mandate_enrols_every_non_exempt_citizen_from_its_start_to_the_end_of_the_run():
    """Before the mandate enrolment is voluntary and grows; from its start to 2025 all living are enrolled or exempt."""
    r: Run = run()
    start = r.model.config.policy.mandate_start
    assert start == dt.date(2014, 11, 1)  # the Digital Post Act (docs/ODD.md section 1), inside the run
    enrolled, exempt = r.series("enrolled_share"), r.series("exempt_share")
    covered = enrolled + exempt
    after = covered.index >= pd.Timestamp(start)
    assert covered.index[after][0] - pd.Timestamp(start) < pd.Timedelta(days=7)  # the week after the mandate starts
    assert covered.index[after][-1].year == 2025  # through the end of the run
    np.testing.assert_allclose(covered[after], 1.0, rtol=0, atol=1e-12)
    before = enrolled[~after]
    # voluntary sign-up grows but leaves many out: measured 0.10 (2012) -> 0.60 (October 2014)
    assert before.iloc[-1] > before.iloc[0] + 0.1
    assert covered[~after].max() < 0.95
    # citizen-level check on the final state: every living citizen is enrolled or exempt
    p = r.model.pop
    assert not np.any(p.dp_status[: p.n][p.alive[: p.n]] == NOT_ENROLLED)
