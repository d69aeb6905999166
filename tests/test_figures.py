"""The one figure style (sim/outputs/style.py) and the figures of run, compare, sweep and calibration drawn in it
(the dashboard's live plots: tests/test_app.py)."""

import ast
import datetime as dt
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
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
    assert interval_note(5) == ("line: mean, band: 95% interval over 5 replications with the calibrated point "
                                "values: simulation noise only, not parameter uncertainty")
    assert interval_note(3, "bars", "whiskers", posterior=True) == (
        "bars: mean, whiskers: 95% interval over 3 replications, each with its own posterior draw and seed: "
        "simulation noise and parameter uncertainty (an interval of the mean: single draws spread wider)")
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


def test_legend_below_lists_every_entry_at_any_count_and_grows_the_figure():
    _, (ax,) = new_figure(2)
    for i in range(3):
        ax.plot([0, 1], [i, i], label=f"scenario {i}")
    legend_below(ax)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["scenario 0", "scenario 1", "scenario 2"]
    fig, (crowded,) = new_figure(2)
    for i in range(40):
        crowded.plot([0, 1], [i, i], label=f"a rather long scenario name number {i}")
    legend_below(crowded)
    assert len(crowded.get_legend().get_texts()) == 40
    assert fig.get_figheight() > 2 + 10 * style.LEGEND_ROW  # two columns of 20 rows
    _, (empty,) = new_figure(2)
    legend_below(empty)
    assert empty.get_legend() is None


def test_legend_below_a_figure_needs_its_entries_and_cuts_long_labels():
    fig, (ax,) = new_figure(2)
    with pytest.raises(ValueError, match="handles and labels"):
        legend_below(fig)
    (line,) = ax.plot([0, 1], [0, 1])
    legend_below(fig, [line], ["x" * 200])
    (text,) = fig.legends[0].get_texts()
    assert len(text.get_text()) == style.LEGEND_LABEL and text.get_text().endswith("...")


def test_the_palette_is_okabe_ito_without_yellow_and_small_multiples_take_over_beyond_it():
    assert style.PALETTE == ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
    assert not style.many(len(style.PALETTE)) and style.many(len(style.PALETTE) + 1)
    few = figures.scenario_colours([f"s{i}" for i in range(7)])
    assert len(set(few.values())) == 7
    crowd = figures.scenario_colours([f"s{i}" for i in range(15)])
    assert len(crowd) == 15 and set(crowd.values()) == {style.HIGHLIGHT}


def test_multiples_give_one_panel_per_scenario_in_each_grid_and_hide_the_rest():
    fig, grids = style.multiples(5, ["first", "second"], ncols=3)
    assert [len(axes) for axes in grids] == [5, 5]
    assert sum(ax.get_visible() for ax in fig.axes) == 10 and len(fig.axes) == 12
    assert [sub._suptitle.get_text() for sub in fig.subfigs] == ["first", "second"]
    with pytest.raises(ValueError, match="at least one panel"):
        style.multiples(0, ["x"])


def test_mark_events_on_a_small_panel_names_the_event_in_the_legend():
    _, (ax,) = new_figure(2)
    mark_events(ax, [(dt.date(2014, 11, 1), "mandate starts")], above=False)
    assert not ax.texts and ax.get_legend_handles_labels()[1] == ["mandate starts (dashed)"]


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


# ------------------------------------------------------------------ comparison figures at any number of scenarios


WEEKS = pd.date_range("2012-01-02", periods=120, freq="7D")
WEEKLY_METRICS = ("exclusion_rate", "digital_share", "assisted_share", "trust_mean", "alienated_share", "population",
                  *(f"cost_{c}_dkk" for c in ("paper", "phone", "centre")))
END_METRICS = ("exclusion_rate", "cost_per_citizen_year_dkk", *figures.HELPER_USES)


