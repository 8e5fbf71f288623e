"""A subscriber's own S/MIME certificate: what the central encrypts their mail to.

Two ways to get one (the Settings page):
- **made** by the server: a new RSA key pair and a self-signed certificate for the
  user's e-mail address (emailProtection, keyEncipherment), handed over once as a
  password-protected PKCS#12 file (PBES2 with AES-256-CBC, SHA-256 MAC: what current
  Outlook and Thunderbird import). Only the certificate is kept; the key leaves with
  the file and the server forgets it.
- **uploaded**: the user's own certificate (PEM or DER), RSA, valid now, allowed for
  key encipherment and e-mail.

Self-signed, because nobody but the central relies on it: the central encrypts to the
public key the user (logged in) handed over here, and the user's mail client needs only
the private key to decrypt. The central never signs with it.

Pure of the wall clock: `now` comes in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shared.crypto.certs import BACKDATE, new_rsa_key
from shared.timeutil import iso_z

from .store import Store

MADE_DAYS = 825  # as long as the network's own leaf certificates
MIN_PASSWORD = 8
MIN_KEY_BITS = 2048
MAX_UPLOAD_BYTES = 64_000


class CertificateError(ValueError):
    """A certificate that cannot be used, or a request that cannot be met: says why."""


@dataclass(frozen=True)
class UserCertificate:
    user_id: int
    cert: x509.Certificate
    subject: str
    not_after: str  # ISO Z
    origin: str  # made or uploaded
    created_at: str

    def valid_at(self, now: datetime) -> bool:
        return self.cert.not_valid_before_utc <= now <= self.cert.not_valid_after_utc


def make_certificate(
    email: str, name: str, now: datetime, *, days: int = MADE_DAYS, key_bits: int = 2048
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A new key and a self-signed S/MIME certificate for `email` (CN `name`)."""
    if not email or "@" not in email:
        raise CertificateError(
            "an e-mail address is needed for an S/MIME certificate: ask an administrator "
            "to enter yours"
        )
    key = new_rsa_key(key_bits)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name or email),
            x509.NameAttribute(NameOID.EMAIL_ADDRESS, email),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def check_password(password: object) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise CertificateError(
            f"the file's password needs at least {MIN_PASSWORD} characters (you type it "
            "again when you import the file)"
        )
    return password


def pkcs12_bundle(
    cert: x509.Certificate, key: rsa.RSAPrivateKey, password: str, friendly_name: str
) -> bytes:
    """The key and certificate as a PKCS#12 file protected by `password`: PBES2 with
    AES-256-CBC (PBKDF2-SHA256) for the key and the certificate, and an HMAC-SHA256 MAC."""
    check_password(password)
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(100_000)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(password.encode())
    )
    return pkcs12.serialize_key_and_certificates(
        friendly_name.encode(), key, cert, None, encryption
    )


def parse_upload(data: bytes, now: datetime) -> x509.Certificate:
    """The certificate in an uploaded file (PEM or DER), if it can be encrypted to now:
    RSA of at least 2048 bits, valid at `now`, and, where it says what it is for,
    allowed for key encipherment and e-mail protection. Raises CertificateError."""
    if not data:
        raise CertificateError("the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise CertificateError(f"a certificate is a few kB; this file has {len(data)} bytes")
    if b"PRIVATE KEY" in data:
        raise CertificateError(
            "the file holds a private key: upload the certificate alone (never hand over "
            "your private key)"
        )
    try:
        if b"-----BEGIN" in data:
            cert = x509.load_pem_x509_certificates(data)[0]
        else:
            cert = x509.load_der_x509_certificate(data)
    except ValueError:
        raise CertificateError("not a certificate (expected PEM or DER X.509)") from None
    return check_certificate(cert, now)


def check_certificate(cert: x509.Certificate, now: datetime) -> x509.Certificate:
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise CertificateError(
            "the certificate's key is not RSA: mail is encrypted with RSA key transport"
        )
    if key.key_size < MIN_KEY_BITS:
        raise CertificateError(f"an RSA key of {key.key_size} bits: at least {MIN_KEY_BITS}")
    if now > cert.not_valid_after_utc:
        raise CertificateError(f"the certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}")
    if now < cert.not_valid_before_utc:
        raise CertificateError(
            f"the certificate is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
        )
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.key_encipherment:
            raise CertificateError("the certificate does not allow key encipherment")
    except x509.ExtensionNotFound:
        pass
    try:
        purposes = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.EMAIL_PROTECTION not in purposes:
            raise CertificateError("the certificate is not for e-mail (no emailProtection)")
    except x509.ExtensionNotFound:
        pass
    return cert


def save_certificate(
    store: Store, user_id: int, cert: x509.Certificate, origin: str, now: datetime
) -> UserCertificate:
    """Keep `cert` as the user's certificate (replacing any earlier one)."""
    if origin not in ("made", "uploaded"):
        raise ValueError("origin is 'made' or 'uploaded'")
    row = {
        "user_id": user_id,
        "pem": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "subject": cert.subject.rfc4514_string(),
        "not_after": iso_z(cert.not_valid_after_utc),
        "origin": origin,
        "created_at": iso_z(now),
    }
    with store.conn:
        store.db["user_certificates"].upsert(row, pk="user_id")
    found = certificate_of(store, user_id)
    assert found is not None
    return found


def make_and_save(
    store: Store, user_id: int, password: str, now: datetime
) -> tuple[bytes, UserCertificate]:
    """A new certificate for the user's e-mail address, kept; the PKCS#12 file (key and
    certificate) to hand over once."""
    row = store.conn.execute(
        "select username, email, first_name, last_name from users where id = ?", [user_id]
    ).fetchone()
    if row is None:
        raise CertificateError(f"no user with id {user_id}")
    username, email, first, last = row
    name = " ".join(p for p in (first, last) if p) or username
    check_password(password)
    cert, key = make_certificate(email or "", name, now)
    bundle = pkcs12_bundle(cert, key, password, f"STAX mail {username}")
    return bundle, save_certificate(store, user_id, cert, "made", now)


def certificate_of(store: Store, user_id: int) -> UserCertificate | None:
    row = store.conn.execute(
        "select pem, subject, not_after, origin, created_at from user_certificates "
        "where user_id = ?",
        [user_id],
    ).fetchone()
    if row is None:
        return None
    pem, subject, not_after, origin, created_at = row
    return UserCertificate(
        user_id=user_id,
        cert=x509.load_pem_x509_certificate(pem.encode()),
        subject=subject,
        not_after=not_after,
        origin=origin,
        created_at=created_at,
    )


def remove_certificate(store: Store, user_id: int) -> bool:
    """Forget the user's certificate: mail is then signed only. Whether there was one."""
    with store.conn:
        cursor = store.conn.execute("delete from user_certificates where user_id = ?", [user_id])
    return cursor.rowcount > 0
