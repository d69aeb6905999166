"""Learning, trust and skills courses (MODEL.md section 3.7).

Gains move a value a share of its gap to 1; losses remove a share of it, so
skill and trust stay in [0, 1]. A citizen gains at most once per mechanism
per week (fancy-index assignment with repeated rows applies once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.model import DigexModel


def move_towards_one(values: np.ndarray, rows: np.ndarray, rate: float) -> None:
    """values[rows] += rate * (1 - values[rows])."""
    if len(rows) and rate:
        values[rows] += np.float32(rate) * (1 - values[rows])


def move_towards_zero(values: np.ndarray, rows: np.ndarray, rate: float) -> None:
    """values[rows] -= rate * values[rows]."""
    if len(rows) and rate:
        values[rows] -= np.float32(rate) * values[rows]


def skills_courses(m: DigexModel, rng: np.random.Generator) -> int:
    """Offer this week's course places to random digitally challenged citizens; return places used.

    Places per week = places_per_10k_per_year * living citizens / 10,000 / 52
    (a Poisson count); an offered citizen takes the place with chance uptake
    and gains ``effect`` of the gap to full skill.
    """
    pol, p = m.policy.courses, m.pop
    offered = rng.poisson(pol.places_per_10k_per_year * m.n_alive / 1e4 / 52)
    if offered == 0:
        return 0
    n = p.n
    pool = np.flatnonzero(p.alive[:n] & (p.skill[:n] < m.config.population.challenged_threshold))
    if len(pool) == 0:
        return 0
    picked = rng.choice(pool, size=min(offered, len(pool)), replace=False)
    takers = picked[rng.random(len(picked)) < pol.uptake]
    move_towards_one(p.skill, takers, pol.effect)
    return len(takers)
