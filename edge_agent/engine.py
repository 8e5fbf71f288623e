"""The acquisition engine: one spectrum per 15-minute interval, from the MCA to the outbox.

At every boundary it rolls the MCA over (cycle.py), turns the finished acquisition into a
signed SAMPLEPHD in the outbox, and keeps account of every interval: each one either has
a file or is recorded as a gap with its reason. Nothing is ever made up: an interval the
MCA did not fully acquire gives no file. Between boundaries it checks that the MCA still
answers and acquires; `healthy` feeds the systemd watchdog.

With the station analysis on, each finished UTC day also gets its ATS: the station's own
results of that day's spectra, queued like them. It is made at the first boundary after
the day ended (normally 00:00, right after the 23:45 spectrum), for every earlier day that
has spectra in the outbox but no ATS yet, so a day the agent was stopped over midnight
gets its ATS when it runs again, and never two.

At every boundary it also samples the sensors and the MCA's own readings for the state
of health (soh.py), checks them against their limits, and once a report period is over
queues its STAXSOH, made the same way: for every finished period that has samples but no
report yet. Alerts go through `alerts` (alerts.py): one message when a condition starts,
one when it ends.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path

import shared
from shared.formats import Message, Phd, StackConditions, read_message, write_ats, write_message
from shared.formats.filenames import ProductName
from shared.results import AnalysisError, AnalysisResult
from shared.timeseries import SampleRecord, daily_ats

from .alerts import LogAlerts, check_limits, check_station
from .calibration import CalibrationPoints
from .clock import CYCLE, Clock, cycle_start, next_boundary
from .config import AlertsConfig, SohConfig, StackDefaults, StationConfig
from .cycle import Acquired, arm, check_interval, rollover
from .drivers.base import DeviceError, Mca, Sensor
from .messages import (
    ats_file_name,
    ats_station,
    phd_file_name,
    sample_phd,
    srid,
    stack_conditions,
    to_bytes,
)
from .outbox import Outbox, OutboxFile, ReleasePolicy
from .soh import SohSample, make_soh

__all__ = ["Engine", "log_alert"]

log = logging.getLogger(__name__)
alert_log = logging.getLogger("edge_agent.alert")

# real seconds a boundary may spend making the ATS of missed days (at least one is made at
# each boundary); the rest wait for the next boundary, so that a long backlog never keeps
# the engine from the MCA
ATS_BUDGET_SECONDS = 10.0
SOH_PER_BOUNDARY = 12  # reports of missed periods made at one boundary (a day at 2 h)


def log_alert(kind: str, text: str) -> None:
    """The alert sink of an engine without an alert queue: an error in the log."""
    alert_log.error("%s: %s", kind, text)


@dataclass(frozen=True)
class _Running:
    interval: datetime  # the boundary the running acquisition belongs to
    started: datetime  # when START was given


class Engine:
    def __init__(
        self,
        *,
        station: StationConfig,
        mca: Mca,
        clock: Clock,
        outbox: Outbox,
        calibration: CalibrationPoints,
        seal: Callable[[bytes], bytes],
        release: ReleasePolicy = ReleasePolicy(),  # noqa: B008 - frozen
        stack_defaults: StackDefaults = StackDefaults(),  # noqa: B008 - frozen
        conditions: Callable[[datetime], StackConditions | None] | None = None,
        analysis: Callable[..., AnalysisResult] | None = None,
        on_queued: Callable[[OutboxFile], None] | None = None,
        alert: Callable[[str, str], None] = log_alert,
        alerts=None,  # an AlertQueue (messages) or LogAlerts; default: LogAlerts(alert)
        sensors: list[Sensor] | tuple[Sensor, ...] = (),
        soh: SohConfig | None = None,  # None: no state-of-health reports
        alert_limits: AlertsConfig | None = None,  # None: no limit, outbox or expiry alerts
        identity_cert: Path | None = None,  # the station certificate, watched for expiry
        health_seconds: float = 10.0,
        tolerance_seconds: float = 60.0,
    ):
        self.station = station
        self.mca = mca
        self.clock = clock
        self.outbox = outbox
        self.calibration = calibration
        self.seal = seal
        self.release = release
        self.stack_defaults = stack_defaults
        self.conditions = conditions
        self.analysis = analysis
        self.on_queued = on_queued
        self.alerts = alerts if alerts is not None else LogAlerts(alert)
        self.sensors = list(sensors)
        self.soh = soh
        self.alert_limits = alert_limits
        self.identity_cert = identity_cert
        self._made: Acquired | None = None  # the last acquisition that became a file
        self._last_boundary: datetime | None = None  # the last boundary handled in this run
        self.health_seconds = health_seconds
        self.tolerance = tolerance_seconds  # station seconds a boundary may be handled late
        self._running: _Running | None = None
        self._pending_gap = "agent not running"  # why the next gap, if any, happened
        self._fault: str | None = None
        self._last_ok = 0.0  # monotonic time the MCA last answered as it should
        self._ats_failed: set[date] = set()  # days whose ATS failed: not tried again this run

    # ------------------------------------------------------------ health
    @property
    def healthy(self) -> bool:
        """The MCA answered lately and no fault is open: acquisition is going on."""
        recent = time.monotonic() - self._last_ok < 3 * self.health_seconds
        return self._fault is None and recent

    @property
    def fault(self) -> str | None:
        return self._fault

    def _device_ok(self) -> None:
        if self._fault is not None or self.alerts.is_open("mca"):
            was = f" (the fault was: {self._fault})" if self._fault else ""
            self.alerts.clear("mca", f"MCA answers again: {self.mca.name}{was}")
            self._fault = None
        self._last_ok = time.monotonic()

    def _device_fault(self, exc: Exception, doing: str) -> None:
        text = f"{doing}: {exc}"
        if not self.alerts.raise_("mca", "ALERT_SYSTEM", f"MCA not answering ({text})"):
            log.warning("MCA still failing: %s", text)
        self._fault = text

    # ------------------------------------------------------------ loop
    def run(self, stop: threading.Event) -> None:
        """Acquire until `stop` is set. The first spectrum starts at the next boundary."""
        code = self.station.code
        first = next_boundary(self.clock.now())
        until = self.outbox.acquired_until(code)
        if until is not None and until > first:
            # never make a second file for an interval already accounted for
            log.error(
                "the station clock (%s) is behind the last interval accounted for (%s): "
                "was the clock set back? Acquisition waits until then",
                self.clock.now(),
                until,
            )
            first = until
        elif until is not None and until < first:
            log.warning(
                "resuming: the last interval accounted for ended %s; acquisition starts again "
                "at %s, the time between is recorded as a gap",
                until,
                first,
            )
        log.info("%s: first acquisition starts at %s", code, first)
        self._pending_gap = "agent not running"
        self._poll_health()
        try:
            boundary = first
            while self._wait(boundary, stop):
                self.at_boundary()
                boundary = next_boundary(self.clock.now())
        finally:
            self._shut_down()

    def _wait(self, t: datetime, stop: threading.Event) -> bool:
        while not self.clock.wait_until(t, stop, at_most=self.health_seconds):
            if stop.is_set():
                return False
            self._poll_health()
        return True

    def _poll_health(self) -> None:
        try:
            status = self.mca.status()
        except DeviceError as exc:
            self._device_fault(exc, "status")
            return
        if self._running is not None and not status.acquiring:
            self._device_fault(DeviceError(f"{self.mca.name} stopped acquiring"), "status")
            return
        self._device_ok()

    def _shut_down(self) -> None:
        try:
            self.mca.stop()
        except DeviceError as exc:
            log.warning("could not stop the MCA on the way out: %s", exc)
        self.mca.close()
        for sensor in self.sensors:
            try:
                sensor.close()
            except Exception as exc:  # closing must not hide why we stop
                log.warning("could not close %s: %s", sensor.name, exc)
        self._running = None

    # ------------------------------------------------------------ one boundary
    def at_boundary(self) -> None:
        """Handle the boundary the clock just passed: finish one interval, start the next;
        then make the ATS of the days that are over."""
        now = self.clock.now()
        current = cycle_start(now)
        self._next_interval(now, current)
        self._daily_reports(current)
        self._state_of_health(current)

    def _next_interval(self, now: datetime, current: datetime) -> None:
        late = (now - current).total_seconds()
        on_time = late <= self.tolerance
        running, self._running = self._running, None
        if running is not None:
            if running.interval + CYCLE == current and on_time:
                if self._finish(running, current):
                    return
            else:
                self._pending_gap = f"boundary {current:%H:%M} handled {late:.0f} s late"
        self._record_gap(current)
        if not on_time:
            # too late to fill this interval: start cleanly at the next boundary
            log.warning("boundary %s handled %.0f s late; waiting for the next one", current, late)
            return
        try:
            started = arm(self.mca, self.clock)
        except DeviceError as exc:
            self._device_fault(exc, "start")
            self._pending_gap = f"MCA fault: {exc}"
            return
        self._device_ok()
        self._running = _Running(current, started)

    def _finish(self, running: _Running, current: datetime) -> bool:
        """End the running interval; True when the next acquisition is already running."""
        try:
            counts, elapsed, started = rollover(self.mca, self.clock)
        except DeviceError as exc:
            self._device_fault(exc, "end of interval")
            self._pending_gap = f"MCA fault: {exc}"
            self._record_gap(current)
            return False
        self._device_ok()
        self._running = _Running(current, started)
        why = check_interval(running.interval, running.started, elapsed, CYCLE, self.tolerance)
        if why is not None:
            self._pending_gap = why
            self._record_gap(current)
            return True
        acquired = Acquired(
            running.interval, running.started, elapsed.real_time, elapsed.live_time, counts
        )
        try:
            self._queue(acquired)
        except Exception as exc:
            # a bug or a broken disk: say so loudly; the interval is a gap, not a guess
            log.exception("could not make the file of the interval %s", running.interval)
            self._pending_gap = f"could not make the file: {exc}"
            self._record_gap(current)
        return True

    def _record_gap(self, until: datetime) -> None:
        code = self.station.code
        start = self.outbox.acquired_until(code)
        if start is None:
            # the station's very first interval: nothing before it to account for
            self.outbox.mark_acquired_until(code, until)
            return
        if start >= until:
            return
        gap, extended = self.outbox.record_gap(code, start, until, self._pending_gap)
        if not extended:
            log.warning("no spectrum from %s to %s: %s", gap.start, gap.end, gap.reason)
            if self._pending_gap != "agent not running":
                self.alerts.raise_(
                    "spectra",
                    "ALERT_SYSTEM",
                    f"Spectra input data missing from {gap.start} ({gap.reason})",
                )

    # ------------------------------------------------------------ the file
    def _analyse(self, phd: Phd, name: str) -> None:
        """The station method on the spectrum just queued; its result is kept beside the
        file. The file goes out whatever happens here: the central re-analyses it anyway."""
        assert self.analysis is not None
        try:
            result = self.analysis(phd, source=name)
        except AnalysisError as exc:
            log.warning("%s: not analysed: %s", name, exc)
            self.outbox.add_analysis(name, self.clock.now(), None, str(exc))
            return
        except Exception as exc:
            log.exception("station analysis failed for %s", name)
            self.outbox.add_analysis(name, self.clock.now(), None, f"internal error: {exc!r}")
            return
        self.outbox.add_analysis(name, self.clock.now(), result.to_json())
        found = [
            f"{n} {r.release_bq:.3g} Bq" if r.release_bq is not None else n
            for n, r in result.nuclides.items()
            if r.detected
        ]
        log.info(
            "%s: analysed in %.0f ms; detected: %s",
            name,
            1000 * result.elapsed_s,
            ", ".join(found) or "none",
        )

    def _queue(self, acquired: Acquired) -> OutboxFile:
        code = self.station.code
        measured = self.conditions(acquired.interval_start) if self.conditions else None
        stack = stack_conditions(measured, self.stack_defaults)
        msg_id = self.outbox.next_msg_id(code)
        phd = sample_phd(self.station, acquired, self.calibration, stack, self.clock.now())
        content = to_bytes(phd, self.station, msg_id)
        name = phd_file_name(code, msg_id, acquired.interval_start)
        item = self._put(
            name,
            msg_id,
            "SAMPLEPHD",
            content,
            acquired.interval_start,
            acquired_until=acquired.interval_start + CYCLE,
        )
        self._made = acquired
        self.alerts.clear(
            "spectra", f"Spectra input data again from {acquired.interval_start} ({name})"
        )
        if self.analysis is not None:
            self._analyse(phd, name)
        log.info(
            "queued %s (%d counts, live %.1f s of %.1f s; %s)",
            name,
            int(acquired.counts.sum()),
            acquired.live_time,
            acquired.real_time,
            item.state,
        )
        return item

    def _put(
        self,
        file_name: str,
        msg_id: int,
        data_type: str,
        content: bytes,
        interval_start: datetime,
        **extra,
    ) -> OutboxFile:
        """Seal `content`, queue it in the outbox under the release policy, wake the sender
        (the spectra, the daily ATS and the state of health all leave this way)."""
        item = self.outbox.add(
            file_name=file_name,
            station=self.station.code,
            msg_id=msg_id,
            data_type=data_type,
            content=content,
            payload=self.seal(content),
            created=self.clock.now(),
            policy=self.release,
            interval_start=interval_start,
            **extra,
        )
        if self.on_queued is not None:
            self.on_queued(item)
        return item

    # ------------------------------------------------------------ the daily ATS
    def _daily_reports(self, current: datetime) -> None:
        """The ATS of every day before the one `current` falls on that has spectra in the
        outbox but no ATS yet, oldest first. Whatever goes wrong here is an alert; it
        never reaches acquisition."""
        if self.analysis is None:
            return
        began = time.monotonic()
        budget = min(ATS_BUDGET_SECONDS, 0.3 * CYCLE.total_seconds() / self.clock.speed)
        try:
            days = self.outbox.days_without_ats(self.station.code, current.date())
        except Exception as exc:
            log.exception("could not look for days without an ATS")
            self.alerts.once("ALERT_SYSTEM", f"Daily ATS: cannot read the outbox ({exc})")
            return
        made = 0
        for day in days:
            if day in self._ats_failed:
                continue
            if made and time.monotonic() - began > budget:
                log.info("the ATS of %s and later wait for the next boundary", day)
                return
            try:
                self._queue_ats(day)
            except Exception as exc:
                self._ats_failed.add(day)
                log.exception("could not make the ATS of %s", day)
                self.alerts.once(
                    "ALERT_SYSTEM",
                    f"Daily ATS of {day} not made ({exc}); tried again when the agent restarts",
                )
            made += 1

    def _sample(self, item: OutboxFile) -> SampleRecord:
        """One spectrum of the day as the ATS reports it: the PHD read back from the bytes
        sent (or kept), and the station analysis kept beside it."""
        assert item.content is not None
        phd = read_message(item.content, source=item.file_name).phd
        kept = self.outbox.analysis(item.file_name)
        if kept is None:
            return SampleRecord(phd, item.file_name, None)  # Method: "not analysed"
        result = None
        error = kept["error"]
        if kept["result"] is not None:
            try:
                result = AnalysisResult.from_json(kept["result"])
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("%s: the stored analysis cannot be read: %s", item.file_name, exc)
                error = f"stored result unreadable: {exc}"
        return SampleRecord(phd, item.file_name, result, kept["analysed_at"], error)

    def _queue_ats(self, day: date) -> OutboxFile:
        """Make, seal and queue the station's ATS of `day` (UTC)."""
        code = self.station.code
        start = datetime.combine(day, day_time(), UTC)
        phds = self.outbox.interval_files(code, "SAMPLEPHD", start, start + timedelta(days=1))
        doc = daily_ats(
            station=ats_station(self.station),
            day=day,
            samples=[self._sample(item) for item in phds],
            analysis="STATION",
            generated_by=f"stax-monitor edge agent {shared.__version__}",
            generated_at=self.clock.now(),
        )
        content = write_ats(doc).encode("ascii")
        msg_id = self.outbox.next_msg_id(code)
        name = ats_file_name(code, msg_id, day)
        item = self._put(name, msg_id, "ATS", content, start)
        log.info("queued %s (the ATS of %s: %d spectra; %s)", name, day, len(phds), item.state)
        return item

    # ------------------------------------------------------------ state of health
    def _state_of_health(self, current: datetime) -> None:
        """Sample the interval that just ended, check its limits and the station's own
        state, and queue the reports of the periods that are over. Whatever goes wrong here
        is logged; it never reaches acquisition."""
        previous, self._last_boundary = self._last_boundary, current
        if self.soh is None and self.alert_limits is None and not self.sensors:
            return
        try:
            # an interval is sampled at its end when the agent ran through it: the first
            # boundary after a start reads the devices (for the alerts) but keeps no sample
            values = self._soh_sample(current - CYCLE, keep=previous == current - CYCLE)
            if self.alert_limits is not None:
                check_limits(self.alerts, self.alert_limits.limits, values)
                check_station(
                    self.alerts,
                    self.alert_limits,
                    now=datetime.now(UTC),  # certificates expire in real time
                    ready=self.outbox.counts()["ready"],
                    cert=self.identity_cert,
                )
            if self.soh is not None:
                self._soh_reports(current)
        except Exception:
            log.exception("state of health at %s failed", current)

    def _soh_sample(self, interval: datetime, keep: bool) -> dict[str, float]:
        """Every sensor and the MCA's readings now, kept as the sample of `interval`. A
        sensor that fails is left out of the sample (-9999.999 in the report) and raises
        an alert once, until it answers again."""
        values: dict[str, float] = {}
        try:
            values.update(self.mca.status().readings)
        except DeviceError as exc:
            log.warning("no MCA readings for the state of health: %s", exc)
        made = self._made
        if made is not None and made.interval_start == interval:
            values["live_time_s"] = made.live_time
            values["real_time_s"] = made.real_time
            values["dead_time_pct"] = round(100.0 * (1 - made.live_time / made.real_time), 3)
        for sensor in self.sensors:
            key = f"sensor:{sensor.name}"
            try:
                read = sensor.read()
                got = {k: float(v) for k, v in read.items() if v is not None and math.isfinite(v)}
            except Exception as exc:  # a driver bug is as much a missing value as a timeout
                why = str(exc) if isinstance(exc, DeviceError) else f"internal error: {exc!r}"
                if not self.alerts.raise_(key, "ALERT_SYSTEM", f"Sensor not answering: {why}"):
                    log.warning("sensor %s still failing: %s", sensor.name, why)
                continue
            self.alerts.clear(key, f"Sensor answers again: {sensor.name}")
            values.update(got)
        if keep:
            sample = SohSample(interval, CYCLE.total_seconds(), values)
            self.outbox.add_soh_sample(self.station.code, interval, sample.to_json())
        return values

    def _soh_reports(self, current: datetime) -> None:
        assert self.soh is not None
        code = self.station.code
        periods = self.outbox.periods_without_soh(code, current, self.soh.report_hours)
        for start in periods[:SOH_PER_BOUNDARY]:
            self._queue_soh(start)

    def _queue_soh(self, start: datetime) -> OutboxFile:
        """Make, seal and queue the STAXSOH of the period that starts at `start`."""
        assert self.soh is not None
        code = self.station.code
        end = start + timedelta(hours=self.soh.report_hours)
        made = {f.interval_start for f in self.outbox.interval_files(code, "SAMPLEPHD", start, end)}
        samples = [
            SohSample.from_json(t, data) for t, data in self.outbox.soh_samples(code, start, end)
        ]
        samples = [
            SohSample(
                s.interval_start,
                s.duration,
                s.values,
                srid(self.station.number, s.interval_start) if s.interval_start in made else None,
            )
            for s in samples
        ]
        soh = make_soh(
            station=code,
            detector=self.station.detector,
            start=start,
            end=end,
            samples=samples,
            config=self.soh,
            transmit_time=self.clock.now(),
            cycle=CYCLE,
        )
        msg_id = self.outbox.next_msg_id(code)
        message = Message(
            sections=[soh], msg_id=str(msg_id), msg_source=code, format=self.station.message_format
        )
        content = write_message(message).encode("ascii")
        name = str(ProductName(code, str(msg_id), "SOH", start, "TXT"))
        item = self._put(name, msg_id, "STAXSOH", content, start)
        log.info("queued %s (state of health %s to %s; %s)", name, start, end, item.state)
        return item
