"""Statistics over replications: means, t-intervals and paired differences (docs/ODD.md section 4, Observation).

Every interval digex reports is a two-sided t-interval at ``LEVEL`` over
independent replications; with fewer than two values it collapses to the
mean. Missing values (NaN, e.g. a group without members) are left out.
"""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt
import pandas as pd

LEVEL = 0.95
"""Confidence level of every interval."""


def t_interval(mean: npt.ArrayLike, sd: npt.ArrayLike, n: npt.ArrayLike,
               level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided t-interval of means with standard deviations ``sd`` over ``n`` values (element-wise).

    Below two values an interval collapses to its mean, and scipy (0.4 s to
    import) is not imported at all when no mean has two values.
    """
    mean, n = np.asarray(mean, dtype=float), np.asarray(n, dtype=float)
    many = n >= 2
    half = np.zeros(np.broadcast(mean, sd, n).shape)
    if many.any():
        from scipy import stats

        with np.errstate(invalid="ignore", divide="ignore"):
            q = stats.t.ppf(0.5 + level / 2, np.where(many, n - 1, 1))
            half = np.where(many, q * np.asarray(sd, dtype=float) / np.sqrt(np.maximum(n, 1)), 0.0)
    return mean - half, mean + half


def mean_ci(values: npt.ArrayLike, level: float = LEVEL) -> tuple[float, float, float]:
    """Mean and t-interval (low, high) of one set of replication values; all NaN without values."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return (float("nan"),) * 3
    m = float(v.mean())
    lo, hi = t_interval(m, v.std(ddof=1) if len(v) > 1 else 0.0, len(v), level)
    return m, float(lo), float(hi)


def summarise(frame: pd.DataFrame, by: list[str], value: str = "value") -> pd.DataFrame:
    """Mean, ci_low, ci_high and n_reps of ``value`` over replications, per ``by`` group (in order of appearance)."""
    g = frame.groupby(by, sort=False, dropna=False, observed=True)[value]
    out = g.agg(["mean", "std", "count"]).reset_index()
    out["ci_low"], out["ci_high"] = t_interval(out["mean"].to_numpy(), out["std"].to_numpy(), out["count"].to_numpy())
    out = out.rename(columns={"count": "n_reps"}).drop(columns="std")
    return out[[*by, "mean", "ci_low", "ci_high", "n_reps"]]


def summarise_columns(values: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, ci_low, ci_high and count of each column of a (replications x values) array."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"summarise_columns needs a (replications x values) array, got {arr.ndim} dimension(s)")
    n = (~np.isnan(arr)).sum(axis=0)
    with warnings.catch_warnings():  # columns without values give NaN, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(arr, axis=0)
        sd = np.nanstd(arr, axis=0, ddof=1) if len(arr) > 1 else np.zeros(arr.shape[1])
    lo, hi = t_interval(mean, sd, n)
    return mean, lo, hi, n


def paired_difference(
    reference: npt.ArrayLike, other: npt.ArrayLike, level: float = LEVEL
) -> tuple[float, float, float, int]:
    """Mean of ``other - reference`` over paired replications, its t-interval and the number of pairs.

    Pairs where either value is missing are dropped. The interval is the
    t-interval of the per-replication differences (paired t-interval).
    """
    a, b = np.asarray(reference, dtype=float), np.asarray(other, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired values need equal lengths, got {len(a)} and {len(b)}")
    ok = ~(np.isnan(a) | np.isnan(b))
    m, lo, hi = mean_ci(b[ok] - a[ok], level)
    return m, lo, hi, int(ok.sum())
