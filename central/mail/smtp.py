"""The SMTP or LMTP listener (aiosmtpd) a mail server delivers station mail to.

It runs on the intake's event loop, so every mail goes through the same store thread as
the HTTPS intake (the duplicate check and the insert never interleave). The reply to
DATA is the verdict: 250 stored or duplicate, 451 try later, 5xx refused (kept in
quarantine). A mail larger than [mail] max_mail_bytes is refused at 552 while it arrives,
without being held in memory, and recorded in quarantine without its bytes.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from .mime import Headers
from .receiver import MailIntake, smtp_reply

log = logging.getLogger(__name__)

PROTOCOLS = ("smtp", "lmtp")


class _Handler:
    def __init__(self, mail: MailIntake, protocol: str):
        self.mail = mail
        self.protocol = protocol

    def peer(self, session: Session, envelope: Envelope | None) -> str:
        address = session.peer
        where = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
        sender = envelope.mail_from if envelope is not None else None
        return f"{self.protocol}:{where}" + (f" MAIL FROM <{sender}>" if sender else "")

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        answer = await self.mail.take(bytes(raw), self.peer(session, envelope))
        return _per_recipient(server, envelope, smtp_reply(answer))

    async def too_large(self, server: SMTP) -> str:
        envelope = server.envelope
        size = f"more than {server.data_size_limit} bytes"
        answer = await self.mail.too_large(size, self.peer(server.session, envelope), Headers())
        return _per_recipient(server, envelope, smtp_reply(answer))


def _per_recipient(server: SMTP, envelope: Envelope | None, reply: str) -> str:
    """LMTP answers DATA once per recipient (RFC 2033); one check serves them all."""
    if isinstance(server, LMTP) and envelope is not None and envelope.rcpt_tos:
        return "\r\n".join([reply] * len(envelope.rcpt_tos))
    return reply


class _SizeAware:
    """aiosmtpd answers an oversized DATA with 552 itself; this records it as a refusal."""

    event_handler: _Handler

    async def push(self, status: str) -> None:
        # at MAIL FROM (the client announced SIZE) or at the end of DATA
        # (aiosmtpd's own replies say "552 Error: ..."; ours carry an enhanced status code)
        if status.startswith("552 Error:") and self.envelope is not None:  # type: ignore[attr-defined]
            try:
                status = await self.event_handler.too_large(self)  # type: ignore[arg-type]
            except Exception:  # the refusal stands even if it cannot be recorded
                log.exception("a too-large mail could not be recorded")
        await super().push(status)  # type: ignore[misc]


class _Smtp(_SizeAware, SMTP):
    pass


class _Lmtp(_SizeAware, LMTP):
    pass


@dataclass
class MailListener:
    server: asyncio.Server
    protocol: str
    host: str
    port: int

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def start_listener(
    mail: MailIntake, *, protocol: str, host: str, port: int, hostname: str | None = None
) -> MailListener:
    """Listen for SMTP or LMTP on host:port. Raises OSError when the port is taken."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be smtp or lmtp, not {protocol!r}")
    handler = _Handler(mail, protocol)
    cls = _Lmtp if protocol == "lmtp" else _Smtp
    loop = asyncio.get_running_loop()

    def factory() -> SMTP:
        return cls(
            handler,
            data_size_limit=mail.max_mail_bytes,
            hostname=hostname,
            ident="stax-monitor central",
        )

    server = await loop.create_server(factory, host, port)
    if port == 0:
        port = server.sockets[0].getsockname()[1]
    log.info("%s listener on %s:%d", protocol.upper(), host, port)
    return MailListener(server, protocol, host, port)
