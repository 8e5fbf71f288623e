"""Delivers the outbox to the central: HTTPS PUT with the station's client certificate.

The central answers 201 (stored) or 200 (already there): the file is sent. 400, 403, 409
and 413 say the file itself is refused: it stays in the outbox as `refused`, with the
reason, and is not retried. Anything else (no connection, timeouts, 5xx) is retried with
exponential backoff and jitter in real seconds; nothing is ever dropped.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from .clock import Clock
from .outbox import Outbox, OutboxFile

__all__ = [
    "REFUSED",
    "Answer",
    "HttpsClient",
    "RetryPolicy",
    "Sender",
    "SenderError",
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


class Sender:
    """Works through the outbox oldest first until stopped."""

    def __init__(
        self,
        outbox: Outbox,
        client: HttpsClient,
        clock: Clock,
        retry: RetryPolicy = RetryPolicy(),
        real_time: Callable[[], float] = time.time,
        rnd: Callable[[], float] = random.random,
        poll_seconds: float = 1.0,
    ):
        self.outbox = outbox
        self.client = client
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
            item = self.outbox.next_to_send(now)
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
        due = self.outbox.earliest_attempt()
        if due is not None:
            wait = min(wait, max(0.0, due - now))
        return wait

    def _deliver(self, item: OutboxFile) -> None:
        now = self._real_time()
        try:
            answer = self.client.put(item.file_name, item.payload or b"")
        except OSError as exc:
            self._unreachable(item, None, f"cannot reach the central: {exc}", now)
            return
        status = answer.status
        if status in SENT:
            self._reachable()
            self.outbox.mark_sent(item.id, status, now)
            what = "stored" if status == 201 else "already there (identical)"
            log.info("sent %s: %s %s", item.file_name, status, what)
        elif status in REFUSED:
            self._reachable()
            self.outbox.mark_refused(item.id, status, answer.reason, now)
            log.error(
                "the central refused %s: %s %s; kept in the outbox as refused (id %s). "
                "Fix the cause, then `stax agent outbox release %s` sends it again",
                item.file_name,
                status,
                answer.reason,
                item.id,
                item.id,
            )
        elif status in UNREACHABLE:
            self._unreachable(item, status, f"central unavailable: {status} {answer.reason}", now)
        else:
            # the central answered but not about this file (500, 404 of a wrong url, ...):
            # this file waits, the others go on
            self._reachable()
            delay = self.retry.delay(item.attempts + 1, self._rnd())
            error = f"unexpected answer {status}: {answer.reason}"
            self.outbox.mark_failed(item.id, status, error, now + delay, now)
            log.warning("%s: %s; next attempt in %.1f s", item.file_name, error, delay)

    def _unreachable(self, item: OutboxFile, status: int | None, error: str, now: float) -> None:
        self._failures += 1
        delay = self.retry.delay(self._failures, self._rnd())
        self._paused_until = now + delay
        self.outbox.mark_failed(item.id, status, error, now + delay, now)
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
