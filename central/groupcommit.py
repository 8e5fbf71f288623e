"""Group commit: messages that arrive together are stored in one transaction.

Every commit of the central database is an fsync (synchronous=FULL), and so are the
blobs. One message per transaction makes the disk, not the CPU, the intake's limit;
`GroupCommit` hands the messages waiting at a moment to `Store.add_messages` together,
and answers each caller with its own result or its own error only once that batch has
returned (the commit made, so the message durable).

Latency stays bounded: a batch is written as soon as `max_items` wait, else `max_wait`
seconds after its first message arrived; the messages that arrive while one batch is
being written make the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

MAX_ITEMS = 32
MAX_WAIT = 0.002  # seconds a lone message waits for company


class GroupCommit(Generic[Item, Result]):
    """`await add(item)`: the item's result from `write(batch)`, which returns, in
    order, each item's result or its exception (raised here to that item's caller)."""

    def __init__(
        self,
        write: Callable[[list[Item]], Awaitable[Sequence[Result | BaseException]]],
        *,
        max_items: int = MAX_ITEMS,
        max_wait: float = MAX_WAIT,
    ):
        self.write = write
        self.max_items = max_items
        self.max_wait = max_wait
        self._pending: list[tuple[Item, asyncio.Future]] = []
        self._full = asyncio.Event()
        self._writer: asyncio.Task | None = None
        self.batches = 0  # batches written (for tests and figures)

    async def add(self, item: Item) -> Result:
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if len(self._pending) >= self.max_items:
            self._full.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        # shielded: a caller that goes away does not take the others' batch with it
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        while self._pending:
            if len(self._pending) < self.max_items and self.max_wait > 0:
                self._full.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self.max_wait)
            batch = self._pending[: self.max_items]
            del self._pending[: self.max_items]
            self.batches += 1
            try:
                results: Sequence[Any] = await self.write([item for item, _ in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"{len(results)} results for {len(batch)} messages")
            except Exception as exc:  # the whole batch failed: each caller is told
                results = [exc] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