def comparison_inputs(n: int, reps: int = 3) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """A comparison's end-of-run table and weekly summary for ``n`` scenarios whose values differ."""
    names = [f"policy alternative {i}" for i in range(n)]
    rows = []
    for i, s in enumerate(names):
        level = 0.1 + 0.01 * i
        for m in END_METRICS:
            value = level if m == "exclusion_rate" else 1000.0 + 50 * i
            rows.append((s, m, "all", "all", value))
        for gt in ("age_band", "skill_quintile"):
            rows += [(s, "exclusion_rate", gt, g, level * (1 + k / 10)) for k, g in enumerate(GROUPS[gt])]
    table = pd.DataFrame(rows, columns=["scenario", "metric", "group_type", "group", "mean"])
    table = table.assign(ci_low=table["mean"] * 0.9, ci_high=table["mean"] * 1.1, n_reps=reps)
    weekly = pd.DataFrame([(s, w, d, m, "all", "all", (5000.0 if m == "population" else 0.2 + 0.01 * i) * (1 + w / 500))
                           for i, s in enumerate(names) for m in WEEKLY_METRICS for w, d in enumerate(WEEKS)],
                          columns=["scenario", "week", "date", "metric", "group_type", "group", "mean"])
    weekly = weekly.assign(ci_low=weekly["mean"] * 0.95, ci_high=weekly["mean"] * 1.05, n_reps=reps)
    return table, weekly, names


def _drawn_colours(fig: Figure) -> set[str]:
    """Colours of the lines, bars and points that stand for scenarios in a figure's axes."""
    from matplotlib.colors import to_hex

    found = set()
    for ax in fig.axes:
        found |= {to_hex(line.get_color()).upper() for line in ax.get_lines() if line.get_linestyle() == "-"}
        found |= {to_hex(bar.get_facecolor()).upper() for bar in ax.patches if bar.get_width() < 1}
    return found


def _visible_panels(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.get_visible()]


MARKERS = [(dt.date(2014, 11, 1), "mandate starts")]


@pytest.mark.parametrize("n", [3, 7])
def test_up_to_seven_scenarios_share_axes_each_in_its_own_colour(n):
    table, weekly, names = comparison_inputs(n)
    drawn = figures.comparison_figures(table, weekly, names, MARKERS)
    for stem in ("exclusion_over_time", "exclusion_by_group", "digital_share_over_time", "trust_over_time",
                 "helper_time"):
        fig = drawn[stem]
        assert len(_visible_panels(fig)) <= 2, stem
        assert set(style.PALETTE[:n]) <= _drawn_colours(fig), stem
        (legend,) = fig.legends
        assert {t.get_text() for t in legend.get_texts()} >= set(names), f"{stem} does not name every scenario"


def test_fifteen_scenarios_get_small_multiples_one_named_panel_each():
    table, weekly, names = comparison_inputs(15)
    drawn = figures.comparison_figures(table, weekly, names, MARKERS)
    grids = {"exclusion_over_time": 1, "exclusion_by_group": 2, "digital_share_over_time": 2, "trust_over_time": 2,
             "helper_time": 1, "channel_cost_over_time": 1}
    for stem, count in grids.items():
        panels = _visible_panels(drawn[stem])
        assert len(panels) == 15 * count, stem
        assert [ax.get_title(loc="left") for ax in panels] == names * count, stem
        scenario_colours = _drawn_colours(drawn[stem]) & set(style.PALETTE)
        assert scenario_colours <= {style.HIGHLIGHT}, f"{stem} tells scenarios apart by colour"
    over_time = _visible_panels(drawn["exclusion_over_time"])[4]
    own, *others = [line for line in over_time.get_lines() if line.get_linestyle() == "-"][::-1]
    assert own.get_color() == style.HIGHLIGHT and len(others) == 14
    assert {line.get_color() for line in others} == {style.CONTEXT}
    assert not over_time.texts, "a small panel labels events above itself, where its title is"
    legend = {t.get_text() for t in drawn["exclusion_over_time"].legends[0].get_texts()}
    assert legend == {figures.OWN, figures.OTHERS, "first 52 weeks (window filling)", "mandate starts (dashed)"}


@pytest.mark.parametrize("n", [12, 15])
def test_cost_against_exclusion_names_every_scenario_with_the_pareto_front(n):
    table, weekly, names = comparison_inputs(n)
    fig = figures.cost_vs_exclusion(table, figures.scenario_colours(names))
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["Pareto front", *names]
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.texts] == [str(i + 1) for i in range(n)], "points are not numbered"


def test_cost_against_exclusion_colours_a_few_scenarios_and_numbers_only_the_front_of_a_crowd():
    table, _, names = comparison_inputs(3)
    fig = figures.cost_vs_exclusion(table, figures.scenario_colours(names))
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["Pareto front", *names]
    assert not fig.axes[0].texts
    table, _, names = comparison_inputs(figures.MAX_KEY + 5)
    fig = figures.cost_vs_exclusion(table, figures.scenario_colours(names))
    # exclusion and cost both rise with the index, so only the first scenario is on the front
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["Pareto front", names[0]]
    assert "34 others are in the tables" in fig.texts[-1].get_text()


