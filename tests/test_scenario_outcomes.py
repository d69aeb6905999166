"""One outcome test per shipped scenario: the direction its question expects against the baseline (issue 13).

Each alternative in ``scenarios/`` is run at test size (``tests.baseline.SIZE``
citizens, its whole period 2012-2025) on the baseline's seeds and compared with
the calibrated baseline on the same seeds (common random numbers). Directions
are read around the mandate (the 52 weeks to ``MANDATE``, end of 2015) and at
the end of the run (2025) where the scenario acts by then. Every shipped file
must have an entry in ``OUTCOMES``: a new scenario without one fails
``test_scenario_outcome``.

Measured values in comments: 5,000 citizens, seeds 1-3, paired differences
(scenario minus baseline) with their SD over seeds. Asserted per seed where the
difference is many SDs wide, else on the mean over the seeds; a direction that
cannot be shown at test size is named in a comment and not asserted.
Runs are cached and shared with ``tests/test_behaviour.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from sim import Config
from sim.model.keypath import get, with_values
from sim.scenario.loader import load_yaml_with_lines
from tests.baseline import MANDATE, SEEDS, analogue_twin, mean, run, run_config, scenario, scenario_path, shipped_names

WHEN = (MANDATE, None)
"""Around the mandate (the 52 weeks to the end of 2015) and the end of the run."""

AGE_80 = ("age_band", "80+")

OUTCOMES: dict[str, Callable[[], None]] = {}
"""Outcome test of each shipped scenario, by file stem."""


def outcome(name: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Register the outcome test of the shipped scenario ``name``."""
    def register(fn: Callable[[], None]) -> Callable[[], None]:
        OUTCOMES[name] = fn
        return fn
    return register


def pairs(name: str, when: dt.date | None):
    """(baseline, scenario) readings in the week of ``when`` (the end for None), one pair per seed."""
    return [(run(seed=s).at(when), run(name, s).at(when)) for s in SEEDS]


@pytest.mark.parametrize("name", shipped_names())
def test_scenario_outcome(name):
    assert name in OUTCOMES, f"scenarios/{name}.yaml has no outcome test in {Path(__file__).name}"
    OUTCOMES[name]()


def test_every_outcome_test_names_a_shipped_scenario():
    assert set(OUTCOMES) <= set(shipped_names())


# ------------------------------------------------------------------ the baseline and its calibration


@outcome("denmark_baseline")
def baseline_excludes_more_than_paper_and_saves_money():
    """The baseline against its all-analogue twin: digital by default excludes, and it is cheaper."""
    for when in WHEN:
        for seed in SEEDS:
            digital, analogue = run(seed=seed).at(when), analogue_twin(seed=seed).at(when)
            # exclusion: mandate 0.265 vs 0.019, end 0.151 vs 0.020; 80+: 0.72 vs 0.016, 0.50 vs 0.020
            assert digital("exclusion_rate") > analogue("exclusion_rate")
            assert digital("exclusion_rate", *AGE_80) > analogue("exclusion_rate", *AGE_80)
            # savings: mandate 0.89bn (sd 0.014bn), end 0.96bn (sd 0.011bn) DKK a year
            assert digital.savings() > 0


def _fitted_keys() -> list[str]:
    """Key paths of the values calibrated.yaml sets."""
    def walk(d: dict, prefix: str = ""):
        for k, v in d.items():
            yield from walk(v, f"{prefix}{k}.") if isinstance(v, dict) else [prefix + k]
    return list(walk(load_yaml_with_lines(scenario_path("calibrated"))[0]))


