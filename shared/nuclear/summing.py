"""True coincidence summing in the gas geometry: how much of a line's full-energy counts a
coincident photon of the same decay takes away (summing-out), and what the analyses do
with it.

A photon of line l loses its full-energy count when a photon k emitted in the same decay
deposits any energy in the crystal: the fraction lost is

    s_l = sum_k P(k | l) eps_T(E_k)

with P(k | l) the probability that k accompanies l (from the decay scheme: the library's
`Line.coincident`, upper bounds) and eps_T the total efficiency of the chamber geometry.
The library's probabilities are upper bounds, so the loss lies in [0, s_l]:

- with a measured total efficiency (the PHD's `#TotalEff` block) the line is corrected by
  the middle of that interval, its counts per Bq times 1 - s_l/2, with the standard
  uncertainty of a rectangular distribution on [0, s_l], s_l/sqrt(12) (GUM 4.3.7);
- without it eps_T is bounded by the full-energy efficiency over a lower bound of the
  peak-to-total ratio (`PEAK_TO_TOTAL_BOUND`), nothing is corrected, and the line carries
  the root-mean-square error of the uncorrected value, s_l/sqrt(3).

A line whose decay-scheme data the library lacks (`coincident` is None) gets neither: its
summing is unknown, and `unknown` says so.
Summing-in (two cascade photons adding up to a crossover line) is the product of two
full-energy efficiencies (< 1e-3 here) and is left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .library import Line

# Lower bound of the peak-to-total ratio of an HPGe around a gas chamber: 0.95 at and
# below 30 keV (photo-absorption dominates), 0.15 at and above 1000 keV, log-log linear
# between. A 40 % coaxial detector has 0.2-0.3 at 1 MeV; the simulated one 0.99 at 30 keV,
# 0.91 at 80 keV and 0.26 at 1000 keV, above the bound everywhere.
PEAK_TO_TOTAL_BOUND = ((30.0, 0.95), (1000.0, 0.15))


def peak_to_total_bound(energy_kev):
    (e0, p0), (e1, p1) = PEAK_TO_TOTAL_BOUND
    x = np.clip(np.log(np.asarray(energy_kev, dtype=float) / e0) / math.log(e1 / e0), 0.0, 1.0)
    return np.exp(math.log(p0) + x * (math.log(p1) - math.log(p0)))


@dataclass(frozen=True)
class TotalEfficiency:
    """eps_T(E) of the geometry, and whether a calibration measured it."""

    at: Callable[[np.ndarray], np.ndarray]
    measured: bool


def total_efficiency(total_points, full_energy: Callable) -> TotalEfficiency:
    """From the PHD's `#TotalEff` points (log-log interpolation, held flat beyond them),
    else the bound eps_FE(E) / peak_to_total_bound(E)."""
    pts = sorted(
        (p.energy, p.efficiency) for p in (total_points or []) if p.energy > 0 and p.efficiency > 0
    )
    if len(pts) >= 2:
        x = np.log([e for e, _ in pts])
        y = np.log([v for _, v in pts])

        def measured(e):
            return np.exp(np.interp(np.log(np.asarray(e, dtype=float)), x, y))

        return TotalEfficiency(measured, True)

    def bound(e):
        e = np.asarray(e, dtype=float)
        return np.minimum(np.asarray(full_energy(e)) / peak_to_total_bound(e), 1.0)

    return TotalEfficiency(bound, False)


@dataclass(frozen=True)
class Summing:
    """What summing does to one line's counts per Bq."""

    loss_bound: float  # s_l: the largest fraction of its full-energy counts lost
    factor: float  # counts per Bq are multiplied by this (1: not corrected)
    rel_unc: float  # relative standard uncertainty the line carries for it
    unknown: bool  # no decay-scheme data: not corrected, not carried


def summing(line: Line, eps_total: TotalEfficiency) -> Summing:
    if line.coincident is None:
        return Summing(0.0, 1.0, 0.0, True)
    if not line.coincident:
        return Summing(0.0, 1.0, 0.0, False)
    energies = np.array([e for e, _ in line.coincident])
    probs = np.array([p for _, p in line.coincident])
    s = float(min(np.sum(probs * np.atleast_1d(eps_total.at(energies))), 1.0))
    if eps_total.measured:
        return Summing(s, 1.0 - s / 2.0, s / math.sqrt(12.0), False)
    return Summing(s, 1.0, s / math.sqrt(3.0), False)
