"""The ``digex`` command line (also ``python -m sim``).

Each subcommand lives in ``sim/cli/<name>.py`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a
function taking the parsed arguments and returning an exit status. Errors a
user can act on (``sim.errors.UserError``) and faults of the system (an
``OSError``: disk full, read-only or missing folder, no permission) are
printed as one message with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from sim import __version__
from sim.atomic import reason, shown
from sim.errors import UserError

COMMANDS = ("run", "validate", "describe", "app", "compare", "sweep", "report", "calibrate")
"""Modules under sim/cli, in the order shown by --help."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="digex",
        description="Agent-based simulation of digital exclusion in a digital-by-default welfare state.",
    )
    parser.add_argument("--version", action="version", version=f"digex {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"sim.cli.{name}").register(sub)
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
