"""Comparing scenarios under common random numbers: paired replications and their intervals.

Every compared scenario runs with the same base seed, so replication r of each
scenario uses seed ``run.seed + r`` and starts from the same population, deaths,
births and task arrivals (docs/ODD.md section 4, Stochasticity). The difference
between two scenarios is then estimated from the per-replication differences of
end-of-run values (a paired interval, ``sim.experiments.stats``), which is far narrower than comparing
two independent intervals when the scenarios are positively correlated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.errors import UserError
from sim.experiments.replication import Replication, replication_work, run_many
from sim.experiments.stats import interval_covers, paired_difference, summarise, summarise_columns, unit_of
from sim.model import keypath
from sim.model.params import Config
from sim.model.series import end_of_run, metric_order

KEYS = ("metric", "group_type", "group")
"""Columns that identify one reported value in a replication's end-of-run summary."""


def common_seed(configs: Sequence[Config], seed: int | None = None) -> list[Config]:
    """Copies of the scenarios sharing one base seed: ``seed``, or the first scenario's run.seed.

    Common random numbers need the same population and horizon too, so the
    scenarios must agree on run.start, run.weeks and population.size.
    """
    base = configs[0].run.seed if seed is None else seed
    if base < 0:
        raise UserError(f"--seed: must be non-negative, got {base}")
    for key in ("run.start", "run.weeks", "population.size"):
        values = {c.name: keypath.get(c, key) for c in configs}
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


def comparison_table(ends: pd.DataFrame, scenarios: Sequence[str], posterior: bool = False) -> pd.DataFrame:
    """Per metric and group: each scenario's mean and 95% interval, and its paired difference from the first.

    Columns: metric, unit, group_type, group, scenario, mean, ci_low, ci_high,
    n_reps, reference, diff, diff_ci_low, diff_ci_high, n_pairs,
    interval_covers. The difference is scenario minus reference over
    replications with the same seed (and, with ``posterior``, the same
    posterior draw); it is empty for the reference itself.
    ``interval_covers`` says which uncertainty the intervals cover
    (``sim.experiments.stats.interval_covers``).
    """
    ref = scenarios[0]
    summary = summarise(ends, [*KEYS, "scenario"])
    wide = ends.pivot(index=list(KEYS), columns=["scenario", "seed"], values="value")
    units = wide.index.get_level_values("metric").astype(str).map(unit_of).to_numpy()
    diffs = []
    for s in scenarios[1:]:
        seeds = sorted(set(wide[ref].columns) & set(wide[s].columns))
        a, b = wide[ref][seeds].to_numpy(float), wide[s][seeds].to_numpy(float)
        d = pd.DataFrame(dict(zip(["diff", "diff_ci_low", "diff_ci_high", "n_pairs"], paired_difference(a, b, units),
                                  strict=True)), index=wide.index)
        diffs.append(d.reset_index().assign(scenario=s))
    table = summary.merge(pd.concat(diffs, ignore_index=True) if diffs else
                          pd.DataFrame(columns=[*KEYS, "scenario", "diff", "diff_ci_low", "diff_ci_high", "n_pairs"]),
                          on=[*KEYS, "scenario"], how="left")
    table["n_pairs"] = table["n_pairs"].astype("Int64")
    table.insert(1, "unit", table.pop("unit"))
    table.insert(table.columns.get_loc("diff"), "reference", ref)
    table["scenario"] = pd.Categorical(table["scenario"], categories=list(scenarios), ordered=True)
    table = metric_order(table.sort_values("scenario", kind="stable"))
    table["scenario"] = table["scenario"].astype(str)
    table["interval_covers"] = interval_covers(posterior)
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
        rep.timeseries = end_of_run(ts)

    def summary(self, scenarios: Sequence[str], posterior: bool = False) -> pd.DataFrame:
        """Weekly mean, ci_low, ci_high, n_reps and interval_covers (``comparison_table``) per scenario, metric
        and group."""
        if self.template is None:
            raise ValueError("no replications were stored")
        frames = []
        units = self.template["metric"].astype(str).map(unit_of).to_numpy()
        for s in scenarios:
            reps = sorted(r for (name, r) in self.values if name == s)
            mean, lo, hi, n = summarise_columns(np.vstack([self.values[(s, r)] for r in reps]), units)
            f = self.template.copy()
            f.insert(0, "scenario", s)
            f["mean"], f["ci_low"], f["ci_high"], f["n_reps"] = mean, lo, hi, n.astype(np.int32)
            f["interval_covers"] = interval_covers(posterior)
            frames.append(f)
        return pd.concat(frames, ignore_index=True)


@dataclass
class Comparison:
    """Results of a comparison: labels, end-of-run values per replication, weekly summaries and the table;
    ``posterior``: replication r of every scenario used posterior draw r."""

    configs: list[Config]
    reps: int
    replications: list[Replication]
    ends: pd.DataFrame
    weekly: pd.DataFrame
    table: pd.DataFrame
    posterior: bool = False

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
    on_week: Callable[[int], None] | None = None,
    stage: Callable[[str], None] = lambda _name: None,
    drawn: Mapping[str, Sequence[Config]] | None = None,
) -> Comparison:
    """Run ``reps`` replications of every scenario (already sharing a seed) and compare them with the first.

    ``jobs``, ``executor`` and ``scheduler`` say where replications run, ``on_done`` and ``on_week`` report
    progress (``sim.experiments.replication.run_many``), and ``stage(name)`` is called as each stage after the
    runs starts. With ``drawn`` replication r of every scenario runs with posterior draw r
    (``sim.experiments.replication.replication_work``), so the pairs share their draw as well as their seed.
    """
    if reps < 1:
        raise UserError(f"--reps: must be at least 1, got {reps}")
    store = WeeklyStore()

    def done(r: Replication) -> None:
        store.add(r)
        if on_done:
            on_done(r)

    results = run_many(replication_work(configs, reps, drawn), jobs=jobs, on_done=done, executor=executor,
                       scheduler=scheduler, on_week=on_week)
    names = [c.name for c in configs]
    stage("weekly means and intervals")
    posterior = drawn is not None
    weekly = store.summary(names, posterior)
    stage("end-of-run intervals and paired differences")
    ends = end_values(results)
    return Comparison(list(configs), reps, results, ends, weekly, comparison_table(ends, names, posterior), posterior)
