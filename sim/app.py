"""Interactive dashboard: a Solara page around a Mesa model, with the main policy levers and live plots.

``digex app`` serves it in the browser; in Jupyter, ``dashboard()`` as the
last expression of a cell shows the same page. The page is built the way
Mesa's SolaraViz builds its own (a model re-created from lever values on
Reset, stepped on Step or ▶, components redrawn from the model), but with its
own controls, so that it shows only what the dashboard needs: the levers, the
simulated date, the figures and the plots, and a tab that browses a results
folder written by ``digex run`` or ``digex compare``.

``DashboardModel`` is a thin ``DigexModel`` subclass that maps lever values
onto a copy of the scenario's configuration. The scenario itself, run once
at the same population size and seed, is the *baseline* shown beside the
current run: dashed lines in the plots and a column in the figures table.
A lever left at the scenario's value changes nothing (so the dashboard model
at its initial settings reproduces the baseline exactly); a lever moved away
from it replaces the scenario's value for the whole run, and the scenario's
dated timeline changes to that lever are dropped.

Two choices keep the page true and fast:

- *Levers apply exactly as shown.* Jupyter widgets send a slider's new value
  to the server at most one message at a time (later values wait in the
  browser until the server has finished the one before), whereas a button
  click goes at once, so a Reset pressed just after moving a slider could
  overtake the slider's last values. The levers therefore live in the
  browser (``ControlPanel``) and Reset sends the values on screen with it;
  the buttons only queue commands, which one worker thread (``Runner``)
  carries out one at a time, in the order they were given.
- *A Step redraws only what changed.* Each plot is drawn in full once per
  run (``LivePlot``), then each Step draws only its current lines over the
  saved background, unless they outgrow the y axis.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import os
import queue
import threading
import traceback
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

# Solara reports usage to an analytics service unless told not to; the dashboard never does.
os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")

import ipyvuetify as v  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import solara  # noqa: E402
import solara.lab  # noqa: E402
import traitlets  # noqa: E402
from matplotlib import rc_context  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import imsave  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from sim.atomic import marked_kind  # noqa: E402
from sim.errors import UserError  # noqa: E402
from sim.experiments.varied import Varied  # noqa: E402
from sim.model.keypath import with_values  # noqa: E402
from sim.model.metrics import GROUP_METRICS, METRICS, OVERALL, OVERALL_METRICS, Metrics  # noqa: E402
from sim.model.model import DigexModel  # noqa: E402
from sim.model.params import PROCEDURE_TYPES, Config, PolicyConfig  # noqa: E402
from sim.outputs.files import policy_markers  # noqa: E402
from sim.outputs.format import fmt_value  # noqa: E402
from sim.outputs.style import (  # noqa: E402
    PALETTE,
    PERCENT,
    SCREEN_DPI,
    SCREEN_HEIGHT,
    STYLE,
    add_title,
    date_axis,
    legend_below,
    mark_events,
    new_figure,
    percent_axis,
    shade_warmup,
    styled,
)
from sim.scenario.loader import POLICY_PREFIX  # noqa: E402

DASHBOARD_SIZE = 5_000
"""Simulated citizens in the dashboard (small enough to step a week in a few milliseconds)."""

SCENARIO_ENV = "DIGEX_APP_SCENARIO"
SIZE_ENV = "DIGEX_APP_SIZE"
SEED_ENV = "DIGEX_APP_SEED"
RESULTS_ENV = "DIGEX_APP_RESULTS"
"""Environment variables through which ``digex app`` tells the served page what to show."""

DEFAULT_SCENARIO_PATH = Path(__file__).resolve().parent.parent / "scenarios" / "denmark_baseline.yaml"
"""The shipped Danish baseline, the dashboard's default scenario."""

WEEKS_PER_STEP = 13
"""Weeks simulated per press of Step (and between redraws while playing): a quarter."""

PLAY_PAUSE_S = 0.05
"""Pause between quarters while playing, so that the browser shows each one and a click is taken at once."""

COMMANDS = ("reset", "step", "play")
"""What the page's buttons ask for: Reset (with the lever values on screen), Step, and ▶ or ❚❚."""

TABLE_ROWS = 5_000
"""Most rows of a results table shown by the results browser (the rest are left out, and it says so)."""


# ------------------------------------------------------------------ levers


@dataclass(frozen=True)
class Lever:
    """A dashboard input: its label and widget around a setting of the scenario.

    ``setting`` is the key path with the slider's range or the choices of a
    select (``sim.experiments.varied``). The lever shows the key's value as it
    is, unless ``shown`` turns it into the lever's value; ``stored`` then turns
    a lever value and the key's current value back into the key's value.
    """

    label: str
    widget: str
    setting: Varied
    step: float = 0.05
    shown: Callable[[Any], Any] | None = None
    stored: Callable[[Any, Any], Any] | None = None

    def read(self, config: Config) -> Any:
        """The lever's value in a scenario."""
        value = self.setting.read(config)
        return self.shown(value) if self.shown else value

    def key_value(self, value: Any, config: Config) -> Any:
        """The key's value for a lever value (``config`` holds the key's current value)."""
        return self.stored(value, self.setting.read(config)) if self.stored else value

    def controls(self, change_key: str) -> bool:
        """Whether a timeline change's key (relative to ``policy``) is this lever's key path or below it."""
        own = self.setting.key.removeprefix(POLICY_PREFIX)
        return change_key == own or change_key.startswith(own + ".")

    def parse(self, value: Any) -> Any:
        """A value sent by the page as the lever's type (ValueError if it cannot be one)."""
        if self.widget == "Checkbox":
            if not isinstance(value, bool):
                raise ValueError(f"{self.label}: expected on or off, got {value!r}")
            return value
        if self.widget == "Select":
            if value not in self.setting.values:
                raise ValueError(f"{self.label}: expected one of {list(self.setting.values)}, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{self.label}: expected a number, got {value!r}")
        return float(value)


