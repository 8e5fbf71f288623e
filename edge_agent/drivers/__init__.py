"""MCA drivers: the vendor-neutral interface (base.py) and one module per device family.

`open_mca` picks the driver the configuration names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import DeviceError

if TYPE_CHECKING:
    from ..clock import Clock
    from ..config import AgentConfig
    from .base import Hardware

__all__ = ["open_mca"]


def open_mca(config: AgentConfig, clock: Clock) -> Hardware:
    """The MCA (and the sensors that come with it) that `[mca] driver` names."""
    if config.mca.driver == "simulated":
        from .simulated import open_simulated

        return open_simulated(config, clock)
    raise DeviceError(f"[mca] driver: unknown driver {config.mca.driver!r}")
