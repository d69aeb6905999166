"""digex discover: PRIM boxes on synthetic data, outcomes and cases of interest, paired sweeps, outputs, errors."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.atomic import MARKER
from sim.cli.main import main
from sim.errors import UserError
from sim.experiments.discovery import (
    MIN_POINTS,
    Outcome,
    cases_of_interest,
    choose_box,
    discover,
    paired_difference,
    varied_inputs,
)

ROOT = Path(__file__).resolve().parents[1]
BASELINE = str(ROOT / "scenarios" / "denmark_baseline.yaml")
EASY = str(ROOT / "scenarios" / "easy_optout_remote.yaml")
VARY = ["--vary", "policy.optout.awareness=0:1", "--vary", "behaviour.letter_read_threshold=0:1"]
TINY = ["--reps", "1", "--set", "population.size=500", "--set", "run.start=2014-06-02", "--set", "run.weeks=60",
        "--set", "run.analogue_reference=false", "--jobs", "1", "--yes", "--quiet"]
"""Runs of 500 citizens over 60 weeks from mid-2014, so that the mandate (November 2014) and opt-out act."""
OUTCOME = "exclusion_rate@80+"


def synthetic(n: int = 200, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x1": rng.random(n), "x2": rng.random(n), "lever": rng.choice(["a", "b", "c"], n)})


def box_rows(found) -> pd.DataFrame:
    return found.limits[found.limits["box"] == found.chosen].set_index("parameter")


# ------------------------------------------------------------------ PRIM on synthetic data


def test_prim_box_restricts_the_key_that_decides_and_no_other():
    x = synthetic()
    found = discover(x, (x["x1"] > 0.7).to_numpy().astype(int))
    box = box_rows(found)
    assert box.loc["x1", "restricted"] and not box.loc["x2", "restricted"] and not box.loc["lever", "restricted"]
    assert 0.65 <= box.loc["x1", "lower"] <= 0.75
    assert box.loc["x1", "upper"] == x["x1"].max()
    chosen = found.trajectory[found.trajectory["chosen"]].iloc[0]
    assert chosen["density"] > 0.9 and chosen["coverage"] >= 0.5 and chosen["restricted"] == "x1"
    assert box.loc["x1", "qp_lower"] < 0.01
    assert found.scores.iloc[0]["parameter"] == "x1"
    assert found.scores["score"].sum() == pytest.approx(1.0)


def test_prim_keeps_the_categories_of_a_listed_lever():
    x = synthetic(seed=2)
    found = discover(x, (x["lever"] == "b").to_numpy().astype(int))
    box = box_rows(found)
    assert box.loc["lever", "restricted"] and box.loc["lever", "categories"] == "b"
    assert box.loc["lever", "kind"] == "categories" and np.isnan(box.loc["lever", "lower"])
    assert found.limits[(found.limits["box"] == 0) & (found.limits["parameter"] == "lever")].iloc[0][
        "categories"] == "a;b;c"


def test_discovery_is_deterministic():
    x = synthetic(seed=3)
    y = ((x["x1"] > 0.5) & (x["x2"] < 0.4)).to_numpy().astype(int)
    a, b = discover(x, y), discover(x, y)
    pd.testing.assert_frame_equal(a.trajectory, b.trajectory)
    pd.testing.assert_frame_equal(a.limits, b.limits)
    pd.testing.assert_frame_equal(a.scores, b.scores)
    assert a.chosen == b.chosen


def test_trajectory_columns_and_invariants():
    x = synthetic(seed=4)
    found = discover(x, (x["x2"] < 0.3).to_numpy().astype(int))
    t = found.trajectory
    assert list(t.columns) == ["box", "coverage", "density", "mass", "n", "k", "restricted_dims", "restricted",
                               "chosen"]
    assert list(found.limits.columns) == ["box", "parameter", "kind", "lower", "upper", "categories", "restricted",
                                          "qp_lower", "qp_upper"]
    assert t.iloc[0][["coverage", "mass"]].tolist() == [1.0, 1.0] and t.iloc[0]["restricted_dims"] == 0
    assert (t["mass"].diff().dropna() <= 1e-12).all() and t["chosen"].sum() == 1
    assert t["k"].max() == t.iloc[0]["k"]
    counts = found.limits.groupby("box")["restricted"].sum()
    assert (counts.to_numpy() == t["restricted_dims"].to_numpy()).all()


def test_box_rule_and_index():
    t = pd.DataFrame({"box": [0, 1, 2, 3], "coverage": [1.0, 0.8, 0.5, 0.3], "density": [0.2, 0.5, 0.7, 0.9]})
    assert choose_box(t) == (2, "the densest box with coverage at least 0.5")
    assert choose_box(t, min_coverage=0.8)[0] == 1
    assert choose_box(t, min_coverage=0.0)[0] == 3
    assert choose_box(t, box=3) == (3, "box 3, as asked (--box)")
    with pytest.raises(UserError, match="--box 4: the peeling trajectory has boxes 0 to 3"):
        choose_box(t, box=4)


@pytest.mark.parametrize(("option", "value", "message"), [("peel_alpha", 0.6, "--peel-alpha"),
                                                          ("min_mass", 0.0, "--min-mass"),
                                                          ("min_coverage", 1.5, "--min-coverage")])
def test_prim_settings_out_of_range_are_refused(option, value, message):
    x = synthetic(n=30)
    with pytest.raises(UserError, match=message):
        discover(x, (x["x1"] > 0.5).to_numpy().astype(int), **{option: value})


# ------------------------------------------------------------------ outcome, inputs, cases


def test_outcome_parsing():
    assert Outcome.parse("exclusion_rate") == Outcome("exclusion_rate")
    assert Outcome.parse("exclusion_rate@80+") == Outcome("exclusion_rate", "age_band", "80+")
    assert Outcome.parse("exclusion_rate@Q1 lowest").group_type == "skill_quintile"
    assert Outcome.parse("exclusion_rate@80+").label == "exclusion_rate@80+"
    with pytest.raises(UserError, match="unknown metric 'exclusion_rat'; did you mean 'exclusion_rate'"):
        Outcome.parse("exclusion_rat")
    with pytest.raises(UserError, match="unknown group '90\\+'; valid groups are age_band: 15-24"):
        Outcome.parse("exclusion_rate@90+")
    with pytest.raises(UserError, match="centre_queue_weeks is not broken down by group"):
        Outcome.parse("centre_queue_weeks@80+")


def test_cases_of_interest_are_strict_and_need_both_kinds():
    values = pd.Series([0.1, 0.2, 0.3])
    assert cases_of_interest(values, 0.2, True, "m").tolist() == [0, 0, 1]
    assert cases_of_interest(values, 0.2, False, "m").tolist() == [1, 0, 0]
    with pytest.raises(UserError, match="no run has m above 0.3 .*PRIM cannot run"):
        cases_of_interest(values, 0.3, True, "m")
    with pytest.raises(UserError, match="every run has m below 0.5 .*PRIM cannot run"):
        cases_of_interest(values, 0.5, False, "m")


def results_table(points: int, reps: int = 1) -> pd.DataFrame:
    rows = [{"point": p, "rep": r, "seed": 1 + r, "a": p / 10, "rule": "x" if p % 2 else "y", "fixed": 1.0}
            for p in range(points) for r in range(reps)]
    return pd.DataFrame(rows)


def test_varied_inputs_keep_varying_keys_and_need_enough_points():
    x = varied_inputs(results_table(MIN_POINTS), ["a", "rule", "fixed"], "sw")
    assert list(x.columns) == ["a", "rule"] and not pd.api.types.is_numeric_dtype(x["rule"])
    with pytest.raises(UserError, match=f"sw: the sweep has {MIN_POINTS - 1} point\\(s\\); scenario discovery "
                                        f"needs at least {MIN_POINTS}"):
        varied_inputs(results_table(MIN_POINTS - 1, reps=3), ["a"], "sw")
    with pytest.raises(UserError, match="no varied key takes more than one value"):
        varied_inputs(results_table(MIN_POINTS), ["fixed"], "sw")


def test_paired_difference_needs_the_same_points_and_seeds():
    r = results_table(MIN_POINTS, reps=2)
    x = varied_inputs(r, ["a", "rule"], "A")
    v = pd.Series(np.arange(len(r), dtype=float), index=x.index)
    assert (paired_difference(v, v / 2, x, x, "A", "B") == v / 2).all()
    with pytest.raises(UserError, match="--against B: it varies a, A varies a, rule"):
        paired_difference(v, v, x, x[["a"]], "A", "B")
    moved = x.copy()
    moved.iloc[3, 0] = 9.0
    with pytest.raises(UserError, match="--against B: point 1 has a = 9.0, A has 0.1"):
        paired_difference(v, v, x, moved, "A", "B")
    other = varied_inputs(r.assign(seed=r["seed"] + 1), ["a", "rule"], "B")
    with pytest.raises(UserError, match="--against B: the runs differ from those of A"):
        paired_difference(v, v, x, other, "A", "B")


# ------------------------------------------------------------------ the command on real sweeps


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweeps")
    made = {}
    for name, base, extra in [("base", BASELINE, ["--samples", "10"]), ("easy", EASY, ["--samples", "10"]),
                              ("other", BASELINE, ["--samples", "10", "--seed", "2"]),
                              ("few", BASELINE, ["--samples", "3"])]:
        made[name] = root / name
        assert main(["sweep", base, *VARY, *extra, *TINY, "--out", str(made[name])]) == 0
    return made


def outcome_values(sweep: Path) -> pd.Series:
    g = pd.read_csv(sweep / "results_by_group.csv")
    g = g[(g["metric"] == "exclusion_rate") & (g["group"] == "80+")]
    return g.set_index(["point", "rep", "seed"])["value"].sort_index()


def one_error(capsys, *needles: str) -> None:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("digex: error: "), err
    for needle in needles:
        assert needle in err, err


def test_discover_writes_documented_outputs(sweeps, tmp_path, capsys):
    values = outcome_values(sweeps["base"])
    threshold = float(values.median())
    out = tmp_path / "disc"
    assert main(["discover", str(sweeps["base"]), "--outcome", OUTCOME, f"--threshold={threshold}",
                 "--out", str(out)]) == 0
    assert "cases of interest in box" in capsys.readouterr().out
    for name in ("box_limits.csv", "peeling_trajectory.csv", "feature_scores.csv", "cases.csv", "summary.md",
                 "manifest.json", "plots/peeling_trajectory.png", "plots/box.png"):
        assert (out / name).is_file(), name
    assert "kind: discover" in (out / MARKER).read_text()
    cases = pd.read_csv(out / "cases.csv")
    assert list(cases.columns) == ["point", "rep", "seed", "policy.optout.awareness",
                                   "behaviour.letter_read_threshold", "outcome", "of_interest"]
    assert (cases.set_index(["point", "rep", "seed"])["outcome"].sort_index() == values).all()
    assert (cases["of_interest"] == (cases["outcome"] > threshold)).all()
    limits = pd.read_csv(out / "box_limits.csv")
    assert set(limits["parameter"]) == {"policy.optout.awareness", "behaviour.letter_read_threshold"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "discover" and manifest["outcome"] == OUTCOME and manifest["side"] == "above"
    assert manifest["cases_of_interest"] == int(cases["of_interest"].sum()) and manifest["runs"] == 10
    trajectory = pd.read_csv(out / "peeling_trajectory.csv")
    assert trajectory.loc[trajectory["chosen"], "box"].tolist() == [manifest["box"]]
    page = (out / "summary.md").read_text()
    assert f"## Box {manifest['box']} (the densest box with coverage at least 0.5)" in page
    assert "![plots/peeling_trajectory.png](plots/peeling_trajectory.png)" in page


def test_discover_is_deterministic(sweeps, tmp_path):
    threshold = str(float(outcome_values(sweeps["base"]).quantile(0.7)))
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        assert main(["discover", str(sweeps["base"]), "--outcome", OUTCOME, f"--threshold={threshold}", "--below",
                     "--quiet", "--out", str(out)]) == 0
    for name in ("box_limits.csv", "peeling_trajectory.csv", "feature_scores.csv", "cases.csv", "summary.md"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_against_uses_the_paired_difference(sweeps, tmp_path):
    diff = outcome_values(sweeps["easy"]) - outcome_values(sweeps["base"])
    out = tmp_path / "against"
    threshold = float(diff.median())
    assert main(["discover", str(sweeps["easy"]), "--against", str(sweeps["base"]), "--outcome", OUTCOME,
                 f"--threshold={threshold}", "--quiet", "--out", str(out)]) == 0
    cases = pd.read_csv(out / "cases.csv").set_index(["point", "rep", "seed"]).sort_index()
    assert np.allclose(cases["outcome"], diff)
    assert (cases["of_interest"] == (diff > threshold)).all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["difference"] and len(manifest["sweeps"]) == 2
    assert "minus that of" in manifest["question"]


@pytest.mark.parametrize("case", ["not_sweep", "discover_dir", "unknown_outcome", "none", "all", "few",
                                  "mismatch", "box"])
def test_errors_are_one_line_with_nothing_written(sweeps, tmp_path, capsys, case):
    base = str(sweeps["base"])
    high = str(float(outcome_values(sweeps["base"]).max()))
    low = str(float(outcome_values(sweeps["base"]).min()) - 1e-9)
    middle = str(float(outcome_values(sweeps["base"]).median()))
    made = tmp_path / "made"
    if case == "discover_dir":
        assert main(["discover", base, "--outcome", OUTCOME, f"--threshold={middle}", "--quiet", "--out",
                     str(made)]) == 0
    args, needles = {
        "not_sweep": ([str(tmp_path)], ["not a sweep directory (not a directory digex wrote)"]),
        "discover_dir": ([str(made)], ["not a sweep directory (it holds the output of digex discover)"]),
        "unknown_outcome": ([base, "--outcome", "exclusion_rat"], ["did you mean 'exclusion_rate'"]),
        "none": ([base, f"--threshold={high}"], ["no run has exclusion_rate@80+ above", "PRIM cannot run"]),
        "all": ([base, f"--threshold={low}"], ["every run has exclusion_rate@80+ above", "PRIM cannot run"]),
        "few": ([str(sweeps["few"])], ["the sweep has 3 point(s); scenario discovery needs at least 10"]),
        "mismatch": ([base, "--against", str(sweeps["other"])], ["the runs differ from those of"]),
        "box": ([base, "--box", "999"], ["--box 999: the peeling trajectory has boxes 0 to"]),
    }[case]
    argv = ["discover", *args]
    argv += [] if "--outcome" in argv else ["--outcome", OUTCOME]
    argv += [] if any(a.startswith("--threshold") for a in argv) else [f"--threshold={middle}"]
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)]) == 2
    one_error(capsys, *needles)
    assert not out.exists()
