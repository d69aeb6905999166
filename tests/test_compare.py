"""digex compare: paired intervals, common seeds, determinism across job counts, outputs and errors."""

import datetime as dt
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sim import Config
from sim.cli.main import main
from sim.errors import UserError
from sim.experiments.compare import WeeklyStore, common_seed, comparison_table
from sim.experiments.replication import Replication
from sim.experiments.stats import LEVEL, interval, mean_ci, paired_difference, summarise, summarise_columns
from sim.outputs.figures import pareto_front

TINY = ["--set", "population.size=300", "--set", "run.weeks=40", "--set", "run.analogue_reference=false"]


def write_scenarios(tmp_path):
    """A reference and an automatic-opt-out variant, starting just before the 2014 mandate."""
    base = tmp_path / "base.yaml"
    base.write_text("name: base\ndescription: in-person exemption\nrun:\n  start: 2014-06-02\n  seed: 7\n")
    easy = tmp_path / "easy.yaml"
    easy.write_text("extends: base.yaml\nname: easy\ndescription: automatic exemption\n"
                    "run:\n  seed: 99\npolicy:\n  optout:\n    rule: automatic\n")
    return str(base), str(easy)


# ------------------------------------------------------------------ paired statistics


def test_paired_difference_matches_hand_computed_example():
    # differences 1, 2, 2, 3: mean 2, sd sqrt(2/3), se 0.408248; t(0.975, 3) = 3.182446 -> half width 1.299228
    (m,), (lo,), (hi,), (n,) = paired_difference(np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 4.0, 5.0, 7.0]))
    assert n == 4
    assert m == pytest.approx(2.0)
    assert lo == pytest.approx(2.0 - 1.299228, abs=1e-6)
    assert hi == pytest.approx(2.0 + 1.299228, abs=1e-6)


def test_paired_difference_drops_incomplete_pairs_row_by_row():
    m, lo, hi, n = paired_difference(np.array([[1.0, np.nan, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0]]),
                                     np.array([[2.0, 4.0, np.nan, 7.0], [2.0, 2.0, 2.0, 2.0]]))
    assert n.tolist() == [2, 4]
    assert m == pytest.approx([2.0, 1.0])  # pairs (1, 2) and (4, 7); then four differences of 1
    assert (lo[1], hi[1]) == (1.0, 1.0)
    with pytest.raises(ValueError, match="equal shapes"):
        paired_difference(np.ones(3), np.ones(2))


def test_paired_interval_is_narrower_than_unpaired_for_correlated_runs():
    a = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    b = a + np.array([1.0, 1.2, 0.9, 1.1, 1.0])
    _, (lo,), (hi,), _ = paired_difference(a, b)
    _, alo, ahi = mean_ci(a)
    assert 0 < lo < hi < 1.3
    assert hi - lo < (ahi - alo) / 10


def ends_frame():
    rows = []
    for scenario, values in (("ref", [1.0, 2.0, 3.0, 4.0]), ("alt", [2.0, 4.0, 5.0, 7.0])):
        for rep, v in enumerate(values):
            rows.append((scenario, rep, 10 + rep, "exclusion_rate", "all", "all", v / 10))
            rows.append((scenario, rep, 10 + rep, "exclusion_rate", "age_band", "80+", v / 5))
    return pd.DataFrame(rows, columns=["scenario", "rep", "seed", "metric", "group_type", "group", "value"])


def test_comparison_table_holds_means_intervals_and_paired_differences():
    table = comparison_table(ends_frame(), ["ref", "alt"])
    assert list(table.columns) == ["metric", "unit", "group_type", "group", "scenario", "mean", "ci_low", "ci_high",
                                   "n_reps", "reference", "diff", "diff_ci_low", "diff_ci_high", "n_pairs",
                                   "interval_covers"]
    assert len(table) == 4 and (table["reference"] == "ref").all()
    assert (table["unit"] == "share").all()
    ref = table[(table["scenario"] == "ref") & (table["group_type"] == "all")].iloc[0]
    assert np.isnan(ref["diff"])
    # exclusion_rate is a share: its interval is on the logit scale, its difference's on the scale of (d + 1) / 2
    assert (ref["mean"], ref["ci_low"], ref["ci_high"]) == pytest.approx(
        mean_ci(np.array([0.1, 0.2, 0.3, 0.4]), "share"))
    assert (ref["ci_low"], ref["ci_high"]) == pytest.approx((0.1002709, 0.4992483))
    alt = table[(table["scenario"] == "alt") & (table["group_type"] == "all")].iloc[0]
    assert (alt["diff"], alt["diff_ci_low"], alt["diff_ci_high"]) == pytest.approx((0.2, 0.0672944, 0.3257522))
    old = table[(table["scenario"] == "alt") & (table["group"] == "80+")].iloc[0]
    assert old["diff"] == pytest.approx(0.4) and old["n_pairs"] == 4


