"""The HTTPS intake: stations `PUT /api/v1/messages/{file_name}` over mutual TLS.

Every answer is JSON `{"status", "file_name", "reason"}`:
201 created, 200 identical duplicate, 409 conflict, 400 unreadable, 403 refused,
413 too large, 415 not application/pkcs7-mime, 503 no current CRL (try later).
Every refusal is kept in quarantine with its reason and the bytes as received; a 503
(the server cannot check or store now: send again later) is not a refusal and is only logged.

TLS trusts the network's CA file only and requires a client certificate, but does not
check the CRL: a revoked station's message must reach the CMS check so that it is refused
with a reason and quarantined rather than dropped at the handshake.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509

from shared.crypto.certs import common_name
from shared.crypto.files import (
    CryptoFileError,
    check_key_matches,
    load_certificate,
    load_certificates,
    load_crl,
    load_private_key,
)
from shared.crypto.pathcache import PathCache

from .blobs import BlobError, Packed, Written
from .checking import CheckPool
from .config import CentralConfig, IntakeConfig
from .groupcommit import GroupCommit
from .quota import IntakeQuota, RefusalWatch
from .store import Store, StoreResult, blob_root, now_iso
from .verify import Accepted, Refusal, Trust, unexpected_reason, unreadable

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/pkcs7-mime"
MESSAGES_ROUTE = "/api/v1/messages/{file_name}"
HEALTH_ROUTE = "/api/v1/health"
DATABASE_DOWN = "the server cannot store messages now; send again later"


class IntakeSetupError(Exception):
    """The intake cannot start: a file named in [intake] is missing or wrong."""


@dataclass(frozen=True)
class Answer:
    http_status: int
    status: str
    file_name: str
    reason: str

    def response(self) -> web.Response:
        body = {"status": self.status, "file_name": self.file_name, "reason": self.reason}
        return web.json_response(body, status=self.http_status)


# ------------------------------------------------------------------------ trust files
class TrustFiles:
    """The central's certificate and key, the CA and the CRL, read from [intake]'s files.

    The CRL is read again whenever its file changes, so that `stax pki revoke` followed
    by copying crl.pem takes effect without a restart."""

    def __init__(self, config: IntakeConfig):
        if config.crl is None:
            raise IntakeSetupError(
                "[intake] crl: not set; every signer is checked against the network's CRL "
                "(ca/crl.pem in the folder of `stax pki init`)"
            )
        self.crl_path = Path(config.crl)
        try:
            self.recipient_cert = load_certificate(config.server_cert)
            self.recipient_key = load_private_key(config.server_key)
            check_key_matches(self.recipient_cert, self.recipient_key, str(config.server_key))
            self.ca_certs = tuple(load_certificates(config.ca_cert))
        except CryptoFileError as exc:
            raise IntakeSetupError(str(exc)) from None
        self._crl_stamp: tuple[int, int] | None = None
        self._crl: x509.CertificateRevocationList | None = None
        # one per process: a station's path and CRL check once per certificate and CRL
        self.path_cache = PathCache()
        self.current()  # a broken CRL stops the start, not the first message

    def current(self) -> Trust:
        try:
            st = os.stat(self.crl_path)
        except OSError as exc:
            raise IntakeSetupError(f"{self.crl_path}: cannot read: {exc.strerror}") from None
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._crl_stamp:
            try:
                crl = load_crl(self.crl_path)
            except CryptoFileError as exc:
                raise IntakeSetupError(str(exc)) from None
            if not any(crl.is_signature_valid(ca.public_key()) for ca in self.ca_certs):
                raise IntakeSetupError(f"{self.crl_path}: not signed by the network CA")
            self._crl, self._crl_stamp = crl, stamp
            log.info(
                "CRL %s: %d revoked, next update %s",
                self.crl_path,
                len(crl),
                f"{crl.next_update_utc:%Y-%m-%d %H:%M} UTC",
            )
        assert self._crl is not None
        return Trust(
            self.recipient_cert, self.recipient_key, self.ca_certs, (self._crl,), self.path_cache
        )

    def crl_next_update(self) -> datetime | None:
        return self._crl.next_update_utc if self._crl is not None else None


def server_tls_context(config: IntakeConfig) -> ssl.SSLContext:
    """TLS 1.2+, the central's certificate, client certificates required and checked
    against the network's CA file only (never the system's trust store)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.server_cert, config.server_key)
        context.load_verify_locations(cafile=str(config.ca_cert))
    except (OSError, ssl.SSLError) as exc:
        raise IntakeSetupError(
            f"[intake] server_cert/server_key/ca_cert: TLS cannot use them: {exc}"
        ) from None
    context.verify_mode = ssl.CERT_REQUIRED
    return context


