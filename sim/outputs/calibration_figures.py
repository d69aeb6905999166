"""Figures of a calibration report (``digex calibrate``): the calibrated model against the published figures.

Drawn in the one style of ``sim.outputs.style`` from what
``sim.experiments.calibration.run_targets`` returns for the report run: each
target's statistic per replication, the raw observations and each
replication's time series. Shares are shown in per cent; a published figure
is drawn with its tolerance (docs/calibration.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.experiments.stats import mean_ci
from sim.outputs.figures import Markers, save_figure
from sim.outputs.style import (
    PALETTE,
    PERCENT,
    add_title,
    date_axis,
    interval_note,
    legend_below,
    mark_events,
    new_figure,
    percent_axis,
    styled,
)

if TYPE_CHECKING:
    from sim.experiments.calibration import Target

CHALLENGED = "digitally_challenged_share"
"""The metric of the challenged-by-age figure."""

PUBLISHED = PALETTE[1]
"""Colour of published figures drawn against a model bar."""

MODEL_BAR = "#80B8D8"
"""Colour of the model's bars: PALETTE[0] lightened, so the whiskers and the published marks stand out."""

KINDS = {"equal": ("D", "published (+/- tolerance)"),
         "at_least": ("^", "published lower bound (at least, less tolerance)"),
         "at_most": ("v", "published upper bound (at most, plus tolerance)")}
"""Marker and legend label of a published figure by how it is compared: a value, a lower or an upper bound."""


def age_label(ages: tuple[int, int]) -> str:
    """An age range as shown on an axis: '80-89', or '90+' for an open upper end (120 or more)."""
    return f"{ages[0]}+" if ages[1] >= 120 else f"{ages[0]}-{ages[1]}"


def _model_bar(ax: Axes, label: str, values: Sequence[float]) -> None:
    """The model's mean (bar) and 95% interval (whisker) over replications, in per cent."""
    mean, lo, hi = (v * PERCENT for v in mean_ci(np.asarray(values, float), "share"))
    ax.bar([label], [mean], color=MODEL_BAR, width=0.6)
    ax.errorbar([label], [mean], yerr=[[mean - lo], [hi - mean]], fmt="none", ecolor=PALETTE[0], capsize=4)


def _published_point(ax: Axes, label: str, target: Target) -> None:
    """A published figure with its tolerance (one-sided for a bound), in per cent."""
    below = 0 if target.kind == "at_least" else target.tolerance
    above = 0 if target.kind == "at_most" else target.tolerance
    ax.errorbar([label], [target.value * PERCENT], yerr=[[below * PERCENT], [above * PERCENT]],
                fmt=KINDS[target.kind][0], color=PUBLISHED, capsize=6, ms=7, zorder=3)


@styled
def challenged_by_age(targets: Sequence[Target], observations: list[dict],
                      values: dict[str, np.ndarray]) -> Figure:
    """Digitally challenged share by age group: model mean and 95% interval against the published figures.

    The age profile target (``age_groups``) gives a bar per age group; every
    other challenged target adds its own bar and its published figure.
    """
    fig, (ax,) = new_figure(4.2)
    ax.plot([], [], "s", ms=9, color=MODEL_BAR, label="model (mean, 95% interval)")
    profile = next((t for t in targets if t.age_groups and t.metric == CHALLENGED), None)
    labels: list[str] = []
    if profile is not None:
        for g in profile.age_groups:
            labels.append(age_label(g))
            _model_bar(ax, labels[-1], [o[((profile.metric, None, g), profile.dates[0])] for o in observations])
    shown = [t for t in targets if t.metric == CHALLENGED and not t.age_groups]
    for t in shown:
        label = age_label(t.ages) if t.ages else (t.group or "all")
        if label not in labels:
            labels.append(label)
            _model_bar(ax, label, values[t.name])
        _published_point(ax, label, t)
    ax.set_xlim(-0.7, len(labels) - 0.3)
    kinds = [k for k in KINDS if any(t.kind == k for t in shown)]
    for kind in kinds:
        ax.plot([], [], KINDS[kind][0], color=PUBLISHED, label=KINDS[kind][1])
    ax.set_xlabel("age group (years)")
    percent_axis(ax, "digitally challenged", of="age group", top=PERCENT)
    legend_below(ax)
    sources = ", ".join(dict.fromkeys(t.source for t in shown)) or "none"
    year = f" in {profile.dates[0]:%Y}" if profile is not None else ""
    add_title(fig, "Does the model find as many digitally challenged citizens, by age, as published?",
              f"Share with digital skill below the challenged threshold{year}; "
              f"{interval_note(len(observations), 'bars', 'whiskers')}; published figures: {sources}")
    return fig


