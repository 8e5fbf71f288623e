"""`stax central blobs`: the blobs no row names, listed, and the old ones removed, on a real
SQLite store; a blob written again is young again, and a row never names a removed blob."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from central.blobcheck import remove_stray, stray_blobs
from central.blobs import BlobError, Written, pack
from central.store import Store
from stax.cli import main
from tests.secure.conftest import make_network
from tests.secure.intake_harness import free_port, write_config

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def add(store: Store, n: int, signed_data=None):
    return store.add_message(
        file_name=f"AUS02_{n}_PHD_2023_11_17T14_15_00.TXT",
        station="AUS02",
        data_type="SAMPLEPHD",
        product="PHD",
        msg_id=str(n),
        content=f"BEGIN IMS2.0\nMSG_ID {n} AUS02\nSTOP\n".encode(),
        start_time="2023-11-17T14:15:00.000Z",
        summary={},
        signed_data=signed_data,
    )


def age(store: Store, sha256: str, when: datetime) -> None:
    """Make a blob look last written at `when`."""
    os.utime(store.blobs.path(sha256), (when.timestamp(), when.timestamp()))


@pytest.fixture
def store(tmp_path):
    """A message (its blob named by its row), a quarantined conflict (its SignedData named
    by the quarantine row) and two blobs no row names, one old and one young; all but the
    young one written two days before NOW."""
    with Store(tmp_path / "data" / "central.sqlite") as store:
        message = store.message(add(store, 1).message_id)
        evidence = pack(b"the SignedData of a conflict")
        store.quarantine(body=b"envelope", reason="conflict", status=409, blob=evidence)
        old, young = store.blobs.put(b"left by a crash"), store.blobs.put(b"row not yet in")
        for name in (message["blob"], evidence.sha256, old):
            age(store, name, NOW - 2 * DAY)
        age(store, young, NOW - timedelta(minutes=5))
        store.names = {"message": message["blob"], "evidence": evidence.sha256}
        store.names |= {"old": old, "young": young}
        yield store


def test_the_stray_blobs_are_listed_and_nothing_changes(store):
    names = store.names
    stray = stray_blobs(store)
    assert {s.sha256 for s in stray} == {names["old"], names["young"]}
    [old] = [s for s in stray if s.sha256 == names["old"]]
    assert (
        old.modified == NOW - 2 * DAY and old.size == store.blobs.path(names["old"]).stat().st_size
    )
    assert len(store.blobs.names()) == 4


def test_only_old_stray_blobs_are_removed(store):
    names = store.names
    removed = remove_stray(store, NOW, DAY)
    assert [s.sha256 for s in removed] == [names["old"]]
    assert not store.blobs.exists(names["old"])
    for kept in ("message", "evidence", "young"):  # named by a row, or too young
        assert store.blobs.exists(names[kept]), kept
    assert store.content(1) is not None
    assert not store.conn.in_transaction  # the write lock is given back
    store.conn.execute("insert into meta (key, value) values ('x', 'y')")  # not locked
    with pytest.raises(ValueError, match="more than zero"):
        remove_stray(store, NOW, timedelta(0))


def test_a_stray_blob_put_again_is_young_again(store):
    old = store.names["old"]
    assert store.blobs.put(b"left by a crash") == old  # the same bytes arrive again
    assert store.blobs.modified(old) > (NOW - DAY).timestamp()
    assert remove_stray(store, datetime.now(UTC), DAY) == []
    assert store.blobs.exists(old)


def test_a_row_never_names_a_blob_removed_before_its_insert(store, monkeypatch):
    # a checking process wrote it (Written) before the removal took it: the message
    # fails and nothing is stored (the intake answers 503, the station sends it again)
    written = Written(store.names["old"])
    store.blobs.remove(written.sha256)
    with pytest.raises(BlobError, match="missing"):
        add(store, 2, written)
    assert store.db["messages"].count == 1
    # packed in this process, taken after it was put: written again before the row
    monkeypatch.setattr(store.blobs, "put_many", lambda blobs: [None] * len(blobs))
    result = add(store, 3)
    assert store.content(result.message_id).startswith(b"BEGIN IMS2.0\nMSG_ID 3")


def test_the_command(store, tmp_path, capsys):
    network = make_network(tmp_path / "pki", ["AUS02"])
    config = str(write_config(tmp_path, network, free_port()))  # its data_dir is "data"
    names = store.names
    assert main(["central", "blobs", "--config", config]) == 0
    out = capsys.readouterr().out
    assert f"stray    {names['old']}" in out and f"stray    {names['young']}" in out
    assert "4 blobs, 2 named by no row, 0 removed" in out
    assert store.blobs.exists(names["old"])
    age(store, names["young"], datetime.now(UTC) - timedelta(hours=2))
    age(store, names["old"], datetime.now(UTC) - 2 * DAY)
    assert main(["central", "blobs", "--config", config, "--remove", "--older-than", "3"]) == 0
    out = capsys.readouterr().out
    assert f"removed  {names['old']}" in out and f"stray    {names['young']}" in out
    assert "3 blobs, 1 named by no row (younger than 3 h: kept), 1 removed" in out
    assert not store.blobs.exists(names["old"])
    assert main(["central", "blobs", "--config", config, "--remove", "--older-than", "0"]) == 2
    assert "--older-than must be more than 0 hours" in capsys.readouterr().err