# ------------------------------------------------------------------------ the service
class Intake:
    """Receives, checks, stores or quarantines. Blocking work runs off the event loop:
    decryption, verification, parsing and packing in the checking processes (every core,
    central/checking.py), the database in one thread of its own (so that the duplicate
    check and the insert never interleave), the messages that arrive together written in
    one transaction (central/groupcommit.py)."""

    def __init__(
        self,
        config: IntakeConfig,
        database: Path,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.config = config
        self.database = database
        self.trust = TrustFiles(config)
        self.clock = clock
        self._db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake-db")
        self._store: Store | None = None
        self.quota = IntakeQuota(config.quota_messages_per_hour, config.quota_bytes_per_hour)
        self.refusals = RefusalWatch(config.alert_refusals_per_hour)
        self._limited: set[str] = set()  # identities answered 429 since their last admission
        # decrypt, verify, parse, pack and write the blob: on every core
        self._checks = CheckPool(config, blob_root=blob_root(database))
        # messages arriving together stored in one transaction (one fsync), each answered
        # once its own batch is committed
        self._writes: GroupCommit[dict[str, Any], StoreResult] = GroupCommit(
            lambda batch: self._db(self.store.add_messages, batch)
        )

    async def open(self) -> None:
        self._store = await self._db(Store, self.database)
        # the checking processes import pyHanko (a second or two): now, not in a request
        await self._checks.start()

    async def close(self) -> None:
        if self._store is not None:
            await self._db(self._store.close)
            self._store = None
        self._db_thread.shutdown(wait=True)
        self._checks.close()

    async def _db(self, fn, *args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db_thread, partial(fn, *args, **kwargs))

    @property
    def store(self) -> Store:
        assert self._store is not None, "Intake.open() first"
        return self._store

    # -------------------------------------------------------------------- receiving
    async def receive(
        self, file_name: str, envelope: bytes, *, tls_station: str | None, peer: str
    ) -> Answer:
        """Check and store one message; quarantine it when refused. Never raises for a
        message: every outcome is an Answer (the e-mail intake calls this too)."""
        try:
            self.trust.current()  # here for the 503; the checking processes hold their own
        except IntakeSetupError as exc:
            log.error("cannot check messages: %s", exc)
            refusal = Refusal(503, "unavailable", "the server cannot check signatures now")
            return await self.refuse(refusal, file_name, envelope, peer, tls_station)
        try:
            accepted, signed = await self._checks.check(
                envelope, file_name, tls_station=tls_station, moment=self.clock()
            )
        except Refusal as refusal:
            return await self.refuse(refusal, file_name, envelope, peer, tls_station)
        except Exception as exc:
            # a fault in the checks on input nobody foresaw: still a verdict on this
            # message (4xx, kept in quarantine), never a 500 the station retries for ever
            log.exception("%s: %r: the checks failed unexpectedly", peer, file_name)
            refusal = unreadable(unexpected_reason(exc), tls_station)
            return await self.refuse(refusal, file_name, envelope, peer, tls_station)
        try:
            return await self._store_accepted(accepted, envelope, peer, signed)
        except (sqlite3.Error, BlobError):
            # neither stored nor quarantined: the sender keeps the file and sends it again
            # (a blob missing at the insert: removed as stray meanwhile, written again then)
            log.exception("%s: %r: the database or the blob store failed", peer, file_name)
            return Answer(503, "unavailable", file_name, DATABASE_DOWN)

    async def _store_accepted(
        self,
        accepted: Accepted,
        envelope: bytes,
        peer: str,
        signed: Packed | Written | None = None,
    ) -> Answer:
        # the SignedData is kept (written to the blob store by the checking process), not
        # the envelope
        if signed is None:
            signed = accepted.signed_data
        fields: dict[str, Any] = {
            "file_name": accepted.file_name,
            "station": accepted.station,
            "data_type": accepted.data_type,
            "product": accepted.product,
            "msg_id": accepted.msg_id,
            "content": accepted.content,
            "start_time": accepted.start_time,
            "summary": accepted.summary,
            "signed_data": signed,
            "signer": accepted.signer,
            "analysis": accepted.analysis,
            "station_results": accepted.station_results,
        }
        try:
            result = await self._writes.add(fields)
        except sqlite3.IntegrityError:
            # written by another process between the duplicate check and the insert
            result = await self._writes.add(fields)
        name = accepted.file_name
        if result.outcome == "created":
            log.info("%s: stored %r as message %s", peer, name, result.message_id)
            return Answer(201, "created", name, f"stored as message {result.message_id}")
        if result.outcome == "duplicate":
            log.info("%s: %r is a duplicate of message %s", peer, name, result.message_id)
            return Answer(200, "duplicate", name, "already stored with the same content")
        refusal = Refusal(
            409,
            "conflict",
            f"{accepted.station} MSG_ID {accepted.msg_id} or file name {name} is already "
            "stored with other content",
            accepted.station,
        )
        # the SignedData is on disk already (the checking process wrote it): kept as the
        # evidence of what the station signed, named by the quarantine row
        return await self.refuse(refusal, name, envelope, peer, accepted.station, evidence=signed)

    async def refuse(
        self,
        refusal: Refusal,
        file_name: str,
        body: bytes,
        peer: str,
        tls_station: str | None,
        *,
        evidence: Packed | Written | None = None,
    ) -> Answer:
        """Answer a refusal and keep the message in quarantine (with `evidence`, the
        verified SignedData of a conflict, in the blob store). A 503 is not a verdict on
        the message but "try later" (the station keeps the file and sends it again), so
        it is logged, not quarantined: retries during an outage would fill the table."""
        answer = Answer(refusal.http_status, refusal.status, file_name, refusal.reason)
        if refusal.http_status == 503:
            log.error("%s: %r not checked (503): %s", peer, file_name, refusal.reason)
            return answer
        await self._watch_refusals(tls_station or refusal.station, refusal.reason)
        log.warning(
            "%s: %r refused (%s %s): %s",
            peer,
            file_name,
            refusal.http_status,
            refusal.status,
            refusal.reason,
        )
        await self._db(
            self.store.quarantine,
            body=body,
            reason=refusal.reason,
            status=refusal.http_status,
            file_name=file_name,
            station=refusal.station or tls_station,
            peer=peer,
            blob=evidence,
        )
        return answer

    async def _watch_refusals(self, identity: str | None, reason: str) -> None:
        """Raise an alert when one station is refused again and again (a revoked or
        misconfigured station, or someone using its key): logged as an error and kept in
        `intake_alerts` for the operators."""
        if identity is None:
            return
        count = self.refusals.refused(identity, self.clock().timestamp())
        if count is None:
            return
        message = (
            f"{identity} was refused {count} times in the last hour "
            f"([intake] alert_refusals_per_hour = {self.config.alert_refusals_per_hour}); "
            f"last reason: {reason}"
        )
        log.error("ALERT: %s", message)
        await self._db(_record_alert, self.store, identity, "refusals", count, message)

    # ------------------------------------------------------------------------ HTTP
    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.config.max_message_bytes)
        app.router.add_put(MESSAGES_ROUTE, self._put_message)
        app.router.add_get(HEALTH_ROUTE, self._health)
        return app

    async def _put_message(self, request: web.Request) -> web.Response:
        file_name = request.match_info["file_name"]
        try:
            return await self._take_message(request, file_name)
        except sqlite3.Error:
            # neither stored nor quarantined: the station keeps the file and sends it again
            log.exception("%r: the database failed", file_name)
            return Answer(503, "unavailable", file_name, DATABASE_DOWN).response()

    async def _take_message(self, request: web.Request, file_name: str) -> web.Response:
        tls_station = _tls_station(request)
        peer = f"{request.remote} (TLS {tls_station or 'no certificate'})"
        limit = self.config.max_message_bytes
        declared = request.content_length
        over_quota = await self._over_quota(tls_station, file_name, min(declared or 0, limit), peer)
        if over_quota is not None:
            return over_quota
        if declared is not None and declared > limit:
            return await self._too_large(file_name, f"{declared} bytes", peer, tls_station)
        body = await _read_at_most(request, limit)
        if declared is None and tls_station is not None:
            # a chunked upload declares no length: its bytes count once they are read
            self.quota.add_bytes(tls_station, limit + 1 if body is None else len(body))
        if body is None:
            return await self._too_large(file_name, f"more than {limit} bytes", peer, tls_station)
        if request.content_type != CONTENT_TYPE:
            refusal = Refusal(
                415,
                "unsupported_media_type",
                f"Content-Type is {request.content_type!r}; send {CONTENT_TYPE}",
            )
            answer = await self.refuse(refusal, file_name, body, peer, tls_station)
        else:
            answer = await self.receive(file_name, body, tls_station=tls_station, peer=peer)
        return answer.response()

    async def _over_quota(
        self, identity: str | None, file_name: str, size: int, peer: str
    ) -> web.Response | None:
        """429 with Retry-After when `identity` has used its hour's quota; else None. The
        body is not read and nothing is quarantined: that is what the quota protects."""
        if identity is None:
            return None
        verdict = self.quota.admit(identity, size, self.clock().timestamp())
        if verdict.admitted:
            self._limited.discard(identity)
            return None
        if identity not in self._limited:  # once per run of refusals, not per request
            self._limited.add(identity)
            log.warning("%s: over its quota, answering 429: %s", peer, verdict.reason)
        await self._watch_refusals(identity, verdict.reason)
        reason = f"{verdict.reason}; send again in {verdict.retry_after} s"
        response = Answer(429, "too_many", file_name, reason).response()
        response.headers["Retry-After"] = str(verdict.retry_after)
        response.force_close()
        return response

    async def _too_large(
        self, file_name: str, size: str, peer: str, tls_station: str | None
    ) -> web.Response:
        # not read, so not kept: quarantine records the refusal without the bytes
        reason = (
            f"message of {size} is larger than the limit of {self.config.max_message_bytes} "
            "bytes ([intake] max_message_bytes)"
        )
        answer = await self.refuse(
            Refusal(413, "too_large", reason), file_name, b"", peer, tls_station
        )
        response = answer.response()
        response.force_close()
        return response

    async def _health(self, request: web.Request) -> web.Response:
        now = self.clock()
        problems = []
        try:
            await self._db(self.store.conn.execute, "select 1")
        except sqlite3.Error as exc:
            problems.append(f"database: {exc}")
        try:
            self.trust.current()
        except IntakeSetupError as exc:
            problems.append(str(exc))
        next_update = self.trust.crl_next_update()
        if next_update is not None and next_update < now:
            problems.append(
                f"the CRL ran out on {next_update:%Y-%m-%d %H:%M} UTC: sign a new one "
                "(`stax pki crl`)"
            )
        body = {
            "status": "unavailable" if problems else "ok",
            "time": now.isoformat(),
            "crl_next_update": next_update.isoformat() if next_update else None,
            "problems": problems,
        }
        return web.json_response(body, status=503 if problems else 200)


