"""Spreadsheets of a results directory (``digex export``): its tables and time series as one workbook or as CSV files.

The tables of a run, compare or sweep directory (TABLES, in reading order)
become one sheet each of an Excel workbook (openpyxl, write-only), or one CSV
file each, after two sheets that explain them: ``about`` (where the data come
from, the options, what each sheet holds, what the units mean) and
``metrics`` (each metric with its unit and meaning). Units travel with the
numbers: a long table (one row per metric) gets a ``unit`` column after
``metric`` where it has none, and a wide table (one column per metric, as a
sweep's results.csv) names its metric columns ``metric (unit)``.

Numbers keep every digit in CSV files and 16 significant digits in a
workbook (openpyxl's precision; Excel shows 15). ``metrics`` keeps only
some metrics; ``every`` thins the weekly series to every N-th week (always
with the last week of each scenario). A workbook is
written atomically (``sim.atomic.write_file``) and replaces only a workbook
that digex export wrote (CREATOR in its document properties); CSV files go
into a directory written as one (``sim.atomic.output_dir``, kind "export").
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim import __version__
from sim.atomic import check_file_target, output_dir, shown, write_file
from sim.errors import UserError
from sim.model.metrics import METRICS
from sim.outputs.report import read_output_dir

TABLES = {
    "run": {"summary.csv": "end-of-run mean and 95% interval per scenario and metric, whole population",
            "summary_by_group.csv": "the same per group (age band, skill quintile, education, disability, "
                                    "language barrier)",
            "timeseries.parquet": "every weekly value of every replication"},
    "compare": {"comparison.csv": "mean and 95% interval per scenario, metric and group, and the paired "
                                  "difference from the first scenario",
                "end_values.csv": "end-of-run value of every replication",
                "timeseries_summary.parquet": "weekly mean and 95% interval per scenario, over replications"},
    "sweep": {"summary.csv": "mean and 95% interval per point, metric and group",
              "points.csv": "the settings of each point",
              "results.csv": "end-of-run values of every run (one column per metric)",
              "results_by_group.csv": "end-of-run values of every run by group"},
}
"""Tables exported from each kind of results directory, in reading order, with what they hold."""

UNITS = {"share": "a fraction from 0 to 1 (x 100 for per cent)", "0-1": "a score from 0 to 1",
         "DKK": "Danish kroner"}
"""What the units of METRICS mean, where the name alone does not say (the others are counts of their unit)."""

CREATOR = "digex export"
"""Start of the creator in a workbook's document properties: the mark of a workbook digex export may replace."""

CORE_PROPERTIES = "docProps/core.xml"
"""Member of an .xlsx file that holds its creator."""

MAX_PROPERTIES_BYTES = 100_000
"""Most bytes of CORE_PROPERTIES read when checking who wrote a workbook (digex writes about 600)."""

EXCEL_ROWS = 1_048_576
"""Rows of an Excel sheet, the header included."""

HEADER_WIDTH = 40
"""Widest column in a sheet, in characters."""

METRICS_SHEET = "every metric exported, with its unit and meaning"
"""What the metrics sheet holds."""

FORMATS = ("xlsx", "csv")
"""Formats of an export."""


@dataclass
class Sheet:
    """One sheet of an export (one CSV file): its name, the table, and what it holds."""

    name: str
    frame: pd.DataFrame
    about: str


# ------------------------------------------------------------------ collecting the tables


def check_metrics(metrics: Sequence[str]) -> list[str]:
    """The metrics asked for, each known (a UserError with a suggestion names the first that is not)."""
    from sim.scenario.loader import suggest

    for name in metrics:
        if name not in METRICS:
            raise UserError(f"--metrics: no metric '{shown(name)}'" + (suggest(name, list(METRICS)) or
                                                                        "; `digex metrics` lists them"))
    return list(dict.fromkeys(metrics))


