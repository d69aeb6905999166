"""``digex discover``: scenario discovery over a sweep: where in the varied space an outcome crosses a threshold.

Reads the runs of a ``digex sweep`` directory (checked against its
manifest.json, as ``digex report`` does), marks each run whose outcome (or,
with ``--against``, whose paired difference from a second sweep at the same
points and seeds) lies above or below the threshold, and runs PRIM
(``sim.experiments.discovery``). Every check (the directories, the outcome,
the threshold, the PRIM settings) happens before anything is written; the
tables, figures, summary.md and manifest.json are written as one set
(``sim.atomic.output_dir``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from sim import __version__
from sim.atomic import check_replaceable, default_output, marked_kind, output_dir, shown, write_file, write_text
from sim.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from sim.experiments.discovery import Discovery, Question

KIND = "discover"
"""Kind of output directory written (``sim.atomic.KINDS``)."""

EXAMPLES = """\
  # where, across a sweep's Latin hypercube (see digex sweep --help), does exclusion among the 80+ exceed 5%?
  digex discover results/sweep-denmark_baseline --outcome exclusion_rate@80+ --threshold 0.05 --above
  # where does easy opt-out fail to bring 80+ exclusion below the baseline's? two sweeps, same points and seeds
  digex sweep scenarios/denmark_baseline.yaml --vary policy.optout.awareness=0.1:0.9 \\
      --vary behaviour.letter_read_threshold=0.2:0.8 --samples 30 --set population.size=2000 --out results/sw
  digex sweep scenarios/easy_optout_remote.yaml --vary policy.optout.awareness=0.1:0.9 \\
      --vary behaviour.letter_read_threshold=0.2:0.8 --samples 30 --set population.size=2000 --out results/sw-easy
  digex discover results/sw-easy --against results/sw --outcome exclusion_rate@80+ --threshold 0 --above
"""
"""Command lines that end ``digex discover --help``."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``discover`` subcommand."""
    p = sub.add_parser(
        "discover",
        help="scenario discovery (PRIM): where in a sweep's space an outcome crosses a threshold",
        description="Find the box of a sweep's varied settings (a range per numeric key, a set of values per "
        "listed key) where runs with the outcome above (or below) a threshold concentrate: PRIM (Friedman and "
        "Fisher 1999) from the EMA Workbench (Kwakkel 2017), as in scenario discovery (Bryant and Lempert 2010). "
        "Each run of the sweep is one case. With --against, the outcome is the paired difference SWEEP minus "
        "OTHER at the same points and seeds.\n\n"
        "The reported box is the densest on the peeling trajectory whose coverage is at least --min-coverage "
        "(default 0.5), or the box --box names. Writes box_limits.csv, peeling_trajectory.csv, "
        "feature_scores.csv, cases.csv, summary.md, plots/ and manifest.json into --out.",
    )
    p.add_argument("sweep", metavar="SWEEP_DIR", help="directory written by digex sweep")
    p.add_argument("--outcome", required=True, metavar="METRIC[@GROUP]",
                   help="end-of-run metric (digex metrics lists them), overall or of one group: exclusion_rate, "
                   "exclusion_rate@80+, 'exclusion_rate@Q1 lowest'")
    p.add_argument("--threshold", required=True, type=float, metavar="X",
                   help="cases of interest: runs whose outcome is strictly above X (--above, the default) or below")
    side = p.add_mutually_exclusive_group()
    side.add_argument("--above", dest="above", action="store_true", default=True,
                      help="cases of interest lie above the threshold (default)")
    side.add_argument("--below", dest="above", action="store_false",
                      help="cases of interest lie below the threshold")
    p.add_argument("--against", metavar="OTHER_SWEEP_DIR",
                   help="a sweep at the same points and seeds: the outcome becomes SWEEP minus OTHER, run by run")
    p.add_argument("--peel-alpha", type=float, default=None, metavar="A",
                   help="share of the runs peeled off per step, between 0 and 0.5 (default 0.05)")
    p.add_argument("--min-mass", type=float, default=None, metavar="M",
                   help="smallest share of the runs a box may hold (default 0.05)")
    p.add_argument("--min-coverage", type=float, default=None, metavar="C",
                   help="report the densest box with coverage at least C (default 0.5)")
    p.add_argument("--box", type=int, default=None, metavar="I",
                   help="report box I of the peeling trajectory instead (0 is the whole sweep)")
    p.add_argument("--out", metavar="DIR", help="output directory (default results/discover-<sweep dir name>)")
    p.add_argument("--svg", action="store_true", help="also write every figure as SVG")
    p.add_argument("--quiet", action="store_true", help="no summary on the terminal")
    p.set_defaults(func=discover_command)


