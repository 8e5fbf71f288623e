"""The agent's TOML configuration: the example is complete, mistakes name file and key."""

from pathlib import Path

import pytest

from edge_agent.config import ConfigError, load_agent_config

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "agent.example.toml"

MINIMAL = """
[station]
code = "AUS02"
facility = "ANSTO"
detector = "AUS02_001"
number = 2

[central]
url = "https://central.example.org:8443"
ca_cert = "keys/ca.pem"
encryption_cert = "keys/central.pem"

[identity]
cert = "keys/station.pem"
key = "keys/station.key"
"""


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_the_example_reads_and_sets_every_table():
    config = load_agent_config(EXAMPLE)
    assert config.station.code == "AUS02" and config.station.number == 2
    assert config.mca.driver == "simulated"
    assert config.release.mode == "immediate"
    assert config.outbox.path == Path("/var/lib/stax/AUS02/outbox.sqlite")
    assert config.stack.reference_temperature_k == 273.15


def test_defaults_and_relative_paths(tmp_path):
    config = load_agent_config(write(tmp_path, MINIMAL))
    assert config.clock.speed == 1 and config.clock.start_time is None
    assert config.outbox.path == tmp_path / "outbox.sqlite"
    assert config.identity.key == tmp_path / "keys" / "station.key"
    assert config.identity.chain is None
    assert config.station.message_format == "STX1.0"


def test_clock_start_is_an_iso_time(tmp_path):
    config = load_agent_config(
        write(tmp_path, MINIMAL + '[clock]\nspeed = 60\nstart = "2023-11-20T00:00:00Z"\n')
    )
    assert config.clock.start_time.isoformat() == "2023-11-20T00:00:00+00:00"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('code = "AUS02"', 'code = "aus2"'), r"\[station\]: code must be 5 capital letters"),
        (("number = 2", "number = 123"), r"number must be 0-99"),
        (("number = 2", 'number = "02"'), r"\[station\] number: expected an integer"),
        (("https://central", "http://central"), r"\[central\]: url must be https://"),
        (("[identity]", "[identity]\nkeyfile = 'x'"), r"\[identity\] keyfile: unknown key"),
        (('key = "keys/station.key"', ""), r"\[identity\] key: required key is missing"),
    ],
)
def test_mistakes_name_the_file_and_the_key(tmp_path, change, message):
    path = write(tmp_path, MINIMAL.replace(*change))
    with pytest.raises(ConfigError, match=message) as info:
        load_agent_config(path)
    assert str(info.value).startswith(str(path))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[release]\nmode = "later"\n', r"\[release\] mode: expected one of 'immediate'"),
        ('[release]\nmode = "delay"\n', r'mode "delay" needs delay_hours > 0'),
        ("[clock]\nspeed = 0\n", r"speed must be positive"),
        ('[clock]\nstart = "yesterday"\n', r"start must be an ISO 8601 time"),
        ('[mca]\ndriver = "ortec"\n', r"\[mca\] driver: expected one of 'simulated'"),
    ],
)
def test_bad_values_say_what_is_expected(tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message):
        load_agent_config(write(tmp_path, MINIMAL + extra))


STATION_LINE = "number = 2\n"


def test_where_the_station_is_for_the_daily_ats(tmp_path):
    config = load_agent_config(write(tmp_path, MINIMAL))
    assert (config.station.country, config.station.latitude, config.station.longitude) == (
        "", None, None,
    )  # fmt: skip
    located = MINIMAL.replace(
        STATION_LINE, STATION_LINE + 'country = "Australia"\nlatitude = -34.05\nlongitude = 151\n'
    )
    config = load_agent_config(write(tmp_path, located))
    assert config.station.country == "Australia"
    assert config.station.latitude == -34.05
    assert config.station.longitude == 151.0 and isinstance(config.station.longitude, float)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("latitude = 95.5", r"\[station\]: latitude must be degrees from -90 to 90 .*got 95\.5"),
        ("latitude = -90.01", r"latitude must be degrees from -90 to 90"),
        ("latitude = nan", r"latitude must be degrees from -90 to 90 .*got nan"),
        ('latitude = "34S"', r"\[station\] latitude: expected a number, got '34S'"),
        ("longitude = 181", r"\[station\]: longitude must be degrees from -180 to 180"),
        ("country = 3", r"\[station\] country: expected a string"),
        ('country = " Australia"', r"country must be printable text"),
    ],
)
def test_bad_station_locations_are_refused_clearly(tmp_path, line, message):
    path = write(tmp_path, MINIMAL.replace(STATION_LINE, STATION_LINE + line + "\n"))
    with pytest.raises(ConfigError, match=message) as info:
        load_agent_config(path)
    assert str(info.value).startswith(str(path))


def test_transport_email_needs_its_table_and_https_its_url(tmp_path, pki):
    from .conftest import write_agent_config

    email = (
        '[central.email]\nhost = "smtp.example.org"\nto_address = "intake@central.example.org"\n'
        'from_address = "aus02@station.example.org"\nuser = "aus02"\n'
        'password_file = "smtp-password"\n'
    )
    ok = write_agent_config(tmp_path / "ok", pki, "https://127.0.0.1:1", email)
    text = ok.read_text().replace("[central]\n", '[central]\ntransport = "both"\n')
    ok.write_text(text)
    central = load_agent_config(ok).central
    assert central.transports == ("https", "email")
    assert central.email.port == 587
    assert central.email.password_file == ok.parent / "smtp-password"

    no_table = write_agent_config(tmp_path / "a", pki, "https://127.0.0.1:1")
    no_table.write_text(
        no_table.read_text().replace("[central]\n", '[central]\ntransport = "email"\n')
    )
    with pytest.raises(ConfigError, match=r'transport = "email" needs a \[central.email\] table'):
        load_agent_config(no_table)

    half = write_agent_config(
        tmp_path / "b", pki, "https://127.0.0.1:1", email.replace('user = "aus02"\n', "")
    )
    with pytest.raises(ConfigError, match="user and password_file go together"):
        load_agent_config(half)

    bad = write_agent_config(
        tmp_path / "c",
        pki,
        "https://127.0.0.1:1",
        email.replace("intake@central.example.org", "intake"),
    )
    with pytest.raises(ConfigError, match=r"to_address must be an e-mail address"):
        load_agent_config(bad)
