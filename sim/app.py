"""Interactive dashboard: a Mesa SolaraViz page with the main policy levers and live plots.

``digex app`` serves it in the browser; in Jupyter, ``dashboard()`` as the
last expression of a cell shows the same page. SolaraViz re-creates the
model with keyword arguments (one per lever) when the user presses Reset, so
``DashboardModel`` is a thin ``DigexModel`` subclass that maps lever values
onto a copy of the scenario's configuration. The scenario itself, run once
at the same population size and seed, is the *baseline* shown beside the
current run: dashed lines in the plots and a column in the figures table.

A lever left at the scenario's value changes nothing (so the dashboard
model at its initial settings reproduces the baseline exactly); a lever
moved away from it replaces the scenario's value for the whole run, and the
scenario's dated timeline changes to that lever are dropped.
"""

from __future__ import annotations

import datetime as dt
import html
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

# Solara reports usage to an analytics service unless told not to; the dashboard never does.
os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")

import numpy as np  # noqa: E402
import solara  # noqa: E402
from matplotlib.figure import Figure as MplFigure  # noqa: E402
from mesa.visualization import SolaraViz  # noqa: E402

from sim.experiments.varied import Varied  # noqa: E402
from sim.model.keypath import with_values  # noqa: E402
from sim.model.metrics import GROUP_METRICS, OVERALL, OVERALL_METRICS, Metrics  # noqa: E402
from sim.model.model import DigexModel  # noqa: E402
from sim.model.params import PROCEDURE_TYPES, Config, PolicyConfig  # noqa: E402
from sim.outputs.style import (  # noqa: E402
    PALETTE,
    PERCENT,
    SCREEN_DPI,
    SCREEN_HEIGHT,
    date_axis,
    new_figure,
    percent_axis,
    styled,
)
from sim.scenario.loader import POLICY_PREFIX  # noqa: E402

DASHBOARD_SIZE = 5_000
"""Simulated citizens in the dashboard (small enough to step a week in a few milliseconds)."""

SCENARIO_ENV = "DIGEX_APP_SCENARIO"
SIZE_ENV = "DIGEX_APP_SIZE"
SEED_ENV = "DIGEX_APP_SEED"
"""Environment variables through which ``digex app`` tells the served page what to show."""

DEFAULT_SCENARIO_PATH = Path(__file__).resolve().parent.parent / "scenarios" / "denmark_baseline.yaml"
"""The shipped Danish baseline, the dashboard's default scenario."""

WEEKS_PER_STEP = 13
"""Weeks simulated per press of Step (and between redraws while playing): a quarter."""


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


def apply_levers(base: Config, values: dict[str, Any]) -> tuple[Config, dict[str, tuple[Any, Any]]]:
    """A validated copy of ``base`` with the levers that differ from it set, and what changed.

    Returns the new configuration and {lever: (scenario value, new value)} for
    the moved levers. A moved lever holds for the whole run: the scenario's
    timeline changes to its key path (or below it) are dropped. An invalid
    value raises KeyPathError naming the key path.
    """
    unknown = set(values) - set(LEVERS)
    if unknown:
        raise ValueError(f"unknown dashboard lever(s) {sorted(unknown)}; use {list(LEVERS)}")
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


def model_params(config: Config) -> dict[str, dict[str, Any]]:
    """SolaraViz ``model_params``: one input per lever, starting at the scenario's value."""
    params: dict[str, dict[str, Any]] = {}
    for name, lever in LEVERS.items():
        value = lever.read(config)
        spec: dict[str, Any] = {"type": lever.widget, "label": lever.label, "value": value}
        if lever.widget == "SliderFloat":
            spec.update(min=lever.setting.low, max=max(lever.setting.high, float(value)), step=lever.step)
        elif lever.widget == "Select":
            spec["values"] = list(lever.setting.values)
        params[name] = spec
    return params


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


@dataclass(frozen=True)
class Headline:
    """A headline figure: label, metric, group and how to print it (share, number or DKK)."""

    label: str
    metric: str
    group: tuple[str, str] = OVERALL
    kind: str = "share"

    def format(self, value: float, difference: bool = False) -> str:
        """The value as text; a difference is signed (percentage points for shares)."""
        if np.isnan(value):
            return "–"
        sign = "+" if difference else ""
        if self.kind == "share":
            return f"{value * 100:{sign}.1f} pp" if difference else f"{value * 100:.1f}%"
        if self.kind == "dkk":
            return f"{value:{sign},.0f} DKK"
        return f"{value:{sign}.2f}"


