"""Ageing, mortality, new 15-year-olds, immigration, emigration and age-related skill decline.

docs/ODD.md section 7.3.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.model.params import AGE_BAND_EDGES, AGE_BANDS, Config
from sim.model.population import COLUMNS, add_citizens, draw_ages, draw_citizens

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
    age += np.float32(1 / 52) * alive  # the dead get + 0: the same floats, far cheaper than a masked add
    old = age > 70
    cognitive = p.disability[:n] == 2
    rows = np.flatnonzero((old | cognitive) & alive)
    decline = np.where(old[rows], np.float32(c.old_age_skill_decline / 52), np.float32(0))
    decline += cognitive[rows] * np.float32(c.cognitive_skill_decline / 52)
    np.maximum(skill[rows] - decline, np.float32(0), out=decline)
    skill[rows] = decline


def _weeks_until(first_week: int, years: np.ndarray) -> np.ndarray:
    """Week of an event ``years`` after the start of ``first_week`` (at the earliest ``first_week``)."""
    # Float constants (2**31 and so on as floats, cheaper to pass); adding first_week - 1 at once is exact,
    # as first_week + k - 1 is: whole numbers below 2**53.
    k = np.maximum(np.ceil(np.minimum(years, 2147483648.0) * 52.0), 1.0)
    return np.minimum(k + float(first_week - 1), 2147483647.0).astype(np.int32)


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

    Period mortality improvement k (``mortality_improvement_per_year``) lowers
    the log-hazard by k a calendar year from ``mortality_reference_year``:
    along a life the hazard is again Gompertz, with level a - k (T0 - T_ref)
    at the entry time T0 and slope b - k, so the same inversion applies with
    b - k in place of b outside the exponent (k = 0: the formula above).
    """
    p, c = m.pop, m.config.population
    a0 = p.age[rows].astype(np.float64)
    e = rng.exponential(size=len(rows))
    k = c.mortality_improvement_per_year
    a = c.annual_mortality_a - k * (_calendar_year(m, first_week) - c.mortality_reference_year)
    b, g = c.annual_mortality_b, c.annual_mortality_b - k  # g: slope of log-hazard along a life
    t = np.log1p(e * g * np.exp(-a - b * a0)) / g  # years until death
    p.death_week[rows] = _weeks_until(first_week, t)


def _calendar_year(m: DigexModel, week: int) -> float:
    """The calendar time (fractional year) at the start of ``week``."""
    return _year_start(m.config.run.start) + week / 52.1775


@functools.lru_cache(maxsize=16)
def _year_start(start: dt.date) -> float:
    """The calendar time (fractional year) of the start date ``run.start``."""
    return start.year + (start.timetuple().tm_yday - 1) / 365.25


def scheduled_share(base: float, schedule: dict[int, float], year: int) -> float:
    """A yearly share that follows a step schedule: the entry of the latest listed year at or before ``year``.

    ``base`` before the first listed year and when the schedule is empty
    (``population.entrants_by_year``, ``population.immigration_by_year``;
    docs/ODD.md section 7.3).
    """
    listed = [y for y in schedule if y <= year]
    return schedule[max(listed)] if listed else base


def schedule_emigration(
    m: DigexModel, rows: np.ndarray, first_week: int, return_prob: np.ndarray | float, rng: np.random.Generator
) -> None:
    """Emigration: each new citizen's week of leaving Denmark, drawn once at entry (docs/ODD.md section 7.3).

    Two competing routes, the earlier one counts. (1) Settled residents leave
    at the annual hazard ``emigration_rates`` of their age band, constant within
    a band: the time t solves H(age0 + t) - H(age0) = E for an Exp(1) draw E,
    H being the cumulative hazard over age. (2) With probability
    ``return_prob`` the citizen is a temporary immigrant who leaves after an
    exponential stay with mean ``immigrant_stay_years``. The week is
    ``first_week + ceil(52 t) - 1`` as for deaths (``schedule_deaths``).
    """
    c = m.config.population
    age = m.pop.age[rows].astype(np.float64)
    e = rng.exponential(size=len(rows))
    temporary = rng.random(len(rows)) < return_prob
    stay = rng.exponential(c.immigrant_stay_years, size=len(rows))
    leave_age = settled_leave_age(age, e, np.array([c.emigration_rates[b] for b in AGE_BANDS]))
    settled = leave_age - age
    years = np.where(temporary, np.minimum(settled, stay), settled)
    m.pop.leave_week[rows] = _weeks_until(first_week, years)


