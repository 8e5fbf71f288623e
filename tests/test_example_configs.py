"""The example configuration files in config/ are valid: they are what operators copy."""

from pathlib import Path

from central.config import load_central_config

CONFIG = Path(__file__).resolve().parents[1] / "config"


def test_central_example_loads_with_its_documented_defaults():
    config = load_central_config(CONFIG / "central.example.toml")
    assert config.intake.port == 8443
    assert config.intake.crl == CONFIG / "pki/ca/crl.pem"
    assert config.storage.database_path == CONFIG / "data" / "central.sqlite"
    assert config.web.page_size == 25


def test_central_example_has_the_mail_intake_off():
    config = load_central_config(CONFIG / "central.example.toml")
    assert config.mail.listen == "off" and config.mail.port == 8025
    assert not config.mail.imap.enabled and config.mail.imap.done_mailbox == "stax-done"


def test_central_example_has_alerts_and_mqtt_off():
    config = load_central_config(CONFIG / "central.example.toml")
    assert config.alerts.silent_intervals == 8 and config.alerts.crl_warning_days == 7
    assert not config.mqtt.enabled and config.mqtt.prefix == "stax" and config.mqtt.port == 1883
    assert config.mqtt.alert_after_seconds == 300 and config.mqtt.cert_file is None
