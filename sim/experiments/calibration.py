"""Calibration of a scenario to published figures (docs/ODD.md section 6; method in docs/calibration.md).

A calibration file (``calibration/denmark.yaml``) names the scenario to
calibrate, the uncertain parameters with their bounds, the published targets
(source, figure, tolerance, date), the simulation size, the seed and the
optimiser budget. ``fit`` minimises the squared distance, in tolerances,
between replication means and targets with Nelder-Mead, one block of
parameters at a time (``stages``), under common random numbers: every
parameter vector is run with the same seeds. ``evaluate_report`` runs the
result on the scenario's own seeds and size and ``write_outputs`` writes the
fitted YAML (the file the baseline extends), the fit table (CSV and
markdown), the optimiser trace and two plots.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import ConfigError
from sim.experiments.executor import Executor
from sim.experiments.stats import mean_ci
from sim.experiments.varied import Varied
from sim.model import keypath
from sim.model.codes import ENROLLED, EXEMPT
from sim.model.keypath import KeyPathError, format_key
from sim.model.metrics import GROUP_METRICS, METRICS
from sim.model.model import DigexModel
from sim.model.params import AGE_BANDS, Config
from sim.scenario.loader import load_scenario, load_yaml_with_lines, suggest

STATE_MEASURES: dict[str, str] = {
    "digitally_challenged_share": "skill below population.challenged_threshold",
    "exempt_share": "exempt from Digital Post",
    "enrolled_share": "enrolled in Digital Post",
    "internet_share": "internet access at home",
    "eid_share": "has an electronic ID (NemID/MitID)",
}
"""Shares that can be restricted to an age range (``ages``); computed from citizen state with the
same definition as the metric of that name (internet_share and eid_share exist only here)."""

KINDS = ("equal", "at_least", "at_most")
"""How a figure is compared: within +/- tolerance, or one-sided (figure minus/plus tolerance)."""

AGGREGATES = {"min": np.min, "max": np.max, "mean": np.mean}
"""How a target over several dates (``dates``) combines them within one replication."""

SPEC_KEYS = ("description", "base", "output", "method", "population", "replications", "seed", "sweeps", "ridge",
             "report", "abc", "fixed", "parameters", "targets", "stages")
METHODS = ("nelder-mead", "abc")
"""Fitting methods: block-wise Nelder-Mead to a point (``fit``), or an ABC rejection posterior
(sim/experiments/abc.py)."""
ABC_KEYS = ("simulations", "particles", "population", "draws", "predictive_draws", "predictive_population",
            "mode_runs")
TARGET_KEYS = ("source", "metric", "group", "ages", "age_groups", "date", "dates", "aggregate", "change_from",
               "kind", "value", "tolerance", "weight", "required", "note")
PARAMETER_KEYS = ("lower", "upper", "start", "log", "why")
"""A parameter's prior is not a key: it is always the default of sim/model/params.py."""
STAGE_KEYS = ("name", "parameters", "targets", "max_evaluations", "replications")
REPORT_KEYS = ("population", "replications", "seed")

MeasureKey = tuple[str, str | None, tuple[int, int] | None]
"""(metric, age band or None, (lowest age, highest age) or None): one quantity observed at a date."""


# ------------------------------------------------------------------ specification


def prior(p: Varied) -> float:
    """A fitted parameter's prior: its default in sim/model/params.py, towards which the ridge pulls."""
    return float(p.read(Config()))


