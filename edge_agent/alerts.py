"""Alerts as messages: ALERT_SYSTEM, ALERT_FLOW, ALERT_TEMP, ALERT_UPS (docs/formats.md §4).

An alert is an episode: a message when a condition starts, none while it lasts, and one
when it ends. Open episodes are kept in the outbox database, in the same transaction as
the message that opened them, so a restart neither raises an alert twice nor forgets to
say that its condition ended. What raises them: the limits per quantity ([alerts]
limits), device faults (the engine), the outbox growing, and the station certificate or
its CRL nearing expiry (checks below, pure functions of what they are given).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509

from shared.formats import Alert, Message, write_message
from shared.formats.filenames import ProductName, extension_for

from .clock import Clock
from .config import AlertsConfig, LimitConfig, StationConfig
from .outbox import Episode, Outbox, OutboxFile, ReleasePolicy

__all__ = [
    "AlertQueue",
    "LogAlerts",
    "alert_file_name",
    "alert_kind",
    "limit_breach",
    "validity_warning",
]

log = logging.getLogger("edge_agent.alert")


def alert_kind(quantity: str, limit: LimitConfig) -> str:
    """The configured kind, else from the quantity's name: flows ALERT_FLOW, temperatures
    ALERT_TEMP, the UPS ALERT_UPS, anything else ALERT_SYSTEM."""
    if limit.kind is not None:
        return limit.kind
    if "flow" in quantity:
        return "ALERT_FLOW"
    if "temperature" in quantity:
        return "ALERT_TEMP"
    if quantity.startswith("ups"):
        return "ALERT_UPS"
    return "ALERT_SYSTEM"


def _limits_text(limit: LimitConfig) -> str:
    if limit.min is not None and limit.max is not None:
        return f"{limit.min:g} to {limit.max:g}"
    return f"at least {limit.min:g}" if limit.min is not None else f"at most {limit.max:g}"


def limit_breach(quantity: str, value: float, limit: LimitConfig, is_open: bool) -> str | None:
    """Why `value` is out of its limits (None when it is within them). An open episode
    ends only once the value is back inside by the hysteresis."""
    margin = limit.hysteresis if is_open else 0.0
    if limit.min is not None and value < limit.min + margin:
        return f"{quantity} = {value:g}, below its limit {limit.min:g}"
    if limit.max is not None and value > limit.max - margin:
        return f"{quantity} = {value:g}, above its limit {limit.max:g}"
    return None


def validity_warning(what: str, until: datetime, now: datetime, days: float) -> str | None:
    """`what` ends (expires, needs its next update) within `days` of `now`, or already did."""
    left = until - now
    if left > timedelta(days=days):
        return None
    if left <= timedelta(0):
        return f"{what} is out of date since {until:%Y-%m-%d %H:%M} UTC"
    return (
        f"{what} runs out on {until:%Y-%m-%d %H:%M} UTC, in {left.total_seconds() / 86400:.1f} days"
    )


def certificate_warning(path: Path, now: datetime, days: float) -> str | None:
    """The station certificate at `path` expires within `days` (read again each time: the
    operator may have renewed it)."""
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        return f"station certificate {path} cannot be read: {exc}"
    text = validity_warning(f"station certificate {path}", cert.not_valid_after_utc, now, days)
    return None if text is None else f"{text}; renew it (`stax pki station`)"


def crl_warning(path: Path, now: datetime, days: float) -> str | None:
    """The CRL at `path` needs its next update within `days`, or cannot be read."""
    try:
        data = path.read_bytes()
        crl = (
            x509.load_pem_x509_crl(data)
            if data.lstrip().startswith(b"-----")
            else x509.load_der_x509_crl(data)
        )
    except (OSError, ValueError) as exc:
        return f"CRL {path} cannot be read: {exc}"
    if crl.next_update_utc is None:
        return None
    text = validity_warning(f"CRL {path}", crl.next_update_utc, now, days)
    return None if text is None else f"{text}; fetch the network's new CRL"


def one_line(text: str) -> str:
    """Alert text as one printable ASCII line (device answers may hold anything)."""
    clean = "".join(c if c.isascii() and c.isprintable() else " " for c in text)
    return " ".join(clean.split()) or "(no text)"


def alert_file_name(station: str, msg_id: int, time: datetime) -> str:
    """`<STATION>_<MSG_ID>_ALERT_<yyyy>_<mm>_<dd>T<HH>_<MM>_<SS>.TXT`, at the alert's time."""
    return str(ProductName(station, str(msg_id), "ALERT", time, extension_for("ALERT")))


class LogAlerts:
    """Alerts to the log only (tests, tools): episodes kept in memory; `emit(kind, text)`
    is called when one opens."""

    def __init__(self, emit: Callable[[str, str], None] | None = None):
        self._emit = emit or (lambda kind, text: log.error("%s: %s", kind, text))
        self._open: dict[str, str] = {}

    def is_open(self, key: str) -> bool:
        return key in self._open

    def open_keys(self) -> list[str]:
        return list(self._open)

    def raise_(self, key: str, kind: str, text: str) -> bool:
        if key in self._open:
            return False
        self._open[key] = kind
        self._emit(kind, text)
        return True

    def clear(self, key: str, text: str) -> bool:
        if self._open.pop(key, None) is None:
            return False
        log.warning("%s", text)
        return True

    def once(self, kind: str, text: str) -> None:
        self._emit(kind, text)


