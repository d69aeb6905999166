"""The five dilemmas of the digital welfare state on one page: scenario pairs, outcomes, readings and figures.

``DILEMMAS`` declares each dilemma once: the seed's question, the scenario
pairs that weigh it (the first is the main pair; each pair is a scenario read
against a reference on the same seeds) and the outcomes to weigh, each a
metric with its group: what the first pair's scenario is meant to gain
(``gains``) and what it may lose (``losses``). Each outcome says which
direction is better for citizens and the public purse (``better``), so that a
measured change is called a gain or a loss from its sign, never from the list
it stands in.

``pair_table`` turns the end-of-run values of paired replications (the
``end_values.csv`` of ``digex compare``) into a comparison table of every
pair (the columns of ``comparison.csv``: paired differences with 95%
intervals); ``read`` turns such a table into the reading of a dilemma:
sentences that state each measured direction and size with its interval, say
plainly when an interval includes zero, and say whether the pair shows a
trade-off (a clear gain and a clear loss). No sentence is fixed text: every
direction, size and verdict comes from the table. ``dilemma_figure`` draws
the paired differences with their intervals in the style of
``sim.outputs.style``; ``page`` writes the Markdown page (``digex dilemmas``).

The intervals are those of ``sim.experiments.stats``: 95% intervals over
paired replications. They cover simulation noise (which citizens, needs and
events were drawn), not the uncertainty of the model's parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.experiments.compare import comparison_table
from sim.experiments.replication import SAVINGS
from sim.model.metrics import METRICS, OVERALL
from sim.outputs.format import SHARE, fmt_value, missing
from sim.outputs.style import CONTEXT, PALETTE, PERCENT, add_title, new_figure, short_name, styled

READING = "**Reading (computed from these runs).**"
"""How every reading starts, on the page and in notebook 04, so that a reader knows it is computed."""


@dataclass(frozen=True)
class Outcome:
    """One outcome to weigh: a metric (of one group), named for a sentence, and the direction that is better.

    ``label`` is a noun phrase that follows a verb ("lowers <label> by ...");
    ``better`` is -1 when lower is better (exclusion, cost), +1 when higher is
    better (savings, skill, trust).
    """

    metric: str
    label: str
    better: int
    group_type: str = OVERALL[0]
    group: str = OVERALL[1]

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"unknown metric {self.metric!r}")
        if self.better not in (-1, 1):
            raise ValueError(f"better must be -1 or +1, got {self.better!r}")

    @property
    def unit(self) -> str:
        """The metric's unit (``sim.model.metrics.METRICS``)."""
        return METRICS[self.metric].unit


@dataclass(frozen=True)
class Pair:
    """A scenario read against a reference (scenario minus reference, on the same seeds)."""

    scenario: str
    reference: str

    @property
    def name(self) -> str:
        """'scenario vs reference'."""
        return f"{self.scenario} vs {self.reference}"


@dataclass(frozen=True)
class Dilemma:
    """One dilemma: its name, the seed's question, its scenario pairs (the first is the main one), and the
    outcomes to weigh: what the main pair's scenario is meant to gain and what it may lose."""

    slug: str
    name: str
    question: str
    pairs: tuple[Pair, ...]
    gains: tuple[Outcome, ...]
    losses: tuple[Outcome, ...]

    @property
    def outcomes(self) -> tuple[Outcome, ...]:
        """Every outcome, gains first."""
        return self.gains + self.losses

    @property
    def scenarios(self) -> list[str]:
        """Every scenario the dilemma's pairs need, in order of first use."""
        return list(dict.fromkeys(s for p in self.pairs for s in (p.scenario, p.reference)))


AGE_80 = ("age_band", "80+")
Q1 = ("skill_quintile", "Q1 lowest")

