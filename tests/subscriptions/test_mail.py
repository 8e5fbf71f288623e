"""Subscription mail end to end: the queue, a real SMTP server (aiosmtpd, STARTTLS and
AUTH), and the OpenSSL command line as the independent check of every signature and
encryption."""

from __future__ import annotations

import email
import email.policy
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from central.accounts import get_user, unassign_facility
from central.mail.outgoing import send_due
from central.subscriptions import (
    enqueue_published,
    mail_alert,
    queue_rows,
    set_subscriptions,
)
from central.usercerts import make_and_save
from shared.crypto.cms import check_envelope

from .conftest import BACKOFF, FROM, PASSWORD, T0, add_file, user_id, write

LATER = T0 + timedelta(days=3)  # every AUS02 file of T0's day is published by then


def subscribe(store, name, facility, products, when=T0 - timedelta(hours=1)):
    user = get_user(store, user_id(store, name))
    return set_subscriptions(store, user, facility, products, now=when)


def run(store, smtp, signer, now, **kw):
    enqueue_published(store, now)
    return send_due(store, smtp.transport(), signer, FROM, now, backoff=BACKOFF, **kw)


def openssl(*args: str, input: bytes | None = None) -> bytes:
    done = subprocess.run(["openssl", *args], input=input, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def verify(network, raw: bytes, folder: Path) -> email.message.EmailMessage:
    """`openssl smime -verify`, trusting only the network's CA: the signed entity."""
    path = write(folder / "verify.eml", raw)
    out = openssl(
        "smime", "-verify", "-in", str(path), "-CAfile", str(network.ca.ca_cert_path),
        "-no-CApath", "-no-CAstore",
    )  # fmt: skip
    return email.message_from_bytes(out, policy=email.policy.default)


def attachment(entity: email.message.EmailMessage) -> tuple[str, bytes]:
    (part,) = list(entity.iter_attachments())
    return part.get_filename(), part.get_content()


def test_a_published_file_is_mailed_once_signed_and_openssl_verifies_it(
    store, smtp, signer, network, tmp_path
):
    subscribe(store, "bert", "BES01", ["PHD"])
    phd = add_file(store, "BES01", 1)
    add_file(store, "BES01", 2, product="SOH")  # not subscribed
    report = run(store, smtp, signer, T0 + timedelta(hours=2))
    assert report.sent == 1 and report.retried == 0
    assert smtp.mailbox.logins == ["stax-central"]  # logged in, which needs STARTTLS
    (mail,) = smtp.mailbox.mails()
    name = store.message(phd)["file_name"]
    assert mail["Subject"] == name and mail["To"] == "bert@users.test"
    assert mail["From"] == FROM
    assert mail.get_content_type() == "multipart/signed"
    entity = verify(network, smtp.mailbox.raw[0], tmp_path)
    assert attachment(entity) == (name, store.content(phd))
    # nothing twice: another round sends nothing more
    assert run(store, smtp, signer, T0 + timedelta(hours=3)).sent == 0
    assert len(smtp.mailbox.raw) == 1
    (row,) = queue_rows(store)
    assert row["state"] == "sent" and row["tries"] == 1 and row["sent_at"]


def test_a_tampered_mail_fails_openssl_verification(store, smtp, signer, network, tmp_path):
    subscribe(store, "bert", "BES01", ["PHD"])
    add_file(store, "BES01", 1)
    run(store, smtp, signer, T0 + timedelta(hours=2))
    raw = smtp.mailbox.raw[0]
    # one character of the base64 attachment changed
    at = raw.index(b'filename="BES01')
    body = raw.index(b"\r\n\r\n", at) + 4
    flipped = raw[:body] + (b"A" if raw[body : body + 1] != b"A" else b"B") + raw[body + 1 :]
    verify(network, raw, tmp_path)  # the original verifies
    path = write(tmp_path / "bad.eml", flipped)
    done = subprocess.run(
        ["openssl", "smime", "-verify", "-in", str(path), "-CAfile",
         str(network.ca.ca_cert_path), "-no-CApath", "-no-CAstore"],
        capture_output=True,
    )  # fmt: skip
    assert done.returncode != 0


def test_with_a_certificate_the_mail_is_encrypted_and_openssl_decrypts_then_verifies(
    store, smtp, signer, network, tmp_path
):
    bert = user_id(store, "bert")
    bundle, cert = make_and_save(store, bert, PASSWORD, T0)
    p12 = write(tmp_path / "bert.p12", bundle)
    key = tmp_path / "bert.key"
    openssl("pkcs12", "-in", str(p12), "-passin", f"pass:{PASSWORD}", "-nocerts", "-nodes",
            "-out", str(key))  # fmt: skip
    pem = write(tmp_path / "bert.pem", cert.cert.public_bytes(Encoding.PEM))
    subscribe(store, "bert", "BES01", ["PHD", "SOH"])
    phd = add_file(store, "BES01", 1)
    soh = add_file(store, "BES01", 2, product="SOH")
    assert run(store, smtp, signer, T0 + timedelta(hours=2)).sent == 2
    for raw, file_id in zip(smtp.mailbox.raw, (phd, soh), strict=True):
        mail = email.message_from_bytes(raw, policy=email.policy.default)
        assert mail.get_content_type() == "application/pkcs7-mime"
        assert mail.get_param("smime-type") == "enveloped-data"
        assert mail["Subject"] == store.message(file_id)["file_name"]
        assert store.content(file_id) not in raw  # not readable on the way
        check_envelope(mail.get_content())  # AES-256-CBC, RSA key transport
        path = write(tmp_path / "mail.eml", raw)
        signed = openssl("smime", "-decrypt", "-in", str(path), "-recip", str(pem),
                         "-inkey", str(key))  # fmt: skip
        entity = verify(network, signed, tmp_path)
        assert attachment(entity) == (store.message(file_id)["file_name"], store.content(file_id))


def test_smtp_down_then_up_each_mail_arrives_exactly_once(store, smtp, signer):
    subscribe(store, "bert", "BES01", ["PHD"])
    subscribe(store, "root", "BES01", ["PHD"])
    for n in range(3):
        add_file(store, "BES01", n)
    smtp.stop()
    now = T0 + timedelta(hours=2)
    report = run(store, smtp, signer, now)
    assert report.sent == 0 and report.server_down
    assert all(r["state"] == "queued" for r in queue_rows(store)) and len(queue_rows(store)) == 6
    # before the next try is due, nothing is attempted (the server is not hammered)
    assert run(store, smtp, signer, now + timedelta(seconds=30)).retried == 0
    smtp.start()
    assert run(store, smtp, signer, now + timedelta(seconds=30)).sent == 0  # still waiting
    report = run(store, smtp, signer, now + BACKOFF.delay(1))
    assert report.sent == 6
    assert run(store, smtp, signer, now + timedelta(hours=5)).sent == 0
    assert sorted(smtp.mailbox.subjects()) == sorted(
        (f"{who}@users.test", store.message(i)["file_name"])
        for who in ("bert", "root")
        for i in (1, 2, 3)
    )


def test_a_refused_login_keeps_the_mail_queued(store, smtp, signer):
    subscribe(store, "bert", "BES01", ["PHD"])
    add_file(store, "BES01", 1)
    now = T0 + timedelta(hours=2)
    enqueue_published(store, now)
    report = send_due(store, smtp.transport("wrong"), signer, FROM, now, backoff=BACKOFF)
    assert report.sent == 0 and "login" in report.server_down
    (row,) = queue_rows(store)
    assert row["state"] == "queued" and row["tries"] == 1 and "login" in row["last_error"]
    assert run(store, smtp, signer, now + BACKOFF.delay(1)).sent == 1


def test_a_deferred_mail_is_retried_with_a_growing_delay(store, smtp, signer):
    subscribe(store, "bert", "BES01", ["PHD"])
    add_file(store, "BES01", 1)
    smtp.mailbox.refuse = "451 4.3.0 try later"
    now = T0 + timedelta(hours=2)
    for tries in (1, 2, 3):
        report = run(store, smtp, signer, now)
        assert report.retried == 1
        (row,) = queue_rows(store)
        assert row["tries"] == tries
        now += BACKOFF.delay(tries)
    smtp.mailbox.refuse = None
    assert run(store, smtp, signer, now).sent == 1


def test_an_unpublished_file_waits_for_its_publish_time_for_everyone(store, smtp, signer):
    for name in ("olga", "alice", "root"):  # the owner and the administrator too
        subscribe(store, name, "AUS02", ["PHD"])
    phd = add_file(store, "AUS02", 4)  # data until T0 + 1h15: published at T0 + 1d 1h15
    published = T0 + timedelta(days=1, hours=1, minutes=15)
    assert run(store, smtp, signer, published - timedelta(minutes=1)).sent == 0
    assert queue_rows(store) == []
    assert run(store, smtp, signer, published).sent == 3
    name = store.message(phd)["file_name"]
    assert smtp.mailbox.subjects() == sorted(
        (f"{who}@users.test", name) for who in ("olga", "alice", "root")
    )


def test_a_user_who_lost_the_facility_gets_nothing_more(store, smtp, signer):
    subscribe(store, "bert", "BES01", ["PHD"])
    add_file(store, "BES01", 1)
    now = T0 + timedelta(hours=2)
    enqueue_published(store, now)  # queued while bert could see BES01 ...
    unassign_facility(store, user_id(store, "bert"), "BES01")
    report = send_due(store, smtp.transport(), signer, FROM, now, backoff=BACKOFF)
    assert report.sent == 0 and report.dropped == 1  # ... checked again when sent
    (row,) = queue_rows(store)
    assert row["state"] == "dropped" and "BES01" in row["last_error"]
    add_file(store, "BES01", 2)
    assert run(store, smtp, signer, now + timedelta(hours=1)).sent == 0
    assert len(queue_rows(store)) == 1 and smtp.mailbox.raw == []


def test_unsubscribing_drops_what_is_queued(store, smtp, signer):
    subscribe(store, "bert", "BES01", ["PHD"])
    add_file(store, "BES01", 1)
    now = T0 + timedelta(hours=2)
    enqueue_published(store, now)
    subscribe(store, "bert", "BES01", [])
    assert send_due(store, smtp.transport(), signer, FROM, now).dropped == 1
    assert smtp.mailbox.raw == []


def test_a_new_subscription_does_not_mail_the_past(store, smtp, signer):
    add_file(store, "BES01", 1)
    subscribe(store, "bert", "BES01", ["PHD"], when=T0 + timedelta(days=1))
    add_file(store, "BES01", 100)  # received after the subscription began
    assert run(store, smtp, signer, T0 + timedelta(days=2)).sent == 1
    (mail,) = smtp.mailbox.mails()
    assert "_5100_" in mail["Subject"]


def test_a_crash_between_send_and_mark_resends_once_with_the_same_message_id(store, smtp, signer):
    subscribe(store, "bert", "BES01", ["PHD"])
    add_file(store, "BES01", 1)
    now = T0 + timedelta(hours=2)
    assert run(store, smtp, signer, now).sent == 1
    # as if the process died after the server's 250, before the row was marked sent
    with store.conn:
        store.conn.execute("update mail_queue set state = 'queued', sent_at = null")
    assert run(store, smtp, signer, now).sent == 1
    first, second = smtp.mailbox.mails()
    assert first["Message-ID"] == second["Message-ID"]
    assert first["Message-ID"].endswith("@central.test>")


def test_an_alert_episode_goes_to_the_alert_subscribers_of_its_facility(
    store, smtp, signer, network, tmp_path
):
    subscribe(store, "alice", "AUS02", ["ALERT"])
    subscribe(store, "carl", "AUS02", ["PHD"])  # not ALERT
    subscribe(store, "bert", "BES01", ["ALERT"])  # another facility
    episode = {
        "id": 7, "station": "AUS02", "kind": "silent", "key": "silent", "state": "open",
        "raised_at": "2024-05-01T10:00:00.000Z", "cleared_at": None,
        "data_until": (T0 - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "value": 5, "message": "AUS02 silent for 5 intervals", "details": "{}",
    }  # fmt: skip
    assert mail_alert(store, episode, T0) == 1
    assert mail_alert(store, episode, T0) == 0  # once per episode and state
    assert send_due(store, smtp.transport(), signer, FROM, T0).sent == 1
    assert mail_alert(store, {**episode, "state": "cleared",
                              "cleared_at": "2024-05-01T11:00:00.000Z"}, T0) == 1  # fmt: skip
    assert send_due(store, smtp.transport(), signer, FROM, T0).sent == 1
    raised, cleared = smtp.mailbox.mails()
    assert raised["To"] == cleared["To"] == "alice@users.test"
    assert raised["Subject"] == "AUS02_7_ALERT_CENTRAL_SILENT_2024_05_01T10_00_00.TXT"
    assert cleared["Subject"].endswith("_CLEARED.TXT")
    entity = verify(network, smtp.mailbox.raw[0], tmp_path)
    assert b"AUS02 silent for 5 intervals" in attachment(entity)[1]


def test_an_alert_about_unpublished_data_waits_like_the_data(store, smtp, signer):
    subscribe(store, "alice", "AUS02", ["ALERT"])
    episode = {"id": 8, "station": "AUS02", "kind": "gap", "state": "open",
               "raised_at": "2024-05-01T10:00:00Z", "data_until": "2100-01-01T00:00:00.000Z",
               "message": "a gap"}  # fmt: skip
    assert mail_alert(store, episode, T0) == 1
    report = send_due(store, smtp.transport(), signer, FROM, T0)
    assert report.sent == 0 and report.waiting == 1
    assert queue_rows(store)[0]["state"] == "queued"


def test_station_alert_files_go_to_alert_subscribers(store, smtp, signer):
    subscribe(store, "bert", "BES01", ["ALERT"])
    alert = add_file(store, "BES01", 3, product="ALERT")
    assert run(store, smtp, signer, T0 + timedelta(hours=2)).sent == 1
    assert smtp.mailbox.mails()[0]["Subject"] == store.message(alert)["file_name"]


def test_maintenance_notices_go_to_the_users_of_the_facility(store, smtp, signer):
    store.db["notifications"].create(
        {"id": int, "station": str, "kind": str, "subject": str, "text": str,
         "created_at": str, "data_until": str}, pk="id",
    )  # fmt: skip
    stamp = (T0 - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    store.db["notifications"].insert(
        {"id": 1, "station": "BES01", "kind": "maintenance", "subject": "Detector swap",
         "text": "The HPGe is replaced on Monday.", "created_at": stamp, "data_until": stamp}
    )  # fmt: skip
    assert run(store, smtp, signer, T0).sent == 2  # bert (BES01) and root (administrator)
    assert [to for to, _ in smtp.mailbox.subjects()] == ["bert@users.test", "root@users.test"]
    assert run(store, smtp, signer, T0 + timedelta(hours=1)).sent == 0


@pytest.mark.parametrize("product", ["ATS", "CSV", "SOH"])
def test_each_product_is_mailed_to_its_subscribers(store, smtp, signer, product):
    subscribe(store, "bert", "BES01", [product])
    wanted = add_file(store, "BES01", 5, product=product)
    add_file(store, "BES01", 6, product="PHD")
    assert run(store, smtp, signer, T0 + timedelta(days=2)).sent == 1
    assert smtp.mailbox.mails()[0]["Subject"] == store.message(wanted)["file_name"]
