"""The HTTPS intake over real TLS on 127.0.0.1: every answer, and every refusal in
quarantine with its bytes and reason."""

from __future__ import annotations

import hashlib
import json
import ssl
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7

from central.store import Store
from shared.crypto import cms

from .conftest import _station, alert_message, alert_name, phd_message, phd_name
from .intake_harness import ThreadedIntake, client_context, free_port, put, request, write_config

LIMIT = 400_000  # bytes: a beta-gamma PHD file (about 145 kB sealed) fits, 500 kB does not


@pytest.fixture(scope="module")
def intake(network, tmp_path_factory):
    config = write_config(
        tmp_path_factory.mktemp("central"), network, free_port(), max_message_bytes=LIMIT
    )
    server = ThreadedIntake(config).start()
    yield server
    server.stop()


def quarantined(intake, file_name: str) -> list[dict]:
    with intake.db() as db:
        rows = db.execute(
            "select * from quarantine where file_name = ? order by id", [file_name]
        ).fetchall()
    return [dict(r) for r in rows]


def messages(intake, **where) -> list[dict]:
    clause = " and ".join(f"{k} = ?" for k in where)
    with intake.db() as db:
        rows = db.execute(f"select * from messages where {clause}", list(where.values()))
        rows = [dict(r) for r in rows.fetchall()]
    with Store(intake.config.storage.database_path) as store:  # the bytes live in blobs
        return [
            {**r, "content": store.content(r["id"]), "signed_data": store.signed_data(r["id"])}
            for r in rows
        ]


def assert_refused(intake, answer, status: int, word: str, reason: str, name: str, body: bytes):
    code, data = answer
    assert code == status, data
    assert data["status"] == word and data["file_name"] == name
    assert reason in data["reason"]
    rows = quarantined(intake, name)
    assert rows, "not quarantined"
    row = rows[-1]
    assert row["status"] == status and row["reason"] == data["reason"]
    assert row["body"] == body and row["size"] == len(body)
    assert not messages(intake, file_name=name)
    return row


def test_health(intake, network):
    code, data = request(
        intake.port, client_context(network, network.stations["AUS02"]), "GET", "/api/v1/health"
    )
    assert code == 200 and data["status"] == "ok" and data["problems"] == []
    assert datetime.fromisoformat(data["crl_next_update"]) > datetime.now(UTC)


def test_a_signed_phd_file_is_stored(intake, network):
    station = network.stations["AUS02"]
    content = phd_message("AUS02", "1001")
    body = station.seal(content, network.central.cert)
    code, data = put(intake.port, network, station, phd_name("AUS02", "1001"), body)
    assert code == 201, data
    assert data["status"] == "created" and data["file_name"] == phd_name("AUS02", "1001")

    [row] = messages(intake, station="AUS02", msg_id="1001")
    assert row["file_name"] == phd_name("AUS02", "1001")
    assert (row["data_type"], row["product"], row["analysis"]) == ("SAMPLEPHD", "PHD", "STATION")
    assert row["content"] == content and row["envelope"] is None  # the SignedData is kept
    assert row["signed_data"] == cms.decrypt(body, network.central.cert, network.central.key)
    assert row["start_time"] == "2021-12-02T17:00:54.400Z"  # the acquisition start
    assert row["signer"].startswith("CN=AUS02,O=Facility of AUS02 serial ")
    summary = json.loads(row["summary"])
    assert summary["header"]["station"] == "AUS02"
    assert summary["g_spectrum"] == {"channels": 256, "energy_span": 720.0, "first_channel": 0}
    assert "counts" not in json.dumps(summary)


def test_soh_and_alert_start_times(intake, network):
    station = network.stations["BES01"]
    soh = (
        b"BEGIN STX1.0\nMSG_TYPE DATA\nMSG_ID 053789 BES01\nDATA_TYPE STAXSOH\n#Header 3\n"
        b"BES01 NA 2023/04/22 20:00:00 2023/04/22 22:00:00 2023/04/22 22:30:36\n"
        b"#AirSamplerFlow\n3.4000 -9999.999 2023/04/22 20:00:00 900\nSTOP\n"
    )
    name = "BES01_053789_SOH_2023_04_22T20_00_00.TXT"
    assert (
        put(intake.port, network, station, name, station.seal(soh, network.central.cert))[0] == 201
    )
    [row] = messages(intake, file_name=name)
    assert (row["product"], row["start_time"]) == ("SOH", "2023-04-22T20:00:00.000Z")

    name = alert_name("BES01", "2001")
    body = station.seal(alert_message("BES01", "2001"), network.central.cert)
    assert put(intake.port, network, station, name, body)[0] == 201
    [row] = messages(intake, file_name=name)
    assert (row["data_type"], row["product"]) == ("ALERT_SYSTEM", "ALERT")
    assert row["start_time"] == "2023-11-20T17:34:02.000Z"


