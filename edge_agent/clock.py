"""The station's notion of time: the real clock, an accelerated one for demos, a stepping
one for tests, and the 15-minute acquisition grid (aligned on 00:00 UTC).

Everything that waits goes through `Clock.wait_until`, so that an accelerated clock makes
a simulated day pass in minutes and a stepping clock in the blink of an eye.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from datetime import UTC, datetime, timedelta

from shared.timeutil import CYCLE, as_utc, floor_to_cycle

__all__ = [
    "CYCLE",
    "AcceleratedClock",
    "Clock",
    "SteppingClock",
    "SystemClock",
    "cycle_start",
    "next_boundary",
]


def cycle_start(t: datetime) -> datetime:
    """The boundary that opened the cycle containing t."""
    return floor_to_cycle(t)


def next_boundary(t: datetime) -> datetime:
    """The first boundary strictly after t."""
    return floor_to_cycle(t) + CYCLE


class Clock(ABC):
    """Station time (aware UTC datetimes) and waiting for it."""

    speed: float = 1.0  # station seconds per real second

    @abstractmethod
    def now(self) -> datetime: ...

    @abstractmethod
    def real_seconds_until(self, t: datetime) -> float:
        """Real seconds until the clock shows t (0 or less when it already does)."""

    def wait_until(self, t: datetime, stop: threading.Event, at_most: float | None = None) -> bool:
        """Wait until the clock shows t, `stop` is set, or `at_most` real seconds passed.

        True when t was reached; False when stopped or when `at_most` ran out first.
        """
        deadline = None if at_most is None else time.monotonic() + at_most
        while not stop.is_set():
            remaining = self.real_seconds_until(t)
            if remaining <= 0:
                return True
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                remaining = min(remaining, left)
            # wake a little early and re-check: sleeping is never exact
            stop.wait(min(remaining, 1.0))
        return False


class SystemClock(Clock):
    """The computer's clock (keep it synchronised: chrony or systemd-timesyncd)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def real_seconds_until(self, t: datetime) -> float:
        return (as_utc(t) - self.now()).total_seconds()


class AcceleratedClock(Clock):
    """Station time = start + speed × real time elapsed since the clock was made.

    With `catch_up`, a clock started in the past runs fast only until it reaches the real
    time, then keeps to it: a demo fills the past day quickly and then goes on live,
    never dating spectra in the future.
    """

    def __init__(
        self,
        start: datetime,
        speed: float,
        monotonic=time.monotonic,
        catch_up: bool = False,
        wall=lambda: datetime.now(UTC),
    ):
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.start = as_utc(start)
        self.speed = float(speed)
        self._monotonic = monotonic
        self._t0 = monotonic()
        self._real0 = as_utc(wall()) if catch_up else None

    def _elapsed(self) -> float:
        return self._monotonic() - self._t0

    def now(self) -> datetime:
        fast = self.start + timedelta(seconds=self._elapsed() * self.speed)
        if self._real0 is None:
            return fast
        return min(fast, self._real0 + timedelta(seconds=self._elapsed()))

    def real_seconds_until(self, t: datetime) -> float:
        t = as_utc(t)
        reached_at = (t - self.start).total_seconds() / self.speed  # real seconds since start
        if self._real0 is not None:
            reached_at = max(reached_at, (t - self._real0).total_seconds())
        return reached_at - self._elapsed()


class SteppingClock(Clock):
    """A clock that jumps forward to whatever time is waited for: no real waiting at all.

    For tests and for replaying a day as fast as the computer can work; `advance` moves
    it by hand.
    """

    speed = float("inf")

    def __init__(self, start: datetime):
        self._now = as_utc(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta

    def real_seconds_until(self, t: datetime) -> float:
        return 0.0 if as_utc(t) <= self.now() else float("inf")

    def wait_until(self, t: datetime, stop: threading.Event, at_most: float | None = None) -> bool:
        if stop.is_set():
            return False
        with self._lock:
            self._now = max(self._now, as_utc(t))
        return True
