"""The shipped scenario files: they validate, say what they answer, differ from the baseline as intended, and run."""

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from sim.cli.main import main
from sim.experiments.replication import run_replication
from sim.model.metrics import METRICS
from sim.scenario.loader import load_scenario, load_yaml_with_lines

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
FILES = sorted(SCENARIOS.glob("*.yaml"))
ALTERNATIVES = [p for p in FILES if p.stem not in ("denmark_baseline", "calibrated")
                and not p.stem.startswith("projection_2040")]  # the projections: tests/test_projections.py
BASELINE = SCENARIOS / "denmark_baseline.yaml"
TINY = ["population.size=300", "run.analogue_reference=false"]

# What each alternative must change relative to the baseline (policy key paths, in the file or its timeline).
INTENDED = {
    "voluntary_digital": {"mandate_start", "digital_post_mandatory"},
    "nordic_hybrid": {"paper_on_request", "digital_post_mandatory"},
    "easy_optout_remote": {"optout.rule"},
    "easy_optout_automatic": {"optout.rule"},
    "more_helpers": {"centre.helpers_per_10k"},
    "warm_hands": {"centre.self_help_share"},
    "self_help": {"centre.self_help_share"},
    "proxy_access": {"proxy.available"},
    "skills_courses": {"courses.places_per_10k_per_year"},
    "proactive_automation": {"automation_share.tax"},
    "it_failure": {"backoffice.down", "backoffice.programme_cost_per_year_dkk", "automation_share.benefit"},
    "it_success": {"backoffice.programme_cost_per_year_dkk", "automation_share.benefit"},
    "automation_consent": {"automation.consent_required", "automation_share.tax"},
    "accessibility_programme": {"platform.accessibility", "platform.language_support", "platform.senior_design",
                                "platform.running_cost_per_year_dkk"},
}


def flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def test_about_ten_alternatives_are_shipped():
    assert {p.stem for p in ALTERNATIVES} == set(INTENDED)


def test_every_shipped_file_validates(capsys):
    assert main(["validate", *map(str, FILES)]) == 0
    assert capsys.readouterr().out.count("ok  ") == len(FILES)


def test_calibrated_file_holds_only_fitted_blocks_with_its_header():
    text = (SCENARIOS / "calibrated.yaml").read_text()
    assert text.startswith("# Written by `digex calibrate")
    data = load_yaml_with_lines(SCENARIOS / "calibrated.yaml")[0]
    # fitted values only: never the run, the name or the policy facts the baseline states
    assert set(data) <= {"population", "behaviour", "policy", "tasks", "costs"}
    assert "run" not in data and "name" not in data


def test_baseline_extends_calibrated_and_states_the_danish_setting():
    first = next(line for line in BASELINE.read_text().splitlines() if line.strip())
    assert first == "extends: calibrated.yaml"
    c = load_scenario(BASELINE)
    assert c.name == "denmark_baseline"
    assert c.run.start == dt.date(2012, 1, 2) and c.run.weeks == 730 and c.run.end.year == 2025
    assert c.policy.mandate_start == dt.date(2014, 11, 1)
    assert c.policy.digital_post_mandatory and c.policy.optout.rule == "in_person"


@pytest.mark.parametrize("path", ALTERNATIVES, ids=lambda p: p.stem)
def test_alternative_says_its_question_extends_the_baseline_and_changes_what_it_claims(path):
    text = path.read_text()
    assert text.startswith("# Question:")
    data, _ = load_yaml_with_lines(path)
    assert data["extends"] == "denmark_baseline.yaml"
    c, base = load_scenario(path), load_scenario(BASELINE)
    assert c.name == path.stem and c.description
    assert c.run == base.run and c.population == base.population and c.behaviour == base.behaviour
    changed = {k for k, v in flat(c.policy.model_dump()).items() if flat(base.policy.model_dump())[k] != v}
    for change in c.timeline:
        assert c.run.start <= change.date <= c.run.end
        changed |= set(change.set)
    assert INTENDED[path.stem] <= changed, changed


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_smoke_run(path):
    """Every file runs at tiny size; with a timeline, from just before its first change to after its last."""
    full = load_scenario(path)
    weeks = 30
    overrides = [*TINY]
    if full.timeline:
        first, last = min(c.date for c in full.timeline), max(c.date for c in full.timeline)
        overrides.append(f"run.start={first - dt.timedelta(weeks=2)}")
        weeks = max(weeks, (last - first).days // 7 + 6)
    overrides.append(f"run.weeks={weeks}")
    config = load_scenario(path, overrides)
    ts = run_replication(config, 0).timeseries
    assert set(ts["metric"]) == set(METRICS)
    last = ts[(ts["week"] == 29) & (ts["group_type"] == "all")].set_index("metric")["value"]
    assert 0 <= last["exclusion_rate"] <= 1 and np.isfinite(last["cost_per_citizen_year_dkk"])
    if path.stem == "proactive_automation":
        assert last["privacy_exposure"] > 0  # the 2018 automation change was applied


def test_baseline_without_automation_processes_no_records():
    config = load_scenario(BASELINE, [*TINY, "run.weeks=30", "run.start=2017-12-18"])
    ts = run_replication(config, 0).timeseries
    assert ts.loc[ts["metric"] == "privacy_exposure", "value"].max() == 0
