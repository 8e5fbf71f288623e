"""The remembered path + CRL check (shared/crypto/pathcache.py): used for a known signer,
never past what made it true (a new CRL, an expired certificate, an old CRL), and never
for a refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from central.config import IntakeConfig
from central.intake import TrustFiles
from central.verify import Refusal, check_message
from shared.crypto import cms
from shared.crypto.pathcache import PathCache

from .conftest import _station, alert_message, alert_name, make_network


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """A network of its own: these tests revoke its stations."""
    return make_network(tmp_path_factory.mktemp("cache-pki"), ["CAC01", "CAC02"])


@pytest.fixture
def path_checks(monkeypatch):
    """Counts the full (pyHanko) path and CRL checks."""
    calls = []
    full = cms._validate

    async def counted(*args):
        calls.append(args)
        return await full(*args)

    monkeypatch.setattr(cms, "_validate", counted)
    return calls


def signed_by(net, code: str, content: bytes) -> bytes:
    der = net.stations[code].seal(content, net.central.cert)
    return cms.decrypt(der, net.central.cert, net.central.key)


def verify(net, signed: bytes, cache: PathCache, moment: datetime | None = None, crl=None):
    crl = crl if crl is not None else net.crl()
    return cms.verify_signed(signed, [net.ca_cert], [crl], moment=moment, cache=cache)


def test_a_known_signer_has_its_path_checked_once(net, path_checks):
    cache = PathCache()
    for n in range(3):
        content = alert_message("CAC01", str(n))
        assert verify(net, signed_by(net, "CAC01", content), cache).content == content
    assert len(path_checks) == 1
    assert (cache.hits, cache.misses) == (2, 1)
    verify(net, signed_by(net, "CAC02", b"other station"), cache)
    assert len(path_checks) == 2  # another certificate: its own check


def test_without_a_cache_every_message_is_checked_in_full(net, path_checks):
    for n in range(2):
        verify(net, signed_by(net, "CAC01", alert_message("CAC01", str(n))), None)
    assert len(path_checks) == 2


def test_a_remembered_signer_still_has_its_signature_checked(net):
    cache = PathCache()
    verify(net, signed_by(net, "CAC01", b"first"), cache)
    signed = signed_by(net, "CAC01", alert_message("CAC01", "7", text="UPS on battery"))
    assert signed.count(b"UPS on battery") == 1
    forged = signed.replace(b"UPS on battery", b"UPS on mains!!")
    with pytest.raises(cms.SignatureError, match="signature does not match content"):
        verify(net, forged, cache)
    assert cache.hits == 1  # the path was known: the signature alone refused it


def test_a_certificate_revoked_after_a_crl_reload_is_refused(net, tmp_path, path_checks):
    now = datetime.now(UTC)
    net.ca.issue_station("CAC09", now=now)
    station = _station(net.ca, "CAC09")
    config = IntakeConfig(
        server_cert=net.ca.central_cert_path,
        server_key=net.ca.central_key_path,
        ca_cert=net.ca.ca_cert_path,
        crl=net.ca.crl_path,
    )
    trust_files = TrustFiles(config)  # as a checking process holds it

    def check(n: str):
        body = station.seal(alert_message("CAC09", n), net.central.cert)
        return check_message(
            body, alert_name("CAC09", n), trust_files.current(), tls_station="CAC09", moment=now
        )

    check("1")
    check("2")
    assert trust_files.path_cache.hits == 1
    net.ca.revoke("CAC09", now=now)  # writes a new crl.pem: TrustFiles reads it again
    with pytest.raises(Refusal, match="certificate revoked on") as refused:
        check("3")
    assert refused.value.http_status == 403
    with pytest.raises(Refusal, match="certificate revoked on"):
        check("4")  # a refusal is not remembered: checked in full again
    assert len(path_checks) == 3


def test_an_expired_certificate_is_refused_though_remembered(net, path_checks):
    now = datetime.now(UTC)
    net.ca.issue_station("CAC08", now=now, days=1)  # expires long before the CRL
    station = _station(net.ca, "CAC08")
    cache = PathCache()
    crl = net.crl()
    later = station.cert.not_valid_after_utc + timedelta(minutes=1)  # pyHanko allows 1 s
    assert later < crl.next_update_utc  # the same CRL is current then
    signed = cms.decrypt(station.seal(b"data", net.central.cert), net.central.cert, net.central.key)
    verify(net, signed, cache, moment=now, crl=crl)
    verify(net, signed, cache, moment=later - timedelta(hours=1), crl=crl)
    assert cache.hits == 1
    with pytest.raises(cms.SignatureError, match="certificate expired on"):
        verify(net, signed, cache, moment=later, crl=crl)
    assert len(path_checks) == 2


def test_an_out_of_date_crl_means_try_later_though_remembered(net):
    cache = PathCache()
    signed = signed_by(net, "CAC02", b"data")
    crl = net.crl()
    verify(net, signed, cache, crl=crl)
    after = crl.next_update_utc + timedelta(minutes=1)
    with pytest.raises(cms.RevocationUnavailable, match="stax pki crl"):
        verify(net, signed, cache, moment=after, crl=crl)


def test_entries_of_an_older_crl_are_dropped():
    from shared.crypto.pathcache import Window, path_key

    cache = PathCache(max_entries=2)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    window = Window(t0, t0 + timedelta(days=1))
    keys = [path_key(bytes([n]), [], [b"root"], [b"crl-1"]) for n in range(3)]
    for key in keys:
        cache.remember(key, window)
    assert len(cache) == 2 and not cache.holds(keys[0], t0)  # the oldest made room
    assert cache.holds(keys[2], t0) and not cache.holds(keys[2], t0 + timedelta(days=1))
    assert not cache.holds(path_key(bytes([2]), [], [b"root"], [b"crl-2"]), t0)
    assert len(cache) == 0  # a new CRL: nothing checked with the old one is kept
