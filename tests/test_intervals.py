"""Intervals that respect their scale, no interval from one replication, and one number format (issue 17)."""

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.cli.main import main
from sim.cli.sweep import print_summary
from sim.experiments.compare import comparison_table
from sim.experiments.stats import bounds, interval, mean_ci, paired_difference, summarise, summarise_columns
from sim.outputs.format import fmt_interval, fmt_setting, fmt_value, unit_label
from sim.outputs.style import interval_note

ROOT = Path(__file__).resolve().parents[1]
BASELINE = str(ROOT / "scenarios" / "denmark_baseline.yaml")
TINY = ["--set", "population.size=300", "--set", "run.weeks=60", "--set", "run.analogue_reference=false"]

shares = st.lists(st.floats(0.0, 1.0), min_size=2, max_size=30)


# ------------------------------------------------------------------ bounds


@settings(max_examples=300, deadline=None)
@given(shares)
def test_any_replications_of_a_share_give_an_interval_within_0_and_1_around_the_mean(values):
    m, lo, hi = mean_ci(values, "share")
    assert 0.0 <= lo <= m + 1e-12 and m - 1e-12 <= hi <= 1.0
    mean, clo, chi, n = summarise_columns(np.array(values)[:, None], ["share"])  # the vectorised path agrees
    assert (clo[0], chi[0]) == pytest.approx((lo, hi), abs=1e-12) and n[0] == len(values)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)), min_size=2, max_size=30))
def test_a_paired_difference_of_shares_stays_within_minus_1_and_1(pairs):
    a, b = np.array(pairs).T
    (d,), (lo,), (hi,), (n,) = paired_difference(a, b, "share")
    assert n == len(pairs)
    assert -1.0 <= lo <= d + 1e-12 and d - 1e-12 <= hi <= 1.0


def test_two_replications_of_005_and_0_give_a_share_interval_starting_at_0_or_above():
    m, lo, hi = mean_ci([0.05, 0.0], "share")
    assert m == pytest.approx(0.025) and 0.0 <= lo < m < hi <= 1.0
    plain = mean_ci([0.05, 0.0])  # the t-interval, without the scale, would go below 0
    assert plain[1] < 0


def test_a_share_away_from_its_bounds_gets_nearly_the_t_interval_and_a_mean_on_a_bound_no_spread():
    values = np.array([0.49, 0.50, 0.51, 0.50, 0.52, 0.48])
    _, lo, hi = mean_ci(values, "share")
    _, tlo, thi = mean_ci(values)
    assert (lo, hi) == pytest.approx((tlo, thi), abs=2e-4)
    assert mean_ci([0.0, 0.0, 0.0], "share") == (0.0, 0.0, 0.0)
    assert mean_ci([1.0, 1.0], "0-1") == (1.0, 1.0, 1.0)


def test_open_scales_keep_the_t_interval_and_only_shares_and_0_1_means_are_bounded():
    assert bounds("share") == (0.0, 1.0) and bounds("0-1") == (0.0, 1.0)
    assert bounds("share", difference=True) == (-1.0, 1.0)
    assert bounds("DKK") is None and bounds("") is None
    # mean 2, sd sqrt(2/3), 4 values: t(0.975, 3) * sd / 2 = 1.299228 either side, whatever the sign
    lo, hi = interval([-2.0, 2.0], np.sqrt(2 / 3), 4, ["DKK/year", "persons"])
    assert lo == pytest.approx([-3.299228, 0.700772]) and hi == pytest.approx([-0.700772, 3.299228])


def test_tables_use_the_unit_of_each_metric():
    rows = [("a", "exempt_share", 0.05), ("a", "exempt_share", 0.0), ("a", "savings_vs_analogue_dkk", 5.0),
            ("a", "savings_vs_analogue_dkk", -5.0)]
    out = summarise(pd.DataFrame(rows, columns=["scenario", "metric", "value"]), ["scenario", "metric"])
    assert list(out.columns) == ["scenario", "metric", "unit", "mean", "ci_low", "ci_high", "n_reps"]
    share, money = out.iloc[0], out.iloc[1]
    assert share["unit"] == "share" and share["ci_low"] >= 0
    assert money["unit"] == "DKK/year" and money["ci_low"] < 0  # money may be negative: no bound


