"""``digex sensitivity``: Sobol indices or Morris screening of the uncertain parameters, resumably.

The parameters, their ranges and log scales come from a calibration file
(default calibration/denmark.yaml), or their ranges from posterior draws;
the design is run as a sweep (``sim.cli.sweep.run_stored``): every run is
stored in ``DIR/runs`` as it finishes and rerunning the same command computes
only the missing ones. The tables, figures, manifest.json and the runs they
use are then written as one set (``sim.atomic.output_dir``). Method and
reading: docs/sensitivity.md (``sim.experiments.sensitivity``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import re
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sim.atomic import check_replaceable, default_output, output_dir, write_file, write_text
from sim.cli.compare import add_common_arguments
from sim.cli.run import check_executor, positive_int, repeat_options
from sim.cli.sweep import CONFIRM_SECONDS, run_stored
from sim.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from sim.experiments.sensitivity import Design, Outcome
    from sim.experiments.sweep import RunStore, SweepResult
    from sim.model.params import Config

EXAMPLES = """\
  # Morris screening of the 19 calibrated parameters, 8 trajectories (160 runs) at 2,000 citizens
  digex sensitivity scenarios/denmark_baseline.yaml --method morris --samples 8 \\
      --set population.size=2000
  # Sobol indices of four of them for the exclusion of those 80+, over the posterior's 95% ranges
  digex sensitivity scenarios/denmark_baseline.yaml --method sobol --samples 32 \\
      --params population.skill_intercept policy.optout.awareness behaviour.learn_by_doing \\
      population.skill_old_age_slope --outcomes exclusion_rate@80+ \\
      --posterior-file scenarios/calibrated_posterior.csv --set population.size=2000
"""
"""Command lines that end ``digex sensitivity --help``."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``sensitivity`` subcommand."""
    from sim.experiments.sensitivity_defaults import DEFAULT_OUTCOMES, DEFAULT_SAMPLES, METHODS, MORRIS_LEVELS

    p = sub.add_parser(
        "sensitivity",
        help="global sensitivity of outcomes to the uncertain parameters (Sobol or Morris); resumable",
        description="Which uncertain parameters drive an outcome? Varies the parameters of a calibration file "
        "(default calibration/denmark.yaml: its bounds and log scales, or with --posterior-file the central 95% of "
        "the posterior draws) over a SALib design and runs the base scenario at every point with the same seeds "
        "(common random numbers). --method sobol: first-order and total Sobol indices from a Saltelli design of "
        "N x (k + 2) runs for k parameters (N = --samples, a power of 2). --method morris: mu* and sigma of the "
        f"elementary effects from --samples trajectories on a {MORRIS_LEVELS}-level grid, r x (k + 1) runs.\n\n"
        "Every run has the base scenario's full size unless --set says otherwise (the Danish baseline: 20,000 "
        "citizens x 730 weeks); test with --set population.size=2000. A design estimated at more than "
        f"{CONFIRM_SECONDS} s asks before it starts (--yes skips the question).\n\n"
        "Writes indices.csv (outcome, parameter, index, value, ci_low, ci_high, method, N), indices.md, "
        "samples.csv (one row per run: parameter values and outcomes), plots/ (one figure per outcome) and "
        "manifest.json; each finished run is kept in runs/, and rerunning the same command skips the runs "
        "already there.",
    )
    p.add_argument("base", metavar="BASE", help="base scenario YAML file")
    p.add_argument("--method", required=True, metavar="METHOD", help=f"{' or '.join(METHODS)}")
    p.add_argument("--params", nargs="+", default=[], metavar="KEY",
                   help="only these uncertain parameters (key paths of the calibration file's parameters block)")
    p.add_argument("--outcomes", nargs="+", default=list(DEFAULT_OUTCOMES), metavar="METRIC",
                   help="end-of-run metrics, each METRIC or METRIC@GROUP (an age band such as 80+, a skill "
                   f"quintile, ...); default {' '.join(DEFAULT_OUTCOMES)}")
    p.add_argument("--samples", type=positive_int, metavar="N",
                   help=f"Sobol: base sample N, a power of 2 (default {DEFAULT_SAMPLES['sobol']}); Morris: "
                   f"trajectories r (default {DEFAULT_SAMPLES['morris']})")
    p.add_argument("--second-order", action="store_true",
                   help="Sobol only: also second-order indices S2 (N x (2k + 2) runs)")
    p.add_argument("--calibration", metavar="FILE",
                   help="calibration file whose parameters block gives the parameters (default: the shipped "
                   "calibration/denmark.yaml)")
    p.add_argument("--posterior-file", metavar="PATH",
                   help="posterior draws (CSV: '#' comments, header draw,<key>,...): each range is their "
                   "2.5-97.5%% quantiles instead of the calibration bounds")
    p.add_argument("--out", metavar="DIR", help="output directory (default results/sensitivity-<base name>); "
                   "rerunning into the same directory resumes; a directory of another digex command is refused")
    add_common_arguments(p, reps_default=1)
    p.add_argument("--yes", action="store_true",
                   help=f"start without asking even when the estimate exceeds {CONFIRM_SECONDS} s")
    p.set_defaults(func=sensitivity_command)


