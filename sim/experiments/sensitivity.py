"""Global sensitivity analysis: which uncertain parameters drive an outcome, by Sobol indices or Morris screening.

The parameters are the uncertain ones of a calibration file (its
``parameters`` block: bounds and log scales, ``sim.experiments.calibration.load_spec``),
over their prior bounds or over the central 95% of posterior draws
(``posterior_ranges``). A design is drawn in the unit cube by SALib (Herman
and Usher 2017): Saltelli's extension of Sobol' sequences for variance-based
indices (Saltelli et al. 2010), or Morris trajectories on a grid of
MORRIS_LEVELS levels for elementary effects (Morris 1991; Campolongo et al.
2007). Each row is mapped to parameter values with ``Varied.from_unit`` (so a
log-scale parameter is sampled evenly in its logarithm, as the calibration
searches it) and becomes one point of a sweep (``sim.experiments.sweep.SweepPlan``):
all points share the same seeds (common random numbers, replication r uses
run.seed + r), and each finished run is stored at once and reused when the
same analysis is run again (``sim.experiments.sweep.RunStore``).

An outcome is a metric at the end of the run, overall or of one group
(``exclusion_rate@80+``); its value at a point is the mean over the point's
replications. ``indices`` turns the outcomes into a tidy table: for Sobol
first-order (S1), total (ST) and optionally second-order (S2) indices, for
Morris mu* (mean absolute elementary effect, in the outcome's unit per whole
range of the parameter) and sigma, each with a bootstrap 95% interval where
SALib gives one. See docs/sensitivity.md.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sim.atomic import shown
from sim.errors import UserError
from sim.experiments.sensitivity_defaults import METHODS, MORRIS_LEVELS
from sim.experiments.varied import Varied
from sim.model import keypath
from sim.model.metrics import GROUPS, METRICS, OVERALL
from sim.model.params import Config, derived_name

if TYPE_CHECKING:  # pandas and the sweep are imported where used
    import pandas as pd

    from sim.experiments.sweep import SweepPlan, SweepResult

RESAMPLES = 1000
"""Bootstrap resamples behind each index's 95% interval (SALib's conf: half-width of the interval)."""

POSTERIOR_RANGE = (0.025, 0.975)
"""Quantiles of the posterior draws that bound a parameter's range when a posterior file is given."""

INDEX_COLUMNS = ("outcome", "parameter", "index", "value", "ci_low", "ci_high", "method", "N")
"""Columns of indices.csv: one index of one parameter (or pair, 'a x b' for S2) for one outcome."""

MAIN_INDEX = {"sobol": "ST", "morris": "mu_star"}
"""The index a method's parameters are ranked by: total Sobol index, Morris mu*."""


@dataclass(frozen=True)
class Outcome:
    """A metric at the end of the run, of everyone (``group_type`` 'all') or of one group (an age band, ...)."""

    metric: str
    group_type: str = OVERALL[0]
    group: str = OVERALL[1]

    @property
    def name(self) -> str:
        """'metric' or 'metric@group', as given on the command line and in the tables."""
        return self.metric if (self.group_type, self.group) == OVERALL else f"{self.metric}@{self.group}"


def parse_outcome(text: str) -> Outcome:
    """``metric`` or ``metric@group`` (a group of sim.model.metrics.GROUPS, e.g. an age band '80+'); a UserError
    with a suggestion for an unknown metric or group, or a metric not reported by group."""
    from sim.scenario.loader import suggest

    metric, _, group = text.partition("@")
    if metric not in METRICS:
        raise UserError(f"--outcomes: no metric '{shown(metric)}'" + (suggest(metric, list(METRICS))
                                                                     or "; `digex metrics` lists them"))
    if not group:
        return Outcome(metric)
    if not METRICS[metric].by_group:
        raise UserError(f"--outcomes {shown(text)}: {metric} is reported for everyone only, not by group")
    types = {g: t for t, groups in GROUPS.items() for g in groups}
    if group not in types:
        raise UserError(f"--outcomes {shown(text)}: no group '{shown(group)}'" + suggest(group, list(types)))
    return Outcome(metric, types[group], group)


def uncertain_parameters(calibration: str | Path, keys: Sequence[str] = (),
                         posterior: str | Path | None = None) -> list[Varied]:
    """The uncertain parameters of a calibration file (its bounds and log scales), or those ``keys`` of them.

    With ``posterior`` (a file of posterior draws), each range is the central
    95% of the draws instead of the prior bounds (``posterior_ranges``).
    """
    from sim.experiments.calibration import load_spec
    from sim.scenario.loader import suggest

    found = load_spec(calibration).parameters
    for key in keys:
        if key not in found:
            raise UserError(f"--params: '{shown(key)}' is not an uncertain parameter of {shown(calibration)}"
                            + suggest(key, list(found)))
    if len(set(keys)) < len(keys):
        raise UserError(f"--params: a key is given twice ({', '.join(keys)})")
    varies = [found[k] for k in keys] if keys else list(found.values())
    return posterior_ranges(posterior, varies) if posterior is not None else varies


