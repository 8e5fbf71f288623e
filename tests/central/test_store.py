"""Lean storage: a message's bytes in the blob store, once, compressed, read back exactly;
rows of a schema-1 database still read; damage found, not passed on."""

from __future__ import annotations

import gzip
import hashlib
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from central.blobs import BlobError, BlobStore
from central.store import Store, StoredFileError, pack_signed
from shared.crypto import cms
from tests.secure.conftest import make_network

DATA = Path(__file__).resolve().parents[1] / "data"
PHD = DATA / "AUS02_856022299609035337_PHD_2023_11_17T14_15_00.TXT"


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    return make_network(tmp_path_factory.mktemp("pki"), ["AUS02"])


@pytest.fixture(scope="module")
def signed(network) -> tuple[bytes, bytes]:
    """The fixture PHD and the SignedData AUS02 makes of it (what the intake decrypts)."""
    content = PHD.read_bytes()
    station = network.stations["AUS02"]
    envelope = station.seal(content, network.central.cert)
    return content, cms.decrypt(envelope, network.central.cert, network.central.key)


def add(store: Store, content: bytes, signed_data=None, name: str = PHD.name, msg_id="1"):
    return store.add_message(
        file_name=name,
        station="AUS02",
        data_type="SAMPLEPHD",
        product="PHD",
        msg_id=msg_id,
        content=content,
        start_time="2023-11-17T14:15:00.000Z",
        summary={},
        signed_data=signed_data,
    )


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_the_signed_data_is_kept_compressed_and_the_file_read_out_of_it(tmp_path, signed):
    content, signed_data = signed
    with Store(tmp_path / "central.sqlite") as store:
        result = add(store, content, signed_data)
        assert result.outcome == "created"
        row = store.message(result.message_id)
        assert row["content"] is None and row["envelope"] is None  # not in the database
        assert row["blob_kind"] == "cms"
        assert row["blob"] == hashlib.sha256(signed_data).hexdigest()
        assert store.content(result.message_id) == content
        assert store.signed_data(result.message_id) == signed_data
    [blob] = stored_files(tmp_path / "blobs")
    assert gzip.decompress(blob.read_bytes()) == signed_data
    assert blob.stat().st_size < len(content) / 5  # compressed, not the plain file


def test_openssl_verifies_the_kept_signed_data(tmp_path, signed, network):
    # the proof stays checkable by an independent tool, from the blob alone
    content, signed_data = signed
    with Store(tmp_path / "central.sqlite") as store:
        add(store, content, signed_data)
    [blob] = stored_files(tmp_path / "blobs")
    der = tmp_path / "signed.der"
    der.write_bytes(gzip.decompress(blob.read_bytes()))
    out = tmp_path / "file.txt"
    subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", der, "-out", out,
         "-CAfile", network.ca.ca_cert_path, "-purpose", "any"],
        check=True, capture_output=True,
    )  # fmt: skip
    assert out.read_bytes() == content


def test_a_product_of_the_central_keeps_its_file(tmp_path):
    content = b"Station,Time\n"
    with Store(tmp_path / "central.sqlite") as store:
        result = add(store, content)
        row = store.message(result.message_id)
        assert row["blob_kind"] == "file" and row["blob"] == hashlib.sha256(content).hexdigest()
        assert store.content(result.message_id) == content
        assert store.signed_data(result.message_id) is None


def test_folders_and_files_are_private(tmp_path, signed):
    with Store(tmp_path / "central.sqlite") as store:
        add(store, *signed)
    root = tmp_path / "blobs"
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_a_duplicate_writes_nothing_and_a_conflict_nothing_either(tmp_path, signed):
    content, signed_data = signed
    with Store(tmp_path / "central.sqlite") as store:
        first = add(store, content, signed_data)
        assert add(store, content, signed_data).outcome == "duplicate"
        assert add(store, content + b"\n", pack_signed(signed_data, content, "x")).outcome == (
            "conflict"
        )
        assert store.content(first.message_id) == content
    assert len(stored_files(tmp_path / "blobs")) == 1


def test_signed_data_of_another_file_is_refused_before_anything_is_written(tmp_path, signed):
    content, signed_data = signed
    with Store(tmp_path / "central.sqlite") as store:
        with pytest.raises(ValueError, match="does not embed this file"):
            add(store, content.replace(b"AUS02_001", b"AUS02_002"), signed_data)
        with pytest.raises(ValueError, match="signed data cannot be read"):
            add(store, content, b"not DER")
        assert store.db["messages"].count == 0
    assert stored_files(tmp_path / "blobs") == []


