"""Expected spectra: areas, shapes, drift, dead time and Poisson sampling."""

import math
from dataclasses import replace

import numpy as np
import pytest

from shared.nuclear import load_library
from shared.release import chamber_activity_to_net_area
from shared.simulation.detector import default_detector
from shared.simulation.spectrum import (
    ELECTRON_MASS_KEV,
    PB_K_EDGE_KEV,
    expected_spectrum,
    sample,
)

LIB = load_library()
# no ambient background and no shield fluorescence: only the source under test
QUIET = replace(
    default_detector(), ambient_peak_rates=(), ambient_continuum_at_100kev=0.0, pb_xrf_yield=0.0
)


def window(detector, low_kev, high_kev):
    e = detector.energy(np.arange(detector.channels))
    return (e >= low_kev) & (e <= high_kev)


def the_line(expected, nuclide, energy):
    return next(
        ln for ln in expected.lines if ln.nuclide == nuclide and abs(ln.energy_kev - energy) < 0.01
    )


@pytest.mark.parametrize(
    ("nuclide", "energy", "low", "high"),
    [("Cs-137", 661.655, 630.0, 690.0), ("Xe-133m", 233.219, 215.0, 245.0)],
)
def test_the_peak_area_of_an_isolated_line_is_a_eps_i_t_live(nuclide, energy, low, high):
    activity = 750.0
    x = expected_spectrum(QUIET, {nuclide: activity}, live_time=880.0, real_time=900.0)
    intensity = next(ln.intensity for ln in LIB[nuclide].lines if ln.energy == energy)
    n = chamber_activity_to_net_area(activity, QUIET.efficiency(energy), intensity, 880.0)
    line = the_line(x, nuclide, energy)
    assert line.area == pytest.approx(n, rel=1e-12)
    assert line.gaussian_area + line.tail_area == pytest.approx(n, rel=1e-12)
    assert line.tail_area == pytest.approx(QUIET.tail_fraction * n)
    summed = x.components["peaks"][window(QUIET, low, high)].sum()
    assert summed == pytest.approx(n, rel=1e-3)


def test_ambient_peaks_have_their_stated_rate():
    d = default_detector()
    x = expected_spectrum(d, {}, live_time=850.0, real_time=900.0)
    k40 = the_line(x, "K-40", 1460.822)
    assert k40.origin == "ambient"
    assert k40.area == pytest.approx(dict(d.ambient_peak_rates)["K-40"] * 850.0, rel=1e-12)
    assert x.components["peaks"][window(d, 1440.0, 1475.0)].sum() == pytest.approx(
        k40.area, rel=1e-3
    )


def test_components_add_up_and_are_never_negative():
    x = expected_spectrum(default_detector(), {"Xe-133": 500.0, "Kr-88": 2.0, "Bi-214": 1.0})
    total = sum(x.components.values())
    np.testing.assert_allclose(x.counts, total)
    assert set(x.components) == {"peaks", "steps", "compton", "backscatter", "ambient_continuum"}
    for name, c in x.components.items():
        assert c.min() >= 0, name
    assert len(x.counts) == 16384


def test_the_step_is_not_part_of_the_peak_area_and_is_small():
    x = expected_spectrum(QUIET, {"Cs-137": 1000.0}, live_time=900.0)
    line = the_line(x, "Cs-137", 661.655)
    sel = window(QUIET, 640.0, 655.0)
    per_channel_below = x.components["steps"][sel].mean()
    peak_height = x.components["peaks"].max()
    assert per_channel_below / peak_height == pytest.approx(QUIET.step_ratio, rel=0.05)
    assert x.components["steps"][window(QUIET, 670.0, 3000.0)].sum() < 1e-3 * line.area


def test_gain_drift_moves_the_k40_peak_by_the_expected_channels():
    d = default_detector()
    sel = window(d, 1445.0, 1475.0)
    ch = np.arange(d.channels)[sel]

    def centroid(g):
        peaks = expected_spectrum(d, {}, live_time=900.0, gain_drift=g).components["peaks"][sel]
        return float((ch * peaks).sum() / peaks.sum())

    nominal = float(d.channel(1460.822))
    shift = centroid(3e-4) - centroid(0.0)
    assert shift == pytest.approx(3e-4 * nominal, abs=0.01)  # 2.4 channels
    assert abs(centroid(0.0) - nominal) < 0.1  # channel i spans i-0.5 .. i+0.5
    drifted = expected_spectrum(d, {}, live_time=900.0, gain_drift=3e-4)
    assert the_line(drifted, "K-40", 1460.822).channel == pytest.approx(nominal * (1 + 3e-4))


@pytest.mark.parametrize(("nuclide", "energy"), [("Cs-137", 661.655), ("K-40", 1460.822)])
def test_the_compton_edge_lies_at_2e2_over_511_plus_2e(nuclide, energy):
    x = expected_spectrum(QUIET, {nuclide: 1000.0}, live_time=900.0)
    compton = x.components["compton"]
    e = QUIET.energy(np.arange(QUIET.channels))
    edge = 2 * energy**2 / (ELECTRON_MASS_KEV + 2 * energy)
    search = (e > edge - 60) & (e < edge + 60)
    slope = np.diff(compton)
    i = np.flatnonzero(search[:-1])[np.argmin(slope[search[:-1]])]
    steepest = 0.5 * (e[i] + e[i + 1])
    assert steepest == pytest.approx(edge, abs=0.5)


