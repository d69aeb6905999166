"""Capacity-limited human help: the phone line and citizen service centres (docs/ODD.md section 7.7).

Centres and their helpers are array-backed like citizens (``HelperTable``);
``sim/model/agents.py`` gives each a ``mesa.Agent`` view. Queues are served earliest
deadline first, ties broken at random; who is not served waits a week (losing
some trust) and may give up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.model.codes import CENTRE, PHONE, QUEUED_CENTRE, QUEUED_PHONE
from sim.model.mechanisms.channels import back_to_choice

if TYPE_CHECKING:
    from sim.model.model import DigexModel


MAX_HELPERS_PER_CENTRE = 50
"""At most this many helper rows (and Helper agents) per centre."""


def helpers_per_centre(helpers_per_10k: float, size: int, n_centres: int) -> int:
    """Helpers each centre has: the staffing for the starting population, spread evenly over the centres.

    round(helpers_per_10k x size / 10,000 / centres), at least 1 and at
    most ``MAX_HELPERS_PER_CENTRE`` (docs/ODD.md section 2).
    """
    return min(max(1, round(helpers_per_10k * size / 1e4 / n_centres)), MAX_HELPERS_PER_CENTRE)


class HelperTable:
    """Helpers of all centres: centre, casework expertise and this week's minutes by use.

    Every centre has the same number of helpers (``per_centre``); rows are
    the helpers, in order of hiring. ``overrun`` holds each centre's minutes
    served beyond capacity last week (``serve_within_capacity``); ``spare``
    each centre's capacity left this week after its queue (``serve_centres``),
    which other centre work (``take``) uses first.
    """

    def __init__(self, n_centres: int, per_centre: int, expertise: float = 1.0) -> None:
        self.n_centres = n_centres
        self.centre = np.repeat(np.arange(n_centres), per_centre)
        self.expertise = np.full(len(self.centre), expertise)
        self.minutes_casework = np.zeros(len(self.centre))
        self.minutes_teaching = np.zeros(len(self.centre))
        self.minutes_documentation = np.zeros(len(self.centre))
        self.overrun = np.zeros(n_centres)
        self.spare = np.zeros(n_centres)

    @property
    def per_centre(self) -> int:
        """Helpers at each centre."""
        return len(self.centre) // self.n_centres

    def staff(self, per_centre: int) -> np.ndarray:
        """Hire or let go helpers so that every centre has ``per_centre``; return the rows kept (old numbering).

        A centre lets go its most recently hired helpers. New helpers are
        appended after the kept rows; they start at their centre's mean
        casework expertise (a centre's helpers share its cases evenly, so
        they have one expertise) and with no minutes booked this week.
        """
        order = np.argsort(self.centre, kind="stable")
        first = np.searchsorted(self.centre[order], np.arange(self.n_centres))
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order)) - first[self.centre[order]]
        kept = np.flatnonzero(rank < per_centre)
        hired = np.repeat(np.arange(self.n_centres), per_centre - np.minimum(self.per_centre, per_centre))
        mean = self.centre_expertise()
        none = np.zeros(len(hired))
        self.centre = np.concatenate([self.centre[kept], hired])
        self.expertise = np.concatenate([self.expertise[kept], mean[hired]])
        self.minutes_casework = np.concatenate([self.minutes_casework[kept], none])
        self.minutes_teaching = np.concatenate([self.minutes_teaching[kept], none])
        self.minutes_documentation = np.concatenate([self.minutes_documentation[kept], none])
        return kept

    def centre_expertise(self) -> np.ndarray:
        """Mean casework expertise of each centre's helpers."""
        return np.bincount(self.centre, self.expertise, self.n_centres) / np.bincount(
            self.centre, minlength=self.n_centres
        )

    def book(self, casework: np.ndarray, teaching: np.ndarray, documentation: np.ndarray) -> None:
        """Spread each centre's minutes of the week evenly over its helpers."""
        per = np.bincount(self.centre, minlength=self.n_centres)
        self.minutes_casework = casework[self.centre] / per[self.centre]
        self.minutes_teaching = teaching[self.centre] / per[self.centre]
        self.minutes_documentation = documentation[self.centre] / per[self.centre]

    def take(self, minutes: np.ndarray) -> None:
        """Book other centre work of this week (``minutes`` per centre, e.g. exemption applications).

        The minutes come out of the centre's spare capacity this week; what
        exceeds it is carried as overrun into next week's capacity (as a
        queue's overrun is), so the work crowds out cases rather than adding
        staff. They count as casework minutes of the centre's helpers.
        """
        from_spare = np.minimum(self.spare, minutes)
        self.spare = self.spare - from_spare
        self.overrun += minutes - from_spare
        per = np.bincount(self.centre, minlength=self.n_centres)
        self.minutes_casework = self.minutes_casework + (minutes / per)[self.centre]

    def update_expertise(self, gain_per_year: float, decay_per_year: float) -> None:
        """Casework expertise grows with casework and decays with teaching ('warm vs cold hands').

        e += gain/52 * c * (1 - e) - decay/52 * (1 - c) * e, where c is the
        helper's casework share of case minutes this week (no change when idle).
        """
        case = self.minutes_casework + self.minutes_teaching
        busy = case > 0
        c = np.where(busy, self.minutes_casework / np.where(busy, case, 1), 0.0)
        e = self.expertise
        delta = gain_per_year / 52 * c * (1 - e) - decay_per_year / 52 * (1 - c) * e
        self.expertise = np.clip(e + np.where(busy, delta, 0.0), 0.0, 1.0)


