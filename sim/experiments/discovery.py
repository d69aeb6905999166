"""Scenario discovery: the boxes of a sweep's parameter and lever space where an outcome crosses a threshold.

A sweep (``sim/experiments/sweep.py``) gives, for every run, the values of the
varied keys and the end-of-run metrics. Scenario discovery (Bryant and Lempert
2010) marks each run as a *case of interest* when an outcome lies above (or
below) a threshold and asks which simple region of the varied inputs holds
most of those cases. The region is a box: a range for each numeric key and a
set of values for each listed (categorical) key, found by PRIM, the Patient
Rule Induction Method (Friedman and Fisher 1999), as implemented in the EMA
Workbench (Kwakkel 2017, ``ema_workbench.analysis.prim``).

PRIM starts from the box of all runs and *peels*: each step removes the slice
of at most ``peel_alpha`` of the remaining runs, from one end of one key's
range (or one value of a listed key), that raises the share of cases of
interest in the box the most, until the box holds less than ``min_mass`` of
the runs; it then *pastes* back slices that raise the share again. Every
step is a box on the *peeling trajectory*, with

- coverage: the share of all cases of interest that lie inside the box;
- density: the share of the runs inside the box that are cases of interest;
- mass: the share of all runs inside the box;
- restricted dimensions: the keys whose range (or set of values) is narrower
  than the sweep's.

Coverage falls and density rises along the trajectory; which box to report is
a choice (``choose_box``): by default the densest box whose coverage is at
least MIN_COVERAGE, or a box the user names. Each restriction carries the
quasi-p value of Bryant and Lempert (2010): a one-sided binomial test of
whether the density would be as high without that restriction.

Each run is one case: with several replications per point, a point enters
once per seed, so a point where an outcome is noisy near the threshold is
partly in and partly out. With a second sweep at the same points and seeds
(``paired_difference``) the outcome is the paired difference of the metric
between the two sweeps, so the boxes say where one policy fails to beat
another. Feature scores (``feature_scores``; extra trees, Geurts et al. 2006,
as in the EMA Workbench) rank the keys by how much they tell cases of
interest from the others, boxes aside.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import UserError
from sim.model.metrics import GROUPS, METRICS

MIN_POINTS = 10
"""Fewest distinct points of a sweep that discovery runs on: with fewer, a box is little more than a list of
points, and PRIM's first peel of 5% of the runs removes less than one point."""

MIN_COVERAGE = 0.5
"""Default rule for the reported box: the densest box on the peeling trajectory whose coverage is at least this
(it still holds half the cases of interest); ties go to the larger coverage, then the earlier box."""

PEEL_ALPHA = 0.05
"""Default share of the runs peeled off per step (Friedman and Fisher 1999 recommend 0.05 to 0.1; the EMA
Workbench's default)."""

MIN_MASS = 0.05
"""Default smallest share of all runs a box may hold; peeling stops below it (the EMA Workbench's default)."""

FEATURE_TREES = 100
"""Trees of the extra-trees classifier behind the feature scores (the EMA Workbench's default)."""

FEATURE_SEED = 0
"""Seed of the extra-trees classifier, so that the same sweep gives the same feature scores."""

RUN_KEYS = ("point", "rep", "seed")
"""Columns that identify a run of a sweep (results.csv)."""