def read_table(path: Path, metrics: Sequence[str] | None) -> pd.DataFrame:
    """A CSV or Parquet table of a results directory, only the rows of ``metrics`` if given (label columns as text)."""
    try:
        if path.suffix == ".parquet":
            filters = [("metric", "in", list(metrics))] if metrics else None
            frame = pd.read_parquet(path, filters=filters)
        else:
            frame = pd.read_csv(path, engine="pyarrow")  # exact: every float as digex wrote it
    except (OSError, ValueError, ImportError) as exc:
        raise UserError(f"{shown(path)}: unreadable table ({str(exc)[:100]}); rerun the command that made it") from None
    frame = frame.astype({c: str for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)})
    if metrics and "metric" in frame.columns:
        frame = frame[frame["metric"].isin(metrics)]
    return frame.reset_index(drop=True)


def with_units(frame: pd.DataFrame, metrics: Sequence[str] | None) -> pd.DataFrame:
    """A long table with a ``unit`` column after ``metric``; a wide table's metric columns (those of ``metrics``
    if given, the others dropped) renamed ``metric (unit)``."""
    if "metric" in frame.columns:
        if "unit" not in frame.columns:
            units = frame["metric"].map(lambda m: METRICS[m].unit if m in METRICS else "")
            frame = frame.copy()
            frame.insert(frame.columns.get_loc("metric") + 1, "unit", units)
        return frame
    wide = [c for c in frame.columns if c in METRICS]
    dropped = [c for c in wide if metrics and c not in metrics]
    return frame.drop(columns=dropped).rename(columns={c: f"{c} ({METRICS[c].unit})" for c in wide})


def thin(frame: pd.DataFrame, every: int) -> pd.DataFrame:
    """Every ``every``-th week of a weekly series (weeks 0, N, 2N, ...) and the last week of each scenario."""
    if every == 1 or "week" not in frame.columns:
        return frame
    last = frame.groupby("scenario")["week"].transform("max") if "scenario" in frame.columns else frame["week"].max()
    return frame[(frame["week"] % every == 0) | (frame["week"] == last)].reset_index(drop=True)


def collect(directory: Path, metrics: Sequence[str] | None = None, every: int = 1) -> list[Sheet]:
    """The sheets of an export of ``directory`` (a run, compare or sweep directory, checked as ``digex report``
    checks it): about, metrics, then each table of TABLES that the directory has."""
    if every < 1:
        raise UserError(f"--every: must be at least 1, got {every}")
    metrics = check_metrics(metrics) if metrics else None
    out = read_output_dir(directory)
    sheets = []
    for name, about in TABLES[out.kind].items():
        if (out.path / name).is_file():
            frame = thin(with_units(read_table(out.path / name, metrics), metrics), every)
            sheets.append(Sheet(Path(name).stem, frame, f"{name}: {about}"))
    shown_metrics = metrics or list(METRICS)
    listing = pd.DataFrame({"metric": shown_metrics, "unit": [METRICS[m].unit for m in shown_metrics],
                            "meaning": [METRICS[m].description for m in shown_metrics]})
    about = _about(out.path, out.kind, out.manifest, metrics, every, sheets)
    return [Sheet("about", about, "this sheet"), Sheet("metrics", listing, METRICS_SHEET), *sheets]


def _about(directory: Path, kind: str, manifest: dict, metrics: Sequence[str] | None, every: int,
           sheets: Sequence[Sheet]) -> pd.DataFrame:
    """The about sheet: where the tables come from, how they were exported, what each sheet holds, the units."""
    rows = [("source directory", str(directory.resolve())), ("kind", f"digex {kind}"),
            ("made by", manifest.get("command", "unknown")),
            ("digex version of the results", manifest.get("digex_version", "unknown")),
            ("exported by", f"digex export {__version__}, {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"),
            ("metrics", ", ".join(metrics) if metrics else "all"),
            ("weeks", "every week" if every == 1 else f"every {every}th week and the last")]
    rows += [("sheet metrics", METRICS_SHEET), *((f"sheet {s.name}", s.about) for s in sheets)]
    rows += [(f"unit {unit}", meaning) for unit, meaning in UNITS.items()]
    rows.append(("intervals", "95% intervals over replications (docs/ODD.md section 4); empty with one replication"))
    return pd.DataFrame(rows, columns=["item", "value"])