@outcome("calibrated")
def calibrated_values_bring_the_baseline_closer_to_its_targets():
    """calibrated.yaml is the fitted layer of the baseline: with it the baseline is closer to its published figures.

    The baseline is compared with the same scenario whose fitted keys are set back to
    the sim/model/params.py defaults, on the required targets readable from the weekly
    metrics (calibration/denmark.yaml; shares of all ages for 15-89). Measured (seed 1):
    enrolled September 2014 0.592 vs 0.524 (target 0.59), challenged 2023 0.189 vs 0.036
    (0.18), challenged 75-79 0.54 vs 0.13 (0.50).
    """
    targets = yaml.safe_load((scenario_path("denmark_baseline").parents[1] / "calibration" / "denmark.yaml")
                             .read_text())["targets"]
    defaults = {key: get(Config(), key) for key in _fitted_keys()}
    fitted, unfitted = run(seed=SEEDS[0]), run(seed=SEEDS[0], changes=defaults)
    readings = {
        "enrolled_sep_2014": ("enrolled_share", "all", "all"),
        "challenged_15_89": ("digitally_challenged_share", "all", "all"),
        "challenged_75_79": ("digitally_challenged_share", "age_band", "75-79"),
    }
    for target, key in readings.items():
        t = targets[target]
        date = t["date"]
        miss_fitted = abs(fitted.at(date)(*key) - t["value"])
        miss_unfitted = abs(unfitted.at(date)(*key) - t["value"])
        assert miss_fitted < miss_unfitted, target


# ------------------------------------------------------------------ exemption


@outcome("easy_optout_automatic")
def automatic_exemption_exempts_more_and_excludes_fewer_at_a_cost():
    """Upper bound of an easier opt-out: more exempt (the 80+ around the mandate), less exclusion, more paper.

    Measured with the mechanisms of issue 14 (seeds 1-3): exempt at the mandate +0.039, +0.039, +0.030, at the end
    +0.037, +0.042, +0.045; 80+ exempt at the mandate +0.054, +0.068, +0.040, at the end +0.005, -0.011, +0.020
    (within noise at test size: not asserted at the end).
    """
    for when in WHEN:
        p = pairs("easy_optout_automatic", when)
        for base, auto in p:
            assert auto("exempt_share") > base("exempt_share")
            # paper letters and forms: mandate +33m, +29m, +30m; end +29m, +34m, +30m DKK a year
            assert auto("cost_total_dkk") > base("cost_total_dkk")
        # exclusion: mandate -0.023, -0.017, -0.019; end -0.006, -0.004, -0.007
        assert mean(a("exclusion_rate") for _, a in p) < mean(b("exclusion_rate") for b, _ in p)
    for base, auto in pairs("easy_optout_automatic", MANDATE):
        assert auto("exempt_share", *AGE_80) > base("exempt_share", *AGE_80)


@outcome("easy_optout_remote")
def remote_exemption_reaches_more_of_the_oldest_at_the_mandate():
    """Applying by phone or online lets more of the 80+ opt out in the wave of the mandate.

    Around the mandate: 80+ exempt +0.10 (sd 0.041, min +0.058), 80+ exclusion -0.080
    (sd 0.027, max -0.058); asserted on the 3-seed means. By 2025 the difference is
    within noise at test size (80+ exempt +0.011, sd 0.025; exclusion -0.005, sd 0.018)
    and is not asserted.
    """
    p = pairs("easy_optout_remote", MANDATE)
    assert mean(r("exempt_share", *AGE_80) for _, r in p) > mean(b("exempt_share", *AGE_80) for b, _ in p)
    assert mean(r("exclusion_rate", *AGE_80) for _, r in p) < mean(b("exclusion_rate", *AGE_80) for b, _ in p)


# ------------------------------------------------------------------ help


@outcome("more_helpers")
def more_helpers_serve_more_at_a_higher_cost_without_more_exclusion():
    """Doubled centre and phone staff from the mandate: fewer unserved requests, higher cost, no more exclusion."""
    assert scenario("more_helpers").timeline[0].date == dt.date(2014, 11, 1)
    for when in WHEN:
        p = pairs("more_helpers", when)
        for base, more in p:
            # unserved: mandate -0.38 (sd 0.032, max -0.34), end -0.132 (sd 0.012, max -0.119)
            assert more("centre_unserved_share") < base("centre_unserved_share")
            # cost: +0.91bn DKK a year (sd 0.005bn)
            assert more("cost_total_dkk") > base("cost_total_dkk")
        # Non-inferiority: exclusion is mostly missed letters, which helpers do not handle. Measured
        # mandate -0.003 (SE of the mean 0.0014), end -0.006 (SE 0.004); margin 0.01.
        assert mean(m("exclusion_rate") for _, m in p) <= mean(b("exclusion_rate") for b, _ in p) + 0.01