def test_vectorised_summaries_agree_with_mean_ci():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"k": np.repeat(["a", "b", "c"], 5), "value": rng.normal(size=15)})
    frame.loc[3, "value"] = np.nan
    out = summarise(frame, ["k"]).set_index("k")
    for k in "abc":
        assert tuple(out.loc[k, ["mean", "ci_low", "ci_high"]]) == pytest.approx(
            mean_ci(frame.loc[frame["k"] == k, "value"].to_numpy()))
    assert out.loc["a", "n_reps"] == 4

    store = WeeklyStore()
    template = pd.DataFrame({"week": [0, 0, 1], "metric": ["m", "n", "m"], "group_type": "all", "group": "all"})
    values = rng.normal(size=(3, 3))
    for rep in range(3):
        store.add(Replication("s", rep, rep, template.assign(value=values[rep])))
    weekly = store.summary(["s"])
    assert (weekly["mean"].iloc[1], weekly["ci_low"].iloc[1]) == pytest.approx(mean_ci(values[:, 1])[:2])


def test_t_interval_matches_hand_computed_example_and_is_missing_below_two_values():
    # mean 2, sd sqrt(2/3) over 4 values: half width t(0.975, 3) * sd / 2 = 1.299228
    lo, hi = interval(np.array([2.0, 5.0, np.nan]), np.array([np.sqrt(2 / 3), 3.0, np.nan]), np.array([4, 1, 0]))
    assert LEVEL == 0.95
    assert lo[0] == pytest.approx(2.0 - 1.299228, abs=1e-6) and hi[0] == pytest.approx(2.0 + 1.299228, abs=1e-6)
    assert np.isnan([lo[1], hi[1], lo[2], hi[2]]).all()  # one value: no interval; no value: nothing
    narrow, _ = interval(2.0, np.sqrt(2 / 3), 4, level=0.5)
    assert lo[0] < narrow < 2.0


def test_mean_ci_of_no_value_one_value_and_missing_values():
    assert all(np.isnan(mean_ci(np.array([np.nan]))))
    m, lo, hi = mean_ci(np.array([3.0]))
    assert m == 3.0 and np.isnan(lo) and np.isnan(hi)
    assert mean_ci(np.array([1.0, np.nan, 2.0, 3.0, 4.0])) == mean_ci(np.array([1.0, 2.0, 3.0, 4.0]))


