"""Figures of a run (``digex run``), a comparison (``digex compare``) and a sweep (``digex sweep``).

All are drawn in the one style of ``sim.outputs.style``: the title states the
question a figure answers, axes carry units (shares in per cent), a scenario
keeps one colour in every figure (``scenario_colours``), time axes mark the
mandate start and shade the first 52 weeks of windowed measures. Intervals
are 95% intervals over replications (``sim.experiments.stats``), drawn only
with two or more replications; the line under each title says which
uncertainty they cover (``_note``: simulation noise only, or with
``--posterior K`` parameter uncertainty too).

Up to ``len(PALETTE)`` scenarios are told apart by colour in shared axes;
with more (``style.many``), every figure draws small multiples, one panel per
scenario over the others in grey, and the cost-against-exclusion figure
numbers its points and names them in a key. Sweep points are named by their
settings (``point_labels``).

Inputs are summary tables: a weekly summary (mean and interval per scenario,
metric, group and week, as ``timeseries_summary.parquet`` of a comparison or
``weekly_overall`` of a run's time series) and an end-of-run table (mean and
interval per scenario, metric and group). ``save_figure`` writes a figure
atomically (``sim.atomic``).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.atomic import write_bytes
from sim.experiments.stats import interval_covers, summarise
from sim.model.costs import COST_CHANNELS
from sim.model.metrics import GROUPS, METRICS, OVERALL
from sim.model.series import names_in_order
from sim.outputs.format import fmt_setting
from sim.outputs.style import (
    CONTEXT,
    DPI,
    HIGHLIGHT,
    PALETTE,
    PERCENT,
    SMALL_DATE_TICKS,
    add_title,
    date_axis,
    interval_note,
    label_grid,
    legend_below,
    many,
    mark_events,
    multiples,
    name_panel,
    new_figure,
    percent_axis,
    shade_warmup,
    styled,
)

CHANNEL_COLOURS = dict(zip(COST_CHANNELS, ("#4C72B0", "#64B5CD", "#C44E52", "#DD8452", "#8172B3", "#55A868",
                                           "#CCB974", "#937860", "#8C8C8C"), strict=True))
"""Colours of cost channels (a set apart from PALETTE: channels are not scenarios)."""

Markers = Sequence[tuple[object, str]]
"""Dated events to mark on time axes: (date, label)."""

Bars = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
"""Per scenario, the mean, low and high end of its interval for each category of a bar chart, as drawn."""

OWN = "the panel's scenario"
"""Legend label of a small-multiple panel's own scenario."""

OTHERS = "the other scenarios"
"""Legend label of the other scenarios drawn grey behind a small-multiple panel's own."""

MAX_KEY = 30
"""Most points of a cost-against-exclusion figure numbered and named in its key; with more, only the points on
the Pareto front are (the others are in the tables)."""


def scenario_colours(names: Sequence[str]) -> dict[str, str]:
    """One colour per scenario, by position, so a scenario looks the same in every figure.

    Beyond ``len(PALETTE)`` scenarios (``style.many``) every scenario gets
    HIGHLIGHT: the figures then draw one panel per scenario instead.
    """
    names = list(dict.fromkeys(names))
    return dict.fromkeys(names, HIGHLIGHT) if many(len(names)) else dict(zip(names, PALETTE, strict=False))


