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
from sim.model.maths import clip01, logistic

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


def proxy_possible(m: DigexModel) -> bool:
    """Proxy access exists this week: policy proxy.available and the platform live."""
    return m.policy.proxy.available and m.digital_live


def has_proxy(m: DigexModel, owners: np.ndarray) -> np.ndarray:
    """Citizens with a relative holding digital proxy access (policy proxy.available)."""
    if not proxy_possible(m):
        return np.zeros(len(owners), dtype=bool)
    p = m.pop
    return (p.support[owners] > 0) & (p.proxy_u[owners] < m.policy.proxy.uptake)


def paper_allowed(m: DigexModel, idx: np.ndarray, owners: np.ndarray | None = None) -> np.ndarray:
    """Paper is allowed for a task that is not mandatory-digital, for the exempt, or on request for all.

    ``owners`` (optional) are the tasks' owners, ``m.tasks.owner[idx]``, if the caller has them already.
    """
    t = m.tasks
    if m.policy.paper_on_request or not m.digital_live:
        return np.ones(len(idx), dtype=bool)
    if owners is None:
        owners = t.owner[idx]
    return ~t.mandatory[idx] | (m.pop.dp_status[owners] == EXEMPT)


SENIOR_AGE = 65
"""Age from which platform.senior_design helps (the seniors of Nielsen's usability studies, docs/ODD.md 7.6)."""


def design_bonus(m: DigexModel, owners: np.ndarray) -> np.ndarray:
    """Skill-equivalent bonus of the platform's design for each owner's named groups (docs/ODD.md section 7.6).

    accessibility x [impaired] + language_support x [language barrier] + senior_design x [aged 65+].
    """
    p, plat = m.pop, m.policy.platform
    bonus = plat.accessibility * (p.disability[owners] > 0) + plat.language_support * p.language_barrier[owners]
    if plat.senior_design:  # a zero coefficient adds +0.0 to these non-negative sums, which changes none of them
        bonus = bonus + plat.senior_design * (p.age[owners] >= SENIOR_AGE)
    return bonus


def self_service_success(m: DigexModel, idx: np.ndarray, owners: np.ndarray | None = None,
                         skill: np.ndarray | None = None) -> np.ndarray:
    """Chance that a self-service attempt succeeds.

    p = logistic(slope * (skill * usability + design_bonus - complexity))
    times the share of the week the platform is up (docs/ODD.md section 7.6).
    ``owners`` and ``skill`` (optional) are the tasks' owners and their skill, if the caller has them already.
    """
    t, p, plat = m.tasks, m.pop, m.policy.platform
    o = t.owner[idx] if owners is None else owners
    if skill is None:
        skill = p.skill[o]
    eff = skill * plat.usability + design_bonus(m, o)
    return logistic(m.config.behaviour.self_service_slope * (eff - t.complexity[idx])) * (1 - m.outage_fraction)


def shift_odds(p: float, shift: np.ndarray) -> np.ndarray:
    """logistic(logit(p) + shift), also for p = 0 or 1 (which no shift moves)."""
    odds = p * np.exp(shift)
    return odds / (odds + 1.0 - p)


def give_up(m: DigexModel, rng: np.random.Generator) -> np.ndarray:
    """Tasks abandoned this week: only after a failure or while queuing (docs/ODD.md section 7.5).

    p = giveup_base + giveup_alienation * (1 - trust) + giveup_per_failure * attempts
    """
    t, b = m.tasks, m.config.behaviour
    idx = (t.route > FRESH).nonzero()[0]
    trust = m.pop.trust[t.owner[idx]]
    p = b.giveup_base + b.giveup_alienation * (1.0 - trust) + b.giveup_per_failure * t.attempts[idx]
    return idx[rng.random(len(idx)) < clip01(p)]


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
    skill, trust = p.skill[o], p.trust[o]
    proxy = has_proxy(m, o)
    able = can_self_serve(m, o) | proxy
    paper = paper_allowed(m, idx, o)
    u1, u2, u3, u4 = rng.random(n), rng.random(n), rng.random(n), rng.random(n)
    prefers = u1 < logistic(b.digital_preference_slope * (skill - 0.5 + trust - 0.5))
    fresh = t.route[idx] == FRESH

    choice = np.full(n, STAY_AWAY, dtype=np.int8)
    digital_first = fresh & able & (~paper | prefers)
    choice[digital_first] = SELF_SERVICE
    choice[(choice == STAY_AWAY) & paper & ~t.paper_tried[idx]] = PAPER
    retry = ~fresh & able & (u1 < b.retry_probability * skill)
    choice[(choice == STAY_AWAY) & retry] = SELF_SERVICE

    needs_help = choice == STAY_AWAY
    if not needs_help.any():
        return choice  # nobody needs help this week (u2 to u4 are drawn all the same)
    asks_relative = u2 < shift_odds(b.relative_uptake, b.trust_relative_slope * (0.5 - trust))
    relative = needs_help & (p.support[o] > 0) & (asks_relative | proxy)
    choice[relative] = RELATIVE
    rest = (choice == STAY_AWAY) & (u4 >= b.trust_help_avoidance * (1.0 - trust))
    challenged = skill < m.config.population.challenged_threshold
    p_centre = clip01(b.centre_preference + 0.3 * challenged - 0.5 * p.travel_burden[o])
    choice[rest & (u3 < p_centre)] = CENTRE
    choice[rest & (u3 >= p_centre)] = PHONE
    return choice