DEFAULT_MANDATE_START = PolicyConfig().mandate_start
"""Mandate start used when the mandate is switched on in a scenario that has none (1 November 2014)."""


def _mandate_on(start: dt.date | None) -> bool:
    """The mandate lever is on when the scenario has a mandate start."""
    return start is not None


def _mandate_start(on: bool, start: dt.date | None) -> dt.date | None:
    """Mandate on: it starts at the scenario's date, or 1 November 2014 if it had none; off: never."""
    return (start or DEFAULT_MANDATE_START) if on else None


def _mean_share(shares: dict[str, float]) -> float:
    """Mean automation share over procedure types (the scenario's value when they are all equal)."""
    return round(float(np.mean([shares.get(t, 0.0) for t in PROCEDURE_TYPES])), 4)


def _same_share(share: float, _shares: dict[str, float]) -> dict[str, float]:
    """The same proactive automation share for every procedure type."""
    return dict.fromkeys(PROCEDURE_TYPES, float(share))


LEVERS: dict[str, Lever] = {
    "mandate": Lever("Mandate: digital by default", "Checkbox", Varied("policy.mandate_start"),
                     shown=_mandate_on, stored=_mandate_start),
    "mandatory_share": Lever("Share of procedures mandatory-digital", "SliderFloat",
                             Varied("policy.mandatory_share", low=0.0, high=1.0)),
    "optout_rule": Lever("Opt-out rule", "Select",
                         Varied("policy.optout.rule", values=("in_person", "remote", "automatic"))),
    "helpers_per_10k": Lever("Centre helpers per 10,000", "SliderFloat",
                             Varied("policy.centre.helpers_per_10k", low=0.0, high=10.0), step=0.5),
    "self_help_share": Lever("Help to self-help share", "SliderFloat",
                             Varied("policy.centre.self_help_share", low=0.0, high=1.0)),
    "proxy_access": Lever("Proxy access for relatives", "Checkbox", Varied("policy.proxy.available")),
    "automation_share": Lever("Proactive automation share", "SliderFloat",
                              Varied("policy.automation_share", low=0.0, high=1.0),
                              shown=_mean_share, stored=_same_share),
    "outage_rate": Lever("IT outages per year", "SliderFloat",
                         Varied("policy.platform.outage_rate_per_year", low=0.0, high=52.0), step=1.0),
}
"""The dashboard's levers, keyed by the keyword argument of DashboardModel."""


def lever_values(config: Config) -> dict[str, Any]:
    """Each lever's value in a scenario (at its start)."""
    return {name: lever.read(config) for name, lever in LEVERS.items()}


def _check_known(names: Collection[str]) -> None:
    """Raise ValueError unless every name is a lever's."""
    unknown = set(names) - set(LEVERS)
    if unknown:
        raise ValueError(f"unknown dashboard lever(s) {sorted(unknown)}; use {list(LEVERS)}")


def parse_levers(values: Any) -> dict[str, Any]:
    """Lever values sent by the page ({lever: value}), each as its lever's type; ValueError for anything else."""
    if not isinstance(values, dict):
        raise ValueError(f"lever values must be a mapping, got {type(values).__name__}")
    _check_known(values)
    return {name: LEVERS[name].parse(value) for name, value in values.items()}


def apply_levers(base: Config, values: dict[str, Any]) -> tuple[Config, dict[str, tuple[Any, Any]]]:
    """A validated copy of ``base`` with the levers that differ from it set, and what changed.

    Returns the new configuration and {lever: (scenario value, new value)} for
    the moved levers. A moved lever holds for the whole run: the scenario's
    timeline changes to its key path (or below it) are dropped. An invalid
    value raises KeyPathError naming the key path.
    """
    _check_known(values)
    current = lever_values(base)
    moved = {k: (current[k], v) for k, v in values.items() if v is not None and v != current[k]}
    levers = [LEVERS[name] for name in moved]
    timeline = []
    for change in base.timeline:
        kept = {k: v for k, v in change.set.items() if not any(lever.controls(k) for lever in levers)}
        if kept:
            timeline.append(change.model_copy(update={"set": kept}))
    settings = {LEVERS[name].setting.key: LEVERS[name].key_value(value, base) for name, (_, value) in moved.items()}
    return with_values(base.model_copy(update={"timeline": timeline}), settings), moved