# ------------------------------------------------------------------ writing


def _cells(frame: pd.DataFrame) -> Iterator[list]:
    """The rows of a table as lists of cell values: missing values empty, NumPy numbers as Python numbers, weekly
    timestamps as dates (shown as dates, without a time of day)."""
    dates = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    frame = frame.assign(**{c: frame[c].dt.date for c in dates})
    plain = frame.astype(object).where(frame.notna(), None)
    for row in plain.itertuples(index=False, name=None):
        yield [v.item() if isinstance(v, np.generic) else v for v in row]


def check_fits(sheets: Sequence[Sheet]) -> None:
    """Refuse a sheet with more rows than Excel holds, before anything is written."""
    for s in sheets:
        if len(s.frame) + 1 > EXCEL_ROWS:
            raise UserError(f"sheet {s.name} would have {len(s.frame):,} rows, more than an Excel sheet holds "
                            f"({EXCEL_ROWS - 1:,}); choose fewer --metrics, thin the weeks with --every N, or "
                            "export --csv")


def workbook_writer(sheets: Sequence[Sheet]) -> Callable[[Path], None]:
    """A function that writes ``sheets`` as an .xlsx workbook to a path (one sheet each, bold frozen header)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    def write(path: Path) -> None:
        wb = Workbook(write_only=True)
        wb.properties.creator = f"{CREATOR} {__version__}"
        bold = Font(bold=True)
        for s in sheets:
            ws = wb.create_sheet(s.name)
            ws.freeze_panes = "A2"
            for i, col in enumerate(s.frame.columns, start=1):
                longest = max([len(str(col)), *s.frame[col].head(200).astype(str).str.len()])
                ws.column_dimensions[get_column_letter(i)].width = min(HEADER_WIDTH, longest + 2)
            header = []
            for col in s.frame.columns:
                cell = WriteOnlyCell(ws, value=str(col))
                cell.font = bold
                header.append(cell)
            ws.append(header)
            for row in _cells(s.frame):
                ws.append(row)
        wb.save(path)

    return write


def is_export(path: Path) -> bool:
    """Whether ``path`` is a workbook that digex export wrote (CREATOR in its document properties)."""
    try:
        with zipfile.ZipFile(path) as z, z.open(CORE_PROPERTIES) as f:
            text = f.read(MAX_PROPERTIES_BYTES).decode("utf-8", errors="replace")
    except (OSError, KeyError, zipfile.BadZipFile, ValueError):
        return False
    return f"<dc:creator>{CREATOR} " in text




def default_target(directory: Path, fmt: str) -> Path:
    """Where an export goes without --out: DIR/export.xlsx, or the folder DIR/export of CSV files."""
    return Path(directory) / ("export.xlsx" if fmt == "xlsx" else "export")


def export(directory: Path, fmt: str, target: Path | None = None, metrics: Sequence[str] | None = None,
           every: int = 1) -> Path:
    """Export the tables of ``directory`` as a workbook (``fmt`` "xlsx") or CSV files ("csv"); return the path.

    Everything is checked (the directory, the metrics, the target, the size
    of each sheet) before anything is written; the workbook or the folder of
    CSV files appears complete or not at all.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    target = Path(target) if target is not None else default_target(directory, fmt)
    if fmt == "xlsx":
        check_file_target(target, ".xlsx", is_export, "export")
    sheets = collect(Path(directory), metrics, every)
    if fmt == "xlsx":
        check_fits(sheets)
        return write_file(target, workbook_writer(sheets))
    with output_dir(target, kind="export") as tmp:
        for s in sheets:
            s.frame.to_csv(tmp / f"{s.name}.csv", index=False)
    return target
