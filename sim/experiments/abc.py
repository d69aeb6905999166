"""A posterior of the calibrated parameters by ABC rejection (docs/calibration.md, docs/ODD.md section 6.1).

Approximate Bayesian computation by rejection (Pritchard et al. 1999;
Beaumont, Zhang and Balding 2002) with quantile acceptance: ``simulations``
parameter vectors are drawn from the prior and each is simulated once with
its own seed (the *prior bank*); the ``particles`` whose simulated target
statistics lie closest to the published figures are the posterior sample.
Accepted vectors come from the prior itself, so they weigh the same: the
effective sample size is the number accepted.

- The prior of every fitted parameter is uniform between the bounds of the
  calibration file (on the log scale where it says ``log: true``): unit-cube
  draws mapped with ``Varied.from_unit``.
- The distance is the square root of the calibration loss
  (``calibration.loss``): the weighted sum of squared gaps between the
  statistic and the figure, in tolerances, one-sided targets counting only on
  their wrong side. A replication's own noise is part of the simulation, as
  ABC asks; there is no ridge (the prior does its work).
- The bank records every target's statistic, so targets can be held out
  (``fitted_targets``: by name or by date) by choosing the accepted vectors
  on the others, from the same bank, without new simulations
  (docs/validation.md).
- ABC-SMC (pyabc) was tried first and rejected: with 19 parameters its
  importance weights collapsed (docs/calibration.md, "Why rejection").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.experiments.calibration import AbcSettings, Spec, Target, loss, run_target_pairs
from sim.model import keypath
from sim.model.params import Config

if TYPE_CHECKING:
    from sim.experiments.executor import Executor

QUANTILES = (0.025, 0.5, 0.975)
"""Posterior and predictive summaries: the median and the central 95% interval."""


@dataclass
class Posterior:
    """The accepted parameter sets (equally weighted prior draws), the draws, and the acceptance step (one row:
    the acceptance distance ``epsilon``, simulations, accepted, acceptance rate, effective sample size)."""

    names: list[str]
    particles: pd.DataFrame
    draws: pd.DataFrame
    acceptance: pd.DataFrame
    fitted: list[str]

    def summary(self) -> pd.DataFrame:
        """Per parameter: median and 95% interval over the accepted draws (each the smallest accepted value whose
        share of draws at or below it reaches the quantile)."""
        rows = []
        for name in self.names:
            q = np.quantile(self.particles[name].to_numpy(), QUANTILES, method="inverted_cdf")
            rows.append({"parameter": name, "median": float(q[1]), "q025": float(q[0]), "q975": float(q[2])})
        return pd.DataFrame(rows)

    def median(self) -> dict[str, float]:
        """The posterior median of each parameter (4 significant digits), what the command writes to calibrated.yaml."""
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


STAT = "stat:"
"""Prefix of a prior bank's columns that hold a target's simulated statistic (the others are parameters)."""


def prior_draws(spec: Spec, n: int) -> pd.DataFrame:
    """The first ``n`` prior draws (4 significant digits), one column per parameter: unit-cube rows from a
    generator seeded with the file's seed, so the first rows are the same whatever ``n``."""
    params = list(spec.parameters.values())
    unit = np.random.default_rng(spec.seed).random((n, len(params)))
    return pd.DataFrame([{p.key: float(f"{p.from_unit(u):.4g}") for p, u in zip(params, row, strict=True)}
                         for row in unit], columns=list(spec.parameters))


def prior_bank(spec: Spec, base: Config, settings: AbcSettings, executor: Executor | None = None,
               on_run: Callable[[], None] | None = None, done: pd.DataFrame | None = None) -> pd.DataFrame:
    """``simulations`` prior draws, each run once at the fitting size: one row per draw, the parameter values
    and ``stat:<target>`` for every target of the file.

    Each run's seed is ``particle_seed`` of its values; runs go to
    ``executor`` and are collected in order, so the bank is the same with any
    --jobs or executor. ``done``, an earlier bank of the same file (checked
    by ``check_bank``), is kept and only the draws after its rows are
    simulated: a bank grown in steps equals one simulated at once.
    """
    draws = prior_draws(spec, settings.simulations)
    start = 0 if done is None else len(done)
    config = keypath.with_values(base, {"population.size": settings.population or spec.population})
    runs = [(keypath.with_values(config, values), particle_seed(spec.seed, values))
            for values in draws.iloc[start:].to_dict("records")]
    stats, _, _ = run_target_pairs(runs, list(spec.targets.values()), on_run=on_run, executor=executor)
    bank = draws.iloc[start:].reset_index(drop=True)
    for name, values in stats.items():
        bank[STAT + name] = values
    return bank if done is None else pd.concat([done[bank.columns], bank], ignore_index=True)


