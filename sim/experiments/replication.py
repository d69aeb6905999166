"""Running replications: one scenario and seed at a time, in-process, in a process pool or on Dask.

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
from typing import Any

import numpy as np
import pandas as pd

from sim.model.metrics import OVERALL_METRICS
from sim.model.model import DigexModel
from sim.model.params import Config, analogue_reference


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


def in_order(futures: list, finished: Callable[[list], Iterable], on_done: Callable[[Any], None] | None) -> list:
    """The results of ``futures`` in their own order; ``on_done`` is called as each finishes.

    ``finished`` yields the futures as they complete (``as_completed`` of
    concurrent.futures or of Dask); each result is placed by its future's
    position, so the list does not depend on which worker finished first.
    """
    position = {f: i for i, f in enumerate(futures)}
    results: list = [None] * len(futures)
    for fut in finished(futures):
        i = position[fut]
        results[i] = fut.result()
        if on_done:
            on_done(results[i])
    return results


class Executor:
    """Where runs go, kept open for many batches: this process, a local process pool or a Dask cluster.

    ``map(fn, args)`` calls the top-level function ``fn`` on each argument
    tuple and returns the results in input order, whatever order they finish
    in. Arguments and results must be plain data (configuration
    dictionaries, seeds, dates, DataFrames): workers receive nothing else
    but a reference to ``fn`` in the installed package. ``local`` with one job
    runs in this process (no ``with`` needed); ``local`` with more jobs starts
    a pool of ``jobs`` processes and ``dask`` connects to ``scheduler`` (or
    starts a LocalCluster of ``jobs`` workers, ``sim.experiments.distributed``) when the
    ``with`` block is entered, and both are closed when it ends, so a
    calibration of hundreds of evaluations starts them once.
    """

    def __init__(self, kind: str = "local", jobs: int = 1, scheduler: str | None = None) -> None:
        if kind not in EXECUTORS:
            raise ValueError(f"executor: unknown executor '{kind}'; use one of {EXECUTORS}")
        self.kind, self.jobs, self.scheduler = kind, jobs, scheduler
        self._pool = None
        self._finished: Callable[[list], Iterable] = as_completed

    @property
    def in_process(self) -> bool:
        """Runs happen in this process, one after the other."""
        return self.kind == "local" and self.jobs <= 1

    def __enter__(self) -> Executor:
        if self.kind == "dask":
            from sim.experiments.distributed import DaskPool

            self._pool = DaskPool(self.scheduler, self.jobs)
            self._finished = self._pool.finished
        elif not self.in_process:
            # forkserver: workers do not inherit the parent's threads (fork would risk deadlocks).
            self._pool = ProcessPoolExecutor(max_workers=self.jobs,
                                             mp_context=multiprocessing.get_context("forkserver"))
        return self

    def __exit__(self, *exc: object) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if self.kind == "dask":
            pool.close()
        else:
            pool.shutdown(cancel_futures=True)

    def map(self, fn: Callable[..., Any], args: Iterable[tuple], on_done: Callable[[Any], None] | None = None) -> list:
        """``fn(*a)`` for each ``a`` in ``args``, in input order; ``on_done(result)`` as each finishes."""
        work = list(args)
        if self.in_process:
            results = []
            for a in work:
                results.append(fn(*a))
                if on_done:
                    on_done(results[-1])
            return results
        if self._pool is None:
            raise RuntimeError(f"a {self.kind} executor with {self.jobs} jobs runs only inside its 'with' block")
        return in_order([self._pool.submit(fn, *a) for a in work], self._finished, on_done)


def run_many(
    jobs_list: Iterable[tuple[Config, int]],
    jobs: int = 1,
    on_done: Callable[[Replication], None] | None = None,
    executor: str = "local",
    scheduler: str | None = None,
) -> list[Replication]:
    """Run (config, rep) pairs; results in input order, identical for any executor and job count.

    ``local``: ``jobs`` worker processes (in-process for one job or one
    replication). ``dask``: a Dask cluster at ``scheduler``, or a LocalCluster
    of ``jobs`` workers when no address is given (``sim/experiments/distributed.py``).
    ``on_done`` is called as each replication finishes (for progress bars).
    """
    work = [(cfg.model_dump(mode="json"), rep) for cfg, rep in jobs_list]
    with Executor(executor, jobs if executor == "dask" else min(jobs, len(work)), scheduler) as pool:
        return pool.map(run_config_dict, work, on_done)


def stack(replications: list[Replication]) -> pd.DataFrame:
    """All replications' weekly metrics in one long frame with scenario and rep columns."""
    frames = []
    for r in replications:
        f = r.timeseries.copy()
        f.insert(0, "rep", np.int32(r.rep))
        f.insert(0, "scenario", r.scenario)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)
