"""The CA folder: layout, permissions, certificates fit for their purpose (checked with the
OpenSSL command line), revocation, and refusals."""

from __future__ import annotations

import stat
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from shared.crypto import certs, files
from shared.crypto.pki import NetworkCA
from stax.cli import main


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def openssl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def cli_ca(tmp_path_factory):
    """A CA made with the command line (once: its 3072-bit key takes a while)."""
    root = tmp_path_factory.mktemp("cli") / "pki"
    assert main(["pki", "init", "--dir", str(root), "--central-host", "central.example"]) == 0
    assert main(["pki", "station", "AUS02", "--dir", str(root), "--facility", "ANSTO"]) == 0
    return root


def test_cli_creates_the_documented_layout_with_tight_permissions(cli_ca, capsys):
    root = cli_ca
    for folder in ("", "ca", "central", "stations", "stations/AUS02"):
        assert mode(root / folder) == 0o700, folder
    for key in ("ca/ca.key", "central/central.key", "stations/AUS02/station.key"):
        assert mode(root / key) == 0o600, key
    for public in ("ca/ca.pem", "ca/crl.pem", "ca/index.json", "central/central.pem"):
        assert (root / public).is_file(), public
    # the station's folder is everything it needs
    bundle = sorted(p.name for p in (root / "stations/AUS02").iterdir())
    assert bundle == ["ca.pem", "central.pem", "station.key", "station.pem"]
    central = (root / "central/central.pem").read_bytes()
    assert (root / "stations/AUS02/central.pem").read_bytes() == central

    capsys.readouterr()
    assert main(["pki", "list", "--dir", str(root)]) == 0
    listing = capsys.readouterr().out
    assert "AUS02    station  valid" in listing
    assert "central.example" in listing


def test_existing_keys_are_never_overwritten(cli_ca, capsys):
    root = cli_ca
    ca_key = (root / "ca/ca.key").read_bytes()
    station_key = (root / "stations/AUS02/station.key").read_bytes()
    capsys.readouterr()

    assert main(["pki", "init", "--dir", str(root)]) == 2
    assert main(["pki", "station", "AUS02", "--dir", str(root)]) == 2
    err = capsys.readouterr().err
    assert "ca.key: exists; refusing to overwrite" in err
    assert "station.key: exists" in err and "stax pki renew AUS02" in err
    assert (root / "ca/ca.key").read_bytes() == ca_key
    assert (root / "stations/AUS02/station.key").read_bytes() == station_key


def test_revoke_rewrites_the_crl_and_a_revoked_key_is_not_renewed(cli_ca, tmp_path, capsys):
    root = cli_ca
    assert main(["pki", "station", "REV02", "--dir", str(root)]) == 0
    assert main(["pki", "renew", "REV02", "--dir", str(root)]) == 0
    renewed = files.load_certificate(root / "stations/REV02/station.pem")
    crl = files.load_crl(root / "ca/crl.pem")
    assert crl.get_revoked_certificate_by_serial_number(renewed.serial_number) is None

    assert main(["pki", "revoke", "REV02", "--dir", str(root)]) == 0
    crl = files.load_crl(root / "ca/crl.pem")
    ca_cert = files.load_certificate(root / "ca/ca.pem")
    assert crl.is_signature_valid(ca_cert.public_key())
    revoked = [r.serial_number for r in crl]
    assert renewed.serial_number in revoked and len(revoked) == 2  # both certificates

    capsys.readouterr()
    assert main(["pki", "renew", "REV02", "--dir", str(root)]) == 2
    assert "key must not be reused" in capsys.readouterr().err
    # OpenSSL agrees that the station is revoked
    bundle = tmp_path / "ca+crl.pem"
    bundle.write_bytes((root / "ca/ca.pem").read_bytes() + (root / "ca/crl.pem").read_bytes())
    check = openssl(
        "verify", "-crl_check", "-CAfile", str(bundle), "-no-CApath", "-no-CAstore",
        str(root / "stations/REV02/station.pem"),
    )  # fmt: skip
    assert check.returncode != 0 and "revoked" in check.stdout + check.stderr


def test_usage_errors_are_one_line(tmp_path, capsys):
    assert main(["pki", "list", "--dir", str(tmp_path / "none")]) == 2
    assert main(["pki", "station", "aus_02", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("stax pki: ") and "no CA here" in err[0]
    assert len(err) == 2


def test_certificates_are_fit_for_their_purpose(network, tmp_path):
    root = network.root
    bundle = tmp_path / "ca+crl.pem"
    bundle.write_bytes((root / "ca/ca.pem").read_bytes() + (root / "ca/crl.pem").read_bytes())
    trust = ["-crl_check", "-CAfile", str(bundle), "-no-CApath", "-no-CAstore"]
    station = str(network.ca.station_cert_path("AUS02"))
    central = str(network.ca.central_cert_path)
    for purpose, cert in [
        ("sslclient", station),
        ("smimesign", station),
        ("smimeencrypt", central),
        ("sslserver", central),
    ]:
        result = openssl("verify", "-purpose", purpose, *trust, cert)
        assert result.returncode == 0, (purpose, result.stdout, result.stderr)
    # a station cannot pose as the server, nor the server as a station
    assert openssl("verify", "-purpose", "sslserver", *trust, station).returncode != 0
    assert openssl("verify", "-purpose", "sslclient", *trust, central).returncode != 0
    # ...and the revoked station is refused
    revoked = str(network.ca.station_cert_path("REV01"))
    assert openssl("verify", "-purpose", "smimesign", *trust, revoked).returncode != 0

    cert = network.stations["AUS02"].cert
    assert certs.common_name(cert) == "AUS02"
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION}
    names = network.central.cert.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value
    assert "central.test" in names.get_values_for_type(x509.DNSName)
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert "127.0.0.1" in [str(a) for a in names.get_values_for_type(x509.IPAddress)]


def test_pure_functions_take_the_time_as_an_argument(network):
    issuer = certs.Issuer(network.ca_cert, files.load_private_key(network.ca.ca_key_path))
    when = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    key = network.stations["AUS02"].key
    cert = certs.station_certificate(issuer, key.public_key(), "XYZ01", when, 10, 1234)
    assert cert.not_valid_before_utc == when - certs.BACKDATE
    assert cert.not_valid_after_utc == when + timedelta(days=10)
    assert cert.serial_number == 1234
    crl = certs.revocation_list(issuer, [certs.Revoked(1234, when)], when, 7, 5)
    assert crl.next_update_utc == when + timedelta(days=7)
    assert crl.get_revoked_certificate_by_serial_number(1234).revocation_date_utc == when
    with pytest.raises(ValueError, match="station code"):
        certs.station_certificate(issuer, key.public_key(), "AUS_02", when, 10, 1)


def test_opening_a_folder_without_a_ca_says_what_to_do(tmp_path):
    with pytest.raises(Exception, match="stax pki init --dir"):
        NetworkCA(tmp_path)
