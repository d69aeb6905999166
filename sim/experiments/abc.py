"""A posterior of the calibrated parameters by ABC-SMC (docs/calibration.md, docs/ODD.md section 6).

Approximate Bayesian computation with sequential Monte Carlo (Toni et al.
2009; Beaumont et al. 2009) by ``pyabc`` (Schälte et al. 2022): particles
(parameter vectors) are drawn from the prior, each is simulated once with its
own seed, and a particle is kept when the distance between its simulated
target statistics and the published figures is below a threshold epsilon
that falls from one generation to the next (the median distance of the
previous generation). The last generation's weighted particles approximate
the posterior at its epsilon.

- The prior of every fitted parameter is uniform between the bounds of the
  calibration file (on the log scale where it says ``log: true``); particles
  live in [0, 1]^d and are mapped with ``Varied.from_unit``.
- The distance is the square root of the calibration loss
  (``calibration.loss``): the weighted sum of squared gaps between the
  statistic and the figure, in tolerances, one-sided targets counting only on
  their wrong side. A replication's own noise is part of the simulation, as
  ABC asks; there is no ridge (the prior does its work).
- Targets can be held out (``fitted_targets``): by name or by date, so that
  the posterior predicts figures it has not seen (docs/validation.md).
- The posterior file is ``draws`` equally weighted draws, resampled
  systematically from the last generation, one row per draw: replication r
  of ``--posterior K`` uses draw r.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import math
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.experiments.calibration import AbcSettings, Spec, Target, loss, simulate
from sim.model import keypath
from sim.model.params import Config

if TYPE_CHECKING:
    from sim.experiments.executor import Executor

QUANTILES = (0.025, 0.5, 0.975)
"""Posterior and predictive summaries: the median and the central 95% interval."""


@dataclass
class Posterior:
    """The last generation (unit-space particles and weights), the draws, and the run's generations."""

    names: list[str]
    particles: pd.DataFrame
    weights: np.ndarray
    draws: pd.DataFrame
    generations: pd.DataFrame
    fitted: list[str]

    def summary(self) -> pd.DataFrame:
        """Per parameter: weighted median and 95% interval, and its prior range."""
        rows = []
        for name in self.names:
            q = weighted_quantiles(self.particles[name].to_numpy(), self.weights, QUANTILES)
            rows.append({"parameter": name, "median": q[1], "q025": q[0], "q975": q[2]})
        return pd.DataFrame(rows)

    def median(self) -> dict[str, float]:
        """The weighted posterior median of each parameter (4 significant digits), what calibrated.yaml holds."""
        return {r.parameter: float(f"{r.median:.4g}") for r in self.summary().itertuples()}


def fitted_targets(spec: Spec, hold_out: Sequence[str] = (), until: dt.date | None = None) -> list[Target]:
    """The targets the posterior is fitted to: all but those named in ``hold_out`` or observed after ``until``.

    A target with several dates is held out if any of them is after ``until``.
    """
    unknown = [n for n in hold_out if n not in spec.targets]
    if unknown:
        from sim.errors import UserError
        from sim.scenario.loader import suggest

        raise UserError(f"--hold-out: '{unknown[0]}' is not a target of {spec.file}"
                        + suggest(unknown[0], list(spec.targets)))
    kept = [t for name, t in spec.targets.items()
            if name not in hold_out and (until is None or max(d for _, d in t.requests()) <= until)]
    if not kept:
        from sim.errors import UserError

        raise UserError(f"no target of {spec.file} is left to fit after --hold-out/--fit-until")
    return kept


def particle_seed(base_seed: int, values: dict[str, float]) -> int:
    """The simulation seed of a particle: a hash of its values, so one particle always gives the same run."""
    text = repr(sorted((k, float(v)) for k, v in values.items()))
    return base_seed + int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


class _Model:
    """What pyabc simulates: a unit-space particle -> the fitted targets' statistics from one replication."""

    def __init__(self, spec: Spec, config: Config, targets: Sequence[Target]) -> None:
        self.params = [spec.parameters[k] for k in spec.parameters]
        self.names = [f"p{i:02d}" for i in range(len(self.params))]
        self.data = config.model_dump(mode="json")
        self.targets = list(targets)
        self.requests = tuple(sorted({r for t in targets for r in t.requests()}, key=lambda x: (x[1], str(x[0]))))
        self.seed = spec.seed

    def values(self, particle: dict[str, float]) -> dict[str, float]:
        """The parameter values (key path -> value, 4 significant digits) of a unit-space particle."""
        return {p.key: float(f"{p.from_unit(particle[n]):.4g}") for p, n in zip(self.params, self.names, strict=True)}

    def __call__(self, particle: dict[str, float]) -> dict[str, float]:
        values = self.values(particle)
        config = keypath.with_values(Config.model_validate(self.data), values)
        obs, _ = simulate(config, particle_seed(self.seed, values), self.requests)
        return {t.name: float(t.statistic(obs)) for t in self.targets}

    def distance(self, x: dict[str, float], _x0: dict[str, float]) -> float:
        """Square root of the calibration loss of one replication's statistics."""
        value = loss(self.targets, {t.name: np.array([x[t.name]]) for t in self.targets})
        return math.sqrt(value) if math.isfinite(value) else math.inf


