"""Back-office case systems that fail: decisions held, deadlines missed, costs raised (docs/ODD.md section 7.2a).

Behind every procedure an authority's case system must decide it. While
the back office is down (a dated failure on the timeline, ``down``, or a
random one at ``failure_rate_per_year``), a share ``slowdown[type]`` of the
open procedures of each type is *held* each week: the case is stuck in the
back office, so it makes no attempt, is not served at the phone or centre
and is not given up; its deadline stands (unless ``extend_deadlines``), so
a held benefit claim can fail at its deadline (a lost benefit). Extra staff
do manual casework meanwhile, and the programme's spending is booked.

A held task keeps its route r encoded as ``-(r + HELD_OFFSET)``, which the
weekly step treats as open (not RESOLVED) but neither fresh, failed nor
queued; it is restored at the start of the next back-office week.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.model.codes import FRESH
from sim.model.params import PROCEDURE_TYPES

if TYPE_CHECKING:
    from sim.model.model import DigexModel
    from sim.model.tasks import TaskTable

FULL_TIME_HOURS = 37.0
"""Weekly hours of a full-time public employee (the 37-hour week of Danish collective agreements)."""

HELD_OFFSET = 2
"""A held task's route r is stored as -(r + 2): -2 to -5, never RESOLVED (-1) nor a live route (>= 0)."""


@dataclass
class BackOfficeState:
    """The back office's state in a run: the end of the random failure under way, and this week's status."""

    down_until: int = 0
    """First week after the current random failure (no failure under way if it is not after this week)."""
    down: bool = False
    """The back office is down this week (a dated or a random failure)."""


def release_held(t: TaskTable) -> np.ndarray:
    """Return held tasks to the route they had when held; their indices."""
    held = np.flatnonzero(t.route <= -HELD_OFFSET)
    t.route[held] = -t.route[held] - HELD_OFFSET
    return held


def failure_starts(m: DigexModel, rng: np.random.Generator) -> None:
    """Draw whether a random failure starts this week (none under way) and, if so, its length.

    Start probability 1 - exp(-failure_rate_per_year / 52); length
    max(1, round(Exponential(failure_weeks_mean))) weeks. No draw at a zero
    rate, so that scenarios without random failures share the stream.
    """
    bo, s = m.policy.backoffice, m.backoffice
    if bo.failure_rate_per_year <= 0 or m.week < s.down_until:
        return
    if rng.random() < -math.expm1(-bo.failure_rate_per_year / 52):
        s.down_until = m.week + max(1, round(float(rng.exponential(bo.failure_weeks_mean))))


def backoffice_week(m: DigexModel, rng: np.random.Generator) -> None:
    """One week of the back office (docs/ODD.md section 7.2a): release, failures, held cases and costs.

    Called after the week's needs arrive, so that new claims are held too.
    While down, each open, unheld procedure is held with probability
    ``slowdown[type]``; with ``extend_deadlines`` its deadline moves a week.
    Costs (real-population DKK, divided by the weight for the ledger):
    ``programme_cost_per_year_dkk`` / 52 each week as IT build; while down,
    ``failure_staff`` x 37 hours x ``costs.staff_cost_per_hour_dkk`` as IT
    running (the staff who keep cases moving by hand).
    """
    bo, s, t = m.policy.backoffice, m.backoffice, m.tasks
    release_held(t)
    failure_starts(m, rng)
    s.down = bo.down or m.week < s.down_until
    held = np.zeros(0, dtype=np.int64)
    staff = 0.0
    if s.down:
        share = np.array([bo.slowdown.get(k, 0.0) for k in PROCEDURE_TYPES])
        idx = np.flatnonzero(t.route >= FRESH)
        held = idx[rng.random(len(idx)) < share[t.ttype[idx]]]
        t.route[held] = -t.route[held] - HELD_OFFSET
        if bo.extend_deadlines:
            t.deadline[held] += 1
        staff = bo.failure_staff * FULL_TIME_HOURS * m.config.costs.staff_cost_per_hour_dkk / m.weight
    m.costs.add_it(bo.programme_cost_per_year_dkk / 52 / m.weight, staff)
    m.metrics.add_backoffice(len(held), s.down, staff)