@dataclass(frozen=True)
class Target:
    """A published figure and how the model's counterpart is measured.

    The statistic of one replication is the measure at ``dates`` (combined by
    ``aggregate``), minus its value at ``change_from`` if given; with
    ``age_groups`` it is the smallest rise of the measure between consecutive
    age groups (positive when it rises with age). A target that is not
    ``required`` is a diagnostic: reported, weighted in the loss by
    ``weight``, but not a condition the calibrated scenario must meet.
    """

    name: str
    source: str
    metric: str
    value: float
    tolerance: float
    dates: tuple[dt.date, ...]
    kind: str = "equal"
    group: str | None = None
    ages: tuple[int, int] | None = None
    age_groups: tuple[tuple[int, int], ...] = ()
    aggregate: str = "min"
    change_from: dt.date | None = None
    weight: float = 1.0
    required: bool = True
    note: str = ""

    def requests(self) -> list[tuple[MeasureKey, dt.date]]:
        """Every (measure, date) this target needs from a run."""
        dates = [*self.dates, *([self.change_from] if self.change_from else [])]
        if self.age_groups:
            return [((self.metric, None, g), d) for g in self.age_groups for d in dates]
        return [((self.metric, self.group, self.ages), d) for d in dates]

    def statistic(self, obs: dict[tuple[MeasureKey, dt.date], float]) -> float:
        """This target's statistic in one replication, from the observed measures."""
        if self.age_groups:
            d = self.dates[0]
            shares = [obs[((self.metric, None, g), d)] for g in self.age_groups]
            return float(np.min(np.diff(shares)))
        key = (self.metric, self.group, self.ages)
        value = float(AGGREGATES[self.aggregate]([obs[(key, d)] for d in self.dates]))
        if self.change_from is not None:
            value -= obs[(key, self.change_from)]
        return value

    def gap(self, mean: float) -> float:
        """Distance of the model mean from the figure in the direction that matters (0 if on the right side)."""
        if self.kind == "at_least":
            return max(0.0, self.value - mean)
        if self.kind == "at_most":
            return max(0.0, mean - self.value)
        return mean - self.value

    def within(self, mean: float) -> bool:
        """The model mean meets the figure within the stated tolerance."""
        return abs(self.gap(mean)) <= self.tolerance + 1e-12

    def figure(self) -> str:
        """The published figure as shown in the fit table."""
        sign = {"equal": "", "at_least": ">= ", "at_most": "<= "}[self.kind]
        return f"{sign}{_fmt(self.value)}"

    def when(self) -> str:
        """The date(s) as shown in the fit table."""
        if len(self.dates) > 1:
            return f"{self.aggregate} of {self.dates[0]} .. {self.dates[-1]} ({len(self.dates)} dates)"
        if self.change_from is not None:
            return f"{self.dates[0]} minus {self.change_from}"
        return str(self.dates[0])


@dataclass(frozen=True)
class AbcSettings:
    """The ABC budget of a calibration file's ``abc`` block (docs/calibration.md).

    ``simulations`` prior draws, each run once at ``population`` citizens
    (default: the file's ``population``); the ``particles`` closest to the
    figures are accepted; ``draws`` of them (in a seeded random order) go to
    the posterior file; ``predictive_draws`` of those run at
    ``predictive_population`` citizens (default: the report size) for the
    posterior predictive check; ``mode_runs`` runs of the calibrated point and
    of the posterior median at the bank's size check which is a posterior
    mode (``sim.experiments.abc.mode_check``; 0: no check).
    """

    simulations: int = 1200
    particles: int = 200
    population: int | None = None
    draws: int = 200
    predictive_draws: int = 40
    predictive_population: int | None = None
    mode_runs: int = 20


@dataclass(frozen=True)
class Stage:
    """A block of parameters fitted together to the targets they mainly determine."""

    name: str
    parameters: tuple[str, ...]
    targets: tuple[str, ...]
    max_evaluations: int
    replications: int | None = None


@dataclass(frozen=True)
class Spec:
    """A calibration file: what to fit, to which figures, with what budget."""

    file: Path
    base: Path
    output: Path
    population: int
    replications: int
    seed: int
    sweeps: int
    ridge: float
    report_population: int | None
    report_replications: int
    report_seed: int | None
    fixed: dict[str, Any]
    parameters: dict[str, Varied]
    starts: dict[str, float]
    targets: dict[str, Target]
    stages: tuple[Stage, ...]
    description: str = ""
    method: str = "nelder-mead"
    abc: AbcSettings = field(default_factory=AbcSettings)

    def base_config(self) -> Config:
        """The scenario to calibrate with the fixed values applied (fitted values are applied per evaluation)."""
        return keypath.with_values(load_scenario(self.base), self.fixed)


def _fmt(v: float) -> str:
    return f"{v:.4g}"


