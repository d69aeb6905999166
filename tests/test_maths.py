"""The shared numerical functions of the model (sim/model/maths.py)."""

import numpy as np
import pytest

from sim.model.maths import clip01, logistic


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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip01_gives_the_values_of_np_clip(dtype):
    x = np.random.default_rng(0).normal(0.5, 1.0, 10_000).astype(dtype)
    x[:6] = [-0.0, 0.0, 1.0, -np.inf, np.inf, np.nan]
    clipped = clip01(x)
    assert clipped.dtype == dtype
    assert np.array_equal(clipped, np.clip(x, 0, 1), equal_nan=True)  # -0.0 == 0.0: the sign of a zero may differ
    assert clipped[3] == 0.0 and clipped[4] == 1.0
