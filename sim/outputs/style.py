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

Scenarios are told apart by colour (``PALETTE``, colour-blind safe) up to
as many scenarios as it has colours; a figure of more scenarios (``many``)
draws small multiples instead: one small panel per scenario, the scenario
in ``HIGHLIGHT`` over the others in ``CONTEXT`` grey (``multiples``,
``name_panel``), so no two scenarios ever share a colour in one panel.
Legends (``legend_below``) list every entry at any count, in as many
columns as fit, and the figure grows to hold them.
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
from matplotlib.transforms import ScaledTranslation

from sim.experiments.stats import interval_statement
from sim.model.metrics import WINDOW

WIDTH = 7.5
"""Figure width in inches (A4 text width with a small margin)."""

DPI = 150
"""Resolution of figures written to files."""

SCREEN_DPI = 90
"""Resolution of figures drawn live on screen (the dashboard), where a smaller image redraws faster."""

SCREEN_HEIGHT = 3.4
"""Height in inches of a live plot on screen (the dashboard): one axes, its title and a legend inside."""

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
"""The Okabe-Ito colours (Okabe and Ito 2008), distinct in the common kinds of colour blindness; their yellow is
left out, as it vanishes on white. Qualitative colour-blind-safe sets stop at 7 to 9 colours, so a figure of
more scenarios draws small multiples (``many``) rather than repeating or inventing colours."""

HIGHLIGHT = PALETTE[0]
"""Colour of the one scenario of a small-multiple panel (and of single-series figures)."""

CONTEXT = "#c4c4c4"
"""Colour of the other scenarios drawn behind a small-multiple panel's own, for comparison."""

MULTIPLES_COLUMNS = 4
"""Panels per row of small multiples of lines (3 for bars, whose category labels need the width)."""

MULTIPLES_ROW = 1.3
"""Height in inches of one row of small-multiple panels."""

PANEL_TITLE = 32
"""Longest scenario name shown whole as the title of a small-multiple panel (longer names end in '...')."""

LEGEND_LABEL = 60
"""Longest legend label shown whole (longer labels end in '...')."""

SMALL_DATE_TICKS = 4
"""Most date ticks on the time axis of a small-multiple panel."""

LEGEND_ROW = 0.17
"""Height in inches of one legend row (at legend.fontsize), by which a figure grows for a long legend."""

LEGEND_FREE_ROWS = 2
"""Legend rows a figure's height already allows for; each further row grows the figure by LEGEND_ROW."""

LEGEND_CHARACTERS = 110
"""Characters of legend text (labels and their handles) that fit side by side across the figure width."""

NOTE = "#444444"
"""Colour of secondary text (the line under a title)."""

FURNITURE = "#555555"
"""Colour of markers that are not data: event lines and their labels."""

SHADE = "#eeeeee"
"""Colour of shaded spans (the warm-up of windowed measures)."""

STYLE = {"font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 8,
         "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False, "axes.spines.right": False}
"""Matplotlib settings used for every figure."""

TITLE_GAP = 0.06
"""Inches between the top of a figure and the line under its title."""

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


def many(n: int) -> bool:
    """Whether ``n`` scenarios are more than PALETTE can tell apart, so a figure draws one panel per scenario."""
    return n > len(PALETTE)


def short_name(name: str, most: int = LEGEND_LABEL) -> str:
    """A scenario name (or any label) cut to ``most`` characters, ending in '...' when cut."""
    return name if len(name) <= most else name[: most - 3] + "..."


def multiples(n: int, headings: Sequence[str], ncols: int = MULTIPLES_COLUMNS,
              row_height: float = MULTIPLES_ROW) -> tuple[Figure, list[np.ndarray]]:
    """A figure of small multiples: for each heading a grid of ``n`` panels (one per scenario), sharing axes.

    Grids are stacked top to bottom, each under its heading; panels a grid
    does not need are hidden. Returns the figure and, per grid, the flat
    array of its ``n`` panels. Call it inside a ``styled`` function.
    """
    if n < 1 or not headings or ncols < 1:
        raise ValueError(f"small multiples need at least one panel, grid and column, got n={n}, "
                         f"headings={list(headings)}, ncols={ncols}")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    grid_height = 0.55 + nrows * row_height
    fig = Figure(figsize=(WIDTH, 1.1 + len(headings) * grid_height), dpi=DPI, layout="constrained")
    grids = []
    for sub, heading in zip(fig.subfigures(len(headings), 1, squeeze=False).ravel(), headings, strict=True):
        axes = sub.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True).ravel()
        for ax in axes[n:]:
            ax.set_visible(False)
        sub.suptitle(heading, fontsize=9, fontweight="bold", x=0.01, ha="left")
        grids.append(axes[:n])
    return fig, grids


