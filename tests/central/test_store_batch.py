"""Group commit: messages added together are stored in one transaction, and each caller
gets its own result or its own error, never another's (central/groupcommit.py,
Store.add_messages)."""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest

import central.store as store_module
from central.blobs import BlobStore
from central.groupcommit import GroupCommit
from central.store import Store, StoreResult
from tests.secure.conftest import alert_message


def soh(n: int, *, station: str = "AUS02") -> dict:
    """add_message's arguments for a small SOH report (its readings become rows too)."""
    msg_id = f"{n:07d}"
    content = (
        f"BEGIN STX1.0\nMSG_TYPE DATA\nMSG_ID {msg_id} {station}\nDATA_TYPE STAXSOH\n"
        f"#Header 3\n{station} NA 2023/11/15 00:00:00 2023/11/15 02:00:00 "
        f"2023/11/15 02:00:00\n#AirSamplerFlow\n3.4000 -9999.999 2023/11/15 00:00:00 900\n"
        "STOP\n"
    ).encode()
    return {
        "file_name": f"{station}_{msg_id}_SOH_2023_11_15T00_00_00.TXT",
        "station": station,
        "data_type": "STAXSOH",
        "product": "SOH",
        "msg_id": msg_id,
        "content": content,
        "start_time": "2023-11-15T00:00:00.000Z",
        "summary": {"n": n},
    }


def alert(n: int) -> dict:
    msg_id = f"{n:07d}"
    return {
        "file_name": f"AUS02_{msg_id}_ALERT_2023_11_15T00_00_00.TXT",
        "station": "AUS02",
        "data_type": "ALERT_SYSTEM",
        "product": "ALERT",
        "msg_id": msg_id,
        "content": alert_message("AUS02", msg_id),
        "start_time": "2023-11-15T00:00:00.000Z",
        "summary": {},
    }


def stored_names(store: Store) -> set[str]:
    return {r[0] for r in store.conn.execute("select file_name from messages")}


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "central.sqlite") as s:
        yield s


def run_concurrently(store: Store, items: list[dict], **options):
    """`items` added at once through a GroupCommit on a database thread, as the intake
    does; each caller's result or exception, and the batches written."""
    calls: list[int] = []

    def write(batch):
        calls.append(len(batch))
        return store.add_messages(batch)

    async def main():
        thread = ThreadPoolExecutor(1)
        loop = asyncio.get_running_loop()
        group = GroupCommit(lambda b: loop.run_in_executor(thread, write, b), **options)
        try:
            return await asyncio.gather(*(group.add(i) for i in items), return_exceptions=True)
        finally:
            thread.shutdown()

    return asyncio.run(main()), calls


def test_concurrent_adds_are_all_stored_in_few_transactions(store):
    items = [soh(n) for n in range(40)]
    results, calls = run_concurrently(store, items, max_items=16)
    assert all(isinstance(r, StoreResult) and r.outcome == "created" for r in results)
    assert stored_names(store) == {i["file_name"] for i in items}
    assert calls == [16, 16, 8]  # three transactions, not forty
    for item, result in zip(items, results, strict=True):  # each caller its own row
        assert store.message(result.message_id)["file_name"] == item["file_name"]
    soh_rows = store.conn.execute("select count(distinct message_id) from soh_values").fetchone()
    assert soh_rows[0] == 40  # the readings of each, in the same transaction


def test_a_lone_message_waits_only_a_few_ms(store):
    results, calls = run_concurrently(store, [alert(1)], max_wait=0.002)
    assert results[0].outcome == "created" and calls == [1]


def test_one_failing_message_is_rolled_back_alone(store, monkeypatch):
    real = store_module.record_soh

    def fails_for_the_third(conn, message_id, content):
        if b"MSG_ID 0000003 " in content:
            raise sqlite3.IntegrityError("simulated failure of message 3")
        return real(conn, message_id, content)

    monkeypatch.setattr(store_module, "record_soh", fails_for_the_third)
    items = [soh(n) for n in range(1, 7)]
    results, calls = run_concurrently(store, items)
    assert calls == [6]
    assert isinstance(results[2], sqlite3.IntegrityError) and "message 3" in str(results[2])
    assert [r.outcome for i, r in enumerate(results) if i != 2] == ["created"] * 5
    names = stored_names(store)
    assert items[2]["file_name"] not in names and len(names) == 5
    # its row and readings went with its savepoint: nothing half-stored
    ids = {r.message_id for i, r in enumerate(results) if i != 2}
    in_soh = {r[0] for r in store.conn.execute("select distinct message_id from soh_values")}
    assert in_soh == ids


def test_a_failed_commit_is_each_callers_error_and_stores_none_of_them(store, monkeypatch):
    first, _ = run_concurrently(store, [alert(n) for n in range(1, 4)])
    assert all(r.outcome == "created" for r in first)

    def crash():
        raise sqlite3.OperationalError("disk I/O error (simulated)")

    monkeypatch.setattr(store, "_commit", crash)
    second = [alert(n) for n in range(4, 8)]
    results, calls = run_concurrently(store, second)
    assert calls == [4]
    assert all(isinstance(r, sqlite3.OperationalError) for r in results)
    assert stored_names(store) == {alert(n)["file_name"] for n in range(1, 4)}  # earlier kept
    assert not store.conn.in_transaction

    monkeypatch.undo()  # the disk is back: the station sends them again
    again, _ = run_concurrently(store, second)
    assert [r.outcome for r in again] == ["created"] * 4
    assert len(stored_names(store)) == 7


def test_a_blob_that_cannot_be_written_fails_only_its_message(store, monkeypatch):
    items = [alert(n) for n in range(1, 5)]
    bad = store._blob_of(items[1]).sha256
    real = BlobStore._write

    def write(self, sha256, data):
        if sha256 == bad:
            raise OSError(28, "No space left on device (simulated)")
        return real(self, sha256, data)

    monkeypatch.setattr(BlobStore, "_write", write)
    results, _ = run_concurrently(store, items)
    assert isinstance(results[1], OSError)
    assert [results[i].outcome for i in (0, 2, 3)] == ["created"] * 3
    assert items[1]["file_name"] not in stored_names(store)
    for i in (0, 2, 3):  # every stored row has its bytes
        assert store.content(results[i].message_id) == items[i]["content"]


def test_duplicates_and_conflicts_within_one_batch(store):
    item = alert(1)
    other = dict(item, content=item["content"] + b"\n")  # same name, other bytes
    results = store.add_messages([item, dict(item), other])
    assert [r.outcome for r in results] == ["created", "duplicate", "conflict"]
    assert results[1].message_id == results[0].message_id
    assert len(stored_names(store)) == 1


def test_add_message_raises_its_own_error(store, monkeypatch):
    monkeypatch.setattr(
        store, "_commit", lambda: (_ for _ in ()).throw(sqlite3.OperationalError("full"))
    )
    with pytest.raises(sqlite3.OperationalError, match="full"):
        store.add_message(**alert(1))
    assert stored_names(store) == set()
