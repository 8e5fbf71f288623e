"""Reading many rows at once without the garbage collector walking the heap meanwhile.

A chart of a station-year reads a few hundred thousand rows; each row is a new tuple,
and every 700 new objects CPython's collector runs, now and then over every object of
the web server (a third of the time of such a read, measured in benchmarks/web_charts.py).
Rows of floats and strings hold no reference cycles, so the collector has nothing to
find in them: `paused_gc()` turns it off around such a read. Process-wide, so counted:
the collector runs again when the last of the threads reading together is done (and only
if it was on before the first began).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_readers = 0
_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    global _readers, _was_enabled
    with _lock:
        if _readers == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _readers += 1
    try:
        yield
    finally:
        with _lock:
            _readers -= 1
            if _readers == 0 and _was_enabled:
                gc.enable()