def import_prim() -> Any:
    """``ema_workbench.analysis.prim``, without the warning its package gives on import that ipyparallel (a
    cluster back end digex does not use) is not installed."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="ipyparallel not installed", category=UserWarning)
        from ema_workbench.analysis import prim
    return prim


@dataclass(frozen=True)
class Outcome:
    """The outcome a discovery reads: a metric overall, or of one group (``exclusion_rate@80+``)."""

    metric: str
    group_type: str = "all"
    group: str = "all"

    @classmethod
    def parse(cls, text: str) -> Outcome:
        """``METRIC`` or ``METRIC@GROUP`` (a group of docs/ODD.md section 7.15, e.g. ``80+`` or ``Q1 lowest``;
        group names are unique across group types). Errors name the option and the valid choices."""
        metric, at, group = (part.strip() for part in text.partition("@"))
        if metric not in METRICS:
            from sim.scenario.loader import suggest

            raise UserError(f"--outcome '{text}': unknown metric '{metric}'" + suggest(metric, list(METRICS))
                            + " (digex metrics lists them)")
        if not at:
            return cls(metric)
        if not METRICS[metric].by_group:
            raise UserError(f"--outcome '{text}': {metric} is not broken down by group; use it without @")
        group_type = next((t for t, names in GROUPS.items() if group in names), None)
        if group_type is None:
            valid = "; ".join(f"{t}: {', '.join(names)}" for t, names in GROUPS.items())
            raise UserError(f"--outcome '{text}': unknown group '{group}'; valid groups are {valid}")
        return cls(metric, group_type, group)

    @property
    def label(self) -> str:
        """The outcome as written on the command line (``exclusion_rate@80+``)."""
        return self.metric if self.group_type == "all" else f"{self.metric}@{self.group}"

    def values(self, results: pd.DataFrame, by_group: pd.DataFrame, source: str) -> pd.Series:
        """The outcome of every run, indexed by RUN_KEYS, from a sweep's results.csv (overall) or
        results_by_group.csv; UserError naming ``source`` if a run has no value."""
        if self.group_type == "all":
            if self.metric not in results.columns:
                raise UserError(f"{source}: results.csv has no column '{self.metric}'; rerun the sweep")
            table = results
        else:
            table = by_group[(by_group["metric"] == self.metric) & (by_group["group_type"] == self.group_type)
                             & (by_group["group"] == self.group)].rename(columns={"value": self.metric})
        values = results[list(RUN_KEYS)].merge(table[[*RUN_KEYS, self.metric]], on=list(RUN_KEYS), how="left")
        values = values.set_index(list(RUN_KEYS))[self.metric].astype(float)
        if values.isna().any():
            point = values[values.isna()].index[0][0]
            raise UserError(f"{source}: {self.label} has no value in {int(values.isna().sum())} of {len(values)} "
                            f"runs (first at point {point}); it cannot be compared with a threshold (a metric "
                            "of the all-analogue reference needs run.analogue_reference=true, a group needs members)")
        return values


@dataclass(frozen=True)
class Question:
    """What a discovery asks: where the outcome (or its paired difference from a second sweep, ``against``)
    lies strictly above (``above``) or below ``threshold``."""

    outcome: Outcome
    threshold: float
    above: bool
    against: str | None = None

    @property
    def quantity(self) -> str:
        """The quantity compared with the threshold, in words."""
        if self.against is None:
            return self.outcome.label
        return f"{self.outcome.label} minus that of {self.against} (same points and seeds)"

    @property
    def text(self) -> str:
        """The question in one line."""
        return f"Where is {self.quantity} {'above' if self.above else 'below'} {self.threshold:g}?"

    @property
    def title(self) -> str:
        """The question short enough for a figure title (the other sweep left to the line below it)."""
        what = self.outcome.label if self.against is None else f"the difference in {self.outcome.label}"
        return f"Where is {what} {'above' if self.above else 'below'} {self.threshold:g}?"


def varied_inputs(results: pd.DataFrame, keys: Sequence[str], source: str) -> pd.DataFrame:
    """The varied keys of every run (indexed by RUN_KEYS), as PRIM reads them: numbers stay numbers, anything
    else (listed values, true/false) becomes text, a categorical key. Keys that take a single value are left out;
    UserError if none is left or the sweep has fewer than MIN_POINTS points."""
    missing = [k for k in keys if k not in results.columns]
    if missing:
        raise UserError(f"{source}: results.csv has no column for the varied key '{missing[0]}'; rerun the sweep")
    points = results["point"].nunique()
    if points < MIN_POINTS:
        raise UserError(f"{source}: the sweep has {points} point(s); scenario discovery needs at least "
                        f"{MIN_POINTS} (a Latin hypercube: digex sweep ... --samples 30)")
    x = results.set_index(list(RUN_KEYS))[list(keys)].copy()
    for key in keys:
        if not pd.api.types.is_numeric_dtype(x[key]) or pd.api.types.is_bool_dtype(x[key]):
            x[key] = x[key].astype(str)
    varying = [k for k in keys if x[k].nunique() > 1]
    if not varying:
        raise UserError(f"{source}: no varied key takes more than one value; there is no space to search")
    return x[varying]


def paired_difference(values: pd.Series, other: pd.Series, x: pd.DataFrame, other_x: pd.DataFrame,
                      source: str, other_source: str) -> pd.Series:
    """``values`` minus ``other`` run by run: the paired difference of an outcome between two sweeps at the
    same points and seeds (common random numbers). UserError naming both sweeps if the points, their settings
    or the seeds differ."""
    if list(x.columns) != list(other_x.columns):
        raise UserError(f"--against {other_source}: it varies {', '.join(other_x.columns) or 'nothing'}, "
                        f"{source} varies {', '.join(x.columns)}; discovery compares sweeps of the same points")
    if not x.index.equals(other_x.index):
        only = x.index.symmetric_difference(other_x.index)[0]
        raise UserError(f"--against {other_source}: the runs differ from those of {source} (point {only[0]}, "
                        f"rep {only[1]}, seed {only[2]} is in only one); run both sweeps with the same --vary, "
                        "--samples, --reps and --seed")
    same = (x == other_x) | (x.isna() & other_x.isna())
    if not same.all(axis=None):
        run, key = next((i, k) for k in x.columns for i in x.index if not same.loc[i, k])
        raise UserError(f"--against {other_source}: point {run[0]} has {key} = {other_x.loc[run, key]}, "
                        f"{source} has {x.loc[run, key]}; run both sweeps with the same --vary, --samples and --seed")
    return values - other


def cases_of_interest(values: pd.Series, threshold: float, above: bool, label: str) -> np.ndarray:
    """1 for each run whose outcome is strictly above (or below) ``threshold``, else 0; UserError when no run
    or every run is a case of interest, for PRIM then has nothing to tell apart."""
    y = (values > threshold) if above else (values < threshold)
    side = "above" if above else "below"
    if not y.any() or y.all():
        which = "no run" if not y.any() else "every run"
        raise UserError(f"{which} has {label} {side} {threshold:g} (the values run from {values.min():.6g} to "
                        f"{values.max():.6g}), so PRIM cannot run: choose a --threshold between them")
    return y.to_numpy().astype(int)


@dataclass
class Discovery:
    """PRIM's first box: its peeling trajectory, the limits of every box on it and the box reported.

    ``trajectory``: one row per box (box, coverage, density, mass, n, k,
    restricted_dims, restricted). ``limits``: one row per box and key (box,
    parameter, kind, lower, upper, categories, restricted, qp_lower,
    qp_upper). ``chosen``: the reported box; ``rule``: how it was chosen.
    ``scores``: feature scores (parameter, score), highest first.
    """

    trajectory: pd.DataFrame
    limits: pd.DataFrame
    chosen: int
    rule: str
    scores: pd.DataFrame


def choose_box(trajectory: pd.DataFrame, min_coverage: float = MIN_COVERAGE, box: int | None = None
               ) -> tuple[int, str]:
    """The box to report and the rule that chose it, in words.

    ``box`` names a box of the trajectory; else the densest box with
    coverage at least ``min_coverage`` (ties: larger coverage, then earlier).
    Box 0, all runs, has coverage 1, so the rule always finds one.
    """
    if box is not None:
        if not 0 <= box < len(trajectory):
            raise UserError(f"--box {box}: the peeling trajectory has boxes 0 to {len(trajectory) - 1}")
        return box, f"box {box}, as asked (--box)"
    ok = trajectory[trajectory["coverage"] >= min_coverage - 1e-12]
    best = ok.sort_values(["density", "coverage", "box"], ascending=[False, False, True], kind="stable").iloc[0]
    return int(best["box"]), f"the densest box with coverage at least {min_coverage:g}"


def _limits(box_lims: pd.DataFrame, box_init: pd.DataFrame, p_values: dict[str, list[float]], box: int
            ) -> list[dict[str, Any]]:
    """One row per key of a box: its range (numbers) or the values kept (text), whether it is narrower than
    the sweep's, and the quasi-p values of its lower and upper limit (NaN where not restricted)."""
    rows = []
    for key in box_init.columns:
        low, high = box_lims[key].iloc[0], box_lims[key].iloc[1]
        restricted = bool(low != box_init[key].iloc[0] or high != box_init[key].iloc[1])
        qp = [np.nan if v is None or v < 0 else float(v) for v in p_values.get(key, [np.nan, np.nan])]
        if isinstance(low, set):
            row = {"kind": "categories", "lower": np.nan, "upper": np.nan, "categories": ";".join(sorted(low))}
        else:
            row = {"kind": "range", "lower": float(low), "upper": float(high), "categories": ""}
        rows.append({"box": box, "parameter": key, **row, "restricted": restricted,
                     "qp_lower": qp[0], "qp_upper": qp[1] if len(qp) > 1 else np.nan})
    return rows