DIGITAL_POST_PANELS = {"enrolled_share": ("enrolled", PALETTE[0], 102.0, "lower right"),
                       "exempt_share": ("exempt", PALETTE[1], 16.0, "upper right")}
"""Panels of the Digital Post figure: metric -> (what is shown, colour, top of the axis in per cent, where the
legend goes: where the Danish curves leave room)."""


def _published_series_point(ax: Axes, target: Target) -> None:
    """A published figure over time: a point with its tolerance, or a dashed bound over a period."""
    colour = "black" if target.required else "grey"
    label = "published figure (+/- tolerance)" if target.required else "published, diagnostic only (not fitted)"
    if len(target.dates) > 1:
        bound = {"equal": "", "at_least": "at least ", "at_most": "at most "}[target.kind]
        ax.hlines(target.value * PERCENT, target.dates[0], target.dates[-1], colors=colour, linestyles="dashed",
                  label=f"published: {bound}{target.value * PERCENT:g}% in {target.dates[0]:%Y}-{target.dates[-1]:%Y}")
        return
    tolerance = [[target.tolerance * PERCENT]] * 2 if target.kind == "equal" else None
    ax.errorbar([target.dates[0]], [target.value * PERCENT], yerr=tolerance, fmt="o", color=colour,
                mfc=colour if target.required else "white", ms=6, capsize=4, zorder=3, label=label)


@styled
def digital_post(targets: Sequence[Target], series: list[pd.DataFrame], markers: Markers = ()) -> Figure:
    """Digital Post enrolment (top) and exemption (bottom) over time against the published points.

    Model: mean and 95% band over replications of the weekly share of living
    citizens; published: figures with their tolerance, a dashed line for a
    bound over a period.
    """
    fig, axes = new_figure(6.2, nrows=2, sharex=True)
    panels = dict(zip(DIGITAL_POST_PANELS, axes, strict=True))
    for (metric, (quantity, colour, top, _)), ax in zip(DIGITAL_POST_PANELS.items(), axes, strict=True):
        runs = [ts[(ts["metric"] == metric) & (ts["group_type"] == "all")].set_index("date")["value"] for ts in series]
        frame = pd.concat(runs, axis=1)
        stats = np.array([mean_ci(row, "share") for row in frame.to_numpy()]) * PERCENT
        ax.plot(frame.index, stats[:, 0], color=colour, lw=1.6, label="model (mean, 95% band)")
        ax.fill_between(frame.index, stats[:, 1], stats[:, 2], color=colour, alpha=0.2, lw=0)
        mark_events(ax, markers)
        percent_axis(ax, quantity, of="citizens 15+", top=top)
        date_axis(ax)
    for t in targets:
        if t.metric in panels and t.ages in (None, (15, 200)) and not t.group and not t.change_from:
            _published_series_point(panels[t.metric], t)
    for (_, _, _, where), ax in zip(DIGITAL_POST_PANELS.values(), axes, strict=True):
        entries = dict(zip(*reversed(ax.get_legend_handles_labels()), strict=True))  # one entry per label
        ax.legend(entries.values(), entries.keys(), loc=where, frameon=False)
    add_title(fig, "Does the model follow Digital Post enrolment and exemption over time?",
              f"Share of living citizens 15+ enrolled in or exempt from Digital Post each week; "
              f"{interval_note(len(series))}; points: published figures")
    return fig


def write_calibration_figures(directory: Path, targets: Sequence[Target], observations: list[dict],
                              values: dict[str, np.ndarray], series: list[pd.DataFrame],
                              markers: Markers = ()) -> list[str]:
    """Write challenged_by_age.png and digital_post.png into ``directory``; return their file names."""
    figures = {"challenged_by_age": challenged_by_age(targets, observations, values),
               "digital_post": digital_post(targets, series, markers)}
    return [path.name for stem, fig in figures.items() for path in save_figure(fig, directory, stem)]

