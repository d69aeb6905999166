"""digex: agent-based simulation of digital exclusion in a digital-by-default welfare state.

``from sim import DigexModel, Config`` gives the model and its configuration.
They are loaded on first use, so that ``digex --version``, ``--help``,
``validate`` and ``describe`` start without importing Mesa or the model.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.model.model import DigexModel
    from sim.model.params import Config

try:
    __version__ = version("digex")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["Config", "DigexModel", "__version__"]


def __getattr__(name: str) -> Any:
    """Load ``DigexModel`` and ``Config`` on first access (PEP 562)."""
    if name == "DigexModel":
        from sim.model.model import DigexModel

        return DigexModel
    if name == "Config":
        from sim.model.params import Config

        return Config
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
