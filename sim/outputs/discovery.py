"""Scenario discovery on paper: the peeling trajectory, the reported box and the Markdown summary.

``trajectory_figure`` draws PRIM's peeling trajectory as the trade-off between
coverage and density (Bryant and Lempert 2010, fig. 3; the EMA Workbench's
``PrimBox.show_tradeoff``), coloured by the number of restricted keys, with
the reported box circled. ``box_figure`` draws the reported box's limits
against the sweep's range of each key. ``summary_page`` writes the Markdown
summary: the question, the data, the rule that chose the box, its limits with
quasi-p values, the feature scores and a computed reading. The method is that
of ``sim.experiments.discovery``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.experiments.discovery import Discovery, Question
from sim.outputs.format import fmt_setting
from sim.outputs.style import CONTEXT, FURNITURE, HIGHLIGHT, PALETTE, PERCENT, add_title, new_figure, styled

WEAK_QP = 0.05
"""Quasi-p value above which a restriction of the reported box is called weak: the density would be about as
high without it (Bryant and Lempert 2010 flag restrictions above 0.05)."""

BAR_HEIGHT = 0.45
"""Inches of the box figure per key."""


def _restricted_label(count: int) -> str:
    """Legend label of a number of restricted keys."""
    return f"{count} restricted key{'' if count == 1 else 's'}"


@styled
def trajectory_figure(found: Discovery, question: Question, min_coverage: float | None) -> Figure:
    """Coverage against density of every box on PRIM's peeling trajectory, coloured by the number of restricted
    keys, joined in peeling order, the reported box circled; a dashed line at ``min_coverage`` when the box was
    chosen by that rule (None: chosen by index)."""
    t = found.trajectory
    fig, (ax,) = new_figure(4.2)
    ax.plot(t["coverage"] * PERCENT, t["density"] * PERCENT, color=CONTEXT, lw=0.8, zorder=1)
    for count in sorted(t["restricted_dims"].unique()):
        rows = t[t["restricted_dims"] == count]
        ax.scatter(rows["coverage"] * PERCENT, rows["density"] * PERCENT, s=18, zorder=2,
                   color=PALETTE[int(count) % len(PALETTE)], label=_restricted_label(int(count)))
    box = t[t["box"] == found.chosen].iloc[0]
    ax.scatter([box["coverage"] * PERCENT], [box["density"] * PERCENT], s=120, facecolors="none",
               edgecolors="black", lw=1.2, zorder=3, label=f"reported: box {found.chosen}")
    if min_coverage is not None:
        ax.axvline(min_coverage * PERCENT, color=FURNITURE, lw=0.8, ls="--", zorder=0,
                   label=f"coverage {min_coverage:g} (rule)")
    ax.set_xlabel("coverage (% of all cases of interest inside the box)")
    ax.set_ylabel("density (% of the box's runs\nthat are cases of interest)")
    ax.set_xlim(0, 102)
    ax.set_ylim(0, 102)
    ax.legend(loc="lower left", frameon=False)
    base = t.iloc[0]
    add_title(fig, question.title,
              f"Outcome: {question.quantity}. PRIM's peeling trajectory (Friedman and Fisher 1999): each dot a box, "
              f"from all {int(base['n'])} runs (right; density {base['density'] * PERCENT:.0f}%) inwards. "
              f"Reported: {found.rule}.")
    return fig


@styled
def box_figure(found: Discovery, question: Question) -> Figure:
    """The reported box's limits (dark) within the sweep's range of each key (grey), each range scaled to the
    width; listed keys show the values kept."""
    limits = found.limits
    box = limits[limits["box"] == found.chosen].reset_index(drop=True)
    whole = limits[limits["box"] == 0].set_index("parameter")
    fig, (ax,) = new_figure(1.3 + BAR_HEIGHT * len(box))
    for y, r in enumerate(reversed(list(box.itertuples()))):
        full = whole.loc[r.parameter]
        colour = HIGHLIGHT if r.restricted else CONTEXT
        ax.barh(y, 1, left=0, height=0.5, color="#f2f2f2", zorder=1)
        if r.kind == "range":
            span = full["upper"] - full["lower"]
            lo = (r.lower - full["lower"]) / span if span else 0.0
            hi = (r.upper - full["lower"]) / span if span else 1.0
            ax.barh(y, hi - lo, left=lo, height=0.5, color=colour, zorder=2)
            text = f"{fmt_setting(r.lower)} to {fmt_setting(r.upper)}  (sweep: {fmt_setting(full['lower'])} to " \
                   f"{fmt_setting(full['upper'])})"
        else:
            ax.barh(y, 1, left=0, height=0.5, color=colour, zorder=2, alpha=0.5)
            text = f"kept: {r.categories.replace(';', ', ')}  (sweep: {full['categories'].replace(';', ', ')})"
        ax.text(0, y + 0.32, text, fontsize=7, va="bottom", color=FURNITURE)
    ax.set_yticks(range(len(box)), list(reversed(box["parameter"])), fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.5, len(box) - 0.1)
    ax.set_xticks([0, 1], ["sweep's lowest", "sweep's highest"])
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    s = found.trajectory[found.trajectory["box"] == found.chosen].iloc[0]
    add_title(fig, f"Box {found.chosen}: {question.title}",
              f"Outcome: {question.quantity}. Blue: a restricted key's range inside the box; grey: unrestricted. "
              f"Coverage {s['coverage'] * PERCENT:.0f}%, density {s['density'] * PERCENT:.0f}%, mass "
              f"{s['mass'] * PERCENT:.0f}% of the runs.")
    return fig


def _qp(value: float) -> str:
    """A quasi-p value for the page ('' where there is none)."""
    return "" if pd.isna(value) else f"{value:.2g}"


def _limits_rows(found: Discovery) -> list[str]:
    """Markdown rows of the reported box: key, the sweep's range, the box's, and the quasi-p values."""
    limits = found.limits
    whole = limits[limits["box"] == 0].set_index("parameter")
    rows = []
    for r in limits[limits["box"] == found.chosen].itertuples():
        full = whole.loc[r.parameter]
        if r.kind == "range":
            sweep = f"{fmt_setting(full['lower'])} to {fmt_setting(full['upper'])}"
            inside = f"{fmt_setting(r.lower)} to {fmt_setting(r.upper)}"
        else:
            sweep, inside = full["categories"].replace(";", ", "), r.categories.replace(";", ", ")
        inside = f"**{inside}**" if r.restricted else "(not restricted)"
        rows.append(f"| {r.parameter} | {sweep} | {inside} | {_qp(r.qp_lower)} | {_qp(r.qp_upper)} |")
    return rows


def reading(found: Discovery, runs_per_point: int) -> list[str]:
    """Sentences computed from the reported box: how much denser than the sweep it is, what it leaves out,
    which limits are strong and which weak (quasi-p above WEAK_QP), and the noise of one run per case."""
    t = found.trajectory
    base, box = t.iloc[0], t[t["box"] == found.chosen].iloc[0]
    chosen = found.limits[(found.limits["box"] == found.chosen) & found.limits["restricted"]]
    lines = []
    if chosen.empty:
        lines.append(f"The reported box is the whole sweep: no restriction raised the density enough; cases of "
                     f"interest are {base['density'] * PERCENT:.0f}% of the runs everywhere PRIM looked.")
    else:
        lines.append(f"Inside the box, {box['density'] * PERCENT:.0f}% of the runs are cases of interest, against "
                     f"{base['density'] * PERCENT:.0f}% over the whole sweep; the box holds "
                     f"{box['coverage'] * PERCENT:.0f}% of all cases of interest ({int(box['k'])} of "
                     f"{int(base['k'])}) in {box['mass'] * PERCENT:.0f}% of the runs. It restricts "
                     f"{', '.join(chosen['parameter'])}.")
        limits = [(f"{r.parameter} ({side})", qp) for r in chosen.itertuples()
                  for side, qp in (("lower", r.qp_lower), ("upper", r.qp_upper)) if not pd.isna(qp)]
        strong = [f"{name}, quasi-p {_qp(qp)}" for name, qp in limits if qp <= WEAK_QP]
        weak = [name for name, qp in limits if qp > WEAK_QP]
        if strong:
            lines.append(f"Limits with quasi-p at most {WEAK_QP:g}: {'; '.join(strong)}.")
        if weak:
            lines.append(f"Weak limits, quasi-p above {WEAK_QP:g} (the density would be about as high without "
                         f"them; Bryant and Lempert 2010): {', '.join(weak)}.")
    if runs_per_point > 1:
        lines.append(f"Each of the {runs_per_point} replications of a point is a case of its own, so a point whose "
                     "outcome is noisy near the threshold can be partly inside and partly outside the cases of "
                     "interest.")
    else:
        lines.append("Each point ran once: an outcome near the threshold can fall on either side by simulation "
                     "noise alone, so a box found at a small population or with one replication is a lead to check "
                     "with more replications, not a finding.")
    return lines


def summary_page(found: Discovery, question: Question, sources: Sequence[str], runs: int, points: int,
                 runs_per_point: int, settings: dict[str, float], figures: Sequence[str]) -> str:
    """The Markdown summary of a discovery: question, data, rule, box limits, feature scores, reading, figures.

    ``sources`` are the sweep directories read (the second, if any, is
    subtracted); ``settings`` the PRIM settings by option name; ``figures``
    the figure files, relative to the page.
    """
    t = found.trajectory
    base, box = t.iloc[0], t[t["box"] == found.chosen].iloc[0]
    lines = [f"# Scenario discovery: {question.text}", "",
             f"Sweep: `{sources[0]}`" + (f", minus `{sources[1]}` at the same points and seeds" if len(sources) > 1
                                        else "") + f"; {runs} runs at {points} points ({runs_per_point} per point).",
             f"Cases of interest: runs with {question.quantity} strictly {'above' if question.above else 'below'} "
             f"{question.threshold:g}: {int(base['k'])} of {runs} ({base['density'] * PERCENT:.0f}%).",
             "PRIM (Friedman and Fisher 1999; EMA Workbench, Kwakkel 2017) with "
             + ", ".join(f"{k} {v:g}" for k, v in settings.items())
             + f": {len(t)} boxes on the peeling trajectory (peeling_trajectory.csv).", "",
             f"## Box {found.chosen} ({found.rule})", "",
             f"Coverage {box['coverage']:.2f}, density {box['density']:.2f}, mass {box['mass']:.2f} "
             f"({int(box['n'])} runs, {int(box['k'])} of them cases of interest); "
             f"{int(box['restricted_dims'])} restricted key(s).", "",
             "| key | sweep's range | box | quasi-p lower | quasi-p upper |", "|---|---|---|---|---|",
             *_limits_rows(found), "",
             "## Feature scores", "",
             "How much each key tells cases of interest from the others (extra trees; scores sum to 1):", "",
             "| key | score |", "|---|---|",
             *(f"| {r.parameter} | {r.score:.3f} |" for r in found.scores.itertuples()), "",
             "## Reading (computed from these runs)", "",
             *(f"- {line}" for line in reading(found, runs_per_point)), "",
             "## Figures", "",
             *(f"![{name}]({name})" for name in figures), "",
             "Files: box_limits.csv (every box on the trajectory, one row per key), peeling_trajectory.csv, "
             "feature_scores.csv, cases.csv (the runs, their varied keys, outcome and whether each is a case of "
             "interest), manifest.json.", ""]
    return "\n".join(lines)


def box_numbers(found: Discovery) -> dict[str, float]:
    """Coverage, density and mass of the reported box, for manifest.json."""
    box = found.trajectory[found.trajectory["box"] == found.chosen].iloc[0]
    return {k: float(np.round(box[k], 6)) for k in ("coverage", "density", "mass")}
