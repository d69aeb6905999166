"""Weekly metrics of docs/ODD.md section 7.15, overall and by group.

Citizen-level metrics are ratios of sums over *cells*: every citizen belongs
each week to one cell (age band x skill quintile x education x disability x
language barrier, 720 cells). One ``bincount`` per quantity gives cell sums;
a fixed 0/1 matrix turns cell sums into group sums. Event metrics (failed
procedures, missed letters, take-up, welfare loss, digital share) are summed
over the *last year*: the weeks since the same ISO week of the previous ISO
year (52 or 53 weeks, ``window_spans``), kept in a ring of 53 weekly slots.
Rates are per simulated citizen; totals in persons, minutes and DKK are
scaled to the real population by the weight. Run totals (cumulative and
discounted) sum every week from the run start.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.model.codes import (
    AUTOMATION,
    CENTRE,
    DISABILITY_NAMES,
    EDUCATION_NAMES,
    ENROLLED,
    EXEMPT,
    SELF_SERVICE,
)
from sim.model.costs import COST_CHANNELS
from sim.model.params import AGE_BANDS, LETTER_KINDS

if TYPE_CHECKING:
    from sim.model.model import DigexModel
    from sim.model.params import Config

WINDOW = 52
"""Weeks of a year-long window in most years (the first year of a run is its warm-up); see ``window_spans``."""

SLOTS = 53
"""Weekly slots of the ring behind 'last year' metrics: the longest window (after a 53-week ISO year)."""

YEAR_WEEKS = 365.2425 / 7
"""Mean weeks in a (Gregorian) year, 52.1775: flows summed over a window of ``span`` weeks are annualised by
YEAR_WEEKS / span, and run totals are discounted by (1 + rate) ** -(week / YEAR_WEEKS)."""

INACTIVE_WINDOW = 26
"""Weeks without reading Digital Post that make an enrolled citizen inactive."""

GROUPS: dict[str, tuple[str, ...]] = {
    "age_band": AGE_BANDS,
    "skill_quintile": ("Q1 lowest", "Q2", "Q3", "Q4", "Q5 highest"),
    "education": EDUCATION_NAMES,
    "disability": DISABILITY_NAMES,
    "language_barrier": ("no", "yes"),
}
"""Group types and their groups (docs/ODD.md section 7.15)."""

OVERALL = ("all", "all")
"""(group_type, group) of the overall rows."""

_SIZES = tuple(len(v) for v in GROUPS.values())
N_CELLS = int(np.prod(_SIZES))


@dataclass(frozen=True)
class Metric:
    """A reported metric: meaning, unit, and whether it is broken down by group."""

    description: str
    unit: str
    by_group: bool


_YEAR = "in the last year (since the same ISO week of the previous ISO year: 52 or 53 weeks)"

METRICS: dict[str, Metric] = {
    "exclusion_rate": Metric(f"Share of living citizens with an exclusion event {_YEAR}: a failed procedure (given "
                             "up or past its deadline) or a missed letter whose deadline had a consequence.",
                             "share", True),
    "failed_procedure_share": Metric(f"Share of living citizens with a failed procedure (given up or past its "
                                     f"deadline) {_YEAR}.", "share", True),
    "missed_letter_share": Metric(f"Share of living citizens who missed a letter whose deadline had a "
                                  f"consequence {_YEAR}.", "share", True),
    **{f"missed_{k}_letters_per_citizen": Metric(f"{k.capitalize()} letters with a consequential deadline "
                                                 "missed per citizen-year, last year.", "1/year", True)
       for k in LETTER_KINDS},
    "lost_benefit_share": Metric(f"Share of living citizens with a failed benefit or pension claim {_YEAR}.",
                                 "share", True),
    "welfare_loss_per_citizen_dkk": Metric("Value of failed procedures and consequential missed letters per "
                                           "citizen-year, last year.", "DKK", True),
    "failed_task_share": Metric("Failed procedures / procedures resolved (completed, also by automation, or "
                                "failed), last year.", "share", True),
    "non_take_up_rate": Metric("Share of benefit/pension claims given up or failed, last year.", "share", True),
    "digital_share": Metric("Share of procedures completed by the citizen (automation left out) that were done "
                            "by self-service alone, last year.", "share", True),
    "automation_share": Metric("Share of completed procedures resolved by proactive automation, last year.",
                               "share", True),
    "assisted_share": Metric(f"Among citizens who completed a procedure themselves {_YEAR}, the share who "
                             "needed human help (relative, proxy, phone, centre) for at least one.", "share", True),
    "dependent_share": Metric(f"Among citizens who completed a procedure themselves {_YEAR}, the share who "
                              "managed only with human help.", "share", True),
    "enrolled_share": Metric("Share enrolled in Digital Post.", "share", True),
    "exempt_share": Metric("Share exempt from Digital Post.", "share", True),
    "inactive_enrolled_share": Metric("Share of enrolled citizens who received Digital Post but read none "
                                      "of it in the last 26 weeks.", "share", True),
    "digitally_challenged_share": Metric("Share with skill below the challenged threshold.", "share", True),
    "trust_mean": Metric("Mean trust in public digital services.", "0-1", True),
    "alienated_share": Metric("Share with trust below the alienation threshold.", "share", True),
    "skill_mean": Metric("Mean digital skill.", "0-1", True),
    "population": Metric("Living citizens (real population).", "persons", True),
    "centre_queue_weeks": Metric("Mean weeks centre visitors waited before being served, last year.",
                                 "weeks", False),
    "centre_unserved_share": Metric("Share of weekly centre requests not served, last year.", "share", False),
    "phone_unserved_share": Metric("Share of weekly phone requests not served, last year.", "share", False),
    "helper_minutes_casework": Metric("Helper minutes on casework per year (real population).", "minutes/year",
                                      False),
    "helper_minutes_teaching": Metric("Helper minutes on help to self-help per year (real population).",
                                      "minutes/year", False),
    "helper_minutes_documentation": Metric("Helper minutes on documentation per year (real population).",
                                           "minutes/year", False),
    "helper_expertise": Metric("Mean casework expertise of helpers.", "0-1", False),
    "casework_errors_per_year": Metric("Procedures done wrongly in centre casework per year, which then fail "
                                       "(more with deskilled helpers; real population).", "cases/year", False),
    "grey_practice_cases_per_year": Metric("Help-to-self-help cases in which the helper logged in as the citizen and "
                                           "did the task per year, counted as self-service (real population).",
                                           "cases/year", False),
    "grey_practice_incidents_per_year": Metric("Data-protection incidents of grey practice per year (real "
                                               "population).", "incidents/year", False),
    "centre_letter_visits_per_year": Metric("Citizens served at a centre with their unread letters per year (real "
                                            "population).", "visits/year", False),
    "centre_eids_per_year": Metric("eIDs set up at a centre per year (real population).", "persons/year", False),
    "privacy_exposure": Metric("Records processed by proactive automation per year (real population).",
                               "records/year", False),
    "privacy_incidents": Metric("Expected privacy incidents per year from automation.", "incidents/year", False),
    "wrong_decisions_per_year": Metric("Automated decisions that were wrong or missed, so that the citizen must "
                                       "contest them, per year (real population).", "decisions/year", False),
    "wrong_decisions_per_citizen": Metric("Wrong or missed automated decisions the citizen must contest, per "
                                          "citizen-year, last year (who bears them).", "1/year", True),
    "failed_contests_per_citizen": Metric("Wrong automated decisions the citizen failed to contest by the deadline "
                                          "(the value is lost), per citizen-year, last year.", "1/year", True),
    "consent_refusals_per_year": Metric("Procedures not automated because the citizen refused data sharing, per "
                                        "year (real population).", "procedures/year", False),
    "privacy_exposed_per_year": Metric("Citizens whose data a privacy incident exposed, per year (real "
                                       "population).", "persons/year", False),
    "cost_total_dkk": Metric("Public cost per year (real population).", "DKK/year", False),
    "cost_it_cumulative_dkk": Metric("Public cost of IT (build and running of the platforms and the back office, "
                                     "incl. a back-office failure's extra staff) since the run start (real "
                                     "population); part of cost_cumulative_dkk.", "DKK", False),
    "cost_backoffice_failure_dkk": Metric("Extra staff cost of back-office failures per year (real population; "
                                          "booked in cost_it_running_dkk).", "DKK/year", False),
    "backoffice_down_share": Metric("Share of the weeks in the last year in which the back office was down.",
                                    "share", False),
    "backoffice_held_per_year": Metric("Procedure-weeks held in a failed back office per year (a case held "
                                       "three weeks counts three; real population).", "cases/year", False),
    "cost_per_citizen_year_dkk": Metric("Public cost per citizen-year.", "DKK", False),
    "cost_per_completed_task_dkk": Metric("Public cost per completed task (procedures and letters read).",
                                          "DKK", False),
    **{f"cost_{c}_dkk": Metric(f"Public cost of {c.replace('_', ' ')} per year (real population).",
                               "DKK/year", False) for c in COST_CHANNELS},
    "citizen_time_cost_dkk": Metric("Value of citizens' own time per year (not public; real population).",
                                    "DKK/year", False),
    "savings_vs_analogue_dkk": Metric("Public cost per year of the all-analogue reference minus this "
                                      "scenario's (real population); filled by the runner.", "DKK/year", False),
    "cost_cumulative_dkk": Metric("Public cost since the run start (real population).", "DKK", False),
    "cost_discounted_dkk": Metric("Public cost since the run start, discounted to the run start at "
                                  "costs.discount_rate_per_year (real population).", "DKK", False),
    "welfare_loss_cumulative_dkk": Metric("Value of failed procedures and consequential missed letters since the "
                                          "run start (real population).", "DKK", False),
    "welfare_loss_discounted_dkk": Metric("Welfare loss since the run start, discounted to the run start "
                                          "(real population).", "DKK", False),
    "citizen_time_cumulative_dkk": Metric("Value of citizens' own time since the run start (real population).",
                                          "DKK", False),
    "citizen_time_discounted_dkk": Metric("Value of citizens' own time since the run start, discounted to the "
                                          "run start (real population).", "DKK", False),
    "savings_cumulative_dkk": Metric("Public cost of the all-analogue reference minus this scenario's since the "
                                     "run start (real population); filled by the runner.", "DKK", False),
    "savings_discounted_dkk": Metric("savings_cumulative_dkk discounted to the run start; filled by the runner.",
                                     "DKK", False),
    "exemptions_per_year": Metric("New exemptions per year (real population).", "persons/year", False),
    "tasks_arrived": Metric("Procedures and letters arrived since the start (simulated).", "tasks", False),
    "tasks_completed": Metric("Procedures and letters completed since the start (simulated).", "tasks", False),
    "tasks_failed": Metric("Procedures failed and letters missed (with or without consequence) since the start "
                           "(simulated).", "tasks", False),
    "tasks_open": Metric("Procedures and letters open now (simulated).", "tasks", False),
    "tasks_withdrawn": Metric("Open tasks of citizens who died or emigrated (simulated).", "tasks", False),
}
"""Every metric the model reports; names are the output contract."""

GROUP_METRICS = tuple(k for k, v in METRICS.items() if v.by_group)
OVERALL_METRICS = tuple(k for k, v in METRICS.items() if not v.by_group)

EXCLUSION_COMPONENTS = ("failed_procedure_share", "missed_letter_share", "lost_benefit_share")
"""Citizen shares that make up exclusion_rate: each is at most it, and it is at most the first two together."""

RUN_TOTALS = ("cost", "welfare_loss", "citizen_time")
"""Flows summed from the run start into ``<name>_cumulative_dkk`` and ``<name>_discounted_dkk``."""

# Weekly event counts: per cell during the week (``Metrics.week_events``), then per group in the ring.
EVENTS = ("procedures_failed", "failed_value", "benefit_resolved", "benefit_failed", "procedures_completed",
          "self_service_completed", "automated_completed", *[f"missed_{k}" for k in LETTER_KINDS],
          "wrong_decisions", "failed_contests")
# Weekly overall flows kept in the ring.
FLOWS = ("centre_demand", "centre_unserved", "centre_served", "centre_wait", "phone_demand",
         "phone_unserved", "minutes_casework", "minutes_teaching", "minutes_documentation",
         "automation_records", "exemptions", "completed", "citizen_time", "failed_value",
         *[f"cost_{c}" for c in COST_CHANNELS],
         "backoffice_held", "backoffice_down", "backoffice_cost",
         "casework_errors", "grey_cases", "grey_incidents", "letter_visits", "eids_set_up",
         "wrong_decisions", "consent_refusals", "privacy_exposed")
EVENT_INDEX = {name: i for i, name in enumerate(EVENTS)}
FLOW_INDEX = {name: i for i, name in enumerate(FLOWS)}
_COST_FLOWS = [FLOW_INDEX[f"cost_{c}"] for c in COST_CHANNELS]


def iso_weeks_in_year(year: int) -> int:
    """Weeks in an ISO year: 53 or 52 (28 December always lies in the year's last ISO week)."""
    return dt.date(year, 12, 28).isocalendar().week


def window_spans(start: dt.date, weeks: int) -> np.ndarray:
    """Weeks in the 'last year' window of each simulated week (docs/ODD.md section 7.15).

    The window of a week in ISO week k of ISO year Y runs back to (and
    without) ISO week k of year Y - 1, or that year's last week if it has no
    week k (k = 53): it holds 52 or 53 weeks, and every ISO week number from
    1 to 52 exactly once, so that a seasonal need (tax in ISO weeks 11-14)
    falls in it exactly once in every year. In the run's first year it holds
    the weeks elapsed.
    """
    spans = np.empty(weeks, dtype=np.int64)
    for w in range(weeks):
        year, week, _ = (start + dt.timedelta(weeks=w)).isocalendar()
        before = iso_weeks_in_year(year - 1)
        spans[w] = min(w + 1, before - min(week, before) + week)
    return spans


def group_matrix() -> tuple[np.ndarray, list[tuple[str, str]]]:
    """0/1 matrix (groups incl. overall x cells) and the (group_type, group) label of each row."""
    codes = np.indices(_SIZES).reshape(len(_SIZES), -1)
    rows, labels = [np.ones(N_CELLS)], [OVERALL]
    for d, (gtype, names) in enumerate(GROUPS.items()):
        for g, name in enumerate(names):
            rows.append((codes[d] == g).astype(float))
            labels.append((gtype, name))
    return np.array(rows), labels


class Metrics:
    """Collects weekly metric values for one model run."""

    def __init__(self, config: Config, groups: bool = True) -> None:
        weeks = config.run.weeks
        self.with_groups = groups
        self.weight = config.population.weight
        self.matrix, self.labels = group_matrix()
        self.spans = window_spans(config.run.start, weeks)
        self.discount = (1 + config.costs.discount_rate_per_year) ** -(np.arange(weeks) / YEAR_WEEKS)
        self.week_events = np.zeros((len(EVENTS), N_CELLS))
        self.events = np.zeros((SLOTS, len(self.labels), len(EVENTS)))
        self.flows = np.zeros((SLOTS, len(FLOWS)))
        self.overall = np.full((weeks, len(OVERALL_METRICS)), np.nan)
        self.groups = np.full((weeks, len(GROUP_METRICS), len(self.labels)), np.nan)
        self.cells = np.zeros(0, dtype=np.intp)
        self.static = np.zeros(0, dtype=np.int16)
        self.slot = 0
        self.counts = {"arrived": 0, "completed": 0, "failed": 0, "withdrawn": 0}
        self.totals = dict.fromkeys((f"{t}_{kind}_dkk" for t in RUN_TOTALS for kind in ("cumulative", "discounted")),
                                    0.0)
        self.it_cumulative = 0.0

    # ------------------------------------------------------------ bookkeeping

    def start_week(self, m: DigexModel) -> None:
        """Compute each citizen's cell for this week and clear this week's events and slot of the ring."""
        self.slot = m.week % SLOTS
        self.week_events[:] = 0.0
        self.events[self.slot] = 0.0
        self.flows[self.slot] = 0.0
        if self.with_groups:
            self.static = static_codes(m, self.static)
            self.cells = cell_codes(m, self.static)

    def _event(self, name: str, owners: np.ndarray, weights: np.ndarray | None = None) -> None:
        if len(owners) and self.with_groups:
            self.week_events[EVENT_INDEX[name]] += np.bincount(self.cells[owners], weights, N_CELLS)[:N_CELLS]

    def _flow(self, name: str, amount: float) -> None:
        self.flows[self.slot, FLOW_INDEX[name]] += amount

    def add_arrived(self, n: int) -> None:
        """Tasks (procedures or letters) arrived."""
        self.counts["arrived"] += n

    def add_letters_arrived(self, owners: np.ndarray) -> None:
        """Letters arrived."""
        self.add_arrived(len(owners))

    def add_completed(self, owners: np.ndarray, channel: int, is_benefit: np.ndarray) -> None:
        """Procedures completed through ``channel`` (AUTOMATION for proactive automation)."""
        self.counts["completed"] += len(owners)
        self._flow("completed", len(owners))
        self._event("procedures_completed", owners)
        self._event("benefit_resolved", owners[is_benefit])
        if channel == SELF_SERVICE:
            self._event("self_service_completed", owners)
        elif channel == AUTOMATION:
            self._event("automated_completed", owners)

    def add_letters_read(self, owners: np.ndarray, counts: np.ndarray) -> None:
        """Letters read (completed tasks)."""
        total = int(counts.sum())
        self.counts["completed"] += total
        self._flow("completed", total)

    def add_failed(self, owners: np.ndarray, values: np.ndarray, is_benefit: np.ndarray) -> None:
        """Failed procedures, one per entry of ``owners`` (exclusion events), of the given values."""
        self.counts["failed"] += len(owners)
        v = values.astype(float)
        self._flow("failed_value", float(v.sum()))
        self._event("procedures_failed", owners)
        self._event("failed_value", owners, v)
        self._event("benefit_resolved", owners[is_benefit])
        self._event("benefit_failed", owners[is_benefit])

    def add_letters_missed(self, owners: np.ndarray, kind: int, counts: np.ndarray, consequential: np.ndarray,
                           value: float) -> None:
        """``counts`` letters of kind ``kind`` missed per owner, ``consequential`` of them with a consequence.

        Every missed letter is a failed task in the accounting; only the
        consequential ones are exclusion events and lose ``value`` each.
        """
        self.counts["failed"] += int(counts.sum())
        c = consequential.astype(float)
        self._flow("failed_value", float(c.sum()) * value)
        self._event(f"missed_{LETTER_KINDS[kind]}", owners, c)
        self._event("failed_value", owners, c * value)

    def add_withdrawn(self, n: int) -> None:
        """Open tasks of citizens who died or emigrated."""
        self.counts["withdrawn"] += n

    def add_queue(self, channel: int, demand: int, served_waits: np.ndarray) -> None:
        """Requests at the phone or a centre this week and the waits of those served."""
        name = "centre" if channel == CENTRE else "phone"
        self._flow(f"{name}_demand", demand)
        self._flow(f"{name}_unserved", demand - len(served_waits))
        if name == "centre":
            self._flow("centre_served", len(served_waits))
            self._flow("centre_wait", float(served_waits.sum()))

    def add_helper_minutes(self, casework: float, teaching: float, documentation: float) -> None:
        """Helper minutes by use this week."""
        self._flow("minutes_casework", casework)
        self._flow("minutes_teaching", teaching)
        self._flow("minutes_documentation", documentation)

    def add_centre_outcomes(self, errors: int, grey: int, incidents: int, letter_visits: int, eids: int) -> None:
        """Centre casework errors, grey-practice cases and their incidents, letter visits and eIDs set up."""
        for name, n in (("casework_errors", errors), ("grey_cases", grey), ("grey_incidents", incidents),
                        ("letter_visits", letter_visits), ("eids_set_up", eids)):
            self._flow(name, n)

    def add_automation(self, records: int) -> None:
        """Records processed by proactive automation."""
        self._flow("automation_records", records)

    def add_wrong_decisions(self, owners: np.ndarray) -> None:
        """Wrong or missed automated decisions, one per entry of ``owners`` (who must contest them)."""
        self._flow("wrong_decisions", len(owners))
        self._event("wrong_decisions", owners)

    def add_failed_contests(self, owners: np.ndarray) -> None:
        """Contests of wrong automated decisions that failed (given up or past their deadline)."""
        self._event("failed_contests", owners)

    def add_consent_refusals(self, n: int) -> None:
        """Procedures not automated because their owner refused data sharing."""
        self._flow("consent_refusals", n)

    def add_exposed(self, n: int) -> None:
        """Citizens whose data a privacy incident exposed."""
        self._flow("privacy_exposed", n)

    def add_exemptions(self, n: int) -> None:
        """New exemptions."""
        self._flow("exemptions", n)

    def add_backoffice(self, held: int, down: bool, staff_dkk: float) -> None:
        """Procedures held in a failed back office this week, whether it was down, and its extra staff cost."""
        self._flow("backoffice_held", held)
        self._flow("backoffice_down", float(down))
        self._flow("backoffice_cost", staff_dkk)

    def add_costs(self, by_channel: np.ndarray, citizen_time: float) -> None:
        """This week's public cost by channel and the citizens' time cost."""
        for c, v in zip(COST_CHANNELS, by_channel, strict=True):
            self._flow(f"cost_{c}", float(v))
        self._flow("citizen_time", citizen_time)

    # ------------------------------------------------------------ weekly record

    def window(self, week: int) -> tuple[int, float]:
        """The weeks in week ``week``'s last-year window and the factor that annualises flows summed over it."""
        span = int(self.spans[week])
        return span, YEAR_WEEKS / span

    def _window_sum(self, ring: np.ndarray, week: int, span: int) -> np.ndarray:
        """Sum of the ring's slots of weeks week - span + 1 to week (the slot of week - 53 is already cleared)."""
        total = ring.sum(axis=0)
        if span < SLOTS:
            total -= ring[(week - span) % SLOTS]  # 52 weeks: leave out the oldest slot (week - 52)
        return total

    def record(self, m: DigexModel) -> None:
        """Compute and store every metric for this week."""
        w = m.week
        span, per_year = self.window(w)
        self._add_run_totals(w)
        if self.with_groups:
            self.groups[w] = self._group_values(m, span, per_year)
        self.overall[w] = self._overall_values(m, span, per_year)

    def _add_run_totals(self, week: int) -> None:
        """Add this week's cost, welfare loss and citizen time (real population) to the run totals."""
        f = self.flows[self.slot]
        weekly = {
            "cost": sum(f[i] for i in _COST_FLOWS),
            "welfare_loss": f[FLOW_INDEX["failed_value"]],
            "citizen_time": f[FLOW_INDEX["citizen_time"]],
        }
        for name, amount in weekly.items():
            real = float(amount) * self.weight
            self.totals[f"{name}_cumulative_dkk"] += real
            self.totals[f"{name}_discounted_dkk"] += real * float(self.discount[week])
        self.it_cumulative += float(f[FLOW_INDEX["cost_it_build"]] + f[FLOW_INDEX["cost_it_running"]]) * self.weight

    def _group_values(self, m: DigexModel, span: int, per_year: float) -> np.ndarray:
        p, c, b = m.pop, m.config.population, m.config.behaviour
        n = p.n
        cells = self.cells
        wk = m.week
        since = wk - span  # "in the last year": a week after this one
        dp = p.dp_status[:n]
        enrolled = dp == ENROLLED
        recent_un = p.last_unassisted_week[:n] > since
        recent_as = p.last_assisted_week[:n] > since
        skill, trust = p.skill[:n], p.trust[:n]
        flags = (
            p.last_fail_week[:n] > since,
            p.last_procedure_fail_week[:n] > since,
            p.last_letter_miss_week[:n] > since,
            p.last_benefit_fail_week[:n] > since,
            recent_un | recent_as,
            recent_as,
            recent_as & ~recent_un,
            enrolled,
            dp == EXEMPT,
            enrolled & (p.last_letter_week[:n] > wk - INACTIVE_WINDOW)
            & (p.last_read_week[:n] <= wk - INACTIVE_WINDOW),
            skill < c.challenged_threshold,
            trust < b.alienated_threshold,
        )
        per_flag, count = flag_counts(cells, flags)
        (excluded, failed_proc, missed_letter, lost_benefit, completed_recent, assisted, dependent, enrolled_n,
         exempt_n, inactive, challenged, alienated) = (self.matrix @ per_flag).T
        count = self.matrix @ count

        def g(weights: np.ndarray | None) -> np.ndarray:
            return self.matrix @ np.bincount(cells, weights, N_CELLS + 1)[:N_CELLS]

        self.events[self.slot] = self.matrix @ self.week_events.T  # this week's events by group
        ev = self._window_sum(self.events, wk, span)  # groups x events

        def evt(name: str) -> np.ndarray:
            return ev[:, EVENT_INDEX[name]]

        done, auto = evt("procedures_completed"), evt("automated_completed")
        ratios = {  # metric: (numerator, denominator); all divided at once below
            "exclusion_rate": (excluded, count),
            "failed_procedure_share": (failed_proc, count),
            "missed_letter_share": (missed_letter, count),
            **{f"missed_{k}_letters_per_citizen": (evt(f"missed_{k}") * per_year, count) for k in LETTER_KINDS},
            "lost_benefit_share": (lost_benefit, count),
            "welfare_loss_per_citizen_dkk": (evt("failed_value") * per_year, count),
            "failed_task_share": (evt("procedures_failed"), evt("procedures_failed") + done),
            "non_take_up_rate": (evt("benefit_failed"), evt("benefit_resolved")),
            "digital_share": (evt("self_service_completed"), done - auto),
            "automation_share": (auto, done),
            "wrong_decisions_per_citizen": (evt("wrong_decisions") * per_year, count),
            "failed_contests_per_citizen": (evt("failed_contests") * per_year, count),
            "assisted_share": (assisted, completed_recent),
            "dependent_share": (dependent, completed_recent),
            "enrolled_share": (enrolled_n, count),
            "exempt_share": (exempt_n, count),
            "inactive_enrolled_share": (inactive, enrolled_n),
            "digitally_challenged_share": (challenged, count),
            "trust_mean": (g(trust.astype(float)), count),
            "alienated_share": (alienated, count),
            "skill_mean": (g(skill.astype(float)), count),
            "population": (count * self.weight, np.ones_like(count)),
        }
        num = np.array([ratios[k][0] for k in GROUP_METRICS])
        den = np.array([ratios[k][1] for k in GROUP_METRICS])
        return np.divide(num, den, out=np.full_like(num, np.nan), where=den > 0)  # NaN for an empty denominator

    def _overall_values(self, m: DigexModel, span: int, per_year: float) -> np.ndarray:
        f = dict(zip(FLOWS, self._window_sum(self.flows, m.week, span), strict=True))
        wt = self.weight

        def ratio(a: float, b: float) -> float:
            return a / b if b > 0 else float("nan")

        cost_total = sum(f[f"cost_{c}"] for c in COST_CHANNELS)
        records = f["automation_records"] * wt * per_year
        values = {
            "centre_queue_weeks": ratio(f["centre_wait"], f["centre_served"]),
            "centre_unserved_share": ratio(f["centre_unserved"], f["centre_demand"]),
            "phone_unserved_share": ratio(f["phone_unserved"], f["phone_demand"]),
            "helper_minutes_casework": f["minutes_casework"] * wt * per_year,
            "helper_minutes_teaching": f["minutes_teaching"] * wt * per_year,
            "helper_minutes_documentation": f["minutes_documentation"] * wt * per_year,
            "helper_expertise": float(m.helpers.expertise.mean()),
            "casework_errors_per_year": f["casework_errors"] * wt * per_year,
            "grey_practice_cases_per_year": f["grey_cases"] * wt * per_year,
            "grey_practice_incidents_per_year": f["grey_incidents"] * wt * per_year,
            "centre_letter_visits_per_year": f["letter_visits"] * wt * per_year,
            "centre_eids_per_year": f["eids_set_up"] * wt * per_year,
            "privacy_exposure": records,
            "privacy_incidents": records * m.policy.privacy_incident_rate,
            "wrong_decisions_per_year": f["wrong_decisions"] * wt * per_year,
            "consent_refusals_per_year": f["consent_refusals"] * wt * per_year,
            "privacy_exposed_per_year": f["privacy_exposed"] * wt * per_year,
            "cost_total_dkk": cost_total * wt * per_year,
            "cost_it_cumulative_dkk": self.it_cumulative,
            "cost_backoffice_failure_dkk": f["backoffice_cost"] * wt * per_year,
            "backoffice_down_share": f["backoffice_down"] / span,
            "backoffice_held_per_year": f["backoffice_held"] * wt * per_year,
            "cost_per_citizen_year_dkk": ratio(cost_total * per_year, m.n_alive),
            "cost_per_completed_task_dkk": ratio(cost_total, f["completed"]),
            **{f"cost_{c}_dkk": f[f"cost_{c}"] * wt * per_year for c in COST_CHANNELS},
            "citizen_time_cost_dkk": f["citizen_time"] * wt * per_year,
            "savings_vs_analogue_dkk": float("nan"),
            **self.totals,
            "savings_cumulative_dkk": float("nan"),
            "savings_discounted_dkk": float("nan"),
            "exemptions_per_year": f["exemptions"] * wt * per_year,
            "tasks_arrived": self.counts["arrived"],
            "tasks_completed": self.counts["completed"],
            "tasks_failed": self.counts["failed"],
            "tasks_open": m.open_task_count(),
            "tasks_withdrawn": self.counts["withdrawn"],
        }
        return np.array([values[k] for k in OVERALL_METRICS], dtype=float)


FLAG_BITS = 4
"""Flags counted together in one ``bincount`` pass of ``counts_by_combination`` (its cells x 16 table is in cache)."""

_BIT_TABLE = ((np.arange(1 << FLAG_BITS)[:, None] >> np.arange(FLAG_BITS)) & 1).astype(float)
"""Row c, column i: whether flag i is set in the combination c of FLAG_BITS flags."""


FLAG_ROWS_BY_FLAG = 5_000
"""Below this many rows ``flag_counts`` counts flag by flag (its fixed cost is lower); above, by combinations."""


def flag_counts(cells: np.ndarray, flags: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per cell, the citizens with each flag set (cells x flags) and the citizens (cells).

    Counts are whole numbers, exact in float64 whichever way they are summed: below
    FLAG_ROWS_BY_FLAG rows by one weighted ``bincount`` per flag (``counts_by_flag``), above by
    ``counts_by_combination``, whose passes over the rows are fewer but whose tables are larger.
    """
    if len(cells) < FLAG_ROWS_BY_FLAG:
        return counts_by_flag(cells, flags)
    return counts_by_combination(cells, flags)


def counts_by_flag(cells: np.ndarray, flags: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``flag_counts`` by one ``bincount`` per flag, weighted by it (the extra cell N_CELLS of the dead dropped)."""
    per_flag = np.empty((N_CELLS, len(flags)))
    for i, flag in enumerate(flags):
        per_flag[:, i] = np.bincount(cells, flag, N_CELLS + 1)[:N_CELLS]
    return per_flag, np.bincount(cells, minlength=N_CELLS + 1)[:N_CELLS].astype(float)


def counts_by_combination(cells: np.ndarray, flags: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``flag_counts`` by every combination of FLAG_BITS flags at a time.

    One bincount over ``cells`` per FLAG_BITS flags (the extra cell N_CELLS of the dead is dropped),
    then the combination counts are turned into one count per flag with a small product.
    """
    per_flag = np.empty((N_CELLS, len(flags)))
    count = np.zeros(N_CELLS)
    for first in range(0, len(flags), FLAG_BITS):
        group = flags[first:first + FLAG_BITS]
        k = len(group)
        bits = group[0].view(np.uint8).copy()
        for i in range(1, k):
            bits += group[i].view(np.uint8) * np.uint8(1 << i)
        j = np.bincount((cells << k) | bits, minlength=(N_CELLS + 1) << k)[: N_CELLS << k].reshape(N_CELLS, 1 << k)
        j = j.astype(float)  # counts are exact in float64; a float product is a BLAS call, an integer one is not
        per_flag[:, first:first + k] = j @ _BIT_TABLE[: 1 << k, :k]
        if first == 0:
            count = j.sum(axis=1)
    return per_flag, count


QUANTILE_SAMPLE = 20_000
"""At most this many rows (every k-th row) estimate the week's skill-quintile edges."""


def skill_quintile_edges(m: DigexModel) -> np.ndarray:
    """The 20/40/60/80% quantiles of living citizens' skill this week.

    Above ``QUANTILE_SAMPLE`` rows they are estimated from every k-th row
    (the living among them): rows are in random order, so this is a
    systematic sample of about 20,000 citizens, which puts an edge within
    about 0.3 percentage points of the exact quantile (standard error)
    at a cost that does not grow with the population.
    """
    p = m.pop
    n = p.n
    k = max(1, n // QUANTILE_SAMPLE)
    sample = p.skill[:n:k][p.alive[:n:k]]
    return linear_quantiles(sample, QUINTILE_EDGES) if len(sample) else np.zeros(4)


QUINTILE_EDGES = np.array([0.2, 0.4, 0.6, 0.8])
"""Probabilities of the skill-quintile edges."""


def linear_quantiles(values: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``np.quantile(values, q)`` (its default 'linear' method) for a non-empty 1-d array without NaN, bit for bit.

    The same order statistics, from ``np.sort`` (a vectorised sort: six times faster than the
    partition at several positions that ``np.quantile`` does, at 20,000 values), and the same
    interpolation arithmetic as NumPy's ``_lerp`` (a + (b - a) t, or b - (b - a)(1 - t) where t >= 0.5).
    """
    n = len(values)
    virtual = (n - 1) * q
    below = np.floor(virtual).astype(np.intp)
    above = np.minimum(below + 1, n - 1)
    ordered = np.sort(values)
    a, b = ordered[below], ordered[above]
    t = virtual - below
    diff = b - a
    out = np.add(a, diff * t)
    np.subtract(b, diff * (1 - t), out=out, where=t >= 0.5, casting="unsafe")
    return out


def static_codes(m: DigexModel, old: np.ndarray) -> np.ndarray:
    """The part of each row's cell that never changes: education x disability (times 2, for the language bit).

    These attributes are drawn at entry and rows are never reused, so only
    rows added since ``old`` was computed are coded. The language barrier is
    not static (immigrants' barriers fade, docs/ODD.md section 7.3): ``cell_codes``
    adds it every week.
    """
    p = m.pop
    n, k = p.n, len(old)
    if k == n:
        return old
    new = (p.education[k:n] * 3 + p.disability[k:n]) * 2
    return np.concatenate([old, new.astype(np.int16)])


def cell_codes(m: DigexModel, static: np.ndarray) -> np.ndarray:
    """Cell of every row this week: age band, skill quintile, education, disability, language.

    ``static`` holds each row's education x disability code (``static_codes``);
    the language barrier of this week is added. Dead rows get the extra cell ``N_CELLS``.
    """
    p = m.pop
    n = p.n
    skill = p.skill[:n]
    edges = skill_quintile_edges(m).astype(np.float32)
    quintile = (skill >= edges[0]).view(np.uint8).copy()
    for e in edges[1:]:
        quintile += (skill >= e).view(np.uint8)
    n_static = 3 * 3 * 2
    code = m.band.astype(np.int16) * np.int16(5 * n_static)
    code += quintile * np.int16(n_static)
    code += static
    code += p.language_barrier[:n]
    # intp: what bincount counts with, so it need not convert on every call; one pass instead of a masked store
    return np.where(p.alive[:n], code, np.intp(N_CELLS))
