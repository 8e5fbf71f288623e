"""`password_file` ([mqtt] and [mail.imap]) must be the owner's alone, mode 0600 or
stricter: a file the group or others may read is refused when the configuration is read
(and by the MQTT publisher when it reads the password), with the file and the fix named."""

from __future__ import annotations

import pytest

from central.config import MqttConfig, load_central_config
from central.mqtt import read_password
from shared.config import ConfigError

BASE = """[intake]
server_cert = "server.pem"
server_key = "server.key"
ca_cert = "ca.pem"
"""
TABLES = {
    "mqtt": '[mqtt]\nhost = "broker"\nusername = "stax"\npassword_file = "secret"\n',
    "mail.imap": '[mail.imap]\nhost = "imap"\nuser = "stax"\npassword_file = "secret"\n',
}


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660, 0o606])
def test_a_password_file_others_may_read_or_change_is_refused(tmp_path, table, mode):
    secret = tmp_path / "secret"
    secret.write_text("a password\n")
    secret.chmod(mode)
    path = tmp_path / "central.toml"
    path.write_text(BASE + TABLES[table])
    with pytest.raises(ConfigError) as refused:
        load_central_config(path)
    assert str(refused.value) == (
        f"{path}: [{table}]: password_file {secret}: mode {mode:04o} lets the group or "
        f"others read or change the password; it must be 0600 or stricter (chmod 600 {secret})"
    )


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_private_password_file_is_taken(tmp_path, table, mode):
    secret = tmp_path / "secret"
    secret.write_text("a password\n")
    secret.chmod(mode)
    path = tmp_path / "central.toml"
    path.write_text(BASE + TABLES[table])
    config = load_central_config(path)
    found = config.mqtt.password_file if table == "mqtt" else config.mail.imap.password_file
    assert found == secret


def test_a_password_file_opened_up_after_the_start_is_refused_when_read(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("a password\n")
    secret.chmod(0o600)
    config = MqttConfig(host="broker", username="stax", password_file=secret)
    assert read_password(config.password_file) == "a password"
    secret.chmod(0o644)
    with pytest.raises(ValueError, match=r"^\[mqtt\] password_file .*mode 0644 .*chmod 600"):
        read_password(config.password_file)
    missing = tmp_path / "missing"  # said by the reader, when it reads it
    assert MqttConfig(host="broker", username="stax", password_file=missing)
    with pytest.raises(ValueError, match=r"password_file .*missing: cannot read: No such file"):
        read_password(missing)
