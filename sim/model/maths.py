"""Small numerical functions shared by the model's rules."""

from __future__ import annotations

import numpy as np


def logistic(x: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + exp(-x)), elementwise; a float32 input gives a float32 result.

    Used wherever a probability or a skill is logistic in a linear predictor
    (docs/ODD.md sections 5, 7.5, 7.6 and 7.11).
    """
    return 1.0 / (1.0 + np.exp(-x))


def clip01(x: np.ndarray) -> np.ndarray:
    """x clipped to [0, 1]: the values of np.clip(x, 0, 1) without its per-call overhead on small arrays.

    A zero may come out with the other sign, which no comparison, and no sum
    with a non-zero, tells apart. Used for probabilities and age fractions
    (docs/ODD.md sections 2, 7.5 and 7.6).
    """
    return np.minimum(np.maximum(x, 0.0), 1.0)