def check_bank(bank: pd.DataFrame, spec: Spec, path: str | Path) -> None:
    """Refuse a bank whose draws are not the first draws of this file's prior (another seed, other bounds or
    parameters): its accepted runs would not be a posterior of this prior, and it could not be grown."""
    from sim.errors import ConfigError

    draws = prior_draws(spec, len(bank))
    for key in draws.columns:
        if not np.array_equal(bank[key].to_numpy(dtype=float), draws[key].to_numpy(dtype=float)):
            raise ConfigError(f"the prior bank's draws are not those of {Path(spec.file).as_posix()} (its seed, "
                              "bounds or parameters differ)", file=str(path), key=key)


def read_bank(path: str | Path, spec: Spec) -> pd.DataFrame:
    """A prior bank written by ``prior_bank`` (CSV): every parameter and every target's statistic as a numeric
    column; a ConfigError naming the file and the first column missing or not numeric."""
    from sim.errors import ConfigError

    try:
        bank = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the prior bank ({str(exc).splitlines()[0] if str(exc) else exc})",
                          file=str(path)) from None
    for column in [*spec.parameters, *(STAT + t for t in spec.targets)]:
        if column not in bank.columns:
            raise ConfigError("the prior bank has no such column (it must come from the same calibration file)",
                              file=str(path), key=column)
        if not pd.api.types.is_numeric_dtype(bank[column]):
            raise ConfigError("the prior bank's column is not numeric", file=str(path), key=column)
    return bank


def distances(bank: pd.DataFrame, targets: Sequence[Target]) -> np.ndarray:
    """Each bank row's distance to the figures of ``targets``: the square root of the calibration loss."""
    out = np.empty(len(bank))
    for i, row in enumerate(bank[[STAT + t.name for t in targets]].to_numpy()):
        value = loss(targets, {t.name: np.array([v]) for t, v in zip(targets, row, strict=True)})
        out[i] = math.sqrt(value) if math.isfinite(value) else math.inf
    return out


def accept(spec: Spec, bank: pd.DataFrame, targets: Sequence[Target], settings: AbcSettings) -> Posterior:
    """The ``particles`` bank rows closest to the figures of ``targets`` (ties by bank order; prior draws, so
    equally weighted);
    the draws are the accepted rows in a seeded random order, numbered 0, 1, 2, ..."""
    d = distances(bank, targets)
    if len(bank) < settings.particles:
        from sim.errors import UserError

        raise UserError(f"the prior bank has {len(bank)} runs, fewer than the {settings.particles} to accept")
    order = np.argsort(d, kind="stable")[: settings.particles]
    keys = list(spec.parameters)
    particles = bank.iloc[order][keys].reset_index(drop=True)
    rng = np.random.default_rng(spec.seed)
    draws = particles.iloc[rng.permutation(len(particles))[: settings.draws]].reset_index(drop=True)
    draws.insert(0, "draw", np.arange(len(draws)))
    step = pd.DataFrame([{"epsilon": float(d[order[-1]]), "simulations": len(bank),
                          "particles": len(particles), "acceptance_rate": len(particles) / len(bank),
                          "ess": float(len(particles))}])
    return Posterior(keys, particles, draws, step, [t.name for t in targets])


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


# ------------------------------------------------------------------ which point is a mode


def point_values(spec: Spec, config: Config) -> dict[str, float]:
    """The fitted parameters' values in a scenario: for the base scenario, the calibrated point it runs with."""
    return {key: float(keypath.get(config, key)) for key in spec.parameters}


def mode_check(spec: Spec, base: Config, points: dict[str, dict[str, float]], targets: Sequence[Target],
               levels: dict[str, float], executor: Executor | None = None,
               on_run: Callable[[], None] | None = None) -> pd.DataFrame:
    """How often each named parameter set is accepted: ``mode_runs`` runs at the bank's size, seeds
    ``seed`` .. ``seed + mode_runs - 1`` (the same for every set), each run's distance to the figures of
    ``targets`` against each acceptance distance of ``levels``.

    With uniform priors the density of the ABC rejection posterior at a
    parameter set is proportional to the chance that one run of it is
    accepted (Pritchard et al. 1999; Marin et al. 2012): a set
    accepted in every run sits at the density's maximum, a posterior mode.
    Smaller ``levels`` say which mode remains as the acceptance distance
    shrinks towards the posterior that a larger bank would give.
    One row per set: the distances' median, minimum and maximum, and the
    share of runs within each level (``within:<level>``).
    """
    s = spec.abc
    config = keypath.with_values(base, {"population.size": s.population or spec.population})
    seeds = [spec.seed + i for i in range(s.mode_runs)]
    runs = [(keypath.with_values(config, values), seed) for values in points.values() for seed in seeds]
    stats, _, _ = run_target_pairs(runs, targets, on_run=on_run, executor=executor)
    d = distances(pd.DataFrame({STAT + name: v for name, v in stats.items()}), targets)
    rows = []
    for i, name in enumerate(points):
        own = d[i * len(seeds):(i + 1) * len(seeds)]
        rows.append({"point": name, "runs": len(own), "distance_median": float(np.median(own)),
                     "distance_min": float(own.min()), "distance_max": float(own.max()),
                     **{f"within:{level}": float(np.mean(own <= eps + 1e-12)) for level, eps in levels.items()}})
    return pd.DataFrame(rows)


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