_BAND_LO = np.asarray(AGE_BAND_EDGES, dtype=float)
_BAND_HI = np.append(_BAND_LO[1:], np.inf)
"""Lower and upper age (years) of each band in AGE_BANDS; the last band has no upper edge."""


def settled_leave_age(age: np.ndarray, e: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Age at which a settled resident emigrates: where the cumulative band hazard from ``age`` reaches ``e``.

    ``rates`` is the annual hazard of each age band (AGE_BANDS). The hazard is
    spent band by band from the current age: E minus each band's
    rate x years in it, in band order, until the rest falls within a band,
    which the citizen leaves at its start + rest / rate; ``inf`` if it never
    does (a last band's rate of 0).
    """
    if len(age) <= _BLOCK:  # one block (every week's new citizens): no copy into a result
        return _leave_age_block(age, e, rates)
    leave_age = np.full(len(age), np.inf)
    for lo in range(0, len(age), _BLOCK):  # a starting population of a million rows in blocks of bounded memory
        part = slice(lo, lo + _BLOCK)
        leave_age[part] = _leave_age_block(age[part], e[part], rates)
    return leave_age


_BLOCK = 65536
"""Rows per block of ``settled_leave_age`` (each block holds a few arrays of rows x age bands)."""


def _leave_age_block(age: np.ndarray, e: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """``settled_leave_age`` for all bands at once; the subtractions in band order (``np.subtract.accumulate``).

    So the values are those of a loop over the bands, bit for bit, with a
    few array operations instead of some tens (most calls are for a handful of new citizens).
    """
    start = np.maximum(age[:, None], _BAND_LO)
    span = np.maximum(0.0, _BAND_HI - start)
    steps = np.zeros((len(age), len(rates) + 1))  # e, then each band's hazard
    steps[:, 0] = e
    hazard = steps[:, 1:]
    if rates[-1] > 0:  # the only inf years are the last band's: a rate of 0 elsewhere gives 0 x finite = 0
        np.multiply(rates, span, out=hazard)
    else:
        np.multiply(rates, span, out=hazard, where=rates > 0)  # rate 0: none, also over inf years
    rest = np.subtract.accumulate(steps[:, :-1], axis=1)  # what is left on entering each band
    ends = rest < hazard
    band = ends.argmax(axis=1)  # the first band in which the rest runs out (0 if none)
    at = band + np.arange(0, ends.size, ends.shape[1])  # (row, that band) as an index into the flat arrays
    if ends.take(at).all():  # all leave some time (always when the last band's rate is above 0)
        return start.take(at) + rest.take(at) / rates.take(band)
    who = np.flatnonzero(ends.any(axis=1))
    band = ends[who].argmax(axis=1)
    leave_age = np.full(len(age), np.inf)
    leave_age[who] = start[who, band] + rest[who, band] / rates[band]
    return leave_age


def temporary_immigrant_share(m: DigexModel, rows: np.ndarray) -> np.ndarray:
    """Chance that a citizen of the starting population is a temporary immigrant who will leave again.

    Assumption: immigration before 2012 was as after, so the stock of
    temporary immigrants is ``immigration_per_year x immigrant_return_share x
    immigrant_stay_years`` of the population, spread over the age bands as
    ``immigration_age_shares`` (relative to ``age_band_shares``); their
    remaining stays are exponential with the same mean (docs/ODD.md section 7.3).
    """
    c = m.config.population
    stock = c.immigration_per_year * c.immigrant_return_share * c.immigrant_stay_years
    per_band = np.array([c.immigration_age_shares[b] / max(c.age_band_shares[b], 1e-12) for b in AGE_BANDS])
    band = m.pop.age_band()[rows]
    return np.minimum(1.0, stock * per_band[band])


class WeekCalendar:
    """The starting population's rows sorted by a scheduled week, so a week's events need no scan of all rows."""

    def __init__(self, weeks: np.ndarray) -> None:
        self.order = np.argsort(weeks, kind="stable")
        self.weeks = weeks[self.order]

    def due(self, week: int) -> np.ndarray:
        """Rows of the starting population scheduled for ``week``."""
        lo, hi = np.searchsorted(self.weeks, [week, week + 1])
        return self.order[lo:hi]


def _leave(m: DigexModel, calendar: WeekCalendar, scheduled: np.ndarray) -> np.ndarray:
    """Living rows whose week in ``scheduled`` (a column) is now; they are marked not alive.

    The starting population's are looked up in ``calendar``; the rows of
    entrants and immigrants (appended after it) are scanned.
    """
    p = m.pop
    first = m.config.population.size
    later = first + np.flatnonzero(scheduled[first : p.n] == m.week)
    rows = np.concatenate([calendar.due(m.week), later])
    rows = rows[p.alive[rows]]
    p.alive[rows] = False
    return rows


def deaths(m: DigexModel) -> np.ndarray:
    """Rows dying this week: the living whose scheduled week of death (``schedule_deaths``) is now."""
    return _leave(m, m.death_calendar, m.pop.death_week)


def emigrants(m: DigexModel) -> np.ndarray:
    """Rows emigrating this week: the living whose scheduled week of leaving (``schedule_emigration``) is now.

    They leave the model as the dead do (``DigexModel.demography_week``).
    """
    return _leave(m, m.leave_calendar, m.pop.leave_week)


def entrants(m: DigexModel, rng: np.random.Generator) -> np.ndarray:
    """New 15-year-olds: Poisson(entrants share * starting size / 52), later cohorts more skilled.

    The share is ``entrants_per_year``, or from ``entrants_by_year`` for the
    calendar year of the week (``scheduled_share``).
    """
    c = m.config.population
    k = rng.poisson(scheduled_share(c.entrants_per_year, c.entrants_by_year, m.date.year) * c.size / 52)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    years = m.week / 52
    ages = rng.random(k) / 52 + 15.0  # 15 years and up to a week (as 15.0 + u / 52: addition commutes exactly)
    attrs = draw_citizens(c, ages, rng, m.helpers.n_centres, cohort_shift=c.cohort_skill_gain_per_year * years)
    rows = add_citizens(m.pop, attrs, m.week)
    schedule_deaths(m, rows, m.week + 1, rng)
    schedule_emigration(m, rows, m.week + 1, 0.0, rng)
    m.mail.grow_to(m.pop.capacity)
    return rows


def immigrants(m: DigexModel, rng: np.random.Generator) -> np.ndarray:
    """Immigrants aged 15+: Poisson(immigration share * starting size / 52) new rows (docs/ODD.md section 7.3).

    The share is ``immigration_per_year``, or from ``immigration_by_year`` for
    the calendar year of the week (``scheduled_share``).

    Ages from ``immigration_age_shares``; other attributes drawn as at
    initialisation, except a language barrier with probability
    ``immigrant_language_barrier_share``. They arrive not enrolled in
    Digital Post (under an active mandate the enrolment step enrols them),
    flagged ``immigrant``, with a week of death and of emigration
    (temporary with probability ``immigrant_return_share``).
    """
    c = m.config.population
    k = rng.poisson(scheduled_share(c.immigration_per_year, c.immigration_by_year, m.date.year) * c.size / 52)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    ages = draw_ages(c, k, rng, c.immigration_age_shares)
    attrs = draw_citizens(c, ages, rng, m.helpers.n_centres, language_share=c.immigrant_language_barrier_share)
    attrs["immigrant"] = np.ones(k, dtype=bool)
    rows = add_citizens(m.pop, attrs, m.week)
    schedule_deaths(m, rows, m.week + 1, rng)
    schedule_emigration(m, rows, m.week + 1, c.immigrant_return_share, rng)
    m.mail.grow_to(m.pop.capacity)
    return rows


def language_learning(m: DigexModel, rng: np.random.Generator) -> np.ndarray:
    """Immigrants' language barriers end at the annual hazard ``language_barrier_fade_per_year``.

    Only citizens who arrived by immigration during the run (rows after the
    starting population): the starting population keeps its
    ``language_barrier_share`` (docs/ODD.md section 7.3). Returns the rows whose barrier ended.
    """
    p, c = m.pop, m.config.population
    first = c.size
    rows = first + np.flatnonzero(p.immigrant[first : p.n] & p.language_barrier[first : p.n] & p.alive[first : p.n])
    faded = rows[rng.random(len(rows)) < c.language_barrier_fade_per_year / 52]
    p.language_barrier[faded] = False
    return faded


def demography_key(config: Config, seed: int) -> str:
    """What the demography of a run depends on, as a SHA-256: two runs with the same key have the same newcomers.

    The population block (but its ``initial_enrolled_share``, which no
    demographic draw uses), the start date, the number of centres (new
    citizens draw theirs) and the seed: the starting population, and the
    ``population`` and ``demography`` streams, whose draws depend on nothing
    else (the weeks of death and emigration, newcomers and language
    learning). A scenario and its all-analogue twin (docs/ODD.md section 7.14)
    have the same key.
    """
    population = config.population.model_dump(mode="json", exclude={"initial_enrolled_share"})
    what = {"population": population, "start": config.run.start.isoformat(),
            "centres": config.policy.centre.centres, "seed": seed}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


@dataclass
class Newcomers:
    """One week's newcomers as added (every population column of their rows) and the language barriers that ended."""

    born: int
    columns: dict[str, np.ndarray]
    faded: np.ndarray


class DemographyRecord:
    """The newcomers of a run, week by week, for a run with the same demography to replay instead of drawing them.

    A model given an empty record (``DigexModel(demography_record=...)``) fills it
    week by week; a model given a filled one replays it (``DigexModel.demography_week``).
    The analogue twin of a replication replays its main run's record: the same
    rows with the same values as if it had drawn them (``demography_key``), without
    drawing the new citizens a second time. Deaths and emigration need no record:
    their weeks are drawn at entry and are columns of the rows.
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self.weeks: list[Newcomers | None] = []

    def keep(self, m: DigexModel, first: int, born: int, faded: np.ndarray) -> None:
        """Record week ``len(self.weeks)``: rows ``first`` onwards are new (the first ``born`` of them 15-year-olds)."""
        p = m.pop
        if p.n == first and len(faded) == 0:
            self.weeks.append(None)
            return
        self.weeks.append(Newcomers(born, {name: getattr(p, name)[first : p.n].copy() for name in COLUMNS}, faded))

    def replay(self, m: DigexModel) -> tuple[np.ndarray, np.ndarray]:
        """Add week ``m.week``'s newcomers and end its faded barriers; return the rows born and immigrated."""
        week = self.weeks[m.week]
        if week is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        parts = []
        for part in (slice(0, week.born), slice(week.born, None)):
            rows = add_citizens(m.pop, {name: values[part] for name, values in week.columns.items()}, m.week)
            m.mail.grow_to(m.pop.capacity)
            parts.append(rows)
        m.pop.language_barrier[week.faded] = False
        return parts[0], parts[1]
