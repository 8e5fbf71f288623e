"""Successful certificate-path and CRL checks, remembered per signer certificate.

Checking that a signer's certificate leads to the network CA and is not revoked costs
more than checking the signature itself (pyhanko-certvalidator builds the path and reads
the CRL for every message), yet a station signs thousands of messages with one
certificate. `PathCache` remembers a *successful* check so that `cms.verify_signed` then
checks only the signature over the content.

What a success depends on is in its key or its window, so that an entry is never used
past what made it true:

- the key: the SHA-256 of the signer's certificate, of the other certificates the message
  carried (the path may go through them), of the trust anchors and of each CRL (a new CRL,
  e.g. after `stax pki revoke`, is a new key; the entries of the old one are dropped);
- the window: the check holds from the latest notBefore/thisUpdate to the earliest
  notAfter/nextUpdate of the path's certificates and the CRLs; a moment outside it (a
  certificate expired, a CRL out of date) is a miss, and the full check says why.

Refusals are never remembered: each refused message is checked in full again.
Not thread-safe: one per process (the intake's checking processes each have theirs).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

Key = tuple[bytes, tuple[bytes, ...], tuple[bytes, ...], tuple[bytes, ...]]


@dataclass(frozen=True)
class Window:
    """The moments [not_before, not_after) at which a remembered check holds."""

    not_before: datetime
    not_after: datetime

    def holds_at(self, moment: datetime) -> bool:
        return self.not_before <= moment < self.not_after


def path_key(signer: bytes, others: list[bytes], roots: list[bytes], crls: list[bytes]) -> Key:
    """The key of a check from the SHA-256 digests of what it used (order-free)."""
    return (signer, tuple(sorted(others)), tuple(sorted(roots)), tuple(sorted(crls)))


class PathCache:
    """Remembered successful path + CRL checks; `hits` and `misses` count lookups."""

    def __init__(self, max_entries: int = 4096):
        self.max_entries = max_entries
        self._entries: OrderedDict[Key, Window] = OrderedDict()
        self._crls: tuple[bytes, ...] | None = None  # the CRLs the entries were made with
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def holds(self, key: Key, moment: datetime) -> bool:
        """True when a success with this key was remembered and holds at `moment`."""
        if key[3] != self._crls:
            self._entries.clear()  # another CRL: nothing checked with the old one counts
            self._crls = key[3]
        window = self._entries.get(key)
        if window is None or not window.holds_at(moment):
            self.misses += 1
            return False
        self._entries.move_to_end(key)
        self.hits += 1
        return True

    def remember(self, key: Key, window: Window) -> None:
        """Remember a successful check (call only after one)."""
        if key[3] != self._crls:
            self._entries.clear()
            self._crls = key[3]
        self._entries[key] = window
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
