"""Reading weekly metric tables (the long format of ``DigexModel.timeseries``): the end of a run, the row order.

The end-of-run values of a run are those of its last recorded week; windowed
metrics at that week cover the run's last 52 weeks (docs/ODD.md sections 4
and 7.15). Every summary, comparison and sweep takes them from ``end_of_run``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sim.model.metrics import GROUPS, METRICS, OVERALL

GROUP_RANK: dict[tuple[str, str], int] = {
    label: i for i, label in enumerate([OVERALL, *((t, g) for t, names in GROUPS.items() for g in names)])
}
"""Position of each (group_type, group) in reports: overall first, then the groups as listed in GROUPS."""


def end_of_run(timeseries: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """The rows of the last recorded week of a weekly table (of each ``by`` group, e.g. scenario and rep).

    The index is reset. Raises ValueError if the table lacks the week or a ``by`` column.
    """
    missing = [c for c in ("week", *by) if c not in timeseries.columns]
    if missing:
        raise ValueError(f"end of run: the table has no column {', '.join(missing)}")
    week = timeseries["week"]
    last = timeseries.groupby(list(by), sort=False, observed=True)["week"].transform("max") if by else week.max()
    return timeseries[week == last].reset_index(drop=True)


def names_in_order(column: pd.Series) -> list[str]:
    """The distinct values of a label column (e.g. the scenarios of a weekly table) as strings, in order of
    first appearance: from ``unique()``, not a string per row (a stacked table has millions of rows)."""
    return list(dict.fromkeys(map(str, column.unique())))


def metric_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows stably sorted by metric (as in METRICS), then overall before groups (as in GROUPS); index reset.

    Unknown metrics and groups come last; without group columns only the metric counts.
    """
    rank = {m: i for i, m in enumerate(METRICS)}
    metric = np.array([rank.get(m, len(rank)) for m in frame["metric"]], dtype=float)
    group = np.zeros(len(frame))
    if {"group_type", "group"} <= set(frame.columns):
        labels = zip(frame["group_type"], frame["group"], strict=True)
        group = np.array([GROUP_RANK.get(label, len(GROUP_RANK)) for label in labels], dtype=float)
    return frame.iloc[np.lexsort((group, metric))].reset_index(drop=True)
