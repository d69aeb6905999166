"""Figures of a run (``digex run``), a comparison (``digex compare``) and a sweep (``digex sweep``).

All are drawn in the one style of ``sim.outputs.style``: the title states the
question a figure answers, axes carry units (shares in per cent), a scenario
keeps one colour in every figure (``scenario_colours``), time axes mark the
mandate start and shade the first 52 weeks of windowed measures. Intervals
are 95% t-intervals over replications.

Inputs are summary tables: a weekly summary (mean and interval per scenario,
metric, group and week, as ``timeseries_summary.parquet`` of a comparison or
``weekly_overall`` of a run's time series) and an end-of-run table (mean and
interval per scenario, metric and group). ``save_figure`` writes a figure
atomically (``sim.atomic``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.atomic import write_bytes
from sim.experiments.stats import summarise
from sim.model.costs import COST_CHANNELS
from sim.model.metrics import GROUPS, METRICS, OVERALL
from sim.outputs.style import (
    DPI,
    PALETTE,
    PERCENT,
    add_title,
    date_axis,
    interval_note,
    legend_below,
    mark_events,
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


def scenario_colours(names: Sequence[str]) -> dict[str, str]:
    """One colour per scenario, by position, so a scenario looks the same in every figure."""
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def _overall(weekly: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Weekly overall rows of one metric."""
    return weekly[(weekly["metric"] == metric) & (weekly["group_type"] == OVERALL[0])]


def _n_reps(frame: pd.DataFrame) -> int:
    """The largest replication count in a summary table."""
    return int(frame["n_reps"].max()) if len(frame) else 0


def _band(ax: Axes, weekly: pd.DataFrame, metric: str, colours: dict[str, str], scale: float = 1.0) -> None:
    """Mean line and 95% band over time for each scenario."""
    data = _overall(weekly, metric)
    for s, colour in colours.items():
        d = data[data["scenario"] == s]
        if d.empty:
            continue
        x = pd.to_datetime(d["date"])
        ax.plot(x, d["mean"] * scale, color=colour, lw=1.6, label=s)
        ax.fill_between(x, d["ci_low"] * scale, d["ci_high"] * scale, color=colour, alpha=0.18, lw=0)
    date_axis(ax)


def _time_panel(ax: Axes, weekly: pd.DataFrame, metric: str, colours: dict[str, str], markers: Markers,
                windowed: bool) -> None:
    """One metric over time per scenario (shares in per cent), with the events marked and, for a metric over
    the last 52 weeks (``windowed``), the weeks when its window is still filling shaded."""
    _band(ax, weekly, metric, colours, PERCENT if METRICS[metric].unit == "share" else 1.0)
    if windowed:
        shade_warmup(ax, weekly["date"])
    mark_events(ax, markers)


@styled
def exclusion_over_time(weekly: pd.DataFrame, colours: dict[str, str], markers: Markers = ()) -> Figure:
    """Exclusion rate over time, mean and 95% band per scenario."""
    fig, (ax,) = new_figure(4.2)
    _time_panel(ax, weekly, "exclusion_rate", colours, markers, windowed=True)
    percent_axis(ax, "citizens excluded", of="population 15+")
    ax.set_xlabel("date")
    legend_below(ax)
    n = _n_reps(_overall(weekly, "exclusion_rate"))
    add_title(fig, "How many citizens are excluded, and when?",
              f"Share with at least one failed task in the last 52 weeks; {interval_note(n)}")
    return fig


GROUP_AXES = {"age_band": "age band (years)",
              "skill_quintile": "digital skill quintile (this week's skill distribution)"}
"""Label of the group axis of each group type shown in the exclusion figures."""


def _group_panel(ax: Axes, table: pd.DataFrame, group_type: str, colours: dict[str, str]) -> None:
    """End-of-run exclusion per group and scenario: bars with 95% interval whiskers."""
    groups = GROUPS[group_type]
    data = table[(table["metric"] == "exclusion_rate") & (table["group_type"] == group_type)]
    width = 0.8 / max(len(colours), 1)
    x = np.arange(len(groups))
    for i, (s, colour) in enumerate(colours.items()):
        d = data[data["scenario"] == s].set_index("group").reindex(list(groups))
        mean = d["mean"].to_numpy(float) * PERCENT
        err = np.vstack([mean - d["ci_low"].to_numpy(float) * PERCENT,
                         d["ci_high"].to_numpy(float) * PERCENT - mean])
        ax.bar(x + (i - (len(colours) - 1) / 2) * width, mean, width, color=colour, label=s,
               yerr=np.clip(np.nan_to_num(err), 0, None) if _n_reps(data) > 1 else None,
               error_kw={"elinewidth": 0.8, "capsize": 1.5})
    ax.set_xticks(x, groups)
    ax.set_xlabel(GROUP_AXES[group_type])
    percent_axis(ax, "excluded", of="group")


EXCLUSION_BY_GROUP = "Share with at least one failed task in the last 52 weeks of the run"
"""What the exclusion-by-group figures show."""


