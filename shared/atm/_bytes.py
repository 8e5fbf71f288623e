"""What the ATM readers share: gzip detection with a size cap, and errors that name the file."""

from __future__ import annotations

import gzip
import io
import zlib

from shared.formats.errors import FormatError, Problem

# An SRS file is tens of MB as text; a gzip that inflates past this is refused, not read.
MAX_TEXT_BYTES = 1 << 30


def fail(source: str, message: str, line: int | None = None, block: str | None = None):
    """Raise the FormatError of one problem."""
    raise FormatError(Problem(source, line, block, message))


def maybe_gunzip(data: bytes, source: str, limit: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes, inflated when they are gzip (recognised by its magic, not by the name)."""
    if not data.startswith(b"\x1f\x8b"):
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        fail(source, f"not a readable gzip file: {exc}; download it again")
    if len(out) > limit:
        fail(source, f"inflates to more than {limit} bytes: refused")
    return out
