"""Calibration (issue 5): the shipped baseline meets every published target; the calibrate command works.

The first tests run the shipped baseline (scenarios/denmark_baseline.yaml,
which extends the fitted scenarios/calibrated.yaml) at a test size with
enough replications that the standard error of each mean is well inside its
tolerance, and check every required target of calibration/denmark.yaml
(diagnostic targets, which the model cannot meet for documented structural
reasons, are checked to be reported). The others exercise the command on a
tiny budget, its error paths and the measures.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.cli.main import main
from sim.experiments.calibration import Target, load_spec, prior, run_targets, state_share
from sim.experiments.varied import Varied
from sim.model.model import DigexModel
from sim.model.params import Config
from sim.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "calibration" / "denmark.yaml"
BASELINE = ROOT / "scenarios" / "denmark_baseline.yaml"

SIZE = 4000
"""Test population: the smallest age group checked (75-79, about 4% of citizens) has some 170 people."""

REPS = 8
"""Replications: the standard error of the 75-79 mean is about 1.3 pp against a tolerance of 6 pp."""


@functools.cache
def baseline_fit() -> tuple[dict[str, Target], dict[str, np.ndarray]]:
    spec = load_spec(SPEC)
    config = load_scenario(BASELINE, [f"population.size={SIZE}"])
    values, _, _ = run_targets(config, list(spec.targets.values()), [config.run.seed + r for r in range(REPS)])
    return spec.targets, values


@pytest.mark.parametrize("name", [n for n, t in load_spec(SPEC).targets.items() if t.required])
def test_shipped_baseline_meets_required_target(name: str) -> None:
    targets, values = baseline_fit()
    t = targets[name]
    mean = float(np.mean(values[name]))
    assert t.within(mean), (f"{name}: model mean {mean:.4f} vs {t.figure()} +/- {t.tolerance} "
                            f"(replications: {np.round(values[name], 4).tolist()})")


def test_diagnostics_are_measured_and_on_the_documented_side() -> None:
    """Diagnostic targets are reported; the known misses stay where docs/calibration.md says they are."""
    targets, values = baseline_fit()
    assert all(np.isfinite(values[n]).all() for n, t in targets.items() if not t.required)
    # The exempt share rises at the mandate and then falls (campaign, deaths, lapsing grounds) ...
    assert np.mean(values["exempt_nov_2015"]) > np.mean(values["exempt_may_2023"]) > np.mean(values["exempt_apr_2025"])
    # ... but the model's exempt are younger than the real ones: the documented limit.
    assert np.mean(values["exempt_65_89_2018"]) < 0.29 - 0.05


def test_spec_covers_the_model_md_figures() -> None:
    """The targets include every figure the issue names, with the documented denominators."""
    t = load_spec(SPEC).targets
    assert (t["challenged_15_89"].ages, t["challenged_15_89"].value) == ((15, 89), 0.18)
    assert (t["challenged_75_79"].ages, t["challenged_80_89"].ages) == ((75, 79), (80, 89))
    assert t["challenged_80_89"].kind == "at_least" and t["challenged_80_89"].value == 0.75
    assert t["challenged_age_gradient"].age_groups[0] == (15, 44)
    assert (t["exempt_may_2023"].value, t["exempt_apr_2025"].value) == (0.065, 0.05)
    assert t["exempt_may_2023"].ages is None and t["exempt_apr_2025"].ages is None  # all citizens (15+)
    assert t["enrolled_after_mandate"].kind == "at_least" and t["enrolled_after_mandate"].value == 0.90


# ------------------------------------------------------------------ the command


def tiny_spec(tmp_path: Path, **changes) -> Path:
    """A calibration file with a tiny budget: one parameter, two targets, 200 citizens."""
    data = {
        "base": str(BASELINE),
        "output": str(tmp_path / "fitted.yaml"),
        "population": 200, "replications": 1, "seed": 5, "sweeps": 1, "ridge": 0.1,
        "report": {"population": 200, "replications": 2},
        "fixed": {"population.internet_base": 0.99},
        "parameters": {"policy.optout.awareness": {"lower": 0.1, "upper": 1.0, "why": "level of exemption"}},
        "targets": {
            "exempt_2023": {"source": "test", "metric": "exempt_share", "date": dt.date(2023, 5, 3),
                            "value": 0.065, "tolerance": 0.01},
            "challenged_80_89": {"source": "test", "metric": "digitally_challenged_share", "ages": [80, 89],
                                 "date": dt.date(2023, 5, 15), "kind": "at_least", "value": 0.75,
                                 "tolerance": 0.03},
        },
        "stages": [{"name": "opt-out", "parameters": ["policy.optout.awareness"], "targets": ["exempt_2023"],
                    "max_evaluations": 3}],
    }
    data.update(changes)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_calibrate_command_writes_fitted_yaml_and_report(tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert main(["calibrate", str(tiny_spec(tmp_path)), "--out", str(out), "--quiet"]) == 0
    fitted = yaml.safe_load((tmp_path / "fitted.yaml").read_text())
    awareness = fitted["policy"]["optout"]["awareness"]
    assert 0.1 <= awareness <= 1.0
    assert fitted["population"]["internet_base"] == 0.99
    for name in ("fit.csv", "fit.md", "trace.csv", "calibrated.yaml", "challenged_by_age.png", "digital_post.png"):
        assert (out / name).is_file(), name
    import pandas as pd

    table = pd.read_csv(out / "fit.csv")
    assert list(table["target"]) == ["exempt_2023", "challenged_80_89"]
    assert {"source", "value", "tolerance", "mean", "ci_low", "ci_high", "within"} <= set(table.columns)
    assert (table["ci_low"] <= table["mean"]).all() and (table["mean"] <= table["ci_high"]).all()
    assert "| exempt_2023 | test | 2023-05-03 | 6.5% |" in (out / "fit.md").read_text()
    trace = pd.read_csv(out / "trace.csv")
    assert 1 <= len(trace) <= 3 and awareness in set(trace["policy.optout.awareness"])
    # A scenario extending the fitted file gets the fitted values.
    (tmp_path / "child.yaml").write_text("extends: fitted.yaml\n", encoding="utf-8")
    assert load_scenario(tmp_path / "child.yaml").policy.optout.awareness == awareness
    # No temporary files are left beside the outputs.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["child.yaml", "fitted.yaml", "report", "tiny.yaml"]


def test_calibrate_is_reproducible_with_a_fixed_seed(tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path)
    texts = []
    for i in range(2):
        assert main(["calibrate", str(spec), "--out", str(tmp_path / f"r{i}"), "--quiet"]) == 0
        texts.append((tmp_path / "fitted.yaml").read_text())
    assert texts[0] == texts[1]
    assert (tmp_path / "r0" / "fit.csv").read_text() == (tmp_path / "r1" / "fit.csv").read_text()


def test_report_only_leaves_the_fitted_yaml_alone(tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert main(["calibrate", str(tiny_spec(tmp_path)), "--out", str(out), "--report-only", "--quiet"]) == 0
    assert (out / "fit.csv").is_file() and not (out / "trace.csv").exists()
    assert not (tmp_path / "fitted.yaml").exists()


@pytest.mark.parametrize(("changes", "key", "words"), [
    ({"replicatons": 2}, "replicatons", "did you mean 'replications'"),
    ({"population": 10}, "population", "at least 50"),
    ({"parameters": {"population.skil_intercept": {"lower": 0, "upper": 1}}},
     "parameters.population.skil_intercept", "not a scenario key path"),
    ({"parameters": {"policy.optout.awareness": {"lower": 0.9, "upper": 0.2}}},
     "parameters.policy.optout.awareness.upper", "must be below upper"),
    ({"parameters": {"policy.optout.rule": {"lower": 0, "upper": 1}}},
     "parameters.policy.optout.rule", "not a real-valued"),
    ({"fixed": {"population.internet_base": 1.5}}, "fixed.population.internet_base", "less than or equal to 1"),
    ({"fixed": {"policy.automation_share.lottery": 0.5}}, "fixed.policy.automation_share.lottery",
     "unknown key 'lottery'"),
    ({"parameters": {"behaviour.relative_uptake": {"lower": 0.1, "upper": 1.5}}},
     "parameters.behaviour.relative_uptake", "a bound is not a valid value: Input should be less than or equal to 1"),
    ({"targets": {"x": {"source": "s", "metric": "exempt_share", "date": dt.date(2030, 1, 1), "value": 0.1,
                        "tolerance": 0.01}}}, "targets.x.date", "outside the base scenario's run"),
    ({"targets": {"x": {"source": "s", "metric": "exempt_shar", "date": dt.date(2020, 1, 1), "value": 0.1,
                        "tolerance": 0.01}}}, "targets.x.metric", "did you mean 'exempt_share'"),
    ({"targets": {"x": {"metric": "exempt_share", "date": dt.date(2020, 1, 1), "value": 0.1, "tolerance": 0.01}}},
     "targets.x.source", "required key is missing"),
    ({"stages": [{"parameters": ["policy.optout.awareness"], "targets": ["exempt_2024"], "max_evaluations": 2}]},
     "stages[0].targets[0]", "did you mean 'exempt_2023'"),
    ({"base": "missing.yaml"}, "base", "file not found"),
])
def test_bad_config_exits_2_naming_the_key(tmp_path: Path, capsys, changes: dict, key: str, words: str) -> None:
    spec = tiny_spec(tmp_path, **changes)
    out = tmp_path / "report"
    assert main(["calibrate", str(spec), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(spec) in err and f"key '{key}'" in err and words in err, err
    assert "line " in err or key == "base"
    assert err.count("\n") == 1
    assert not out.exists() and not (tmp_path / "fitted.yaml").exists()


def test_broken_yaml_exits_2(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("base: [unclosed\n", encoding="utf-8")
    assert main(["calibrate", str(path)]) == 2
    assert "invalid YAML" in capsys.readouterr().err


# ------------------------------------------------------------------ pieces


def test_state_measures_agree_with_the_metrics() -> None:
    """A share over all ages, computed from citizen state, equals the model's metric of that name."""
    config = load_scenario(BASELINE, ["population.size=600"])
    model = DigexModel(config, seed=3)
    while model.date < dt.date(2015, 6, 1):
        model.step()
    week = model.week - 1
    ts = model.timeseries()
    for metric in ("digitally_challenged_share", "exempt_share", "enrolled_share"):
        expected = ts[(ts["week"] == week) & (ts["metric"] == metric) & (ts["group"] == "all")]["value"].item()
        assert state_share(model, metric, None, (15, 200)) == pytest.approx(expected)
    band = ts[(ts["week"] == week) & (ts["metric"] == "exempt_share") & (ts["group"] == "75-79")]["value"].item()
    assert state_share(model, "exempt_share", None, (75, 79)) == pytest.approx(band)


