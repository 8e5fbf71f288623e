"""Synthetic HPGe stack-monitor spectra with known activities, for the central method's tests.

Written independently of the method's model: peaks are built on a fine sub-channel grid
(Gaussian plus a numerically convolved exponential tail, a step, a Compton plateau per
line), the continuum is a falling exponential, and a gain drift moves every line. The
truth is the expected full-energy area per line, A * t_live * eps(E) * I, tail included.
The shared simulator (shared/simulation) is the project's physical truth source; this one
exists so that the tests run on their own, in well under a second per spectrum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from shared.calibration import calibrations_of
from shared.formats.phd import (
    Acquisition,
    Collection,
    EfficiencyPoint,
    EnergyPoint,
    Phd,
    PhdHeader,
    ResolutionPoint,
    Spectrum,
    StackConditions,
)
from shared.nuclear import load_library

CHANNELS = 16384
KEV_PER_CHANNEL = 0.1831
OFFSET_KEV = 0.12
FWHM2 = (0.55, 0.0022, 5.0e-7)  # FWHM^2 = w0 + w1 E + w2 E^2 (keV^2)
# (E keV, efficiency): a Marinelli HPGe; rises to ~100 keV, falls above
EFFICIENCY_POINTS = [
    (25.0, 0.030),
    (40.0, 0.062),
    (60.0, 0.080),
    (88.0, 0.085),
    (122.0, 0.080),
    (200.0, 0.060),
    (350.0, 0.038),
    (662.0, 0.022),
    (1173.0, 0.0135),
    (1460.0, 0.0112),
    (2000.0, 0.0086),
    (2614.0, 0.0069),
]
EFFICIENCY_REL_UNC = 0.02
# this project's stack conditions: 1 L counting chamber at 101.3 kPa, 293 K
STACK = StackConditions(
    chamber_volume_m3=0.001,
    stack_flow_m3_s=25.0,
    sample_flow_m3_s=1.0e-5,
    transit_time_s=30.0,
    chamber_pressure_kpa=100.0,
    chamber_temperature_k=298.15,
    reference_pressure_kpa=101.325,
    reference_temperature_k=273.15,
)
# Typical stack-air background: radon progeny, K-40, shield x-rays, annihilation.
BACKGROUND = {
    "Pb-214": 3.0,
    "Bi-214": 2.7,
    "K-40": 15.0,
    "Tl-208": 0.8,
    "Annihilation": 800.0,  # counts (not Bq): it is no decaying source
    "Pb-XRF": 1200.0,  # counts of the whole Pb K group
}


@dataclass
class Synthetic:
    """One synthetic spectrum: the PHD and its truth."""

    phd: Phd
    expected: np.ndarray  # expected counts per channel
    activities: dict[str, float]  # Bq in the chamber (counts for Annihilation, Pb-XRF)
    areas: dict[tuple[str, float], float] = field(default_factory=dict)  # (nuclide, keV) -> area


def calibration_phd(live_time: float = 900.0, start: datetime | None = None) -> Phd:
    """A PHD with this detector's calibration points and an empty spectrum."""
    start = start or datetime(2024, 3, 1, 12, 0, 0)
    energies = [30.0, 81.0, 122.0, 250.0, 500.0, 662.0, 1000.0, 1460.0, 2000.0, 2614.0]
    return Phd(
        data_type="SAMPLEPHD",
        header=PhdHeader(
            station="TST01",
            detector="TST01_001",
            system_type="G",
            geometry="Marinelli",
            qualifier="FULL",
            srid="SM01202403011200",
            measurement_id="TST01_001-2024/03/01-12:00",
        ),
        acquisition=Acquisition(start=start, real_time=live_time / 0.98, live_time=live_time),
        collection=Collection(start=start, stop=start + timedelta(seconds=900), air_volume=0.009),
        stack=STACK,
        g_energy=[EnergyPoint(e, (e - OFFSET_KEV) / KEV_PER_CHANNEL, 0.05) for e in energies],
        g_resolution=[ResolutionPoint(e, float(np.sqrt(_fwhm2(e))), 0.01) for e in energies],
        g_efficiency=[
            EfficiencyPoint(e, eff, eff * EFFICIENCY_REL_UNC) for e, eff in EFFICIENCY_POINTS
        ],
        g_spectrum=Spectrum(CHANNELS, CHANNELS * KEV_PER_CHANNEL, np.zeros(CHANNELS, int)),
    )


def _fwhm2(e):
    return FWHM2[0] + FWHM2[1] * e + FWHM2[2] * e * e


