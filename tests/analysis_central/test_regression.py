"""The central method's results on fixed spectra equal those recorded before the speed work.

Tolerance: 1e-6 relative on every activity, uncertainty, limit and net area (absolute
floor 1e-6 of the counting uncertainty), detection decisions and calibration warnings
exactly. Vectorising and caching reorder sums (~1e-12); a change of what is computed shows.
"""

from __future__ import annotations

import pytest

from central.reanalysis import analyze
from tests.analysis_central.regression import differences, fixture_spectra, library_digest, summary

from .regression_before import BEFORE, LIBRARY_DIGEST

SPECTRA = fixture_spectra()


@pytest.mark.parametrize("name", sorted(BEFORE))
def test_results_equal_those_before_the_speed_work(name):
    assert library_digest() == LIBRARY_DIGEST, (
        "shared/nuclear/library.json differs from the one the values were recorded with:"
        " record them again (python -m tests.analysis_central.regression station|central)"
    )
    assert differences(summary(analyze(SPECTRA[name], source=name)), BEFORE[name]) == []