class _Reader:
    """Reads a calibration YAML mapping and turns every problem into a ConfigError with file, key and line."""

    def __init__(self, path: Path) -> None:
        self.file = str(path)
        self.data, self.lines = load_yaml_with_lines(path)

    def error(self, message: str, key: tuple) -> ConfigError:
        line = None
        for k in range(len(key), 0, -1):
            if key[:k] in self.lines:
                line = self.lines[key[:k]]
                break
        return ConfigError(message, file=self.file, key=format_key(key) or None, line=line)

    def mapping(self, value: Any, key: tuple, allowed: Sequence[str]) -> dict:
        if not isinstance(value, dict):
            raise self.error("should be a mapping of keys to values", key)
        for k in value:
            if k not in allowed:
                raise self.error(f"unknown key '{k}'" + suggest(str(k), list(allowed)), (*key, k))
        return value

    def get(self, m: dict, key: tuple, name: str, kind: Callable[[Any, tuple], Any], default: Any = ...) -> Any:
        if name not in m:
            if default is ...:
                raise self.error(f"this required key is missing (in {format_key(key) or 'the file'})", (*key, name))
            return default
        return kind(m[name], (*key, name))

    def number(self, v: Any, key: tuple, lo: float = -math.inf, hi: float = math.inf) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise self.error(f"should be a number (got {v!r})", key)
        if not lo <= v <= hi:
            raise self.error(f"should be between {lo:g} and {hi:g} (got {v})", key)
        return float(v)

    def integer(self, v: Any, key: tuple, lo: int = 0) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.error(f"should be a whole number (got {v!r})", key)
        if v < lo:
            raise self.error(f"should be at least {lo} (got {v})", key)
        return int(v)

    def boolean(self, v: Any, key: tuple) -> bool:
        if not isinstance(v, bool):
            raise self.error(f"should be true or false (got {v!r})", key)
        return v

    def choice(self, v: Any, key: tuple, allowed: Sequence[str]) -> str:
        if v not in allowed:
            raise self.error(f"should be one of {', '.join(allowed)} (got {v!r})", key)
        return str(v)

    def text(self, v: Any, key: tuple) -> str:
        if not isinstance(v, str) or not v.strip():
            raise self.error("should be a non-empty text", key)
        return v.strip()

    def date(self, v: Any, key: tuple) -> dt.date:
        if isinstance(v, dt.datetime):
            return v.date()
        if isinstance(v, dt.date):
            return v
        raise self.error(f"should be a date like 2023-05-03 (got {v!r})", key)

    def age_range(self, v: Any, key: tuple) -> tuple[int, int]:
        if not (isinstance(v, list) and len(v) == 2 and all(isinstance(a, int) and not isinstance(a, bool)
                                                             for a in v) and 15 <= v[0] <= v[1]):
            raise self.error(f"should be [lowest age, highest age] with 15 <= lowest <= highest (got {v!r})", key)
        return int(v[0]), int(v[1])


def load_spec(path: str | Path) -> Spec:
    """Read and check a calibration file; raise ConfigError (file, key, line) on the first problem.

    Paths inside the file (``base``, ``output``) are relative to the file.
    The base scenario is loaded to check parameter paths, fixed values and
    that every target date falls inside its run.
    """
    path = Path(path)
    r = _Reader(path)
    top = r.mapping(r.data, (), SPEC_KEYS)
    here = path.parent
    base = Path(os.path.normpath(here / r.get(top, (), "base", r.text)))
    output = Path(os.path.normpath(here / r.get(top, (), "output", r.text)))
    population = r.get(top, (), "population", lambda v, k: r.integer(v, k, 50))
    replications = r.get(top, (), "replications", lambda v, k: r.integer(v, k, 1))
    seed = r.get(top, (), "seed", lambda v, k: r.integer(v, k, 0))
    sweeps = r.get(top, (), "sweeps", lambda v, k: r.integer(v, k, 0), 1)
    ridge = r.get(top, (), "ridge", lambda v, k: r.number(v, k, 0.0), 0.0)
    description = r.get(top, (), "description", r.text, "")
    report = r.mapping(top.get("report", {}), ("report",), REPORT_KEYS)
    rep_pop = r.get(report, ("report",), "population", lambda v, k: r.integer(v, k, 50), None)
    rep_reps = r.get(report, ("report",), "replications", lambda v, k: r.integer(v, k, 1), 8)
    rep_seed = r.get(report, ("report",), "seed", lambda v, k: r.integer(v, k, 0), None)
    method = r.get(top, (), "method", lambda v, k: r.choice(v, k, METHODS), "nelder-mead")
    abc = _abc_settings(r, top.get("abc", {}))

    try:
        scenario = load_scenario(base)
    except ConfigError as exc:
        raise ConfigError(f"base scenario: {exc}", file=str(path), key="base", line=r.lines.get(("base",))) from None

    fixed_raw = r.mapping(top.get("fixed", {}), ("fixed",), [k for k in top.get("fixed", {}) or {}])
    for key in fixed_raw:
        if keypath.schema_type(Config, key) is None:
            raise r.error(f"'{key}' is not a scenario key path (e.g. population.skill_intercept)", ("fixed", key))
    try:
        scenario = keypath.with_values(scenario, fixed_raw)
    except KeyPathError as exc:
        raise r.error(exc.detail, ("fixed", format_key(exc.path))) from None

    params_raw = r.get(top, (), "parameters", lambda v, k: r.mapping(v, k, list(v) if isinstance(v, dict) else []))
    if not params_raw:
        raise r.error("list at least one parameter to fit", ("parameters",))
    fitted = {name: _parameter(r, name, spec, scenario) for name, spec in params_raw.items()}
    parameters = {name: p for name, (p, _) in fitted.items()}
    for name in parameters:
        if name in fixed_raw:
            raise r.error("a parameter cannot be both fitted and fixed", ("parameters", name))

    targets_raw = r.get(top, (), "targets", lambda v, k: r.mapping(v, k, list(v) if isinstance(v, dict) else []))
    if not targets_raw:
        raise r.error("list at least one target", ("targets",))
    targets = {name: _target(r, name, spec, scenario) for name, spec in targets_raw.items()}

    stages_raw = r.get(top, (), "stages", lambda v, k: v)
    if not isinstance(stages_raw, list) or not stages_raw:
        raise r.error("should be a list of stages (name, parameters, targets, max_evaluations)", ("stages",))
    stages = tuple(_stage(r, i, s, parameters, targets) for i, s in enumerate(stages_raw))
    return Spec(path, base, output, population, replications, seed, sweeps, ridge, rep_pop, rep_reps, rep_seed,
                dict(fixed_raw), parameters, {name: start for name, (_, start) in fitted.items()}, targets, stages,
                description, method, abc)


