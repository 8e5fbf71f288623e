"""A station message taken out of an e-mail, or the reason the mail is not one. Pure.

The wire contract (system.md): an S/MIME message, `application/pkcs7-mime;
smime-type=enveloped-data; name=smime.p7m` (OpenSSL writes `application/x-pkcs7-mime`,
also accepted), the base64 of the same DER as the HTTPS body, Subject = the file name.
Anything else (a bounce, a plain-text mail, spam, a signed-only message, an S/MIME part
hidden in a multipart mail) is `NotStationMail` with a status in the HTTPS intake's
terms (400 unreadable, 415 not a station message) and a sentence saying what to send.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
from dataclasses import dataclass
from email.message import EmailMessage

SMIME_TYPES = ("application/pkcs7-mime", "application/x-pkcs7-mime")
SMIME_TYPE = "enveloped-data"
_WHAT_TO_SEND = (
    "send an S/MIME message (application/pkcs7-mime; smime-type=enveloped-data) whose "
    "Subject is the file name"
)
_NAME_LIMIT = 200  # a Subject longer than any file name is cut in the quarantine row


@dataclass(frozen=True)
class StationMail:
    """The DER envelope of a station message and where it came from."""

    file_name: str
    envelope: bytes
    sender: str
    message_id: str


class NotStationMail(Exception):
    """The mail is not a station message: kept in quarantine with this reason."""

    def __init__(self, http_status: int, status: str, reason: str, mail: Headers):
        super().__init__(reason)
        self.http_status = http_status
        self.status = status
        self.reason = reason
        self.mail = mail


@dataclass(frozen=True)
class Headers:
    """What is known of a mail for logs and the quarantine row, even when it is not ours."""

    subject: str = ""
    sender: str = ""
    message_id: str = ""

    def describe(self) -> str:
        parts = []
        if self.sender:
            parts.append(f"From {self.sender}")
        if self.message_id:
            parts.append(f"Message-ID {self.message_id}")
        return ", ".join(parts)


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a header the parser cannot decode: say so rather than fail
        return f"(unreadable {name} header)"
    return " ".join(str(value).split()) if value is not None else ""


def headers_of(message: EmailMessage) -> Headers:
    return Headers(
        subject=_header(message, "Subject")[:_NAME_LIMIT],
        sender=_header(message, "From"),
        message_id=_header(message, "Message-ID"),
    )


def _not_ours(reason: str, headers: Headers) -> NotStationMail:
    return NotStationMail(415, "not_station_message", f"{reason}; {_WHAT_TO_SEND}", headers)


def _unreadable(reason: str, headers: Headers) -> NotStationMail:
    return NotStationMail(400, "unreadable", reason, headers)


def _is_bounce(message: EmailMessage) -> bool:
    if message.get_content_type() in ("multipart/report", "message/delivery-status"):
        return True
    sender = _header(message, "From").lower()
    return "mailer-daemon@" in sender or sender.startswith("mailer-daemon")


def _smime_parts(message: EmailMessage) -> list[EmailMessage]:
    return [p for p in message.walk() if p.get_content_type() in SMIME_TYPES]


def _payload(part: EmailMessage, headers: Headers) -> bytes:
    """The DER bytes of the S/MIME body: base64 decoded strictly (a damaged line must not
    be skipped silently, as the lenient decoder of `email` would), or binary as is."""
    encoding = (part.get("Content-Transfer-Encoding") or "7bit").strip().lower()
    raw = part.get_payload(decode=False)
    if not isinstance(raw, str):
        raise _unreadable("the S/MIME body is not a single part", headers)
    if encoding == "base64":
        text = "".join(raw.split())
        try:
            der = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _unreadable(f"the S/MIME body is not valid base64 ({exc})", headers) from None
    elif encoding in ("binary", "8bit", "7bit"):
        der = raw.encode("ascii", "surrogateescape")
        if encoding == "7bit":
            raise _unreadable(
                "the S/MIME body has no Content-Transfer-Encoding: base64 (DER is binary)",
                headers,
            )
    else:
        raise _unreadable(
            f"Content-Transfer-Encoding {encoding!r} of the S/MIME body: send base64", headers
        )
    if not der:
        raise _unreadable("the S/MIME body is empty", headers)
    return der


def read_station_mail(raw: bytes) -> StationMail:
    """The station message of a raw RFC 5322 mail. Raises `NotStationMail` saying why not."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        headers = headers_of(message)  # type: ignore[arg-type]
    except Exception as exc:  # the parser is lenient; this is a safety net for odd input
        raise _unreadable(f"not a readable e-mail ({exc})", Headers()) from None
    assert isinstance(message, EmailMessage)
    if _is_bounce(message):
        # a bounce may quote a mail with an S/MIME part: never take it for a new message
        raise _not_ours("a delivery status notification (bounce), not a station message", headers)
    content_type = message.get_content_type()
    if content_type not in SMIME_TYPES:
        if _smime_parts(message):
            raise _not_ours(
                f"the S/MIME part is an attachment of a {content_type} mail, not the whole message",
                headers,
            )
        raise _not_ours(f"a {content_type} mail, not a station message", headers)
    smime_type = (message.get_param("smime-type") or SMIME_TYPE).lower()
    if smime_type != SMIME_TYPE:
        raise _unreadable(
            f"smime-type {smime_type}: stations send enveloped-data (signed, then encrypted "
            "to the central)",
            headers,
        )
    if not headers.subject:
        raise _unreadable("no Subject: the Subject of a station mail is the file name", headers)
    return StationMail(
        file_name=headers.subject,
        envelope=_payload(message, headers),
        sender=headers.sender,
        message_id=headers.message_id,
    )
