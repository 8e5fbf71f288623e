"""The detector calibration every spectrum of the station carries: energy, resolution and
efficiency points, and when they were measured.

A real station takes them from its last calibration file (a PHD with `#g_Energy`,
`#g_Resolution` and `#g_Efficiency` blocks, usually a CALIBPHD); the simulated MCA gives
those of its simulated detector.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from shared.calibration import EnergyCalibration
from shared.formats import EfficiencyPoint, EnergyPoint, FormatError, ResolutionPoint, read_file

__all__ = ["CalibrationError", "CalibrationPoints", "read_calibration_file"]


class CalibrationError(ValueError):
    """The calibration file cannot be used: the message names it and what is missing."""


@dataclass(frozen=True)
class CalibrationPoints:
    energy: tuple[EnergyPoint, ...]
    resolution: tuple[ResolutionPoint, ...]
    efficiency: tuple[EfficiencyPoint, ...]
    time: datetime | None = None  # of the calibration measurement (#Calibration)

    def energy_span(self, channels: int) -> float:
        """The energy at the end of the last channel (keV), from the energy points."""
        return round(float(EnergyCalibration.from_points(list(self.energy)).energy(channels)), 1)


def read_calibration_file(path: str | Path) -> CalibrationPoints:
    """The calibration blocks of a PHD file; all three must be there."""
    try:
        phd = read_file(path).phd
    except FormatError as exc:
        raise CalibrationError(f"[calibration] file: {exc}") from None
    if phd is None:
        raise CalibrationError(f"{path}: [calibration] file holds no PHD section")
    missing = [
        name
        for name, points in (
            ("#g_Energy", phd.g_energy),
            ("#g_Resolution", phd.g_resolution),
            ("#g_Efficiency", phd.g_efficiency),
        )
        if not points
    ]
    if missing:
        raise CalibrationError(
            f"{path}: [calibration] file lacks {', '.join(missing)} (use the station's CALIBPHD)"
        )
    if len(phd.g_energy) < 2:
        raise CalibrationError(f"{path}: #g_Energy needs at least 2 points")
    return CalibrationPoints(
        energy=tuple(phd.g_energy),
        resolution=tuple(phd.g_resolution),
        efficiency=tuple(phd.g_efficiency),
        time=phd.calibration_time,
    )