def _abc_settings(r: _Reader, raw: Any, d: AbcSettings | None = None) -> AbcSettings:
    """The ``abc`` block: the ABC budget (the values of ``d``, else of AbcSettings, for the keys it leaves
    out)."""
    key = ("abc",)
    m = r.mapping(raw, key, ABC_KEYS)
    d = d or AbcSettings()
    whole = {name: r.get(m, key, name, lambda v, k: r.integer(v, k, 1), getattr(d, name))
             for name in ("simulations", "particles", "draws", "predictive_draws")}
    population = r.get(m, key, "population", lambda v, k: r.integer(v, k, 50), d.population)
    predictive_population = r.get(m, key, "predictive_population", lambda v, k: r.integer(v, k, 50),
                                  d.predictive_population)
    mode_runs = r.get(m, key, "mode_runs", lambda v, k: r.integer(v, k, 0), d.mode_runs)
    for small, large in (("particles", "simulations"), ("draws", "particles"), ("predictive_draws", "draws")):
        if whole[small] > whole[large]:
            raise r.error(f"should be at most {large} ({whole[large]})", (*key, small))
    return AbcSettings(population=population, predictive_population=predictive_population, mode_runs=mode_runs,
                       **whole)


def abc_overrides(spec: Spec, items: Sequence[str]) -> Spec:
    """``spec`` with entries of its ``abc`` block replaced by ``--abc KEY=VALUE`` options (YAML values)."""
    import dataclasses

    import yaml

    raw = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"--abc {item}: should be KEY=VALUE, e.g. --abc particles=100", key="abc")
        raw[name.strip()] = yaml.safe_load(text)
    r = _Reader.__new__(_Reader)
    r.file, r.data, r.lines = "--abc", {"abc": raw}, {}
    return dataclasses.replace(spec, abc=_abc_settings(r, raw, spec.abc))


def _parameter(r: _Reader, name: str, raw: Any, scenario: Config) -> tuple[Varied, float]:
    """A fitted parameter (a real-valued key path with bounds, maybe on a log scale) and its start value."""
    key = ("parameters", name)
    tp = keypath.schema_type(Config, name)
    if tp is not float:
        what = "not a scenario key path" if tp is None else "not a real-valued (float) parameter"
        raise r.error(f"'{name}' is {what}; fitted parameters are numeric keys like population.skill_intercept", key)
    m = r.mapping(raw, key, PARAMETER_KEYS)
    lower = r.get(m, key, "lower", r.number)
    upper = r.get(m, key, "upper", r.number)
    if not lower < upper:
        raise r.error(f"lower ({lower}) must be below upper ({upper})", (*key, "upper"))
    log = r.get(m, key, "log", r.boolean, False)
    if log and lower <= 0:
        raise r.error("a log-scale parameter needs lower > 0", (*key, "lower"))
    param = Varied(name, low=lower, high=upper, log=log)
    default = prior(param)
    if not lower <= default <= upper:
        raise r.error(f"the default {default:g} (sim/model/params.py) is outside [{lower:g}, {upper:g}]", key)
    start = r.get(m, key, "start", r.number, default)
    if not lower <= start <= upper:
        raise r.error(f"start value {start:g} is outside [{lower:g}, {upper:g}]", (*key, "start"))
    try:
        keypath.with_values(scenario, {name: lower})
        keypath.with_values(scenario, {name: upper})
    except KeyPathError as exc:
        raise r.error(f"a bound is not a valid value: {exc.detail}", key) from None
    r.get(m, key, "why", r.text, "")  # the reason to fit it, for the reader of the file
    return param, start


