"""The one style of every digex figure: sizes, colours, fonts and the furniture shared by the axes.

Figures are built on matplotlib's object API (``matplotlib.figure.Figure``),
never pyplot and never ``matplotlib.use``, so drawing one does not change the
backend of a notebook or the dashboard's server. Every figure is A4 text
width (``WIDTH``); its title states the question it answers and a grey line
below says what is shown (``add_title``); shares are shown in per cent on
axes that say per cent of what (``percent_axis``); time axes use compact
dates (``date_axis``), with dated policy events (``mark_events``) and the
first 52 weeks, when "last 52 weeks" measures are still filling, shaded
(``shade_warmup``; docs/ODD.md section 7.15).
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Callable, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.model.metrics import WINDOW

WIDTH = 7.5
"""Figure width in inches (A4 text width with a small margin)."""

DPI = 150
"""Resolution of figures written to files."""

SCREEN_DPI = 90
"""Resolution of figures drawn live on screen (the dashboard), where a smaller image redraws faster."""

SCREEN_HEIGHT = 3.4
"""Height in inches of a live plot on screen (the dashboard): one axes, its title and a legend inside."""

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#8C564B", "#7F7F7F", "#BCBD22")
"""Okabe-Ito colours (colour-blind safe; yellow left out), then a few distinct extras; repeats after ten."""

NOTE = "#444444"
"""Colour of secondary text (the line under a title)."""

FURNITURE = "#555555"
"""Colour of markers that are not data: event lines and their labels."""

SHADE = "#eeeeee"
"""Colour of shaded spans (the warm-up of windowed measures)."""

STYLE = {"font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 8,
         "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False, "axes.spines.right": False}
"""Matplotlib settings used for every figure."""

PERCENT = 100.0
"""Factor from a share (0-1) to the per cent shown on a percentage axis."""


def styled(make: Callable[..., Figure]) -> Callable[..., Figure]:
    """Build a figure under the house style (STYLE), so every text and line created inside follows it."""

    @functools.wraps(make)
    def wrapper(*args, **kwargs) -> Figure:
        with matplotlib.rc_context(STYLE):
            return make(*args, **kwargs)

    return wrapper


def new_figure(height: float, ncols: int = 1, nrows: int = 1, dpi: float = DPI,
               **subplot_kw) -> tuple[Figure, np.ndarray]:
    """A figure of A4 width (``WIDTH``) and ``height`` inches with a grid of axes, always as a flat array.

    ``subplot_kw`` goes to ``Figure.subplots`` (e.g. ``sharex=True``). Call it
    inside a ``styled`` function so the axes follow the house style.
    """
    if height <= 0 or ncols < 1 or nrows < 1:
        raise ValueError(f"a figure needs a positive height and at least one row and column, "
                         f"got height={height}, nrows={nrows}, ncols={ncols}")
    fig = Figure(figsize=(WIDTH, height), dpi=dpi, layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False, **subplot_kw).ravel()


def add_title(fig: Figure, question: str, detail: str) -> None:
    """The question as the title and, below it, what is shown (wrapped to the figure width)."""
    detail = textwrap.fill(detail, 125)
    fig.suptitle(question + "\n" * (1 + detail.count("\n")), fontsize=11, fontweight="bold", x=0.01, ha="left")
    fig.text(0.01, 0.985, "\n" + detail, fontsize=8, color=NOTE, ha="left", va="top", transform=fig.transFigure)


def interval_note(n_reps: int, centre: str = "line", spread: str = "band") -> str:
    """How the mean and its 95% interval over replications are drawn, for the line under a title.

    With one replication there is no interval, and the note says how to get one.
    """
    if n_reps < 2:
        return f"{centre}: a single replication, so no interval (it needs 2 or more)"
    return f"{centre}: mean, {spread}: 95% interval over {n_reps} replications"


def date_axis(ax: Axes) -> None:
    """Compact date ticks (years, then months) that do not overlap at A4 width."""
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def percent_axis(ax: Axes, quantity: str, of: str | None = None, axis: str = "y", top: float | None = None) -> None:
    """Label an axis of per cent values (shares times PERCENT) as '<quantity> (% of <of>)' and start it at 0.

    Call it after drawing. The axis ends at ``top`` if given, else where the
    data end but never above 100 (intervals that reach past 100% are cut there).
    """
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    if top is not None and top <= 0:
        raise ValueError(f"top must be above 0, got {top}")
    get_lim, set_lim, set_label = ((ax.get_xlim, ax.set_xlim, ax.set_xlabel) if axis == "x"
                                   else (ax.get_ylim, ax.set_ylim, ax.set_ylabel))
    set_label(f"{quantity} (% of {of})" if of else f"{quantity} (%)")
    set_lim(0, top if top is not None else min(get_lim()[1], PERCENT))


def mark_events(ax: Axes, markers: Sequence[tuple[object, str]]) -> None:
    """A dashed vertical line at each dated event (e.g. the mandate start), labelled above the axes."""
    for date, label in markers:
        when = pd.Timestamp(date)
        ax.axvline(when, color=FURNITURE, lw=0.8, ls="--", zorder=1)
        ax.text(when, 1.0, label, transform=ax.get_xaxis_transform(), fontsize=7, color=FURNITURE,
                ha="center", va="bottom", in_layout=False)


def shade_warmup(ax: Axes, dates: Sequence) -> None:
    """Shade the first 52 weekly ``dates`` of a run, when 'last 52 weeks' measures are still filling (a legend
    entry says so)."""
    dates = pd.to_datetime(pd.Series(dates)).drop_duplicates().sort_values()
    if len(dates) < 2:
        return
    end = dates.iloc[min(WINDOW, len(dates)) - 1]
    ax.axvspan(dates.iloc[0], end, color=SHADE, zorder=0, lw=0, label="first 52 weeks (window filling)")


def legend_below(ax: Axes, most: int = 13) -> None:
    """A legend below the axes, with as many columns as fit the width.

    None if it would have more than ``most`` entries (by default: 12
    scenarios and one other entry, such as the warm-up shade); beyond that
    colours repeat and a figure labels what matters where it is drawn.
    """
    _, labels = ax.get_legend_handles_labels()
    if not labels or len(labels) > most:
        return
    longest = max(len(label) for label in labels)
    ncols = max(1, min(len(labels), 4, 100 // (longest + 6)))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=ncols, frameon=False)
