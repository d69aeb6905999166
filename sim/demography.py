"""Ageing, mortality, new 15-year-olds and age-related skill decline (MODEL.md section 3.2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.population import add_citizens, draw_citizens

if TYPE_CHECKING:
    from sim.model import DigexModel


def age_one_week(m: DigexModel) -> None:
    """Everyone alive ages by 1/52 year; skill declines after 70 and with cognitive impairment.

    skill -= old_age_skill_decline / 52 per week above 70, and
    cognitive_skill_decline / 52 more with a cognitive impairment.
    """
    p, c = m.pop, m.config.population
    n = p.n
    alive = p.alive[:n]
    np.add(p.age[:n], np.float32(1 / 52), out=p.age[:n], where=alive)
    rows = np.flatnonzero(alive & ((p.age[:n] > 70) | (p.disability[:n] == 2)))
    decline = (c.old_age_skill_decline * (p.age[rows] > 70)
               + c.cognitive_skill_decline * (p.disability[rows] == 2)) / 52
    p.skill[rows] = np.clip(p.skill[rows] - decline, 0.0, 1.0)


def deaths(m: DigexModel, rng: np.random.Generator) -> np.ndarray:
    """Rows dying this week: Gompertz hazard exp(a + b * age) per year, weekly probability."""
    p, c = m.pop, m.config.population
    rows = np.flatnonzero(p.alive[: p.n])
    annual = np.exp(c.annual_mortality_a + c.annual_mortality_b * p.age[rows])
    weekly = 1 - np.exp(-annual / 52)
    dead = rows[rng.random(len(rows)) < weekly]
    p.alive[dead] = False
    return dead


def entrants(m: DigexModel, rng: np.random.Generator) -> np.ndarray:
    """New 15-year-olds: Poisson(entrants_per_year * starting size / 52), later cohorts more skilled."""
    c = m.config.population
    k = rng.poisson(c.entrants_per_year * c.size / 52)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    years = m.week / 52
    ages = np.full(k, 15.0) + rng.random(k) / 52
    attrs = draw_citizens(c, ages, rng, m.helpers.n_centres, cohort_shift=c.cohort_skill_gain_per_year * years)
    rows = add_citizens(m.pop, attrs, m.week)
    m.mail.grow_to(m.pop.capacity)
    return rows
