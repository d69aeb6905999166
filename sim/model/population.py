"""Array-backed citizens: one row per citizen, one NumPy column per state variable.

docs/ODD.md sections 2, 6 and 4. Rows are never reused: a citizen who dies keeps
its row with ``alive = False``, so row numbers are stable identifiers and a
``Citizen`` agent can be a view on its row for the whole run.
"""

from __future__ import annotations

import functools

import numpy as np

from sim.model.codes import NOT_ENROLLED
from sim.model.maths import clip01, logistic
from sim.model.params import AGE_BAND_EDGES, AGE_BANDS, PopulationConfig

NEVER = -(10**6)
"""Week stamp meaning 'never happened'."""

# name -> dtype; the order is the order of the columns in Population.frame().
COLUMNS: dict[str, type | np.dtype] = {
    "alive": np.bool_,
    "age": np.float32,
    "skill": np.float32,
    "education": np.int8,
    "disability": np.int8,
    "language_barrier": np.bool_,
    "homeless": np.bool_,
    "internet": np.bool_,
    "eid": np.bool_,
    "support": np.int8,
    "proxy": np.bool_,
    "trust": np.float32,
    "dp_status": np.int8,
    "travel_burden": np.float32,
    "centre": np.int16,
    "aware_u": np.float32,
    "ident_u": np.float32,
    "proxy_u": np.float32,
    "read_access": np.bool_,
    "immigrant": np.bool_,
    "entry_week": np.int32,
    "death_week": np.int32,
    "leave_week": np.int32,
    "last_fail_week": np.int32,
    "last_procedure_fail_week": np.int32,
    "last_letter_miss_week": np.int32,
    "last_benefit_fail_week": np.int32,
    "last_need_week": np.int32,
    "last_unassisted_week": np.int32,
    "last_assisted_week": np.int32,
    "last_letter_week": np.int32,
    "last_read_week": np.int32,
    "done_self_service": np.int32,
    "done_paper": np.int32,
    "done_relative": np.int32,
    "done_phone": np.int32,
    "done_centre": np.int32,
    "done_automation": np.int32,
    "letters_read": np.int32,
    "tasks_failed": np.int32,
    "help_received": np.int32,
    "minutes_spent": np.float32,
}

LAST_WEEK_COLUMNS: tuple[str, ...] = tuple(name for name in COLUMNS if name.startswith("last_"))
"""The columns stamping the last week something happened; NEVER for a new citizen."""


class Population:
    """Citizen state in NumPy columns with room to grow for new 15-year-olds."""

    def __init__(self, capacity: int) -> None:
        self.n = 0
        for name, dtype in COLUMNS.items():
            setattr(self, name, np.zeros(capacity, dtype=dtype))

    # Declared for type checkers; created in __init__ from COLUMNS.
    alive: np.ndarray
    age: np.ndarray
    skill: np.ndarray
    education: np.ndarray
    disability: np.ndarray
    language_barrier: np.ndarray
    homeless: np.ndarray
    internet: np.ndarray
    eid: np.ndarray
    support: np.ndarray
    proxy: np.ndarray
    trust: np.ndarray
    dp_status: np.ndarray
    travel_burden: np.ndarray
    centre: np.ndarray
    aware_u: np.ndarray
    ident_u: np.ndarray
    proxy_u: np.ndarray
    read_access: np.ndarray
    immigrant: np.ndarray
    entry_week: np.ndarray
    death_week: np.ndarray
    leave_week: np.ndarray
    last_fail_week: np.ndarray
    last_procedure_fail_week: np.ndarray
    last_letter_miss_week: np.ndarray
    last_benefit_fail_week: np.ndarray
    last_need_week: np.ndarray
    last_unassisted_week: np.ndarray
    last_assisted_week: np.ndarray
    last_letter_week: np.ndarray
    last_read_week: np.ndarray
    done_self_service: np.ndarray
    done_paper: np.ndarray
    done_relative: np.ndarray
    done_phone: np.ndarray
    done_centre: np.ndarray
    done_automation: np.ndarray
    letters_read: np.ndarray
    tasks_failed: np.ndarray
    help_received: np.ndarray
    minutes_spent: np.ndarray

    @property
    def capacity(self) -> int:
        """Rows allocated."""
        return len(self.alive)

    def grow_to(self, n_rows: int) -> None:
        """Make room for at least ``n_rows`` rows (amortised doubling)."""
        if n_rows <= self.capacity:
            return
        new_cap = max(n_rows, int(self.capacity * 1.5) + 16)
        for name in COLUMNS:
            old = getattr(self, name)
            new = np.zeros(new_cap, dtype=old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)

    def view(self) -> slice:
        """Slice of the rows in use."""
        return slice(0, self.n)

    def age_band(self) -> np.ndarray:
        """Age band index (0..7, see params.AGE_BANDS) of every row in use."""
        return _BAND_OF_YEAR.take(self.age[: self.n].astype(np.int16), mode="clip")  # whole years, 200+ -> 200

    def frame(self):
        """All rows in use as a pandas DataFrame (for inspection, not for the step)."""
        import pandas as pd

        return pd.DataFrame({name: getattr(self, name)[: self.n] for name in COLUMNS})


