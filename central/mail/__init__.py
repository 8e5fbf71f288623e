"""E-mail intake: station messages by SMTP/LMTP delivery and by IMAP polling ([mail]).

`start_mail(config.mail, intake)` starts what [mail] asks for on the running loop of an
open `Intake` (central/intake.py) and returns `MailServices` to close on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from ..config import MailConfig
from ..intake import Intake, IntakeSetupError
from .imap import ImapError, ImapPoller, read_password
from .receiver import MailIntake
from .smtp import MailListener, start_listener

log = logging.getLogger(__name__)


@dataclass
class MailServices:
    listener: MailListener | None = None
    poller: ImapPoller | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task | None = None

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.poller is not None:
            self.poller.close()
        if self.listener is not None:
            await self.listener.close()


async def start_mail(config: MailConfig, intake: Intake) -> MailServices:
    """Start the SMTP/LMTP listener and the IMAP poller that [mail] configures (none by
    default). Raises IntakeSetupError when the listener cannot listen."""
    mail = MailIntake(intake, config.max_mail_bytes)
    services = MailServices()
    if config.listen != "off":
        try:
            services.listener = await start_listener(
                mail, protocol=config.listen, host=config.host, port=config.port
            )
        except OSError as exc:
            raise IntakeSetupError(
                f"[mail] host/port: cannot listen on {config.host}:{config.port}: {exc.strerror}"
            ) from None
    if config.imap.enabled:
        services.poller = ImapPoller(config.imap, mail)
        services._task = asyncio.create_task(services.poller.run(services._stop))
        log.info("polling %s every %.0f s", services.poller.peer, config.imap.poll_seconds)
    return services


def check_lines(config: MailConfig) -> tuple[list[str], list[str]]:
    """For `stax central check`: what [mail] starts, and its problems (a password file
    that cannot be read is otherwise found only at the first poll)."""
    lines, problems = [], []
    if config.listen == "off":
        lines.append("mail        no listener")
    else:
        lines.append(f"mail        {config.listen.upper()} on {config.host}:{config.port}")
    imap = config.imap
    if imap.enabled:
        lines.append(
            f"IMAP        {imap.user}@{imap.host}:{imap.port}/{imap.mailbox} ({imap.security}), "
            f"every {imap.poll_seconds:g} s"
        )
        try:
            read_password(imap.password_file)
        except ImapError as exc:
            problems.append(str(exc))
    return lines, problems


__all__ = ["MailServices", "check_lines", "start_mail"]
