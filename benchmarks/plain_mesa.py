"""Plain-Mesa reference of digex's weekly rules: one Python object per citizen.

This is the yardstick of ``make bench`` and the cross-check of
``tests/test_plain_mesa_agreement.py``. It implements the same mechanisms as
``sim/`` with the same parameters (``sim.model.params.Config``) and equations, but
written the ordinary Mesa way: every citizen is a ``mesa.Agent`` holding its
own state, its open procedures and unread letters as Python objects, and
``model.agents.shuffle_do(...)`` runs each citizen's own code. It imports the
parameters, the codes and the metric definitions of ``sim/``, never its
(vectorised) mechanisms.

Per-agent Python (in ``Citizen``): the draw of the citizen's attributes,
ageing, skill decline, death and emigration (weeks drawn at entry), immigrants'
language learning, the arrival of procedures (with proactive automation, its
wrong decisions to contest and consent refusals) and letters, procedures held
by a failed back office, give-ups, channel choice (trust moves asking a
relative and staying away from public help), self-service (with design bonuses
for named groups) / paper / relative attempts, reading mail (alone, through a
relative with read access, or with help), deadlines (missed letters with or
without a consequence), learning, trust and its recovery, exemption (from the
date the rules allow it, on the Act's grounds, driven by awareness, need and
distrust), reversible Digital Post enrolment without a mandate, and relatives'
read access. Model level (in ``PlainModel``), as the issue allows: the policy
timeline, the IT platform (outages, costs), the back office (failures, costs),
privacy incidents of automation, new 15-year-olds and immigrants, the
capacity-limited phone and centre service (which calls the citizens' own
methods for the outcomes; the centre also reads unread letters with
citizens, sets up eIDs, teaches by readiness, makes deskilled errors and
lets helpers do taught tasks as the citizen, grey practice; exemption
applications at the centre take from its spare minutes), the lottery of
skills-course places and the metrics.

The week runs in the order of docs/ODD.md section 3 and of ``DigexModel.step``:
``shuffle_do("step")`` (demography, arrivals and automation, back office,
give-ups, choices, attempts), then privacy incidents, phone and centre service,
then ``shuffle_do("settle")`` (mail, deadlines, trust recovery, courses,
access, exemption, enrolment, read access), then metrics. As in
``sim/model/mechanisms/learning.py``, a citizen gains or loses trust or skill
at most once per mechanism per week. One difference of timing: the real model
draws privacy incidents right after the week's arrivals, before the attempts;
here they follow all citizens' attempts (the week's automated records are only
known then). Both are off in the calibrated baseline (no automation).

Random numbers come from the model's ``random.Random`` (per-agent draws) and
its NumPy generator (model-level counts), so results agree with ``sim/`` in
distribution, not draw by draw. Only overall metrics are computed (no group
breakdown), which makes this reference cheaper than the real model's metrics.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections import deque

import mesa
import pandas as pd

from sim.model.codes import (
    AFTER_FAILURE,
    ASSISTED,
    AUTOMATION,
    CENTRE,
    CHANNELS,
    ENROLLED,
    EXEMPT,
    FRESH,
    NOT_ENROLLED,
    PAPER,
    PHONE,
    QUEUED_CENTRE,
    QUEUED_PHONE,
    RELATIVE,
    RESOLVED,
    SELF_SERVICE,
)
from sim.model.keypath import with_values
from sim.model.metrics import INACTIVE_WINDOW, SLOTS, YEAR_WEEKS, window_spans
from sim.model.params import AGE_BAND_EDGES, AGE_BANDS, LETTER_KINDS, PROCEDURE_TYPES, Config

NEVER = -(10**6)
LAST_WEEK = 2**31 - 1
"""Week of an event that never comes (as the int32 week columns of sim/ cap it)."""
NEED_WINDOW_WEEKS = 8
"""A failure within this many weeks raises the exemption hazard (optout_failure_factor)."""
CONTACT_WINDOW_WEEKS = 26
"""Human help within this many weeks can make a citizen aware of exemption (contact_awareness)."""
SENIOR_AGE = 65
"""Age from which platform.senior_design helps (channels.design_bonus)."""
FULL_TIME_HOURS = 37.0
"""Weekly hours of a full-time employee: the back office's extra staff during a failure (backoffice.py)."""
CASEWORK, TEACHING, GREY = 0, 1, 2
"""How a centre case is handled: the helper does it, teaches the citizen, or logs in as the citizen (grey)."""

EVENTS = ("procedures_failed", "failed_value", "benefit_resolved", "benefit_failed", "procedures_completed",
          "self_service_completed", "automated_completed", *[f"missed_{k}" for k in LETTER_KINDS])
"""Weekly event counts summed over the 'last year' window (as in sim/model/metrics.py)."""

HEADLINE = ("exclusion_rate", "failed_procedure_share", "missed_letter_share",
            *[f"missed_{k}_letters_per_citizen" for k in LETTER_KINDS], "lost_benefit_share",
            "welfare_loss_per_citizen_dkk", "failed_task_share", "non_take_up_rate", "digital_share",
            "automation_share", "assisted_share", "dependent_share", "enrolled_share", "exempt_share",
            "inactive_enrolled_share", "digitally_challenged_share", "trust_mean", "alienated_share", "skill_mean",
            "cost_per_citizen_year_dkk")
"""Overall metrics this reference reports (same names and definitions as sim/model/metrics.py)."""


def logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def shift_odds(p: float, shift: float) -> float:
    """logistic(logit(p) + shift), also for p = 0 or 1 (channels.shift_odds)."""
    odds = p * math.exp(shift)
    return odds / (odds + 1 - p)


def poisson(rnd, lam: float, exp_neg_lam: float) -> int:
    """Knuth's multiplication method; fast for the small weekly rates of one citizen."""
    if lam <= 0.0:
        return 0
    k, prod = 0, rnd.random()
    while prod > exp_neg_lam:
        k += 1
        prod *= rnd.random()
    return k


def age_band(age: float) -> int:
    return bisect.bisect_right(AGE_BAND_EDGES, age) - 1


def draw_age(rnd, weights: list[float], max_age: int) -> float:
    """An age from age-band weights, uniform within a band (80+: truncated exponential, mean 7 years above 80)."""
    band = rnd.choices(range(len(AGE_BANDS)), weights=weights)[0]
    u = rnd.random()
    if band == len(AGE_BANDS) - 1:
        return 80 - 7.0 * math.log(1 - u * (1 - math.exp(-(max_age - 80) / 7.0)))
    return AGE_BAND_EDGES[band] + u * (AGE_BAND_EDGES[band + 1] - AGE_BAND_EDGES[band])


def week_after(first_week: int, years: float) -> int:
    """Week of an event ``years`` after the start of ``first_week`` (at the earliest ``first_week``)."""
    if years >= 2**31:
        return LAST_WEEK
    return min(first_week + max(1, math.ceil(years * 52)) - 1, LAST_WEEK)


class Task:
    """One open procedure of one citizen."""

    __slots__ = ("owner", "ttype", "complexity", "deadline", "value", "mandatory", "is_benefit", "attempts",
                 "route", "wait", "paper_tried", "held", "contest")

    def __init__(self, owner, ttype, complexity, deadline, value, mandatory, is_benefit):
        self.owner = owner
        self.ttype = ttype
        self.complexity = complexity
        self.deadline = deadline
        self.value = value
        self.mandatory = mandatory
        self.is_benefit = is_benefit
        self.attempts = 0
        self.route = FRESH
        self.wait = 0
        self.paper_tried = False
        self.held = False  # held in a failed back office this week (backoffice.py): no attempt, service or give-up
        self.contest = False  # a wrong automated decision to contest (automation.py)


