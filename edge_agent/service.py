"""`stax agent run`: the engine and a sender per transport in threads, under systemd's eye.

Everything is opened and checked before READY=1 (configuration, outbox, MCA, keys), so a
mistake stops the agent at once with a message that names what to fix. The watchdog is
fed only while acquisition is healthy: a hung or failing MCA makes systemd restart us.
"""

from __future__ import annotations

import fcntl
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO

from .alerts import AlertQueue
from .calibration import CalibrationError, CalibrationPoints, read_calibration_file
from .clock import CYCLE, AcceleratedClock, Clock, SystemClock
from .config import AgentConfig, ClockConfig
from .drivers import open_mca
from .drivers.base import DeviceError, Hardware
from .engine import Engine
from .outbox import Outbox, OutboxError, ReleasePolicy
from .sealing import Sealer, SealingError
from .sender import Client, HttpsClient, RetryPolicy, Sender, SenderError, SmtpClient
from .systemd import Notifier

__all__ = ["Agent", "AgentError", "Hardware", "station_clock"]

log = logging.getLogger(__name__)


class AgentError(RuntimeError):
    """The agent cannot start: the message says what to fix."""


@dataclass
class _Threads:
    engine: threading.Thread
    senders: list[threading.Thread]
    failed: list[str] = field(default_factory=list)


def station_clock(config: ClockConfig, acquired_until: datetime | None) -> Clock:
    """The clock the configuration asks for. An accelerated clock carries on from where
    the station stopped, so that a restarted demo goes on without a hole."""
    if config.speed == 1 and config.start is None:
        return SystemClock()
    start = config.start_time or datetime.now(UTC)
    if acquired_until is not None and acquired_until > start:
        # about two real seconds before that boundary: time to open everything, and then
        # the next interval starts right away
        margin = min(CYCLE.total_seconds() - 5, max(5.0, 2 * config.speed))
        start = acquired_until - timedelta(seconds=margin)
        log.info("station clock resumes at %s, where acquisition stopped", start)
    return AcceleratedClock(start, config.speed, catch_up=config.catch_up)


def station_method():
    """The station analysis (edge_agent/analysis/): every spectrum is analysed on the spot.

    Its compiled kernels are made ready here (loaded from numba's cache; compiled, some
    10-30 s, after an install or an update), before the clock starts.
    """
    from edge_agent.analysis import analyze, warm_up

    warm_up()
    return analyze


def boundary_tolerance(speed: float) -> float:
    """Station seconds a boundary may be handled late: a minute, more on a fast clock,
    where waking up a few real milliseconds late is many station seconds (at most 90 s,
    a tenth of the interval)."""
    return min(90.0, max(60.0, 0.1 * speed))


def _lock(outbox: Outbox) -> IO:
    path = outbox.path.with_name(outbox.path.name + ".lock")
    handle = open(path, "w")  # noqa: SIM115 - held open for the agent's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise AgentError(
            f"{outbox.path}: another agent is running with this outbox "
            "(one agent per detector; see `systemctl status 'stax-agent@*'`)"
        ) from None
    return handle


