"""Sign every file as the station and encrypt it to the central (the wire contract's CMS).

The keys are loaded and checked once, at start, so that a wrong path or a certificate of
another station stops the agent with a clear message instead of failing every cycle.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.x509.oid import NameOID

from shared.crypto.cms import sign_and_encrypt
from shared.crypto.files import (
    CryptoFileError,
    check_key_matches,
    load_certificate,
    load_certificates,
    load_private_key,
)

__all__ = ["Sealer", "SealingError"]


class SealingError(ValueError):
    """The station's identity or the central's certificate cannot be used."""


class Sealer:
    """`sealer(content) -> DER`: CMS SignedData (station) inside EnvelopedData (central)."""

    def __init__(
        self,
        station: str,
        cert: Path,
        key: Path,
        chain: Path | None,
        encryption_cert: Path,
        ca_cert: Path | None = None,
    ):
        try:
            self._cert = load_certificate(cert)
            self._key = load_private_key(key)
            check_key_matches(self._cert, self._key, f"[identity] key {key}")
            # the signature carries the chain up to the network CA
            chain_file = chain if chain is not None else ca_cert
            self._chain = load_certificates(chain_file) if chain_file is not None else []
            self._recipient = load_certificate(encryption_cert)
        except CryptoFileError as exc:
            raise SealingError(str(exc)) from None
        names = self._cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        owner = str(names[0].value) if names else None
        if owner != station:
            # the central refuses files signed by another station's certificate
            raise SealingError(
                f"[identity] cert {cert} belongs to {owner!r}, not to station {station!r} "
                "(use the station's own certificate: `stax pki station`)"
            )

    def __call__(self, content: bytes) -> bytes:
        return sign_and_encrypt(content, self._cert, self._key, self._chain, self._recipient)