def _cut_off(fig: Figure) -> list[str]:
    """What reaches outside the figure: an axes with its labels and tick labels, a legend, a grid's label."""
    canvas = FigureCanvasAgg(fig)  # as savefig draws it
    canvas.draw()
    renderer = canvas.get_renderer()
    box = fig.bbox.padded(1)
    parts = {f"axes {ax.get_title(loc='left') or ax.get_ylabel()!r}": ax.get_tightbbox(renderer)
             for ax in fig.axes if ax.get_visible()}
    parts |= {f"legend {i}": legend.get_window_extent(renderer) for i, legend in enumerate(fig.legends)}
    parts |= {f"label {sub._supylabel.get_text()!r}": sub._supylabel.get_window_extent(renderer)
              for sub in fig.subfigs if sub._supylabel is not None}
    return [name for name, extent in parts.items()
            if not (box.x0 <= extent.x0 and extent.x1 <= box.x1 and box.y0 <= extent.y0 and extent.y1 <= box.y1)]


@pytest.mark.parametrize("n", [2, 15])
def test_no_label_is_cut_off(n):
    table, weekly, names = comparison_inputs(n)
    for stem, fig in figures.comparison_figures(table, weekly, names, MARKERS).items():
        assert not _cut_off(fig), f"{stem}: {_cut_off(fig)}"


def test_one_replication_draws_no_whiskers():
    table, _, names = comparison_inputs(3, reps=1)
    fig = figures.exclusion_by_group(table, figures.scenario_colours(names))
    assert not any(ax.collections for ax in fig.axes), "whiskers drawn for a single replication"


# ------------------------------------------------------------------ sweep figures


def sweep_summary(settings: list[dict], reps: int = 2) -> pd.DataFrame:
    """A sweep's summary.csv: overall exclusion and cost per point with the given settings."""
    rows = []
    for point, values in enumerate(settings):
        for metric, mean in (("exclusion_rate", 0.1 + 0.01 * point), ("cost_per_citizen_year_dkk", 900 - 10 * point)):
            rows.append({"point": point, **values, "metric": metric, "group_type": "all", "group": "all",
                         "mean": mean, "ci_low": mean * 0.9, "ci_high": mean * 1.1, "n_reps": reps})
    return pd.DataFrame(rows)


def test_sweep_points_are_named_by_their_settings():
    keys = ["policy.centre.helpers_per_10k", "policy.centre.self_help_share"]
    grid = [{keys[0]: h, keys[1]: s} for h in (1.0, 4.0) for s in (0.1, 0.5, 0.9)]
    summary = sweep_summary(grid)
    labels = figures.point_labels(summary, keys)
    assert labels.iloc[0] == "helpers_per_10k=1, self_help_share=0.1"
    assert "helpers_per_10k=4, self_help_share=0.5" in set(labels)
    drawn = figures.sweep_figures(summary, keys)
    assert list(drawn) == ["sweep_effects", "cost_vs_exclusion"]
    legend = [t.get_text() for t in drawn["cost_vs_exclusion"].legends[0].get_texts()]
    assert legend == ["Pareto front", *dict.fromkeys(labels)]
    assert "no other point is both cheaper" in drawn["cost_vs_exclusion"].texts[-1].get_text()
    assert not any("point 0" in text for text in legend)


def test_sweep_labels_keep_clashing_names_apart():
    keys = ["policy.centre.helpers_per_10k", "policy.phone.helpers_per_10k"]
    summary = sweep_summary([{keys[0]: 1.00001, keys[1]: 2}, {keys[0]: 1.00002, keys[1]: 2}, {keys[0]: 3, keys[1]: 2}])
    labels = list(dict.fromkeys(figures.point_labels(summary, keys)))
    assert labels == ["policy.centre.helpers_per_10k=1, policy.phone.helpers_per_10k=2 (point 0)",
                      "policy.centre.helpers_per_10k=1, policy.phone.helpers_per_10k=2 (point 1)",
                      "policy.centre.helpers_per_10k=3, policy.phone.helpers_per_10k=2"]
    assert list(figures.point_labels(sweep_summary([{}]), [])) == ["base", "base"]


def test_sampled_sweep_values_show_three_significant_digits():
    keys = ["policy.optout.awareness"]
    labels = figures.point_labels(sweep_summary([{keys[0]: 0.123456789}]), keys)
    assert set(labels) == {"awareness=0.123"}


