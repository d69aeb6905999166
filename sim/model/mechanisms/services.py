"""Capacity-limited human help: the phone line and citizen service centres (docs/ODD.md section 7.7).

Centres and their helpers are array-backed like citizens (``HelperTable``);
``sim/model/agents.py`` gives each a ``mesa.Agent`` view. Queues are served earliest
deadline first, ties broken at random; who is not served waits a week (losing
some trust) and may give up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.model.codes import CENTRE, DISABILITY_NAMES, ENROLLED, EXEMPT, PHONE, QUEUED_CENTRE, QUEUED_PHONE, SELF_SERVICE
from sim.model.maths import logistic
from sim.model.mechanisms.channels import back_to_choice

if TYPE_CHECKING:
    from sim.model.model import DigexModel


MAX_HELPERS_PER_CENTRE = 50
"""At most this many helper rows (and Helper agents) per centre."""

CASEWORK, TEACHING, GREY = 0, 1, 2
"""How a centre case is handled: the helper does it (casework), teaches the citizen to do it (help to self-help),
or, in a teaching case, logs in as the citizen and does it (grey practice) (docs/ODD.md section 7.7)."""

COGNITIVE = DISABILITY_NAMES.index("cognitive")
"""Code of a cognitive impairment in the ``disability`` column."""


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
        self.minutes_casework = (casework / per)[self.centre]
        self.minutes_teaching = (teaching / per)[self.centre]
        self.minutes_documentation = (documentation / per)[self.centre]

    def take(self, minutes: np.ndarray) -> None:
        """Book other centre work of this week (``minutes`` per centre, e.g. exemption applications).

        The minutes come out of the centre's spare capacity this week; what
        exceeds it is carried as overrun into next week's capacity (as a
        queue's overrun is), so the work crowds out cases rather than adding
        staff. They show in the helpers' casework minutes of the week but, booked
        after the week's ``update_expertise``, do not train casework expertise:
        registering an exemption is clerical work, not casework (docs/ODD.md section 7.13).
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
        if not busy.any():  # an idle week: e + 0 is e, so only the clip remains
            self.expertise = self.expertise.clip(0.0, 1.0)
            return
        c = np.divide(self.minutes_casework, case, out=np.zeros(len(case)), where=busy)
        e = self.expertise
        delta = gain_per_year / 52 * c * (1 - e) - decay_per_year / 52 * (1 - c) * e
        self.expertise = (e + np.where(busy, delta, 0.0)).clip(0.0, 1.0)


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
    cost_sorted = cost[order]
    c = np.add.accumulate(cost_sorted)  # np.cumsum, without its Python-level dispatch
    if g[0] == g[-1]:  # one group (the phone line, or a week with visitors at one centre): nothing used before it
        served_sorted = (c - cost_sorted) < capacity[g[0]]
    else:
        # Filled in place rather than by np.r_, whose set-up costs more than this arithmetic on a week's queue.
        first = np.empty(n, dtype=bool)
        first[0] = True
        np.not_equal(g[1:], g[:-1], out=first[1:])
        starts = first.nonzero()[0]
        used_before = np.zeros(len(starts))  # minutes of the groups before each group, in service order
        used_before[1:] = c[starts[1:] - 1]
        sizes = np.empty(len(starts), dtype=np.intp)
        sizes[:-1] = starts[1:] - starts[:-1]
        sizes[-1] = n - starts[-1]
        served_sorted = (c - cost_sorted - np.repeat(used_before, sizes)) < capacity[g]
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
    np.maximum(0.0, used - available, out=overrun)
    overrun[np.isinf(capacity)] = 0.0  # unlimited capacity never runs over
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
    idx = (t.route == QUEUED_PHONE).nonzero()[0]
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


def teaching_readiness(m: DigexModel, rows: np.ndarray) -> np.ndarray:
    """How far each citizen can complete a task, and learn, while taught (docs/ODD.md section 7.7).

    readiness = logistic(self_help_skill_slope x (skill - self_help_skill_threshold)), times
    self_help_cognitive_factor with a cognitive impairment: a very low-skilled or cognitively
    impaired citizen rarely completes a task while being taught, and learns little.
    """
    p, b = m.pop, m.config.behaviour
    r = logistic(b.self_help_skill_slope * (p.skill[rows] - b.self_help_skill_threshold))
    return np.where(p.disability[rows] == COGNITIVE, r * b.self_help_cognitive_factor, r)