@outcome("self_help")
def teaching_helpers_raise_skill():
    """Mostly help to self-help (0.9 vs the baseline's 0.5): citizens gain skill, fewer are challenged."""
    for when in WHEN:
        for base, teach in pairs("self_help", when):
            # skill: mandate +0.0043 (sd 0.0003), end +0.0154 (sd 0.0004)
            assert teach("skill_mean") > base("skill_mean")
            # challenged: mandate -0.0094 (sd 0.0014), end -0.030 (sd 0.003)
            assert teach("digitally_challenged_share") < base("digitally_challenged_share")


@outcome("warm_hands")
def casework_helpers_serve_more_but_citizens_learn_less():
    """Mostly casework (0.1 vs 0.5): quicker cases serve more of the queue, but citizens learn less.

    Unserved centre requests around the mandate: -0.137 (sd 0.054), asserted on the
    3-seed mean; by 2025 (+0.014, sd 0.060) the queue difference is within noise.
    """
    for when in WHEN:
        for base, warm in pairs("warm_hands", when):
            # skill: mandate -0.0049 (sd 0.0005), end -0.020 (sd 0.0007)
            assert warm("skill_mean") < base("skill_mean")
    p = pairs("warm_hands", MANDATE)
    assert mean(w("centre_unserved_share") for _, w in p) < mean(b("centre_unserved_share") for b, _ in p)


@outcome("proxy_access")
def proxy_access_lowers_exclusion_among_the_oldest():
    """Relatives with digital proxy access (power of attorney for procedures) from the mandate: fewer excluded.

    Measured after the recalibration of issues 13-14 (seeds 1-3), paired differences: overall exclusion at the
    mandate -0.011, -0.007, -0.019 and at the end -0.005, -0.008, -0.013 (asserted per seed); among those 80+,
    whose exclusion around the mandate is mostly missed letters, which a power of attorney for procedures does
    not read, +0.018, -0.054, -0.040 at the mandate and -0.021, +0.005, -0.030 at the end (asserted on the
    3-seed mean).
    """
    for when in WHEN:
        p = pairs("proxy_access", when)
        for base, proxy in p:
            assert proxy("exclusion_rate") < base("exclusion_rate")
        assert mean(x("exclusion_rate", *AGE_80) for _, x in p) < mean(b("exclusion_rate", *AGE_80) for b, _ in p)


@outcome("skills_courses")
def skills_courses_lower_the_challenged_share_at_a_cost():
    """Course places 20 -> 150 per 10,000 a year from 2013: fewer digitally challenged, courses cost."""
    for when in WHEN:
        # challenged: mandate -0.0094 (sd 0.0022, max -0.0081), end -0.024 (sd 0.004, max -0.020);
        # cost: mandate +32m (sd 9m), end +32m (sd 7m) DKK a year
        fewer_challenged_at_a_cost(pairs("skills_courses", when))


def fewer_challenged_at_a_cost(p: list) -> None:
    """Courses: fewer digitally challenged in every (baseline, courses) pair, a higher mean total cost."""
    for base, courses in p:
        assert courses("digitally_challenged_share") < base("digitally_challenged_share")
    assert mean(c("cost_total_dkk") for _, c in p) > mean(b("cost_total_dkk") for b, _ in p)


# ------------------------------------------------------------------ the digital programme


@outcome("proactive_automation")
def proactive_automation_lowers_non_take_up_from_2018():
    """Register-based automation from 2018: fewer benefit claims lost, more records processed; nothing before."""
    for base, auto in pairs("proactive_automation", MANDATE):
        # the timeline change is dated 2018: the runs agree until then (common random numbers)
        for metric in ("exclusion_rate", "non_take_up_rate", "cost_total_dkk", "privacy_exposure"):
            assert auto(metric) == base(metric)
    for base, auto in pairs("proactive_automation", None):
        # non-take-up: -0.029 (sd 0.006, max -0.024); welfare loss -229 DKK (sd 20)
        assert auto("non_take_up_rate") < base("non_take_up_rate")
        assert auto("welfare_loss_per_citizen_dkk") < base("welfare_loss_per_citizen_dkk")
        assert auto("privacy_exposure") > 0 == base("privacy_exposure")