class AlertQueue:
    """Alerts as signed messages in the outbox, sent like the spectra; episodes durable."""

    def __init__(
        self,
        *,
        station: StationConfig,
        outbox: Outbox,
        clock: Clock,
        seal: Callable[[bytes], bytes],
        release: ReleasePolicy = ReleasePolicy(),  # noqa: B008 - frozen
        on_queued: Callable[[OutboxFile], None] | None = None,
    ):
        self.station = station
        self.outbox = outbox
        self.clock = clock
        self.seal = seal
        self.release = release
        self.on_queued = on_queued
        self._open: dict[str, Episode] = outbox.open_episodes(station.code)
        if self._open:
            log.info("alert episodes still open from before: %s", ", ".join(sorted(self._open)))

    def is_open(self, key: str) -> bool:
        return key in self._open

    def open_keys(self) -> list[str]:
        return list(self._open)

    def raise_(self, key: str, kind: str, text: str) -> bool:
        """Start an episode with a message; nothing when it is already open."""
        if key in self._open:
            return False
        episode = Episode(key, kind, text, self._now(), True)
        self._queue(kind, text, episode)
        self._open[key] = episode
        log.error("%s: %s", kind, text)
        return True

    def clear(self, key: str, text: str) -> bool:
        """End an open episode with a message of the same kind; nothing when none is open."""
        opened = self._open.get(key)
        if opened is None:
            return False
        self._queue(opened.kind, text, Episode(key, opened.kind, text, self._now(), False))
        del self._open[key]
        log.warning("%s (cleared): %s", opened.kind, text)
        return True

    def once(self, kind: str, text: str) -> None:
        """An alert that is its own episode (e.g. one day's ATS could not be made)."""
        self._queue(kind, text, None)
        log.error("%s: %s", kind, text)

    def _now(self) -> datetime:
        return self.clock.now().replace(microsecond=0)

    def _queue(self, kind: str, text: str, episode: Episode | None) -> OutboxFile | None:
        """Queue the message (and the episode's change with it). A failure here (a full
        disk...) is logged and never reaches acquisition: the episode then lives in memory
        only, and is raised again after a restart."""
        try:
            return self._queue_message(kind, one_line(text), episode)
        except Exception:
            log.exception("could not queue the alert %s: %s", kind, text)
            return None

    def _queue_message(self, kind: str, text: str, episode: Episode | None) -> OutboxFile:
        code = self.station.code
        time = episode.time if episode is not None else self._now()
        alert = Alert(kind, code, kind, time, text, self.station.detector)
        msg_id = self.outbox.next_msg_id(code)
        message = Message(
            sections=[alert],
            msg_id=str(msg_id),
            msg_source=code,
            format=self.station.message_format,
        )
        content = write_message(message).encode("ascii", "replace")
        item = self.outbox.add(
            file_name=alert_file_name(code, msg_id, time),
            station=code,
            msg_id=msg_id,
            data_type=kind,
            content=content,
            payload=self.seal(content),
            created=self.clock.now(),
            policy=self.release,
            interval_start=time,
            episode=episode,
        )
        if self.on_queued is not None:
            self.on_queued(item)
        return item


def check_limits(alerts, limits: Mapping[str, LimitConfig], values: Mapping[str, float]) -> None:
    """Raise or clear one episode per limited quantity from this sample's values. A
    quantity this sample lacks changes nothing (its sensor's failure is its own alert)."""
    for quantity, limit in limits.items():
        value = values.get(quantity)
        if value is None:
            continue
        key = f"limit:{quantity}"
        why = limit_breach(quantity, value, limit, alerts.is_open(key))
        if why is not None:
            alerts.raise_(key, alert_kind(quantity, limit), f"{why} ({_limits_text(limit)})")
        else:
            alerts.clear(
                key, f"{quantity} = {value:g}, back within its limits ({_limits_text(limit)})"
            )


def check_station(
    alerts,
    config: AlertsConfig,
    *,
    now: datetime,
    ready: int,
    cert: Path | None,
) -> None:
    """The outbox and the station's credentials: one episode each."""
    if ready > config.outbox_max_ready:
        alerts.raise_(
            "outbox",
            "ALERT_SYSTEM",
            f"Outbox growing: {ready} files wait to be sent (limit {config.outbox_max_ready}); "
            "is the central reachable?",
        )
    elif ready <= config.outbox_max_ready // 2:
        alerts.clear("outbox", f"Outbox back to normal: {ready} files wait to be sent")
    for key, why in (
        ("cert", certificate_warning(cert, now, config.cert_warning_days) if cert else None),
        ("crl", crl_warning(config.crl, now, config.crl_warning_days) if config.crl else None),
    ):
        if why is not None:
            alerts.raise_(key, "ALERT_SYSTEM", why)
        else:
            alerts.clear(key, f"{'Station certificate' if key == 'cert' else 'CRL'} valid again")