def command_line(args: argparse.Namespace) -> str:
    """The analysis as a digex command line that repeats (or resumes) it."""
    parts = ["digex", "sensitivity", args.base, "--method", args.method, "--samples", str(args.samples)]
    if args.params:
        parts += ["--params", *args.params]
    parts += ["--outcomes", *args.outcomes]
    if args.second_order:
        parts.append("--second-order")
    if args.calibration is not None:
        parts += ["--calibration", args.calibration]
    if args.posterior_file is not None:
        parts += ["--posterior-file", args.posterior_file]
    return shlex.join(parts + repeat_options(args))


def default_calibration() -> Path:
    """The shipped calibration file, calibration/denmark.yaml beside the shipped scenarios."""
    from sim.scenario.loader import shipped_scenarios

    return shipped_scenarios().parent / "calibration" / "denmark.yaml"


def slug(outcome: str) -> str:
    """A file stem for an outcome: 'exclusion_rate@80+' -> 'exclusion_rate-80plus'."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", outcome.replace("+", "plus").replace("@", "-"))


def header(args: argparse.Namespace, design: Design, noise: dict[str, float]) -> str:
    """The top of indices.md: the command, the design, the parameters' ranges and the noise at a fixed point."""
    lines = ["# Sensitivity analysis", "", f"`{command_line(args)}`", "",
             f"{design.plan.design}; {len(design.plan.points):,} points x {design.plan.reps} rep(s); seeds "
             f"{design.seed}..{design.seed + design.plan.reps - 1} at every point (common random numbers).", "",
             "| parameter | low | high | scale |", "|---|---|---|---|"]
    lines += [f"| {v.key} | {v.low:.4g} | {v.high:.4g} | {'log' if v.log else 'linear'} |" for v in design.varies]
    if any(not math.isnan(x) for x in noise.values()):
        lines += ["", "Spread over replications at the same point (standard deviation, mean over points): "
                  + ", ".join(f"{k} {x:.3g}" for k, x in noise.items()) + "."]
    return "\n".join(lines) + "\n\n"


