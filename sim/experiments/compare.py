"""Comparing scenarios under common random numbers: paired replications and their intervals.

Every compared scenario runs with the same base seed, so replication r of each
scenario uses seed ``run.seed + r`` and starts from the same population, deaths,
births and task arrivals (MODEL.md section 9; ``sim/experiments/replication.py``). The difference
between two scenarios is then estimated from the per-replication differences of
end-of-run values (a paired t-interval), which is far narrower than comparing
two independent intervals when the scenarios are positively correlated.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import UserError
from sim.experiments.replication import Replication, run_many
from sim.experiments.stats import mean_ci
from sim.model.metrics import GROUPS, METRICS, OVERALL
from sim.model.params import Config

KEYS = ("metric", "group_type", "group")
"""Columns that identify one reported value in a replication's end-of-run summary."""

LEVEL = 0.95
"""Confidence level of every interval."""


def common_seed(configs: Sequence[Config], seed: int | None = None) -> list[Config]:
    """Copies of the scenarios sharing one base seed: ``seed``, or the first scenario's run.seed.

    Common random numbers need the same population and horizon too, so the
    scenarios must agree on run.start, run.weeks and population.size.
    """
    base = configs[0].run.seed if seed is None else seed
    if base < 0:
        raise UserError(f"--seed: must be non-negative, got {base}")
    for key in ("run.start", "run.weeks", "population.size"):
        values = {c.name: _get(c, key) for c in configs}
        if len(set(map(str, values.values()))) > 1:
            listed = ", ".join(f"{n}: {v}" for n, v in values.items())
            raise UserError(
                f"scenarios differ in {key} ({listed}); a paired comparison needs the same population and "
                f"horizon: align them with --set {key}=VALUE"
            )
    out = []
    for c in configs:
        c = c.model_copy(deep=True)
        c.run.seed = base
        out.append(c)
    return out


