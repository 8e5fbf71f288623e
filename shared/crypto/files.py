"""Keys, certificates and CRLs on disk (PEM): read with errors that name the file, write
private keys 0600 and never over an existing one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


class CryptoFileError(ValueError):
    """`path: what is wrong (what to do)`."""


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CryptoFileError(f"{path}: cannot read: {exc.strerror}") from None


def load_certificates(path: str | Path) -> list[x509.Certificate]:
    """Every certificate in a PEM file (a certificate or a bundle)."""
    data = _read(Path(path))
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise CryptoFileError(f"{path}: not a PEM certificate") from None
    return certs


def load_certificate(path: str | Path) -> x509.Certificate:
    """The first certificate in a PEM file."""
    return load_certificates(path)[0]


def load_private_key(path: str | Path) -> rsa.RSAPrivateKey:
    data = _read(Path(path))
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise CryptoFileError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CryptoFileError(f"{path}: an RSA key is needed (the wire contract uses RSA)")
    return key


def load_crl(path: str | Path) -> x509.CertificateRevocationList:
    data = _read(Path(path))
    try:
        return x509.load_pem_x509_crl(data)
    except ValueError:
        raise CryptoFileError(f"{path}: not a PEM certificate revocation list") from None


def check_key_matches(cert: x509.Certificate, key: rsa.RSAPrivateKey, where: str) -> None:
    if cert.public_key() != key.public_key():
        raise CryptoFileError(f"{where}: the private key does not belong to the certificate")


def make_private_dir(path: str | Path) -> Path:
    """A folder only its owner can enter (0700), with missing parents."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask
    return path


def write_private_key(path: str | Path, key: rsa.RSAPrivateKey) -> None:
    """Write a key readable by its owner only; refuse to replace an existing file, since
    a replaced key cannot be recovered and would orphan its certificate."""
    path = Path(path)
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CryptoFileError(f"{path}: exists; refusing to overwrite a private key") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_public_file(path: str | Path, data: bytes) -> None:
    """Replace a certificate, CRL or index atomically (readers never see half a file)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def pem(obj: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return obj.public_bytes(serialization.Encoding.PEM)