def _target(r: _Reader, name: str, raw: Any, scenario: Config) -> Target:
    key = ("targets", name)
    m = r.mapping(raw, key, TARGET_KEYS)
    metric = r.get(m, key, "metric", r.text)
    known = [*GROUP_METRICS, *STATE_MEASURES]
    if metric not in known:
        raise r.error(f"unknown metric '{metric}'" + suggest(metric, known), (*key, "metric"))
    group = r.get(m, key, "group", r.text, None)
    if group is not None and group not in AGE_BANDS:
        raise r.error(f"unknown age band '{group}'; use one of {list(AGE_BANDS)}", (*key, "group"))
    ages = r.get(m, key, "ages", r.age_range, None)
    age_groups = r.get(m, key, "age_groups", lambda v, k: v, ())
    if age_groups:
        if not isinstance(age_groups, list) or len(age_groups) < 2:
            raise r.error("should be a list of at least two [lowest age, highest age] ranges", (*key, "age_groups"))
        age_groups = tuple(r.age_range(g, (*key, "age_groups", i)) for i, g in enumerate(age_groups))
    if sum(x is not None and x != () for x in (group, ages, age_groups)) > 1:
        raise r.error("give at most one of group, ages and age_groups", key)
    if (ages or age_groups) and metric not in STATE_MEASURES:
        raise r.error(f"ages/age_groups work only for {list(STATE_MEASURES)}", (*key, "metric"))
    if metric in STATE_MEASURES and metric not in METRICS and ages is None and not age_groups:
        ages = (15, 200)
    if "date" in m and "dates" in m:
        raise r.error("give either date or dates, not both", (*key, "dates"))
    if "dates" in m:
        ds = m["dates"]
        if not isinstance(ds, list) or not ds:
            raise r.error("should be a non-empty list of dates", (*key, "dates"))
        dates = tuple(sorted(r.date(d, (*key, "dates", i)) for i, d in enumerate(ds)))
    else:
        dates = (r.get(m, key, "date", r.date),)
    aggregate = r.get(m, key, "aggregate", r.text, "min")
    if aggregate not in AGGREGATES:
        raise r.error(f"unknown aggregate '{aggregate}'; use one of {list(AGGREGATES)}", (*key, "aggregate"))
    change_from = r.get(m, key, "change_from", r.date, None)
    if age_groups and (len(dates) > 1 or change_from):
        raise r.error("an age_groups target takes a single date", key)
    for i, d in enumerate((*dates, *([change_from] if change_from else []))):
        if not scenario.run.start <= d <= scenario.run.end:
            where = (*key, "change_from") if change_from == d else (*key, "dates", i) if "dates" in m else \
                (*key, "date")
            raise r.error(f"{d} is outside the base scenario's run ({scenario.run.start} to {scenario.run.end})",
                          where)
    kind = r.get(m, key, "kind", r.text, "equal")
    if kind not in KINDS:
        raise r.error(f"unknown kind '{kind}'; use one of {list(KINDS)}", (*key, "kind"))
    return Target(
        name=name, source=r.get(m, key, "source", r.text), metric=metric,
        value=r.get(m, key, "value", r.number), tolerance=r.get(m, key, "tolerance", lambda v, k: r.number(v, k, 0)),
        dates=dates, kind=kind, group=group, ages=ages, age_groups=age_groups, aggregate=aggregate,
        change_from=change_from, weight=r.get(m, key, "weight", lambda v, k: r.number(v, k, 0), 1.0),
        required=r.get(m, key, "required", r.boolean, True), note=r.get(m, key, "note", r.text, ""),
    )


def _stage(r: _Reader, i: int, raw: Any, parameters: dict, targets: dict) -> Stage:
    key = ("stages", i)
    m = r.mapping(raw, key, STAGE_KEYS)
    names = {}
    for field_name, known in (("parameters", parameters), ("targets", targets)):
        v = r.get(m, key, field_name, lambda v, k: v)
        if not isinstance(v, list) or not v:
            raise r.error("should be a non-empty list of names", (*key, field_name))
        for j, n in enumerate(v):
            if n not in known:
                raise r.error(f"'{n}' is not listed under {field_name}" + suggest(str(n), list(known)),
                              (*key, field_name, j))
        names[field_name] = tuple(v)
    return Stage(r.get(m, key, "name", r.text, f"stage {i + 1}"), names["parameters"], names["targets"],
                 r.get(m, key, "max_evaluations", lambda v, k: r.integer(v, k, 1)),
                 r.get(m, key, "replications", lambda v, k: r.integer(v, k, 1), None))


# ------------------------------------------------------------------ simulation


def week_of(config: Config, date: dt.date) -> int:
    """The simulated week containing ``date`` (weeks start on run.start)."""
    return (date - config.run.start).days // 7


