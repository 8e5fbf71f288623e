"""The `vendor-files` driver: the vendor's acquisition software (Genie, Maestro,
GammaVision...) counts and writes one file per interval into a folder; this driver takes
each new N42, CNF, SPE, SPC or CHN file there as the acquisition of its interval.

Nothing is guessed. A file is read only once its size and modification time have been
still for `settle_seconds` (a file being written can look complete). A file that is
unreadable, half-written, late (its interval is over) or for the wrong interval (not
starting at a boundary, not as long as one) is moved to `rejected/` with a `.reason.txt`
beside it and reported; a file taken is moved to `accepted/`. Both stay on disk.

Vendor software writes the acquisition PC's local time: `timezone` says which it is.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from shared.formats import FormatError
from shared.formats.vendor import VENDOR_FORMATS, VendorSpectrum, read_vendor_file

from ..clock import CYCLE, Clock, cycle_start
from .base import DeviceError, DeviceProtocolError, DeviceTimeout, Elapsed, Mca, McaStatus, Presets

__all__ = [
    "Backlogged",
    "VendorFileRejected",
    "VendorFilesMca",
    "acquisition_of",
    "backlog_acquisition",
    "interval_of",
    "utc_start",
]

log = logging.getLogger(__name__)


class VendorFileRejected(ValueError):
    """A vendor file that cannot be the acquisition of an interval; says why."""


def utc_start(spectrum: VendorSpectrum, timezone: str = "UTC") -> datetime:
    """When the acquisition started, in UTC, from the file's local time."""
    if spectrum.start_time is None:
        raise VendorFileRejected(
            f"{spectrum.source}: the file gives no start time, so its interval is unknown"
        )
    local = spectrum.start_time
    if local.tzinfo is None:
        local = local.replace(tzinfo=ZoneInfo(timezone))
    return local.astimezone(UTC)


def interval_of(
    spectrum: VendorSpectrum,
    timezone: str = "UTC",
    length: timedelta = CYCLE,
    tolerance_seconds: float = 60.0,
) -> datetime:
    """The interval (its start, UTC) the file's acquisition fills, or VendorFileRejected:
    it must start within `tolerance_seconds` of a boundary and last one interval."""
    start = utc_start(spectrum, timezone)
    boundary = cycle_start(start + timedelta(seconds=length.total_seconds() / 2))
    off = (start - boundary).total_seconds()
    if abs(off) > tolerance_seconds:
        raise VendorFileRejected(
            f"{spectrum.source}: wrong interval: started {start:%Y-%m-%d %H:%M:%S} UTC, "
            f"{off:+.0f} s from the boundary {boundary:%H:%M} (allowed: {tolerance_seconds:g} "
            "s; check the vendor software's count schedule and the timezone setting)"
        )
    expected = length.total_seconds()
    if abs(spectrum.real_time - expected) > tolerance_seconds:
        raise VendorFileRejected(
            f"{spectrum.source}: wrong interval: real time {spectrum.real_time:.1f} s, the "
            f"interval is {expected:.0f} s (check the vendor software's preset)"
        )
    return boundary


def acquisition_of(
    spectrum: VendorSpectrum,
    timezone: str = "UTC",
    length: timedelta = CYCLE,
    tolerance_seconds: float = 60.0,
):
    """The file as the acquisition of its interval (what the engine makes a PHD of), or
    VendorFileRejected. `stax phd import` and this driver's engine run share this rule."""
    from ..cycle import Acquired

    interval = interval_of(spectrum, timezone, length, tolerance_seconds)
    return Acquired(
        interval_start=interval,
        start=utc_start(spectrum, timezone),
        real_time=spectrum.real_time,
        live_time=spectrum.live_time,
        counts=spectrum.counts,
    )


@dataclass(frozen=True, eq=False)
class Backlogged:
    """A vendor file of a backlog as the acquisition it was: `acquired` names the PHD and
    its SRID by the file's own start; `notes` say how it differs from the agent's schedule."""

    acquired: object  # cycle.Acquired
    notes: tuple[str, ...]


