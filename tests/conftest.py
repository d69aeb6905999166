"""Shared fixtures: small, fast configurations of the Danish baseline defaults."""

import pytest

from sim import Config


def small_config(size: int = 3000, weeks: int = 156, **policy) -> Config:
    """The default scenario at test size, starting 2013 so the 2014 mandate falls inside the run."""
    import datetime as dt

    c = Config()
    c.population.size = size
    c.run.start = dt.date(2013, 1, 7)
    c.run.weeks = weeks
    for key, value in policy.items():
        setattr(c.policy, key, value)
    return c


@pytest.fixture
def config() -> Config:
    return small_config()
