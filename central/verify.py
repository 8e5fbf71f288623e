"""What the central server checks in a received message before storing it, in order,
and the answer for each refusal. Transport-free: the HTTPS intake uses it, and so can
an e-mail intake (which has no TLS peer).

    decrypt (400) -> signature, chain to the network CA, CRL (403; 503 without a current
    CRL) -> TLS peer is the signer (403) -> parse (400, file:line) -> the file's station
    is the signer (403) -> the file name fits the file (400)

Stations send PHD, SOH and ALERT messages, and once a day the ATS of their own analysis
(JSON, named ..._ATS_<day>T00_00_00.TXT), whose results the central compares with its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.crypto import cms
from shared.crypto.certs import common_name
from shared.crypto.pathcache import PathCache
from shared.formats import (
    Alert,
    FormatError,
    Message,
    Phd,
    Soh,
    read_ats,
    read_message,
)
from shared.formats.filenames import parse_product_name, product_for_data_type
from shared.formats.jsonview import message_view
from shared.timeseries import station_samples
from shared.timeutil import iso_z

from .store import StationResultRow

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


def unexpected_reason(exc: BaseException) -> str:
    """The reason given for a message whose checks failed in a way nobody foresaw (a
    library refusing an input we did not screen for): 400, so that the station does
    not send it for ever, and quarantined, so that the operator can look at it."""
    return (
        f"the message could not be checked ({type(exc).__name__}: {exc}); it is kept in "
        "quarantine for the central's operator"
    )


@dataclass(frozen=True)
class Trust:
    """What the central server decrypts with and trusts: its own certificate and key, the
    network's CA (the only trust anchor) and its current CRL."""

    recipient_cert: x509.Certificate
    recipient_key: rsa.RSAPrivateKey
    ca_certs: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...]
    # successful path + CRL checks per signer (shared.crypto.pathcache); None: none kept
    path_cache: PathCache | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Accepted:
    """A verified, parsed message: the arguments of `Store.add_message`."""

    file_name: str
    station: str
    data_type: str
    product: str  # PHD, SOH, ALERT, ATS
    msg_id: str
    content: bytes
    start_time: str | None
    summary: dict[str, Any] = field(repr=False)
    signer: str
    analysis: str = ANALYSIS
    station_results: tuple[StationResultRow, ...] = ()  # a station ATS: its samples' results
    signed_data: bytes | None = field(default=None, repr=False)  # the SignedData, DER: the proof


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
        verified = cms.verify_signed(
            signed, trust.ca_certs, trust.crls, moment=moment, cache=trust.path_cache
        )
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

    if file_name.endswith(".AS"):
        raise unreadable(
            f"file name {file_name!r}: an .AS file is the central's own re-analysis; "
            "stations send PHD, SOH, ALERT and ATS .TXT files",
            signer,
        )
    if _named_product(file_name) == "ATS":
        accepted = _check_station_ats(file_name, verified.content, signer, verified.signer)
        return replace(accepted, signed_data=signed)

    try:
        message = read_message(verified.content, source=file_name, lenient=True)
    except FormatError as exc:
        raise _format_refusal(exc, signer) from None

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
        signer=_signer_text(verified.signer),
        signed_data=signed,
    )


def _format_refusal(exc: FormatError, signer: str) -> Refusal:
    """400 naming the first problem of a file that does not parse, and how many more."""
    more = len(exc.problems) - 1
    extra = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return unreadable(f"{exc}{extra}", signer)


def _signer_text(cert: x509.Certificate) -> str:
    return f"{cert.subject.rfc4514_string()} serial {cert.serial_number:X}"


def _named_product(file_name: str) -> str | None:
    try:
        return parse_product_name(file_name).product
    except ValueError:
        return None


def _check_station_ats(
    file_name: str, content: bytes, signer: str, signer_cert: x509.Certificate
) -> Accepted:
    """A station's daily ATS (JSON, its own analysis): schema, station, name; its samples'
    results come along for the comparison with the central re-analysis."""
    try:
        doc = read_ats(content, source=file_name)
    except FormatError as exc:
        raise _format_refusal(exc, signer) from None
    station = doc["Station"]["Code"]
    if station != signer:
        raise refused(f"signed by {signer} but the file is from {station}", signer)
    if doc["MetaData"]["Analysis"] != "STATION":
        raise unreadable(
            f"{file_name}: a station sends the ATS of its own analysis (MetaData.Analysis "
            f"STATION), not {doc['MetaData']['Analysis']}",
            signer,
        )
    name = parse_product_name(file_name)
    if name.station != signer:
        raise unreadable(
            f"file name {file_name!r} names station {name.station}, but the file is from {signer}",
            signer,
        )
    day = doc["MetaData"]["Day"]
    if name.time.date().isoformat() != day or name.time.time() != time(0):
        raise unreadable(
            f"file name {file_name!r}: the ATS is of day {day}, so its name must end "
            f"{day.replace('-', '_')}T00_00_00.TXT",
            signer,
        )
    rows = []
    for sample in station_samples(doc):
        if sample.file_name is None:
            continue  # measured but never sent: nothing here to compare it with
        rows.append(
            StationResultRow(
                file_name=sample.file_name,
                srid=sample.srid,
                acquisition_start=sample.acquisition_start,
                method_version=sample.result.method_version,
                result=sample.result.to_json(),
            )
        )
    samples = sum(len(d["Samples"]) for d in doc["Detectors"])
    return Accepted(
        file_name=file_name,
        station=signer,
        data_type="ATS",
        product="ATS",
        msg_id=name.msg_id,
        content=content,
        start_time=f"{day}T00:00:00.000Z",
        summary={
            "MetaData": doc["MetaData"],
            "Station": doc["Station"],
            "Detectors": [d["Code"] for d in doc["Detectors"]],
            "Samples": samples,
        },
        signer=_signer_text(signer_cert),
        station_results=tuple(rows),
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


COUNTS = frozenset({"counts"})


def summary(message: Message) -> dict[str, Any]:
    """The message as JSON without spectrum and histogram counts (the file keeps those)."""
    # counts left out while converting (16384 of them to a list, then dropped, was
    # a tenth of the checking process's time)
    return _without_counts(message_view(message, without=COUNTS))


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
            f"file name {name!r}: stations send PHD, SOH, ALERT and ATS .TXT files", station
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
