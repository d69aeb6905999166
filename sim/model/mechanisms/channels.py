"""Channel choice and the attempts citizens make by themselves (docs/ODD.md section 7.5).

Every function works on arrays of open-task indices; none loops over citizens.
Phone and centre attempts are capacity-limited and live in ``sim/model/mechanisms/services.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.model.codes import (
    AFTER_FAILURE,
    CENTRE,
    EXEMPT,
    FRESH,
    PAPER,
    PHONE,
    QUEUED_CENTRE,
    QUEUED_PHONE,
    RELATIVE,
    SELF_SERVICE,
)
from sim.model.maths import logistic

STAY_AWAY = -1
"""Channel choice of a task whose owner needs public help but does not ask this week (docs/ODD.md section 7.5)."""

if TYPE_CHECKING:
    from sim.model.model import DigexModel


def can_self_serve(m: DigexModel, owners: np.ndarray) -> np.ndarray:
    """Citizens able to use self-service at all: platform live, internet at home and an eID."""
    if not m.digital_live:
        return np.zeros(len(owners), dtype=bool)
    p = m.pop
    return p.internet[owners] & p.eid[owners]


def has_proxy(m: DigexModel, owners: np.ndarray) -> np.ndarray:
    """Citizens with a relative holding digital proxy access (policy proxy.available)."""
    pol = m.policy.proxy
    if not (pol.available and m.digital_live):
        return np.zeros(len(owners), dtype=bool)
    p = m.pop
    return (p.support[owners] > 0) & (p.proxy_u[owners] < pol.uptake)


def paper_allowed(m: DigexModel, idx: np.ndarray) -> np.ndarray:
    """Paper is allowed for a task that is not mandatory-digital, for the exempt, or on request for all."""
    t = m.tasks
    if m.policy.paper_on_request or not m.digital_live:
        return np.ones(len(idx), dtype=bool)
    return ~t.mandatory[idx] | (m.pop.dp_status[t.owner[idx]] == EXEMPT)


SENIOR_AGE = 65
"""Age from which platform.senior_design helps (the seniors of Nielsen's usability studies, docs/ODD.md 7.6)."""


def design_bonus(m: DigexModel, owners: np.ndarray) -> np.ndarray:
    """Skill-equivalent bonus of the platform's design for each owner's named groups (docs/ODD.md section 7.6).

    accessibility x [impaired] + language_support x [language barrier] + senior_design x [aged 65+].
    """
    p, plat = m.pop, m.policy.platform
    return (plat.accessibility * (p.disability[owners] > 0)
            + plat.language_support * p.language_barrier[owners]
            + plat.senior_design * (p.age[owners] >= SENIOR_AGE))


def self_service_success(m: DigexModel, idx: np.ndarray) -> np.ndarray:
    """Chance that a self-service attempt succeeds.

    p = logistic(slope * (skill * usability + design_bonus - complexity))
    times the share of the week the platform is up (docs/ODD.md section 7.6).
    """
    t, p, plat = m.tasks, m.pop, m.policy.platform
    o = t.owner[idx]
    eff = p.skill[o] * plat.usability + design_bonus(m, o)
    return logistic(m.config.behaviour.self_service_slope * (eff - t.complexity[idx])) * (1 - m.outage_fraction)


def shift_odds(p: float, shift: np.ndarray) -> np.ndarray:
    """logistic(logit(p) + shift), also for p = 0 or 1 (which no shift moves)."""
    odds = p * np.exp(shift)
    return odds / (odds + 1 - p)


def give_up(m: DigexModel, rng: np.random.Generator) -> np.ndarray:
    """Tasks abandoned this week: only after a failure or while queuing (docs/ODD.md section 7.5).

    p = giveup_base + giveup_alienation * (1 - trust) + giveup_per_failure * attempts
    """
    t, b = m.tasks, m.config.behaviour
    idx = np.flatnonzero(t.route > FRESH)
    trust = m.pop.trust[t.owner[idx]]
    p = b.giveup_base + b.giveup_alienation * (1 - trust) + b.giveup_per_failure * t.attempts[idx]
    return idx[rng.random(len(idx)) < np.clip(p, 0, 1)]


def choose_channels(m: DigexModel, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Channel each task in ``idx`` (not queued) is attempted through this week.

    Rule (documented in docs/ODD.md, 'Channel choice'):
    - fresh task: self-service if able and either paper is not allowed or the
      citizen prefers digital (logistic in skill and trust); else paper if
      allowed; else help;
    - after a failure: paper if allowed and not yet tried on paper; else retry
      self-service with chance retry_probability * skill; else help;
    - help: a relative (if any, with chance logistic(logit(relative_uptake) +
      trust_relative_slope * (0.5 - trust)); always with proxy access); else no
      help this week with chance trust_help_avoidance * (1 - trust) (choice
      STAY_AWAY); else the centre with chance centre_preference + 0.3 if
      digitally challenged - 0.5 * travel burden; else the phone
      (docs/ODD.md section 7.5).
    """
    t, p, b = m.tasks, m.pop, m.config.behaviour
    o = t.owner[idx]
    n = len(idx)
    proxy = has_proxy(m, o)
    able = can_self_serve(m, o) | proxy
    paper = paper_allowed(m, idx)
    u1, u2, u3, u4 = rng.random(n), rng.random(n), rng.random(n), rng.random(n)
    prefers = u1 < logistic(b.digital_preference_slope * (p.skill[o] - 0.5 + p.trust[o] - 0.5))
    fresh = t.route[idx] == FRESH

    choice = np.full(n, STAY_AWAY, dtype=np.int8)
    digital_first = fresh & able & (~paper | prefers)
    choice[digital_first] = SELF_SERVICE
    choice[(choice == STAY_AWAY) & paper & ~t.paper_tried[idx]] = PAPER
    retry = ~fresh & able & (u1 < b.retry_probability * p.skill[o])
    choice[(choice == STAY_AWAY) & retry] = SELF_SERVICE

    needs_help = choice == STAY_AWAY
    trust = p.trust[o]
    asks_relative = u2 < shift_odds(b.relative_uptake, b.trust_relative_slope * (0.5 - trust))
    relative = needs_help & (p.support[o] > 0) & (asks_relative | proxy)
    choice[relative] = RELATIVE
    rest = (choice == STAY_AWAY) & (u4 >= b.trust_help_avoidance * (1 - trust))
    challenged = p.skill[o] < m.config.population.challenged_threshold
    p_centre = np.clip(b.centre_preference + 0.3 * challenged - 0.5 * p.travel_burden[o], 0, 1)
    choice[rest & (u3 < p_centre)] = CENTRE
    choice[rest & (u3 >= p_centre)] = PHONE
    return choice


def attempt_self_service(m: DigexModel, idx: np.ndarray, rng: np.random.Generator) -> None:
    """Self-service attempts: success completes the task, failure sends it back to choice.

    A digitally challenged citizen pushed into a mandatory-digital channel
    loses trust ('forced digital contact', docs/ODD.md section 7.9).
    """
    t, p, b = m.tasks, m.pop, m.config.behaviour
    o = t.owner[idx]
    proxy = has_proxy(m, o) & ~can_self_serve(m, o)
    p_ok = np.where(proxy, b.proxy_success, self_service_success(m, idx))
    ok = rng.random(len(idx)) < p_ok
    forced = t.mandatory[idx] & (p.skill[o] < m.config.population.challenged_threshold)
    m.trust_down(o[forced], b.trust_loss_forced)
    m.costs.add_contacts(SELF_SERVICE, len(idx))
    m.citizen_time(o, SELF_SERVICE)
    m.complete(idx[ok & ~proxy], SELF_SERVICE)
    m.complete(idx[ok & proxy], RELATIVE)
    m.learn(o[ok & ~proxy], b.learn_by_doing)
    failed = idx[~ok]
    m.trust_down(t.owner[failed], b.trust_loss_attempt)
    back_to_choice(m, failed)


def attempt_relative(m: DigexModel, idx: np.ndarray, rng: np.random.Generator) -> None:
    """A relative helps: higher success with proxy access; the citizen learns a little."""
    t, b = m.tasks, m.config.behaviour
    o = t.owner[idx]
    p_ok = np.where(has_proxy(m, o), b.proxy_success, b.relative_success)
    if not m.digital_live:
        p_ok = np.full(len(idx), b.paper_success)  # a relative fills in the paper form
    ok = rng.random(len(idx)) < p_ok
    m.citizen_time(o, RELATIVE)
    m.complete(idx[ok], RELATIVE)
    m.learn(o[ok], b.learn_from_relative)
    back_to_choice(m, idx[~ok])


def attempt_paper(m: DigexModel, idx: np.ndarray, rng: np.random.Generator) -> None:
    """Paper forms: high success, a postal handling cost per submission; after a failed form, help is sought."""
    b = m.config.behaviour
    ok = rng.random(len(idx)) < b.paper_success
    m.costs.add_contacts(PAPER, len(idx))
    m.citizen_time(m.tasks.owner[idx], PAPER)
    m.complete(idx[ok], PAPER)
    m.tasks.paper_tried[idx[~ok]] = True
    back_to_choice(m, idx[~ok])


def route_to_queues(m: DigexModel, idx: np.ndarray, choice: np.ndarray) -> None:
    """Tasks that chose the phone or the centre join that queue (served in services.py).

    A task whose owner asked nobody (STAY_AWAY) waits in the after-failure
    state, where it may be given up (``give_up``), without a failed attempt.
    """
    t = m.tasks
    t.route[idx[choice == STAY_AWAY]] = AFTER_FAILURE
    t.route[idx[choice == PHONE]] = QUEUED_PHONE
    t.route[idx[choice == CENTRE]] = QUEUED_CENTRE
    t.wait[idx[(choice == PHONE) | (choice == CENTRE)]] = 0


def back_to_choice(m: DigexModel, idx: np.ndarray) -> None:
    """A task whose attempt failed returns to channel choice next week."""
    t = m.tasks
    t.route[idx] = AFTER_FAILURE
    t.attempts[idx] += 1
