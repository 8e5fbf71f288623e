"""`stax central soh-limit set|list|history` on the web tests' sample database."""

from __future__ import annotations

from central.soh import limit_changes, limits_for
from central.store import Store
from stax.cli import main
from tests.api.test_cli import write_config
from tests.web.conftest import cheap_password_hashing, config, template_db  # noqa: F401


def stax(*args: str) -> int:
    return main(["central", "soh-limit", *args])


def test_set_list_history_and_back_to_the_default(config, tmp_path, capsys):  # noqa: F811
    toml = write_config(config, tmp_path)
    assert stax("set", "AUS02", "room_temperature", "--low", "-5", "--high", "35.5", "--config", toml) == 0  # fmt: skip
    assert "AUS02 room_temperature: 5..40 -> -5..35.5 C" in capsys.readouterr().out
    assert stax("set", "AUS02", "room_temperature", "--low", "-5", "--high", "35.5", "--config", toml) == 0  # fmt: skip
    assert "nothing changed" in capsys.readouterr().out
    assert stax("list", "AUS02", "--config", toml) == 0
    listed = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()}
    assert listed["room_temperature"][1:] == ["-5", "35.5", "C", "station"]
    assert listed["crystal_temperature"][-1] == "default"
    assert stax("set", "AUS02", "room_temperature", "--default", "--config", toml) == 0
    assert "-5..35.5 -> 5..40 C" in capsys.readouterr().out
    assert stax("history", "AUS02", "--config", toml) == 0
    history = capsys.readouterr().out.splitlines()
    assert len(history) == 2 and "command line (" in history[0]
    assert "room_temperature -5..35.5 -> 5..40 C" in history[0]
    with Store(config.storage.database_path) as store:
        assert limits_for(store, "AUS02")["room_temperature"] == (5.0, 40.0)
        assert len(limit_changes(store, "AUS02")) == 2


def test_bad_input_is_refused_with_a_clear_message(config, tmp_path, capsys):  # noqa: F811
    toml = write_config(config, tmp_path)
    for args, message in (
        (("set", "AUS02", "humidity", "--low", "80", "--high", "10"), "must be below"),
        (("set", "AUS02", "humidity", "--low", "nan"), "finite"),
        (("set", "AUS02", "humidity"), "give --low and/or --high, or --default"),
        (("set", "AUS02", "humidity", "--default", "--low", "1"), "--default takes no"),
        (("set", "ZZZ99", "humidity", "--low", "1"), "no facility ZZZ99"),
        (("list", "ZZZ99"), "no facility ZZZ99"),
    ):
        assert stax(*args, "--config", toml) == 2, args
        assert message in capsys.readouterr().err, args
    with Store(config.storage.database_path) as store:
        assert limit_changes(store, "AUS02") == []