def backlog_acquisition(
    spectrum: VendorSpectrum,
    timezone: str,
    now: datetime,
    length: timedelta = CYCLE,
    tolerance_seconds: float = 60.0,
) -> Backlogged:
    """A file of a backlog (`stax phd import`): the acquisition as the file records it.

    Unlike a live interval, a backlog file need not start on a boundary nor last one
    interval: the PHD carries the real acquisition start and real time, and its name takes
    that start to the second (formats.md: `..._PHD_<yyyy>_<mm>_<dd>T<HH>_<MM>_<SS>.TXT`).
    What is not an acquisition is still refused (VendorFileRejected): no start time, no
    real time, live time above real time, no counts, or a start after `now` (a wrong clock
    or timezone). `now` is passed in (UTC)."""
    from ..cycle import Acquired

    start = utc_start(spectrum, timezone)
    if not spectrum.real_time > 0:
        raise VendorFileRejected(
            f"{spectrum.source}: no real time in the file ({spectrum.real_time})"
        )
    if not 0 <= spectrum.live_time <= spectrum.real_time * (1 + 1e-6):
        raise VendorFileRejected(
            f"{spectrum.source}: live time {spectrum.live_time:.1f} s is not between 0 and the "
            f"real time {spectrum.real_time:.1f} s"
        )
    if len(spectrum.counts) == 0:
        raise VendorFileRejected(f"{spectrum.source}: no channels in the file")
    if start > now:
        raise VendorFileRejected(
            f"{spectrum.source}: started {start:%Y-%m-%d %H:%M:%S} UTC, after now "
            f"({now:%Y-%m-%d %H:%M:%S} UTC): check the timezone setting and the vendor PC's clock"
        )
    notes = []
    try:
        interval_of(spectrum, timezone, length, tolerance_seconds)
    except VendorFileRejected:
        boundary = cycle_start(start)
        off = (start - boundary).total_seconds()
        if abs(off) > tolerance_seconds and abs(off - length.total_seconds()) > tolerance_seconds:
            notes.append(f"starts off the {length.total_seconds() / 60:g}-minute schedule")
        if abs(spectrum.real_time - length.total_seconds()) > tolerance_seconds:
            notes.append(
                f"real time {spectrum.real_time:.1f} s, not {length.total_seconds():.0f} s"
            )
    acquired = Acquired(
        interval_start=start.replace(microsecond=0),
        start=start,
        real_time=spectrum.real_time,
        live_time=spectrum.live_time,
        counts=spectrum.counts,
    )
    return Backlogged(acquired, tuple(notes))


@dataclass(frozen=True)
class _Taken:
    spectrum: VendorSpectrum
    interval: datetime


