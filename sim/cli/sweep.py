"""``digex sweep``: vary settings of a base scenario over a grid or a Latin hypercube, resumably.

Every point is resolved and validated before anything runs. Each finished
run is stored at once in ``DIR/runs`` (one small file per run); rerunning the
same command computes only the runs that are missing, so an interrupted
sweep loses at most the runs in flight. A stored run that cannot be used
(damaged, or made by another digex version) is recomputed, with a warning.

The tables, figures, manifest.json and the runs they use are written as one
set (``sim.atomic.output_dir``): a sweep killed while finishing leaves the
directory as the previous sweep left it, never a mix of both, and the
manifest lists the SHA-256 of every table and figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sim.atomic import MARKER, check_replaceable, default_output, output_dir, write_file
from sim.cli.compare import add_common_arguments
from sim.cli.run import check_executor, positive_int, repeat_options
from sim.errors import ConfigError

if TYPE_CHECKING:
    from sim.experiments.sweep import RunStore, SweepPlan, SweepResult
    from sim.model.params import Config

SINGLE_VALUES = (bool, int, float, str, dt.date, type(None))
"""Values of a --vary setting that a point sets directly on the base configuration (not lists or mappings)."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` subcommand."""
    p = sub.add_parser(
        "sweep",
        help="vary settings over a grid or a Latin hypercube; resumable",
        description="Run a base scenario at every point of a full factorial grid of --vary values, or at "
        "--samples points of a seeded Latin hypercube over the --vary ranges. All points share the same seeds. "
        "Writes results.csv (one row per run: settings and end-of-run metrics), results_by_group.csv, "
        "summary.csv (mean and 95% interval per point), points.csv, plots/ and manifest.json; each finished "
        "run is kept in runs/, and rerunning the same command skips runs already there (a damaged stored run "
        "is recomputed, with a warning). A sweep too large to plan or tabulate is refused at once, with the limit.",
    )
    p.add_argument("base", metavar="BASE", help="base scenario YAML file")
    p.add_argument("--vary", action="append", default=[], metavar="KEY=VALUES",
                   help="a key path and its values: KEY=v1,v2,... or KEY=lo:hi:n (n evenly spaced values; "
                   "lo:hi with --samples); repeatable")
    p.add_argument("--samples", type=positive_int, metavar="K",
                   help="Latin hypercube of K points over the --vary ranges instead of the full grid")
    p.add_argument("--out", metavar="DIR", help="sweep directory (default results/sweep-<base name>); "
                   "rerunning into the same directory resumes; a directory of another digex command is refused")
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
    """Load the base scenario with --set overrides and a point's settings; errors name the --vary option.

    The base scenario is read once: a point whose settings are single values
    outside the timeline is the base configuration with those values set
    (``sim.model.keypath.with_values``), which equals reading the file with
    them as extra overrides; any other point, or one that fails validation,
    is read in full so that its error names the file, key and line.
    """
    from sim.model import keypath
    from sim.scenario.loader import load_scenario, parse_override

    config = load_scenario(base, overrides)
    parse = functools.cache(parse_override)  # a grid repeats each value at many points

    def load(point: Sequence[str]) -> Config:
        try:
            return load_scenario(base, [*overrides, *point])
        except ConfigError as exc:
            key = (exc.file or "").removeprefix("--set ")
            if point and key in vary_keys:
                raise ConfigError(exc.detail, file=f"--vary {key}", key=exc.key, line=None) from None
            raise

    def resolve(point: Sequence[str]) -> Config:
        try:
            values = dict(parse(text) for text in point)
            if all(isinstance(v, SINGLE_VALUES) and not k.startswith("timeline") for k, v in values.items()):
                return keypath.with_values(config, values)
        except (ConfigError, ValueError):  # a bad value: reading the file in full names the file, key and line
            pass
        return load(point)

    return resolve


def write_tables(directory: Path, plan: SweepPlan, result: SweepResult, svg: bool) -> list[str]:
    """points.csv, results.csv, results_by_group.csv, summary.csv and the sweep figures, into ``directory``."""
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


def write_sweep(out: Path, args: argparse.Namespace, plan: SweepPlan, result: SweepResult, store: RunStore,
                base: Config, started: dt.datetime) -> None:
    """Write the tables, figures, the runs they use and manifest.json as one set that replaces ``out``.

    The runs are hard links to those in ``out/runs`` (copies where links are
    not possible), so the set is complete before it replaces the directory;
    runs of other sweeps left in ``out/runs`` are dropped with it.
    """
    from sim.experiments.sweep import file_digests
    from sim.outputs.files import manifest

    with output_dir(out, kind="sweep") as tmp:
        names = write_tables(tmp, plan, result, args.svg)
        store.link_into(tmp, (key for *_, key in plan.runs))
        info = manifest([base], [args.base], [], command_line(args), started, dt.datetime.now().astimezone(),
                        [*names, "runs/", "manifest.json"])
        info = {"kind": "sweep", "design": plan.design, "vary": args.vary, "keys": plan.keys,
                "samples": args.samples, "reps": args.reps, "seed": plan.configs[0].run.seed,
                "points": len(plan.points), "runs_computed": result.computed, "runs_reused": result.reused, **info,
                "replications": {"per point": args.reps}, "sha256": file_digests(tmp, names)}
        info["scenarios"][0]["seeds"] = [plan.configs[0].run.seed + r for r in range(args.reps)]
        (tmp / "manifest.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def open_store(out: Path, plan: SweepPlan) -> RunStore:
    """The run store of ``out`` (a new directory is created empty first), its stored runs read and checked.

    Unusable stored runs are recomputed, with one warning line that names the first.
    """
    from sim.experiments.sweep import RunStore

    if not (out / MARKER).exists():  # a new sweep directory: created (empty, marked) to hold runs/ as they finish
        with output_dir(out, kind="sweep"):
            pass
    store = RunStore(out)
    problems = store.check(key for *_, key in plan.runs)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        print(f"digex: warning: {problems[0]}{more}; recomputing {'it' if len(problems) == 1 else 'them'}",
              file=sys.stderr)
    return store


def sweep_command(args: argparse.Namespace) -> int:
    """Plan and validate every point, run the missing replications, write the tables and figures."""
    from tqdm import tqdm

    from sim.experiments.sweep import parse_vary, plan_sweep, run_sweep

    check_executor(args)
    varies = [parse_vary(v) for v in args.vary]
    resolve = resolver(args.base, args.overrides, [v.key for v in varies])
    base = resolve(())
    if args.out is None:
        args.out = str(default_output(f"sweep-{base.name}"))
    out = Path(args.out)
    check_replaceable(out, kind="sweep")
    plan = plan_sweep(resolve, varies, args.reps, args.samples, args.seed)
    started = dt.datetime.now().astimezone()
    quiet = args.quiet or not sys.stderr.isatty()
    store = open_store(out, plan)
    pending = {key for *_, key in plan.runs if not store.has(key)}
    try:
        with tqdm(total=len(pending), unit="run", disable=quiet, file=sys.stderr, dynamic_ncols=True,
                  desc=f"{len(plan.points)} points x {args.reps} reps") as bar:
            result = run_sweep(plan, store, args.jobs, lambda _r: bar.update(1), args.executor, args.scheduler)
    except KeyboardInterrupt:
        stored = len(list(store.dir.glob("*.json"))) if store.dir.is_dir() else 0
        print(f"digex: interrupted; {stored} finished run(s) are kept in {out}/runs; rerun the same command "
              "to continue", file=sys.stderr)
        return 130
    write_sweep(out, args, plan, result, store, base, started)
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
