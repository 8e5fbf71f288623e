"""The content-addressed file store beside the central database (`data_dir/blobs/`).

A blob is named by the SHA-256 of its bytes and kept gzip-compressed in
`blobs/<first two hex digits>/<sha256>.gz` (folders 0700, files 0600). `put` writes to a
temporary file, fsyncs it, renames it into place and fsyncs the folder, so that a blob is
on disk before the database row that points to it is committed; a crash in between
leaves at most an unreferenced blob, never a row without its bytes. The same bytes are
stored once. gzip (RFC 1952) so that an operator can read a blob with `gzip -dc` alone.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600
# zlib level 3: a SignedData of a 16384-channel PHD (205 kB) to 18.2 kB in 0.6 ms of CPU;
# level 6 (zlib's default) makes 15.7 kB in 1.4 ms, on every message of the intake
LEVEL = 3
WRITERS = 8  # blobs written at once by `put_many`


class BlobError(Exception):
    """A blob is missing or its bytes are not the ones it is named after."""


@dataclass(frozen=True)
class Packed:
    """A blob ready to be written: its name and its compressed bytes (CPU work done)."""

    sha256: str
    data: bytes


@dataclass(frozen=True)
class Written:
    """A blob already on disk: written (and fsynced) by `BlobStore.put` elsewhere, e.g.
    in the intake's checking processes, so that only its name travels."""

    sha256: str


def pack(data: bytes) -> Packed:
    """Name and compress `data` (pure; safe to run in any thread or process)."""
    return Packed(hashlib.sha256(data).hexdigest(), gzip.compress(data, LEVEL, mtime=0))


class BlobStore:
    """The blobs under one folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise BlobError(f"not a SHA-256 in hex: {sha256!r}")
        return self.root / sha256[:2] / f"{sha256}.gz"

    def put(self, blob: Packed | bytes) -> str:
        """Store the bytes durably (once) and return their SHA-256 in hex."""
        packed = blob if isinstance(blob, Packed) else pack(blob)
        self._write(packed.sha256, packed.data)
        return packed.sha256

    def put_many(self, blobs: Sequence[Packed | Written]) -> list[Exception | None]:
        """Store several blobs durably, side by side (their fsyncs overlap: the file
        system commits them together); each one's error, or None once it is on disk.
        A `Written` blob is only checked to be there."""
        to_write = [b for b in blobs if isinstance(b, Packed)]
        if len(to_write) <= 1:
            return [self._put_or_error(b) for b in blobs]
        with ThreadPoolExecutor(min(len(to_write), WRITERS), thread_name_prefix="blobs") as pool:
            return list(pool.map(self._put_or_error, blobs))

    def _put_or_error(self, blob: Packed | Written) -> Exception | None:
        try:
            if isinstance(blob, Written):
                if not self.exists(blob.sha256):
                    raise BlobError(f"blob {blob.sha256} is missing from {self.root}")
                return None
            self._write(blob.sha256, blob.data)
        except Exception as exc:
            return exc
        return None

    def copy_from(self, other: BlobStore, sha256: str) -> bool:
        """Copy one blob of `other` here as it is stored (no recompression), durably;
        False when it was here already (same name, same bytes)."""
        if self.exists(sha256):
            return False
        try:
            data = other.path(sha256).read_bytes()
        except FileNotFoundError:
            raise BlobError(f"blob {sha256} is missing from {other.root}") from None
        self._write(sha256, data)
        return True

    def _write(self, sha256: str, data: bytes) -> None:
        target = self.path(sha256)
        if target.exists():
            # there already: its time made now, so that `central.blobcheck` never takes a
            # blob a message is about to name again for an old stray one
            try:
                os.utime(target)
                return
            except FileNotFoundError:
                pass  # removed meanwhile: written again below
            except OSError:
                return  # there, only not ours to touch
        folder = target.parent
        if not folder.is_dir():
            self._make_folder(folder)
        tmp = folder / f".{sha256}.{os.getpid()}.{threading.get_ident()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        _fsync_folder(folder)

    def get(self, sha256: str) -> bytes:
        """The stored bytes, checked against their name."""
        path = self.path(sha256)
        try:
            data = gzip.decompress(path.read_bytes())
        except FileNotFoundError:
            raise BlobError(f"blob {sha256} is missing from {self.root}") from None
        except (OSError, EOFError, zlib.error) as exc:
            raise BlobError(f"blob {path} cannot be read: {exc}") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BlobError(f"blob {path} is damaged: its bytes do not match its name")
        return data

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def modified(self, sha256: str) -> float | None:
        """When the blob was last written (or written again), seconds since the epoch;
        None when it is not there."""
        try:
            return self.path(sha256).stat().st_mtime
        except FileNotFoundError:
            return None

    def size(self, sha256: str) -> int:
        """The blob's bytes on disk (compressed)."""
        return self.path(sha256).stat().st_size

    def remove(self, sha256: str) -> bool:
        """Delete one blob durably; False when it was not there. Only for blobs no row
        names (`central.blobcheck`)."""
        path = self.path(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_folder(path.parent)
        return True

    def names(self) -> list[str]:
        """Every stored blob's SHA-256 (for backups and checks)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name[:-3] for p in self.root.glob("??/*.gz"))

    def _make_folder(self, folder: Path) -> None:
        for f in (self.root, folder):
            if not f.is_dir():
                f.mkdir(mode=FOLDER_MODE, exist_ok=True)
                os.chmod(f, FOLDER_MODE)  # mkdir's mode passes through the umask
                _fsync_folder(f.parent)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
