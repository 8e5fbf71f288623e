"""Blobs no row names: `stax central blobs --config FILE [--remove] [--older-than HOURS]`.

A blob is written and fsynced before the row that names it is committed (central/blobs.py),
so a crash or a failed commit in between, or a duplicate the station signed again (other
SignedData of the same file), leaves a blob that no row names: `messages.blob` and
`quarantine.blob` (a conflict's evidence) are the only references. `stray_blobs` lists
them; `remove_stray` deletes those last written longer than an age ago.

Why an age: a blob written a moment ago may be one whose row is about to be committed.
Putting a blob that is there already gives it the time of then (`BlobStore._write`), so
an old stray blob that a message sent again is about to name is young again. The removal
looks at the references and the times under the database's write lock, and the store
checks a message's blob inside the transaction that inserts its row: a row committed
after a removal finds its blob missing and fails (503: sent again, written again) rather
than naming nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .store import Store

HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Stray:
    """A blob no row names."""

    sha256: str
    size: int  # bytes on disk (compressed)
    modified: datetime  # last written

    def line(self) -> str:
        return f"{self.sha256}  {self.size} bytes  written {self.modified:%Y-%m-%d %H:%M:%S}Z"


def _names(store: Store) -> list[str]:
    return [n for n in store.blobs.names() if len(n) == 64 and set(n) <= HEX]


def _stray(store: Store, name: str) -> Stray | None:
    modified = store.blobs.modified(name)
    if modified is None:  # removed meanwhile
        return None
    return Stray(name, store.blobs.size(name), datetime.fromtimestamp(modified, UTC))


def stray_blobs(store: Store) -> list[Stray]:
    """Every blob on disk that no row names, by name (report only: nothing changes)."""
    names = _names(store)  # the files first: a row committed meanwhile names a listed one
    referenced = store.referenced_blobs()
    found = (_stray(store, n) for n in names if n not in referenced)
    return [s for s in found if s is not None]


def remove_stray(store: Store, now: datetime, older_than: timedelta) -> list[Stray]:
    """Delete the blobs no row names that were last written before `now - older_than`;
    those removed. Younger stray blobs stay (see the module's note)."""
    if older_than <= timedelta(0):
        raise ValueError(f"the age must be more than zero, not {older_than}")
    cutoff = now - older_than
    removed: list[Stray] = []
    store.conn.execute("BEGIN IMMEDIATE")  # no row is committed until the end
    try:
        referenced = store.referenced_blobs()
        for name in _names(store):
            if name in referenced:
                continue
            stray = _stray(store, name)
            if stray is None or stray.modified >= cutoff:
                continue
            if store.blobs.remove(name):
                removed.append(stray)
    finally:
        store.conn.rollback()  # nothing was written: only the lock is given back
    return removed
