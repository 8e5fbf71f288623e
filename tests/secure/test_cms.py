"""The wire contract: our messages against the OpenSSL command line both ways, and every
refusal with its reason."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import cms as asn1_cms
from cryptography import x509

from shared.crypto import cms

from .conftest import alert_message, phd_message

# bytes that any text canonicalisation would change: CRLF, lone CR, NUL, high bytes, no final LF
AWKWARD = b"BEGIN IMS2.0\r\nline with CR\rand NUL \x00 and \xff\n  trailing spaces  "


def openssl(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], input=input, capture_output=True)


def receive(network, der: bytes, moment: datetime | None = None) -> cms.Verified:
    signed = cms.decrypt(der, network.central.cert, network.central.key)
    return cms.verify_signed(signed, [network.ca_cert], [network.crl()], moment=moment)


@pytest.mark.parametrize("content", [AWKWARD, phd_message("AUS02", "42")])
def test_round_trip_keeps_the_exact_bytes(network, content):
    station = network.stations["AUS02"]
    verified = receive(network, station.seal(content, network.central.cert))
    assert verified.content == content
    assert verified.signer == station.cert


def test_the_signature_carries_the_signer_and_its_chain(network):
    station = network.stations["AUS02"]
    signed = cms.decrypt(
        station.seal(b"x", network.central.cert), network.central.cert, network.central.key
    )
    info = asn1_cms.ContentInfo.load(signed)
    assert info["content_type"].native == "signed_data"
    data = info["content"]
    assert data["encap_content_info"]["content"].native == b"x"  # opaque, not detached
    subjects = {c.chosen.subject.native["common_name"] for c in data["certificates"]}
    assert subjects == {"AUS02", "STAX monitor network CA"}
    assert data["signer_infos"][0]["digest_algorithm"]["algorithm"].native == "sha256"


def test_openssl_made_message_is_accepted(network, tmp_path):
    station = network.stations["BES01"]
    source = tmp_path / "file.txt"
    source.write_bytes(AWKWARD)
    signed = openssl(
        "cms", "-sign", "-binary", "-nodetach", "-md", "sha256", "-outform", "DER",
        "-signer", str(station.folder / "station.pem"),
        "-inkey", str(station.folder / "station.key"),
        "-certfile", str(station.folder / "ca.pem"),
        "-in", str(source),
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    sealed = openssl(
        "cms", "-encrypt", "-binary", "-aes256", "-outform", "DER",
        str(station.folder / "central.pem"),
        input=signed.stdout,
    )  # fmt: skip
    assert sealed.returncode == 0, sealed.stderr
    verified = receive(network, sealed.stdout)
    assert verified.content == AWKWARD
    assert verified.signer == station.cert


def test_our_message_is_accepted_by_openssl(network, tmp_path):
    der = network.stations["AUS02"].seal(AWKWARD, network.central.cert)
    central = network.ca.central_cert_path.parent
    opened = openssl(
        "cms", "-decrypt", "-binary", "-inform", "DER",
        "-recip", str(central / "central.pem"), "-inkey", str(central / "central.key"),
        input=der,
    )  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    bundle = tmp_path / "ca+crl.pem"
    bundle.write_bytes(network.ca.ca_cert_path.read_bytes() + network.ca.crl_path.read_bytes())
    checked = openssl(
        "cms", "-verify", "-binary", "-inform", "DER",
        "-CAfile", str(bundle), "-no-CApath", "-no-CAstore", "-crl_check",
        input=opened.stdout,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout == AWKWARD


def _tamper_content(signed: bytes, old: bytes, new: bytes) -> bytes:
    assert signed.count(old) == 1 and len(old) == len(new)
    return signed.replace(old, new)


def test_changed_content_does_not_match_the_signature(network):
    station = network.stations["AUS02"]
    content = alert_message("AUS02", "7", text="UPS on battery")
    signed = cms.decrypt(
        station.seal(content, network.central.cert), network.central.cert, network.central.key
    )
    forged = _tamper_content(signed, b"UPS on battery", b"UPS on mains!!")
    with pytest.raises(cms.SignatureError, match="signature does not match content"):
        cms.verify_signed(forged, [network.ca_cert], [network.crl()])


def test_damaged_envelope_cannot_be_read(network):
    der = bytearray(network.stations["AUS02"].seal(b"data", network.central.cert))
    der[-1] ^= 0xFF  # the last cipher block: its padding no longer checks out
    with pytest.raises(cms.DecryptError):
        receive(network, bytes(der))
    with pytest.raises(cms.DecryptError):
        receive(network, b"not CMS at all")


def test_a_message_for_another_recipient_cannot_be_read(network, rogue):
    der = network.stations["AUS02"].seal(b"data", rogue.central.cert)
    with pytest.raises(cms.DecryptError, match="cannot decrypt"):
        receive(network, der)


def test_signer_from_another_ca_is_refused(network, rogue):
    der = rogue.stations["AUS02"].seal(b"data", network.central.cert)
    with pytest.raises(cms.SignatureError, match="certificate not issued by the network CA"):
        receive(network, der)


def test_revoked_signer_is_refused_with_the_date(network):
    der = network.stations["REV01"].seal(b"data", network.central.cert)
    with pytest.raises(cms.SignatureError, match=r"certificate revoked on \d{4}-\d\d-\d\d"):
        receive(network, der)


def test_expired_signer_is_refused(network):
    station = network.stations["AUS02"]
    der = station.seal(b"data", network.central.cert)
    later = station.cert.not_valid_after_utc + timedelta(days=1)
    with pytest.raises(cms.SignatureError, match="certificate expired on"):
        receive(network, der, moment=later)


def test_out_of_date_crl_means_try_later(network):
    der = network.stations["AUS02"].seal(b"data", network.central.cert)
    after_next_update = network.crl().next_update_utc + timedelta(hours=1)
    with pytest.raises(cms.RevocationUnavailable, match="stax pki crl"):
        receive(network, der, moment=after_next_update)
    signed = cms.decrypt(der, network.central.cert, network.central.key)
    with pytest.raises(cms.RevocationUnavailable):
        cms.verify_signed(signed, [network.ca_cert], [])


def test_a_certificate_for_tls_only_may_not_sign_messages(network):
    # issued by the network CA with the station's name, but for clientAuth only
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from shared.crypto import certs, files

    issuer_key = files.load_private_key(network.ca.ca_key_path)
    now = datetime.now(UTC)
    station = network.stations["AUS02"]
    tls_only = (
        x509.CertificateBuilder()
        .subject_name(station.cert.subject)
        .issuer_name(network.ca_cert.subject)
        .public_key(station.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )
    assert certs.common_name(tls_only) == "AUS02"
    der = cms.sign_and_encrypt(
        b"data", tls_only, station.key, [network.ca_cert], network.central.cert
    )
    with pytest.raises(cms.SignatureError, match="not allowed to sign messages"):
        receive(network, der)
