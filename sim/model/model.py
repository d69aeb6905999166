"""DigexModel: the weekly process of docs/ODD.md section 3 as a mesa.Model.

Each step is one week. The step calls one small function per mechanism, in
the order of docs/ODD.md section 3; each function lives in the module named
after what it models (demography, tasks, channels, services, digital_post,
optout, learning, costs, metrics). Citizens are rows of NumPy columns
(``sim/model/population.py``); ``Citizen`` agents are views on rows.
"""

from __future__ import annotations

import datetime as dt
import numbers
import reprlib

import mesa
import numpy as np
import pandas as pd

from sim.errors import InvariantError
from sim.model.agents import Centre, Citizen, Helper
from sim.model.codes import (
    AFTER_FAILURE,
    ASSISTED,
    AUTOMATION,
    CHANNELS,
    ENROLLED,
    FRESH,
    NOT_ENROLLED,
    PAPER,
    RELATIVE,
    RESOLVED,
    SELF_SERVICE,
    STREAMS,
)
from sim.model.costs import CostLedger
from sim.model.keypath import KeyPathError, with_values
from sim.model.mechanisms import (
    access,
    automation,
    backoffice,
    channels,
    demography,
    digital_post,
    learning,
    optout,
    services,
)
from sim.model.metrics import EXCLUSION_COMPONENTS, GROUP_METRICS, OVERALL, OVERALL_METRICS, RUN_TOTALS, Metrics
from sim.model.params import AGE_BANDS, LETTER_KINDS, PROCEDURE_TYPES, Config
from sim.model.population import Population, add_citizens, draw_ages, draw_citizens
from sim.model.series import end_of_run
from sim.model.tasks import Arrivals, TaskTable, new_procedures


class DigexScenario(mesa.experimental.scenarios.Scenario):
    """Mesa scenario holding the validated configuration and the seed."""

    config: Config = Config()


MAX_MODEL_SEED = 2**63 - 1
"""Largest seed of a model run (a 64-bit integer, as seeds are stored in the result tables)."""


def _validated_config(config: object) -> Config:
    """A validated copy of ``config`` (``Config()`` for None); a ValueError naming ``config`` otherwise.

    The same checks as a scenario file gets, so a Config changed in place
    (e.g. a NaN put into one of its mappings) is refused here.
    """
    if config is None:
        return Config()
    if not isinstance(config, Config):
        raise ValueError(f"config: must be a sim.model.params.Config (e.g. Config.model_validate(data)), "
                         f"not a {type(config).__name__}")
    try:
        return with_values(config, {})
    except KeyPathError as exc:
        raise ValueError(f"config: {exc}") from None