def simulate(
    config: Config, seed: int, requests: Sequence[tuple[MeasureKey, dt.date]], full: bool = False
) -> tuple[dict[tuple[MeasureKey, dt.date], float], pd.DataFrame | None]:
    """Run one replication and observe every requested (measure, date).

    Measures with an age range are computed from citizen state right after
    the week containing the date has been simulated; the others are read from
    the model's weekly metrics (its timeseries) for that week. The run stops
    after the last week needed, unless ``full`` (then the timeseries of the
    whole run is returned too).
    """
    model = DigexModel(config, seed=seed)
    by_week: dict[int, list[tuple[MeasureKey, dt.date]]] = {}
    for req in requests:
        by_week.setdefault(week_of(config, req[1]), []).append(req)
    last = config.run.weeks - 1 if full else max(by_week)
    obs: dict[tuple[MeasureKey, dt.date], float] = {}
    while model.week <= last:
        w = model.week
        model.step()
        for req in by_week.get(w, []):
            if req[0][2] is not None:
                obs[req] = state_share(model, *req[0])
    ts = model.timeseries()
    for w, reqs in by_week.items():
        for req in reqs:
            metric, group, ages = req[0]
            if ages is None:
                sel = ts[(ts["week"] == w) & (ts["metric"] == metric)
                         & (ts["group_type"] == ("age_band" if group else "all"))
                         & (ts["group"] == (group or "all"))]
                obs[req] = float(sel["value"].iloc[0])
    return obs, (ts if full else None)


def state_share(model: DigexModel, metric: str, group: str | None, ages: tuple[int, int]) -> float:
    """Share of living citizens aged ages[0] to ages[1] (inclusive, in whole years) with the property ``metric``."""
    p = model.pop
    n = p.n
    age = p.age[:n]
    rows = np.flatnonzero(p.alive[:n] & (age >= ages[0]) & (age < ages[1] + 1))
    if len(rows) == 0:
        return float("nan")
    prop = {
        "digitally_challenged_share": lambda: p.skill[rows] < model.config.population.challenged_threshold,
        "exempt_share": lambda: p.dp_status[rows] == EXEMPT,
        "enrolled_share": lambda: p.dp_status[rows] == ENROLLED,
        "internet_share": lambda: p.internet[rows],
        "eid_share": lambda: p.eid[rows],
    }[metric]()
    return float(np.mean(prop))


def simulate_config_dict(
    data: dict, seed: int, requests: Sequence[tuple[MeasureKey, dt.date]], full: bool
) -> tuple[dict[tuple[MeasureKey, dt.date], float], pd.DataFrame | None]:
    """Validate a configuration dictionary and run ``simulate`` (what executor workers call)."""
    return simulate(Config.model_validate(data), seed, requests, full)


def run_targets(
    config: Config, targets: Sequence[Target], seeds: Sequence[int], full: bool = False,
    on_run: Callable[[], None] | None = None, executor: Executor | None = None,
) -> tuple[dict[str, np.ndarray], list[dict], list[pd.DataFrame]]:
    """Each target's statistic in each replication (one per seed) of ``config``: ``run_target_pairs``."""
    return run_target_pairs([(config, seed) for seed in seeds], targets, full, on_run, executor)


def run_target_pairs(
    runs: Sequence[tuple[Config, int]], targets: Sequence[Target], full: bool = False,
    on_run: Callable[[], None] | None = None, executor: Executor | None = None,
) -> tuple[dict[str, np.ndarray], list[dict], list[pd.DataFrame]]:
    """Each target's statistic in each run (a configuration and its seed), the raw observations and, if
    ``full``, each run's timeseries.

    The runs go to ``executor`` (default: one after the other in this
    process) as plain data: the configuration as a dictionary, the seed and
    the requested (measure, date) pairs. Results are taken in input order,
    so they do not depend on the executor or its number of workers;
    ``on_run`` is called as each run finishes.
    """
    requests = tuple(sorted({req for t in targets for req in t.requests()}, key=lambda x: (x[1], str(x[0]))))
    work = [(config.model_dump(mode="json"), seed, requests, full) for config, seed in runs]
    results = (executor or Executor()).map(simulate_config_dict, work,
                                           on_done=(lambda _run: on_run()) if on_run else None)
    values = {t.name: np.empty(len(work)) for t in targets}
    observations, series = [], []
    for i, (obs, ts) in enumerate(results):
        for t in targets:
            values[t.name][i] = t.statistic(obs)
        observations.append(obs)
        if ts is not None:
            series.append(ts)
    return values, observations, series


# ------------------------------------------------------------------ fitting