HEADLINES: tuple[Headline, ...] = (
    Headline("Exclusion rate, all", "exclusion_rate"),
    Headline("Exclusion rate, 80+", "exclusion_rate", ("age_band", "80+")),
    Headline("Exclusion rate, lowest skill quintile", "exclusion_rate", ("skill_quintile", "Q1 lowest")),
    Headline("Exempt from Digital Post", "exempt_share"),
    Headline("Centre queue (weeks waited)", "centre_queue_weeks", kind="number"),
    Headline("Centre requests unserved", "centre_unserved_share"),
    Headline("Mean trust (0-1)", "trust_mean", kind="number"),
    Headline("Public cost per citizen-year", "cost_per_citizen_year_dkk", kind="dkk"),
)
"""Figures of the 'this setting vs baseline' table."""


def figures_table(model: DashboardModel) -> list[dict[str, Any]]:
    """Latest week's headline figures of the model beside the baseline's in the same week."""
    week = model.week - 1
    base = type(model).baseline()
    rows = []
    for f in HEADLINES:
        now, ref = metric_at(model.metrics, f.metric, f.group, week), metric_at(base, f.metric, f.group, week)
        rows.append({"figure": f.label, "now": now, "baseline": ref, "difference": now - ref,
                     "text": (f.format(now), f.format(ref), f.format(now - ref, difference=True))})
    return rows


# ------------------------------------------------------------------ components

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


def figures_html(model: DashboardModel) -> str:
    """The week, the run's size and seed, and the headline figures now vs baseline as HTML."""
    week = model.week - 1
    date = model.config.run.start + dt.timedelta(weeks=max(week, 0))
    when = (f"<b>Week {week + 1} of {model.config.run.weeks}</b> ({date:%d %b %Y})" if week >= 0 else
            f"<b>Not started</b> (first week {date:%d %b %Y}): press Step or ▶")
    title = (f"<p style='margin: 0 0 6px 0;'>{when} · {model.config.population.size:,} citizens, "
             f"seed {model.seed}</p>")
    if week < 0:
        rows = [[h.label, "–", "–", "–"] for h in HEADLINES]
    else:
        rows = [[r["figure"], *r["text"]] for r in figures_table(model)]
    return title + _html_table(["figure", "this setting", "baseline", "difference"], rows)


def levers_html(model: DashboardModel) -> str:
    """Each lever's value in this run beside the scenario's (moved levers in bold) as HTML."""
    scenario = lever_values(type(model).base)
    rows, moved = [], set()
    for i, (name, lever) in enumerate(LEVERS.items()):
        now = model.moved[name][1] if name in model.moved else scenario[name]
        rows.append([lever.label, _show(now), _show(scenario[name])])
        if name in model.moved:
            moved.add(i)
    note = ("Levers as in the scenario: this run reproduces the baseline." if not moved else
            "Levers in bold differ from the scenario and hold for the whole run.")
    return (_html_table(["lever", "this run", "scenario"], rows, moved)
            + f"<p style='margin: 6px 0 0 0; font-size: 12px;'>{note} Move levers in the sidebar, press "
              "<b>Reset</b> to start a run with them, then <b>Step</b> (a quarter) or <b>▶</b>.</p>")


def _show(value: Any) -> str:
    """A lever value as text."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def FiguresCard(model: DashboardModel) -> solara.Element:  # noqa: N802  (a Solara component)
    """The headline figures of the current week, this run vs the baseline."""
    return solara.Card("This setting vs baseline", children=[solara.HTML(unsafe_innerHTML=figures_html(model))],
                       classes=["digex-figures"])


def LeversCard(model: DashboardModel) -> solara.Element:  # noqa: N802  (a Solara component)
    """The levers of the current run beside the scenario's."""
    return solara.Card("Levers of this run", children=[solara.HTML(unsafe_innerHTML=levers_html(model))],
                       classes=["digex-levers"])


