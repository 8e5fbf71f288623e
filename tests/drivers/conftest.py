"""The agent tests' small spectrum source and station, for the driver tests too."""

from tests.agent.conftest import FlatSource, source, station  # noqa: F401

__all__ = ["FlatSource"]
