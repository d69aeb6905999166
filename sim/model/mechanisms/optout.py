"""Exemption from Digital Post (opt-out) under its three rules (docs/ODD.md section 7.13).

Eligibility follows the Digital Post Act's criteria. Applying needs
awareness and action; the default Danish rule needs a visit to the centre
(hard for the old, the physically impaired and those far away) or a relative
declaring on the citizen's behalf. Because low skill alone is not a
criterion, and the least able are the least likely to apply, the model shows
how the most excluded are often not the exempt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.model.codes import ENROLLED, EXEMPT, NOT_ENROLLED

if TYPE_CHECKING:
    from sim.model.model import DigexModel

NEED_WINDOW_WEEKS = 8
"""A missed letter or failed task within this many weeks makes a citizen feel the need to apply."""


def eligible(m: DigexModel, rows: np.ndarray) -> np.ndarray:
    """Meets an exemption criterion: impairment, no internet, language, homeless, no eID.

    With optout.low_skill_eligible, being digitally challenged also counts.
    """
    p = m.pop
    crit = (
        (p.disability[rows] > 0)
        | ~p.internet[rows]
        | p.language_barrier[rows]
        | p.homeless[rows]
        | ~p.eid[rows]
    )
    if m.policy.optout.low_skill_eligible:
        crit |= p.skill[rows] < m.config.population.challenged_threshold
    return crit


def mobility_limited(m: DigexModel, rows: np.ndarray) -> np.ndarray:
    """Effective travel burden for an in-person application: at least 0.8 if 80+ or physically impaired."""
    p = m.pop
    limited = (p.age[rows] >= 80) | (p.disability[rows] == 1)
    return np.maximum(p.travel_burden[rows], 0.8 * limited)


def in_mandate_campaign(m: DigexModel) -> bool:
    """Within campaign_weeks of the mandate's start (the later of mandate_start and the launch).

    Models the letters that announced the 2014 mandate to every citizen and
    named the exemption: for a while everyone eligible knows of it and many
    apply at once (11% were exempt a year after the mandate, docs/ODD.md section 6).
    """
    pol = m.policy
    start = max(pol.mandate_start, m.launch_date)
    return (m.date - start).days < 7 * pol.optout.campaign_weeks


def apply_for_exemption(m: DigexModel, rng: np.random.Generator) -> None:
    """Eligible citizens become exempt by the policy's rule; some exempt return when criteria lapse.

    - automatic: eligible citizens identified in registers (ident_u <
      automatic_identification) are exempt at once;
    - remote: weekly hazard apply_hazard_per_year / 52 * aware * need, times
      campaign_factor (and everyone aware) during the mandate campaign;
    - in_person: the same hazard times (1 - in_person_mobility_penalty *
      travel burden), plus a relative's declaration (relative_declaration *
      hazard) for citizens with support. ``need`` is optout_need_factor after a
      recent missed letter or failed task, else 1.
    """
    if not (m.mandate_active and m.policy.digital_post_mandatory):
        return
    p, pol = m.pop, m.policy.optout
    n = p.n
    elig = eligible(m, slice(0, n))
    rows = np.flatnonzero(p.alive[:n] & (p.dp_status[:n] != EXEMPT) & elig)
    if pol.rule == "automatic":
        go = p.ident_u[rows] < pol.automatic_identification
    else:
        campaign = in_mandate_campaign(m)
        aware = campaign | (p.aware_u[rows] < pol.awareness)
        recent = (m.week - p.last_need_week[rows]) < NEED_WINDOW_WEEKS
        need = np.where(recent, m.config.behaviour.optout_need_factor, 1.0)
        h = pol.apply_hazard_per_year / 52 * need * aware * (pol.campaign_factor if campaign else 1.0)
        if pol.rule == "in_person":
            own = h * (1 - pol.in_person_mobility_penalty * mobility_limited(m, rows))
            by_relative = h * pol.relative_declaration * (p.support[rows] > 0)
            h = 1 - (1 - own) * (1 - by_relative)
        go = rng.random(len(rows)) < h
    p.dp_status[rows[go]] = EXEMPT
    m.metrics.add_exemptions(int(go.sum()))

    lapsed = np.flatnonzero(p.alive[:n] & (p.dp_status[:n] == EXEMPT) & ~elig)
    back = lapsed[rng.random(len(lapsed)) < pol.revert_per_year / 52]
    p.dp_status[back] = ENROLLED if m.digital_live else NOT_ENROLLED