def attempt_self_service(m: DigexModel, idx: np.ndarray, rng: np.random.Generator) -> None:
    """Self-service attempts: success completes the task, failure sends it back to choice.

    A digitally challenged citizen pushed into a mandatory-digital channel
    loses trust ('forced digital contact', docs/ODD.md section 7.9).
    """
    if len(idx) == 0:
        return  # no attempt: nothing to draw (rng.random(0) does not advance the generator) or record
    t, p, b = m.tasks, m.pop, m.config.behaviour
    o = t.owner[idx]
    skill = p.skill[o]
    p_ok = self_service_success(m, idx, o, skill)
    proxy = None  # without proxy access nobody attempts through a relative's proxy
    if proxy_possible(m):
        proxy = has_proxy(m, o) & ~can_self_serve(m, o)
        p_ok = np.where(proxy, b.proxy_success, p_ok)
    ok = rng.random(len(idx)) < p_ok
    forced = t.mandatory[idx] & (skill < m.config.population.challenged_threshold)
    m.trust_down(o[forced], b.trust_loss_forced)
    m.costs.add_contacts(SELF_SERVICE, len(idx))
    m.citizen_time(o, SELF_SERVICE)
    by_self = ok if proxy is None else ok & ~proxy
    m.complete(idx[by_self], SELF_SERVICE)
    if proxy is not None:
        m.complete(idx[ok & proxy], RELATIVE)
    m.learn(o[by_self], b.learn_by_doing)
    failed = ~ok
    m.trust_down(o[failed], b.trust_loss_attempt)
    back_to_choice(m, idx[failed])


def attempt_relative(m: DigexModel, idx: np.ndarray, rng: np.random.Generator) -> None:
    """A relative helps: higher success with proxy access; the citizen learns a little."""
    if len(idx) == 0:
        return  # no attempt: nothing to draw or record
    t, b = m.tasks, m.config.behaviour
    o = t.owner[idx]
    if not m.digital_live:
        p_ok = b.paper_success  # a relative fills in the paper form
    elif proxy_possible(m):
        p_ok = np.where(has_proxy(m, o), b.proxy_success, b.relative_success)
    else:
        p_ok = b.relative_success
    ok = rng.random(len(idx)) < p_ok
    m.citizen_time(o, RELATIVE)
    m.complete(idx[ok], RELATIVE)
    m.learn(o[ok], b.learn_from_relative)
    back_to_choice(m, idx[~ok])


def attempt_paper(m: DigexModel, idx: np.ndarray, rng: np.random.Generator) -> None:
    """Paper forms: high success, a postal handling cost per submission; after a failed form, help is sought."""
    if len(idx) == 0:
        return  # no form: nothing to draw or record
    b = m.config.behaviour
    ok = rng.random(len(idx)) < b.paper_success
    m.costs.add_contacts(PAPER, len(idx))
    m.citizen_time(m.tasks.owner[idx], PAPER)
    m.complete(idx[ok], PAPER)
    failed = idx[~ok]
    m.tasks.paper_tried[failed] = True
    back_to_choice(m, failed)


def route_to_queues(m: DigexModel, idx: np.ndarray, choice: np.ndarray) -> None:
    """Tasks that chose the phone or the centre join that queue (served in services.py).

    A task whose owner asked nobody (STAY_AWAY) waits in the after-failure
    state, where it may be given up (``give_up``), without a failed attempt.
    """
    t = m.tasks
    phone, centre = choice == PHONE, choice == CENTRE
    t.route[idx[choice == STAY_AWAY]] = AFTER_FAILURE
    t.route[idx[phone]] = QUEUED_PHONE
    t.route[idx[centre]] = QUEUED_CENTRE
    t.wait[idx[phone | centre]] = 0


def back_to_choice(m: DigexModel, idx: np.ndarray) -> None:
    """A task whose attempt failed returns to channel choice next week."""
    if len(idx) == 0:
        return
    t = m.tasks
    t.route[idx] = AFTER_FAILURE
    t.attempts[idx] += 1