def _overall(weekly: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Weekly overall rows of one metric."""
    return weekly[(weekly["metric"] == metric) & (weekly["group_type"] == OVERALL[0])]


def _n_reps(frame: pd.DataFrame) -> int:
    """The largest replication count in a summary table."""
    return int(frame["n_reps"].max()) if len(frame) else 0


def _note(frame: pd.DataFrame, centre: str = "line", spread: str = "band") -> str:
    """``style.interval_note`` for a summary table: its replications, and whether its intervals cover parameter
    uncertainty (its ``interval_covers`` column, ``sim.experiments.stats.interval_covers``; without the column,
    simulation noise only)."""
    posterior = "interval_covers" in frame and bool((frame["interval_covers"] == interval_covers(True)).any())
    return interval_note(_n_reps(frame), centre, spread, posterior)


def _figure_legend(fig: Figure, ax: Axes) -> None:
    """The legend of ``ax``'s entries below the whole figure (every panel of a figure shares them)."""
    legend_below(fig, *ax.get_legend_handles_labels())


# ------------------------------------------------------------------ over time


@dataclass(frozen=True)
class Panel:
    """One metric over time: what its axis says (``quantity``, and for a share of what: ``of``), whether it
    covers the last 52 weeks (``windowed``: its warm-up is shaded) and where a share axis ends (``top``)."""

    metric: str
    quantity: str
    of: str | None = None
    windowed: bool = False
    top: float | None = None

    @property
    def scale(self) -> float:
        """Factor from the metric's values to the axis: per cent for shares."""
        return PERCENT if METRICS[self.metric].unit == "share" else 1.0

    def label(self, ax: Axes) -> None:
        """Label the y axis (a percentage axis for a share) after drawing."""
        if self.scale == PERCENT:
            percent_axis(ax, self.quantity, of=self.of, top=self.top)
        else:
            ax.set_ylabel(self.quantity)


def _line(ax: Axes, rows: pd.DataFrame, colour: str, scale: float, label: str | None) -> None:
    """Weekly mean as a line and its 95% interval as a band (none where the interval is missing)."""
    x = pd.to_datetime(rows["date"])
    ax.plot(x, rows["mean"] * scale, color=colour, lw=1.6, label=label, zorder=3)
    ax.fill_between(x, rows["ci_low"] * scale, rows["ci_high"] * scale, color=colour, alpha=0.18, lw=0, zorder=2)


def _time_furniture(ax: Axes, weekly: pd.DataFrame, panel: Panel, markers: Markers, above: bool) -> None:
    """Date ticks, the shaded warm-up of a windowed metric, the dated events (labelled ``above`` the axes, else
    in the legend, on a small panel) and the y label."""
    date_axis(ax, 7 if above else SMALL_DATE_TICKS)
    if panel.windowed:
        shade_warmup(ax, weekly["date"])
    mark_events(ax, markers, above)
    panel.label(ax)


def _time_panel(ax: Axes, weekly: pd.DataFrame, panel: Panel, colours: dict[str, str], markers: Markers) -> None:
    """One metric over time, every scenario in its own colour in the same axes."""
    data = _overall(weekly, panel.metric)
    for s, colour in colours.items():
        d = data[data["scenario"] == s]
        if not d.empty:
            _line(ax, d, colour, panel.scale, s)
    _time_furniture(ax, weekly, panel, markers, above=True)


def _time_multiples(axes: Sequence[Axes], weekly: pd.DataFrame, panel: Panel, names: Sequence[str],
                    markers: Markers) -> None:
    """One metric over time, one panel per scenario: its line and band over the others' lines in grey."""
    data = _overall(weekly, panel.metric)
    rows = {s: data[data["scenario"] == s] for s in names}
    for ax, s in zip(axes, names, strict=True):
        others = [o for o in names if o != s and not rows[o].empty]
        for i, o in enumerate(others):
            ax.plot(pd.to_datetime(rows[o]["date"]), rows[o]["mean"] * panel.scale, color=CONTEXT, lw=0.6,
                    zorder=1, label=OTHERS if i == 0 else None)
        if not rows[s].empty:
            _line(ax, rows[s], HIGHLIGHT, panel.scale, OWN)
        name_panel(ax, s)
        _time_furniture(ax, weekly, panel, markers, above=False)
    label_grid(axes)


def _time_figure(weekly: pd.DataFrame, colours: dict[str, str], markers: Markers, panels: Sequence[Panel],
                 height: float) -> Figure:
    """Metrics over time side by side, every scenario in the same axes; or, for many scenarios, a grid of
    small multiples per metric (headed by its quantity when there are several)."""
    names = list(colours)
    if many(len(names)):
        headings = [p.quantity for p in panels] if len(panels) > 1 else [""]
        fig, grids = multiples(len(names), headings)
        for axes, panel in zip(grids, panels, strict=True):
            _time_multiples(axes, weekly, panel, names, markers)
        _figure_legend(fig, grids[0][0])
        return fig
    fig, axes = new_figure(height, ncols=len(panels))
    for ax, panel in zip(axes, panels, strict=True):
        _time_panel(ax, weekly, panel, colours, markers)
    _figure_legend(fig, axes[0])
    return fig


EXCLUDED = Panel("exclusion_rate", "citizens excluded", of="population 15+", windowed=True)
"""The exclusion rate over time."""


@styled
def exclusion_over_time(weekly: pd.DataFrame, colours: dict[str, str], markers: Markers = ()) -> Figure:
    """Exclusion rate over time, mean and 95% band per scenario."""
    fig = _time_figure(weekly, colours, markers, [EXCLUDED], 4.2)
    add_title(fig, "How many citizens are excluded, and when?",
              "Share with a failed procedure or a missed letter with a consequence in the last year; "
              f"{_note(_overall(weekly, 'exclusion_rate'))}")
    return fig


@styled
def digital_share_over_time(weekly: pd.DataFrame, colours: dict[str, str], markers: Markers = ()) -> Figure:
    """Share of own procedures done by self-service alone, and share of citizens who only managed with help."""
    panels = [Panel("digital_share", "done by self-service alone", "own procedures", windowed=True, top=PERCENT),
              Panel("dependent_share", "only managed with help", "citizens with a procedure", windowed=True,
                    top=PERCENT)]
    fig = _time_figure(weekly, colours, markers, panels, 3.8)
    add_title(fig, "How do citizens get things done? Self-service and assisted contact",
              f"Last year; {_note(_overall(weekly, 'digital_share'))}")
    return fig


@styled
def trust_over_time(weekly: pd.DataFrame, colours: dict[str, str], markers: Markers = ()) -> Figure:
    """Mean trust and the alienated share over time, mean and 95% band per scenario."""
    panels = [Panel("trust_mean", "mean trust in public digital services (0-1)"),
              Panel("alienated_share", "alienated: trust below threshold", "citizens")]
    fig = _time_figure(weekly, colours, markers, panels, 3.8)
    add_title(fig, "Does digital by default erode trust?",
              _note(_overall(weekly, "trust_mean")).capitalize())
    return fig


COMPONENTS = {"exclusion_rate": "excluded (any of the below)",
              "failed_procedure_share": "a procedure failed",
              "missed_letter_share": "missed a letter with a consequence",
              "lost_benefit_share": "lost a benefit claim"}
"""Headline exclusion and its components (docs/ODD.md section 7.15), with their legend labels."""

COMPONENT_PANELS = (OVERALL, *(("age_band", band) for band in GROUPS["age_band"]))
"""The panels of the decomposition: everyone, then each age band."""


@styled
def exclusion_components(weekly: pd.DataFrame, scenario: str, markers: Markers = ()) -> Figure:
    """Exclusion and its components over time for one scenario, overall and by age band (small multiples).

    Components overlap (a citizen may both miss a letter and fail a procedure), so they do not add up to
    the headline; a lost benefit is also a failed procedure.
    """
    data = weekly[(weekly["scenario"] == scenario) & weekly["metric"].isin(COMPONENTS)]
    headings = ["all aged 15+" if g == OVERALL else f"aged {g[1]}" for g in COMPONENT_PANELS]
    fig, (axes,) = multiples(len(COMPONENT_PANELS), [""], ncols=3)
    colours = dict(zip(COMPONENTS, ("#000000", *PALETTE[:3]), strict=True))
    highest = data[["mean", "ci_high"]].max().max() if len(data) else 0.0
    top = min(PERCENT, 1.05 * highest * PERCENT) if highest > 0 else None  # panels share it: set once for all
    for ax, (gtype, group), heading in zip(axes, COMPONENT_PANELS, headings, strict=True):
        rows = data[(data["group_type"] == gtype) & (data["group"] == group)]
        for metric, label in COMPONENTS.items():
            d = rows[rows["metric"] == metric]
            if not d.empty:
                _line(ax, d, colours[metric], PERCENT, label)
        name_panel(ax, heading)
        date_axis(ax, SMALL_DATE_TICKS)
        shade_warmup(ax, data["date"])
        mark_events(ax, markers, above=False)
        percent_axis(ax, "citizens", of="the group", top=top)
    label_grid(axes)
    _figure_legend(fig, axes[0])
    add_title(fig, f"What is exclusion made of, and for whom? ({scenario})",
              "Share of each group with each kind of exclusion event in the last year; components overlap, so "
              f"they do not add up to the headline; {_note(data)}")
    return fig


# ------------------------------------------------------------------ bars by category


def _whiskers(mean: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Error bar lengths below and above each mean (0 where the interval is missing)."""
    return np.clip(np.nan_to_num(np.vstack([mean - low, high - mean])), 0, None)


ERROR_STYLE = {"elinewidth": 0.8, "capsize": 1.5}
"""How whiskers are drawn on bars."""


def _grouped_bars(ax: Axes, bars: Bars, categories: Sequence[str], colours: dict[str, str], intervals: bool) -> None:
    """A cluster of bars per category, one bar per scenario in its colour, with whiskers if ``intervals``."""
    width = 0.8 / max(len(bars), 1)
    x = np.arange(len(categories))
    for i, (s, (mean, low, high)) in enumerate(bars.items()):
        ax.bar(x + (i - (len(bars) - 1) / 2) * width, mean, width, color=colours[s], label=s,
               yerr=_whiskers(mean, low, high) if intervals else None, error_kw=ERROR_STYLE)
    ax.set_xticks(x, categories)


UPRIGHT_LABELS = 5
"""Most category labels written level under a small-multiple panel; more are turned upright to fit."""


def _bar_multiples(axes: Sequence[Axes], bars: Bars, categories: Sequence[str], intervals: bool) -> None:
    """One panel per scenario: its bars (with whiskers if ``intervals``), the other scenarios' means as grey
    ticks across them; categories are named by the first line of their labels."""
    x = np.arange(len(categories))
    for ax, (s, (mean, low, high)) in zip(axes, bars.items(), strict=True):
        ax.bar(x, mean, 0.6, color=HIGHLIGHT, label=OWN, yerr=_whiskers(mean, low, high) if intervals else None,
               error_kw=ERROR_STYLE, zorder=2)
        others = np.array([m for o, (m, _, _) in bars.items() if o != s]).reshape(-1, len(categories))
        for i, row in enumerate(others):
            ax.plot(x, row, ls="none", marker="_", ms=7, mew=0.9, color=CONTEXT, zorder=3,
                    label=OTHERS if i == 0 else None)
        ax.set_xticks(x, [c.split("\n")[0] for c in categories], fontsize=6.5,
                      rotation=90 if len(categories) > UPRIGHT_LABELS else 0)
        name_panel(ax, s)


@dataclass(frozen=True)
class BarPanel:
    """One axes of bars: each scenario's ``bars`` over ``categories``, what labels the axes after drawing
    (``label(ax)``), and the ``heading`` of its grid when the figure draws small multiples."""

    heading: str
    bars: Bars
    categories: Sequence[str]
    label: Callable[[Axes], None]


def _bar_figure(panels: Sequence[BarPanel], colours: dict[str, str], intervals: bool, height: float) -> Figure:
    """Bars per category, one axes per panel stacked top to bottom; or, for many scenarios, one grid of small
    multiples per panel (whiskers if ``intervals``)."""
    names = list(colours)
    if many(len(names)):
        fig, grids = multiples(len(names), [p.heading for p in panels], ncols=3)
        for axes, panel in zip(grids, panels, strict=True):
            _bar_multiples(axes, panel.bars, panel.categories, intervals)
            for ax in axes:
                panel.label(ax)
            label_grid(axes)
        _figure_legend(fig, grids[0][0])
        return fig
    fig, axes = new_figure(height, nrows=len(panels))
    for ax, panel in zip(axes, panels, strict=True):
        _grouped_bars(ax, panel.bars, panel.categories, colours, intervals)
        panel.label(ax)
    _figure_legend(fig, axes[-1])
    return fig


GROUP_AXES = {"age_band": "age band (years)",
              "skill_quintile": "digital skill quintile (this week's skill distribution)"}
"""Label of the group axis of each group type shown in the exclusion figures."""


def _group_bars(table: pd.DataFrame, group_type: str, names: Sequence[str]) -> Bars:
    """End-of-run exclusion per group of ``group_type``, per scenario, in per cent."""
    groups = list(GROUPS[group_type])
    data = table[(table["metric"] == "exclusion_rate") & (table["group_type"] == group_type)]
    bars = {}
    for s in names:
        d = data[data["scenario"] == s].set_index("group").reindex(groups)
        bars[s] = tuple(d[c].to_numpy(float) * PERCENT for c in ("mean", "ci_low", "ci_high"))
    return bars


def _group_axis(group_type: str) -> Callable[[Axes], None]:
    """What labels the axes of exclusion by ``group_type``."""

    def label(ax: Axes) -> None:
        ax.set_xlabel(GROUP_AXES[group_type])
        percent_axis(ax, "excluded", of="group")

    return label


def _exclusion_bars(table: pd.DataFrame, colours: dict[str, str], group_types: Sequence[str], height: float) -> Figure:
    """End-of-run exclusion by each of ``group_types``, per scenario."""
    panels = [BarPanel(GROUP_AXES[g], _group_bars(table, g, list(colours)), GROUPS[g], _group_axis(g))
              for g in group_types]
    return _bar_figure(panels, colours, _n_reps(table) > 1, height)


EXCLUSION_BY_GROUP = "Share with a failed procedure or a missed letter with a consequence in the last year of the run"
"""What the exclusion-by-group figures show."""


@styled
def exclusion_by_group(table: pd.DataFrame, colours: dict[str, str]) -> Figure:
    """End-of-run exclusion rate by age band and by skill quintile, per scenario, with intervals."""
    fig = _exclusion_bars(table, colours, ["age_band", "skill_quintile"], 6.2)
    add_title(fig, "Who is excluded? Exclusion by age and by digital skill",
              f"{EXCLUSION_BY_GROUP}; {_note(table, 'bars', 'whiskers')}")
    return fig


@styled
def exclusion_by_age(table: pd.DataFrame, colours: dict[str, str]) -> Figure:
    """End-of-run exclusion rate by age band, per scenario, with intervals."""
    fig = _exclusion_bars(table, colours, ["age_band"], 3.8)
    add_title(fig, "Who is excluded? Exclusion by age",
              f"{EXCLUSION_BY_GROUP}; {_note(table, 'bars', 'whiskers')}")
    return fig


HELPER_USES = {"helper_minutes_casework": "casework\n(helper solves it)",
               "helper_minutes_teaching": "teaching\n(help to self-help)",
               "helper_minutes_documentation": "documentation"}
"""Helper-time metrics and their labels."""

THOUSAND_HOURS = 60 * 1000
"""Minutes in a thousand hours."""


def _helper_axis(ax: Axes) -> None:
    """Label the axes of helper time."""
    ax.set_ylabel("helper time (thousand hours per year)")
    ax.set_ylim(bottom=0)


@styled
def helper_time(table: pd.DataFrame, colours: dict[str, str]) -> Figure:
    """Helper hours per year by use (casework, teaching, documentation), per scenario, with intervals."""
    rows = [_end(table, m) for m in HELPER_USES]
    bars = {s: tuple(np.array([r.loc[s, c] if s in r.index else np.nan for r in rows], float) / THOUSAND_HOURS
                     for c in ("mean", "ci_low", "ci_high")) for s in colours}
    fig = _bar_figure([BarPanel("", bars, list(HELPER_USES.values()), _helper_axis)], colours, _n_reps(table) > 1,
                      3.8)
    add_title(fig, "Warm or cold hands? Where citizen-service helpers' time goes",
              f"Last year of the run, whole population; {_note(table, 'bars', 'whiskers')}")
    return fig


# ------------------------------------------------------------------ cost against exclusion


def pareto_front(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Boolean mask of points no other point beats on both (lower x and lower y are better)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = ~(np.isnan(x) | np.isnan(y))
    front = np.zeros(len(x), dtype=bool)
    for i in np.flatnonzero(ok):
        dominated = ok & (x <= x[i]) & (y <= y[i]) & ((x < x[i]) | (y < y[i]))
        front[i] = not dominated.any()
    return front


def _end(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Overall end-of-run rows of one metric, indexed by scenario."""
    return table[(table["metric"] == metric) & (table["group_type"] == OVERALL[0])].set_index("scenario")


def _number(i: int) -> Line2D:
    """A legend handle that shows the number ``i`` (as drawn beside a numbered point)."""
    return Line2D([], [], ls="none", marker=f"${i}$", color=HIGHLIGHT, ms=4 + 3 * len(str(i)))


@styled
def cost_vs_exclusion(table: pd.DataFrame, colours: dict[str, str], item: str = "scenario") -> Figure:
    """Public cost per citizen-year against exclusion rate, one point per scenario (or sweep point: ``item``),
    Pareto front marked.

    Up to ``len(PALETTE)`` points are told apart by colour and named in the
    legend. More are numbered beside the point and named in a numbered key
    below; beyond MAX_KEY points only those on the front are numbered.
    """
    ex, cost = _end(table, "exclusion_rate"), _end(table, "cost_per_citizen_year_dkk")
    names = [s for s in colours if s in ex.index and s in cost.index]
    x = ex.loc[names, "mean"].to_numpy(float) * PERCENT
    y = cost.loc[names, "mean"].to_numpy(float)
    fig, (ax,) = new_figure(4.6)
    front = pareto_front(x, y)
    order = np.argsort(x[front])
    (line,) = ax.plot(x[front][order], y[front][order], color="#999999", lw=1, ls="--", zorder=1)
    intervals = _n_reps(table) > 1
    numbered = many(len(names))
    keyed = [i for i in range(len(names)) if not numbered or len(names) <= MAX_KEY or front[i]]
    for i, s in enumerate(names):
        xerr = _whiskers(x[i:i + 1], ex.loc[[s], "ci_low"].to_numpy(float) * PERCENT,
                         ex.loc[[s], "ci_high"].to_numpy(float) * PERCENT)
        yerr = _whiskers(y[i:i + 1], cost.loc[[s], "ci_low"].to_numpy(float), cost.loc[[s], "ci_high"].to_numpy(float))
        ax.errorbar(x[i], y[i], xerr=xerr if intervals else None, yerr=yerr if intervals else None, fmt="o",
                    color=colours[s], ms=7 if front[i] else 5, mfc=colours[s] if front[i] else "white", mew=1.5,
                    elinewidth=0.9, capsize=2, label=s, zorder=2)
        if numbered and i in keyed:
            ax.annotate(str(i + 1), (x[i], y[i]), textcoords="offset points", xytext=(5, 4), fontsize=7,
                        color=HIGHLIGHT, zorder=4)
    percent_axis(ax, "citizens excluded at end of run", of="population 15+", axis="x")
    ax.set_ylabel("public cost (DKK per citizen-year)")
    if numbered:
        handles, labels = [_number(i + 1) for i in keyed], [names[i] for i in keyed]
    else:
        handles, labels = ax.get_legend_handles_labels()
    legend_below(fig, [line, *handles], ["Pareto front", *labels])
    unlabelled = len(names) - len(keyed)
    add_title(fig, "What does lower exclusion cost?",
              f"Filled points are on the Pareto front: no other {item} is both cheaper and less excluding; "
              + (f"numbers name the {len(keyed)} points on the front ({unlabelled} others are in the tables); "
                 if unlabelled else "")
              + _note(table, "points", "whiskers"))
    return fig


# ------------------------------------------------------------------ costs by channel


@styled
def channel_cost_over_time(weekly: pd.DataFrame, colours: dict[str, str]) -> Figure:
    """Public cost per citizen-year by channel over time, one panel per scenario (stacked areas)."""
    pop = _overall(weekly, "population").set_index(["scenario", "week"])["mean"]
    used = [c for c in COST_CHANNELS if (_overall(weekly, f"cost_{c}_dkk")["mean"].fillna(0) > 0).any()]
    fig, (axes,) = multiples(len(colours), [""], ncols=3, row_height=1.9)
    for ax, s in zip(axes, colours, strict=True):
        stack = []
        for c in used:
            d = _overall(weekly, f"cost_{c}_dkk")
            d = d[d["scenario"] == s].set_index("week")
            stack.append((d["mean"] / pop.loc[s].reindex(d.index)).fillna(0).to_numpy())
        dates = pd.to_datetime(_overall(weekly, "population").query("scenario == @s")["date"])
        if stack:
            ax.stackplot(dates, *stack, colors=[CHANNEL_COLOURS[c] for c in used],
                         labels=[c.replace("_", " ") for c in used], lw=0)
        name_panel(ax, s)
        ax.set_ylabel("DKK per citizen-year")
        date_axis(ax, SMALL_DATE_TICKS)
    label_grid(axes)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc="outside right center", frameon=False, fontsize=7,
               title="channel", title_fontsize=7)
    add_title(fig, "Where does the public money go? Cost by channel over time",
              "Public cost of the run's last year per citizen-year, mean over replications")
    return fig


# ------------------------------------------------------------------ sweeps


@styled
def sweep_effects(summary: pd.DataFrame, keys: Sequence[str]) -> Figure:
    """Exclusion rate and public cost at each sweep point against each varied key, with intervals."""
    overall = summary[summary["group_type"] == OVERALL[0]]
    intervals = _n_reps(summary) > 1
    fig, axes = new_figure(2.6 * len(keys) + 0.8, ncols=2, nrows=len(keys))
    for row, key in enumerate(keys):
        for col, (metric, scale) in enumerate((("exclusion_rate", PERCENT), ("cost_per_citizen_year_dkk", 1.0))):
            ax = axes[row * 2 + col]
            d = overall[overall["metric"] == metric]
            xs = d[key]
            numeric = pd.api.types.is_numeric_dtype(xs) and not pd.api.types.is_bool_dtype(xs)
            levels = sorted(xs.astype(str).unique())
            xpos = xs.to_numpy(float) if numeric else xs.astype(str).map(levels.index).to_numpy(float)
            m = d["mean"].to_numpy(float) * scale
            err = _whiskers(m, d["ci_low"].to_numpy(float) * scale, d["ci_high"].to_numpy(float) * scale)
            ax.errorbar(xpos, m, yerr=err if intervals else None, fmt="o", color=HIGHLIGHT, ms=4, elinewidth=0.8,
                        capsize=1.5)
            if not numeric:
                ax.set_xticks(range(len(levels)), levels)
                ax.set_xlim(-0.5, len(levels) - 0.5)
            ax.set_xlabel(key)
            if metric == "exclusion_rate":
                percent_axis(ax, "excluded", of="population 15+")
            else:
                ax.set_ylabel("public cost (DKK per citizen-year)")
    add_title(fig, "How do exclusion and cost respond to each varied setting?",
              "One point per sweep point (other settings vary too); "
              f"{_note(summary, 'points', 'whiskers')}")
    return fig


def sweep_by_skill(summary: pd.DataFrame, key: str) -> Figure:
    """Exclusion of each digital-skill quintile at each value of one varied key, with intervals.

    For a sweep of one key: who gains and who loses as the key moves (e.g. the
    teaching share of centre cases, docs/ODD.md section 7.7).
    """
    groups = GROUPS["skill_quintile"]
    d = summary[(summary["metric"] == "exclusion_rate") & (summary["group_type"] == "skill_quintile")]
    intervals = _n_reps(summary) > 1
    fig, (ax,) = new_figure(4.2)
    for colour, group in zip(PALETTE, groups, strict=False):
        g = d[d["group"] == group].sort_values(key)
        m = g["mean"].to_numpy(float) * PERCENT
        err = _whiskers(m, g["ci_low"].to_numpy(float) * PERCENT, g["ci_high"].to_numpy(float) * PERCENT)
        ax.errorbar(g[key].to_numpy(float), m, yerr=err if intervals else None, fmt="-o", color=colour, ms=3.5,
                    lw=1.2, label=group, **ERROR_STYLE)
    ax.set_xlabel(key)
    percent_axis(ax, "excluded", of="skill quintile")
    _figure_legend(fig, ax)
    add_title(fig, f"Who gains and who loses as {key.rsplit('.', 1)[-1]} changes?",
              "Exclusion at the end of the run by digital-skill quintile; "
              f"{_note(summary, 'points', 'whiskers')}")
    return fig


def point_labels(points: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    """Each sweep point named by its settings, e.g. 'helpers_per_10k=4, self_help_share=0.5'.

    A key is named by the last part of its path (the whole path where two
    keys end alike); values as ``sim.outputs.format.fmt_setting`` shows
    them. Points whose names would coincide (values equal to 3 significant
    digits) get their number added.
    """
    last = [k.rsplit(".", 1)[-1] for k in keys]
    names = [short if last.count(short) == 1 else k for short, k in zip(last, keys, strict=True)]
    labels = points.apply(lambda row: ", ".join(f"{n}={fmt_setting(row[k])}" for n, k in zip(names, keys,
                                                                                            strict=True)), axis=1)
    labels = labels.astype(str).where(labels.astype(str) != "", "base")
    firsts = points.assign(label=labels).drop_duplicates("point").set_index("point")["label"]
    clash = firsts[firsts.duplicated(keep=False)].index
    return labels.where(~points["point"].isin(clash), labels + " (point " + points["point"].astype(str) + ")")


def sweep_figures(summary: pd.DataFrame, keys: Sequence[str]) -> dict[str, Figure]:
    """The figures of ``digex sweep``, by file stem: the effect of each varied key, and cost against exclusion
    with each point named by its settings (``point_labels``)."""
    named = summary.assign(scenario=point_labels(summary, keys))
    table = named[["metric", "group_type", "group", "scenario", "mean", "ci_low", "ci_high", "n_reps"]]
    figures = {"sweep_effects": sweep_effects(summary, keys),
               "cost_vs_exclusion": cost_vs_exclusion(table, scenario_colours(list(named["scenario"])), item="point")}
    numeric = len(keys) == 1 and pd.api.types.is_numeric_dtype(summary[keys[0]]) \
        and not pd.api.types.is_bool_dtype(summary[keys[0]])
    if numeric and (summary["group_type"] == "skill_quintile").any():
        figures["sweep_by_skill"] = sweep_by_skill(summary, keys[0])
    return figures


def figure_bytes(fig: Figure, fmt: str = "png") -> bytes:
    """The figure encoded as PNG (at DPI) or SVG."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=DPI)
    return buf.getvalue()


def save_figure(fig: Figure, directory: Path, stem: str, svg: bool = False) -> list[Path]:
    """Write ``<stem>.png`` (and ``<stem>.svg``) into ``directory``, each atomically; return the paths written."""
    return [write_bytes(directory / f"{stem}.{fmt}", figure_bytes(fig, fmt)) for fmt in ("png", "svg")[:1 + svg]]


def comparison_figures(table: pd.DataFrame, weekly: pd.DataFrame, scenarios: Sequence[str],
                       markers: Markers = ()) -> dict[str, Figure]:
    """Every comparison figure, by file stem, in reading order."""
    colours = scenario_colours(scenarios)
    return {
        "exclusion_over_time": exclusion_over_time(weekly, colours, markers),
        "exclusion_components": exclusion_components(weekly, scenarios[0], markers),
        "exclusion_by_group": exclusion_by_group(table, colours),
        "cost_vs_exclusion": cost_vs_exclusion(table, colours),
        "channel_cost_over_time": channel_cost_over_time(weekly, colours),
        "digital_share_over_time": digital_share_over_time(weekly, colours, markers),
        "trust_over_time": trust_over_time(weekly, colours, markers),
        "helper_time": helper_time(table, colours),
    }


def weekly_overall(timeseries: pd.DataFrame, metric: str) -> pd.DataFrame:
    """A run's weekly mean and 95% interval over replications of one overall metric, per scenario.

    ``timeseries`` is in the layout of timeseries.parquet; the result is in
    the layout of a comparison's weekly summary, so the same figures draw it.
    """
    rows = timeseries[(timeseries["metric"] == metric) & (timeseries["group_type"] == OVERALL[0])]
    rows = rows.assign(scenario=rows["scenario"].astype(str))
    return summarise(rows, ["scenario", "week", "date"]).assign(metric=metric, group_type=OVERALL[0],
                                                                group=OVERALL[1])


def run_figures(timeseries: pd.DataFrame, summary_by_group: pd.DataFrame, markers: Markers = ()) -> dict[str, Figure]:
    """The figures of ``digex run``, by file stem: exclusion over time and exclusion by age band.

    ``summary_by_group`` is summary_by_group.csv (it has no replication count,
    so the count is taken from the time series; what its intervals cover,
    ``interval_covers``, holds for the weekly intervals too).
    """
    colours = scenario_colours(names_in_order(timeseries["scenario"]))
    reps = int(timeseries.groupby("scenario", observed=True)["rep"].nunique().max())
    covers = ({"interval_covers": summary_by_group["interval_covers"].iloc[0]}
              if "interval_covers" in summary_by_group and len(summary_by_group) else {})
    weekly = weekly_overall(timeseries, "exclusion_rate").assign(**covers)
    return {"exclusion_over_time": exclusion_over_time(weekly, colours, markers),
            "exclusion_by_age": exclusion_by_age(summary_by_group.assign(n_reps=reps), colours)}


def write_run_figures(directory: Path, timeseries: pd.DataFrame, summary_by_group: pd.DataFrame,
                      markers: Markers = ()) -> list[str]:
    """Write the figures of ``digex run`` as PNG into ``directory``; return their file names."""
    figures = run_figures(timeseries, summary_by_group, markers)
    return [path.name for stem, fig in figures.items() for path in save_figure(fig, directory, stem)]
