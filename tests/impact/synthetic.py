"""Small SRS files written by hand for the tests: every number in them is known."""

from __future__ import annotations

from datetime import UTC, datetime

STOP = datetime(2024, 3, 2, 6, tzinfo=UTC)


def srs_text(
    lines: list[str],
    *,
    steps: int = 4,
    dt: int = 3,
    sample_h: int = 24,
    mass: str = "1.0E+15",
    grid: str = "1.0 1.0",
) -> str:
    """A header for an IMS sample of `sample_h` hours ending at STOP, then the lines."""
    start = STOP.replace(day=STOP.day - sample_h // 24) if sample_h % 24 == 0 else None
    assert start is not None
    head = f'10.00 20.00 {start:%Y%m%d} {start.hour} {STOP:%Y%m%d} {STOP.hour} {mass} {steps * dt} {dt} {dt} {grid} "TSX01"'
    return "\n".join([head, *lines]) + "\n"
