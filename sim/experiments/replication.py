"""Running replications: one scenario and seed at a time, on any executor (``sim.experiments.executor``).

Workers receive plain configuration dictionaries (validated again on
arrival), never pickled objects from outside the program, and return plain
DataFrames. Results do not depend on the number of workers: replication r of
a scenario always uses seed ``run.seed + r``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.experiments.executor import Executor
from sim.model.metrics import OVERALL_METRICS
from sim.model.model import DigexModel
from sim.model.params import Config, analogue_reference
from sim.model.series import end_of_run


@dataclass
class Replication:
    """One finished run: its scenario name, replication index, seed and weekly metrics."""

    scenario: str
    rep: int
    seed: int
    timeseries: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """End-of-run values (``sim.model.series.end_of_run``): metric, group_type, group, value."""
        return end_of_run(self.timeseries)[["metric", "group_type", "group", "value"]]


SAVINGS = {
    "savings_vs_analogue_dkk": "cost_total_dkk",
    "savings_cumulative_dkk": "cost_cumulative_dkk",
    "savings_discounted_dkk": "cost_discounted_dkk",
}
"""Each savings metric and the public cost it compares: the analogue reference's minus the scenario's."""


def replication_seed(config: Config, rep: int) -> int:
    """Seed of replication ``rep``: the scenario's base seed plus the replication index."""
    return config.run.seed + rep


def run_replication(config: Config, rep: int = 0, progress: Callable[[int], None] | None = None) -> Replication:
    """Run one replication; with run.analogue_reference also its all-analogue twin for the savings (SAVINGS).

    The reference uses the same seed, so it has the same population, deaths,
    births and task arrivals (common random numbers); only its cost is used,
    so it computes no group breakdown. Neither model is inspected, so neither
    creates Citizen agents. ``progress(week)`` is called after each
    simulated week of both runs.
    """
    seed = replication_seed(config, rep)
    ts = DigexModel(config, seed=seed, citizen_agents=False).run(progress).timeseries()
    if config.run.analogue_reference:
        ref = DigexModel(analogue_reference(config), seed=seed, group_metrics=False, citizen_agents=False).run(progress)
        for savings, cost in SAVINGS.items():
            ref_cost = ref.metrics.overall[: ref.week, OVERALL_METRICS.index(cost)]
            rows = ts["metric"] == savings
            ts.loc[rows, "value"] = ref_cost - ts.loc[ts["metric"] == cost, "value"].to_numpy()
    return Replication(config.name, rep, seed, ts)


def run_config_dict(data: dict, rep: int, on_week: Callable[[int], None] | None = None) -> Replication:
    """Validate a configuration dictionary and run one replication (what worker processes call)."""
    return run_replication(Config.model_validate(data), rep, on_week)


def run_many(
    jobs_list: Iterable[tuple[Config, int]],
    jobs: int = 1,
    on_done: Callable[[Replication], None] | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    on_week: Callable[[int], None] | None = None,
) -> list[Replication]:
    """Run (config, rep) pairs; results in input order, identical for any executor and job count.

    ``local``: ``jobs`` worker processes (in-process for one job or one
    replication). ``dask``: a Dask cluster at ``scheduler``, or a LocalCluster
    of ``jobs`` workers when no address is given (``sim.experiments.executor``).
    ``on_done`` is called as each replication finishes and, for runs in this
    process only, ``on_week(week)`` after each simulated week (for progress bars).
    """
    work = [(cfg.model_dump(mode="json"), rep) for cfg, rep in jobs_list]
    with Executor(executor, jobs if executor == "dask" else min(jobs, len(work)), scheduler) as pool:
        fn = functools.partial(run_config_dict, on_week=on_week) if on_week and pool.in_process else run_config_dict
        return pool.map(fn, work, on_done)


def stack(replications: list[Replication]) -> pd.DataFrame:
    """All replications' weekly metrics in one long frame with scenario and rep columns."""
    frames = []
    for r in replications:
        f = r.timeseries.copy()
        f.insert(0, "rep", np.int32(r.rep))
        f.insert(0, "scenario", r.scenario)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)
