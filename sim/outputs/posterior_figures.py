"""Figures of an ABC calibration (``digex calibrate`` with ``method: abc``; docs/calibration.md).

Marginals of every fitted parameter over its prior range, pair plots of the
parameters fitted to the same figures (a calibration stage), and the
posterior predictive check: each target's statistic over posterior draws,
as gaps from the published figure in tolerances, so that shares and counts
share one axis and the band of +/- 1 tolerance reads the same for all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.outputs.style import PALETTE, add_title, new_figure, styled

if TYPE_CHECKING:
    from sim.experiments.abc import Posterior
    from sim.experiments.calibration import Spec, Target

PRIOR = "#c4c4c4"
"""Colour of the flat prior drawn behind a marginal."""


def _short(key: str) -> str:
    """A key path without its first part, for small panel titles."""
    return key.split(".", 1)[-1]


def _axis_values(spec: Spec, key: str, x: np.ndarray) -> tuple[np.ndarray, bool]:
    """Values as drawn on an axis: log10 of a parameter fitted on a log scale (then True)."""
    return (np.log10(x), True) if spec.parameters[key].log else (x, False)


@styled
def marginals(posterior: Posterior, spec: Spec) -> Figure:
    """Histogram of each parameter over the accepted draws, over its whole prior range."""
    keys = posterior.names
    ncols = 4
    nrows = -(-len(keys) // ncols)
    fig, axes = new_figure(1.35 * nrows + 0.9, ncols=ncols, nrows=nrows)
    for ax, key in zip(axes, keys, strict=False):
        p = spec.parameters[key]
        x, logged = _axis_values(spec, key, posterior.particles[key].to_numpy())
        lo, hi = (np.log10(p.low), np.log10(p.high)) if logged else (p.low, p.high)
        ax.axhspan(0, 1 / (hi - lo), color=PRIOR, alpha=0.5, lw=0)
        ax.hist(x, bins=np.linspace(lo, hi, 21), density=True, color=PALETTE[0])
        median = np.log10(posterior.median()[key]) if logged else posterior.median()[key]
        ax.axvline(median, color=PALETTE[1], lw=1)
        ax.set_xlim(lo, hi)
        ax.set_yticks([])
        ax.set_title(_short(key) + (" (log10)" if logged else ""), fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in axes[len(keys):]:
        ax.set_visible(False)
    add_title(fig, "What do the published figures say about each parameter?",
              "bars: ABC posterior (the accepted prior draws); grey: the flat prior over the calibration "
              "range; orange line: posterior median (the value in calibrated.yaml)")
    return fig


@styled
def pairs(posterior: Posterior, spec: Spec, keys: Sequence[str], stage: str) -> Figure:
    """Scatter of each pair of ``keys`` over the accepted draws; marginals on the diagonal."""
    n = len(keys)
    fig, axes = new_figure(1.05 * n + 0.9, ncols=n, nrows=n)
    axes = axes.reshape(n, n)
    values = {k: _axis_values(spec, k, posterior.particles[k].to_numpy())[0] for k in keys}
    for i, ki in enumerate(keys):
        for j, kj in enumerate(keys):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                ax.hist(values[ki], bins=15, color=PALETTE[0])
                ax.set_yticks([])
            else:
                ax.scatter(values[kj], values[ki], s=12, color=PALETTE[0], alpha=0.5, lw=0)
            ax.tick_params(labelsize=5)
            if i == n - 1:
                ax.set_xlabel(_short(kj), fontsize=6)
            if j == 0 and i > 0:
                ax.set_ylabel(_short(ki), fontsize=6)
    add_title(fig, f"Which parameters trade off against each other ({stage})?",
              "ABC posterior (the accepted prior draws): pairs of the parameters fitted to the same figures "
              "(log10 where fitted on a log scale); a ridge shows as a diagonal band")
    return fig


@styled
def predictive(table: pd.DataFrame, values: dict[str, np.ndarray], targets: Sequence[Target]) -> Figure:
    """Posterior predictive gap of every target, in tolerances: median and 95% interval over draws."""
    by_name = {t.name: t for t in targets}
    rows = list(table.itertuples())
    fig, (ax,) = new_figure(0.28 * len(rows) + 1.6)
    for y, r in enumerate(rows):
        t = by_name[r.target]
        scale = t.tolerance or 0.01
        gaps = (values[r.target][~np.isnan(values[r.target])] - t.value) / scale
        colour = PALETTE[0] if r.fitted else PALETTE[1]
        if len(gaps):
            lo, med, hi = np.quantile(gaps, [0.025, 0.5, 0.975])
            ax.plot([lo, hi], [y, y], color=colour, lw=2, solid_capstyle="butt")
            ax.plot(med, y, "o", color=colour, ms=4)
        bound = {"equal": "", "at_least": " (at least)", "at_most": " (at most)"}[t.kind]
        ax.text(1.01, y, f"{r.target}{bound}", transform=ax.get_yaxis_transform(), fontsize=6, va="center")
    ax.axvspan(-1, 1, color=PRIOR, alpha=0.5, lw=0)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_yticks([])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel("model minus published figure, in tolerances (grey: within +/- 1 tolerance)")
    add_title(fig, "Does the posterior reproduce the published figures?",
              "posterior predictive check: each target's statistic over posterior draws, each run with its own "
              "seed (parameter uncertainty and simulation noise); dot: median, bar: 95% interval; blue: figures "
              "the posterior was fitted to, orange: held-out figures it did not see")
    return fig