def test_a_comparison_of_two_replications_keeps_shares_and_their_differences_in_range():
    rows = []
    for scenario, values in (("ref", [0.95, 0.99]), ("alt", [0.05, 0.0])):
        for rep, v in enumerate(values):
            rows.append((scenario, rep, 10 + rep, "exempt_share", "all", "all", v))
    table = comparison_table(pd.DataFrame(rows, columns=["scenario", "rep", "seed", "metric", "group_type", "group",
                                                         "value"]), ["ref", "alt"])
    assert (table["ci_low"] >= 0).all() and (table["ci_high"] <= 1).all()
    alt = table.set_index("scenario").loc["alt"]
    assert -1 <= alt["diff_ci_low"] <= alt["diff"] <= alt["diff_ci_high"] <= 1


# ------------------------------------------------------------------ one replication


def test_one_replication_has_no_interval_in_any_statistic():
    assert np.isnan(mean_ci([0.3], "share")[1:]).all()
    assert np.isnan(paired_difference([0.1], [0.2], "share")[1:3]).all()
    assert np.isnan(paired_difference([[0.1], [0.3]], [[0.2], [0.1]], ["share", "DKK"])[1:3]).all()
    out = summarise(pd.DataFrame({"k": ["a"], "metric": ["exclusion_rate"], "value": [0.2]}), ["k", "metric"])
    assert out["ci_low"].isna().all() and out["ci_high"].isna().all() and out["n_reps"].tolist() == [1]
    _, lo, hi, _ = summarise_columns(np.array([[0.1, 0.2]]), "share")
    assert np.isnan(lo).all() and np.isnan(hi).all()


