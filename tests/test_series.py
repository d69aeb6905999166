"""Weekly metric tables: the end of a run (its last recorded week) and the order of reported rows."""

import pandas as pd
import pytest

from sim.model.metrics import GROUPS, METRICS
from sim.model.model import DigexModel
from sim.model.series import end_of_run, metric_order, names_in_order
from tests.conftest import small_config


def weekly(scenario: str, rep: int, weeks: int) -> pd.DataFrame:
    return pd.DataFrame({"scenario": scenario, "rep": rep, "week": range(weeks), "metric": "exclusion_rate",
                         "group_type": "all", "group": "all", "value": [float(w) for w in range(weeks)]})


def test_end_of_run_keeps_the_last_recorded_week_with_a_fresh_index():
    ts = weekly("a", 0, 5)
    last = end_of_run(ts)
    assert last["week"].tolist() == [4] and last.index.tolist() == [0]
    assert list(last.columns) == list(ts.columns)


def test_end_of_run_per_group_keeps_each_runs_own_last_week():
    ts = pd.concat([weekly("a", 0, 5), weekly("a", 1, 3), weekly("b", 0, 4)], ignore_index=True)
    ts["scenario"] = ts["scenario"].astype("category")
    last = end_of_run(ts, ["scenario", "rep"])
    assert list(zip(last["scenario"], last["rep"], last["week"], strict=True)) == [("a", 0, 4), ("a", 1, 2),
                                                                                   ("b", 0, 3)]
    assert end_of_run(ts)["week"].tolist() == [4]  # without groups: the table's last week only


def test_end_of_run_names_missing_columns():
    with pytest.raises(ValueError, match="week"):
        end_of_run(pd.DataFrame({"value": [1.0]}))
    with pytest.raises(ValueError, match="rep"):
        end_of_run(weekly("a", 0, 2).drop(columns="rep"), ["scenario", "rep"])


def test_model_summary_is_the_end_of_run_of_its_timeseries():
    model = DigexModel(small_config(size=200, weeks=6), seed=1).run()
    summary = model.summary()
    assert list(summary.columns) == ["metric", "group_type", "group", "value"]
    expected = end_of_run(model.timeseries())
    assert (expected["week"] == 5).all()
    pd.testing.assert_frame_equal(summary, expected[["metric", "group_type", "group", "value"]])


def test_metric_order_follows_metrics_then_overall_then_groups_and_is_stable():
    first, second = list(METRICS)[:2]
    gtype = next(iter(GROUPS))
    g0, g1 = GROUPS[gtype][:2]
    frame = pd.DataFrame({
        "metric": ["unknown", second, first, first, second, first],
        "group_type": ["all", gtype, gtype, "all", "all", gtype],
        "group": ["all", g0, g1, "all", "all", g1],
        "scenario": ["x", "x", "x", "x", "x", "y"],
    }, index=[10, 11, 12, 13, 14, 15])
    out = metric_order(frame)
    assert list(zip(out["metric"], out["group"], out["scenario"], strict=True)) == [
        (first, "all", "x"), (first, g1, "x"), (first, g1, "y"), (second, "all", "x"), (second, g0, "x"),
        ("unknown", "all", "x")]
    assert out.index.tolist() == list(range(6))
    no_groups = metric_order(frame[["metric", "scenario"]])
    assert no_groups["metric"].tolist() == [first, first, first, second, second, "unknown"]
    assert no_groups["scenario"].tolist() == ["x", "x", "y", "x", "x", "x"]


def test_names_in_order_are_the_values_present_in_order_of_appearance():
    """Strings or a categorical: first appearance decides, not the category order; unused categories are not
    names."""
    assert names_in_order(pd.Series(["b", "a", "b", "c"])) == ["b", "a", "c"]
    column = pd.Series(pd.Categorical(["c", "a", "c"], categories=["a", "b", "c"]))
    assert names_in_order(column) == ["c", "a"]
