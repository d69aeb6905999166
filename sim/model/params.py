"""Scenario parameters: the single source of truth for every lever and setting.

The schema follows docs/ODD.md: the policy levers (section 2), the costs
(section 7.14) and the population (sections 5 and 6). Every field carries a description and, in ``json_schema_extra``,
a unit, so that ``digex describe`` and ``docs/ODD.md`` can be generated from it.
Defaults describe the Danish baseline; calibrated values live in
``scenarios/calibrated.yaml`` which the baseline scenario extends.
"""

from __future__ import annotations

import datetime as dt
import functools
import types
from collections.abc import Mapping
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from sim.model.codes import CHANNELS
from sim.model.keypath import KeyPath, KeyPathError, get, split, with_values

AGE_BANDS: tuple[str, ...] = (
    "15-24",
    "25-34",
    "35-44",
    "45-54",
    "55-64",
    "65-74",
    "75-79",
    "80+",
)
"""Age bands of docs/ODD.md section 7.15."""

AGE_BAND_EDGES: tuple[int, ...] = (15, 25, 35, 45, 55, 65, 75, 80)
"""Lower edge (years) of each band in AGE_BANDS."""

PROCEDURE_TYPES: tuple[str, ...] = ("tax", "benefit", "moving", "family")
"""Self-service procedures (docs/ODD.md section 7.4); letters are handled by the inbox."""

LETTER_KINDS: tuple[str, ...] = ("post", "health")
"""Digital Post letters and health/appointment letters (docs/ODD.md section 7.4)."""

# Limits on what sizes memory and time. Each is far above real use: the national scale is
# 5,000,000 citizens x 730 weeks (about 2 GB and 5 minutes for a whole `digex run`, benchmarks/RESULTS.md),
# and a row of the population costs about 300 bytes at the peak of a run.

MAX_WEEKS = 5_200
"""Longest run: 100 years of weekly steps (also the bound on other counts of weeks)."""

MAX_CITIZENS = 20_000_000
"""Largest starting population: about four times Denmark's 15+ population at one simulated citizen per person."""

MAX_CITIZEN_WEEKS = 20_000_000_000
"""Largest population.size x run.weeks: 20,000,000 x 1,000 (about 30 minutes per model run at 12 million
citizen-weeks a second); the national scale, 5,000,000 x 730, is 3.65e9."""

MAX_ROWS = 25_000_000
"""Largest number of citizen rows allocated (the start plus the expected entrants with 20% room): about 7.5 GB
per model at 300 bytes a row, so that two replications at once (``--jobs 2``) fit a 24 GB machine."""

MAX_REAL_SIZE = 10_000_000_000
"""Largest population represented (population.real_size): more than the world's population."""

MAX_MATERIALISED = 1_000_000
"""Largest population that may be given a mesa.Agent per citizen (about 250 bytes each: 250 MB at the limit)."""

MAX_WEEKLY_ARRIVALS = 1.0
"""Largest expected number of procedures (or letters) of one type per citizen in a week."""

MAX_SEED = 2**32 - 1
"""Largest run.seed (replication r uses seed + r, so the seeds of a run stay within 64-bit integers)."""

MAX_DKK = 1e12
"""Largest amount of money in one parameter (a unit cost, a value, a budget): a trillion DKK, so that sums over
every citizen and week stay finite."""

MAX_LOGIT = 50.0
"""Largest absolute value of a skill logit or logit shift: logistic(50) differs from 1 by 2e-22."""

FIRST_DATE, LAST_DATE = dt.date(1900, 1, 1), dt.date(2200, 12, 31)
"""Dates of a scenario (run start, launch, mandate, timeline) lie in this range."""

NAME_MAX = 100
"""Longest scenario name (it names the output directory ``results/<name>``)."""

NAME_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ._-()")
"""Characters a scenario name may hold: a safe file name on every system (no path separators)."""

Probability = float


def _f(default: Any, desc: str, unit: str = "", **kw: Any) -> Any:
    """A pydantic Field with a description and a unit for ``digex describe``."""
    return Field(default, description=desc, json_schema_extra={"unit": unit}, **kw)


def _p(default: float, desc: str) -> Any:
    """A probability or share in [0, 1]."""
    return _f(default, desc, "share", ge=0.0, le=1.0)


def _date(default: Any, desc: str) -> Any:
    """A date field; every date must lie between FIRST_DATE and LAST_DATE (checked by ``Strict``)."""
    return _f(default, f"{desc} Between {FIRST_DATE} and {LAST_DATE}.", "date")


def _logit(default: float, desc: str, unit: str = "logit") -> Any:
    """A skill logit or logit shift, within +/- MAX_LOGIT."""
    return _f(default, desc, unit, ge=-MAX_LOGIT, le=MAX_LOGIT)


@functools.cache
def _numeric(tp: Any) -> bool:
    """Whether an annotation holds numbers only: int, float, or tuples, lists or mappings of them (or None).

    Cached: it runs for every field of every validation (a sweep validates thousands of scenarios).
    """
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        return all(_numeric(a) for a in args if a is not type(None))
    if origin is dict:
        return _numeric(args[1])
    if origin in (tuple, list):
        return all(_numeric(a) for a in args if a is not Ellipsis)
    return tp in (int, float)


def _bool_at(value: Any) -> KeyPath | None:
    """Where a true/false sits in a value (``()`` for the value itself, ``(key,)`` for an item), else None."""
    if isinstance(value, bool):
        return ()
    items = value.items() if isinstance(value, Mapping) else enumerate(value) if isinstance(value, list | tuple) else ()
    return next(((k,) for k, v in items if isinstance(v, bool)), None)


def _check_named(values: Mapping[str, float], field: str, what: str, names: tuple[str, ...], high: float,
                 unit: str = "") -> None:
    """Refuse a key of a mapping field that is not one of ``names``, or a value outside [0, high]."""
    for key, value in values.items():
        if key not in names:
            raise KeyPathError((field, key), f"unknown {what} '{key}'; use {list(names)}", unknown=True)
        if not 0 <= value <= high:
            raise KeyPathError((field, key), f"{value:g} is outside [0, {high:g}]{unit}")


