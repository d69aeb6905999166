"""Mesa agents as views on array rows (docs/ODD.md section 4).

A ``Citizen`` holds only its row number; reading ``citizen.skill`` reads
``model.pop.skill[row]`` and assigning writes it, so a notebook user can
inspect and nudge one citizen as an ordinary Mesa agent while the weekly rules
stay vectorised. ``Centre`` and ``Helper`` are views on the helper arrays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import mesa
import pandas as pd

from sim.model.codes import DISABILITY_NAMES, DP_STATUS_NAMES, EDUCATION_NAMES, RESOLVED
from sim.model.params import AGE_BANDS, PROCEDURE_TYPES
from sim.model.population import COLUMNS

if TYPE_CHECKING:
    from sim.model.model import DigexModel


class _Column:
    """Descriptor: attribute ``name`` of an agent is element ``row`` of array ``model.<table>.<name>``."""

    def __init__(self, table: str, name: str) -> None:
        self.table, self.name = table, name

    def __get__(self, agent: Any, owner: type | None = None) -> Any:
        if agent is None:
            return self
        return getattr(getattr(agent.model, self.table), self.name)[agent.row].item()

    def __set__(self, agent: Any, value: Any) -> None:
        getattr(getattr(agent.model, self.table), self.name)[agent.row] = value


class Citizen(mesa.Agent):
    """A resident aged 15+; every state variable of docs/ODD.md section 2 is a column attribute."""

    def __init__(self, model: DigexModel, row: int) -> None:
        super().__init__(model)
        self.row = row

    @property
    def age_band(self) -> str:
        """Age band label."""
        return AGE_BANDS[int(self.model.pop.age_band()[self.row])]

    @property
    def status(self) -> dict[str, Any]:
        """Readable summary of the citizen's state."""
        return {
            "row": self.row,
            "alive": self.alive,
            "age": round(self.age, 1),
            "skill": round(self.skill, 3),
            "education": EDUCATION_NAMES[self.education],
            "disability": DISABILITY_NAMES[self.disability],
            "language_barrier": self.language_barrier,
            "internet": self.internet,
            "eid": self.eid,
            "support": self.support,
            "trust": round(self.trust, 3),
            "digital_post": DP_STATUS_NAMES[self.dp_status],
            "tasks_failed": self.tasks_failed,
        }

    def open_tasks(self) -> pd.DataFrame:
        """This citizen's open procedures."""
        t = self.model.tasks
        mine = (t.owner == self.row) & (t.route != RESOLVED)
        return pd.DataFrame({
            "type": [PROCEDURE_TYPES[i] for i in t.ttype[mine]],
            "complexity": t.complexity[mine],
            "deadline_week": t.deadline[mine],
            "mandatory_digital": t.mandatory[mine],
            "failed_attempts": t.attempts[mine],
        })

    def __repr__(self) -> str:
        return f"Citizen(row={self.row}, age={self.age:.0f}, skill={self.skill:.2f})"


for _name in COLUMNS:
    setattr(Citizen, _name, _Column("pop", _name))


class Centre(mesa.Agent):
    """A citizen service centre (borgerservice); its helpers are Helper agents."""

    def __init__(self, model: DigexModel, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def helpers(self) -> list[Helper]:
        """Helpers working at this centre."""
        return [h for h in self.model.helper_agents if h.centre == self.index]

    @property
    def expertise(self) -> float:
        """Mean casework expertise of this centre's helpers."""
        return float(self.model.helpers.centre_expertise()[self.index])


class Helper(mesa.Agent):
    """A centre helper: casework expertise and this week's minutes by use.

    Helpers come and go with the staffing (``DigexModel.staff_centres``); the
    model renumbers ``row`` of those who stay so that it follows their helper row.
    """

    def __init__(self, model: DigexModel, row: int) -> None:
        super().__init__(model)
        self.row = row

    centre = _Column("helpers", "centre")
    expertise = _Column("helpers", "expertise")
    minutes_casework = _Column("helpers", "minutes_casework")
    minutes_teaching = _Column("helpers", "minutes_teaching")
    minutes_documentation = _Column("helpers", "minutes_documentation")
