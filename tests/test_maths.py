"""The shared numerical functions of the model (sim/model/maths.py)."""

import numpy as np
import pytest

from sim.model.maths import logistic


def test_logistic_is_the_formula_elementwise():
    x = np.array([-30.0, -2.0, -0.5, 0.0, 0.5, 2.0, 30.0])
    assert np.array_equal(logistic(x), 1.0 / (1.0 + np.exp(-x)))  # bit for bit: results depend on it
    assert logistic(np.zeros(3)).tolist() == [0.5, 0.5, 0.5]
    assert logistic(x) + logistic(-x) == pytest.approx(np.ones(len(x)))
    assert np.all(np.diff(logistic(x)) > 0)


def test_logistic_keeps_float32_and_saturates_without_nan():
    x32 = np.array([-1.0, 0.0, 1.0], dtype=np.float32)
    assert logistic(x32).dtype == np.float32
    with np.errstate(over="ignore"):
        extreme = logistic(np.array([-1000.0, 1000.0]))
    assert extreme.tolist() == [0.0, 1.0]
