"""One number format for the terminal, the report and the dashboard.

- shares in per cent (``12.3%``), differences of shares in percentage points (``+1.20 pp``);
- money and other amounts with thousands separators (``1,230``), in millions from a million on (``25.8 m``);
- every value to at most ``SIGNIFICANT`` significant digits: they are means over sampled replications (or
  sampled settings), and more digits would only show noise;
- a mean and its interval as ``mean [low, high]``, the three on one scale (the largest of them sets the
  digits); without an interval (one replication) the mean alone, never ``[a, a]``.

Units are those of ``sim.model.metrics.METRICS``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

SIGNIFICANT = 3
"""Most significant digits of a number shown."""

MILLION = 1e6
"""Amounts from this on are shown in millions ('m')."""

MISSING = "–"
"""Text of a value that does not exist (a group without members, a reference's difference from itself)."""

SHARE = "share"
"""The unit of shares (0-1), shown in per cent."""

MOST_DECIMALS = {SHARE: 2, "0-1": 3}
"""Most decimals shown by unit (of per cent for shares); OTHER_DECIMALS for other units."""

OTHER_DECIMALS = 4
"""Most decimals shown for units not in MOST_DECIMALS (small rates such as incidents per year)."""


def missing(value: Any) -> bool:
    """Whether a value is absent: None or NaN."""
    return value is None or (isinstance(value, (float, np.floating)) and math.isnan(value))


def decimals(magnitude: float, most: int) -> int:
    """Decimals that show ``magnitude`` to SIGNIFICANT digits (negative: round to tens, hundreds...), at most ``most``.

    The magnitude is rounded first, so 99.96 counts as 100 (three digits, no decimals).
    """
    magnitude = abs(magnitude)
    if magnitude == 0 or not math.isfinite(magnitude):
        return 0
    rounded = float(f"{magnitude:.{SIGNIFICANT}g}")
    return min(most, SIGNIFICANT - 1 - math.floor(math.log10(rounded)))


def fmt_value(value: float, unit: str, diff: bool = False, magnitude: float | None = None) -> str:
    """A number for a reader: a share in per cent (a difference of shares in pp), an amount with separators.

    ``magnitude`` (default: the value itself) sets the scale and the digits, so the numbers of one interval
    share them; a difference is signed.
    """
    if missing(value):
        return MISSING
    factor, suffix = (100.0, " pp" if diff else "%") if unit == SHARE else (1.0, "")
    x, size = value * factor, abs(value if magnitude is None or missing(magnitude) else magnitude) * factor
    if unit not in MOST_DECIMALS and size >= MILLION:
        x, size, suffix = x / MILLION, size / MILLION, " m"
    places = decimals(size, MOST_DECIMALS.get(unit, OTHER_DECIMALS))
    x = round(x, places) + 0.0  # + 0.0 turns -0.0 into 0.0
    sign = "+" if diff and x > 0 else ""
    return f"{sign}{x:,.{max(places, 0)}f}{suffix}"


def unit_label(unit: str, diff: bool = False) -> str:
    """How values of a unit are labelled: shares as %, their differences as pp, others by their unit."""
    if unit == SHARE:
        return "pp" if diff else "%"
    return {"0-1": "0-1 scale"}.get(unit, unit)


def fmt_interval(mean: float, low: float, high: float, unit: str, diff: bool = False,
                 show_unit: bool = False) -> str:
    """``mean [low, high]`` on one scale; the mean alone when there is no interval (low or high missing).

    ``show_unit`` appends the unit where the numbers do not carry it (not for shares, which show % or pp).
    """
    if missing(mean):
        return MISSING
    has_interval = not (missing(low) or missing(high))
    magnitude = max(abs(v) for v in ((mean, low, high) if has_interval else (mean,)))
    text = fmt_value(mean, unit, diff, magnitude)
    if has_interval:
        text += f" [{fmt_value(low, unit, diff, magnitude)}, {fmt_value(high, unit, diff, magnitude)}]"
    if show_unit and unit and unit != SHARE:
        text += f" ({unit_label(unit)})" if unit == "0-1" else f" {unit}"
    return text


def fmt_setting(value: Any) -> str:
    """A setting's value (a sweep point's, possibly sampled) as short text: SIGNIFICANT digits for a fractional
    number, integers and text as they are (no separators, so the text still works in ``--set``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    x = float(value)
    if not math.isfinite(x):
        return str(x)
    return np.format_float_positional(float(f"{x:.{SIGNIFICANT}g}"), trim="-")
