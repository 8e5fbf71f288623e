"""One received mail in, one answer out: shared by the SMTP/LMTP listener and the IMAP poller.

A station mail goes through the HTTPS intake's own checks and store (`Intake.receive`,
with the signer as the only identity: there is no TLS client); a mail that is not a
station message is kept in quarantine with the reason (the whole mail as received).
The answer is the HTTPS intake's `Answer`; `smtp_reply` says it in SMTP terms.
Nothing raises out of `take`: a fault of ours ends as "try later" (451, the mail server
keeps the mail and delivers it again) or, when the mail could be kept, in quarantine.
"""

from __future__ import annotations

import logging
import sqlite3

from ..intake import Answer, Intake
from ..verify import Refusal
from .mime import Headers, NotStationMail, read_station_mail

log = logging.getLogger(__name__)

UNAVAILABLE = 503  # not a verdict on the mail: deliver it again later


class MailIntake:
    """Takes raw mails for an open `Intake`."""

    def __init__(self, intake: Intake, max_mail_bytes: int):
        self.intake = intake
        self.max_mail_bytes = max_mail_bytes

    async def take(self, raw: bytes, peer: str) -> Answer:
        """Check, store or quarantine one mail (RFC 5322 bytes as received)."""
        try:
            return await self._take(raw, peer)
        except sqlite3.Error:
            log.exception("%s: the database failed", peer)
            return Answer(UNAVAILABLE, "unavailable", "", "the server cannot store mail now")
        except Exception as exc:
            # a fault of ours, not of the mail: keep the mail with the reason if we can
            log.exception("%s: the mail could not be checked", peer)
            try:
                return await self.intake.refuse(
                    Refusal(500, "internal_error", f"internal error while checking: {exc!r}"),
                    "",
                    raw,
                    peer,
                    None,
                )
            except Exception:
                log.exception("%s: the mail could not be kept in quarantine either", peer)
                return Answer(UNAVAILABLE, "unavailable", "", "the server cannot take mail now")

    async def _take(self, raw: bytes, peer: str) -> Answer:
        if len(raw) > self.max_mail_bytes:
            return await self.too_large(f"{len(raw)} bytes", peer, Headers())
        try:
            mail = read_station_mail(raw)
        except NotStationMail as exc:
            where = _where(peer, exc.mail)
            refusal = Refusal(exc.http_status, exc.status, exc.reason)
            return await self.intake.refuse(refusal, exc.mail.subject, raw, where, None)
        where = _where(peer, Headers(mail.file_name, mail.sender, mail.message_id))
        limit = self.intake.config.max_message_bytes
        if len(mail.envelope) > limit:  # the HTTPS intake's own limit on the envelope
            reason = (
                f"message of {len(mail.envelope)} bytes is larger than the limit of {limit} "
                "bytes ([intake] max_message_bytes)"
            )
            refusal = Refusal(413, "too_large", reason)
            return await self.intake.refuse(refusal, mail.file_name, b"", where, None)
        return await self.intake.receive(
            mail.file_name, mail.envelope, tls_station=None, peer=where
        )

    async def too_large(self, size: str, peer: str, headers: Headers) -> Answer:
        """Refuse a mail over [mail] max_mail_bytes: a quarantine row without the bytes
        (not read, so not kept), as the HTTPS intake's 413."""
        reason = (
            f"mail of {size} is larger than the limit of {self.max_mail_bytes} bytes "
            "([mail] max_mail_bytes)"
        )
        return await self.intake.refuse(
            Refusal(413, "too_large", reason), headers.subject, b"", _where(peer, headers), None
        )


def _where(peer: str, headers: Headers) -> str:
    described = headers.describe()
    return f"{peer} ({described})" if described else peer


# SMTP reply codes (RFC 5321) and enhanced status codes (RFC 3463) for each HTTPS status
_REPLIES = {
    200: "250 2.0.0",
    201: "250 2.0.0",
    400: "554 5.6.0",  # unreadable
    403: "550 5.7.1",  # signature or identity refused
    409: "550 5.7.0",  # conflict
    413: "552 5.3.4",  # too large
    415: "554 5.6.0",  # not a station message
    500: "554 5.3.0",  # kept in quarantine after a fault of ours
    503: "451 4.3.0",  # try later
}


def smtp_reply(answer: Answer) -> str:
    """The SMTP reply line for an answer: 250 stored or duplicate, 451 try later (the mail
    server keeps the mail), 5xx refused (kept in quarantine; the sender's mail server
    returns the mail with this reason)."""
    code = _REPLIES.get(answer.http_status, "554 5.0.0")
    kept = "" if answer.http_status in (200, 201, 503) else " (kept in quarantine)"
    text = " ".join(f"{answer.status}: {answer.reason}{kept}".split())
    return f"{code} {text[:400]}"