def name_panel(ax: Axes, name: str) -> None:
    """Title a small-multiple panel with its scenario's name."""
    ax.set_title(short_name(name, PANEL_TITLE), loc="left", fontsize=7.5, pad=3)


def label_grid(axes: Sequence[Axes]) -> None:
    """Label a grid of small multiples once: the y label (as the panels set it) beside the grid, tick labels on
    the outer panels only; the x label is left to the grid's heading."""
    ylabel = axes[0].get_ylabel()
    for ax in axes:
        ax.set_ylabel("")
        ax.set_xlabel("")
        ax.label_outer()
    if ylabel:
        axes[0].get_figure(root=False).supylabel(ylabel, fontsize=8)


def add_title(fig: Figure, question: str, detail: str) -> None:
    """The question as the title and, below it, what is shown (wrapped to the figure width)."""
    detail = textwrap.fill(detail, 125)
    fig.suptitle(question + "\n" * (1 + detail.count("\n")), fontsize=11, fontweight="bold", x=0.01, ha="left")
    below_top = ScaledTranslation(0, -TITLE_GAP, fig.dpi_scale_trans)  # the same gap in a figure of any height
    fig.text(0.01, 1.0, "\n" + detail, fontsize=8, color=NOTE, ha="left", va="top",
             transform=fig.transFigure + below_top)


def interval_note(n_reps: int, centre: str = "line", spread: str = "band", posterior: bool = False) -> str:
    """How the mean and its 95% interval over replications are drawn, and which uncertainty the interval covers
    (``sim.experiments.stats.interval_statement``; ``posterior``: each replication had its own posterior draw),
    for the line under a title.

    With one replication there is no interval, and the note says how to get one.
    """
    if n_reps < 2:
        return f"{centre}: a single replication, so no interval (it needs 2 or more)"
    return f"{centre}: mean, {spread}: {interval_statement(n_reps, posterior)}"


def date_axis(ax: Axes, most: int = 7) -> None:
    """Compact date ticks (years, then months) that do not overlap: at most ``most`` of them (7 fit the A4 width,
    SMALL_DATE_TICKS a small-multiple panel)."""
    locator = mdates.AutoDateLocator(minticks=2, maxticks=most)
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


def mark_events(ax: Axes, markers: Sequence[tuple[object, str]], above: bool = True) -> None:
    """A dashed vertical line at each dated event (e.g. the mandate start), labelled above the axes, or, with
    ``above=False`` (small panels, whose titles take that place), named in the legend instead."""
    for date, label in markers:
        when = pd.Timestamp(date)
        ax.axvline(when, color=FURNITURE, lw=0.8, ls="--", zorder=1, label=None if above else f"{label} (dashed)")
        if above:
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


def legend_columns(labels: Sequence[str]) -> int:
    """Columns of a legend below a figure: as many as fit its longest label across the width, at most 6."""
    longest = max(len(label) for label in labels) + 6  # the handle and the gap between columns
    return max(1, min(len(labels), 6, LEGEND_CHARACTERS // longest))


def legend_below(where: Axes | Figure, handles: Sequence | None = None, labels: Sequence[str] | None = None) -> None:
    """A legend of every entry below the axes (or below a whole figure), in as many columns as fit the width.

    ``handles`` and ``labels`` default to those of the axes. The figure
    grows by LEGEND_ROW for each row beyond LEGEND_FREE_ROWS, so a long
    legend never squeezes the axes or cuts off their labels. No legend
    without entries.
    """
    if handles is None or labels is None:
        if not isinstance(where, Axes):
            raise ValueError("a legend below a figure needs its handles and labels")
        handles, labels = where.get_legend_handles_labels()
    if not labels:
        return
    labels = [short_name(label) for label in labels]
    ncols = legend_columns(labels)
    fig = where.get_figure(root=True)
    if isinstance(where, Axes):
        where.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=ncols, frameon=False)
    else:
        where.legend(handles, labels, loc="outside lower center", ncols=ncols, frameon=False)
    rows = -(-len(labels) // ncols)
    fig.set_figheight(fig.get_figheight() + max(0, rows - LEGEND_FREE_ROWS) * LEGEND_ROW)