def feature_scores(x: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
    """Importance of each key for telling cases of interest from the others: extra trees (Geurts et al. 2006)
    through ``ema_workbench.analysis.feature_scoring``, FEATURE_TREES trees seeded by FEATURE_SEED; scores sum
    to 1, highest first."""
    import_prim()  # the package's import warning, silenced once
    from ema_workbench.analysis import feature_scoring

    scores, _ = feature_scoring.get_ex_feature_scores(
        x.reset_index(drop=True), y, nr_trees=FEATURE_TREES, max_features=max(1, round(x.shape[1] / 3)),
        random_state=FEATURE_SEED)
    scores = scores.reset_index()
    scores.columns = ["parameter", "score"]
    return scores.sort_values(["score", "parameter"], ascending=[False, True], kind="stable").reset_index(drop=True)


def discover(x: pd.DataFrame, y: np.ndarray, peel_alpha: float = PEEL_ALPHA, min_mass: float = MIN_MASS,
             min_coverage: float = MIN_COVERAGE, box: int | None = None) -> Discovery:
    """PRIM's first box over the varied inputs ``x`` (one row per run) for the cases of interest ``y`` (0/1),
    with the peel share ``peel_alpha`` and the smallest box mass ``min_mass`` (Friedman and Fisher 1999;
    ``ema_workbench.analysis.prim.Prim``), and the box reported by ``choose_box``."""
    if not 0 < peel_alpha < 0.5:
        raise UserError(f"--peel-alpha: must lie between 0 and 0.5, got {peel_alpha:g}")
    if not 0 < min_mass < 1:
        raise UserError(f"--min-mass: must lie between 0 and 1, got {min_mass:g}")
    if not 0 <= min_coverage <= 1:
        raise UserError(f"--min-coverage: must lie between 0 and 1, got {min_coverage:g}")
    prim = import_prim()
    with warnings.catch_warnings():  # the workbench uses pandas features pandas has deprecated
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        finder = prim.Prim(x.reset_index(drop=True), np.asarray(y, dtype=int), peel_alpha=peel_alpha,
                           mass_min=min_mass)
        found = finder.find_box()
    t = found.peeling_trajectory
    limits = [row for i, lims in enumerate(found.box_lims)
              for row in _limits(lims, finder.box_init, found.p_values[i], i)]
    limits = pd.DataFrame(limits)
    restricted = limits[limits["restricted"]].groupby("box")["parameter"].agg(";".join)
    trajectory = pd.DataFrame({
        "box": t["id"].astype(int), "coverage": t["coverage"].astype(float), "density": t["density"].astype(float),
        "mass": t["mass"].astype(float), "n": t["n"].astype(int), "k": t["k"].astype(int),
        "restricted_dims": t["res_dim"].astype(int)})
    trajectory["restricted"] = [restricted.get(b, "") for b in trajectory["box"]]
    chosen, rule = choose_box(trajectory, min_coverage, box)
    trajectory["chosen"] = trajectory["box"] == chosen
    return Discovery(trajectory, limits, chosen, rule, feature_scores(x, y))
