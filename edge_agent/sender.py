"""Delivers the outbox to the central: HTTPS PUT with the station's client certificate,
or S/MIME e-mail through an SMTP server, or both (one Sender per transport, each with its
own delivery state in the outbox).

HTTPS: the central answers 201 (stored) or 200 (already there): the file is sent. 400,
403, 409 and 413 say the file itself is refused: it stays in the outbox as `refused`, with
the reason, and is not retried. Anything else (no connection, timeouts, 5xx) is retried
with exponential backoff and jitter in real seconds; nothing is ever dropped.

E-mail: the file is sent once the SMTP server accepted the message (250 after DATA). A
permanent refusal of the message itself (5xx after DATA, e.g. too large) keeps it as
`refused`; no connection, TLS or login failures and refused addresses hold the whole
queue, like an unreachable central; a crash between the server's 250 and the outbox's
mark sends the file again, which the central answers as a duplicate.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import smtplib
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import quote, urlsplit

from .clock import Clock
from .outbox import Outbox, OutboxFile

__all__ = [
    "REFUSED",
    "Answer",
    "Client",
    "Delivery",
    "HttpsClient",
    "RetryPolicy",
    "Sender",
    "SenderError",
    "SmtpClient",
]

log = logging.getLogger(__name__)

SENT = (200, 201)
REFUSED = (400, 403, 409, 413)
# the central (or a proxy in front of it) is not there: wait before trying any file
UNREACHABLE = (502, 503, 504)


class SenderError(RuntimeError):
    """The sender cannot be set up (certificates, URL): the message says which file."""


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str  # from the JSON body when the central gave one


@dataclass(frozen=True)
class Delivery:
    """What one attempt came to, whatever the transport."""

    # sent: the receiver has it; refused: the file itself is refused (kept, not retried);
    # unreachable: the receiver is not there (the whole queue waits); retry: this file waits
    outcome: Literal["sent", "refused", "unreachable", "retry"]
    status: int | None  # HTTP status or SMTP reply code, None when nothing answered
    reason: str


class Client(Protocol):
    """A transport to the central: `deliver` one file; `describe` where to."""

    transport: str  # "https" or "email"
    url: str  # where files go, for the log

    def deliver(self, file_name: str, payload: bytes) -> Delivery: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    initial: float = 2.0  # real seconds
    maximum: float = 600.0

    def delay(self, failures: int, rnd: float) -> float:
        """Wait after `failures` failures in a row: doubling, capped, jittered to 50-100 %
        so that stations coming back after a network outage do not all call at once."""
        step = min(self.maximum, self.initial * 2 ** max(0, failures - 1))
        return step * (0.5 + 0.5 * rnd)


def _reason(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:500]
    if isinstance(data, dict):
        for key in ("reason", "error", "detail", "message", "status"):
            if isinstance(data.get(key), str):
                return data[key]
    return text[:500]


class HttpsClient:
    """PUT files to the central over mutual TLS, trusting only the network's CA."""

    def __init__(
        self,
        url: str,
        ca_cert: Path,
        cert: Path,
        key: Path,
        chain: Path | None = None,
        timeout: float = 30.0,
    ):
        self.transport = "https"
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise SenderError(f"central url must be https://host[:port], got {url!r}")
        self.url = url
        self._host = parts.hostname
        self._port = parts.port or 443
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._context = self._tls_context(ca_cert, cert, key, chain)
        self._conn: http.client.HTTPSConnection | None = None

    @staticmethod
    def _tls_context(ca_cert: Path, cert: Path, key: Path, chain: Path | None) -> ssl.SSLContext:
        # cafile given: the system trust store is not loaded, only the network's CA
        try:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_cert))
        except (OSError, ssl.SSLError) as exc:
            raise SenderError(f"{ca_cert}: cannot load the network CA certificate: {exc}") from None
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            if chain is None:
                context.load_cert_chain(str(cert), str(key))
            else:
                # ssl wants the certificate and its chain in one file
                with tempfile.NamedTemporaryFile("wb", suffix=".pem") as both:
                    both.write(Path(cert).read_bytes().rstrip(b"\n") + b"\n")
                    both.write(Path(chain).read_bytes())
                    both.flush()
                    context.load_cert_chain(both.name, str(key))
        except (OSError, ssl.SSLError) as exc:
            raise SenderError(
                f"cannot load the station certificate {cert} with key {key}: {exc} "
                "(check [identity] cert, key and chain)"
            ) from None
        return context

    def _connection(self) -> http.client.HTTPSConnection:
        if self._conn is None:
            self._conn = http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout, context=self._context
            )
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def put(self, file_name: str, payload: bytes) -> Answer:
        """One delivery. Raises OSError (and its ssl/timeout kinds) when no answer came."""
        path = f"{self._prefix}/api/v1/messages/{quote(file_name, safe='')}"
        headers = {"Content-Type": "application/pkcs7-mime", "Accept": "application/json"}
        reused = self._conn is not None
        try:
            return self._request(path, payload, headers)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.close()
            if not reused:
                raise
            # the server closed an idle kept-alive connection: a PUT may be repeated safely
            return self._request(path, payload, headers)
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def deliver(self, file_name: str, payload: bytes) -> Delivery:
        """One PUT, classified by the central's answer (the module docstring)."""
        try:
            answer = self.put(file_name, payload)
        except OSError as exc:
            return Delivery("unreachable", None, f"cannot reach the central: {exc}")
        status = answer.status
        if status in SENT:
            return Delivery("sent", status, "stored" if status == 201 else "already there")
        if status in REFUSED:
            return Delivery("refused", status, answer.reason)
        if status in UNREACHABLE:
            return Delivery("unreachable", status, f"central unavailable: {status} {answer.reason}")
        # the central answered but not about this file (500, 404 of a wrong url, ...)
        return Delivery("retry", status, f"unexpected answer {status}: {answer.reason}")

    def _request(self, path: str, payload: bytes, headers: dict[str, str]) -> Answer:
        conn = self._connection()
        try:
            conn.request("PUT", path, body=payload, headers=headers)
            response = conn.getresponse()
            body = response.read()
        except http.client.HTTPException as exc:
            if isinstance(exc, http.client.RemoteDisconnected):
                raise
            raise OSError(f"bad HTTP answer: {exc!r}") from None
        if response.will_close:
            self.close()
        return Answer(response.status, _reason(body))