def test_one_replication_is_summarised_without_importing_scipy():
    code = ("import sys, pandas as pd; from sim.experiments.stats import mean_ci, summarise; "
            "mean_ci([1.0]); summarise(pd.DataFrame({'k': ['a'], 'value': [1.0]}), ['k']); "
            "assert 'scipy' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_column_summaries_agree_with_mean_ci_and_need_a_table():
    values = np.array([[1.0, np.nan, 5.0], [2.0, np.nan, np.nan], [4.0, np.nan, 6.0]])
    mean, lo, hi, n = summarise_columns(values)
    assert n.tolist() == [3, 0, 2]
    assert (mean[0], lo[0], hi[0]) == pytest.approx(mean_ci(values[:, 0]))
    assert (mean[2], lo[2], hi[2]) == pytest.approx(mean_ci(values[:, 2]))
    assert np.isnan([mean[1], lo[1], hi[1]]).all()
    one = summarise_columns(values[:1])
    assert one[0][0] == 1.0 and np.isnan([one[1][0], one[2][0]]).all()
    with pytest.raises(ValueError, match="replications x values"):
        summarise_columns(np.ones(3))


def test_pareto_front_keeps_only_undominated_points():
    x = np.array([1.0, 2.0, 3.0, 3.0, 2.0, np.nan])
    y = np.array([3.0, 2.0, 1.0, 3.0, 2.0, 0.0])
    assert pareto_front(x, y).tolist() == [True, True, True, False, True, False]


# ------------------------------------------------------------------ seeds


def test_common_seed_uses_first_scenario_seed_or_given_seed():
    a, b = Config(name="a"), Config(name="b")
    a.run.seed, b.run.seed = 5, 9
    assert [c.run.seed for c in common_seed([a, b])] == [5, 5]
    assert [c.run.seed for c in common_seed([a, b], seed=3)] == [3, 3]
    assert b.run.seed == 9  # inputs are not modified


@pytest.mark.parametrize(("section", "key", "value"), [("run", "weeks", 100), ("population", "size", 500),
                                                      ("run", "start", dt.date(2013, 1, 7))])
def test_common_seed_rejects_scenarios_with_different_population_or_horizon(section, key, value):
    a, b = Config(name="a"), Config(name="b")
    setattr(getattr(b, section), key, value)
    with pytest.raises(UserError, match=rf"{section}\.{key}.*--set"):
        common_seed([a, b])


# ------------------------------------------------------------------ the command


def test_compare_is_identical_for_one_and_two_jobs(tmp_path):
    base, easy = write_scenarios(tmp_path)
    outs = []
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}"
        extra = ["--svg"] if jobs == 1 else []
        assert main(["compare", base, easy, "--reps", "2", *TINY, "--out", str(out), "--jobs", str(jobs),
                     "--quiet", *extra]) == 0
        outs.append(out)
    one, two = outs
    assert (one / "comparison.csv").read_bytes() == (two / "comparison.csv").read_bytes()
    assert (one / "end_values.csv").read_bytes() == (two / "end_values.csv").read_bytes()
    pd.testing.assert_frame_equal(pd.read_parquet(one / "timeseries_summary.parquet"),
                                  pd.read_parquet(two / "timeseries_summary.parquet"))

    # every scenario ran with the first scenario's seed (common random numbers), replication r with seed + r
    ends = pd.read_csv(one / "end_values.csv")
    assert ends.groupby("scenario")["seed"].unique().map(sorted).tolist() == [[7, 8], [7, 8]]
    manifest = json.loads((one / "manifest.json").read_text())
    assert manifest["kind"] == "compare" and manifest["reference"] == "base" and manifest["seed"] == 7
    assert [s["config"]["run"]["seed"] for s in manifest["scenarios"]] == [7, 7]

    table = pd.read_csv(one / "comparison.csv")
    assert set(table["scenario"]) == {"base", "easy"}
    assert table.loc[table["scenario"] == "base", "diff"].isna().all()
    assert table.loc[table["scenario"] == "easy", "diff"].notna().any()
    assert {"all", "age_band", "skill_quintile"} <= set(table["group_type"])
    stems = {p.stem for p in (one / "plots").glob("*.png")}
    assert stems == {"exclusion_over_time", "exclusion_components", "exclusion_by_group", "cost_vs_exclusion",
                     "channel_cost_over_time",
                     "digital_share_over_time", "trust_over_time", "helper_time"}
    assert {p.stem for p in (one / "plots").glob("*.svg")} == stems
    assert not list((two / "plots").glob("*.svg"))


def test_compare_needs_two_scenarios(tmp_path, capsys):
    base, _ = write_scenarios(tmp_path)
    assert main(["compare", base, "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "at least two" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_compare_rejects_different_population_sizes_and_writes_nothing(tmp_path, capsys):
    base, easy = write_scenarios(tmp_path)
    big = tmp_path / "big.yaml"
    big.write_text("extends: base.yaml\nname: big\npopulation:\n  size: 400\n")
    assert main(["compare", base, str(big), "--reps", "1", "--set", "run.weeks=5", "--out",
                 str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "population.size" in err and "base: " in err
    assert not (tmp_path / "out").exists()


def test_compare_bad_override_names_key_and_writes_nothing(tmp_path, capsys):
    base, easy = write_scenarios(tmp_path)
    assert main(["compare", base, easy, "--set", "policy.centre.helpers_per_10k=-1", "--out",
                 str(tmp_path / "out"), "--quiet"]) == 2
    assert "helpers_per_10k" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_compare_rejects_zero_replications(tmp_path):
    base, easy = write_scenarios(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["compare", base, easy, "--reps", "0"])
    assert exc.value.code == 2


def test_compare_scheduler_needs_the_dask_executor(tmp_path, capsys):
    base, easy = write_scenarios(tmp_path)
    assert main(["compare", base, easy, "--scheduler", "tcp://127.0.0.1:8786", "--out", str(tmp_path / "out"),
                 "--quiet"]) == 2
    assert "--scheduler needs --executor dask" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
