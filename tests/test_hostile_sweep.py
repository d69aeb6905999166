"""Hostile input and faults for sweeps and workers (issue 18): kinds of output directory, one atomic set of
outputs tied to one sweep by its manifest, damaged stored runs, size limits, scheduler addresses, and workers
that end with a killed parent."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.cli.main import main
from sim.cli.sweep import resolver
from sim.errors import UserError
from sim.experiments.executor import check_scheduler
from sim.experiments.sweep import MAX_POINTS, MAX_RUNS, RunStore, check_digests, parse_vary, plan_sweep

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--set", "population.size=300", "--set", "run.weeks=60", "--set", "run.analogue_reference=false"]
TABLES = ("points.csv", "results.csv", "results_by_group.csv", "summary.csv")


@pytest.fixture
def base(tmp_path):
    path = tmp_path / "base.yaml"
    path.write_text("name: base\nrun:\n  start: 2014-06-02\n  seed: 4\n")
    return str(path)


def sweep(base: str, out: Path, *options: str) -> int:
    """``digex sweep`` of the tiny base scenario into ``out`` (default: two points, one rep)."""
    vary = list(options) or ["--vary", "policy.centre.helpers_per_10k=1,3"]
    return main(["sweep", base, *vary, "--reps", "1", *TINY, "--out", str(out), "--quiet"])


def snapshot(directory: Path) -> dict[str, str]:
    """SHA-256 of every file under ``directory``, by relative path."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def one_line(err: str) -> str:
    """The single line of an error output (fails on a traceback or several lines)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ------------------------------------------------------------------ kinds of output directory


def test_sweep_into_a_run_directory_is_refused_before_planning(base, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", base, *TINY, "--out", str(out), "--quiet"]) == 0
    before = snapshot(out)
    assert sweep(base, out) == 2
    assert "digex run" in one_line(capsys.readouterr().err)
    assert snapshot(out) == before


# ------------------------------------------------------------------ one atomic set, tied by the manifest


KILL_WHILE_WRITING = """
import os, signal, sys
import sim.cli.sweep as sweep
real = sweep.write_tables
def write_then_die(directory, *args):
    names = real(directory, *args)
    os.kill(os.getpid(), signal.SIGKILL)
