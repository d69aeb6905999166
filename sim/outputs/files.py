"""Result files of ``digex run`` (and other commands that write a results directory).

The output contract (README.md, "Output files"):

- ``summary.csv``: scenario, metric, unit, mean, ci_low, ci_high, n_reps, interval_covers -- end-of-run
  values (the last week; windowed metrics cover its last year, 52 or 53 weeks), overall;
  intervals from ``sim.experiments.stats`` (empty with one replication); ``interval_covers`` says
  which uncertainty they cover (``sim.experiments.stats.interval_covers``: simulation noise only, or
  with ``--posterior K`` parameter uncertainty too);
- ``summary_by_group.csv``: scenario, group_type, group, metric, unit, mean, ci_low, ci_high, interval_covers;
- ``timeseries.parquet``: scenario, rep, week, date, metric, group_type, group, value
  (overall rows have group_type == group == "all");
- ``manifest.json``: version, resolved configurations, seeds, times, platform, command; the git commit
  of the source tree, SHA-256 of the input scenario files and every library version (``manifest``);
  with ``--posterior K`` also the posterior file, its SHA-256, K and the values of every draw used;
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
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sim import __version__
from sim.atomic import shown
from sim.errors import UserError
from sim.experiments.compare import Comparison
from sim.experiments.replication import Replication, stack
from sim.experiments.stats import interval_covers, summarise
from sim.model.metrics import GROUPS, METRICS, OVERALL
from sim.model.params import Config
from sim.model.series import end_of_run, metric_order, names_in_order
from sim.scenario.posterior import PosteriorRun, replay_posterior

SUMMARY_COLUMNS = ["scenario", "metric", "unit", "mean", "ci_low", "ci_high", "n_reps", "interval_covers"]
GROUP_SUMMARY_COLUMNS = ["scenario", "group_type", "group", "metric", "unit", "mean", "ci_low", "ci_high",
                         "interval_covers"]
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
            out[col] = labels_categorical(out[col], known)
    return out


def labels_categorical(column: pd.Series, known: Sequence[str]) -> pd.Categorical:
    """``column`` as strings in a categorical whose categories are ``known`` and then any other values present
    (in order of appearance).

    One hashing pass over the rows (``pd.factorize``); a column that is already categorical with string
    categories is recoded as it is, not turned into a string per row first.
    """
    values = column if _string_categorical(column) else column.astype(str)
    codes, present = pd.factorize(values, use_na_sentinel=False)
    categories = list(dict.fromkeys([*known, *present]))
    position = {label: i for i, label in enumerate(categories)}
    recode = np.array([position[label] for label in present], dtype=np.int64)
    return pd.Categorical.from_codes(recode[codes], categories=categories)


def _string_categorical(column: pd.Series) -> bool:
    """Whether ``column`` is already categorical with string categories and no missing values, so that
    ``compact_frame`` can recode it as it is: the same result as through ``astype(str)``, without a string
    per row (a replication's frame is compacted as it arrives and again when the replications are stacked)."""
    dtype = column.dtype
    return (isinstance(dtype, pd.CategoricalDtype) and all(isinstance(c, str) for c in dtype.categories)
            and not column.hasnans)


def long_timeseries(replications: Sequence[Replication]) -> pd.DataFrame:
    """All replications in the long format of timeseries.parquet (label columns categorical)."""
    ts = stack(list(replications))
    ts["scenario"] = labels_categorical(ts["scenario"], list(dict.fromkeys(r.scenario for r in replications)))
    return compact_frame(ts)[TIMESERIES_COLUMNS]


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Label columns back to strings, so group-bys see only the combinations present."""
    return frame.astype({c: str for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)})


def _in_order(table: pd.DataFrame, scenarios: Sequence[str]) -> pd.DataFrame:
    """Rows by scenario (in the order given), then in metric order (``sim.model.series.metric_order``)."""
    rank = {s: i for i, s in enumerate(scenarios)}
    ordered = metric_order(table).sort_values("scenario", key=lambda col: col.map(rank), kind="stable")
    return ordered.reset_index(drop=True)


def summary_table(timeseries: pd.DataFrame, posterior: bool = False) -> pd.DataFrame:
    """summary.csv: end-of-run mean and 95% interval over replications, per scenario and metric (overall rows),
    and what the interval covers (with ``posterior`` draws, parameter uncertainty too)."""
    last = _plain(end_of_run(timeseries, ["scenario", "rep"]))
    overall = last[(last["group_type"] == OVERALL[0]) & (last["group"] == OVERALL[1])]
    table = summarise(overall, ["scenario", "metric"]).assign(interval_covers=interval_covers(posterior))
    return _in_order(table, names_in_order(timeseries["scenario"]))[SUMMARY_COLUMNS]


def summary_by_group_table(timeseries: pd.DataFrame, posterior: bool = False) -> pd.DataFrame:
    """summary_by_group.csv: end-of-run mean and 95% interval per scenario, group and metric, and what the
    interval covers (``summary_table``)."""
    last = _plain(end_of_run(timeseries, ["scenario", "rep"]))
    groups = last[last["group_type"] != OVERALL[0]]
    table = summarise(groups, ["scenario", "group_type", "group", "metric"]).assign(
        interval_covers=interval_covers(posterior))
    return _in_order(table, names_in_order(timeseries["scenario"]))[GROUP_SUMMARY_COLUMNS]


def platform_info() -> dict[str, str]:
    """The interpreter, operating system and machine."""
    return {"python": sys.version.split()[0], "system": platform.platform(), "machine": platform.machine()}


LIBRARIES = ("mesa", "numpy", "pandas", "pyarrow", "pydantic", "pyyaml", "matplotlib", "scipy", "networkx", "tqdm",
             "dask", "distributed", "solara", "openpyxl")
"""Libraries whose versions a manifest always records; those digex's installed distribution requires are added."""


def library_versions() -> dict[str, str]:
    """The installed version of every library that digex requires (LIBRARIES and the requirements of the
    installed digex distribution, without optional extras), by lower-case name; 'not installed' if absent."""
    try:
        required = [r for r in requires("digex") or [] if "extra ==" not in r]
    except PackageNotFoundError:  # run from a source folder that was never installed
        required = []
    names = {*LIBRARIES, *(re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower() for r in required)}
    versions = {}
    for name in sorted(names):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


GIT_TIMEOUT = 10
"""Seconds a git command may take when the manifest records the source tree."""


def _git(root: Path, *args: str) -> str:
    """The output of a read-only git command in ``root`` (optional locks off, so the index is never written)."""
    return subprocess.run(["git", "--no-optional-locks", "-C", str(root), *args], capture_output=True, text=True,
                          timeout=GIT_TIMEOUT, check=True).stdout.strip()


def source_tree() -> dict[str, Any] | None:
    """The git commit of the source tree that the running ``sim`` package belongs to, and whether the tree has
    changes not committed (``dirty``: modified, staged or untracked files); None if the package is not the
    ``sim/`` folder of a git work tree (an installed copy), or git is missing."""
    package = Path(__file__).resolve().parents[1]
    try:
        root = Path(_git(package.parent, "rev-parse", "--show-toplevel")).resolve()
        if root / "sim" != package:  # e.g. a copy in site-packages under some other repository
            return None
        return {"commit": _git(root, "rev-parse", "HEAD"), "dirty": bool(_git(root, "status", "--porcelain"))}
    except (OSError, subprocess.SubprocessError):
        return None


def input_files(source: str) -> list[dict[str, str | None]]:
    """The scenario file ``source`` and each file of its ``extends`` chain, in order: its absolute path and
    SHA-256 (None, with the problem, for a file that can no longer be read)."""
    from sim.experiments.sweep import file_digests
    from sim.scenario.loader import scenario_files

    try:
        return [{"path": str(f), "sha256": file_digests(f.parent, [f.name])[f.name]} for f in scenario_files(source)]
    except (UserError, OSError) as exc:
        return [{"path": source, "sha256": None, "problem": str(exc)[:200]}]


def config_digest(config: dict[str, Any]) -> str:
    """SHA-256 of a resolved configuration as JSON (keys sorted): changes if anything in it is edited."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def manifest(configs: Sequence[Config], sources: Sequence[str], replications: Sequence[Replication],
             command: str, started: dt.datetime, finished: dt.datetime, files: Sequence[str],
             posterior: PosteriorRun | None = None) -> dict[str, Any]:
    """manifest.json: what was run, how, when and where, enough to repeat it (``digex rerun``).

    Besides the command line and each scenario's fully resolved
    configuration and seeds, it records the git commit of the source tree
    (``source_tree``), the SHA-256 of every input scenario file with its
    ``extends`` chain (``input_files``) and of each stored configuration
    (``config_digest``), and the versions of the interpreter and every
    library digex requires (``library_versions``). With ``posterior`` draws,
    the stored configurations hold the scenarios' own values and a
    ``posterior`` block (``PosteriorRun.manifest``) the posterior file, its
    SHA-256, K and every draw used.
    """
    seeds = {c.name: [r.seed for r in replications if r.scenario == c.name] for c in configs}
    dumped = [c.model_dump(mode="json") for c in configs]
    return {
        "digex_version": __version__,
        "command": command,
        "working_directory": os.getcwd(),
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "duration_seconds": round((finished - started).total_seconds(), 1),
        "git": source_tree(),
        "platform": platform_info(),
        "libraries": library_versions(),
        "replications": {c.name: len(seeds[c.name]) for c in configs},
        "posterior": posterior.manifest() if posterior is not None else None,
        "files": list(files),
        "scenarios": [
            {"name": c.name, "source": src, "inputs": input_files(src), "seeds": seeds[c.name],
             "population_weight": c.population.weight, "config": data, "config_sha256": config_digest(data)}
            for c, src, data in zip(configs, sources, dumped, strict=True)
        ],
    }


class _Recorded(BaseModel):
    """Part of a manifest that ``digex rerun`` uses, strictly typed; other keys are ignored."""

    model_config = ConfigDict(extra="ignore", strict=True)


class _RecordedScenario(_Recorded):
    name: str
    source: str = ""
    seeds: list[int] = Field(min_length=1)
    config: dict[str, Any]
    config_sha256: str | None = None


class _RecordedRun(_Recorded):
    kind: Literal["run", "compare"] = "run"
    digex_version: str
    scenarios: list[_RecordedScenario] = Field(min_length=1)
    posterior: dict[str, Any] | None = None


RERUN_KINDS = ("run", "compare")
"""Kinds of command a manifest records that ``digex rerun`` repeats."""


@dataclass
class RecordedRun:
    """What a manifest records of a run or compare: its kind, the resolved configurations, their source files,
    the replications of each, the digex version that made it and, for a ``--posterior`` run, the draws."""

    kind: str
    configs: list[Config]
    sources: list[str]
    reps: int
    digex_version: str
    posterior: PosteriorRun | None = None


def _recorded_config(path: Path, s: _RecordedScenario) -> Config:
    """A scenario's stored configuration, checked against its recorded digest, validated, with its seeds."""
    where = f"{shown(path)}: scenario '{shown(s.name)}'"
    if s.config_sha256 is not None and config_digest(s.config) != s.config_sha256:
        raise UserError(f"{where}: its configuration does not match its recorded SHA-256, so the manifest was "
                        "edited and no longer records what was run")
    try:
        config = Config.model_validate(s.config)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])[:100]
        raise UserError(f"{where}: invalid configuration at '{key}': {first['msg'][:100]}") from None
    if config.name != s.name or s.seeds != [config.run.seed + r for r in range(len(s.seeds))]:
        raise UserError(f"{where}: its name or seeds do not match its configuration (replication r uses seed "
                        "run.seed + r); the manifest was edited")
    return config


