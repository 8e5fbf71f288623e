"""The detector model: realistic curves, and calibration points that reproduce them."""

import numpy as np
import pytest

from shared.calibration import EfficiencyCalibration, EnergyCalibration, ResolutionCalibration
from shared.simulation.detector import (
    default_detector,
    efficiency_points,
    energy_points,
    resolution_points,
    varied_detector,
)

ENERGIES = np.geomspace(25.0, 2700.0, 400)


@pytest.mark.parametrize("detector", [default_detector(), varied_detector(7), varied_detector(42)])
def test_calibration_points_fitted_by_shared_calibration_reproduce_the_true_curves(detector):
    energy = EnergyCalibration.from_points(energy_points(detector))
    channels = np.linspace(0, detector.channels - 1, 300)
    np.testing.assert_allclose(energy.energy(channels), detector.energy(channels), atol=1e-6)
    resolution = ResolutionCalibration.from_points(resolution_points(detector))
    np.testing.assert_allclose(resolution.fwhm(ENERGIES), detector.fwhm(ENERGIES), rtol=1e-3)
    efficiency = EfficiencyCalibration.from_points(efficiency_points(detector))
    assert efficiency.crossover_kev == pytest.approx(detector.efficiency_crossover_kev)
    np.testing.assert_allclose(
        efficiency.efficiency(ENERGIES), detector.efficiency(ENERGIES), rtol=1e-3
    )


def test_the_points_state_their_uncertainty():
    points = efficiency_points(default_detector(), relative_uncertainty=0.03)
    assert 15 <= len(points) <= 20
    assert points[0].energy == 25.0 and points[-1].energy == 2700.0
    for p in points:
        assert p.uncertainty == pytest.approx(0.03 * p.efficiency, rel=1e-2)
    assert len(energy_points(default_detector())) == 10


def test_the_nominal_detector_is_a_realistic_coaxial_hpge_on_a_marinelli_chamber():
    d = default_detector()
    assert d.fwhm(81.0) == pytest.approx(0.95, abs=0.01)
    assert d.fwhm(1332.5) == pytest.approx(1.90, abs=0.01)
    assert d.energy(d.channels - 1) == pytest.approx(3000.0, abs=2.0)
    eff = d.efficiency
    assert 0.03 < eff(60.0) < 0.06 and 0.03 < eff(120.0) < 0.06
    assert 0.003 < eff(1500.0) < 0.006
    assert eff(30.0) < eff(40.0) < eff(60.0)  # the chamber wall absorbs below ~40 keV
    # continuous at the crossover, highest there
    xc = d.efficiency_crossover_kev
    assert eff(xc * (1 - 1e-9)) == pytest.approx(eff(xc * (1 + 1e-9)), rel=1e-7)
    assert eff(xc) > max(eff(80.0), eff(95.0))
    # peak-to-total of a ~40 % detector
    p_to_t = eff(1332.5) / d.total_efficiency(1332.5)
    assert 0.18 < p_to_t < 0.3
    assert eff(60.0) / d.total_efficiency(60.0) > 0.9


def test_a_detector_seed_gives_the_same_unit_every_time_and_another_seed_another_unit():
    assert varied_detector(3) == varied_detector(3)
    assert varied_detector(3) != varied_detector(4)
    assert varied_detector(3) != default_detector()
