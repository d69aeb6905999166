"""``digex sweep``: vary settings of a base scenario over a grid or a Latin hypercube, resumably.

Every point is resolved and validated before anything runs. Each finished
run is stored at once in ``DIR/runs`` (one small file per run); rerunning the
same command computes only the runs that are missing, so an interrupted
sweep loses at most the runs in flight.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sim.atomic import MARKER, check_replaceable, write_file, write_text
from sim.cli.compare import add_common_arguments
from sim.cli.run import check_executor, positive_int, repeat_options
from sim.errors import ConfigError

if TYPE_CHECKING:
    from sim.experiments.sweep import SweepPlan, SweepResult
    from sim.model.params import Config


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` subcommand."""
    p = sub.add_parser(
        "sweep",
        help="vary settings over a grid or a Latin hypercube; resumable",
        description="Run a base scenario at every point of a full factorial grid of --vary values, or at "
        "--samples points of a seeded Latin hypercube over the --vary ranges. All points share the same seeds. "
        "Writes results.csv (one row per run: settings and end-of-run metrics), results_by_group.csv, "
        "summary.csv (mean and 95% interval per point), points.csv, plots/ and manifest.json; each finished "
        "run is kept in runs/, and rerunning the same command skips runs already there.",
    )
    p.add_argument("base", metavar="BASE", help="base scenario YAML file")
    p.add_argument("--vary", action="append", default=[], metavar="KEY=VALUES",
                   help="a key path and its values: KEY=v1,v2,... or KEY=lo:hi:n (n evenly spaced values; "
                   "lo:hi with --samples); repeatable")
    p.add_argument("--samples", type=positive_int, metavar="K",
                   help="Latin hypercube of K points over the --vary ranges instead of the full grid")
    p.add_argument("--out", metavar="DIR", help="sweep directory (default results/sweep-<base name>); "
                   "rerunning into the same directory resumes")
    add_common_arguments(p, reps_default=3)
    p.set_defaults(func=sweep_command)


def command_line(args: argparse.Namespace) -> str:
    """The sweep as a digex command line that repeats (or resumes) it."""
    parts = ["digex", "sweep", args.base]
    for v in args.vary:
        parts += ["--vary", v]
    if args.samples is not None:
        parts += ["--samples", str(args.samples)]
    return shlex.join(parts + repeat_options(args))


def resolver(base: str, overrides: Sequence[str], vary_keys: Sequence[str]) -> Callable[[Sequence[str]], Config]:
    """Load the base scenario with --set overrides and a point's settings; errors name the --vary option."""
    from sim.scenario.loader import load_scenario

    def resolve(point: Sequence[str]) -> Config:
        try:
            return load_scenario(base, [*overrides, *point])
        except ConfigError as exc:
            key = (exc.file or "").removeprefix("--set ")
            if point and key in vary_keys:
                raise ConfigError(exc.detail, file=f"--vary {key}", key=exc.key, line=None) from None
            raise

    return resolve


def write_tables(directory: Path, plan: SweepPlan, result: SweepResult, svg: bool) -> list[str]:
    """points.csv, results.csv, results_by_group.csv, summary.csv and the sweep figures, each atomically."""
    from sim.experiments.compare import KEYS
    from sim.outputs.figures import cost_vs_exclusion, save_figure, scenario_colours, sweep_effects

    tables = {"points.csv": plan.params(), "results.csv": result.results,
              "results_by_group.csv": result.by_group, "summary.csv": result.summary}
    for name, frame in tables.items():
        write_file(directory / name, lambda p, f=frame: f.to_csv(p, index=False))
    names = list(tables)
    points = result.summary.assign(scenario="point " + result.summary["point"].astype(str))
    labels = list(dict.fromkeys(points["scenario"]))
    figures = {"sweep_effects": sweep_effects(result.summary, plan.keys),
               "cost_vs_exclusion": cost_vs_exclusion(points[[*KEYS, "scenario", "mean", "ci_low", "ci_high",
                                                              "n_reps"]], scenario_colours(labels))}
    for stem, fig in figures.items():
        names += [f"plots/{p.name}" for p in save_figure(fig, directory / "plots", stem, svg)]
    return names


def sweep_command(args: argparse.Namespace) -> int:
    """Plan and validate every point, run the missing replications, write the tables and figures."""
    from tqdm import tqdm

    from sim.experiments.sweep import RunStore, parse_vary, plan_sweep, run_sweep
    from sim.outputs.files import manifest

    check_executor(args)
    varies = [parse_vary(v) for v in args.vary]
    resolve = resolver(args.base, args.overrides, [v.key for v in varies])
    plan = plan_sweep(resolve, varies, args.reps, args.samples, args.seed)
    base = resolve(())
    args.out = args.out or str(Path("results") / f"sweep-{base.name}")
    out = Path(args.out)
    check_replaceable(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).touch()
    started = dt.datetime.now().astimezone()
    quiet = args.quiet or not sys.stderr.isatty()
    store = RunStore(out)
    pending = {key for *_, key in plan.runs() if not store.has(key)}
    try:
        with tqdm(total=len(pending), unit="run", disable=quiet, file=sys.stderr, dynamic_ncols=True,
                  desc=f"{len(plan.points)} points x {args.reps} reps") as bar:
            result = run_sweep(plan, out, args.jobs, lambda _r: bar.update(1), args.executor, args.scheduler)
    except KeyboardInterrupt:
        stored = len(list((out / "runs").glob("*.json"))) if (out / "runs").is_dir() else 0
        print(f"digex: interrupted; {stored} finished run(s) are kept in {out}/runs; rerun the same command "
              "to continue", file=sys.stderr)
        return 130
    names = write_tables(out, plan, result, args.svg)
    info = manifest([base], [args.base], [], command_line(args), started, dt.datetime.now().astimezone(),
                    [*names, "runs/", "manifest.json"])
    info = {"kind": "sweep", "design": plan.design, "vary": args.vary, "keys": plan.keys, "samples": args.samples,
            "reps": args.reps, "seed": plan.configs[0].run.seed, "points": len(plan.points),
            "runs_computed": result.computed, "runs_reused": result.reused, **info,
            "replications": {"per point": args.reps}}
    info["scenarios"][0]["seeds"] = [plan.configs[0].run.seed + r for r in range(args.reps)]
    write_text(out / "manifest.json", json.dumps(info, indent=2) + "\n")
    if not args.quiet:
        print_summary(result, plan.keys, out)
    return 0


def print_summary(result: SweepResult, keys: Sequence[str], out: Path) -> None:
    """How many runs were computed or reused, the best points, and where the results are."""
    print(f"{result.computed} run(s) computed, {result.reused} reused from {out}/runs")
    s = result.summary
    ex = s[(s["metric"] == "exclusion_rate") & (s["group_type"] == "all")]
    if len(ex):
        best = ex.loc[ex["mean"].idxmin()]
        settings = ", ".join(f"{k}={best[k]}" for k in keys)
        print(f"lowest exclusion rate: point {best['point']} ({settings}): {best['mean']:.4g} "
              f"[{best['ci_low']:.4g}, {best['ci_high']:.4g}]")
    print(f"Results in {out}/ (results.csv, results_by_group.csv, summary.csv, points.csv, plots/, manifest.json); "
          f"report: digex report {out}")
