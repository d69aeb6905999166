"""Exemption from Digital Post (opt-out) under its three rules (docs/ODD.md section 7.13).

Eligibility follows the grounds of the Digital Post Act: conditions that
prevent use (an impairment only where it does), not any impairment.
Exemption can be applied for from the date the rules allowed it, before the
mandate starts. Applying needs awareness (the letters announcing the mandate,
contact with a centre, the phone line or a relative) and is driven by need
(the citizen cannot use Digital Post); a recent failure raises the chance a
little. Under the default Danish rule the application is made in person at
the centre (hard for the old, the physically impaired and those far away),
or a relative declares on the citizen's behalf, and it takes helper time.
Because low skill alone is not a criterion, and the least able are the least
likely to apply, the most excluded are often not the exempt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.model.codes import CENTRE, ENROLLED, EXEMPT, NOT_ENROLLED

if TYPE_CHECKING:
    from sim.model.model import DigexModel

NEED_WINDOW_WEEKS = 8
"""A missed letter or failed task within this many weeks raises the application hazard (optout_failure_factor)."""

CONTACT_WINDOW_WEEKS = 26
"""Help from a centre, the phone line or a relative within this many weeks can make a citizen aware of exemption."""


def prevents_use(m: DigexModel, rows: np.ndarray | slice) -> np.ndarray:
    """The citizen cannot use Digital Post: no home internet, no eID, or digitally challenged.

    Digitally challenged = skill below population.challenged_threshold. This
    is the *need* that drives applications (docs/ODD.md section 7.13).
    """
    p = m.pop
    challenged = p.skill[rows] < m.config.population.challenged_threshold
    return ~p.internet[rows] | ~p.eid[rows] | challenged


def eligible(m: DigexModel, rows: np.ndarray | slice) -> np.ndarray:
    """Meets a ground of the Digital Post Act (docs/ODD.md section 7.13).

    An impairment that prevents use (impaired and digitally challenged, skill
    below population.challenged_threshold), no internet at home, no eID, a
    language barrier, or homelessness. With optout.low_skill_eligible, being
    digitally challenged counts without an impairment.
    """
    p = m.pop
    challenged = p.skill[rows] < m.config.population.challenged_threshold
    impaired = p.disability[rows] > 0
    crit = (
        (impaired & challenged)
        | ~p.internet[rows]
        | p.language_barrier[rows]
        | p.homeless[rows]
        | ~p.eid[rows]
    )
    if m.policy.optout.low_skill_eligible:
        crit |= challenged
    return crit


def mobility_limited(m: DigexModel, rows: np.ndarray) -> np.ndarray:
    """Effective travel burden for an in-person application: at least 0.8 if 80+ or physically impaired."""
    p = m.pop
    limited = (p.age[rows] >= 80) | (p.disability[rows] == 1)
    return np.maximum(p.travel_burden[rows], 0.8 * limited)


def exemption_open(m: DigexModel) -> bool:
    """Exemption can be applied for this week.

    Only where Digital Post is to become mandatory (a mandate_start is set and
    digital_post_mandatory), from optout.available_from (the date of the
    rules; 1 March 2014 in Denmark, before the mandate of 1 November 2014) or,
    if that is null, from the mandate's start.
    """
    pol = m.policy
    if pol.mandate_start is None or not pol.digital_post_mandatory or not pol.digital_channels:
        return False
    start = pol.optout.available_from or pol.mandate_start
    return m.date >= start


def in_mandate_campaign(m: DigexModel) -> bool:
    """Within campaign_weeks of the mandate's start (the later of mandate_start and the launch).

    Models the letters that announced the 2014 mandate to every citizen and
    named the exemption: for a while everyone eligible knows of it and many
    apply at once (11% were exempt a year after the mandate, docs/ODD.md section 6).
    """
    pol = m.policy
    if not m.mandate_active:
        return False
    start = max(pol.mandate_start, m.launch_date)
    return (m.date - start).days < 7 * pol.optout.campaign_weeks


def aware(m: DigexModel, rows: np.ndarray) -> np.ndarray:
    """Knows that exemption exists (docs/ODD.md section 7.13).

    Everyone during the mandate campaign; otherwise aware_u < a with
    a = 1 - (1 - awareness)(1 - contact_awareness x [helped by a centre, the
    phone line or a relative in the last 26 weeks])(1 - relative_awareness x
    [has a relative or friend to help]). The fixed draw aware_u keeps who is
    aware stable across arms (common random numbers).
    """
    if in_mandate_campaign(m):
        return np.ones(len(rows), dtype=bool)
    p, pol = m.pop, m.policy.optout
    contact = (m.week - p.last_assisted_week[rows]) < CONTACT_WINDOW_WEEKS
    unaware = ((1 - pol.awareness) * (1 - pol.contact_awareness * contact)
               * (1 - pol.relative_awareness * (p.support[rows] > 0)))
    return p.aware_u[rows] < 1 - unaware


def application_hazard(m: DigexModel, rows: np.ndarray) -> np.ndarray:
    """Weekly chance that each eligible citizen applies (remote rule; the in-person rule scales it).

    h = apply_hazard_per_year / 52 x aware x need x failure x campaign x distrust, with
    need = optout_need_factor if the citizen cannot use Digital Post
    (``prevents_use``) else 1, failure = optout_failure_factor (at most 3)
    after a missed letter or failed task in the last 8 weeks else 1, and
    campaign = campaign_factor during the mandate campaign else 1, and
    distrust = exp(trust_optout_slope x (0.5 - trust)): distrust of digital
    channels raises the wish for paper.
    """
    p, pol, b = m.pop, m.policy.optout, m.config.behaviour
    need = np.where(prevents_use(m, rows), b.optout_need_factor, 1.0)
    recent = (m.week - p.last_need_week[rows]) < NEED_WINDOW_WEEKS
    failure = np.where(recent, b.optout_failure_factor, 1.0)
    campaign = pol.campaign_factor if in_mandate_campaign(m) else 1.0
    distrust = np.exp(b.trust_optout_slope * (0.5 - p.trust[rows]))
    return pol.apply_hazard_per_year / 52 * aware(m, rows) * need * failure * campaign * distrust


def book_applications(m: DigexModel, route: str, rows: np.ndarray) -> None:
    """Book granted applications by route: their staff time and public cost (docs/ODD.md sections 7.7, 7.14).

    in_person and relative: optout.minutes_in_person helper minutes each at
    the citizen's centre, taken from the centre's capacity this week
    (``HelperTable.take``); the citizen's own centre time for an own visit.
    remote: optout.minutes_remote staff minutes each. automatic: one
    register record each.
    """
    pol = m.policy.optout
    minutes = 0.0
    if route in ("in_person", "relative"):
        per_centre = np.bincount(m.pop.centre[rows].astype(np.int64), minlength=m.helpers.n_centres)
        minutes = float(per_centre.sum() * pol.minutes_in_person)
        m.helpers.take(per_centre * pol.minutes_in_person)
        m.metrics.add_helper_minutes(minutes, 0.0, 0.0)
        if route == "in_person":
            m.citizen_time(rows, CENTRE)
    elif route == "remote":
        minutes = len(rows) * pol.minutes_remote
    m.costs.add_exemption_applications(route, len(rows), minutes, m.policy.unlimited_capacity)


def apply_for_exemption(m: DigexModel, rng: np.random.Generator) -> None:
    """Eligible citizens become exempt by the policy's rule; some exempt return when criteria lapse.

    From the date exemption opens (``exemption_open``), also before the
    mandate: the exempt stay on paper when the mandate starts.

    - automatic: eligible citizens identified in registers (ident_u <
      automatic_identification) are exempt at once;
    - remote: weekly chance ``application_hazard`` (by phone or online form);
    - in_person: own application h x (1 - in_person_mobility_penalty x
      travel burden), combined with a relative's declaration h x
      relative_declaration for citizens with support; both at the centre.

    An exempt citizen who no longer meets a ground returns with yearly
    chance revert_per_year: to Digital Post under an active mandate, else to
    not enrolled.
    """
    if not exemption_open(m):
        return
    p, pol = m.pop, m.policy.optout
    n = p.n
    elig = eligible(m, slice(0, n))
    rows = np.flatnonzero(p.alive[:n] & (p.dp_status[:n] != EXEMPT) & elig)
    if pol.rule == "automatic":
        routes = {"automatic": rows[p.ident_u[rows] < pol.automatic_identification]}
    else:
        h = application_hazard(m, rows)
        u = rng.random(len(rows))
        if pol.rule == "in_person":
            own = h * (1 - pol.in_person_mobility_penalty * mobility_limited(m, rows))
            by_relative = h * pol.relative_declaration * (p.support[rows] > 0)
            h = 1 - (1 - own) * (1 - by_relative)
            routes = {"in_person": rows[u < own], "relative": rows[(u >= own) & (u < h)]}
        else:
            routes = {"remote": rows[u < h]}
    for route, granted in routes.items():
        p.dp_status[granted] = EXEMPT
        m.metrics.add_exemptions(len(granted))
        book_applications(m, route, granted)

    lapsed = np.flatnonzero(p.alive[:n] & (p.dp_status[:n] == EXEMPT) & ~elig)
    back = lapsed[rng.random(len(lapsed)) < pol.revert_per_year / 52]
    mandate = m.mandate_active and m.policy.digital_post_mandatory
    p.dp_status[back] = ENROLLED if mandate else NOT_ENROLLED