def read_sweep(path: str) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """results.csv, results_by_group.csv and the varied keys of a sweep directory, checked against its manifest
    (``sim.outputs.report.read_output_dir``); UserError if it is not a sweep directory."""
    from sim.outputs.report import read_output_dir, read_table

    kind = marked_kind(Path(path)) if Path(path).is_dir() else None
    if kind != "sweep":
        held = f"it holds the output of digex {kind}" if kind else "not a directory digex wrote"
        raise UserError(f"{shown(path)}: not a sweep directory ({held}); give a directory written by digex sweep")
    found = read_output_dir(Path(path))
    keys = found.manifest.get("keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise UserError(f"{shown(Path(path) / 'manifest.json')}: no list of varied 'keys'; rerun the sweep")
    for name in ("results.csv", "results_by_group.csv"):
        if not (Path(path) / name).is_file():
            raise UserError(f"{shown(path)}: {name} is missing; rerun the sweep")
    results = read_table(Path(path) / "results.csv", ("point", "rep"), ("point", "rep", "seed"))
    by_group = read_table(Path(path) / "results_by_group.csv", ("point", "rep", "metric", "group_type", "group"),
                          ("point", "rep", "seed", "value"))
    return results, by_group, keys


def command_line(args: argparse.Namespace) -> str:
    """The discovery as a digex command line that repeats it."""
    parts = ["digex", "discover", args.sweep, "--outcome", args.outcome, f"--threshold={args.threshold!r}",
             "--above" if args.above else "--below"]
    for option in ("against", "peel_alpha", "min_mass", "min_coverage", "box", "out"):
        value = getattr(args, option)
        if value is not None:
            parts.append(f"--{option.replace('_', '-')}={value}")
    return shlex.join(parts + ["--svg"] * args.svg)


def discover_command(args: argparse.Namespace) -> int:
    """Read the sweep(s), run PRIM, write the tables, figures, summary and manifest as one set."""
    from sim.experiments.discovery import (
        MIN_COVERAGE,
        MIN_MASS,
        PEEL_ALPHA,
        Outcome,
        Question,
        cases_of_interest,
        discover,
        paired_difference,
        varied_inputs,
    )

    started = dt.datetime.now().astimezone()
    outcome = Outcome.parse(args.outcome)
    out = Path(args.out) if args.out else default_output(f"discover-{Path(args.sweep).resolve().name}")
    check_replaceable(out, KIND)
    results, by_group, keys = read_sweep(args.sweep)
    x = varied_inputs(results, keys, args.sweep)
    values = outcome.values(results, by_group, args.sweep)
    sources = [args.sweep]
    if args.against:
        other, other_by_group, other_keys = read_sweep(args.against)
        other_x = varied_inputs(other, other_keys, args.against)
        values = paired_difference(values, outcome.values(other, other_by_group, args.against), x, other_x,
                                   args.sweep, args.against)
        sources.append(args.against)
    question = Question(outcome, args.threshold, args.above, args.against)
    y = cases_of_interest(values, args.threshold, args.above, question.quantity)
    settings = {"peel_alpha": PEEL_ALPHA if args.peel_alpha is None else args.peel_alpha,
                "min_mass": MIN_MASS if args.min_mass is None else args.min_mass,
                "min_coverage": MIN_COVERAGE if args.min_coverage is None else args.min_coverage}
    found = discover(x, y, settings["peel_alpha"], settings["min_mass"], settings["min_coverage"], args.box)
    cases = x.assign(outcome=values, of_interest=y.astype(bool)).reset_index()
    runs_per_point = int(cases.groupby("point").size().max())
    write_discovery(out, args, found, question, sources, cases, runs_per_point, settings, started)
    if not args.quiet:
        box = found.trajectory[found.trajectory["box"] == found.chosen].iloc[0]
        kept = found.limits[(found.limits["box"] == found.chosen) & found.limits["restricted"]]
        print(f"{int(box['k'])} of {int(found.trajectory.iloc[0]['k'])} cases of interest in box {found.chosen} "
              f"({found.rule}): coverage {box['coverage']:.2f}, density {box['density']:.2f}, restricting "
              f"{', '.join(kept['parameter']) or 'nothing'}")
        print(f"Results in {out}/ (summary.md, box_limits.csv, peeling_trajectory.csv, feature_scores.csv, "
              "cases.csv, plots/, manifest.json)")
    return 0


def write_discovery(out: Path, args: argparse.Namespace, found: Discovery, question: Question, sources: list[str],
                    cases: pd.DataFrame, runs_per_point: int, settings: dict[str, float],
                    started: dt.datetime) -> None:
    """Write the tables, figures, summary.md and manifest.json into ``out`` as one set."""
    from sim.experiments.sweep import file_digests
    from sim.outputs.discovery import box_figure, box_numbers, summary_page, trajectory_figure
    from sim.outputs.figures import save_figure
    from sim.outputs.files import library_versions, platform_info, source_tree

    tables = {"box_limits.csv": found.limits, "peeling_trajectory.csv": found.trajectory,
              "feature_scores.csv": found.scores, "cases.csv": cases}
    rule_coverage = None if args.box is not None else settings["min_coverage"]
    with output_dir(out, kind=KIND) as tmp:
        for name, frame in tables.items():
            write_file(tmp / name, lambda p, f=frame: f.to_csv(p, index=False))
        names = list(tables)
        figures = {"peeling_trajectory": trajectory_figure(found, question, rule_coverage),
                   "box": box_figure(found, question)}
        for stem, fig in figures.items():
            names += [f"plots/{p.name}" for p in save_figure(fig, tmp / "plots", stem, args.svg)]
        page = summary_page(found, question, sources, len(cases), int(cases["point"].nunique()), runs_per_point,
                            settings, [n for n in names if n.endswith(".png")])
        write_text(tmp / "summary.md", page)
        names.append("summary.md")
        finished = dt.datetime.now().astimezone()
        info = {"kind": KIND, "digex_version": __version__, "command": command_line(args),
                "started": started.isoformat(timespec="seconds"), "finished": finished.isoformat(timespec="seconds"),
                "sweeps": [{"path": str(Path(s).resolve()),
                            "manifest_sha256": file_digests(Path(s), ["manifest.json"])["manifest.json"]}
                           for s in sources],
                "question": question.text, "outcome": question.outcome.label, "threshold": question.threshold,
                "side": "above" if question.above else "below", "difference": bool(args.against),
                "runs": len(cases), "cases_of_interest": int(cases["of_interest"].sum()), **settings,
                "rule": found.rule, "box": found.chosen, **box_numbers(found),
                "git": source_tree(), "platform": platform_info(), "libraries": library_versions(),
                "files": [*names, "manifest.json"], "sha256": file_digests(tmp, names)}
        write_text(tmp / "manifest.json", json.dumps(info, indent=2) + "\n")