def lever_inputs(config: Config) -> list[dict[str, Any]]:
    """The page's input for each lever: name, label, widget, starting value and a slider's range or the choices."""
    inputs: list[dict[str, Any]] = []
    for name, lever in LEVERS.items():
        value = lever.read(config)
        spec: dict[str, Any] = {"name": name, "label": lever.label, "widget": lever.widget, "value": value}
        if lever.widget == "SliderFloat":
            spec.update(min=lever.setting.low, max=max(lever.setting.high, float(value)), step=lever.step)
        elif lever.widget == "Select":
            spec["values"] = list(lever.setting.values)
        inputs.append(spec)
    return inputs


# ------------------------------------------------------------------ the model


class DashboardModel(DigexModel):
    """A DigexModel built from lever values (keyword arguments) applied to the class's scenario.

    Subclasses made by ``for_scenario`` carry the scenario (``base``) at the
    dashboard's size and seed; each lever argument left as None keeps the
    scenario's value.
    """

    base: ClassVar[Config] = Config()
    _baseline: ClassVar[Metrics | None] = None

    def __init__(
        self,
        mandate: bool | None = None,
        mandatory_share: float | None = None,
        optout_rule: str | None = None,
        helpers_per_10k: float | None = None,
        self_help_share: float | None = None,
        proxy_access: bool | None = None,
        automation_share: float | None = None,
        outage_rate: float | None = None,
    ) -> None:
        levers = {"mandate": mandate, "mandatory_share": mandatory_share, "optout_rule": optout_rule,
                  "helpers_per_10k": helpers_per_10k, "self_help_share": self_help_share,
                  "proxy_access": proxy_access, "automation_share": automation_share, "outage_rate": outage_rate}
        config, self.moved = apply_levers(self.base, levers)
        super().__init__(config)

    @classmethod
    def for_scenario(cls, config: Config | None = None, size: int | None = DASHBOARD_SIZE,
                     seed: int | None = None) -> type[DashboardModel]:
        """A DashboardModel class for a scenario, resized to ``size`` citizens and seeded with ``seed``."""
        base = (config if config is not None else Config()).model_copy(deep=True)
        if size is not None:
            base.population.size = size
        if seed is not None:
            base.run.seed = seed
        base = Config.model_validate(base.model_dump())
        return type(f"DashboardModel[{base.name}]", (cls,), {"base": base, "_baseline": None})

    @classmethod
    def baseline(cls) -> Metrics:
        """Weekly metrics of the scenario itself, run once (to the end) per class."""
        if cls._baseline is None:
            cls._baseline = DigexModel(cls.base).run().metrics
        return cls._baseline

    def levers(self) -> dict[str, Any]:
        """Each lever's value in this run: the scenario's, or the value it was moved to."""
        return {name: self.moved[name][1] if name in self.moved else value
                for name, value in lever_values(self.base).items()}


# ------------------------------------------------------------------ running it


@dataclass(frozen=True)
class View:
    """What the page shows: a run, how many of its weeks are simulated, whether it plays, and a lever error."""

    model: DashboardModel
    week: int
    playing: bool = False
    error: str = ""


class Runner:
    """Carries out the page's commands (reset, step, play) one at a time, in the order they were given.

    The page's buttons only ``submit`` commands; one worker thread (``serve``)
    takes them in turn and publishes a new ``View`` after each, so a Reset can
    never overtake a Step pressed before it. A reset carries the lever values
    that were on screen when it was pressed. While playing, the worker
    simulates a quarter at a time until the run ends or another command comes.
    """

    def __init__(self, cls: type[DashboardModel]) -> None:
        self.cls = cls
        self.view = View(cls(), 0)
        self.commands: queue.Queue[tuple[str, Any]] = queue.Queue()

    def submit(self, command: str, values: Any = None) -> None:
        """Queue a command: "reset" (with the lever values on screen), "step" or "play" (play or pause)."""
        if command not in COMMANDS:
            raise ValueError(f"unknown dashboard command {command!r}; use one of {COMMANDS}")
        self.commands.put((command, values))

    def handle(self, command: str, values: Any = None) -> View:
        """Carry out one command (Step is off while playing) and return the new view."""
        view = self.view
        if command == "reset":
            return self._carry_out(command, lambda: View(self.cls(**parse_levers(values)), 0))
        if command == "step":
            return self._carry_out(command, lambda: view if view.playing else self.advance())
        if command == "play":
            playing = not view.playing and view.model.running
            return self._carry_out(command, lambda: View(view.model, view.week, playing))
        raise ValueError(f"unknown dashboard command {command!r}; use one of {COMMANDS}")

    def _carry_out(self, command: str, action: Callable[[], View]) -> View:
        """The view after ``action``; if it fails, the view before it, paused, with the error."""
        try:
            self.view = action()
        except ValueError as exc:  # a lever value the model does not take (KeyPathError: out of range)
            self.view = replace(self.view, playing=False, error=f"Levers not applied: {exc}")
        except Exception as exc:  # noqa: BLE001  (a fault in the model: shown on the page, which stays usable)
            traceback.print_exc()
            self.view = replace(self.view, playing=False, error=f"{command} failed: {type(exc).__name__}: {exc}")
        return self.view

    def advance(self) -> View:
        """Simulate a quarter (fewer weeks at the end of the run); the run keeps playing if it was and has not ended."""
        model = self.view.model
        for _ in range(WEEKS_PER_STEP):
            model.step()
        return View(model, model.week, playing=self.view.playing and model.running)

    def serve(self, cancel: threading.Event, publish: Callable[[View], None]) -> None:
        """Take commands until ``cancel`` is set, publishing the view after each one and each quarter played."""
        while not cancel.is_set():
            try:
                command, values = self.commands.get(block=not self.view.playing, timeout=0.2)
            except queue.Empty:
                if self.view.playing:
                    publish(self._carry_out("play", self.advance))
                    cancel.wait(PLAY_PAUSE_S)
                continue
            publish(self.handle(command, values))


