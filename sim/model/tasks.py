"""Open self-service procedures as a struct of arrays, and their weekly arrival.

docs/ODD.md section 7.4. Only open procedures are kept; a procedure leaves the
table in the week it is completed or fails, after its outcome has been counted.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import numpy as np

from sim.model.codes import FRESH
from sim.model.params import AGE_BANDS, LETTER_KINDS, PROCEDURE_TYPES, Config

TASK_FIELDS: dict[str, type] = {
    "owner": np.int64,
    "ttype": np.int8,
    "complexity": np.float32,
    "arrival": np.int32,
    "deadline": np.int32,
    "value": np.float32,
    "mandatory": np.bool_,
    "attempts": np.int16,
    "route": np.int8,
    "wait": np.int16,
    "paper_tried": np.bool_,
    "contest": np.bool_,
}


PROCEDURE_CODES = np.arange(len(PROCEDURE_TYPES), dtype=TASK_FIELDS["ttype"])
"""Each procedure type's ``ttype`` code (its index in PROCEDURE_TYPES)."""


class TaskTable:
    """Open procedures: one row per task, one array per field (see TASK_FIELDS)."""

    owner: np.ndarray
    ttype: np.ndarray
    complexity: np.ndarray
    arrival: np.ndarray
    deadline: np.ndarray
    value: np.ndarray
    mandatory: np.ndarray
    attempts: np.ndarray
    route: np.ndarray
    wait: np.ndarray
    paper_tried: np.ndarray
    contest: np.ndarray

    def __init__(self) -> None:
        for name, dtype in TASK_FIELDS.items():
            setattr(self, name, np.zeros(0, dtype=dtype))

    def __len__(self) -> int:
        return len(self.owner)

    def append(self, fields: dict[str, np.ndarray]) -> None:
        """Add new tasks (every field must be given, cast to the field's dtype as ``astype`` would)."""
        for name, dtype in TASK_FIELDS.items():
            setattr(self, name, np.concatenate((getattr(self, name), fields[name]), dtype=dtype, casting="unsafe"))

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the tasks where ``mask`` is true (drop resolved tasks)."""
        for name in TASK_FIELDS:
            setattr(self, name, getattr(self, name)[mask])


class ArrivalRate(NamedTuple):
    """One kind's weekly rate by age band, ready for ``draw_arrivals``: the rates with a rate 0 for the dead
    appended, their largest and whether every band has it (``arrival_rate``)."""

    rates: np.ndarray
    rmax: float
    uniform: bool


def arrival_rate(weekly_rate: np.ndarray) -> ArrivalRate:
    """``weekly_rate`` (by age band) prepared for ``draw_arrivals``, once per rate rather than once per draw."""
    rates = np.append(np.asarray(weekly_rate, dtype=float), 0.0)
    rmax = rates.max()
    return ArrivalRate(rates, rmax, bool(np.all(rates[:-1] == rmax)))


def draw_arrivals(band: np.ndarray, rate: ArrivalRate, rng: np.random.Generator) -> np.ndarray:
    """Owners of this week's arrivals of one kind: a Poisson count per citizen at the rate of its age band.

    ``band`` holds each row's age band (``len(AGE_BANDS)`` for the dead, who
    get none); ``rate`` is the kind's weekly rate by band (``arrival_rate``).
    Drawn by thinning: Poisson(rows * r_max) candidate rows
    uniform over all rows, each kept with probability rate(band) / r_max
    (with one rate for every band, simply every living one is kept).
    This is exactly an independent Poisson(rate(band)) count per citizen,
    at O(arrivals) cost instead of O(citizens).
    """
    rates, rmax, uniform = rate
    if rmax <= 0:
        return np.zeros(0, dtype=np.int64)
    n = len(band)
    cand = rng.integers(0, n, size=rng.poisson(n * rmax))
    if uniform:
        return cand[band[cand] < len(rates) - 1]
    return cand[rng.random(len(cand)) * rmax < rates[band[cand]]]


class Arrivals:
    """What the weekly arrivals of a run need from ``config.tasks``, computed once (docs/ODD.md section 7.4).

    ``config.tasks`` is fixed for a run (the timeline changes only the policy), so the procedure
    types' constants are kept as arrays by type, the weekly rates of the procedure types once per ISO
    week (``procedure_weekly_rates``) and those of the letter kinds once.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        specs = [config.tasks.procedures[name] for name in PROCEDURE_TYPES]
        self.complexity_mean = np.array([s.complexity_mean for s in specs])
        self.complexity_sd = np.array([s.complexity_sd for s in specs])
        self.deadline_weeks = np.array([s.deadline_weeks for s in specs])
        self.value = np.array([s.value_dkk for s in specs])
        self.eligible = np.array([s.digital_eligible for s in specs])
        self.letters = [
            arrival_rate(np.array([spec.rate_per_year * spec.age_rates.get(b, 1.0) / 52 for b in AGE_BANDS]))
            for spec in (config.tasks.letters[k] for k in LETTER_KINDS)
        ]
        self._procedures: dict[int, list[ArrivalRate]] = {}

    def procedures(self, date: dt.date) -> list[ArrivalRate]:
        """Each procedure type's weekly rate in the week of ``date`` (``procedure_weekly_rates``)."""
        iso_week = date.isocalendar().week
        if iso_week not in self._procedures:
            self._procedures[iso_week] = [arrival_rate(r) for r in procedure_weekly_rates(self.config, date)]
        return self._procedures[iso_week]