def smime_message(file_name: str, payload: bytes, sender: str, recipient: str) -> EmailMessage:
    """The wire contract's e-mail: S/MIME enveloped-data, base64 of the same DER as over
    HTTPS, Subject = the file name."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = file_name
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(
        payload,
        maintype="application",
        subtype="pkcs7-mime",
        cte="base64",
        disposition="attachment",
        filename="smime.p7m",
        params={"smime-type": "enveloped-data", "name": "smime.p7m"},
    )
    return message


class SmtpClient:
    """Hands files to an SMTP server: STARTTLS (trusting only the configured CA), then
    login, then one message per file. The connection is kept between files."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipient: str,
        ca_cert: Path,
        user: str | None = None,
        password_file: Path | None = None,
        timeout: float = 30.0,
    ):
        self.transport = "email"
        self.url = f"smtp://{host}:{port} (to {recipient})"
        self._host, self._port = host, port
        self._sender, self._recipient = sender, recipient
        self._timeout = timeout
        self._user = user
        self._password: str | None = None
        if password_file is not None:
            try:
                self._password = Path(password_file).read_text().strip("\r\n")
            except OSError as exc:
                raise SenderError(
                    f"[central.email] password_file {password_file}: cannot read: {exc.strerror}"
                ) from None
            if not self._password:
                raise SenderError(f"[central.email] password_file {password_file} is empty")
        try:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_cert))
        except (OSError, ssl.SSLError) as exc:
            raise SenderError(
                f"{ca_cert}: cannot load the CA certificate for the SMTP server: {exc} "
                "(check [central.email] ca_cert)"
            ) from None
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._context = context
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is None:
            smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
            try:
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError(
                        "the SMTP server does not offer STARTTLS; the agent never sends in clear"
                    )
                smtp.starttls(context=self._context)
                smtp.ehlo()
                if self._user is not None:
                    smtp.login(self._user, self._password or "")
            except BaseException:
                smtp.close()
                raise
            self._smtp = smtp
        return self._smtp

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None

    def deliver(self, file_name: str, payload: bytes) -> Delivery:
        message = smime_message(file_name, payload, self._sender, self._recipient)
        reused = self._smtp is not None
        try:
            try:
                self._connect().send_message(message, self._sender, [self._recipient])
            except smtplib.SMTPServerDisconnected:
                self._smtp = None
                if not reused:
                    raise
                # the server closed an idle connection: say it again on a fresh one
                self._connect().send_message(message, self._sender, [self._recipient])
        except smtplib.SMTPDataError as exc:
            self.close()
            text = _smtp_text(exc.smtp_error)
            if 500 <= exc.smtp_code < 600:
                return Delivery("refused", exc.smtp_code, f"SMTP server refused it: {text}")
            return Delivery("retry", exc.smtp_code, f"SMTP server deferred it: {text}")
        except smtplib.SMTPAuthenticationError as exc:
            self._drop()
            return Delivery(
                "unreachable",
                exc.smtp_code,
                f"SMTP login as {self._user!r} refused: {_smtp_text(exc.smtp_error)} "
                "(check [central.email] user and password_file)",
            )
        except smtplib.SMTPRecipientsRefused as exc:
            self._drop()
            code, text = next(iter(exc.recipients.values()))
            return Delivery(
                "unreachable",
                code,
                f"SMTP server refused the address {self._recipient}: {_smtp_text(text)} "
                "(check [central.email] to_address)",
            )
        except smtplib.SMTPResponseException as exc:
            self._drop()
            return Delivery(
                "unreachable", exc.smtp_code, f"SMTP server: {_smtp_text(exc.smtp_error)}"
            )
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            return Delivery("unreachable", None, f"cannot reach the SMTP server: {exc}")
        return Delivery("sent", 250, "accepted by the SMTP server")

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None