def test_sweep_figures_cut_off_no_label_at_any_size():
    keys = ["policy.centre.helpers_per_10k", "policy.centre.self_help_share", "policy.optout.rule"]
    grid = [{keys[0]: h, keys[1]: s, keys[2]: r}
            for h in (1.0, 4.0) for s in (0.1, 0.9) for r in ("remote", "in_person")]
    drawn = figures.sweep_figures(sweep_summary(grid), keys)
    for stem, fig in drawn.items():
        assert not _cut_off(fig), f"{stem}: {_cut_off(fig)}"
    assert len(drawn["cost_vs_exclusion"].axes[0].texts) == 8  # 8 points: numbered, named in the key


def test_exclusion_components_one_panel_per_age_band_with_every_component():
    """The decomposition draws the first scenario's headline and three components, overall and by age band."""
    names = ["base", "other"]
    groups = [figures.OVERALL, *(("age_band", b) for b in GROUPS["age_band"])]
    rows = [(s, w, d, m, gt, g, 0.05 * (k + 1) * (1 + i))
            for i, s in enumerate(names) for k, m in enumerate(figures.COMPONENTS) for gt, g in groups
            for w, d in enumerate(WEEKS)]
    weekly = pd.DataFrame(rows, columns=["scenario", "week", "date", "metric", "group_type", "group", "mean"])
    weekly = weekly.assign(ci_low=weekly["mean"] * 0.9, ci_high=weekly["mean"] * 1.1, n_reps=3)
    fig = figures.exclusion_components(weekly, "base", MARKERS)
    panels = _visible_panels(fig)
    assert [ax.get_title(loc="left") for ax in panels] == ["all aged 15+", *(f"aged {b}" for b in GROUPS["age_band"])]
    for ax in panels:
        lines = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
        assert len(lines) == len(figures.COMPONENTS)
        assert max(line.get_ydata().max() for line in lines) <= 20.0 + 1e-9  # the first scenario only, in %
    legend = {t.get_text() for t in fig.legends[0].get_texts()}
    assert set(figures.COMPONENTS.values()) <= legend


def test_a_one_key_sweep_shows_exclusion_by_skill_quintile():
    """Warm vs cold hands: one line per skill quintile against the varied key (only for a sweep of one key)."""
    key = "policy.centre.self_help_share"
    summary = sweep_summary([{key: s} for s in (0.0, 0.5, 1.0)])
    quintiles = GROUPS["skill_quintile"]
    rows = [{"point": i, key: s, "metric": "exclusion_rate", "group_type": "skill_quintile", "group": q,
             "mean": 0.05 * (5 - k) - 0.02 * s * (k == 0), "ci_low": 0.0, "ci_high": 0.3, "n_reps": 2}
            for i, s in enumerate((0.0, 0.5, 1.0)) for k, q in enumerate(quintiles)]
    summary = pd.concat([summary, pd.DataFrame(rows)], ignore_index=True)
    drawn = figures.sweep_figures(summary, [key])
    assert list(drawn) == ["sweep_effects", "cost_vs_exclusion", "sweep_by_skill"]
    (ax,) = _visible_panels(drawn["sweep_by_skill"])
    lines = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
    assert len(lines) == len(quintiles)
    assert list(lines[0].get_ydata()) == pytest.approx([25.0, 24.0, 23.0])  # the lowest quintile, in per cent
    assert {t.get_text() for t in drawn["sweep_by_skill"].legends[0].get_texts()} == set(quintiles)
    assert list(figures.sweep_figures(sweep_summary([{key: 0.1}, {key: 0.9}]), [key])) == [
        "sweep_effects", "cost_vs_exclusion"]  # no group rows: no figure by quintile


def test_exclusion_components_share_an_axis_that_holds_every_panel():
    """The panels share the y axis; it must reach the highest group (the old), not the first panel's top."""
    groups = [figures.OVERALL, *(("age_band", b) for b in GROUPS["age_band"])]
    rows = [("base", w, d, m, gt, g, 0.1 + 0.5 * (g == "80+"))
            for m in figures.COMPONENTS for gt, g in groups for w, d in enumerate(WEEKS)]
    weekly = pd.DataFrame(rows, columns=["scenario", "week", "date", "metric", "group_type", "group", "mean"])
    weekly = weekly.assign(ci_low=weekly["mean"] * 0.9, ci_high=weekly["mean"] * 1.1, n_reps=3)
    fig = figures.exclusion_components(weekly, "base")
    assert all(ax.get_ylim()[1] >= 66.0 for ax in _visible_panels(fig))  # 60% plus its interval, in per cent
