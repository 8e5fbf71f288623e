"""The station analysis of HPGe stack-monitor spectra (numpy and scipy; the fit's inner
loops compiled by numba, kernels.py).

>>> from edge_agent.analysis import analyze
>>> result = analyze(message.phd, source="sample.phd")
>>> result.nuclides["Xe-133"].release_bq
"""

from .analyze import METHOD, VERSION, analyze, warm_up
from .config import DEFAULT_CONFIG, AnalysisConfig

__all__ = ["DEFAULT_CONFIG", "METHOD", "VERSION", "AnalysisConfig", "analyze", "warm_up"]
