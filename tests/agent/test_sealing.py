"""Sealing: what the agent sends is signed by the station and encrypted to the central,
as the wire contract says; checked with the project's verifier and with OpenSSL."""

import subprocess
from datetime import UTC, datetime

import pytest

from edge_agent.sealing import Sealer, SealingError
from shared.crypto import cms, files

CONTENT = b"BEGIN STX1.0\nMSG_TYPE DATA\nMSG_ID 1 AUS02\n\r\x00 binary-safe\nSTOP\n"


def sealer_for(pki, station="AUS02", key=None):
    return Sealer(
        station, pki.station_cert, key or pki.station_key, None, pki.server_cert, ca_cert=pki.ca
    )


def test_sealed_files_decrypt_and_verify_to_the_exact_bytes(pki):
    der = sealer_for(pki)(CONTENT)
    central_cert = files.load_certificate(pki.server_cert)
    signed = cms.decrypt(der, central_cert, files.load_private_key(pki.server_key))
    verified = cms.verify_signed(
        signed, [files.load_certificate(pki.ca)], [files.load_crl(pki.network.crl_path)],
        datetime.now(UTC),
    )  # fmt: skip
    assert verified.content == CONTENT
    assert verified.signer == files.load_certificate(pki.station_cert)


def test_openssl_decrypts_and_verifies_what_the_agent_sends(pki, tmp_path):
    (tmp_path / "msg.der").write_bytes(sealer_for(pki)(CONTENT))
    decrypt = subprocess.run(
        ["openssl", "cms", "-decrypt", "-binary", "-inform", "DER", "-in", tmp_path / "msg.der",
         "-recip", pki.server_cert, "-inkey", pki.server_key, "-outform", "DER"],
        capture_output=True, check=True,
    )  # fmt: skip
    verify = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-CAfile", pki.ca,
         "-no-CApath", "-no-CAstore"],
        input=decrypt.stdout, capture_output=True,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stderr.decode()
    assert verify.stdout == CONTENT


def test_another_stations_certificate_is_refused_at_start(pki):
    with pytest.raises(SealingError, match="belongs to 'AUS02', not to station 'BES01'"):
        sealer_for(pki, station="BES01")


def test_a_key_that_does_not_match_is_refused_at_start(pki):
    with pytest.raises(SealingError, match=r"\[identity\] key .*does not belong"):
        sealer_for(pki, key=pki.server_key)


def test_missing_files_are_named(pki, tmp_path):
    with pytest.raises(SealingError, match=r"nothing\.pem: cannot read"):
        Sealer("AUS02", tmp_path / "nothing.pem", pki.station_key, None, pki.server_cert)
