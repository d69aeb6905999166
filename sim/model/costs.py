"""Public costs by channel and the citizen's own time (docs/ODD.md section 7.14).

Unit costs come from CostsConfig (British local-government studies converted
at dkk_per_gbp). Phone and centre staff are paid for their staffed hours
whether busy or not; with unlimited_capacity (an upper-bound scenario)
they cost the minutes actually used. Amounts are kept for the simulated
population; ``sim/model/metrics.py`` scales them by the population weight.
Exemption applications are booked by route (``add_exemption_applications``).
"""

from __future__ import annotations

import numpy as np

from sim.model.codes import PAPER, SELF_SERVICE
from sim.model.params import Config

COST_CHANNELS = (
    "self_service",
    "digital_post",
    "paper",
    "phone",
    "centre",
    "automation",
    "courses",
    "it_build",
    "it_running",
)

EXEMPTION_ROUTES = ("in_person", "relative", "remote", "automatic")
"""How an exemption from Digital Post is obtained: own visit to the centre, a relative's declaration there,
by phone or online form, or from the registers (docs/ODD.md section 7.13)."""


class CostLedger:
    """This week's public cost by channel and the citizens' time cost (simulated population, DKK)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.week = np.zeros(len(COST_CHANNELS))
        self.citizen_time_dkk = 0.0
        self.exemptions_by_route = dict.fromkeys(EXEMPTION_ROUTES, 0)

    def reset(self) -> None:
        """Start a new week."""
        self.week[:] = 0.0
        self.citizen_time_dkk = 0.0

    def _add(self, channel: str, dkk: float) -> None:
        self.week[COST_CHANNELS.index(channel)] += dkk

    def add_contacts(self, channel: int, n: int) -> None:
        """Self-service transactions (online unit cost) or paper forms (postal unit cost)."""
        c = self.config.costs
        if channel == SELF_SERVICE:
            self._add("self_service", n * c.online_per_transaction_gbp * c.dkk_per_gbp)
        elif channel == PAPER:
            self._add("paper", n * c.paper_per_transaction_gbp * c.dkk_per_gbp)

    def add_letters(self, digital: int, paper: int) -> None:
        """Letters sent through Digital Post and on paper."""
        c = self.config.costs
        self._add("digital_post", digital * c.digital_letter_dkk)
        self._add("paper", paper * c.paper_letter_dkk)

    def _staff(self, used_minutes: float, capacity_minutes: float) -> float:
        minutes = used_minutes if np.isinf(capacity_minutes) else capacity_minutes
        return minutes / 60 * self.config.costs.staff_cost_per_hour_dkk

    def add_phone(self, used_minutes: float, capacity_minutes: float) -> None:
        """Phone agents' paid hours (or minutes used when capacity is unlimited)."""
        self._add("phone", self._staff(used_minutes, capacity_minutes))

    def add_centre(self, used_minutes: float, capacity_minutes: float, visits: int) -> None:
        """Helpers' paid hours (or minutes used) plus a premises cost per visit."""
        c = self.config.costs
        self._add("centre", self._staff(used_minutes, capacity_minutes) + visits * c.centre_overhead_per_visit_dkk)

    def add_exemption_applications(self, route: str, n: int, minutes: float, by_the_minute: bool) -> None:
        """``n`` exemption applications granted by ``route`` with ``minutes`` of staff time (counted for the run).

        - in_person, relative: centre work: a premises cost per visit; the
          helper minutes come out of the staffed hours, already paid, unless
          capacity is unlimited (``by_the_minute``), when they are paid;
        - remote: a caseworker takes the call or the online form: the minutes
          at the staff hourly cost (booked with the phone line);
        - automatic: one register record each, at the automation unit cost.
        """
        if route not in EXEMPTION_ROUTES:
            raise ValueError(f"route: must be one of {EXEMPTION_ROUTES}, got {route!r}")
        self.exemptions_by_route[route] += n
        c = self.config.costs
        staff = minutes / 60 * c.staff_cost_per_hour_dkk
        if route in ("in_person", "relative"):
            self._add("centre", n * c.centre_overhead_per_visit_dkk + (staff if by_the_minute else 0.0))
        elif route == "remote":
            self._add("phone", staff)
        else:
            self._add("automation", n * c.automation_per_record_dkk)

    def add_automation(self, records: int) -> None:
        """Cases resolved from register data."""
        self._add("automation", records * self.config.costs.automation_per_record_dkk)

    def add_courses(self, places: int) -> None:
        """Skills course places used."""
        self._add("courses", places * self.config.costs.course_per_place_dkk)

    def add_it(self, build_dkk: float, running_dkk: float) -> None:
        """IT programme build and running costs for the week (already in simulated-population DKK)."""
        self._add("it_build", build_dkk)
        self._add("it_running", running_dkk)

    def add_citizen_minutes(self, minutes: float) -> None:
        """Citizens' own time (not a public cost)."""
        self.citizen_time_dkk += minutes / 60 * self.config.costs.citizen_time_value_per_hour_dkk
