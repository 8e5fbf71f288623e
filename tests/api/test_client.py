"""central.client and `stax fetch` against the running web server (waitress on a loopback
port): bulk download, skip, resume, typed errors, retry after 429."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from central.client import AccessError, AuthError, Client, NotFound, ServerError, TooManyRequests
from central.web import create_app
from stax.cli import main

from .conftest import serving


def test_download_gets_every_file_and_a_second_run_nothing_new(server, tokens, sample, tmp_path):
    client = Client(server, tokens["alice"])
    files = client.list(station="AUS02")
    assert len(files) == len(sample.aus_ids)
    report = client.download(files, tmp_path)
    assert report.ok and len(report.downloaded) == 32 and report.bytes > 0
    for remote in files:
        data = (tmp_path / remote.name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == remote.sha256
    again = client.download(files, tmp_path)
    assert (len(again.downloaded), len(again.skipped), again.bytes) == (0, 32, 0)
    assert "0 downloaded (0 B), 32 already there, 0 failed" in again.summary()


def test_a_changed_local_file_is_downloaded_again(server, tokens, tmp_path):
    client = Client(server, tokens["alice"])
    (remote,) = client.list(type="SOH")
    (tmp_path / remote.name).write_bytes(b"edited by hand")
    report = client.download([remote], tmp_path)
    assert report.downloaded == [remote]
    assert hashlib.sha256((tmp_path / remote.name).read_bytes()).hexdigest() == remote.sha256


def test_a_partial_file_is_resumed_with_range(server, tokens, tmp_path):
    client = Client(server, tokens["alice"])
    remote = client.list(type="PHD")[0]
    whole = client.fetch(remote)
    (tmp_path / (remote.name + ".part")).write_bytes(whole[:20])
    report = client.download([remote], tmp_path)
    assert report.bytes == len(whole) - 20  # only the rest came over the network
    assert (tmp_path / remote.name).read_bytes() == whole
    assert not (tmp_path / (remote.name + ".part")).exists()


def test_typed_errors(server, tokens, sample):
    with pytest.raises(AuthError, match="401"):
        Client(server, "stax_not-a-token").list()
    with pytest.raises(AccessError, match="BES01"):
        Client(server, tokens["alice"]).list(station="BES01")
    with pytest.raises(NotFound):
        Client(server, tokens["alice"]).fetch(sample.bes_ids[0])
    with pytest.raises(ServerError, match="no answer"):
        Client("http://127.0.0.1:9/", tokens["alice"], retries=1, sleep=lambda s: None).list()


@pytest.fixture
def limited_server(config, clock):
    """The app with 2 requests a minute per token; the client's sleep moves its clock."""
    limited = replace(config, web=replace(config.web, api_requests_per_minute=2))
    with serving(create_app(limited, clock=clock).server) as url:
        yield url


def test_the_client_waits_out_429_and_goes_on(limited_server, tokens, clock, tmp_path):
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        clock.advance(seconds / 60)

    client = Client(limited_server, tokens["alice"], sleep=sleep)
    files = client.list(type="PHD", page_size=1000)  # 1 request
    report = client.download(files[:3], tmp_path)  # 3 more: one wait of Retry-After
    assert report.ok and len(report.downloaded) == 3
    assert slept and slept[0] == 30
    with pytest.raises(TooManyRequests) as caught:
        Client(limited_server, tokens["alice"], retries=0).list()
    assert caught.value.retry_after == 30


def test_stax_fetch_downloads_a_day_and_then_nothing_new(server, tokens, tmp_path, capsys):
    token_file = tmp_path / "token"
    token_file.write_text(tokens["admin"] + "\n")
    out = tmp_path / "fetched"
    argv = ["fetch", "--url", server, "--token-file", str(token_file), "-s", "AUS02,BES01",
            "-t", "PHD,ATS", "-d", "2024_05_01", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "34 files: 34 downloaded" in captured.out
    assert "] 34/34 files" in captured.err  # the progress bar
    assert len(list(out.iterdir())) == 34
    assert main(argv) == 0
    assert "0 downloaded (0 B), 34 already there" in capsys.readouterr().out
    assert main([*argv[:-4], "-d", "2024_05", "--out", str(tmp_path / "month")]) == 0
    assert "34 downloaded" in capsys.readouterr().out


def test_stax_fetch_says_what_is_wrong(server, tokens, tmp_path, capsys):
    token_file = tmp_path / "token"
    token_file.write_text(tokens["alice"])
    base = ["fetch", "--url", server, "--token-file", str(token_file), "--out", str(tmp_path)]
    assert main([*base, "-s", "BES01"]) == 2
    assert "you may not see station BES01" in capsys.readouterr().err
    assert main([*base, "-d", "15.11.2023"]) == 2
    assert "expected a day (2023_11_15) or a month" in capsys.readouterr().err
    token_file.write_text("stax_revoked")
    assert main(base) == 2
    assert "unknown or revoked" in capsys.readouterr().err
    dead = ["fetch", "--url", "http://127.0.0.1:9/", "--token-file", str(token_file)]
    assert main([*dead, "--retries", "0"]) == 1
    assert "no answer" in capsys.readouterr().err


def test_a_file_that_does_not_match_its_sha256_fails_and_the_rest_arrive(server, tokens, tmp_path):
    client = Client(server, tokens["alice"], retries=2, sleep=lambda s: None)
    good, bad = client.list(type="PHD")[:2]
    wrong = replace(bad, sha256="0" * 64)
    report = client.download([good, wrong], tmp_path)
    assert not report.ok and report.downloaded == [good]
    [(failed, error)] = report.failed
    assert failed == wrong and "do not match its SHA-256" in str(error)
    assert not (tmp_path / bad.name).exists() and not (tmp_path / (bad.name + ".part")).exists()
    assert "1 downloaded" in report.summary() and "1 failed" in report.summary()
