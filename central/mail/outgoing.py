"""Subscription mail out: the queue (`central.subscriptions`) handed to an SMTP server,
one S/MIME mail per file and subscriber ([mail_out], docs/mail.md "Subscriptions").

Each mail: Subject = the file name, the file attached (base64), a short text part;
signed by the central's own mail certificate (S/MIME `multipart/signed`, detached CMS
SignedData, SHA-256, the certificate and its chain included) and, when the subscriber
has a certificate (`central.usercerts`), encrypted to it (`application/pkcs7-mime;
smime-type=enveloped-data`, AES-256-CBC, RSA key transport: what shared/crypto's
`check_envelope` accepts). `openssl smime -verify` and `openssl smime -decrypt` open it.

Delivery is at least once: a row is marked sent only after the SMTP server accepted the
mail (250 after DATA). A crash between the server's 250 and the mark sends that mail once
more; its Message-ID is the same every time (made from the queue row's item and user), so
a mail client or a mail server can drop the copy. A server that is down, refuses the
login or defers the mail leaves the row queued, retried with a growing delay; nothing is
ever dropped for a delivery failure. A row is dropped only when its mail must not be sent
any more (the user lost the facility, unsubscribed, was disabled or has no address), and
that is checked again at each try, just before sending.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7

from shared.crypto.files import CryptoFileError, load_certificates, load_private_key
from shared.timeutil import iso_z

from ..access import is_published
from ..accounts import User, get_user
from ..config import MailOutConfig
from ..store import Store, StoredFileError
from ..subscriptions import DROPPED, QUEUED, SENT, enqueue_published
from ..usercerts import certificate_of

log = logging.getLogger(__name__)

CRLF = b"\r\n"


class MailOutError(RuntimeError):
    """[mail_out] cannot work as configured: says which key and why."""


class TransportError(Exception):
    """The mail did not go. `server_down`: nothing can go now (no connection, TLS or
    login failure), so the round stops; else only this mail was refused or deferred."""

    def __init__(self, reason: str, *, server_down: bool):
        super().__init__(reason)
        self.reason = reason
        self.server_down = server_down


class Transport(Protocol):
    def send(self, sender: str, recipient: str, raw: bytes) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class MailSigner:
    """The central's own mail certificate and key, with the certificates of its chain."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    chain: tuple[x509.Certificate, ...] = ()

    @classmethod
    def load(cls, cert_path: Path, key_path: Path, chain_path: Path | None = None) -> MailSigner:
        try:
            certs = load_certificates(cert_path)
            key = load_private_key(key_path)
            chain = tuple(load_certificates(chain_path)) if chain_path else ()
        except CryptoFileError as exc:
            raise MailOutError(f"[mail_out] signing certificate: {exc}") from None
        return cls(certs[0], key, tuple(certs[1:]) + chain)


@dataclass(frozen=True)
class Backoff:
    """Seconds before the next try after `tries` failures: first, 2x first, ... up to cap."""

    first: float = 60.0
    cap: float = 3600.0

    def delay(self, tries: int) -> timedelta:
        return timedelta(seconds=min(self.cap, self.first * 2 ** max(0, tries - 1)))


@dataclass
class Report:
    sent: int = 0
    retried: int = 0
    dropped: int = 0
    waiting: int = 0  # due but not published (any more) for this user: later
    server_down: str | None = None
    errors: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ the mail itself
def _b64_lines(data: bytes) -> bytes:
    text = base64.b64encode(data)
    return CRLF.join(text[i : i + 76] for i in range(0, len(text), 76)) + CRLF


def _boundary(seed: bytes) -> str:
    return "----=_stax_" + hashlib.sha256(seed).hexdigest()[:24]


