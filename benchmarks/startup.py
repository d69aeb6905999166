"""Start-up time of the command line: ``digex --version``, ``--help``, ``validate`` and ``describe``.

Each command runs as a fresh process (``python -m sim ...``), ``--repeat``
times, interleaved with the same commands in a reference checkout when
``--reference DIR`` is given (a ``git worktree`` of an older commit), so that
both are measured side by side on the same machine in the same minutes. The
median wall time of each is printed, with the ratio current / reference.

    .venv/bin/python benchmarks/startup.py
    git worktree add /tmp/digex-ref b72ae06
    .venv/bin/python benchmarks/startup.py --reference /tmp/digex-ref

The checkout whose ``sim`` runs is the working directory of the process, so
both use this environment's Python and libraries.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = (["--version"], ["--help"], ["validate", "scenarios/denmark_baseline.yaml"], ["describe", "policy.optout"])


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo where there is one)."""
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def wall_time(checkout: Path, args: list[str]) -> float:
    """Seconds from start to exit of ``python -m sim ARGS`` run in ``checkout``."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sim", *args], cwd=checkout, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    """Time every command in this checkout (and the reference), interleaved; print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each command (default 5)")
    parser.add_argument("--reference", type=Path, help="an older checkout to measure side by side")
    args = parser.parse_args()
    checkouts = {"current": ROOT} | ({"reference": args.reference.resolve()} if args.reference else {})
    print(f"# {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"median of {args.repeat} runs")
    print("| command | " + " | ".join(f"{k} (s)" for k in checkouts) + (" | ratio |" if args.reference else " |"))
    print("|---|" + "---|" * (len(checkouts) + bool(args.reference)))
    for cmd in COMMANDS:
        times: dict[str, list[float]] = {k: [] for k in checkouts}
        for checkout in checkouts.values():
            wall_time(checkout, cmd)  # warm-up: file cache and byte-code
        for _ in range(args.repeat):
            for key, checkout in checkouts.items():
                times[key].append(wall_time(checkout, cmd))
        medians = {k: statistics.median(v) for k, v in times.items()}
        cells = [f"{medians[k]:.2f}" for k in checkouts]
        if args.reference:
            cells.append(f"{medians['current'] / medians['reference']:.2f}")
        print(f"| `digex {' '.join(cmd)}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
