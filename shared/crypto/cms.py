"""The wire contract between a station and the central server, and nothing more.

A data file's exact bytes are signed (CMS SignedData, opaque, binary, SHA-256, the signer's
certificate and its chain included), then encrypted (CMS EnvelopedData, AES-256, to the
central server's RSA certificate), DER. The same as

    openssl cms -sign -binary -nodetach -md sha256 -outform DER ... |
    openssl cms -encrypt -binary -aes256 -outform DER central.pem

cryptography signs, encrypts and decrypts; it cannot verify a CMS signature, so
`verify_signed` uses pyHanko's generic_cms with pyhanko-certvalidator (the central
server's dependencies, imported only there: a station never verifies).

What the central accepts (docs/security.md, "Algorithms"): envelopes AES-256-CBC or
AES-128-CBC with RSA PKCS#1 v1.5 key transport; signatures SHA-256/384/512 with RSA
PKCS#1 v1.5 or RSA-PSS, over signed attributes. Anything else is refused with the
algorithm named, before any library is asked to handle it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7

from .pathcache import Key, PathCache, Window, path_key


class CmsError(ValueError):
    """A message that cannot be accepted; str() is a reason fit for the sender and the log."""


class DecryptError(CmsError):
    """The message cannot be read: not an envelope for this recipient, damaged, or its
    content is not a CMS SignedData (HTTP 400)."""


class SignatureError(CmsError):
    """The signature or the signer's certificate is refused (HTTP 403)."""


class RevocationUnavailable(SignatureError):
    """The network's CRL is missing or out of date: not the sender's fault; try later
    (HTTP 503) once the CA has signed a new CRL."""


@dataclass(frozen=True)
class Verified:
    content: bytes  # the signed file, exact bytes
    signer: x509.Certificate


def sign_and_encrypt(
    content: bytes,
    signer_cert: x509.Certificate,
    signer_key: rsa.RSAPrivateKey,
    chain: Iterable[x509.Certificate],
    recipient_cert: x509.Certificate,
) -> bytes:
    """Sign `content` as the station, then encrypt it to the central server. DER."""
    builder = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(content)
        .add_signer(signer_cert, signer_key, hashes.SHA256())
    )
    # add_certificate() must come after set_data()/add_signer(): cryptography's builder
    # silently drops certificates added before them.
    for cert in chain:
        if cert != signer_cert:
            builder = builder.add_certificate(cert)
    signed = builder.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    return (
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(signed)
        .add_recipient(recipient_cert)
        .set_content_encryption_algorithm(algorithms.AES256)
        .encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )


# asn1crypto's algorithm names -> the names OpenSSL uses (`openssl cms -encrypt -aes256`)
CONTENT_CIPHERS = {"aes256_cbc": "aes-256-cbc", "aes128_cbc": "aes-128-cbc"}
KEY_TRANSPORTS = {"rsaes_pkcs1v15": "RSA PKCS#1 v1.5 (rsaEncryption)"}
DIGESTS = {"sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512"}
SIGNATURES = {"rsassa_pkcs1v15": "RSA PKCS#1 v1.5", "rsassa_pss": "RSA-PSS"}
_OPENSSL_NAMES = {
    "tripledes_3key": "des-ede3-cbc",
    "des": "des-cbc",
    "rc2": "rc2-cbc",
    "aes192_cbc": "aes-192-cbc",
    "rsaes_oaep": "RSAES-OAEP",
}


def _named(algorithm) -> str:
    """An algorithm identifier as people know it: OpenSSL's name, else the OID."""
    name = algorithm["algorithm"].native
    return _OPENSSL_NAMES.get(name, CONTENT_CIPHERS.get(name, name))


def _accepted(table: dict[str, str]) -> str:
    return " or ".join(table.values())