# ------------------------------------------------------------------ reading metrics


def metric_series(metrics: Metrics, name: str, group: tuple[str, str] = OVERALL) -> np.ndarray:
    """Every recorded week's value of one metric (overall, or for a (group_type, group) label).

    Weeks not yet simulated are NaN.
    """
    if name in OVERALL_METRICS:
        if group != OVERALL:
            raise ValueError(f"{name} is reported overall only, not by {group}")
        return metrics.overall[:, OVERALL_METRICS.index(name)]
    if name not in GROUP_METRICS:
        raise ValueError(f"unknown metric '{name}'")
    try:
        g = metrics.labels.index(group)
    except ValueError:
        raise ValueError(f"unknown group {group}; groups are {metrics.labels}") from None
    return metrics.groups[:, GROUP_METRICS.index(name), g]


def metric_at(metrics: Metrics, name: str, group: tuple[str, str], week: int) -> float:
    """A metric's value in a week (NaN before the first week)."""
    return float(metric_series(metrics, name, group)[week]) if week >= 0 else float("nan")


def _peak(values: np.ndarray) -> float:
    """The largest finite value, or 0 if there is none."""
    finite = values[np.isfinite(values)]
    return float(finite.max()) if finite.size else 0.0


# ------------------------------------------------------------------ figures table


@dataclass(frozen=True)
class Headline:
    """A headline figure: its label (with the unit where the number does not carry it), metric and group."""

    label: str
    metric: str
    group: tuple[str, str] = OVERALL

    def format(self, value: float, difference: bool = False) -> str:
        """The value in the one number format (sim.outputs.format); a difference is signed (pp for shares)."""
        return fmt_value(value, METRICS[self.metric].unit, diff=difference)


HEADLINES: tuple[Headline, ...] = (
    Headline("Exclusion rate, all", "exclusion_rate"),
    Headline("Exclusion rate, 80+", "exclusion_rate", ("age_band", "80+")),
    Headline("Exclusion rate, lowest skill quintile", "exclusion_rate", ("skill_quintile", "Q1 lowest")),
    Headline("Exempt from Digital Post", "exempt_share"),
    Headline("Centre queue (weeks waited)", "centre_queue_weeks"),
    Headline("Centre requests unserved", "centre_unserved_share"),
    Headline("Mean trust (0-1)", "trust_mean"),
    Headline("Alienated (trust below threshold)", "alienated_share"),
    Headline("Public cost per citizen-year (DKK)", "cost_per_citizen_year_dkk"),
)
"""Figures of the 'this setting vs baseline' table."""


def figures_table(model: DashboardModel, weeks: int) -> list[dict[str, Any]]:
    """The headline figures of the last of ``weeks`` simulated weeks beside the baseline's in the same week."""
    week = weeks - 1
    base = type(model).baseline()
    rows = []
    for f in HEADLINES:
        now, ref = metric_at(model.metrics, f.metric, f.group, week), metric_at(base, f.metric, f.group, week)
        rows.append({"figure": f.label, "now": now, "baseline": ref, "difference": now - ref,
                     "text": (f.format(now), f.format(ref), f.format(now - ref, difference=True))})
    return rows


_TABLE_CSS = "border-collapse: collapse; font-size: 13px; width: 100%;"
_CELL = "padding: 2px 8px; border-bottom: 1px solid #e0e0e0;"


def _html_table(header: list[str], rows: list[list[str]], bold_rows: Collection[int] = ()) -> str:
    """A small HTML table: first column left-aligned, the others right-aligned; cells are escaped."""

    def cell(tag: str, text: str, j: int, bold: bool) -> str:
        align = "left" if j == 0 else "right"
        weight = " font-weight: 600;" if bold else ""
        return f'<{tag} style="{_CELL} text-align: {align};{weight}">{html.escape(text)}</{tag}>'

    head = "".join(cell("th", h, j, True) for j, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", c, j, i in bold_rows) for j, c in enumerate(r)) + "</tr>"
                   for i, r in enumerate(rows))
    return f'<table style="{_TABLE_CSS}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def figures_html(model: DashboardModel, weeks: int) -> str:
    """The headline figures of the last simulated week, this run vs the baseline, as an HTML table."""
    if weeks <= 0:
        rows = [[h.label, "–", "–", "–"] for h in HEADLINES]
    else:
        rows = [[r["figure"], *r["text"]] for r in figures_table(model, weeks)]
    return _html_table(["figure", "this setting", "baseline", "difference"], rows)


