"""Runs on a Dask distributed cluster (``--executor dask``).

``sim.experiments.replication.Executor`` sends work here. Workers receive plain data (a
configuration dictionary, a replication index or seed, dates) and a
reference to a top-level function of the installed digex package
(``sim.experiments.replication.run_config_dict``, ``sim.experiments.calibration.simulate_config_dict``),
never pickled objects from outside the program, so every worker needs digex
installed (same version). A run lost with a dying worker is rescheduled on
another worker by the Dask scheduler (up to its ``allowed-failures``); each
run is collected exactly once, by its position in the work list. Seeds do not
depend on the worker, so results equal those of a local run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sim.errors import UserError


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


class DaskPool:
    """A Dask client (and the LocalCluster digex started, if any) used like a process pool by ``Executor``."""

    def __init__(self, scheduler: str | None, workers: int) -> None:
        self.client, self.cluster = connect(scheduler, workers)

    def submit(self, fn: Callable[..., Any], *args: Any):
        """Schedule ``fn(*args)``; never cached by Dask (``pure=False``), so every run really runs."""
        return self.client.submit(fn, *args, pure=False)

    @staticmethod
    def finished(futures: list) -> Iterable:
        """The futures as they complete."""
        from dask.distributed import as_completed

        return as_completed(futures)

    def close(self) -> None:
        """Close the client (its queued runs are dropped with it) and the LocalCluster if digex started it."""
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()