PLOTS: tuple[tuple[str, str, tuple[tuple[str, str, tuple[str, str]], ...]], ...] = (
    ("Exclusion rate (share with a failed task in 52 weeks)", "share", (
        ("all", "exclusion_rate", OVERALL),
        ("80+", "exclusion_rate", ("age_band", "80+")),
        ("lowest skill quintile", "exclusion_rate", ("skill_quintile", "Q1 lowest")))),
    ("Digital Post status", "share", (
        ("exempt", "exempt_share", OVERALL),
        ("enrolled but inactive", "inactive_enrolled_share", OVERALL))),
    ("Citizen service centre", "number", (
        ("queue (weeks waited)", "centre_queue_weeks", OVERALL),
        ("share of requests unserved", "centre_unserved_share", OVERALL))),
    ("Trust in public digital services", "number", (
        ("mean trust", "trust_mean", OVERALL),
        ("alienated share", "alienated_share", OVERALL))),
    ("Public cost per citizen-year (DKK)", "number", (
        ("all channels", "cost_per_citizen_year_dkk", OVERALL),)),
)
"""Live plots: title, axis kind and (legend label, metric, group) of each line."""


@styled
def plot_figure(model: DashboardModel, title: str, kind: str,
                series: tuple[tuple[str, str, tuple[str, str]], ...]) -> MplFigure:
    """A live plot in the house style (sim/outputs/style.py): each series so far (solid) and in the baseline
    over the whole run (dashed); shares in per cent."""
    base = type(model).baseline()
    weeks = model.config.run.weeks
    dates = np.datetime64(model.config.run.start) + np.arange(weeks) * np.timedelta64(7, "D")
    fig, (ax,) = new_figure(SCREEN_HEIGHT, dpi=SCREEN_DPI)
    scale = PERCENT if kind == "share" else 1.0
    for (label, metric, group), colour in zip(series, PALETTE, strict=False):
        ax.plot(dates, metric_series(base, metric, group) * scale, ls="--", lw=1, color=colour, alpha=0.7)
        now = metric_series(model.metrics, metric, group)[: model.week]
        ax.plot(dates[: model.week], now * scale, lw=2, color=colour, label=label)
    ax.plot([], [], ls="--", lw=1, color="grey", label="baseline (dashed)")
    ax.set_title(title, loc="left", fontweight="bold")
    ax.set_xlim(dates[0], dates[-1])
    date_axis(ax)
    if kind == "share":
        percent_axis(ax, "share")
    else:
        ax.set_ylim(bottom=0)
    ax.legend(loc="upper left")
    return fig


def make_plot(title: str, kind: str, series: tuple[tuple[str, str, tuple[str, str]], ...]
              ) -> Callable[[DashboardModel], solara.Element]:
    """A SolaraViz component drawing one live plot."""

    def Plot(model: DashboardModel) -> solara.Element:  # noqa: N802  (a Solara component)
        return solara.FigureMatplotlib(plot_figure(model, title, kind, series), format="png",
                                       dependencies=[model.week, id(model)])

    Plot.__name__ = Plot.__qualname__ = "Plot_" + "".join(c for c in title if c.isalnum())[:30]
    return Plot


def components() -> list[Callable[[DashboardModel], solara.Element]]:
    """The dashboard's components: the figures table, one plot per entry of PLOTS, the levers table."""
    return [FiguresCard, *(make_plot(*p) for p in PLOTS), LeversCard]


def dashboard(config: Config | None = None, size: int | None = DASHBOARD_SIZE,
              seed: int | None = None) -> solara.Element:
    """The dashboard for a scenario (default: the Danish baseline at 5,000 citizens); show it in Jupyter.

    The baseline run (about 5 seconds at 5,000 citizens) happens here, once.
    """
    cls = DashboardModel.for_scenario(config if config is not None else default_scenario(), size, seed)
    cls.baseline()
    return SolaraViz(cls(), components=components(), model_params=model_params(cls.base),
                     name=f"digex: {cls.base.name}", play_interval=50, render_interval=WEEKS_PER_STEP)


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
    cls = served_model_class()
    model = solara.use_memo(cls, [])
    SolaraViz(model, components=components(), model_params=model_params(cls.base),
              name=f"digex: {cls.base.name}", play_interval=50, render_interval=WEEKS_PER_STEP)
