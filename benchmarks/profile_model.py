"""Profile one run of the real model with pyinstrument (issue 7): where the weekly step spends its time.

    .venv/bin/python benchmarks/profile_model.py --size 1000000 --weeks 156 --out profile.txt

Prints (or writes) pyinstrument's call tree of building the population, the
weekly steps and ``timeseries()``; ``--twin`` profiles the all-analogue
reference run instead; ``--html`` writes an interactive page. Peak memory
of the process is printed at the end.
"""

from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--weeks", type=int, default=520)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--twin", action="store_true", help="profile the all-analogue reference run")
    ap.add_argument("--interval", type=float, default=0.005, help="sampling interval in seconds")
    ap.add_argument("--out", help="write the profile here (.txt, or .html with --html) instead of printing it")
    ap.add_argument("--html", action="store_true")
    args = ap.parse_args(argv)

    from pyinstrument import Profiler

    from sim.model.model import DigexModel
    from sim.model.params import Config, analogue_reference

    config = Config()
    config.population.size, config.run.weeks = args.size, args.weeks
    if args.twin:
        config = analogue_reference(config)
    profiler = Profiler(interval=args.interval)
    profiler.start()
    model = DigexModel(config, seed=args.seed)
    model.run()
    model.timeseries()
    profiler.stop()
    text = profiler.output_html() if args.html else profiler.output_text(unicode=True, color=False)
    if args.out:
        Path(args.out).write_text(text)
    else:
        print(text)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.size:,} citizens x {args.weeks} weeks; peak memory {peak:,.0f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