def sampler(executor: Executor | None, jobs: int):
    """The pyabc sampler for ``--jobs`` / ``--executor``: one core, a local process pool, or the Dask client."""
    from pyabc.sampler import DaskDistributedSampler, MulticoreEvalParallelSampler, SingleCoreSampler

    if executor is not None and executor.kind == "dask":
        return DaskDistributedSampler(dask_client=executor.client, batch_size=1)
    if jobs > 1:
        return MulticoreEvalParallelSampler(n_procs=jobs)
    return SingleCoreSampler()


@contextlib.contextmanager
def generation_log(on_generation: Callable[[str], None] | None) -> Iterator[None]:
    """Pass pyabc's per-generation log lines ('t: 2, eps: ...', 'Accepted: ...') to ``on_generation``."""
    log = logging.getLogger("ABC")
    if on_generation is None:
        previous = log.level
        log.setLevel(logging.WARNING)
        try:
            yield
        finally:
            log.setLevel(previous)
        return

    class Relay(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            on_generation(record.getMessage())

    handlers, log.handlers = log.handlers, [Relay(logging.INFO)]
    level, propagate = log.level, log.propagate
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield
    finally:
        log.handlers, log.propagate = handlers, propagate
        log.setLevel(level)


def fit_posterior(spec: Spec, base: Config, settings: AbcSettings, targets: Sequence[Target],
                  executor: Executor | None = None, jobs: int = 1,
                  on_generation: Callable[[str], None] | None = None) -> Posterior:
    """Run ABC-SMC over the calibration file's parameters against ``targets``; return the last generation.

    Stops at ``generations`` generations, ``simulations`` simulations or an
    epsilon at or below ``min_epsilon``, whichever comes first. pyabc's own
    random draws are seeded with the file's seed; with one job the run is
    reproducible to the bit, with several the order in which particles are
    accepted varies, so draws agree in distribution only.
    """
    import pyabc

    config = keypath.with_values(base, {"population.size": settings.population or spec.population})
    model = _Model(spec, config, targets)
    prior = pyabc.Distribution(**{n: pyabc.RV("uniform", 0.0, 1.0) for n in model.names})
    np.random.seed(spec.seed % 2**32)
    abc = pyabc.ABCSMC(model, prior, model.distance, population_size=settings.particles,
                       sampler=sampler(executor, jobs),
                       eps=pyabc.QuantileEpsilon(initial_epsilon=math.inf, alpha=0.5))
    with tempfile.TemporaryDirectory(prefix="digex-abc-") as tmp, generation_log(on_generation), \
            warnings.catch_warnings():
        # pyabc compares the first finite epsilon with the infinite one before it (inf - x is nan): harmless
        warnings.filterwarnings("ignore", "invalid value encountered in scalar subtract", RuntimeWarning)
        history = abc.new(f"sqlite:///{Path(tmp) / 'abc.db'}", {t.name: t.value for t in targets})
        history = abc.run(minimum_epsilon=settings.min_epsilon, max_nr_populations=settings.generations,
                          max_total_nr_simulations=settings.simulations)
        generations = generation_table(history)
        unit, weights = history.get_distribution(m=0, t=history.max_t)
    unit = unit[model.names].reset_index(drop=True)
    weights = np.asarray(weights, dtype=float)
    particles = pd.DataFrame([model.values(row) for row in unit.to_dict("records")])
    draws = resample(particles, weights, settings.draws, spec.seed)
    return Posterior(list(spec.parameters), particles, weights / weights.sum(), draws, generations,
                     [t.name for t in targets])


def generation_table(history: Any) -> pd.DataFrame:
    """One row per generation: epsilon, simulations, acceptance rate and effective sample size (Kish)."""
    from pyabc.weighted_statistics import effective_sample_size

    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0]
    rows = []
    for r in pops.itertuples():
        _, w = history.get_distribution(m=0, t=int(r.t))
        rows.append({"generation": int(r.t), "epsilon": float(r.epsilon), "simulations": int(r.samples),
                     "particles": int(r.particles), "acceptance_rate": r.particles / r.samples,
                     "ess": float(effective_sample_size(np.asarray(w, dtype=float)))})
    return pd.DataFrame(rows)