def loss(targets: Sequence[Target], values: dict[str, np.ndarray]) -> float:
    """Sum over targets of weight * (gap / tolerance)^2, the gap taken on the mean over replications.

    A target with zero tolerance is scaled by 0.01 (one percentage point).
    """
    total = 0.0
    for t in targets:
        mean = float(np.nanmean(values[t.name]))
        if math.isnan(mean):
            return math.inf
        total += t.weight * (t.gap(mean) / (t.tolerance or 0.01)) ** 2
    return total


@dataclass
class FitResult:
    """Fitted values, the evaluation trace and the loss of the last evaluation of each stage."""

    values: dict[str, float]
    trace: list[dict] = field(default_factory=list)


def fit_config(spec: Spec, base: Config) -> Config:
    """The base scenario at the fitting size."""
    return keypath.with_values(base, {"population.size": spec.population})


def fit(spec: Spec, base: Config, on_run: Callable[[], None] | None = None,
        on_eval: Callable[[str, float], None] | None = None, executor: Executor | None = None) -> FitResult:
    """Block-coordinate Nelder-Mead on the calibration loss under common random numbers.

    For each sweep and each stage, the stage's parameters are moved to
    minimise the stage's target loss (``fit_stage``); the other parameters keep
    their current values. Every evaluation runs ``replications`` replications
    (the stage's own number if it sets one) with seeds seed, seed+1, ... (the
    same for every parameter vector). The replications of an evaluation
    run on ``executor`` (``run_targets``); evaluations follow one another.
    """
    config = fit_config(spec, base)
    result = FitResult({p: _snap(v) for p, v in spec.starts.items()})
    for sweep in range(spec.sweeps):
        for stage in spec.stages:
            fit_stage(spec, config, stage, result, sweep + 1, on_run, on_eval, executor)
    return result


def fit_stage(spec: Spec, config: Config, stage: Stage, result: FitResult, sweep: int,
              on_run: Callable[[], None] | None = None, on_eval: Callable[[str, float], None] | None = None,
              executor: Executor | None = None) -> None:
    """Nelder-Mead over one stage's parameters; sets ``result.values`` to the best vector evaluated and appends
    every evaluation to ``result.trace``.

    The search runs in coordinates scaled to [0, 1] between the bounds (log
    scale where asked), from the current values with an initial simplex of
    steps of 0.1. The objective is the stage's target loss plus ``ridge``
    times the squared scaled distance of all fitted parameters from their
    priors (the defaults of sim/model/params.py): a weak pull that settles
    parameters the targets do not pin down.
    """
    from scipy.optimize import minimize

    seeds = [spec.seed + r for r in range(stage.replications or spec.replications)]
    params = [spec.parameters[p] for p in stage.parameters]
    targets = [spec.targets[t] for t in stage.targets]
    priors = {q.key: prior(q) for q in spec.parameters.values()}
    cache: dict[tuple, float] = {}

    def trial_values(u: np.ndarray) -> dict[str, float]:
        trial = dict(result.values)
        trial.update({p.key: _snap(p.from_unit(x)) for p, x in zip(params, u, strict=True)})
        return trial

    def objective(u: np.ndarray) -> float:
        trial = trial_values(u)
        key = tuple(trial[p.key] for p in params)
        if key not in cache:
            values, _, _ = run_targets(keypath.with_values(config, trial), targets, seeds, on_run=on_run,
                                       executor=executor)
            penalty = spec.ridge * sum((q.to_unit(trial[q.key]) - q.to_unit(priors[q.key])) ** 2
                                       for q in spec.parameters.values())
            cache[key] = loss(targets, values) + penalty
            result.trace.append({"sweep": sweep, "stage": stage.name, "evaluation": len(result.trace) + 1,
                                 "loss": cache[key], "penalty": penalty, **{p.key: trial[p.key] for p in params},
                                 **{f"mean:{t.name}": float(np.nanmean(values[t.name])) for t in targets}})
            if on_eval:
                on_eval(stage.name, cache[key])
        return cache[key]

    x0 = np.array([p.to_unit(result.values[p.key]) for p in params])
    simplex = [x0]
    for i in range(len(params)):
        x = x0.copy()
        x[i] = x[i] + 0.1 if x[i] + 0.1 <= 1 else x[i] - 0.1
        simplex.append(x)
    minimize(objective, x0, method="Nelder-Mead", bounds=[(0.0, 1.0)] * len(params),
             options={"maxfev": stage.max_evaluations, "initial_simplex": np.array(simplex),
                      "xatol": 2e-3, "fatol": 1e-3})
    # The best vector evaluated: when the budget ends inside a step, Nelder-Mead returns its simplex's best,
    # which can miss a better point it has just evaluated.
    best = min(cache, key=cache.__getitem__)
    result.values.update(zip((p.key for p in params), best, strict=True))