def status_text(model: DashboardModel, weeks: int) -> str:
    """The simulated date (the last simulated week's), the scenario, its size and seed, as one line."""
    config = model.config
    where = f"{config.name} · {config.population.size:,} citizens, seed {model.seed}"
    if weeks <= 0:
        return f"Not started: the run begins {config.run.start:%d %b %Y}; press Step or ▶ · {where}"
    date = config.run.start + dt.timedelta(weeks=weeks - 1)
    return f"{date:%d %b %Y} · week {weeks} of {config.run.weeks} · {where}"


def _show(value: Any) -> str:
    """A lever value as text (the page's control panel shows it the same way)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def levers_html(model: DashboardModel) -> str:
    """Each lever's value in this run beside the scenario's (moved levers in bold) as HTML."""
    scenario, now = lever_values(type(model).base), model.levers()
    rows = [[lever.label, _show(now[name]), _show(scenario[name])] for name, lever in LEVERS.items()]
    moved = {i for i, name in enumerate(LEVERS) if name in model.moved}
    note = ("Levers as in the scenario: this run reproduces the baseline." if not moved else
            "Levers in bold differ from the scenario and hold for the whole run.")
    return (_html_table(["lever", "this run", "scenario"], rows, moved)
            + f"<p style='margin: 6px 0 0 0; font-size: 12px;'>{note} Move levers on the left, press "
              "<b>Reset</b> to start a run with them, then <b>Step</b> (a quarter) or <b>▶</b>.</p>")


# ------------------------------------------------------------------ live plots


@dataclass(frozen=True)
class PlotSpec:
    """A live plot: the question it answers, what it shows, its y axis and lines (legend label, metric, group).

    A share is drawn in per cent of ``of``; ``windowed`` plots (measures over
    the last 52 weeks) shade the first 52 weeks, while the window fills.
    """

    question: str
    detail: str
    quantity: str
    series: tuple[tuple[str, str, tuple[str, str]], ...]
    of: str | None = None
    windowed: bool = False

    @property
    def unit(self) -> str:
        """The unit of the plot's metrics (sim.model.metrics.METRICS; one per plot)."""
        return METRICS[self.series[0][1]].unit

    @property
    def scale(self) -> float:
        """Factor from the metric's values to the axis: per cent for shares."""
        return PERCENT if self.unit == "share" else 1.0

    @property
    def limit(self) -> float | None:
        """Highest possible end of the y axis: 100% for shares, 1 on a 0-1 scale, none for amounts."""
        return {"share": PERCENT, "0-1": 1.0}.get(self.unit)


PLOTS: tuple[PlotSpec, ...] = (
    PlotSpec("Who is excluded?", "citizens with a failed procedure or a missed letter with a consequence, last year",
             "excluded", (("all", "exclusion_rate", OVERALL),
                          ("80+", "exclusion_rate", ("age_band", "80+")),
                          ("lowest skill quintile", "exclusion_rate", ("skill_quintile", "Q1 lowest"))),
             of="each group", windowed=True),
    PlotSpec("Who stays outside Digital Post?", "exempt citizens, and enrolled citizens who read none of their mail",
             "share", (("exempt (% of citizens)", "exempt_share", OVERALL),
                       ("enrolled but inactive (% of enrolled)", "inactive_enrolled_share", OVERALL))),
    PlotSpec("Can the citizen service centres keep up?", "weekly requests a centre could not serve, last year",
             "not served", (("requests not served", "centre_unserved_share", OVERALL),),
             of="requests", windowed=True),
    PlotSpec("Do citizens trust public digital services?", "mean trust of citizens 15+",
             "mean trust (0-1 scale)", (("mean trust", "trust_mean", OVERALL),)),
    PlotSpec("What does it cost the public?", "public cost of all channels per citizen-year, last year",
             "DKK per citizen-year", (("all channels", "cost_per_citizen_year_dkk", OVERALL),), windowed=True),
)
"""The live plots, in the order of the page."""


def axis_top(peak: float, limit: float | None) -> float:
    """A round end for a y axis from 0 that holds ``peak``: the first tick at or above it, at most ``limit``."""
    top = float(MaxNLocator(nbins=5).tick_values(0.0, peak if peak > 0 else 1.0)[-1])
    return min(top, limit) if limit is not None else top