def posterior_ranges(path: str | Path, varies: Sequence[Varied]) -> list[Varied]:
    """Each parameter's range as the POSTERIOR_RANGE quantiles of its posterior draws (its log scale kept).

    The file is read by ``sim.scenario.posterior.load_posterior`` (which
    refuses a malformed file, naming the line); a UserError also names the
    file for a parameter missing, fewer than two draws, a range of one value,
    or a range not above 0 on a log scale.
    """
    from sim.scenario.posterior import load_posterior

    where = shown(path)
    draws = load_posterior(path).draws
    if len(draws) < 2:
        raise UserError(f"{where}: needs at least 2 posterior draws, found {len(draws)}")
    ranged = []
    for v in varies:
        if v.key not in draws.columns:
            raise UserError(f"{where}: no column '{v.key}' (the posterior must have a column per parameter)")
        x = draws[v.key].to_numpy(dtype=float)
        low, high = (float(q) for q in np.quantile(x, POSTERIOR_RANGE))
        if not low < high:
            raise UserError(f"{where}, column '{v.key}': the draws do not vary, so they give no range to analyse")
        if v.log and low <= 0:
            raise UserError(f"{where}, column '{v.key}': a log-scale parameter needs draws above 0")
        ranged.append(dataclasses.replace(v, low=low, high=high))
    return ranged


def problem(varies: Sequence[Varied]) -> dict:
    """SALib's problem: the parameters' key paths over the unit cube (mapped to values by Varied.from_unit)."""
    return {"num_vars": len(varies), "names": [v.key for v in varies], "bounds": [[0.0, 1.0]] * len(varies)}


def check_design(method: str, n_parameters: int, samples: int, reps: int, second_order: bool) -> int:
    """The number of design points; a UserError for a bad method, sample size or a design over MAX_RUNS runs.

    SALib's Sobol design needs a base sample N that is a power of 2 (the
    balance of Sobol' points); Morris needs at least 2 trajectories for an interval.
    """
    from sim.experiments.sweep import MAX_RUNS

    if method not in METHODS:
        raise UserError(f"--method: '{shown(method)}' is not a method; choose {' or '.join(METHODS)}")
    if n_parameters < 2:
        raise UserError(f"a sensitivity analysis needs at least 2 parameters, got {n_parameters}")
    if method == "sobol":
        if samples < 2 or samples & (samples - 1):
            raise UserError(f"--samples {samples}: Sobol needs a power of 2 (2, 4, 8, 16, ...; SALib's Sobol' "
                            "sequence is balanced only then), e.g. --samples 64")
        points = samples * ((2 * n_parameters + 2) if second_order else (n_parameters + 2))
    else:
        if samples < 2:
            raise UserError(f"--samples {samples}: Morris needs at least 2 trajectories")
        points = samples * (n_parameters + 1)
    if points * reps > MAX_RUNS:
        raise UserError(f"the design has {points:,} points x {reps} rep(s) = {points * reps:,} runs; at most "
                        f"{MAX_RUNS:,} are allowed: use fewer --samples, --params or --reps")
    return points


def unit_design(method: str, varies: Sequence[Varied], samples: int, seed: int, second_order: bool) -> np.ndarray:
    """The design in the unit cube, one row per point: Saltelli's Sobol' design (scrambled, seeded) or Morris
    trajectories on MORRIS_LEVELS levels (seeded)."""
    from SALib.sample import morris, sobol

    if method == "sobol":
        return sobol.sample(problem(varies), samples, calc_second_order=second_order, seed=seed)
    return morris.sample(problem(varies), samples, num_levels=MORRIS_LEVELS, seed=seed)


@dataclass
class Design:
    """A sensitivity analysis planned: method, parameters, the unit design and the sweep that runs it."""

    method: str
    varies: list[Varied]
    unit: np.ndarray
    samples: int
    second_order: bool
    seed: int
    plan: SweepPlan


def plan_sensitivity(base: Config, varies: Sequence[Varied], outcomes: Sequence[Outcome], method: str,
                     samples: int, reps: int, seed: int | None = None, second_order: bool = False) -> Design:
    """Check the design, draw it and resolve every point's configuration (all before anything runs).

    Every point is ``base`` with the parameters set and the same base seed
    (``seed`` or base's run.seed): common random numbers. The all-analogue
    reference run (run.analogue_reference) is switched off unless an outcome
    is a savings metric, the only ones that need it.
    """
    from sim.experiments.replication import SAVINGS
    from sim.experiments.sweep import SweepPlan

    if reps < 1:
        raise UserError(f"--reps: must be at least 1, got {reps}")
    check_design(method, len(varies), samples, reps, second_order)
    base_seed = base.run.seed if seed is None else seed
    if not any(o.metric in SAVINGS for o in outcomes):
        base = keypath.with_values(base, {"run.analogue_reference": False})
    unit = unit_design(method, varies, samples, base_seed, second_order)
    points, configs = [], []
    for i, row in enumerate(unit):
        values = {v.key: v.number(v.from_unit(u), base) for v, u in zip(varies, row, strict=True)}
        try:
            c = keypath.with_values(base, values)
        except keypath.KeyPathError as exc:
            raise UserError(f"point {i} of the design: {exc}") from None
        c.name = derived_name(base.name, f" point {i}")  # names runs for the store; not part of the run key
        c.run.seed = base_seed
        points.append({k: repr(x) for k, x in values.items()})
        configs.append(c)
    label = {"sobol": f"Sobol (Saltelli), N = {samples}", "morris": f"Morris, {samples} trajectories"}[method]
    return Design(method, list(varies), unit, samples, second_order, base_seed,
                  SweepPlan(list(varies), points, configs, reps, label))


