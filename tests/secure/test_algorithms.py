"""Which CMS algorithms the intake accepts, tried from outside: envelopes and signatures
made with the OpenSSL command line and sent over mutual TLS to the running intake. Every
refusal is JSON with the algorithm named, and kept in quarantine; never a 500."""

from __future__ import annotations

import itertools
import subprocess

import pytest

from .conftest import alert_message, alert_name
from .intake_harness import ThreadedIntake, free_port, put, write_config

_ids = itertools.count(7000)


@pytest.fixture(scope="module")
def intake(network, tmp_path_factory):
    server = ThreadedIntake(write_config(tmp_path_factory.mktemp("central"), network, free_port()))
    server.start()
    yield server
    server.stop()


def openssl(*args: str, input: bytes) -> bytes:
    done = subprocess.run(["openssl", *args], input=input, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def seal_with_openssl(station, content: bytes, sign: list[str], encrypt: list[str]) -> bytes:
    f = station.folder
    signed = openssl(
        "cms", "-sign", "-binary", "-nodetach", "-outform", "DER",
        "-signer", str(f / "station.pem"), "-inkey", str(f / "station.key"),
        "-certfile", str(f / "ca.pem"), *sign,
        input=content,
    )  # fmt: skip
    recipient = ["-recip", str(f / "central.pem")]
    return openssl(
        "cms", "-encrypt", "-binary", "-outform", "DER", *recipient, *encrypt, input=signed
    )


def quarantined(intake, name: str) -> list[dict]:
    with intake.db() as db:
        rows = db.execute("select * from quarantine where file_name = ?", [name]).fetchall()
    return [dict(r) for r in rows]


def send(intake, network, sign: list[str], encrypt: list[str]):
    station = network.stations["AUS02"]
    msg_id = str(next(_ids))
    name = alert_name("AUS02", msg_id)
    body = seal_with_openssl(station, alert_message("AUS02", msg_id), sign, encrypt)
    code, data = put(intake.port, network, station, name, body)
    return name, body, code, data


SHA256 = ["-md", "sha256"]


@pytest.mark.parametrize(
    "sign, encrypt",
    [
        (SHA256, ["-aes256"]),  # what stations send
        (SHA256, ["-aes128"]),
        (["-md", "sha512"], ["-aes256"]),
        ([*SHA256, "-keyopt", "rsa_padding_mode:pss"], ["-aes256"]),
    ],
    ids=["aes256", "aes128", "sha512", "rsa-pss"],
)
def test_sound_algorithms_are_accepted(intake, network, sign, encrypt):
    name, _body, code, data = send(intake, network, sign, encrypt)
    assert code == 201, data
    assert not quarantined(intake, name)


@pytest.mark.parametrize(
    "sign, encrypt, status, reason",
    [
        (SHA256, ["-des3"], 400, "envelope encrypted with des-ede3-cbc: only aes-256-cbc or aes-128-cbc accepted"),
        (SHA256, ["-aes192"], 400, "envelope encrypted with aes-192-cbc: only"),
        (SHA256, ["-camellia256"], 400, "envelope encrypted with 1.2.392.200011.61.1.1.1.4"),
        (SHA256, ["-aes256", "-keyopt", "rsa_padding_mode:oaep"], 400,
         "envelope key transported with RSAES-OAEP: only RSA PKCS#1 v1.5"),
        (SHA256, ["-aes-256-gcm"], 400, "not a CMS EnvelopedData but authenticated_enveloped_data"),
        (["-md", "sha1"], ["-aes256"], 403, "signature digest sha1: only SHA-256, SHA-384, SHA-512"),
        (["-md", "md5"], ["-aes256"], 403, "signature digest md5"),
        ([*SHA256, "-noattr"], ["-aes256"], 403, "signature without signed attributes"),
    ],
    ids=["des3", "aes192", "camellia", "oaep", "aes-gcm", "sha1", "md5", "noattr"],
)  # fmt: skip
def test_other_algorithms_are_refused_by_name_and_kept(
    intake, network, sign, encrypt, status, reason
):
    name, body, code, data = send(intake, network, sign, encrypt)
    assert code == status, data
    assert data["status"] == ("unreadable" if status == 400 else "refused")
    assert reason in data["reason"]
    [row] = quarantined(intake, name)
    assert row["status"] == status and row["reason"] == data["reason"]
    assert row["body"] == body and row["station"] == "AUS02"


def test_an_unexpected_fault_in_the_checks_is_a_json_refusal_kept_in_quarantine(
    intake, network, monkeypatch
):
    async def broken(*args, **kwargs):
        raise RuntimeError("a library refused something nobody screened for")

    # the checks run in a pool of processes: break them where the intake awaits them
    monkeypatch.setattr(intake.server.intake._checks, "check", broken)
    name, body, code, data = send(intake, network, SHA256, ["-aes256"])
    assert code == 400, data
    assert data["status"] == "unreadable" and data["file_name"] == name
    assert "RuntimeError: a library refused something nobody screened for" in data["reason"]
    [row] = quarantined(intake, name)
    assert row["body"] == body and row["status"] == 400
