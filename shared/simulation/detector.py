"""The simulated HPGe detector behind a gas-filled Marinelli chamber: its true curves and constants.

`DetectorModel` holds every number the simulator needs (see docs/simulator.md for the
value of each and why); `default_detector()` is a realistic ~40 % coaxial detector and
`varied_detector(seed)` another unit of the same type. The `*_points` functions give the
calibration points a PHD carries, sampled from the true curves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from shared.calibration import (
    EfficiencyBranch,
    EfficiencyCalibration,
    EnergyCalibration,
    ResolutionCalibration,
)
from shared.formats.phd import EfficiencyPoint, EnergyPoint, ResolutionPoint

FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))

# Energies (keV) where the PHD's calibration points sample the true curves. They are
# those of the usual mixed calibration sources, but any energies would do: the values
# at them come from the true curves, not from nuclear data.
ENERGY_POINTS_KEV = (
    59.54,
    88.03,
    122.06,
    165.86,
    391.70,
    661.66,
    898.04,
    1173.23,
    1332.49,
    2614.51,
)
# From 25 keV (below the chamber-wall cut-off) to 2700 keV; 88.03 keV is the crossover
# and must be one of them, as the highest point, so that the default fit of
# shared.calibration puts its crossover there.
EFFICIENCY_POINTS_KEV = (
    25.0,
    30.0,
    35.0,
    40.0,
    50.0,
    59.54,
    70.0,
    88.03,
    122.06,
    165.86,
    279.20,
    391.70,
    514.00,
    661.66,
    898.04,
    1173.23,
    1332.49,
    1836.06,
    2614.51,
    2700.0,
)


@dataclass(frozen=True)
class DetectorModel:
    """A coaxial HPGe (~40 % relative efficiency) looking at a gas-filled Marinelli chamber.

    Energies in keV, times in s, rates in counts per second of live time.
    """

    name: str = "nominal"
    channels: int = 16384
    energy_span_kev: float = 3000.0
    # E(c) = a0 + a1 c + a2 c^2, c the channel (channel i spans i-0.5 .. i+0.5)
    energy_coefficients: tuple[float, float, float] = (0.25, 0.1831, 1.0e-9)
    # FWHM^2 = w0 + w1 E + w2 E^2: electronic noise, charge statistics (Fano), collection
    resolution_coefficients: tuple[float, float, float] = (0.7488, 1.8817e-3, 2.0e-7)
    # Full-energy-peak efficiency, exactly the form of shared.calibration.EfficiencyCalibration:
    # ln eps = sum a_i (ln E)^i above the crossover ...
    efficiency_high: tuple[float, ...] = (-31.62596, 18.09072, -4.021761, 0.3735021, -0.01288481)
    efficiency_crossover_kev: float = 88.03
    # ... and below it a quadratic in ln E that joins the high branch at the crossover
    # (continuous by construction), given by its slope and curvature there.
    efficiency_low_slope: float = 0.05
    efficiency_low_curvature: float = -0.6315
    # An extra absorber in front of the crystal (a thicker chamber wall, end cap or dead
    # layer than the nominal unit): the efficiency times exp(-tau (E / 30 keV)^-k), the
    # photo-absorption of light materials falling as ~E^-2.8. tau = 0: none (the default);
    # tau ~ 0.3-0.6 gives the steep rise below ~100 keV and the sharper knee of units with
    # thicker windows, a form the analyses' dual polynomial does not share.
    efficiency_absorber_tau: float = 0.0
    efficiency_absorber_index: float = 2.8
    # ln(Compton-to-peak ratio) as a polynomial in ln E: eps_total = eps (1 + r)
    compton_to_peak: tuple[float, float, float] = (-16.26, 4.365, -0.2697)
    # Peak shape: low-energy exponential tail (part of the full-energy area) and step (not)
    tail_fraction: float = 0.015
    tail_length_sigma: float = 1.2
    step_ratio: float = 3.0e-4  # step height below a peak / Gaussian peak height
    # Continuum shape
    multiple_scatter_fraction: float = 0.05  # of the Compton counts, between edge and peak
    backscatter_fraction: float = 0.04  # counts in the backscatter bump / Compton counts
    backscatter_relative_width: float = 0.07  # sigma / E_backscatter, from the angle spread
    # Pb K x-rays detected per photon per second emitted above the Pb K edge, expressed as
    # the "activity" of the Pb-XRF pseudo-nuclide whose lines sum to one x-ray per decay
    pb_xrf_yield: float = 0.005
    # Counting chamber (geometric volume, m3) and the MCA
    chamber_volume_m3: float = 0.0017
    dead_time_s: float = 7.0e-6  # per recorded count, non-paralysable
    clock_tick_s: float = 0.02  # the MCA counts live time in 20 ms ticks
    lld_kev: float = 8.0  # lower-level discriminator
    lld_width_kev: float = 1.0
    # Ambient background through the shield: full-energy count rate of each nuclide's
    # strongest line (counts per live second); its other lines follow the library.
    ambient_peak_rates: tuple[tuple[str, float], ...] = (
        ("K-40", 0.020),
        ("Tl-208", 0.008),
        ("Bi-214", 0.015),
        ("Pb-214", 0.012),
        ("Annihilation", 0.020),
    )
    # Cosmic and scattered ambient continuum: b(E) = b0 (E / 100 keV)^-k counts/(s keV)
    ambient_continuum_at_100kev: float = 2.0e-3
    ambient_continuum_index: float = 0.8

    # ------------------------------------------------------------------ curves
    @cached_property
    def energy_calibration(self) -> EnergyCalibration:
        return EnergyCalibration(tuple(self.energy_coefficients))

    @cached_property
    def resolution_calibration(self) -> ResolutionCalibration:
        return ResolutionCalibration(tuple(self.resolution_coefficients))  # type: ignore[arg-type]

    @cached_property
    def efficiency_calibration(self) -> EfficiencyCalibration:
        high = tuple(float(a) for a in self.efficiency_high)
        xc = math.log(self.efficiency_crossover_kev)
        yc = float(np.polynomial.polynomial.polyval(xc, high))
        b, c = self.efficiency_low_slope, self.efficiency_low_curvature
        # yc + b (x - xc) + c (x - xc)^2 in powers of x
        low = (yc - b * xc + c * xc * xc, b - 2.0 * c * xc, c)
        return EfficiencyCalibration(
            high=EfficiencyBranch(high, _zeros(len(high))),
            low=EfficiencyBranch(low, _zeros(3)),
            crossover_kev=float(self.efficiency_crossover_kev),
        )

    def efficiency(self, energy_kev):
        """Full-energy-peak efficiency (fraction) for the gas in the chamber."""
        eff = self.efficiency_calibration.efficiency(energy_kev)
        if self.efficiency_absorber_tau > 0:
            e = np.asarray(energy_kev, dtype=float)
            eff = eff * np.exp(
                -self.efficiency_absorber_tau * (e / 30.0) ** -self.efficiency_absorber_index
            )
        return eff

    def compton_to_peak_ratio(self, energy_kev):
        """r = (eps_total - eps) / eps."""
        x = np.log(np.asarray(energy_kev, dtype=float))
        return np.exp(np.polynomial.polynomial.polyval(x, self.compton_to_peak))

    def total_efficiency(self, energy_kev):
        """Probability that a photon deposits any energy in the crystal."""
        return self.efficiency(energy_kev) * (1.0 + self.compton_to_peak_ratio(energy_kev))

    def fwhm(self, energy_kev):
        """Detector FWHM (keV), without Doppler broadening."""
        return self.resolution_calibration.fwhm(energy_kev)

    def energy(self, channel):
        return self.energy_calibration.energy(channel)

    def channel(self, energy_kev):
        return self.energy_calibration.channel(energy_kev)


def _stated(value: float) -> float:
    """An uncertainty as a calibration report states it: three significant digits."""
    return float(f"{value:.3g}")


def _zeros(n: int) -> tuple[tuple[float, ...], ...]:
    return tuple((0.0,) * n for _ in range(n))


def default_detector() -> DetectorModel:
    """The nominal detector: FWHM 0.95 keV at 81 keV, 1.90 keV at 1332 keV; eps 5.4 % at 81 keV."""
    return DetectorModel()


def varied_detector(seed: int, base: DetectorModel | None = None) -> DetectorModel:
    """Another unit of the same type, as a serial number would pick it: the same seed always
    gives the same detector. Gain, offset, resolution, efficiency scale and slope, chamber
    volume, dead time and ambient rates vary within what units of one model show."""
    base = base or default_detector()
    rng = np.random.default_rng([int(seed), 0x0DE7])
    a0, a1, a2 = base.energy_coefficients
    w0, w1, w2 = base.resolution_coefficients
    high = list(base.efficiency_high)
    scale = math.log(rng.uniform(0.92, 1.08))
    tilt = rng.uniform(-0.03, 0.03)
    xc = math.log(base.efficiency_crossover_kev)
    # a scale and a tilt about the crossover keep the two branches joined and the
    # efficiency highest at the crossover (the high branch's slope there stays negative)
    high[0] += scale - tilt * xc
    high[1] += tilt
    return replace(
        base,
        name=f"unit-{int(seed)}",
        energy_coefficients=(
            a0 + rng.uniform(-0.3, 0.3),
            a1 * rng.uniform(0.999, 1.001),
            a2 * rng.uniform(0.7, 1.3),
        ),
        resolution_coefficients=(
            w0 * rng.uniform(0.85, 1.15),
            w1 * rng.uniform(0.9, 1.1),
            w2 * rng.uniform(0.7, 1.3),
        ),
        efficiency_high=tuple(high),
        chamber_volume_m3=base.chamber_volume_m3 * rng.uniform(0.95, 1.05),
        dead_time_s=base.dead_time_s * rng.uniform(0.8, 1.2),
        ambient_peak_rates=tuple(
            (name, rate * float(rng.lognormal(0.0, 0.3))) for name, rate in base.ambient_peak_rates
        ),
    )


# ------------------------------------------------------------ calibration points
def energy_points(detector: DetectorModel, uncertainty_channels: float = 0.05) -> list[EnergyPoint]:
    """`#g_Energy`: the channel of each energy under the nominal (undrifted) calibration."""
    e = np.asarray(ENERGY_POINTS_KEV)
    c = detector.channel(e)
    return [EnergyPoint(float(x), float(ch), uncertainty_channels) for x, ch in zip(e, c)]


def resolution_points(
    detector: DetectorModel,
    relative_uncertainty: float = 0.01,
    rng: np.random.Generator | None = None,
) -> list[ResolutionPoint]:
    """`#g_Resolution`: the true FWHM (keV) at each energy; with rng, each value drawn
    about the true one with its stated uncertainty, as a measured calibration is."""
    e = np.asarray(ENERGY_POINTS_KEV)
    f = detector.fwhm(e)
    noise = 1.0 if rng is None else 1.0 + relative_uncertainty * rng.standard_normal(e.size)
    return [
        ResolutionPoint(float(x), float(w * z), _stated(w * relative_uncertainty))
        for x, w, z in zip(e, f, np.broadcast_to(noise, e.shape))
    ]


def efficiency_points(
    detector: DetectorModel,
    relative_uncertainty: float = 0.03,
    rng: np.random.Generator | None = None,
) -> list[EfficiencyPoint]:
    """`#g_Efficiency`: the true full-energy-peak efficiency at each energy; the stated
    uncertainty is that of a real calibration. Without rng the values are exact; with it
    each is drawn about the true one with its stated uncertainty (a real calibration)."""
    e = np.asarray(EFFICIENCY_POINTS_KEV)
    eff = detector.efficiency(e)
    noise = 1.0 if rng is None else 1.0 + relative_uncertainty * rng.standard_normal(e.size)
    return [
        EfficiencyPoint(float(x), float(v * z), _stated(v * relative_uncertainty))
        for x, v, z in zip(e, eff, np.broadcast_to(noise, e.shape))
    ]
