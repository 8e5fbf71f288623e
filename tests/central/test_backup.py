"""`stax central backup`: a copy taken while messages keep arriving, restored elsewhere,
holds every message (its file and its signed data) and every quarantined body."""

from __future__ import annotations

import shutil
import stat
import threading
from pathlib import Path

import pytest

from central.backup import MANIFEST, BackupError, backup
from central.store import Store
from shared.crypto import cms
from stax.cli import main
from tests.secure.conftest import make_network
from tests.secure.intake_harness import free_port, write_config


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    return make_network(tmp_path_factory.mktemp("pki"), ["AUS02"])


def phd(n: int) -> bytes:
    return f"BEGIN IMS2.0\nMSG_ID {n} AUS02\nDATA_TYPE SAMPLEPHD\nspectrum {n}\nSTOP\n".encode()


def add(store: Store, n: int, signed: bytes | None = None) -> None:
    result = store.add_message(
        file_name=f"AUS02_{n}_PHD_2023_11_17T14_15_00.TXT",
        station="AUS02",
        data_type="SAMPLEPHD",
        product="PHD",
        msg_id=str(n),
        content=phd(n),
        start_time="2023-11-17T14:15:00.000Z",
        summary={},
        signed_data=signed,
    )
    assert result.outcome == "created"


def everything(store: Store) -> dict[str, tuple[bytes, bytes | None]]:
    return {
        row["file_name"]: (store.content(row["id"]), store.signed_data(row["id"]))
        for row in store.db.query("select id, file_name from messages")
    }


@pytest.fixture
def data_dir(tmp_path, network) -> Path:
    """A central's data: signed messages, products of its own, a quarantined body."""
    data = tmp_path / "data"
    station = network.stations["AUS02"]
    with Store(data / "central.sqlite") as store:
        for n in range(1, 11):
            envelope = station.seal(phd(n), network.central.cert)
            add(store, n, cms.decrypt(envelope, network.central.cert, network.central.key))
        for n in range(11, 16):
            add(store, n)
        store.quarantine(body=b"\x30\x80 as received", reason="cannot decrypt", status=400)
    return data


def test_a_backup_taken_while_messages_arrive_restores_completely(data_dir, tmp_path):
    with Store(data_dir / "central.sqlite") as store:
        before = everything(store)
    stop = threading.Event()

    def keep_writing() -> None:
        with Store(data_dir / "central.sqlite") as writer:
            n = 100
            while not stop.is_set():
                add(writer, n)
                n += 1

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        report = backup(data_dir / "central.sqlite", tmp_path / "backup")
    finally:
        stop.set()
        thread.join()
    assert report.messages >= len(before) and report.quarantined == 1
    assert (tmp_path / "backup" / MANIFEST).exists()

    restored = tmp_path / "restored"  # as docs say: stop, copy the folder's files back
    shutil.copytree(tmp_path / "backup", restored)
    with Store(restored / "central.sqlite") as store:
        after = everything(store)
        assert len(after) == report.messages
        for name, (content, signed) in before.items():
            assert after[name] == (content, signed), name
        for content, signed in after.values():  # also those written during the backup
            assert signed is None or cms.signed_content(signed) == content
        [q] = list(store.db.query("select body, reason from quarantine"))
        assert q == {"body": b"\x30\x80 as received", "reason": "cannot decrypt"}
    for path in [tmp_path / "backup", *(tmp_path / "backup").rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, path  # nothing readable by others


def test_a_second_backup_into_the_folder_copies_only_new_blobs(data_dir, tmp_path):
    first = backup(data_dir / "central.sqlite", tmp_path / "backup")
    assert first.blobs == first.blobs_copied == 15
    with Store(data_dir / "central.sqlite") as store:
        add(store, 50)
    second = backup(data_dir / "central.sqlite", tmp_path / "backup")
    assert (second.blobs, second.blobs_copied) == (16, 1)


def test_a_missing_blob_makes_the_backup_fail_loudly(data_dir, tmp_path):
    victim = next((data_dir / "blobs").rglob("*.gz"))
    victim.unlink()
    with pytest.raises(BackupError, match=f"incomplete: blob {victim.name[:-3]} is missing"):
        backup(data_dir / "central.sqlite", tmp_path / "backup")


def test_the_command(data_dir, tmp_path, network, capsys):
    config = write_config(tmp_path, network, free_port())  # its data_dir is "data"
    code = main(["central", "backup", "--config", str(config), "--out", str(tmp_path / "b")])
    assert code == 0
    out = capsys.readouterr().out
    assert "15 messages, 1 quarantined" in out and "15 blobs (15 copied" in out
    code = main(["central", "backup", "--config", str(config), "--out", "/proc/no/such"])
    assert code == 2
    assert "--out /proc/no/such: cannot create the folder" in capsys.readouterr().err