def test_the_same_file_again_is_a_duplicate_stored_once(intake, network):
    station = network.stations["AUS02"]
    content = alert_message("AUS02", "1002")
    name = alert_name("AUS02", "1002")
    assert (
        put(intake.port, network, station, name, station.seal(content, network.central.cert))[0]
        == 201
    )
    # sealed again: another envelope (new session key), the same file
    code, data = put(
        intake.port, network, station, name, station.seal(content, network.central.cert)
    )
    assert code == 200 and data["status"] == "duplicate"
    assert len(messages(intake, station="AUS02", msg_id="1002")) == 1
    assert quarantined(intake, name) == []


def test_other_content_under_a_stored_name_is_a_conflict(intake, network):
    station = network.stations["AUS02"]
    name = alert_name("AUS02", "1003")
    first = alert_message("AUS02", "1003", text="UPS on battery")
    assert (
        put(intake.port, network, station, name, station.seal(first, network.central.cert))[0]
        == 201
    )
    body = station.seal(alert_message("AUS02", "1003", text="UPS on mains"), network.central.cert)
    code, data = put(intake.port, network, station, name, body)
    assert code == 409 and data["status"] == "conflict"
    assert "already stored with other content" in data["reason"]
    [row] = quarantined(intake, name)
    assert row["status"] == 409 and row["body"] == body and row["station"] == "AUS02"
    [stored] = messages(intake, file_name=name)
    assert stored["content"] == first
    # the checking process wrote the conflict's SignedData before the conflict was found:
    # it is kept as the evidence of what the station signed, named by the quarantine row
    # (a blob no row refers to would be left otherwise)
    signed = cms.decrypt(body, network.central.cert, network.central.key)
    with Store(intake.config.storage.database_path) as store:
        assert row["blob"] == hashlib.sha256(signed).hexdigest()
        assert store.blobs.get(row["blob"]) == signed
        assert row["blob"] in store.referenced_blobs()  # so backups copy it


def test_damaged_ciphertext_is_unreadable(intake, network):
    station = network.stations["AUS02"]
    body = bytearray(station.seal(alert_message("AUS02", "1004"), network.central.cert))
    body[-1] ^= 0xFF
    name = alert_name("AUS02", "1004")
    row = assert_refused(
        intake, put(intake.port, network, station, name, bytes(body)), 400, "unreadable",
        "cannot decrypt", name, bytes(body),
    )  # fmt: skip
    assert row["station"] == "AUS02"  # known from TLS
    assert row["peer"].startswith("127.0.0.1 (TLS AUS02)")


