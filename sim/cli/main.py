"""The ``digex`` command line (also ``python -m sim``).

Each subcommand lives in ``sim/cli/<name>.py`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a
function taking the parsed arguments and returning an exit status, and
``EXAMPLES``, the command lines its ``--help`` ends with. Errors a
user can act on (``sim.errors.UserError``) and faults of the system (an
``OSError``: disk full, read-only or missing folder, no permission) are
printed as one message with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import textwrap

from sim import __version__
from sim.atomic import reason, shown
from sim.errors import UserError

COMMANDS = ("validate", "describe", "metrics", "run", "compare", "sweep", "sensitivity", "discover", "dilemmas",
            "report", "export", "rerun", "calibrate", "app")
"""Modules under sim/cli, in the order of a study, which --help follows: check and look up, run, compare and
explore (which parameters drive an outcome, where an outcome crosses a threshold, and weigh the five dilemmas),
report and export, repeat from a manifest, then calibrate and the dashboard."""

EXAMPLES = """\
  # a study, step by step; `digex COMMAND --help` has each command's options and examples
  digex validate scenarios/more_helpers.yaml
  digex describe policy.centre
  digex metrics
  digex run scenarios/more_helpers.yaml --reps 10 --jobs 2 --set population.size=5000
  digex compare scenarios/denmark_baseline.yaml scenarios/more_helpers.yaml --set population.size=5000
  digex sweep scenarios/denmark_baseline.yaml --vary policy.centre.helpers_per_10k=1,2,4 \\
      --set population.size=2000
  digex report results/compare
"""

HELP_WIDTH = 79
"""Width descriptions are wrapped to (the examples below them keep their lines)."""


def finish_help(parser: argparse.ArgumentParser, examples: str) -> None:
    """End ``parser``'s --help with ``examples``, kept line by line; its description's paragraphs (separated by
    blank lines) are wrapped to HELP_WIDTH."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    if parser.description:
        parser.description = "\n\n".join(textwrap.fill(par, HELP_WIDTH) for par in parser.description.split("\n\n"))
    parser.epilog = "examples:\n" + examples


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand, each --help ending with examples."""
    parser = argparse.ArgumentParser(
        prog="digex",
        description="Agent-based simulation of digital exclusion in a digital-by-default welfare state.",
    )
    finish_help(parser, EXAMPLES)
    parser.add_argument("--version", action="version", version=f"digex {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"sim.cli.{name}")
        module.register(sub)
        finish_help(sub.choices[name], getattr(module, "EXAMPLES", ""))
    return parser


def os_error_message(exc: OSError) -> str:
    """An OSError that no command turned into a UserError, as one line naming the file where it has one."""
    where = f"{shown(exc.filename)}: " if exc.filename is not None else ""
    return where + reason(exc)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the subcommand, turn user errors and system faults into exit status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"digex: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"digex: error: {os_error_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("digex: interrupted; no output was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
