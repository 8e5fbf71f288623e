"""The intake's checks in worker processes, so that a burst of messages uses every core.

Decrypting, verifying the signature (pyHanko, pure Python), parsing a 16384-channel file
and compressing the SignedData for the blob store cost about 6 ms of CPU per spectrum;
in threads they would share one core (the GIL). Each worker process reads the trust
files itself ([intake] files: the key never crosses a pipe) and reads the CRL again
whenever its file changes, as the intake's own `TrustFiles` does; it remembers each
signer's successful path and CRL check (`shared.crypto.pathcache`). Given the blob
store's folder, it also writes the packed SignedData there (fsynced) and sends back only
its name: the processes' fsyncs overlap, and the database thread only commits rows. There
are more processes than cores, so that one checks while another waits for its disk.
A refusal comes back as plain values and is raised again as the same `Refusal` here.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from .blobs import BlobStore, Packed, Written, pack
from .config import IntakeConfig
from .verify import Accepted, Refusal, check_message

log = logging.getLogger(__name__)

_trust: Any = None  # this worker's TrustFiles
_blobs: BlobStore | None = None  # where it writes the SignedData (None: sent back packed)

STORE_FAILED = "the server cannot store messages now; send again later"


def _start_worker(config: IntakeConfig, blob_root: Path | None = None) -> None:
    global _trust, _blobs
    from .intake import TrustFiles  # here: central.intake imports this module

    _trust = TrustFiles(config)
    _blobs = BlobStore(blob_root) if blob_root is not None else None
    importlib.import_module("pyhanko.sign.validation.generic_cms")  # slow: once, now


def _warm() -> int:
    return os.getpid()


def _check(
    envelope: bytes, file_name: str, tls_station: str | None, moment: datetime
) -> tuple[Any, ...]:
    from .intake import IntakeSetupError

    try:
        trust = _trust.current()
    except IntakeSetupError as exc:
        return ("refused", 503, "unavailable", f"the server cannot check signatures now: {exc}")
    try:
        accepted = check_message(envelope, file_name, trust, tls_station=tls_station, moment=moment)
    except Refusal as refusal:
        return ("refused", refusal.http_status, refusal.status, refusal.reason, refusal.station)
    if accepted.signed_data is None:
        return ("accepted", accepted, None)
    # the content was read out of this very SignedData by check_message: no need to
    # parse it again to be sure (what pack_signed does for other callers)
    packed = pack(accepted.signed_data)
    accepted = replace(accepted, signed_data=None)
    if _blobs is None:
        return ("accepted", accepted, packed)  # sent back once, packed
    try:
        _blobs.put(packed)
    except OSError as exc:  # a full or failing disk: not the message's fault
        log.error("cannot write blob %s: %s", packed.sha256, exc)
        return ("refused", 503, "unavailable", STORE_FAILED, accepted.station)
    return ("accepted", accepted, Written(packed.sha256))


class CheckPool:
    """`check(...)` runs `verify.check_message` (and packs the SignedData) in a worker."""

    def __init__(
        self,
        config: IntakeConfig,
        processes: int | None = None,
        blob_root: Path | None = None,
    ):
        self.config = config
        self.blob_root = blob_root
        # twice the cores: while one process waits for its fsync another checks
        self.processes = processes or max(2, min(2 * (os.cpu_count() or 1), 8))
        self._pool: ProcessPoolExecutor | None = None

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn: the intake runs threads (event loop, database), which fork would copy
        return ProcessPoolExecutor(
            self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self.config, self.blob_root),
        )

    async def start(self) -> None:
        self._pool = self._new_pool()
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(self._pool, _warm) for _ in range(self.processes))
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def check(
        self, envelope: bytes, file_name: str, *, tls_station: str | None, moment: datetime
    ) -> tuple[Accepted, Packed | Written | None]:
        """The accepted message and its SignedData, packed or (with a blob folder)
        written; raises Refusal."""
        assert self._pool is not None, "CheckPool.start() first"
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(
                self._pool, _check, envelope, file_name, tls_station, moment
            )
        except BrokenProcessPool:
            log.error("a checking process died; starting new ones")
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            raise Refusal(503, "unavailable", "the server cannot check messages now") from None
        if result[0] == "refused":
            raise Refusal(*result[1:])
        return result[1], result[2]
