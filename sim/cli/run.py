"""``digex run``: run scenarios with replications and write the results directory.

Every scenario is loaded and validated, and the output directory checked
(``sim.atomic.check_replaceable``), before anything runs; the results are
written atomically (``sim.atomic.output_dir``), so a bad scenario, a full disk
or an interrupted run leaves no output behind. With ``--posterior K``,
replication r runs with posterior draw r of the calibrated parameters
(``sim.scenario.posterior``), every draw checked before anything runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sim.atomic import check_replaceable, default_output, output_dir
from sim.cli.progress import Stages, WeekCounter, count, progress_bar, showing, simulated_weeks
from sim.errors import UserError
from sim.experiments.executor import EXECUTORS, check_scheduler

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from sim.experiments.replication import Replication
    from sim.model.params import Config
    from sim.scenario.posterior import PosteriorRun

HEADLINE = ("exclusion_rate", "non_take_up_rate", "exempt_share", "cost_per_citizen_year_dkk")
"""Metrics printed after a run (all metrics are in summary.csv)."""

MAX_REPS = 10_000
"""Most replications per scenario (--reps): intervals narrow as 1/sqrt(reps), so 10,000 replications resolve
differences a hundred times smaller than the spread of one run, far below what the model's parameters can
support; more only fills memory and time."""

MAX_JOBS = 256
"""Most worker processes (--jobs): more than the cores of one machine, and each worker holds a model of its own."""

MAX_SERIES_WEEKS = 250_000
"""Most replication-weeks of a run or compare (--reps x run.weeks, summed over the scenarios): every
replication's weekly series (337 values a week, about 9 KB in a run and 26 KB in a compare) is held in memory
until the tables are written, so the limit keeps them below about 2.3 GB (run) and 6.5 GB (compare); 342
replications of a 730-week scenario fit."""


def int_between(minimum: int, maximum: int | None, hint: str) -> Callable[[str], int]:
    """An argparse type: a whole number from ``minimum`` to ``maximum`` (``hint`` words the bounds in the error)."""

    def parse(text: str) -> int:
        quoted = text if len(text) <= 20 else f"{text[:17]}..."
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{quoted}' is not a whole number") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be {hint}, got {quoted}")
        return value

    return parse


positive_int = int_between(1, None, "at least 1")
seed_int = int_between(0, None, "0 or more")
reps_int = int_between(1, MAX_REPS, f"from 1 to {MAX_REPS:,} (more cannot narrow the intervals usefully)")
jobs_int = int_between(1, MAX_JOBS, f"from 1 to {MAX_JOBS} (each worker holds a model of its own)")


class Given(argparse.Action):
    """Store an option's value and note in ``namespace.given`` that it was given (so a default is told apart from
    the same value given: ``check_posterior``)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        """Set the value and record the option's destination as given."""
        setattr(namespace, self.dest, values)
        namespace.given = {*getattr(namespace, "given", ()), self.dest}


def add_posterior_arguments(p: argparse.ArgumentParser) -> None:
    """--posterior K and --posterior-file PATH: replication r with posterior draw r (``sim.scenario.posterior``)."""
    p.add_argument("--posterior", type=reps_int, metavar="K",
                   help="run K replications, replication r with posterior draw r of the calibrated parameters and "
                   "seed S + r (the same pair in every scenario), so the 95%% intervals cover parameter uncertainty "
                   "as well as simulation noise; replaces --reps (which, if given too, must be K); a scenario's own "
                   "settings and --set keep their values")
    p.add_argument("--posterior-file", metavar="PATH",
                   help="posterior draws to use (default: calibrated_posterior.csv beside the calibrated.yaml that "
                   "the scenarios extend)")


def check_posterior(args: argparse.Namespace) -> None:
    """--posterior K runs K replications: --reps, if given too, must be K; --posterior-file needs --posterior."""
    if args.posterior is None:
        if args.posterior_file is not None:
            raise UserError("--posterior-file needs --posterior K (how many draws to run)")
        return
    if "reps" in getattr(args, "given", ()) and args.reps != args.posterior:
        raise UserError(f"--reps {args.reps} and --posterior {args.posterior} disagree: --posterior K runs K "
                        "replications, one per posterior draw; leave out --reps")
    args.reps = args.posterior


def plan_draws(args: argparse.Namespace, configs: Sequence[Config]) -> PosteriorRun | None:
    """With --posterior K: every replication's drawn configuration (``sim.scenario.posterior.plan_posterior``),
    made before anything runs; the file used becomes --posterior-file of the command line that repeats the run."""
    if args.posterior is None:
        return None
    from sim.scenario.posterior import plan_posterior

    plan = plan_posterior(configs, args.scenarios, args.overrides, args.posterior, args.posterior_file)
    args.posterior_file = plan.file
    return plan


