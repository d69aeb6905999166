"""Running replications: one scenario and seed at a time, on any executor (``sim.experiments.executor``).

Workers receive plain configuration dictionaries (validated again on
arrival), never pickled objects from outside the program, and return plain
DataFrames. Results do not depend on the number of workers: replication r of
a scenario always uses seed ``run.seed + r`` (and, with ``--posterior K``,
posterior draw r: ``replication_work``).

The all-analogue twin of a replication depends only on its own configuration
and seed, so scenarios of a comparison or sweep that differ only in digital
levers share it: each process keeps the twins' costs it has computed
(``TwinCache``, keyed by ``twin_key``), and ``run_many`` sends the replications
that share a twin to the same worker when there are enough such groups to
keep every worker busy.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.experiments.executor import Executor
from sim.model.mechanisms.demography import DemographyRecord, demography_key
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


def replication_work(configs: Sequence[Config], reps: int,
                     drawn: Mapping[str, Sequence[Config]] | None = None) -> list[tuple[Config, int]]:
    """The (configuration, rep) pairs of ``reps`` replications of every scenario, in scenario then replication
    order. With ``drawn`` (``sim.scenario.posterior.PosteriorRun.configs``) replication r of a scenario runs
    ``drawn[name][r]``, its posterior draw r, with the same seed ``run.seed + r`` as without."""
    return [(drawn[c.name][r] if drawn is not None else c, r) for c in configs for r in range(reps)]


def twin_key(config: Config, seed: int) -> str:
    """What the all-analogue twin (docs/ODD.md section 7.14) of ``config`` run with ``seed`` depends on, as a SHA-256.

    The twin's validated configuration (``analogue_reference``) without the
    scenario's name, description and base seed, plus the seed itself: two
    scenarios that differ only in digital levers have the same key (and each
    posterior draw, which changes the configuration, has a key of its own).
    """
    twin = analogue_reference(config).model_dump(mode="json", exclude={"name": True, "description": True,
                                                                       "run": {"seed"}})
    return hashlib.sha256(f"{seed}|{json.dumps(twin, sort_keys=True)}".encode()).hexdigest()


class TwinCache:
    """The public costs (SAVINGS' cost metrics, weeks x 3) of the most recent twins run in this process."""

    SIZE = 64
    """Twins kept (about 18 KB each at 730 weeks); the least recently used is dropped first."""

    def __init__(self) -> None:
        self._costs: OrderedDict[str, np.ndarray] = OrderedDict()

    def has(self, config: Config, seed: int) -> bool:
        """Whether the twin of ``config`` run with ``seed`` is kept."""
        return twin_key(config, seed) in self._costs

    def costs(self, config: Config, seed: int, progress: Callable[[int], None] | None,
              demography: DemographyRecord | None = None) -> np.ndarray:
        """The twin's weekly costs, run now (``progress`` after each week) unless run before with this key.

        ``demography``: the main run's newcomers, which the twin replays instead of drawing them again
        (``DemographyRecord``; the same results).
        """
        key = twin_key(config, seed)
        if key in self._costs:
            self._costs.move_to_end(key)
            return self._costs[key]
        ref = DigexModel(analogue_reference(config), seed=seed, group_metrics=False, citizen_agents=False,
                         demography_record=demography)
        ref.run(progress)
        cols = [OVERALL_METRICS.index(cost) for cost in SAVINGS.values()]
        self._costs[key] = ref.metrics.overall[: ref.week, cols].copy()
        del ref
        gc.collect()  # the twin's arrays go now, not when the next replication's model is already built
        if len(self._costs) > self.SIZE:
            self._costs.popitem(last=False)
        return self._costs[key]


TWINS = TwinCache()
"""This process's twins (each worker process has its own)."""


def run_replication(config: Config, rep: int = 0, progress: Callable[[int], None] | None = None) -> Replication:
    """Run one replication; with run.analogue_reference also its all-analogue twin for the savings (SAVINGS).

    The reference uses the same seed, so it has the same population, deaths,
    births and task arrivals (common random numbers); it replays the main
    run's newcomers (``DemographyRecord``) instead of drawing them again; only its cost is used,
    so it computes no group breakdown, and it is reused from ``TWINS`` when
    this process has run the same twin before. Neither model is inspected, so
    neither creates Citizen agents. ``progress(week)`` is called after each
    simulated week of both runs (of the main run alone when the twin is reused).

    A Mesa model and its agents refer to each other, so a finished model is
    freed only by the cyclic garbage collector; the main model is collected
    before the twin is built, and the twin when its costs are kept, so that
    two models are never in memory at once (benchmarks/RESULTS.md: peak
    memory at national scale).
    """
    seed = replication_seed(config, rep)
    twin = config.run.analogue_reference
    record = DemographyRecord(demography_key(config, seed)) if twin and not TWINS.has(config, seed) else None
    ts = DigexModel(config, seed=seed, citizen_agents=False, demography_record=record).run(progress).timeseries()
    if twin:
        gc.collect()
        ref_costs = TWINS.costs(config, seed, progress, record)
        for j, (savings, cost) in enumerate(SAVINGS.items()):
            rows = ts["metric"] == savings
            ts.loc[rows, "value"] = ref_costs[:, j] - ts.loc[ts["metric"] == cost, "value"].to_numpy()
    return Replication(config.name, rep, seed, ts)


def run_config_dict(data: dict, rep: int, on_week: Callable[[int], None] | None = None) -> Replication:
    """Validate a configuration dictionary and run one replication (what worker processes call)."""
    return run_replication(Config.model_validate(data), rep, on_week)


def run_config_dicts(items: list[tuple[dict, int]]) -> list[Replication]:
    """``run_config_dict`` for each (configuration dictionary, rep) in turn: replications sharing a twin."""
    return [run_config_dict(data, rep) for data, rep in items]


def twin_groups(jobs_list: list[tuple[Config, int]]) -> list[list[int]]:
    """Positions of the (config, rep) jobs grouped by their twin (``twin_key``), in order of first appearance.

    A job without a twin is a group of its own.
    """
    groups: dict[str, list[int]] = {}
    for i, (cfg, rep) in enumerate(jobs_list):
        key = twin_key(cfg, replication_seed(cfg, rep)) if cfg.run.analogue_reference else f"alone {i}"
        groups.setdefault(key, []).append(i)
    return list(groups.values())


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
    Replications that share a twin (``twin_groups``) go to one worker together
    when there are at least as many such groups as workers, so each twin runs once.
    """
    jobs_list = list(jobs_list)
    work = [(cfg.model_dump(mode="json"), rep) for cfg, rep in jobs_list]
    workers = jobs if executor == "dask" else min(jobs, len(work))
    with Executor(executor, workers, scheduler) as pool:
        if pool.in_process:  # one after the other: TWINS reuses each twin by itself
            fn = functools.partial(run_config_dict, on_week=on_week) if on_week else run_config_dict
            return pool.map(fn, work, on_done)
        groups = twin_groups(jobs_list)
        if len(groups) == len(work) or len(groups) < workers:
            return pool.map(run_config_dict, work, on_done)

        def each_done(batch: list[Replication]) -> None:
            for r in batch:
                on_done(r)

        batches = pool.map(run_config_dicts, [([work[i] for i in g],) for g in groups],
                           each_done if on_done else None)
        results: list = [None] * len(work)
        for g, batch in zip(groups, batches, strict=True):
            for i, r in zip(g, batch, strict=True):
                results[i] = r
        return results


def stack(replications: list[Replication]) -> pd.DataFrame:
    """All replications' weekly metrics in one long frame with scenario and rep columns."""
    frames = []
    for r in replications:
        f = r.timeseries.copy()
        f.insert(0, "rep", np.int32(r.rep))
        f.insert(0, "scenario", r.scenario)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)
