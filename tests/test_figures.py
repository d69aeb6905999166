"""The one figure style (sim/outputs/style.py) and the figures of run, calibration and dashboard drawn in it."""

import ast
import datetime as dt
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import dates as mdates
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from sim.model.metrics import GROUPS, WINDOW
from sim.outputs import figures, style
from sim.outputs.calibration_figures import age_label, write_calibration_figures
from sim.outputs.style import interval_note, legend_below, mark_events, new_figure, percent_axis, shade_warmup

SIM = Path(__file__).resolve().parent.parent / "sim"
DATES = pd.date_range("2013-01-07", periods=80, freq="7D")


# ------------------------------------------------------------------ no pyplot anywhere


def _pyplot_uses(path: Path) -> list[str]:
    """Imports of matplotlib.pyplot and calls of matplotlib.use in a source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name == "matplotlib.pyplot"]
        elif isinstance(node, ast.ImportFrom) and node.module in ("matplotlib", "matplotlib.pyplot"):
            found += [f"{node.module}.{a.name}" for a in node.names
                      if node.module == "matplotlib.pyplot" or a.name == "pyplot"]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "use"
              and isinstance(node.func.value, ast.Name) and node.func.value.id == "matplotlib"):
            found.append("matplotlib.use()")
    return found


@pytest.mark.parametrize("path", sorted(SIM.rglob("*.py")), ids=lambda p: str(p.relative_to(SIM.parent)))
def test_no_module_uses_pyplot_or_sets_the_backend(path: Path):
    assert not _pyplot_uses(path), f"{path.name} draws through pyplot or sets the backend: {_pyplot_uses(path)}"


def test_the_pyplot_check_finds_each_form(tmp_path: Path):
    bad = tmp_path / "bad.py"
    bad.write_text("import matplotlib\nimport matplotlib.pyplot as plt\nfrom matplotlib import pyplot\n"
                   "def f():\n    matplotlib.use('Agg')\n")
    assert _pyplot_uses(bad) == ["matplotlib.pyplot", "matplotlib.pyplot", "matplotlib.use()"]


# ------------------------------------------------------------------ style helpers


def test_new_figure_is_a4_wide_with_a_flat_array_of_axes():
    fig, axes = new_figure(3.0, ncols=2, nrows=2)
    assert isinstance(fig, Figure) and axes.shape == (4,)
    assert tuple(fig.get_size_inches()) == (style.WIDTH, 3.0) and fig.dpi == style.DPI


@pytest.mark.parametrize("kw", [{"height": 0}, {"height": 2, "ncols": 0}, {"height": 2, "nrows": 0}])
def test_new_figure_refuses_an_empty_figure(kw):
    with pytest.raises(ValueError, match="positive height"):
        new_figure(**kw)


def test_percent_axis_labels_the_unit_and_runs_from_zero_to_at_most_100():
    _, (ax,) = new_figure(2)
    ax.plot([0, 1], [20, 130])
    percent_axis(ax, "citizens excluded", of="population 15+")
    assert ax.get_ylabel() == "citizens excluded (% of population 15+)"
    assert ax.get_ylim() == (0, 100)
    _, (ax,) = new_figure(2)
    ax.plot([5, 30], [0, 1])
    percent_axis(ax, "excluded", axis="x", top=50)
    assert ax.get_xlabel() == "excluded (%)" and ax.get_xlim() == (0, 50)


def test_percent_axis_keeps_a_lower_top_where_the_data_end():
    _, (ax,) = new_figure(2)
    ax.plot([0, 1], [2, 12])
    percent_axis(ax, "share")
    assert ax.get_ylim()[0] == 0 and 12 <= ax.get_ylim()[1] < 20


@pytest.mark.parametrize(("kw", "message"), [({"axis": "z"}, "axis must be"), ({"top": 0}, "top must be above 0")])
def test_percent_axis_rejects_a_bad_axis_or_top(kw, message):
    _, (ax,) = new_figure(2)
    with pytest.raises(ValueError, match=message):
        percent_axis(ax, "share", **kw)


def test_interval_note_says_when_there_is_no_interval():
    assert interval_note(5) == "line: mean, band: 95% interval over 5 replications"
    assert interval_note(3, "bars", "whiskers") == "bars: mean, whiskers: 95% interval over 3 replications"
    assert "no interval" in interval_note(1) and "no interval" in interval_note(0)


def test_events_are_dashed_lines_labelled_above_the_axes():
    _, (ax,) = new_figure(2)
    mark_events(ax, [(dt.date(2014, 11, 1), "mandate starts")])
    (line,) = ax.get_lines()
    assert line.get_linestyle() == "--"
    (label,) = ax.texts
    assert label.get_text() == "mandate starts" and label.get_position()[1] == 1.0 and not label.get_in_layout()


def test_warmup_shades_the_first_52_weeks_and_says_so_in_the_legend():
    _, (ax,) = new_figure(2)
    shade_warmup(ax, list(DATES[::-1]) * 2)  # unsorted, repeated dates
    (span,) = ax.patches
    assert (span.get_x(), span.get_x() + span.get_width()) == tuple(mdates.date2num([DATES[0], DATES[WINDOW - 1]]))
    assert ax.get_legend_handles_labels()[1] == ["first 52 weeks (window filling)"]
    _, (ax,) = new_figure(2)
    shade_warmup(ax, DATES[:1])
    assert not ax.patches


def test_legend_below_is_left_out_when_it_would_be_too_long():
    _, (ax,) = new_figure(2)
    for i in range(3):
        ax.plot([0, 1], [i, i], label=f"scenario {i}")
    legend_below(ax)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["scenario 0", "scenario 1", "scenario 2"]
    _, (crowded,) = new_figure(2)
    for i in range(3):
        crowded.plot([0, 1], [i, i], label=f"point {i}")
    legend_below(crowded, most=2)
    _, (empty,) = new_figure(2)
    legend_below(empty)
    assert crowded.get_legend() is None and empty.get_legend() is None


# ------------------------------------------------------------------ saving


def test_save_figure_writes_png_and_svg_atomically_with_the_umask(tmp_path: Path):
    fig, (ax,) = new_figure(2)
    ax.plot([0, 1], [0, 1])
    old = os.umask(0o027)
    try:
        paths = figures.save_figure(fig, tmp_path / "plots", "line", svg=True)
    finally:
        os.umask(old)
    assert [p.name for p in paths] == ["line.png", "line.svg"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and b"<svg" in paths[1].read_bytes()[:500]
    assert all(p.stat().st_mode & 0o777 == 0o640 for p in paths)
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["line.png", "line.svg"]


def test_save_figure_leaves_nothing_when_drawing_fails(tmp_path: Path, monkeypatch):
    def broken(fig, fmt="png"):
        raise RuntimeError("cannot draw")

    monkeypatch.setattr(figures, "figure_bytes", broken)
    with pytest.raises(RuntimeError):
        figures.save_figure(Figure(), tmp_path, "x")
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------ figures of digex run


def run_timeseries(scenarios=("base", "other"), reps: int = 2) -> pd.DataFrame:
    """A timeseries.parquet-like frame: overall exclusion rate per scenario, replication and week."""
    rows = []
    for si, s in enumerate(scenarios):
        for r in range(reps):
            for w, d in enumerate(DATES):
                rows.append((s, r, w, d, "exclusion_rate", "all", "all", 0.1 + 0.05 * si + 0.01 * r))
    ts = pd.DataFrame(rows, columns=["scenario", "rep", "week", "date", "metric", "group_type", "group", "value"])
    return ts.astype({"scenario": pd.CategoricalDtype(list(scenarios))})


def by_age(scenarios=("base", "other")) -> pd.DataFrame:
    """A summary_by_group.csv-like frame of end-of-run exclusion by age band."""
    return pd.DataFrame([(s, "age_band", g, "exclusion_rate", 0.2, 0.1, 0.3) for s in scenarios
                         for g in GROUPS["age_band"]],
                        columns=["scenario", "group_type", "group", "metric", "mean", "ci_low", "ci_high"])


def test_weekly_overall_summarises_replications_per_scenario_and_week():
    weekly = figures.weekly_overall(run_timeseries(), "exclusion_rate")
    assert len(weekly) == 2 * len(DATES) and set(weekly["n_reps"]) == {2}
    base = weekly[weekly["scenario"] == "base"]
    assert np.allclose(base["mean"], 0.105) and (base["ci_low"] < base["mean"]).all()
    assert set(weekly["metric"]) == {"exclusion_rate"} and set(weekly["group_type"]) == {"all"}


def test_run_figures_are_drawn_in_the_house_style(tmp_path: Path):
    drawn = figures.run_figures(run_timeseries(), by_age(), [(DATES[60], "mandate starts")])
    assert list(drawn) == ["exclusion_over_time", "exclusion_by_age"]
    over_time, ages = drawn.values()
    assert over_time.get_suptitle().startswith("How many citizens are excluded")
    (ax,) = over_time.axes
    assert ax.get_ylabel() == "citizens excluded (% of population 15+)"
    assert [t.get_text() for t in ax.texts] == ["mandate starts"]
    assert ax.patches, "the warm-up is not shaded"
    assert [line.get_color() for line in ax.get_lines()[:2]] == list(style.PALETTE[:2])
    assert np.isclose(ax.get_lines()[0].get_ydata()[0], 10.5)  # per cent
    assert ages.axes[0].get_ylabel() == "excluded (% of group)"
    assert [t.get_text() for t in ages.axes[0].get_xticklabels()] == list(GROUPS["age_band"])


def test_write_run_figures_keeps_the_file_names_of_digex_run(tmp_path: Path):
    names = figures.write_run_figures(tmp_path, run_timeseries(reps=1), by_age())
    assert names == ["exclusion_over_time.png", "exclusion_by_age.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


# ------------------------------------------------------------------ calibration figures


def calibration_inputs():
    """Targets, observations, statistics and time series of a report run of two replications."""
    from sim.experiments.calibration import Target

    when = dt.date(2023, 5, 15)
    groups = ((15, 64), (65, 79), (80, 120))
    profile = Target("challenged_by_age", "Statistics Denmark", "digitally_challenged_share", 0.0, 0.01, (when,),
                     kind="at_least", age_groups=groups)
    oldest = Target("challenged_80_89", "Statistics Denmark", "digitally_challenged_share", 0.75, 0.03, (when,),
                    kind="at_least", ages=(80, 89))
    exempt = Target("exempt_2023", "Digitaliseringsstyrelsen", "exempt_share", 0.065, 0.01, (when,))
    enrolled = Target("enrolled_2015_2020", "Digitaliseringsstyrelsen", "enrolled_share", 0.85, 0.02,
                      (dt.date(2015, 6, 1), dt.date(2020, 6, 1)), kind="at_least", aggregate="min", required=False)
    observations = [{(("digitally_challenged_share", None, g), when): 0.1 * (i + 1) + 0.01 * r
                     for i, g in enumerate(groups)} for r in range(2)]
    values = {"challenged_80_89": np.array([0.7, 0.8]), "challenged_by_age": np.array([0.1, 0.1]),
              "exempt_2023": np.array([0.06, 0.07]), "enrolled_2015_2020": np.array([0.9, 0.9])}
    dates = pd.date_range("2012-01-02", "2024-12-30", freq="7D")
    series = [pd.concat([pd.DataFrame({"date": dates, "metric": m, "group_type": "all", "value": v + 0.01 * r})
                         for m, v in (("enrolled_share", 0.9), ("exempt_share", 0.06))]) for r in range(2)]
    return [profile, oldest, exempt, enrolled], observations, values, series


def test_age_label_shows_an_open_upper_end():
    assert age_label((80, 89)) == "80-89" and age_label((80, 120)) == "80+"


def test_calibration_figures_are_written_in_the_house_style(tmp_path: Path):
    from sim.outputs.calibration_figures import challenged_by_age, digital_post

    targets, observations, values, series = calibration_inputs()
    names = write_calibration_figures(tmp_path, targets, observations, values, series,
                                      [(dt.date(2014, 11, 1), "mandate starts")])
    assert names == ["challenged_by_age.png", "digital_post.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
    ax = challenged_by_age(targets, observations, values).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["15-64", "65-79", "80+", "80-89"]
    assert ax.get_ylabel() == "digitally challenged (% of age group)" and ax.get_ylim() == (0, 100)
    assert np.isclose(ax.patches[0].get_height(), 10.5)  # mean of 10% and 11%, in per cent
    top, bottom = digital_post(targets, series, [(dt.date(2014, 11, 1), "mandate starts")]).axes
    assert top.get_ylabel() == "enrolled (% of citizens 15+)"
    assert bottom.get_ylabel() == "exempt (% of citizens 15+)"
    assert [t.get_text() for t in top.texts] == ["mandate starts"]
    assert any(isinstance(c, LineCollection) for c in top.collections), "the bound over a period is not drawn"


# ------------------------------------------------------------------ dashboard


def test_dashboard_plot_uses_the_house_palette_size_and_percent_axis():
    from sim.app import PLOTS, DashboardModel, model_params, plot_figure
    from tests.conftest import small_config

    cls = DashboardModel.for_scenario(small_config(size=300, weeks=30), size=300, seed=1)
    model = cls(**{k: v["value"] for k, v in model_params(cls.base).items()})
    for _ in range(5):
        model.step()
    title, kind, series = PLOTS[0]
    assert kind == "share"
    fig = plot_figure(model, title, kind, series)
    (ax,) = fig.axes
    assert tuple(fig.get_size_inches()) == (style.WIDTH, style.SCREEN_HEIGHT) and fig.dpi == style.SCREEN_DPI
    assert ax.get_ylabel() == "share (%)" and ax.get_ylim()[0] == 0
    colours = {line.get_color() for line in ax.get_lines()[: 2 * len(series)]}
    assert colours == set(style.PALETTE[: len(series)])
