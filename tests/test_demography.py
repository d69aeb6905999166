"""Demography (docs/ODD.md section 7.3): life expectancy of the Gompertz defaults, growth of the
population aged 15+ with immigration and emigration, emigrants leaving like the dead, and
immigrants' language barriers, the emigration age of all bands at once as the band-by-band loop. Behaviour
tests use the calibrated baseline, shrunk."""

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import quad

from sim.model.agents import Citizen
from sim.model.codes import NOT_ENROLLED, RESOLVED
from sim.model.keypath import KeyPathError, with_values
from sim.model.mechanisms import demography
from sim.model.model import DigexModel
from sim.model.params import AGE_BAND_EDGES, Config, PopulationConfig
from sim.scenario.loader import load_scenario

BASELINE = Path(__file__).resolve().parent.parent / "scenarios" / "denmark_baseline.yaml"


def baseline(population: dict | None = None, run: dict | None = None) -> Config:
    """The calibrated Danish baseline with the given population and run values."""
    return with_values(load_scenario(BASELINE), {"population": {"materialise_agents_up_to": 0, **(population or {})},
                                                 "run": {"analogue_reference": False, **(run or {})}})


def life_expectancy(c: PopulationConfig, age: float) -> float:
    """Remaining life expectancy at ``age``: the integral of the Gompertz survival function."""
    a, b = c.annual_mortality_a, c.annual_mortality_b
    return quad(lambda t: np.exp(-np.exp(a + b * age) * (np.exp(b * t) - 1) / b), 0, 150)[0]


def demography_only(config: Config, until: dt.date, seed: int = 1) -> DigexModel:
    """A model whose weeks run only the demography step up to ``until`` (the population, nothing else)."""
    m = DigexModel(config, seed=seed)
    while m.date < until:
        m.demography_week()
        m.week += 1
    return m


def test_gompertz_defaults_give_the_documented_life_expectancy():
    c = PopulationConfig()
    assert life_expectancy(c, 0) == pytest.approx(81.5, abs=0.3)  # Statistics Denmark, 2021
    assert 19.0 <= life_expectancy(c, 65) <= 21.0  # about 20 years in Denmark around 2020


def test_population_15_plus_grows_by_about_the_published_amount_2012_2023():
    """4.59 million aged 15+ in 2012, about 4.96 million in 2023: +8.1%. At 20,000 citizens the
    sampling error of the growth is about 0.6 percentage points; the tolerance is 2."""
    m = demography_only(baseline({"size": 20_000}), dt.date(2023, 1, 1))
    growth = m.n_alive / 20_000 - 1
    assert growth == pytest.approx(4.96 / 4.59 - 1, abs=0.02)
    assert m.immigrants_total > 0 and m.emigrants_total > 0
    p = m.pop
    alive = p.alive[: p.n]
    assert int(alive.sum()) == m.n_alive


def test_without_migration_the_population_15_plus_falls_short():
    cfg = baseline({"size": 20_000, "immigration_per_year": 0.0, "immigrant_return_share": 0.0,
                    "emigration_rates": dict.fromkeys(PopulationConfig().emigration_rates, 0.0)})
    m = demography_only(cfg, dt.date(2023, 1, 1))
    assert m.immigrants_total == 0 and m.emigrants_total == 0
    assert m.n_alive / 20_000 - 1 < 4.96 / 4.59 - 1 - 0.03


def test_immigrants_are_mostly_young_adults_and_carry_more_language_barriers_that_fade():
    m = demography_only(baseline({"size": 20_000}), dt.date(2020, 1, 1))
    p, n = m.pop, m.pop.n
    alive, imm = p.alive[:n], p.immigrant[:n]
    lang = p.language_barrier[:n]
    assert not imm[:20_000].any() and imm.sum() == m.immigrants_total
    assert lang[alive & imm].mean() > 3 * lang[alive & ~imm].mean()
    age_at_entry = p.age[:n] - (m.week - p.entry_week[:n]) / 52
    assert np.mean((age_at_entry[imm] >= 20) & (age_at_entry[imm] < 40)) > 0.6
    years_here = (m.week - p.entry_week[:n]) / 52
    recent, settled = alive & imm & (years_here < 1), alive & imm & (years_here >= 5)
    assert lang[recent].mean() > lang[settled].mean() + 0.15  # fading: exp(-0.2 x 5) = 0.37 of the start