def add_executor_arguments(p: argparse.ArgumentParser) -> None:
    """--jobs, --executor and --scheduler: where replications run (local processes or a Dask cluster)."""
    p.add_argument("--jobs", type=jobs_int, default=1, metavar="J",
                   help=f"worker processes, or LocalCluster workers with --executor dask (default 1, at most "
                   f"{MAX_JOBS}); results do not depend on it")
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="local worker processes (default) or a Dask distributed cluster (docs/scaling.md)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler address, e.g. tcp://host:8786 (with --executor dask; default: "
                   "a LocalCluster of --jobs workers)")


def check_executor(args: argparse.Namespace) -> None:
    """--scheduler only makes sense with --executor dask, and must be a Dask address."""
    if args.scheduler and args.executor != "dask":
        raise UserError("--scheduler needs --executor dask")
    check_scheduler(args.scheduler)


def check_workload(configs: list[Config], reps: int) -> None:
    """Refuse more replication-weeks than MAX_SERIES_WEEKS (their weekly series are all held in memory)."""
    weeks = sum(c.run.weeks for c in configs)
    if reps * weeks > MAX_SERIES_WEEKS:
        raise UserError(f"--reps {reps} x {weeks:,} weeks ({len(configs)} scenario(s)) = {reps * weeks:,} "
                        f"replication-weeks, above the limit of {MAX_SERIES_WEEKS:,} (every weekly series is "
                        f"held in memory); use at most --reps {max(1, MAX_SERIES_WEEKS // weeks):,} or fewer weeks")


def repeat_options(args: argparse.Namespace) -> list[str]:
    """--reps (or --posterior and --posterior-file), --seed, --set, --out, --jobs, --executor, --scheduler (and
    --svg where the command has it) as given, for the command line in manifest.json that repeats a run, compare
    or sweep."""
    if getattr(args, "posterior", None) is not None:
        parts = ["--posterior", str(args.posterior), "--posterior-file", str(args.posterior_file)]
    else:
        parts = ["--reps", str(args.reps)]
    if args.seed is not None:
        parts += ["--seed", str(args.seed)]
    for o in args.overrides:
        parts += ["--set", o]
    parts += ["--out", str(args.out), "--jobs", str(args.jobs)]
    if args.executor != "local":
        parts += ["--executor", args.executor] + (["--scheduler", args.scheduler] if args.scheduler else [])
    return parts + (["--svg"] if getattr(args, "svg", False) else [])