def _snap(v: float) -> float:
    """Round a parameter to 4 significant digits (what is written is what was evaluated)."""
    return float(f"{v:.4g}")


# ------------------------------------------------------------------ report


def report_config(spec: Spec, base: Config, values: dict[str, float]) -> tuple[Config, list[int]]:
    """The calibrated scenario at the report size, and the report seeds (the scenario's own by default)."""
    config = keypath.with_values(base, values)
    if spec.report_population:
        config = keypath.with_values(config, {"population.size": spec.report_population})
    seed = config.run.seed if spec.report_seed is None else spec.report_seed
    return config, [seed + r for r in range(spec.report_replications)]


def fit_table(targets: Sequence[Target], values: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per target: source, date, figure, tolerance, model mean and 95% interval, within tolerance."""
    rows = []
    for t in targets:
        unit = "share" if t.metric in STATE_MEASURES else METRICS[t.metric].unit  # state measures are all shares
        mean, lo, hi = mean_ci(values[t.name], unit, difference=bool(t.age_groups or t.change_from))
        rows.append({"target": t.name, "source": t.source, "metric": t.metric, "date": t.when(), "kind": t.kind,
                     "value": t.value, "figure": t.figure(), "tolerance": t.tolerance, "mean": mean, "ci_low": lo,
                     "ci_high": hi, "n_reps": int(np.sum(~np.isnan(values[t.name]))), "within": t.within(mean),
                     "required": t.required, "unit": unit})
    return pd.DataFrame(rows)


def markdown_table(table: pd.DataFrame) -> str:
    """The fit table as markdown (shares in percent, counts in whole units); diagnostics (not required) are marked."""
    lines = ["| target | source | date | figure | tolerance | model mean | 95% interval | within tolerance |",
             "|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        share = getattr(r, "unit", "share") == "share"

        def show(v: float, share: bool = share) -> str:
            return f"{100 * v:.1f}%" if share else f"{v:,.0f}"

        tolerance = f"{100 * r.tolerance:.1f} pp" if share else f"{r.tolerance:,.0f}"
        sign = {"equal": "", "at_least": ">= ", "at_most": "<= "}[r.kind]
        spread = "none (1 replication)" if math.isnan(r.ci_low) else f"{show(r.ci_low)} to {show(r.ci_high)}"
        lines.append(f"| {r.target} | {r.source} | {r.date} | {sign}{show(r.value)} | "
                     f"{'+/- ' if r.kind == 'equal' else ''}{tolerance} | {show(r.mean)} | "
                     f"{spread} | {_verdict(r.within, r.required)} |")
    return "\n".join(lines) + "\n"


def _verdict(within: bool, required: bool) -> str:
    if required:
        return "yes" if within else "**no**"
    return f"{'yes' if within else 'no'} (diagnostic)"


def fitted_yaml(spec: Spec, values: dict[str, float], command: str, what: str = "fitted",
                intervals: dict[str, tuple[float, float]] | None = None, note: str = "") -> str:
    """The YAML the baseline extends: fixed and fitted values as nested mappings, with bounds as comments.

    ``what`` says what a fitted value is (e.g. 'posterior median'), ``intervals`` adds each one's 95%
    interval and ``note`` a header line on the method.
    """
    entries: dict[str, tuple[Any, str]] = {}
    for path, v in spec.fixed.items():
        entries[path] = (v, "fixed")
    for path, v in values.items():
        p = spec.parameters[path]
        interval = f", 95% [{intervals[path][0]:.4g}, {intervals[path][1]:.4g}]" if intervals else ""
        entries[path] = (v, f"{what}{interval} in [{p.low:g}, {p.high:g}]{', log scale' if p.log else ''}")
    lines = [f"# Written by `{command}`; do not edit by hand.",
             f"# Fitted and fixed values for {spec.base.name} (a scenario that extends this file gets them).",
             *([f"# {note}"] if note else []),
             f"# Method, targets and fit: docs/calibration.md; calibration file: {spec.file.as_posix()}.", ""]
    tree: dict = {}
    for path in sorted(entries):
        tree = keypath.set_in(tree, path, entries[path], create=True)

    def emit(node: dict, indent: int) -> None:
        for k, v in node.items():
            if isinstance(v, dict):
                lines.append(" " * indent + f"{k}:")
                emit(v, indent + 2)
            else:
                value, comment = v
                lines.append(" " * indent + f"{k}: {_yaml_scalar(value)}  # {comment}")

    emit(tree, 0)
    return "\n".join(lines) + "\n"


def _yaml_scalar(v: Any) -> str:
    import yaml

    return yaml.safe_dump(v, default_flow_style=True, width=1000).strip().removesuffix("...").strip()
