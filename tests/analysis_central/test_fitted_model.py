"""The public joint fit (`fitted_model`): what `analyze` reports from, and all the viewer uses."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from central.reanalysis import analyze, fitted_model
from shared.results import AnalysisError

from .regression import fixture_spectra

SPECTRA = fixture_spectra()


def test_the_fitted_lines_are_the_reported_peaks():
    phd = SPECTRA["fission"]
    fit = fitted_model(phd, source="fission")
    result = analyze(phd, source="fission")
    areas: dict[tuple, list[float]] = {}
    for ln in fit.fitted_lines():  # an x-ray group may hold two lines of one energy
        areas.setdefault((round(ln.energy_kev, 3), ln.nuclide), []).append(ln.area)
    assert result.peaks
    for p in result.peaks:
        got = areas[(round(p.line_kev, 3), p.nuclide)]
        assert min(abs(a - p.net_area) for a in got) <= 1e-12 * abs(p.net_area), (p, got)
    # the curves: one value per fitted channel, the total above the continuum by the lines
    assert fit.channels.shape == fit.regions.shape == fit.continuum().shape
    assert np.all(np.diff(fit.regions) >= 0) and np.all(fit.continuum() > 0)
    assert np.sum(fit.total() - fit.continuum()) > 0.9 * sum(ln.area for ln in fit.fitted_lines())


def test_unusable_input_is_refused_as_analyze_refuses_it():
    with pytest.raises(AnalysisError, match="expected a PHD"):
        fitted_model("not a spectrum", source="x")


def test_the_spectrum_viewer_uses_only_the_public_api():
    source = Path(__file__).resolve().parents[2] / "central" / "spectrum_fit.py"
    tree = ast.parse(source.read_text())
    imported = [
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("central.reanalysis")
        for alias in node.names
    ]
    assert imported == [("central.reanalysis", "fitted_model")]
    private = [
        n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr.startswith("_")
    ]
    assert private == []