def test_target_statistics_and_tolerances() -> None:
    d1, d2 = dt.date(2020, 1, 1), dt.date(2021, 1, 1)
    key = ("exempt_share", None, None)
    obs = {(key, d1): 0.08, (key, d2): 0.06}
    change = Target("fall", "s", "exempt_share", -0.015, 0.01, (d2,), change_from=d1)
    assert change.statistic(obs) == pytest.approx(-0.02) and change.within(-0.02) and not change.within(0.0)
    lowest = Target("low", "s", "exempt_share", 0.05, 0.0, (d1, d2), kind="at_least", aggregate="min")
    assert lowest.statistic(obs) == 0.06 and lowest.within(0.06) and not lowest.within(0.049)
    rising = Target("g", "s", "digitally_challenged_share", 0.0, 0.0, (d1,), kind="at_least",
                    age_groups=((15, 44), (45, 64), (65, 89)))
    shares = {0.05: (15, 44), 0.2: (45, 64), 0.15: (65, 89)}
    obs = {(("digitally_challenged_share", None, g), d1): v for v, g in shares.items()}
    assert rising.statistic(obs) == pytest.approx(-0.05) and not rising.within(-0.05)
    assert Target("m", "s", "exempt_share", 0.1, 0.02, (d1,), kind="at_most").within(0.119)


