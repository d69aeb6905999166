"""digex: agent-based simulation of digital exclusion in a digital-by-default welfare state."""

from importlib.metadata import PackageNotFoundError, version

from sim.model import DigexModel
from sim.params import Config

try:
    __version__ = version("digex")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["Config", "DigexModel", "__version__"]
