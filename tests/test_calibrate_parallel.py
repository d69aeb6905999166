"""digex calibrate on parallel executors: the fit does not depend on where its replications run.

A tiny calibration (500 citizens, four years, two stages of one parameter,
three replications per evaluation) is fitted in this process, in a local
pool of two processes and on a Dask LocalCluster of two worker processes;
the fitted YAML, the trace and the fit table must be byte for byte the same,
and the pool or cluster must be started once for the whole calibration.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest
import yaml

import sim.experiments.executor
from sim.cli.main import main
from sim.experiments.calibration import load_spec, run_targets
from sim.experiments.executor import Executor

OUTPUTS = ("calibrated.yaml", "trace.csv", "fit.csv", "fit.md")


def tiny_spec(tmp_path: Path) -> Path:
    """A standalone four-year scenario and a two-stage calibration of it with a small budget."""
    base = {"name": "tiny", "run": {"start": dt.date(2012, 1, 2), "weeks": 210, "seed": 7,
                                    "analogue_reference": False},
            "population": {"size": 500}}
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base, sort_keys=False), encoding="utf-8")
    spec = {
        "base": "base.yaml", "output": "fitted.yaml",
        "population": 500, "replications": 3, "seed": 11, "sweeps": 1, "ridge": 0.1,
        "report": {"replications": 3},
        "parameters": {
            "behaviour.enrol_hazard_per_year": {"lower": 0.1, "upper": 3.0, "log": True},
            "policy.optout.awareness": {"lower": 0.1, "upper": 1.0},
        },
        "targets": {
            "enrolled_2014": {"source": "test", "metric": "enrolled_share", "date": dt.date(2014, 9, 26),
                              "value": 0.59, "tolerance": 0.04},
            "exempt_2015": {"source": "test", "metric": "exempt_share", "date": dt.date(2015, 11, 1),
                            "value": 0.11, "tolerance": 0.02},
            "challenged_65_89": {"source": "test", "metric": "digitally_challenged_share", "ages": [65, 89],
                                 "date": dt.date(2015, 6, 1), "kind": "at_least", "value": 0.3,
                                 "tolerance": 0.05, "required": False},
        },
        "stages": [
            {"name": "enrolment", "parameters": ["behaviour.enrol_hazard_per_year"],
             "targets": ["enrolled_2014"], "max_evaluations": 3},
            {"name": "opt-out", "parameters": ["policy.optout.awareness"],
             "targets": ["exempt_2015", "challenged_65_89"], "max_evaluations": 3},
        ],
    }
    path = tmp_path / "tiny_calibration.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def calibrate(spec: Path, out: Path, *options: str) -> dict[str, bytes]:
    """Run digex calibrate; the report files and the fitted YAML as bytes."""
    assert main(["calibrate", str(spec), "--out", str(out), "--quiet", *options]) == 0
    files = {name: (out / name).read_bytes() for name in OUTPUTS}
    files["fitted.yaml"] = (spec.parent / "fitted.yaml").read_bytes()
    return files


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> Path:
    return tiny_spec(tmp_path_factory.mktemp("calibration"))


@pytest.fixture(scope="module")
def in_process(spec: Path) -> dict[str, bytes]:
    return calibrate(spec, spec.parent / "jobs1", "--jobs", "1")


def counting(monkeypatch, module, name: str) -> list:
    """Replace ``module.name`` by a wrapper that records each call, and return the record."""
    calls: list = []
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def test_in_process_fit_writes_the_best_evaluated_values(in_process: dict[str, bytes]) -> None:
    fitted = yaml.safe_load(in_process["fitted.yaml"])
    trace = pd.read_csv(io.BytesIO(in_process["trace.csv"]))
    for stage, path, value in [("enrolment", "behaviour.enrol_hazard_per_year",
                                fitted["behaviour"]["enrol_hazard_per_year"]),
                               ("opt-out", "policy.optout.awareness", fitted["policy"]["optout"]["awareness"])]:
        rows = trace[trace["stage"] == stage]
        assert rows[path].nunique() >= 2  # the search tried several values
        assert value == rows.loc[rows["loss"].idxmin(), path]  # and kept the best one


def test_local_pool_gives_the_same_fit_and_starts_once(spec: Path, in_process, monkeypatch) -> None:
    pools = counting(monkeypatch, sim.experiments.executor, "ProcessPoolExecutor")
    pooled = calibrate(spec, spec.parent / "jobs2", "--jobs", "2")
    assert len(pools) == 1  # one pool for every evaluation and the report
    for name in in_process:
        assert pooled[name] == in_process[name], name


def test_dask_local_cluster_gives_the_same_fit_and_starts_once(spec: Path, in_process, monkeypatch) -> None:
    clusters = counting(monkeypatch, sim.experiments.executor, "connect")
    remote = calibrate(spec, spec.parent / "dask2", "--executor", "dask", "--jobs", "2")
    assert clusters == [(None, 2)]  # one LocalCluster of two workers for the whole calibration
    for name in in_process:
        assert remote[name] == in_process[name], name


def test_run_targets_on_a_pool_ticks_once_per_replication_in_seed_order(spec: Path) -> None:
    s = load_spec(spec)
    config = s.base_config()
    targets = list(s.targets.values())
    seeds = [3, 4, 5, 6, 7]
    ticks: list[int] = []
    alone = run_targets(config, targets, seeds, full=True)
    with Executor("local", 2) as pool:
        pooled = run_targets(config, targets, seeds, full=True, on_run=lambda: ticks.append(1), executor=pool)
    assert len(ticks) == len(seeds)
    for name in alone[0]:
        assert alone[0][name].tolist() == pooled[0][name].tolist(), name
    assert alone[1] == pooled[1]
    for a, b in zip(alone[2], pooled[2], strict=True):
        assert a.equals(b)
    # The seeds give different values, so the element-wise comparison above checks the order.
    assert len(set(alone[0]["enrolled_2014"].tolist())) == len(seeds)


def test_pool_outside_its_with_block_is_refused() -> None:
    with pytest.raises(RuntimeError, match="with"):
        Executor("local", 2).map(print, [(1,)])


def test_unreachable_scheduler_exits_2_and_writes_nothing(tmp_path: Path, capsys, monkeypatch) -> None:
    from sim.experiments import executor

    monkeypatch.setattr(executor, "CONNECT_TIMEOUT", "2s")  # nothing listens there: no need to wait 20 s
    spec = tiny_spec(tmp_path)
    out = tmp_path / "report"
    code = main(["calibrate", str(spec), "--out", str(out), "--executor", "dask",
                 "--scheduler", "tcp://127.0.0.1:1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--scheduler tcp://127.0.0.1:1: cannot connect to a Dask scheduler" in err
    assert err.count("\n") == 1
    assert not out.exists() and not (tmp_path / "fitted.yaml").exists()


def test_scheduler_without_dask_executor_is_refused(tmp_path: Path, capsys) -> None:
    spec = tiny_spec(tmp_path)
    out = tmp_path / "report"
    assert main(["calibrate", str(spec), "--out", str(out), "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "--scheduler needs --executor dask" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "fitted.yaml").exists()