class VendorFilesMca(Mca):
    """The folder the vendor software writes into, seen as an MCA by the engine.

    `start` marks the interval that acquires now; `read_spectrum` (at its end) waits up to
    `wait_seconds` for that interval's file and takes it, or raises DeviceTimeout: the
    interval becomes a gap. Keep `wait_seconds` well under the engine's tolerance.
    """

    def __init__(
        self,
        folder: str | Path,
        clock: Clock,
        *,
        channels: int,
        timezone: str = "UTC",
        settle_seconds: float = 2.0,
        wait_seconds: float = 20.0,
        tolerance_seconds: float = 60.0,
        poll_seconds: float = 0.1,
    ):
        self.folder = Path(folder)
        self.clock = clock
        self.channels = channels
        self.timezone = timezone
        ZoneInfo(timezone)  # a wrong name fails here, at start, not at the first file
        self.settle_seconds = settle_seconds
        self.wait_seconds = wait_seconds
        self.tolerance_seconds = tolerance_seconds
        self.poll_seconds = poll_seconds
        self.name = f"vendor files in {self.folder}"
        self.reports: list[str] = []  # every file rejected, with why (also logged)
        self._interval: datetime | None = None
        self._acquiring = False
        self._taken: _Taken | None = None
        self._check_folder()

    # ------------------------------------------------------------ the folder
    def _check_folder(self) -> None:
        if not self.folder.is_dir():
            raise DeviceError(
                f"{self.name}: the folder does not exist or is not a folder (check the "
                "vendor software's output folder and [mca] folder)"
            )

    def _candidates(self) -> list[Path]:
        self._check_folder()
        return sorted(
            p for p in self.folder.iterdir() if p.is_file() and p.suffix.lower() in VENDOR_FORMATS
        )

    def _settled(self, path: Path) -> bool:
        try:
            first = path.stat()
        except FileNotFoundError:
            return False
        return time.time() - first.st_mtime >= self.settle_seconds

    def _keep(self, path: Path, where: str, reason: str | None = None) -> Path:
        target_dir = self.folder / where
        target_dir.mkdir(exist_ok=True)
        target = target_dir / path.name
        n = 1
        while target.exists():
            target = target_dir / f"{path.stem}.{n}{path.suffix}"
            n += 1
        shutil.move(str(path), target)
        if reason is not None:
            target.with_name(target.name + ".reason.txt").write_text(reason + "\n")
        return target

    def _reject(self, path: Path, reason: str) -> None:
        kept = self._keep(path, "rejected", reason)
        text = f"{reason} (kept as {kept})"
        self.reports.append(text)
        log.warning("vendor file rejected: %s", text)

    def scan(self, current: datetime) -> _Taken | None:
        """Look at every settled file: take the one of `current`, reject the unusable."""
        found = None
        for path in self._candidates():
            if not self._settled(path):
                continue
            try:
                spectrum = read_vendor_file(path)
                interval = interval_of(spectrum, self.timezone, CYCLE, self.tolerance_seconds)
            except (FormatError, VendorFileRejected) as exc:
                self._reject(path, str(exc))
                continue
            if spectrum.channels != self.channels:
                self._reject(
                    path,
                    f"{path}: {spectrum.channels} channels, the station's MCA has "
                    f"{self.channels} ([mca] channels)",
                )
            elif interval == current and found is None:
                self._keep(path, "accepted")
                found = _Taken(spectrum, interval)
            elif interval == current:
                self._reject(path, f"{path}: a second file for the interval {interval:%H:%M}")
            elif interval < current:
                self._reject(
                    path,
                    f"{path}: late: the interval {interval:%Y-%m-%d %H:%M} UTC is over (the "
                    "agent recorded it as a gap)",
                )
            # a file of a later interval waits for its time
        return found

    # ------------------------------------------------------------ Mca
    def set_presets(self, presets: Presets) -> None:
        if presets != Presets():
            raise DeviceError(f"{self.name}: presets are set in the vendor software, not here")

    def presets(self) -> Presets:
        return Presets()

    def start(self) -> None:
        self._check_folder()
        if not self._acquiring:
            self._interval = cycle_start(self.clock.now() + timedelta(seconds=1))
            self._acquiring = True

    def stop(self) -> None:
        self._acquiring = False

    def clear(self) -> None:
        self._taken = None
        self._interval = None

    def _take(self) -> _Taken:
        if self._taken is not None:
            return self._taken
        if self._interval is None:
            raise DeviceProtocolError(f"{self.name}: no acquisition was started")
        deadline = time.monotonic() + self.wait_seconds
        while True:
            taken = self.scan(self._interval)
            if taken is not None:
                self._taken = taken
                return taken
            if time.monotonic() >= deadline:
                waiting = [p.name for p in self._candidates()]
                raise DeviceTimeout(
                    f"{self.name}: no file for the interval {self._interval:%Y-%m-%d %H:%M} "
                    f"UTC within {self.wait_seconds:g} s"
                    + (
                        f" (still being written or for later: {', '.join(waiting)})"
                        if waiting
                        else ""
                    )
                    + "; is the vendor software counting?"
                )
            time.sleep(self.poll_seconds)

    def read_spectrum(self) -> np.ndarray:
        return self._take().spectrum.counts

    def elapsed(self) -> Elapsed:
        if self._taken is None and self._acquiring and self._interval is not None:
            real = max(0.0, (self.clock.now() - self._interval).total_seconds())
            return Elapsed(real, real)  # the vendor software's own times come with the file
        s = self._take().spectrum
        return Elapsed(live_time=s.live_time, real_time=s.real_time)

    def status(self) -> McaStatus:
        self._check_folder()
        return McaStatus(
            acquiring=self._acquiring,
            readings={"vendor_files_rejected": float(len(self.reports))},
        )
