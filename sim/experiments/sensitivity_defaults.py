"""The choices of ``digex sensitivity`` and their defaults (sim/experiments/sensitivity.py; docs/sensitivity.md).

Plain constants with no imports, so that building the command line's help
(every digex command builds it) does not load NumPy or the model.
"""

METHODS = ("sobol", "morris")
"""Methods of ``digex sensitivity``: variance-based Sobol indices, or Morris elementary-effects screening."""

DEFAULT_SAMPLES = {"sobol": 64, "morris": 10}
"""Default --samples: Sobol's base sample N (runs: N x (parameters + 2)), Morris trajectories r (runs: r x
(parameters + 1))."""

MORRIS_LEVELS = 4
"""Levels of the Morris grid (0, 1/3, 2/3, 1 of each range); a step is 2/3 of the range (Morris 1991's choice of
p = 4 with delta = p / (2 (p - 1)), as in Campolongo et al. 2007)."""

DEFAULT_OUTCOMES = ("exclusion_rate", "exclusion_rate@80+")
"""The headline exclusion and the exclusion of those 80+, at the end of the run."""
