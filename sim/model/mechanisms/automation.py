"""Proactive automation and its two sides: data vs privacy (docs/ODD.md section 7.4).

A share of new procedures is resolved at once from register data. The other
side: a share of these decisions is wrong or missed and must be contested by
the citizen (a harder procedure with a short deadline, through the ordinary
channels); records processed cause privacy incidents that lower the trust of
the citizens exposed (and, when public, a little of everyone's); and where
consent is required, citizens (the distrustful more often) refuse data
sharing and keep the procedure themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.model.codes import AUTOMATION
from sim.model.params import PROCEDURE_TYPES

if TYPE_CHECKING:
    from sim.model.model import DigexModel


def refusal_probability(trust: np.ndarray, refusal_share: float) -> np.ndarray:
    """Chance of refusing data sharing: refusal_share x 2 x (1 - trust), capped at 1 (docs/ODD.md section 7.4)."""
    return np.minimum(1.0, refusal_share * 2.0 * (1.0 - trust))


def automate(m: DigexModel, idx: np.ndarray, rng: np.random.Generator) -> None:
    """Proactive automation of the new procedures ``idx`` (rows of the task table), docs/ODD.md section 7.4.

    Three uniforms per procedure are drawn whatever the policy (common random
    numbers). A procedure is automated if u1 < automation_share[type] and,
    when consent is required, the owner does not refuse (u2 <
    ``refusal_probability``: refused ones stay the citizen's own procedure).
    Each automated procedure is one record (cost, privacy exposure). With
    probability error_rate (u3) the decision is wrong or missed: the
    procedure stays open as a contest, with complexity at least
    contest_complexity and a deadline contest_deadline_weeks from now, and the
    owner loses wrong_decision_trust_loss of trust; failing to contest loses
    its value like any failed procedure. The others are completed by
    automation.
    """
    u = rng.random((3, len(idx)))
    if not m.policy.digital_channels or len(idx) == 0:
        return
    a, t = m.policy.automation, m.tasks
    share = np.array([m.policy.automation_share.get(k, 0.0) for k in PROCEDURE_TYPES])
    offered = u[0] < share[t.ttype[idx]]
    if a.consent_required:
        refused = offered & (u[1] < refusal_probability(m.pop.trust[t.owner[idx]], a.refusal_share))
        auto, n_refused = offered & ~refused, int(refused.sum())
    else:
        auto, n_refused = offered, 0
    wrong = auto & (u[2] < a.error_rate)
    n_auto = int(auto.sum())
    m.costs.add_automation(n_auto)
    m.metrics.add_automation(n_auto)
    m.metrics.add_consent_refusals(n_refused)
    contest = idx[wrong]
    if len(contest):
        t.contest[contest] = True
        t.complexity[contest] = np.maximum(t.complexity[contest], np.float32(a.contest_complexity))
        t.deadline[contest] = m.week + a.contest_deadline_weeks
    owners = t.owner[contest]
    m.metrics.add_wrong_decisions(owners)
    m.trust_down(owners, a.wrong_decision_trust_loss)
    m.complete(idx[auto & ~wrong], AUTOMATION)
    privacy_incidents(m, n_auto, m.streams["platform"])


def privacy_incidents(m: DigexModel, records: int, rng: np.random.Generator) -> None:
    """This week's privacy incidents and their trust losses (docs/ODD.md section 7.4).

    Incidents ~ Poisson(records x weight x privacy_incident_rate) (records of
    the real population). Each exposes Poisson(incident_citizens / weight)
    simulated citizens, drawn among the living whose records automation has
    processed, who lose incident_trust_loss of trust; each is public with
    probability public_incident_share, and every living citizen then loses
    public_trust_loss. Drawn from the platform stream (IT risks), which is
    otherwise used only at the start, so that incidents do not shift the
    arrivals of later weeks.
    """
    a = m.policy.automation
    k = int(rng.poisson(records * m.weight * m.policy.privacy_incident_rate))
    if k == 0:
        return
    n = m.pop.n
    pool = np.flatnonzero(m.pop.alive[:n] & (m.pop.done_automation[:n] > 0))
    exposed = rng.choice(pool, size=min(len(pool), int(rng.poisson(k * a.incident_citizens / m.weight))),
                         replace=False)
    m.trust_down(exposed, a.incident_trust_loss)
    m.metrics.add_exposed(len(exposed))
    public = int((rng.random(k) < a.public_incident_share).sum())
    if public:
        living = np.flatnonzero(m.pop.alive[:n])
        m.trust_down(living, 1.0 - (1.0 - a.public_trust_loss) ** public)
