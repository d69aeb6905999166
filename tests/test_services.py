"""Service capacity: earliest deadline first, staffed minutes honoured over the weeks, helpers following staffing."""

import numpy as np
import pytest

from sim import DigexModel
from sim.model.mechanisms.services import (
    MAX_HELPERS_PER_CENTRE,
    HelperTable,
    first_served,
    helpers_per_centre,
    serve_within_capacity,
)
from tests.conftest import small_config


def test_first_served_takes_earliest_deadlines_per_group_while_capacity_lasts():
    groups = np.array([0, 0, 0, 1, 1])
    deadline = np.array([5, 1, 3, 2, 9])
    cost = np.full(5, 10.0)
    served = first_served(groups, deadline, cost, np.array([15.0, 5.0]), np.random.default_rng(0))
    # group 0: deadline 1 (starts at 0 < 15), deadline 3 (starts at 10 < 15), not deadline 5 (starts at 20)
    # group 1: only deadline 2 (starts at 0 < 5; runs over)
    assert served.tolist() == [False, True, True, True, False]



def served_by_concatenation(groups, deadline, cost, capacity, rng):
    """``first_served`` as first written, with ``np.r_``: the offsets its in-place arithmetic must reproduce."""
    n = len(groups)
    order = np.lexsort((rng.random(n), deadline, groups))
    g = groups[order]
    c = np.cumsum(cost[order])
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    offset = np.repeat(np.r_[0.0, c[starts[1:] - 1]], np.diff(np.r_[starts, n]))
    served = np.empty(n, dtype=bool)
    served[order] = (c - cost[order] - offset) < capacity[g]
    return served


def test_first_served_is_its_concatenating_form_bit_for_bit():
    rng = np.random.default_rng(3)
    for trial in range(300):
        n, n_groups = int(rng.integers(1, 40)), int(rng.integers(1, 6))
        groups = rng.integers(0, n_groups, n)
        deadline = rng.integers(0, 5, n)
        cost = rng.choice([10.0, 33.3, 0.1, 45.7], n)
        capacity = rng.uniform(0, 200, n_groups)
        capacity[rng.random(n_groups) < 0.2] = np.inf
        served = first_served(groups, deadline, cost, capacity, np.random.default_rng(trial))
        expected = served_by_concatenation(groups, deadline, cost, capacity, np.random.default_rng(trial))
        assert np.array_equal(served, expected), trial


def test_overrun_is_carried_so_served_minutes_match_capacity_on_average():
    rng = np.random.default_rng(1)
    capacity = np.array([10.0])
    overrun = np.zeros(1)
    used = 0.0
    weeks = 400
    for _ in range(weeks):
        cost = np.full(3, 41.0)  # each case is longer than a week's capacity
        served = serve_within_capacity(np.zeros(3, dtype=np.int64), np.arange(3), cost, capacity, overrun, rng)
        used += cost[served].sum()
    assert abs(used / weeks - 10.0) < 41.0 / weeks + 1e-9


def test_a_failed_paper_form_leads_to_help_in_a_paper_for_all_world():
    c = small_config(size=3000, weeks=60, paper_on_request=True, mandate_start=None)
    model = DigexModel(c, seed=2).run()
    helped = model.pop.done_phone.sum() + model.pop.done_centre.sum() + model.pop.done_relative.sum()
    assert helped > 0


@pytest.mark.parametrize(
    ("per_10k", "size", "centres", "expected"),
    [(2.0, 50_000, 5, 2), (2.0, 300, 10, 1), (0.0, 50_000, 5, 1), (100.0, 1_000_000, 10, MAX_HELPERS_PER_CENTRE)],
)
def test_helpers_per_centre_spreads_the_staffing_with_at_least_one_and_at_most_the_cap(per_10k, size, centres,
                                                                                        expected):
    assert helpers_per_centre(per_10k, size, centres) == expected


def test_staff_hires_at_the_centre_mean_and_lets_go_the_latest_hires():
    table = HelperTable(n_centres=2, per_centre=2)
    table.expertise = np.array([0.2, 0.4, 0.6, 0.8])  # centres 0, 0, 1, 1
    table.minutes_casework = np.array([1.0, 2.0, 3.0, 4.0])
    kept = table.staff(3)
    assert kept.tolist() == [0, 1, 2, 3] and table.per_centre == 3
    assert table.centre.tolist() == [0, 0, 1, 1, 0, 1]
    assert table.expertise.tolist() == pytest.approx([0.2, 0.4, 0.6, 0.8, 0.3, 0.7])
    assert table.minutes_casework.tolist() == [1.0, 2.0, 3.0, 4.0, 0.0, 0.0]
    assert table.centre_expertise() == pytest.approx([0.3, 0.7])

    kept = table.staff(1)
    assert kept.tolist() == [0, 2] and table.per_centre == 1
    assert table.centre.tolist() == [0, 1]
    assert table.expertise.tolist() == pytest.approx([0.2, 0.6])
    assert len(table.minutes_teaching) == len(table.minutes_documentation) == 2


def test_other_centre_work_takes_spare_minutes_first_then_next_weeks_capacity():
    table = HelperTable(n_centres=2, per_centre=2)
    table.spare = np.array([30.0, 5.0])
    table.take(np.array([20.0, 25.0]))
    assert table.spare.tolist() == [10.0, 0.0]
    assert table.overrun.tolist() == [0.0, 20.0]  # taken from centre 1's capacity next week
    assert table.minutes_casework.tolist() == [10.0, 10.0, 12.5, 12.5]  # spread over each centre's helpers


def test_unlimited_centres_never_carry_other_work_over():
    table = HelperTable(n_centres=1, per_centre=1)
    table.spare = np.array([np.inf])
    table.take(np.array([100.0]))
    assert table.overrun.tolist() == [0.0]
