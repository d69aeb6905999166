"""``digex sweep``: vary settings of a base scenario over a grid or a Latin hypercube, resumably.

Every point is resolved and validated before anything runs; varied keys
that correlate across the points get a warning (``warn_correlated``), and the
runs still to compute, their size and a rough time are printed, with a
question (or, not on a terminal, a refusal without ``--yes``) past
CONFIRM_SECONDS (``confirm``). Each finished run is stored at once in
``DIR/runs`` (one small file per run); rerunning the same command computes
only the runs that are missing, so an interrupted sweep loses at most the
runs in flight. A stored run that cannot be used
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
from sim.cli.progress import Stages, WeekCounter, count, duration, progress_bar, showing, simulated_weeks
from sim.cli.run import check_executor, positive_int, repeat_options
from sim.errors import ConfigError, UserError

if TYPE_CHECKING:
    from sim.experiments.sweep import RunStore, SweepPlan, SweepResult, Workload
    from sim.model.params import Config

SINGLE_VALUES = (bool, int, float, str, dt.date, type(None))
"""Values of a --vary setting that a point sets directly on the base configuration (not lists or mappings)."""

MAX_CORRELATION = 0.3
"""Largest |r| between two varied keys across a sweep's points that passes without a warning. Above it the
effects of the two keys are hard to tell apart: a regression of a metric on both has its variances inflated by
1 / (1 - r^2) (1.1 at r = 0.3, 16.9 at r = 0.97), and a plot against one key shows the other's effect too."""

CONFIRM_SECONDS = 60
"""Estimated wall time (sim.experiments.sweep.workload) above which a sweep asks before it starts, or, not on a
terminal, needs --yes: a minute is ten replications of the Danish baseline at its full size (20,000 citizens,
730 weeks, with the all-analogue reference run), the size of sweep that a forgotten --set population.size
starts."""


