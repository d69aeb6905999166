"""``digex describe``: print the parameter reference of ``sim/scenario/describe.py``."""

from __future__ import annotations

import argparse

EXAMPLES = """\
  digex describe                                 # every parameter, block by block
  digex describe policy.centre                   # one block
  digex describe policy.optout.rule              # one parameter
  digex describe --markdown > parameters.md      # Markdown tables (docs/ODD.md, Appendix A)
  # metrics are outputs, not parameters: digex metrics
"""
"""Command lines that end ``digex describe --help``."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``describe`` subcommand."""
    p = sub.add_parser(
        "describe",
        help="list scenario parameters with type, default, unit and meaning",
        description="Describe the scenario parameters. KEY may be a block (policy, policy.centre) or a "
        "dotted key path (policy.centre.helpers_per_10k); without KEY, everything.",
    )
    p.add_argument("key", nargs="?", metavar="KEY", help="block or key path to describe")
    p.add_argument("--markdown", action="store_true",
                   help="print a Markdown table (the parameter appendix of docs/ODD.md)")
    p.set_defaults(func=describe_command)


def describe_command(args: argparse.Namespace) -> int:
    """Print the description of KEY (or of everything), as text or Markdown."""
    from sim.scenario.describe import render, render_markdown, select

    chosen = select(args.key)
    print(render_markdown(chosen) if args.markdown else render(chosen), end="")
    return 0
