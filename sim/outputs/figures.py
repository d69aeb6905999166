"""Figures comparing scenarios (``digex compare``) and sweep points (``digex sweep``).

Every figure's title states the question it answers, axes carry units, and a
scenario keeps one colour in every figure (``scenario_colours``). Figures are
sized for A4 width (7.5 inches at 150 dpi). Intervals are 95% t-intervals over
replications; shares are shown in per cent.

Inputs are the tables ``sim.experiments.compare`` writes: the comparison table (end-of-run
means and intervals per scenario) and the weekly summary (mean and interval
per scenario and week).
"""

from __future__ import annotations

import functools
import io
import os
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.figure import Figure

from sim.model.costs import COST_CHANNELS
from sim.model.metrics import GROUPS, WINDOW

WIDTH = 7.5
"""Figure width in inches (A4 text width with a small margin)."""

DPI = 150
"""Resolution of PNG figures."""

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#8C564B", "#7F7F7F", "#BCBD22")
"""Okabe-Ito colours (colour-blind safe; yellow left out), then a few distinct extras; repeats after ten."""

CHANNEL_COLOURS = dict(zip(COST_CHANNELS, ("#4C72B0", "#64B5CD", "#C44E52", "#DD8452", "#8172B3", "#55A868",
                                           "#CCB974", "#937860", "#8C8C8C"), strict=True))
"""Colours of cost channels (distinct from nothing in particular: channels are not scenarios)."""

