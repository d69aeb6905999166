"""Self-contained HTML reports of a run, compare or sweep output directory (``digex report DIR``).

A report is written for a reader who never used digex: the question, the
scenarios and how they differ (a diff of the resolved configurations in
``manifest.json``), the headline table with 95% intervals (none with one
replication; numbers as ``sim.outputs.format`` writes them), the figures
(embedded as base64 PNG or SVG, so the single file can be mailed), the
caveats and the model version. It only reads what the command wrote; it never
runs the model. A directory whose manifest.json or tables are not as digex
writes them is refused with one line naming the file and what is wrong.

A report never overwrites a file digex did not write (``sim.atomic.check_file_target``):
its name ends in ``.html``, and an existing file is replaced only if it starts
with REPORT_MARKER, the comment every report carries.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sim import __version__
from sim.atomic import check_file_target, shown, write_text
from sim.errors import UserError
from sim.experiments.stats import interval_statement, unit_of
from sim.model.metrics import GROUPS, METRICS
from sim.outputs.format import MISSING, SIGNIFICANT, fmt_interval, fmt_setting, unit_label

HEADLINE = {
    "exclusion_rate": "excluded (a failed procedure or a missed letter with a consequence, last year)",
    "failed_procedure_share": "citizens with a failed procedure",
    "missed_letter_share": "citizens who missed a letter with a consequence",
    "lost_benefit_share": "citizens with a failed benefit claim",
    "failed_task_share": "procedures that failed",
    "non_take_up_rate": "benefit claims not taken up",
    "welfare_loss_per_citizen_dkk": "welfare lost per citizen-year",
    "digital_share": "own procedures done by self-service alone",
    "automation_share": "procedures resolved by automation",
    "assisted_share": "citizens who needed help for a procedure",
    "dependent_share": "citizens who only managed with help",
    "exempt_share": "exempt from Digital Post",
    "inactive_enrolled_share": "enrolled but not reading Digital Post",
    "digitally_challenged_share": "digitally challenged",
    "alienated_share": "alienated (low trust)",
    "trust_mean": "mean trust in digital services",
    "centre_unserved_share": "centre requests not served",
    "cost_per_citizen_year_dkk": "public cost per citizen-year",
    "cost_per_completed_task_dkk": "public cost per completed task",
    "savings_vs_analogue_dkk": "savings against all-analogue",
    "savings_discounted_dkk": "savings against all-analogue since the start (discounted)",
    "citizen_time_cost_dkk": "citizens' own time (value)",
    "privacy_exposure": "records processed by automation",
}
"""Metrics in the headline tables, in this order, with plain labels (missing, empty or all-zero ones are left out)."""

SWEEP_METRICS = ("exclusion_rate", "non_take_up_rate", "alienated_share", "cost_per_citizen_year_dkk")
"""Metrics of the sweep report's table of points, in its column order."""

WHO_GROUPS = ("age_band", "skill_quintile", "disability", "language_barrier", "education")
"""Group types in the 'who is excluded' table."""

GROUP_TITLES = {"age_band": "age band", "skill_quintile": "digital skill quintile", "disability": "disability",
                "language_barrier": "language barrier", "education": "education"}
"""Readable names of group types."""

