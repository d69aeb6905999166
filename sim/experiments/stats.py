"""Statistics over replications: means, intervals and paired differences (docs/ODD.md section 4, Observation).

Every interval digex reports is a two-sided interval at ``LEVEL`` over
independent replications, built from the t distribution with n - 1 degrees
of freedom (``scipy.stats.t``):

- for a metric on an open scale (DKK, persons, weeks, ...) the t-interval
  mean +/- t * sd / sqrt(n);
- for a metric on a bounded scale (``BOUNDS``: shares and 0-1 means) the same
  t-interval on the logit scale around the mean, with the standard error
  carried over by the delta method: logit(m) +/- t * se / (m (1 - m)), mapped
  back with the logistic function (``scipy.special.logit``/``expit``), as
  R's ``survey::svyciprop(method = "xlogit")``. It stays inside [0, 1], is
  asymmetric near a bound and always holds the mean;
  a paired difference of two such means lies in [-1, 1] and gets the same
  interval on that range (the logit of (d + 1) / 2, i.e. Fisher's z);
- with fewer than two values there is no interval: low and high are NaN.

A mean that sits on its bound (every replication 0, or every one 1) has no
spread and its interval is that single value. Missing values (NaN, e.g. a
group without members) are left out.
"""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt
import pandas as pd

from sim.model.metrics import METRICS

LEVEL = 0.95
"""Confidence level of every interval."""

BOUNDS: dict[str, tuple[float, float]] = {"share": (0.0, 1.0), "0-1": (0.0, 1.0)}
"""Units (``sim.model.metrics.METRICS``) whose values lie in a closed range; their intervals stay inside it."""


def unit_of(metric: str) -> str:
    """The unit of a metric in METRICS ('' for a name that is not a metric)."""
    return METRICS[metric].unit if metric in METRICS else ""


def bounds(unit: str, difference: bool = False) -> tuple[float, float] | None:
    """The range of a mean in ``unit`` (of a difference of two means if ``difference``); None if unbounded."""
    if unit not in BOUNDS:
        return None
    low, high = BOUNDS[unit]
    return (low - high, high - low) if difference else (low, high)


