"""Where runs go: this process, a local process pool or a Dask distributed cluster (``--executor``).

Workers receive plain data (a configuration dictionary, a replication index
or seed, dates) and a reference to a top-level function of the installed
digex package (``sim.experiments.replication.run_config_dict``,
``sim.experiments.calibration.simulate_config_dict``), never pickled objects
from outside the program, so every Dask worker needs digex installed (same
version). A run lost with a dying Dask worker is rescheduled on another
worker by the Dask scheduler (up to its ``allowed-failures``); each run is
collected exactly once, by its position in the work list. Seeds do not
depend on the worker, so results equal those of a run in this process.

Local worker processes end with the digex process that started them, even
when it is killed with SIGKILL (``end_with``): they are children of the
multiprocessing forkserver, which lives as long as they do, so a check of the
parent process (PR_SET_PDEATHSIG, ``os.getppid``) would never fire; each worker
watches the digex process itself instead.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any
from urllib.parse import urlsplit

from sim.atomic import shown
from sim.errors import UserError

EXECUTORS = ("local", "dask")
"""Where replications run: local processes or a Dask distributed cluster."""

SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
"""Protocols of a Dask scheduler address (``--scheduler``)."""

POLL_SECONDS = 0.5
"""How often a worker without ``os.pidfd_open`` checks that the digex process is still there."""


CONNECT_TIMEOUT = "20s"
"""How long to try to reach a ``--scheduler`` before giving up (a Dask time string)."""


def check_scheduler(address: str | None) -> None:
    """Refuse a ``--scheduler`` value that is not a Dask address ``tcp://host:port`` (before any work).

    Other protocols of Dask (tls, ws, wss, ucx) are accepted, and ``host:port`` means tcp.
    """
    if address is None:
        return
    text = address if "://" in address else f"tcp://{address}"
    try:
        parts = urlsplit(text)
        valid = (parts.scheme in SCHEDULER_SCHEMES and bool(parts.hostname) and not parts.path
                 and (parts.port or 0) > 0)
    except ValueError:  # a port that is not a number below 65536, or a broken IPv6 address
        valid = False
    if not valid:
        raise UserError(f"--scheduler '{shown(address)}': expected a Dask scheduler address tcp://host:port "
                        f"(or {', '.join(f'{s}://' for s in SCHEDULER_SCHEMES[1:])})")


def end_with(parent: int) -> None:
    """Worker initializer: end this process as soon as the process ``parent`` has ended (even by SIGKILL).

    A daemon thread waits on a pidfd of ``parent`` (Linux), or else checks
    every POLL_SECONDS that ``parent`` still exists, then exits at once: the
    worker's current run is lost with the process that wanted it.
    """
    threading.Thread(target=_wait_for_end, args=(parent,), name="digex-parent-watch", daemon=True).start()


def _wait_for_end(parent: int) -> None:
    """Block until the process ``parent`` ends, then end this process without cleanup."""
    try:
        fd = os.pidfd_open(parent)
    except (AttributeError, OSError):  # not Linux (or an old kernel), or the parent is gone already
        while _exists(parent):
            time.sleep(POLL_SECONDS)
    else:
        select.select([fd], [], [])  # readable once the parent has ended
    os._exit(1)


def _exists(pid: int) -> bool:
    """Whether a process ``pid`` exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, but belongs to another user
        pass
    return True


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
        return Client(scheduler, timeout=CONNECT_TIMEOUT), None
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
        from dask.distributed import as_completed as dask_as_completed

        return dask_as_completed(futures)

    def close(self) -> None:
        """Close the client (its queued runs are dropped with it) and the LocalCluster if digex started it."""
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


class Executor:
    """Where runs go, kept open for many batches: this process, a local process pool or a Dask cluster.

    ``map(fn, args)`` calls the top-level function ``fn`` on each argument
    tuple and returns the results in input order, whatever order they finish
    in. Arguments and results must be plain data (configuration
    dictionaries, seeds, dates, DataFrames): workers receive nothing else
    but a reference to ``fn`` in the installed package. ``local`` with one job
    runs in this process (no ``with`` needed); ``local`` with more jobs starts
    a pool of ``jobs`` processes and ``dask`` connects to ``scheduler`` (or
    starts a LocalCluster of ``jobs`` workers) when the ``with`` block is
    entered, and both are closed when it ends, so a calibration of hundreds
    of evaluations starts them once.
    """

    def __init__(self, kind: str = "local", jobs: int = 1, scheduler: str | None = None) -> None:
        if kind not in EXECUTORS:
            raise ValueError(f"executor: unknown executor '{kind}'; use one of {EXECUTORS}")
        check_scheduler(scheduler)
        self.kind, self.jobs, self.scheduler = kind, jobs, scheduler
        self._pool = None
        self._finished: Callable[[list], Iterable] = as_completed

    @property
    def in_process(self) -> bool:
        """Runs happen in this process, one after the other."""
        return self.kind == "local" and self.jobs <= 1

    def __enter__(self) -> Executor:
        if self.kind == "dask":
            self._pool = DaskPool(self.scheduler, self.jobs)
            self._finished = self._pool.finished
        elif not self.in_process:
            # forkserver: workers do not inherit the parent's threads (fork would risk deadlocks).
            # end_with: a killed digex takes its workers with it.
            self._pool = ProcessPoolExecutor(max_workers=self.jobs,
                                             mp_context=multiprocessing.get_context("forkserver"),
                                             initializer=end_with, initargs=(os.getpid(),))
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
