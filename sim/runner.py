"""Running replications: one scenario and seed at a time, in-process or in a process pool.

Workers receive plain configuration dictionaries (validated again on
arrival), never pickled objects from outside the program, and return plain
DataFrames. Results do not depend on the number of workers: replication r of
a scenario always uses seed ``run.seed + r``.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.metrics import OVERALL_METRICS
from sim.model import DigexModel
from sim.params import Config, analogue_reference


@dataclass
class Replication:
    """One finished run: its scenario name, replication index, seed and weekly metrics."""

    scenario: str
    rep: int
    seed: int
    timeseries: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """End-of-run values (the last week): metric, group_type, group, value."""
        ts = self.timeseries
        last = ts[ts["week"] == ts["week"].max()]
        return last[["metric", "group_type", "group", "value"]].reset_index(drop=True)


def replication_seed(config: Config, rep: int) -> int:
    """Seed of replication ``rep``: the scenario's base seed plus the replication index."""
    return config.run.seed + rep


def run_replication(config: Config, rep: int = 0, progress: Callable[[int], None] | None = None) -> Replication:
    """Run one replication; with run.analogue_reference also its all-analogue twin for the savings.

    The reference uses the same seed, so it has the same population, deaths,
    births and task arrivals (common random numbers); only its cost is used,
    so it computes no group breakdown.
    """
    seed = replication_seed(config, rep)
    ts = DigexModel(config, seed=seed).run(progress).timeseries()
    if config.run.analogue_reference:
        ref = DigexModel(analogue_reference(config), seed=seed, group_metrics=False).run()
        cost = ts.loc[ts["metric"] == "cost_total_dkk", "value"].to_numpy()
        ref_cost = ref.metrics.overall[: ref.week, OVERALL_METRICS.index("cost_total_dkk")]
        ts.loc[ts["metric"] == "savings_vs_analogue_dkk", "value"] = ref_cost - cost
    return Replication(config.name, rep, seed, ts)


def run_config_dict(data: dict, rep: int) -> Replication:
    """Validate a configuration dictionary and run one replication (what worker processes call)."""
    return run_replication(Config.model_validate(data), rep)


EXECUTORS = ("local", "dask")
"""Where replications run: local processes or a Dask distributed cluster."""


def run_many(
    jobs_list: Iterable[tuple[Config, int]],
    jobs: int = 1,
    on_done: Callable[[Replication], None] | None = None,
    executor: str = "local",
    scheduler: str | None = None,
) -> list[Replication]:
    """Run (config, rep) pairs; results in input order, identical for any executor and job count.

    ``local``: ``jobs`` worker processes (in-process for one job). ``dask``:
    a Dask cluster at ``scheduler``, or a LocalCluster of ``jobs`` workers
    when no address is given (``sim/distributed.py``). ``on_done`` is called
    as each replication finishes (for progress bars).
    """
    work = list(jobs_list)
    if executor == "dask":
        from sim.distributed import run_on_dask

        return run_on_dask(work, scheduler, jobs, on_done)
    if executor != "local":
        raise ValueError(f"executor: unknown executor '{executor}'; use one of {EXECUTORS}")
    results: list[Replication | None] = [None] * len(work)
    if jobs <= 1 or len(work) <= 1:
        for i, (cfg, rep) in enumerate(work):
            results[i] = run_replication(cfg, rep)
            if on_done:
                on_done(results[i])
    else:
        # forkserver: workers do not inherit the parent's threads (fork would risk deadlocks).
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("forkserver")) as pool:
            futures = {pool.submit(run_config_dict, cfg.model_dump(mode="json"), rep): i
                       for i, (cfg, rep) in enumerate(work)}
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                if on_done:
                    on_done(results[futures[fut]])
    return [r for r in results if r is not None]


def stack(replications: list[Replication]) -> pd.DataFrame:
    """All replications' weekly metrics in one long frame with scenario and rep columns."""
    frames = []
    for r in replications:
        f = r.timeseries.copy()
        f.insert(0, "rep", np.int32(r.rep))
        f.insert(0, "scenario", r.scenario)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)