def _record_alert(store: Store, station: str, kind: str, count: int, message: str) -> None:
    with store.conn:
        store.conn.execute(
            "insert into intake_alerts (created_at, station, kind, count, message) "
            "values (?, ?, ?, ?, ?)",
            [now_iso(), station, kind, count, message],
        )


def _tls_station(request: web.Request) -> str | None:
    ssl_object = request.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    return common_name(x509.load_der_x509_certificate(der))


async def _read_at_most(request: web.Request, limit: int) -> bytes | None:
    """The body, or None when it is longer than `limit` (a chunked upload has no length)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


# ---------------------------------------------------------------------- start and stop
@dataclass
class IntakeServer:
    """A running intake; `close()` stops listening and closes the database."""

    intake: Intake
    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    async def close(self) -> None:
        await self.runner.cleanup()
        await self.intake.close()


async def start_intake(
    config: CentralConfig, *, clock: Callable[[], datetime] | None = None
) -> IntakeServer:
    """Open the database and listen on [intake] host:port. Raises IntakeSetupError."""
    kwargs = {"clock": clock} if clock is not None else {}
    intake = Intake(config.intake, config.storage.database_path, **kwargs)
    tls = server_tls_context(config.intake)
    await intake.open()
    runner = web.AppRunner(intake.app())
    await runner.setup()
    site = web.TCPSite(runner, config.intake.host, config.intake.port, ssl_context=tls)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        await intake.close()
        raise IntakeSetupError(
            f"[intake] host/port: cannot listen on {config.intake.host}:{config.intake.port}: "
            f"{exc.strerror}"
        ) from None
    server = IntakeServer(intake, runner, config.intake.host, config.intake.port)
    log.info("intake listening on %s", server.url)
    return server