def check_envelope(der: bytes) -> None:
    """Refuse an envelope the central does not accept, naming the algorithm: it must be a
    CMS EnvelopedData whose content is encrypted with AES-256-CBC or AES-128-CBC and
    whose key is transported with RSA PKCS#1 v1.5. Raises DecryptError."""
    from asn1crypto import cms as asn1_cms

    try:
        info = asn1_cms.ContentInfo.load(der, strict=True)
        kind = info["content_type"].native
        if kind != "enveloped_data":
            raise DecryptError(
                f"not a CMS EnvelopedData but {kind}: encrypt with `openssl cms -encrypt -aes256`"
            )
        envelope = info["content"]
        cipher = envelope["encrypted_content_info"]["content_encryption_algorithm"]
        recipients = list(envelope["recipient_infos"])
        cipher_name = cipher["algorithm"].native
        transports = [r.chosen["key_encryption_algorithm"] for r in recipients if r.name == "ktri"]
    except (ValueError, TypeError, KeyError) as exc:
        raise DecryptError(f"not a CMS EnvelopedData: {exc}") from None
    if cipher_name not in CONTENT_CIPHERS:
        raise DecryptError(
            f"envelope encrypted with {_named(cipher)}: only {_accepted(CONTENT_CIPHERS)} "
            "accepted (openssl cms -encrypt -aes256)"
        )
    if not transports:
        kinds = ", ".join(r.name for r in recipients) or "none"
        raise DecryptError(
            f"envelope without an RSA key-transport recipient (recipients: {kinds}): "
            f"only {_accepted(KEY_TRANSPORTS)} accepted"
        )
    for transport in transports:
        if transport["algorithm"].native not in KEY_TRANSPORTS:
            raise DecryptError(
                f"envelope key transported with {_named(transport)}: only "
                f"{_accepted(KEY_TRANSPORTS)} accepted (openssl cms -encrypt without "
                "-keyopt rsa_padding_mode)"
            )


def decrypt(
    der: bytes, recipient_cert: x509.Certificate, recipient_key: rsa.RSAPrivateKey
) -> bytes:
    """The SignedData (DER) inside an EnvelopedData addressed to `recipient_cert`.

    Its algorithms are checked first (`check_envelope`); whatever the library still
    refuses becomes a DecryptError too, never an exception of another kind."""
    check_envelope(der)
    try:
        return pkcs7.pkcs7_decrypt_der(der, recipient_cert, recipient_key, [])
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise DecryptError(f"cannot decrypt: {exc}") from None


def verify_signed(
    signed_der: bytes,
    trust_roots: Iterable[x509.Certificate],
    crls: Iterable[x509.CertificateRevocationList],
    moment: datetime | None = None,
    cache: PathCache | None = None,
) -> Verified:
    """Check a SignedData: the signature matches the content, the signer's certificate
    leads to one of `trust_roots` (and only to them: never the system's trust store), is
    not revoked according to `crls` (which are required), and allows signing messages
    (digitalSignature, emailProtection). Nothing is fetched from the network.

    `moment` is the time of validation (now by default). With a `cache`
    (`shared.crypto.pathcache`), a signer whose path and CRL check succeeded before, with
    the same certificates and CRLs and at a moment that check still holds, has only the
    signature over the content checked. Blocking (CPU work); from async code call it in a
    worker thread.
    """
    from asn1crypto import cms as asn1_cms
    from asn1crypto import crl as asn1_crl
    from asn1crypto import x509 as asn1_x509

    signed_data = _signed_data(signed_der, asn1_cms)
    try:
        content = bytes(signed_data["encap_content_info"]["content"].native or b"")
    except (ValueError, TypeError) as exc:
        raise DecryptError(f"the signed content cannot be read: {exc}") from None
    moment = moment or datetime.now(UTC)
    roots = [asn1_x509.Certificate.load(_der(c)) for c in trust_roots]
    crl_list = [asn1_crl.CertificateList.load(_der(c)) for c in crls]
    if not crl_list:
        raise RevocationUnavailable("no certificate revocation list: revocation cannot be checked")
    key, signer_cert = (None, None) if cache is None else _path_key(signed_data, roots, crl_list)
    if key is not None and cache.holds(key, moment):
        _check_signature(signed_data, content, signer_cert)
        return Verified(content=content, signer=_cryptography_cert(signer_cert))
    status = asyncio.run(_validate(signed_data, roots, crl_list, moment))
    signer = _cryptography_cert(status.signing_cert)
    _raise_for(status, signer, moment)
    window = _window(status.validation_path, crl_list)
    if key is not None and window is not None:
        cache.remember(key, window)
    return Verified(content=content, signer=signer)


