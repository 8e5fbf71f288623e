"""Code shared by the edge agent and the central receiver: formats, nuclear data, physics, crypto."""

__version__ = "0.1.0"