EXAMPLES = """\
  # a grid of 3 x 2 points at 2,000 citizens (without --set population.size every run is full size)
  digex sweep scenarios/denmark_baseline.yaml --vary policy.centre.helpers_per_10k=1,2,4 \\
      --vary policy.optout.rule=in_person,automatic --set population.size=2000
  # a Latin hypercube of 20 points over two ranges, two replications each
  digex sweep scenarios/denmark_baseline.yaml --vary policy.centre.helpers_per_10k=0.5:4 \\
      --vary policy.centre.self_help_share=0:1 --samples 20 --reps 2 --set population.size=2000
  # in a script: start even if it takes long (else refused when not on a terminal)
  digex sweep scenarios/denmark_baseline.yaml --vary policy.centre.helpers_per_10k=1:4:7 --yes
"""
"""Command lines that end ``digex sweep --help``."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` subcommand."""
    p = sub.add_parser(
        "sweep",
        help="vary settings over a grid or a Latin hypercube; resumable",
        description="Run a base scenario at every point of a full factorial grid of --vary values, or at "
        "--samples points of a seeded, space-filling Latin hypercube over the --vary ranges (a warning names any "
        f"two keys that correlate above |r| = {MAX_CORRELATION} in the sample). All points share the same seeds.\n\n"
        "Every run has the base scenario's full size unless --set says otherwise: the Danish baseline is 20,000 "
        "citizens x 730 weeks, about 6 s a run, so a grid of 4 points x 3 reps takes over a minute; test with "
        "--set population.size=2000. The number of runs, their size and a rough time are printed before "
        f"anything runs, and a sweep estimated at more than {CONFIRM_SECONDS} s asks before it starts (--yes "
        "skips the question; when not on a terminal it is refused without --yes).\n\n"
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
    p.add_argument("--yes", action="store_true",
                   help=f"start without asking even when the estimate exceeds {CONFIRM_SECONDS} s (when not on a "
                   "terminal, such a sweep is refused without it)")
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


def write_tables(directory: Path, plan: SweepPlan, result: SweepResult, svg: bool,
                 stage: Callable[[str], None] = lambda _name: None) -> list[str]:
    """points.csv, results.csv, results_by_group.csv, summary.csv and the sweep figures, into ``directory``.

    ``stage(name)`` is called as each stage starts (for progress messages).
    """
    from sim.outputs.figures import save_figure, sweep_figures

    tables = {"points.csv": plan.params(), "results.csv": result.results,
              "results_by_group.csv": result.by_group, "summary.csv": result.summary}
    stage("writing tables")
    for name, frame in tables.items():
        write_file(directory / name, lambda p, f=frame: f.to_csv(p, index=False))
    names = list(tables)
    stage("figures")
    for stem, fig in sweep_figures(result.summary, plan.keys).items():
        names += [f"plots/{p.name}" for p in save_figure(fig, directory / "plots", stem, svg)]
    return names


def write_sweep(out: Path, args: argparse.Namespace, plan: SweepPlan, result: SweepResult, store: RunStore,
                base: Config, started: dt.datetime, stage: Callable[[str], None] = lambda _name: None) -> None:
    """Write the tables, figures, the runs they use and manifest.json as one set that replaces ``out``.

    The runs are hard links to those in ``out/runs`` (copies where links are
    not possible), so the set is complete before it replaces the directory;
    runs of other sweeps left in ``out/runs`` are dropped with it. ``stage(name)``
    is called as each stage starts (for progress messages).
    """
    from sim.experiments.sweep import correlated_keys, file_digests
    from sim.outputs.files import manifest

    with output_dir(out, kind="sweep") as tmp:
        names = write_tables(tmp, plan, result, args.svg, stage)
        stage("manifest.json and the stored runs")
        store.link_into(tmp, (key for *_, key in plan.runs))
        info = manifest([base], [args.base], [], command_line(args), started, dt.datetime.now().astimezone(),
                        [*names, "runs/", "manifest.json"])
        info = {"kind": "sweep", "design": plan.design, "vary": args.vary, "keys": plan.keys,
                "samples": args.samples, "reps": args.reps, "seed": plan.configs[0].run.seed,
                "points": len(plan.points), "correlated_keys": [{"keys": [a, b], "r": round(r, 3)} for a, b, r in
                                                                correlated_keys(plan, MAX_CORRELATION)],
                "runs_computed": result.computed, "runs_reused": result.reused, **info,
                "replications": {"per point": args.reps}, "sha256": file_digests(tmp, names)}
        info["scenarios"][0]["seeds"] = [plan.configs[0].run.seed + r for r in range(args.reps)]
        (tmp / "manifest.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def confirm(load: Workload, reused: int, args: argparse.Namespace, command: str = "sweep") -> bool:
    """Print the size and a rough time of the runs to compute; past CONFIRM_SECONDS ask before starting.

    ``command`` names the digex command in the messages (sweep, sensitivity).

    On a terminal, the question is answered with y or n (False: do not start);
    elsewhere a sweep that long needs ``--yes``, or is refused with a message.
    """
    wall = load.wall_seconds(args.jobs)
    if not args.quiet:
        time = f"; {duration(wall)} with {count(args.jobs, 'job')} (a rough guide)" if load.runs else ""
        print(f"digex {command}: {workload_text(load, reused)}{time}", file=sys.stderr)
    if wall <= CONFIRM_SECONDS or args.yes:
        return True
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise UserError(f"this {command} would take {duration(wall)} ({workload_text(load, reused)}), more than "
                        f"the {CONFIRM_SECONDS} s digex starts without asking; add --yes to start it, or make "
                        "it smaller (--set population.size=2000, --set run.weeks=..., fewer points or --reps)")
    print(f"Start these {count(load.runs, 'run')} ({duration(wall)})? [y/N] ", end="", file=sys.stderr, flush=True)
    if sys.stdin.readline().strip().lower() in ("y", "yes"):
        return True
    print(f"digex: {command} not started; nothing was written", file=sys.stderr)
    return False


def workload_text(load: Workload, reused: int) -> str:
    """'12 runs of 730 weeks x 20,000 citizens = 175,200,000 citizen-weeks (3 stored runs reused)'."""
    def span(pair: tuple[int, int]) -> str:
        return f"{pair[0]:,}" if pair[0] == pair[1] else f"{pair[0]:,}-{pair[1]:,}"

    text = (f"{count(load.runs, 'run')} of {span(load.weeks)} weeks x {span(load.citizens)} citizens = "
            f"{load.citizen_weeks:,} citizen-weeks") if load.runs else "no runs to compute"
    return text + (f" ({count(reused, 'stored run')} reused)" if reused else "")


def warn_correlated(plan: SweepPlan) -> None:
    """Warn (stderr) of varied keys that correlate above MAX_CORRELATION across the points."""
    from sim.experiments.sweep import correlated_keys

    for a, b, r in correlated_keys(plan, MAX_CORRELATION):
        print(f"digex: warning: {a} and {b} are correlated in this sample (r = {r:.2f}, above {MAX_CORRELATION}), "
              "so their effects cannot be told apart; use more --samples or another --seed", file=sys.stderr)


def read_store(out: Path, plan: SweepPlan) -> RunStore:
    """The run store of ``out``, its stored runs read and checked (nothing is created).

    Unusable stored runs are recomputed, with one warning line that names the first.
    """
    from sim.experiments.sweep import RunStore

    store = RunStore(out)
    problems = store.check(key for *_, key in plan.runs)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        print(f"digex: warning: {problems[0]}{more}; recomputing {'it' if len(problems) == 1 else 'them'}",
              file=sys.stderr)
    return store


def run_stored(out: Path, plan: SweepPlan, args: argparse.Namespace, command: str = "sweep"
               ) -> tuple[SweepResult, RunStore, Stages, dt.datetime] | int:
    """Run the replications of ``plan`` not yet stored in ``out/runs``, with a progress bar, storing each at once.

    Estimates and confirms first (``confirm``), creates ``out`` (empty, marked
    as written by ``command``, one of sim.atomic.KINDS) if it is new, and
    returns the tabulated result, the store, the stages (for the messages
    that follow) and when the runs started; or the exit status when nothing
    is to be written: 1 if the runs were not started, 130 if interrupted
    (the finished runs are kept). Shared by ``digex sweep`` and ``digex sensitivity``.
    """
    from sim.experiments.sweep import run_sweep, workload

    store = read_store(out, plan)
    pending = {key: c for *_, c, key in plan.runs if not store.has(key)}
    load = workload(plan, pending)
    if not confirm(load, len({key for *_, key in plan.runs}) - load.runs, args, command):
        return 1
    if not (out / MARKER).exists():  # a new sweep directory: created (empty, marked) to hold runs/ as they finish
        with output_dir(out, kind=command):
            pass
    started = dt.datetime.now().astimezone()
    show = showing(args.quiet)
    weeks = {c.name: simulated_weeks(c) for c in pending.values()}
    label = f"{count(len(plan.points), 'point')} x {count(args.reps, 'rep')}"
    try:
        with progress_bar(sum(simulated_weeks(c) for c in pending.values()), label, show) as bar:
            counter, stages = WeekCounter(bar), Stages(show, bar)
            result = run_sweep(plan, store, args.jobs, lambda r: counter.finished(weeks[r.scenario]), args.executor,
                               args.scheduler, on_week=counter.week, stage=stages)
    except KeyboardInterrupt:
        stored = len(list(store.dir.glob("*.json"))) if store.dir.is_dir() else 0
        print(f"digex: interrupted; {stored} finished run(s) are kept in {out}/runs; rerun the same command "
              "to continue", file=sys.stderr)
        return 130
    return result, store, stages, started


def sweep_command(args: argparse.Namespace) -> int:
    """Plan and validate every point, estimate and confirm, run the missing replications, write the outputs."""
    from sim.experiments.sweep import parse_vary, plan_sweep

    check_executor(args)
    varies = [parse_vary(v) for v in args.vary]
    resolve = resolver(args.base, args.overrides, [v.key for v in varies])
    base = resolve(())
    if args.out is None:
        args.out = str(default_output(f"sweep-{base.name}"))
    out = Path(args.out)
    check_replaceable(out, kind="sweep")
    plan = plan_sweep(resolve, varies, args.reps, args.samples, args.seed)
    warn_correlated(plan)
    ran = run_stored(out, plan, args)
    if isinstance(ran, int):
        return ran
    result, store, stages, started = ran
    write_sweep(out, args, plan, result, store, base, started, stages)
    stages.done()
    if not args.quiet:
        print_summary(result, plan.keys, out)
    return 0


def print_summary(result: SweepResult, keys: Sequence[str], out: Path) -> None:
    """How many runs were computed or reused, the best points, and where the results are."""
    from sim.outputs.format import fmt_interval, fmt_setting

    print(f"{result.computed} run(s) computed, {result.reused} reused from {out}/runs")
    s = result.summary
    ex = s[(s["metric"] == "exclusion_rate") & (s["group_type"] == "all")]
    if ex["mean"].notna().any():
        best = ex.loc[ex["mean"].idxmin()]
        settings = ", ".join(f"{k}={fmt_setting(best[k])}" for k in keys)
        print(f"lowest exclusion rate: point {best['point']} ({settings}): "
              f"{fmt_interval(best['mean'], best['ci_low'], best['ci_high'], best['unit'])}")
    print(f"Results in {out}/ (results.csv, results_by_group.csv, summary.csv, points.csv, plots/, manifest.json); "
          f"report: digex report {out}")
