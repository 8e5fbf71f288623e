"""What the central server checks in a received message before storing it, in order,
and the answer for each refusal. Transport-free: the HTTPS intake uses it, and so can
an e-mail intake (which has no TLS peer).

    decrypt (400) -> signature, chain to the network CA, CRL (403; 503 without a current
    CRL) -> TLS peer is the signer (403) -> parse (400, file:line) -> the file's station
    is the signer (403) -> the file name fits the file (400)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.crypto import cms
from shared.crypto.certs import common_name
from shared.formats import (
    Alert,
    FormatError,
    Message,
    Phd,
    Soh,
    read_message,
)
from shared.formats.filenames import parse_product_name, product_for_data_type
from shared.formats.jsonview import message_view
from shared.timeutil import iso_z

ANALYSIS = "STATION"  # messages from stations carry the station's own analysis


class Refusal(Exception):
    """A message the central server does not store; it goes to quarantine."""

    def __init__(self, http_status: int, status: str, reason: str, station: str | None = None):
        super().__init__(reason)
        self.http_status = http_status
        self.status = status  # a word for programs: unreadable, refused, unavailable, ...
        self.reason = reason  # a sentence for people
        self.station = station  # the authenticated station, when known

    def __str__(self) -> str:
        return self.reason


def unreadable(reason: str, station: str | None = None) -> Refusal:
    return Refusal(400, "unreadable", reason, station)


def refused(reason: str, station: str | None = None) -> Refusal:
    return Refusal(403, "refused", reason, station)


@dataclass(frozen=True)
class Trust:
    """What the central server decrypts with and trusts: its own certificate and key, the
    network's CA (the only trust anchor) and its current CRL."""

    recipient_cert: x509.Certificate
    recipient_key: rsa.RSAPrivateKey
    ca_certs: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...]


@dataclass(frozen=True)
class Accepted:
    """A verified, parsed message: the arguments of `Store.add_message`."""

    file_name: str
    station: str
    data_type: str
    product: str  # PHD, SOH, ALERT
    msg_id: str
    content: bytes
    start_time: str | None
    summary: dict[str, Any] = field(repr=False)
    signer: str
    analysis: str = ANALYSIS


def check_message(
    envelope: bytes,
    file_name: str,
    trust: Trust,
    *,
    tls_station: str | None,
    moment: datetime,
) -> Accepted:
    """Check a received envelope; raise `Refusal` with the status and reason for the sender.

    `tls_station` is the CN of the TLS client certificate (None when the transport has no
    client certificate, e.g. e-mail). `moment` is the time of validation. Blocking.
    """
    try:
        signed = cms.decrypt(envelope, trust.recipient_cert, trust.recipient_key)
        verified = cms.verify_signed(signed, trust.ca_certs, trust.crls, moment=moment)
    except cms.DecryptError as exc:
        raise unreadable(str(exc), tls_station) from None
    except cms.RevocationUnavailable as exc:
        raise Refusal(503, "unavailable", str(exc), tls_station) from None
    except cms.SignatureError as exc:
        raise refused(str(exc), tls_station) from None

    signer = common_name(verified.signer) or ""
    if tls_station is not None and tls_station != signer:
        # one station's connection carrying another's files: a stolen or misused TLS key
        raise refused(f"sent over the TLS connection of {tls_station} but signed by {signer}")

    try:
        message = read_message(verified.content, source=file_name, lenient=True)
    except FormatError as exc:
        more = len(exc.problems) - 1
        extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise unreadable(f"{exc}{extra}", signer) from None

    section = _main_section(message)
    if section is None:
        raise unreadable(
            f"{file_name}: no PHD, SOH or alert section (data types: "
            f"{', '.join(message.data_types) or 'none'})",
            signer,
        )
    for station in _stations(message):
        if station != signer:
            raise refused(f"signed by {signer} but the file is from {station}", signer)

    product = product_for_data_type(section.data_type)
    _check_file_name(file_name, station=signer, msg_id=message.msg_id, product=product)
    return Accepted(
        file_name=file_name,
        station=signer,
        data_type=section.data_type,
        product=product,
        msg_id=message.msg_id,
        content=verified.content,
        start_time=_start_time(section),
        summary=summary(message),
        signer=f"{verified.signer.subject.rfc4514_string()} serial {verified.signer.serial_number:X}",
    )


def _main_section(message: Message) -> Phd | Soh | Alert | None:
    for section in message.sections:
        if isinstance(section, Phd | Soh | Alert):
            return section
    return None


def _stations(message: Message) -> list[str]:
    out = []
    for section in message.sections:
        if isinstance(section, Phd):
            out.append(section.header.station)
        elif isinstance(section, Soh | Alert):
            out.append(section.station)
    return out


def _start_time(section: Phd | Soh | Alert) -> str | None:
    """PHD: acquisition start (else collection start); SOH: period start; alert: its time."""
    if isinstance(section, Phd):
        if section.acquisition is not None:
            return iso_z(section.acquisition.start)
        if section.collection is not None:
            return iso_z(section.collection.start)
        return None
    if isinstance(section, Soh):
        return iso_z(section.period_start)
    return iso_z(section.time)


def summary(message: Message) -> dict[str, Any]:
    """The message as JSON without spectrum and histogram counts (the file keeps those)."""
    return _without_counts(message_view(message))


def _without_counts(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_counts(v) for k, v in value.items() if k != "counts"}
    if isinstance(value, list):
        return [_without_counts(v) for v in value]
    return value


def _check_file_name(name: str, *, station: str, msg_id: str, product: str) -> None:
    """The name must be a station product name (formats.md section 5) that fits the file."""
    try:
        parsed = parse_product_name(name)
    except ValueError as exc:
        raise unreadable(str(exc), station) from None
    if parsed.product not in ("PHD", "SOH", "ALERT") or parsed.ext != "TXT":
        raise unreadable(
            f"file name {name!r}: stations send PHD, SOH and ALERT .TXT files", station
        )
    if parsed.station != station:
        raise unreadable(
            f"file name {name!r} names station {parsed.station}, but the file is from {station}",
            station,
        )
    if parsed.msg_id != msg_id:
        raise unreadable(
            f"file name {name!r} names MSG_ID {parsed.msg_id}, but the file has MSG_ID {msg_id}",
            station,
        )
    if parsed.product != product:
        raise unreadable(
            f"file name {name!r} names type {parsed.product}, but the file is {product}", station
        )
