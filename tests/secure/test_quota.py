"""A quota per TLS identity, tried from outside over mutual TLS: a revoked station cannot
fill the quarantine (429 with Retry-After, nothing kept), a station refused again and
again raises an alert, and the other stations are not held up."""

from __future__ import annotations

import http.client
import logging

import pytest

from .conftest import alert_message, alert_name
from .intake_harness import ThreadedIntake, client_context, free_port, put, write_config


@pytest.fixture
def intake(network, tmp_path):
    config = write_config(
        tmp_path,
        network,
        free_port(),
        max_message_bytes=200_000,
        quota_messages_per_hour=3,
        quota_bytes_per_hour=250_000,
        alert_refusals_per_hour=3,
    )
    server = ThreadedIntake(config).start()
    yield server
    server.stop()


def count(intake, table: str, **where) -> int:
    clause = " and ".join(f"{k} = ?" for k in where) or "1"
    with intake.db() as db:
        return db.execute(f"select count(*) from {table} where {clause}", list(where.values())).fetchone()[0]  # fmt: skip


def test_a_revoked_station_is_held_to_its_quota_and_raises_an_alert(intake, network, caplog):
    revoked, other = network.stations["REV01"], network.stations["AUS02"]
    answers = []
    with caplog.at_level(logging.WARNING, logger="central.intake"):
        for n in range(5):
            name = alert_name("REV01", str(8000 + n))
            body = revoked.seal(alert_message("REV01", str(8000 + n)), network.central.cert)
            answers.append(put(intake.port, network, revoked, name, body))
    assert [code for code, _ in answers] == [403, 403, 403, 429, 429]
    data = answers[3][1]
    assert data["status"] == "too_many" and data["file_name"] == alert_name("REV01", "8003")
    assert "REV01 sent 3 messages" in data["reason"] and "limit is 3 messages" in data["reason"]
    assert count(intake, "quarantine", station="REV01") == 3  # the 429s are not kept
    # one alert for the hour, however many more refusals come
    assert count(intake, "intake_alerts", station="REV01", kind="refusals") == 1
    alerts = [r for r in caplog.records if r.getMessage().startswith("ALERT: REV01 was refused")]
    assert len(alerts) == 1 and alerts[0].levelno == logging.ERROR
    # another station is not held up
    body = other.seal(alert_message("AUS02", "8100"), network.central.cert)
    assert put(intake.port, network, other, alert_name("AUS02", "8100"), body)[0] == 201


def test_the_429_says_when_to_send_again(intake, network):
    station = network.stations["REV01"]
    for n in range(3):
        put(intake.port, network, station, f"X{n}.TXT", b"not a CMS message")
    conn = http.client.HTTPSConnection(
        "127.0.0.1", intake.port, context=client_context(network, station), timeout=30
    )
    conn.request("PUT", "/api/v1/messages/X4.TXT", body=b"x", headers={"Content-Type": "application/pkcs7-mime"})  # fmt: skip
    answer = conn.getresponse()
    assert answer.status == 429
    retry = int(answer.getheader("Retry-After"))
    assert 3500 <= retry <= 3600  # when the oldest of the hour's three ages out
    conn.close()


def test_bytes_count_too(intake, network):
    station = network.stations["BES01"]
    big = b"\x30" * 150_000
    assert put(intake.port, network, station, "B1.TXT", big)[0] == 400  # read, refused, kept
    code, data = put(intake.port, network, station, "B2.TXT", big)
    assert code == 429 and "(150000 bytes) in the last hour" in data["reason"]
    assert count(intake, "quarantine", file_name="B2.TXT") == 0
    assert put(intake.port, network, station, "B3.TXT", b"\x30" * 1000)[0] == 400  # still fits


def test_a_chunked_upload_counts_its_bytes_once_read(intake, network):
    station = network.stations["AUS02"]
    conn = http.client.HTTPSConnection(
        "127.0.0.1", intake.port, context=client_context(network, station), timeout=30
    )
    chunks = iter([b"\x30" * 100_000, b"\x30" * 60_000])  # no Content-Length: chunked
    headers = {"Content-Type": "application/pkcs7-mime"}
    conn.request("PUT", "/api/v1/messages/C1.TXT", body=chunks, headers=headers)
    assert conn.getresponse().status == 400
    conn.close()
    code, data = put(intake.port, network, station, "C2.TXT", b"\x30" * 100_000)
    assert code == 429 and "(160000 bytes)" in data["reason"]
