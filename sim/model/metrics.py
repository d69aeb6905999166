"""Weekly metrics of docs/ODD.md section 7.15, overall and by group.

Citizen-level metrics are ratios of sums over *cells*: every citizen belongs
each week to one cell (age band x skill quintile x education x disability x
language barrier, 720 cells). One ``bincount`` per quantity gives cell sums;
a fixed 0/1 matrix turns cell sums into group sums. Event metrics (failed
tasks, take-up, welfare loss, digital share) are summed over a rolling
52-week window of weekly cell sums. Rates are per simulated citizen; totals in
persons, minutes and DKK are scaled to the real population by the weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.model.codes import CENTRE, DISABILITY_NAMES, EDUCATION_NAMES, ENROLLED, EXEMPT, SELF_SERVICE
from sim.model.costs import COST_CHANNELS
from sim.model.params import AGE_BANDS

if TYPE_CHECKING:
    from sim.model.model import DigexModel

WINDOW = 52
"""Weeks in the rolling window of 'last 52 weeks' metrics."""

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


METRICS: dict[str, Metric] = {
    "exclusion_rate": Metric("Share of citizens with at least one failed task in the last 52 weeks.", "share", True),
    "failed_task_share": Metric("Failed tasks / tasks resolved (completed or failed), last 52 weeks.", "share", True),
    "non_take_up_rate": Metric("Share of benefit/pension claims given up or failed, last 52 weeks.", "share", True),
    "welfare_loss_per_citizen_dkk": Metric("Value of failed tasks per citizen-year, last 52 weeks.", "DKK", True),
    "digital_share": Metric("Share of completed procedures done by self-service alone, last 52 weeks.",
                            "share", True),
    "assisted_share": Metric("Share of citizens with completed tasks in the last 52 weeks whose completed "
                             "tasks all needed help (relative, phone, centre).", "share", True),
    "enrolled_share": Metric("Share enrolled in Digital Post.", "share", True),
    "exempt_share": Metric("Share exempt from Digital Post.", "share", True),
    "inactive_enrolled_share": Metric("Share of enrolled citizens who received Digital Post but read none "
                                      "of it in the last 26 weeks.", "share", True),
    "digitally_challenged_share": Metric("Share with skill below the challenged threshold.", "share", True),
    "trust_mean": Metric("Mean trust in public digital services.", "0-1", True),
    "alienated_share": Metric("Share with trust below the alienation threshold.", "share", True),
    "skill_mean": Metric("Mean digital skill.", "0-1", True),
    "population": Metric("Living citizens (real population).", "persons", True),
    "centre_queue_weeks": Metric("Mean weeks centre visitors waited before being served, last 52 weeks.",
                                 "weeks", False),
    "centre_unserved_share": Metric("Share of weekly centre requests not served, last 52 weeks.", "share", False),
    "phone_unserved_share": Metric("Share of weekly phone requests not served, last 52 weeks.", "share", False),
    "helper_minutes_casework": Metric("Helper minutes on casework per year (real population).", "minutes/year",
                                      False),
    "helper_minutes_teaching": Metric("Helper minutes on help to self-help per year (real population).",
                                      "minutes/year", False),
    "helper_minutes_documentation": Metric("Helper minutes on documentation per year (real population).",
                                           "minutes/year", False),
    "helper_expertise": Metric("Mean casework expertise of helpers.", "0-1", False),
    "privacy_exposure": Metric("Records processed by proactive automation per year (real population).",
                               "records/year", False),
    "privacy_incidents": Metric("Expected privacy incidents per year from automation.", "incidents/year", False),
    "cost_total_dkk": Metric("Public cost per year (real population).", "DKK/year", False),
    "cost_per_citizen_year_dkk": Metric("Public cost per citizen-year.", "DKK", False),
    "cost_per_completed_task_dkk": Metric("Public cost per completed task (procedures and letters read).",
                                          "DKK", False),
    **{f"cost_{c}_dkk": Metric(f"Public cost of {c.replace('_', ' ')} per year (real population).",
                               "DKK/year", False) for c in COST_CHANNELS},
    "citizen_time_cost_dkk": Metric("Value of citizens' own time per year (not public; real population).",
                                    "DKK/year", False),
    "savings_vs_analogue_dkk": Metric("Public cost per year of the all-analogue reference minus this "
                                      "scenario's (real population); filled by the runner.", "DKK/year", False),
    "exemptions_per_year": Metric("New exemptions per year (real population).", "persons/year", False),
    "tasks_arrived": Metric("Procedures and letters arrived since the start (simulated).", "tasks", False),
    "tasks_completed": Metric("Procedures and letters completed since the start (simulated).", "tasks", False),
    "tasks_failed": Metric("Procedures and letters failed since the start (simulated).", "tasks", False),
    "tasks_open": Metric("Procedures and letters open now (simulated).", "tasks", False),
    "tasks_withdrawn": Metric("Open tasks of citizens who died (simulated).", "tasks", False),
}
"""Every metric the model reports; names are the output contract."""

GROUP_METRICS = tuple(k for k, v in METRICS.items() if v.by_group)
OVERALL_METRICS = tuple(k for k, v in METRICS.items() if not v.by_group)

# Weekly event counts kept per cell in a rolling window.
EVENTS = ("resolved", "failed", "failed_value", "benefit_resolved", "benefit_failed",
          "procedures_completed", "self_service_completed")
# Weekly overall flows kept in a rolling window.
FLOWS = ("centre_demand", "centre_unserved", "centre_served", "centre_wait", "phone_demand",
         "phone_unserved", "minutes_casework", "minutes_teaching", "minutes_documentation",
         "automation_records", "exemptions", "completed", "citizen_time", *[f"cost_{c}" for c in COST_CHANNELS])


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

    def __init__(self, weeks: int, weight: float, groups: bool = True) -> None:
        self.with_groups = groups
        self.weight = weight
        self.matrix, self.labels = group_matrix()
        self.events = np.zeros((WINDOW, len(EVENTS), N_CELLS))
        self.flows = np.zeros((WINDOW, len(FLOWS)))
        self.overall = np.full((weeks, len(OVERALL_METRICS)), np.nan)
        self.groups = np.full((weeks, len(GROUP_METRICS), len(self.labels)), np.nan)
        self.cells = np.zeros(0, dtype=np.intp)
        self.static = np.zeros(0, dtype=np.int16)
        self.slot = 0
        self.weeks_seen = 0
        self.counts = {"arrived": 0, "completed": 0, "failed": 0, "withdrawn": 0}

    # ------------------------------------------------------------ bookkeeping

    def start_week(self, m: DigexModel) -> None:
        """Compute each citizen's cell for this week and clear this week's window slot."""
        self.slot = m.week % WINDOW
        self.events[self.slot] = 0.0
        self.flows[self.slot] = 0.0
        if self.with_groups:
            self.static = static_codes(m, self.static)
            self.cells = cell_codes(m, self.static)

    def _event(self, name: str, owners: np.ndarray, weights: np.ndarray | None = None) -> None:
        if len(owners) and self.with_groups:
            self.events[self.slot, EVENTS.index(name)] += np.bincount(self.cells[owners], weights, N_CELLS)[:N_CELLS]

    def _flow(self, name: str, amount: float) -> None:
        self.flows[self.slot, FLOWS.index(name)] += amount

    def add_arrived(self, n: int) -> None:
        """Tasks (procedures or letters) arrived."""
        self.counts["arrived"] += n

    def add_letters_arrived(self, owners: np.ndarray) -> None:
        """Letters arrived."""
        self.add_arrived(len(owners))

    def add_completed(self, owners: np.ndarray, channel: int, is_benefit: np.ndarray) -> None:
        """Procedures completed through ``channel``."""
        self.counts["completed"] += len(owners)
        self._flow("completed", len(owners))
        self._event("resolved", owners)
        self._event("procedures_completed", owners)
        self._event("benefit_resolved", owners[is_benefit])
        if channel == SELF_SERVICE:
            self._event("self_service_completed", owners)

    def add_letters_read(self, owners: np.ndarray, counts: np.ndarray) -> None:
        """Letters read (completed tasks)."""
        total = int(counts.sum())
        self.counts["completed"] += total
        self._flow("completed", total)
        self._event("resolved", owners, counts.astype(float))

    def add_failed(self, owners: np.ndarray, counts: np.ndarray, values: np.ndarray, is_benefit: np.ndarray) -> None:
        """Failed tasks (exclusion events): ``counts`` tasks of total value ``values`` per owner."""
        self.counts["failed"] += int(counts.sum())
        c = counts.astype(float)
        self._event("resolved", owners, c)
        self._event("failed", owners, c)
        self._event("failed_value", owners, values.astype(float))
        self._event("benefit_resolved", owners[is_benefit], c[is_benefit])
        self._event("benefit_failed", owners[is_benefit], c[is_benefit])

    def add_withdrawn(self, n: int) -> None:
        """Open tasks of citizens who died."""
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

    def add_automation(self, records: int) -> None:
        """Records processed by proactive automation."""
        self._flow("automation_records", records)

    def add_exemptions(self, n: int) -> None:
        """New exemptions."""
        self._flow("exemptions", n)

    def add_costs(self, by_channel: np.ndarray, citizen_time: float) -> None:
        """This week's public cost by channel and the citizens' time cost."""
        for c, v in zip(COST_CHANNELS, by_channel, strict=True):
            self._flow(f"cost_{c}", float(v))
        self._flow("citizen_time", citizen_time)

    # ------------------------------------------------------------ weekly record

    def record(self, m: DigexModel) -> None:
        """Compute and store every metric for this week."""
        w = m.week
        self.weeks_seen += 1
        span = min(self.weeks_seen, WINDOW)
        per_year = WINDOW / span
        if self.with_groups:
            self.groups[w] = self._group_values(m, per_year)
        self.overall[w] = self._overall_values(m, per_year)

    def _group_values(self, m: DigexModel, per_year: float) -> np.ndarray:
        p, c, b = m.pop, m.config.population, m.config.behaviour
        n = p.n
        cells = self.cells
        wk = m.week
        dp = p.dp_status[:n]
        enrolled = dp == ENROLLED
        recent_un = p.last_unassisted_week[:n] > wk - WINDOW
        recent_as = p.last_assisted_week[:n] > wk - WINDOW
        skill, trust = p.skill[:n], p.trust[:n]
        flags = (
            p.last_fail_week[:n] > wk - WINDOW,
            recent_un | recent_as,
            recent_as & ~recent_un,
            enrolled,
            dp == EXEMPT,
            enrolled & (p.last_letter_week[:n] > wk - INACTIVE_WINDOW)
            & (p.last_read_week[:n] <= wk - INACTIVE_WINDOW),
            skill < c.challenged_threshold,
            trust < b.alienated_threshold,
        )
        # Count per cell and combination of 4 flags at a time (one bincount over a table small enough
        # to stay in cache), then fold the combinations into one count per flag.
        per_flag = np.empty((N_CELLS, 8))
        base = cells << 4
        for g in (0, 4):
            bits = flags[g].view(np.uint8).copy()
            for i in range(1, 4):
                bits += flags[g + i].view(np.uint8) * np.uint8(1 << i)
            j = np.bincount(base | bits, minlength=(N_CELLS + 1) << 4).reshape(N_CELLS + 1, 16)[:N_CELLS]
            joint = j
            for i in range(3, -1, -1):  # fold the highest remaining bit: j[:, 1] has flag g + i set
                j = j.reshape(N_CELLS, 2, -1)
                per_flag[:, g + i] = j[:, 1].sum(axis=1)
                j = j.sum(axis=1)
        (excluded, completed_recent, assisted_only, enrolled_n, exempt_n, inactive, challenged,
         alienated) = (self.matrix @ per_flag).T

        def g(weights: np.ndarray | None) -> np.ndarray:
            return self.matrix @ np.bincount(cells, weights, N_CELLS + 1)[:N_CELLS]

        count = self.matrix @ joint.sum(axis=1)
        ev = self.matrix @ self.events.sum(axis=0).T  # groups x events

        def evt(name: str) -> np.ndarray:
            return ev[:, EVENTS.index(name)]

        def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
            return np.divide(num, den, out=np.full_like(num, np.nan, dtype=float), where=den > 0)

        values = {
            "exclusion_rate": ratio(excluded, count),
            "failed_task_share": ratio(evt("failed"), evt("resolved")),
            "non_take_up_rate": ratio(evt("benefit_failed"), evt("benefit_resolved")),
            "welfare_loss_per_citizen_dkk": ratio(evt("failed_value") * per_year, count),
            "digital_share": ratio(evt("self_service_completed"), evt("procedures_completed")),
            "assisted_share": ratio(assisted_only, completed_recent),
            "enrolled_share": ratio(enrolled_n, count),
            "exempt_share": ratio(exempt_n, count),
            "inactive_enrolled_share": ratio(inactive, enrolled_n),
            "digitally_challenged_share": ratio(challenged, count),
            "trust_mean": ratio(g(trust.astype(float)), count),
            "alienated_share": ratio(alienated, count),
            "skill_mean": ratio(g(skill.astype(float)), count),
            "population": count * self.weight,
        }
        return np.array([values[k] for k in GROUP_METRICS])

    def _overall_values(self, m: DigexModel, per_year: float) -> np.ndarray:
        f = dict(zip(FLOWS, self.flows.sum(axis=0), strict=True))
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
            "privacy_exposure": records,
            "privacy_incidents": records * m.policy.privacy_incident_rate,
            "cost_total_dkk": cost_total * wt * per_year,
            "cost_per_citizen_year_dkk": ratio(cost_total * per_year, m.n_alive),
            "cost_per_completed_task_dkk": ratio(cost_total, f["completed"]),
            **{f"cost_{c}_dkk": f[f"cost_{c}"] * wt * per_year for c in COST_CHANNELS},
            "citizen_time_cost_dkk": f["citizen_time"] * wt * per_year,
            "savings_vs_analogue_dkk": float("nan"),
            "exemptions_per_year": f["exemptions"] * wt * per_year,
            "tasks_arrived": self.counts["arrived"],
            "tasks_completed": self.counts["completed"],
            "tasks_failed": self.counts["failed"],
            "tasks_open": m.open_task_count(),
            "tasks_withdrawn": self.counts["withdrawn"],
        }
        return np.array([values[k] for k in OVERALL_METRICS], dtype=float)


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
    return np.quantile(sample, [0.2, 0.4, 0.6, 0.8]) if len(sample) else np.zeros(4)


def static_codes(m: DigexModel, old: np.ndarray) -> np.ndarray:
    """The part of each row's cell that never changes: education x disability x language barrier.

    These attributes are drawn at entry and rows are never reused, so only
    rows added since ``old`` was computed are coded.
    """
    p = m.pop
    n, k = p.n, len(old)
    if k == n:
        return old
    new = (p.education[k:n] * 3 + p.disability[k:n]) * 2 + p.language_barrier[k:n]
    return np.concatenate([old, new.astype(np.int16)])


def cell_codes(m: DigexModel, static: np.ndarray) -> np.ndarray:
    """Cell of every row this week: age band, skill quintile, education, disability, language.

    ``static`` holds each row's education x disability x language code
    (``static_codes``). Dead rows get the extra cell ``N_CELLS``.
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
    code[~p.alive[:n]] = N_CELLS
    return code.astype(np.intp)  # what bincount counts with, so it need not convert on every call
