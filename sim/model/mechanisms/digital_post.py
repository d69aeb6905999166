"""Public letters, Digital Post reading and enrolment (docs/ODD.md sections 7.4 and 7.11).

Letters are not kept one by one: for each letter kind, a ring of ``deadline``
slots counts each citizen's unread letters by arrival week. A citizen who
checks the mailbox reads everything pending; letters still unread after
``deadline_weeks`` reading chances fail (an exclusion event).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.model.codes import ENROLLED, NOT_ENROLLED
from sim.model.maths import logistic
from sim.model.mechanisms.channels import has_proxy
from sim.model.params import AGE_BANDS, LETTER_KINDS
from sim.model.population import NEVER
from sim.model.tasks import draw_arrivals

if TYPE_CHECKING:
    from sim.model.model import DigexModel


class Mailboxes:
    """Unread letters per kind, arrival slot and citizen (int16 counts).

    Attributes:
        deadlines: reading chances of each letter kind (the ring sizes).
        rings: per kind, unread letters by arrival slot (rows) and citizen (columns).
        unread: each citizen's unread letters, all kinds together.
        cleared: week each citizen last read everything (``NEVER`` if not yet).
        unread_rows: citizens who had unread letters but did not read them in ``unread_week`` (``read_mail``).
        unread_week: week of ``unread_rows`` (``NEVER`` before the first reading).
    """

    def __init__(self, deadlines: list[int], capacity: int) -> None:
        self.deadlines = deadlines
        self.rings = [np.zeros((d, capacity), dtype=np.int16) for d in deadlines]
        self.unread = np.zeros(capacity, dtype=np.int16)
        self.cleared = np.full(capacity, NEVER, dtype=np.int32)
        self.unread_rows = np.zeros(0, dtype=np.int64)
        self.unread_week = NEVER

    def grow_to(self, capacity: int) -> None:
        """Make room for new citizens' rows."""
        for k, ring in enumerate(self.rings):
            if ring.shape[1] < capacity:
                new = np.zeros((ring.shape[0], capacity), dtype=np.int16)
                new[:, : ring.shape[1]] = ring
                self.rings[k] = new
        if len(self.unread) < capacity:
            self.unread = np.concatenate([self.unread, np.zeros(capacity - len(self.unread), dtype=np.int16)])
            self.cleared = np.concatenate([self.cleared, np.full(capacity - len(self.cleared), NEVER, np.int32)])

    def add(self, kind: int, slot: int, owners: np.ndarray, n: int) -> None:
        """Deliver one letter to each entry of ``owners`` (rows below n; repeats allowed).

        The slot still holds the counts of ``deadline`` weeks ago, which were
        all read or failed: it is reset first.
        """
        ring = self.rings[kind][slot]
        ring[:] = 0
        np.add.at(ring, owners, np.int16(1))
        self.unread[:n] += ring[:n]  # the slot now holds exactly this week's letters

    def pending(self, n: int) -> np.ndarray:
        """Unread letters of each of the first n citizens, all kinds together."""
        return self.unread[:n]

    def clear(self, rows: np.ndarray, week: int) -> np.ndarray:
        """Read every pending letter of ``rows``; return how many each read.

        Ring entries of letters that arrived up to ``week`` stay but no longer count (see ``unread_in``).
        """
        read = self.unread[rows].astype(np.int32)
        self.cleared[rows] = week
        self.unread[rows] = 0
        return read

    def unread_in(self, kind: int, slot: int, arrival_week: int, rows: np.ndarray) -> np.ndarray:
        """Unread letters of ``rows`` that arrived in ``arrival_week`` (kept in ``slot``)."""
        count = self.rings[kind][slot, rows]
        return np.where(self.cleared[rows] < arrival_week, count, 0).astype(np.int32)


def letters_arrive(m: DigexModel, band: np.ndarray, rng: np.random.Generator) -> None:
    """New letters by kind (Poisson per citizen, rate by age band) go into this week's slot.

    ``band``: each row's age band, ``len(AGE_BANDS)`` for the dead (see ``tasks.draw_arrivals``).

    A letter goes to Digital Post if the citizen is enrolled and the platform
    is live, otherwise on paper; each medium has its unit cost.
    """
    p = m.pop
    for k, name in enumerate(LETTER_KINDS):
        spec = m.config.tasks.letters[name]
        rates = np.array([spec.rate_per_year * spec.age_rates.get(b, 1.0) / 52 for b in AGE_BANDS])
        owners = draw_arrivals(band, rates, rng)
        m.mail.add(k, m.week % spec.deadline_weeks, owners, p.n)
        n_digital = 0
        if m.digital_live:
            digital = owners[p.dp_status[owners] == ENROLLED]
            p.last_letter_week[digital] = m.week
            n_digital = len(digital)
        m.costs.add_letters(n_digital, len(owners) - n_digital)
        m.metrics.add_letters_arrived(owners)