EXAMPLES = """\
  # the Danish baseline at its full size (20,000 citizens, 2012-2025): about 6 s a replication
  digex run scenarios/denmark_baseline.yaml
  # ten replications at 5,000 citizens on two cores, with 95% intervals
  digex run scenarios/denmark_baseline.yaml --reps 10 --jobs 2 --set population.size=5000
  # two scenarios into one folder, with a changed lever and another base seed
  digex run scenarios/denmark_baseline.yaml scenarios/nordic_hybrid.yaml --reps 5 \\
      --set policy.centre.helpers_per_10k=4 --seed 7 --out results/two
  # 20 replications, each with its own posterior draw: intervals cover parameter uncertainty too
  digex run scenarios/denmark_baseline.yaml --posterior 20 --jobs 2 --set population.size=5000
"""
"""Command lines that end ``digex run --help``."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``run`` subcommand."""
    p = sub.add_parser(
        "run",
        help="run scenarios and write summaries, time series, plots and a manifest",
        description="Run one or more scenario files with replications. Writes summary.csv, "
        "summary_by_group.csv, timeseries.parquet, manifest.json and PNG plots into --out.",
    )
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="scenario YAML file(s)")
    p.add_argument("--reps", type=reps_int, default=1, metavar="N", action=Given,
                   help=f"replications per scenario (default 1; use 10 or more for intervals; at most {MAX_REPS:,}, "
                   f"and --reps x run.weeks summed over the scenarios at most {MAX_SERIES_WEEKS:,})")
    p.add_argument("--seed", type=seed_int, metavar="S", help="base seed (replication r uses S + r); "
                   "default: run.seed of each scenario")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override a scenario key for this run, e.g. --set population.size=2000 (repeatable)")
    p.add_argument("--out", metavar="DIR", help="results directory (default: results/<scenario name>, "
                   "or results/run for several scenarios); replaced only when the new one is complete, and only "
                   "if it is empty or an earlier digex run wrote it; checked before anything runs")
    add_executor_arguments(p)
    add_posterior_arguments(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary on the terminal")
    p.set_defaults(func=run_command)


def load_all(paths: list[str], overrides: list[str], seed: int | None) -> list[Config]:
    """Load and validate every scenario (with overrides) before anything runs; names must differ."""
    from sim.scenario.loader import load_scenario

    extra = [*overrides, f"run.seed={seed}"] if seed is not None else overrides
    configs = [load_scenario(path, extra) for path in paths]
    seen: dict[str, str] = {}
    for path, cfg in zip(paths, configs, strict=True):
        if cfg.name in seen:
            raise UserError(f"{seen[cfg.name]} and {path} are both named '{cfg.name}'; outputs are keyed by "
                            "name, so give each scenario its own name (or --set name=... when running one)")
        seen[cfg.name] = path
    return configs


def command_line(args: argparse.Namespace) -> str:
    """The run as a digex command line that repeats it."""
    return shlex.join(["digex", "run", *args.scenarios, *repeat_options(args)])


def replicate(configs: list[Config], reps: int, jobs: int, counter: WeekCounter | None = None,
              executor: str = "local", scheduler: str | None = None,
              drawn: Mapping[str, Sequence[Config]] | None = None) -> list[Replication]:
    """Every replication of every scenario, in scenario then replication order (``run_many``); with ``drawn``,
    replication r with posterior draw r (``replication_work``).

    ``counter`` counts simulated weeks: week by week for replications run in
    this process (one job), and as each finishes in a process pool or on Dask.
    Results are identical either way. Each replication's label columns are
    made categorical as soon as it arrives, to keep memory low when many
    replications are held.
    """
    from sim.experiments.replication import replication_work, run_many
    from sim.outputs.files import compact_frame

    work = replication_work(configs, reps, drawn)
    by_name = {cfg.name: cfg for cfg in configs}

    def done(r: Replication) -> None:
        r.timeseries = compact_frame(r.timeseries)
        if counter is not None:
            counter.finished(simulated_weeks(by_name[r.scenario]))

    return run_many(work, jobs, on_done=done, executor=executor, scheduler=scheduler,
                    on_week=counter.week if counter is not None else None)


def run_command(args: argparse.Namespace) -> int:
    """Load, run, summarise and write; print where the results are."""
    from sim.outputs.files import write_run_outputs

    check_executor(args)
    check_posterior(args)
    configs = load_all(args.scenarios, args.overrides, args.seed)
    check_workload(configs, args.reps)
    plan = plan_draws(args, configs)
    if args.out is None:
        args.out = str(default_output(configs[0].name if len(configs) == 1 else "run"))
    check_replaceable(args.out, kind="run")
    out = Path(args.out)
    started = dt.datetime.now().astimezone()
    show = showing(args.quiet)
    total = sum(simulated_weeks(c) for c in configs) * args.reps
    with progress_bar(total, f"{count(len(configs), 'scenario')} x {count(args.reps, 'rep')}", show) as bar:
        replications = replicate(configs, args.reps, args.jobs, WeekCounter(bar), args.executor, args.scheduler,
                                 plan.configs if plan is not None else None)
    stages = Stages(show)
    with output_dir(out, kind="run") as tmp:
        write_run_outputs(tmp, configs, args.scenarios, replications, command_line(args), started, stages, plan)
    stages.done()
    if not args.quiet:
        print_headline(out)
    return 0


def print_headline(out: Path) -> None:
    """A few headline metrics per scenario from the summary.csv just written, and where the results are."""
    import pandas as pd

    from sim.experiments.stats import interval_covers, interval_statement
    from sim.outputs.format import fmt_interval

    summary = pd.read_csv(out / "summary.csv")
    rows = summary[summary["metric"].isin(HEADLINE)]
    for name, s in rows.groupby("scenario", sort=False):
        reps = int(s["n_reps"].max())
        posterior = bool((s["interval_covers"] == interval_covers(True)).any())
        print(f"{name}: {f'mean [{interval_statement(reps, posterior)}]' if reps > 1 else 'one replication'}")
        for r in s.itertuples():
            print(f"  {r.metric:<28} {fmt_interval(r.mean, r.ci_low, r.ci_high, r.unit, show_unit=True)}")
    print(f"Results in {out}/ (summary.csv, summary_by_group.csv, timeseries.parquet, manifest.json, plots)")