@styled
def exclusion_by_group(table: pd.DataFrame, colours: dict[str, str]) -> Figure:
    """End-of-run exclusion rate by age band and by skill quintile, per scenario, with intervals."""
    fig, axes = new_figure(6.2, nrows=2)
    _group_panel(axes[0], table, "age_band", colours)
    _group_panel(axes[1], table, "skill_quintile", colours)
    legend_below(axes[1])
    add_title(fig, "Who is excluded? Exclusion by age and by digital skill",
              f"{EXCLUSION_BY_GROUP}; {interval_note(_n_reps(table), 'bars', 'whiskers')}")
    return fig


@styled
def exclusion_by_age(table: pd.DataFrame, colours: dict[str, str]) -> Figure:
    """End-of-run exclusion rate by age band, per scenario, with intervals."""
    fig, (ax,) = new_figure(3.8)
    _group_panel(ax, table, "age_band", colours)
    legend_below(ax)
    add_title(fig, "Who is excluded? Exclusion by age",
              f"{EXCLUSION_BY_GROUP}; {interval_note(_n_reps(table), 'bars', 'whiskers')}")
    return fig


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


@styled
def cost_vs_exclusion(table: pd.DataFrame, colours: dict[str, str]) -> Figure:
    """Public cost per citizen-year against exclusion rate, one point per scenario, Pareto front marked.

    Up to 12 scenarios are named in the legend; beyond that (sweep points)
    only the points on the front are labelled.
    """
    ex, cost = _end(table, "exclusion_rate"), _end(table, "cost_per_citizen_year_dkk")
    names = [s for s in colours if s in ex.index and s in cost.index]
    x = ex.loc[names, "mean"].to_numpy(float) * PERCENT
    y = cost.loc[names, "mean"].to_numpy(float)
    fig, (ax,) = new_figure(4.6)
    front = pareto_front(x, y)
    order = np.argsort(x[front])
    ax.plot(x[front][order], y[front][order], color="#999999", lw=1, ls="--", zorder=1,
            label="Pareto front (none cheaper and less excluding)")
    for i, s in enumerate(names):
        xerr = [[x[i] - ex.loc[s, "ci_low"] * PERCENT], [ex.loc[s, "ci_high"] * PERCENT - x[i]]]
        yerr = [[y[i] - cost.loc[s, "ci_low"]], [cost.loc[s, "ci_high"] - y[i]]]
        ax.errorbar(x[i], y[i], xerr=np.clip(np.nan_to_num(xerr), 0, None), yerr=np.clip(np.nan_to_num(yerr), 0, None),
                    fmt="o", color=colours[s], ms=7 if front[i] else 5, mfc=colours[s] if front[i] else "white",
                    mew=1.5, elinewidth=0.9, capsize=2, label=s if len(names) <= 12 else None, zorder=2)
        if len(names) > 12 and front[i]:
            ax.annotate(s, (x[i], y[i]), textcoords="offset points", xytext=(6, 5), fontsize=7, color=colours[s])
    percent_axis(ax, "citizens excluded at end of run", of="population 15+", axis="x")
    ax.set_ylabel("public cost (DKK per citizen-year)")
    legend_below(ax)
    add_title(fig, "What does lower exclusion cost?",
              "Filled points are on the Pareto front: no other scenario is both cheaper and less excluding; "
              f"{interval_note(_n_reps(table), 'points', 'whiskers')}")
    return fig


@styled
def channel_cost_over_time(weekly: pd.DataFrame, colours: dict[str, str]) -> Figure:
    """Public cost per citizen-year by channel over time, one panel per scenario (stacked areas)."""
    pop = _overall(weekly, "population").set_index(["scenario", "week"])["mean"]
    used = [c for c in COST_CHANNELS if (_overall(weekly, f"cost_{c}_dkk")["mean"].fillna(0) > 0).any()]
    n = len(colours)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    fig, axes = new_figure(2.4 * nrows + 1.2, ncols=ncols, nrows=nrows, sharey=True)
    for ax, (s, colour) in zip(axes, colours.items(), strict=False):
        stack = []
        for c in used:
            d = _overall(weekly, f"cost_{c}_dkk")
            d = d[d["scenario"] == s].set_index("week")
            stack.append((d["mean"] / pop.loc[s].reindex(d.index)).fillna(0).to_numpy())
        dates = pd.to_datetime(_overall(weekly, "population").query("scenario == @s")["date"])
        if stack:
            ax.stackplot(dates, *stack, colors=[CHANNEL_COLOURS[c] for c in used],
                         labels=[c.replace("_", " ") for c in used], lw=0)
        ax.set_title(s, color=colour, fontweight="bold", loc="left")
        ax.set_ylabel("DKK per citizen-year")
        date_axis(ax)
    for ax in axes[n:]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc="outside right center", frameon=False, fontsize=7,
               title="channel", title_fontsize=7)
    add_title(fig, "Where does the public money go? Cost by channel over time",
              "Public cost of the last 52 weeks per citizen-year, mean over replications")
    return fig