def unchanged_before_its_timeline(name: str) -> None:
    """A scenario whose changes are dated after 2015 agrees with the baseline around the mandate (common random
    numbers: same citizens, same lives, same needs)."""
    assert scenario(name).timeline[0].date > MANDATE
    for base, other in pairs(name, MANDATE):
        for metric in ("exclusion_rate", "non_take_up_rate", "trust_mean", "cost_total_dkk", "cost_cumulative_dkk"):
            assert other(metric) == base(metric), metric


@outcome("it_success")
def a_working_back_office_system_costs_its_budget_and_loses_fewer_benefits():
    """Ambitions vs competences, the ambition delivered: built 2016-2018 for DKK 600 million, deciding 30% of
    benefit claims from 2019. Nothing differs before 2016.

    End of run, paired on seeds 1-3: cumulative public cost +0.570, +0.582, +0.566bn DKK; non-take-up -0.010,
    -0.014, -0.031; lost-benefit share -0.0025, -0.0035, -0.0071; welfare lost since 2012 -3.6, -2.7, -2.4bn DKK.
    """
    unchanged_before_its_timeline("it_success")
    for base, ok in pairs("it_success", None):
        assert ok("cost_cumulative_dkk") > base("cost_cumulative_dkk") + 3e8
        assert ok("non_take_up_rate") < base("non_take_up_rate")
        assert ok("lost_benefit_share") < base("lost_benefit_share")
        assert ok("welfare_loss_cumulative_dkk") < base("welfare_loss_cumulative_dkk")


@outcome("it_failure")
def a_failed_back_office_system_costs_more_and_loses_more_than_the_working_one():
    """Ambitions vs competences, the ambition failed: the system of it_success stalls half the open benefit claims
    each week of 2019-2020, with 300 extra staff and DKK 200 million a year of fixes. Nothing differs before 2016.

    At the end, paired on seeds 1-3 against it_success: cumulative public cost +0.91, +0.88, +0.93bn DKK
    (it_success's own +0.57bn over the baseline comes on top); welfare lost since 2012 +1.47, +1.07, +1.20bn DKK.
    Once the system works it still lowers non-take-up against the baseline (-0.007, -0.016, -0.036). The benefits
    lost in the failure years show in the cumulative welfare loss; in the year to the end of 2020 the lost-benefit
    share is not above the baseline's on every seed at test size (seed-level effects of the failure are tested in
    tests/test_backoffice.py).
    """
    unchanged_before_its_timeline("it_failure")
    for seed in SEEDS:
        base, fail, ok = run(seed=seed), run("it_failure", seed), run("it_success", seed)
        assert fail("cost_cumulative_dkk") > ok("cost_cumulative_dkk") + 5e8
        assert ok("cost_cumulative_dkk") > base("cost_cumulative_dkk")
        assert fail("welfare_loss_cumulative_dkk") > ok("welfare_loss_cumulative_dkk")
        assert fail("non_take_up_rate") < base("non_take_up_rate")


# ------------------------------------------------------------------ empowerment and automation


@outcome("accessibility_programme")
def accessibility_programme_excludes_fewer_of_its_groups_and_costs_its_budget():
    """Empowerment vs alienation: self-service designed for impairment, language and age from 2018 at DKK 100
    million a year. Nothing differs before 2018.

    End of run, paired on seeds 1-3: public cost +99.9, +94.5, +93.4m DKK a year; exclusion of the 80+ -0.026,
    -0.027, -0.038, of citizens with a physical impairment -0.049, -0.028, -0.011, overall -0.009, -0.014, -0.010;
    mean trust +0.0060, +0.0071, +0.0059. Exclusion of citizens with a language barrier (-0.019, +0.003, -0.012)
    and the alienated share (-0.003, -0.003, +0.0002) are within noise at test size and not asserted.
    """
    unchanged_before_its_timeline("accessibility_programme")
    for base, acc in pairs("accessibility_programme", None):
        assert acc("cost_total_dkk") > base("cost_total_dkk") + 5e7
        assert acc("exclusion_rate", *AGE_80) < base("exclusion_rate", *AGE_80)
        assert acc("exclusion_rate", "disability", "physical") < base("exclusion_rate", "disability", "physical")
        assert acc("exclusion_rate") < base("exclusion_rate")
        assert acc("trust_mean") > base("trust_mean")


