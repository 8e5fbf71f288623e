"""The checking process's own work (central/checking.py), run in this process: it writes
the SignedData's blob and sends back only its name; a disk that fails is a 503 (send
again later), never a verdict on the message."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

import central.checking as checking
from central.blobs import BlobStore, Written
from central.config import IntakeConfig
from central.store import Store

from .conftest import alert_message, alert_name

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def worker(network, tmp_path, monkeypatch):
    """This process set up as a checking process writing to tmp_path/blobs."""
    ca = network.ca
    config = IntakeConfig(
        server_cert=ca.central_cert_path,
        server_key=ca.central_key_path,
        ca_cert=ca.ca_cert_path,
        crl=ca.crl_path,
    )
    monkeypatch.setattr(checking, "_trust", None)
    monkeypatch.setattr(checking, "_blobs", None)
    checking._start_worker(config, tmp_path / "blobs")
    return tmp_path / "blobs"


def check(network, msg_id: str):
    body = network.stations["AUS02"].seal(alert_message("AUS02", msg_id), network.central.cert)
    return checking._check(body, alert_name("AUS02", msg_id), "AUS02", datetime.now(UTC))


def test_the_blob_is_written_and_only_its_name_comes_back(network, worker, tmp_path):
    kind, accepted, blob = check(network, "2001")
    assert kind == "accepted" and isinstance(blob, Written)
    assert accepted.signed_data is None  # the SignedData does not cross the pipe
    stored = BlobStore(worker).path(blob.sha256)
    assert stored.exists()
    with Store(tmp_path / "central.sqlite") as store:  # the row points to it
        fields = {k: getattr(accepted, k) for k in ("file_name", "station", "data_type")}
        result = store.add_message(
            **fields,
            product=accepted.product,
            msg_id=accepted.msg_id,
            content=accepted.content,
            start_time=accepted.start_time,
            summary=accepted.summary,
            signed_data=blob,
        )
        assert store.content(result.message_id) == accepted.content
        assert store.signed_data(result.message_id) == gzip.decompress(stored.read_bytes())


def test_a_disk_that_fails_asks_the_station_to_send_again(network, worker, monkeypatch):
    def full(self, sha256, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(BlobStore, "_write", full)
    result = check(network, "2002")
    assert result[:3] == ("refused", 503, "unavailable")
    assert "send again later" in result[3]


def test_a_missing_written_blob_is_that_messages_error(tmp_path):
    with Store(tmp_path / "central.sqlite") as store:
        results = store.add_messages(
            [
                {
                    "file_name": alert_name("AUS02", "2003"),
                    "station": "AUS02",
                    "data_type": "ALERT_SYSTEM",
                    "product": "ALERT",
                    "msg_id": "2003",
                    "content": alert_message("AUS02", "2003"),
                    "start_time": None,
                    "summary": {},
                    "signed_data": Written("ab" * 32),
                }
            ]
        )
        assert "missing" in str(results[0])
        assert store.conn.execute("select count(*) from messages").fetchone()[0] == 0


def test_the_summary_leaves_the_counts_out_as_before():
    # the summary skips the counts while converting: the same JSON as converting all of
    # them and dropping them after
    from central.verify import _without_counts, summary
    from shared.formats import read_message
    from shared.formats.jsonview import message_view
    from tests.conftest import PHD_FIXTURES

    files = sorted(PHD_FIXTURES.glob("*.PHD")) + sorted(DATA.glob("*.TXT"))
    assert len(files) >= 3
    for path in files:
        message = read_message(path.read_bytes(), source=path.name, lenient=True)
        expected = _without_counts(message_view(message))
        assert summary(message) == expected, path.name
        assert "counts" not in str(expected.keys())