def outcome_table(design: Design, result: SweepResult, outcomes: Sequence[Outcome]) -> pd.DataFrame:
    """One row per run: point, rep, seed, run_key, each parameter's value and each outcome's end-of-run value."""
    table = result.results[["point", *design.plan.keys, "rep", "seed", "run_key"]].copy()
    rows = result.by_group.set_index(["point", "rep", "metric", "group_type", "group"])["value"]
    for o in outcomes:
        if (o.group_type, o.group) == OVERALL:
            table[o.name] = result.results[o.metric].to_numpy(dtype=float)
        else:
            table[o.name] = [rows.get((p, r, o.metric, o.group_type, o.group), math.nan)
                             for p, r in zip(table["point"], table["rep"], strict=True)]
    return table


def point_means(design: Design, table: pd.DataFrame, outcome: Outcome) -> np.ndarray:
    """The outcome at each design point (mean over its replications), in design order; a UserError if undefined."""
    y = table.groupby("point")[outcome.name].mean().reindex(range(len(design.unit))).to_numpy(dtype=float)
    missing = int(np.isnan(y).sum())
    if missing:
        raise UserError(f"--outcomes {outcome.name}: undefined at {missing} of {len(y)} points (no citizens in the "
                        "group, or a metric without a value at the end of the run); choose another outcome or a "
                        "larger population")
    return y


def indices(design: Design, outcome: Outcome, y: np.ndarray) -> pd.DataFrame:
    """The sensitivity indices of one outcome (columns INDEX_COLUMNS), each with its bootstrap 95% interval.

    Sobol (Saltelli et al. 2010; SALib's estimators: Saltelli's for S1, Jansen's
    for ST): S1 is the share of the outcome's variance due to a parameter
    alone, ST that share including all its interactions, S2 a pair's joint
    share beyond their first-order ones. Morris (Morris 1991; Campolongo et al.
    2007): mu* is the mean absolute elementary effect, the change of the
    outcome for a step of 2/3 of a parameter's range divided by that step (so
    in the outcome's unit per whole range), and sigma their standard deviation
    (large when the effect depends on the other parameters or is non-linear);
    sigma has no interval. An interval is the index plus and minus SALib's
    bootstrap half-width, a mu* interval cut at 0.
    """
    import pandas as pd
    from SALib.analyze import morris, sobol

    names = design.plan.keys
    rows: list[tuple[str, str, float, float]] = []
    if design.method == "sobol":
        si = sobol.analyze(problem(design.varies), y, calc_second_order=design.second_order,
                           num_resamples=RESAMPLES, seed=design.seed)
        for index in ("S1", "ST"):
            rows += [(name, index, si[index][i], si[f"{index}_conf"][i]) for i, name in enumerate(names)]
        if design.second_order:
            rows += [(f"{a} x {names[j]}", "S2", si["S2"][i, j], si["S2_conf"][i, j])
                     for i, a in enumerate(names) for j in range(i + 1, len(names))]
    else:
        si = morris.analyze(problem(design.varies), design.unit, y, num_resamples=RESAMPLES,
                            num_levels=MORRIS_LEVELS, seed=design.seed)
        rows += [(name, "mu_star", si["mu_star"][i], si["mu_star_conf"][i]) for i, name in enumerate(names)]
        rows += [(name, "sigma", si["sigma"][i], math.nan) for i, name in enumerate(names)]
    value = np.array([float(r[2]) for r in rows])
    half = np.array([float(r[3]) for r in rows])
    low = value - half
    mu_star = np.array([r[1] == "mu_star" for r in rows])
    low[mu_star] = np.maximum(low[mu_star], 0.0)  # a mean of absolute values: its interval ends at 0
    return pd.DataFrame({"outcome": outcome.name, "parameter": [r[0] for r in rows], "index": [r[1] for r in rows],
                         "value": value, "ci_low": low, "ci_high": value + half,
                         "method": design.method, "N": design.samples})


def zero_effect(table: pd.DataFrame, outcome: Outcome) -> float:
    """Spread of an outcome over replications at the same point (mean of the per-point standard deviations),
    NaN with one replication: the noise a parameter's effect has to rise above."""
    sd = table.groupby("point")[outcome.name].std(ddof=1)
    return float(sd.mean()) if sd.notna().any() else math.nan