def test_emigrants_leave_like_the_dead_and_the_accounting_holds():
    """Heavy emigration around the mandate: open tasks and letters of emigrants are withdrawn, their
    agents removed, immigrants enrolled under the mandate; check_invariants runs every week."""
    cfg = baseline({"size": 1500, "materialise_agents_up_to": 10_000, "immigration_per_year": 0.2,
                    "emigration_rates": dict.fromkeys(PopulationConfig().emigration_rates, 0.5)},
                   {"start": dt.date(2014, 9, 1), "weeks": 16})
    m = DigexModel(cfg, seed=2, check_invariants=True).run()
    p, n = m.pop, m.pop.n
    assert m.emigrants_total > 100 and m.immigrants_total > 50
    assert m.metrics.counts["withdrawn"] > 0
    gone = np.flatnonzero(~p.alive[:n])
    emigrated = gone[p.leave_week[gone] < p.death_week[gone]]
    assert len(emigrated) == m.emigrants_total
    open_owners = m.tasks.owner[m.tasks.route != RESOLVED]
    assert not np.isin(open_owners, gone).any()
    assert m.mail.pending(n)[gone].sum() == 0
    agent_rows = {a.row for a in m.agents_by_type[Citizen]}
    assert agent_rows.isdisjoint(set(emigrated.tolist()))
    arrived = np.flatnonzero(p.immigrant[:n] & p.alive[:n])
    assert m.mandate_active and not np.any(p.dp_status[arrived] == NOT_ENROLLED)


def test_emigration_rates_need_the_age_bands_and_rates_within_a_year():
    with pytest.raises(KeyPathError, match=r"needs exactly the bands .*unknown \['90\+'\]"):
        with_values(Config(), {"population": {"emigration_rates": {"90+": 0.01}}})
    with pytest.raises(KeyPathError, match="between 0 and 1 a year"):
        with_values(Config(), {"population": {"emigration_rates": {"80+": 2.0}}})


def leave_age_band_by_band(age: np.ndarray, e: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """The emigration age as a loop over the age bands: the definition ``settled_leave_age`` vectorises."""
    leave_age = np.full(len(age), np.inf)
    lo = np.asarray(AGE_BAND_EDGES, dtype=float)
    hi = np.append(lo[1:], np.inf)
    for band, rate in enumerate(rates):
        start = np.maximum(age, lo[band])
        span = np.maximum(0.0, hi[band] - start)
        pending = np.isinf(leave_age) & (span > 0)
        if rate > 0:
            ends = pending & (e < rate * span)
            leave_age[ends] = start[ends] + e[ends] / rate
            e = np.where(pending & ~ends, e - rate * span, e)
    return leave_age


@pytest.mark.parametrize("block", [65536, 3])
def test_settled_leave_age_is_the_band_by_band_loop_bit_for_bit(monkeypatch, block):
    monkeypatch.setattr(demography, "_BLOCK", block)
    rng = np.random.default_rng(7)
    edges = np.asarray(AGE_BAND_EDGES, dtype=float)
    for trial in range(500):
        k = int(rng.integers(0, 30))
        age = rng.uniform(15, 110, k).astype(np.float32).astype(np.float64)
        on_edge = rng.random(k) < 0.2
        age[on_edge] = rng.choice(edges, on_edge.sum())
        e = rng.exponential(size=k) * rng.choice([0.01, 1.0, 10.0])
        e[rng.random(k) < 0.05] = 0.0
        rates = rng.choice([0.0, 0.0005, 0.012, 0.3, 1.0], size=len(edges))
        expected = leave_age_band_by_band(age, e, rates)
        assert np.array_equal(demography.settled_leave_age(age, e, rates), expected), trial