FIGURE_CAPTIONS = {
    "exclusion_over_time": "Exclusion rate over time. The grey area is the first year, when the "
                           "'last year' window is still filling.",
    "exclusion_components": "What exclusion is made of, for the first scenario: failed procedures, missed "
                            "letters with a consequence and lost benefit claims, overall and by age band "
                            "(components overlap).",
    "exclusion_by_group": "Who is excluded at the end of the run, by age band and by digital-skill quintile.",
    "cost_vs_exclusion": "Public cost per citizen-year against the exclusion rate. A scenario on the Pareto "
                         "front cannot be beaten on both at once by another scenario.",
    "channel_cost_over_time": "Where the public money goes: cost of each channel per citizen-year.",
    "digital_share_over_time": "How citizens get things done: self-service alone versus help.",
    "trust_over_time": "Trust in public digital services and the share of alienated citizens.",
    "helper_time": "Citizen-service helpers' time: solving cases for citizens (casework), teaching them "
                   "(help to self-help) and documentation.",
    "sweep_effects": "Exclusion and cost at each sweep point against each varied setting.",
    "sweep_by_skill": "Exclusion of each digital-skill quintile against the one varied setting: who gains and who "
                      "loses as it moves.",
}
"""Captions of known figures, by file stem; other figures are shown in file-name order after these."""

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#222;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ddd}
h3{font-size:1.05rem}.lead{font-size:1.1rem;color:#333}.muted{color:#666;font-size:.9rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem}th,td{border:1px solid #ddd;padding:.25rem .45rem;
text-align:left;vertical-align:top}th{background:#f4f4f4}td.num{text-align:right;white-space:nowrap}
figure{margin:1.2rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85rem;color:#555}code{font-size:.85em;background:#f6f6f6;padding:0 .2em}
.swatch{display:inline-block;width:.8em;height:.8em;margin-right:.35em;border-radius:2px;vertical-align:baseline}
.better{color:#1a7f37}.worse{color:#b42318}li{margin:.2rem 0}
"""


REPORT_MARKER = "<!-- written by digex report -->"
"""Comment at the top of every report (after the doctype); only a file that has it may be overwritten."""

MAX_MANIFEST_BYTES = 50_000_000
"""Largest manifest.json read (digex writes a few kB per scenario)."""

TABLES: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "run": {"summary.csv": (("scenario", "metric"), ("mean", "ci_low", "ci_high", "n_reps")),
            "summary_by_group.csv": (("scenario", "group_type", "group", "metric"), ("mean", "ci_low", "ci_high"))},
    "compare": {"comparison.csv": (("scenario", "metric", "group_type", "group"),
                                   ("mean", "ci_low", "ci_high", "diff", "diff_ci_low", "diff_ci_high"))},
    "sweep": {"summary.csv": (("point", "metric", "group_type", "group"), ("mean", "ci_low", "ci_high", "n_reps"))},
}
"""Tables a report reads, by kind of directory (the first is required): the columns that identify a row
(unique) and the numeric columns."""


# ------------------------------------------------------------------ reading a directory


class _Record(BaseModel):
    """Part of manifest.json the report uses: strict types; other keys are kept as they are."""

    model_config = ConfigDict(extra="allow", strict=True)


class _RunView(_Record):
    start: dt.date | None = None
    weeks: int | None = Field(None, ge=1)
    analogue_reference: bool = True


class _PopulationView(_Record):
    size: int | None = Field(None, ge=1)
    real_size: float | None = Field(None, ge=0)


class _ConfigView(_Record):
    description: str | None = None
    run: _RunView = _RunView()
    population: _PopulationView = _PopulationView()


class _ScenarioView(_Record):
    name: str
    description: str | None = None
    source: str | None = None
    config: _ConfigView = _ConfigView()


class _ManifestView(_Record):
    kind: Literal["run", "compare", "sweep"] | None = None
    question: str | None = None
    reps: int | None = Field(None, ge=1)
    replications: dict[str, int] | None = None
    scenarios: list[_ScenarioView] = []
    command: str | None = None
    finished: str | None = None
    digex_version: str | None = None
    design: str | None = None
    seed: int | None = None
    platform: dict[str, str | int | float | None] | None = None
    keys: list[str] | None = None
    vary: list[str] = []


def read_manifest(path: Path) -> dict[str, Any]:
    """manifest.json as a dict, its fields used by the report checked for type (dates as ISO text)."""
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise UserError(f"{shown(path)}: larger than {MAX_MANIFEST_BYTES:,} bytes; not a digex manifest")
        text = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{shown(path)}: cannot be read ({exc.strerror or exc})") from None
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UserError(f"{shown(path)}: not valid JSON ({str(exc)[:100]})") from None
    if not isinstance(raw, dict):
        raise UserError(f"{shown(path)}: expected a JSON object")
    try:
        return _ManifestView.model_validate_json(text).model_dump(mode="json", exclude_unset=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])[:100]
        raise UserError(f"{shown(path)}: '{where}': {first['msg'][:100]}; this is not a manifest digex wrote "
                        "(rerun the command that made the directory)") from None


def read_table(path: Path, keys: Sequence[str], numbers: Sequence[str]) -> pd.DataFrame:
    """A result table, refused unless it has the ``keys`` columns (one row each) and numeric ``numbers`` columns."""
    try:
        table = pd.read_csv(path, keep_default_na=True)
    except (ValueError, OSError) as exc:
        raise UserError(f"{shown(path)}: unreadable table ({str(exc)[:100]})") from None
    missing = [c for c in (*keys, *numbers) if c not in table.columns]
    wrong = [c for c in numbers if c in table.columns and not (pd.api.types.is_numeric_dtype(table[c])
                                                               and not table[c].isin([math.inf, -math.inf]).any())]
    problem = (f"no column '{missing[0][:60]}'" if missing else
               "no rows" if table.empty else
               f"column '{wrong[0]}' holds values that are not finite numbers" if wrong else
               f"more than one row for the same {', '.join(keys)}" if table.duplicated(list(keys)).any() else None)
    if problem:
        raise UserError(f"{shown(path)}: {problem}; this is not a table digex wrote (rerun the command that made "
                        "the directory)")
    return table


@dataclass
class OutputDir:
    """What a run, compare or sweep command left in its directory."""

    path: Path
    kind: str
    manifest: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)


def read_output_dir(path: Path) -> OutputDir:
    """Read manifest.json, the tables and the figure files of an output directory.

    The kind comes from the manifest's ``kind`` (``run``, ``compare`` or
    ``sweep``) or, failing that, from the files present.
    """
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{shown(path)}: no such directory")
    manifest_path = path / "manifest.json"
    manifest = read_manifest(manifest_path) if manifest_path.is_file() else {}
    files = {p.name for p in path.iterdir()}
    kind = manifest.get("kind") or ("compare" if "comparison.csv" in files else
                                    "sweep" if "runs" in files else "run" if "summary.csv" in files else None)
    if kind is None:
        raise UserError(f"{shown(path)}: not a digex run, compare or sweep directory (no manifest.json or result "
                        "tables)")
    if "sha256" in manifest:
        from sim.experiments.sweep import check_digests

        check_digests(path, manifest["sha256"])
    out = OutputDir(path, kind, manifest)
    for i, (name, (keys, numbers)) in enumerate(TABLES[kind].items()):
        if name in files:
            out.tables[name] = read_table(path / name, keys, numbers)
        elif i == 0:
            raise UserError(f"{shown(path)}: {name} is missing; rerun the {kind} command")
    if kind == "sweep":
        _check_keys(path / "summary.csv", out.tables["summary.csv"], manifest.get("keys") or [])
    out.figures = figure_files(path)
    return out


def _check_keys(path: Path, summary: pd.DataFrame, keys: Sequence[str]) -> None:
    """Refuse a sweep summary without a column for each varied setting of the manifest."""
    missing = [k for k in keys if k not in summary.columns]
    if missing:
        raise UserError(f"{shown(path)}: no column for the varied setting '{missing[0][:60]}' of manifest.json; "
                        "rerun the sweep")


def figure_files(directory: Path) -> list[Path]:
    """Figure files to embed from ``plots/`` and the directory itself: one per stem (SVG when present, else PNG).

    Known figures come first, in the order of FIGURE_CAPTIONS.
    """
    by_stem: dict[str, Path] = {}
    for folder in (directory, directory / "plots"):
        if folder.is_dir():
            for p in sorted(folder.iterdir()):
                if p.suffix in (".png", ".svg") and (p.stem not in by_stem or p.suffix == ".svg"):
                    by_stem[p.stem] = p
    known = [s for s in FIGURE_CAPTIONS if s in by_stem]
    return [by_stem[s] for s in known] + [by_stem[s] for s in sorted(by_stem) if s not in FIGURE_CAPTIONS]


def _reps(manifest: dict, table: pd.DataFrame) -> int:
    """Replications per scenario: from the manifest, else the largest n_reps in a table."""
    if manifest.get("reps"):
        return int(manifest["reps"])
    counts = manifest.get("replications")
    if counts:
        return int(max(counts.values()))
    largest = table["n_reps"].max() if "n_reps" in table else None
    return int(largest) if pd.notna(largest) else 1


# ------------------------------------------------------------------ wording


def _posterior(manifest: dict) -> bool:
    """Whether the results ran with ``--posterior K``: replication r with posterior draw r (a ``posterior`` block in
    the manifest, ``sim.scenario.posterior.PosteriorRun.manifest``)."""
    return isinstance(manifest.get("posterior"), dict)


def _spread(reps: int, posterior: bool) -> str:
    """What a table's values are: the mean and its interval over ``reps`` replications, saying which uncertainty
    the interval covers (``sim.experiments.stats.interval_statement``), or one replication's value."""
    if reps > 1:
        return f"mean [{interval_statement(reps, posterior)}]"
    return "the value of a single replication (no interval: that needs 2 or more replications)"


def _pairing(posterior: bool) -> str:
    """What replication r of every scenario shares."""
    return "the same seed and the same posterior draw" if posterior else "the same seed"


def _e(text: Any) -> str:
    return html.escape(str(text))


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], numeric_from: int = 1) -> str:
    """An HTML table; cells from column ``numeric_from`` on are right-aligned. Cells are escaped here."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td class='num'>{_e(c)}</td>" if i >= numeric_from else f"<td>{_e(c)}</td>"
                         for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def embed_figure(path: Path, caption: str) -> str:
    """A figure element with the image inlined as a base64 data URI."""
    mime = "image/svg+xml" if path.suffix == ".svg" else "image/png"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f"<figure><img alt='{_e(caption or path.stem)}' src='data:{mime};base64,{data}'>"
            f"<figcaption>{_e(caption)}</figcaption></figure>")


# ------------------------------------------------------------------ configuration differences


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted key paths; lists of mappings by index (``timeline[0].date``)."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            out |= flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        for i, v in enumerate(data):
            out |= flatten(v, f"{prefix}[{i}]")
    else:
        out[prefix] = data
    return out


def config_differences(configs: dict[str, dict], ignore: Sequence[str] = ("name", "description")) -> pd.DataFrame:
    """Keys whose resolved values differ between scenarios: one row per key, one column per scenario."""
    flat = {n: flatten(c) for n, c in configs.items()}
    keys: list[str] = []
    for f in flat.values():
        keys += [k for k in f if k not in keys]
    rows = []
    for k in keys:
        if k in ignore:
            continue
        values = [flat[n].get(k, "(not set)") for n in configs]
        if len({json.dumps(v, sort_keys=True, default=str) for v in values}) > 1:
            rows.append([k, *[_plain(v) for v in values]])
    return pd.DataFrame(rows, columns=["key", *configs])


def _plain(value: Any) -> str:
    """A configuration value as short text, written as in a scenario file (true, null, [1, 2])."""
    if isinstance(value, (dict, list, bool)) or value is None:
        return json.dumps(value, default=str)
    return str(value)


# ------------------------------------------------------------------ sections


def _header(title: str, lead: str) -> str:
    return f"<h1>{_e(title)}</h1><p class='lead'>{_e(lead)}</p>"


def _scenario_list(manifest: dict, colours: dict[str, str] | None = None) -> str:
    items = []
    for s in manifest.get("scenarios", []):
        swatch = f"<span class='swatch' style='background:{colours[s['name']]}'></span>" if colours else ""
        desc = s.get("description") or s.get("config", {}).get("description") or "(no description)"
        src = f" <span class='muted'>({_e(s['source'])})</span>" if s.get("source") else ""
        items.append(f"<li>{swatch}<b>{_e(s['name'])}</b>: {_e(desc)}{src}</li>")
    return "<ul>" + "".join(items) + "</ul>"


def _differences(manifest: dict) -> str:
    configs = {s["name"]: s.get("config", {}) for s in manifest.get("scenarios", [])}
    if len(configs) < 2:
        return ""
    diff = config_differences(configs)
    if diff.empty:
        return "<h2>How the scenarios differ</h2><p>Their resolved configurations are identical.</p>"
    return ("<h2>How the scenarios differ</h2><p>Every setting whose resolved value (defaults, calibration, "
            "scenario file and command-line overrides) is not the same in all scenarios:</p>"
            + _table(["setting", *diff.columns[1:]], diff.itertuples(index=False), numeric_from=99))


def _rows_for(table: pd.DataFrame, metric: str, gtype: str = "all", group: str = "all") -> pd.DataFrame:
    return table[(table["metric"] == metric) & (table["group_type"] == gtype) & (table["group"].astype(str) == group)]


def _cell(rows: pd.DataFrame, key: str, unit: str, diff: bool = False) -> str:
    """Mean [interval] (or, with ``diff``, the difference from the reference) of row ``key`` of ``rows``."""
    if key not in rows.index:
        return MISSING
    r = rows.loc[key]
    columns = ("diff", "diff_ci_low", "diff_ci_high") if diff else ("mean", "ci_low", "ci_high")
    return fmt_interval(*(r[c] for c in columns), unit, diff)


def _headline_metrics(table: pd.DataFrame) -> list[str]:
    """Headline metrics with at least one non-zero overall value."""
    overall = table[table["group_type"] == "all"] if "group_type" in table else table
    return [m for m in HEADLINE if (overall.loc[overall["metric"] == m, "mean"].fillna(0) != 0).any()]


def _glossary(metrics: Sequence[str]) -> str:
    return ("<p class='muted'>Definitions (column names in the CSV files): " + "; ".join(
        f"<i>{_e(HEADLINE[m])}</i> = <code>{_e(m)}</code>: {_e(METRICS[m].description)}" for m in metrics) + "</p>")


def _compare_headline(table: pd.DataFrame, scenarios: list[str], reps: int, posterior: bool) -> str:
    ref = scenarios[0]
    metrics = _headline_metrics(table)
    levels, diffs = [], []
    for m in metrics:
        d = _rows_for(table, m).set_index("scenario")
        levels.append([HEADLINE[m], unit_label(unit_of(m)), *[_cell(d, s, unit_of(m)) for s in scenarios]])
        diffs.append([HEADLINE[m], unit_label(unit_of(m), diff=True),
                      *[_cell(d, s, unit_of(m), diff=True) for s in scenarios[1:]]])
    paired = (f"with a 95% interval from the paired replications (replication r of both used {_pairing(posterior)}"
              f"; {interval_statement(reps, posterior)}). An interval that excludes zero is a difference these "
              "replications resolve." if reps > 1 else
              f"from a single replication of each ({_pairing(posterior)}), so without an interval.")
    return ("<h2>Headline results</h2><p>End-of-run values (metrics over 'the last year' cover the 52 or 53 weeks "
            f"since the same ISO week a year before): {_spread(reps, posterior)}. Shares are in per cent; DKK "
            "totals are per year for the whole population.</p>"
            + _table(["", "unit", *scenarios], levels, numeric_from=2)
            + f"<h3>Differences from {_e(ref)}</h3><p>Each scenario minus <b>{_e(ref)}</b>, {paired} Differences "
            "of shares are in percentage points (pp).</p>"
            + _table(["", "unit", *[f"{s} − {ref}" for s in scenarios[1:]]], diffs, numeric_from=2)
            + _glossary(metrics))


def _significant(lo: float, hi: float) -> bool:
    return not (math.isnan(lo) or math.isnan(hi)) and (lo > 0 or hi < 0)


def _findings(table: pd.DataFrame, scenarios: list[str]) -> str:
    """Plain sentences for each scenario against the reference: exclusion and cost, with intervals."""
    ref = scenarios[0]
    items = []
    for s in scenarios[1:]:
        parts = []
        for m, what in (("exclusion_rate", "the exclusion rate"),
                        ("cost_per_citizen_year_dkk", "public cost per citizen-year (DKK)")):
            d = _rows_for(table, m).set_index("scenario")
            if s not in d.index or pd.isna(d.loc[s, "diff"]):
                continue
            r = d.loc[s]
            verdict = ("" if _significant(r["diff_ci_low"], r["diff_ci_high"]) else
                       " (one replication: no interval, so not tested)" if pd.isna(r["diff_ci_low"]) else
                       " (not distinguishable from no change with these replications)")
            parts.append(f"{what} by {_cell(d, s, unit_of(m), diff=True)}{verdict}")
        worst = _most_excluded(table, s)
        if parts:
            items.append(f"<li><b>{_e(s)}</b> changes " + _e(" and ".join(parts)) + f" compared with {_e(ref)}."
                         + (f" Most excluded group: {_e(worst)}." if worst else "") + "</li>")
    worst_ref = _most_excluded(table, ref)
    lead = f"<li><b>{_e(ref)}</b> (the reference)" + (f": most excluded group: {_e(worst_ref)}." if worst_ref
                                                        else ".") + "</li>"
    return "<h2>Main findings</h2><ul>" + lead + "".join(items) + "</ul>"


def _most_excluded(table: pd.DataFrame, scenario: str) -> str:
    """The group with the highest end-of-run exclusion rate in a scenario, with its rate."""
    d = table[(table["metric"] == "exclusion_rate") & (table["group_type"] != "all") & (table["scenario"] == scenario)]
    d = d.dropna(subset=["mean"])
    if d.empty:
        return ""
    r = d.loc[d["mean"].idxmax()]
    return (f"{GROUP_TITLES.get(r['group_type'], r['group_type'])} {r['group']} "
            f"({fmt_interval(r['mean'], r['ci_low'], r['ci_high'], 'share')})")


def _who_table(table: pd.DataFrame, scenarios: list[str], reps: int, posterior: bool) -> str:
    rows = []
    for gtype in WHO_GROUPS:
        for g in GROUPS[gtype]:
            d = _rows_for(table, "exclusion_rate", gtype, str(g)).set_index("scenario")
            if d.empty:
                continue
            rows.append([f"{GROUP_TITLES[gtype]}: {g}", *[_cell(d, s, "share") for s in scenarios]])
    if not rows:
        return ""
    return ("<h2>Who is excluded</h2><p>Share of each group with a failed procedure or a missed "
            f"letter with a consequence in the last year of the run ({_spread(reps, posterior)}). Small groups "
            "(the oldest, cognitive impairment, language barrier) carry few simulated citizens, so their values "
            "are noisy at small population sizes.</p>"
            + _table(["group", *scenarios], rows))


def _figures(out: OutputDir) -> str:
    if not out.figures:
        return "<h2>Figures</h2><p>No figures were found in plots/.</p>"
    return "<h2>Figures</h2>" + "".join(
        embed_figure(p, FIGURE_CAPTIONS.get(p.stem, "") if p.parent.name == "plots" else "") for p in out.figures)


def _caveats(out: OutputDir, extra: Sequence[str] = ()) -> str:
    m = out.manifest
    reps = _reps(m, next(iter(out.tables.values())))
    configs = [s.get("config", {}) for s in m.get("scenarios", [])]
    items = [
        "digex is a model: a synthetic population calibrated to Danish aggregate statistics (see "
        "docs/calibration.md) and behavioural rules documented in docs/ODD.md. Its numbers show what follows "
        "from those assumptions; they are not forecasts or measurements.",
        (f"Every interval is a {interval_statement(reps, True)}: replication r used draw r of the posterior "
         f"distribution of the calibrated parameters ({m['posterior'].get('file', '?')}), so the intervals cover "
         "what the calibration leaves uncertain, but not uncertainty about the model's rules themselves "
         "(docs/ODD.md section 4, Stochasticity)."
         if _posterior(m) else
         f"Every interval is a {interval_statement(reps, False)}: it reflects only the randomness between "
         "replications for the given parameter values, not uncertainty about the parameters or the rules "
         "themselves (docs/ODD.md section 4, Stochasticity). Run with --posterior K to include parameter "
         "uncertainty.")
        if reps > 1 else "With a single replication no interval is shown: one run does not measure its own "
        "randomness. Rerun with --reps 2 or more (10 or more for narrow intervals).",
        "Unit costs come from British local-government channel-cost studies converted to DKK; they understate "
        "the cost of transactional self-service.",
        "Metrics defined over 'the last year' are incomplete during the first year of a run; end-of-run "
        "values describe the last year simulated.",
        *extra,
    ]
    if 1 < reps < 5:
        items.append(f"Only {reps} replications per scenario: intervals are wide (t distribution with "
                     f"{reps - 1} degree(s) of freedom).")
    sizes = {c.get("population", {}).get("size") for c in configs if c}
    real = {c.get("population", {}).get("real_size") for c in configs if c}
    if sizes and None not in sizes:
        size = min(sizes)
        weight = (max(real) / size) if real and None not in real else None
        note = f" (each stands for about {weight:,.0f} residents)" if weight else ""
        items.append(f"The simulated population has {size:,} citizens{note}; totals are scaled up to the "
                     "real population. Small groups carry few simulated citizens"
                     + (", so their estimates are noisy." if size < 20_000 else "."))
    if configs and any(not c.get("run", {}).get("analogue_reference", True) for c in configs):
        items.append("The all-analogue reference run was switched off, so savings against an all-analogue "
                     "world are not reported.")
    return "<h2>Caveats</h2><ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


def _about(out: OutputDir) -> str:
    m = out.manifest
    rows = [["digex version of the results", m.get("digex_version", "unknown")],
            ["digex version of this report", __version__]]
    for key, label in (("finished", "results finished"), ("command", "command"), ("seed", "base seed"),
                       ("reps", "replications")):
        if m.get(key) is not None:
            rows.append([label, m[key]])
    if _posterior(m):
        p = m["posterior"]
        rows.append(["posterior draws", f"draws 0 to {p.get('replications', 0) - 1} of {p.get('draws_in_file', '?')} "
                     f"in {p.get('file', '?')} (SHA-256 {p.get('sha256', '?')})"])
    platform = m.get("platform") or {}
    if platform:
        rows.append(["platform", ", ".join(f"{k} {v}" for k, v in platform.items())])
    rows.append(["files", ", ".join(sorted(p.name for p in out.path.iterdir() if not p.name.startswith(".")))])
    return "<h2>About these results</h2>" + _table(["", ""], rows, numeric_from=99)


def _timespan(manifest: dict) -> str:
    configs = [s.get("config", {}) for s in manifest.get("scenarios", [])]
    run = configs[0].get("run", {}) if configs and configs[0] else {}
    if not run.get("start") or not run.get("weeks"):
        return "(period unknown)"
    start = dt.date.fromisoformat(str(run["start"]))
    try:
        end = start + dt.timedelta(weeks=int(run["weeks"]) - 1)
    except OverflowError:  # past the year 9999: not a run digex makes
        return "(period unknown)"
    return f"{start:%d %B %Y} to {end:%d %B %Y} ({run['weeks']} weeks)"


# ------------------------------------------------------------------ one page per kind


def compare_page(out: OutputDir) -> str:
    """Report body of a ``digex compare`` directory."""
    from sim.outputs.figures import scenario_colours

    table = out.tables["comparison.csv"]
    scenarios = [s["name"] for s in out.manifest.get("scenarios", [])] or list(dict.fromkeys(table["scenario"]))
    reps, posterior = _reps(out.manifest, table), _posterior(out.manifest)
    question = out.manifest.get("question") or (
        f"Who is excluded under each of these {len(scenarios)} policy settings, and at what public cost?")
    lead = (f"{len(scenarios)} scenarios, {reps} replications each, simulated {_timespan(out.manifest)}. "
            f"Replication r of every scenario uses {_pairing(posterior)}, so all scenarios meet the same citizens, "
            f"births, deaths and needs{' under the same parameter values' if posterior else ''}; differences come "
            f"from the policy alone. '{scenarios[0]}' is the reference.")
    return "".join([
        _header(question, lead),
        _findings(table, scenarios),
        "<h2>The scenarios</h2>", _scenario_list(out.manifest, scenario_colours(scenarios)),
        _differences(out.manifest),
        _compare_headline(table, scenarios, reps, posterior),
        _who_table(table, scenarios, reps, posterior),
        _figures(out),
        _caveats(out, ["Compare scenarios by the paired difference columns, not by whether their own intervals "
                       "overlap: common random numbers make the differences much more precise than the levels."]),
        _about(out),
    ])


def sweep_page(out: OutputDir) -> str:
    """Report body of a ``digex sweep`` directory."""
    m = out.manifest
    summary = out.tables["summary.csv"]
    keys = m.get("keys") or [c for c in summary.columns if "." in c]
    question = m.get("question") or f"How do exclusion and cost respond to {', '.join(keys)}?"
    n_points, reps = summary["point"].nunique(), _reps(m, summary)
    lead = (f"{m.get('design', 'sweep')} over {len(keys)} setting(s), {n_points} points, {reps} "
            f"replication(s) per point, simulated {_timespan(m)}. Every point uses the same seeds, so differences "
            "between points come from the settings alone.")
    varies = "".join(f"<li><code>{_e(v)}</code></li>" for v in m.get("vary", []))
    base = m.get("scenarios", [{}])[0] if m.get("scenarios") else {}
    design = (f"<h2>Design</h2><p>Base scenario <b>{_e(base.get('name', ''))}</b>: {_e(base.get('description', ''))}"
              f"</p><p>Varied settings:</p><ul>{varies}</ul>")
    overall = summary[summary["group_type"] == "all"]
    rows = []
    for point, d in overall.groupby("point", sort=True):
        d = d.set_index("metric")
        cells = [fmt_setting(d[k].iloc[0]) for k in keys]
        cells += [_cell(d, metric, unit_of(metric)) for metric in SWEEP_METRICS]
        rows.append([str(point), *cells])
    table = (f"<h2>Results per point</h2><p>End-of-run values, {_spread(reps, _posterior(m))}; settings to "
             f"{SIGNIFICANT} significant digits (points.csv has them in full). The full tables are results.csv "
             "(one row per run), results_by_group.csv and summary.csv (every metric and group).</p>"
             + _table(["point", *keys, "exclusion rate", "non-take-up", "alienated", "DKK per citizen-year"],
                      rows, numeric_from=1))
    return "".join([_header(question, lead), design, table, _figures(out), _caveats(out), _about(out)])


def run_page(out: OutputDir) -> str:
    """Report body of a ``digex run`` directory (one or more scenarios, no paired differences)."""
    m = out.manifest
    summary = out.tables["summary.csv"]
    scenarios = [s["name"] for s in m.get("scenarios", [])] or list(dict.fromkeys(summary["scenario"]))
    one = len(scenarios) == 1
    question = m.get("question") or (
        f"Who is excluded under {'this scenario' if one else 'these scenarios'}, and at what public cost?")
    reps, posterior = _reps(m, summary), _posterior(m)
    lead = (f"{', '.join(scenarios)}: {reps} replication(s) each, simulated {_timespan(m)}"
            + (", replication r with posterior draw r of the calibrated parameters." if posterior else "."))
    rows = []
    metrics = _headline_metrics(summary)
    for metric in metrics:
        d = summary[summary["metric"] == metric].set_index("scenario")
        rows.append([HEADLINE[metric], unit_label(unit_of(metric)), *[_cell(d, s, unit_of(metric)) for s in scenarios]])
    headline = ("<h2>Headline results</h2><p>End-of-run values (metrics over 'the last year' cover the 52 or 53 "
                f"weeks since the same ISO week a year before): {_spread(reps, posterior)}.</p>"
                + _table(["", "unit", *scenarios], rows, numeric_from=2) + _glossary(metrics))
    groups = out.tables.get("summary_by_group.csv")
    who = _who_table(groups, scenarios, reps, posterior) if groups is not None else ""
    return "".join([_header(question, lead), f"<h2>The scenario{'' if one else 's'}</h2>", _scenario_list(m),
                    _differences(m), headline, who, _figures(out), _caveats(out), _about(out)])


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |"


def compare_markdown(out: OutputDir) -> str:
    """The headline tables of a compare directory as Markdown: levels, paired differences, exclusion by group."""
    if out.kind != "compare":
        raise UserError(f"{out.path}: --markdown needs a compare directory (this is a {out.kind} directory)")
    table = out.tables["comparison.csv"]
    scenarios = [s["name"] for s in out.manifest.get("scenarios", [])] or list(dict.fromkeys(table["scenario"]))
    ref, reps, posterior = scenarios[0], _reps(out.manifest, table), _posterior(out.manifest)
    metrics = _headline_metrics(table)
    lines = [f"End-of-run values, {_spread(reps, posterior)}, simulated {_timespan(out.manifest)}.", "",
             _md_row(["", "unit", *scenarios]), _md_row(["---"] * (2 + len(scenarios)))]
    for m in metrics:
        d = _rows_for(table, m).set_index("scenario")
        lines.append(_md_row([HEADLINE[m], unit_label(unit_of(m)), *[_cell(d, s, unit_of(m)) for s in scenarios]]))
    lines += ["", f"Paired differences from {ref} ({_pairing(posterior)}), {_spread(reps, posterior)}:", "",
              _md_row(["", "unit", *[f"{s} − {ref}" for s in scenarios[1:]]]),
              _md_row(["---"] * (1 + len(scenarios)))]
    for m in metrics:
        d = _rows_for(table, m).set_index("scenario")
        lines.append(_md_row([HEADLINE[m], unit_label(unit_of(m), diff=True),
                              *[_cell(d, s, unit_of(m), diff=True) for s in scenarios[1:]]]))
    lines += ["", f"{HEADLINE['exclusion_rate'].capitalize()}, by group ({_spread(reps, posterior)}):", "",
              _md_row(["group", *scenarios]), _md_row(["---"] * (1 + len(scenarios)))]
    for gtype in WHO_GROUPS:
        for g in GROUPS[gtype]:
            d = _rows_for(table, "exclusion_rate", gtype, str(g)).set_index("scenario")
            if not d.empty:
                lines.append(_md_row([f"{GROUP_TITLES[gtype]}: {g}", *[_cell(d, s, "share") for s in scenarios]]))
    if out.manifest.get("command"):
        lines += ["", f"Made by: `{out.manifest['command']}`"]
    return "\n".join(lines) + "\n"


def render(out: OutputDir) -> str:
    """The complete HTML page for an output directory."""
    body = {"compare": compare_page, "sweep": sweep_page, "run": run_page}[out.kind](out)
    title = html.escape(f"digex {out.kind} report: {out.path.name}")
    return (f"<!DOCTYPE html>\n{REPORT_MARKER}\n<html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{CSS}</style></head>"
            f"<body>{body}<p class='muted'>Made by digex {_e(__version__)} (digex report).</p></body></html>")


def is_report(path: Path) -> bool:
    """Whether ``path`` is a file that digex report wrote (REPORT_MARKER near its start)."""
    try:
        with path.open("rb") as f:
            return REPORT_MARKER.encode() in f.read(200)
    except OSError:
        return False




def write_report(directory: Path, target: Path | None = None) -> Path:
    """Render the report of ``directory`` and write it atomically (default ``<directory>/report.html``).

    ``sim.atomic.check_file_target`` is applied to the file first, so only an earlier report is ever replaced.
    """
    out = read_output_dir(directory)
    path = Path(target) if target else out.path / "report.html"
    check_file_target(path, ".html", is_report, "report")
    return write_text(path, render(out))
