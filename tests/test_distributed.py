"""Replications on a real Dask LocalCluster equal in-process ones, even when a worker dies."""

import os
import signal

import distributed
import pandas as pd
import pytest

from sim.experiments.replication import run_many
from tests.conftest import small_config


def _work(n_reps: int):
    cfg = small_config(size=600, weeks=40)
    cfg.run.analogue_reference = False
    return [(cfg, rep) for rep in range(n_reps)]


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as c:
        yield c


def test_dask_results_equal_in_process(cluster):
    work = _work(3)
    local = run_many(work, jobs=1)
    remote = run_many(work, jobs=2, executor="dask", scheduler=cluster.scheduler_address)
    assert [(r.scenario, r.rep, r.seed) for r in remote] == [(r.scenario, r.rep, r.seed) for r in local]
    for a, b in zip(local, remote, strict=True):
        pd.testing.assert_frame_equal(a.timeseries, b.timeseries)


def test_worker_killed_mid_run_loses_and_duplicates_nothing(cluster):
    work = _work(6)
    client = distributed.Client(cluster.scheduler_address)
    pids = list(client.run(os.getpid).values())
    client.close()
    done = []

    def kill_one_worker_after_first_result(rep):
        done.append(rep.rep)
        if len(done) == 1:
            os.kill(pids[0], signal.SIGKILL)  # the nanny restarts it; its task goes elsewhere

    remote = run_many(work, jobs=2, executor="dask", scheduler=cluster.scheduler_address,
                      on_done=kill_one_worker_after_first_result)
    assert sorted(done) == list(range(6))
    assert [r.rep for r in remote] == list(range(6))
    local = run_many(work[:2], jobs=1)
    for a, b in zip(local, remote[:2], strict=True):
        pd.testing.assert_frame_equal(a.timeseries, b.timeseries)


def test_unreachable_scheduler_is_a_user_error(monkeypatch):
    from sim.errors import UserError
    from sim.experiments import executor

    monkeypatch.setattr(executor, "CONNECT_TIMEOUT", "2s")  # nothing listens there: no need to wait 20 s

    with pytest.raises(UserError, match="--scheduler"):
        run_many(_work(1), executor="dask", scheduler="tcp://127.0.0.1:9")


def test_unknown_executor_is_rejected():
    with pytest.raises(ValueError, match="executor"):
        run_many(_work(1), executor="spark")


def test_digex_run_on_dask_writes_the_same_results(cluster, tmp_path):
    from sim.cli.main import main

    common = ["run", "scenarios/denmark_baseline.yaml", "--reps", "2", "--quiet",
              "--set", "population.size=500", "--set", "run.weeks=30", "--set", "run.analogue_reference=false"]
    assert main([*common, "--out", str(tmp_path / "local")]) == 0
    assert main([*common, "--out", str(tmp_path / "dask"), "--executor", "dask", "--jobs", "2",
                 "--scheduler", cluster.scheduler_address]) == 0
    a = pd.read_parquet(tmp_path / "local" / "timeseries.parquet")
    b = pd.read_parquet(tmp_path / "dask" / "timeseries.parquet")
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "local" / "summary.csv"),
                                  pd.read_csv(tmp_path / "dask" / "summary.csv"))


def test_scheduler_without_dask_executor_is_refused(tmp_path, capsys):
    from sim.cli.main import main

    code = main(["run", "scenarios/denmark_baseline.yaml", "--scheduler", "tcp://127.0.0.1:9",
                 "--out", str(tmp_path / "x")])
    assert code == 2
    assert "--executor dask" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
