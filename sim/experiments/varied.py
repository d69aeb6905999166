"""A setting an experiment varies: its key path and the values it takes.

One type for a sweep's ``--vary`` option, a calibration parameter and a
dashboard lever. A varied setting is a key path of the scenario
(``sim.model.keypath``) with either listed values or a numeric range
[low, high], optionally on a log scale. Values are read from a scenario
with ``read``; a number drawn in the range becomes a value of the key with
``number`` (whole numbers for an integer key); ``to_unit`` and ``from_unit``
map the range onto [0, 1], as a calibration searches it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from sim.model import keypath


@dataclass(frozen=True)
class Varied:
    """A key path and either listed ``values`` or a numeric range ``low``..``high``.

    ``log`` puts the range on a log scale (``low`` > 0); ``n`` is the number of
    evenly spaced values of a grid over the range. A setting with neither
    values nor a range leaves its choices to the caller (a dashboard checkbox).
    """

    key: str
    values: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    log: bool = False
    n: int | None = None

    @property
    def is_range(self) -> bool:
        """True for a numeric range, false for listed values."""
        return self.low is not None

    def read(self, config: BaseModel) -> Any:
        """The setting's value in a scenario (KeyPathError if the scenario has no such key)."""
        return keypath.get(config, self.key)

    def number(self, x: float, config: BaseModel) -> int | float:
        """``x`` as a value of the key: rounded to a whole number if the key holds one in ``config``."""
        current = self.read(config)
        if isinstance(current, int) and not isinstance(current, bool):
            return int(round(x))
        return float(x)

    def to_unit(self, value: float) -> float:
        """Position of ``value`` in [0, 1] between low and high (on a log scale if ``log``)."""
        if self.log:
            return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (value - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> float:
        """The value at position ``u`` in [0, 1] of the range (``u`` clipped to [0, 1])."""
        u = min(max(float(u), 0.0), 1.0)
        if self.log:
            return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        return self.low + u * (self.high - self.low)

    def grid(self) -> list[float]:
        """The ``n`` evenly spaced values from low to high (evenly spaced logarithms if ``log``)."""
        if self.log:
            return [float(v) for v in np.geomspace(self.low, self.high, self.n)]
        return [float(v) for v in np.linspace(self.low, self.high, self.n)]

    def pick(self, u: float) -> Any:
        """The listed value at position ``u`` in [0, 1): value number floor(u * count), each an equal share."""
        return self.values[min(int(u * len(self.values)), len(self.values) - 1)]