def letter_requests(m: DigexModel, rng: np.random.Generator) -> np.ndarray:
    """Citizens who take their unread letters to their centre this week (docs/ODD.md section 7.7).

    Those who had pending letters at last week's reading (``read_mail``) but read none, are alive and
    still have some pending, each with chance letter_centre_ask x (1 - travel burden).
    """
    mail, p = m.mail, m.pop
    if mail.unread_week != m.week - 1:
        return np.zeros(0, dtype=np.int64)
    rows = mail.unread_rows
    rows = rows[p.alive[rows] & (mail.pending(p.n)[rows] > 0)]
    ask = m.config.behaviour.letter_centre_ask * (1 - p.travel_burden[rows])
    return rows[rng.random(len(rows)) < ask]


def case_modes(m: DigexModel, owners: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """CASEWORK, TEACHING or GREY for each case (docs/ODD.md section 7.7).

    Teaching with chance centre.self_help_share; a teaching case is done by the helper logged in
    as the citizen (GREY) with chance centre.grey_share, if self-service is live and the citizen
    has an eID to log in with.
    """
    pol = m.policy.centre
    u = rng.random((2, len(owners)))
    teach = u[0] < pol.self_help_share
    mode = np.full(len(owners), CASEWORK)
    mode[teach] = TEACHING
    if m.digital_live:
        mode[teach & (u[1] < pol.grey_share) & m.pop.eid[owners]] = GREY
    return mode


def case_minutes(m: DigexModel, mode: np.ndarray, letter: np.ndarray, expertise: np.ndarray) -> np.ndarray:
    """Helper minutes of each case's work, without eID set-up and documentation (docs/ODD.md section 7.7).

    Teaching: minutes_self_help (a procedure) or minutes_letter_self_help (letters). Casework and
    grey practice (the helper does it): minutes_casework or minutes_letter, times 1 +
    deskilled_extra_time x (1 - the centre's casework expertise).
    """
    pol = m.policy.centre
    done = np.where(letter, pol.minutes_letter, pol.minutes_casework) * (1 + pol.deskilled_extra_time * (1 - expertise))
    taught = np.where(letter, pol.minutes_letter_self_help, pol.minutes_self_help)
    return np.where(mode == TEACHING, taught, done)


def serve_centres(m: DigexModel, rng: np.random.Generator) -> None:
    """Serve queued centre visits (procedures and letters) per centre up to its helpers' weekly minutes.

    docs/ODD.md section 7.7. First the helpers follow this week's staffing (``m.staff_centres``).
    The queue holds the procedures queued at the centre and this week's letter visits
    (``letter_requests``, due next week). Each case is handled as ``case_modes`` draws it, takes
    ``case_minutes`` plus minutes_eid for a visitor without an eID (not exempt) plus the documentation minutes
    (systems x documentation_minutes_per_system), and succeeds with chance
    casework_success x (0.5 + 0.5 x expertise) if the helper does it (casework, grey practice) or
    self_help_success x ``teaching_readiness`` if taught. Procedures: a casework or grey success is
    done wrongly with chance deskilled_error_rate x (1 - expertise) and then fails; a grey success
    counts as self-service (invisible), with a data-protection incident with chance
    grey_incident_probability; a taught citizen gains learn_by_teaching x readiness whatever the
    outcome. Letters: a success reads every pending letter. A served visitor without an eID who is not
    exempt gets one with chance eid_setup_success. The capacity left after the queue is kept as the centres' spare
    minutes for other work of the week (``HelperTable.take``).
    """
    m.staff_centres()
    t, p, b, pol = m.tasks, m.pop, m.config.behaviour, m.policy.centre
    idx = (t.route == QUEUED_CENTRE).nonzero()[0]
    letters = letter_requests(m, rng)
    owners = np.concatenate([t.owner[idx], letters])
    letter = np.arange(len(owners)) >= len(idx)
    centre = p.centre[owners].astype(np.int64)
    deadline = np.concatenate([t.deadline[idx], np.full(len(letters), m.week + 1, dtype=t.deadline.dtype)])
    mode = case_modes(m, owners, rng)
    expertise = m.helpers.centre_expertise()[centre]
    work = case_minutes(m, mode, letter, expertise)
    wants_eid = ~p.eid[owners] & (p.dp_status[owners] != EXEMPT)  # the exempt keep their paper post
    eid_minutes = pol.minutes_eid * wants_eid
    minutes = work + eid_minutes + pol.documentation_minutes
    cap = pol.helpers_per_10k * m.living_per_centre / 1e4 * pol.hours_per_week * 60.0
    if m.policy.unlimited_capacity:
        cap = np.full(m.helpers.n_centres, np.inf)
    available = cap - m.helpers.overrun
    served = serve_within_capacity(centre, deadline, minutes, cap, m.helpers.overrun, rng)

    n_c = m.helpers.n_centres
    sc, sm = centre[served], mode[served]
    casework = np.bincount(sc, (work * (mode == CASEWORK) + eid_minutes)[served], n_c)
    teaching = np.bincount(sc, (work * (mode != CASEWORK))[served], n_c)
    documentation = np.bincount(sc, np.full(len(sc), pol.documentation_minutes), n_c)
    m.helpers.book(casework, teaching, documentation)
    m.helpers.spare = np.maximum(0.0, available - np.bincount(sc, minutes[served], n_c))
    served_tasks = served[: len(idx)]  # the procedures come first in the queue, the letter visits after
    m.metrics.add_queue(CENTRE, len(idx), t.wait[idx[served_tasks]])
    casework_total, teaching_total, documentation_total = casework.sum(), teaching.sum(), documentation.sum()
    m.metrics.add_helper_minutes(casework_total, teaching_total, documentation_total)
    m.costs.add_centre(casework_total + teaching_total + documentation_total, cap.sum(), len(sc))
    so = owners[served]
    m.citizen_time(so, CENTRE)

    ready = teaching_readiness(m, so)
    e = expertise[served]
    s_letter = letter[served]
    is_task = ~s_letter
    taught = sm == TEACHING
    grey = sm == GREY
    p_ok = np.where(taught, b.self_help_success * ready, b.casework_success * (0.5 + 0.5 * e))
    u = rng.random((4, len(so)))
    ok = u[0] < p_ok
    wrong = ok & ~taught & (u[1] < pol.deskilled_error_rate * (1 - e)) & is_task
    incident = grey & (u[2] < pol.grey_incident_probability)
    new_eid = wants_eid[served] & (u[3] < pol.eid_setup_success)
    learners = so[taught]  # each gains a share of the gap to full skill (at most once a week, as m.learn)
    p.skill[learners] += (b.learn_by_teaching * ready[taught] * (1 - p.skill[learners])).astype(np.float32)
    p.eid[so[new_eid]] = True

    s = idx[served_tasks]  # served procedures, in the order of so[is_task]
    ok_t, wrong_t, grey_t = ok[is_task], wrong[is_task], grey[is_task]
    right_t = ok_t & ~wrong_t
    m.fail_tasks(s[wrong_t])
    m.complete(s[right_t & ~grey_t], CENTRE)
    m.complete(s[right_t & grey_t], SELF_SERVICE)
    back_to_choice(m, s[~ok_t])
    wait_or_leave(m, idx[~served_tasks])

    letter_ok = s_letter & ok
    read = so[letter_ok]
    n_read = m.mail.clear(read, m.week)
    p.letters_read[read] += n_read
    m.metrics.add_letters_read(read, n_read)
    own_login = letter_ok & (sm != CASEWORK) & (p.dp_status[so] == ENROLLED) & m.digital_live
    p.last_read_week[so[own_login]] = m.week

    m.metrics.add_centre_outcomes(np.count_nonzero(wrong), np.count_nonzero(grey), np.count_nonzero(incident),
                                  np.count_nonzero(s_letter), np.count_nonzero(new_eid))
    m.helpers.update_expertise(pol.expertise_gain_per_year, pol.expertise_decay_per_year)