def recorded_run(path: Path) -> RecordedRun:
    """Read a manifest.json written by ``digex run`` or ``digex compare`` back: every check fails with one line.

    Refused: a file that is not a JSON object of at most MAX_MANIFEST_BYTES;
    a sweep's or calibration's manifest (repeat those with their command);
    missing or mistyped fields; a configuration that does not match its
    recorded SHA-256 (``config_digest``) or does not validate; seeds other
    than run.seed + r; scenarios with different numbers of replications.
    Nothing is unpickled or executed: the manifest is JSON.
    """
    from sim.outputs.report import MAX_MANIFEST_BYTES

    try:
        if not path.is_file():
            raise UserError(f"{shown(path)}: no such file; give the manifest.json of a digex run or compare")
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise UserError(f"{shown(path)}: larger than {MAX_MANIFEST_BYTES:,} bytes; not a digex manifest")
        raw = json.loads(path.read_bytes())
    except OSError as exc:
        raise UserError(f"{shown(path)}: cannot be read ({exc.strerror or exc})") from None
    except (ValueError, RecursionError) as exc:
        raise UserError(f"{shown(path)}: not valid JSON ({str(exc)[:100]})") from None
    if isinstance(raw, dict) and raw.get("kind") not in (None, *RERUN_KINDS):
        raise UserError(f"{shown(path)}: records a digex {shown(raw.get('kind'))}; rerun repeats a run or compare "
                        "(repeat this one with the command in its manifest)")
    try:
        recorded = _RecordedRun.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])[:100] or "(top)"
        raise UserError(f"{shown(path)}: '{key}': {first['msg'][:100]}; this is not a manifest digex wrote") from None
    configs = [_recorded_config(path, s) for s in recorded.scenarios]
    reps = {len(s.seeds) for s in recorded.scenarios}
    if len(reps) > 1:
        raise UserError(f"{shown(path)}: its scenarios have different numbers of replications; the manifest was "
                        "edited")
    count = reps.pop()
    posterior = None
    if recorded.posterior is not None:
        posterior = replay_posterior(recorded.posterior, configs, shown(path))
        if posterior.k != count:
            raise UserError(f"{shown(path)}: it records {posterior.k} posterior draws for {count} replications; the "
                            "manifest was edited")
    return RecordedRun(recorded.kind, configs, [s.source for s in recorded.scenarios], count,
                       recorded.digex_version, posterior)