def test_parameter_scaling_round_trips() -> None:
    p = Varied("behaviour.learn_by_doing", low=0.001, high=0.1, log=True)
    assert p.to_unit(0.01) == pytest.approx(0.5)
    assert p.from_unit(p.to_unit(0.037)) == pytest.approx(0.037)
    assert p.from_unit(1.7) == pytest.approx(0.1)  # clipped to the bounds
    linear = Varied("population.skill_intercept", low=0.0, high=4.0)
    assert linear.to_unit(1.0) == 0.25 and linear.from_unit(-0.5) == 0.0 and linear.from_unit(0.5) == 2.0


def test_spec_reads_parameters_as_varied_settings() -> None:
    spec = load_spec(SPEC)
    p = spec.parameters["behaviour.learn_by_doing"]
    assert (p.key, p.low, p.high, p.log, p.is_range) == ("behaviour.learn_by_doing", 0.001, 0.05, True, True)
    assert spec.starts["behaviour.learn_by_doing"] == 0.015
    assert prior(p) == Config().behaviour.learn_by_doing  # the default of sim/model/params.py


def test_fit_table_covers_every_shipped_target_including_state_measures():
    """Every target of the shipped calibration gets a row; shares' intervals stay within [0, 1]."""
    from sim.experiments.calibration import STATE_MEASURES, fit_table

    spec = load_spec(SPEC)
    targets = list(spec.targets.values())
    assert any(t.metric in STATE_MEASURES and t.metric not in ("exempt_share", "enrolled_share") for t in targets)
    values = {t.name: np.array([0.02, 0.05, 0.03]) for t in targets}
    table = fit_table(targets, values)
    assert list(table["target"]) == [t.name for t in targets]
    plain = table[~table["target"].isin([t.name for t in targets if t.age_groups or t.change_from])
                  & (table["unit"] == "share")]
    assert set(table["unit"]) == {"share", "persons"}
    assert (plain["ci_low"] >= 0).all() and (plain["ci_high"] <= 1).all()


def test_fit_markdown_shows_shares_in_percent_and_counts_in_units():
    """A population target reads '4,960,000', not a percentage; shares stay in per cent."""
    from sim.experiments.calibration import fit_table, markdown_table

    targets = load_spec(SPEC).targets
    chosen = [targets["population_15plus_2023"], targets["exempt_may_2023"]]
    values = {"population_15plus_2023": np.array([4.95e6, 4.96e6, 4.97e6]),
              "exempt_may_2023": np.array([0.060, 0.061, 0.062])}
    people, exempt = markdown_table(fit_table(chosen, values)).splitlines()[2:]
    assert "| 4,960,000 | +/- 100,000 | 4,960,000 |" in people and "%" not in people.split("|", 4)[4]
    assert "| 6.5% | +/- 1.0 pp | 6.1% |" in exempt