DILEMMAS: tuple[Dilemma, ...] = (
    Dilemma(
        "mandatory", "Mandatory digitalisation vs exclusion",
        "Does making self-service and Digital Post mandatory buy uptake and savings at the price of excluding "
        "those who cannot cope?",
        (Pair("denmark_baseline", "voluntary_digital"), Pair("denmark_baseline", "nordic_hybrid")),
        gains=(Outcome("savings_vs_analogue_dkk", "the public saving against an all-analogue world", +1),
               Outcome("digital_share", "the share of procedures done by self-service", +1)),
        losses=(Outcome("exclusion_rate", "exclusion", -1),
                Outcome("exclusion_rate", "exclusion among the 80+", -1, *AGE_80),
                Outcome("exclusion_rate", "exclusion in the lowest skill quintile", -1, *Q1)),
    ),
    Dilemma(
        "empowerment", "Empowerment vs alienation",
        "Does designing self-service for those it fails (impairment, language, age) empower them and keep "
        "their trust, and what does it cost?",
        (Pair("accessibility_programme", "denmark_baseline"),),
        gains=(Outcome("exclusion_rate", "exclusion among citizens with a physical impairment", -1,
                       "disability", "physical"),
               Outcome("exclusion_rate", "exclusion among citizens with a cognitive impairment", -1,
                       "disability", "cognitive"),
               Outcome("exclusion_rate", "exclusion among citizens with a language barrier", -1,
                       "language_barrier", "yes"),
               Outcome("exclusion_rate", "exclusion among the 80+", -1, *AGE_80),
               Outcome("trust_mean", "mean trust", +1),
               Outcome("alienated_share", "the alienated share", -1)),
        losses=(Outcome("cost_total_dkk", "the public cost", -1),),
    ),
    Dilemma(
        "warm_cold", "Warm vs cold hands",
        "Should citizen-service staff solve the citizen's problem (warm hands) or teach the citizen to solve it "
        "(cold hands), and who gains from each?",
        (Pair("warm_hands", "self_help"),),
        gains=(Outcome("welfare_loss_cumulative_dkk", "the welfare lost to failed procedures and missed letters "
                       "since 2012", -1),
               Outcome("helper_expertise", "the casework expertise of helpers", +1),
               Outcome("grey_practice_incidents_per_year", "data-protection incidents of grey practice", -1)),
        losses=(Outcome("skill_mean", "mean digital skill", +1),
                Outcome("skill_mean", "digital skill in the lowest skill quintile", +1, *Q1),
                Outcome("digital_share", "the share of procedures done by self-service", +1)),
    ),
    Dilemma(
        "privacy", "Data vs privacy",
        "Does resolving cases from register data spare citizens procedures they would fail, and what does it "
        "cost in wrong decisions, exposed data and trust?",
        (Pair("proactive_automation", "denmark_baseline"), Pair("automation_consent", "proactive_automation")),
        gains=(Outcome("non_take_up_rate", "non-take-up of benefits", -1),
               Outcome("automation_share", "the share of procedures resolved without the citizen (automation)", +1)),
        losses=(Outcome("wrong_decisions_per_year", "wrong automated decisions to contest", -1),
                Outcome("failed_contests_per_citizen", "wrong decisions the lowest skill quintile fails to "
                        "contest", -1, *Q1),
                Outcome("privacy_exposure", "the records processed from register data", -1),
                Outcome("privacy_exposed_per_year", "citizens exposed by privacy incidents", -1),
                Outcome("trust_mean", "mean trust", +1)),
    ),
    Dilemma(
        "ambitions", "Ambitions vs competences",
        "What does an ambitious back-office system give when it works, and what does it cost when it fails at "
        "launch?",
        (Pair("it_failure", "denmark_baseline"), Pair("it_success", "denmark_baseline"),
         Pair("it_failure", "it_success")),
        gains=(Outcome("non_take_up_rate", "non-take-up of benefits", -1),),
        losses=(Outcome("cost_cumulative_dkk", "the public cost since 2012", -1),
                Outcome("cost_it_cumulative_dkk", "the public IT cost since 2012", -1),
                Outcome("welfare_loss_cumulative_dkk", "the welfare lost to failed procedures and missed letters "
                        "since 2012", -1)),
    ),
)
"""The five dilemmas of docs/ODD.md section 1, each with its scenario pairs and the outcomes to weigh."""


def scenarios_needed(dilemmas: Sequence[Dilemma] = DILEMMAS) -> list[str]:
    """Every scenario the dilemmas need, in order of first use (the first pair's scenario first)."""
    return list(dict.fromkeys(s for d in dilemmas for s in d.scenarios))


def analogue_needed(dilemmas: Sequence[Dilemma] = DILEMMAS) -> set[str]:
    """Scenarios whose savings against the all-analogue twin an outcome reads (only they need the twin run)."""
    return {s for d in dilemmas if any(o.metric in SAVINGS for o in d.outcomes) for p in d.pairs
            for s in (p.scenario, p.reference)}


def all_pairs(dilemmas: Sequence[Dilemma] = DILEMMAS) -> list[Pair]:
    """Every distinct pair of the dilemmas, in order of first use."""
    return list(dict.fromkeys(p for d in dilemmas for p in d.pairs))