def content_entity(text: str, file_name: str, attachment: bytes) -> bytes:
    """The signed MIME entity: a text part and the file attached, base64, CRLF lines
    (7-bit, so that no relay and no canonicalisation changes a byte of it)."""
    entity = EmailMessage(policy=SMTP_POLICY)
    entity.set_content(text, cte="quoted-printable")
    entity.add_attachment(
        attachment,
        maintype="application",
        subtype="octet-stream",
        filename=file_name,
        cte="base64",
    )
    del entity["MIME-Version"]
    raw = entity.as_bytes(policy=SMTP_POLICY)
    return raw if raw.endswith(CRLF) else raw + CRLF


def signed_entity(content: bytes, signer: MailSigner) -> bytes:
    """`multipart/signed` (RFC 8551) over `content`, a detached SHA-256 CMS SignedData
    with the signer's certificate and chain."""
    builder = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(content)
        .add_signer(signer.cert, signer.key, hashes.SHA256())
    )
    # add_certificate() after set_data()/add_signer(): cryptography drops earlier ones
    for cert in signer.chain:
        builder = builder.add_certificate(cert)
    signature = builder.sign(
        serialization.Encoding.DER,
        [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
    )
    boundary = _boundary(content)
    return b"".join(
        [
            b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; '
            b'micalg="sha-256";',
            CRLF,
            f' boundary="{boundary}"'.encode(),
            CRLF,
            CRLF,
            b"This is an S/MIME signed message.",
            CRLF,
            CRLF,
            f"--{boundary}".encode(),
            CRLF,
            content,  # ends with CRLF; the CRLF before the boundary belongs to the boundary
            CRLF,
            f"--{boundary}".encode(),
            CRLF,
            b'Content-Type: application/pkcs7-signature; name="smime.p7s"',
            CRLF,
            b"Content-Transfer-Encoding: base64",
            CRLF,
            b'Content-Disposition: attachment; filename="smime.p7s"',
            CRLF,
            CRLF,
            _b64_lines(signature),
            CRLF,
            f"--{boundary}--".encode(),
            CRLF,
        ]
    )


def enveloped_entity(entity: bytes, recipient: x509.Certificate) -> bytes:
    """`entity` encrypted to `recipient`: CMS EnvelopedData, AES-256-CBC, RSA key
    transport, as an `application/pkcs7-mime` entity."""
    der = (
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(entity)
        .add_recipient(recipient)
        .set_content_encryption_algorithm(algorithms.AES256)
        .encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
    return b"".join(
        [
            b'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
            CRLF,
            b"Content-Transfer-Encoding: base64",
            CRLF,
            b'Content-Disposition: attachment; filename="smime.p7m"',
            CRLF,
            CRLF,
            _b64_lines(der),
        ]
    )


def build_mail(
    *,
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    file_name: str,
    attachment: bytes,
    message_id: str,
    date: datetime,
    signer: MailSigner,
    recipient_cert: x509.Certificate | None = None,
) -> bytes:
    """The whole mail, ready for SMTP (CRLF lines): signed, and encrypted when
    `recipient_cert` is given."""
    body = signed_entity(content_entity(text, file_name, attachment), signer)
    if recipient_cert is not None:
        body = enveloped_entity(body, recipient_cert)
    head = EmailMessage(policy=SMTP_POLICY)
    head["From"] = sender
    head["To"] = recipient
    head["Subject"] = subject
    head["Date"] = format_datetime(date)
    head["Message-ID"] = message_id
    head["MIME-Version"] = "1.0"
    head["Auto-Submitted"] = "auto-generated"
    return head.as_bytes(policy=SMTP_POLICY).rstrip(CRLF) + CRLF + body


def message_id_of(item: str, user_id: int, sender: str) -> str:
    """The same Message-ID for every try of one queue row (clients drop copies by it)."""
    domain = sender.rpartition("@")[2] or "stax.invalid"
    return f"<stax.{item.replace(':', '.')}.u{user_id}@{domain}>"


# ------------------------------------------------------------------ SMTP
def read_login(path: Path) -> tuple[str, str]:
    """The SMTP login: the user name on the first line, the password on the second."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise MailOutError(f"[mail_out] login_file {path}: cannot read: {exc.strerror}") from None
    if len(lines) < 2 or not lines[0].strip() or not lines[1]:
        raise MailOutError(
            f"[mail_out] login_file {path}: expected the user name on the first line and "
            "the password on the second"
        )
    return lines[0].strip(), lines[1]


class SmtpTransport:
    """smtplib to the site's mail server: STARTTLS (trusting `ca_file`, else the system's
    store) and login when configured; one connection per round."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        starttls: bool = True,
        ca_file: Path | None = None,
        login: tuple[str, str] | None = None,
        timeout: float = 30.0,
    ):
        self.host, self.port = host, port
        self.starttls, self.login, self.timeout = starttls, login, timeout
        self.context: ssl.SSLContext | None = None
        if starttls:
            try:
                self.context = ssl.create_default_context(
                    ssl.Purpose.SERVER_AUTH, cafile=str(ca_file) if ca_file else None
                )
            except (OSError, ssl.SSLError) as exc:
                raise MailOutError(f"[mail_out] ca_file {ca_file}: {exc}") from None
            self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise TransportError(
                f"cannot reach the SMTP server {self.host}:{self.port}: {exc}", server_down=True
            ) from None
        try:
            smtp.ehlo()
            if self.starttls:
                if not smtp.has_extn("starttls"):
                    raise TransportError(
                        "the SMTP server does not offer STARTTLS ([mail_out] starttls = true)",
                        server_down=True,
                    )
                smtp.starttls(context=self.context)
                smtp.ehlo()
            if self.login is not None:
                smtp.login(*self.login)
        except TransportError:
            smtp.close()
            raise
        except smtplib.SMTPAuthenticationError as exc:
            smtp.close()
            raise TransportError(
                f"SMTP login as {self.login[0] if self.login else ''!r} refused: "
                f"{_text(exc.smtp_error)} (check [mail_out] login_file)",
                server_down=True,
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            smtp.close()
            raise TransportError(f"SMTP session failed: {exc}", server_down=True) from None
        self._smtp = smtp
        return smtp

    def send(self, sender: str, recipient: str, raw: bytes) -> None:
        smtp = self._connect()
        try:
            smtp.sendmail(sender, [recipient], raw)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise TransportError(
                f"the SMTP server refused the address {recipient}: {code} {_text(text)}",
                server_down=False,
            ) from None
        except smtplib.SMTPDataError as exc:
            self.close()
            raise TransportError(
                f"the SMTP server refused the mail: {exc.smtp_code} {_text(exc.smtp_error)}",
                server_down=False,
            ) from None
        except smtplib.SMTPSenderRefused as exc:
            self.close()
            raise TransportError(
                f"the SMTP server refused the sender {sender}: {exc.smtp_code} "
                f"{_text(exc.smtp_error)} (check [mail_out] from_address)",
                server_down=True,
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            self._smtp = None
            raise TransportError(f"the SMTP session broke: {exc}", server_down=True) from None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# ------------------------------------------------------------------ the queue, sent
@dataclass(frozen=True)
class Outgoing:
    """One mail ready to go: what and to whom."""

    recipient: str
    subject: str
    text: str
    file_name: str
    attachment: bytes


class _Drop(Exception):
    """This row's mail must not be sent any more."""


class _Wait(Exception):
    """Not published for this user at this moment (a longer delay): try later."""


def _subscribed(store: Store, user_id: int, facility: str, product: str) -> bool:
    return (
        store.conn.execute(
            "select 1 from subscriptions where user_id = ? and facility = ? and product = ?",
            [user_id, facility, product],
        ).fetchone()
        is not None
    )


def prepare(store: Store, row: Mapping[str, Any], now: datetime) -> Outgoing:
    """The mail of one queue row, after every check of the rule at `now`. Raises _Drop or
    _Wait."""
    user = get_user(store, row["user_id"])
    if user is None:
        raise _Drop("the user no longer exists")
    if not user.enabled:
        raise _Drop("the user is disabled")
    found = store.conn.execute("select email from users where id = ?", [user.id]).fetchone()
    address = (found[0] or "").strip() if found else ""
    if "@" not in address:
        raise _Drop("the user has no e-mail address")
    kind = row["kind"]
    if kind == "message":
        message = store.message(row["message_id"])
        if message is None:
            raise _Drop("the file is no longer stored")
        if not _subscribed(store, user.id, message["station"], message["product"]):
            raise _Drop(f"unsubscribed from {message['product']} of {message['station']}")
        _check(store, user, message["station"], message["data_until"], now)
        try:
            content = store.content(message["id"])
        except StoredFileError as exc:
            raise _Wait(str(exc)) from None
        text = (
            f"{message['file_name']}\r\n\r\nA {message['product']} file of facility "
            f"{message['station']}, attached as received by the STAX central "
            f"({message['data_type']}, data until {message['data_until']}).\r\n\r\n"
            "You receive it because you subscribed to this product of this facility "
            "(Settings page of the STAX web interface).\r\n"
        )
        return Outgoing(address, message["file_name"], text, message["file_name"], content)
    details = json.loads(row["details"] or "{}")
    if kind == "alert":
        station = row["station"] or ""
        if station and not _subscribed(store, user.id, station, "ALERT"):
            raise _Drop(f"unsubscribed from ALERT of {station}")
        _check(store, user, station, row["data_until"], now)
        state = "cleared" if details.get("state") == "cleared" else "raised"
        text = (
            f"{row['file_name']}\r\n\r\nCentral alert {state}: {details.get('message') or ''}"
            f"\r\nFacility: {station or 'central-wide'}; kind: {details.get('kind')}; "
            f"raised {details.get('raised_at')}"
            + (f"; cleared {details.get('cleared_at')}" if state == "cleared" else "")
            + ".\r\n"
        )
        body = json.dumps(details, indent=1, sort_keys=True, default=str).encode() + b"\n"
        return Outgoing(address, row["file_name"], text, row["file_name"], body)
    if kind == "notice":
        _check(store, user, row["station"], row["data_until"], now)
        subject = details.get("subject") or row["file_name"]
        text = f"{subject}\r\n\r\n{details.get('text') or ''}\r\n"
        body = f"{subject}\n{details.get('kind') or ''}\n{details.get('text') or ''}\n".encode()
        return Outgoing(address, row["file_name"], text, row["file_name"], body)
    raise _Drop(f"unknown queue item kind {kind!r}")


def _check(store: Store, user: User, station: str, data_until: str | None, now: datetime) -> None:
    if not station:
        if not user.is_admin:
            raise _Drop("a central-wide alert: administrators only")
        return
    if not user.can_see(station):
        raise _Drop(f"the user may no longer see facility {station}")
    row = {"station": station, "data_until": data_until}
    if data_until is None or not is_published(store, row, now):
        raise _Wait(f"not published at {iso_z(now)}")


def send_due(
    store: Store,
    transport: Transport,
    signer: MailSigner,
    sender: str,
    now: datetime,
    *,
    limit: int = 200,
    backoff: Backoff = Backoff(),
) -> Report:
    """Send up to `limit` queue rows due at `now`, oldest first. A row is marked sent
    only once the SMTP server accepted its mail; a failure is recorded on the row with
    its next try; a server that is down ends the round (the rows due wait with it)."""
    report = Report()
    due = list(
        store.db.query(
            "select * from mail_queue where state = ? and next_try <= ? order by id limit ?",
            [QUEUED, iso_z(now), limit],
        )
    )
    try:
        for row in due:
            try:
                mail = prepare(store, row, now)
            except _Drop as why:
                _mark(store, row["id"], state=DROPPED, last_error=str(why))
                report.dropped += 1
                continue
            except _Wait as why:
                _mark(store, row["id"], next_try=iso_z(now + backoff.delay(1)),
                      last_error=str(why) or "not published yet")  # fmt: skip
                report.waiting += 1
                continue
            user_cert = certificate_of(store, row["user_id"])
            recipient_cert = user_cert.cert if user_cert and user_cert.valid_at(now) else None
            raw = build_mail(
                sender=sender,
                recipient=mail.recipient,
                subject=mail.subject,
                text=mail.text,
                file_name=mail.file_name,
                attachment=mail.attachment,
                message_id=message_id_of(row["item"], row["user_id"], sender),
                date=now,
                signer=signer,
                recipient_cert=recipient_cert,
            )
            try:
                transport.send(sender, mail.recipient, raw)
            except TransportError as exc:
                tries = row["tries"] + 1
                _mark(store, row["id"], tries=tries, next_try=iso_z(now + backoff.delay(tries)),
                      last_error=exc.reason)  # fmt: skip
                report.retried += 1
                report.errors.append(exc.reason)
                if exc.server_down:
                    report.server_down = exc.reason
                    # the rows due wait with it, so that a server that is down is tried
                    # once per delay, not once per row (their tries count is theirs)
                    with store.conn:
                        store.conn.execute(
                            "update mail_queue set next_try = ?, last_error = ? "
                            "where state = ? and next_try <= ? and id != ?",
                            [iso_z(now + backoff.delay(tries)), exc.reason, QUEUED,
                             iso_z(now), row["id"]],
                        )  # fmt: skip
                    log.warning("subscription mail: %s; trying again later", exc.reason)
                    break
                log.warning("subscription mail %s to %s: %s", row["item"], mail.recipient,
                            exc.reason)  # fmt: skip
                continue
            # accepted by the SMTP server: only now is it sent (a crash before this line
            # sends it once more, with the same Message-ID)
            _mark(store, row["id"], state=SENT, tries=row["tries"] + 1, sent_at=iso_z(now),
                  last_error=None)  # fmt: skip
            report.sent += 1
            log.info("mailed %s to user %s", mail.file_name, row["user_id"])
    finally:
        transport.close()
    return report


def _mark(store: Store, row_id: int, **fields: Any) -> None:
    with store.conn:
        store.db["mail_queue"].update(row_id, fields)


class MailOut:
    """What the worker runs every [mail_out] poll_seconds: queue what is newly published,
    then send what is due."""

    def __init__(self, config: MailOutConfig, transport: Transport | None = None):
        if not config.enabled:
            raise MailOutError("[mail_out] host: not set, so no subscription mail goes out")
        assert config.signing_cert is not None and config.signing_key is not None
        self.config = config
        self.signer = MailSigner.load(config.signing_cert, config.signing_key, config.chain_file)
        if transport is None:
            login = read_login(config.login_file) if config.login_file else None
            transport = SmtpTransport(
                config.host,
                config.port,
                starttls=config.starttls,
                ca_file=config.ca_file,
                login=login,
            )
        self.transport = transport
        self.backoff = Backoff(config.retry_first_seconds, config.retry_max_seconds)
        self._next_round: datetime | None = None

    def round(self, store: Store, now: datetime, *, force: bool = False) -> Report | None:
        """One round if it is time (None if not): queue, then send."""
        if not force and self._next_round is not None and now < self._next_round:
            return None
        self._next_round = now + timedelta(seconds=self.config.poll_seconds)
        queued = enqueue_published(store, now)
        report = send_due(
            store, self.transport, self.signer, self.config.from_address, now, backoff=self.backoff
        )
        if queued or report.sent or report.dropped:
            log.info(
                "subscription mail: %d queued, %d sent, %d to retry, %d dropped",
                queued,
                report.sent,
                report.retried,
                report.dropped,
            )
        return report
