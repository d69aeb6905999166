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
from sim.model.params import LETTER_KINDS
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

    def unread_in(self, kind: int, slot: int, arrival_week: int, rows: np.ndarray,
                  cleared: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Those of ``rows`` with unread letters that arrived in ``arrival_week`` (kept in ``slot``), and how many.

        ``cleared`` is ``self.cleared[rows]`` (gathered once by the caller for every kind): a slot's
        letters no longer count once the citizen has read everything since they arrived.
        """
        count = self.rings[kind][slot, rows]
        unread = (count > 0) & (cleared < arrival_week)
        return rows[unread], count[unread]


def letters_arrive(m: DigexModel, band: np.ndarray, rng: np.random.Generator) -> None:
    """New letters by kind (Poisson per citizen, rate by age band) go into this week's slot.

    ``band``: each row's age band, ``len(AGE_BANDS)`` for the dead (see ``tasks.draw_arrivals``).

    A letter goes to Digital Post if the citizen is enrolled and the platform
    is live, otherwise on paper; each medium has its unit cost.
    """
    p = m.pop
    live = m.digital_live
    for k, deadline in enumerate(m.mail.deadlines):
        owners = draw_arrivals(band, m.arrivals.letters[k], rng)
        m.mail.add(k, m.week % deadline, owners, p.n)
        n_digital = 0
        if live:
            digital = owners[p.dp_status[owners] == ENROLLED]
            p.last_letter_week[digital] = m.week
            n_digital = len(digital)
        m.costs.add_letters(n_digital, len(owners) - n_digital)
        m.metrics.add_letters_arrived(owners)


def reads_alone(m: DigexModel, rows: np.ndarray, digital: np.ndarray | None = None) -> np.ndarray:
    """Weekly chance that each of ``rows`` reads its pending letters alone (docs/ODD.md section 7.11).

    Digital Post (enrolled, platform live): letter_read_max x logistic(letter_read_slope x (skill -
    letter_read_threshold) + letter_read_trust_slope x (trust - 0.5)) x internet x eID x (1 - outage
    fraction). Paper (exempt, not enrolled, or no platform): paper_letter_read. Either times
    letter_language_factor with a language barrier (the letters are in Danish).

    ``digital``: whether each of ``rows`` reads on Digital Post, if the caller has it already.
    """
    p, b = m.pop, m.config.behaviour
    if not m.digital_live:  # everyone reads paper
        r = np.full(len(rows), b.paper_letter_read, dtype=float)
    else:
        if digital is None:
            digital = p.dp_status[rows] == ENROLLED
        r_dig = (
            b.letter_read_max
            * logistic(b.letter_read_slope * (p.skill[rows] - b.letter_read_threshold)
                       + b.letter_read_trust_slope * (p.trust[rows] - 0.5))
            * p.internet[rows]
            * p.eid[rows]
            * (1 - m.outage_fraction)
        )
        r = np.where(digital, r_dig, b.paper_letter_read)
    return np.where(p.language_barrier[rows], r * b.letter_language_factor, r)


def read_mail(m: DigexModel, rng: np.random.Generator) -> None:
    """Citizens with unread letters read them alone, through a relative with read access, or with help.

    In turn, for each citizen with pending letters (docs/ODD.md section 7.11):

    1. alone, with chance ``reads_alone``;
    2. else, on Digital Post with a relative holding read access (``read_access``, from
       ``proxy.read_access_from``): the relative reads with chance read_access_check x (1 - outage fraction);
    3. else, with a supporter, the citizen asks for help with chance logistic(logit(letter_help_ask) +
       letter_read_trust_slope x (trust - 0.5)) and the helper reads with chance relative_success (on
       Digital Post only if the citizen has an eID to log in with).

    A reader clears everything pending. ``last_read_week`` records the citizen's own log-ins to Digital
    Post (alone or helped), not a relative's reading through read access. Reading is not a procedure:
    it sets neither ``last_unassisted_week`` nor ``last_assisted_week``.
    """
    p, b = m.pop, m.config.behaviour
    live = m.digital_live
    rows = np.flatnonzero(m.mail.pending(p.n) > 0)
    n = len(rows)
    digital = p.dp_status[rows] == ENROLLED if live else np.zeros(n, dtype=bool)
    alone = rng.random(n) < reads_alone(m, rows, digital)
    u_access = rng.random(n)
    if live and m.date >= m.policy.proxy.read_access_from:
        by_access = ~alone & digital & p.read_access[rows]
        by_access &= u_access < b.read_access_check * (1 - m.outage_fraction)
    else:
        by_access = np.zeros(n, dtype=bool)
    odds = b.letter_help_ask * np.exp(b.letter_read_trust_slope * (p.trust[rows] - 0.5))
    ask = odds / (odds + 1 - b.letter_help_ask)  # logistic(logit(letter_help_ask) + shift), also at 0 and 1
    can_help = p.support[rows] > 0
    if live:  # on Digital Post the helper logs in with the citizen's eID
        can_help &= ~digital | p.eid[rows]
    helped = ~alone & ~by_access & can_help & (rng.random(n) < ask * b.relative_success)
    read = alone | by_access | helped
    reads = rows[read]
    m.mail.unread_rows, m.mail.unread_week = rows[~read], m.week
    n_read = m.mail.clear(reads, m.week)
    p.letters_read[reads] += n_read
    if live:
        p.last_read_week[rows[digital & (alone | helped)]] = m.week
    m.metrics.add_letters_read(reads, n_read)


def letters_expire(m: DigexModel) -> None:
    """Letters that had their last reading chance this week and are unread fail (docs/ODD.md section 7.10).

    Of a citizen's ``count`` missed letters of a kind, Binomial(count, consequence_share) had a deadline
    with a consequence (drawn from the ``behaviour`` stream); ``fail_letters`` records both.
    """
    mail = m.mail
    rng = m.streams["behaviour"]
    if mail.unread_week == m.week:
        cand = mail.unread_rows
    else:
        cand = np.flatnonzero(mail.unread[: m.pop.n] > 0)
    if len(cand) == 0:
        return
    cleared = mail.cleared[cand]
    for k, name in enumerate(LETTER_KINDS):
        spec = m.config.tasks.letters[name]
        slot = (m.week + 1) % spec.deadline_weeks
        rows, missed = mail.unread_in(k, slot, m.week + 1 - spec.deadline_weeks, cand, cleared)
        if len(rows) == 0:  # nothing to fail, and a binomial draw of no letters draws nothing
            continue
        mail.rings[k][slot, rows] = 0
        mail.unread[rows] -= missed
        count = missed.astype(np.int32)
        alive = m.pop.alive[rows]
        rows, count = rows[alive], count[alive]
        consequential = rng.binomial(count, spec.consequence_share).astype(np.int32)
        m.fail_letters(rows, k, count, consequential)


def cannot_read_alone(m: DigexModel, rows: np.ndarray) -> np.ndarray:
    """Citizens who cannot use Digital Post alone: no internet, no eID, or digitally challenged."""
    p = m.pop
    return ~p.internet[rows] | ~p.eid[rows] | (p.skill[rows] < m.config.population.challenged_threshold)


def grant_read_access(m: DigexModel, rng: np.random.Generator) -> None:
    """Relatives get read access to enrolled citizens' Digital Post over time (docs/ODD.md section 7.8).

    From ``proxy.read_access_from`` (and while the platform is live), an enrolled living citizen with a
    supporter and no read access yet gives one with weekly probability read_access_per_year / 52, times
    read_access_unable_factor if the citizen cannot read Digital Post alone (``cannot_read_alone``).
    Access lasts for life (the help of a relative with read access is read in ``read_mail``).
    """
    if not (m.digital_live and m.date >= m.policy.proxy.read_access_from):
        return
    p, b = m.pop, m.config.behaviour
    n = p.n
    rows = np.flatnonzero(p.alive[:n] & (p.dp_status[:n] == ENROLLED) & (p.support[:n] > 0) & ~p.read_access[:n])
    h = b.read_access_per_year / 52 * np.where(cannot_read_alone(m, rows), b.read_access_unable_factor, 1.0)
    p.read_access[rows[rng.random(len(rows)) < h]] = True


def enrol(m: DigexModel, rng: np.random.Generator) -> None:
    """Digital Post enrolment: voluntary and reversible without a mandate, automatic under it (ODD 7.11).

    Without an active Digital Post mandate (before it, or with ``policy.digital_post_mandatory`` false),
    an enrolled citizen leaves Digital Post for paper with weekly probability dp_leave_per_year / 52 x
    (1 - ``reads_alone``), and a not-enrolled citizen with internet and eID enrols with weekly
    probability enrol_hazard_per_year / 52 x enrolment_campaign x skill^2 (leavers may re-enrol in later
    weeks). Under an active mandate every living citizen not exempt is enrolled, and nobody leaves
    Digital Post except by exemption (a lapsed exemption returns to it), so after its first week only
    the rows added since need looking at (``m.mandate_enrolled_below``).
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
    enrolled = np.flatnonzero(p.alive[:n] & (p.dp_status[:n] == ENROLLED))
    leave = rng.random(len(enrolled)) < b.dp_leave_per_year / 52 * (1 - reads_alone(m, enrolled))
    p.dp_status[rows[rng.random(len(rows)) < h]] = ENROLLED
    p.dp_status[enrolled[leave]] = NOT_ENROLLED
