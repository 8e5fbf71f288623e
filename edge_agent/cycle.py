"""What the station does to its MCA at a cycle boundary: stop, read, clear, start again.

Kept short so that the dead time between two spectra stays well under a second. Every
device answer is checked before it becomes a spectrum: a wrong answer is a DeviceError,
never a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from .clock import Clock
from .drivers.base import DeviceError, DeviceProtocolError, Elapsed, Mca, Presets

__all__ = ["Acquired", "arm", "check_interval", "rollover"]


@dataclass(frozen=True, eq=False)
class Acquired:
    """One finished acquisition."""

    interval_start: datetime  # the boundary it belongs to (names the file and the SRID)
    start: datetime  # when START was given (station clock)
    real_time: float  # s, as the MCA counted it
    live_time: float  # s
    counts: np.ndarray

    @property
    def stop(self) -> datetime:
        return self.start + timedelta(seconds=self.real_time)


def arm(mca: Mca, clock: Clock) -> datetime:
    """Start a fresh acquisition without presets; returns when it started.

    Presets are cleared and read back: a preset already reached would make START do
    nothing, silently (ORTEC MCBs behave so).
    """
    mca.stop()
    mca.set_presets(Presets())
    if mca.presets() != Presets():
        raise DeviceError(f"{mca.name}: presets did not clear (read back {mca.presets()})")
    mca.clear()
    started = clock.now()
    mca.start()
    return started


def rollover(mca: Mca, clock: Clock) -> tuple[np.ndarray, Elapsed, datetime]:
    """End the running acquisition and start the next one at once.

    Returns the finished spectrum, its live and real time, and when the next one started.
    """
    mca.stop()
    counts = mca.read_spectrum()
    elapsed = mca.elapsed()
    mca.clear()
    started = clock.now()
    mca.start()
    _check_answer(mca, counts, elapsed)
    return np.asarray(counts, dtype=np.int64), elapsed, started


def _check_answer(mca: Mca, counts: np.ndarray, elapsed: Elapsed) -> None:
    counts = np.asarray(counts)
    if counts.shape != (mca.channels,):
        raise DeviceProtocolError(
            f"{mca.name}: spectrum of {counts.size} channels, expected {mca.channels}"
        )
    if counts.size and counts.min() < 0:
        raise DeviceProtocolError(f"{mca.name}: negative counts in the spectrum")
    if not 0 < elapsed.live_time <= elapsed.real_time:
        raise DeviceProtocolError(
            f"{mca.name}: impossible times: live {elapsed.live_time} s, real {elapsed.real_time} s"
        )


def check_interval(
    interval_start: datetime, start: datetime, elapsed: Elapsed, length: timedelta, tolerance: float
) -> str | None:
    """Why an acquisition does not fill its interval (None when it does).

    The MCA's own real time must agree with the clock: otherwise the device restarted or
    lost counts mid-interval, and the spectrum is not the interval's.
    """
    late = (start - interval_start).total_seconds()
    if late > tolerance:
        return f"acquisition started {late:.1f} s after the boundary"
    expected = length.total_seconds() - late
    if abs(elapsed.real_time - expected) > tolerance:
        return (
            f"MCA real time {elapsed.real_time:.1f} s does not match the interval "
            f"({expected:.1f} s): the MCA restarted or the clock jumped"
        )
    return None
