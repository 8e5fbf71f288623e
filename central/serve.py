"""`stax central serve`: the intake (aiohttp) in this process and the web UI (Dash on
waitress) in a child process, so slow UI callbacks never hold up the intake's event loop.

The child is restarted with a growing delay when it dies; SIGTERM or SIGINT stops both.
Both read the same SQLite database (WAL) and log to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .config import CentralConfig
from .intake import IntakeSetupError, start_intake
from .mail import start_mail
from .permissions import TooOpen, check_private, make_private_dir

log = logging.getLogger(__name__)

WEB_MODULE = "central.web"


def web_installed() -> bool:
    try:
        return importlib.util.find_spec(f"{WEB_MODULE}.__main__") is not None
    except ModuleNotFoundError:
        return False


def web_command(config_path: Path) -> list[str] | None:
    """How to start the web UI, or None when this installation has none."""
    if not web_installed():
        return None
    return [sys.executable, "-m", WEB_MODULE, "--config", str(config_path)]


class Supervisor:
    """Keeps one child process running: restarts it after `backoff` seconds, doubling up to
    `max_backoff` while it keeps dying, back to `backoff` once it has run `steady` seconds."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        steady: float = 60.0,
        stop_timeout: float = 10.0,
    ):
        self.name = name
        self.argv = list(argv)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.steady = steady
        self.stop_timeout = stop_timeout
        self.starts = 0
        self.process: asyncio.subprocess.Process | None = None
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        delay = self.backoff
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                self.process = await asyncio.create_subprocess_exec(
                    *self.argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=sys.stderr.fileno(),  # one log stream: stderr
                    # its own session: a terminal's Ctrl-C reaches this process only,
                    # which then stops the child in order
                    start_new_session=True,
                )
            except OSError as exc:
                log.error("%s: cannot start %s: %s", self.name, self.argv[0], exc)
                code = None
            else:
                self.starts += 1
                log.info("%s started (pid %d)", self.name, self.process.pid)
                code = await self.process.wait()
            if self._stopping.is_set():
                break
            ran = time.monotonic() - started
            if ran >= self.steady:
                delay = self.backoff
            log.warning(
                "%s exited (code %s) after %.0f s; restarting in %.0f s",
                self.name,
                code,
                ran,
                delay,
            )
            with contextlib.suppress(TimeoutError):  # a stop request ends the wait early
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            delay = min(delay * 2, self.max_backoff)

    async def stop(self) -> None:
        """Stop restarting; SIGTERM the child, SIGKILL it if it lingers."""
        self._stopping.set()
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=self.stop_timeout)
        except TimeoutError:
            log.warning("%s did not stop within %.0f s; killing it", self.name, self.stop_timeout)
            process.kill()
            await process.wait()
        log.info("%s stopped", self.name)


def worker_command(config_path: Path, shard: int = 0, shards: int = 1) -> list[str]:
    """How to start a re-analysis worker (central/worker.py), one of `shards`."""
    return [
        sys.executable, "-m", "central.worker", "--config", str(config_path),
        "--shard", f"{shard}/{shards}",
    ]  # fmt: skip


def worker_count() -> int:
    """One re-analysis worker per core (they run niced, behind the intake)."""
    return max(1, os.cpu_count() or 1)


async def serve(
    config: CentralConfig,
    config_path: Path,
    web_argv: Sequence[str] | None = None,
    worker_argv: Sequence[str] | None = None,
) -> None:
    """Run until SIGTERM or SIGINT: the intake here, the web UI and the re-analysis worker
    as supervised children. `web_argv`/`worker_argv` override their commands (tests)."""
    children: list[tuple[str, list[str]]] = []
    web = list(web_argv) if web_argv is not None else web_command(config_path)
    if web is None:
        log.warning(
            "no web UI in this installation (%s.__main__ not found): serving the intake only",
            WEB_MODULE,
        )
    else:
        children.append(("web UI", web))
    if worker_argv is not None:
        children.append(("re-analysis worker", list(worker_argv)))
    else:
        n = worker_count()
        children += [
            (f"re-analysis worker {i + 1}/{n}", worker_command(config_path, i, n)) for i in range(n)
        ]
    try:
        make_private_dir(config.storage.data_dir)
        check_private(config.storage.data_dir, "[storage] data_dir")
    except TooOpen as exc:
        raise IntakeSetupError(str(exc)) from None
    server = await start_intake(config)
    try:  # [mail]: SMTP/LMTP listener and IMAP poller on the intake's loop, when configured
        mail = await start_mail(config.mail, server.intake)
    except BaseException:
        await server.close()
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    supervisors = [Supervisor(name, argv) for name, argv in children]
    tasks = [asyncio.create_task(s.run()) for s in supervisors]
    try:
        await stop.wait()
        log.info("stopping")
    finally:
        for supervisor, task in zip(supervisors, tasks):
            await supervisor.stop()
            await task
        await mail.close()
        await server.close()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    log.info("stopped")