def pair_table(ends: pd.DataFrame, pairs: Sequence[Pair]) -> pd.DataFrame:
    """The comparison table (columns of ``comparison.csv``) of each pair: the rows of its scenario, with the paired
    difference from its reference, from end-of-run values per replication (``end_values.csv``)."""
    frames = []
    for p in pairs:
        missing_names = {p.scenario, p.reference} - set(ends["scenario"])
        if missing_names:
            raise ValueError(f"no end-of-run values of {', '.join(sorted(missing_names))} for the pair {p.name}")
        table = comparison_table(ends[ends["scenario"].isin([p.reference, p.scenario])], [p.reference, p.scenario])
        frames.append(table[table["scenario"] == p.scenario])
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------ reading


@dataclass(frozen=True)
class Effect:
    """The measured paired difference (scenario minus reference) of one outcome in one pair."""

    pair: Pair
    outcome: Outcome
    diff: float
    low: float
    high: float
    n_pairs: int

    @property
    def has_interval(self) -> bool:
        """Whether there is an interval (two or more paired replications)."""
        return not (missing(self.low) or missing(self.high))

    @property
    def clear(self) -> bool:
        """Whether the 95% interval excludes zero."""
        return self.has_interval and (self.low > 0 or self.high < 0)

    @property
    def verdict(self) -> str:
        """'gain' or 'loss' when the interval excludes zero (by the outcome's better direction), else 'unclear'."""
        if not self.clear:
            return "unclear"
        return "gain" if np.sign(self.diff) == self.outcome.better else "loss"

    def sentence(self) -> str:
        """The effect in words: direction, size, interval, and whether it is a gain, a loss or unclear."""
        o = self.outcome
        if missing(self.diff):
            return f"has no value of {o.label} in these runs"
        if self.diff == 0 and (not self.has_interval or self.low == self.high == 0):
            return f"leaves {o.label} unchanged in every pair of runs"
        if not self.has_interval:
            verb = "raises" if self.diff > 0 else "lowers"
            return f"{verb} {o.label} by {amount(abs(self.diff), o.unit)} (one replication: no interval)"
        if not self.clear:
            return (f"changes {o.label} by {amount(self.diff, o.unit, self.low, self.high, signed=True)}, an interval "
                    "that includes zero: no clear difference")
        low, high = (self.low, self.high) if self.diff > 0 else (-self.high, -self.low)
        verb = "raises" if self.diff > 0 else "lowers"
        return f"{verb} {o.label} by {amount(abs(self.diff), o.unit, low, high)}, a {self.verdict}"


def _numbers(values: Sequence[float], unit: str, signed: bool) -> tuple[list[str], str]:
    """The values on one scale as numbers, and the suffix they share (' pp', ' m' or '')."""
    magnitude = max(abs(v) for v in values)
    texts = [fmt_value(v, unit, diff=unit == SHARE or signed, magnitude=magnitude) for v in values]
    suffix = next((s for s in (" pp", " m") if all(t.endswith(s) for t in texts)), "")
    texts = [t.removesuffix(suffix) for t in texts]
    if not signed:
        texts = [t.removeprefix("+") for t in texts]
    return texts, suffix


def amount(value: float, unit: str, low: float | None = None, high: float | None = None,
           signed: bool = False) -> str:
    """A size in words with its unit and interval: '4.70 pp [2.60, 6.80]', 'DKK 97 m a year [93, 101]'.

    Shares are in percentage points; amounts of a unit per year read 'a year'; ``signed`` keeps the sign.
    """
    has_interval = not (low is None or high is None or missing(low) or missing(high))
    texts, suffix = _numbers([value, low, high] if has_interval else [value], unit, signed)
    interval = f" [{texts[1]}, {texts[2]}]" if has_interval else ""
    if unit == SHARE:
        return f"{texts[0]} pp{interval}"
    base, per_year = (unit.removesuffix("/year"), True) if unit.endswith("/year") else (unit, False)
    year = " a year" if per_year else ""
    if base == "DKK":
        return f"DKK {texts[0]}{suffix}{year}{interval}"
    if base == "0-1":
        return f"{texts[0]}{suffix} (0-1 scale){interval}"
    if base == "1":
        return f"{texts[0]}{suffix} per citizen-year{interval}"
    return f"{texts[0]}{suffix} {base}{year}{interval}".replace("  ", " ")


