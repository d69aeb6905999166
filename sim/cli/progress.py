"""Progress on the terminal: bars that count simulated weeks (with an ETA) and messages for the stages after.

Bars and stage messages go to stderr, and only when it is a terminal and
``--quiet`` is not given. A bar counts the simulated weeks of every run of a
command (``simulated_weeks``): a run in this process adds each week as it is
simulated; a run in a worker process or on Dask adds its weeks when it
finishes (``WeekCounter``). A terminal that reports a width of 0, or none,
gets a bar of FALLBACK_COLUMNS characters instead of an empty line.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm

    from sim.model.params import Config

FALLBACK_COLUMNS = 80
"""Width of a bar when the terminal reports a width of 0 or none (some CI consoles and serial terminals)."""


def showing(quiet: bool, stream: TextIO | None = None) -> bool:
    """Whether progress is shown: not ``--quiet``, and ``stream`` (default stderr) is a terminal."""
    stream = sys.stderr if stream is None else stream
    return not quiet and stream.isatty()


def terminal_columns(stream: TextIO) -> int:
    """The width of the terminal ``stream`` writes to; 0 when it reports none or cannot be asked."""
    try:
        return max(os.get_terminal_size(stream.fileno()).columns, 0)
    except (AttributeError, ValueError, OSError):  # no file descriptor, closed, or not a terminal
        return 0


def progress_bar(total: int, desc: str, show: bool, unit: str = "week", leave: bool = True) -> tqdm:
    """A tqdm bar on stderr (with an ETA): as wide as the terminal, or FALLBACK_COLUMNS when it reports 0 or none.

    ``leave=False`` clears the bar when it closes.
    """
    from tqdm import tqdm

    known = show and terminal_columns(sys.stderr) > 0
    return tqdm(total=total, desc=desc, unit=unit, disable=not show, file=sys.stderr, dynamic_ncols=known,
                ncols=None if known else FALLBACK_COLUMNS, leave=leave)


def simulated_weeks(config: Config) -> int:
    """Weeks simulated by one replication: run.weeks, twice with the all-analogue reference run."""
    return config.run.weeks * (2 if config.run.analogue_reference else 1)


class WeekCounter:
    """Counts the simulated weeks of many replications on a bar.

    ``week`` is the per-week callback of runs in this process
    (``sim.experiments.replication.run_many``'s ``on_week``); ``finished(weeks)``
    is called when a replication of ``weeks`` simulated weeks ends and adds
    those not counted week by week, so runs in worker processes, which report
    only at the end, are counted too, and none twice.
    """

    def __init__(self, bar: tqdm) -> None:
        self.bar = bar
        self._counted = 0

    def week(self, _week: int = 0) -> None:
        """One more simulated week of the run in this process."""
        self._counted += 1
        self.bar.update(1)

    def finished(self, weeks: int) -> None:
        """A replication of ``weeks`` simulated weeks has ended: add what was not counted week by week."""
        self.bar.update(max(weeks - self._counted, 0))
        self._counted = 0


class Stages:
    """One line per stage of the work after the runs (statistics, tables, figures) and the time it all took.

    The first stage closes the runs' progress ``bar`` (if given), so that its
    last line stays whole.
    """

    def __init__(self, show: bool, bar: tqdm | None = None) -> None:
        self.show, self.bar = show, bar
        self.start: float | None = None

    def __call__(self, stage: str) -> None:
        """Say that ``stage`` starts."""
        if self.start is None:
            self.start = time.perf_counter()
            if self.bar is not None:
                self.bar.close()
        if self.show:
            print(f"  {stage} ...", file=sys.stderr, flush=True)

    def done(self) -> None:
        """Say that every stage has ended, and how long they took."""
        if self.show and self.start is not None:
            print(f"  done in {time.perf_counter() - self.start:.1f} s", file=sys.stderr, flush=True)


def duration(seconds: float) -> str:
    """A rough duration for a reader: 'about 40 s', 'about 12 min', 'about 2.5 h', 'under a second'."""
    if seconds < 1:
        return "under a second"
    if seconds < 100:
        return f"about {seconds:.0f} s"
    if seconds < 100 * 60:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds / 3600:.1f} h"


def count(n: int, word: str) -> str:
    """'1 rep', '3 reps': a number and a noun, plural when not 1."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"