def _smtp_text(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


class Sender:
    """Works through the outbox oldest first until stopped."""

    def __init__(
        self,
        outbox: Outbox,
        client: Client,
        clock: Clock,
        retry: RetryPolicy = RetryPolicy(),
        real_time: Callable[[], float] = time.time,
        rnd: Callable[[], float] = random.random,
        poll_seconds: float = 1.0,
        transports: tuple[str, ...] | None = None,  # all that must deliver a file
    ):
        self.outbox = outbox
        self.client = client
        self.transport = client.transport
        self.transports = transports or (client.transport,)
        self.clock = clock
        self.retry = retry
        self._real_time = real_time
        self._rnd = rnd
        self._poll = poll_seconds
        self._paused_until = 0.0  # set while the central cannot be reached
        self._failures = 0  # unreachable answers in a row
        self._down_since = 0.0
        self._last_warning = 0.0
        self.wake = threading.Event()  # set it when a file was queued

    def send_due(self, stop: threading.Event | None = None) -> int:
        """Release held files whose time came, then deliver every file that is due.
        Returns how many deliveries were attempted."""
        self.outbox.release_due(self.clock.now())
        attempted = 0
        while stop is None or not stop.is_set():
            now = self._real_time()
            if now < self._paused_until:
                break
            item = self.outbox.next_to_send(now, self.transport)
            if item is None:
                break
            attempted += 1
            self._deliver(item)
        return attempted

    def run(self, stop: threading.Event) -> None:
        log.info("sending to %s", self.client.url)
        try:
            while not stop.is_set():
                try:
                    self.send_due(stop)
                except Exception:
                    # a bug or a broken database must not end deliveries silently
                    log.exception("sender pass failed; trying again in %s s", self._poll * 10)
                    stop.wait(self._poll * 10)
                    continue
                self.wake.wait(self._seconds_to_wait())
                self.wake.clear()
        finally:
            self.client.close()

    def _seconds_to_wait(self) -> float:
        now = self._real_time()
        wait = self._poll  # also notices release times and the operator's releases
        if self._paused_until > now:
            return min(wait, self._paused_until - now)
        due = self.outbox.earliest_attempt(self.transport)
        if due is not None:
            wait = min(wait, max(0.0, due - now))
        return wait

    def _deliver(self, item: OutboxFile) -> None:
        now = self._real_time()
        result = self.client.deliver(item.file_name, item.payload or b"")
        via = "" if self.transports == ("https",) else f" by {self.transport}"
        if result.outcome == "sent":
            self._reachable()
            self.outbox.mark_sent(item.id, result.status or 0, now, self.transport, self.transports)
            log.info("sent %s%s: %s %s", item.file_name, via, result.status, result.reason)
        elif result.outcome == "refused":
            self._reachable()
            self.outbox.mark_refused(
                item.id, result.status or 0, result.reason, now, self.transport
            )
            log.error(
                "%s refused %s: %s %s; kept in the outbox as refused (id %s). "
                "Fix the cause, then `stax agent outbox release %s` sends it again",
                "the central" if self.transport == "https" else "the SMTP server",
                item.file_name,
                result.status,
                result.reason,
                item.id,
                item.id,
            )
        elif result.outcome == "unreachable":
            self._unreachable(item, result.status, result.reason, now)
        else:
            # the receiver answered but not about this file: this file waits, the others go on
            self._reachable()
            delay = self.retry.delay(item.attempts + 1, self._rnd())
            self.outbox.mark_failed(
                item.id, result.status, result.reason, now + delay, now, self.transport
            )
            log.warning(
                "%s%s: %s; next attempt in %.1f s", item.file_name, via, result.reason, delay
            )

    def _unreachable(self, item: OutboxFile, status: int | None, error: str, now: float) -> None:
        self._failures += 1
        delay = self.retry.delay(self._failures, self._rnd())
        self._paused_until = now + delay
        self.outbox.mark_failed(item.id, status, error, now + delay, now, self.transport)
        if self._failures == 1:
            self._down_since = now
        # say it when it starts and every 10 minutes, not at every retry
        if self._failures == 1 or now - self._last_warning >= 600:
            self._last_warning = now
            log.warning(
                "%s (%s); %d file(s) wait in the outbox, retrying every %g s at most",
                error,
                self.client.url,
                self.outbox.counts()["ready"],
                self.retry.maximum,
            )
        else:
            log.debug("%s; next attempt in %.1f s", error, delay)

    def _reachable(self) -> None:
        if self._failures:
            log.info(
                "the central answers again after %d failed attempts (%.0f s)",
                self._failures,
                self._real_time() - self._down_since,
            )
        self._failures = 0
