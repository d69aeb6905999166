"""Ageing, mortality, new 15-year-olds and age-related skill decline (docs/ODD.md section 7.3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.model.population import add_citizens, draw_citizens

if TYPE_CHECKING:
    from sim.model.model import DigexModel


def age_one_week(m: DigexModel) -> None:
    """Everyone alive ages by 1/52 year; skill declines after 70 and with cognitive impairment.

    skill -= old_age_skill_decline / 52 per week above 70, and
    cognitive_skill_decline / 52 more with a cognitive impairment.
    """
    p, c = m.pop, m.config.population
    n = p.n
    alive, age, skill = p.alive[:n], p.age[:n], p.skill[:n]
    np.add(age, np.float32(1 / 52), out=age, where=alive)
    old = age > 70
    cognitive = p.disability[:n] == 2
    rows = np.flatnonzero((old | cognitive) & alive)
    decline = np.where(old[rows], np.float32(c.old_age_skill_decline / 52), np.float32(0))
    decline += cognitive[rows] * np.float32(c.cognitive_skill_decline / 52)
    np.maximum(skill[rows] - decline, np.float32(0), out=decline)
    skill[rows] = decline


def schedule_deaths(m: DigexModel, rows: np.ndarray, first_week: int, rng: np.random.Generator) -> None:
    """Mortality: each new citizen's week of death, drawn once at entry (docs/ODD.md section 7.3).

    The annual Gompertz hazard exp(a + b * age) gives survival
    S(t) = exp(-e^(a + b age0) (e^(b t) - 1) / b) over t years from the entry
    age age0; inverting it at an Exp(1) draw E gives the time of death
    t = ln(1 + E b e^(-a - b age0)) / b, rounded up to whole weeks. The
    citizen dies in week ``first_week + ceil(52 t) - 1`` (at the earliest in
    ``first_week``). The same in distribution as a weekly draw against the
    hazard at the current age, but one draw per citizen instead of one per
    citizen and week.
    """
    p, c = m.pop, m.config.population
    a0 = p.age[rows].astype(np.float64)
    e = rng.exponential(size=len(rows))
    a, b = c.annual_mortality_a, c.annual_mortality_b
    t = np.log1p(e * b * np.exp(-a - b * a0)) / b  # years until death
    k = np.maximum(1, np.ceil(t * 52))
    p.death_week[rows] = np.minimum(first_week + k - 1, 2**31 - 1).astype(np.int32)


class DeathCalendar:
    """The starting population's rows sorted by week of death, so a week's deaths need no scan of all rows."""

    def __init__(self, death_week: np.ndarray) -> None:
        self.order = np.argsort(death_week, kind="stable")
        self.weeks = death_week[self.order]

    def due(self, week: int) -> np.ndarray:
        """Rows of the starting population scheduled to die in ``week``."""
        lo, hi = np.searchsorted(self.weeks, [week, week + 1])
        return self.order[lo:hi]


def deaths(m: DigexModel) -> np.ndarray:
    """Rows dying this week: the living whose scheduled week of death (``schedule_deaths``) is now.

    The starting population's are looked up in ``m.death_calendar``; the
    few rows of entrants (appended after it) are scanned.
    """
    p = m.pop
    first = m.config.population.size
    later = first + np.flatnonzero(p.death_week[first : p.n] == m.week)
    dead = np.concatenate([m.death_calendar.due(m.week), later])
    dead = dead[p.alive[dead]]
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
    schedule_deaths(m, rows, m.week + 1, rng)
    m.mail.grow_to(m.pop.capacity)
    return rows
