"""Small numerical functions shared by the model's rules."""

from __future__ import annotations

import numpy as np


def logistic(x: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + exp(-x)), elementwise; a float32 input gives a float32 result.

    Used wherever a probability or a skill is logistic in a linear predictor
    (docs/ODD.md sections 5, 7.5, 7.6 and 7.11).
    """
    return 1.0 / (1.0 + np.exp(-x))