class LivePlot:
    """One live plot of a run in the house style (sim/outputs/style.py): the baseline over the whole run
    (dashed) and the run so far (solid).

    Everything but the run's lines is drawn once and kept as a background;
    each ``png`` then draws only the run's lines over it (blitting), and
    draws everything again only when the lines outgrow the y axis.
    """

    def __init__(self, model: DashboardModel, spec: PlotSpec) -> None:
        self.spec, self.metrics = spec, model.metrics
        config = model.config
        self.dates = np.datetime64(config.run.start) + np.arange(config.run.weeks) * np.timedelta64(7, "D")
        baseline = [metric_series(type(model).baseline(), metric, group) * spec.scale
                    for _, metric, group in spec.series]
        self.baseline_peak = max(_peak(b) for b in baseline)
        self.top = axis_top(self.baseline_peak, spec.limit)
        self.lines: list[Line2D] = []
        self.background: Any = None  # the figure without the run's lines, as drawn (an Agg BufferRegion)
        self.figure = self._draw_furniture(baseline, policy_markers([config]))
        self.canvas = FigureCanvasAgg(self.figure)

    @styled
    def _draw_furniture(self, baseline: list[np.ndarray], markers: list[tuple[object, str]]) -> Figure:
        """The figure: title, warm-up shade, events, the baseline's lines, the run's (empty) lines, axes, legend."""
        spec = self.spec
        fig, (ax,) = new_figure(SCREEN_HEIGHT, dpi=SCREEN_DPI)
        add_title(fig, spec.question, spec.detail + "; dashed: the baseline (the scenario as loaded)")
        if spec.windowed:
            shade_warmup(ax, self.dates)
        mark_events(ax, markers)
        for (label, _, _), values, colour in zip(spec.series, baseline, PALETTE, strict=False):
            ax.plot(self.dates, values, ls="--", lw=1, color=colour, alpha=0.7)
            (line,) = ax.plot([], [], lw=2, color=colour, label=label, animated=True)
            self.lines.append(line)
        ax.plot([], [], ls="--", lw=1, color="grey", label="baseline (dashed)")
        ax.set_xlim(self.dates[0], self.dates[-1])
        date_axis(ax)
        self._set_top(ax)
        legend_below(ax)
        return fig

    def _set_top(self, ax: Axes) -> None:
        """Start the y axis at 0, end it at ``top`` and label it (in per cent of ``of`` for shares)."""
        if self.spec.unit == "share":
            percent_axis(ax, self.spec.quantity, of=self.spec.of, top=self.top)
        else:
            ax.set_ylim(0, self.top)
            ax.set_ylabel(self.spec.quantity)

    def png(self, weeks: int) -> bytes:
        """The plot with the run's first ``weeks`` weeks, as PNG (ticks made while drawing follow the house style)."""
        peak = self.baseline_peak
        for line, (_, metric, group) in zip(self.lines, self.spec.series, strict=True):
            values = metric_series(self.metrics, metric, group)[:weeks] * self.spec.scale
            line.set_data(self.dates[:weeks], values)
            peak = max(peak, _peak(values))
        top = axis_top(peak, self.spec.limit)
        if self.background is None or top != self.top:
            self.top = top
            self._set_top(self.figure.axes[0])
            with rc_context(STYLE):
                self.canvas.draw()
            self.background = self.canvas.copy_from_bbox(self.figure.bbox)
        else:
            self.canvas.restore_region(self.background)
        for line in self.lines:
            self.figure.axes[0].draw_artist(line)
        out = io.BytesIO()
        imsave(out, np.asarray(self.canvas.buffer_rgba()), format="png")
        return out.getvalue()


def live_plots(model: DashboardModel) -> list[LivePlot]:
    """One LivePlot per entry of PLOTS for a run."""
    return [LivePlot(model, spec) for spec in PLOTS]


# ------------------------------------------------------------------ results folders


@dataclass(frozen=True)
class ResultsFolder:
    """A results folder written by digex: the command that wrote it, its figures and tables (paths relative to it)
    and the command line recorded in its manifest."""

    path: Path
    kind: str
    figures: tuple[str, ...]
    tables: tuple[str, ...]
    command: str = ""

    def figure(self, name: str) -> bytes:
        """A figure's PNG bytes (only one of ``figures``)."""
        if name not in self.figures:
            raise UserError(f"'{name}' is not a figure of {self.path}")
        return self._read(name, lambda p: p.read_bytes())

    def table(self, name: str) -> tuple[pd.DataFrame, bool]:
        """A table (only one of ``tables``), its first TABLE_ROWS rows, and whether rows were left out."""
        if name not in self.tables:
            raise UserError(f"'{name}' is not a table of {self.path}")
        frame = self._read(name, lambda p: pd.read_csv(p, nrows=TABLE_ROWS + 1))
        return frame.head(TABLE_ROWS), len(frame) > TABLE_ROWS

    def _read(self, name: str, read: Callable[[Path], Any]) -> Any:
        """Read one of the folder's files; a failure becomes one UserError line naming it."""
        try:
            return read(self.path / name)
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise UserError(f"cannot read {self.path / name}: {exc}") from None


def _files(folder: Path, suffix: str) -> tuple[str, ...]:
    """Files with ``suffix`` in a folder and its visible subfolders (such as ``plots/``), relative to it."""
    found = [*folder.glob(f"*{suffix}"), *folder.glob(f"*/*{suffix}")]
    return tuple(sorted(p.relative_to(folder).as_posix() for p in found
                        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)))


def _manifest_command(folder: Path) -> str:
    """The command line recorded in a folder's manifest.json ("" if there is none or it cannot be read)."""
    try:
        command = json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("command", "")
    except (OSError, ValueError, AttributeError):
        return ""
    return command if isinstance(command, str) else ""


def find_results(text: str) -> tuple[ResultsFolder | None, list[Path]]:
    """The digex results folder at ``text``; or, for a folder that holds results folders (such as ``results/``),
    None and those folders. Raises UserError for anything else."""
    if not text.strip():
        raise UserError("type the path of a results folder (written by digex run or digex compare)")
    path = Path(text.strip()).expanduser().resolve()
    if not path.is_dir():
        raise UserError(f"{path} is not a folder" if path.exists() else f"{path} does not exist")
    kind = marked_kind(path)
    if kind is not None:
        return ResultsFolder(path, kind, _files(path, ".png"), _files(path, ".csv"), _manifest_command(path)), []
    try:
        inside = sorted(p for p in path.iterdir() if p.is_dir() and marked_kind(p) is not None)
    except OSError as exc:
        raise UserError(f"cannot list {path}: {exc.strerror or exc}") from None
    if not inside:
        raise UserError(f"{path} is not a digex results folder (it has no .digex-output file) and holds none")
    return None, inside