@pytest.mark.parametrize(("nuclide", "energy"), [("Cs-137", 661.655), ("K-40", 1460.822)])
def test_the_compton_continuum_holds_a_i_t_times_total_minus_peak_efficiency(nuclide, energy):
    no_lld = replace(QUIET, lld_kev=-100.0)
    x = expected_spectrum(no_lld, {nuclide: 1000.0}, live_time=900.0)
    intensity = max(ln.intensity for ln in LIB[nuclide].lines)
    scattered = 1000.0 * intensity * 900.0
    scattered *= float(no_lld.total_efficiency(energy) - no_lld.efficiency(energy))
    assert x.components["compton"].sum() == pytest.approx(scattered, rel=1e-5)
    # the discriminator then removes the lowest pulses only
    with_lld = expected_spectrum(QUIET, {nuclide: 1000.0}, live_time=900.0)
    assert 0.9 * scattered < with_lld.components["compton"].sum() < scattered


def test_the_backscatter_bump_sits_at_e_over_1_plus_2e_over_511():
    x = expected_spectrum(QUIET, {"Cs-137": 1000.0}, live_time=900.0)
    e = QUIET.energy(np.arange(QUIET.channels))
    peak = e[np.argmax(x.components["backscatter"])]
    assert peak == pytest.approx(661.655 / (1 + 2 * 661.655 / ELECTRON_MASS_KEV), abs=1.0)


def test_annihilation_is_doppler_broadened():
    d = default_detector()
    x = expected_spectrum(d, {}, live_time=900.0)
    ann = the_line(x, "Annihilation", 511.0)
    assert ann.fwhm_kev == pytest.approx(math.hypot(float(d.fwhm(511.0)), 2.5))
    assert ann.fwhm_kev > 1.5 * float(d.fwhm(511.0))


def test_pb_x_rays_follow_the_photon_flux_above_the_k_edge():
    d = default_detector()

    def xrf_activity(sources):
        x = expected_spectrum(d, sources, live_time=900.0)
        return next(ln.activity_bq for ln in x.lines if ln.nuclide == "Pb-XRF")

    base = xrf_activity({})
    flux = sum(ln.intensity for ln in LIB["Xe-133"].lines if ln.energy > PB_K_EDGE_KEV)
    assert xrf_activity({"Xe-133": 1000.0}) == pytest.approx(base + d.pb_xrf_yield * 1000.0 * flux)
    flux = sum(ln.intensity for ln in LIB["Xe-135"].lines if ln.energy > PB_K_EDGE_KEV)
    assert xrf_activity({"Xe-135": 200.0}) == pytest.approx(base + d.pb_xrf_yield * 200.0 * flux)


def test_dead_time_reduces_live_time_non_paralysably():
    d = default_detector()
    x = expected_spectrum(d, {"Xe-133": 3.0e5, "Xe-135": 5.0e4}, real_time=900.0)
    rate = x.counts.sum() / x.live_time  # counts per live second
    assert rate == pytest.approx(x.input_rate_cps, rel=1e-9)
    assert x.live_time == pytest.approx(900.0 / (1 + rate * d.dead_time_s), abs=d.clock_tick_s / 2)
    assert 0.01 < x.dead_time_fraction < 0.5
    # the loss is the fraction of real time the MCA was busy with recorded counts
    assert x.dead_time_fraction == pytest.approx(
        x.counts.sum() * d.dead_time_s / 900.0, abs=d.clock_tick_s / 900
    )
    ticks = x.live_time / d.clock_tick_s
    assert abs(ticks - round(ticks)) < 1e-6  # the MCA counts whole ticks
    quiet = expected_spectrum(d, {}, real_time=900.0)
    assert quiet.live_time == pytest.approx(900.0, abs=0.05)
    given = expected_spectrum(d, {"Xe-133": 3.0e5}, live_time=850.0, real_time=900.0)
    assert given.live_time == 850.0


def test_poisson_sample_mean_and_variance():
    x = expected_spectrum(default_detector(), {"Xe-133": 3000.0, "Xe-135": 600.0}, live_time=900.0)
    rng = np.random.default_rng(2024)
    draws = np.array([sample(x, rng) for _ in range(400)])
    assert draws.dtype == np.int64
    busy = x.counts > 20
    mean = draws[:, busy].mean(axis=0)
    var = draws[:, busy].var(axis=0, ddof=1)
    assert busy.sum() > 100
    z = (mean - x.counts[busy]) / np.sqrt(x.counts[busy] / 400)
    assert abs(z.mean()) < 0.2 and 0.85 < z.std() < 1.15
    assert np.mean(var / x.counts[busy]) == pytest.approx(1.0, abs=0.03)
    np.testing.assert_array_equal(sample(x, 5), sample(x, 5))
    assert not np.array_equal(sample(x, 5), sample(x, 6))


def test_bad_sources_are_refused_with_the_reason():
    d = default_detector()
    with pytest.raises(KeyError, match="Xe-999"):
        expected_spectrum(d, {"Xe-999": 1.0})
    with pytest.raises(ValueError, match="Xe-133"):
        expected_spectrum(d, {"Xe-133": -1.0})
    with pytest.raises(ValueError, match="live time"):
        expected_spectrum(d, {}, live_time=901.0, real_time=900.0)
