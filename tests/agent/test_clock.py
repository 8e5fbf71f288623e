"""The 15-minute grid and the clocks: aligned boundaries, acceleration, waiting."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from edge_agent.clock import (
    AcceleratedClock,
    SteppingClock,
    SystemClock,
    cycle_start,
    next_boundary,
)

T = datetime(2023, 11, 20, 15, 44, 59, 900000, tzinfo=UTC)


def test_boundaries_are_aligned_on_quarter_hours_utc():
    assert cycle_start(T) == datetime(2023, 11, 20, 15, 30, tzinfo=UTC)
    assert next_boundary(T) == datetime(2023, 11, 20, 15, 45, tzinfo=UTC)
    on = datetime(2023, 11, 20, 15, 45, tzinfo=UTC)
    assert cycle_start(on) == on
    assert next_boundary(on) == on + timedelta(minutes=15)
    assert next_boundary(datetime(2023, 12, 31, 23, 50, tzinfo=UTC)) == datetime(
        2024, 1, 1, tzinfo=UTC
    )


def test_times_in_other_zones_are_converted_to_utc():
    from datetime import timezone

    sydney = datetime(2023, 11, 21, 2, 50, tzinfo=timezone(timedelta(hours=11)))
    assert cycle_start(sydney) == datetime(2023, 11, 20, 15, 45, tzinfo=UTC)


def test_accelerated_clock_runs_speed_times_faster():
    real = [100.0]
    clock = AcceleratedClock(T, speed=60, monotonic=lambda: real[0])
    assert clock.now() == T
    real[0] += 15.0
    assert clock.now() == T + timedelta(minutes=15)
    # a boundary 15 station minutes ahead is 15 real seconds away
    assert clock.real_seconds_until(T + timedelta(minutes=30)) == 15.0


class FakeTime:
    """Real time passed in: a monotonic clock and a stop event whose `wait` moves it
    forward (by the time asked for, or to the moment `stop_after` sets the event)."""

    def __init__(self) -> None:
        self.now = 0.0  # sums of the waits are exact from 0 (no rounding to loop on)
        self.stop_at: float | None = None
        self.waits: list[float] = []
        self._set = False

    def monotonic(self) -> float:
        return self.now

    def stop_after(self, seconds: float) -> None:
        self.stop_at = self.now + seconds

    def is_set(self) -> bool:
        return self._set

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        assert len(self.waits) < 1000, "waiting in a loop that does not move on"
        if self.stop_at is not None and self.now + seconds >= self.stop_at:
            self.now = max(self.now, self.stop_at)
            self._set = True
            return True
        self.now += seconds
        return False


def test_waiting_for_a_boundary_at_high_speed_takes_little_real_time():
    real = FakeTime()
    clock = AcceleratedClock(T, speed=3600, monotonic=real.monotonic)
    target = next_boundary(T)  # 0.1 s of station time ahead: 28 µs of real time
    target = next_boundary(target)  # 15 min more: 0.25 s of real time
    began = real.now
    assert clock.wait_until(target, real)
    assert clock.now() >= target
    assert 0.2 < real.now - began < 0.26
    assert real.waits[0] == pytest.approx(0.25, abs=1e-4)  # one wait, not 1-s steps


def test_waiting_ends_when_stopped_or_at_most_runs_out(monkeypatch):
    real = FakeTime()
    monkeypatch.setattr("edge_agent.clock.time", real)  # `at_most` counts on this clock
    clock = SystemClock()
    far = clock.now() + timedelta(hours=1)
    began = real.now
    assert clock.wait_until(far, real, at_most=0.05) is False
    assert real.now - began == pytest.approx(0.05)
    real.stop_after(0.05)  # another thread sets `stop` 0.05 s later
    assert clock.wait_until(far, real) is False
    assert real.now - began == pytest.approx(0.1)  # at once, not at the next 1-s check


def test_a_real_stop_event_set_by_another_thread_ends_the_wait():
    stop = threading.Event()
    far = SystemClock().now() + timedelta(hours=1)
    threading.Timer(0.05, stop.set).start()
    began = time.monotonic()
    assert SystemClock().wait_until(far, stop) is False
    assert stop.is_set()
    assert time.monotonic() - began < 600  # not the hour (a bound for a loaded machine)


def test_stepping_clock_jumps_to_what_is_waited_for():
    clock = SteppingClock(T)
    stop = threading.Event()
    assert clock.wait_until(next_boundary(T), stop)
    assert clock.now() == next_boundary(T)
    assert clock.wait_until(T, stop)  # the past: no jump back
    assert clock.now() == next_boundary(T)
    clock.advance(timedelta(seconds=5))
    assert clock.now() == next_boundary(T) + timedelta(seconds=5)
    stop.set()
    assert not clock.wait_until(T + timedelta(days=1), stop)


def test_a_catching_up_clock_runs_fast_until_the_present_then_keeps_real_time():
    real = [0.0]
    now = T + timedelta(hours=1)  # the wall clock: one station hour after the start
    clock = AcceleratedClock(
        T, speed=60, monotonic=lambda: real[0], catch_up=True, wall=lambda: now
    )
    real[0] = 30.0  # 30 real s at 60x: 30 station minutes, still in the past
    assert clock.now() == T + timedelta(minutes=30)
    assert clock.real_seconds_until(T + timedelta(minutes=45)) == 15.0
    real[0] = 120.0  # fast time would be T+2h; the present is T+1h+2min
    assert clock.now() == now + timedelta(seconds=120)
    # beyond the present the clock waits in real seconds
    assert clock.real_seconds_until(now + timedelta(minutes=10)) == 600 - 120
