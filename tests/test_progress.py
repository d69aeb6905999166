"""Progress on the terminal: bars count simulated weeks of every run (week by week in this process, whole runs from
workers), stage messages after the runs, and a bar that shows when the terminal reports a width of 0."""

import fcntl
import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from sim.cli.main import main
from sim.cli.progress import FALLBACK_COLUMNS, WeekCounter, duration, progress_bar, simulated_weeks, terminal_columns
from sim.cli.run import replicate
from sim.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = str(ROOT / "scenarios" / "denmark_baseline.yaml")
TINY = ["population.size=300", "run.weeks=30", "run.start=2014-06-02", "run.analogue_reference=false"]
TINY_ARGS = [a for o in TINY for a in ("--set", o)]


class FakeBar:
    """Records every update a WeekCounter makes."""

    def __init__(self) -> None:
        self.updates: list[int] = []

    def update(self, n: int) -> None:
        self.updates.append(n)


def tiny(*extra: str):
    return load_scenario(BASELINE, [*TINY, *extra])


# ------------------------------------------------------------------ counting weeks


def test_counter_adds_weeks_one_by_one_in_process_and_whole_runs_from_workers():
    bar = FakeBar()
    counter = WeekCounter(bar)
    for _ in range(30):
        counter.week()
    counter.finished(30)  # a run in this process: its weeks were counted as they were simulated
    assert bar.updates == [1] * 30 + [0]
    bar.updates.clear()
    counter.finished(30)  # a run in a worker: nothing counted yet
    counter.finished(45)
    assert bar.updates == [30, 45]


def test_in_process_replications_count_every_simulated_week_including_the_analogue_twin():
    configs = [tiny(), tiny("run.analogue_reference=true", "name=twin")]
    assert [simulated_weeks(c) for c in configs] == [30, 60]
    bar = FakeBar()
    replicate(configs, 2, 1, WeekCounter(bar))
    weekly = [n for n in bar.updates if n == 1]
    assert len(weekly) == sum(bar.updates) == 2 * (30 + 60)  # week by week, nothing added at the end


def test_worker_replications_add_their_weeks_as_they_finish():
    bar = FakeBar()
    replicate([tiny()], 2, 2, WeekCounter(bar))
    assert bar.updates == [30, 30]


@pytest.mark.parametrize("command", ["run", "compare", "sweep"])
def test_bars_of_run_compare_and_sweep_count_weeks_with_an_eta(tmp_path, capsys, monkeypatch, command):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    alt = str(ROOT / "scenarios" / "warm_hands.yaml")
    argv = {"run": ["run", BASELINE, alt],
            "compare": ["compare", BASELINE, alt],
            "sweep": ["sweep", BASELINE, "--vary", "policy.centre.helpers_per_10k=1,3"]}[command]
    assert main([*argv, *TINY_ARGS, "--reps", "2", "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "120/120" in err and "week/s" in err  # 2 scenarios or points x 2 reps x 30 weeks
    assert re.search(r"\d\d:\d\d<\d\d:\d\d", err)  # elapsed<remaining
    assert "figures ..." in err and "done in" in err  # the stages after the runs
    assert err.index("120/120") < err.index("figures ...")


def test_no_progress_when_stderr_is_not_a_terminal_or_with_quiet(tmp_path, capsys, monkeypatch):
    alt = str(ROOT / "scenarios" / "warm_hands.yaml")
    assert main(["compare", BASELINE, alt, *TINY_ARGS, "--reps", "1", "--out", str(tmp_path / "o")]) == 0
    assert capsys.readouterr().err == ""  # stderr is not a terminal here
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["compare", BASELINE, alt, *TINY_ARGS, "--reps", "1", "--out", str(tmp_path / "o"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------ the width of the terminal


class ZeroWidthTerminal(io.StringIO):
    """A stream that claims to be a terminal with a file descriptor."""

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return 99


def test_a_terminal_reporting_zero_columns_gets_a_bar_of_the_fallback_width(monkeypatch):
    stream = ZeroWidthTerminal()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setattr(os, "get_terminal_size", lambda fd=None: os.terminal_size((0, 24)))
    assert terminal_columns(stream) == 0
    with progress_bar(50, "2 scenarios x 1 rep", show=True) as bar:
        bar.update(50)
    lines = [line for line in re.split(r"[\r\n]", stream.getvalue()) if line]
    assert lines and all(0 < len(line) <= FALLBACK_COLUMNS for line in lines)
    assert "100%" in lines[-1] and "50/50" in lines[-1] and "2 scenarios x 1 rep" in lines[-1]


def test_a_terminal_of_known_width_is_followed(monkeypatch):
    stream = ZeroWidthTerminal()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setattr(os, "get_terminal_size", lambda fd=None: os.terminal_size((60, 24)))
    with progress_bar(50, "run", show=True) as bar:
        bar.update(50)
    lines = [line for line in re.split(r"[\r\n]", stream.getvalue()) if line]
    assert all(len(line) <= 60 for line in lines) and "50/50" in lines[-1]


def test_width_is_zero_without_a_terminal():
    assert terminal_columns(io.StringIO()) == 0


def test_digex_on_a_pseudo_terminal_of_zero_columns_shows_its_progress(tmp_path):
    """The real thing: digex run with its output on a pty whose window is 0 columns wide."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 0, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen([sys.executable, "-m", "sim", "run", BASELINE, *TINY_ARGS, "--out", str(tmp_path / "o")],
                            stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT)
    os.close(slave)
    output = b""
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.wait(timeout=120) == 0
    text = output.decode(errors="replace")
    assert "30/30" in text and "100%" in text and "week" in text, text[-2000:]
    assert "Results in" in text


# ------------------------------------------------------------------ durations


@pytest.mark.parametrize(("seconds", "text"), [(0.2, "under a second"), (42.4, "about 42 s"),
                                                (750, "about 12 min"), (9000, "about 2.5 h")])
def test_durations_read_roughly(seconds, text):
    assert duration(seconds) == text
