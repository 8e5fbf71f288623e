"""Synthetic spectra for the station-analysis tests: library lines as Gaussians with a small
low-energy tail on a smooth continuum, Poisson counts, wrapped in a PHD with calibrations.

Independent of the project's simulator so that the algorithms are tested on spectra whose
every parameter the test controls.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from edge_agent.analysis.shapes import peak_in_bins
from shared.formats.phd import (
    Acquisition,
    Collection,
    EfficiencyPoint,
    EnergyPoint,
    Phd,
    PhdHeader,
    ResolutionPoint,
    Spectrum,
)
from shared.nuclear import load_library

CHANNELS = 16384
KEV_PER_CHANNEL = 3000.0 / CHANNELS
W0, W1 = 0.55, 0.0023  # FWHM^2 = W0 + W1 E (keV^2)
TAIL_FRACTION, TAIL_LENGTH_SIGMA = 0.015, 1.2


def fwhm(e):
    return np.sqrt(W0 + W1 * np.asarray(e, dtype=float))


def efficiency(e):
    """A Marinelli-like full-energy efficiency, ~4 % near 100 keV; quadratic in log-log so that
    the PHD's efficiency points give back exactly this curve."""
    x = np.log(np.asarray(e, dtype=float) / 100.0)
    return np.exp(np.log(0.04) - 0.2 * x - 0.22 * x * x)


EFF_POINTS = (30.0, 45.0, 60.0, 81.0, 122.0, 250.0, 364.0, 662.0, 1173.0, 1332.0, 1836.0, 2614.0)


def continuum(energy, level: float = 1.0):
    """Counts per channel for a 900 s live time: a falling Compton-like shape."""
    e = np.maximum(np.asarray(energy, dtype=float), 1.0)
    return level * (40.0 * np.exp(-e / 250.0) + 6.0 * np.exp(-e / 900.0) + 0.3)


def expected_counts(
    sources: dict[str, float],
    live_time: float = 900.0,
    continuum_level: float = 1.0,
    gain: float = 1.0,
    tail: bool = True,
):
    """Expected counts per channel and the expected full-energy area of every line.

    gain stretches the channel axis: a line calibrated at channel c appears at gain * c.
    """
    lib = load_library()
    edges = np.arange(CHANNELS + 1) - 0.5
    mu = continuum(KEV_PER_CHANNEL * np.arange(CHANNELS) / gain, continuum_level)
    lines = {}
    for name, bq in sources.items():
        for ln in lib[name].lines:
            area = bq * ln.intensity * float(efficiency(ln.energy)) * live_time
            f = float(np.hypot(fwhm(ln.energy), ln.extra_fwhm_kev))
            pos = gain * ln.energy / KEV_PER_CHANNEL
            sig = gain * f / 2.3548200450309493 / KEV_PER_CHANNEL
            lo = max(int(pos - 12 * sig), 0)
            hi = min(int(pos + 8 * sig) + 1, CHANNELS)
            if hi <= lo:
                continue
            eta = TAIL_FRACTION if tail else 0.0
            mu[lo:hi] += area * peak_in_bins(
                edges[lo : hi + 1], pos, sig, eta, TAIL_LENGTH_SIGMA * sig
            )
            lines[(name, ln.energy)] = area
    return mu, lines


def make_phd(
    counts, live_time: float = 900.0, *, energy=True, resolution=True, efficiency_points=True
) -> Phd:
    start = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    e_pts = [
        EnergyPoint(e, e / KEV_PER_CHANNEL, 0.05) for e in (81.0, 356.0, 661.66, 1332.5, 2614.5)
    ]
    r_pts = [
        ResolutionPoint(e, float(fwhm(e)), 0.02) for e in (81.0, 356.0, 661.66, 1332.5, 2614.5)
    ]
    f_pts = [
        EfficiencyPoint(e, float(efficiency(e)), 0.02 * float(efficiency(e))) for e in EFF_POINTS
    ]
    return Phd(
        data_type="SAMPLEPHD",
        header=PhdHeader("TST01", "TST01_001", "P", "Marinelli", "FULL", "SM01202601051200", "0"),
        acquisition=Acquisition(start, live_time * 1.01, live_time),
        collection=Collection(start - timedelta(seconds=900), start, 0.0),
        g_energy=e_pts if energy else [],
        g_resolution=r_pts if resolution else [],
        g_efficiency=f_pts if efficiency_points else [],
        g_spectrum=Spectrum(CHANNELS, 3000.0, np.asarray(counts, dtype=np.int64)),
    )


def radon(level: float = 1.0) -> dict[str, float]:
    """Background nuclides in stack air and the shield (Bq in the chamber, roughly)."""
    return {
        "Pb-214": 30.0 * level,
        "Bi-214": 30.0 * level,
        "K-40": 20.0,
        "Tl-208": 0.3,
        "Annihilation": 0.15,
        "Pb-XRF": 0.3,
    }


def sample_phd(sources, rng, live_time=900.0, gain=1.0, continuum_level=1.0):
    mu, lines = expected_counts(sources, live_time, continuum_level, gain)
    return make_phd(rng.poisson(mu), live_time), lines