_BAND_OF_YEAR = np.searchsorted(np.asarray(AGE_BAND_EDGES[1:]), np.arange(201), side="right").astype(np.int8)
"""Age band of each whole year of age (band edges are whole years)."""


def draw_ages(
    cfg: PopulationConfig, n: int, rng: np.random.Generator, band_shares: dict[str, float] | None = None
) -> np.ndarray:
    """Ages from age-band shares, uniform within a band (80+: to max_age, thinning).

    ``band_shares`` defaults to the starting population's ``age_band_shares``;
    immigrants use ``immigration_age_shares`` (docs/ODD.md sections 5 and 7.3).
    """
    by_band = cfg.age_band_shares if band_shares is None else band_shares
    p, lo, width, thin = _band_draw_table(tuple(by_band[b] for b in AGE_BANDS), cfg.max_age)
    band = rng.choice(len(AGE_BANDS), size=n, p=p)
    u = rng.random(n)
    # Within 80+ the density falls with age: use a truncated exponential (mean 7 years above 80).
    age = lo[band] + u * width[band]
    old = np.flatnonzero(band == len(AGE_BANDS) - 1)
    if len(old):
        age[old] = 80 - 7.0 * np.log(1 - u[old] * thin)
    return age


@functools.lru_cache(maxsize=32)
def _band_draw_table(shares: tuple[float, ...], max_age: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Constants of ``draw_ages`` for band shares (in AGE_BANDS order) and ``max_age``, computed once.

    The band probabilities (shares / their sum), each band's lower age and
    width (the last band's up to ``max_age``), and 1 - exp(-(max_age - 80) / 7)
    of the truncated exponential within 80+. Arrays are read-only (shared by calls).
    """
    shares_arr = np.array(shares)
    lo = np.array(AGE_BAND_EDGES, dtype=float)
    hi = np.append(lo[1:], float(max_age))
    p, width = shares_arr / shares_arr.sum(), hi - lo
    for a in (p, lo, width):
        a.setflags(write=False)
    return p, lo, width, 1 - np.exp(-(max_age - 80) / 7.0)


def draw_citizens(
    cfg: PopulationConfig,
    ages: np.ndarray,
    rng: np.random.Generator,
    n_centres: int,
    cohort_shift: float = 0.0,
    language_share: float | None = None,
) -> dict[str, np.ndarray]:
    """Draw every attribute of new citizens of the given ages (docs/ODD.md section 2).

    Skill is logistic in a linear predictor of age, education, impairment and
    language with individual noise; internet access and eID become less likely
    at low skill; support is Poisson and smaller in old age. ``cohort_shift``
    raises the skill logit of later cohorts of 15-year-olds. ``language_share``
    (default ``language_barrier_share``) is the chance of a language barrier
    (``immigrant_language_barrier_share`` for immigrants).
    """
    n = len(ages)
    edu_eff, cog_eff, phys_eff, lang_eff = _skill_terms(
        cfg.skill_education_effect, cfg.skill_cognitive_effect, cfg.skill_physical_effect, cfg.skill_language_effect
    )
    # Education: the first level (low, medium, high) whose cumulative share, linear in age between the young and
    # the old mix, exceeds a uniform draw. The shares are non-negative, so the cumulative shares do not decrease
    # and the level is the count of those below the draw; the last (the total) is not needed.
    old_frac = clip01((ages - 45.0) / 30.0)
    young_frac = 1.0 - old_frac
    (young_low, young_medium, _), (old_low, old_medium, _) = cfg.education_shares_young, cfg.education_shares_old
    p_low = young_low * young_frac + old_low * old_frac
    p_low_or_medium = p_low + (young_medium * young_frac + old_medium * old_frac)
    r = rng.random(n)
    education = np.add(r > p_low, r > p_low_or_medium, dtype=np.int64)

    p_phys = cfg.physical_disability_base + cfg.physical_disability_per_decade * np.maximum((ages - 45.0) / 10.0, 0.0)
    p_cog = cfg.cognitive_disability_base + (cfg.cognitive_disability_80plus - cfg.cognitive_disability_base) * (
        clip01((ages - 60.0) / 25.0) ** 2
    )
    u = rng.random(n)
    # 2 (cognitive) below p_cog, else 1 (physical) below p_cog + p_phys, else 0: below p_cog is below both.
    disability = np.add(u < p_cog, u < p_cog + clip01(p_phys), dtype=np.int64)
    language = rng.random(n) < (cfg.language_barrier_share if language_share is None else language_share)
    homeless = rng.random(n) < cfg.homeless_share

    logit = (
        cfg.skill_intercept
        + cfg.skill_age_slope * (ages - 40.0) / 10.0
        + cfg.skill_old_age_slope * np.maximum(ages - 65.0, 0.0) / 10.0
        + edu_eff[education]
        + cog_eff[disability]
        + phys_eff[disability]
        + lang_eff[language.view(np.int8)]
        + cohort_shift
        + cfg.skill_noise_sd * rng.standard_normal(n)
    )
    skill = logistic(logit)

    unskilled = 1.0 - skill
    p_net = cfg.internet_base * (1.0 - cfg.internet_skill_weight * unskilled) * np.where(homeless, 0.3, 1.0)
    internet = rng.random(n) < p_net
    p_eid = cfg.eid_base * (1.0 - cfg.eid_skill_weight * unskilled) * np.where(internet, 1.0, 0.5)
    eid = rng.random(n) < p_eid

    support_mean = cfg.support_mean * np.where(ages >= 75, cfg.support_old_age_factor, 1.0)
    support = np.minimum(rng.poisson(support_mean), 20)
    a = cfg.trust_mean * cfg.trust_concentration
    trust = rng.beta(a, cfg.trust_concentration - a, size=n)
    tb = cfg.travel_burden_mean
    travel = rng.beta(2.0 * tb / (1 - tb + 1e-9) + 1e-3, 2.0, size=n) if tb > 0 else np.zeros(n)

    return {
        "age": ages,
        "skill": skill,
        "education": education,
        "disability": disability,
        "language_barrier": language,
        "homeless": homeless,
        "internet": internet,
        "eid": eid,
        "support": support,
        "trust": trust,
        "travel_burden": travel,
        "centre": rng.integers(0, n_centres, size=n),
        "aware_u": rng.random(n),
        "ident_u": rng.random(n),
        "proxy_u": rng.random(n),
    }


@functools.lru_cache(maxsize=32)
def _skill_terms(
    education_effect: tuple[float, ...], cognitive_effect: float, physical_effect: float, language_effect: float
) -> tuple[np.ndarray, ...]:
    """Terms of ``draw_citizens``' skill logit, made into read-only lookup arrays once per configuration.

    The term of each education level, of each disability code (cognitive
    effect x (code == 2), physical effect x (code == 1)) and of no/a language
    barrier (effect x False/True): looking a term up gives the very product
    ``draw_citizens`` would compute.
    """
    codes = np.arange(3)
    tables = (
        np.asarray(education_effect), cognitive_effect * (codes == 2), physical_effect * (codes == 1),
        language_effect * np.array([False, True]),
    )
    for a in tables:
        a.setflags(write=False)
    return tables


def add_citizens(pop: Population, attrs: dict[str, np.ndarray], week: int) -> np.ndarray:
    """Append new citizens with the drawn attributes; return their row numbers."""
    k = len(attrs["age"])
    new = slice(pop.n, pop.n + k)  # a slice, not the row numbers: assigning to a slice is cheaper
    pop.grow_to(pop.n + k)
    for name, values in attrs.items():
        getattr(pop, name)[new] = values
    pop.alive[new] = True
    pop.entry_week[new] = week
    pop.dp_status[new] = NOT_ENROLLED
    for name in LAST_WEEK_COLUMNS:
        getattr(pop, name)[new] = NEVER
    pop.n += k
    return np.arange(new.start, new.stop)
