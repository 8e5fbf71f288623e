"""Energy and peak width on the spectrum's array index, with the gain correction applied.

The PHD calibration maps the file's channel numbers (which may start at 0 or 1) to keV;
the analysis works on array indices. A gain drift g stretches the channel axis: a line of
energy E appears at channel number g c(E), c(E) the channel the calibration gives.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from shared.calibration import EnergyCalibration, ResolutionCalibration

FWHM_PER_SIGMA = 2.3548200450309493


@dataclass(frozen=True)
class ChannelScale:
    energy_cal: EnergyCalibration
    resolution: ResolutionCalibration
    first_channel: int = 0
    gain: float = 1.0

    def with_gain(self, gain: float) -> ChannelScale:
        return replace(self, gain=gain)

    def index(self, energy):
        """The fractional array index of an energy (keV)."""
        return self.gain * self.energy_cal.channel(energy) - self.first_channel

    def energy(self, index):
        return self.energy_cal.energy(self._nominal(index))

    def kev_per_channel(self, index):
        return self.energy_cal.slope(self._nominal(index)) / self.gain

    def _nominal(self, index):
        """The calibration's channel number of an array index."""
        return (np.asarray(index, dtype=float) + self.first_channel) / self.gain

    def fwhm_kev(self, energy, extra_fwhm_kev=0.0):
        """FWHM of a line: the detector's, combined in quadrature with a line's own broadening."""
        f = self.resolution.fwhm(energy)
        return np.sqrt(f * f + np.asarray(extra_fwhm_kev, dtype=float) ** 2)

    def sigma_channels(self, energy, extra_fwhm_kev=0.0):
        e = np.asarray(energy, dtype=float)
        return (
            self.fwhm_kev(e, extra_fwhm_kev) / FWHM_PER_SIGMA / self.kev_per_channel(self.index(e))
        )

    def sigma_of_index(self, size: int) -> np.ndarray:
        """The detector's Gaussian sigma (channels) at every array index 0 .. size-1."""
        i = np.arange(size, dtype=float)
        e = np.maximum(self.energy(i), 1.0)
        return self.resolution.fwhm(e) / FWHM_PER_SIGMA / np.abs(self.kev_per_channel(i))
