"""Result files of ``digex run`` (and other commands that write a results directory).

The output contract (README.md, "Output files"):

- ``summary.csv``: scenario, metric, mean, ci_low, ci_high, n_reps -- end-of-run
  values (the last week; windowed metrics cover its last 52 weeks), overall;
- ``summary_by_group.csv``: scenario, group_type, group, metric, mean, ci_low, ci_high;
- ``timeseries.parquet``: scenario, rep, week, date, metric, group_type, group, value
  (overall rows have group_type == group == "all");
- ``manifest.json``: version, resolved configurations, seeds, times, platform, command;
- PNG figures from ``sim.outputs.figures.write_run_figures``.

``digex compare`` writes comparison.csv, end_values.csv,
timeseries_summary.parquet, its figures and manifest.json
(``write_comparison``).

A directory is written atomically: everything goes into a temporary sibling
that is renamed into place only when complete, so an interrupted command
never leaves a directory that looks complete.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from sim import __version__
from sim.experiments.compare import Comparison
from sim.experiments.replication import Replication, stack
from sim.experiments.stats import summarise
from sim.model.metrics import GROUPS, METRICS, OVERALL
from sim.model.params import Config
from sim.model.series import end_of_run, metric_order

SUMMARY_COLUMNS = ["scenario", "metric", "mean", "ci_low", "ci_high", "n_reps"]
GROUP_SUMMARY_COLUMNS = ["scenario", "group_type", "group", "metric", "mean", "ci_low", "ci_high"]
TIMESERIES_COLUMNS = ["scenario", "rep", "week", "date", "metric", "group_type", "group", "value"]


LABELS: dict[str, list[str]] = {
    "metric": list(METRICS),
    "group_type": [OVERALL[0], *GROUPS],
    "group": list(dict.fromkeys([OVERALL[1], *(g for names in GROUPS.values() for g in names)])),
}
"""Label columns of the time series and their known values (category order)."""


def compact_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The same frame with its label columns as categoricals (about a third of the memory).

    Categories are the known labels (plus any others present), so frames of
    different replications concatenate without falling back to strings.
    """
    out = frame.copy()
    for col, known in LABELS.items():
        if col in out.columns:
            values = out[col].astype(str)
            out[col] = pd.Categorical(values, categories=list(dict.fromkeys([*known, *values.unique()])))
    return out