def expected_counts(
    activities: dict[str, float],
    live_time: float = 900.0,
    gain_drift: float = 0.0,
    tail_fraction: float = 0.015,
    tail_length_kev: float = 0.6,
    step_fraction: float = 0.003,
    continuum: float = 6.0,
    library=None,
) -> tuple[np.ndarray, dict[tuple[str, float], float]]:
    """Expected counts per channel and the expected full-energy area of every line."""
    lib = library or load_library()
    cal = calibrations_of(calibration_phd(live_time))
    sub = 8  # sub-channel samples
    edges_ch = np.arange(CHANNELS * sub + 1) / sub - 0.5
    centre_ch = 0.5 * (edges_ch[1:] + edges_ch[:-1])
    energy_sub = cal.energy.energy(centre_ch / (1.0 + gain_drift))  # what lands in each bin
    fine = np.zeros(CHANNELS * sub)
    # continuum: falls with energy, cut below ~12 keV
    fine += (
        continuum * (np.exp(-energy_sub / 250.0) + 0.08) / (1.0 + np.exp((12.0 - energy_sub) / 1.5))
    ) / sub
    areas: dict[tuple[str, float], float] = {}
    for name, act in activities.items():
        nuc = lib[name]
        for ln in nuc.lines:
            eps = float(cal.efficiency.efficiency(ln.energy))
            if nuc.half_life_s is None:
                # counts of the whole group/line instead of Bq
                group = [x for x in nuc.lines if x.kind == ln.kind]
                weights = np.array(
                    [x.intensity * cal.efficiency.efficiency(x.energy) for x in group]
                )
                area = act * ln.intensity * eps / weights.sum()
            else:
                area = act * live_time * eps * ln.intensity
            areas[(nuc.name, ln.energy)] = area
            fwhm = np.sqrt(_fwhm2(ln.energy) + ln.extra_fwhm_kev**2)
            _add_line(
                fine,
                energy_sub,
                ln.energy,
                fwhm,
                area * sub,
                tail_fraction,
                tail_length_kev,
                step_fraction,
            )
            _add_compton(fine, energy_sub, ln.energy, area * sub)
    return fine.reshape(CHANNELS, sub).sum(axis=1) / sub, areas


def _add_line(fine, energy, e0, fwhm, area, eta, tau, h):
    de = np.abs(np.median(np.diff(energy[:100])))
    sigma = fwhm / 2.3548200450309493
    lo = np.searchsorted(energy, e0 - 12 * fwhm - 30 * tau)
    hi = np.searchsorted(energy, e0 + 8 * fwhm)
    e = energy[lo:hi]
    gauss = np.exp(-0.5 * ((e - e0) / sigma) ** 2)
    gauss /= gauss.sum()
    # exponential (low-energy side) convolved numerically with the Gaussian
    k = np.arange(0, int(30 * tau / de) + 1) * de
    expo = np.exp(-k / tau)
    # convolve in reversed order so that the tail goes to low energy
    tail = np.convolve(gauss[::-1], expo / expo.sum())[: len(e)][::-1]
    tail /= tail.sum()
    peak = (1 - eta) * gauss + eta * tail
    height = h * gauss.max()  # the step: h times the peak height, down to zero energy
    fine[lo:hi] += area * (peak + height * np.cumsum(gauss[::-1])[::-1])
    fine[:lo] += area * height


def _add_compton(fine, energy, e0, area):
    edge = e0 * (1.0 - 1.0 / (1.0 + 2.0 * e0 / 511.0))
    total = 2.5 * area
    inside = (energy > 0.05 * edge) & (energy < edge + 5.0)
    shape = (1.0 + (energy[inside] / edge) ** 2) / (1.0 + np.exp((energy[inside] - edge) / 2.0))
    if shape.sum() > 0:
        fine[inside] += total * shape / shape.sum()


def make_spectrum(
    activities: dict[str, float],
    rng: np.random.Generator,
    live_time: float = 900.0,
    background: dict[str, float] | None = None,
    **kwargs,
) -> Synthetic:
    """A sampled spectrum as a PHD, with its truth."""
    sources = dict(BACKGROUND if background is None else background)
    sources.update(activities)
    expected, areas = expected_counts(sources, live_time, **kwargs)
    phd = calibration_phd(live_time)
    phd.g_spectrum = Spectrum(CHANNELS, CHANNELS * KEV_PER_CHANNEL, rng.poisson(expected))
    return Synthetic(phd, expected, sources, areas)


def resample(syn: Synthetic, rng: np.random.Generator) -> Phd:
    """Another Poisson sample of the same expected spectrum."""
    phd = calibration_phd(syn.phd.acquisition.live_time)
    phd.g_spectrum = Spectrum(CHANNELS, CHANNELS * KEV_PER_CHANNEL, rng.poisson(syn.expected))
    return phd