@styled
def digital_share_over_time(weekly: pd.DataFrame, colours: dict[str, str], markers: Markers = ()) -> Figure:
    """Share of procedures done by self-service alone, and share of citizens who only manage with help."""
    fig, axes = new_figure(3.8, ncols=2)
    for ax, metric, quantity, of in ((axes[0], "digital_share", "done by self-service alone", "procedures"),
                                     (axes[1], "assisted_share", "all tasks needed help", "citizens")):
        _time_panel(ax, weekly, metric, colours, markers, windowed=True)
        percent_axis(ax, quantity, of=of, top=PERCENT)
    legend_below(axes[0])
    add_title(fig, "How do citizens get things done? Self-service and assisted contact",
              f"Last 52 weeks; {interval_note(_n_reps(_overall(weekly, 'digital_share')))}")
    return fig


@styled
def trust_over_time(weekly: pd.DataFrame, colours: dict[str, str], markers: Markers = ()) -> Figure:
    """Mean trust and the alienated share over time, mean and 95% band per scenario."""
    fig, axes = new_figure(3.8, ncols=2)
    _time_panel(axes[0], weekly, "trust_mean", colours, markers, windowed=False)
    axes[0].set_ylabel("mean trust in public digital services (0-1)")
    _time_panel(axes[1], weekly, "alienated_share", colours, markers, windowed=False)
    percent_axis(axes[1], "alienated: trust below threshold", of="citizens")
    legend_below(axes[0])
    add_title(fig, "Does digital by default erode trust?",
              interval_note(_n_reps(_overall(weekly, "trust_mean"))).capitalize())
    return fig


HELPER_USES = {"helper_minutes_casework": "casework\n(helper solves it)",
               "helper_minutes_teaching": "teaching\n(help to self-help)",
               "helper_minutes_documentation": "documentation"}
"""Helper-time metrics and their labels."""


@styled
def helper_time(table: pd.DataFrame, colours: dict[str, str]) -> Figure:
    """Helper hours per year by use (casework, teaching, documentation), per scenario, with intervals."""
    fig, (ax,) = new_figure(3.8)
    width = 0.8 / max(len(colours), 1)
    x = np.arange(len(HELPER_USES))
    for i, (s, colour) in enumerate(colours.items()):
        rows = [_end(table, m) for m in HELPER_USES]
        mean = np.array([r.loc[s, "mean"] if s in r.index else np.nan for r in rows], float) / 60 / 1000
        lo = np.array([r.loc[s, "ci_low"] if s in r.index else np.nan for r in rows], float) / 60 / 1000
        hi = np.array([r.loc[s, "ci_high"] if s in r.index else np.nan for r in rows], float) / 60 / 1000
        ax.bar(x + (i - (len(colours) - 1) / 2) * width, mean, width, color=colour, label=s,
               yerr=np.clip(np.nan_to_num([mean - lo, hi - mean]), 0, None),
               error_kw={"elinewidth": 0.8, "capsize": 1.5})
    ax.set_xticks(x, list(HELPER_USES.values()))
    ax.set_ylabel("helper time (thousand hours per year)")
    ax.set_ylim(bottom=0)
    legend_below(ax)
    add_title(fig, "Warm or cold hands? Where citizen-service helpers' time goes",
              f"Last 52 weeks of the run, whole population; {interval_note(_n_reps(table), 'bars', 'whiskers')}")
    return fig


@styled
def sweep_effects(summary: pd.DataFrame, keys: Sequence[str]) -> Figure:
    """Exclusion rate and public cost at each sweep point against each varied key, with intervals."""
    overall = summary[summary["group_type"] == OVERALL[0]]
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
            err = np.clip(np.nan_to_num([m - d["ci_low"].to_numpy(float) * scale,
                                         d["ci_high"].to_numpy(float) * scale - m]), 0, None)
            ax.errorbar(xpos, m, yerr=err, fmt="o", color=PALETTE[0], ms=4, elinewidth=0.8, capsize=1.5)
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
              f"{interval_note(_n_reps(summary), 'points', 'whiskers')}")
    return fig


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
    so the count is taken from the time series).
    """
    colours = scenario_colours(list(dict.fromkeys(timeseries["scenario"].astype(str))))
    reps = int(timeseries.groupby("scenario", observed=True)["rep"].nunique().max())
    return {"exclusion_over_time": exclusion_over_time(weekly_overall(timeseries, "exclusion_rate"), colours, markers),
            "exclusion_by_age": exclusion_by_age(summary_by_group.assign(n_reps=reps), colours)}


def write_run_figures(directory: Path, timeseries: pd.DataFrame, summary_by_group: pd.DataFrame,
                      markers: Markers = ()) -> list[str]:
    """Write the figures of ``digex run`` as PNG into ``directory``; return their file names."""
    figures = run_figures(timeseries, summary_by_group, markers)
    return [path.name for stem, fig in figures.items() for path in save_figure(fig, directory, stem)]
