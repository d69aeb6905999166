"""Replications on a Dask distributed cluster (``--executor dask``).

Workers receive plain configuration dictionaries and a replication index,
never pickled objects from outside the program; the function they run is
``sim.runner.run_config_dict`` from the installed digex package, so every
worker needs digex installed (same version). A replication lost with a dying
worker is rescheduled on another worker by the Dask scheduler (up to its
``allowed-failures``); each replication is collected exactly once, by its
position in the work list. Seeds depend only on the scenario and the
replication index, so results equal those of a local run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sim.errors import UserError

if TYPE_CHECKING:
    from sim.params import Config
    from sim.runner import Replication


def connect(scheduler: str | None, workers: int):
    """A Dask client: to ``scheduler`` if given, else to a new LocalCluster of ``workers`` processes.

    Returns (client, cluster-or-None); close both when done.
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - dask is a dependency
        raise UserError("--executor dask needs the 'dask[distributed]' package") from None
    if scheduler is None:
        cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        return Client(cluster), cluster
    try:
        return Client(scheduler, timeout="20s"), None
    except OSError as exc:
        raise UserError(f"--scheduler {scheduler}: cannot connect to a Dask scheduler ({exc})") from None


def run_on_dask(
    work: Sequence[tuple[Config, int]],
    scheduler: str | None,
    workers: int,
    on_done: Callable[[Replication], None] | None = None,
) -> list[Replication]:
    """Run (config, rep) pairs on Dask; results in input order, ``on_done`` as each arrives."""
    from dask.distributed import as_completed

    from sim.runner import run_config_dict

    client, cluster = connect(scheduler, workers)
    try:
        futures = [client.submit(run_config_dict, cfg.model_dump(mode="json"), rep, pure=False)
                   for cfg, rep in work]
        position = {f.key: i for i, f in enumerate(futures)}
        results: list[Replication | None] = [None] * len(work)
        for fut in as_completed(futures):
            i = position[fut.key]
            results[i] = fut.result()
            if on_done:
                on_done(results[i])
        return [r for r in results if r is not None]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
