"""``digex validate``: check scenario files without running them."""

from __future__ import annotations

import argparse
import sys

from sim.errors import UserError

EXAMPLES = """\
  # check one file, or every shipped scenario (exit status 2 if any is invalid)
  digex validate scenarios/denmark_baseline.yaml
  digex validate scenarios/*.yaml
"""
"""Command lines that end ``digex validate --help``."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``validate`` subcommand."""
    p = sub.add_parser(
        "validate",
        help="check scenario files (keys, types, ranges, extends chains) without running them",
        description="Check scenario YAML files. Prints one line per file; exit status 2 if any is invalid.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="scenario YAML file(s)")
    p.set_defaults(func=validate_command)


def validate_command(args: argparse.Namespace) -> int:
    """Validate each file; report every file (one line each), return 2 if any failed."""
    from sim.scenario.loader import load_scenario

    failed = 0
    for path in args.files:
        try:
            c = load_scenario(path)
        except UserError as exc:  # a ConfigError, or a file that cannot be read
            failed += 1
            print(f"digex: error: {exc}", file=sys.stderr)
            continue
        print(f"ok  {path}: '{c.name}', {c.run.weeks} weeks from {c.run.start} to {c.run.end}, "
              f"{c.population.size:,} citizens, {len(c.timeline)} timeline change(s)")
    return 2 if failed else 0