# ------------------------------------------------------------------ the page


CONTROLS_TEMPLATE = """
<template>
  <div class="digex-controls">
    <div class="digex-buttons">
      <v-btn color="primary" depressed @click="reset(Object.assign({}, values))">Reset</v-btn>
      <v-btn color="primary" depressed :disabled="!running" @click="play()">{{ playing ? '❚❚' : '▶' }}</v-btn>
      <v-btn color="primary" depressed :disabled="playing || !running" @click="step()">Step</v-btn>
    </div>
    <div class="digex-pending" v-if="pending">Levers moved: press <b>Reset</b> to start a run with them.</div>
    <div v-for="lever in levers" :key="lever.name" class="digex-lever" :data-lever="lever.name">
      <template v-if="lever.widget === 'SliderFloat'">
        <div class="digex-lever-label">
          <span>{{ lever.label }}</span><span class="digex-lever-value">{{ show(values[lever.name]) }}</span>
        </div>
        <v-slider v-model="values[lever.name]" :min="lever.min" :max="lever.max" :step="lever.step"
                  hide-details dense></v-slider>
      </template>
      <v-select v-else-if="lever.widget === 'Select'" v-model="values[lever.name]" :items="lever.values"
                :label="lever.label" hide-details dense></v-select>
      <v-checkbox v-else v-model="values[lever.name]" :label="lever.label" hide-details dense></v-checkbox>
    </div>
  </div>
</template>
<script>
module.exports = {
  data() { return { values: {} }; },
  created() { this.values = Object.assign({}, this.applied); },
  computed: {
    pending() { return this.levers.some(lever => this.values[lever.name] !== this.applied[lever.name]); },
  },
  methods: {
    show(value) { return typeof value === "boolean" ? (value ? "on" : "off") : String(value); },
  },
};
</script>
<style>
.digex-controls { width: 100%; }
.digex-buttons { display: flex; gap: 8px; margin-bottom: 4px; }
.digex-pending { font-size: 12px; color: #b35900; margin: 4px 0; }
.digex-lever { width: 100%; margin-top: 12px; }
.digex-lever-label { display: flex; justify-content: space-between; font-size: 14px; }
.digex-lever-value { font-weight: 600; margin-left: 8px; }
</style>
"""
"""The control panel in the browser: Reset, ▶/❚❚ and Step, and the levers, each as wide as the panel, with its
value always shown. The lever values live here; Reset sends them, so a run starts with exactly what is on screen."""


class ControlPanel(v.VuetifyTemplate):
    """The page's buttons and levers (``CONTROLS_TEMPLATE``); each button calls ``submit`` with its command."""

    template = traitlets.Unicode(CONTROLS_TEMPLATE).tag(sync=True)
    levers = traitlets.List().tag(sync=True)
    applied = traitlets.Dict().tag(sync=True)
    playing = traitlets.Bool(False).tag(sync=True)
    running = traitlets.Bool(True).tag(sync=True)
    submit = traitlets.Any(None)

    def vue_reset(self, values: Any) -> None:
        """Reset pressed: start a run with the lever values sent from the page."""
        self.submit("reset", values)

    def vue_step(self, _data: Any = None) -> None:
        """Step pressed."""
        self.submit("step")

    def vue_play(self, _data: Any = None) -> None:
        """▶ or ❚❚ pressed."""
        self.submit("play")


def _card(title: str, body: str, css_class: str) -> solara.Element:
    """A card with a title and an HTML body, found by the page's tests through ``css_class``."""
    return solara.Card(title, children=[solara.HTML(unsafe_innerHTML=body)], classes=[css_class])


@solara.component
def PlotImage(plot: LivePlot, weeks: int) -> solara.Element:  # noqa: N802  (a Solara component)
    """One live plot, drawn once per run and week shown."""
    png = solara.use_memo(lambda: plot.png(weeks), [plot, weeks])
    return solara.Image(png, width="100%", classes=["digex-plot"])


@solara.component
def Simulation(view: View) -> None:  # noqa: N802  (a Solara component)
    """The run: the figures table and the run's levers, then the live plots, two to a row."""
    plots = solara.use_memo(lambda: live_plots(view.model), [view.model])
    with solara.GridFixed(columns=2, align_items="start"):
        _card("This setting vs baseline", figures_html(view.model, view.week), "digex-figures")
        _card("Levers of this run", levers_html(view.model), "digex-levers")
        for plot in plots:
            PlotImage(plot, view.week)


