"""`stax central backup --out DIR`: a consistent copy of the central's data while it runs.

The database is copied with SQLite's online backup API: one snapshot, taken while the
intake and the web UI go on writing and reading (WAL). Then every blob that snapshot
points to is copied. Blobs are written before the rows that name them, so each one the
snapshot names is on disk already; blobs of rows committed after the snapshot are simply
not part of this backup. Blobs are named by their content, so a second backup into the
same folder copies only the new ones.

DIR receives `central.sqlite`, `blobs/` and `BACKUP.json` (when, what, how many); to
restore, stop the central and copy the three into `[storage] data_dir`.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from .blobs import FILE_MODE, FOLDER_MODE, BlobError, BlobStore
from .store import Store

MANIFEST = "BACKUP.json"


class BackupError(Exception):
    """The backup could not be made; the message says what and where."""


@dataclass(frozen=True)
class BackupReport:
    folder: str
    taken_at: str
    database_bytes: int
    messages: int
    quarantined: int
    blobs: int  # referenced by the snapshot
    blobs_copied: int  # of them, new in this folder

    def summary(self) -> str:
        return (
            f"backup in {self.folder}: {self.messages} messages, {self.quarantined} "
            f"quarantined, database {self.database_bytes} bytes, {self.blobs} blobs "
            f"({self.blobs_copied} copied, {self.blobs - self.blobs_copied} there already)"
        )


def backup(database: Path, out: Path, *, now: datetime | None = None) -> BackupReport:
    """Copy the database at `database` and its blobs into `out` (created 0700)."""
    taken_at = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if not database.exists():
        raise BackupError(f"{database}: no database here ([storage] data_dir and database)")
    try:
        out.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        os.chmod(out, FOLDER_MODE)
    except OSError as exc:
        raise BackupError(f"--out {out}: cannot create the folder: {exc.strerror}") from None
    target = out / database.name
    partial = out / f".{database.name}.partial"
    try:
        _copy_database(database, partial)
        os.replace(partial, target)
    except (OSError, sqlite3.Error) as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"cannot copy {database} to {target}: {exc}") from None

    with Store(target) as copy:  # the snapshot: what it points to is what must be copied
        names = sorted(copy.referenced_blobs())
        messages = copy.db["messages"].count
        quarantined = copy.db["quarantine"].count
        source, dest = BlobStore(database.parent / "blobs"), copy.blobs
        copied = 0
        try:
            for name in names:
                copied += dest.copy_from(source, name)
        except (BlobError, OSError) as exc:
            raise BackupError(f"the backup in {out} is incomplete: {exc}") from None
    report = BackupReport(
        folder=str(out),
        taken_at=taken_at,
        database_bytes=target.stat().st_size,
        messages=messages,
        quarantined=quarantined,
        blobs=len(names),
        blobs_copied=copied,
    )
    manifest = out / MANIFEST
    fd = os.open(manifest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w") as f:
        json.dump(asdict(report), f, indent=2)
        f.write("\n")
    return report


def _copy_database(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    os.close(fd)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)  # all pages in one step: one consistent snapshot
    finally:
        dst.close()
        src.close()
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
