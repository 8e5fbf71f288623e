"""Tell systemd how the agent is doing (sd_notify): READY, WATCHDOG, STATUS, STOPPING.

Speaks the datagram protocol on $NOTIFY_SOCKET directly; without systemd it does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

__all__ = ["Notifier"]

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, env: Mapping[str, str] = os.environ):
        address = env.get("NOTIFY_SOCKET") or None
        if address and address.startswith("@"):
            address = "\0" + address[1:]  # an abstract socket
        self._address = address
        self.watchdog_seconds: float | None = None
        usec = env.get("WATCHDOG_USEC")
        pid = env.get("WATCHDOG_PID")
        if usec and (not pid or pid == str(os.getpid())):
            try:
                self.watchdog_seconds = int(usec) / 1_000_000
            except ValueError:
                log.warning("WATCHDOG_USEC is not a number: %r", usec)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, **fields: str | int) -> None:
        """Send `KEY=value` lines, e.g. notify(READY=1, STATUS="acquiring")."""
        if self._address is None:
            return
        text = "\n".join(f"{k}={v}" for k, v in fields.items())
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self._address)
                sock.sendall(text.encode())
        except OSError as exc:
            # systemd gone or a wrong socket: the agent itself keeps working
            log.warning("cannot notify systemd at %s: %s", self._address.lstrip("\0"), exc)

    def ready(self, status: str) -> None:
        self.notify(READY=1, STATUS=status)

    def watchdog(self) -> None:
        self.notify(WATCHDOG=1)

    def status(self, text: str) -> None:
        self.notify(STATUS=text)

    def stopping(self) -> None:
        self.notify(STOPPING=1, STATUS="stopping")