def test_one_replication_claims_no_interval_in_tables_terminal_report_or_figure_notes(tmp_path, capsys):
    out = tmp_path / "one"
    assert main(["run", BASELINE, *TINY, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "one replication" in printed and "[" not in printed and "95%" not in printed
    assert "%" in printed and "DKK" in printed  # shares in per cent, money named
    summary = pd.read_csv(out / "summary.csv")
    assert summary["ci_low"].isna().all() and summary["ci_high"].isna().all()
    assert summary.set_index("metric").loc["exclusion_rate", "unit"] == "share"
    by_group = pd.read_csv(out / "summary_by_group.csv", keep_default_na=False, na_values=[""])
    assert by_group["ci_low"].isna().all() and "unit" in by_group
    assert main(["report", str(out), "--quiet"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "95% interval" not in page and " [" not in page
    assert "single replication" in page
    assert "95%" not in interval_note(1) and "no interval" in interval_note(1)


def test_compare_headline_prints_intervals_in_per_cent_and_pp_and_none_from_one_replication(tmp_path, capsys):
    alt = str(ROOT / "scenarios" / "warm_hands.yaml")
    assert main(["compare", BASELINE, alt, *TINY, "--reps", "2", "--out", str(tmp_path / "two")]) == 0
    printed = capsys.readouterr().out
    assert "exclusion_rate (%):" in printed and "cost_per_citizen_year_dkk (DKK):" in printed
    assert "% [" in printed and " pp [" in printed
    assert "mean [95% interval over 2 replications with the calibrated point values" in printed
    table = pd.read_csv(tmp_path / "two" / "comparison.csv")
    shares = table[table["unit"] == "share"].dropna(subset=["ci_low"])
    assert len(shares) and (shares["ci_low"] >= 0).all() and (shares["ci_high"] <= 1).all()
    assert (shares["diff_ci_low"].dropna() >= -1).all() and (shares["diff_ci_high"].dropna() <= 1).all()

    assert main(["compare", BASELINE, alt, *TINY, "--reps", "1", "--out", str(tmp_path / "one")]) == 0
    printed = capsys.readouterr().out
    assert "no intervals" in printed and "[" not in printed and " pp" in printed
    table = pd.read_csv(tmp_path / "one" / "comparison.csv")
    assert table[["ci_low", "ci_high", "diff_ci_low", "diff_ci_high"]].isna().all().all()


def test_sweep_summary_prints_settings_to_3_significant_digits_and_the_share_in_per_cent(capsys):
    summary = pd.DataFrame({"point": [0, 1], "policy.centre.helpers_per_10k": [2.3456789012345678, 4.0],
                            "metric": "exclusion_rate", "group_type": "all", "group": "all", "unit": "share",
                            "mean": [0.1309, 0.2], "ci_low": [np.nan, np.nan], "ci_high": [np.nan, np.nan],
                            "n_reps": 1})
    print_summary(SimpleNamespace(computed=2, reused=0, summary=summary), ["policy.centre.helpers_per_10k"],
                  Path("out"))
    printed = capsys.readouterr().out
    assert "point 0 (policy.centre.helpers_per_10k=2.35): 13.1%\n" in printed
    summary[["ci_low", "ci_high"]] = [[0.12, 0.14], [0.19, 0.21]]
    print_summary(SimpleNamespace(computed=2, reused=0, summary=summary), ["policy.centre.helpers_per_10k"],
                  Path("out"))
    assert "13.1% [12.0%, 14.0%]" in capsys.readouterr().out


# ------------------------------------------------------------------ one number format


def test_shares_are_per_cent_and_their_differences_percentage_points():
    assert fmt_value(0.1234, "share") == "12.3%"
    assert fmt_value(0.05, "share") == "5.00%"
    assert fmt_value(-0.05, "share", diff=True) == "-5.00 pp"
    assert fmt_value(0.012, "share", diff=True) == "+1.20 pp"
    assert fmt_value(0.9996, "share") == "100%"  # rounded before the digits are counted: never 100.0%
    assert fmt_value(-1e-9, "share") == "0.00%"  # no negative zero
    assert unit_label("share") == "%" and unit_label("share", diff=True) == "pp"


def test_money_and_counts_have_separators_millions_and_3_significant_digits():
    assert fmt_value(1234.5, "DKK") == "1,230"
    assert fmt_value(45.67, "DKK") == "45.7"
    assert fmt_value(2.5e9, "DKK/year") == "2,500 m"
    assert fmt_value(4.8e6, "persons") == "4.80 m"
    assert fmt_value(0.0034, "incidents/year") == "0.0034"
    assert fmt_value(0.51234, "0-1") == "0.512"
    assert fmt_value(float("nan"), "DKK") == "–"


def test_an_interval_shares_one_scale_and_is_left_out_when_missing():
    assert fmt_interval(860_625, -25.8e6, 27.5e6, "DKK/year", diff=True) == "+0.9 m [-25.8 m, +27.5 m]"
    assert fmt_interval(0.0501, 0.0178, 0.133, "share") == "5.0% [1.8%, 13.3%]"
    assert fmt_interval(0.131, math.nan, math.nan, "share") == "13.1%"
    assert fmt_interval(1234.5, 1200, 1260, "DKK", show_unit=True) == "1,230 [1,200, 1,260] DKK"
    assert fmt_interval(0.51, math.nan, math.nan, "0-1", show_unit=True) == "0.510 (0-1 scale)"
    assert fmt_interval(0.2, 0.1, 0.3, "share", show_unit=True) == "20.0% [10.0%, 30.0%]"
    assert fmt_interval(math.nan, 0, 1, "share") == "–"


def test_settings_of_sampled_points_have_at_most_3_significant_digits():
    assert fmt_setting(0.12345678901234) == "0.123"
    assert fmt_setting(12345.678) == "12300"
    assert fmt_setting(2.0) == "2"
    assert fmt_setting(5000) == "5000" and fmt_setting(np.int64(3)) == "3"
    assert fmt_setting("remote") == "remote" and fmt_setting(True) == "True"
    assert fmt_setting(float("inf")) == "inf"
