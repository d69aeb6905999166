"""``digex compare``: scenarios under common random numbers, with paired intervals and plots.

Every scenario is loaded and validated, and the output directory checked,
before anything runs; all share one
base seed (``--seed`` or the first scenario's run.seed), so replication r of
each meets the same citizens and needs; with ``--posterior K`` replication r
of each also uses the same posterior draw r (``sim.scenario.posterior``), so
the paired differences stay paired. Results are written atomically
(``sim.atomic.output_dir``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from sim.atomic import check_replaceable, default_output, output_dir
from sim.cli.progress import Stages, WeekCounter, count, progress_bar, showing, simulated_weeks
from sim.cli.run import (
    MAX_REPS,
    MAX_SERIES_WEEKS,
    Given,
    add_executor_arguments,
    add_posterior_arguments,
    check_executor,
    check_posterior,
    check_workload,
    load_all,
    plan_draws,
    repeat_options,
    reps_int,
    seed_int,
)
from sim.errors import UserError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from sim.experiments.compare import Comparison
    from sim.model.params import Config

HEADLINE = ("exclusion_rate", "non_take_up_rate", "alienated_share", "cost_per_citizen_year_dkk")
"""Metrics printed after a comparison (every metric is in comparison.csv)."""


def add_common_arguments(p: argparse.ArgumentParser, reps_default: int) -> None:
    """--reps, --seed, --set, --jobs, --executor, --scheduler, --svg and --quiet, shared by compare and sweep."""
    p.add_argument("--reps", type=reps_int, default=reps_default, metavar="N", action=Given,
                   help=f"replications per scenario or point (default {reps_default}, at most {MAX_REPS:,})")
    p.add_argument("--seed", type=seed_int, metavar="S",
                   help="common base seed (replication r uses S + r); default: run.seed of the first/base scenario")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override a key in every scenario, e.g. --set population.size=2000 (repeatable)")
    add_executor_arguments(p)
    p.add_argument("--svg", action="store_true", help="also write every figure as SVG")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary on the terminal")


EXAMPLES = """\
  # three policies under common random numbers, each against the first
  digex compare scenarios/denmark_baseline.yaml scenarios/easy_optout_automatic.yaml \\
      scenarios/nordic_hybrid.yaml --reps 10 --jobs 2 --set population.size=5000 --out results/compare
  digex report results/compare                   # then one HTML file with every figure
  # the same with 20 posterior draws: draw r and seed r shared by every scenario
  digex compare scenarios/denmark_baseline.yaml scenarios/nordic_hybrid.yaml --posterior 20 --jobs 2 \\
      --set population.size=5000 --out results/compare-posterior
"""
"""Command lines that end ``digex compare --help``."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``compare`` subcommand."""
    p = sub.add_parser(
        "compare",
        help="compare scenarios: paired differences with 95%% intervals, plots",
        description="Run every scenario with the same seeds (common random numbers) and compare each with the "
        "first. Writes comparison.csv (mean and 95% interval per scenario, metric and group, and the paired "
        "difference from the first scenario), end_values.csv, timeseries_summary.parquet, plots/ and "
        "manifest.json into --out. Then `digex report DIR` makes a one-file HTML report. --reps x run.weeks, summed "
        f"over the scenarios, is at most {MAX_SERIES_WEEKS:,} (every weekly series is held in memory).",
    )
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="scenario YAML files; the first is the reference")
    p.add_argument("--out", metavar="DIR", help="results directory (default results/compare); replaced only "
                   "when the new one is complete, and only if it is empty or an earlier digex compare wrote it; "
                   "checked before anything runs")
    add_common_arguments(p, reps_default=10)
    add_posterior_arguments(p)
    p.set_defaults(func=compare_command)


def command_line(args: argparse.Namespace) -> str:
    """The comparison as a digex command line that repeats it."""
    return shlex.join(["digex", "compare", *args.scenarios, *repeat_options(args)])


def compare_with_progress(configs: list[Config], args: argparse.Namespace,
                          drawn: Mapping[str, Sequence[Config]] | None = None) -> tuple[Comparison, Stages]:
    """Run every replication of ``configs`` (``--reps``, ``--jobs``, ``--executor``; with ``drawn``, replication r
    with posterior draw r) with a bar of simulated weeks.

    Returns the comparison and the stage messages, so the caller can report its own writing stages.
    """
    from sim.experiments.compare import run_comparison

    show = showing(args.quiet)
    weeks = {c.name: simulated_weeks(c) for c in configs}
    label = f"{count(len(configs), 'scenario')} x {count(args.reps, 'rep')}"
    with progress_bar(sum(weeks.values()) * args.reps, label, show) as bar:
        counter, stages = WeekCounter(bar), Stages(show, bar)
        comparison = run_comparison(configs, args.reps, args.jobs, lambda r: counter.finished(weeks[r.scenario]),
                                    args.executor, args.scheduler, on_week=counter.week, stage=stages, drawn=drawn)
    return comparison, stages


def compare_command(args: argparse.Namespace) -> int:
    """Load and validate, run every replication, write the comparison directory, print the headline."""
    from sim.experiments.compare import common_seed
    from sim.outputs.files import write_comparison

    if len(args.scenarios) < 2:
        raise UserError("compare needs at least two scenario files (the first is the reference)")
    check_executor(args)
    check_posterior(args)
    configs = common_seed(load_all(args.scenarios, args.overrides, args.seed))
    check_workload(configs, args.reps)
    plan = plan_draws(args, configs)
    if args.out is None:
        args.out = str(default_output("compare"))
    check_replaceable(args.out, kind="compare")
    out = Path(args.out)
    started = dt.datetime.now().astimezone()
    comparison, stages = compare_with_progress(configs, args, plan.configs if plan is not None else None)
    with output_dir(out, kind="compare") as tmp:
        write_comparison(tmp, comparison, args.scenarios, command_line(args), started, args.svg, stages, plan)
    stages.done()
    if not args.quiet:
        print_headline(comparison, out)
    return 0


def print_headline(comparison: Comparison, out: Path) -> None:
    """Headline metrics per scenario with intervals and paired differences, and where the results are."""
    from sim.experiments.stats import interval_statement, unit_of
    from sim.outputs.format import fmt_interval, unit_label

    t = comparison.table
    overall = t[t["group_type"] == "all"]
    ref = comparison.scenarios[0]
    paired = "seed and posterior draw" if comparison.posterior else "seed"
    print(f"{comparison.reps} replication(s) per scenario: "
          + (f"mean [{interval_statement(comparison.reps, comparison.posterior)}]; differences paired by {paired}"
             if comparison.reps > 1 else "no intervals"))
    for metric in HEADLINE:
        rows = overall[overall["metric"] == metric]
        print(f"{metric} ({unit_label(unit_of(metric))}):")
        for r in rows.itertuples():
            line = f"  {r.scenario:<28} {fmt_interval(r.mean, r.ci_low, r.ci_high, r.unit)}"
            if r.scenario != ref:
                line += f"   vs {ref}: {fmt_interval(r.diff, r.diff_ci_low, r.diff_ci_high, r.unit, diff=True)}"
            print(line)
    print(f"Results in {out}/ (comparison.csv, end_values.csv, timeseries_summary.parquet, plots/, manifest.json); "
          f"report: digex report {out}")
