"""Warm vs cold hands at the citizen service centre (docs/ODD.md section 7.7; issue 14, dilemma 'warm vs cold').

Teaching depends on the citizen's readiness, centres help with letters and eIDs, documentation grows with the
systems, deskilled helpers are slower and err, grey practice is invisible but risky. Behaviour tests run the
shipped calibrated baseline, shrunk, with common random numbers.
"""

from pathlib import Path

import numpy as np
import pytest

from sim import DigexModel
from sim.model.keypath import with_values
from sim.model.mechanisms.services import CASEWORK, GREY, TEACHING, case_minutes, teaching_readiness
from sim.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "denmark_baseline.yaml"


def baseline(size: int = 1500, weeks: int = 90, **values):
    """The calibrated Danish baseline at test size from 2014, so the November 2014 mandate is in the run."""
    c = load_scenario(BASELINE)
    return with_values(c, {"population.size": size, "run.start": "2014-01-06", "run.weeks": weeks,
                           "run.analogue_reference": False, **values})


def run(config, seed: int = 1) -> DigexModel:
    return DigexModel(config, seed=seed).run()


def overall(model: DigexModel, metric: str) -> float:
    s = model.summary()
    return float(s[(s["metric"] == metric) & (s["group_type"] == "all")]["value"].iloc[0])


def test_readiness_to_be_taught_falls_with_low_skill_and_cognitive_impairment():
    m = DigexModel(baseline(size=200, weeks=1), seed=3)
    p = m.pop
    rows = np.arange(4)
    p.skill[rows] = [0.05, 0.6, 0.6, 0.05]
    p.disability[rows] = [0, 0, 2, 2]  # none, none, cognitive, cognitive
    r = teaching_readiness(m, rows)
    b = m.config.behaviour
    assert r[0] < 0.2 < 0.9 < r[1]  # very low skill vs skilled
    assert r[2] == pytest.approx(r[1] * b.self_help_cognitive_factor)
    assert r[3] < r[0] and r[3] < 0.05  # cognitively impaired and very low-skilled: rarely completes


def test_deskilled_helpers_take_longer_for_casework_and_grey_practice_but_not_for_teaching():
    m = DigexModel(baseline(size=200, weeks=1), seed=3)
    pol = m.policy.centre
    mode = np.array([CASEWORK, CASEWORK, GREY, TEACHING, CASEWORK])
    letter = np.array([False, False, False, False, True])
    expertise = np.array([1.0, 0.0, 0.0, 0.0, 0.0])
    minutes = case_minutes(m, mode, letter, expertise)
    slow = 1 + pol.deskilled_extra_time
    assert minutes.tolist() == pytest.approx([pol.minutes_casework, pol.minutes_casework * slow,
                                              pol.minutes_casework * slow, pol.minutes_self_help,
                                              pol.minutes_letter * slow])


def test_documentation_minutes_grow_with_the_systems_a_helper_records_in():
    """Unlimited capacity: the same cases are served whatever they cost, so documentation scales exactly."""
    one = run(baseline(weeks=60, **{"policy.unlimited_capacity": True, "policy.centre.systems": 1}))
    six = run(baseline(weeks=60, **{"policy.unlimited_capacity": True, "policy.centre.systems": 6}))
    assert one.policy.centre.documentation_minutes == 2.0 and six.policy.centre.documentation_minutes == 12.0
    doc1, doc6 = overall(one, "helper_minutes_documentation"), overall(six, "helper_minutes_documentation")
    assert doc1 > 0 and doc6 == pytest.approx(6 * doc1)


def test_without_systems_there_is_no_documentation():
    m = run(baseline(weeks=60, **{"policy.centre.systems": 0}))
    assert overall(m, "helper_minutes_documentation") == 0


