"""central/bulkread.py: the collector paused while reading, on again after the last reader."""

from __future__ import annotations

import gc

from central.bulkread import paused_gc


def test_the_collector_is_paused_while_reading_and_on_again_after_the_last_reader():
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():  # a second reader (another thread)
            assert not gc.isenabled()
        assert not gc.isenabled()  # the first still reads
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # off before: left off
    finally:
        gc.enable()
