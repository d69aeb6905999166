"""Every policy lever takes effect when the timeline changes it, or validation refuses the change (issue 13).

For each leaf of the policy schema the calibrated baseline is run twice on
the same seed: once with a new value in the policy block, once with the same
value set by a timeline change dated at the run's start. A lever the model
reads only when the run starts would leave the second run at the old value,
so the two runs would differ. The levers listed in
``sim.model.params.FIXED_AT_START`` are instead refused by validation.
"""

from __future__ import annotations

import datetime as dt
import functools
import typing
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel

from sim.model.keypath import KeyPathError, get, with_values
from sim.model.model import DigexModel
from sim.model.params import FIXED_AT_START, Config, PolicyConfig
from sim.scenario.loader import load_scenario

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "denmark_baseline.yaml"
START = dt.date(2014, 9, 1)
"""Two months before the mandate, so that the mandate, exemption and enrolment rules all act within the run."""


def policy_leaves(model: type[BaseModel] = PolicyConfig, prefix: str = "") -> list[str]:
    """Dotted paths of every leaf of the policy schema (mapping entries by their default keys)."""
    leaves = []
    for name, field in model.model_fields.items():
        tp = field.annotation
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            leaves += policy_leaves(tp, f"{prefix}{name}.")
        elif typing.get_origin(tp) is dict:
            leaves += [f"{prefix}{name}.{key}" for key in field.default]
        else:
            leaves.append(f"{prefix}{name}")
    return leaves


def other_value(policy: PolicyConfig, key: str) -> object:
    """A valid value of ``key`` that differs from the current one."""
    value = get(policy, key)
    if isinstance(value, bool):
        return not value
    if isinstance(value, dt.date):
        return value + dt.timedelta(weeks=8)
    if value is None:
        return START + dt.timedelta(weeks=4)
    if isinstance(value, str):
        owner = get(policy, key.rsplit(".", 1)[0]) if "." in key else policy
        choices = typing.get_args(type(owner).model_fields[key.rsplit(".", 1)[-1]].annotation)
        return next(c for c in choices if c != value)
    candidates = [value * 1.5 + 1, value * 0.5, value * 0.9, 1 - (1 - value) / 2 if value < 1 else 0.5, 1.0, 0.0]
    for c in candidates:
        c = int(round(c)) if isinstance(value, int) else c
        if c != value:
            try:
                with_values(policy, {key: c})
            except KeyPathError:
                continue
            return c
    raise AssertionError(f"no other valid value for {key}")


@functools.cache
def base() -> Config:
    """The calibrated baseline at 400 citizens for 26 weeks from START."""
    config = load_scenario(BASELINE)
    return with_values(config, {"population.size": 400, "run.start": START, "run.weeks": 26,
                                "run.analogue_reference": False})


def run(config: Config) -> np.ndarray:
    """Every weekly metric value of one run (NaN compared equal)."""
    model = DigexModel(config, seed=3, check_invariants=True).run()
    return np.nan_to_num(model.timeseries()["value"].to_numpy(), nan=-1.0)


LEVERS = [key for key in policy_leaves() if key not in FIXED_AT_START]


def test_every_policy_field_is_covered() -> None:
    """The walk finds the levers of every block, so a new lever is tested without editing this file."""
    assert {"centre.helpers_per_10k", "optout.rule", "platform.launch", "automation_share.tax",
            "mandate_start"} <= set(LEVERS)
    assert set(FIXED_AT_START) <= set(policy_leaves())


@pytest.mark.parametrize("key", LEVERS)
def test_timeline_change_at_start_equals_policy_value(key: str) -> None:
    config = base()
    value = other_value(config.policy, key)
    in_policy = with_values(config, {f"policy.{key}": value})
    on_timeline = with_values(config, {"timeline": [{"date": START, "set": {key: value}, "note": "test"}]})
    assert np.array_equal(run(in_policy), run(on_timeline)), f"{key}: the timeline change is not honoured"


@pytest.mark.parametrize("key", sorted(FIXED_AT_START))
def test_levers_read_at_start_are_refused_on_the_timeline(key: str) -> None:
    config = base()
    value = other_value(config.policy, key)
    with pytest.raises(KeyPathError, match="cannot change on the timeline") as err:
        with_values(config, {"timeline": [{"date": START + dt.timedelta(weeks=2), "set": {key: value}}]})
    assert f"{key} cannot change on the timeline" in str(err.value)


def test_unchanged_fixed_lever_on_the_timeline_is_accepted() -> None:
    """Setting a fixed lever to the value it already has changes nothing, so it is not refused."""
    config = base()
    same = config.policy.centre.centres
    with_values(config, {"timeline": [{"date": START, "set": {"centre.centres": same}}]})
