"""Home internet and eID acquired over time (docs/ODD.md sections 2 and 7.13).

Lacking home internet or an eID (NemID/MitID) is an exemption ground, so
acquiring them is how exemption criteria lapse: an exempt citizen who gets
both (and has no other ground) may return to Digital Post
(``sim/model/mechanisms/optout.py``). Statistics Denmark's IT-use surveys show both spreading
through the population over the 2010s, slowest among the old and the
low-skilled; the model gives each citizen without access a weekly hazard
proportional to skill.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.model.model import DigexModel


def acquire_access(m: DigexModel, rng: np.random.Generator) -> None:
    """Living citizens without internet get it, and those with internet but no eID get one.

    Weekly chances: internet_uptake_per_year / 52 * skill and
    eid_uptake_per_year / 52 * skill (behaviour block). An eID needs
    internet, so a citizen gets at most one of the two in a week.
    """
    b, p = m.config.behaviour, m.pop
    n = p.n
    no_net = np.flatnonzero(p.alive[:n] & ~p.internet[:n])
    no_eid = np.flatnonzero(p.alive[:n] & p.internet[:n] & ~p.eid[:n])
    u = rng.random(len(no_net) + len(no_eid))
    p.internet[no_net[u[: len(no_net)] < b.internet_uptake_per_year / 52 * p.skill[no_net]]] = True
    p.eid[no_eid[u[len(no_net):] < b.eid_uptake_per_year / 52 * p.skill[no_eid]]] = True
