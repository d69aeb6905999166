"""Letters and Digital Post reading (docs/ODD.md sections 7.4, 7.8, 7.10 and 7.11), at the calibrated baseline.

Behaviour is tested on ``scenarios/denmark_baseline.yaml`` shrunk with ``with_values``: directions under
common random numbers (same seed in both arms), and invariants of letters and enrolment in every regime.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from sim import DigexModel
from sim.model.codes import ENROLLED, EXEMPT, NOT_ENROLLED
from sim.model.keypath import with_values
from sim.model.mechanisms import digital_post
from sim.model.params import Config
from sim.scenario.loader import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def baseline(size: int, start: dt.date, weeks: int, **changes: object) -> Config:
    """The calibrated Danish baseline at test size, from ``start`` for ``weeks`` weeks, with ``changes``."""
    config = load_scenario(SCENARIOS / "denmark_baseline.yaml")
    values = {"population.size": size, "run.start": start, "run.weeks": weeks, "run.analogue_reference": False}
    return with_values(config, {**values, **changes})


def letter_failures(model: DigexModel) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Record every call of ``model.fail_letters`` (rows, counts, consequential) while it runs."""
    calls: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    record = model.fail_letters

    def recording(rows: np.ndarray, kind: int, counts: np.ndarray, consequential: np.ndarray) -> None:
        calls.append((rows.copy(), np.asarray(counts).copy(), np.asarray(consequential).copy()))
        record(rows, kind, counts, consequential)

    model.fail_letters = recording
    return calls


def test_relatives_with_read_access_read_for_the_old() -> None:
    """Read access open since 2010 against never: fewer missed letters among those 80+ with a relative (same seed).

    Most letters the 80+ miss are missed by those without anyone to help (no read access is possible), so the
    comparison is among those with support.
    """
    missed = {}
    for label, date in (("open", dt.date(2010, 11, 1)), ("never", dt.date(2200, 1, 1))):
        config = baseline(4000, dt.date(2014, 1, 6), 260, **{"policy.proxy.read_access_from": date})
        model = DigexModel(config, seed=3, check_invariants=True)
        calls = letter_failures(model)
        model.run()
        old = (model.pop.age >= 80) & (model.pop.support > 0)
        missed[label] = sum(int(counts[old[rows]].sum()) for rows, counts, _ in calls)
        if label == "never":
            assert not model.pop.read_access.any()
        else:
            living_old = (old & model.pop.alive)[: model.pop.n]
            assert model.pop.read_access[: model.pop.n][living_old].mean() > 0.05
    assert missed["open"] < 0.8 * missed["never"], missed


@pytest.fixture(scope="module")
def mandate_model() -> DigexModel:
    """The baseline run into the mandate (2013 to mid-2015), with letters pending."""
    model = DigexModel(baseline(3000, dt.date(2013, 1, 7), 120), seed=2)
    model.run()
    return model


def test_trust_raises_checking_and_asking_for_help(mandate_model: DigexModel) -> None:
    """Same draws, trust 0.9 against 0.1: every letter read at low trust is read at high trust, and more."""
    m = mandate_model
    rows = np.flatnonzero(m.pop.alive[: m.pop.n] & (m.pop.dp_status[: m.pop.n] == ENROLLED))
    saved_trust = m.pop.trust.copy()
    read = {}
    try:
        for trust in (0.1, 0.9):
            m.pop.trust[rows] = trust
            alone = digital_post.reads_alone(m, rows)
            read[trust] = alone
        assert np.all(read[0.9] >= read[0.1]) and np.any(read[0.9] > read[0.1])
        pending_before = m.mail.unread.copy(), [r.copy() for r in m.mail.rings], m.mail.cleared.copy()
        readers = {}
        for trust in (0.1, 0.9):
            m.mail.unread[:], m.mail.cleared[:] = pending_before[0], pending_before[2]
            for ring, saved in zip(m.mail.rings, pending_before[1], strict=True):
                ring[:] = saved
            m.pop.trust[: m.pop.n] = trust
            before = m.mail.unread[: m.pop.n] > 0
            digital_post.read_mail(m, np.random.default_rng(7))
            readers[trust] = before & (m.mail.unread[: m.pop.n] == 0)
        assert np.all(readers[0.9] >= readers[0.1]) and readers[0.9].sum() > readers[0.1].sum()
    finally:
        m.pop.trust[:] = saved_trust