def test_changed_content_is_refused(intake, network):
    station = network.stations["AUS02"]
    content = alert_message("AUS02", "1005", text="flow low")
    signed = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(content)
        .add_signer(station.cert, station.key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
    assert signed.count(b"flow low") == 1
    forged = signed.replace(b"flow low", b"flow 0k!")
    body = (
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(forged)
        .add_recipient(network.central.cert)
        .set_content_encryption_algorithm(algorithms.AES256)
        .encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
    name = alert_name("AUS02", "1005")
    assert_refused(
        intake, put(intake.port, network, station, name, body), 403, "refused",
        "signature does not match content", name, body,
    )  # fmt: skip


def test_signed_by_another_ca_is_refused(intake, network, rogue):
    # over a genuine station's TLS connection (a rogue certificate fails the handshake)
    impostor = rogue.stations["AUS02"]
    body = impostor.seal(alert_message("AUS02", "1006"), network.central.cert)
    name = alert_name("AUS02", "1006")
    assert_refused(
        intake, put(intake.port, network, network.stations["AUS02"], name, body), 403, "refused",
        "certificate not issued by the network CA", name, body,
    )  # fmt: skip


def test_revoked_station_is_refused_and_quarantined(intake, network):
    station = network.stations["REV01"]
    body = station.seal(alert_message("REV01", "1007"), network.central.cert)
    name = alert_name("REV01", "1007")
    row = assert_refused(
        intake, put(intake.port, network, station, name, body), 403, "refused",
        "certificate revoked on", name, body,
    )  # fmt: skip
    assert row["station"] == "REV01"


def test_one_station_cannot_send_for_another(intake, network):
    aus, bes = network.stations["AUS02"], network.stations["BES01"]
    content = alert_message("BES01", "1008")
    name = alert_name("BES01", "1008")
    body = aus.seal(content, network.central.cert)
    assert_refused(
        intake, put(intake.port, network, aus, name, body), 403, "refused",
        "signed by AUS02 but the file is from BES01", name, body,
    )  # fmt: skip
    # nor pass another station's signed file over its own connection
    body = bes.seal(content, network.central.cert)
    assert_refused(
        intake, put(intake.port, network, aus, name, body), 403, "refused",
        "sent over the TLS connection of AUS02 but signed by BES01", name, body,
    )  # fmt: skip
    assert len(quarantined(intake, name)) == 2


def test_unreadable_phd_says_file_and_line(intake, network):
    station = network.stations["AUS02"]
    lines = phd_message("AUS02", "1009").split(b"\n")
    at = lines.index(b"#g_Spectrum") + 2
    lines[at] = b"x12" + lines[at][1:]
    body = station.seal(b"\n".join(lines), network.central.cert)
    name = phd_name("AUS02", "1009")
    assert_refused(
        intake, put(intake.port, network, station, name, body), 400, "unreadable",
        f"{name}:{at + 1}: #g_Spectrum: channel number: not an integer", name, body,
    )  # fmt: skip


@pytest.mark.parametrize(
    "name, reason",
    [
        ("report.txt", "not a product file name: 'report.txt': expected 8 parts"),
        ("BES01_1010_ALERT_2023_11_20T17_34_02.TXT", "names station BES01"),
        ("AUS02_9999_ALERT_2023_11_20T17_34_02.TXT", "names MSG_ID 9999"),
        ("AUS02_1010_SOH_2023_11_20T17_34_02.TXT", "names type SOH"),
        ("AUS02_1010_ALERT_2023_13_20T17_34_02.TXT", "not a valid date and time"),
        ("AUS02_1010_ATS_2023_11_20T17_34_02.AS", "an .AS file is the central's own"),
        ("AUS02_1010_CSV_2023_11_20T00_00_00.CSV", "stations send PHD, SOH, ALERT and ATS .TXT"),
    ],
)
def test_file_name_must_fit_the_file(intake, network, name, reason):
    station = network.stations["AUS02"]
    body = station.seal(alert_message("AUS02", "1010"), network.central.cert)
    assert_refused(
        intake,
        put(intake.port, network, station, name, body),
        400,
        "unreadable",
        reason,
        name,
        body,
    )


def test_too_large_is_refused_unread(intake, network):
    station = network.stations["AUS02"]
    name = alert_name("AUS02", "1011")
    code, data = put(intake.port, network, station, name, b"\x30" * (LIMIT + 1))
    assert code == 413 and data["status"] == "too_large"
    assert f"larger than the limit of {LIMIT} bytes" in data["reason"]
    [row] = quarantined(intake, name)
    assert row["status"] == 413 and row["size"] == 0 and row["reason"] == data["reason"]


def test_wrong_content_type(intake, network):
    station = network.stations["AUS02"]
    body = station.seal(alert_message("AUS02", "1012"), network.central.cert)
    name = alert_name("AUS02", "1012")
    assert_refused(
        intake, put(intake.port, network, station, name, body, content_type="text/plain"), 415,
        "unsupported_media_type", "send application/pkcs7-mime", name, body,
    )  # fmt: skip


def test_without_a_client_certificate_the_handshake_fails(intake, network):
    with pytest.raises((ssl.SSLError, ConnectionError)):
        request(intake.port, client_context(network, None), "GET", "/api/v1/health")


def test_a_rogue_client_certificate_fails_the_handshake(intake, network, rogue):
    context = client_context(network, rogue.stations["AUS02"])
    with pytest.raises((ssl.SSLError, ConnectionError)):
        request(intake.port, context, "GET", "/api/v1/health")


def test_revocation_takes_effect_without_a_restart(intake, network):
    now = datetime.now(UTC)
    network.ca.issue_station("TMP01", now=now)
    station = _station(network.ca, "TMP01")
    name = alert_name("TMP01", "1")
    body = station.seal(alert_message("TMP01", "1"), network.central.cert)
    assert put(intake.port, network, station, name, body)[0] == 201

    network.ca.revoke("TMP01", now=now)
    name = alert_name("TMP01", "2")
    body = station.seal(alert_message("TMP01", "2"), network.central.cert)
    assert_refused(
        intake, put(intake.port, network, station, name, body), 403, "refused",
        "certificate revoked on", name, body,
    )  # fmt: skip


def test_the_stored_signed_data_proves_the_file(intake, network):
    # the kept SignedData is the station's signature over the file: checkable again by hand
    [row] = messages(intake, file_name=phd_name("AUS02", "1001"))
    verified = cms.verify_signed(row["signed_data"], [network.ca_cert], [network.crl()])
    assert verified.content == row["content"]


def test_a_database_failure_asks_the_station_to_send_again(network, tmp_path):
    server = ThreadedIntake(write_config(tmp_path, network, free_port())).start()
    try:
        server.server.intake.store.conn.close()  # every later use raises sqlite3.Error
        station = network.stations["AUS02"]
        body = station.seal(alert_message("AUS02", "1013"), network.central.cert)
        code, data = put(server.port, network, station, alert_name("AUS02", "1013"), body)
        assert code == 503 and data["status"] == "unavailable"
        assert "send again later" in data["reason"]
    finally:
        server.stop()


def test_an_out_of_date_crl_means_send_again_later(network, tmp_path):
    later = network.crl().next_update_utc + timedelta(days=1)
    server = ThreadedIntake(write_config(tmp_path, network, free_port()), clock=lambda: later)
    server.start()
    try:
        station = network.stations["AUS02"]
        name = alert_name("AUS02", "1014")
        body = station.seal(alert_message("AUS02", "1014"), network.central.cert)
        code, data = put(server.port, network, station, name, body)
        assert code == 503 and data["status"] == "unavailable"
        assert "stax pki crl" in data["reason"]
        assert quarantined(server, name) == []  # not a verdict on the message: not kept
        code, health = request(
            server.port, client_context(network, station), "GET", "/api/v1/health"
        )
        assert code == 503 and "the CRL ran out" in health["problems"][0]
    finally:
        server.stop()
