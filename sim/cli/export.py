"""``digex export DIR --xlsx|--csv``: the tables and time series of a results directory as a spreadsheet."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.cli.progress import showing
from sim.cli.run import positive_int

EXAMPLES = """\
  digex export results/compare --xlsx                      # results/compare/export.xlsx
  digex export results/baseline --csv --out baseline-csv   # CSV files in baseline-csv/
  digex export results/baseline --xlsx --metrics exclusion_rate,trust_mean --every 4
"""
"""Command lines that end ``digex export --help``."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``export`` subcommand."""
    p = sub.add_parser(
        "export",
        help="write the tables and time series of a results directory as an Excel workbook or CSV files",
        description="Export the tables and weekly series of a digex run, compare or sweep directory for a "
        "spreadsheet: an Excel workbook with one sheet per table (--xlsx), or one CSV file per table (--csv). Two "
        "sheets come first: 'about' (where the data come from, the options, what each sheet holds, the units) and "
        "'metrics' (each metric's unit and meaning). Every table carries units: a 'unit' column beside 'metric', or "
        "the unit in the name of a metric column. Nothing is simulated. An export never overwrites what digex "
        "export did not write.",
    )
    p.add_argument("directory", metavar="DIR", help="directory written by digex run, compare or sweep")
    fmt = p.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--xlsx", dest="format", action="store_const", const="xlsx",
                     help="one Excel workbook, one sheet per table (default DIR/export.xlsx)")
    fmt.add_argument("--csv", dest="format", action="store_const", const="csv",
                     help="one CSV file per table, in a new folder (default DIR/export/)")
    p.add_argument("--metrics", nargs="+", metavar="METRIC",
                   help="only these metrics (names as `digex metrics` lists them; also comma-separated)")
    p.add_argument("--every", type=positive_int, default=1, metavar="N",
                   help="only every N-th week of the weekly series, and the last week (default 1: every week)")
    p.add_argument("--out", metavar="PATH", help="workbook to write, ending in .xlsx, or folder of CSV files; an "
                   "existing one is replaced only if digex export wrote it")
    p.add_argument("--quiet", action="store_true", help="do not print where the export is")
    p.set_defaults(func=export_command)


def export_command(args: argparse.Namespace) -> int:
    """Check everything, write the workbook or the CSV folder, and print where it is."""
    from sim.outputs.export import export

    metrics = [m.strip() for text in args.metrics or [] for m in text.split(",") if m.strip()]
    if showing(args.quiet):
        print(f"  exporting {args.directory} as {args.format} ...", file=sys.stderr, flush=True)
    path = export(Path(args.directory), args.format, Path(args.out) if args.out is not None else None,
                  metrics or None, args.every)
    if not args.quiet:
        print(f"Export written to {path}")
    return 0