class Agent:
    def __init__(
        self,
        config: AgentConfig,
        *,
        hardware: Hardware | None = None,
        clock: Clock | None = None,
        notifier: Notifier | None = None,
    ):
        self.config = config
        self.notifier = notifier or Notifier()
        try:
            self.outbox = Outbox(config.outbox.path)
        except OutboxError as exc:
            raise AgentError(f"[outbox] path: {exc}") from None
        try:
            self._lock = _lock(self.outbox)
        except AgentError:
            self.outbox.close()
            raise
        try:
            self._build(config, hardware, clock)
        except BaseException:
            self.close()
            raise

    def _build(self, config: AgentConfig, hardware: Hardware | None, clock: Clock | None) -> None:
        code = config.station.code
        # imported before the clock starts: on an accelerated clock that resumes just before
        # a boundary, the seconds this import takes would otherwise lose that boundary
        analysis = station_method()
        self.clock = clock or station_clock(config.clock, self.outbox.acquired_until(code))
        try:
            hardware = hardware or open_mca(config, self.clock)
            self.mca = hardware.mca
            calibration = self._calibration(config, hardware)
            seal = Sealer(
                code,
                config.identity.cert,
                config.identity.key,
                config.identity.chain,
                config.central.encryption_cert,
                ca_cert=config.central.ca_cert,
            )
            clients = [_client(config, transport) for transport in config.central.transports]
        except (DeviceError, CalibrationError, SealingError, SenderError) as exc:
            raise AgentError(str(exc)) from None
        self.hardware = hardware
        retry = RetryPolicy(config.central.retry_initial_seconds, config.central.retry_max_seconds)
        self.senders = [
            Sender(self.outbox, client, self.clock, retry, transports=config.central.transports)
            for client in clients
        ]
        release = ReleasePolicy(config.release.mode, config.release.delay_hours)
        alerts = AlertQueue(
            station=config.station,
            outbox=self.outbox,
            clock=self.clock,
            seal=seal,
            release=release,
            on_queued=lambda _item: self._wake_senders(),
        )
        watchdog = self.notifier.watchdog_seconds
        self.engine = Engine(
            station=config.station,
            mca=hardware.mca,
            clock=self.clock,
            outbox=self.outbox,
            calibration=calibration,
            seal=seal,
            release=release,
            stack_defaults=config.stack,
            conditions=hardware.conditions,
            on_queued=lambda _item: self._wake_senders(),
            analysis=analysis,
            alerts=alerts,
            sensors=hardware.sensors,
            soh=config.soh,
            alert_limits=config.alerts,
            identity_cert=config.identity.cert,
            # poll the MCA often enough that the watchdog sees a fault in time
            health_seconds=min(10.0, watchdog / 3) if watchdog else 10.0,
            tolerance_seconds=boundary_tolerance(self.clock.speed),
        )

    def _wake_senders(self) -> None:
        for sender in self.senders:
            sender.wake.set()

    @staticmethod
    def _calibration(config: AgentConfig, hardware: Hardware) -> CalibrationPoints:
        if config.calibration.file is not None:
            points = read_calibration_file(config.calibration.file)
        elif hardware.calibration is not None:
            points = hardware.calibration
        else:
            raise CalibrationError(
                f"[calibration] file is needed with the {config.mca.driver!r} MCA driver "
                "(the station's last CALIBPHD)"
            )
        if config.calibration.calibration_time is not None:
            points = CalibrationPoints(
                points.energy,
                points.resolution,
                points.efficiency,
                config.calibration.calibration_time,
            )
        return points

    def close(self) -> None:
        self.outbox.close()
        self._lock.close()

    # ------------------------------------------------------------ running
    def run(self, stop: threading.Event) -> int:
        """Acquire and send until `stop` is set; 0 on a clean stop, 1 when a part died."""
        threads = _Threads(
            threading.Thread(
                target=self._guard, args=("engine", self.engine.run, stop), name="engine"
            ),
            [
                threading.Thread(
                    target=self._guard,
                    args=(f"{sender.transport} sender", sender.run, stop),
                    name=f"sender-{sender.transport}",
                )
                for sender in self.senders
            ],
        )
        self._threads = threads
        threads.engine.start()
        for thread in threads.senders:
            thread.start()
        c = self.config
        log.info(
            "agent for %s (%s, detector %s) started; clock speed %s; sending to %s",
            c.station.code,
            c.station.facility,
            c.station.detector,
            self.clock.speed,
            " and ".join(sender.client.url for sender in self.senders),
        )
        self.notifier.ready(self._status())
        period = self.notifier.watchdog_seconds / 2 if self.notifier.watchdog_seconds else 5.0
        try:
            while not stop.wait(period):
                if threads.failed:
                    break
                if self.engine.healthy:
                    self.notifier.watchdog()
                self.notifier.status(self._status())
        finally:
            stop.set()
            self.notifier.stopping()
            self._wake_senders()
            threads.engine.join()
            for thread in threads.senders:
                thread.join()
            self.close()
            log.info("agent stopped")
        return 1 if threads.failed else 0

    def _guard(self, name: str, target: Callable[[threading.Event], None], stop) -> None:
        try:
            target(stop)
        except Exception:
            log.exception("the %s stopped on an unexpected error; the agent stops", name)
            self._threads.failed.append(name)
            stop.set()

    def _status(self) -> str:
        counts = self.outbox.counts()
        state = "acquiring" if self.engine.healthy else f"MCA fault: {self.engine.fault}"
        return (
            f"{state}; outbox: {counts['ready']} to send, {counts['held']} held, "
            f"{counts['refused']} refused"
        )


def _client(config: AgentConfig, transport: str) -> Client:
    """The delivery client of one transport, its certificates loaded and checked."""
    central = config.central
    if transport == "https":
        assert central.url is not None  # checked with the configuration
        return HttpsClient(
            central.url,
            central.ca_cert,
            config.identity.cert,
            config.identity.key,
            config.identity.chain,
            timeout=central.timeout_seconds,
        )
    email = central.email
    assert email is not None  # checked with the configuration
    return SmtpClient(
        email.host,
        email.port,
        email.from_address,
        email.to_address,
        email.ca_cert or central.ca_cert,
        email.user,
        email.password_file,
        timeout=email.timeout_seconds,
    )


def run_agent(config: AgentConfig) -> int:
    """Run until SIGTERM or SIGINT (the `stax agent run` command)."""
    stop = threading.Event()
    agent = Agent(config)

    def on_signal(signum, _frame):
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return agent.run(stop)
