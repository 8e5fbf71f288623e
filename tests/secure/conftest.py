"""A network CA with a few stations, made once per test session (RSA keys are slow to make),
and messages to send."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.crypto import cms, files
from shared.crypto.pki import NetworkCA
from tests.conftest import PHD_FIXTURES

PHD_FIXTURE = PHD_FIXTURES / "MIX_NobleGas__SAMPLE20211203070613605.PHD"


@dataclass(frozen=True)
class Party:
    """A station (or the central server) as its own folder holds it."""

    code: str
    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    ca: x509.Certificate
    folder: Path

    def seal(self, content: bytes, central: x509.Certificate) -> bytes:
        return cms.sign_and_encrypt(content, self.cert, self.key, [self.ca], central)


@dataclass(frozen=True)
class Network:
    root: Path
    ca: NetworkCA
    ca_cert: x509.Certificate
    central: Party
    stations: dict[str, Party]

    def crl(self) -> x509.CertificateRevocationList:
        return files.load_crl(self.ca.crl_path)


def _station(ca: NetworkCA, code: str) -> Party:
    return Party(
        code,
        files.load_certificate(ca.station_cert_path(code)),
        files.load_private_key(ca.station_key_path(code)),
        files.load_certificate(ca.ca_cert_path),
        ca.station_dir(code),
    )


def make_network(root: Path, codes: list[str], revoked: list[str] = ()) -> Network:
    now = datetime.now(UTC)
    ca = NetworkCA.create(root, now=now, central_hosts=["central.test"], ca_key_bits=2048)
    for code in [*codes, *revoked]:
        ca.issue_station(code, now=now, facility=f"Facility of {code}")
    for code in revoked:
        ca.revoke(code, now=now)
    ca_cert = files.load_certificate(ca.ca_cert_path)
    central = Party(
        "central",
        files.load_certificate(ca.central_cert_path),
        files.load_private_key(ca.central_key_path),
        ca_cert,
        ca.central_cert_path.parent,
    )
    return Network(root, ca, ca_cert, central, {c: _station(ca, c) for c in [*codes, *revoked]})


@pytest.fixture(scope="session")
def network(tmp_path_factory) -> Network:
    """The network: stations AUS02 and BES01, and REV01 whose certificate is revoked."""
    return make_network(tmp_path_factory.mktemp("pki"), ["AUS02", "BES01"], revoked=["REV01"])


@pytest.fixture(scope="session")
def rogue(tmp_path_factory) -> Network:
    """Another CA that also calls one of its stations AUS02."""
    return make_network(tmp_path_factory.mktemp("rogue-pki"), ["AUS02"])


def phd_message(station: str, msg_id: str) -> bytes:
    """A real beta-gamma sample file, re-labelled as coming from `station`."""
    lines = PHD_FIXTURE.read_bytes().split(b"\n")
    assert lines[2].startswith(b"MSG_ID") and lines[5].startswith(b"MIX58 ")
    lines[2] = f"MSG_ID {msg_id} {station}".encode()
    lines[5] = station.encode() + lines[5][len(b"MIX58") :]
    return b"\n".join(lines)


def phd_name(station: str, msg_id: str) -> str:
    return f"{station}_{msg_id}_PHD_2021_12_02T17_00_54.TXT"


def alert_message(station: str, msg_id: str, text: str = "Spectra input data missing") -> bytes:
    return (
        f"BEGIN IMS2.0\nMSG_TYPE DATA\nMSG_ID {msg_id} {station}\nDATA_TYPE ALERT_SYSTEM\n"
        f"{station} ALERT_SYSTEM 2023/11/20 17:34:02\n{text}\nSTOP\n"
    ).encode()


def alert_name(station: str, msg_id: str) -> str:
    return f"{station}_{msg_id}_ALERT_2023_11_20T17_34_02.TXT"
