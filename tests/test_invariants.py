"""Accounting invariants and determinism of the core model."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import Config, DigexModel
from sim.errors import InvariantError
from tests.conftest import small_config

ROOT = Path(__file__).resolve().parent.parent


def test_invariants_hold_every_week(config):
    model = DigexModel(config, seed=3, check_invariants=True)
    model.run()
    assert model.week == config.run.weeks


def test_a_corrupted_counter_raises_invariant_error():
    model = DigexModel(small_config(size=300, weeks=4), seed=1, check_invariants=True)
    model.step()
    model.check_invariants()
    model.metrics.counts["arrived"] += 1
    with pytest.raises(InvariantError, match=r"tasks: arrived \d+ != completed"):
        model.check_invariants()
    with pytest.raises(InvariantError, match="tasks: arrived"):
        model.step()  # checked at the end of every week when check_invariants is on


def test_a_corrupted_column_raises_invariant_error_naming_it():
    model = DigexModel(small_config(size=300, weeks=4), seed=1)
    model.step()
    model.pop.trust[5] = 1.5
    with pytest.raises(InvariantError, match=r"trust outside \[0, 1\]"):
        model.check_invariants()


def test_invariant_error_is_raised_under_python_optimise():
    code = (
        "from sim import DigexModel\n"
        "from sim.errors import InvariantError\n"
        "from tests.conftest import small_config\n"
        "assert False, 'asserts must be off under -O'\n"
        "model = DigexModel(small_config(size=300, weeks=4), seed=1)\n"
        "model.step()\n"
        "model.metrics.counts['failed'] -= 1\n"
        "try:\n"
        "    model.check_invariants()\n"
        "except InvariantError as exc:\n"
        "    print('raised:', exc)\n"
    )
    done = subprocess.run([sys.executable, "-O", "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("raised: tasks: arrived"), done.stdout


def test_same_seed_same_results(config):
    a = DigexModel(config, seed=5).run().timeseries()
    b = DigexModel(config, seed=5).run().timeseries()
    pd.testing.assert_frame_equal(a, b)


def test_different_seed_different_results(config):
    a = DigexModel(config, seed=5).run().summary()
    b = DigexModel(config, seed=6).run().summary()
    assert not np.allclose(a["value"].fillna(0), b["value"].fillna(0))


def test_population_accounting():
    model = DigexModel(small_config(size=2000, weeks=104), seed=1).run()
    assert model.deaths_total > 0 and model.entrants_total > 0
    assert model.immigrants_total > 0 and model.emigrants_total > 0
    assert model.n_alive == (2000 + model.entrants_total + model.immigrants_total
                             - model.deaths_total - model.emigrants_total)
    assert model.n_alive == int(model.pop.alive[: model.pop.n].sum())


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("population", "size", -5),
        ("run", "weeks", 0),
        ("behaviour", "relative_uptake", 1.5),
        ("policy", "self_help_share", 2.0),
    ],
)
def test_bad_parameter_raises_value_error_naming_it(section, key, value):
    data = Config().model_dump()
    target = data[section]["centre"] if key == "self_help_share" else data[section]
    target[key] = value
    with pytest.raises(ValueError, match=key):
        DigexModel(Config.model_validate(data))


def test_bad_assignment_raises_value_error_naming_it():
    c = Config()
    with pytest.raises(ValueError, match="helpers_per_10k"):
        c.policy.centre.helpers_per_10k = -1