@outcome("automation_consent")
def consent_keeps_refusers_out_of_automation_and_its_errors():
    """Data vs privacy, the consent lever: proactive_automation's rollout of 2018, but only for citizens who consent
    to data sharing. Nothing differs before 2018.

    End of run, paired on seeds 1-3 against proactive_automation: procedures refused +805k, +750k, +748k a year;
    records processed lower by as many; wrong decisions -24.0k, -24.0k, -21.2k a year; automation share -0.090,
    -0.085, -0.087. Against the baseline it still lowers non-take-up (-0.023, -0.0004, -0.025: asserted on the
    3-seed mean). Its non-take-up against proactive_automation (-0.005, +0.021, +0.004) is within noise.
    """
    unchanged_before_its_timeline("automation_consent")
    for seed in SEEDS:
        auto, consent = run("proactive_automation", seed), run("automation_consent", seed)
        assert consent("consent_refusals_per_year") > 0 == auto("consent_refusals_per_year")
        assert 0 < consent("privacy_exposure") < auto("privacy_exposure")
        assert consent("wrong_decisions_per_year") < auto("wrong_decisions_per_year")
        assert consent("automation_share") < auto("automation_share")
    p = pairs("automation_consent", None)
    assert mean(c("non_take_up_rate") for _, c in p) < mean(b("non_take_up_rate") for b, _ in p)


# ------------------------------------------------------------------ no mandate


@outcome("voluntary_digital")
def voluntary_digital_saves_less_and_excludes_fewer():
    """No mandate: fewer enrolled and fewer excluded, but smaller savings against all-analogue."""
    for when in WHEN:
        for base, voluntary in pairs("voluntary_digital", when):
            # savings: mandate -0.38bn (sd 0.010bn), end -0.29bn (sd 0.009bn) DKK a year
            assert voluntary.savings() < base.savings()
            # exclusion: mandate -0.210 (sd 0.0005), end -0.062 (sd 0.003)
            assert voluntary("exclusion_rate") < base("exclusion_rate")
            assert voluntary("enrolled_share") < base("enrolled_share")


@outcome("nordic_hybrid")
def nordic_hybrid_keeps_the_oldest_on_paper_at_a_cost():
    """Paper on request and voluntary Digital Post: fewer enrolled, far fewer 80+ excluded, a higher cost."""
    for when in WHEN:
        for base, nordic in pairs("nordic_hybrid", when):
            # enrolled: mandate -0.196 (sd 0.009), end -0.094 (sd 0.006)
            assert nordic("enrolled_share") < base("enrolled_share")
            # 80+ exclusion: mandate -0.66 (sd 0.032), end -0.21 (sd 0.035, max -0.17)
            assert nordic("exclusion_rate", *AGE_80) < base("exclusion_rate", *AGE_80)
            # cost: mandate +0.35bn (sd 0.018bn), end +0.28bn (sd 0.010bn) DKK a year
            assert nordic("cost_total_dkk") > base("cost_total_dkk")


# ------------------------------------------------------------------ projections to 2040 (docs/projections.md)

PROJECTION_SIZE = 1_500
"""Citizens of a projection run (to the end of 2040, about 3 s a run); tests/test_projections.py tests its
demography and skill."""

PROJECTION_SEEDS = SEEDS[:2]

BEFORE_2026 = dt.date(2025, 12, 29)
"""The last week before the projection variants' levers change (5 January 2026)."""


