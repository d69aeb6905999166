"""``digex report DIR``: one self-contained HTML file for a run, compare or sweep directory."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLES = """\
  digex report results/compare                   # writes results/compare/report.html
  digex report results/denmark_baseline --out baseline.html
  digex report results/compare --markdown        # the headline tables as Markdown
"""
"""Command lines that end ``digex report --help``."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``report`` subcommand."""
    p = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a run, compare or sweep directory",
        description="Write one HTML file (figures embedded) that explains a results directory to someone who "
        "never used digex: the question, the scenarios and how they differ, the headline table with 95% "
        "intervals, the figures, the caveats and the model version. Nothing is simulated. A report never "
        "overwrites a file digex did not write: its name must end in .html, and an existing file is replaced only "
        "if it is a report digex wrote (it starts with the comment '<!-- written by digex report -->').",
    )
    p.add_argument("directory", metavar="DIR", help="directory written by digex run, compare or sweep")
    p.add_argument("--out", metavar="FILE", help="HTML file to write, ending in .html, in an existing folder "
                   "(default DIR/report.html); an existing file is replaced only if digex report wrote it")
    p.add_argument("--markdown", action="store_true",
                   help="instead, print the headline tables of a compare directory as Markdown (for docs)")
    p.add_argument("--quiet", action="store_true", help="do not print where the report is")
    p.set_defaults(func=report_command)


def report_command(args: argparse.Namespace) -> int:
    """Render and write the report and print its path (or print the Markdown tables)."""
    from sim.outputs.report import compare_markdown, read_output_dir, write_report

    if args.markdown:
        print(compare_markdown(read_output_dir(Path(args.directory))), end="")
        return 0
    path = write_report(Path(args.directory), Path(args.out) if args.out is not None else None)
    if not args.quiet:
        print(f"Report written to {path}")
    return 0