def test_deskilled_helpers_make_casework_errors_that_fail_procedures():
    values = {"policy.unlimited_capacity": True, "policy.centre.self_help_share": 0.0,
              "policy.centre.deskilled_error_rate": 1.0, "policy.centre.expertise_gain_per_year": 0.0}
    m = DigexModel(baseline(weeks=60, **values), seed=2)
    m.helpers.expertise[:] = 0.2  # deskilled and staying so (no gain)
    m.run()
    errors = overall(m, "casework_errors_per_year")
    assert errors > 0
    skilled = DigexModel(baseline(weeks=60, **values), seed=2)  # expertise 1: no errors
    skilled.run()
    assert overall(skilled, "casework_errors_per_year") == 0
    assert overall(m, "failed_procedure_share") > overall(skilled, "failed_procedure_share")


def test_grey_practice_is_counted_as_self_service_and_has_incidents():
    values = {"policy.unlimited_capacity": True, "policy.centre.self_help_share": 1.0}
    none = run(baseline(**values, **{"policy.centre.grey_share": 0.0}))
    grey = run(baseline(**values, **{"policy.centre.grey_share": 1.0,
                                     "policy.centre.grey_incident_probability": 0.5}))
    assert overall(none, "grey_practice_cases_per_year") == 0
    assert overall(none, "grey_practice_incidents_per_year") == 0
    cases, incidents = overall(grey, "grey_practice_cases_per_year"), overall(grey, "grey_practice_incidents_per_year")
    assert cases > 0 and 0.35 * cases < incidents < 0.65 * cases
    # the helper did the task, yet the statistics see self-service, not the centre
    assert grey.pop.done_centre.sum() < none.pop.done_centre.sum()
    assert grey.pop.done_self_service.sum() > none.pop.done_self_service.sum()
    assert overall(grey, "digital_share") > overall(none, "digital_share")


def test_centres_read_letters_and_set_up_eids():
    none = run(baseline(**{"behaviour.letter_centre_ask": 0.0, "policy.centre.eid_setup_success": 0.0}))
    some = run(baseline(**{"behaviour.letter_centre_ask": 0.5, "policy.centre.eid_setup_success": 1.0}))
    assert overall(none, "centre_letter_visits_per_year") == 0 and overall(none, "centre_eids_per_year") == 0
    assert overall(some, "centre_letter_visits_per_year") > 0 and overall(some, "centre_eids_per_year") > 0
    assert overall(some, "missed_letter_share") < overall(none, "missed_letter_share")


def test_exemption_applications_still_take_centre_minutes():
    """optout.py books in-person applications with HelperTable.take: more minutes each, more casework minutes."""
    quick = run(baseline(weeks=80, **{"policy.optout.minutes_in_person": 0.0}))
    slow = run(baseline(weeks=80, **{"policy.optout.minutes_in_person": 240.0}))
    assert overall(slow, "exemptions_per_year") > 0
    assert overall(slow, "helper_minutes_casework") > overall(quick, "helper_minutes_casework")


def test_warm_hands_keep_expertise_while_cold_hands_build_skill():
    """The scenario pair at the calibrated baseline (same seed), from 2014 through the mandate: teaching raises
    skill and the digital share, casework keeps the helpers' expertise (seeds 4 and 5: skill +0.010, digital
    share +0.012 to +0.014, expertise -0.30 to -0.31 for teaching). Warm hands also lose less welfare over the
    whole run (1.87 bn DKK [1.24, 2.50] at 10,000 citizens x 6 replications, docs/dilemmas.md), a difference
    that is within noise at test size, so it is not asserted here."""
    warm = run(baseline(size=2500, weeks=156, **{"policy.centre.self_help_share": 0.1}), seed=4)
    cold = run(baseline(size=2500, weeks=156, **{"policy.centre.self_help_share": 0.9}), seed=4)
    assert overall(cold, "skill_mean") > overall(warm, "skill_mean")
    assert overall(cold, "digital_share") > overall(warm, "digital_share")
    assert overall(cold, "helper_expertise") < overall(warm, "helper_expertise")
