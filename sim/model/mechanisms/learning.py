"""Learning, trust and skills courses (docs/ODD.md section 7.9).

Gains move a value a share of its gap to 1; losses remove a share of it, so
skill and trust stay in [0, 1]. A citizen gains at most once per mechanism
per week (fancy-index assignment with repeated rows applies once).
(Python float constants such as ``1.0 - v`` give the same float32 operation as
``1 - v`` but skip NumPy's slower promotion of a Python int: these run thousands of times a run.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.model.model import DigexModel


def move_towards_one(values: np.ndarray, rows: np.ndarray, rate: float) -> None:
    """values[rows] += rate * (1 - values[rows])."""
    if len(rows) and rate:
        v = values[rows]
        values[rows] = v + np.float32(rate) * (1.0 - v)


def move_towards_zero(values: np.ndarray, rows: np.ndarray, rate: float) -> None:
    """values[rows] -= rate * values[rows]."""
    if len(rows) and rate:
        v = values[rows]
        values[rows] = v - np.float32(rate) * v


def trust_recovery(m: DigexModel) -> None:
    """Trust drifts back towards its long-run level without events (docs/ODD.md section 7.9).

    trust += trust_recovery_per_year / 52 x (population.trust_mean - trust)
    for every living citizen: the memory of bad (and good) experiences fades,
    so that alienation can fall again once failures become rarer.
    """
    rate = m.config.behaviour.trust_recovery_per_year / 52
    if rate == 0:
        return
    p = m.pop
    s = p.view()
    alive = p.alive[s]
    level = np.float32(m.config.population.trust_mean)
    p.trust[s] += np.float32(rate) * (level - p.trust[s]) * alive


def skills_courses(m: DigexModel, rng: np.random.Generator) -> int:
    """Skills courses: course places offered this week; return places used.

    Places per week = places_per_10k_per_year * living citizens /
    10,000 / 52 (a Poisson count) are offered to random digitally challenged
    citizens; an offered citizen takes the place with chance uptake and gains
    ``effect`` of the gap to full skill.
    """
    pol = m.policy.courses
    offered = rng.poisson(pol.places_per_10k_per_year * m.n_alive / 1e4 / 52)
    if offered == 0:
        return 0
    picked = course_offers(m, offered, rng)
    takers = picked[rng.random(len(picked)) < pol.uptake]
    move_towards_one(m.pop.skill, takers, pol.effect)
    return len(takers)


def course_offers(m: DigexModel, k: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random set of min(k, all) living digitally challenged citizens, without replacement.

    Drawn by rejection: random rows in order, keeping the first occurrence
    of each living challenged one, which is a uniform sample without
    replacement at a cost proportional to k rather than to the population.
    If a generous budget of draws does not find k, the whole pool is listed
    and sampled instead (also uniform).
    """
    p = m.pop
    n = p.n
    threshold = m.config.population.challenged_threshold
    cand = rng.integers(0, n, size=min(n, 50 * k + 1000))
    cand = cand[p.alive[cand] & (p.skill[cand] < threshold)]
    _, first = np.unique(cand, return_index=True)
    if len(first) >= k:
        return cand[np.sort(first)[:k]]
    pool = np.flatnonzero(p.alive[:n] & (p.skill[:n] < threshold))
    return rng.choice(pool, size=min(k, len(pool)), replace=False)
