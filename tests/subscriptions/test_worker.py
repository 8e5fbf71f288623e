"""[mail_out] as the worker reads it: checked at start with the key named, and the
worker's loop queues and mails subscription mail through a real SMTP server."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from central import worker
from central.accounts import get_user
from central.config import load_central_config
from central.mail.outgoing import MailOutError
from central.subscriptions import queue_rows, set_subscriptions
from shared.config import ConfigError

from .conftest import FROM, SMTP_PASSWORD, SMTP_USER, T0, add_file, user_id


def config_file(folder: Path, network, store, **mail_out) -> Path:
    ca = network.ca
    login = folder / "smtp-login"
    login.write_text(f"{SMTP_USER}\n{SMTP_PASSWORD}\n")
    login.chmod(0o600)
    keys = {
        "host": "127.0.0.1",
        "port": 25,
        "ca_file": str(ca.ca_cert_path),
        "login_file": str(login),
        "from_address": FROM,
        "signing_cert": str(ca.central_cert_path),
        "signing_key": str(ca.central_key_path),
        "chain_file": str(ca.ca_cert_path),
        "poll_seconds": 0.2,
        **mail_out,
    }
    lines = [
        "[intake]",
        f'server_cert = "{ca.central_cert_path}"',
        f'server_key = "{ca.central_key_path}"',
        f'ca_cert = "{ca.ca_cert_path}"',
        "[storage]",
        f'data_dir = "{store.path.parent}"',
        f'database = "{store.path.name}"',
        "[mail_out]",
        *(f"{k} = {v!r}" if not isinstance(v, str) else f'{k} = "{v}"' for k, v in keys.items()),
    ]
    path = folder / "central.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_worker_mails_what_is_published(store, smtp, network, tmp_path):
    bert = get_user(store, user_id(store, "bert"))
    set_subscriptions(store, bert, "BES01", ["PHD"], now=T0 - timedelta(hours=1))
    add_file(store, "BES01", 1)
    config = load_central_config(config_file(tmp_path, network, store, port=smtp.port))
    stop = threading.Event()
    thread = threading.Thread(
        target=worker.run,
        args=(config, stop, 0.05),
        kwargs={"analyze": lambda *a, **k: None, "clock": lambda: T0 + timedelta(hours=2)},
    )
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not smtp.mailbox.raw and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(20)
    assert len(smtp.mailbox.raw) == 1
    assert [r["state"] for r in queue_rows(store)] == ["sent"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"from_address": "nobody"}, r"\[mail_out\].*from_address"),
        ({"signing_key": ""}, r"\[mail_out\]"),
        ({"port": 0}, r"\[mail_out\].*port"),
        ({"retry_first_seconds": 10, "retry_max_seconds": 5}, r"retry_max_seconds"),
    ],
)
def test_a_bad_mail_out_table_names_the_key(store, network, tmp_path, change, words):
    path = config_file(tmp_path, network, store, **change)
    if change.get("signing_key") == "":
        text = path.read_text().replace('signing_key = ""\n', "")
        path.write_text(text)
    with pytest.raises(ConfigError, match=words):
        load_central_config(path)


def test_an_unreadable_login_file_or_signing_key_stops_the_start(store, network, tmp_path):
    path = config_file(tmp_path, network, store, login_file=str(tmp_path / "missing"))
    with pytest.raises(MailOutError, match="login_file"):
        worker._mail_out(load_central_config(path))
    path = config_file(tmp_path, network, store, signing_key=str(tmp_path / "missing.key"))
    with pytest.raises(MailOutError, match="signing certificate"):
        worker._mail_out(load_central_config(path))


def test_without_a_host_nothing_is_mailed(store, network, tmp_path):
    path = config_file(tmp_path, network, store, host="")
    assert worker._mail_out(load_central_config(path)) is None
