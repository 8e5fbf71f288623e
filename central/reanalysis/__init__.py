"""The central re-analysis: an independent method that analyses every spectrum again.

>>> from central.reanalysis import analyze
>>> result = analyze(read_file("sample.phd").phd, source="sample.phd")
>>> result.nuclides["Xe-133"].release_bq
"""

from .analysis import METHOD, METHOD_VERSION, analyze

__all__ = ["METHOD", "METHOD_VERSION", "analyze"]
