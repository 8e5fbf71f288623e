"""The state behind an emulated MCA: the simulated MCA (shared/simulation's spectra,
times following a clock), which the protocol emulators put their device's bytes on."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import numpy as np

from ...calibration import CalibrationPoints
from ...clock import Clock, SystemClock
from ..simulated import SimulatedMca, SimulatedSample, SimulatorSource

__all__ = ["RebinnedSource", "nominal_source", "simulated_mca"]


class RebinnedSource:
    """A spectrum source with `factor` channels summed into one: the simulator's 16384
    channels as an MCA with fewer (a DP5 has at most 8192)."""

    def __init__(self, source, factor: int):
        self.source = source
        self.factor = factor
        self.channels = source.channels // factor

    def sample(self, interval_start: datetime) -> SimulatedSample:
        s = self.source.sample(interval_start)
        rates = np.asarray(s.rates)[: self.channels * self.factor]
        rates = rates.reshape(self.channels, self.factor).sum(axis=1)
        return dataclasses.replace(s, rates=rates)

    def calibration(self) -> CalibrationPoints:
        c = self.source.calibration()
        f = self.factor
        # channel positions and widths (in channels) shrink by the factor
        energy = tuple(
            dataclasses.replace(p, channel=p.channel / f, uncertainty=p.uncertainty / f)
            for p in c.energy
        )
        return CalibrationPoints(energy, c.resolution, c.efficiency, c.time)


def nominal_source(station: str, seed: int, channels: int | None = None):
    """The simulator's nominal HPGe detector behind `station`, with `channels` channels."""
    source = SimulatorSource(station, f"{station}_001", seed)
    if channels is not None and channels != source.channels:
        return RebinnedSource(source, source.channels // channels)
    return source


def simulated_mca(seed: int = 1, clock: Clock | None = None, source=None, station: str = "EMU01"):
    """A simulated MCA; default: the nominal HPGe detector of the simulator, real time."""
    if source is None:
        source = nominal_source(station, seed)
    return SimulatedMca(source, clock or SystemClock(), seed=seed)
