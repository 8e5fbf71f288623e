"""How much one TLS identity may send to the intake per hour, and the alert when a station
is refused again and again.

A revoked station still passes TLS (so that its messages are refused with a reason and
kept), which would let it fill the quarantine without end. So every station gets a
quota over a sliding hour: at most `messages_per_hour` requests and `bytes_per_hour`
bytes; a request beyond it is answered 429 with Retry-After (when enough of the hour's
traffic has aged out) and neither read into quarantine nor stored. A real station
catching up after an outage only slows down: it sends again after Retry-After.

Kept in memory by the intake process (one event loop, no locks needed): a restart
starts every count afresh. Time is passed in (seconds).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

WINDOW = 3600.0  # seconds: "per hour"


@dataclass(frozen=True)
class Verdict:
    admitted: bool
    retry_after: int = 0  # seconds, when not admitted
    reason: str = ""


class IntakeQuota:
    """Requests and bytes per identity over the last hour."""

    def __init__(self, messages_per_hour: int, bytes_per_hour: int, window: float = WINDOW):
        self.messages = messages_per_hour
        self.bytes = bytes_per_hour
        self.window = window
        self._sent: dict[str, deque[tuple[float, int]]] = {}
        self._bytes: dict[str, int] = {}

    def _prune(self, identity: str, now: float) -> deque[tuple[float, int]]:
        sent = self._sent.setdefault(identity, deque())
        while sent and sent[0][0] <= now - self.window:
            _, size = sent.popleft()
            self._bytes[identity] -= size
        self._bytes.setdefault(identity, 0)
        return sent

    def admit(self, identity: str, size: int, now: float) -> Verdict:
        """Count a request of `size` bytes, or refuse it (not counted) with when to retry."""
        sent = self._prune(identity, now)
        used = self._bytes[identity]
        if len(sent) + 1 <= self.messages and used + size <= self.bytes:
            sent.append((now, size))
            self._bytes[identity] = used + size
            return Verdict(True)
        # the moment enough of the hour's requests have aged out for this one to fit
        need_count = len(sent) + 1 - self.messages
        need_bytes = used + size - self.bytes
        freed_bytes = 0
        until = now + self.window
        for freed_count, (moment, old_size) in enumerate(sent, start=1):
            freed_bytes += old_size
            if freed_count >= need_count and freed_bytes >= need_bytes:
                until = moment + self.window
                break
        reason = (
            f"{identity} sent {len(sent)} messages ({used} bytes) in the last hour; the limit "
            f"is {self.messages} messages and {self.bytes} bytes per hour ([intake] "
            "quota_messages_per_hour, quota_bytes_per_hour)"
        )
        return Verdict(False, max(1, math.ceil(until - now)), reason)

    def add_bytes(self, identity: str, size: int) -> None:
        """Count `size` more bytes to the identity's latest admitted request (a body whose
        length was not declared before it was read)."""
        sent = self._sent.get(identity)
        if sent:
            moment, old = sent[-1]
            sent[-1] = (moment, old + size)
            self._bytes[identity] += size


class RefusalWatch:
    """Counts refusals per identity over the last hour; says when to raise an alert: when
    the count reaches `threshold`, then at most once an hour while it stays there."""

    def __init__(self, threshold: int, window: float = WINDOW):
        self.threshold = threshold
        self.window = window
        self._times: dict[str, deque[float]] = {}
        self._alerted: dict[str, float] = {}

    def refused(self, identity: str, now: float) -> int | None:
        """Record a refusal; the hour's count when an alert is due, else None."""
        # no more than `threshold` times are kept: enough to tell, bounded however many come
        times = self._times.setdefault(identity, deque(maxlen=self.threshold))
        times.append(now)
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) < self.threshold:
            return None
        last = self._alerted.get(identity)
        if last is not None and now - last < self.window:
            return None
        self._alerted[identity] = now
        return len(times)