def projection_run(name: str, seed: int):
    """A shipped projection scenario at PROJECTION_SIZE on ``seed`` (cached like every run of tests/baseline.py)."""
    return run_config(with_values(scenario(name), {"population.size": PROJECTION_SIZE}), seed)


def projection_pairs(name: str, when: dt.date | None):
    """(projection_2040, variant) readings in the week of ``when`` (the end for None), one pair per seed."""
    return [(projection_run("projection_2040", s).at(when), projection_run(name, s).at(when))
            for s in PROJECTION_SEEDS]


def projection_unchanged_before_2026(name: str) -> None:
    """A variant agrees with projection_2040 until its levers change in 2026 (common random numbers)."""
    assert all(c.date.year == 2026 for c in scenario(name).timeline)
    for base, other in projection_pairs(name, BEFORE_2026):
        for metric in ("exclusion_rate", "exempt_share", "digitally_challenged_share", "cost_total_dkk"):
            assert other(metric) == base(metric), metric


@outcome("projection_2040")
def projection_ages_the_population_and_its_skills():
    """To 2040: more of the 80+ (Statistics Denmark's projection) and fewer of them digitally challenged.

    Measured (5,000 citizens, 6 seeds): 80+ 345,000 at the end of 2025 and 514,000 in 2040 (x 1.49; x 1.26 on
    seed 1 at test size); their challenged share 70.7% and 45.5%.
    """
    for seed in PROJECTION_SEEDS:
        before, after = projection_run("projection_2040", seed).at(BEFORE_2026), projection_run("projection_2040", seed)
        assert after("population", *AGE_80) > 1.15 * before("population", *AGE_80)
        assert after("digitally_challenged_share", *AGE_80) < before("digitally_challenged_share", *AGE_80)


@outcome("projection_2040_easy_optout")
def projection_easy_optout_exempts_more_of_the_oldest():
    """Automatic exemption from 2026: more exempt by 2040, also among the 80+ (measured, 5,000 citizens, 6 seeds:
    +4.8 pp [+4.4, +5.2] and +3.0 pp [+2.1, +3.8])."""
    projection_unchanged_before_2026("projection_2040_easy_optout")
    for base, easy in projection_pairs("projection_2040_easy_optout", None):
        assert easy("exempt_share") > base("exempt_share")
        assert easy("exempt_share", *AGE_80) > base("exempt_share", *AGE_80)


@outcome("projection_2040_more_helpers")
def projection_more_helpers_serve_more_at_a_cost():
    """Staffing doubled from 2026: fewer unserved centre requests in 2040, at a higher cost."""
    projection_unchanged_before_2026("projection_2040_more_helpers")
    for base, more in projection_pairs("projection_2040_more_helpers", None):
        assert more("centre_unserved_share") < base("centre_unserved_share")
        assert more("cost_total_dkk") > base("cost_total_dkk")


@outcome("projection_2040_skills_courses")
def projection_skills_courses_lower_the_challenged_share():
    """Courses 7.5-fold from 2026: fewer digitally challenged in 2040, at a cost."""
    projection_unchanged_before_2026("projection_2040_skills_courses")
    fewer_challenged_at_a_cost(projection_pairs("projection_2040_skills_courses", None))


@outcome("projection_2040_proxy_access")
def projection_proxy_access_saves_citizens_time_and_lost_welfare():
    """Digital proxy access from 2026: relatives act for more citizens, who lose less welfare and time by 2040.

    Measured (5,000 citizens, 6 seeds, docs/projections.md): citizen time since 2012 -0.33bn DKK [-0.39, -0.26],
    welfare lost since 2012 -1.6bn DKK [-2.3, -1.0]; the exclusion rate of 2040 (-0.2 pp [-0.8, +0.4]) is within
    noise and not asserted. Asserted on the mean over the seeds.
    """
    projection_unchanged_before_2026("projection_2040_proxy_access")
    p = projection_pairs("projection_2040_proxy_access", None)
    for metric in ("citizen_time_cumulative_dkk", "welfare_loss_cumulative_dkk"):
        assert mean(x(metric) for _, x in p) < mean(b(metric) for b, _ in p), metric