def interval(mean: npt.ArrayLike, sd: npt.ArrayLike, n: npt.ArrayLike, units: npt.ArrayLike = "",
             difference: bool = False, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Interval of means over ``n`` values with standard deviations ``sd``, each on the scale of its unit.

    ``units`` holds one unit per mean (or one for all); means of a unit in
    BOUNDS (differences of such means if ``difference``) get the logit-scale
    interval of the module docstring, all others the t-interval. NaN below
    two values, and scipy (0.4 s to import) is not imported at all when no
    mean has two values.
    """
    mean, sd, n = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (mean, sd, n)))
    units = np.broadcast_to(np.asarray(units, dtype=object), mean.shape)
    lo, hi = np.full(mean.shape, np.nan), np.full(mean.shape, np.nan)
    many = n >= 2
    if not many.any():
        return lo, hi
    from scipy import special, stats

    with np.errstate(invalid="ignore", divide="ignore"):
        se = sd / np.sqrt(np.maximum(n, 1))
        q = stats.t.ppf(0.5 + level / 2, np.where(many, n - 1, 1))
        lo, hi = np.where(many, mean - q * se, np.nan), np.where(many, mean + q * se, np.nan)
        for unit in set(units[many].tolist()):
            scale = bounds(str(unit), difference)
            if scale is None:
                continue
            rows = many & (units == unit)
            width = scale[1] - scale[0]
            p = (mean[rows] - scale[0]) / width
            inside = (p > 0) & (p < 1) & (se[rows] > 0)
            half = q[rows] * se[rows] / width / (p * (1 - p))
            z = special.logit(p)
            lo[rows] = np.where(inside, scale[0] + width * special.expit(z - half), np.clip(lo[rows], *scale))
            hi[rows] = np.where(inside, scale[0] + width * special.expit(z + half), np.clip(hi[rows], *scale))
    return lo, hi


def mean_ci(values: npt.ArrayLike, unit: str = "", difference: bool = False,
            level: float = LEVEL) -> tuple[float, float, float]:
    """Mean and interval (low, high) of one set of replication values in ``unit``.

    All NaN without values; low and high NaN with one value.
    """
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return (float("nan"),) * 3
    m = float(v.mean())
    lo, hi = interval(m, v.std(ddof=1) if len(v) > 1 else 0.0, len(v), unit, difference, level)
    return m, float(lo), float(hi)


def summarise(frame: pd.DataFrame, by: list[str], value: str = "value") -> pd.DataFrame:
    """Mean, ci_low, ci_high and n_reps of ``value`` over replications, per ``by`` group (in order of appearance).

    Each group's unit is that of its metric (the frame's ``metric`` column;
    without one, intervals are t-intervals). With ``metric`` among ``by`` the
    result has a ``unit`` column after the ``by`` columns.
    """
    g = frame.groupby(by, sort=False, dropna=False, observed=True)
    out = g[value].agg(["mean", "std", "count"])
    if "metric" in frame and "metric" not in by:
        out["metric"] = g["metric"].first()
    out = out.reset_index()
    out["unit"] = out["metric"].astype(str).map(unit_of) if "metric" in out else ""
    out["ci_low"], out["ci_high"] = interval(out["mean"].to_numpy(), out["std"].to_numpy(), out["count"].to_numpy(),
                                             out["unit"].to_numpy())
    out = out.rename(columns={"count": "n_reps"})
    return out[[*by, *(["unit"] if "metric" in by else []), "mean", "ci_low", "ci_high", "n_reps"]]


def summarise_columns(values: npt.ArrayLike, units: npt.ArrayLike = "", difference: bool = False,
                      level: float = LEVEL) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, ci_low, ci_high and count of each column of a (replications x values) array.

    ``units`` holds the unit of each column (or one for all); ``difference``: the columns hold differences
    of two means in those units.
    """
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"summarise_columns needs a (replications x values) array, got {arr.ndim} dimension(s)")
    n = (~np.isnan(arr)).sum(axis=0)
    with warnings.catch_warnings():  # columns without values give NaN, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(arr, axis=0)
        sd = np.nanstd(arr, axis=0, ddof=1) if len(arr) > 1 else np.zeros(arr.shape[1])
    lo, hi = interval(mean, sd, n, units, difference, level)
    return mean, lo, hi, n


def paired_difference(reference: npt.ArrayLike, other: npt.ArrayLike, units: npt.ArrayLike = "",
                      level: float = LEVEL) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean of ``other - reference`` over paired replications, its interval and the number of pairs, per row.

    ``reference`` and ``other`` are (values x replications) arrays, replication r of both in column r (a
    1-D array is one row). Pairs where either value is missing are dropped. The interval is that of the
    per-replication differences (a paired interval), on the range of a difference in each row's unit
    (``units``; [-1, 1] for shares).
    """
    a, b = np.atleast_2d(np.asarray(reference, dtype=float)), np.atleast_2d(np.asarray(other, dtype=float))
    if a.shape != b.shape:
        raise ValueError(f"paired values need equal shapes, got {a.shape} and {b.shape}")
    return summarise_columns((b - a).T, units, difference=True, level=level)


NOISE_ONLY = "simulation noise only, not parameter uncertainty"
"""What an interval over replications with fixed parameter values covers."""

NOISE_AND_PARAMETERS = "simulation noise and parameter uncertainty"
"""What an interval over replications that each use their own posterior draw covers."""


def interval_covers(posterior: bool) -> str:
    """Which uncertainty a 95% interval covers: simulation noise alone, or with ``posterior`` draws (``digex run
    --posterior K``, docs/ODD.md section 4, Stochasticity) parameter uncertainty too. The ``interval_covers``
    column of the summary tables holds it."""
    return NOISE_AND_PARAMETERS if posterior else NOISE_ONLY


def interval_statement(n_reps: int, posterior: bool) -> str:
    """The one sentence every table caption, figure and report uses to say what a 95% interval covers."""
    if posterior:
        return (f"95% interval over {n_reps} replications, each with its own posterior draw and seed: "
                f"{interval_covers(True)} (an interval of the mean: single draws spread wider)")
    return f"95% interval over {n_reps} replications with the calibrated point values: {interval_covers(False)}"
