"""The nuclide library: half-lives and emission lines, read by every analysis and the simulator."""

from .library import XENON, Library, Line, Nuclide, load_library

__all__ = ["XENON", "Library", "Line", "Nuclide", "load_library"]