@dataclass(frozen=True)
class Reading:
    """The reading of one dilemma: every effect of every pair, and the sentences that state them."""

    dilemma: Dilemma
    effects: tuple[Effect, ...]

    def of(self, pair: Pair) -> list[Effect]:
        """The effects of one pair, in the order of the dilemma's outcomes."""
        return [e for e in self.effects if e.pair == pair]

    def trade_off(self, pair: Pair | None = None) -> bool:
        """Whether a pair (the main one by default) has a clear gain and a clear loss."""
        verdicts = {e.verdict for e in self.of(pair or self.dilemma.pairs[0])}
        return {"gain", "loss"} <= verdicts

    def summary(self, pair: Pair) -> str:
        """Whether the pair shows the dilemma in these runs, from the verdicts of its effects."""
        effects = self.of(pair)
        gains = [e.outcome.label for e in effects if e.verdict == "gain"]
        losses = [e.outcome.label for e in effects if e.verdict == "loss"]
        if not any(e.has_interval for e in effects):
            return "With one replication there are no intervals, so no difference is called clear."
        if gains and losses:
            return (f"So in these runs {pair.scenario} gains on {_listed(gains)} and loses on {_listed(losses)} "
                    f"against {pair.reference}: the pair shows a trade-off.")
        if gains:
            return (f"So in these runs {pair.scenario} gains on {_listed(gains)} and loses clearly on none of these "
                    f"outcomes against {pair.reference}: the pair shows no trade-off at this size.")
        if losses:
            return (f"So in these runs {pair.scenario} loses on {_listed(losses)} and gains clearly on none of these "
                    f"outcomes against {pair.reference}: the pair shows no trade-off at this size.")
        return (f"So in these runs no outcome of {pair.scenario} differs clearly from {pair.reference}: every "
                "interval includes zero.")

    def markdown(self) -> str:
        """The reading as Markdown: READING, then per pair its summary and a list of its effects."""
        parts = [READING]
        for pair in self.dilemma.pairs:
            items = "\n".join(f"- Against `{pair.reference}`, `{pair.scenario}` {e.sentence()}."
                               for e in self.of(pair))
            parts.append(f"\n\n{items}\n\n{self.summary(pair)}")
        return "".join(parts)


