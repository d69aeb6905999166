"""``digex rerun MANIFEST``: repeat a recorded run or compare and check that its results are identical.

The manifest is JSON and is read, never unpickled (``sim.outputs.files.recorded_run``):
each scenario's fully resolved configuration, checked against its recorded
SHA-256, and its seeds, and for a ``--posterior K`` run the values of every
posterior draw used (also checked against their SHA-256). Neither the
scenario files nor the posterior file are read again, so a rerun repeats
what was run even after the files changed. The summary tables of the
directory that holds the manifest (TABLES) are compared with the rerun's, value
by value and exactly: exit status 0 if every value is identical, 1 with a list
of the differences if not, 2 for a manifest or directory that cannot be used.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sim.atomic import check_replaceable, output_dir, shown
from sim.cli.progress import Stages, WeekCounter, count, progress_bar, showing, simulated_weeks
from sim.cli.run import add_executor_arguments, check_executor, check_workload
from sim.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from sim.outputs.files import RecordedRun

EXAMPLES = """\
  digex rerun results/baseline/manifest.json     # rerun; compare summary.csv and summary_by_group.csv
  digex rerun results/compare --jobs 4           # the manifest.json in a folder; any J gives the same
  digex rerun results/compare --out results/compare-again       # also keep the rerun's results