def read_probability(m: DigexModel, rows: np.ndarray) -> np.ndarray:
    """Weekly chance of reading one's mail.

    Enrolled: letter_read_max * logistic(slope * (skill - threshold)), zero
    without internet or eID, scaled by platform uptime; a proxy relative reads
    with chance proxy_success. Not enrolled or exempt: paper_letter_read.
    """
    p, b = m.pop, m.config.behaviour
    digital = (p.dp_status[rows] == ENROLLED) & m.digital_live
    r_dig = (
        b.letter_read_max
        * logistic(b.letter_read_slope * (p.skill[rows] - b.letter_read_threshold))
        * p.internet[rows]
        * p.eid[rows]
        * (1 - m.outage_fraction)
    )
    r_dig = np.maximum(r_dig, has_proxy(m, rows) * b.proxy_success)
    return np.where(digital, r_dig, b.paper_letter_read)


def read_mail(m: DigexModel, rng: np.random.Generator) -> None:
    """Citizens with unread letters check their mail; readers clear everything pending."""
    p = m.pop
    rows = np.flatnonzero(m.mail.pending(p.n) > 0)
    read = rng.random(len(rows)) < read_probability(m, rows)
    reads = rows[read]
    m.mail.unread_rows, m.mail.unread_week = rows[~read], m.week
    n_read = m.mail.clear(reads, m.week)
    p.letters_read[reads] += n_read
    digital = (p.dp_status[reads] == ENROLLED) & m.digital_live
    p.last_read_week[reads[digital]] = m.week
    p.last_unassisted_week[reads] = m.week
    m.metrics.add_letters_read(reads, n_read)


def letters_expire(m: DigexModel) -> None:
    """Letters that had their last reading chance this week and are unread fail."""
    mail = m.mail
    if mail.unread_week == m.week:
        cand = mail.unread_rows
    else:
        cand = np.flatnonzero(mail.unread[: m.pop.n] > 0)
    for k, name in enumerate(LETTER_KINDS):
        spec = m.config.tasks.letters[name]
        ring = m.mail.rings[k]
        slot = (m.week + 1) % spec.deadline_weeks
        count = mail.unread_in(k, slot, m.week + 1 - spec.deadline_weeks, cand)
        rows, count = cand[count > 0], count[count > 0]
        ring[slot, rows] = 0
        m.mail.unread[rows] -= count.astype(np.int16)
        alive = m.pop.alive[rows]
        m.fail_letters(rows[alive], k, count[alive], count[alive])


def enrol(m: DigexModel, rng: np.random.Generator) -> None:
    """Digital Post enrolment: voluntary before a mandate, automatic at and after it.

    Voluntary weekly hazard = enrol_hazard_per_year / 52 * enrolment_campaign *
    skill^2, for citizens with internet and eID. Under an active mandate every
    living citizen not exempt is enrolled. While the mandate lasts nobody
    leaves Digital Post except by exemption (a lapsed exemption returns to it),
    so after its first week only the rows added since need looking at
    (``m.mandate_enrolled_below``).
    """
    if not m.digital_live:
        return
    p = m.pop
    n = p.n
    mandate = m.mandate_active and m.policy.digital_post_mandatory
    start = m.mandate_enrolled_below if mandate else 0
    rows = start + np.flatnonzero(p.alive[start:n] & (p.dp_status[start:n] == NOT_ENROLLED))
    if mandate:
        p.dp_status[rows] = ENROLLED
        m.mandate_enrolled_below = n
        return
    m.mandate_enrolled_below = 0
    b = m.config.behaviour
    h = b.enrol_hazard_per_year / 52 * m.policy.enrolment_campaign * p.skill[rows] ** 2
    h = h * p.internet[rows] * p.eid[rows]
    p.dp_status[rows[rng.random(len(rows)) < h]] = ENROLLED
