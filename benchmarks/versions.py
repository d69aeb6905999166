"""``make bench``: the current tree against a pinned reference commit, side by side, as whole processes.

Each workload is a ``digex`` command run as a fresh process in this tree and
in a git worktree of the reference commit (default b72ae06, the code the
performance targets are measured against), interleaved (current, reference,
current, ...), ``--repeat`` times each. Both use this environment's Python
and libraries: ``python -m sim`` imports the ``sim`` of its working
directory. The median wall time and peak resident memory of each are
printed with the speed-up (reference / current), and the CPU time (user + system) of each with its
ratio, which a busy machine disturbs far less than the wall time; together with the machine
and the rate of a trivial one-pass NumPy rule on it, so that figures from
different machines can be compared.

    .venv/bin/python benchmarks/versions.py                       # every workload, 3 runs each
    .venv/bin/python benchmarks/versions.py --workloads startup small --repeat 5
    .venv/bin/python benchmarks/versions.py --reference HEAD~3 --json bench.json

Workloads (the targets of the performance issue):

- ``default``: ``digex run scenarios/denmark_baseline.yaml`` (20,000 citizens,
  730 weeks, analogue twin and all outputs);
- ``small``: the same at 1,000 citizens without the twin;
- ``national``: 1,000,000 citizens x 520 weeks with the twin and outputs;
- ``startup``: ``digex --version``;
- ``ensemble``: 8 default replications on a Dask LocalCluster of 1 and of
  2 workers (``--executor dask --jobs 1|2``); besides the two rows, the
  speed-up from 1 to 2 workers in each tree as a share of linear (2x).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = "b72ae06"
BASELINE = "scenarios/denmark_baseline.yaml"
WORKLOADS: dict[str, list[str]] = {
    "default": ["run", BASELINE, "--quiet"],
    "small": ["run", BASELINE, "--quiet", "--set", "population.size=1000", "--set", "run.analogue_reference=false"],
    "national": ["run", BASELINE, "--quiet", "--set", "population.size=1000000", "--set", "run.weeks=520"],
    "startup": ["--version"],
    "ensemble": ["run", BASELINE, "--quiet", "--reps", "8", "--executor", "dask"],
}
"""Workload name -> digex arguments; commands that write get ``--out`` in a temporary directory."""


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo where there is one)."""
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def trivial_rate(agents: int = 1_000_000, steps: int = 50) -> float:
    """Agent-steps per second of a trivial one-pass rule: one uniform draw and one conditional add per agent."""
    rng = np.random.default_rng(0)
    state = np.zeros(agents, dtype=np.int32)
    draw = np.empty(agents)
    start = time.perf_counter()
    for _ in range(steps):
        rng.random(out=draw)
        np.add(state, draw < 0.1, out=state)
    return agents * steps / (time.perf_counter() - start)


def reference_checkout(rev: str) -> Path:
    """A git worktree of ``rev`` in the temporary folder (made once, then reused)."""
    commit = subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout.strip()
    path = Path(tempfile.gettempdir()) / f"digex-ref-{commit}"
    if not (path / "sim").is_dir():
        subprocess.run(["git", "worktree", "add", "--detach", str(path), commit], cwd=ROOT, check=True,
                       capture_output=True)
    return path


def measure(checkout: Path, args: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak resident MB of ``python -m sim ARGS`` run in ``checkout``."""
    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "stderr", "w+b") as err:
        extra = ["--out", str(Path(tmp) / "out")] if args and args[0] == "run" else []
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "sim", *args, *extra], cwd=checkout,
                                stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, for the resource usage
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{checkout}: digex {' '.join(args)} failed: {err.read().decode(errors='replace')[-400:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def compare_trees(trees: dict[str, Path], label: str, command: list[str], repeat: int,
                  warm_up: bool = False) -> dict[str, list[tuple[float, float, float]]]:
    """``repeat`` interleaved runs of ``command`` in each tree; prints the table row (``label``) of their
    medians."""
    runs: dict[str, list[tuple[float, float, float]]] = {tree: [] for tree in trees}
    if warm_up:  # file cache and byte-code, which a one-second workload would feel
        for path in trees.values():
            measure(path, command)
    for _ in range(repeat):
        for tree, path in trees.items():
            runs[tree].append(measure(path, command))
    wall, cpu, peak = ({t: statistics.median(m[i] for m in r) for t, r in runs.items()} for i in range(3))
    print(f"| {label} | {wall['current']:.2f} | {wall['reference']:.2f} | "
          f"{wall['reference'] / wall['current']:.1f}x | {cpu['current']:.2f} | {cpu['reference']:.2f} | "
          f"{cpu['reference'] / cpu['current']:.1f}x | {peak['current']:.0f} | {peak['reference']:.0f} |", flush=True)
    return runs


def print_scaling(results: dict[str, dict[str, list[tuple[float, float, float]]]], labels: list[str]) -> None:
    """The wall-time speed-up from one to two workers in each tree, and its share of linear (2x)."""
    one, two = ({t: statistics.median(m[0] for m in results[label][t]) for t in results[label]} for label in labels)
    print("# ensemble on 2 Dask workers: " + "; ".join(
        f"{tree} {one[tree] / two[tree]:.2f}x ({one[tree] / two[tree] / 2:.0%} of linear)" for tree in one),
        flush=True)


def main() -> None:
    """Run the chosen workloads interleaved in both trees and print a Markdown table of medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", default=REFERENCE, help=f"commit to compare with (default {REFERENCE})")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each workload in each tree (default 3)")
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    args = parser.parse_args()
    trees = {"current": ROOT, "reference": reference_checkout(args.reference)}
    rate = trivial_rate()
    print(f"# {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}, NumPy {np.__version__}; "
          f"trivial one-pass rule: {rate / 1e6:.0f} million agent-steps/s")
    print(f"# reference {args.reference}; median of {args.repeat} interleaved runs; whole processes")
    print("| workload | current (s) | reference (s) | speed-up | current CPU (s) | reference CPU (s) | CPU speed-up "
          "| current peak (MB) | reference peak (MB) |")
    print("|---|---|---|---|---|---|---|---|---|")
    results: dict[str, dict[str, list[tuple[float, float, float]]]] = {}
    for name in args.workloads:
        variants = {f"{name}, {j} worker{'s' * (j > 1)}": [*WORKLOADS[name], "--jobs", str(j)] for j in (1, 2)} \
            if name == "ensemble" else {name: WORKLOADS[name]}
        for label, command in variants.items():
            results[label] = compare_trees(trees, label, command, args.repeat, warm_up=name == "startup")
        if name == "ensemble":
            print_scaling(results, list(variants))
    if args.json:
        args.json.write_text(json.dumps({"machine": cpu_name(), "trivial_rate": rate, "reference": args.reference,
                                         "runs": results}, indent=1))


if __name__ == "__main__":
    main()
