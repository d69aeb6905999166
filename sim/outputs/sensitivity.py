"""The figures and the Markdown table of a sensitivity analysis (``digex sensitivity``, docs/sensitivity.md).

``index_figure`` draws one outcome's indices as horizontal bars with their
bootstrap 95% intervals as whiskers, parameters sorted by the method's main
index (Sobol: total index ST, with the first-order S1 beside it; Morris: mu*,
with sigma as dots), in the style of ``sim.outputs.style``. ``markdown`` is
the table of every outcome, ranked the same way.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.experiments.sensitivity import MAIN_INDEX
from sim.experiments.sensitivity_defaults import MORRIS_LEVELS
from sim.model.metrics import METRICS
from sim.outputs.format import SHARE
from sim.outputs.style import CONTEXT, PALETTE, PERCENT, add_title, legend_below, new_figure, styled

ROW_HEIGHT = 0.24
"""Inches per parameter in an index figure."""

LABELS = {"S1": "first-order index S1", "ST": "total index ST", "S2": "second-order index S2",
          "mu_star": "mu* (mean absolute elementary effect)", "sigma": "sigma (spread of the elementary effects)"}
"""Each index as named in a legend or a table heading."""


def ranked(table: pd.DataFrame) -> list[str]:
    """The parameters of one outcome's indices, most influential first (by the method's MAIN_INDEX)."""
    main = table[table["index"] == MAIN_INDEX[table["method"].iloc[0]]]
    return list(main.sort_values("value", ascending=False, kind="stable")["parameter"])


def _scale(outcome: str) -> tuple[float, str]:
    """Factor and unit of a Morris axis for an outcome: percentage points for a share, else the metric's unit."""
    unit = METRICS[outcome.split("@", 1)[0]].unit
    return (PERCENT, "percentage points") if unit == SHARE else (1.0, unit)


@styled
def index_figure(table: pd.DataFrame) -> Figure:
    """One outcome's indices (rows of indices.csv): a bar per parameter and index, whisker = 95% interval."""
    method, outcome, n = table["method"].iloc[0], table["outcome"].iloc[0], int(table["N"].iloc[0])
    order = ranked(table)
    fig, (ax,) = new_figure(1.9 + ROW_HEIGHT * len(order))
    y = np.arange(len(order))[::-1]
    if method == "sobol":
        factor, unit = 1.0, "share of the outcome's variance"
        bars = (("ST", 0.2, PALETTE[0]), ("S1", -0.2, PALETTE[1]))
        dots = ()
    else:
        factor, unit = _scale(outcome)
        bars = (("mu_star", 0.0, PALETTE[0]),)
        dots = (("sigma", PALETTE[1]),)
    height = 0.38 if method == "sobol" else 0.6
    for index, shift, colour in bars:
        rows = table[table["index"] == index].set_index("parameter").loc[order]
        value = rows["value"].to_numpy(dtype=float) * factor
        err = np.vstack([value - rows["ci_low"].to_numpy(dtype=float) * factor,
                         rows["ci_high"].to_numpy(dtype=float) * factor - value])
        ax.barh(y + shift, value, height=height, color=colour, label=f"{LABELS[index]}, 95% interval")
        ax.errorbar(value, y + shift, xerr=np.where(np.isfinite(err), err, 0), fmt="none", ecolor="black",
                    elinewidth=0.8, capsize=2)
    for index, colour in dots:
        rows = table[table["index"] == index].set_index("parameter").loc[order]
        ax.plot(rows["value"].to_numpy(dtype=float) * factor, y, "o", ms=4, color=colour, label=LABELS[index])
    ax.axvline(0, color=CONTEXT, lw=1, zorder=0)
    ax.set_yticks(y, order, fontsize=7)
    ax.set_ylim(-0.7, len(order) - 0.3)
    ax.set_xlabel(unit if method == "sobol" else f"change in {outcome} per whole range of a parameter ({unit})")
    legend_below(fig, *ax.get_legend_handles_labels())
    what = (f"Sobol indices from a Saltelli design of N = {n} (N x (k + 2) runs)" if method == "sobol"
            else f"Morris screening, {n} trajectories on a {MORRIS_LEVELS}-level grid; mu* is the change per whole "
            "range")
    add_title(fig, f"Which parameters drive {outcome}?",
              f"{what}. Sorted by {MAIN_INDEX[method]}; whiskers: bootstrap 95% intervals. All runs share the "
              "same seeds (common random numbers).")
    return fig


def _cell(value: float) -> str:
    """A number for the table: three significant digits, '–' if undefined."""
    return "–" if value is None or not math.isfinite(value) else f"{value:.3g}"


def markdown(indices: pd.DataFrame) -> str:
    """Every outcome's indices as Markdown tables (value [95% interval]), parameters ranked by MAIN_INDEX."""
    parts = []
    for outcome, table in indices.groupby("outcome", sort=False):
        names = list(dict.fromkeys(table["index"]))
        single = table[table["index"] != "S2"]
        wide = {(p, i): (v, lo, hi) for p, i, v, lo, hi in
                single[["parameter", "index", "value", "ci_low", "ci_high"]].itertuples(index=False)}
        cols = [i for i in names if i != "S2"]
        lines = [f"### {outcome}", "", "| parameter | " + " | ".join(cols) + " |", "|---" * (1 + len(cols)) + "|"]
        for p in ranked(table):
            cells = []
            for i in cols:
                v, lo, hi = wide[(p, i)]
                cells.append(_cell(v) + (f" [{_cell(lo)}, {_cell(hi)}]" if math.isfinite(lo) else ""))
            lines.append(f"| {p} | " + " | ".join(cells) + " |")
        pairs = table[table["index"] == "S2"]
        if len(pairs):
            lines += ["", "| pair | S2 |", "|---|---|"]
            lines += [f"| {r.parameter} | {_cell(r.value)} [{_cell(r.ci_low)}, {_cell(r.ci_high)}] |"
                      for r in pairs.itertuples()]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"