def resample(particles: pd.DataFrame, weights: np.ndarray, n: int, seed: int) -> pd.DataFrame:
    """``n`` equally weighted draws by systematic resampling (Kitagawa 1996), in a seeded random order."""
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(weights / weights.sum())
    positions = (rng.random() + np.arange(n)) / n
    index = np.minimum(np.searchsorted(cumulative, positions), len(particles) - 1)
    draws = particles.iloc[rng.permutation(index)].reset_index(drop=True)
    draws.insert(0, "draw", np.arange(n))
    return draws


def weighted_quantiles(x: np.ndarray, w: np.ndarray, qs: Sequence[float]) -> list[float]:
    """Quantiles of ``x`` under weights ``w`` (the smallest value whose cumulative weight reaches q)."""
    order = np.argsort(x)
    cumulative = np.cumsum(w[order]) / np.sum(w)
    return [float(x[order][min(np.searchsorted(cumulative, q), len(x) - 1)]) for q in qs]


def posterior_csv(draws: pd.DataFrame, provenance: Sequence[str]) -> str:
    """The posterior file: '#' lines of provenance, then ``draw`` and one column per key path."""
    return "".join(f"# {line}\n" for line in provenance) + draws.to_csv(index=False, float_format="%.4g")


def read_posterior(path: str | Path, spec: Spec) -> pd.DataFrame:
    """The draws of a posterior file (``sim.scenario.posterior.load_posterior``) as ``draw`` and the spec's
    parameters; a ConfigError if one of them is missing."""
    from sim.errors import ConfigError
    from sim.scenario.posterior import load_posterior

    draws = load_posterior(path).draws
    missing = [k for k in spec.parameters if k not in draws.columns]
    if missing:
        raise ConfigError(f"posterior file has no column '{missing[0]}'", file=str(path), key=missing[0])
    return draws[list(spec.parameters)].reset_index()


# ------------------------------------------------------------------ posterior predictive


def predictive_configs(spec: Spec, base: Config, draws: pd.DataFrame, n: int) -> tuple[list[Config], list[int]]:
    """The first ``n`` draws as scenarios at the report size, with the report seeds: draw r runs with seed r."""
    from sim.experiments.calibration import report_config

    _, seeds = report_config(spec, base, {})
    size = {"population.size": spec.abc.predictive_population} if spec.abc.predictive_population else {}
    rows = draws[list(spec.parameters)].head(n).to_dict("records")
    configs = [keypath.with_values(report_config(spec, base, {k: float(v) for k, v in row.items()})[0], size)
               for row in rows]
    return configs, [seeds[0] + r for r in range(len(configs))]


def predictive_table(targets: Sequence[Target], values: dict[str, np.ndarray], fitted: Sequence[str]) -> pd.DataFrame:
    """One row per target: the posterior predictive median and 95% interval against the published figure.

    ``inside``: the figure lies in the 95% predictive interval (for a
    one-sided figure: the interval reaches the permitted side of it);
    ``consistent``: the interval meets the figure's tolerance band (the
    figure +/- tolerance, which stands for survey error and the mapping of
    a survey question onto model state), the check that allows for the
    figure's own uncertainty; ``within``: the predictive median is within
    tolerance, as in the fit table. ``fitted`` says whether the posterior saw
    the figure.
    """
    rows = []
    for t in targets:
        v = values[t.name][~np.isnan(values[t.name])]
        lo, med, hi = (float(np.quantile(v, q)) for q in QUANTILES) if len(v) else (math.nan,) * 3
        inside = {"equal": lo <= t.value <= hi, "at_least": hi >= t.value, "at_most": lo <= t.value}[t.kind]
        tol = t.tolerance
        consistent = {"equal": lo - tol <= t.value <= hi + tol, "at_least": hi >= t.value - tol,
                      "at_most": lo <= t.value + tol}[t.kind]
        rows.append({"target": t.name, "date": t.when(), "kind": t.kind, "value": t.value, "tolerance": t.tolerance,
                     "fitted": t.name in fitted, "median": med, "pi_low": lo, "pi_high": hi,
                     "inside": bool(inside), "consistent": bool(consistent), "within": t.within(med),
                     "required": t.required, "n_draws": len(v)})
    return pd.DataFrame(rows)


def coverage(table: pd.DataFrame, column: str = "inside") -> dict[str, float]:
    """Share of figures inside their 95% predictive interval (or, with ``column="consistent"``, whose tolerance
    band meets it), for held-out and fitted targets separately (NaN where there are none)."""
    out = {}
    for label, part in (("held_out", table[~table["fitted"]]), ("fitted", table[table["fitted"]])):
        out[label] = float(part[column].mean()) if len(part) else math.nan
    return out