"""
"""Command lines that end ``digex rerun --help``."""

TABLES = {"run": ("summary.csv", "summary_by_group.csv"), "compare": ("comparison.csv",)}
"""The summary tables compared, by kind of command."""

ALIKE = ("interval_covers",)
"""Text columns that hold the same value in every row of a table, so they do not name a row."""

SHOWN_DIFFERENCES = 10
"""Most differing values listed (then how many more there are)."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``rerun`` subcommand."""
    p = sub.add_parser(
        "rerun",
        help="repeat a run or compare from its manifest.json and check the results are identical",
        description="Repeat the digex run or compare that a manifest.json records, from the fully resolved "
        "configurations and seeds stored in it (the scenario files are not read again), then compare the summary "
        "tables beside the manifest (summary.csv and summary_by_group.csv of a run, comparison.csv of a compare) "
        "with the rerun's, value by value. Exit status 0: identical; 1: different (the differences are listed); "
        "2: the manifest or the tables cannot be used (an edited manifest is refused: each configuration carries "
        "its SHA-256). A sweep is repeated with the command in its manifest.",
    )
    p.add_argument("manifest", metavar="MANIFEST", help="manifest.json of a run or compare (or its directory)")
    p.add_argument("--out", metavar="DIR", help="also write the rerun's results into DIR, as the recorded command "
                   "did; replaced only if empty or written by the same kind of digex command")
    add_executor_arguments(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar; print only the differences")
    p.set_defaults(func=rerun_command)


def _manifest_path(given: str) -> Path:
    """The manifest: the path given, or manifest.json inside a directory given."""
    path = Path(given)
    return path / "manifest.json" if path.is_dir() else path


def read_stored(directory: Path, names: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """The recorded summary tables beside the manifest, each read exactly (pyarrow's parser: every float as
    written)."""
    import pandas as pd

    tables = {}
    for name in names:
        try:
            tables[name] = pd.read_csv(directory / name, engine="pyarrow")
        except (OSError, ValueError) as exc:
            raise UserError(f"{shown(directory / name)}: cannot be read ({str(exc)[:100]}); rerun needs the "
                            "recorded summary tables beside the manifest to compare with") from None
    return tables


def as_stored(table: pd.DataFrame) -> pd.DataFrame:
    """A table as it reads back from the CSV file digex writes, so it compares with a stored one exactly."""
    import pandas as pd

    return pd.read_csv(io.BytesIO(table.to_csv(index=False).encode()), engine="pyarrow")


def _exact(value: object) -> str:
    """A value with every digit (a NumPy number as the Python number it holds)."""
    return repr(value.item() if hasattr(value, "item") else value)


def differences(name: str, stored: pd.DataFrame, new: pd.DataFrame) -> list[str]:
    """Every difference between a recorded table and the rerun's: columns, rows, then values (NaN equals NaN).

    A value is named by its row's text columns (scenario, metric, group...; not those in ALIKE).
    """
    import pandas as pd

    if list(stored.columns) != list(new.columns):
        return [f"{name}: columns differ: recorded {list(stored.columns)}, rerun {list(new.columns)}"]
    if len(stored) != len(new):
        return [f"{name}: {len(stored):,} rows recorded, {len(new):,} in the rerun"]
    labels = [c for c in stored.columns if not pd.api.types.is_numeric_dtype(stored[c]) and c not in ALIKE]
    found = []
    for col in stored.columns:
        same = (stored[col] == new[col]) | (stored[col].isna() & new[col].isna())
        for i in same.index[~same]:
            row = ", ".join(str(stored.at[i, c]) for c in labels) or f"row {i + 1}"
            found.append(f"{name}: {row}: {col} recorded {_exact(stored.at[i, col])}, rerun {_exact(new.at[i, col])}")
    return found


def rerun_tables(recorded: RecordedRun, jobs: int, executor: str, scheduler: str | None, out: Path | None,
                 command: str, quiet: bool) -> dict[str, pd.DataFrame]:
    """Run every replication the manifest records; return the rerun's summary tables (and write DIR ``out``)."""
    from sim.cli.run import replicate
    from sim.experiments.compare import run_comparison
    from sim.outputs.files import (
        long_timeseries,
        summary_by_group_table,
        summary_table,
        write_comparison,
        write_run_outputs,
    )

    configs, reps = recorded.configs, recorded.reps
    posterior = recorded.posterior
    drawn = posterior.configs if posterior is not None else None
    show = showing(quiet)
    weeks = {c.name: simulated_weeks(c) for c in configs}
    started = dt.datetime.now().astimezone()
    with progress_bar(sum(weeks.values()) * reps, f"{count(len(configs), 'scenario')} x {count(reps, 'rep')}",
                      show) as bar:
        counter, stages = WeekCounter(bar), Stages(show, bar)
        if recorded.kind == "compare":
            result = run_comparison(configs, reps, jobs, lambda r: counter.finished(weeks[r.scenario]), executor,
                                    scheduler, on_week=counter.week, stage=stages, drawn=drawn)
        else:
            result = replicate(configs, reps, jobs, counter, executor, scheduler, drawn)
    if out is not None:
        with output_dir(out, kind=recorded.kind) as tmp:
            if recorded.kind == "compare":
                write_comparison(tmp, result, recorded.sources, command, started, stage=stages, posterior=posterior)
            else:
                write_run_outputs(tmp, configs, recorded.sources, result, command, started, stages, posterior)
    stages.done()
    if recorded.kind == "compare":
        return {"comparison.csv": result.table}
    ts = long_timeseries(result)
    return {"summary.csv": summary_table(ts, drawn is not None),
            "summary_by_group.csv": summary_by_group_table(ts, drawn is not None)}


def rerun_command(args: argparse.Namespace) -> int:
    """Check the manifest, the recorded tables and --out; rerun; compare; report identical (0) or not (1)."""
    from sim import __version__
    from sim.outputs.files import recorded_run

    check_executor(args)
    path = _manifest_path(args.manifest)
    recorded = recorded_run(path)
    check_workload(recorded.configs, recorded.reps)
    stored = read_stored(path.parent, TABLES[recorded.kind])
    out = None
    if args.out is not None:
        out = check_replaceable(args.out, kind=recorded.kind)
        if out == path.parent.resolve():
            raise UserError(f"--out {shown(args.out)} holds the recorded results that the rerun is checked against; "
                            "choose another --out")
    if recorded.digex_version != __version__:
        print(f"digex: warning: {shown(path)} was written by digex {shown(recorded.digex_version)}, this is "
              f"{__version__}; results may differ", file=sys.stderr)
    command = shlex.join(["digex", "rerun", str(path), *(["--out", args.out] if out is not None else [])])
    new = rerun_tables(recorded, args.jobs, args.executor, args.scheduler, out, command, args.quiet)
    found = [line for name, table in stored.items() for line in differences(name, table, as_stored(new[name]))]
    if found:
        print(f"The rerun of {path} differs from the recorded results in {len(found):,} value(s):")
        for line in found[:SHOWN_DIFFERENCES]:
            print(f"  {line}")
        if len(found) > SHOWN_DIFFERENCES:
            print(f"  ... and {len(found) - SHOWN_DIFFERENCES:,} more")
        return 1
    if not args.quiet:
        values = sum(table.size for table in stored.values())
        print(f"Identical: the rerun reproduces {', '.join(stored)} of {path.parent} ({values:,} values) exactly.")
    return 0