def procedure_weekly_rates(config: Config, date: dt.date) -> np.ndarray:
    """Weekly arrival rate per citizen, shape (procedure types, age bands).

    Seasonal types (tax) arrive only in their ISO weeks, with the annual rate
    spread over the season.
    """
    iso_week = date.isocalendar().week
    rates = np.zeros((len(PROCEDURE_TYPES), len(AGE_BANDS)))
    for i, name in enumerate(PROCEDURE_TYPES):
        t = config.tasks.procedures[name]
        mult = np.array([t.age_rates.get(b, 1.0) for b in AGE_BANDS])
        if t.season_weeks is None:
            rates[i] = t.rate_per_year * mult / 52.0
        else:
            a, b = t.season_weeks
            if a <= iso_week <= b:
                rates[i] = t.rate_per_year * mult / (b - a + 1)
    return rates


def new_procedures(
    arrivals: Arrivals,
    band: np.ndarray,
    date: dt.date,
    week: int,
    mandate_active: bool,
    mandatory_share: float,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Draw this week's procedures with complexity, deadline, value and mandatory flag.

    ``band``: each row's age band (``len(AGE_BANDS)`` for the dead, see
    ``draw_arrivals``). ``mandatory_share`` is the current policy's (it may change on the timeline).
    """
    owners = [draw_arrivals(band, rate, rng) for rate in arrivals.procedures(date)]
    owner = np.concatenate(owners)
    ttype = np.repeat(PROCEDURE_CODES, [len(o) for o in owners])
    n = len(owner)
    cmean = arrivals.complexity_mean[ttype]
    csd = arrivals.complexity_sd[ttype]
    complexity = np.clip(cmean + csd * rng.standard_normal(n), 0.0, 1.0)
    deadline = week + arrivals.deadline_weeks[ttype]
    value = arrivals.value[ttype]
    eligible = arrivals.eligible[ttype]
    u = rng.random(n)
    mandatory = eligible & mandate_active & (u < mandatory_share)
    return {
        "owner": owner,
        "ttype": ttype,
        "complexity": complexity,
        "arrival": np.full(n, week, dtype=TASK_FIELDS["arrival"]),
        "deadline": deadline,
        "value": value,
        "mandatory": mandatory,
        "attempts": np.zeros(n, dtype=TASK_FIELDS["attempts"]),
        "route": np.full(n, FRESH, dtype=TASK_FIELDS["route"]),
        "wait": np.zeros(n, dtype=TASK_FIELDS["wait"]),
        "paper_tried": np.zeros(n, dtype=bool),
        "contest": np.zeros(n, dtype=bool),
    }
