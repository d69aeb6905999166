"""``digex metrics``: every metric a run reports, with its unit and meaning (``sim.model.metrics.METRICS``)."""

from __future__ import annotations

import argparse
import textwrap

from sim.errors import UserError

EXAMPLES = """\
  digex metrics                                    # every metric, in the order of the tables
  digex metrics exclusion_rate non_take_up_rate    # only these
  digex metrics | grep -B2 -i 'public cost'        # the cost metrics
"""
"""Command lines that end ``digex metrics --help``."""

LEGEND = ("Units: 'share' is a fraction from 0 to 1, shown in % (a difference of shares in percentage points, "
          "pp); '0-1' is a score from 0 to 1; DKK are Danish kroner. Each meaning says whether a total counts the "
          "real population or the simulated citizens. 'By group': also reported per {groups} "
          "(summary_by_group.csv); 'overall': for the whole population only.")
"""How to read the listing: units as ``sim.outputs.format`` shows them, and the group breakdown."""

WIDTH = 100
"""Width the meanings are wrapped to."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``metrics`` subcommand."""
    p = sub.add_parser(
        "metrics",
        help="list every output metric with its unit and meaning",
        description="List the metrics of every run: the rows of summary.csv, comparison.csv and a sweep's tables, "
        "in their order, each with its unit, whether it is also reported by group (age band, skill quintile, "
        "education, disability, language barrier), and its meaning (docs/ODD.md section 7.15). Scenario "
        "parameters are listed by `digex describe`.",
    )
    p.add_argument("names", nargs="*", metavar="METRIC", help="metrics to show (default: all)")
    p.set_defaults(func=metrics_command)


def metrics_command(args: argparse.Namespace) -> int:
    """Print the chosen metrics (all by default); an unknown name is an error with a suggestion."""
    from sim.model.metrics import METRICS
    from sim.scenario.loader import suggest

    for name in args.names:
        if name not in METRICS:
            raise UserError(f"no metric '{name}'" + (suggest(name, list(METRICS)) or "; `digex metrics` lists them"))
    print(render(args.names or list(METRICS)), end="")
    return 0


def render(names: list[str]) -> str:
    """The metrics ``names`` as text: the units explained, then per metric its unit, grouping and meaning."""
    from sim.model.metrics import GROUPS, METRICS

    groups = ", ".join(g.replace("_", " ") for g in GROUPS)
    lines = textwrap.wrap(LEGEND.format(groups=groups), WIDTH) + [""]
    for name in names:
        m = METRICS[name]
        lines += [f"  {name}", f"      unit: {m.unit}; {'by group' if m.by_group else 'overall'}"]
        lines += textwrap.wrap(m.description, WIDTH, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines) + "\n"