def _cryptography_cert(cert) -> x509.Certificate:
    return x509.load_der_x509_certificate(cert.dump())


def _path_key(signed_data, roots, crls) -> tuple[Key | None, object]:
    """The cache key of this message's path check and its signer's certificate
    (asn1crypto); (None, None) when that certificate cannot be told apart: the full check
    then says why."""
    from pyhanko.sign.general import CMSExtractionError, extract_certificate_info

    try:
        certs = extract_certificate_info(signed_data)
    except (CMSExtractionError, ValueError, TypeError, KeyError):
        return None, None
    key = path_key(
        certs.signer_cert.sha256,
        [c.sha256 for c in certs.other_certs],
        [r.sha256 for r in roots],
        [hashlib.sha256(c.dump()).digest() for c in crls],
    )
    return key, certs.signer_cert


def _window(path, crls) -> Window | None:
    """When a successful check holds: within every certificate of the path and every
    CRL's thisUpdate..nextUpdate (None, not remembered, when a CRL has no nextUpdate)."""
    if path is None:
        return None
    starts, ends = [], []
    for cert in path.iter_certs(include_root=True):
        starts.append(cert.not_valid_before)
        ends.append(cert.not_valid_after)
    for crl in crls:
        tbs = crl["tbs_cert_list"]
        if tbs["next_update"].native is None:
            return None
        starts.append(tbs["this_update"].native)
        ends.append(tbs["next_update"].native)
    return Window(max(starts), min(ends))


def _check_signature(signed_data, content: bytes, cert) -> None:
    """The signature over `content` alone by `cert`, the signer's certificate (asn1crypto),
    whose path was checked before: the signing-certificate attribute, the content type,
    the message digest and the signature over the signed attributes, as pyHanko checks
    them. The algorithms were checked by `_check_signer_algorithms`."""
    from pyhanko.sign.validation import errors as pyhanko_errors
    from pyhanko.sign.validation.generic_cms import validate_sig_integrity

    signer_info = signed_data["signer_infos"][0]
    try:
        digest = hashlib.new(signer_info["digest_algorithm"]["algorithm"].native, content)
        intact, valid = validate_sig_integrity(
            signer_info, cert, expected_content_type="data", actual_digest=digest.digest()
        )
    except pyhanko_errors.SignatureValidationError as exc:
        raise SignatureError(f"signature cannot be checked: {exc.failure_message}") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise SignatureError(f"signature cannot be checked: {exc}") from None
    if not intact or not valid:
        raise SignatureError("signature does not match content")


