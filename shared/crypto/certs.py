"""Certificates and revocation lists of the network's own CA, built from plain arguments.

Pure functions: keys, names, serial numbers and the time come in as arguments; nothing
here reads a clock or touches a file (see `shared.crypto.pki` for the CA's folder).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Station codes as the IMS names stations (AUS02, USS06, MIX58): they become a certificate's
# CN, a folder name and the first field of product file names, so no "_" and no "/".
STATION_CODE = re.compile(r"^[A-Z][A-Z0-9]{2,9}$")

# Certificates are valid from this long before their issue time, so that a station whose
# clock is a little behind the CA's still accepts a certificate issued a minute ago.
BACKDATE = timedelta(hours=1)

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Issuer:
    """The CA's certificate and key: what signs certificates and CRLs."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey


@dataclass(frozen=True)
class Revoked:
    serial: int
    revoked_at: datetime


def new_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """RSA: the wire contract encrypts to RSA recipients, and stations sign with the same key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def check_station_code(code: str) -> str:
    if not STATION_CODE.match(code):
        raise ValueError(
            f"station code {code!r}: expected 3-10 upper-case letters and digits, "
            "starting with a letter (e.g. AUS02)"
        )
    return code


def common_name(cert: x509.Certificate) -> str | None:
    """The subject's CN: for a station certificate, the station code."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def _name(common: str, organization: str | None = None) -> x509.Name:
    parts = []
    if organization:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    parts.append(x509.NameAttribute(NameOID.COMMON_NAME, common))
    return x509.Name(parts)


def _key_usage(*, digital_signature=False, key_encipherment=False, ca=False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _builder(
    subject: x509.Name,
    issuer_name: x509.Name,
    public_key: rsa.RSAPublicKey,
    now: datetime,
    days: int,
    serial: int,
) -> x509.CertificateBuilder:
    if days <= 0:
        raise ValueError(f"validity must be at least one day, got {days}")
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _leaf(
    builder: x509.CertificateBuilder, issuer: Issuer, eku: list[x509.ObjectIdentifier]
) -> x509.Certificate:
    return (
        builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_encipherment=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
        .sign(issuer.key, hashes.SHA256())
    )


def ca_certificate(
    key: rsa.RSAPrivateKey, network: str, now: datetime, days: int, serial: int
) -> x509.Certificate:
    """The network's self-signed root: it signs station and central certificates only."""
    name = _name(f"{network} CA", network)
    return (
        _builder(name, name, key.public_key(), now, days, serial)
        # path length 0: the CA issues end-entity certificates only, never another CA
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )


def central_certificate(
    issuer: Issuer,
    public_key: rsa.RSAPublicKey,
    hosts: Iterable[str],
    now: datetime,
    days: int,
    serial: int,
) -> x509.Certificate:
    """The central server's certificate: TLS server for the intake, and the CMS recipient
    that stations encrypt to (hence keyEncipherment and emailProtection)."""
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ValueError("the central server's key must be RSA: stations encrypt to it")
    names = list(dict.fromkeys([*hosts, *LOCAL_HOSTS]))
    alt: list[x509.GeneralName] = []
    for host in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt.append(x509.DNSName(host))
    builder = _builder(
        _name(names[0], None),
        issuer.cert.subject,
        public_key,
        now,
        days,
        serial,
    ).add_extension(x509.SubjectAlternativeName(alt), critical=False)
    return _leaf(
        builder, issuer, [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]
    )


def station_certificate(
    issuer: Issuer,
    public_key: rsa.RSAPublicKey,
    station: str,
    now: datetime,
    days: int,
    serial: int,
    facility: str | None = None,
) -> x509.Certificate:
    """A station's certificate: CN = station code; signs messages (emailProtection) and
    authenticates the station to the intake (clientAuth)."""
    check_station_code(station)
    builder = _builder(_name(station, facility), issuer.cert.subject, public_key, now, days, serial)
    return _leaf(
        builder, issuer, [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]
    )


def revocation_list(
    issuer: Issuer, revoked: Iterable[Revoked], now: datetime, days: int, number: int
) -> x509.CertificateRevocationList:
    """A CRL valid for `days`: verifiers refuse every message once it is out of date,
    so the CA must re-sign it before then (`stax pki crl`)."""
    if days <= 0:
        raise ValueError(f"CRL validity must be at least one day, got {days}")
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(now)
        .next_update(now + timedelta(days=days))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    )
    for entry in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial)
            .revocation_date(entry.revoked_at)
            .build()
        )
    return builder.sign(issuer.key, hashes.SHA256())
