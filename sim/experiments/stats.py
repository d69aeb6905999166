"""Summaries across replications: means with 95% t-intervals (MODEL.md section 6)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided t-interval of independent replications (NaNs ignored).

    With one replication the interval collapses to the mean.
    """
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return (float("nan"),) * 3
    m = float(v.mean())
    if len(v) < 2:
        return m, m, m
    from scipy import stats  # imported here: scipy takes 0.4 s to import and one replication needs none

    half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return m, m - half, m + half


def summarise(frame: pd.DataFrame, by: list[str], value: str = "value") -> pd.DataFrame:
    """Mean, ci_low, ci_high and n_reps of ``value`` over replications, per ``by`` group."""
    rows = []
    for key, grp in frame.groupby(by, sort=False, dropna=False):
        m, lo, hi = mean_ci(grp[value].to_numpy())
        key = key if isinstance(key, tuple) else (key,)
        rows.append((*key, m, lo, hi, int(grp[value].notna().sum())))
    return pd.DataFrame(rows, columns=[*by, "mean", "ci_low", "ci_high", "n_reps"])