def long_timeseries(replications: Sequence[Replication]) -> pd.DataFrame:
    """All replications in the long format of timeseries.parquet (label columns categorical)."""
    ts = stack(list(replications))
    ts["scenario"] = pd.Categorical(ts["scenario"].astype(str),
                                    categories=list(dict.fromkeys(r.scenario for r in replications)))
    return compact_frame(ts)[TIMESERIES_COLUMNS]


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Label columns back to strings, so group-bys see only the combinations present."""
    return frame.astype({c: str for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)})


def _in_order(table: pd.DataFrame, scenarios: Sequence[str]) -> pd.DataFrame:
    """Rows by scenario (in the order given), then in metric order (``sim.model.series.metric_order``)."""
    rank = {s: i for i, s in enumerate(scenarios)}
    ordered = metric_order(table).sort_values("scenario", key=lambda col: col.map(rank), kind="stable")
    return ordered.reset_index(drop=True)


def summary_table(timeseries: pd.DataFrame) -> pd.DataFrame:
    """summary.csv: end-of-run mean and 95% interval over replications, per scenario and metric (overall rows)."""
    last = _plain(end_of_run(timeseries, ["scenario", "rep"]))
    overall = last[(last["group_type"] == OVERALL[0]) & (last["group"] == OVERALL[1])]
    table = summarise(overall, ["scenario", "metric"])
    return _in_order(table, list(dict.fromkeys(timeseries["scenario"])))[SUMMARY_COLUMNS]


def summary_by_group_table(timeseries: pd.DataFrame) -> pd.DataFrame:
    """summary_by_group.csv: end-of-run mean and 95% interval per scenario, group and metric."""
    last = _plain(end_of_run(timeseries, ["scenario", "rep"]))
    groups = last[last["group_type"] != OVERALL[0]]
    table = summarise(groups, ["scenario", "group_type", "group", "metric"])
    return _in_order(table, list(dict.fromkeys(timeseries["scenario"])))[GROUP_SUMMARY_COLUMNS]


def platform_info() -> dict[str, str]:
    """Interpreter, operating system and the versions of the libraries that shape results."""
    info = {"python": sys.version.split()[0], "system": platform.platform(), "machine": platform.machine()}
    for lib in ("mesa", "numpy", "pandas", "pydantic", "scipy"):
        try:
            info[lib] = version(lib)
        except PackageNotFoundError:
            info[lib] = "unknown"
    return info


def manifest(configs: Sequence[Config], sources: Sequence[str], replications: Sequence[Replication],
             command: str, started: dt.datetime, finished: dt.datetime, files: Sequence[str]) -> dict[str, Any]:
    """manifest.json: what was run, how, when and where, enough to repeat it."""
    seeds = {c.name: [r.seed for r in replications if r.scenario == c.name] for c in configs}
    return {
        "digex_version": __version__,
        "command": command,
        "working_directory": os.getcwd(),
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "duration_seconds": round((finished - started).total_seconds(), 1),
        "platform": platform_info(),
        "replications": {c.name: len(seeds[c.name]) for c in configs},
        "files": list(files),
        "scenarios": [
            {"name": c.name, "source": src, "seeds": seeds[c.name], "population_weight": c.population.weight,
             "config": c.model_dump(mode="json")}
            for c, src in zip(configs, sources, strict=True)
        ],
    }


def write_run_outputs(directory: Path, configs: Sequence[Config], sources: Sequence[str],
                      replications: Sequence[Replication], command: str, started: dt.datetime) -> list[str]:
    """Write every file of the output contract into ``directory``; return their names."""
    from sim.outputs import figures

    ts = long_timeseries(replications)
    ts.to_parquet(directory / "timeseries.parquet", index=False)
    summary = summary_table(ts)
    summary.to_csv(directory / "summary.csv", index=False)
    by_group = summary_by_group_table(ts)
    by_group.to_csv(directory / "summary_by_group.csv", index=False)
    names = ["summary.csv", "summary_by_group.csv", "timeseries.parquet"]
    names += figures.write_run_figures(directory, ts, by_group, policy_markers(configs))
    names.append("manifest.json")
    info = manifest(configs, sources, replications, command, started, dt.datetime.now().astimezone(), names)
    (directory / "manifest.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return names


def policy_markers(configs: Sequence[Config]) -> list[tuple[object, str]]:
    """Dated events shared by every scenario and inside the run, to mark on time plots (the mandate start)."""
    dates = {c.policy.mandate_start for c in configs}
    run = configs[0].run
    if len(dates) == 1 and (d := dates.pop()) is not None and run.start <= d <= run.end:
        return [(d, "mandate starts")]
    return []


def write_comparison(directory: Path, comparison: Comparison, sources: Sequence[str], command: str,
                     started: dt.datetime, svg: bool = False) -> list[str]:
    """Write comparison.csv, end_values.csv, timeseries_summary.parquet, the figures and manifest.json.

    ``directory`` is the temporary directory of ``sim.atomic.output_dir``.
    """
    from sim.outputs.figures import comparison_figures, save_figure

    comparison.table.to_csv(directory / "comparison.csv", index=False)
    comparison.ends.to_csv(directory / "end_values.csv", index=False)
    comparison.weekly.to_parquet(directory / "timeseries_summary.parquet", index=False)
    names = ["comparison.csv", "end_values.csv", "timeseries_summary.parquet"]
    figures = comparison_figures(comparison.table, comparison.weekly, comparison.scenarios,
                                 policy_markers(comparison.configs))
    for stem, fig in figures.items():
        names += [f"plots/{p.name}" for p in save_figure(fig, directory / "plots", stem, svg)]
    names.append("manifest.json")
    info = manifest(comparison.configs, sources, comparison.replications, command, started,
                    dt.datetime.now().astimezone(), names)
    info = {"kind": "compare", "reference": comparison.scenarios[0], "reps": comparison.reps,
            "seed": comparison.configs[0].run.seed, **info}
    (directory / "manifest.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return names