def _listed(labels: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def read(dilemma: Dilemma, table: pd.DataFrame) -> Reading:
    """The reading of a dilemma from a comparison table holding each of its pairs (``pair_table``, or the
    ``comparison.csv`` of a ``digex compare`` whose reference is each pair's reference)."""
    effects = []
    for pair in dilemma.pairs:
        rows = table[(table["scenario"] == pair.scenario) & (table["reference"] == pair.reference)]
        if rows.empty:
            raise ValueError(f"the comparison table has no paired difference of {pair.name} ({dilemma.name})")
        for o in dilemma.outcomes:
            row = rows[(rows["metric"] == o.metric) & (rows["group_type"] == o.group_type) & (rows["group"] == o.group)]
            if row.empty:
                raise ValueError(f"the comparison table has no {o.metric} ({o.group_type} {o.group}) for {pair.name}")
            r = row.iloc[0]
            n = 0 if missing(r["n_pairs"]) or pd.isna(r["n_pairs"]) else int(r["n_pairs"])
            effects.append(Effect(pair, o, float(r["diff"]), float(r["diff_ci_low"]), float(r["diff_ci_high"]), n))
    return Reading(dilemma, tuple(effects))


def read_all(table: pd.DataFrame, dilemmas: Sequence[Dilemma] = DILEMMAS) -> list[Reading]:
    """The reading of every dilemma."""
    return [read(d, table) for d in dilemmas]


# ------------------------------------------------------------------ figure


def _axis_scale(unit: str, values: np.ndarray) -> tuple[float, str]:
    """Factor from a difference in ``unit`` to the axis, and the axis unit: pp for shares, millions for large
    amounts."""
    if unit == SHARE:
        return PERCENT, "pp"
    finite = values[np.isfinite(values)]
    if unit.startswith("DKK") or (finite.size and np.abs(finite).max() >= 1e6):
        big = finite.size and np.abs(finite).max() >= 1e6
        return (1e-6, f"million {unit}") if big else (1.0, unit)
    return 1.0, {"0-1": "0-1 scale", "1/year": "per citizen-year"}.get(unit, unit)


PANEL_HEIGHT = 0.42
"""Inches per outcome panel, plus PAIR_HEIGHT per pair in it."""

PAIR_HEIGHT = 0.2
"""Inches per pair (one interval) in an outcome panel."""


@styled
def dilemma_figure(reading: Reading) -> Figure:
    """The paired differences of a dilemma with their 95% intervals: one panel per outcome (its own scale),
    one interval per pair in the pair's colour, filled where the interval excludes zero."""
    d = reading.dilemma
    pairs = list(d.pairs)
    outcomes = d.outcomes
    fig, axes = new_figure(1.1 + len(outcomes) * (PANEL_HEIGHT + PAIR_HEIGHT * len(pairs)), nrows=len(outcomes))
    colours = dict(zip(pairs, PALETTE, strict=False))
    n_reps = max((e.n_pairs for e in reading.effects), default=0)
    for ax, o in zip(axes, outcomes, strict=True):
        effects = [e for e in reading.effects if e.outcome == o]
        values = np.array([v for e in effects for v in (e.diff, e.low, e.high)], dtype=float)
        factor, unit = _axis_scale(o.unit, values)
        ax.axvline(0, color=CONTEXT, lw=1, zorder=1)
        for y, e in enumerate(reversed(effects)):
            colour = colours[e.pair]
            if e.has_interval:
                ax.plot([e.low * factor, e.high * factor], [y, y], color=colour, lw=1.6, zorder=2)
            ax.plot(e.diff * factor, y, "o", ms=5, color=colour, mfc=colour if e.clear else "white", zorder=3)
        ax.set_yticks(range(len(effects)), [short_name(e.pair.name, 48) for e in reversed(effects)], fontsize=7)
        ax.set_ylim(-0.6, len(effects) - 0.4)
        ax.set_title(f"{o.label[0].upper()}{o.label[1:]} ({'lower' if o.better < 0 else 'higher'} is better)",
                     loc="left", fontsize=8)
        ax.set_xlabel(f"difference ({unit})", fontsize=7, labelpad=1)
        ax.spines["left"].set_visible(False)
        ax.tick_params(axis="y", length=0)
        if not np.isfinite(values).any() or np.nanmax(np.abs(values)) == 0:
            ax.set_xlim(-1, 1)
    spread = (f"line: 95% interval over {n_reps} paired replications; hollow: the interval includes zero"
              if n_reps >= 2 else "a single replication, so no interval (it needs 2 or more)")
    add_title(fig, f"{d.name}: what each side gains and loses",
              f"{d.question} Paired difference at the end of the run, scenario minus reference (same seeds); dot: "
              f"mean, {spread}. Intervals cover simulation noise, not parameter uncertainty.")
    return fig


# ------------------------------------------------------------------ page


@dataclass(frozen=True)
class Provenance:
    """What the page says about how it was made: the command, when, where, and the size of the runs."""

    command: str
    date: str
    machine: str
    reps: int
    size: int
    start: str
    end: str
    seed: int
    duration: str


def page(readings: Sequence[Reading], how: Provenance, descriptions: dict[str, str],
         figures: dict[str, str]) -> str:
    """The Markdown page of the five dilemmas: how it was made, then per dilemma its question, pairs, figure
    (``figures``: slug to relative path) and reading."""
    lines = [
        "# The five dilemmas, measured",
        "",
        f"Written by `{how.command}` on {how.date} ({how.machine}; the runs took {how.duration}).",
        "",
        f"Every scenario ran {how.reps} replication(s) of {how.size:,} simulated citizens from {how.start} to "
        f"{how.end} under common random numbers (replication r of every scenario uses seed {how.seed} + r, so "
        "it meets the same citizens, lives and needs). Each dilemma is weighed on scenario pairs: the "
        "difference is the scenario's end-of-run value minus its reference's on the same seed, averaged over "
        "the replications. The intervals are 95% intervals of these paired differences: they cover the noise "
        "of the simulation (which citizens, needs and events were drawn), not the uncertainty of the model's "
        "parameters or of its structure. An interval that includes zero is called so. Values are read at the "
        "end of the run (the last year, 52 or 53 weeks, for measures of a year; totals since the start for cumulative "
        "ones). Every sentence below is computed from these runs.",
        "",
    ]
    for i, r in enumerate(readings, start=1):
        d = r.dilemma
        lines += [f"## {i}. {d.name}", "", f"*{d.question}*", ""]
        lines += [f"- `{s}`: {descriptions.get(s, '').strip()}" for s in d.scenarios]
        lines += ["", f"![{d.name}: paired differences with 95% intervals]({figures[d.slug]})", "",
                  r.markdown(), ""]
    return "\n".join(lines)