class Case:
    """One case at a centre this week: a queued procedure (``task``) or a letter visit (``task`` None)."""

    __slots__ = ("owner", "task", "deadline", "mode", "expertise", "work", "eid_minutes", "minutes")

    def __init__(self, owner, task, deadline):
        self.owner = owner
        self.task = task
        self.deadline = deadline


class Citizen(mesa.Agent):
    """A resident aged 15+ with its own state, open procedures and unread letters.

    ``entrant``: joins during the run (a new 15-year-old or an immigrant): not
    aged in its first week, death and emigration from the next week.
    ``return_prob``: chance of being a temporary immigrant who leaves again.
    """

    def __init__(self, model: PlainModel, age: float, cohort_shift: float = 0.0, entrant: bool = False,
                 immigrant: bool = False, return_prob: float = 0.0):
        super().__init__(model)
        c = model.config.population
        self.entry_week = model.week if entrant else -1
        self.immigrant = immigrant
        self.draw_attributes(age, cohort_shift,
                             c.immigrant_language_barrier_share if immigrant else c.language_barrier_share)
        first = model.week + 1 if entrant else 0
        self.death_week = self.week_of_death(first)
        self.leave_week = self.week_of_leaving(first, return_prob)
        self.dp_status = NOT_ENROLLED
        self.read_access = False
        self.last_fail_week = self.last_need_week = NEVER
        self.last_procedure_fail_week = self.last_letter_miss_week = self.last_benefit_fail_week = NEVER
        self.last_unassisted_week = self.last_assisted_week = NEVER
        self.last_letter_week = self.last_read_week = NEVER
        self.wrong_decision_week = NEVER
        self.done = [0] * len(CHANNELS)
        self.letters_read = self.tasks_failed = self.help_received = 0
        self.minutes_spent = 0.0
        self.tasks: list[Task] = []
        self.letters: list[list[int]] = [[] for _ in LETTER_KINDS]  # deadline week of each unread letter
        self.course_offer = False
        self.gone = False
        model.centre_count[self.centre] += 1

    # ------------------------------------------------------------ attributes (sim/model/population.py)

    def draw_attributes(self, age: float, cohort_shift: float, language_share: float) -> None:
        """Education, impairment, language, skill, access, eID, support, trust, travel burden."""
        c, rnd = self.model.config.population, self.random
        self.age = age
        old_frac = min(max((age - 45.0) / 30.0, 0.0), 1.0)
        u = rnd.random()
        cum = 0.0
        self.education = 2
        for e in range(3):
            cum += c.education_shares_young[e] * (1 - old_frac) + c.education_shares_old[e] * old_frac
            if u <= cum:
                self.education = e
                break
        p_phys = c.physical_disability_base + c.physical_disability_per_decade * max((age - 45.0) / 10.0, 0.0)
        p_cog = c.cognitive_disability_base + (c.cognitive_disability_80plus - c.cognitive_disability_base) * (
            min(max((age - 60.0) / 25.0, 0.0), 1.0) ** 2)
        u = rnd.random()
        self.disability = 2 if u < p_cog else 1 if u < p_cog + min(max(p_phys, 0.0), 1.0) else 0
        self.language_barrier = rnd.random() < language_share
        self.homeless = rnd.random() < c.homeless_share
        logit = (c.skill_intercept + c.skill_age_slope * (age - 40.0) / 10.0
                 + c.skill_old_age_slope * max(age - 65.0, 0.0) / 10.0
                 + c.skill_education_effect[self.education]
                 + c.skill_cognitive_effect * (self.disability == 2)
                 + c.skill_physical_effect * (self.disability == 1)
                 + c.skill_language_effect * self.language_barrier
                 + cohort_shift + c.skill_noise_sd * rnd.gauss(0.0, 1.0))
        self.skill = logistic(logit)
        p_net = c.internet_base * (1 - c.internet_skill_weight * (1 - self.skill)) * (0.3 if self.homeless else 1.0)
        self.internet = rnd.random() < p_net
        p_eid = c.eid_base * (1 - c.eid_skill_weight * (1 - self.skill)) * (1.0 if self.internet else 0.5)
        self.eid = rnd.random() < p_eid
        mean = c.support_mean * (c.support_old_age_factor if age >= 75 else 1.0)
        self.support = min(poisson(rnd, mean, math.exp(-mean)), 20)
        a = c.trust_mean * c.trust_concentration
        self.trust = rnd.betavariate(a, c.trust_concentration - a)
        tb = c.travel_burden_mean
        self.travel_burden = rnd.betavariate(2.0 * tb / (1 - tb + 1e-9) + 1e-3, 2.0) if tb > 0 else 0.0
        self.centre = rnd.randrange(self.model.n_centres)
        self.aware_u, self.ident_u, self.proxy_u = rnd.random(), rnd.random(), rnd.random()

    # ------------------------------------------------------------ policy-dependent abilities

    def challenged(self) -> bool:
        return self.skill < self.model.config.population.challenged_threshold

    def can_self_serve(self) -> bool:
        return self.model.digital_live and self.internet and self.eid

    def has_proxy(self) -> bool:
        pol = self.model.policy.proxy
        return pol.available and self.model.digital_live and self.support > 0 and self.proxy_u < pol.uptake

    def prevents_use(self) -> bool:
        """Cannot use Digital Post: no home internet, no eID, or digitally challenged (the need for exemption)."""
        return not self.internet or not self.eid or self.challenged()

    def eligible(self) -> bool:
        """Meets a ground of the Digital Post Act: an impairment that prevents use, no internet, no eID, a
        language barrier or homelessness (sim/model/mechanisms/optout.py)."""
        if not self.internet or not self.eid or self.language_barrier or self.homeless:
            return True
        if self.disability > 0 or self.model.policy.optout.low_skill_eligible:
            return self.challenged()
        return False

    def reads_alone(self) -> float:
        """Weekly chance of reading pending letters alone (digital_post.reads_alone)."""
        m, b = self.model, self.model.config.behaviour
        if self.dp_status == ENROLLED and m.digital_live:
            if self.internet and self.eid:
                r = (b.letter_read_max * (1 - m.outage_fraction)
                     * logistic(b.letter_read_slope * (self.skill - b.letter_read_threshold)
                                + b.letter_read_trust_slope * (self.trust - 0.5)))
            else:
                r = 0.0
        else:
            r = b.paper_letter_read
        return r * b.letter_language_factor if self.language_barrier else r

    # ------------------------------------------------------------ state changes

    def learn(self, rate: float) -> None:
        self.skill += rate * (1 - self.skill)

    def trust_up(self, rate: float) -> None:
        self.trust += rate * (1 - self.trust)

    def trust_down(self, rate: float) -> None:
        self.trust -= rate * self.trust

    def spend_time(self, channel: int, attempts: int) -> None:
        m = self.model
        minutes = m.config.costs.citizen_minutes.get(CHANNELS[channel], 0.0)
        self.minutes_spent += minutes * attempts
        m.citizen_minutes += minutes * attempts

    def complete(self, tasks: list[Task], channel: int) -> None:
        """Procedures completed through ``channel``: counters, trust (once), metrics."""
        if not tasks:
            return
        m, b = self.model, self.model.config.behaviour
        self.done[channel] += len(tasks)
        if channel in ASSISTED:
            self.last_assisted_week = m.week
            self.help_received += len(tasks)
            self.trust_up(b.trust_gain_human_help)
        elif channel != AUTOMATION:
            self.last_unassisted_week = m.week
            self.trust_up(b.trust_gain_success)
        for t in tasks:
            t.route = RESOLVED
            self.tasks.remove(t)
            m.event("procedures_completed")
            if t.is_benefit:
                m.event("benefit_resolved")
        if channel == SELF_SERVICE:
            m.event("self_service_completed", len(tasks))
        elif channel == AUTOMATION:
            m.event("automated_completed", len(tasks))
        m.completed += len(tasks)

    def exclusion(self) -> None:
        """An exclusion event (one call of the mechanism): last failure and need now, trust falls once."""
        m = self.model
        self.last_fail_week = self.last_need_week = m.week
        self.trust_down(m.config.behaviour.trust_loss_failure)

    def fail(self, tasks: list[Task]) -> None:
        """Failed procedures (given up or past their deadline): each loses its value, a benefit is lost."""
        if not tasks:
            return
        m = self.model
        for t in tasks:
            t.route = RESOLVED
            self.tasks.remove(t)
        benefit = sum(t.is_benefit for t in tasks)
        self.tasks_failed += len(tasks)
        self.last_procedure_fail_week = m.week
        if benefit:
            self.last_benefit_fail_week = m.week
        m.event("procedures_failed", len(tasks))
        m.event("failed_value", sum(t.value for t in tasks))
        m.event("benefit_resolved", benefit)
        m.event("benefit_failed", benefit)
        m.failed += len(tasks)
        self.exclusion()

    def miss_letters(self, kind: int, count: int) -> None:
        """``count`` letters of ``kind`` missed; each had a consequential deadline with consequence_share."""
        m, rnd = self.model, self.random
        share = m.letter_consequence[kind]
        hit = sum(1 for _ in range(count) if rnd.random() < share)
        self.tasks_failed += count
        m.failed += count
        if hit:
            m.event(f"missed_{LETTER_KINDS[kind]}", hit)
            m.event("failed_value", hit * m.letter_value[kind])
            self.last_letter_miss_week = m.week
            self.exclusion()

    def back_to_choice(self, tasks: list[Task]) -> None:
        for t in tasks:
            t.route = AFTER_FAILURE
            t.attempts += 1

    def wait_or_leave(self, tasks: list[Task]) -> None:
        """Unserved at the phone or centre: wait a week, lose trust once, leave after max_wait_weeks."""
        m = self.model
        for t in tasks:
            t.wait += 1
        self.trust_down(m.config.behaviour.trust_loss_waiting)
        self.back_to_choice([t for t in tasks if t.wait >= m.policy.centre.max_wait_weeks])

    def teaching_readiness(self) -> float:
        """How far the citizen can complete a task, and learn, while taught (services.teaching_readiness)."""
        b = self.model.config.behaviour
        r = logistic(b.self_help_skill_slope * (self.skill - b.self_help_skill_threshold))
        return r * b.self_help_cognitive_factor if self.disability == 2 else r

    def centre_visit(self, cases: list[Case]) -> None:
        """Outcomes of this citizen's cases served at the centre this week (see ``PlainModel.serve_centres``)."""
        m, b, pol, rnd = self.model, self.model.config.behaviour, self.model.policy.centre, self.random
        self.spend_time(CENTRE, len(cases))
        ready = self.teaching_readiness()
        done = {CASEWORK: [], GREY: []}
        wrong, failed = [], []
        read = taught = own_login = False
        new_eid = False
        for c in cases:
            if c.mode == TEACHING:
                ok = rnd.random() < b.self_help_success * ready
                taught = True
            else:
                ok = rnd.random() < b.casework_success * (0.5 + 0.5 * c.expertise)
            if c.task is None:
                m.letter_visits += 1
                if ok:
                    read = True
                    own_login |= c.mode != CASEWORK
            elif not ok:
                failed.append(c.task)
            elif c.mode != TEACHING and rnd.random() < pol.deskilled_error_rate * (1 - c.expertise):
                wrong.append(c.task)
            else:
                done[CASEWORK if c.mode == TEACHING else c.mode].append(c.task)
            if c.mode == GREY:
                m.grey_cases += 1
                m.grey_incidents += rnd.random() < pol.grey_incident_probability
            if c.eid_minutes and rnd.random() < pol.eid_setup_success:
                new_eid = True
        if taught:
            self.learn(b.learn_by_teaching * ready)
        if new_eid:
            self.eid = True
            m.eids_set_up += 1
        m.casework_errors += len(wrong)
        self.fail(wrong)
        self.complete(done[CASEWORK], CENTRE)
        self.complete(done[GREY], SELF_SERVICE)  # grey practice: invisible, counted as self-service
        self.back_to_choice(failed)
        if read:
            n = sum(len(x) for x in self.letters)
            self.letters = [[] for _ in LETTER_KINDS]
            self.letters_read += n
            m.completed += n
            if own_login and self.dp_status == ENROLLED and m.digital_live:
                self.last_read_week = m.week

    # ------------------------------------------------------------ the week, first part

    def step(self) -> None:
        """Ageing, death and emigration, language learning, needs arriving, give-ups, channel choice, attempts."""
        m = self.model
        if self.entry_week < m.week:  # new 15-year-olds and immigrants join after this week's demography
            self.age_one_week()
            if self.leaves():
                return
        if self.immigrant and self.language_barrier and \
                self.random.random() < m.config.population.language_barrier_fade_per_year / 52:
            self.language_barrier = False
        band = age_band(self.age)
        self.needs_arrive(band)
        if self.tasks:
            self.hold()
            self.attempts()

    def age_one_week(self) -> None:
        c = self.model.config.population
        self.age += 1 / 52
        decline = (c.old_age_skill_decline * (self.age > 70) + c.cognitive_skill_decline * (self.disability == 2)) / 52
        if decline:
            self.skill = min(max(self.skill - decline, 0.0), 1.0)

    def week_of_death(self, first_week: int) -> int:
        """Gompertz time of death from the entry age by inverse transform, in weeks (mechanisms/demography.py)."""
        c = self.model.config.population
        a, b = c.annual_mortality_a, c.annual_mortality_b
        years = math.log1p(self.random.expovariate(1.0) * b * math.exp(-a - b * self.age)) / b
        return week_after(first_week, years)

    def week_of_leaving(self, first_week: int, return_prob: float) -> int:
        """Week of emigration, drawn at entry: the earlier of leaving at the age bands' emigration hazards
        (inverse transform of the piecewise-constant cumulative hazard) and, for a temporary immigrant, the
        end of an exponential stay (demography.schedule_emigration)."""
        c, rnd = self.model.config.population, self.random
        e = rnd.expovariate(1.0)
        leave_age = math.inf
        for band, name in enumerate(AGE_BANDS):
            rate = c.emigration_rates[name]
            start = max(self.age, AGE_BAND_EDGES[band])
            span = (AGE_BAND_EDGES[band + 1] if band + 1 < len(AGE_BANDS) else math.inf) - start
            if span <= 0 or rate <= 0:
                continue
            if e < rate * span:
                leave_age = start + e / rate
                break
            e -= rate * span
        years = leave_age - self.age
        if return_prob > 0 and rnd.random() < return_prob:
            years = min(years, rnd.expovariate(1.0 / c.immigrant_stay_years))
        return week_after(first_week, years)

    def leaves(self) -> bool:
        """Death or emigration in the week drawn at entry (death first): open tasks and letters are withdrawn."""
        m = self.model
        if m.week == self.death_week:
            m.deaths += 1
        elif m.week == self.leave_week:
            m.emigrants += 1
        else:
            return False
        for t in self.tasks:
            t.route = RESOLVED
        self.gone = True
        m.withdrawn += len(self.tasks) + sum(len(x) for x in self.letters)
        m.centre_count[self.centre] -= 1
        self.remove()
        return True

    def needs_arrive(self, band: int) -> None:
        """New procedures (some resolved at once by automation) and letters (sim/model/tasks.py, digital_post.py)."""
        m, rnd = self.model, self.random
        for ttype, (rate, enl) in enumerate(m.procedure_rates[band]):
            for _ in range(poisson(rnd, rate, enl)):
                spec = m.procedure_specs[ttype]
                complexity = min(max(spec.complexity_mean + spec.complexity_sd * rnd.gauss(0.0, 1.0), 0.0), 1.0)
                mandatory = spec.digital_eligible and m.mandate_active and rnd.random() < m.policy.mandatory_share
                t = Task(self, ttype, complexity, m.week + spec.deadline_weeks, spec.value_dkk, mandatory,
                         spec.is_benefit)
                self.tasks.append(t)
                m.arrived += 1
                if m.policy.digital_channels and rnd.random() < m.automation_share[ttype]:
                    self.automate(t)
        if self.wrong_decision_week == m.week:
            self.trust_down(m.policy.automation.wrong_decision_trust_loss)
        digital = self.dp_status == ENROLLED and m.digital_live
        for kind, (rate, enl) in enumerate(m.letter_rates[band]):
            k = poisson(rnd, rate, enl)
            if k:
                self.letters[kind].extend([m.week + m.letter_deadline[kind] - 1] * k)
                m.arrived += k
                if digital:
                    self.last_letter_week = m.week
                    m.letters_digital += k
                else:
                    m.letters_paper += k

    def automate(self, t: Task) -> None:
        """A procedure offered to proactive automation (automation.automate): refused with consent required
        (chance refusal_share x 2 x (1 - trust)); else one record, wrong with error_rate (then contested: harder,
        a short deadline, trust lost once this week), else completed by automation."""
        m, a, rnd = self.model, self.model.policy.automation, self.random
        if a.consent_required and rnd.random() < min(1.0, a.refusal_share * 2.0 * (1.0 - self.trust)):
            return
        m.automation_records += 1
        if rnd.random() < a.error_rate:
            t.contest = True
            t.complexity = max(t.complexity, a.contest_complexity)
            t.deadline = m.week + a.contest_deadline_weeks
            self.wrong_decision_week = m.week
        else:
            self.complete([t], AUTOMATION)

    def hold(self) -> None:
        """The back office this week (backoffice.backoffice_week): held procedures are released; while it is
        down, each open procedure is held with chance slowdown[type] (its deadline a week later if extended)."""
        m = self.model
        for t in self.tasks:
            t.held = False
        if not m.backoffice_down:
            return
        bo, rnd = m.policy.backoffice, self.random
        for t in self.tasks:
            if rnd.random() < m.backoffice_slowdown[t.ttype]:
                t.held = True
                m.backoffice_held += 1
                if bo.extend_deadlines:
                    t.deadline += 1

    def attempts(self) -> None:
        """Give-ups, then one attempt per open task by its chosen channel (sim/model/mechanisms/channels.py)."""
        m, b, rnd = self.model, self.model.config.behaviour, self.random
        p_base = b.giveup_base + b.giveup_alienation * (1 - self.trust)
        self.fail([t for t in self.tasks if t.route > FRESH and not t.held
                   and rnd.random() < p_base + b.giveup_per_failure * t.attempts])
        ready = [t for t in self.tasks if t.route in (FRESH, AFTER_FAILURE) and not t.held]
        if not ready:
            return
        can, proxy = self.can_self_serve(), self.has_proxy()
        able = can or proxy
        prefers_p = logistic(b.digital_preference_slope * (self.skill - 0.5 + self.trust - 0.5))
        challenged = self.skill < m.config.population.challenged_threshold
        p_centre = min(max(b.centre_preference + 0.3 * challenged - 0.5 * self.travel_burden, 0.0), 1.0)
        paper_for_all = m.policy.paper_on_request or not m.digital_live
        # Trust in help seeking (channels.choose_channels): the distrustful ask a relative more often, and
        # stay away from the phone and the centre this week with chance trust_help_avoidance x (1 - trust).
        p_relative = shift_odds(b.relative_uptake, b.trust_relative_slope * (0.5 - self.trust))
        p_away = b.trust_help_avoidance * (1 - self.trust)
        chosen: list[list[Task]] = [[] for _ in range(5)]
        for t in ready:
            u1 = rnd.random()
            paper = paper_for_all or not t.mandatory or self.dp_status == EXEMPT
            if t.route == FRESH and able and (not paper or u1 < prefers_p):
                chosen[SELF_SERVICE].append(t)
            elif paper and not t.paper_tried:
                chosen[PAPER].append(t)
            elif t.route == AFTER_FAILURE and able and u1 < b.retry_probability * self.skill:
                chosen[SELF_SERVICE].append(t)
            elif self.support > 0 and (proxy or rnd.random() < p_relative):
                chosen[RELATIVE].append(t)
            elif rnd.random() < p_away:
                t.route = AFTER_FAILURE  # asks nobody this week: waits, may be given up, no failed attempt
            elif rnd.random() < p_centre:
                chosen[CENTRE].append(t)
            else:
                chosen[PHONE].append(t)
        if chosen[SELF_SERVICE]:
            self.self_service(chosen[SELF_SERVICE], can, proxy)
        if chosen[PAPER]:
            self.paper(chosen[PAPER])
        if chosen[RELATIVE]:
            self.relative(chosen[RELATIVE], proxy)
        for channel, route, queue in ((PHONE, QUEUED_PHONE, m.phone_queue), (CENTRE, QUEUED_CENTRE, m.centre_queue)):
            for t in chosen[channel]:
                t.route, t.wait = route, 0
                queue.append(t)

    def self_service(self, tasks: list[Task], can: bool, proxy: bool) -> None:
        """Self-service: logistic success in (effective skill - complexity); a proxy relative if unable."""
        m, b, rnd = self.model, self.model.config.behaviour, self.random
        plat = m.policy.platform
        by_proxy = proxy and not can
        eff = (self.skill * plat.usability + plat.accessibility * (self.disability > 0)
               + plat.language_support * self.language_barrier + plat.senior_design * (self.age >= SENIOR_AGE))
        ok, failed = [], []
        for t in tasks:
            if by_proxy:
                p = b.proxy_success
            else:
                p = logistic(b.self_service_slope * (eff - t.complexity)) * (1 - m.outage_fraction)
            (ok if rnd.random() < p else failed).append(t)
        if self.skill < m.config.population.challenged_threshold and any(t.mandatory for t in tasks):
            self.trust_down(b.trust_loss_forced)
        m.self_service_contacts += len(tasks)
        self.spend_time(SELF_SERVICE, len(tasks))
        self.complete(ok, RELATIVE if by_proxy else SELF_SERVICE)
        if ok and not by_proxy:
            self.learn(b.learn_by_doing)
        if failed:
            self.trust_down(b.trust_loss_attempt)
            self.back_to_choice(failed)

    def paper(self, tasks: list[Task]) -> None:
        m, rnd = self.model, self.random
        ok = [t for t in tasks if rnd.random() < m.config.behaviour.paper_success]
        m.paper_contacts += len(tasks)
        self.spend_time(PAPER, len(tasks))
        self.complete(ok, PAPER)
        failed = [t for t in tasks if t not in ok]
        for t in failed:
            t.paper_tried = True  # a failed form leads to help next time
        self.back_to_choice(failed)

    def relative(self, tasks: list[Task], proxy: bool) -> None:
        m, b, rnd = self.model, self.model.config.behaviour, self.random
        p = (b.proxy_success if proxy else b.relative_success) if m.digital_live else b.paper_success
        ok = [t for t in tasks if rnd.random() < p]
        self.spend_time(RELATIVE, len(tasks))
        self.complete(ok, RELATIVE)
        if ok:
            self.learn(b.learn_from_relative)
        self.back_to_choice([t for t in tasks if t not in ok])

    # ------------------------------------------------------------ the week, second part

    def settle(self) -> None:
        """Reading mail, deadlines, a skills course if offered, access, exemption, enrolment and read access."""
        m = self.model
        if any(self.letters):
            self.read_mail()
        if self.tasks:
            self.fail([t for t in self.tasks if t.deadline <= m.week])
        for kind, letters in enumerate(self.letters):
            if letters and letters[0] <= m.week:
                k = sum(1 for d in letters if d <= m.week)
                del letters[:k]
                self.miss_letters(kind, k)
        if m.trust_recovery:  # trust drifts back to its long-run level (learning.trust_recovery)
            self.trust += m.trust_recovery * (m.config.population.trust_mean - self.trust)
        if self.course_offer:
            self.course_offer = False
            if self.random.random() < m.policy.courses.uptake:
                self.learn(m.policy.courses.effect)
                m.course_places += 1
        self.acquire_access()
        if m.exemption_open:
            self.opt_out()
        if m.digital_live:
            self.enrol()
        if m.read_access_open and self.dp_status == ENROLLED and self.support > 0 and not self.read_access:
            self.grant_read_access()

    def read_mail(self) -> None:
        """Pending letters read alone, through a relative with read access, or with help (digital_post.read_mail).

        A reader clears everything pending. Only the citizen's own log-ins (alone
        or helped) count as reading Digital Post; reading is not a procedure.
        """
        m, b, rnd = self.model, self.model.config.behaviour, self.random
        digital = self.dp_status == ENROLLED and m.digital_live
        alone = rnd.random() < self.reads_alone()
        by_access = helped = False
        if not alone:
            by_access = (digital and self.read_access and m.read_access_open
                         and rnd.random() < b.read_access_check * (1 - m.outage_fraction))
            if not by_access and self.support > 0 and (not digital or self.eid):
                odds = b.letter_help_ask * math.exp(b.letter_read_trust_slope * (self.trust - 0.5))
                ask = odds / (odds + 1 - b.letter_help_ask)
                helped = rnd.random() < ask * b.relative_success
        if alone or by_access or helped:
            n = sum(len(x) for x in self.letters)
            self.letters = [[] for _ in LETTER_KINDS]
            self.letters_read += n
            if digital and not by_access:
                self.last_read_week = m.week
            m.completed += n
        else:
            m.unread_now.append(self)  # may take the letters to the centre next week (services.letter_requests)

    def acquire_access(self) -> None:
        """Internet, then an eID, acquired with a weekly chance proportional to skill (mechanisms/access.py)."""
        b = self.model.config.behaviour
        if not self.internet:
            self.internet = self.random.random() < b.internet_uptake_per_year / 52 * self.skill
        elif not self.eid:
            self.eid = self.random.random() < b.eid_uptake_per_year / 52 * self.skill

    def opt_out(self) -> None:
        """Exemption by the policy's rule for the eligible; the exempt without a ground may return (optout.py)."""
        m, pol, b, rnd = self.model, self.model.policy.optout, self.model.config.behaviour, self.random
        eligible = self.eligible()
        if self.dp_status != EXEMPT and eligible:
            route = None
            if pol.rule == "automatic":
                if self.ident_u < pol.automatic_identification:
                    route = "automatic"
            else:
                if m.optout_campaign:
                    aware = True
                else:
                    contact = m.week - self.last_assisted_week < CONTACT_WINDOW_WEEKS
                    unaware = ((1 - pol.awareness) * (1 - pol.contact_awareness * contact)
                               * (1 - pol.relative_awareness * (self.support > 0)))
                    aware = self.aware_u < 1 - unaware
                if aware:
                    need = b.optout_need_factor if self.prevents_use() else 1.0
                    failure = b.optout_failure_factor if m.week - self.last_need_week < NEED_WINDOW_WEEKS else 1.0
                    distrust = math.exp(b.trust_optout_slope * (0.5 - self.trust))
                    h = (pol.apply_hazard_per_year / 52 * need * failure * distrust
                         * (pol.campaign_factor if m.optout_campaign else 1.0))
                    u = rnd.random()
                    if pol.rule == "in_person":
                        limited = self.age >= 80 or self.disability == 1
                        burden = max(self.travel_burden, 0.8 * limited)
                        own = h * (1 - pol.in_person_mobility_penalty * burden)
                        by_relative = h * pol.relative_declaration * (self.support > 0)
                        h = 1 - (1 - own) * (1 - by_relative)
                        route = "in_person" if u < own else "relative" if u < h else None
                    elif u < h:
                        route = "remote"
            if route is not None:
                self.dp_status = EXEMPT
                m.book_exemption(self, route)
        elif self.dp_status == EXEMPT and not eligible and rnd.random() < pol.revert_per_year / 52:
            self.dp_status = ENROLLED if m.mandate_enrols else NOT_ENROLLED

    def enrol(self) -> None:
        """Automatic under a Digital Post mandate; else voluntary (hazard in skill squared) and reversible:
        an enrolled citizen leaves for paper at dp_leave_per_year x (1 - chance of reading alone)."""
        m, b = self.model, self.model.config.behaviour
        if m.mandate_enrols:
            if self.dp_status == NOT_ENROLLED:
                self.dp_status = ENROLLED
        elif self.dp_status == ENROLLED:
            u, h = self.random.random(), b.dp_leave_per_year / 52
            if u < h and u < h * (1 - self.reads_alone()):  # reads_alone only when it can matter
                self.dp_status = NOT_ENROLLED
        elif self.dp_status == NOT_ENROLLED and self.internet and self.eid:
            h = b.enrol_hazard_per_year / 52 * m.policy.enrolment_campaign * self.skill ** 2
            if self.random.random() < h:
                self.dp_status = ENROLLED

    def grant_read_access(self) -> None:
        """A relative gets read access to this enrolled citizen's Digital Post (for life), more often if the
        citizen cannot read it alone (digital_post.grant_read_access)."""
        h, h_unable = self.model.read_access_hazards
        u = self.random.random()
        if u < h or (u < h_unable and (not self.internet or not self.eid or self.challenged())):
            self.read_access = True


