"""Standard plots of a results directory (PNG, matplotlib's Agg canvas, no display needed).

Figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so
importing this module never changes the backend of a notebook session.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.experiments.stats import summarise
from sim.model.metrics import GROUPS, METRICS, OVERALL

PLOT_FILES = ("exclusion_over_time.png", "exclusion_by_age.png")
"""File names written by ``write_plots``."""

DPI = 120


def exclusion_over_time(timeseries: pd.DataFrame, metric: str = "exclusion_rate") -> Figure:
    """Weekly overall ``metric`` per scenario: mean over replications with its 95% interval as a band."""
    rows = timeseries[(timeseries["metric"] == metric) & (timeseries["group_type"] == OVERALL[0])]
    rows = rows.assign(scenario=rows["scenario"].astype(str))
    stats = summarise(rows, ["scenario", "date"])
    fig = Figure(figsize=(9, 5), layout="constrained")
    ax = fig.add_subplot()
    for name, s in stats.groupby("scenario", sort=False):
        line = ax.plot(s["date"], s["mean"], label=name, linewidth=1.4)[0]
        if s["n_reps"].max() > 1:
            ax.fill_between(s["date"], s["ci_low"], s["ci_high"], color=line.get_color(), alpha=0.2, linewidth=0)
    n = int(stats["n_reps"].max()) if len(stats) else 0
    ax.set_title(f"{METRICS[metric].description}\nmean of {n} replication(s)"
                 + (", band: 95% interval" if n > 1 else ""), fontsize=10)
    ax.set_xlabel("date")
    ax.set_ylabel(f"{metric} ({METRICS[metric].unit})")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def exclusion_by_age(summary_by_group: pd.DataFrame, metric: str = "exclusion_rate") -> Figure:
    """End-of-run ``metric`` by age band: one bar per scenario in each band, with 95% intervals."""
    rows = summary_by_group[(summary_by_group["metric"] == metric) & (summary_by_group["group_type"] == "age_band")]
    bands = list(GROUPS["age_band"])
    scenarios = list(dict.fromkeys(rows["scenario"]))
    width = 0.8 / max(1, len(scenarios))
    fig = Figure(figsize=(max(8.0, 1.2 * len(bands) * max(1, len(scenarios)) ** 0.5), 5), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(bands))
    for i, name in enumerate(scenarios):
        s = rows[rows["scenario"] == name].set_index("group").reindex(bands)
        mean = s["mean"].to_numpy(float)
        err = np.vstack([mean - s["ci_low"].to_numpy(float), s["ci_high"].to_numpy(float) - mean])
        ax.bar(x + (i - (len(scenarios) - 1) / 2) * width, mean, width, yerr=np.nan_to_num(err), capsize=2,
               label=name)
    ax.set_xticks(x, bands)
    ax.set_xlabel("age band")
    ax.set_ylabel(f"{metric} ({METRICS[metric].unit})")
    ax.set_title(f"{METRICS[metric].description}\nend of run, error bars: 95% interval", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def write_plots(directory: Path, timeseries: pd.DataFrame, summary_by_group: pd.DataFrame) -> list[str]:
    """Write the standard PNG plots into ``directory``; return their file names."""
    exclusion_over_time(timeseries).savefig(directory / PLOT_FILES[0], dpi=DPI)
    exclusion_by_age(summary_by_group).savefig(directory / PLOT_FILES[1], dpi=DPI)
    return list(PLOT_FILES)