def write_outputs(out: Path, args: argparse.Namespace, design: Design, result: SweepResult, store: RunStore,
                  base: Config, outcomes: Sequence[Outcome], started: dt.datetime,
                  stage: Callable[[str], None]) -> pd.DataFrame:
    """Compute the indices and write them with the tables, figures, runs and manifest.json as one set."""
    from importlib.metadata import version

    import pandas as pd

    from sim.experiments.sensitivity import indices, outcome_table, point_means, zero_effect
    from sim.experiments.sweep import file_digests
    from sim.outputs.figures import save_figure
    from sim.outputs.files import manifest
    from sim.outputs.sensitivity import index_figure, markdown

    stage("sensitivity indices")
    samples = outcome_table(design, result, outcomes)
    table = pd.concat([indices(design, o, point_means(design, samples, o)) for o in outcomes], ignore_index=True)
    noise = {o.name: zero_effect(samples, o) for o in outcomes}
    with output_dir(out, kind="sensitivity") as tmp:
        stage("writing tables and figures")
        write_file(tmp / "indices.csv", lambda p: table.to_csv(p, index=False))
        write_file(tmp / "samples.csv", lambda p: samples.to_csv(p, index=False))
        write_text(tmp / "indices.md", header(args, design, noise) + markdown(table))
        names = ["indices.csv", "indices.md", "samples.csv"]
        for outcome, rows in table.groupby("outcome", sort=False):
            names += [f"plots/{p.name}" for p in save_figure(index_figure(rows), tmp / "plots", slug(outcome),
                                                             args.svg)]
        stage("manifest.json and the stored runs")
        store.link_into(tmp, (key for *_, key in design.plan.runs))
        info = manifest([base], [args.base], [], command_line(args), started, dt.datetime.now().astimezone(),
                        [*names, "runs/", "manifest.json"])
        info = {"kind": "sensitivity", "method": design.method, "salib_version": version("SALib"),
                "design": design.plan.design,
                "samples": design.samples, "second_order": design.second_order, "points": len(design.plan.points),
                "reps": design.plan.reps, "seed": design.seed,
                "calibration": str(args.calibration or default_calibration()), "posterior_file": args.posterior_file,
                "parameters": [{"key": v.key, "low": v.low, "high": v.high, "log": v.log} for v in design.varies],
                "outcomes": [o.name for o in outcomes], "runs_computed": result.computed,
                "runs_reused": result.reused, **info, "replications": {"per point": design.plan.reps},
                "sha256": file_digests(tmp, names)}
        info["scenarios"][0]["seeds"] = [design.seed + r for r in range(design.plan.reps)]
        (tmp / "manifest.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return table


def sensitivity_command(args: argparse.Namespace) -> int:
    """Check every input, plan the design, run the missing runs, compute the indices and write the outputs."""
    from sim.experiments.sensitivity import parse_outcome, plan_sensitivity, uncertain_parameters
    from sim.experiments.sensitivity_defaults import DEFAULT_SAMPLES, METHODS
    from sim.scenario.loader import load_scenario

    check_executor(args)
    if args.method not in METHODS:
        raise UserError(f"--method: '{args.method}' is not a method; choose {' or '.join(METHODS)}")
    if args.second_order and args.method != "sobol":
        raise UserError("--second-order is a Sobol option; Morris has no second-order indices")
    outcomes = [parse_outcome(text) for text in args.outcomes]
    if len({o.name for o in outcomes}) < len(outcomes):
        raise UserError(f"--outcomes: an outcome is given twice ({' '.join(args.outcomes)})")
    if args.samples is None:
        args.samples = DEFAULT_SAMPLES[args.method]
    base = load_scenario(args.base, args.overrides)
    varies = uncertain_parameters(args.calibration or default_calibration(), args.params, args.posterior_file)
    if args.out is None:
        args.out = str(default_output(f"sensitivity-{base.name}"))
    out = Path(args.out)
    check_replaceable(out, kind="sensitivity")
    design = plan_sensitivity(base, varies, outcomes, args.method, args.samples, args.reps, args.seed,
                              args.second_order)
    ran = run_stored(out, design.plan, args, "sensitivity")
    if isinstance(ran, int):
        return ran
    result, store, stages, started = ran
    table = write_outputs(out, args, design, result, store, base, outcomes, started, stages)
    stages.done()
    if not args.quiet:
        print_summary(table, result, out)
    return 0


def print_summary(table: pd.DataFrame, result: SweepResult, out: Path) -> None:
    """How many runs were computed or reused, the three strongest parameters per outcome, and where the results are."""
    from sim.outputs.sensitivity import ranked

    print(f"{result.computed} run(s) computed, {result.reused} reused from {out}/runs")
    for outcome, rows in table.groupby("outcome", sort=False):
        print(f"{outcome}: strongest {', '.join(ranked(rows)[:3])}")
    print(f"Results in {out}/ (indices.csv, indices.md, samples.csv, plots/, manifest.json)")