STYLE = {"font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 8,
         "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False, "axes.spines.right": False}
"""Matplotlib settings used for every figure."""


def scenario_colours(names: Sequence[str]) -> dict[str, str]:
    """One colour per scenario, by position, so a scenario looks the same in every figure."""
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def styled(make: Callable[..., Figure]) -> Callable[..., Figure]:
    """Build a figure under the house style (STYLE), so every text and line created inside follows it."""

    @functools.wraps(make)
    def wrapper(*args, **kwargs) -> Figure:
        with matplotlib.rc_context(STYLE):
            return make(*args, **kwargs)

    return wrapper


def _figure(height: float, ncols: int = 1, nrows: int = 1, **kw) -> tuple[Figure, np.ndarray]:
    """A figure of A4 width with a grid of axes (always returned as a flat array)."""
    fig = Figure(figsize=(WIDTH, height), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False, **kw).ravel()


def _title(fig: Figure, question: str, detail: str) -> None:
    """The question as the title and, below it, what is shown (wrapped to the figure width)."""
    detail = textwrap.fill(detail, 125)
    fig.suptitle(question + "\n" * (1 + detail.count("\n")), fontsize=11, fontweight="bold", x=0.01, ha="left")
    fig.text(0.01, 0.985, "\n" + detail, fontsize=8, color="#444444", ha="left", va="top",
             transform=fig.transFigure)


def _overall(weekly: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Weekly overall rows of one metric."""
    return weekly[(weekly["metric"] == metric) & (weekly["group_type"] == "all")]


def _n_reps(frame: pd.DataFrame) -> int:
    """The largest replication count in a summary table."""
    return int(frame["n_reps"].max()) if len(frame) else 0


def _date_axis(ax) -> None:
    """Compact date ticks (years, then months) that do not overlap at A4 width."""
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _band(ax, weekly: pd.DataFrame, metric: str, colours: dict[str, str], scale: float = 1.0) -> None:
    """Mean line and 95% band over time for each scenario."""
    data = _overall(weekly, metric)
    for s, colour in colours.items():
        d = data[data["scenario"] == s]
        if d.empty:
            continue
        x = pd.to_datetime(d["date"])
        ax.plot(x, d["mean"] * scale, color=colour, lw=1.6, label=s)
        ax.fill_between(x, d["ci_low"] * scale, d["ci_high"] * scale, color=colour, alpha=0.18, lw=0)
    _date_axis(ax)


def _warmup(ax, weekly: pd.DataFrame) -> None:
    """Shade the first 52 weeks, when 'last 52 weeks' windows are still filling."""
    dates = pd.to_datetime(weekly["date"].drop_duplicates().sort_values())
    if len(dates) > 1:
        end = dates.iloc[min(WINDOW, len(dates)) - 1]
        ax.axvspan(dates.iloc[0], end, color="#eeeeee", zorder=0, lw=0)
        ax.text(dates.iloc[0], 1.0, " window filling", transform=ax.get_xaxis_transform(), fontsize=7,
                color="#777777", va="top")


def _markers(ax, markers: Sequence[tuple[object, str]]) -> None:
    """Vertical lines at dated policy events (e.g. the mandate start)."""
    for date, label in markers:
        ax.axvline(pd.Timestamp(date), color="#555555", lw=0.8, ls="--")
        ax.text(pd.Timestamp(date), 0.02, f" {label}", transform=ax.get_xaxis_transform(), fontsize=7,
                color="#555555", rotation=90, va="bottom")


def _legend(ax, n: int) -> None:
    """A legend below the axes (for up to 12 entries), with as many columns as fit the width."""
    if n > 12:
        return
    _, labels = ax.get_legend_handles_labels()
    longest = max((len(label) for label in labels), default=1)
    ncols = max(1, min(n, 4, 100 // (longest + 6)))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=ncols, frameon=False)


@styled
def exclusion_over_time(weekly: pd.DataFrame, colours: dict[str, str],
                        markers: Sequence[tuple[object, str]] = ()) -> Figure:
    """Exclusion rate over time, mean and 95% band per scenario."""
    fig, (ax,) = _figure(4.2)
    _warmup(ax, weekly)
    _band(ax, weekly, "exclusion_rate", colours, 100)
    _markers(ax, markers)
    ax.set_ylabel("citizens excluded (% of population 15+)")
    ax.set_xlabel("date")
    ax.set_ylim(bottom=0)
    _legend(ax, len(colours))
    _title(fig, "How many citizens are excluded, and when?",
           "Share with at least one failed task in the last 52 weeks; line: mean, band: 95% interval "
           f"over {_n_reps(weekly)} replications")
    return fig


def _grouped_bars(ax, table: pd.DataFrame, metric: str, group_type: str, colours: dict[str, str],
                  scale: float = 100.0) -> None:
    """Bars per group and scenario with 95% interval whiskers."""
    groups = GROUPS[group_type]
    data = table[(table["metric"] == metric) & (table["group_type"] == group_type)]
    width = 0.8 / max(len(colours), 1)
    x = np.arange(len(groups))
    for i, (s, colour) in enumerate(colours.items()):
        d = data[data["scenario"] == s].set_index("group").reindex(list(groups))
        mean = d["mean"].to_numpy(float) * scale
        err = np.vstack([mean - d["ci_low"].to_numpy(float) * scale, d["ci_high"].to_numpy(float) * scale - mean])
        ax.bar(x + (i - (len(colours) - 1) / 2) * width, mean, width, color=colour, label=s,
               yerr=np.clip(np.nan_to_num(err), 0, None), error_kw={"elinewidth": 0.8, "capsize": 1.5})
    ax.set_xticks(x, groups)
    ax.set_ylim(bottom=0)


@styled
def exclusion_by_group(table: pd.DataFrame, colours: dict[str, str]) -> Figure:
    """End-of-run exclusion rate by age band and by skill quintile, per scenario, with intervals."""
    fig, axes = _figure(6.2, nrows=2)
    _grouped_bars(axes[0], table, "exclusion_rate", "age_band", colours)
    axes[0].set_xlabel("age band (years)")
    _grouped_bars(axes[1], table, "exclusion_rate", "skill_quintile", colours)
    axes[1].set_xlabel("digital skill quintile (this week's skill distribution)")
    for ax in axes:
        ax.set_ylabel("excluded (% of group)")
    _legend(axes[1], len(colours))
    _title(fig, "Who is excluded? Exclusion by age and by digital skill",
           "Share with at least one failed task in the last 52 weeks of the run; "
           f"bars: mean, whiskers: 95% interval over {_n_reps(table)} replications")
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
    return table[(table["metric"] == metric) & (table["group_type"] == "all")].set_index("scenario")


@styled
def cost_vs_exclusion(table: pd.DataFrame, colours: dict[str, str]) -> Figure:
    """Public cost per citizen-year against exclusion rate, one point per scenario, Pareto front marked.

    Up to 12 scenarios are named in the legend; beyond that (sweep points)
    only the points on the front are labelled.
    """
    ex, cost = _end(table, "exclusion_rate"), _end(table, "cost_per_citizen_year_dkk")
    names = [s for s in colours if s in ex.index and s in cost.index]
    x = ex.loc[names, "mean"].to_numpy(float) * 100
    y = cost.loc[names, "mean"].to_numpy(float)
    fig, (ax,) = _figure(4.6)
    front = pareto_front(x, y)
    order = np.argsort(x[front])
    ax.plot(x[front][order], y[front][order], color="#999999", lw=1, ls="--", zorder=1,
            label="Pareto front (none cheaper and less excluding)")
    for i, s in enumerate(names):
        xerr = [[x[i] - ex.loc[s, "ci_low"] * 100], [ex.loc[s, "ci_high"] * 100 - x[i]]]
        yerr = [[y[i] - cost.loc[s, "ci_low"]], [cost.loc[s, "ci_high"] - y[i]]]
        ax.errorbar(x[i], y[i], xerr=np.clip(np.nan_to_num(xerr), 0, None), yerr=np.clip(np.nan_to_num(yerr), 0, None),
                    fmt="o", color=colours[s], ms=7 if front[i] else 5, mfc=colours[s] if front[i] else "white",
                    mew=1.5, elinewidth=0.9, capsize=2, label=s if len(names) <= 12 else None, zorder=2)
        if len(names) > 12 and front[i]:
            ax.annotate(s, (x[i], y[i]), textcoords="offset points", xytext=(6, 5), fontsize=7, color=colours[s])
    ax.set_xlabel("citizens excluded at end of run (% of population 15+)")
    ax.set_ylabel("public cost (DKK per citizen-year)")
    ax.set_xlim(left=0)
    _legend(ax, len(names) + 1)
    _title(fig, "What does lower exclusion cost?",
           "Filled points are on the Pareto front: no other scenario is both cheaper and less excluding; "
           f"whiskers: 95% intervals over {_n_reps(table)} replications")
    return fig


@styled
def channel_cost_over_time(weekly: pd.DataFrame, colours: dict[str, str]) -> Figure:
    """Public cost per citizen-year by channel over time, one panel per scenario (stacked areas)."""
    pop = _overall(weekly, "population").set_index(["scenario", "week"])["mean"]
    used = [c for c in COST_CHANNELS if (_overall(weekly, f"cost_{c}_dkk")["mean"].fillna(0) > 0).any()]
    n = len(colours)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    fig, axes = _figure(2.4 * nrows + 1.2, ncols=ncols, nrows=nrows, sharey=True)
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
        _date_axis(ax)
    for ax in axes[n:]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc="outside right center", frameon=False, fontsize=7,
               title="channel", title_fontsize=7)
    _title(fig, "Where does the public money go? Cost by channel over time",
           "Public cost of the last 52 weeks per citizen-year, mean over replications")
    return fig


@styled
def digital_share_over_time(weekly: pd.DataFrame, colours: dict[str, str]) -> Figure:
    """Share of procedures done by self-service alone, and share of citizens who only manage with help."""
    fig, axes = _figure(3.8, ncols=2)
    for ax, metric, label in ((axes[0], "digital_share", "procedures done by self-service alone (%)"),
                              (axes[1], "assisted_share", "citizens whose tasks all needed help (%)")):
        _warmup(ax, weekly)
        _band(ax, weekly, metric, colours, 100)
        ax.set_ylabel(label)
        ax.set_ylim(0, 100)
    _legend(axes[0], len(colours))
    _title(fig, "How do citizens get things done? Self-service and assisted contact",
           f"Last 52 weeks; line: mean, band: 95% interval over {_n_reps(weekly)} replications")
    return fig


@styled
def trust_over_time(weekly: pd.DataFrame, colours: dict[str, str]) -> Figure:
    """Mean trust and the alienated share over time, mean and 95% band per scenario."""
    fig, axes = _figure(3.8, ncols=2)
    _band(axes[0], weekly, "trust_mean", colours)
    axes[0].set_ylabel("mean trust in public digital services (0-1)")
    _band(axes[1], weekly, "alienated_share", colours, 100)
    axes[1].set_ylabel("alienated: trust below threshold (% of citizens)")
    axes[1].set_ylim(bottom=0)
    _legend(axes[0], len(colours))
    _title(fig, "Does digital by default erode trust?",
           f"Line: mean, band: 95% interval over {_n_reps(weekly)} replications")
    return fig


HELPER_USES = {"helper_minutes_casework": "casework\n(helper solves it)",
               "helper_minutes_teaching": "teaching\n(help to self-help)",
               "helper_minutes_documentation": "documentation"}
"""Helper-time metrics and their labels."""


@styled
def helper_time(table: pd.DataFrame, colours: dict[str, str]) -> Figure:
    """Helper hours per year by use (casework, teaching, documentation), per scenario, with intervals."""
    fig, (ax,) = _figure(3.8)
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
    _legend(ax, len(colours))
    _title(fig, "Warm or cold hands? Where citizen-service helpers' time goes",
           f"Last 52 weeks of the run, whole population; whiskers: 95% interval over {_n_reps(table)} replications")
    return fig


@styled
def sweep_effects(summary: pd.DataFrame, keys: Sequence[str]) -> Figure:
    """Exclusion rate and public cost at each sweep point against each varied key, with intervals."""
    metrics = (("exclusion_rate", 100, "excluded (% of population)"),
               ("cost_per_citizen_year_dkk", 1, "public cost (DKK per citizen-year)"))
    overall = summary[summary["group_type"] == "all"]
    fig, axes = _figure(2.6 * len(keys) + 0.8, ncols=2, nrows=len(keys))
    for row, key in enumerate(keys):
        for col, (metric, scale, label) in enumerate(metrics):
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
            ax.set_ylabel(label)
    _title(fig, "How do exclusion and cost respond to each varied setting?",
           f"One point per sweep point (other settings vary too); whiskers: 95% interval over "
           f"{_n_reps(summary)} replications")
    return fig


def figure_bytes(fig: Figure, fmt: str = "png") -> bytes:
    """The figure encoded as PNG or SVG."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=DPI)
    return buf.getvalue()


def save_figure(fig: Figure, directory: Path, stem: str, svg: bool = False) -> list[Path]:
    """Write ``<stem>.png`` (and ``<stem>.svg``) into ``directory``, each atomically; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in ("png", "svg") if svg else ("png",):
        path = directory / f"{stem}.{fmt}"
        tmp = directory / f".{stem}.{fmt}.tmp"
        tmp.write_bytes(figure_bytes(fig, fmt))
        os.replace(tmp, path)
        paths.append(path)
    return paths


def comparison_figures(table: pd.DataFrame, weekly: pd.DataFrame, scenarios: Sequence[str],
                       markers: Sequence[tuple[object, str]] = ()) -> dict[str, Figure]:
    """Every comparison figure, by file stem, in reading order."""
    colours = scenario_colours(scenarios)
    return {
        "exclusion_over_time": exclusion_over_time(weekly, colours, markers),
        "exclusion_by_group": exclusion_by_group(table, colours),
        "cost_vs_exclusion": cost_vs_exclusion(table, colours),
        "channel_cost_over_time": channel_cost_over_time(weekly, colours),
        "digital_share_over_time": digital_share_over_time(weekly, colours),
        "trust_over_time": trust_over_time(weekly, colours),
        "helper_time": helper_time(table, colours),
    }
