"""The central method where the world differs from its model: gamma lines that disagree,
the uncertainty budget, missed calibration points."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from central.reanalysis import analyze
from shared.formats.phd import EfficiencyPoint
from tests.analysis_central.simulated import simulate
from tests.analysis_station.test_honesty import scaled_library

TRUTH = 400.0  # Bq of I-131: ~2e4 counts at 364.5 keV, ~1e3 at 637 keV


def budget(n):
    return (
        n.activity_counting_unc_bq,
        n.efficiency_unc_bq,
        n.nuclear_data_unc_bq,
        n.disagreement_unc_bq,
        n.summing_unc_bq,
    )


def test_a_gamma_line_that_disagrees_widens_the_uncertainty():
    # the world's 284.3 keV line of I-131 is 40 % more intense than the library's
    lib = scaled_library("I-131", 1.4, kind="gamma", energy=284.305)
    sim = simulate({"I-131": TRUTH}, seed=4, library=lib)
    result = analyze(sim.phd)
    i131 = result.nuclides["I-131"]
    assert i131.lines_consistent is False and i131.lines_dof >= 2
    assert i131.disagreement_unc_bq > 0
    assert i131.activity_unc_bq == pytest.approx(float(np.sqrt(sum(p * p for p in budget(i131)))))
    assert any("I-131: the lines disagree" in w for w in result.warnings)
    assert abs(i131.activity_bq - TRUTH) < 2 * i131.activity_unc_bq


def test_lines_that_agree_are_left_alone():
    i131 = analyze(simulate({"I-131": TRUTH}, seed=4).phd).nuclides["I-131"]
    assert i131.lines_consistent is True and i131.disagreement_unc_bq == 0.0
    assert 0 < i131.efficiency_unc_bq < 0.04 * i131.activity_bq
    assert i131.nuclear_data_unc_bq > 0


def test_a_missed_efficiency_point_is_reported():
    sim = simulate({"Xe-133": 2000.0}, seed=5)
    points = [
        EfficiencyPoint(p.energy, p.efficiency * (0.88 if p.energy == 40.0 else 1.0), p.uncertainty)
        for p in sim.phd.g_efficiency
    ]
    result = analyze(replace(sim.phd, g_efficiency=points))
    (miss,) = result.calibration_misses
    assert miss.block == "#g_Efficiency" and miss.energy_kev == 40.0 and miss.sigmas > 2
    assert any("#g_Efficiency" in w and "40.00 keV" in w for w in result.warnings)
    assert result.efficiency_model == "dual log-log polynomial"