def _get(config: Config, path: str) -> object:
    """Value of a dotted key path of a configuration."""
    obj: object = config
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def t_interval(mean: np.ndarray, sd: np.ndarray, n: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised two-sided t-interval of a mean; collapses to the mean below two observations.

    Same rule as ``sim.experiments.stats.mean_ci``, for many means at once.
    """
    from scipy import stats  # imported when needed: it takes 0.4 s, which every digex command would pay

    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = stats.t.ppf(0.5 + level / 2, np.where(n >= 2, n - 1, 1))
        half = np.where(n >= 2, q * np.asarray(sd, dtype=float) / np.sqrt(np.maximum(n, 1)), 0.0)
    return mean - half, mean + half


def summarise_reps(frame: pd.DataFrame, by: list[str], value: str = "value") -> pd.DataFrame:
    """Mean, ci_low, ci_high and n_reps of ``value`` over replications per ``by`` group (NaNs ignored).

    A vectorised ``sim.experiments.stats.summarise`` for tables with many groups.
    """
    g = frame.groupby(by, sort=False, dropna=False, observed=True)[value]
    out = g.agg(["mean", "std", "count"]).reset_index()
    out["ci_low"], out["ci_high"] = t_interval(out["mean"].to_numpy(), out["std"].to_numpy(), out["count"].to_numpy())
    out = out.rename(columns={"count": "n_reps"}).drop(columns="std")
    return out[[*by, "mean", "ci_low", "ci_high", "n_reps"]]


def paired_difference(
    reference: np.ndarray, other: np.ndarray, level: float = LEVEL
) -> tuple[float, float, float, int]:
    """Mean of ``other - reference`` over paired replications, its t-interval and the number of pairs.

    Pairs where either value is missing are dropped. The interval is the
    t-interval of the per-replication differences (paired t-interval).
    """
    a, b = np.asarray(reference, dtype=float), np.asarray(other, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired values need equal lengths, got {len(a)} and {len(b)}")
    ok = ~(np.isnan(a) | np.isnan(b))
    m, lo, hi = mean_ci(b[ok] - a[ok], level)
    return m, lo, hi, int(ok.sum())


def end_values(replications: Sequence[Replication]) -> pd.DataFrame:
    """End-of-run values of every replication: scenario, rep, seed, metric, group_type, group, value."""
    frames = []
    for r in replications:
        s = r.summary()
        s.insert(0, "seed", r.seed)
        s.insert(0, "rep", r.rep)
        s.insert(0, "scenario", r.scenario)
        frames.append(s)
    return pd.concat(frames, ignore_index=True)


def metric_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by metric (as in METRICS), then overall before groups (as in GROUPS)."""
    m_rank = {m: i for i, m in enumerate(METRICS)}
    g_rank = {OVERALL: 0}
    for gtype, names in GROUPS.items():
        for name in names:
            g_rank[(gtype, name)] = len(g_rank)
    key = frame["metric"].map(m_rank).fillna(len(m_rank)) * 10_000 + [
        g_rank.get((t, g), len(g_rank)) for t, g in zip(frame["group_type"], frame["group"], strict=True)
    ]
    return frame.assign(_k=key.to_numpy()).sort_values("_k", kind="stable").drop(columns="_k").reset_index(drop=True)


def comparison_table(ends: pd.DataFrame, scenarios: Sequence[str]) -> pd.DataFrame:
    """Per metric and group: each scenario's mean and 95% interval, and its paired difference from the first.

    Columns: metric, unit, group_type, group, scenario, mean, ci_low, ci_high,
    n_reps, reference, diff, diff_ci_low, diff_ci_high, n_pairs. The
    difference is scenario minus reference over replications with the same
    seed; it is empty for the reference itself.
    """
    ref = scenarios[0]
    summary = summarise_reps(ends, [*KEYS, "scenario"])
    wide = ends.pivot(index=list(KEYS), columns=["scenario", "seed"], values="value")
    diffs = []
    for s in scenarios[1:]:
        seeds = sorted(set(wide[ref].columns) & set(wide[s].columns))
        a, b = wide[ref][seeds].to_numpy(float), wide[s][seeds].to_numpy(float)
        rows = [paired_difference(x, y) for x, y in zip(a, b, strict=True)]
        d = pd.DataFrame(rows, columns=["diff", "diff_ci_low", "diff_ci_high", "n_pairs"], index=wide.index)
        diffs.append(d.reset_index().assign(scenario=s))
    table = summary.merge(pd.concat(diffs, ignore_index=True) if diffs else
                          pd.DataFrame(columns=[*KEYS, "scenario", "diff", "diff_ci_low", "diff_ci_high", "n_pairs"]),
                          on=[*KEYS, "scenario"], how="left")
    table["n_pairs"] = table["n_pairs"].astype("Int64")
    table.insert(1, "unit", table["metric"].map(lambda m: METRICS[m].unit if m in METRICS else ""))
    table.insert(table.columns.get_loc("diff"), "reference", ref)
    table["scenario"] = pd.Categorical(table["scenario"], categories=list(scenarios), ordered=True)
    table = metric_order(table.sort_values("scenario", kind="stable"))
    table["scenario"] = table["scenario"].astype(str)
    return table


@dataclass
class WeeklyStore:
    """Weekly values of every replication, kept as one float array each (the long frame is dropped).

    ``add`` is the ``on_done`` callback of ``sim.experiments.replication.run_many``: it keeps
    the values and replaces the replication's time series by its last week,
    so memory grows by one array per replication, not one DataFrame.
    Summaries are computed in replication order, so they do not depend on
    the order in which workers finish.
    """

    template: pd.DataFrame | None = None
    values: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)

    def add(self, rep: Replication) -> None:
        """Keep this replication's weekly values; trim its time series to the end-of-run rows."""
        ts = rep.timeseries
        if self.template is None:
            self.template = ts.drop(columns="value").reset_index(drop=True)
        elif len(ts) != len(self.template):
            raise ValueError(f"{rep.scenario} rep {rep.rep}: time series has {len(ts)} rows, "
                             f"expected {len(self.template)}")
        self.values[(rep.scenario, rep.rep)] = ts["value"].to_numpy(dtype=float, copy=True)
        rep.timeseries = ts[ts["week"] == ts["week"].max()].reset_index(drop=True)

    def summary(self, scenarios: Sequence[str]) -> pd.DataFrame:
        """Weekly mean, ci_low, ci_high and n_reps per scenario, metric and group."""
        if self.template is None:
            raise ValueError("no replications were stored")
        frames = []
        for s in scenarios:
            reps = sorted(r for (name, r) in self.values if name == s)
            arr = np.vstack([self.values[(s, r)] for r in reps])
            n = (~np.isnan(arr)).sum(axis=0)
            with warnings.catch_warnings():  # groups without members give NaN, not a warning
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(arr, axis=0)
                sd = np.nanstd(arr, axis=0, ddof=1) if len(reps) > 1 else np.zeros(arr.shape[1])
            lo, hi = t_interval(mean, sd, n)
            f = self.template.copy()
            f.insert(0, "scenario", s)
            f["mean"], f["ci_low"], f["ci_high"], f["n_reps"] = mean, lo, hi, n.astype(np.int32)
            frames.append(f)
        return pd.concat(frames, ignore_index=True)


