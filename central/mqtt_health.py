"""Whether the MQTT publisher can publish, and the central alert (kind `mqtt`) that says
it cannot (docs/alerts.md). Pure: the publisher tells it what happened and when, and asks
at `now` what to observe.

One failing stretch is one episode: it is raised once publishing has failed for
`[mqtt] alert_after_seconds` (a broker that is down, refuses the login, or fails TLS),
with the latest reason, and cleared when publishing works again. Publications the broker
refuses while others go (an ACL: MQTT 5 answers them "Not authorized") are a stretch of
their own, raised the same way once they have gone on that long. A reason the broker or
the TLS layer gave is kept over a vaguer one that follows it (a broker that refuses a
login also closes the connection: the refusal is the reason, not the closing).
"""

from __future__ import annotations

import ssl
import threading
from datetime import datetime, timedelta

from .alerts import CENTRAL, Observation

KIND = "mqtt"


class BrokerHealth:
    """What the publisher's two threads (paho's network thread and the publishing one)
    report; `observation` says what the central alert should be at `now`."""

    def __init__(self, broker: str, after: timedelta):
        self.broker = broker  # host:port, for the messages
        self.after = after
        self._lock = threading.Lock()
        self._failing_since: datetime | None = None
        self._reason = ""
        self._vague = True  # the reason is a guess that a precise one may replace
        self._worked = False  # publishing has worked since the last failure
        # publications the broker refused (MQTT 5 PUBACK reason code, e.g. an ACL)
        self._refusing_since: datetime | None = None
        self._stretch_refusals = 0  # since the stretch began
        self._refusal = ""  # the last one: topic and the broker's reason
        self._refusals = 0  # since the start (the health counter)

    def failed(self, reason: str, now: datetime, *, vague: bool = False) -> None:
        with self._lock:
            if self._failing_since is None:
                self._failing_since = now
            if not vague or self._vague or not self._reason:
                self._reason, self._vague = reason, vague
            self._worked = False

    def worked(self) -> None:
        with self._lock:
            self._failing_since, self._reason, self._vague = None, "", True
            self._worked = True

    def refused(self, topic: str, reason: str, now: datetime) -> None:
        """The broker answered a publication on `topic` with a failure (`reason`)."""
        with self._lock:
            if self._refusing_since is None:
                self._refusing_since = now
            self._stretch_refusals += 1
            self._refusals += 1
            self._refusal = f"{topic}: {reason}"

    def refusals_over(self) -> None:
        """The broker took everything due again (no topic held back after a refusal)."""
        with self._lock:
            self._refusing_since, self._stretch_refusals, self._refusal = None, 0, ""

    @property
    def reason(self) -> str:
        with self._lock:
            return self._reason

    @property
    def refusals(self) -> int:
        """Publications the broker refused since the start."""
        with self._lock:
            return self._refusals

    @property
    def refusal(self) -> str:
        """The last refusal of the current stretch ("" when there is none)."""
        with self._lock:
            return self._refusal

    def observation(self, now: datetime) -> Observation | None:
        """Active once failing for `after`; inactive once publishing has worked; None
        while it has failed only a short time (or nothing is known yet)."""
        with self._lock:
            since, reason, worked = self._failing_since, self._reason, self._worked
            refusing, count, refusal = (
                self._refusing_since,
                self._stretch_refusals,
                self._refusal,
            )
        if since is not None and now - since >= self.after:
            span = now - since
            return Observation(
                KIND,
                CENTRAL,
                "",
                True,
                f"MQTT: nothing published to {self.broker} for {_minutes(span)}: {reason}",
                value=round(span.total_seconds() / 60, 1),
                details={"reason": reason, "failing_since": since.isoformat()},
            )
        if refusing is not None and now - refusing >= self.after:
            span = now - refusing
            return Observation(
                KIND,
                CENTRAL,
                "",
                True,
                f"MQTT: {self.broker} refused {count} publication{'s' if count > 1 else ''} "
                f"in {_minutes(span)}, the last on {refusal} (the broker's ACL for [mqtt] "
                "username and prefix?)",
                value=round(span.total_seconds() / 60, 1),
                details={"refused": count, "last": refusal, "refusing_since": refusing.isoformat()},
            )
        if worked and refusing is None:
            return Observation(KIND, CENTRAL, "", False, f"MQTT: publishing to {self.broker} again")
        return None


def connect_error(exc: BaseException | None, broker: str) -> str:
    """A connection that failed before the broker answered, in words."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS: the broker's certificate is not trusted ({exc.verify_message}; [mqtt] ca_file?)"
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return f"cannot connect to {broker}: connection refused (broker down, or the wrong port?)"
    if isinstance(exc, TimeoutError):
        return f"cannot connect to {broker}: no answer (timed out)"
    if isinstance(exc, OSError):
        return f"cannot connect to {broker}: {exc.strerror or exc}"
    return f"cannot connect to {broker}"


def refusal(reason_code) -> str:
    """The broker's CONNACK refusal, in words."""
    text = str(reason_code)
    if "password" in text.lower() or "authori" in text.lower():
        return (
            f"the broker refused the login: {text} ([mqtt] username, password_file, or the "
            "broker's password file and ACL)"
        )
    return f"the broker refused the connection: {text}"


def _minutes(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 1:
        return f"{int(span.total_seconds())} s"
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"