def test_a_damaged_or_missing_blob_is_an_error_not_other_bytes(tmp_path, signed):
    content, signed_data = signed
    with Store(tmp_path / "central.sqlite") as store:
        message_id = add(store, content, signed_data).message_id
        [blob] = stored_files(tmp_path / "blobs")
        data = bytearray(gzip.decompress(blob.read_bytes()))
        data[data.index(b"AUS02_001")] ^= 1  # one bit of the file inside the SignedData
        blob.write_bytes(gzip.compress(bytes(data)))
        with pytest.raises(StoredFileError, match="do not match its name"):
            store.content(message_id)
        blob.unlink()
        with pytest.raises(StoredFileError, match="missing"):
            store.content(message_id)
    with pytest.raises(BlobError, match="not a SHA-256"):
        BlobStore(tmp_path).get("../../etc/passwd")


def test_a_schema_1_database_is_upgraded_and_its_rows_still_read(tmp_path, signed):
    content, _ = signed
    path = tmp_path / "central.sqlite"
    with Store(path) as store:  # make the tables, then turn them back into schema 1
        pass
    conn = sqlite3.connect(path)
    conn.executescript(
        "drop view comparison_view; drop table comparisons; drop table comparison_runs; "
        "drop table station_results; drop table analyses; drop table messages; "
        "update meta set value = '1' where key = 'schema_version';"
        "create table messages (id integer primary key, file_name text not null, "
        "station text not null, data_type text not null, product text not null, "
        "analysis text, msg_id text not null, sha256 text not null, size integer, "
        "start_time text, received_at text not null, signer text, summary text, "
        "content blob, envelope blob);"
    )
    conn.execute(
        "insert into messages (file_name, station, data_type, product, analysis, msg_id, "
        "sha256, size, start_time, received_at, summary, content, envelope) "
        "values ('old.PHD', 'AUS02', 'SAMPLEPHD', 'PHD', 'STATION', '7', ?, ?, "
        "'2023-11-17T14:15:00.000Z', '2023-11-17T14:40:00.000Z', '{}', ?, x'3082')",
        [hashlib.sha256(content).hexdigest(), len(content), content],
    )
    conn.commit()
    conn.close()
    with Store(path) as store:
        assert store.db["meta"].get("schema_version")["value"] == "2"
        [old] = list(store.db.query("select id from messages"))
        assert store.content(old["id"]) == content
        assert store.signed_data(old["id"]) is None  # its proof is the envelope column
        assert store.message(old["id"])["envelope"] == b"\x30\x82"
        new = add(store, b"new file", name="new.PHD", msg_id="8")
        assert store.content(new.message_id) == b"new file"
        indexes = {tuple(i.columns) for i in store.db["messages"].indexes}
        assert ("start_time",) in indexes and ("received_at",) not in indexes
        # the Received page's newest-first list walks one index that holds all it shows
        [plan] = [
            r[3]
            for r in store.conn.execute(
                "explain query plan select id, station, file_name, product, msg_id, "
                "analysis, start_time, received_at from messages "
                "order by received_at desc, id desc limit 25"
            )
        ]
        assert plan == "SCAN messages USING COVERING INDEX messages_received_list"


def test_a_quarantined_conflict_names_its_signed_data_also_in_an_older_database(tmp_path, signed):
    content, signed_data = signed
    path = tmp_path / "central.sqlite"
    with Store(path):
        pass
    conn = sqlite3.connect(path)  # a database from before quarantine.blob
    conn.execute("alter table quarantine drop column blob")
    conn.close()
    with Store(path) as store:
        assert "blob" in store.db["quarantine"].columns_dict
        packed = pack_signed(signed_data, content, PHD.name)
        row_id = store.quarantine(body=b"envelope", reason="conflict", status=409, blob=packed)
        assert store.db["quarantine"].get(row_id)["blob"] == packed.sha256
        assert store.blobs.get(packed.sha256) == signed_data  # written before the row
        assert store.referenced_blobs() == {packed.sha256}


def test_the_users_sort_by_created_at_walks_an_index_also_in_an_older_database(tmp_path):
    path = tmp_path / "central.sqlite"
    query = (
        "explain query plan select id, username from users "
        "order by created_at desc, id desc limit 25 offset 0"
    )
    with Store(path) as store:  # made fresh
        assert ("created_at",) in {tuple(i.columns) for i in store.db["users"].indexes}
        [plan] = [r[3] for r in store.conn.execute(query)]
        assert plan == "SCAN users USING INDEX idx_users_created_at"
    conn = sqlite3.connect(path)  # a database from before the index
    conn.execute("drop index idx_users_created_at")
    conn.close()
    with Store(path) as store:
        assert ("created_at",) in {tuple(i.columns) for i in store.db["users"].indexes}
