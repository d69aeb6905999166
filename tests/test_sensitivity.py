"""digex sensitivity: outputs and their columns, Sobol and Morris indices, resuming, determinism, error paths,
and one behavioural check of Morris screening on the calibrated baseline.

Runs are tiny (500 citizens, 120 weeks from 2012: they end in April 2014,
before the Digital Post mandate of 1 November 2014) and every analysis is
run once per module (``morris`` and ``sobol`` fixtures).
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli.main import main
from sim.errors import UserError
from sim.experiments.sensitivity import INDEX_COLUMNS, POSTERIOR_RANGE, parse_outcome, uncertain_parameters

ROOT = Path(__file__).resolve().parents[1]
BASELINE = str(ROOT / "scenarios" / "denmark_baseline.yaml")
CALIBRATION = ROOT / "calibration" / "denmark.yaml"
TINY = ["--set", "population.size=500", "--set", "run.weeks=120", "--quiet"]
DRIVER = "population.skill_intercept"
"""Level of digital skill: drives exclusion at every horizon."""
IRRELEVANT = "policy.optout.revert_per_year"
"""How fast the exempt whose grounds lapsed return to Digital Post: nobody is exempt before the mandate, so it
cannot matter for exclusion in a run that ends before it."""
MORRIS = ["--method", "morris", "--samples", "3", "--params", DRIVER, IRRELEVANT, "behaviour.learn_by_doing"]
SOBOL = ["--method", "sobol", "--samples", "4", "--params", DRIVER, "behaviour.learn_by_doing"]


def sensitivity(*argv: str) -> int:
    return main(["sensitivity", BASELINE, *argv, *TINY])


@pytest.fixture(scope="module")
def morris(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("morris") / "out"
    assert sensitivity(*MORRIS, "--out", str(out)) == 0
    return out


@pytest.fixture(scope="module")
def sobol(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sobol") / "out"
    assert sensitivity(*SOBOL, "--out", str(out)) == 0
    return out


def assert_one_error_line(err: str, *parts: str) -> None:
    assert err.startswith("digex: error: ") and err.count("\n") == 1, err
    for part in parts:
        assert part in err, (part, err)


# ------------------------------------------------------------------ outputs


def test_morris_writes_the_documented_outputs(morris):
    indices = pd.read_csv(morris / "indices.csv")
    assert tuple(indices.columns) == INDEX_COLUMNS
    assert set(indices["outcome"]) == {"exclusion_rate", "exclusion_rate@80+"}
    assert set(indices["index"]) == {"mu_star", "sigma"} and set(indices["method"]) == {"morris"}
    assert set(indices["N"]) == {3}
    assert np.isfinite(indices["value"]).all()
    mu = indices[indices["index"] == "mu_star"]
    assert (mu["value"] >= 0).all() and (mu["ci_low"] <= mu["value"]).all() and (mu["value"] <= mu["ci_high"]).all()
    samples = pd.read_csv(morris / "samples.csv")
    assert len(samples) == 3 * (3 + 1)  # r x (k + 1) points, one rep each
    assert {DRIVER, IRRELEVANT, "exclusion_rate", "exclusion_rate@80+", "seed", "run_key"} <= set(samples.columns)
    assert samples["seed"].nunique() == 1  # common random numbers
    low, high = samples[DRIVER].min(), samples[DRIVER].max()
    assert 0.0 <= low < high <= 4.0  # inside the calibration bounds
    assert (morris / "plots" / "exclusion_rate.png").is_file()
    assert (morris / "plots" / "exclusion_rate-80plus.png").is_file()
    assert "| population.skill_intercept |" in (morris / "indices.md").read_text()
    manifest = json.loads((morris / "manifest.json").read_text())
    assert manifest["kind"] == "sensitivity" and manifest["method"] == "morris"
    assert manifest["command"].startswith("digex sensitivity ") and manifest["scenarios"][0]["seeds"] == [1]
    assert manifest["salib_version"] and manifest["libraries"]
    assert len(list((morris / "runs").glob("*.json"))) == manifest["runs_computed"] == len(samples)


def test_sobol_indices_are_finite_with_ordered_intervals(sobol):
    indices = pd.read_csv(sobol / "indices.csv")
    assert tuple(indices.columns) == INDEX_COLUMNS
    assert set(indices["index"]) == {"S1", "ST"} and set(indices["N"]) == {4}
    for column in ("value", "ci_low", "ci_high"):
        assert np.isfinite(indices[column]).all(), column
    assert (indices["ci_low"] <= indices["value"]).all() and (indices["value"] <= indices["ci_high"]).all()
    assert len(pd.read_csv(sobol / "samples.csv")) == 4 * (2 + 2)  # N x (k + 2)


def test_a_parameter_that_cannot_matter_has_a_smaller_mu_star_than_the_driver(morris):
    """Before the mandate nobody is exempt, so the rate at which the exempt return cannot change exclusion;
    the level of skill does (calibrated baseline, common random numbers)."""
    indices = pd.read_csv(morris / "indices.csv")
    mu = indices[(indices["index"] == "mu_star") & (indices["outcome"] == "exclusion_rate")].set_index("parameter")
    assert mu.loc[IRRELEVANT, "value"] < mu.loc[DRIVER, "value"]
    assert mu.loc[IRRELEVANT, "value"] == 0.0  # same seeds: not even noise


# ------------------------------------------------------------------ resuming and determinism


def test_rerunning_computes_nothing_and_a_deleted_run_alone(morris, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(morris, out)
    before = (out / "indices.csv").read_bytes()
    assert main(["sensitivity", BASELINE, *MORRIS, "--out", str(out), *TINY[:-1]]) == 0
    assert "0 run(s) computed" in capsys.readouterr().out
    assert (out / "indices.csv").read_bytes() == before
    sorted(out.joinpath("runs").glob("*.json"))[0].unlink()  # an interrupted analysis lost this run
    assert main(["sensitivity", BASELINE, *MORRIS, "--out", str(out), *TINY[:-1]]) == 0
    assert "1 run(s) computed" in capsys.readouterr().out
    assert (out / "indices.csv").read_bytes() == before


def test_the_same_command_gives_the_same_indices(morris, tmp_path):
    assert sensitivity(*MORRIS, "--out", str(tmp_path / "again")) == 0
    for name in ("indices.csv", "samples.csv"):
        assert (tmp_path / "again" / name).read_bytes() == (morris / name).read_bytes(), name


# ------------------------------------------------------------------ parameters, ranges and outcomes


def test_parameters_come_from_the_calibration_file():
    varies = uncertain_parameters(CALIBRATION)
    assert len(varies) == 19
    by_key = {v.key: v for v in varies}
    assert (by_key[DRIVER].low, by_key[DRIVER].high, by_key[DRIVER].log) == (0.0, 4.0, False)
    assert by_key["behaviour.learn_by_doing"].log
    assert [v.key for v in uncertain_parameters(CALIBRATION, [IRRELEVANT, DRIVER])] == [IRRELEVANT, DRIVER]


def test_a_posterior_file_gives_the_central_95_percent_of_its_draws(tmp_path):
    rng = np.random.default_rng(0)
    draws = pd.DataFrame({"draw": range(200), DRIVER: rng.normal(1.0, 0.1, 200),
                          "behaviour.learn_by_doing": rng.lognormal(np.log(0.015), 0.2, 200)})
    path = tmp_path / "posterior.csv"
    path.write_text("# provenance: a test\n" + draws.to_csv(index=False))
    varies = uncertain_parameters(CALIBRATION, [DRIVER, "behaviour.learn_by_doing"], path)
    for v in varies:
        assert (v.low, v.high) == tuple(np.quantile(draws[v.key], POSTERIOR_RANGE))
    assert varies[1].log  # the scale is the calibration's


def test_outcomes_name_a_metric_and_optionally_a_group():
    assert parse_outcome("exclusion_rate@80+").group_type == "age_band"
    assert parse_outcome("exclusion_rate").name == "exclusion_rate"
    with pytest.raises(UserError, match="did you mean 'exclusion_rate'"):
        parse_outcome("exclusion_rat")


# ------------------------------------------------------------------ errors


def posterior_without(tmp_path: Path) -> str:
    path = tmp_path / "posterior.csv"
    path.write_text("draw,population.skill_intercept\n0,1.0\n1,1.1\n2,0.9\n")
    return str(path)


@pytest.mark.parametrize(("argv", "message"), [
    (["--method", "anova"], "--method: 'anova' is not a method; choose sobol or morris"),
    (["--method", "sobol", "--samples", "5"], "Sobol needs a power of 2"),
    (["--method", "morris", "--params", "population.skill_intercep"], "did you mean 'population.skill_intercept'"),
    (["--method", "morris", "--outcomes", "exclusion_rat"], "did you mean 'exclusion_rate'"),
    (["--method", "morris", "--outcomes", "exclusion_rate@90+"], "no group '90+'"),
    (["--method", "morris", "--second-order"], "--second-order is a Sobol option"),
    (["--method", "morris", "--calibration", "no-such-file.yaml"], "no-such-file.yaml"),
    (["--method", "morris", "--params", DRIVER, IRRELEVANT, "--posterior-file", "{posterior}"],
     f"no column '{IRRELEVANT}'"),
    (["--method", "morris", "--posterior-file", "no-such-posterior.csv"], "no-such-posterior.csv"),
])
def test_bad_input_is_one_line_and_writes_nothing(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    argv = [a.replace("{posterior}", posterior_without(tmp_path)) for a in argv]
    assert sensitivity(*argv, "--out", str(out)) == 2
    assert_one_error_line(capsys.readouterr().err, message)
    assert not out.exists()