sweep.write_tables = write_then_die
from sim.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_second_sweep_killed_while_writing_leaves_the_first_one_whole(base, tmp_path):
    out = tmp_path / "sweep"
    assert sweep(base, out) == 0
    first = {k: v for k, v in snapshot(out).items() if not k.startswith("runs/")}
    argv = ["sweep", base, "--vary", "policy.centre.helpers_per_10k=2,4", "--reps", "1", *TINY,
            "--out", str(out), "--quiet"]
    killed = subprocess.run([sys.executable, "-c", KILL_WHILE_WRITING, *argv], cwd=ROOT, capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    assert {k: v for k, v in snapshot(out).items() if not k.startswith("runs/")} == first
    manifest = json.loads((out / "manifest.json").read_text())
    check_digests(out, manifest["sha256"])
    assert manifest["vary"] == ["policy.centre.helpers_per_10k=1,3"]

    assert main(argv) == 0  # the second sweep again, to the end: reuses the runs stored before the kill
    manifest = json.loads((out / "manifest.json").read_text())
    check_digests(out, manifest["sha256"])
    assert manifest["vary"] == ["policy.centre.helpers_per_10k=2,4"] and manifest["runs_reused"] == 2
    used = set(pd.read_csv(out / "results.csv")["run_key"])
    assert {p.stem for p in (out / "runs").iterdir()} == used  # the runs of this sweep, no others


def test_interrupted_writing_keeps_the_previous_sweep_and_leaves_no_partial_directory(base, tmp_path, monkeypatch,
                                                                                     capsys):
    import sim.cli.sweep as cli_sweep

    out = tmp_path / "sweep"
    assert sweep(base, out) == 0
    before = snapshot(out)

    def interrupted(*_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_sweep, "write_tables", interrupted)
    assert sweep(base, out) == 130
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.yaml", "sweep"]
    capsys.readouterr()


def test_a_directory_mixing_two_sweeps_is_refused(base, tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert sweep(base, a) == 0
    assert sweep(base, b, "--vary", "policy.centre.helpers_per_10k=2,4") == 0
    digests = json.loads((a / "manifest.json").read_text())["sha256"]
    assert main(["report", str(a), "--out", str(tmp_path / "a.html"), "--quiet"]) == 0
    (a / "summary.csv").write_bytes((b / "summary.csv").read_bytes())
    with pytest.raises(UserError, match=r"'summary.csv' is missing or differs.*mixes outputs"):
        check_digests(a, digests)
    capsys.readouterr()
    assert main(["report", str(a), "--out", str(tmp_path / "mixed.html"), "--quiet"]) == 2
    assert "mixes outputs of different commands" in one_line(capsys.readouterr().err)
    assert not (tmp_path / "mixed.html").exists()
    (a / "summary.csv").unlink()
    with pytest.raises(UserError, match="'summary.csv' is missing"):
        check_digests(a, digests)
    for bad in ({"../b/summary.csv": digests["summary.csv"]}, ["summary.csv"], {"summary.csv": 1}):
        with pytest.raises(UserError):
            check_digests(a, bad)
    capsys.readouterr()


# ------------------------------------------------------------------ resuming gives identical tables


def test_resumed_sweep_and_two_jobs_give_identical_tables(base, tmp_path, capsys):
    whole, resumed, jobs2 = tmp_path / "whole", tmp_path / "resumed", tmp_path / "jobs2"
    vary = ["--vary", "policy.centre.helpers_per_10k=1,3", "--vary", "policy.optout.rule=in_person,remote"]
    assert sweep(base, whole, *vary) == 0
    assert sweep(base, resumed, *vary) == 0
    for run in sorted((resumed / "runs").iterdir())[:2]:
        run.unlink()
    assert main(["sweep", base, *vary, "--reps", "1", *TINY, "--out", str(resumed)]) == 0
    assert "2 run(s) computed, 2 reused" in capsys.readouterr().out
    assert main(["sweep", base, *vary, "--reps", "1", *TINY, "--out", str(jobs2), "--jobs", "2", "--quiet"]) == 0
    for name in TABLES:
        assert (resumed / name).read_bytes() == (whole / name).read_bytes(), name
        assert (jobs2 / name).read_bytes() == (whole / name).read_bytes(), name


# ------------------------------------------------------------------ damaged stored runs are recomputed


def _damage(path: Path, how: str) -> None:
    record = json.loads(path.read_text())
    damaged = {
        "garbage": b"\x00\xff not json",
        "empty": b"",
        "truncated": path.read_bytes()[:100],
        "a list": b"[]",
        "another key": json.dumps({**record, "key": "0" * 24}).encode(),
        "another version": json.dumps({**record, "version": "0.0.1"}).encode(),
        "no values": json.dumps({k: v for k, v in record.items() if k != "value"}).encode(),
        "short values": json.dumps({**record, "value": record["value"][:-1]}).encode(),
        "text values": json.dumps({**record, "value": ["x"] * len(record["value"])}).encode(),
        "numeric labels": json.dumps({**record, "metric": [1] * len(record["metric"])}).encode(),
        "huge": b" " * 2_000_000,
    }[how]
    path.write_bytes(damaged)


def test_damaged_stored_run_is_recomputed_with_a_warning(base, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert sweep(base, out) == 0
    tables = {name: (out / name).read_bytes() for name in TABLES}
    damaged = sorted((out / "runs").iterdir())[0]
    _damage(damaged, "garbage")
    capsys.readouterr()
    assert sweep(base, out) == 0
    warning = one_line(capsys.readouterr().err)
    assert warning.startswith("digex: warning: ") and damaged.name in warning and "recomputing it" in warning
    assert {name: (out / name).read_bytes() for name in TABLES} == tables
    assert RunStore(out).check([damaged.stem]) == []  # rewritten whole


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory):
    """The directory and key of one stored run of a tiny sweep."""
    path = tmp_path_factory.mktemp("stored") / "base.yaml"
    path.write_text("name: base\nrun:\n  start: 2014-06-02\n  seed: 4\n")
    out = path.parent / "sweep"
    assert sweep(str(path), out, "--vary", "policy.centre.helpers_per_10k=1") == 0
    return out, next((out / "runs").iterdir()).stem


@pytest.mark.parametrize(("how", "problem"), [
    ("garbage", "not valid JSON"), ("empty", "not valid JSON"), ("truncated", "not valid JSON"),
    ("a list", "not a JSON object"), ("another key", "does not match its file name"),
    ("another version", "made by digex 0.0.1"), ("no values", "needs lists"), ("short values", "of one length"),
    ("text values", "numbers or null"), ("numeric labels", "must be text"), ("huge", "not a stored run"),
])
def test_every_kind_of_damaged_stored_run_is_found(stored_run, tmp_path, how, problem):
    out = tmp_path / "copy"
    shutil.copytree(stored_run[0], out)
    store = RunStore(out)
    _damage(store.path(stored_run[1]), how)
    problems = store.check([stored_run[1]])
    assert len(problems) == 1 and problem in problems[0] and stored_run[1] in problems[0]
    assert not store.has(stored_run[1])


def test_a_damaged_stored_run_read_directly_names_the_file_and_what_to_do(tmp_path):
    store = RunStore(tmp_path)
    store.dir.mkdir()
    store.path("abc").write_text("{")
    with pytest.raises(UserError, match=r"abc\.json: not valid JSON; delete it to recompute the run"):
        store.load("abc")
    assert store.check(["abc", "missing"]) == [f"{store.path('abc')}: not valid JSON"]
    assert store.check(["abc"]) == []  # each problem is reported once
    assert not store.has("abc")


# ------------------------------------------------------------------ size limits, checked before planning


@pytest.mark.parametrize(("options", "limit"), [
    (["--vary", "policy.centre.helpers_per_10k=0:10:1000", "--vary", "policy.centre.hours_per_week=1:40:200"],
     f"at most {MAX_POINTS:,}"),
    (["--vary", "policy.centre.helpers_per_10k=0:10:1000000000000"], f"at most {MAX_POINTS:,}"),
    (["--vary", "policy.centre.helpers_per_10k=0:10:1e300", "--vary", "policy.optout.rule=a,b"], "2e+300 points"),
    (["--vary", "policy.centre.helpers_per_10k=0:10", "--samples", str(MAX_POINTS + 1)], f"at most {MAX_POINTS:,}"),
    (["--vary", "policy.centre.helpers_per_10k=0:10:5000", "--reps", "3"], f"at most {MAX_RUNS:,}"),
])
def test_too_large_a_sweep_is_refused_at_once_with_the_limit(base, tmp_path, capsys, options, limit):
    start = time.perf_counter()
    assert main(["sweep", base, *options, *TINY, "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert time.perf_counter() - start < 10
    line = one_line(capsys.readouterr().err)
    assert limit in line and len(line) < 300
    assert not (tmp_path / "out").exists()


def test_a_large_grid_plans_without_reading_the_scenario_again(base, monkeypatch):
    import sim.scenario.loader as loader

    reads = []
    real = loader.load_scenario
    monkeypatch.setattr(loader, "load_scenario", lambda *a: reads.append(a) or real(*a))
    varies = [parse_vary("policy.centre.helpers_per_10k=0:10:500"), parse_vary("policy.optout.rule=in_person,remote")]
    plan = plan_sweep(resolver(base, TINY[1::2], [v.key for v in varies]), varies, reps=1)
    assert len(plan.configs) == 1000 and len(reads) == 1


@pytest.mark.parametrize("point", [
    ["policy.centre.helpers_per_10k=2.5"], ["population.size=400"], ["policy.optout.rule=remote"],
    ["run.start=2015-01-05"], ["policy.mandate_start=2015-03-01", "policy.centre.hours_per_week=12"],
    ["policy.mandate_start=null"], ["policy.optout={rule: remote}"],
])
def test_a_point_set_on_the_base_equals_the_scenario_read_with_it(base, point):
    from sim.scenario.loader import load_scenario

    keys = [p.partition("=")[0] for p in point]
    assert resolver(base, TINY[1::2], keys)(point) == load_scenario(base, [*TINY[1::2], *point])


def test_a_bad_point_is_still_named_by_its_vary_option(base):
    from sim.errors import ConfigError

    resolve = resolver(base, TINY[1::2], ["policy.centre.helpers_per_10k"])
    with pytest.raises(ConfigError, match=r"--vary policy\.centre\.helpers_per_10k"):
        resolve(["policy.centre.helpers_per_10k=-1"])


# ------------------------------------------------------------------ scheduler addresses


@pytest.mark.parametrize("address", ["notaurl", "tcp://host", "http://host:8786", "tcp://host:99999",
                                     "tcp://host:0", "tcp://:8786", "tcp://host:8786/path", "x" * 100_000])
@pytest.mark.parametrize("command", ["run", "sweep"])
def test_a_bad_scheduler_address_is_one_line_before_any_work(base, tmp_path, capsys, address, command):
    vary = ["--vary", "policy.centre.helpers_per_10k=1,3"] if command == "sweep" else []
    argv = [command, base, *vary, *TINY, "--executor", "dask", "--scheduler", address, "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    line = one_line(capsys.readouterr().err)
    assert "--scheduler" in line and "tcp://host:port" in line and len(line) < 300
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("address", [None, "tcp://127.0.0.1:8786", "localhost:8786", "tls://[::1]:8786",
                                     "ws://scheduler.example.org:80"])
def test_scheduler_addresses_dask_takes_are_accepted(address):
    check_scheduler(address)


# ------------------------------------------------------------------ a killed parent takes its workers with it


def descendants(pid: int) -> set[int]:
    """Process ids of every living descendant of ``pid`` (psutil if installed, else /proc)."""
    try:
        import psutil
    except ImportError:
        return proc_descendants(pid)
    try:
        return {p.pid for p in psutil.Process(pid).children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE}
    except psutil.NoSuchProcess:
        return set()


def proc_descendants(pid: int) -> set[int]:
    """Process ids of every living descendant of ``pid``, from the parent ids in /proc/*/stat."""
    children: dict[int, set[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid = stat.read_text().rpartition(")")[2].split()[:2]
        except OSError:
            continue
        if state != "Z":
            children.setdefault(int(ppid), set()).add(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        new = children.get(todo.pop(), set()) - found
        found |= new
        todo += new
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` that still run (not zombies)."""
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads processes from /proc")
def test_killed_run_takes_its_workers_with_it(tmp_path):
    argv = [sys.executable, "-m", "sim", "run", "scenarios/denmark_baseline.yaml", "--quiet", "--reps", "4",
            "--jobs", "2", "--set", "population.size=3000", "--set", "run.weeks=600", "--out", str(tmp_path / "o")]
    parent = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        children: set[int] = set()
        while len(children) < 4 and time.monotonic() < deadline:  # resource tracker, forkserver, two workers
            time.sleep(0.2)
            children = descendants(parent.pid)
        assert len(children) >= 4, "the workers did not start"
        time.sleep(1)  # the workers are simulating
        children = descendants(parent.pid)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while alive(children) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = alive(children)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"{len(left)} worker process(es) outlived the killed parent"
    assert not (tmp_path / "o").exists()


WATCH = """
import os, sys, time
if sys.argv[2] == "poll":
    del os.pidfd_open
from sim.experiments.executor import end_with
end_with(int(sys.argv[1]))
time.sleep(60)
"""


@pytest.mark.parametrize("how", ["pidfd", "poll"])
def test_a_worker_ends_when_the_process_it_watches_ends(how):
    if how == "pidfd" and not hasattr(os, "pidfd_open"):
        pytest.skip("no pidfd on this system")
    parent = subprocess.Popen(["sleep", "60"])
    worker = subprocess.Popen([sys.executable, "-c", WATCH, str(parent.pid), how], cwd=ROOT)
    try:
        time.sleep(1)
        assert worker.poll() is None
    finally:
        parent.kill()
        parent.wait()
    try:
        assert worker.wait(timeout=10) == 1
    finally:
        worker.kill()