@dataclass
class Comparison:
    """Results of a comparison: labels, end-of-run values per replication, weekly summaries and the table."""

    configs: list[Config]
    reps: int
    replications: list[Replication]
    ends: pd.DataFrame
    weekly: pd.DataFrame
    table: pd.DataFrame

    @property
    def scenarios(self) -> list[str]:
        """Scenario labels in the order given (the first is the reference)."""
        return [c.name for c in self.configs]


def run_comparison(
    configs: Sequence[Config],
    reps: int,
    jobs: int = 1,
    on_done: Callable[[Replication], None] | None = None,
    executor: str = "local",
    scheduler: str | None = None,
) -> Comparison:
    """Run ``reps`` replications of every scenario (already sharing a seed) and compare them with the first.

    ``jobs``, ``executor`` and ``scheduler`` say where replications run (``sim.experiments.replication.run_many``).
    """
    if reps < 1:
        raise UserError(f"--reps: must be at least 1, got {reps}")
    store = WeeklyStore()

    def done(r: Replication) -> None:
        store.add(r)
        if on_done:
            on_done(r)

    work = [(c, r) for c in configs for r in range(reps)]
    results = run_many(work, jobs=jobs, on_done=done, executor=executor, scheduler=scheduler)
    names = [c.name for c in configs]
    ends = end_values(results)
    return Comparison(list(configs), reps, results, ends, store.summary(names), comparison_table(ends, names))


def policy_markers(configs: Sequence[Config]) -> list[tuple[object, str]]:
    """Dated events shared by every scenario and inside the run, to mark on time plots (the mandate start)."""
    dates = {c.policy.mandate_start for c in configs}
    run = configs[0].run
    if len(dates) == 1 and (d := dates.pop()) is not None and run.start <= d <= run.end:
        return [(d, "mandate starts")]
    return []


def write_comparison(directory: Path, comparison: Comparison, sources: Sequence[str], command: str,
                     started: dt.datetime, svg: bool = False) -> list[str]:
    """Write comparison.csv, end_values.csv, timeseries_summary.parquet, the figures and manifest.json.

    ``directory`` is the temporary directory of ``sim.outputs.files.output_dir``.
    """
    from sim.outputs.figures import comparison_figures, save_figure
    from sim.outputs.files import manifest

    comparison.table.to_csv(directory / "comparison.csv", index=False)
    comparison.ends.to_csv(directory / "end_values.csv", index=False)
    comparison.weekly.to_parquet(directory / "timeseries_summary.parquet", index=False)
    names = ["comparison.csv", "end_values.csv", "timeseries_summary.parquet"]
    figures = comparison_figures(comparison.table, comparison.weekly, comparison.scenarios,
                                 policy_markers(comparison.configs))
    for stem, fig in figures.items():
        names += [f"plots/{p.name}" for p in save_figure(fig, directory / "plots", stem, svg)]
    names.append("manifest.json")
    info = manifest(comparison.configs, sources, comparison.replications, command, started,
                    dt.datetime.now().astimezone(), names)
    info = {"kind": "compare", "reference": comparison.scenarios[0], "reps": comparison.reps,
            "seed": comparison.configs[0].run.seed, **info}
    (directory / "manifest.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return names
