"""A subscriber's own S/MIME certificate: made (PKCS#12 that OpenSSL opens with the
password, PBES2/AES-256, SHA-256 MAC; only the certificate kept) or uploaded (checked)."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from central.subscriptions import set_subscriptions
from central.usercerts import (
    CertificateError,
    certificate_of,
    make_and_save,
    make_certificate,
    parse_upload,
    remove_certificate,
    save_certificate,
)
from shared.crypto.certs import new_rsa_key

from .conftest import PASSWORD, T0, user_id, write


def test_the_pkcs12_opens_with_its_password_and_uses_pbes2_aes256_sha256(store, tmp_path):
    bert = user_id(store, "bert")
    bundle, saved = make_and_save(store, bert, PASSWORD, T0)
    path = write(tmp_path / "bert.p12", bundle)
    info = subprocess.run(
        ["openssl", "pkcs12", "-info", "-in", str(path), "-passin", f"pass:{PASSWORD}",
         "-nodes"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert info.returncode == 0, info.stderr
    report = info.stdout + info.stderr
    assert "MAC: sha256" in report
    assert report.count("PBES2, PBKDF2, AES-256-CBC") == 2  # the key and the certificate
    assert "BEGIN PRIVATE KEY" in info.stdout and "BEGIN CERTIFICATE" in info.stdout
    wrong = subprocess.run(
        ["openssl", "pkcs12", "-info", "-in", str(path), "-passin", "pass:not the password",
         "-nodes"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert wrong.returncode != 0 and "BEGIN PRIVATE KEY" not in wrong.stdout
    # the certificate is for the user's address, for e-mail, and the only thing kept
    cert = saved.cert
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value == (
        x509.SubjectAlternativeName([x509.RFC822Name("bert@users.test")])
    )
    assert (
        ExtendedKeyUsageOID.EMAIL_PROTECTION
        in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )
    row = store.db["user_certificates"].get(bert)
    assert row["origin"] == "made" and "PRIVATE" not in row["pem"]
    assert set(row) == {"user_id", "pem", "subject", "not_after", "origin", "created_at"}


def test_a_short_password_or_no_address_makes_nothing(store):
    bert = user_id(store, "bert")
    with pytest.raises(CertificateError, match="at least 8"):
        make_and_save(store, bert, "short", T0)
    with store.conn:
        store.conn.execute("update users set email = null where id = ?", [bert])
    with pytest.raises(CertificateError, match="e-mail address"):
        make_and_save(store, bert, PASSWORD, T0)
    assert certificate_of(store, bert) is None


def test_an_uploaded_certificate_replaces_the_made_one_and_can_be_removed(store):
    bert = user_id(store, "bert")
    make_and_save(store, bert, PASSWORD, T0)
    own, _ = make_certificate("bert@elsewhere.test", "Bert", T0)
    for data in (own.public_bytes(serialization.Encoding.PEM),
                 own.public_bytes(serialization.Encoding.DER)):  # fmt: skip
        cert = parse_upload(data, T0)
        save_certificate(store, bert, cert, "uploaded", T0)
        kept = certificate_of(store, bert)
        assert kept.cert == own and kept.origin == "uploaded"
    assert remove_certificate(store, bert) and certificate_of(store, bert) is None
    assert not remove_certificate(store, bert)


def _cert(key, *, days=30, eku=(ExtendedKeyUsageOID.EMAIL_PROTECTION,), start=T0):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start - timedelta(days=1))
        .not_valid_after(start + timedelta(days=days))
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    return builder.sign(key, hashes.SHA256())


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: _cert(ec.generate_private_key(ec.SECP256R1())), "not RSA"),
        (lambda: _cert(new_rsa_key(), start=T0 - timedelta(days=60)), "expired"),
        (lambda: _cert(new_rsa_key(), eku=(ExtendedKeyUsageOID.SERVER_AUTH,)), "not for e-mail"),
    ],
    ids=["ec-key", "expired", "not-email"],
)
def test_an_unusable_certificate_is_refused_with_the_reason(make, reason):
    data = make().public_bytes(serialization.Encoding.PEM)
    with pytest.raises(CertificateError, match=reason):
        parse_upload(data, T0)


def test_a_private_key_or_garbage_is_refused():
    key = new_rsa_key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(CertificateError, match="private key"):
        parse_upload(key, T0)
    with pytest.raises(CertificateError, match="not a certificate"):
        parse_upload(b"hello", T0)
    with pytest.raises(CertificateError, match="empty"):
        parse_upload(b"", T0)


def test_subscriptions_only_for_facilities_the_user_sees(store):
    from central.access import AccessDenied
    from central.accounts import get_user
    from central.subscriptions import SubscriptionError, subscriptions_of

    bert = get_user(store, user_id(store, "bert"))
    assert set_subscriptions(store, bert, "BES01", ["SOH", "PHD", "PHD"], now=T0) == [
        "PHD",
        "SOH",
    ]
    with pytest.raises(AccessDenied):
        set_subscriptions(store, bert, "AUS02", ["PHD"], now=T0)
    with pytest.raises(SubscriptionError, match="product must be one of"):
        set_subscriptions(store, bert, "BES01", ["XYZ"], now=T0)
    root = get_user(store, user_id(store, "root"))
    with pytest.raises(AccessDenied):  # not a registered facility: nothing is published
        set_subscriptions(store, root, "ZZZ99", ["PHD"], now=T0)
    # keeping a product keeps its start; dropping one ends it
    set_subscriptions(store, bert, "BES01", ["PHD", "ALERT"], now=T0 + timedelta(days=1))
    rows = subscriptions_of(store, bert.id)
    assert [(r["product"], r["created_at"][:10]) for r in rows] == [
        ("PHD", T0.strftime("%Y-%m-%d")),
        ("ALERT", (T0 + timedelta(days=1)).strftime("%Y-%m-%d")),
    ]