class PlainModel(mesa.Model):
    """The digex week with one Citizen object per resident; overall metrics only."""

    def __init__(self, config: Config | None = None, seed: int | None = None):
        config = Config() if config is None else Config.model_validate(config.model_dump())
        seed = config.run.seed if seed is None else seed
        super().__init__(rng=seed)
        self.config = config
        self.policy = config.policy.model_copy(deep=True)
        self.timeline = sorted(config.timeline, key=lambda c: c.date)
        self.week = 0
        pc = config.population
        self.n_centres = self.policy.centre.centres
        self.centre_count = [0] * self.n_centres
        self.centre_expertise = [1.0] * self.n_centres
        self.centre_overrun = [0.0] * self.n_centres
        self.centre_spare = [0.0] * self.n_centres
        self.phone_overrun = [0.0]
        self.procedure_specs = [config.tasks.procedures[k] for k in PROCEDURE_TYPES]
        self.letter_deadline = [config.tasks.letters[k].deadline_weeks for k in LETTER_KINDS]
        self.letter_value = [config.tasks.letters[k].value_dkk for k in LETTER_KINDS]
        self.letter_consequence = [config.tasks.letters[k].consequence_share for k in LETTER_KINDS]
        self.immigration_weights = [pc.immigration_age_shares[b] for b in AGE_BANDS]
        self.phone_queue: list[Task] = []
        self.centre_queue: list[Task] = []
        self.unread_now: list[Citizen] = []  # had letters pending at this week's reading but read none
        self.unread_last: list[Citizen] = []
        self.backoffice_down_until = 0
        self.backoffice_down = False
        self.arrived = self.completed = self.failed = self.withdrawn = 0
        self.deaths = self.entrants = self.immigrants = self.emigrants = 0
        self.spans = window_spans(config.run.start, config.run.weeks)
        self.window: deque[dict[str, float]] = deque(maxlen=SLOTS)
        self.records: list[dict[str, float]] = []
        self.start_counters()

        # The starting population includes temporary immigrants who will leave again
        # (demography.temporary_immigrant_share): a stock of immigration x return share x mean stay.
        stock = pc.immigration_per_year * pc.immigrant_return_share * pc.immigrant_stay_years
        temporary = [min(1.0, stock * pc.immigration_age_shares[b] / max(pc.age_band_shares[b], 1e-12))
                     for b in AGE_BANDS]
        weights = [pc.age_band_shares[b] for b in AGE_BANDS]
        for _ in range(pc.size):
            age = draw_age(self.random, weights, pc.max_age)
            Citizen(self, age, return_prob=temporary[age_band(age)])
        share = pc.initial_enrolled_share
        for a in self.agents:
            able = a.internet and a.eid and self.policy.digital_channels
            if able and self.random.random() < share * 2 * a.skill:
                a.dp_status = ENROLLED

        plat = self.policy.platform
        delayed = self.random.random() < plat.delay_probability
        self.launch_delay = dt.timedelta(weeks=self.random.expovariate(1 / plat.delay_weeks_mean)
                                         if delayed and plat.delay_weeks_mean > 0 else 0.0)
        self.overrun = self.random.random() < plat.overrun_probability
        self.outage_fraction = 0.0
        self.digital_live = False

    # ------------------------------------------------------------ time and policy

    @property
    def date(self) -> dt.date:
        return self.config.run.start + dt.timedelta(weeks=self.week)

    def policy_state(self) -> None:
        """This week's policy-dependent flags and arrival rates (the same for every citizen)."""
        date, pol = self.date, self.policy
        launch = pol.platform.launch + self.launch_delay
        self.digital_live = pol.digital_channels and date >= launch
        start = pol.mandate_start
        self.mandate_active = start is not None and date >= start and self.digital_live
        self.mandate_enrols = self.mandate_active and pol.digital_post_mandatory
        # Exemption opens on the date of the rules (optout.available_from, else the mandate's start),
        # where Digital Post is to become mandatory (optout.exemption_open).
        self.exemption_open = (start is not None and pol.digital_post_mandatory and pol.digital_channels
                               and date >= (pol.optout.available_from or start))
        self.optout_campaign = self.mandate_active and \
            (date - max(start, launch)).days < 7 * pol.optout.campaign_weeks
        self.read_access_open = self.digital_live and date >= pol.proxy.read_access_from
        b = self.config.behaviour
        self.read_access_hazards = (b.read_access_per_year / 52,
                                    b.read_access_per_year / 52 * b.read_access_unable_factor)
        self.trust_recovery = b.trust_recovery_per_year / 52
        self.backoffice_slowdown = [pol.backoffice.slowdown.get(t, 0.0) for t in PROCEDURE_TYPES]
        self.automation_share = [pol.automation_share.get(t, 0.0) for t in PROCEDURE_TYPES]
        iso = date.isocalendar().week
        self.procedure_rates = []
        self.letter_rates = []
        for band in AGE_BANDS:
            rates = []
            for spec in self.procedure_specs:
                mult = spec.age_rates.get(band, 1.0)
                if spec.season_weeks is None:
                    r = spec.rate_per_year * mult / 52.0
                else:
                    a, b = spec.season_weeks
                    r = spec.rate_per_year * mult / (b - a + 1) if a <= iso <= b else 0.0
                rates.append((r, math.exp(-r)))
            self.procedure_rates.append(rates)
            lrates = []
            for k in LETTER_KINDS:
                spec = self.config.tasks.letters[k]
                r = spec.rate_per_year * spec.age_rates.get(band, 1.0) / 52
                lrates.append((r, math.exp(-r)))
            self.letter_rates.append(lrates)

    def apply_timeline(self) -> None:
        week_end = self.date + dt.timedelta(days=7)
        while self.timeline and self.timeline[0].date < week_end:
            self.policy = with_values(self.policy, self.timeline.pop(0).set)

    def start_counters(self) -> None:
        self.events = dict.fromkeys(EVENTS, 0.0)
        self.self_service_contacts = self.paper_contacts = self.automation_records = 0
        self.letters_digital = self.letters_paper = self.course_places = self.exemptions = 0
        self.backoffice_held = self.casework_errors = self.grey_cases = self.grey_incidents = 0
        self.letter_visits = self.eids_set_up = self.privacy_exposed = 0
        self.citizen_minutes = 0.0
        self.cost = 0.0

    def event(self, name: str, amount: float = 1.0) -> None:
        self.events[name] += amount

    # ------------------------------------------------------------ the week

    def step(self) -> None:
        if self.week >= self.config.run.weeks:
            self.running = False
            return
        self.apply_timeline()
        self.start_counters()
        self.policy_state()
        self.platform_week()
        self.backoffice_week()
        self.add_entrants()
        self.add_immigrants()
        self.unread_last, self.unread_now = self.unread_now, []
        self.agents.shuffle_do("step")
        self.privacy_incidents()
        self.serve_phone()
        self.serve_centres()
        self.offer_courses()
        self.agents.shuffle_do("settle")
        self.add_costs()
        self.record()
        self.week += 1
        if self.week >= self.config.run.weeks:
            self.running = False

    def platform_week(self) -> None:
        plat = self.policy.platform
        k = self.rng.poisson(plat.outage_rate_per_year / 52)
        self.outage_fraction = min(1.0, k * plat.outage_days / 7) if self.digital_live else 0.0
        # The build runs from build_weeks before the planned launch to the actual launch: the budget (times the
        # overrun factor) is spread over build_weeks plus the delay (DigexModel.platform_week).
        build_start = plat.launch - dt.timedelta(weeks=plat.build_weeks)
        if self.policy.digital_channels and build_start <= self.date < plat.launch + self.launch_delay:
            factor = plat.overrun_factor if self.overrun else 1.0
            weeks = plat.build_weeks + self.launch_delay / dt.timedelta(weeks=1)
            self.cost += plat.build_budget_dkk * factor / weeks / self.config.population.weight
        if self.digital_live:
            self.cost += plat.running_cost_per_year_dkk / 52 / self.config.population.weight

    def backoffice_week(self) -> None:
        """Whether the back office is down this week (a dated failure, or a random one: start chance
        1 - exp(-rate / 52) while none lasts, length max(1, round(Exponential(mean))) weeks), and its costs:
        the programme's spending as IT build and, while down, the extra staff (backoffice.py). The citizens
        hold their procedures in their own step (``Citizen.hold``)."""
        bo, weight = self.policy.backoffice, self.config.population.weight
        if bo.failure_rate_per_year > 0 and self.week >= self.backoffice_down_until \
                and self.random.random() < -math.expm1(-bo.failure_rate_per_year / 52):
            self.backoffice_down_until = self.week + max(1, round(self.random.expovariate(1 / bo.failure_weeks_mean)))
        self.backoffice_down = bo.down or self.week < self.backoffice_down_until
        self.cost += bo.programme_cost_per_year_dkk / 52 / weight
        if self.backoffice_down:
            self.cost += bo.failure_staff * FULL_TIME_HOURS * self.config.costs.staff_cost_per_hour_dkk / weight

    def privacy_incidents(self) -> None:
        """This week's privacy incidents of automation (automation.privacy_incidents): Poisson(records x weight x
        privacy_incident_rate) incidents expose Poisson(incidents x incident_citizens / weight) citizens whose
        records automation processed, who lose trust; public ones lower every citizen's trust a little."""
        if self.automation_records == 0:
            return
        a, weight = self.policy.automation, self.config.population.weight
        k = int(self.rng.poisson(self.automation_records * weight * self.policy.privacy_incident_rate))
        if k == 0:
            return
        pool = [c for c in self.agents if c.done[AUTOMATION] > 0]
        exposed = self.random.sample(pool, min(len(pool), int(self.rng.poisson(k * a.incident_citizens / weight))))
        for c in exposed:
            c.trust_down(a.incident_trust_loss)
        self.privacy_exposed += len(exposed)
        public = sum(1 for _ in range(k) if self.random.random() < a.public_incident_share)
        if public:
            loss = 1.0 - (1.0 - a.public_trust_loss) ** public
            for c in self.agents:
                c.trust_down(loss)

    def add_entrants(self) -> None:
        """New 15-year-olds, later cohorts more skilled; they join this week's step without ageing."""
        c = self.config.population
        k = int(self.rng.poisson(c.entrants_per_year * c.size / 52))
        for _ in range(k):
            Citizen(self, 15.0 + self.random.random() / 52, c.cohort_skill_gain_per_year * self.week / 52, entrant=True)
        self.entrants += k

    def add_immigrants(self) -> None:
        """Immigrants aged 15+ (ages by immigration_age_shares, language barrier at the immigrants' share,
        temporary with immigrant_return_share); not enrolled; they join this week's step without ageing."""
        c = self.config.population
        k = int(self.rng.poisson(c.immigration_per_year * c.size / 52))
        for _ in range(k):
            Citizen(self, draw_age(self.random, self.immigration_weights, c.max_age), entrant=True, immigrant=True,
                    return_prob=c.immigrant_return_share)
        self.immigrants += k

    def earliest_deadline_first(self, queue: list[Task], groups, costs, capacity, overrun) -> tuple[list, list, list]:
        """Served and unserved requests: earliest deadline first (random ties) while each group has minutes left.

        The last case served may run over; minutes run over are taken from the
        group's next week (``overrun`` is updated in place), as in sim/model/mechanisms/services.py.
        Also returns each group's spare minutes this week (capacity left after the queue).
        """
        keyed = sorted(queue, key=lambda t: (t.deadline, self.random.random()))
        available = [c - o for c, o in zip(capacity, overrun, strict=True)]
        used = [0.0] * len(capacity)
        served, unserved = [], []
        for t in keyed:
            g = groups(t)
            if used[g] < available[g]:
                used[g] += costs(t)
                served.append(t)
            else:
                unserved.append(t)
        for g, c in enumerate(capacity):
            overrun[g] = 0.0 if math.isinf(c) else max(0.0, used[g] - available[g])
        spare = [max(0.0, a - u) for a, u in zip(available, used, strict=True)]
        return served, unserved, spare

    @staticmethod
    def by_owner(tasks: list[Task]) -> dict[Citizen, list[Task]]:
        out: dict[Citizen, list[Task]] = {}
        for t in tasks:
            out.setdefault(t.owner, []).append(t)
        return out

    def serve_phone(self) -> None:
        """Phone calls up to the agents' weekly minutes; success falls with complexity and a language barrier
        (mechanisms/services.py)."""
        b, pol = self.config.behaviour, self.policy.phone
        queue = [t for t in self.phone_queue if t.route == QUEUED_PHONE]
        held = [t for t in queue if t.held]  # held in a failed back office: not served, kept in the queue
        queue = [t for t in queue if not t.held]
        cap = math.inf if self.policy.unlimited_capacity else \
            pol.agents_per_10k * len(self.agents) / 1e4 * pol.hours_per_week * 60
        served, unserved, _ = self.earliest_deadline_first(queue, lambda t: 0, lambda t: pol.minutes_per_call, [cap],
                                                           self.phone_overrun)
        minutes = len(served) * pol.minutes_per_call if math.isinf(cap) else cap
        self.cost += minutes / 60 * self.config.costs.staff_cost_per_hour_dkk
        for owner, tasks in self.by_owner(served).items():
            owner.spend_time(PHONE, len(tasks))
            language = 1 - b.phone_language_penalty * owner.language_barrier
            ok = [t for t in tasks if self.random.random() < b.phone_success * (1 - b.phone_complexity_penalty
                                                                                 * t.complexity) * language]
            owner.complete(ok, PHONE)
            owner.back_to_choice([t for t in tasks if t not in ok])
        for owner, tasks in self.by_owner(unserved).items():
            owner.wait_or_leave(tasks)
        self.phone_queue = held + [t for t in unserved if t.route == QUEUED_PHONE]

    def serve_centres(self) -> None:
        """Centre cases per centre up to its helpers' minutes (services.serve_centres, docs/ODD.md section 7.7).

        The cases are the queued procedures and this week's letter visits: a citizen who had letters pending
        at last week's reading but read none, and still has some, comes with chance letter_centre_ask x
        (1 - travel burden), due next week. Each case is help to self-help with chance self_help_share, done
        by the helper logged in as the citizen (grey practice) with chance grey_share if the citizen has an eID
        and self-service is live, else casework. Minutes: teaching minutes_self_help (minutes_letter_self_help
        for letters); casework and grey minutes_casework (minutes_letter) x (1 + deskilled_extra_time x
        (1 - expertise)); plus minutes_eid for a visitor without an eID who is not exempt, plus documentation
        (systems x documentation_minutes_per_system). Success: casework_success x (0.5 + 0.5 x expertise) when
        the helper does it, self_help_success x readiness when taught (readiness = logistic(self_help_skill_slope
        x (skill - self_help_skill_threshold)), times self_help_cognitive_factor with a cognitive impairment).
        A procedure done by the helper is done wrongly, and fails, with chance deskilled_error_rate x
        (1 - expertise); a grey success counts as self-service. A taught citizen learns learn_by_teaching x
        readiness (once a week). A letter case that succeeds reads every pending letter. A served visitor
        without an eID (not exempt) gets one with chance eid_setup_success. The minutes left after the queue
        are the centre's spare minutes this week, which exemption applications at the centre use first
        (``book_exemption``).
        """
        b, pol, rnd = self.config.behaviour, self.policy.centre, self.random
        queue = [t for t in self.centre_queue if t.route == QUEUED_CENTRE]
        held = [t for t in queue if t.held]  # held in a failed back office: not served, kept in the queue
        cases = [Case(t.owner, t, t.deadline) for t in queue if not t.held]
        for a in self.unread_last:
            if not a.gone and any(a.letters) and rnd.random() < b.letter_centre_ask * (1 - a.travel_burden):
                cases.append(Case(a, None, self.week + 1))
        doc = pol.documentation_minutes
        for c in cases:
            a = c.owner
            if rnd.random() < pol.self_help_share:
                c.mode = GREY if rnd.random() < pol.grey_share and a.eid and self.digital_live else TEACHING
            else:
                c.mode = CASEWORK
            c.expertise = e = self.centre_expertise[a.centre]
            letter = c.task is None
            if c.mode == TEACHING:
                c.work = pol.minutes_letter_self_help if letter else pol.minutes_self_help
            else:
                c.work = (pol.minutes_letter if letter else pol.minutes_casework) * (1 + pol.deskilled_extra_time
                                                                                     * (1 - e))
            c.eid_minutes = pol.minutes_eid if not a.eid and a.dp_status != EXEMPT else 0.0
            c.minutes = c.work + c.eid_minutes + doc
        if self.policy.unlimited_capacity:
            cap = [math.inf] * self.n_centres
        else:
            cap = [pol.helpers_per_10k * n / 1e4 * pol.hours_per_week * 60.0 for n in self.centre_count]
        served, unserved, self.centre_spare = self.earliest_deadline_first(
            cases, lambda c: c.owner.centre, lambda c: c.minutes, cap, self.centre_overrun)
        casework = [0.0] * self.n_centres
        teaching = [0.0] * self.n_centres
        for c in served:
            casework[c.owner.centre] += (c.work if c.mode == CASEWORK else 0.0) + c.eid_minutes
            teaching[c.owner.centre] += c.work if c.mode != CASEWORK else 0.0
        used = sum(casework) + sum(teaching) + len(served) * doc
        minutes = used if self.policy.unlimited_capacity else sum(cap)
        self.cost += minutes / 60 * self.config.costs.staff_cost_per_hour_dkk
        self.cost += len(served) * self.config.costs.centre_overhead_per_visit_dkk
        for owner, owned in self.by_owner(served).items():
            owner.centre_visit(owned)
        for owner, tasks in self.by_owner([c.task for c in unserved if c.task is not None]).items():
            owner.wait_or_leave(tasks)
        self.centre_queue = held + [c.task for c in unserved if c.task is not None and c.task.route == QUEUED_CENTRE]
        for c in range(self.n_centres):
            case = casework[c] + teaching[c]
            if case > 0:
                share, e = casework[c] / case, self.centre_expertise[c]
                e += (pol.expertise_gain_per_year / 52 * share * (1 - e)
                      - pol.expertise_decay_per_year / 52 * (1 - share) * e)
                self.centre_expertise[c] = min(max(e, 0.0), 1.0)

    def book_exemption(self, citizen: Citizen, route: str) -> None:
        """A granted exemption's staff time and public cost by route (optout.book_applications, costs.py).

        in_person and relative: minutes_in_person helper minutes at the citizen's
        centre, from its spare minutes this week, the rest carried as overrun into
        next week's capacity; a premises cost per visit (and the minutes if capacity
        is unlimited); an own visit takes the citizen's centre time. remote: the
        minutes at the staff hourly cost. automatic: one register record.
        """
        pol, c = self.policy.optout, self.config.costs
        self.exemptions += 1
        if route in ("in_person", "relative"):
            minutes, centre = pol.minutes_in_person, citizen.centre
            from_spare = min(self.centre_spare[centre], minutes)
            self.centre_spare[centre] -= from_spare
            self.centre_overrun[centre] += minutes - from_spare
            self.cost += c.centre_overhead_per_visit_dkk
            if self.policy.unlimited_capacity:
                self.cost += minutes / 60 * c.staff_cost_per_hour_dkk
            if route == "in_person":
                citizen.spend_time(CENTRE, 1)
        elif route == "remote":
            self.cost += pol.minutes_remote / 60 * c.staff_cost_per_hour_dkk
        else:
            self.cost += c.automation_per_record_dkk

    def offer_courses(self) -> None:
        """This week's course places go to random digitally challenged citizens (they decide in settle)."""
        pol = self.policy.courses
        offered = int(self.rng.poisson(pol.places_per_10k_per_year * len(self.agents) / 1e4 / 52))
        if offered == 0:
            return
        thr = self.config.population.challenged_threshold
        pool = [a for a in self.agents if a.skill < thr]
        for a in self.random.sample(pool, min(offered, len(pool))):
            a.course_offer = True

    def add_costs(self) -> None:
        c = self.config.costs
        self.cost += self.self_service_contacts * c.online_per_transaction_gbp * c.dkk_per_gbp
        self.cost += self.paper_contacts * c.paper_per_transaction_gbp * c.dkk_per_gbp
        self.cost += self.letters_digital * c.digital_letter_dkk + self.letters_paper * c.paper_letter_dkk
        self.cost += self.automation_records * c.automation_per_record_dkk
        self.cost += self.course_places * c.course_per_place_dkk

    # ------------------------------------------------------------ metrics

    def record(self) -> None:
        """This week's overall metrics (definitions of sim/model/metrics.py, no group breakdown).

        Event metrics sum the weeks of the 'last year' window (52 or 53 weeks back to
        the same ISO week, ``metrics.window_spans``), annualised by YEAR_WEEKS / span.
        """
        self.window.append({**self.events, "cost": self.cost})
        wk = self.week
        span = int(self.spans[wk])
        recent = list(self.window)[-span:]
        ev = {k: sum(w[k] for w in recent) for k in recent[0]}
        per_year = YEAR_WEEKS / span
        since = wk - span  # "in the last year": after this week
        thr_c = self.config.population.challenged_threshold
        thr_a = self.config.behaviour.alienated_threshold
        n = excluded = failed_proc = missed_letter = lost_benefit = 0
        enrolled = exempt = inactive = challenged = alienated = 0
        assisted = dependent = completed_recent = 0
        trust = skill = 0.0
        for a in self.agents:
            n += 1
            excluded += a.last_fail_week > since
            failed_proc += a.last_procedure_fail_week > since
            missed_letter += a.last_letter_miss_week > since
            lost_benefit += a.last_benefit_fail_week > since
            helped = a.last_assisted_week > since
            alone = a.last_unassisted_week > since
            completed_recent += helped or alone
            assisted += helped
            dependent += helped and not alone
            if a.dp_status == ENROLLED:
                enrolled += 1
                inactive += (a.last_letter_week > wk - INACTIVE_WINDOW) and (a.last_read_week <= wk - INACTIVE_WINDOW)
            elif a.dp_status == EXEMPT:
                exempt += 1
            challenged += a.skill < thr_c
            alienated += a.trust < thr_a
            trust += a.trust
            skill += a.skill

        def ratio(x: float, y: float) -> float:
            return x / y if y > 0 else float("nan")

        done, auto = ev["procedures_completed"], ev["automated_completed"]
        self.records.append({
            "week": wk,
            "exclusion_rate": ratio(excluded, n),
            "failed_procedure_share": ratio(failed_proc, n),
            "missed_letter_share": ratio(missed_letter, n),
            **{f"missed_{k}_letters_per_citizen": ratio(ev[f"missed_{k}"] * per_year, n) for k in LETTER_KINDS},
            "lost_benefit_share": ratio(lost_benefit, n),
            "welfare_loss_per_citizen_dkk": ratio(ev["failed_value"] * per_year, n),
            "failed_task_share": ratio(ev["procedures_failed"], ev["procedures_failed"] + done),
            "non_take_up_rate": ratio(ev["benefit_failed"], ev["benefit_resolved"]),
            "digital_share": ratio(ev["self_service_completed"], done - auto),
            "automation_share": ratio(auto, done),
            "assisted_share": ratio(assisted, completed_recent),
            "dependent_share": ratio(dependent, completed_recent),
            "enrolled_share": ratio(enrolled, n),
            "exempt_share": ratio(exempt, n),
            "inactive_enrolled_share": ratio(inactive, enrolled),
            "digitally_challenged_share": ratio(challenged, n),
            "trust_mean": ratio(trust, n),
            "alienated_share": ratio(alienated, n),
            "skill_mean": ratio(skill, n),
            "cost_per_citizen_year_dkk": ratio(ev["cost"] * per_year, n),
        })

    def run(self) -> PlainModel:
        while self.running:
            self.step()
        return self

    def timeseries(self) -> pd.DataFrame:
        """Weekly overall metrics, one row per week (wide)."""
        return pd.DataFrame(self.records)

    def summary(self) -> dict[str, float]:
        """End-of-run overall metrics."""
        last = self.records[-1]
        return {k: float(last[k]) for k in HEADLINE}