def _checked_seed(seed: object) -> int:
    """``seed`` as an int if an integer from 0 to MAX_MODEL_SEED (not true/false); else a ValueError naming it."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed <= MAX_MODEL_SEED:
        raise ValueError(f"seed: must be an integer from 0 to {MAX_MODEL_SEED:,}, got {reprlib.repr(seed)}")
    return int(seed)


def _require(holds: bool | np.bool_, message: str) -> None:
    """Raise InvariantError with ``message`` unless the invariant ``holds``."""
    if not holds:
        raise InvariantError(message)


class DigexModel(mesa.Model):
    """Digital exclusion in a digital-by-default welfare state (see docs/ODD.md).

    Args:
        config: a validated scenario (``sim.model.params.Config``); default: Danish baseline defaults.
        seed: random seed; default ``config.run.seed``.
        check_invariants: verify the accounting invariants after every week.
        group_metrics: compute the breakdown by group (off for the analogue twin, whose costs alone are used).
        citizen_agents: create a Citizen agent per row up to population.materialise_agents_up_to (off for
            replications run for their metrics alone, whose agents nobody inspects; ``citizen(row)`` still
            creates one on demand). Agents are views that draw no random numbers, so results are the same.
        demography_record: the newcomers of a run with the same demography (``demography.DemographyRecord``,
            same ``demography.demography_key``) and at least as many weeks, replayed instead of drawn; or an
            empty record, which the run fills. Results are the same as without it.

    Raises:
        ValueError: naming ``config`` (not a Config, or one that fails validation) or ``seed`` (not an
            integer from 0 to MAX_MODEL_SEED).
    """

    def __init__(self, config: Config | None = None, seed: int | None = None, check_invariants: bool = False,
                 group_metrics: bool = True, citizen_agents: bool = True,
                 demography_record: demography.DemographyRecord | None = None):
        config = _validated_config(config)
        seed = config.run.seed if seed is None else _checked_seed(seed)
        if demography_record is not None and demography_record.key != demography.demography_key(config, seed):
            raise ValueError("demography_record: recorded from a run with another population, start, number of "
                             "centres or seed than this one (demography.demography_key)")
        if demography_record is not None and 0 < len(demography_record.weeks) < config.run.weeks:
            raise ValueError(f"demography_record: holds {len(demography_record.weeks)} weeks, fewer than this run's "
                             f"{config.run.weeks}; its later newcomers would be drawn from another point of the stream")
        self.demography_record = demography_record
        super().__init__(scenario=DigexScenario(rng=seed, config=config))
        self.config = config
        self.seed = seed
        self.check = check_invariants
        self.policy = config.policy.model_copy(deep=True)
        self.timeline = sorted(config.timeline, key=lambda c: c.date)
        self.streams = dict(zip(STREAMS, self.rng.spawn(len(STREAMS)), strict=True))
        self.week = 0
        self._date = (0, config.run.start)  # (week, its date): the cache of ``date``
        self.weight = config.population.weight
        self.is_benefit = np.array([config.tasks.procedures[k].is_benefit for k in PROCEDURE_TYPES])

        pc = config.population
        self.pop = Population(config.rows)
        r = self.streams["population"]
        ages = draw_ages(pc, pc.size, r)
        add_citizens(self.pop, draw_citizens(pc, ages, r, self.policy.centre.centres), week=0)
        self._initial_enrolment(r)
        start_rows = np.arange(self.pop.n)
        demography.schedule_deaths(self, start_rows, 0, self.streams["demography"])
        demography.schedule_emigration(self, start_rows, 0, demography.temporary_immigrant_share(self, start_rows),
                                       self.streams["demography"])
        self.death_calendar = demography.WeekCalendar(self.pop.death_week[: self.pop.n])
        self.leave_calendar = demography.WeekCalendar(self.pop.leave_week[: self.pop.n])

        centres = self.policy.centre.centres
        self.helpers = services.HelperTable(
            centres, services.helpers_per_centre(self.policy.centre.helpers_per_10k, pc.size, centres)
        )
        self.living_per_centre = np.bincount(self.pop.centre[: self.pop.n], minlength=self.helpers.n_centres)
        self.phone_overrun = np.zeros(1)
        self.tasks = TaskTable()
        self.arrivals = Arrivals(config)
        self.mail = digital_post.Mailboxes(
            [config.tasks.letters[k].deadline_weeks for k in LETTER_KINDS], self.pop.capacity
        )
        self.costs = CostLedger(config)
        self.metrics = Metrics(config, group_metrics)

        p = self.streams["platform"]
        delayed = p.random() < self.policy.platform.delay_probability
        self.launch_delay = dt.timedelta(weeks=float(p.exponential(self.policy.platform.delay_weeks_mean))
                                         if delayed else 0.0)
        self.overrun = p.random() < self.policy.platform.overrun_probability
        self.backoffice = backoffice.BackOfficeState()
        self.outage_fraction = 0.0
        self.deaths_total = 0
        self.entrants_total = 0
        self.immigrants_total = 0
        self.emigrants_total = 0
        self.mandate_enrolled_below = 0  # under a mandate, living rows below this are enrolled or exempt
        self.journal: list[dict] = []
        self.tracked = np.zeros(0, dtype=np.int64)
        self.band = self.pop.age_band()  # each row's age band this week (set after demography in ``step``)

        self.materialised = citizen_agents and pc.size <= pc.materialise_agents_up_to
        self._citizen_views: dict[int, Citizen] = {}
        if self.materialised:
            for row in range(self.pop.n):
                self._citizen_views[row] = Citizen(self, row)
        self.centre_agents = [Centre(self, c) for c in range(self.helpers.n_centres)]
        self.helper_agents = [Helper(self, i) for i in range(len(self.helpers.centre))]
        self.running = True

    # ------------------------------------------------------------ time and policy state

    @property
    def date(self) -> dt.date:
        """Date of the current week (computed once a week: the mechanisms ask for it about 30 times)."""
        if self._date[0] != self.week:
            self._date = (self.week, self.config.run.start + dt.timedelta(weeks=self.week))
        return self._date[1]

    @property
    def launch_date(self) -> dt.date:
        """Actual launch of the digital platforms: planned launch plus any drawn delay."""
        return self.policy.platform.launch + self.launch_delay

    @property
    def digital_live(self) -> bool:
        """Self-service and Digital Post exist and have launched."""
        return self.policy.digital_channels and self.date >= self.launch_date

    @property
    def mandate_active(self) -> bool:
        """The mandate has started (and cannot start before the platform is live)."""
        start = self.policy.mandate_start
        return start is not None and self.date >= start and self.digital_live

    @property
    def n_alive(self) -> int:
        """Living simulated citizens (kept as a count; ``check_invariants`` compares it with the rows)."""
        return (self.config.population.size + self.entrants_total + self.immigrants_total
                - self.deaths_total - self.emigrants_total)

    def _initial_enrolment(self, rng: np.random.Generator) -> None:
        """Voluntary Digital Post users at the start: a share of citizens with internet and eID, by skill."""
        p = self.pop
        s = p.view()
        share = self.config.population.initial_enrolled_share
        able = p.internet[s] & p.eid[s] & self.policy.digital_channels
        p.dp_status[s] = np.where(able & (rng.random(p.n) < share * 2 * p.skill[s]), ENROLLED, p.dp_status[s])

    # ------------------------------------------------------------ the week

    def step(self) -> None:
        """One week, in the order of docs/ODD.md section 3."""
        if self.week >= self.config.run.weeks:
            self.running = False
            return
        self.apply_timeline()  # 1
        self.costs.reset()
        self.platform_week()  # IT programme: outages and build/running cost
        self.demography_week()  # 2
        self.band = self.pop.age_band()
        self.metrics.start_week(self)
        self.needs_arrive(np.where(self.pop.alive[: self.pop.n], self.band, np.int8(len(AGE_BANDS))))  # 3
        backoffice.backoffice_week(self, self.streams["backoffice"])  # back office: failures hold casework
        self.attempts_week()  # 4
        services.serve_phone(self, self.streams["services"])  # 5
        services.serve_centres(self, self.streams["services"])
        digital_post.read_mail(self, self.streams["behaviour"])
        self.deadlines_week()  # 6
        learning.trust_recovery(self)  # 7
        self.costs.add_courses(learning.skills_courses(self, self.streams["behaviour"]))
        access.acquire_access(self, self.streams["access"])
        optout.apply_for_exemption(self, self.streams["behaviour"])  # 8
        digital_post.enrol(self, self.streams["behaviour"])  # 9
        digital_post.grant_read_access(self, self.streams["behaviour"])
        self.metrics.add_costs(self.costs.week, self.costs.citizen_time_dkk)  # 10
        self.tasks.keep(self.tasks.route != RESOLVED)
        self.metrics.record(self)
        if self.check:
            self.check_invariants()
        self.week += 1
        if self.week >= self.config.run.weeks:
            self.running = False

    def apply_timeline(self) -> None:
        """Apply the policy changes dated within this week (docs/ODD.md section 7.1)."""
        week_end = self.date + dt.timedelta(days=7)
        while self.timeline and self.timeline[0].date < week_end:
            change = self.timeline.pop(0)
            self.policy = with_values(self.policy, change.set)  # a new validated policy; none of it is cached

    def staff_centres(self) -> None:
        """Helper rows and Helper agents follow the policy's staffing, which the timeline may change.

        Called each week by ``services.serve_centres`` before it serves the
        queues. Each centre has ``services.helpers_per_centre`` helpers for the
        current ``centre.helpers_per_10k`` (docs/ODD.md sections 2 and 7.7).
        Helpers who stay keep their agent; leavers' agents leave
        ``model.agents``; new helpers get new agents. The centres' capacity is
        set by the policy and the living citizens, not by these rows.
        """
        per_centre = services.helpers_per_centre(self.policy.centre.helpers_per_10k, self.config.population.size,
                                                 self.helpers.n_centres)
        if per_centre == self.helpers.per_centre:
            return
        kept = self.helpers.staff(per_centre)
        for row in np.setdiff1d(np.arange(len(self.helper_agents)), kept):
            self.helper_agents[row].remove()
        self.helper_agents = [self.helper_agents[row] for row in kept]
        for row, agent in enumerate(self.helper_agents):
            agent.row = row
        self.helper_agents += [Helper(self, row) for row in range(len(kept), len(self.helpers.centre))]

    def platform_week(self) -> None:
        """Outages this week (Poisson count, each outage_days long) and the IT programme's costs (ODD 7.2).

        The build starts build_weeks before the planned launch and runs until
        the actual launch (planned plus the drawn delay): the build budget,
        times overrun_factor if the programme overruns, is spent evenly over
        those build_weeks + delay weeks, so a delay stretches the spending
        past the planned launch and an overrun raises it; only the weeks
        inside the run are booked. Running costs accrue while the platform is live.
        """
        plat = self.policy.platform
        k = self.streams["outages"].poisson(plat.outage_rate_per_year / 52)
        self.outage_fraction = min(1.0, k * plat.outage_days / 7) if self.digital_live else 0.0
        build = 0.0
        build_start = plat.launch - dt.timedelta(weeks=plat.build_weeks)
        if self.policy.digital_channels and build_start <= self.date < self.launch_date:
            factor = plat.overrun_factor if self.overrun else 1.0
            build = plat.build_budget_dkk * factor / (plat.build_weeks + self.launch_delay / dt.timedelta(weeks=1))
        running = plat.running_cost_per_year_dkk / 52 if self.digital_live else 0.0
        self.costs.add_it(build / self.weight, running / self.weight)

    def demography_week(self) -> None:
        """Ageing and skill decline, deaths and emigration, new 15-year-olds and immigrants (docs/ODD.md 7.3).

        The dead and the emigrants leave alike: their open tasks and unread
        letters are withdrawn and their Citizen agents removed. Also keeps the
        count of living citizens per centre (which sets the centres' staffing).
        With a ``demography_record`` the week's newcomers and language learning
        are replayed from it when it holds the week, else drawn and recorded into it.
        """
        r = self.streams["demography"]
        demography.age_one_week(self)
        dead = demography.deaths(self)
        emigrated = demography.emigrants(self)
        gone = np.concatenate([dead, emigrated])
        if len(gone):
            left = ~self.pop.alive[self.tasks.owner] & (self.tasks.route != RESOLVED)  # earlier leavers have none
            withdrawn = int(left.sum()) + int(self.mail.clear(gone, self.week).sum())
            self.tasks.route[left] = RESOLVED
            self.metrics.add_withdrawn(withdrawn)
            self.living_per_centre -= np.bincount(self.pop.centre[gone], minlength=self.helpers.n_centres)
            for row in gone:
                view = self._citizen_views.pop(int(row), None)
                if view is not None:
                    view.remove()
        record = self.demography_record
        if record is not None and self.week < len(record.weeks):
            born, arrived = record.replay(self)
        else:
            first = self.pop.n
            born = demography.entrants(self, r)
            arrived = demography.immigrants(self, r)
            faded = demography.language_learning(self, r)
            if record is not None:
                record.keep(self, first, len(born), faded)
        new = np.concatenate([born, arrived])
        self.living_per_centre += np.bincount(self.pop.centre[new], minlength=self.helpers.n_centres)
        if self.materialised:
            for row in new:
                self._citizen_views[int(row)] = Citizen(self, int(row))
        self.deaths_total += len(dead)
        self.emigrants_total += len(emigrated)
        self.entrants_total += len(born)
        self.immigrants_total += len(arrived)

    def needs_arrive(self, band: np.ndarray) -> None:
        """New procedures (some resolved at once by proactive automation, ``automation.automate``) and letters.

        ``band``: each row's age band this week, ``len(AGE_BANDS)`` for the dead.
        """
        r = self.streams["arrivals"]
        new = new_procedures(self.arrivals, band, self.date, self.week, self.mandate_active,
                             self.policy.mandatory_share, r)
        n_old = len(self.tasks)
        self.tasks.append(new)
        self.metrics.add_arrived(len(new["owner"]))
        automation.automate(self, np.arange(n_old, len(self.tasks)), r)
        digital_post.letters_arrive(self, band, r)

    def attempts_week(self) -> None:
        """Give-ups, then one attempt per open task by its chosen channel (docs/ODD.md section 7.5)."""
        r = self.streams["behaviour"]
        self.fail_tasks(channels.give_up(self, r))
        t = self.tasks
        idx = ((t.route == FRESH) | (t.route == AFTER_FAILURE)).nonzero()[0]
        choice = channels.choose_channels(self, idx, r)
        channels.attempt_self_service(self, idx[choice == SELF_SERVICE], r)
        channels.attempt_paper(self, idx[choice == PAPER], r)
        channels.attempt_relative(self, idx[choice == RELATIVE], r)
        channels.route_to_queues(self, idx, choice)

    def deadlines_week(self) -> None:
        """Open procedures at their deadline fail; unread letters at theirs fail (docs/ODD.md section 7.10)."""
        t = self.tasks
        self.fail_tasks(np.flatnonzero((t.route != RESOLVED) & (t.deadline <= self.week)))
        digital_post.letters_expire(self)

    # ------------------------------------------------------------ outcomes

    def complete(self, idx: np.ndarray, channel: int) -> None:
        """Record procedures completed through ``channel``: counters, trust, metrics."""
        if len(idx) == 0:
            return
        t, p, b = self.tasks, self.pop, self.config.behaviour
        o, ttype = t.owner[idx], t.ttype[idx]
        np.add.at(getattr(p, f"done_{CHANNELS[channel]}"), o, np.int32(1))
        if channel in ASSISTED:
            p.last_assisted_week[o] = self.week
            np.add.at(p.help_received, o, np.int32(1))
            learning.move_towards_one(p.trust, o, b.trust_gain_human_help)
        elif channel != AUTOMATION:
            p.last_unassisted_week[o] = self.week
            learning.move_towards_one(p.trust, o, b.trust_gain_success)
        benefit = self.is_benefit[ttype]
        self.metrics.add_completed(o, channel, benefit)
        t.route[idx] = RESOLVED
        self._log(o, ttype, f"completed by {CHANNELS[channel]}")

    def fail_tasks(self, idx: np.ndarray) -> None:
        """Record failed procedures (given up or past their deadline): exclusion events (docs/ODD.md section 7.10).

        Each loses its value; a failed benefit claim also marks a lost benefit.
        """
        if len(idx) == 0:
            return
        t, p = self.tasks, self.pop
        o, ttype = t.owner[idx], t.ttype[idx]
        benefit = self.is_benefit[ttype]
        np.add.at(p.tasks_failed, o, np.int32(1))
        p.last_procedure_fail_week[o] = self.week
        p.last_benefit_fail_week[o[benefit]] = self.week
        self.metrics.add_failed(o, t.value[idx], benefit)
        self.metrics.add_failed_contests(o[t.contest[idx]])
        self._exclusion(o)
        t.route[idx] = RESOLVED
        self._log(o, ttype, "failed")

    def fail_letters(self, rows: np.ndarray, kind: int, counts: np.ndarray, consequential: np.ndarray) -> None:
        """Record letters of kind ``kind`` (index in LETTER_KINDS) missed by their deadline.

        ``counts`` letters per row were missed; ``consequential`` (at most
        ``counts``) of them had a deadline with a consequence: only these are
        exclusion events and lose the letter kind's value_dkk each. Every
        missed letter counts as a failed task in the task accounting.
        """
        if len(rows) == 0:
            return
        p = self.pop
        value = self.config.tasks.letters[LETTER_KINDS[kind]].value_dkk
        np.add.at(p.tasks_failed, rows, counts.astype(np.int32))
        self.metrics.add_letters_missed(rows, kind, counts, consequential, value)
        hit = rows[consequential > 0]
        p.last_letter_miss_week[hit] = self.week
        self._exclusion(hit)
        self._log(rows, None, "missed letter(s)")

    def _exclusion(self, owners: np.ndarray) -> None:
        """Exclusion events of ``owners``: last_fail_week and last_need_week set, trust falls (section 7.10)."""
        if len(owners) == 0:
            return
        p = self.pop
        p.last_fail_week[owners] = self.week
        p.last_need_week[owners] = self.week
        learning.move_towards_zero(p.trust, owners, self.config.behaviour.trust_loss_failure)

    def learn(self, rows: np.ndarray, rate: float) -> None:
        """Skill gain of a share ``rate`` of the gap to full skill."""
        learning.move_towards_one(self.pop.skill, rows, rate)

    def trust_down(self, rows: np.ndarray, rate: float) -> None:
        """Trust loss of a share ``rate`` of current trust."""
        learning.move_towards_zero(self.pop.trust, rows, rate)

    def citizen_time(self, rows: np.ndarray, channel: int) -> None:
        """Citizens' own minutes spent on an attempt through ``channel``."""
        if len(rows) == 0:
            return  # adds nothing (the week's citizen time starts at +0.0 and only grows)
        minutes = self.config.costs.citizen_minutes.get(CHANNELS[channel], 0.0)
        np.add.at(self.pop.minutes_spent, rows, np.float32(minutes))
        self.costs.add_citizen_minutes(minutes * len(rows))

    # ------------------------------------------------------------ inspection

    def citizen(self, row: int) -> Citizen:
        """The Citizen agent of a row (created on demand above materialise_agents_up_to).

        A dead citizen's row can still be inspected: its view is returned but
        removed from ``model.agents`` at once, so only the living are agents.
        """
        if not 0 <= row < self.pop.n:
            raise IndexError(f"no citizen row {row}; rows are 0..{self.pop.n - 1}")
        view = self._citizen_views.get(row)
        if view is None:
            view = Citizen(self, row)
            if self.pop.alive[row]:
                self._citizen_views[row] = view
            else:
                view.remove()
        return view

    def track(self, rows: list[int] | np.ndarray) -> None:
        """Record every outcome of these citizens in ``self.journal`` (a citizen's journey)."""
        self.tracked = np.union1d(self.tracked, np.asarray(rows, dtype=np.int64))

    def _log(self, owners: np.ndarray, ttypes: np.ndarray | None, what: str) -> None:
        if len(self.tracked) == 0:
            return
        hit = np.isin(owners, self.tracked)
        for i in np.flatnonzero(hit):
            task = "letter" if ttypes is None else PROCEDURE_TYPES[int(ttypes[i])]
            self.journal.append({"week": self.week, "date": self.date, "row": int(owners[i]),
                                 "task": task, "event": what})

    def open_task_count(self) -> int:
        """Open procedures plus unread letters."""
        return int((self.tasks.route != RESOLVED).sum()) + int(self.mail.pending(self.pop.n).sum(dtype=np.int64))

    def check_invariants(self) -> None:
        """Raise InvariantError if an accounting invariant is broken (docs/ODD.md section 7.15).

        Explicit checks, not ``assert``: they also run under ``python -O``.
        """
        c = self.metrics.counts
        p = self.pop
        open_now = self.open_task_count()
        _require(c["arrived"] == c["completed"] + c["failed"] + open_now + c["withdrawn"],
                 f"tasks: arrived {c['arrived']} != completed {c['completed']} + failed {c['failed']} + "
                 f"open {open_now} + withdrawn {c['withdrawn']}")
        s = p.view()
        _require(int(p.alive[s].sum()) == self.n_alive,
                 "living rows != size + entrants + immigrants - deaths - emigrants")
        living = np.bincount(p.centre[s][p.alive[s]], minlength=self.helpers.n_centres)
        _require(np.array_equal(living, self.living_per_centre), "living citizens per centre miscounted")
        _require([h.row for h in self.helper_agents] == list(range(len(self.helpers.centre))),
                 "Helper agents do not match the helper rows")
        for col in ("skill", "trust", "travel_burden"):
            v = getattr(p, col)[s]
            _require(np.all((v >= 0) & (v <= 1)), f"{col} outside [0, 1]")
        _require(np.all(p.minutes_spent[s] >= 0), "negative minutes spent")
        if self.mandate_active and self.policy.digital_post_mandatory:
            _require(not np.any(p.alive[s] & (p.dp_status[s] == NOT_ENROLLED)), "not enrolled under the mandate")
        w = self.week
        if self.metrics.with_groups:
            self._check_group_metrics(self.metrics.groups[w])
        ov = self.metrics.overall[w]
        nonneg = [i for i, k in enumerate(OVERALL_METRICS) if not k.startswith("savings_")]
        _require(np.all(np.isnan(ov[nonneg]) | (ov[nonneg] >= 0)), "a negative cost, time or count")
        total = dict(zip(OVERALL_METRICS, ov, strict=True))
        for name in RUN_TOTALS:
            _require(not total[f"{name}_discounted_dkk"] > total[f"{name}_cumulative_dkk"] * (1 + 1e-12),
                     f"{name}: discounted total above the cumulative total")

    @staticmethod
    def _check_group_metrics(values: np.ndarray) -> None:
        """Shares in [0, 1] and rates non-negative; exclusion within its components; dependent within assisted.

        ``values``: one week's group metrics (metrics x groups).
        """
        shares = [i for i, k in enumerate(GROUP_METRICS) if k.endswith(("_share", "_rate"))]
        vals = values[shares]
        _require(np.all(np.isnan(vals) | ((vals >= 0) & (vals <= 1 + 1e-9))), "a share outside [0, 1]")
        v = dict(zip(GROUP_METRICS, values, strict=True))
        for k in GROUP_METRICS:
            _require(np.all(np.isnan(v[k]) | (v[k] >= 0)), f"{k} is negative")

        def at_most(a: np.ndarray, b: np.ndarray) -> bool:  # where both are known (a group may be empty)
            return not np.any(a > b + 1e-9)

        excl = v["exclusion_rate"]
        for part in EXCLUSION_COMPONENTS:
            _require(at_most(v[part], excl), f"{part} above exclusion_rate")
        _require(at_most(excl, v["failed_procedure_share"] + v["missed_letter_share"]),
                 "exclusion_rate above failed_procedure_share + missed_letter_share")
        _require(at_most(v["lost_benefit_share"], v["failed_procedure_share"]),
                 "lost_benefit_share above failed_procedure_share")
        _require(at_most(v["dependent_share"], v["assisted_share"]), "dependent_share above assisted_share")

    # ------------------------------------------------------------ results

    def run(self, progress=None) -> DigexModel:
        """Run every remaining week; ``progress(week)`` is called after each if given."""
        while self.running:
            self.step()
            if progress is not None:
                progress(self.week)
        return self

    def timeseries(self) -> pd.DataFrame:
        """Weekly metrics in long format: week, date, metric, group_type, group, value (docs/ODD.md 7.15).

        Overall rows have group_type == group == "all". Rows run metric by
        metric: the overall metrics (week by week), then the group metrics
        (week by week, each week's groups in ``Metrics.labels`` order). The
        frame is built from index arrays in one go: each label column is its
        few distinct strings taken by code, not one string per row.
        """
        weeks = self.week
        labels = self.metrics.labels
        n_ov, n_gm, n_lab = len(OVERALL_METRICS), len(GROUP_METRICS), len(labels)
        ov_rows = n_ov * weeks
        week = np.concatenate([np.tile(np.arange(weeks), n_ov), np.tile(np.repeat(np.arange(weeks), n_lab), n_gm)])
        metric = np.concatenate([np.repeat(np.arange(n_ov), weeks), n_ov + np.repeat(np.arange(n_gm), weeks * n_lab)])
        label = np.concatenate([np.zeros(ov_rows, dtype=np.intp), 1 + np.tile(np.arange(n_lab), weeks * n_gm)])
        dates = pd.to_datetime([self.config.run.start + dt.timedelta(weeks=w) for w in range(weeks)])
        values = np.concatenate([self.metrics.overall[:weeks].T.ravel(),
                                 self.metrics.groups[:weeks].transpose(1, 0, 2).ravel()])

        def strings(names: list[str], codes: np.ndarray) -> pd.Series:
            return pd.Series(pd.Series(names).array.take(codes))

        return pd.DataFrame({
            "week": week,
            "date": dates[week],
            "metric": strings([*OVERALL_METRICS, *GROUP_METRICS], metric),
            "group_type": strings([OVERALL[0], *(lab[0] for lab in labels)], label),
            "group": strings([OVERALL[1], *(lab[1] for lab in labels)], label),
            "value": values,
        })

    def summary(self) -> pd.DataFrame:
        """End-of-run values (``sim.model.series.end_of_run``): metric, group_type, group, value."""
        return end_of_run(self.timeseries())[["metric", "group_type", "group", "value"]]
