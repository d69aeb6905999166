"""``digex dilemmas``: the five dilemmas on one page, from one comparison of the shipped scenarios they need.

Every scenario of ``sim.outputs.dilemmas.DILEMMAS`` is loaded from the shipped
``scenarios/`` folder and validated, and the output directory checked, before
anything runs; each runs once, all on one base seed (common random numbers),
and every pair is read from the same replications. The all-analogue twin
runs only for the scenarios whose savings an outcome reads. The page
(``dilemmas.md``), its figures (``dilemmas/<dilemma>.png``), the table of
paired differences it was read from (``comparison.csv``), the end-of-run
values (``end_values.csv``) and ``manifest.json`` are written atomically
(``sim.atomic.output_dir``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sim.atomic import check_replaceable, default_output, output_dir
from sim.cli.compare import add_common_arguments, compare_with_progress
from sim.cli.progress import Stages, duration
from sim.cli.run import check_executor, check_workload, load_all, repeat_options

if TYPE_CHECKING:
    from sim.experiments.compare import Comparison
    from sim.model.params import Config
    from sim.outputs.dilemmas import Reading

KIND = "dilemmas"
"""Kind of output directory written (``sim.atomic.KINDS``): paired runs of the dilemmas' scenarios and their page."""

FIGURES = "dilemmas"
"""Folder of the figures inside the output directory, as the page links them (docs/dilemmas/ in the repository)."""

EXAMPLES = """\
  # the page at the calibrated baseline's size (10 replications of 20,000 citizens; long)
  digex dilemmas --jobs 4 --out results/dilemmas
  # a quick look: 4 replications of 5,000 citizens
  digex dilemmas --reps 4 --set population.size=5000 --jobs 2 --out /tmp/dilemmas
"""
"""Command lines that end ``digex dilemmas --help``."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``dilemmas`` subcommand."""
    p = sub.add_parser(
        "dilemmas",
        help="weigh the five dilemmas: paired runs of their scenario pairs, a page of computed readings",
        description="Run every shipped scenario that the five dilemmas need (docs/ODD.md section 1) once, "
        "with the same seeds, and read each dilemma from the paired differences of its scenario pairs with "
        "95% intervals (simulation noise over paired replications, not parameter uncertainty). Writes "
        "dilemmas.md (the page: every sentence computed from the runs), dilemmas/<dilemma>.png, comparison.csv "
        "(the paired differences of every pair), end_values.csv and manifest.json into --out. --set applies "
        "to every scenario.",
    )
    p.add_argument("--out", metavar="DIR", help="results directory (default results/dilemmas); replaced only "
                   "when the new one is complete, and only if it is empty or an earlier digex dilemmas wrote "
                   "it; checked before anything runs")
    add_common_arguments(p, reps_default=10)
    p.set_defaults(func=dilemmas_command)


def command_line(args: argparse.Namespace) -> str:
    """The command as a digex command line that repeats it."""
    return shlex.join(["digex", "dilemmas", *repeat_options(args)])


def scenario_configs(args: argparse.Namespace) -> tuple[list[Config], list[str]]:
    """The scenarios the dilemmas need, loaded with --set and one seed; the analogue twin only where read."""
    from sim.experiments.compare import common_seed
    from sim.outputs.dilemmas import analogue_needed, scenarios_needed
    from sim.scenario.loader import shipped_scenarios

    sources = [str(shipped_scenarios() / f"{name}.yaml") for name in scenarios_needed()]
    configs = common_seed(load_all(sources, args.overrides, args.seed))
    twins = analogue_needed()
    for c in configs:
        c.run.analogue_reference = c.run.analogue_reference and c.name in twins
    return configs, sources


def machine() -> str:
    """The machine the runs were made on: system, processor type, cores and Python (no host name)."""
    from sim.outputs.files import platform_info

    info = platform_info()
    return f"{info['system']}, {info['machine']}, {os.cpu_count()} cores, Python {info['python']}"


def dilemmas_command(args: argparse.Namespace) -> int:
    """Load and validate, run every replication, read the dilemmas, write the page and figures."""
    check_executor(args)
    configs, sources = scenario_configs(args)
    check_workload(configs, args.reps)
    if args.out is None:
        args.out = str(default_output("dilemmas"))
    check_replaceable(args.out, kind=KIND)
    out = Path(args.out)
    started = dt.datetime.now().astimezone()
    clock = time.perf_counter()
    comparison, stages = compare_with_progress(configs, args)
    ran = duration(time.perf_counter() - clock)
    with output_dir(out, kind=KIND) as tmp:
        readings = write_dilemmas(tmp, comparison, sources, command_line(args), started, ran, args.svg, stages)
    stages.done()
    if not args.quiet:
        for r in readings:
            print(f"{r.dilemma.name}: {r.summary(r.dilemma.pairs[0])}")
        print(f"Page in {out / 'dilemmas.md'}, figures in {out / FIGURES}/")
    return 0


def write_dilemmas(directory: Path, comparison: Comparison, sources: list[str], command: str,
                   started: dt.datetime, ran: str, svg: bool, stage: Stages) -> list[Reading]:
    """Write comparison.csv (every pair), end_values.csv, the figures, dilemmas.md and manifest.json into
    ``directory`` (the temporary directory of ``sim.atomic.output_dir``); return the readings."""
    from sim.outputs.dilemmas import DILEMMAS, Provenance, all_pairs, dilemma_figure, page, pair_table, read_all
    from sim.outputs.figures import save_figure
    from sim.outputs.files import manifest

    stage("paired differences of every pair")
    table = pair_table(comparison.ends, all_pairs())
    readings = read_all(table, DILEMMAS)
    table.to_csv(directory / "comparison.csv", index=False)
    comparison.ends.to_csv(directory / "end_values.csv", index=False)
    names = ["dilemmas.md", "comparison.csv", "end_values.csv"]
    stage("figures")
    figures = {}
    for r in readings:
        paths = save_figure(dilemma_figure(r), directory / FIGURES, r.dilemma.slug, svg)
        names += [f"{FIGURES}/{p.name}" for p in paths]
        figures[r.dilemma.slug] = f"{FIGURES}/{paths[0].name}"
    stage("page")
    first = comparison.configs[0]
    how = Provenance(command=command, date=started.date().isoformat(), machine=machine(), reps=comparison.reps,
                     size=first.population.size, start=first.run.start.isoformat(), end=first.run.end.isoformat(),
                     seed=first.run.seed, duration=ran)
    descriptions = {c.name: " ".join(c.description.split()) for c in comparison.configs}
    (directory / "dilemmas.md").write_text(page(readings, how, descriptions, figures), encoding="utf-8")
    names.append("manifest.json")
    info = manifest(comparison.configs, sources, comparison.replications, command, started,
                    dt.datetime.now().astimezone(), names)
    info = {"kind": "dilemmas", "reps": comparison.reps, "seed": first.run.seed,
            "pairs": [p.name for p in all_pairs()], **info}
    (directory / "manifest.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return readings