def test_language_barrier_lowers_reading(mandate_model: DigexModel) -> None:
    """With a language barrier the chance of reading a letter alone is lower, on paper and on Digital Post."""
    m = mandate_model
    rows = np.flatnonzero(m.pop.alive[: m.pop.n])
    saved = m.pop.language_barrier.copy()
    try:
        m.pop.language_barrier[rows] = False
        without = digital_post.reads_alone(m, rows)
        m.pop.language_barrier[rows] = True
        with_barrier = digital_post.reads_alone(m, rows)
    finally:
        m.pop.language_barrier[:] = saved
    readable = without > 0
    assert np.all(with_barrier[readable] < without[readable])
    paper = m.pop.dp_status[rows] != ENROLLED
    assert paper.any() and np.allclose(with_barrier[paper], m.config.behaviour.paper_letter_read
                                       * m.config.behaviour.letter_language_factor)


REGIMES = {
    "baseline": {},
    "voluntary": {"policy.mandate_start": None, "policy.digital_post_mandatory": False},
    "nordic": {"policy.paper_on_request": True, "policy.digital_post_mandatory": False},
    "analogue": {"policy.digital_channels": False},
}


@pytest.mark.parametrize("regime", REGIMES)
def test_exempt_and_never_enrolled_get_paper(regime: str) -> None:
    """In every regime a citizen who is not enrolled (exempt or never enrolled) gets and reads paper letters."""
    m = DigexModel(baseline(1500, dt.date(2014, 6, 2), 40, **REGIMES[regime]), seed=1)
    b = m.config.behaviour
    paper_letters = []
    add_letters = m.costs.add_letters
    m.costs.add_letters = lambda digital, paper: (paper_letters.append(paper), add_letters(digital, paper))[1]
    while m.running:
        rows = np.flatnonzero(m.pop.alive[: m.pop.n] & (m.pop.dp_status[: m.pop.n] != ENROLLED))
        m.step()  # letters arrive before anyone's Digital Post status changes within the week
        assert not np.any(m.pop.last_letter_week[rows] == m.week - 1)  # no Digital Post letter this week
        rows = np.flatnonzero(m.pop.alive[: m.pop.n] & (m.pop.dp_status[: m.pop.n] != ENROLLED))
        rows = rows[~m.pop.language_barrier[rows]]
        assert np.allclose(digital_post.reads_alone(m, rows), b.paper_letter_read)
    assert sum(paper_letters) > 0
    if regime == "analogue":
        assert not np.any(m.pop.dp_status[: m.pop.n] == ENROLLED)


def transitions(config: Config) -> dict[str, int]:
    """Run ``config`` and count weekly Digital Post status changes of living citizens out of ENROLLED."""
    m = DigexModel(config, seed=1, check_invariants=True)
    out = {"to_paper": 0, "to_exempt": 0, "to_paper_under_mandate": 0}
    while m.running:
        before = m.pop.dp_status[: m.pop.n].copy()
        mandate = m.mandate_active and m.policy.digital_post_mandatory  # this week's rule (no timeline here)
        m.step()
        after = m.pop.dp_status[: len(before)]
        alive = m.pop.alive[: len(before)]
        left = alive & (before == ENROLLED) & (after == NOT_ENROLLED)
        out["to_paper"] += int(left.sum())
        out["to_exempt"] += int((alive & (before == ENROLLED) & (after == EXEMPT)).sum())
        if mandate:
            out["to_paper_under_mandate"] += int(left.sum())
    return out


def test_enrolment_is_reversed_only_without_a_mandate() -> None:
    """Without a mandate enrolled citizens go back to paper; under the Danish mandate only exemption leaves."""
    start = dt.date(2013, 6, 3)
    danish = transitions(baseline(3000, start, 100))
    voluntary = transitions(baseline(3000, start, 100, **REGIMES["voluntary"]))
    assert danish["to_paper_under_mandate"] == 0
    assert danish["to_exempt"] > 0
    assert voluntary["to_paper"] > danish["to_paper"] > 0  # the Danish run leaves before the mandate only
    assert voluntary["to_exempt"] == 0


@pytest.mark.parametrize("share", [0.0, 0.6, 1.0])
def test_consequential_letters_are_at_most_the_missed(share: float) -> None:
    """Each row's consequential missed letters lie in [0, missed]; shares 0 and 1 give none and all."""
    config = baseline(2000, dt.date(2014, 6, 2), 30, **{"tasks.letters.post.consequence_share": share,
                                                         "tasks.letters.health.consequence_share": share})
    m = DigexModel(config, seed=1, check_invariants=True)
    calls = letter_failures(m)
    m.run()
    counts = np.concatenate([c for _, c, _ in calls])
    conseq = np.concatenate([q for _, _, q in calls])
    assert len(counts) > 0 and np.all(counts > 0)
    assert np.all((conseq >= 0) & (conseq <= counts))
    if share == 0.0:
        assert conseq.sum() == 0
    elif share == 1.0:
        assert np.array_equal(conseq, counts)
    else:
        assert 0 < conseq.sum() < counts.sum()