@solara.component
def ResultsBrowser(initial: str = "") -> None:  # noqa: N802  (a Solara component)
    """A results folder written by digex: pick one of its figures or tables to see it."""
    path = solara.use_reactive(initial or ("results" if Path("results").is_dir() else ""))
    figure = solara.use_reactive("")
    table = solara.use_reactive("")
    solara.InputText("Results folder (written by digex run or digex compare; Enter opens it)", value=path,
                     continuous_update=False)
    try:
        folder, inside = find_results(path.value)
    except UserError as exc:
        solara.Warning(str(exc), classes=["digex-results-error"])
        return
    if folder is None:
        solara.Text(f"Results folders in {Path(path.value).expanduser().resolve()}:")
        for p in inside:
            solara.Button(f"{p.name} ({marked_kind(p) or 'digex'})", text=True, style={"align-self": "flex-start"},
                          on_click=lambda p=p: path.set(str(p)), classes=["digex-results-folder"])
        return
    command = f": <code>{html.escape(folder.command)}</code>" if folder.command else ""
    solara.HTML(unsafe_innerHTML=f"<b>{html.escape(str(folder.path))}</b>, written by "
                                 f"<code>digex {html.escape(folder.kind or '?')}</code>{command}")
    solara.Select("Figure", values=list(folder.figures), value=figure, style={"max-width": "600px"})
    if figure.value in folder.figures:
        ResultsFile(folder, figure.value)
    solara.Select("Table", values=list(folder.tables), value=table, style={"max-width": "600px"})
    if table.value in folder.tables:
        ResultsFile(folder, table.value)


@solara.component
def ResultsFile(folder: ResultsFolder, name: str) -> None:  # noqa: N802  (a Solara component)
    """One figure or table of a results folder (read once per choice; a table's first TABLE_ROWS rows), or the
    one-line message of why it cannot be read."""
    try:
        if name in folder.figures:
            solara.Image(folder.figure(name), width="min(100%, 900px)")
            return
        frame, cut = folder.table(name)
    except UserError as exc:
        solara.Warning(str(exc), classes=["digex-results-error"])
        return
    if cut:
        solara.Text(f"The first {TABLE_ROWS:,} rows:")
    solara.DataFrame(frame, items_per_page=15, scrollable=True)


@solara.component
def Dashboard(cls: type[DashboardModel], results: str = "") -> None:  # noqa: N802  (a Solara component)
    """The page: controls on the left; the simulated date, and tabs for the run and a results folder."""
    runner = solara.use_memo(lambda: Runner(cls), [cls])
    view = solara.use_reactive(solara.use_memo(lambda: runner.view, [runner]))
    solara.use_thread(lambda cancel: runner.serve(cancel, view.set), dependencies=[runner], intrusive_cancel=False)
    inputs = solara.use_memo(lambda: lever_inputs(cls.base), [cls])
    shown = view.value
    solara.Title(f"digex: {cls.base.name}")
    with solara.Row(style={"align-items": "flex-start", "flex-wrap": "nowrap"}):
        with solara.Column(style={"flex": "0 0 320px", "width": "320px"}):
            with solara.Card(f"digex: {cls.base.name}"):
                ControlPanel.element(levers=inputs, applied=shown.model.levers(), playing=shown.playing,
                                     running=shown.model.running, submit=runner.submit)
                if shown.error:
                    solara.Error(shown.error)
        with solara.Column(style={"flex": "1 1 0", "min-width": "0", "padding-right": "12px"}):
            solara.Text(status_text(shown.model, shown.week), classes=["digex-status"],
                        style={"font-size": "18px", "font-weight": "600"})
            with solara.lab.Tabs(value=1 if results else 0):
                with solara.lab.Tab("Simulation"):
                    Simulation(shown)
                with solara.lab.Tab("Results folder"):
                    ResultsBrowser(results)


def dashboard(config: Config | None = None, size: int | None = DASHBOARD_SIZE,
              seed: int | None = None) -> solara.Element:
    """The dashboard for a scenario (default: the Danish baseline at 5,000 citizens); show it in Jupyter.

    The baseline run (about 2 seconds at 5,000 citizens) happens here, once.
    """
    cls = DashboardModel.for_scenario(config if config is not None else default_scenario(), size, seed)
    cls.baseline()
    return Dashboard(cls)


def default_scenario() -> Config:
    """The shipped Danish baseline scenario if present, else the built-in defaults."""
    from sim.scenario.loader import load_scenario

    return load_scenario(DEFAULT_SCENARIO_PATH) if DEFAULT_SCENARIO_PATH.exists() else Config()


_SERVED: dict[tuple[str, str, str], type[DashboardModel]] = {}


def served_model_class() -> type[DashboardModel]:
    """The model class of the page served by ``digex app``, from its environment variables (cached)."""
    from sim.scenario.loader import load_scenario

    key = (os.environ.get(SCENARIO_ENV, ""), os.environ.get(SIZE_ENV, ""), os.environ.get(SEED_ENV, ""))
    if key not in _SERVED:
        path, size, seed = key
        config = load_scenario(path) if path else default_scenario()
        _SERVED[key] = DashboardModel.for_scenario(config, int(size) if size else DASHBOARD_SIZE,
                                                   int(seed) if seed else None)
    return _SERVED[key]


@solara.component
def Page() -> None:  # noqa: N802  (Solara's name for an app's page)
    """The page served by ``digex app`` (``solara run sim.app``)."""
    Dashboard(served_model_class(), os.environ.get(RESULTS_ENV, ""))