class Strict(BaseModel):
    """Base for every block: unknown keys are errors, assignments are validated.

    Numbers are finite (no NaN or infinity, also inside lists and mappings),
    true/false is never taken for a number, and every date lies between
    FIRST_DATE and LAST_DATE.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """Refuse true/false (YAML also reads yes/no/on/off so) where a number is expected."""
        if info.field_name is not None and _numeric(cls.model_fields[info.field_name].annotation):
            at = _bool_at(value)
            if at is not None:
                raise KeyPathError(at, "should be a number, not true/false")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _dates_in_range(cls, value: Any) -> Any:
        """Refuse a date outside FIRST_DATE to LAST_DATE (a later run end or launch would overflow)."""
        if isinstance(value, dt.date) and not FIRST_DATE <= value <= LAST_DATE:
            raise ValueError(f"{value} is outside the dates a scenario may use ({FIRST_DATE} to {LAST_DATE})")
        return value


# ---------------------------------------------------------------- run


class RunConfig(Strict):
    """When the simulation starts, how long it runs, and what it compares with."""

    start: dt.date = _date(dt.date(2012, 1, 2), "First simulated week (a date).")
    weeks: int = _f(730, f"Number of weekly steps (at most {MAX_WEEKS:,}, 100 years; population.size x run.weeks "
                    f"at most {MAX_CITIZEN_WEEKS:,}).", "weeks", ge=1, le=MAX_WEEKS)
    seed: int = _f(1, "Base random seed; replication r uses seed + r.", "", ge=0, le=MAX_SEED)
    analogue_reference: bool = _f(
        True,
        "Also run the all-analogue reference of the same population and seed to "
        "report savings_vs_analogue_dkk (docs/ODD.md section 7.14).",
    )

    @property
    def end(self) -> dt.date:
        """Date of the last simulated week."""
        return self.start + dt.timedelta(weeks=self.weeks - 1)


# ---------------------------------------------------------------- population


class PopulationConfig(Strict):
    """Synthetic Danish population aged 15+ (docs/ODD.md sections 2 and 6)."""

    size: int = _f(
        20_000,
        f"Simulated citizens at the start (at most {MAX_CITIZENS:,}; population.size x run.weeks at most "
        f"{MAX_CITIZEN_WEEKS:,}, and with the expected entrants at most {MAX_ROWS:,} rows).",
        "citizens", ge=50, le=MAX_CITIZENS,
    )
    real_size: int = _f(
        4_590_000,
        "Real residents aged 15+ at the start; each simulated citizen stands for "
        "real_size / size persons (Statistics Denmark, 2012).",
        "persons",
        ge=1,
        le=MAX_REAL_SIZE,
    )
    age_band_shares: dict[str, float] = _f(
        {"15-24": 0.160, "25-34": 0.140, "35-44": 0.165, "45-54": 0.170,
         "55-64": 0.150, "65-74": 0.125, "75-79": 0.040, "80+": 0.050},
        "Share of the 15+ population in each age band at the start "
        "(Statistics Denmark 2012; about 230,000 aged 80+ in 2014).",
        "share",
    )
    max_age: int = _f(104, "Oldest age drawn for the 80+ band.", "years", ge=81, le=120)
    education_shares_young: tuple[float, float, float] = _f(
        (0.20, 0.42, 0.38), "Low/medium/high education shares among those under 45.", "share"
    )
    education_shares_old: tuple[float, float, float] = _f(
        (0.45, 0.38, 0.17), "Low/medium/high education shares among those 75+ "
        "(linear in age between 45 and 75).", "share"
    )
    physical_disability_base: Probability = _p(0.04, "Physical impairment prevalence at age 15.")
    physical_disability_per_decade: float = _f(
        0.025, "Added physical impairment prevalence per decade of age above 45.", "share/decade", ge=0, le=1
    )
    cognitive_disability_base: Probability = _p(0.015, "Cognitive impairment prevalence at age 15.")
    cognitive_disability_80plus: Probability = _p(0.15, "Cognitive impairment prevalence at 80+.")
    language_barrier_share: Probability = _p(
        0.04, "Share of the starting population with a language barrier (difficulty reading Danish); "
        "immigrants arriving later draw theirs from immigrant_language_barrier_share."
    )
    homeless_share: Probability = _p(0.0013, "Share homeless (about 6,000 persons).")
    skill_intercept: float = _logit(
        2.2, "Logit of digital skill at age 40 with medium education and no impairment."
    )
    skill_age_slope: float = _logit(
        -0.30, "Change in skill logit per decade of age above 40.", "logit/decade"
    )
    skill_old_age_slope: float = _logit(
        -0.75, "Extra change in skill logit per decade of age above 65.", "logit/decade"
    )
    skill_education_effect: tuple[float, float, float] = _f(
        (-0.8, 0.0, 0.6), f"Skill logit shift for low/medium/high education (each within +/- {MAX_LOGIT:g}).",
        "logit"
    )
    skill_cognitive_effect: float = _logit(-1.8, "Skill logit shift for cognitive impairment.")
    skill_physical_effect: float = _logit(-0.6, "Skill logit shift for physical impairment.")
    skill_language_effect: float = _logit(-0.7, "Skill logit shift for a language barrier.")
    skill_noise_sd: float = _f(1.1, "Individual spread of the skill logit.", "logit", ge=0, le=MAX_LOGIT)
    cohort_skill_gain_per_year: float = _logit(
        0.03, "Logit gain in starting skill of each new cohort of 15-year-olds per year.", "logit/year"
    )
    challenged_threshold: Probability = _p(
        0.35, "Skill below which a citizen counts as digitally challenged (docs/ODD.md section 6)."
    )
    internet_base: Probability = _p(0.97, "Home internet access for a fully skilled citizen.")
    internet_skill_weight: float = _f(
        0.35, "Drop in internet access probability from full to zero skill.", "share", ge=0, le=1
    )
    eid_base: Probability = _p(0.97, "Has an eID (NemID/MitID) if skilled and with internet.")
    eid_skill_weight: float = _f(
        0.5, "Drop in eID probability from full to zero skill.", "share", ge=0, le=1
    )
    support_mean: float = _f(
        1.6, "Mean number of relatives/friends able to help (a citizen has at most 20).", "persons", ge=0, le=20
    )
    support_old_age_factor: float = _f(
        0.7, "Multiplier on mean support for those 75+ (smaller networks).", "", ge=0, le=10
    )
    trust_mean: float = _f(
        0.65, "Mean initial trust in public digital services (strictly between 0 and 1).", "share", gt=0, lt=1
    )
    trust_concentration: float = _f(8.0, "Beta concentration of initial trust.", "", gt=0, le=10_000)
    travel_burden_mean: Probability = _p(
        0.25, "Mean travel burden to the citizen service centre (0 none, 1 prohibitive)."
    )
    annual_mortality_a: float = _f(
        -11.39, "Gompertz log-hazard at age 0: with annual_mortality_b = 0.105 life expectancy at birth is "
        "81.5 years (Statistics Denmark, 2021) and at 65 is 19.2 years (docs/ODD.md section 7.3).", "log/year",
        ge=-50, le=5,
    )
    annual_mortality_b: float = _f(
        0.105, "Gompertz slope of log-hazard per year of age (assumption: steeper than 0.094 so that the 80+ "
        "do not outgrow the published counts; docs/ODD.md section 7.3).", "1/year", gt=0, le=1,
    )
    mortality_improvement_per_year: float = _f(
        0.0, "Yearly fall of the Gompertz log-hazard with the calendar year (period mortality improvement): the "
        "hazard at age x in year T is exp(annual_mortality_a - improvement x (T - mortality_reference_year) + "
        "annual_mortality_b x x). 0 keeps mortality as in the reference year throughout; about 0.02 raises life "
        "expectancy by about 0.2 years a year (docs/ODD.md section 7.3; below annual_mortality_b).",
        "log/year", ge=0, le=0.05,
    )
    mortality_reference_year: int = _f(
        2021, "Calendar year whose mortality annual_mortality_a and annual_mortality_b describe (life expectancy "
        "81.5 years in 2021); used only with mortality_improvement_per_year.", "year", ge=1900, le=2200,
    )
    entrants_per_year: float = _f(
        0.0148, f"New 15-year-olds per year as a share of the starting population (rows are allocated for "
        f"population.size x (1 + 1.2 x (entrants_per_year + immigration_per_year) x run.weeks / 52), at most "
        f"{MAX_ROWS:,}).",
        "share/year", ge=0, le=1,
    )
    immigration_per_year: float = _f(
        0.0170, "Immigrants aged 15+ per year (returning Danes included) as a share of the starting "
        "population: 89,700 immigrations a year in 2013-2023 (Statistics Denmark), of which about 87% aged "
        "15+ (assumption from the age profile of 2017), over 4.59 million.", "share/year", ge=0, le=1,
    )
    entrants_by_year: dict[int, float] = _f(
        {}, "New 15-year-olds per year as a share of the starting population from a calendar year on (a step "
        "schedule: each year uses the entry of the latest listed year at or before it; before the first, and "
        "when empty, entrants_per_year). For projections: the cohort born 15 years earlier. Years are keys "
        "(quoted in YAML: \"2026\": 0.0135); docs/ODD.md section 7.3.", "share/year",
    )
    immigration_by_year: dict[int, float] = _f(
        {}, "Immigrants aged 15+ per year as a share of the starting population from a calendar year on (a step "
        "schedule as entrants_by_year; when empty, immigration_per_year).", "share/year",
    )
    immigration_age_shares: dict[str, float] = _f(
        {"15-24": 0.38, "25-34": 0.40, "35-44": 0.12, "45-54": 0.06,
         "55-64": 0.03, "65-74": 0.008, "75-79": 0.001, "80+": 0.001},
        "Share of immigrants aged 15+ in each age band (assumption: 70% of the foreign immigrants of 2017 "
        "were aged 20-39, 8% 40-49, 3% 50-59 and 1% 60+; Statistics Denmark via The Copenhagen Post 2018).",
        "share",
    )
    immigrant_language_barrier_share: Probability = _p(
        0.5, "Share of immigrants arriving with a language barrier (assumption: about a quarter of arrivals "
        "are returning Danes and many foreign arrivals come from the Nordic countries)."
    )
    language_barrier_fade_per_year: float = _f(
        0.2, "Annual hazard that an immigrant's language barrier ends (assumption: free Danish education "
        "runs within 5 years of arrival, mean 5 years).", "1/year", ge=0, le=52,
    )
    emigration_rates: dict[str, float] = _f(
        {"15-24": 0.005, "25-34": 0.012, "35-44": 0.005, "45-54": 0.002,
         "55-64": 0.002, "65-74": 0.0015, "75-79": 0.0005, "80+": 0.0005},
        "Annual emigration hazard by age band of settled residents (assumption: about 20,000 Danish "
        "citizens emigrated in 2010, mostly young adults; Statistics Denmark, Statistical Yearbook 2011).",
        "1/year",
    )
    immigrant_return_share: Probability = _p(
        0.5, "Share of immigrants who stay only for a while and leave again (assumption: the tendency to "
        "emigrate is high in the first years after immigration; Statistics Denmark 2021)."
    )
    immigrant_stay_years: float = _f(
        3.0, "Mean stay of the immigrants who leave again (exponential; assumption).", "years", gt=0, le=100,
    )
    old_age_skill_decline: float = _f(
        0.015, "Absolute skill loss per year after age 70.", "skill/year", ge=0, le=1
    )
    cognitive_skill_decline: float = _f(
        0.02, "Extra absolute skill loss per year with cognitive impairment.", "skill/year", ge=0, le=1
    )
    initial_enrolled_share: Probability = _p(
        0.10, "Share of skilled citizens with internet and eID already in Digital Post at start."
    )
    materialise_agents_up_to: int = _f(
        250_000,
        "Create a Citizen mesa.Agent per row up to this population size; above it "
        f"citizens are created lazily by model.citizen(row) (at most {MAX_MATERIALISED:,}).",
        "citizens",
        ge=0,
        le=MAX_MATERIALISED,
    )

    @model_validator(mode="after")
    def _check_shares(self) -> PopulationConfig:
        unknown = set(self.age_band_shares) - set(AGE_BANDS)
        if unknown:
            raise KeyPathError("age_band_shares", f"unknown band(s) {sorted(unknown)}; use {list(AGE_BANDS)}")
        missing = set(AGE_BANDS) - set(self.age_band_shares)
        if missing:
            raise KeyPathError("age_band_shares", f"missing band(s) {sorted(missing)}")
        for name in ("immigration_age_shares", "emigration_rates"):
            keys = set(getattr(self, name))
            if keys != set(AGE_BANDS):
                raise KeyPathError(name, f"needs exactly the bands {list(AGE_BANDS)}; unknown "
                                         f"{sorted(keys - set(AGE_BANDS))}, missing {sorted(set(AGE_BANDS) - keys)}")
        for name in ("entrants_by_year", "immigration_by_year"):
            for year, share in getattr(self, name).items():
                if not FIRST_DATE.year <= year <= LAST_DATE.year:
                    raise KeyPathError((name, year), f"year {year} is outside {FIRST_DATE.year} to {LAST_DATE.year}")
                if not 0 <= share <= 1:
                    raise KeyPathError((name, year), f"{share:g} is outside [0, 1] a year")
        if self.mortality_improvement_per_year >= self.annual_mortality_b:
            raise KeyPathError("mortality_improvement_per_year",
                               f"{self.mortality_improvement_per_year:g} must be below annual_mortality_b "
                               f"({self.annual_mortality_b:g}): mortality would not rise along a life")
        if not all(0 <= r <= 1 for r in self.emigration_rates.values()):
            raise KeyPathError("emigration_rates", "rates must lie between 0 and 1 a year")
        for name in ("age_band_shares", "immigration_age_shares", "education_shares_young", "education_shares_old"):
            v = getattr(self, name)
            values = list(v.values()) if isinstance(v, dict) else list(v)
            if min(values) < 0:
                raise KeyPathError(name, "shares must be non-negative")
            total = sum(values)
            if abs(total - 1.0) > 1e-6:
                raise KeyPathError(name, f"shares must sum to 1 (they sum to {total:.4f})")
        return self

    @property
    def weight(self) -> float:
        """Real persons represented by one simulated citizen."""
        return self.real_size / self.size


# ---------------------------------------------------------------- tasks


def _check_arrivals(rate_per_year: float, age_rates: dict[str, float], weeks: int) -> None:
    """Age bands are known, multipliers non-negative, and the busiest week's rate is within MAX_WEEKLY_ARRIVALS.

    ``weeks``: the weeks the yearly rate is spread over (52, or a season's length).
    """
    bad = set(age_rates) - set(AGE_BANDS)
    if bad:
        raise KeyPathError("age_rates", f"unknown band(s) {sorted(bad)}; use {list(AGE_BANDS)}")
    for band, multiplier in age_rates.items():
        if multiplier < 0:
            raise KeyPathError(("age_rates", band), f"a multiplier must be >= 0, got {multiplier:g}")
    band = max(AGE_BANDS, key=lambda b: age_rates.get(b, 1.0))
    multiplier = age_rates.get(band, 1.0)
    peak = rate_per_year * multiplier / weeks
    if peak > MAX_WEEKLY_ARRIVALS:
        at = ("age_rates", band) if multiplier > 1 else ("rate_per_year",)
        raise KeyPathError(at, f"rate_per_year {rate_per_year:g} x age_rates multiplier {multiplier:g} / {weeks} "
                           f"weeks = {peak:.4g} arrivals per citizen in a week, above the limit of "
                           f"{MAX_WEEKLY_ARRIVALS:g}; lower the rate or the multiplier")


class ProcedureType(Strict):
    """A self-service procedure type (docs/ODD.md section 7.4)."""

    rate_per_year: float = _f(
        1.0, f"Mean arrivals per citizen-year; rate_per_year x the largest age_rates multiplier / the weeks "
        f"it is spread over (season or 52) is at most {MAX_WEEKLY_ARRIVALS:g} a week.", "1/year", ge=0, le=52
    )
    age_rates: dict[str, float] = _f(
        {}, "Multiplier (>= 0) on rate_per_year by age band (missing bands: 1).", ""
    )
    season_weeks: tuple[int, int] | None = _f(
        None, "If set, arrivals only in these ISO weeks (inclusive), e.g. tax in March.", "week"
    )
    complexity_mean: Probability = _p(0.4, "Mean complexity (skill needed) of a task.")
    complexity_sd: float = _f(0.12, "Spread of complexity.", "", ge=0, le=1)
    deadline_weeks: int = _f(6, "Weeks from arrival to deadline.", "weeks", ge=1, le=52)
    value_dkk: float = _f(1000.0, "Welfare lost if the task fails.", "DKK", ge=0, le=MAX_DKK)
    digital_eligible: bool = _f(True, "Can the policy make this procedure mandatory-digital?")
    is_benefit: bool = _f(False, "Counts towards non_take_up_rate (benefit/pension claim).")

    @model_validator(mode="after")
    def _check(self) -> ProcedureType:
        weeks = 52
        if self.season_weeks is not None:
            a, b = self.season_weeks
            if not (1 <= a <= b <= 53):
                raise KeyPathError("season_weeks", "must satisfy 1 <= first <= last <= 53")
            weeks = b - a + 1
        _check_arrivals(self.rate_per_year, self.age_rates, weeks)
        return self


class LetterKind(Strict):
    """A kind of public letter that must be read before a deadline (docs/ODD.md sections 7.4 and 7.10)."""

    rate_per_year: float = _f(
        12.0, f"Letters per citizen-year; rate_per_year x the largest age_rates multiplier / 52 is at most "
        f"{MAX_WEEKLY_ARRIVALS:g} a week.", "1/year", ge=0, le=52
    )
    age_rates: dict[str, float] = _f({}, "Multiplier (>= 0) by age band (missing bands: 1).", "")
    deadline_weeks: int = _f(4, "Weeks within which a letter must be read.", "weeks", ge=1, le=26)
    consequence_share: Probability = _p(
        0.2, "Share of letters of the kind whose missed deadline has a consequence (a missed appointment, a "
        "lapsed request for documentation, a fee); only these missed letters are exclusion events."
    )
    value_dkk: float = _f(
        400.0, "Welfare lost per missed letter whose deadline has a consequence (consequence_share).", "DKK",
        ge=0, le=MAX_DKK,
    )

    @model_validator(mode="after")
    def _check(self) -> LetterKind:
        _check_arrivals(self.rate_per_year, self.age_rates, 52)
        return self


def _default_procedures() -> dict[str, ProcedureType]:
    return {
        "tax": ProcedureType(rate_per_year=1.0, season_weeks=(11, 14), complexity_mean=0.45,
                             deadline_weeks=8, value_dkk=2500.0),
        "benefit": ProcedureType(
            rate_per_year=0.18,
            age_rates={"15-24": 1.6, "25-34": 1.2, "55-64": 1.3, "65-74": 2.0, "75-79": 1.8, "80+": 1.8},
            complexity_mean=0.55, deadline_weeks=8, value_dkk=15000.0, is_benefit=True),
        "moving": ProcedureType(
            rate_per_year=0.12,
            age_rates={"15-24": 2.5, "25-34": 2.0, "35-44": 1.0, "45-54": 0.6, "55-64": 0.5,
                       "65-74": 0.4, "75-79": 0.4, "80+": 0.5},
            complexity_mean=0.35, deadline_weeks=5, value_dkk=1500.0),
        "family": ProcedureType(
            rate_per_year=0.35,
            age_rates={"15-24": 0.4, "25-34": 2.0, "35-44": 2.0, "45-54": 0.8, "55-64": 0.1,
                       "65-74": 0.0, "75-79": 0.0, "80+": 0.0},
            complexity_mean=0.5, deadline_weeks=6, value_dkk=4000.0),
    }


def _default_letters() -> dict[str, LetterKind]:
    """Letter kinds of the Danish baseline; consequence shares and values are assumptions (docs/ODD.md 7.4).

    post: most public letters inform (assessments, statements, decisions); about one in five asks for
    something by a date (documentation, a jobcentre meeting, a payment). A missed one costs a reminder fee
    (140 DKK at the Danish Debt Collection Agency, 250 DKK for municipal claims) or, for a missed jobcentre
    summons, a benefit sanction: 400 DKK is an assumed mean. health: most are appointments; a missed
    hospital appointment delays treatment and wastes the slot (a 250 DKK no-show fee was trialled in
    Region Midtjylland in 2015): 600 DKK is an assumed welfare loss including rebooking.
    """
    return {
        "post": LetterKind(rate_per_year=10.0, deadline_weeks=4, consequence_share=0.2, value_dkk=400.0),
        "health": LetterKind(
            rate_per_year=2.0,
            age_rates={"15-24": 0.5, "25-34": 0.7, "35-44": 0.8, "55-64": 1.3, "65-74": 1.8,
                       "75-79": 2.4, "80+": 3.0},
            deadline_weeks=3, consequence_share=0.6, value_dkk=600.0),
    }


class TasksConfig(Strict):
    """Needs that arrive to citizens (docs/ODD.md section 7.4)."""

    procedures: dict[str, ProcedureType] = Field(
        default_factory=_default_procedures, description="Procedure types (tax, benefit, moving, family)."
    )
    letters: dict[str, LetterKind] = Field(
        default_factory=_default_letters, description="Letter kinds (Digital Post, health)."
    )

    @model_validator(mode="after")
    def _check_names(self) -> TasksConfig:
        if set(self.procedures) != set(PROCEDURE_TYPES):
            raise KeyPathError("procedures", f"must have exactly the types {list(PROCEDURE_TYPES)}")
        if set(self.letters) != set(LETTER_KINDS):
            raise KeyPathError("letters", f"must have exactly the kinds {list(LETTER_KINDS)}")
        return self


# ---------------------------------------------------------------- behaviour


class BehaviourConfig(Strict):
    """How citizens choose channels, succeed, learn and trust (docs/ODD.md sections 7.5-7.9)."""

    self_service_slope: float = _f(
        9.0, "Steepness of self-service success in (effective skill - complexity).", "1/skill", gt=0
    )
    digital_preference_slope: float = _f(
        6.0, "Steepness of preferring self-service over paper in (skill - 0.5 + trust - 0.5).", "", ge=0
    )
    retry_probability: Probability = _p(0.45, "Chance of retrying self-service (times skill) after a failure.")
    relative_uptake: Probability = _p(0.6, "Chance of asking a relative for help when one is available.")
    relative_success: Probability = _p(0.85, "Chance a relative helping alongside completes the task.")
    proxy_success: Probability = _p(0.95, "Chance a relative with proxy access completes the task.")
    centre_preference: Probability = _p(
        0.5, "Chance of choosing the centre over the phone (reduced by travel burden, raised by low skill)."
    )
    giveup_base: Probability = _p(0.03, "Weekly chance of giving up an open task regardless of trust.")
    giveup_alienation: Probability = _p(0.20, "Added weekly give-up chance at zero trust.")
    giveup_per_failure: Probability = _p(0.04, "Added give-up chance per failed attempt on the task.")
    paper_success: Probability = _p(0.93, "Chance a paper submission completes the task in a week.")
    phone_success: Probability = _p(0.7, "Chance a served phone call completes the task.")
    phone_complexity_penalty: Probability = _p(0.4, "Drop in phone success from complexity 0 to 1.")
    casework_success: Probability = _p(0.97, "Casework success with full casework expertise.")
    self_help_success: Probability = _p(
        0.75, "Help-to-self-help success of a citizen ready to be taught (the citizen does it, taught); times the "
        "citizen's readiness (self_help_skill_threshold, self_help_skill_slope, self_help_cognitive_factor)."
    )
    self_help_skill_threshold: Probability = _p(
        0.2, "Skill at which a citizen's readiness to be taught is half (assumption: below the challenged "
        "threshold of 0.35, as most centre visitors are digitally challenged yet many can follow a guided task; "
        "docs/ODD.md section 7.7)."
    )
    self_help_skill_slope: float = _f(
        12.0, "Steepness of readiness to be taught in skill: readiness = logistic(slope x (skill - "
        "self_help_skill_threshold)) (assumption: from 0.1 at skill 0 to 0.9 at skill 0.38).", "1/skill",
        ge=0, le=1_000,
    )
    self_help_cognitive_factor: Probability = _p(
        0.25, "Multiplier on readiness to be taught with a cognitive impairment (assumption: a citizen with "
        "dementia rarely completes a task while taught, or remembers it)."
    )
    letter_centre_ask: Probability = _p(
        0.05, "Weekly chance that a citizen whose letters went unread last week takes them to the citizen service "
        "centre, times 1 - travel burden (assumption: Borgerservice reads and acts on letters at the counter)."
    )
    letter_read_max: Probability = _p(0.97, "Weekly chance a skilled enrolled citizen checks Digital Post.")
    letter_read_slope: float = _f(8.0, "Steepness of checking Digital Post in skill.", "1/skill", gt=0)
    letter_read_threshold: Probability = _p(0.25, "Skill at which the weekly check chance is half its maximum.")
    paper_letter_read: Probability = _p(0.95, "Weekly chance of reading paper mail.")
    letter_read_trust_slope: float = _logit(
        2.0, "Logit shift per unit of trust above 0.5 in checking Digital Post and in asking for help with a "
        "letter.", "logit/trust"
    )
    letter_language_factor: Probability = _p(
        0.6, "Multiplier on the chance of reading a (Danish-language) letter alone with a language barrier."
    )
    letter_help_ask: Probability = _p(
        0.2, "Weekly chance (at trust 0.5) that a citizen with a supporter who could not read a letter alone "
        "asks for help with it (a relative reads it with relative_success; Digital Post also needs an eID)."
    )
    read_access_per_year: float = _f(
        0.005, "Yearly hazard that an enrolled citizen with a supporter gives a relative read access to Digital "
        "Post (from policy.proxy.read_access_from).", "1/year", ge=0, le=52,
    )
    read_access_unable_factor: float = _f(
        60.0, "Multiplier on read_access_per_year for citizens who cannot read Digital Post alone (no "
        "internet, no eID or digitally challenged).", "", ge=1, le=1_000,
    )
    read_access_check: Probability = _p(
        0.8, "Weekly chance that a relative with read access reads the citizen's pending Digital Post."
    )
    dp_leave_per_year: float = _f(
        0.5, "Yearly hazard that an enrolled citizen who cannot read Digital Post alone leaves it for paper "
        "where the rules allow it (no Digital Post mandate); times 1 - the weekly chance of reading alone.",
        "1/year", ge=0, le=52,
    )
    learn_by_doing: Probability = _p(0.02, "Skill gain (share of the gap to 1) per self-service success.")
    learn_by_teaching: Probability = _p(
        0.10, "Skill gain (share of the gap to 1) per help-to-self-help case of a citizen ready to be taught "
        "(times readiness, as self_help_success)."
    )
    learn_from_relative: Probability = _p(0.01, "Skill gain (share of the gap) when helped by a relative.")
    trust_gain_success: Probability = _p(0.02, "Trust gain (share of the gap to 1) per success.")
    trust_gain_human_help: Probability = _p(0.03, "Trust gain per task completed with human help.")
    trust_loss_failure: Probability = _p(0.12, "Trust loss (share of trust) per failed task (exclusion event).")
    trust_loss_attempt: Probability = _p(0.03, "Trust loss per failed self-service attempt.")
    trust_loss_waiting: Probability = _p(0.02, "Trust loss per week waiting unserved for phone or centre.")
    trust_loss_forced: Probability = _p(
        0.02, "Trust loss when a digitally challenged citizen is forced to a mandatory-digital channel."
    )
    trust_recovery_per_year: float = _f(
        0.1, "Yearly share of the gap between a citizen's trust and its long-run level (population.trust_mean) "
        "that closes without events: bad and good experiences fade (assumption: a half-life of about 6.9 years, "
        "slower than the trust lost to one failure is regained by successes; docs/ODD.md section 7.9).",
        "1/year", ge=0, le=52,
    )
    trust_help_avoidance: Probability = _p(
        0.3, "Chance, at zero trust, that a citizen who needs the phone or the centre does not ask this week "
        "(times 1 - trust; the task waits and may be given up; assumption: anxious users avoid helplines, GOV.UK "
        "user research 2014)."
    )
    trust_relative_slope: float = _logit(
        1.0, "Logit shift per unit of trust below 0.5 in asking a relative for help rather than a public "
        "channel (assumption: distrustful users turn to people they know, GOV.UK user research 2014).",
        "logit/trust",
    )
    trust_optout_slope: float = _f(
        1.5, "Log multiplier per unit of trust below 0.5 on the exemption application hazard: distrust of digital "
        "channels raises the wish for paper (assumption: a citizen at trust 0.2 applies 1.6 times, one at 0.8 "
        "0.64 times as often as one at 0.5).", "1/trust", ge=0, le=10,
    )
    alienated_threshold: Probability = _p(0.3, "Trust below which a citizen counts as alienated.")
    optout_need_factor: float = _f(
        4.0, "Multiplier on the opt-out application hazard of a citizen who cannot use Digital Post (no home "
        "internet, no eID or digitally challenged) against one who can (need; assumption, fitted).", "",
        ge=1, le=200,
    )
    optout_failure_factor: float = _f(
        1.5, "Multiplier on the opt-out application hazard for 8 weeks after a missed letter or failed task "
        "(a failure makes the need felt; at most 3 so that need and awareness, not failures, drive applications).",
        "", ge=1, le=3,
    )
    phone_language_penalty: Probability = _p(
        0.4, "Drop in phone success for a caller with a language barrier (assumption: general lines are in "
        "Danish and rarely interpret)."
    )
    enrol_hazard_per_year: float = _f(
        0.5, "Voluntary Digital Post enrolment hazard per year for a fully skilled citizen (before a mandate).",
        "1/year", ge=0,
    )
    internet_uptake_per_year: float = _f(
        0.2, "Yearly chance that a fully skilled citizen without home internet gets it (times skill).",
        "1/year", ge=0,
    )
    eid_uptake_per_year: float = _f(
        0.2, "Yearly chance that a fully skilled citizen with internet but no eID gets one (times skill).",
        "1/year", ge=0,
    )


# ---------------------------------------------------------------- policy


class OptOutPolicy(Strict):
    """Exemption from Digital Post (docs/ODD.md section 7.13)."""

    rule: Literal["in_person", "remote", "automatic"] = _f(
        "in_person", "How exemption is applied for: in person at the centre (or declared by a relative), "
        "also by phone/online, or automatic for the eligible."
    )
    awareness: Probability = _p(0.5, "Share of eligible citizens aware that exemption exists.")
    apply_hazard_per_year: float = _f(
        0.35, "Yearly chance that an aware, eligible citizen who feels the need applies.", "1/year", ge=0
    )
    in_person_mobility_penalty: Probability = _p(
        0.7, "Drop in the in-person application chance at full travel burden (80+, physical impairment)."
    )
    relative_declaration: Probability = _p(
        0.3, "Chance a relative declares on behalf of a citizen who cannot (in_person rule)."
    )
    automatic_identification: Probability = _p(
        0.85, "Share of eligible citizens that registers identify under the automatic rule."
    )
    low_skill_eligible: bool = _f(
        False, "Also count being digitally challenged (without other criteria) as an exemption ground."
    )
    available_from: dt.date | None = _date(
        dt.date(2014, 3, 1), "First day exemption can be applied for under a Digital Post mandate (municipal "
        "citizen services took applications from 1 March 2014); null: from the mandate's start."
    )
    contact_awareness: Probability = _p(
        0.5, "Chance that help from a centre, the phone line or a relative in the last 26 weeks makes an unaware "
        "eligible citizen aware of exemption (assumption)."
    )
    relative_awareness: Probability = _p(
        0.2, "Chance that having a relative or friend to help makes an unaware eligible citizen aware of exemption "
        "(assumption)."
    )
    minutes_in_person: float = _f(
        10.0, "Helper minutes per exemption application at the centre (form, ID check, registration; "
        "assumption).", "minutes", ge=0, le=480,
    )
    minutes_remote: float = _f(
        10.0, "Staff minutes per exemption application by phone or online form (assumption).", "minutes",
        ge=0, le=480,
    )
    campaign_weeks: int = _f(
        0, "Weeks after the mandate starts in which every eligible citizen knows of exemption (the letters "
        "announcing the mandate) and applies at campaign_factor times the hazard.", "weeks", ge=0, le=MAX_WEEKS,
    )
    campaign_factor: float = _f(
        1.0, "Multiplier on the application hazard during the mandate campaign.", "", ge=1
    )
    revert_per_year: float = _f(
        0.5, "Yearly chance an exempt citizen whose criteria no longer hold returns to Digital Post.",
        "1/year", ge=0,
    )


class CentrePolicy(Strict):
    """Citizen service centres and their helpers (docs/ODD.md section 2)."""

    centres: int = _f(
        10, "Number of citizen service centres (each citizen is assigned to one at random).", "centres", ge=1, le=1000
    )
    helpers_per_10k: float = _f(
        2.0, "Helpers (full-time equivalents) per 10,000 citizens aged 15+ (at most 1,000: one in ten).", "FTE",
        ge=0, le=1_000,
    )
    hours_per_week: float = _f(30.0, "Counter hours per helper per week.", "hours", ge=0, le=60)
    self_help_share: Probability = _p(0.5, "Share of cases handled as help to self-help (rest: casework).")
    minutes_casework: float = _f(
        20.0, "Helper minutes per casework case at full casework expertise.", "minutes", gt=0, le=480
    )
    minutes_self_help: float = _f(35.0, "Helper minutes per help-to-self-help case.", "minutes", gt=0, le=480)
    minutes_letter: float = _f(
        15.0, "Helper minutes to read a citizen's letters with them and act on them (casework; assumption).",
        "minutes", gt=0, le=480,
    )
    minutes_letter_self_help: float = _f(
        25.0, "Helper minutes to show a citizen how to open and read their Digital Post (help to self-help; "
        "assumption).", "minutes", gt=0, le=480,
    )
    minutes_eid: float = _f(
        15.0, "Added helper minutes to set up an eID (NemID/MitID) for a visitor without one (identity check and "
        "activation; assumption).", "minutes", ge=0, le=480,
    )
    eid_setup_success: Probability = _p(
        0.9, "Chance that a served visitor without an eID leaves with one (assumption: some lack the documents "
        "or a phone to activate it)."
    )
    systems: int = _f(
        3, "Digital systems a helper records each case in (assumption: the municipal case and journal systems "
        "and the national register or self-service system of the case; docs/ODD.md section 7.7).", "systems",
        ge=0, le=50,
    )
    documentation_minutes_per_system: float = _f(
        2.0, "Documentation minutes per case in each system (assumption: 3 systems x 2 minutes = the 6 minutes "
        "per case the model used before).", "minutes", ge=0, le=120,
    )
    deskilled_extra_time: float = _f(
        0.5, "Extra casework time at zero casework expertise, as a share of minutes_casework (linear in 1 - "
        "expertise; assumption).", "share", ge=0, le=5,
    )
    deskilled_error_rate: Probability = _p(
        0.1, "Chance that a completed casework procedure is done wrongly at zero casework expertise (linear in "
        "1 - expertise); the procedure then fails (assumption)."
    )
    grey_share: Probability = _p(
        0.1, "Share of help-to-self-help cases in which the helper logs in with the citizen's eID and does the "
        "task ('grey practice', invisible in the statistics: counted as self-service; assumption, the practice "
        "is described but not counted)."
    )
    grey_incident_probability: Probability = _p(
        0.02, "Chance of a data-protection incident per grey-practice case (a helper holding the citizen's "
        "credentials or data; assumption)."
    )
    expertise_gain_per_year: Probability = _p(0.5, "Yearly casework expertise gain at full casework.")
    expertise_decay_per_year: Probability = _p(0.35, "Yearly casework expertise loss at full teaching.")
    max_wait_weeks: int = _f(
        3, "Weeks a citizen waits unserved before giving up the centre.", "weeks", ge=1, le=52
    )

    @property
    def documentation_minutes(self) -> float:
        """Documentation minutes per case: systems x documentation_minutes_per_system."""
        return self.systems * self.documentation_minutes_per_system


class PhonePolicy(Strict):
    """Phone support (docs/ODD.md section 2)."""

    agents_per_10k: float = _f(
        1.0, "Phone agents (FTE) per 10,000 citizens (at most 1,000: one in ten).", "FTE", ge=0, le=1_000
    )
    hours_per_week: float = _f(30.0, "Phone hours per agent per week.", "hours", ge=0, le=60)
    minutes_per_call: float = _f(12.0, "Agent minutes per call.", "minutes", gt=0)


class ProxyPolicy(Strict):
    """Relatives acting for a citizen: power of attorney for procedures, read access to Digital Post (7.8)."""

    available: bool = _f(False, "Digital power of attorney for procedures (relatives act in self-service).")
    uptake: Probability = _p(0.4, "Share of citizens with a helper relative who set up a power of attorney.")
    read_access_from: dt.date = _date(
        dt.date(2010, 11, 1),
        "Date from which a citizen can give a relative read access to Digital Post (assumed with Digital Post "
        "itself; in use by the 2014 mandate, Agency for Digitisation 2014).",
    )


class CoursesPolicy(Strict):
    """Skills courses (docs/ODD.md section 7.9)."""

    places_per_10k_per_year: float = _f(
        20.0, "Course places per 10,000 citizens per year (at most 10,000: one per citizen).", "places/year",
        ge=0, le=10_000,
    )
    effect: Probability = _p(0.25, "Skill gain of a participant as a share of the gap to 1.")
    uptake: Probability = _p(0.3, "Chance an offered digitally challenged citizen takes the place.")


class PlatformPolicy(Strict):
    """Self-service platform quality and the IT programme (docs/ODD.md sections 1 and 7.2)."""

    usability: float = _f(1.0, "Multiplier on skill in self-service success (1 = as designed).", "", gt=0, le=2)
    accessibility: Probability = _p(
        0.05, "Skill-equivalent bonus in self-service for citizens with an impairment (accessibility features; "
        "Denmark: public websites under the Web Accessibility Act of 2018, not fully accessible, Rigsrevisionen "
        "report 12/2023; the size is an assumption)."
    )
    language_support: Probability = _p(
        0.0, "Skill-equivalent bonus in self-service for citizens with a language barrier (translated self-service, "
        "language support). Denmark: 0, self-service solutions are in Danish (assumption)."
    )
    senior_design: Probability = _p(
        0.0, "Skill-equivalent bonus in self-service for citizens aged 65+ (senior-friendly design: larger text, "
        "simpler navigation). Denmark: 0, no design for seniors beyond general accessibility (assumption; "
        "seniors completed 53% of web tasks against 78% for those 21-55, Nielsen 2002)."
    )
    launch: dt.date = _date(dt.date(2010, 11, 1), "Planned launch of self-service and Digital Post.")
    delay_probability: Probability = _p(0.0, "Chance the launch is delayed.")
    delay_weeks_mean: float = _f(
        26.0, "Mean launch delay when delayed (exponential; at most 520, ten years).", "weeks", ge=0, le=520
    )
    build_budget_dkk: float = _f(
        0.0, "Build budget of the programme (real-population DKK, spread over build_weeks before launch).",
        "DKK", ge=0, le=MAX_DKK,
    )
    build_weeks: int = _f(104, "Weeks over which the build budget is spent.", "weeks", ge=1, le=MAX_WEEKS)
    overrun_probability: Probability = _p(0.0, "Chance the build overruns its budget.")
    overrun_factor: float = _f(1.0, "Build cost multiplier when it overruns.", "", ge=1)
    running_cost_per_year_dkk: float = _f(
        250_000_000.0, "Running cost of the digital platforms (real population).", "DKK/year", ge=0, le=MAX_DKK
    )
    outage_rate_per_year: float = _f(2.0, "Outages per year.", "1/year", ge=0, le=365)
    outage_days: float = _f(1.0, "Mean length of an outage.", "days", ge=0, le=7)


class BackOfficePolicy(Strict):
    """Back-office case systems: failures that hold casework, and the programme's cost (docs/ODD.md 7.2, 7.2a).

    Defaults describe the calibrated Danish baseline, in which the case
    systems behind the modelled procedures work (no failure, no programme);
    the sizes of a failure when one occurs come from Danish failures (EFI,
    AMANDA, the jobcentres' 2015 system), see docs/ODD.md section 7.2a.
    """

    failure_rate_per_year: float = _f(
        0.0, "Random back-office failures per year (each starts in a week with probability 1 - exp(-rate / 52) "
        "while none lasts; assumption: 0 in the baseline, whose calibration assumed working case systems).",
        "1/year", ge=0, le=52,
    )
    failure_weeks_mean: float = _f(
        16.0, "Mean length of a random failure (exponential, at least one week; the jobcentres' new system left "
        "them 'working blind' for three to four months in 2015, Altinget 2015).", "weeks", ge=1, le=520,
    )
    down: bool = _f(
        False, "A dated failure: set true on the timeline when a back-office system fails, false when it works.",
    )
    slowdown: dict[str, float] = _f(
        {"benefit": 0.5},
        "Share of open procedures of each type the back office cannot decide in a week of failure (held: no "
        "attempt, no service, no give-up that week); missing types: 0. Assumption: half the decisions stall.",
        "share",
    )
    extend_deadlines: bool = _f(
        False, "During a failure the authority extends the deadline of each held case by the week held (as jobcentre "
        "sanctions were waived after the 2015 IT failure, Altinget 2015); false: deadlines stand and held claims "
        "can fail.",
    )
    failure_staff: float = _f(
        300.0, "Extra full-time staff (37 hours a week at costs.staff_cost_per_hour_dkk) on manual casework while the "
        "back office is down (SKAT moved more than 300 staff to manual debt collection during the EFI failure, "
        "Computerworld 2014).", "persons", ge=0, le=100_000,
    )
    programme_cost_per_year_dkk: float = _f(
        0.0, "Spending on a back-office IT programme (build, fixes; real population), booked as IT build; set it "
        "on the timeline for the years it is spent.", "DKK/year", ge=0, le=MAX_DKK,
    )

    @model_validator(mode="after")
    def _check_slowdown(self) -> BackOfficePolicy:
        """Slowdowns are given only for procedure types, each in [0, 1]."""
        _check_named(self.slowdown, "slowdown", "procedure type", PROCEDURE_TYPES, 1.0)
        return self

class AutomationPolicy(Strict):
    """Proactive automation's errors, data incidents and consent (docs/ODD.md section 7.4, dilemma data vs privacy)."""

    error_rate: Probability = _p(
        0.03, "Share of automated decisions that are wrong or missed, so that the citizen must contest them "
        "(assumption: about one in ten appealed Udbetaling Danmark decisions is changed or sent back, "
        "Ankestyrelsen 2021-2023, and most decisions are never appealed)."
    )
    contest_complexity: Probability = _p(
        0.7, "Complexity of contesting a wrong decision; the procedure's own complexity if higher (assumption: a "
        "complaint needs the decision understood and reasons given)."
    )
    contest_deadline_weeks: int = _f(
        4, "Weeks to contest a wrong decision: the 4-week complaint deadline of social decisions "
        "(retssikkerhedsloven section 67; Ankestyrelsen).", "weeks", ge=1, le=52,
    )
    wrong_decision_trust_loss: Probability = _p(
        0.05, "Trust loss (share of trust) of a citizen who receives a wrong decision (assumption: less than a "
        "failed task, behaviour.trust_loss_failure)."
    )
    incident_citizens: float = _f(
        2_000.0, "Citizens (real population) whose data one privacy incident exposes, among those whose records "
        "automation has processed (assumption; incidents range from single letters to the 5.3 million CPR "
        "records sent by mistake by Statens Serum Institut in 2015).", "persons", ge=0, le=1e8,
    )
    incident_trust_loss: Probability = _p(
        0.15, "Trust loss (share of trust) of a citizen whose data an incident exposed (assumption: like a "
        "failed task, behaviour.trust_loss_failure)."
    )
    public_incident_share: Probability = _p(
        0.02, "Share of incidents that become public (news), lowering everyone's trust (assumption)."
    )
    public_trust_loss: Probability = _p(
        0.01, "Trust loss (share of trust) of every living citizen at a public incident (assumption)."
    )
    consent_required: bool = _f(
        False, "Automation needs the citizen's consent to data sharing, asked for each case (Danish baseline: "
        "no; public authorities process register data on a legal basis, GDPR article 6(1)(e), not consent)."
    )
    refusal_share: Probability = _p(
        0.15, "Chance that a citizen at trust 0.5 refuses data sharing when consent is required; the chance is "
        "refusal_share x 2 x (1 - trust), capped at 1: none at full trust (assumption)."
    )


class PolicyConfig(Strict):
    """The policy levers of docs/ODD.md section 2; any may change on the timeline."""

    mandate_start: dt.date | None = _date(
        dt.date(2014, 11, 1), "Date mandatory digital communication starts (null: never)."
    )
    mandatory_share: Probability = _p(
        0.9, "Share of eligible procedures that are mandatory-digital once the mandate starts."
    )
    digital_post_mandatory: bool = _f(
        True, "At the mandate, Digital Post becomes mandatory and non-exempt citizens are enrolled."
    )
    digital_channels: bool = _f(
        True, "Self-service and Digital Post exist at all (false: the all-analogue world)."
    )
    paper_on_request: bool = _f(
        False, "Paper is available to everyone on request (Swedish/Norwegian style)."
    )
    enrolment_campaign: float = _f(
        1.0, "Multiplier on the voluntary enrolment hazard (campaigns).", "", ge=0
    )
    optout: OptOutPolicy = Field(default_factory=OptOutPolicy)
    centre: CentrePolicy = Field(default_factory=CentrePolicy)
    phone: PhonePolicy = Field(default_factory=PhonePolicy)
    proxy: ProxyPolicy = Field(default_factory=ProxyPolicy)
    courses: CoursesPolicy = Field(default_factory=CoursesPolicy)
    platform: PlatformPolicy = Field(default_factory=PlatformPolicy)
    backoffice: BackOfficePolicy = Field(default_factory=BackOfficePolicy)
    automation_share: dict[str, float] = _f(
        {"tax": 0.0, "benefit": 0.0, "moving": 0.0, "family": 0.0},
        "Share of each procedure type resolved proactively from register data.", "share",
    )
    automation: AutomationPolicy = Field(default_factory=AutomationPolicy)
    privacy_incident_rate: float = _f(
        2e-5, "Expected privacy incidents per record processed by automation (assumption); each week's incidents "
        "are a Poisson draw.", "1/record", ge=0, le=1
    )
    unlimited_capacity: bool = _f(
        False, "Phone and centre serve every request, paid by the minute used (an upper bound on help)."
    )

    @model_validator(mode="after")
    def _check_automation(self) -> PolicyConfig:
        """Automation shares are given only for procedure types, each in [0, 1]."""
        _check_named(self.automation_share, "automation_share", "procedure type", PROCEDURE_TYPES, 1.0)
        return self


# ---------------------------------------------------------------- costs


class CostsConfig(Strict):
    """Public unit costs (docs/ODD.md section 7.14), in DKK at 8.75 DKK per GBP."""

    dkk_per_gbp: float = _f(8.75, "Exchange rate used to convert the British unit costs.", "DKK/GBP", gt=0,
                             le=1_000)
    online_per_transaction_gbp: float = _f(
        0.17, "Public cost of a self-service transaction (SOCITM North West).", "GBP", ge=0, le=MAX_DKK
    )
    paper_per_transaction_gbp: float = _f(
        12.10, "Public cost of a procedure handled by post (PwC).", "GBP", ge=0, le=MAX_DKK
    )
    paper_letter_dkk: float = _f(9.0, "Print, postage and handling of one paper letter.", "DKK", ge=0, le=MAX_DKK)
    digital_letter_dkk: float = _f(0.3, "Cost of one Digital Post letter.", "DKK", ge=0, le=MAX_DKK)
    staff_cost_per_hour_dkk: float = _f(
        420.0, "Loaded hourly cost of centre and phone staff.", "DKK/hour", ge=0, le=MAX_DKK
    )
    centre_overhead_per_visit_dkk: float = _f(
        25.0, "Premises and reception cost per centre visit.", "DKK", ge=0, le=MAX_DKK
    )
    course_per_place_dkk: float = _f(1500.0, "Cost of one skills course place.", "DKK", ge=0, le=MAX_DKK)
    automation_per_record_dkk: float = _f(
        2.0, "Cost of resolving one case from register data.", "DKK", ge=0, le=MAX_DKK
    )
    citizen_time_value_per_hour_dkk: float = _f(
        180.0, "Value of the citizen's own time (not a public cost).", "DKK/hour", ge=0, le=MAX_DKK
    )
    discount_rate_per_year: float = _f(
        0.035, "Real socio-economic discount rate of the discounted run totals (cost_discounted_dkk and the like), "
        "flows discounted to the run start: the Danish Ministry of Finance's rate for years 0-35 (Finansministeriet, "
        "Dokumentationsnotat - den samfundsøkonomiske diskonteringsrente, 7 January 2021; 2.5% from year 36, "
        "not modelled).", "1/year", ge=0, le=1,
    )
    citizen_minutes: dict[str, float] = _f(
        {"self_service": 20.0, "paper": 45.0, "phone": 30.0, "centre": 120.0, "relative": 40.0},
        f"Citizen minutes per attempt by channel (travel included for the centre; channels: {', '.join(CHANNELS)}; "
        "missing: 0; each at most 10,080, a week).", "minutes",
    )

    @model_validator(mode="after")
    def _check_minutes(self) -> CostsConfig:
        """Citizen minutes are given only for channels (CHANNELS), each in [0, 10080]."""
        _check_named(self.citizen_minutes, "citizen_minutes", "channel", CHANNELS, 10_080, " minutes")
        return self


# ---------------------------------------------------------------- timeline


FIXED_AT_START: dict[str, str] = {
    "digital_channels": "whether digital channels exist at all defines the world of a scenario (the all-analogue "
                        "twin sets it in the policy block); set policy.digital_channels instead",
    "centre.centres": "citizens are assigned to their centre when they enter; change centre.helpers_per_10k "
                      "to change the staffing instead",
    "platform.delay_probability": "whether the launch is delayed is drawn once at the start of the run; set it "
                                  "in the policy block, or move platform.launch on the timeline",
    "platform.delay_weeks_mean": "the length of a launch delay is drawn once at the start of the run; set it in "
                                 "the policy block, or move platform.launch on the timeline",
    "platform.overrun_probability": "whether the build overruns is drawn once at the start of the run; set it in "
                                    "the policy block, or change platform.overrun_factor on the timeline",
}
"""Policy levers that a timeline change may not set, and why (docs/ODD.md section 7.1).

They are read once when a run starts; every other lever takes effect in the
week its change is dated (``tests/test_timeline_levers.py`` checks both).
"""


class TimelineChange(Strict):
    """A dated change of one or more policy levers (docs/ODD.md section 7.1)."""

    date: dt.date = _date(..., "Date from which the change applies.")
    set: dict[str, Any] = _f(..., "Policy key paths (relative to `policy`) and their new values.")
    note: str = _f("", "What the change represents.")


class Config(Strict):
    """A complete scenario: run, population, tasks, behaviour, policy, costs and timeline."""

    name: str = _f(
        "scenario",
        f"Short name used in outputs; it names the output directory results/<name>. 1 to {NAME_MAX} characters: "
        "letters A-Z and a-z, digits, spaces and . _ - ( ), starting with a letter or digit, not ending in a space.",
    )
    description: str = _f("", "What question the scenario answers.")
    run: RunConfig = Field(default_factory=RunConfig)
    population: PopulationConfig = Field(default_factory=PopulationConfig)
    tasks: TasksConfig = Field(default_factory=TasksConfig)
    behaviour: BehaviourConfig = Field(default_factory=BehaviourConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    costs: CostsConfig = Field(default_factory=CostsConfig)
    timeline: list[TimelineChange] = _f([], f"Dated policy changes (at most {MAX_WEEKS:,}).", max_length=MAX_WEEKS)

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        """A safe file name: see the field's description (NAME_MAX, NAME_CHARACTERS)."""
        if not name:
            raise ValueError("must not be empty: it names the output directory results/<name>")
        if len(name) > NAME_MAX:
            raise ValueError(f"is {len(name):,} characters long; at most {NAME_MAX} are allowed")
        bad = next((ch for ch in name if ch not in NAME_CHARACTERS), None)
        if bad is not None:
            raise ValueError(f"may hold only letters A-Z and a-z, digits, spaces and . _ - ( ), not {bad!r}")
        if not name[0].isalnum():
            raise ValueError("must start with a letter or a digit")
        if name.endswith(" "):
            raise ValueError("must not end in a space")
        return name

    @model_validator(mode="after")
    def _check_size(self) -> Config:
        """The run fits in memory and time: MAX_CITIZEN_WEEKS and MAX_ROWS."""
        citizen_weeks = self.population.size * self.run.weeks
        if citizen_weeks > MAX_CITIZEN_WEEKS:
            raise KeyPathError(("population", "size"),
                               f"population.size x run.weeks = {citizen_weeks:,} citizen-weeks is above the limit "
                               f"of {MAX_CITIZEN_WEEKS:,}; use fewer citizens or weeks")
        if self.rows > MAX_ROWS:
            raise KeyPathError(("population", "entrants_per_year"),
                               f"the run needs {self.rows:,} citizen rows (population.size x (1 + 1.2 x "
                               f"(entrants_per_year + immigration_per_year) x run.weeks / 52)), above the limit of "
                               f"{MAX_ROWS:,}; "
                               "use fewer citizens, weeks, entrants or immigrants")
        return self

    @property
    def rows(self) -> int:
        """Citizen rows to allocate: the starting population and the expected entrants and immigrants with 20% room."""
        pc = self.population
        arrivals = (max([pc.entrants_per_year, *pc.entrants_by_year.values()])
                    + max([pc.immigration_per_year, *pc.immigration_by_year.values()]))
        return int(pc.size * (1 + arrivals * self.run.weeks / 52 * 1.2) + 64)

    @model_validator(mode="after")
    def _check_timeline(self) -> Config:
        """Every change falls inside the run and sets existing policy keys to valid values.

        A change's keys are set in turn and the policy is validated once per
        change (as ``DigexModel.apply_timeline`` does), so that a long timeline
        validates in time linear in its length.
        """
        for i, change in enumerate(self.timeline):
            if not (self.run.start <= change.date <= self.run.end):
                raise KeyPathError(("timeline", i, "date"),
                                   f"{change.date} is outside the run ({self.run.start} to {self.run.end})")
            try:
                changed = with_values(self.policy, change.set)
            except KeyPathError as exc:
                key = next((k for k in change.set if split(k) == exc.path[: len(split(k))]), None)
                if key is None:
                    raise KeyPathError(("timeline", i, "set"), str(exc)) from None
                detail = f"unknown policy key '{key}'" if exc.unknown else exc.detail
                raise KeyPathError(("timeline", i, "set", key), detail, exc.unknown) from None
            for fixed, why in FIXED_AT_START.items():
                if get(changed, fixed) != get(self.policy, fixed):
                    key = next((k for k in change.set if split(fixed)[: len(split(k))] == split(k)), fixed)
                    raise KeyPathError(("timeline", i, "set", key), f"{fixed} cannot change on the timeline: {why}")
        return self


def derived_name(name: str, suffix: str) -> str:
    """The name of a scenario derived from one named ``name``: ``name`` + ``suffix``, cut to fit NAME_MAX."""
    return name[: NAME_MAX - len(suffix)] + suffix


ANALOGUE_LEVERS: dict[str, Any] = {
    "digital_channels": False,
    "mandate_start": None,
    "digital_post_mandatory": False,
    "automation_share": dict.fromkeys(PROCEDURE_TYPES, 0.0),
    "platform.build_budget_dkk": 0.0,
    "platform.running_cost_per_year_dkk": 0.0,
    "courses.places_per_10k_per_year": 0.0,
}
"""The digital levers (policy key paths) and their values in the all-analogue reference (docs/ODD.md section 7.14).

The reference sets these in the policy block and ignores timeline changes of
them (and of any key below them); every other policy key, and every other
timeline change, is kept as the scenario has it.
"""


def _analogue_change(values: dict[str, Any]) -> dict[str, Any]:
    """A timeline change's ``set`` for the analogue reference: digital levers dropped, other keys kept.

    A key above a lever (a whole block such as ``platform``) is kept and the
    lever's analogue value is set after it.
    """
    levers = {split(k): (k, v) for k, v in ANALOGUE_LEVERS.items()}
    kept: dict[str, Any] = {}
    for key, value in values.items():
        parts = split(key)
        if any(parts[: len(lever)] == lever for lever in levers):
            continue
        kept[key] = value
        for lever, (name, analogue) in levers.items():
            if lever[: len(parts)] == parts:
                kept[name] = analogue
    return kept


def analogue_reference(config: Config) -> Config:
    """The all-analogue counterpart of a scenario (docs/ODD.md section 7.14).

    Same population, tasks, behaviour, phone/centre staffing (staff are paid
    in both worlds) and timeline; only the digital levers (ANALOGUE_LEVERS)
    differ: no digital channels, no mandate, no automation, no platform or
    course costs, whether set in the policy block or on the timeline.
    """
    ref = config.model_copy(deep=True)
    ref.name = derived_name(config.name, " (all-analogue)")
    ref.policy = with_values(config.policy, ANALOGUE_LEVERS)
    ref.timeline = []
    for change in config.timeline:
        kept = _analogue_change(change.set)
        if kept:
            ref.timeline.append(change.model_copy(update={"set": kept}))
    ref.population.initial_enrolled_share = 0.0
    return Config.model_validate(ref.model_dump())
