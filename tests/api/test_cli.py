"""`stax central facility ...` and `stax central token ...` on the sample database."""

from __future__ import annotations

from central.store import Store
from central.tokens import user_for_token
from stax.cli import main
from tests.web.helpers import NOW


def write_config(config, tmp_path):
    path = tmp_path / "central.toml"
    path.write_text(
        '[intake]\nserver_cert = "server.pem"\nserver_key = "server.key"\nca_cert = "ca.pem"\n'
        f'[storage]\ndata_dir = "{config.storage.data_dir}"\n'
    )
    return str(path)


def test_facility_set_records_each_change(config, tmp_path, capsys):
    toml = write_config(config, tmp_path)
    assert main(["central", "facility", "set", "AUS02", "--publish-delay", "3d",
                 "--stack-height", "42", "--config", toml]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "AUS02: publish_delay immediately -> 3d" in out
    assert "AUS02: stack_height None -> 42.0" in out
    assert (
        main(["central", "facility", "set", "AUS02", "--publish-delay", "3d", "--config", toml])
        == 0
    )
    assert "nothing changed" in capsys.readouterr().out
    assert main(["central", "facility", "history", "AUS02", "--config", toml]) == 0
    history = capsys.readouterr().out.splitlines()
    assert len(history) == 2 and "command line (" in history[0]
    assert main(["central", "facility", "list", "--config", toml]) == 0
    assert "AUS02    3d" in capsys.readouterr().out


def test_facility_set_refuses_bad_values_and_unknown_facilities(config, tmp_path, capsys):
    toml = write_config(config, tmp_path)
    assert (
        main(["central", "facility", "set", "AUS02", "--publish-delay", "2d", "--config", toml])
        == 2
    )
    err = capsys.readouterr().err
    assert "Publish delay: expected one of immediately, 1d, 3d, 7d, never, got '2d'" in err
    assert (
        main(["central", "facility", "set", "ZZZ99", "--publish-delay", "1d", "--config", toml])
        == 2
    )
    assert "no facility ZZZ99 (--create" in capsys.readouterr().err
    assert main(["central", "facility", "set", "ZZZ99", "--create", "--publish-delay", "1d",
                 "--config", toml]) == 0  # fmt: skip
    with Store(config.storage.database_path) as store:
        assert store.db["facilities"].get("ZZZ99")["publish_delay"] == "1d"


def test_token_add_list_revoke(config, tmp_path, capsys):
    toml = write_config(config, tmp_path)
    assert main(["central", "token", "add", "alice", "--name", "laptop", "--config", toml]) == 0
    token = capsys.readouterr().out.strip()
    with Store(config.storage.database_path) as store:
        user, token_id = user_for_token(store, token, NOW)
        assert user.username == "alice"
        (stored,) = store.db.query("select * from api_tokens")
        assert token not in str(stored) and stored["prefix"] == token[:12]
    assert main(["central", "token", "list", "alice", "--config", toml]) == 0
    listed = capsys.readouterr().out
    assert "'laptop'" in listed and "active" in listed and token not in listed
    assert main(["central", "token", "revoke", str(token_id), "--config", toml]) == 0
    with Store(config.storage.database_path) as store:
        assert user_for_token(store, token, NOW) is None
    assert main(["central", "token", "add", "nobody", "--config", toml]) == 2
