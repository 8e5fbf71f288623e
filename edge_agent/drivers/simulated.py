"""A simulated MCA: just another driver, whose counts come from the spectrum simulator.

Times follow the station clock, so an accelerated clock acquires a 15-minute spectrum in
seconds. Counts are deterministic: the same seed and the same interval always give the
same spectrum. `fault` makes the device stop answering or answer garbage, so that tests
and demos can watch the agent's reaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from shared.formats import StackConditions

from ..calibration import CalibrationPoints
from ..clock import Clock, cycle_start
from .base import (
    DeviceProtocolError,
    DeviceTimeout,
    Elapsed,
    Mca,
    McaStatus,
    Presets,
)

__all__ = [
    "FAULTS",
    "SimulatedMca",
    "SimulatedSample",
    "SimulatorSource",
    "SpectrumSource",
    "open_simulated",
]

FAULTS = ("no_answer", "garbage")
LIVE_TICK_S = 0.02  # MCAs count live time in 20 ms ticks


@dataclass(frozen=True)
class SimulatedSample:
    """What the simulated station sees during one interval."""

    rates: np.ndarray  # expected counts per live second, per channel
    dead_fraction: float  # 1 - live/real
    stack: StackConditions | None = None


class SpectrumSource(Protocol):
    """The simulated world behind the MCA: the detector and what flows past it."""

    channels: int

    def sample(self, interval_start: datetime) -> SimulatedSample: ...

    def calibration(self) -> CalibrationPoints: ...


class SimulatedMca(Mca):
    def __init__(self, source: SpectrumSource, clock: Clock, seed: int = 1):
        self.source = source
        self.clock = clock
        self.seed = seed
        self.channels = source.channels
        self.name = f"simulated MCA (seed {seed})"
        self.fault: str | None = None  # one of FAULTS, or None for a healthy device
        self._presets = Presets()
        self._running_since: datetime | None = None
        self._real_before = 0.0  # real seconds of earlier runs since the last clear
        self._interval: datetime | None = None  # the interval the first start fell in
        self._hv_volts = 4187.0

    # ------------------------------------------------------------ faults
    def _answer(self, command: str) -> None:
        if self.fault is None:
            return
        if self.fault == "no_answer":
            raise DeviceTimeout(
                f"{self.name}: no answer to {command!r} (is the MCA powered and connected?)"
            )
        if self.fault == "garbage":
            raise DeviceProtocolError(
                f"{self.name}: unreadable reply to {command!r}: b'$G00\\x8f\\xff17' "
                "(checksum error; check the cable and the baud rate)"
            )
        raise ValueError(f"unknown fault {self.fault!r}; use one of {', '.join(FAULTS)}")

    # ------------------------------------------------------------ acquisition
    def _real(self, now: datetime) -> tuple[float, bool]:
        """Real time acquired so far and whether a preset stopped the acquisition."""
        real = self._real_before
        if self._running_since is not None:
            real += max(0.0, (now - self._running_since).total_seconds())
        sample = self._sample()
        live_fraction = 1.0 - (sample.dead_fraction if sample else 0.0)
        p = self._presets
        limit = min(
            p.real_time if p.real_time is not None else float("inf"),
            p.live_time / live_fraction if p.live_time is not None else float("inf"),
        )
        return min(real, limit), real >= limit

    def _sample(self) -> SimulatedSample | None:
        return None if self._interval is None else self.source.sample(self._interval)

    def set_presets(self, presets: Presets) -> None:
        self._answer("set presets")
        self._presets = presets

    def presets(self) -> Presets:
        self._answer("show presets")
        return self._presets

    def start(self) -> None:
        self._answer("start")
        if self._running_since is None:
            now = self.clock.now()
            self._running_since = now
            if self._interval is None:
                self._interval = cycle_start(now)
            # simulate the interval now, while acquiring, not at the next boundary
            self._sample()

    def stop(self) -> None:
        self._answer("stop")
        if self._running_since is not None:
            self._real_before, _ = self._real(self.clock.now())
            self._running_since = None

    def clear(self) -> None:
        self._answer("clear")
        self._real_before = 0.0
        self._interval = None
        if self._running_since is not None:
            # a running MCA keeps running from zero
            now = self.clock.now()
            self._running_since = now
            self._interval = cycle_start(now)

    def elapsed(self) -> Elapsed:
        self._answer("show live and real time")
        real, _ = self._real(self.clock.now())
        sample = self._sample()
        dead = sample.dead_fraction if sample else 0.0
        live = round(real * (1.0 - dead) / LIVE_TICK_S) * LIVE_TICK_S
        # rounding to whole ticks must never make the live time exceed the real time
        return Elapsed(live_time=min(round(live, 2), round(real, 2)), real_time=round(real, 2))

    def read_spectrum(self) -> np.ndarray:
        self._answer("read spectrum")
        sample = self._sample()
        if sample is None:
            return np.zeros(self.channels, dtype=np.int64)
        live = self.elapsed().live_time
        # seeded by (seed, interval): the same interval always gives the same spectrum
        assert self._interval is not None
        rng = np.random.default_rng([self.seed, int(self._interval.timestamp())])
        expected = np.clip(np.asarray(sample.rates, dtype=float) * live, 0.0, None)
        return rng.poisson(expected).astype(np.int64)

    def status(self) -> McaStatus:
        self._answer("show status")
        _, reached = self._real(self.clock.now())
        return McaStatus(
            acquiring=self._running_since is not None and not reached,
            preset_reached=reached,
            readings={"hv_volts": self._hv_volts},
        )

    # ------------------------------------------------------------ sensors
    def stack_conditions(self, interval_start: datetime) -> StackConditions | None:
        """What the simulated flow meters and chamber sensors read during the interval."""
        return self.source.sample(interval_start).stack


class SimulatorSource:
    """The spectrum simulator (shared/simulation) as the world behind a simulated MCA:
    the station's releases, stack and radon for each interval, seen by its detector."""

    def __init__(
        self, station: str, detector_code: str, seed: int, detector_seed: int | None = None
    ):
        from shared.nuclear import load_library
        from shared.simulation.series import detector_for

        self.station = station
        self.detector_code = detector_code
        self.seed = seed
        self.detector_seed = detector_seed
        self.library = load_library()
        self.detector = detector_for(detector_seed)
        self.channels = self.detector.channels
        self._cache: dict[datetime, SimulatedSample] = {}

    def sample(self, interval_start: datetime) -> SimulatedSample:
        if interval_start not in self._cache:
            from shared.simulation.series import INTERVAL_S, interval_spec
            from shared.simulation.spectrum import expected_spectrum

            spec = interval_spec(
                self.station,
                interval_start,
                self.seed,
                self.detector_seed,
                self.detector_code,
                self.library,
            )
            expected = expected_spectrum(
                spec.detector,
                spec.chamber_activities_bq,
                real_time=INTERVAL_S,
                gain_drift=spec.gain_drift,
                library=self.library,
            )
            if len(self._cache) >= 4:
                self._cache.pop(next(iter(self._cache)))
            self._cache[interval_start] = SimulatedSample(
                rates=expected.counts / expected.live_time,
                dead_fraction=expected.dead_time_fraction,
                stack=spec.stack,
            )
        return self._cache[interval_start]

    def calibration(self) -> CalibrationPoints:
        from shared.simulation.detector import efficiency_points, energy_points, resolution_points

        return CalibrationPoints(
            energy=tuple(energy_points(self.detector)),
            resolution=tuple(resolution_points(self.detector)),
            efficiency=tuple(efficiency_points(self.detector)),
        )


def open_simulated(config, clock: Clock):
    """The simulated MCA of a configuration, with the simulator's stack conditions and
    detector calibration (dated 1 January of the current year unless configured)."""
    from .base import Hardware

    source = SimulatorSource(
        config.station.code, config.station.detector, config.mca.seed, config.mca.detector_seed
    )
    mca = SimulatedMca(source, clock, seed=config.mca.seed)
    year_start = clock.now().replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    calibration = source.calibration()
    calibration = CalibrationPoints(
        calibration.energy, calibration.resolution, calibration.efficiency, year_start
    )
    return Hardware(mca=mca, conditions=mca.stack_conditions, calibration=calibration)
