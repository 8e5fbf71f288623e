"""Taking the station message out of a mail: the wire format, and every kind of mail that
is not one (each with a status and a reason, never an exception of another kind)."""

from __future__ import annotations

import base64
from email.message import EmailMessage

import pytest

from central.mail.mime import NotStationMail, read_station_mail
from shared.crypto import cms

from .conftest import openssl_mail, smime_mail, station_mail

NAME = "AUS02_101_PHD_2021_12_02T17_00_54.TXT"


def _refusal(raw: bytes) -> NotStationMail:
    with pytest.raises(NotStationMail) as caught:
        read_station_mail(raw)
    return caught.value


def test_the_wire_format_gives_the_file_name_and_the_der(network):
    raw = station_mail(network, "AUS02", "101")
    mail = read_station_mail(raw)
    assert mail.file_name == NAME
    assert mail.sender == "aus02@station.test"
    signed = cms.decrypt(mail.envelope, network.central.cert, network.central.key)
    assert signed.startswith(b"\x30")  # the SignedData inside, DER


def test_openssl_smime_output_is_read(network, tmp_path):
    raw = openssl_mail(network, "AUS02", "102", tmp_path)
    assert b"application/x-pkcs7-mime" in raw or b"application/pkcs7-mime" in raw
    mail = read_station_mail(raw)
    assert mail.file_name == "AUS02_102_PHD_2021_12_02T17_00_54.TXT"
    cms.decrypt(mail.envelope, network.central.cert, network.central.key)  # raises if wrong


def test_plain_text_mail_is_not_a_station_message():
    mail = EmailMessage()
    mail["From"] = "someone@example.org"
    mail["Subject"] = "Cheap watches"
    mail.set_content("Buy now!")
    refusal = _refusal(mail.as_bytes())
    assert (refusal.http_status, refusal.status) == (415, "not_station_message")
    assert "text/plain" in refusal.reason and "Subject is the file name" in refusal.reason
    assert refusal.mail.subject == "Cheap watches"


def test_a_bounce_quoting_an_smime_mail_is_not_taken_for_a_new_message(network):
    original = station_mail(network, "AUS02", "103")
    bounce = EmailMessage()
    bounce["From"] = "MAILER-DAEMON@relay.test"
    bounce["Subject"] = "Undelivered Mail Returned to Sender"
    bounce.set_content("The mail could not be delivered.")
    bounce.add_attachment(original, maintype="message", subtype="rfc822")
    bounce.replace_header(
        "Content-Type", bounce["Content-Type"].replace("multipart/mixed", "multipart/report")
    )
    refusal = _refusal(bounce.as_bytes())
    assert refusal.http_status == 415 and "bounce" in refusal.reason


def test_smime_as_an_attachment_is_refused(network):
    mail = EmailMessage()
    mail["Subject"] = NAME
    mail.set_content("see attachment")
    mail.add_attachment(b"\x30\x80", maintype="application", subtype="pkcs7-mime")
    refusal = _refusal(mail.as_bytes())
    assert refusal.http_status == 415 and "attachment of a multipart/mixed" in refusal.reason


def test_signed_only_smime_is_unreadable():
    refusal = _refusal(smime_mail(b"\x30\x03\x02\x01\x01", NAME, smime_type="signed-data"))
    assert (refusal.http_status, refusal.status) == (400, "unreadable")
    assert "enveloped-data" in refusal.reason


def test_damaged_base64_is_unreadable_not_skipped():
    raw = smime_mail(b"\x30" * 300, NAME)
    head, body = raw.split(b"\n\n", 1)
    damaged = head + b"\n\n" + b"!!" + body[2:]
    refusal = _refusal(damaged)
    assert refusal.http_status == 400 and "base64" in refusal.reason


def test_no_subject_is_unreadable():
    refusal = _refusal(smime_mail(b"\x30\x03\x02\x01\x01", None))
    assert refusal.http_status == 400 and "Subject" in refusal.reason


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00\xff\xfe garbage \r\n\r\n\x80", b"Subject: =?utf-8?b?" + base64.b64encode(b"\xff")],
)
def test_garbage_is_a_refusal_with_a_reason(raw):
    refusal = _refusal(raw)
    assert refusal.http_status in (400, 415) and refusal.reason
