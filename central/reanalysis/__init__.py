"""The central re-analysis: an independent method that analyses every spectrum again.

>>> from central.reanalysis import analyze
>>> result = analyze(read_file("sample.phd").phd, source="sample.phd")
>>> result.nuclides["Xe-133"].release_bq
>>> fitted = fitted_model(phd)  # the joint fit alone: fitted.total(), fitted.fitted_lines()
"""

from .analysis import METHOD, METHOD_VERSION, FittedLine, FittedModel, analyze, fitted_model

__all__ = ["METHOD", "METHOD_VERSION", "FittedLine", "FittedModel", "analyze", "fitted_model"]