def _der(obj: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return obj.public_bytes(serialization.Encoding.DER)


def _signed_data(der: bytes, asn1_cms):
    try:
        info = asn1_cms.ContentInfo.load(der, strict=True)
        kind = info["content_type"].native
        if kind != "signed_data":
            raise DecryptError(f"expected a CMS SignedData inside the envelope, found {kind}")
        signed = info["content"]
        signer_infos = signed["signer_infos"]
        kind = signed["encap_content_info"]["content_type"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise DecryptError(f"not a CMS SignedData: {exc}") from None
    if kind != "data":
        raise DecryptError(f"the signed content is {kind}, expected data")
    if len(signer_infos) != 1:
        raise SignatureError(f"expected exactly one signer, found {len(signer_infos)}")
    if signed["encap_content_info"]["content"].native is None:
        raise DecryptError("the signature is detached; the content must be embedded (opaque)")
    _check_signer_algorithms(signer_infos[0])
    return signed


def _check_signer_algorithms(signer_info) -> None:
    """Refuse a signature made with an algorithm the central does not accept (SHA-1, MD5,
    DSA, ...) or without signed attributes, naming what it found. Raises SignatureError."""
    from asn1crypto import core as asn1_core

    try:
        digest = signer_info["digest_algorithm"]["algorithm"].native
        signature = signer_info["signature_algorithm"].signature_algo
        attributes = signer_info["signed_attrs"]  # counted, not decoded: that is slow
        has_attributes = not isinstance(attributes, asn1_core.Void) and len(attributes) > 0
    except (ValueError, TypeError, KeyError) as exc:
        raise SignatureError(f"the signer's algorithms cannot be read: {exc}") from None
    if digest not in DIGESTS:
        raise SignatureError(
            f"signature digest {digest}: only {', '.join(DIGESTS.values())} accepted "
            "(openssl cms -sign -md sha256)"
        )
    if signature not in SIGNATURES:
        raise SignatureError(
            f"signature algorithm {signature}: only {_accepted(SIGNATURES)} accepted"
        )
    if not has_attributes:
        raise SignatureError(
            "signature without signed attributes (content type, message digest, signing "
            "time): sign with openssl cms -sign without -noattr"
        )


async def _validate(signed_data, roots, crls, moment):
    from pyhanko.sign.validation import errors as pyhanko_errors
    from pyhanko.sign.validation.generic_cms import async_validate_cms_signature
    from pyhanko.sign.validation.settings import KeyUsageConstraints
    from pyhanko_certvalidator import ValidationContext

    context = ValidationContext(
        trust_roots=roots,
        crls=crls,
        moment=moment,
        allow_fetching=False,
        revocation_mode="require",
    )
    usage = KeyUsageConstraints(
        key_usage={"digital_signature"}, extd_key_usage={"email_protection"}
    )
    try:
        return await async_validate_cms_signature(
            signed_data, validation_context=context, key_usage_settings=usage
        )
    except pyhanko_errors.SignatureValidationError as exc:
        raise SignatureError(f"signature cannot be checked: {exc.failure_message}") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise SignatureError(f"signature cannot be checked: {exc}") from None


def _raise_for(status, signer: x509.Certificate, moment: datetime) -> None:
    """Turn pyHanko's verdict into one reason a person can act on."""
    from pyhanko.sign.ades.report import AdESIndeterminate as Indet

    if not status.intact or not status.valid:
        raise SignatureError("signature does not match content")
    problem = status.trust_problem_indic
    if problem is None:
        return
    who = f"certificate of {signer.subject.rfc4514_string()} (serial {signer.serial_number:X})"
    if problem == Indet.NO_CERTIFICATE_CHAIN_FOUND:
        raise SignatureError(f"certificate not issued by the network CA: {who}")
    if problem in (Indet.REVOKED_NO_POE, Indet.REVOKED_CA_NO_POE):
        details = status.revocation_details
        when = details.revocation_date if details else None
        on = f" on {when:%Y-%m-%d %H:%M:%S} UTC" if when else ""
        raise SignatureError(f"certificate revoked{on}: {who}")
    if problem == Indet.OUT_OF_BOUNDS_NO_POE or moment > signer.not_valid_after_utc:
        raise SignatureError(
            f"certificate expired on {signer.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC: {who}"
        )
    if moment < signer.not_valid_before_utc:
        raise SignatureError(
            f"certificate not valid before {signer.not_valid_before_utc:%Y-%m-%d %H:%M:%S} UTC "
            f"(check the clocks): {who}"
        )
    if problem == Indet.CHAIN_CONSTRAINTS_FAILURE:
        raise SignatureError(
            f"certificate not allowed to sign messages (needs key usage digitalSignature and "
            f"extended key usage emailProtection): {who}"
        )
    if problem == Indet.TRY_LATER:
        raise RevocationUnavailable(
            "the network's certificate revocation list is out of date; "
            "the CA must sign a new one (`stax pki crl`)"
        )
    raise SignatureError(f"certificate refused ({problem.name}): {who}")


def signed_content(signed_der: bytes) -> bytes:
    """The file embedded in a SignedData, without checking the signature: for reading
    back what was verified when it arrived (the central stores the SignedData)."""
    from asn1crypto import cms as asn1_cms

    signed = _signed_data(signed_der, asn1_cms)
    try:
        return bytes(signed["encap_content_info"]["content"].native or b"")
    except (ValueError, TypeError) as exc:
        raise DecryptError(f"the signed content cannot be read: {exc}") from None