def write_run_outputs(directory: Path, configs: Sequence[Config], sources: Sequence[str],
                      replications: Sequence[Replication], command: str, started: dt.datetime,
                      stage: Callable[[str], None] = lambda _name: None,
                      posterior: PosteriorRun | None = None) -> list[str]:
    """Write every file of the output contract into ``directory``; return their names.

    ``stage(name)`` is called as each stage starts (for progress messages);
    ``posterior``: the replications used these posterior draws.
    """
    from sim.outputs import figures

    stage("writing timeseries.parquet")
    ts = long_timeseries(replications)
    ts.to_parquet(directory / "timeseries.parquet", index=False)
    stage("summary tables")
    summary = summary_table(ts, posterior is not None)
    summary.to_csv(directory / "summary.csv", index=False)
    by_group = summary_by_group_table(ts, posterior is not None)
    by_group.to_csv(directory / "summary_by_group.csv", index=False)
    names = ["summary.csv", "summary_by_group.csv", "timeseries.parquet"]
    stage("figures")
    names += figures.write_run_figures(directory, ts, by_group, policy_markers(configs))
    names.append("manifest.json")
    info = manifest(configs, sources, replications, command, started, dt.datetime.now().astimezone(), names,
                    posterior)
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
                     started: dt.datetime, svg: bool = False,
                     stage: Callable[[str], None] = lambda _name: None,
                     posterior: PosteriorRun | None = None) -> list[str]:
    """Write comparison.csv, end_values.csv, timeseries_summary.parquet, the figures and manifest.json.

    ``directory`` is the temporary directory of ``sim.atomic.output_dir``; ``stage(name)`` is called as
    each stage starts (for progress messages); ``posterior``: the replications used these posterior draws
    (recorded in the manifest).
    """
    from sim.outputs.figures import comparison_figures, save_figure

    stage("writing tables")
    comparison.table.to_csv(directory / "comparison.csv", index=False)
    comparison.ends.to_csv(directory / "end_values.csv", index=False)
    comparison.weekly.to_parquet(directory / "timeseries_summary.parquet", index=False)
    names = ["comparison.csv", "end_values.csv", "timeseries_summary.parquet"]
    stage("figures")
    figures = comparison_figures(comparison.table, comparison.weekly, comparison.scenarios,
                                 policy_markers(comparison.configs))
    for stem, fig in figures.items():
        names += [f"plots/{p.name}" for p in save_figure(fig, directory / "plots", stem, svg)]
    names.append("manifest.json")
    info = manifest(comparison.configs, sources, comparison.replications, command, started,
                    dt.datetime.now().astimezone(), names, posterior)
    info = {"kind": "compare", "reference": comparison.scenarios[0], "reps": comparison.reps,
            "seed": comparison.configs[0].run.seed, **info}
    (directory / "manifest.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return names
