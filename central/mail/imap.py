"""IMAP polling of a mailbox that someone else's mail server keeps (imaplib).

Every `poll_seconds` the poller logs in, takes each message of [mail.imap] mailbox in
turn and, only once it is stored or kept in quarantine, marks it \\Seen and moves it to
`done_mailbox`. A crash in between leaves the message where it was: the next poll reads
it again, which ends as a duplicate, and moves it then. A "try later" answer (no current
CRL, the database down) leaves it for the next poll. A message larger than
[mail] max_mail_bytes is not fetched: a quarantine row records it and it is moved too.

imaplib blocks, so the IMAP conversation runs in a thread of its own; the checks and the
store run on the intake's event loop as for the SMTP listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import logging
import re
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ..config import ImapConfig
from ..intake import Answer
from .mime import Headers
from .receiver import UNAVAILABLE, MailIntake

log = logging.getLogger(__name__)

TIMEOUT_S = 60.0
_SIZE = re.compile(rb"UID (\d+) RFC822\.SIZE (\d+)|RFC822\.SIZE (\d+) UID (\d+)")


class ImapError(Exception):
    """The mailbox cannot be read now (server down, login refused, mailbox missing)."""


def quote(name: str) -> str:
    """An IMAP quoted string (imaplib sends arguments as they are)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def read_password(path: Path | None) -> str:
    if path is None:
        raise ImapError("[mail.imap] password_file: not set")
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ImapError(f"[mail.imap] password_file {path}: cannot read: {exc.strerror}") from None


@dataclass(frozen=True)
class Polled:
    uid: str
    answer: Answer
    moved: bool


class Mailbox:
    """One logged-in IMAP session on the configured mailbox (blocking calls)."""

    def __init__(self, config: ImapConfig):
        self.config = config
        self.conn: imaplib.IMAP4 | None = None

    def _check(self, what: str, result: tuple[str, list]) -> list:
        status, data = result
        if status != "OK":
            text = b" ".join(d for d in data if isinstance(d, bytes)).decode(errors="replace")
            raise ImapError(f"IMAP {self.config.host}: {what} failed: {status} {text}")
        return data

    def open(self) -> None:
        c = self.config
        try:
            if c.security == "tls":
                conn = imaplib.IMAP4_SSL(
                    c.host, c.port, ssl_context=_tls(c.ca_file), timeout=TIMEOUT_S
                )
            else:
                conn = imaplib.IMAP4(c.host, c.port, timeout=TIMEOUT_S)
                if c.security == "starttls":
                    conn.starttls(_tls(c.ca_file))
        except (OSError, imaplib.IMAP4.error) as exc:
            raise ImapError(f"[mail.imap] cannot connect to {c.host}:{c.port}: {exc}") from None
        self.conn = conn
        try:
            conn.login(c.user, read_password(c.password_file))
        except imaplib.IMAP4.error as exc:
            self.close()
            raise ImapError(f"[mail.imap] login as {c.user!r} refused: {exc}") from None
        # imaplib keeps the capabilities of the greeting; MOVE and UIDPLUS come after login
        data = self._check("CAPABILITY", conn.capability())
        conn.capabilities = tuple(data[-1].decode("ascii", "replace").upper().split())
        self._check(f"SELECT {c.mailbox}", conn.select(quote(c.mailbox)))
        status, _ = conn.create(quote(c.done_mailbox))  # NO when it exists already
        if status != "OK":
            self._check(f"STATUS {c.done_mailbox}", conn.status(quote(c.done_mailbox), "(UIDNEXT)"))

    def close(self) -> None:
        if self.conn is None:
            return
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            self.conn.logout()
        self.conn = None

    def sizes(self) -> list[tuple[str, int]]:
        """(UID, size) of every message not marked deleted, oldest first."""
        assert self.conn is not None
        data = self._check("SEARCH", self.conn.uid("SEARCH", "UNDELETED"))
        uids = data[0].split() if data and data[0] else []
        if not uids:
            return []
        data = self._check(
            "FETCH", self.conn.uid("FETCH", b",".join(uids).decode(), "(RFC822.SIZE)")
        )
        out = []
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue
            m = _SIZE.search(line)
            if m:
                uid, size = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
                out.append((uid.decode(), int(size)))
        return sorted(out, key=lambda x: int(x[0]))

    def fetch(self, uid: str) -> bytes:
        assert self.conn is not None
        data = self._check(f"FETCH {uid}", self.conn.uid("FETCH", uid, "(BODY.PEEK[])"))
        for item in data:
            if isinstance(item, tuple):
                return item[1]
        raise ImapError(f"IMAP {self.config.host}: message UID {uid} has gone")

    def done(self, uid: str) -> None:
        """Mark the message seen and move it to the done mailbox."""
        assert self.conn is not None
        conn = self.conn
        self._check(f"STORE {uid}", conn.uid("STORE", uid, "+FLAGS", r"(\Seen)"))
        target = quote(self.config.done_mailbox)
        if "MOVE" in conn.capabilities:
            self._check(f"MOVE {uid}", conn.uid("MOVE", uid, target))
            return
        self._check(f"COPY {uid}", conn.uid("COPY", uid, target))
        self._check(f"STORE {uid}", conn.uid("STORE", uid, "+FLAGS", r"(\Deleted)"))
        if "UIDPLUS" in conn.capabilities:  # only this message
            self._check(f"EXPUNGE {uid}", conn.uid("EXPUNGE", uid))
        else:
            self._check("EXPUNGE", conn.expunge())


def _tls(ca_file: Path | None) -> ssl.SSLContext:
    if ca_file is None:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=str(ca_file))


class ImapPoller:
    """Polls [mail.imap] for station mail until stopped."""

    def __init__(
        self,
        config: ImapConfig,
        mail: MailIntake,
        *,
        mailbox_factory: Callable[[ImapConfig], Mailbox] = Mailbox,
    ):
        self.config = config
        self.mail = mail
        self.mailbox_factory = mailbox_factory
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imap")
        self.peer = f"imap:{config.user}@{config.host}:{config.port}/{config.mailbox}"

    async def _io(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._thread, partial(fn, *args))

    async def poll_once(self) -> list[Polled]:
        """Take every message in the mailbox now. Raises ImapError when it cannot be read."""
        box = self.mailbox_factory(self.config)
        await self._io(box.open)
        try:
            out = []
            for uid, size in await self._io(box.sizes):
                peer = f"{self.peer} UID {uid}"
                if size > self.mail.max_mail_bytes:
                    answer = await self.mail.too_large(f"{size} bytes", peer, Headers())
                else:
                    raw = await self._io(box.fetch, uid)
                    answer = await self.mail.take(raw, peer)
                moved = False
                if answer.http_status != UNAVAILABLE:  # stored or kept: it may go now
                    await self._io(box.done, uid)
                    moved = True
                log.info("%s: %s %s", peer, answer.status, answer.reason)
                out.append(Polled(uid, answer, moved))
            return out
        finally:
            await self._io(box.close)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every `poll_seconds` until `stop` is set; a failed poll is logged and tried
        again at the next one (the messages stay in the mailbox)."""
        while not stop.is_set():
            try:
                await self.poll_once()
            except ImapError as exc:
                log.error("%s; trying again in %.0f s", exc, self.config.poll_seconds)
            except (OSError, imaplib.IMAP4.error) as exc:
                log.error(
                    "IMAP %s: %s; trying again in %.0f s",
                    self.config.host,
                    exc,
                    self.config.poll_seconds,
                )
            except Exception:
                log.exception("IMAP poll failed; trying again in %.0f s", self.config.poll_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.config.poll_seconds)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
