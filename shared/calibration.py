"""Energy, resolution and efficiency calibrations: fitted from the points a PHD carries.

Pure functions over numpy arrays; both analyses and the simulator use these curves.
- energy: E(c) = a0 + a1 c + a2 c^2
- resolution: FWHM(E) = sqrt(w0 + w1 E + w2 E^2)
- efficiency: ln eps = sum_i a_i (ln E)^i, with its own low-energy branch below a crossover
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from shared.formats.phd import EfficiencyPoint, EnergyPoint, Phd, ResolutionPoint


class CalibrationError(ValueError):
    """The calibration points cannot give a usable curve."""


# ------------------------------------------------------------------------ energy
@dataclass(frozen=True)
class EnergyCalibration:
    coefficients: tuple[float, ...]  # a0, a1[, a2]

    def energy(self, channel):
        c = np.asarray(channel, dtype=float)
        return sum(a * c**i for i, a in enumerate(self.coefficients))

    def slope(self, channel):
        """dE/dc in keV per channel."""
        c = np.asarray(channel, dtype=float)
        return sum(i * a * c ** (i - 1) for i, a in enumerate(self.coefficients) if i)

    def channel(self, energy):
        """The (fractional) channel of an energy: the inverse of `energy`."""
        e = np.asarray(energy, dtype=float)
        a = (*self.coefficients, 0.0, 0.0)
        a0, a1, a2 = a[0], a[1], a[2]
        if abs(a2) < 1e-15:
            return (e - a0) / a1
        disc = np.maximum(a1 * a1 - 4 * a2 * (a0 - e), 0.0)
        # the numerically stable root that is near (e - a0)/a1
        return 2 * (e - a0) / (a1 + np.sqrt(disc))

    @classmethod
    def fit(cls, channels, energies, order: int = 2) -> EnergyCalibration:
        c = np.asarray(channels, dtype=float)
        e = np.asarray(energies, dtype=float)
        if len(c) < 2:
            raise CalibrationError(f"energy calibration needs at least 2 points, found {len(c)}")
        order = min(order, len(c) - 1)
        coeffs = np.polynomial.polynomial.polyfit(c, e, order)
        if coeffs[1] <= 0:
            raise CalibrationError("energy calibration must increase with channel")
        return cls(tuple(float(x) for x in coeffs))

    @classmethod
    def from_points(cls, points: list[EnergyPoint]) -> EnergyCalibration:
        return cls.fit([p.channel for p in points], [p.energy for p in points])


# -------------------------------------------------------------------- resolution
@dataclass(frozen=True)
class ResolutionCalibration:
    coefficients: tuple[float, float, float]  # w0, w1, w2 of FWHM^2

    def fwhm(self, energy):
        e = np.asarray(energy, dtype=float)
        w0, w1, w2 = self.coefficients
        return np.sqrt(np.maximum(w0 + w1 * e + w2 * e * e, 1e-6))

    def sigma(self, energy):
        return self.fwhm(energy) / 2.3548200450309493

    @classmethod
    def fit(cls, energies, fwhms) -> ResolutionCalibration:
        e = np.asarray(energies, dtype=float)
        f2 = np.asarray(fwhms, dtype=float) ** 2
        if len(e) < 1:
            raise CalibrationError("resolution calibration needs at least 1 point")
        if np.any(np.asarray(fwhms) <= 0):
            raise CalibrationError("FWHM values must be positive")
        # Non-negative coefficients keep FWHM^2 positive at every energy; relative
        # weights treat each point's FWHM with the same relative precision.
        n_terms = min(3, len(e))
        design = np.vstack([e**i for i in range(n_terms)]).T / f2[:, None]
        w, _ = nnls(design, np.ones_like(f2))
        w = (*w, 0.0, 0.0)[:3]
        return cls(tuple(float(x) for x in w))  # type: ignore[arg-type]

    @classmethod
    def from_points(cls, points: list[ResolutionPoint]) -> ResolutionCalibration:
        return cls.fit([p.energy for p in points], [p.fwhm for p in points])


# -------------------------------------------------------------------- efficiency
@dataclass(frozen=True)
class EfficiencyBranch:
    coefficients: tuple[float, ...]  # of ln eps in powers of x = ln(E / 1 keV)
    covariance: tuple[tuple[float, ...], ...]  # of the coefficients

    def ln_eff(self, x):
        return sum(a * x**i for i, a in enumerate(self.coefficients))

    def ln_eff_var(self, x):
        cov = np.asarray(self.covariance)
        g = np.vstack([x**i for i in range(len(self.coefficients))])
        return np.einsum("in,ij,jn->n", g, cov, g)


@dataclass(frozen=True)
class EfficiencyCalibration:
    high: EfficiencyBranch
    low: EfficiencyBranch | None = None
    crossover_kev: float = 0.0  # the low branch serves energies below this

    def efficiency(self, energy):
        e = np.atleast_1d(np.asarray(energy, dtype=float))
        x = np.log(e)
        out = np.exp(self.high.ln_eff(x))
        if self.low is not None:
            below = e < self.crossover_kev
            out[below] = np.exp(self.low.ln_eff(x[below]))
        return out if np.ndim(energy) else float(out[0])

    def relative_uncertainty(self, energy):
        """u(eps)/eps from the fit covariance (0 when the points carry no uncertainty)."""
        e = np.atleast_1d(np.asarray(energy, dtype=float))
        x = np.log(e)
        var = self.high.ln_eff_var(x)
        if self.low is not None:
            below = e < self.crossover_kev
            var[below] = self.low.ln_eff_var(x[below])
        out = np.sqrt(np.maximum(var, 0.0))
        return out if np.ndim(energy) else float(out[0])

    @classmethod
    def fit(
        cls,
        energies,
        efficiencies,
        uncertainties=None,
        order: int = 4,
        low_order: int = 2,
        crossover_kev: float | None = None,
    ) -> EfficiencyCalibration:
        """Fit ln eps in powers of ln E.

        With a crossover (by default the energy of the highest efficiency point, when at
        least two points lie below it), points at and below it get their own branch.
        """
        e = np.asarray(energies, dtype=float)
        eff = np.asarray(efficiencies, dtype=float)
        if len(e) < 2:
            raise CalibrationError(
                f"efficiency calibration needs at least 2 points, found {len(e)}"
            )
        if np.any(eff <= 0) or np.any(e <= 0):
            raise CalibrationError("efficiencies and energies must be positive")
        u = np.zeros_like(eff) if uncertainties is None else np.asarray(uncertainties, dtype=float)
        rel = np.where(u > 0, u / eff, 0.0)
        order_idx = np.argsort(e)
        e, eff, rel = e[order_idx], eff[order_idx], rel[order_idx]
        if crossover_kev is None:
            peak = int(np.argmax(eff))
            crossover_kev = float(e[peak]) if peak >= 2 and len(e) - peak >= 3 else 0.0
        low = None
        if crossover_kev > 0:
            sel = e <= crossover_kev
            low = _fit_branch(np.log(e[sel]), np.log(eff[sel]), rel[sel], low_order)
            hsel = e >= crossover_kev
        else:
            hsel = np.ones_like(e, dtype=bool)
        high = _fit_branch(np.log(e[hsel]), np.log(eff[hsel]), rel[hsel], order)
        return cls(high, low, crossover_kev)

    @classmethod
    def from_points(cls, points: list[EfficiencyPoint], **kw) -> EfficiencyCalibration:
        return cls.fit(
            [p.energy for p in points],
            [p.efficiency for p in points],
            [p.uncertainty for p in points],
            **kw,
        )


def _fit_branch(x, y, rel, order: int) -> EfficiencyBranch:
    order = min(order, len(x) - 1)
    design = np.vstack([x**i for i in range(order + 1)]).T
    if np.all(rel > 0):
        w = 1.0 / rel
        coeffs, *_ = np.linalg.lstsq(design * w[:, None], y * w, rcond=None)
        cov = np.linalg.pinv((design * w[:, None]).T @ (design * w[:, None]))
    else:
        coeffs, *_ = np.linalg.lstsq(design, y, rcond=None)
        cov = np.zeros((order + 1, order + 1))
    return EfficiencyBranch(
        tuple(float(a) for a in coeffs), tuple(tuple(float(v) for v in row) for row in cov)
    )


# ------------------------------------------------------------------- from a PHD
@dataclass(frozen=True)
class Calibrations:
    energy: EnergyCalibration
    resolution: ResolutionCalibration
    efficiency: EfficiencyCalibration


def calibrations_of(phd: Phd) -> Calibrations:
    """The gamma calibrations of a PHD. Raises CalibrationError naming the missing block."""
    if not phd.g_energy:
        raise CalibrationError("no #g_Energy points")
    if not phd.g_resolution:
        raise CalibrationError("no #g_Resolution points")
    if not phd.g_efficiency:
        raise CalibrationError("no #g_Efficiency points")
    return Calibrations(
        EnergyCalibration.from_points(phd.g_energy),
        ResolutionCalibration.from_points(phd.g_resolution),
        EfficiencyCalibration.from_points(phd.g_efficiency),
    )
