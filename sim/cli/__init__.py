"""The ``digex`` command line: argparse and one module per command (``sim/cli/<command>.py``)."""

from sim.cli.main import main

__all__ = ["main"]
