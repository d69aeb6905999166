"""Integer codes of the model's categorical state, and their names.

The weekly rules store categories as small integers in NumPy columns
(``sim/model/population.py``, ``sim/model/tasks.py``); this module is the one
place that says what each integer means (docs/ODD.md section 2). It imports
nothing, so every module of the model can use it.
"""

from __future__ import annotations

SELF_SERVICE, PAPER, RELATIVE, PHONE, CENTRE, AUTOMATION = range(6)
"""Channel codes: how a procedure is attempted or completed (docs/ODD.md sections 7.5 and 7.6)."""

CHANNELS = ("self_service", "paper", "relative", "phone", "centre", "automation")
"""Channel names, indexed by channel code (also the suffixes of the ``done_<channel>`` columns)."""

ASSISTED = (RELATIVE, PHONE, CENTRE)
"""Channels where someone else helps the citizen (docs/ODD.md section 7.9)."""

FRESH, AFTER_FAILURE, QUEUED_PHONE, QUEUED_CENTRE = 0, 1, 2, 3
"""Route codes: where an open procedure stands in the channel process (docs/ODD.md sections 7.5 to 7.7).

A fresh task has not been attempted yet; after a failed attempt it returns
to channel choice; a task that chose the phone or a centre waits in that queue.
"""

RESOLVED = -1
"""Route of a task completed or failed this week (removed from the task table at the end of the week)."""

NOT_ENROLLED, ENROLLED, EXEMPT = 0, 1, 2
"""Digital Post status codes of a citizen (docs/ODD.md sections 7.11 and 7.13)."""

DP_STATUS_NAMES = ("not_enrolled", "enrolled", "exempt")
"""Digital Post status names, indexed by status code."""

EDUCATION_NAMES = ("low", "medium", "high")
"""Education level names, indexed by the ``education`` column's code."""

DISABILITY_NAMES = ("none", "physical", "cognitive")
"""Impairment names, indexed by the ``disability`` column's code."""

STREAMS = ("population", "demography", "arrivals", "behaviour", "services", "platform", "outages", "access",
           "backoffice")
"""Independent random streams of a run, in the order they are spawned from the seed.

Scenarios with the same seed thus share population, deaths, births and task
arrivals (common random numbers, docs/ODD.md section 4); back-office failures
draw from their own stream, so a scenario with one keeps the self-service
outages of its pair. A new stream is appended: the earlier ones stay as they were.
"""