def first_served(
    groups: np.ndarray, deadline: np.ndarray, cost: np.ndarray, capacity: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Mask of requests served: per group, earliest deadline first, while capacity remains.

    ``cost`` is what one request uses of its group's capacity (minutes); a
    request is served if the minutes used before it in its group, in service
    order, are below the group's capacity (the last case served may run over,
    as a helper finishes the case in hand; so even a centre with less than one
    case's minutes a week serves someone).
    """
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort((rng.random(n), deadline, groups))
    g = groups[order]
    c = np.cumsum(cost[order])
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    offset = np.repeat(np.r_[0.0, c[starts[1:] - 1]], np.diff(np.r_[starts, n]))
    served_sorted = (c - cost[order] - offset) < capacity[g]
    served = np.empty(n, dtype=bool)
    served[order] = served_sorted
    return served


def serve_within_capacity(
    groups: np.ndarray, deadline: np.ndarray, cost: np.ndarray, capacity: np.ndarray,
    overrun: np.ndarray, rng: np.random.Generator,
) -> np.ndarray:
    """``first_served`` with last week's overrun carried over, so served minutes match staffed minutes.

    Minutes a group ran over capacity last week are taken from this week's
    capacity (``overrun`` is updated in place); over the weeks a centre serves
    its staffed minutes on average, even when one case is longer than a week's
    capacity (small populations).
    """
    available = capacity - overrun
    served = first_served(groups, deadline, cost, available, rng)
    used = np.bincount(groups[served], cost[served], len(capacity))
    overrun[:] = np.where(np.isinf(capacity), 0.0, np.maximum(0.0, used - available))
    return served


def wait_or_leave(m: DigexModel, idx: np.ndarray) -> None:
    """Unserved requests wait a week and lose trust; after max_wait_weeks they leave the queue."""
    t, b = m.tasks, m.config.behaviour
    t.wait[idx] += 1
    m.trust_down(t.owner[idx], b.trust_loss_waiting)
    leave = idx[t.wait[idx] >= m.policy.centre.max_wait_weeks]
    back_to_choice(m, leave)


def serve_phone(m: DigexModel, rng: np.random.Generator) -> None:
    """Serve queued phone calls up to the agents' weekly minutes.

    Success = phone_success * (1 - phone_complexity_penalty * complexity)
    * (1 - phone_language_penalty * language barrier); no learning. Staff
    cost is the staffed hours (see costs.py).
    """
    t, b, pol = m.tasks, m.config.behaviour, m.policy.phone
    idx = np.flatnonzero(t.route == QUEUED_PHONE)
    minutes = np.full(len(idx), pol.minutes_per_call)
    cap_minutes = pol.agents_per_10k * m.n_alive / 1e4 * pol.hours_per_week * 60
    if m.policy.unlimited_capacity:
        cap_minutes = np.inf
    served = serve_within_capacity(np.zeros(len(idx), dtype=np.int64), t.deadline[idx], minutes,
                                   np.array([cap_minutes]), m.phone_overrun, rng)
    s = idx[served]
    m.metrics.add_queue(PHONE, len(idx), t.wait[s])
    m.costs.add_phone(len(s) * pol.minutes_per_call, cap_minutes)
    m.citizen_time(t.owner[s], PHONE)
    language = m.pop.language_barrier[t.owner[s]]
    p_ok = (b.phone_success * (1 - b.phone_complexity_penalty * t.complexity[s])
            * (1 - b.phone_language_penalty * language))
    ok = rng.random(len(s)) < p_ok
    m.complete(s[ok], PHONE)
    back_to_choice(m, s[~ok])
    wait_or_leave(m, idx[~served])


def serve_centres(m: DigexModel, rng: np.random.Generator) -> None:
    """Serve queued centre visits per centre up to its helpers' weekly minutes.

    First the helpers follow this week's staffing (``m.staff_centres``).
    Each case is casework (helper completes it: success = casework_success *
    (0.5 + 0.5 * expertise)) or, with chance self_help_share, help to
    self-help (citizen does it while taught: success = self_help_success and a
    skill gain of learn_by_teaching). Both add documentation minutes. The
    capacity left after the queue is kept as the centres' spare minutes for
    other work of the week (``HelperTable.take``).
    """
    m.staff_centres()
    t, b, pol = m.tasks, m.config.behaviour, m.policy.centre
    idx = np.flatnonzero(t.route == QUEUED_CENTRE)
    o = t.owner[idx]
    centre = m.pop.centre[o].astype(np.int64)
    teach = rng.random(len(idx)) < pol.self_help_share
    minutes = np.where(teach, pol.minutes_self_help, pol.minutes_casework) + pol.documentation_minutes
    cap = pol.helpers_per_10k * m.living_per_centre / 1e4 * pol.hours_per_week * 60.0
    if m.policy.unlimited_capacity:
        cap = np.full(m.helpers.n_centres, np.inf)
    available = cap - m.helpers.overrun
    served = serve_within_capacity(centre, t.deadline[idx], minutes, cap, m.helpers.overrun, rng)
    s, sc, st = idx[served], centre[served], teach[served]
    n_c = m.helpers.n_centres
    casework = np.bincount(sc[~st], np.full((~st).sum(), pol.minutes_casework), n_c)
    teaching = np.bincount(sc[st], np.full(st.sum(), pol.minutes_self_help), n_c)
    documentation = np.bincount(sc, np.full(len(sc), pol.documentation_minutes), n_c)
    m.helpers.book(casework, teaching, documentation)
    m.helpers.spare = np.maximum(0.0, available - np.bincount(sc, minutes[served], n_c))
    m.metrics.add_queue(CENTRE, len(idx), t.wait[s])
    m.metrics.add_helper_minutes(casework.sum(), teaching.sum(), documentation.sum())
    m.costs.add_centre(casework.sum() + teaching.sum() + documentation.sum(), cap.sum(), len(s))
    m.citizen_time(t.owner[s], CENTRE)

    expertise = m.helpers.centre_expertise()[sc]
    p_ok = np.where(st, b.self_help_success, b.casework_success * (0.5 + 0.5 * expertise))
    ok = rng.random(len(s)) < p_ok
    m.learn(t.owner[s[st]], b.learn_by_teaching)
    m.complete(s[ok], CENTRE)
    back_to_choice(m, s[~ok])
    wait_or_leave(m, idx[~served])
    m.helpers.update_expertise(pol.expertise_gain_per_year, pol.expertise_decay_per_year)
