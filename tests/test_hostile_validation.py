"""Hostile values (issue 18): strict types, no NaN or infinity, bounds on sizes, sane dates, safe names, the API.

Each check is made by the schema (sim/model/params.py), so a scenario file, a ``--set`` override, a timeline
change and the Python API (``DigexModel``) all get it; through the loader it is a ConfigError naming the file,
the key and the line, and the CLI prints it as one line with exit status 2.
"""

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from sim.cli.main import main
from sim.errors import ConfigError
from sim.model import keypath
from sim.model.model import DigexModel
from sim.model.params import (
    MAX_CITIZEN_WEEKS,
    MAX_ROWS,
    NAME_MAX,
    Config,
    analogue_reference,
    derived_name,
)
from sim.scenario.describe import entries
from sim.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "denmark_baseline.yaml"
TINY = ["population.size=300", "run.weeks=60"]


def tiny() -> Config:
    """The default scenario at test size."""
    return Config.model_validate({"population": {"size": 300}, "run": {"weeks": 60}})


def error_of(text: str, tmp_path: Path, overrides: tuple[str, ...] = ()) -> ConfigError:
    """The ConfigError of loading a scenario file holding ``text`` (extending the baseline)."""
    path = tmp_path / "bad.yaml"
    path.write_text(f"extends: {BASELINE}\n{text}", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_scenario(path, overrides)
    return info.value


def assert_located(err: ConfigError, key: str, line: int | None, *parts: str) -> None:
    """One short line naming the key (and line), holding each of ``parts``."""
    text = str(err)
    assert "\n" not in text and len(text) < 400, text
    assert err.key == key and err.line == line, (err.key, err.line, text)
    for part in parts:
        assert part in text, (part, text)


# ------------------------------------------------------------------ strict types


@pytest.mark.parametrize("text, key, line", [
    ("policy:\n  centre:\n    helpers_per_10k: yes\n", "policy.centre.helpers_per_10k", 4),
    ("run:\n  weeks: true\n", "run.weeks", 3),
    ("run:\n  seed: false\n", "run.seed", 3),
    ("tasks:\n  procedures:\n    tax:\n      season_weeks: [on, 12]\n", "tasks.procedures.tax.season_weeks[0]", 5),
    ("population:\n  age_band_shares:\n    80+: yes\n", "population.age_band_shares.80+", 4),
    ("timeline:\n  - date: 2013-01-07\n    set: {centre.hours_per_week: yes}\n",
     "timeline[0].set.centre.hours_per_week", 4),
])
def test_true_false_is_never_a_number(tmp_path, text, key, line):
    assert_located(error_of(text, tmp_path), key, line, "should be a number, not true/false")


def test_true_false_still_sets_a_switch():
    c = Config.model_validate({"policy": {"proxy": {"available": True}, "paper_on_request": False}})
    assert c.policy.proxy.available is True and c.policy.paper_on_request is False


@pytest.mark.parametrize("text, key, line", [
    ("population:\n  education_shares_young: [.nan, 0.5, 0.5]\n", "population.education_shares_young[0]", 3),
    ("population:\n  skill_intercept: .nan\n", "population.skill_intercept", 3),
    ("population:\n  age_band_shares:\n    80+: .NaN\n", "population.age_band_shares.80+", 4),
    ("tasks:\n  letters:\n    health:\n      age_rates: {80+: .nan}\n", "tasks.letters.health.age_rates.80+", 5),
    ("policy:\n  automation_share:\n    tax: .nan\n", "policy.automation_share.tax", 4),
    ("population:\n  trust_concentration: .inf\n", "population.trust_concentration", 3),
    ("policy:\n  centre:\n    helpers_per_10k: .inf\n", "policy.centre.helpers_per_10k", 4),
    ("policy:\n  centre:\n    helpers_per_10k: 1e309\n", "policy.centre.helpers_per_10k", 4),
    ("costs:\n  citizen_minutes:\n    paper: -.inf\n", "costs.citizen_minutes.paper", 4),
    ("timeline:\n  - date: 2013-01-07\n    set: {phone.agents_per_10k: .nan}\n",
     "timeline[0].set.phone.agents_per_10k", 4),
])
def test_nan_and_infinity_are_refused_everywhere(tmp_path, text, key, line):
    assert_located(error_of(text, tmp_path), key, line, "finite number")


def test_negative_age_rates_and_unknown_minutes_channels(tmp_path):
    err = error_of("tasks:\n  procedures:\n    benefit:\n      age_rates:\n        80+: -1\n", tmp_path)
    assert_located(err, "tasks.procedures.benefit.age_rates.80+", 6, "multiplier must be >= 0")
    err = error_of("costs:\n  citizen_minutes:\n    bogus: 3\n", tmp_path)
    assert_located(err, "costs.citizen_minutes.bogus", 4, "unknown channel 'bogus'", "self_service")
    err = error_of("costs:\n  citizen_minutes:\n    centre: -5\n", tmp_path)
    assert_located(err, "costs.citizen_minutes.centre", 4, "outside [0, 10080]")
    err = error_of("population:\n  education_shares_old: [1.2, -0.1, -0.1]\n", tmp_path)
    assert_located(err, "population.education_shares_old", 3, "non-negative")


# ------------------------------------------------------------------ bounds on what sizes memory and time


@pytest.mark.parametrize("override, key, limit", [
    ("population.entrants_per_year=1e9", "population.entrants_per_year", "less than or equal to 1"),
    ("policy.platform.delay_weeks_mean=1e300", "policy.platform.delay_weeks_mean", "less than or equal to 520"),
    ("population.real_size=10000000000000000000000", "population.real_size", "10000000000"),
    ("run.weeks=100000", "run.weeks", "5200"),
    ("population.size=1000000000", "population.size", "20000000"),
    ("population.materialise_agents_up_to=50000000", "population.materialise_agents_up_to", "1000000"),
    ("policy.courses.places_per_10k_per_year=1e300", "policy.courses.places_per_10k_per_year", "10000"),
    ("tasks.procedures.tax.deadline_weeks=100000", "tasks.procedures.tax.deadline_weeks", "52"),
    ("tasks.procedures.moving.value_dkk=1e300", "tasks.procedures.moving.value_dkk", "1000000000000"),
    ("population.support_mean=1e300", "population.support_mean", "20"),
    ("run.seed=99999999999999999999", "run.seed", "4294967295"),
])
def test_counts_and_rates_that_size_memory_have_a_limit(tmp_path, override, key, limit):
    err = error_of("", tmp_path, (override,))
    assert_located(err, key, None, f"--set {key}", limit)


def test_citizen_weeks_and_rows_have_a_limit(tmp_path):
    err = error_of("population:\n  size: 20000000\nrun:\n  weeks: 1001\n", tmp_path)
    assert_located(err, "population.size", 3, f"{MAX_CITIZEN_WEEKS:,}", "citizen-weeks")
    err = error_of("population:\n  size: 10000000\n  entrants_per_year: 0.5\n", tmp_path)
    assert_located(err, "population.entrants_per_year", 4, f"{MAX_ROWS:,}", "rows")
    national = Config.model_validate({"population": {"size": 5_000_000}, "run": {"weeks": 730}})
    assert national.rows < MAX_ROWS  # the national scale is well inside both limits


def test_the_busiest_week_of_arrivals_has_a_limit(tmp_path):
    err = error_of("tasks:\n  letters:\n    post:\n      age_rates: {80+: 10}\n", tmp_path)
    assert_located(err, "tasks.letters.post.age_rates.80+", 5, "= 1.923 arrivals per citizen in a week",
                   "limit of 1")
    err = error_of("tasks:\n  procedures:\n    tax:\n      rate_per_year: 5\n", tmp_path)  # over a 4-week season
    assert_located(err, "tasks.procedures.tax.rate_per_year", 5, "/ 4 weeks = 1.25")


def test_trust_mean_at_an_end_is_refused_rather_than_crashing_the_draw():
    for mean in (0.0, 1.0):
        with pytest.raises(ValueError, match="trust_mean"):
            Config.model_validate({"population": {"trust_mean": mean}})
    DigexModel(keypath.with_values(tiny(), {"population.trust_mean": 0.999})).step()


def test_every_limit_is_in_the_parameter_reference():
    text = {e.path: e.type + " " + e.meaning for e in entries()}
    assert "in [1, 5200]" in text["run.weeks"] and f"{MAX_CITIZEN_WEEKS:,}" in text["run.weeks"]
    assert f"{MAX_ROWS:,}" in text["population.entrants_per_year"]
    assert "2200-12-31" in text["run.start"] and "2200-12-31" in text["policy.mandate_start"]
    assert str(NAME_MAX) in text["name"]


# ------------------------------------------------------------------ dates


@pytest.mark.parametrize("text, key, line", [
    ("run:\n  start: 9999-06-01\n", "run.start", 3),
    ("run:\n  start: 0001-01-01\n", "run.start", 3),
    ("policy:\n  mandate_start: 2300-01-01\n", "policy.mandate_start", 3),
    ("policy:\n  platform:\n    launch: 1066-10-14\n", "policy.platform.launch", 4),
    ("timeline:\n  - date: 9999-01-04\n    set: {proxy.available: true}\n", "timeline[0].date", 3),
])
def test_dates_lie_in_a_sane_range(tmp_path, text, key, line):
    assert_located(error_of(text, tmp_path), key, line, "1900-01-01 to 2200-12-31")


def test_the_latest_start_and_longest_run_do_not_overflow():
    c = Config.model_validate({"run": {"start": dt.date(2200, 12, 31), "weeks": 5200}})
    assert c.run.end.year == 2300


@pytest.mark.parametrize("text", ["run:\n  start: 9999-06-01\n", "run:\n  start: 0001-01-01\n"])
def test_validate_and_run_print_one_line_for_a_bad_date(tmp_path, capsys, text):
    path = tmp_path / "bad.yaml"
    path.write_text(f"extends: {BASELINE}\n{text}", encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "line 3, key 'run.start'" in err
    out = tmp_path / "out"
    assert main(["run", str(path), "--quiet", *(a for s in TINY for a in ("--set", s)), "--out", str(out)]) == 2
    assert not out.exists()


# ------------------------------------------------------------------ names


@pytest.mark.parametrize("name, problem", [
    ("", "must not be empty"),
    ("../../escaped", "not '/'"),
    ("a\\\\b", "not '\\\\'"),
    (".", "must start with a letter or a digit"),
    ("..", "must start with a letter or a digit"),
    ("-rf", "must start with a letter or a digit"),
    ("tab\\there", "not '\\t'"),
    ("ends ", "must not end in a space"),
    ("k\u00f8benhavn", "not '\u00f8'"),
    ("x" * (NAME_MAX + 1), f"at most {NAME_MAX}"),
])
def test_a_name_is_a_safe_file_name(tmp_path, name, problem):
    err = error_of(f'name: "{name}"\n', tmp_path)
    assert_located(err, "name", 2, problem)


def test_set_name_empty_is_refused_by_the_cli_before_any_run(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(BASELINE), "--quiet", "--set", "name=", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--set name" in err and "must not be empty" in err
    assert not out.exists()


def test_shipped_and_derived_names_are_valid():
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        load_scenario(path)
    longest = keypath.with_values(tiny(), {"name": "A" * NAME_MAX})
    twin = analogue_reference(longest)
    assert twin.name.endswith(" (all-analogue)") and len(twin.name) == NAME_MAX
    point = derived_name(longest.name, " point 123456")  # how a sweep names its points
    assert keypath.with_values(longest, {"name": point}).name.endswith("A point 123456")


# ------------------------------------------------------------------ the Python API


@pytest.mark.parametrize("seed", [True, "abc", "7", 1.5, -1, 2**63])
def test_a_bad_seed_is_a_value_error_naming_seed(seed):
    with pytest.raises(ValueError, match=r"^seed: must be an integer from 0 to "):
        DigexModel(tiny(), seed=seed)


def test_a_numpy_integer_seed_is_the_same_seed():
    a, b = DigexModel(tiny(), seed=np.int64(7)), DigexModel(tiny(), seed=7)
    assert a.seed == 7 and type(a.seed) is int
    assert np.array_equal(a.pop.skill[: a.pop.n], b.pop.skill[: b.pop.n])


@pytest.mark.parametrize("config", [{"population": {"size": 300}}, "scenarios/denmark_baseline.yaml", 3])
def test_a_config_that_is_not_a_config_is_a_value_error_naming_config(config):
    with pytest.raises(ValueError, match=r"^config: must be a sim.model.params.Config"):
        DigexModel(config)


def test_a_config_changed_in_place_is_validated_again():
    c = tiny()
    c.population.age_band_shares["80+"] = float("nan")  # a mapping changed in place escapes assignment checks
    with pytest.raises(ValueError, match=r"^config: population.age_band_shares.80\+: .*finite"):
        DigexModel(c)
    with pytest.raises(ValueError, match="should be a number, not true/false"):
        tiny().policy.centre.helpers_per_10k = True  # assignments are validated at once


# ------------------------------------------------------------------ timeline changes


def test_a_timeline_change_names_the_key_that_fails_among_several(tmp_path):
    text = ("timeline:\n  - date: 2013-01-07\n    set:\n      centre.hours_per_week: 20\n"
            "      phone.bogus: 1\n      proxy.available: true\n")
    assert_located(error_of(text, tmp_path), "timeline[0].set.phone.bogus", 6, "unknown policy key 'phone.bogus'")
    text = ("timeline:\n  - date: 2013-01-07\n    set:\n      centre.hours_per_week: 20\n"
            "      courses.effect: 7\n")
    assert_located(error_of(text, tmp_path), "timeline[0].set.courses.effect", 6, "less than or equal to 1")
